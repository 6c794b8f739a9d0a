"""Measure where the eyes and nose sit in FER-2013 crops, so live crops can be aligned to match.

FER-2013 faces were found by a detector and cropped loosely; the runtime instead
aligns faces by landmarks. Running dlib's detector and 5-point landmark model
on upscaled training crops gives the canonical positions (median over
thousands of faces) that ``emotion_cam.align`` maps every live face onto.
"""
from __future__ import annotations

import cv2
import numpy as np

from emotion_cam.detect import HogDetector
from emotion_cam.landmarks import LandmarkPredictor, eye_centres, nose_point

UPSCALE = 4  # 48 px -> 192 px: HOG needs faces of ~80 px and up


def measure(faces: np.ndarray, limit: int = 3000, seed: int = 0) -> dict:
    """Median eye and nose positions (fractions of the crop side) over up to ``limit`` faces."""
    rng = np.random.default_rng(seed)
    sample = faces[rng.permutation(len(faces))[:limit]]
    detector, predictor = HogDetector(), LandmarkPredictor(5)
    size = faces.shape[1]
    rows = []
    for face in sample:
        big = cv2.resize(face, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
        dets = detector.detect(big)
        if len(dets) != 1:
            continue
        pts = predictor.predict(big, dets.boxes[0]) / (UPSCALE * size)
        left, right = eye_centres(pts)
        rows.append(np.concatenate([left, right, nose_point(pts)]))
    if len(rows) < max(10, len(sample) // 5):
        raise RuntimeError(f"landmarks found on only {len(rows)} of {len(sample)} faces; cannot measure the crop geometry")
    rows = np.array(rows)
    med = np.median(rows, axis=0)
    iqr = np.percentile(rows, 75, axis=0) - np.percentile(rows, 25, axis=0)
    r = lambda v: [round(float(a), 4) for a in v]  # noqa: E731
    return {
        "left_eye": r(med[0:2]),
        "right_eye": r(med[2:4]),
        "nose": r(med[4:6]),
        "spread_iqr": {"left_eye": r(iqr[0:2]), "right_eye": r(iqr[2:4]), "nose": r(iqr[4:6])},
        "faces_measured": int(len(rows)),
        "faces_tried": int(len(sample)),
        "method": "dlib HOG detector + 5-point shape predictor on train crops upscaled 4x (cubic); median position",
    }
