"""dlib shape predictors (5 or 68 points) with model files from the ``face-recognition-models`` package.

The package is located with ``importlib.util.find_spec`` and never imported: its
``__init__`` needs ``pkg_resources``, which current setuptools no longer ships.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from emotion_cam.model_files import ModelFileError

PREDICTOR_FILES = {5: "shape_predictor_5_face_landmarks.dat", 68: "shape_predictor_68_face_landmarks.dat"}


def models_dir() -> Path:
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "dlib's landmark models are missing: the 'face-recognition-models' package is not installed "
            "(pip install face-recognition-models)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def predictor_path(points: int) -> Path:
    if points not in PREDICTOR_FILES:
        raise ValueError(f"landmark model must have 5 or 68 points, not {points}")
    path = models_dir() / PREDICTOR_FILES[points]
    if not path.is_file():
        raise ModelFileError(f"{path}: landmark model missing; reinstall it with pip install --force-reinstall face-recognition-models")
    return path


class LandmarkPredictor:
    """Landmarks for face boxes: 5 points (eye corners and nose, fast) or 68 (contours, for drawing)."""

    def __init__(self, points: int = 5):
        import dlib

        self.points = points
        path = predictor_path(points)
        try:
            self._predictor = dlib.shape_predictor(str(path))
        except RuntimeError as exc:
            raise ModelFileError(f"{path}: cannot load the landmark model ({exc})") from None
        self._rect = dlib.rectangle

    def predict(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(points, 2) float32 landmark coordinates for one x1, y1, x2, y2 box on a grayscale image."""
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        shape = self._predictor(gray, self._rect(x1, y1, x2 - 1, y2 - 1))
        return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


def eye_centres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the (image-left, image-right) eyes from 5- or 68-point landmarks."""
    if len(points) == 5:
        # dlib 5-point order: right-eye corners (0, 1), left-eye corners (2, 3), nose base (4);
        # the subject's right eye appears on the image's left.
        a, b = points[2:4].mean(0), points[0:2].mean(0)
    else:
        a, b = points[36:42].mean(0), points[42:48].mean(0)
    return (a, b) if a[0] <= b[0] else (b, a)


def nose_point(points: np.ndarray) -> np.ndarray:
    """The base of the nose, the one point both landmark models share."""
    return points[4] if len(points) == 5 else points[33]
