"""Shared fixtures. Real data comes from ../shared beside the project; tests that need it skip with a reason."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("EMOTION_CAM_SHARED", ROOT.parent / "shared"))
FER = SHARED / "datasets" / "fer2013"
FACES = SHARED / "media" / "faces"
VIDEOS = SHARED / "media" / "videos"
MODEL = ROOT / "models" / "emotion_int8.tflite"
# Made or licensed for the tests (tests/data/README.md): tests that use these run without ../shared.
DATA_PHOTO = ROOT / "tests" / "data" / "astronaut.jpg"  # one face, happy
DATA_CLIP = ROOT / "tests" / "data" / "astronaut_2s.mp4"  # 30 frames at 15 fps, the same face throughout

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The FER+ votes CSV's header (../shared/datasets/fer2013/ferplus), for the small votes files tests make.
VOTES_HEADER = "our_file,our_label,ferplus_file,spearman,spearman_2nd,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not found: the shared data set/media folder must sit beside the project (../shared)")
    return path


@pytest.fixture(scope="session")
def fer_root() -> Path:
    return need(FER)


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    return need(FACES)


@pytest.fixture(scope="session")
def videos_dir() -> Path:
    return need(VIDEOS)


@pytest.fixture(scope="session")
def pipeline():
    from emotion_cam.pipeline import Pipeline

    return Pipeline()


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder nobody may write in: chmod for a normal user; root ignores modes, so a read-only bind mount."""
    folder = tmp_path / "ro"
    folder.mkdir()
    mounted = False
    if os.geteuid() == 0:
        src = tmp_path / "ro-src"
        src.mkdir()
        ok = subprocess.run(["mount", "--bind", str(src), str(folder)], capture_output=True).returncode == 0 and \
            subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode == 0
        if not ok:
            subprocess.run(["umount", str(folder)], capture_output=True)
            pytest.skip("running as root without permission to mount: no way to make a read-only folder")
        mounted = True
    else:
        folder.chmod(0o555)
    yield folder
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def ground_truth(faces_dir: Path) -> dict[str, np.ndarray]:
    """Hand-marked face boxes (x1, y1, x2, y2) per photo from dlib's training.xml and testing.xml."""
    boxes: dict[str, np.ndarray] = {}
    for name in ("training.xml", "testing.xml"):
        for image in ET.parse(faces_dir / name).getroot().iter("image"):
            b = [[int(x.get("left")), int(x.get("top")), int(x.get("left")) + int(x.get("width")), int(x.get("top")) + int(x.get("height"))]
                 for x in image.iter("box")]
            boxes[image.get("file")] = np.array(b, np.float32).reshape(-1, 4)
    return boxes


def _default_signals() -> None:
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    """A child process with the default handling of SIGINT and SIGTERM, whatever this process was started with
    (pytest as a background job or under nohup ignores SIGINT, and a child inherits that): a test that sends a
    signal then tests the program, not how pytest was started."""
    kwargs = {"cwd": ROOT, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, **kwargs}
    return subprocess.Popen(args, preexec_fn=_default_signals, **kwargs)


def cli(*args: str, timeout: float = 300):
    """Run ``python -m emotion_cam ARGS`` as a user would; returns the CompletedProcess."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "emotion_cam", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
