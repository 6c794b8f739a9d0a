"""Measure where the eyes and nose sit in FER-2013 crops, so live crops can be aligned to match.

FER-2013 faces were found by a detector and cropped loosely; the runtime instead
aligns faces by landmarks. Running dlib's detector and 5-point landmark model
on upscaled training crops gives the canonical positions (median over
thousands of faces) that ``emotion_cam.emotion.alignment`` maps every live face onto; the same
for YuNet's five points (its eyes are centres, its nose point the tip), measured on
the crops with a grey border, as the close-up look sees a face that fills the image.
"""
from __future__ import annotations

import cv2
import numpy as np

from emotion_cam.emotion.alignment import LANDMARK_SOURCES, anchor_points
from emotion_cam.emotion.card import LandmarkGeometry
from emotion_cam.faces.detectors import HogDetector, YuNetDetector
from emotion_cam.faces.landmarks import LandmarkPredictor
from emotion_cam.faces.search import detect_close_up, sure

UPSCALE = 4  # 48 px -> 192 px: HOG needs faces of ~80 px and up


METHODS = {
    "dlib": "dlib HOG detector + 5-point shape predictor on train crops upscaled 4x (cubic); median position",
    "yunet": "YuNet on train crops upscaled 4x (cubic) with a grey border (the close-up look); its eye centres and "
             "nose tip; median position",
}


def _points(source: str):
    """A function from an upscaled crop to its one face's landmarks (None unless exactly one face is found)."""
    if source == "yunet":
        yunet = YuNetDetector()

        def points(big: np.ndarray) -> np.ndarray | None:
            dets = sure(yunet, detect_close_up(yunet, big))
            return dets.landmarks[0] if len(dets) == 1 else None
    else:
        detector, predictor = HogDetector(), LandmarkPredictor(5)

        def points(big: np.ndarray) -> np.ndarray | None:
            dets = detector.detect(big)
            return predictor.predict(big, dets.boxes[0]) if len(dets) == 1 else None
    return points


def measure(faces: np.ndarray, limit: int = 3000, seed: int = 0, source: str = "dlib") -> LandmarkGeometry:
    """Median eye and nose positions (fractions of the crop side) over up to ``limit`` faces, for ``source``'s landmarks."""
    rng = np.random.default_rng(seed)
    sample = faces[rng.permutation(len(faces))[:limit]]
    find = _points(source)
    size = faces.shape[1]
    rows = []
    for face in sample:
        big = cv2.resize(face, None, fx=UPSCALE, fy=UPSCALE, interpolation=cv2.INTER_CUBIC)
        pts = find(big)
        if pts is None:
            continue
        rows.append(np.concatenate(anchor_points(pts / (UPSCALE * size), source)))
    if len(rows) < max(10, len(sample) // 5):
        raise RuntimeError(f"landmarks found on only {len(rows)} of {len(sample)} faces; cannot measure the crop geometry")
    rows = np.array(rows)
    med = np.median(rows, axis=0)
    iqr = np.percentile(rows, 75, axis=0) - np.percentile(rows, 25, axis=0)
    r = lambda v: (round(float(v[0]), 4), round(float(v[1]), 4))  # noqa: E731
    return LandmarkGeometry(left_eye=r(med[0:2]), right_eye=r(med[2:4]), nose=r(med[4:6]),
                            spread_iqr={"left_eye": r(iqr[0:2]), "right_eye": r(iqr[2:4]), "nose": r(iqr[4:6])},
                            faces_measured=int(len(rows)), faces_tried=int(len(sample)), method=METHODS[source])


def measure_all(faces: np.ndarray, limit: int = 3000) -> dict[str, LandmarkGeometry]:
    """The card's crop geometry, one entry per landmark source."""
    return {source: measure(faces, limit, source=source) for source in LANDMARK_SOURCES}
