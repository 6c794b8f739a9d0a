"""Makes the small test files here from astronaut.jpg, and the golden outputs the pipeline test compares with.

    python tests/data/make.py           # the clip and the two-face photo (once)
    python tests/data/make.py --golden  # golden.json: predict --json on the photos (after a deliberate change
                                        # of the model, detector or alignment; say so in the commit)
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
PHOTOS = ("astronaut.jpg", "two_faces.jpg")


def make() -> None:
    img = cv2.imread(str(HERE / "astronaut.jpg"))
    # Two faces: the photo beside its own mirror image, the second one smaller and lower.
    small = cv2.resize(cv2.flip(img, 1), (384, 384), interpolation=cv2.INTER_AREA)
    canvas = np.full((512, 900, 3), 90, np.uint8)
    canvas[:, :512] = img
    canvas[128:, 516:900] = small
    cv2.imwrite(str(HERE / "two_faces.jpg"), canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])
    # A two-second clip: a slow pan and zoom toward her face, 15 fps, 320x240.
    out = cv2.VideoWriter(str(HERE / "astronaut_2s.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 15, (320, 240))
    for i in range(30):
        m = cv2.getRotationMatrix2D((200, 150), 0, 1.0 + 0.3 * i / 29)
        m[:, 2] += (-40 + i, -20)
        frame = cv2.warpAffine(img, m, (512, 512), borderMode=cv2.BORDER_REFLECT)
        out.write(cv2.resize(frame[:384], (320, 240), interpolation=cv2.INTER_AREA))
    out.release()


def golden() -> None:
    run = subprocess.run([sys.executable, "-m", "emotion_cam", "predict", *(str(HERE / p) for p in PHOTOS), "--json"],
                         capture_output=True, text=True, check=True)
    entries = json.loads(run.stdout)
    for e in entries:
        e["image"] = Path(e["image"]).name
    (HERE / "golden.json").write_text(json.dumps(entries, indent=1) + "\n")


if __name__ == "__main__":
    golden() if "--golden" in sys.argv else make()
