"""Cut each face out of the frame so it looks like a FER-2013 training crop.

The model only ever saw FER-2013's framing (eyes at a fixed height, a little
forehead and chin); the canonical eye and nose positions measured on the
training crops are stored in the model card, and each live face is mapped onto
them with a similarity transform (rotation, uniform scale, shift) so the eyes
are level and the face fills the crop the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emotion_cam.emotion.card import ModelCard
from emotion_cam.faces.landmarks import eye_centres, nose_point


LANDMARK_SOURCES = ("dlib", "yunet")  # dlib's 5- or 68-point model; YuNet's five points (detect.LANDMARK_NAMES)


@dataclass(frozen=True)
class CropGeometry:
    """Canonical landmark positions as fractions of the crop side (x right, y down), for one landmark source."""

    size: int = 48
    left_eye: tuple[float, float] = (0.32, 0.38)  # the eye on the image's left
    right_eye: tuple[float, float] = (0.68, 0.38)
    nose: tuple[float, float] = (0.50, 0.62)
    source: str = "dlib"

    @classmethod
    def from_card(cls, card: ModelCard, source: str = "dlib") -> "CropGeometry | None":
        """The card's geometry for ``source``; None if it was not measured (for dlib: the defaults, as a smoke run's)."""
        g = card.crop_geometry.get(source)
        if g is None:
            return cls(card.input_size) if source == "dlib" else None
        return cls(card.input_size, g.left_eye, g.right_eye, g.nose, source)


def anchor_points(points: np.ndarray, source: str = "dlib") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image-left eye, image-right eye, nose) of one face's landmarks from ``source``."""
    if source == "yunet":
        a, b = points[0], points[1]  # the subject's right and left eye centres
        left, right = (a, b) if a[0] <= b[0] else (b, a)
        return left, right, points[2]
    left, right = eye_centres(points)
    return left, right, nose_point(points)


def alignment_matrix(points: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """2x3 similarity transform from frame pixels to crop pixels for landmarks from ``geometry.source``."""
    left, right, nose = anchor_points(points, geometry.source)
    src = np.stack([left, right, nose]).astype(np.float32)
    dst = np.array([geometry.left_eye, geometry.right_eye, geometry.nose], np.float32) * geometry.size
    matrix, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if matrix is None:  # degenerate points: fall back to the eyes alone
        matrix = _from_eyes(left, right, geometry)
    return matrix


def _from_eyes(left: np.ndarray, right: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    d = right - left
    dist = max(float(np.hypot(*d)), 1e-3)
    target = (geometry.right_eye[0] - geometry.left_eye[0]) * geometry.size
    s = target / dist
    angle = np.arctan2(d[1], d[0])
    c, si = s * np.cos(-angle), s * np.sin(-angle)
    rot = np.array([[c, -si], [si, c]], np.float32)
    centre_src = (left + right) / 2
    centre_dst = (np.array(geometry.left_eye) + np.array(geometry.right_eye)) / 2 * geometry.size
    t = centre_dst - rot @ centre_src
    return np.hstack([rot, t[:, None]]).astype(np.float32)


def align_face(gray: np.ndarray, points: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """The aligned (size, size) uint8 grayscale crop for one face."""
    matrix = alignment_matrix(points, geometry)
    # INTER_AREA is not supported by warpAffine; a large face is pre-blurred instead of aliasing.
    scale = float(np.hypot(matrix[0, 0], matrix[0, 1]))
    src = gray
    if scale < 0.5:
        k = int(round(0.5 / scale)) | 1
        x, y, w, h = _source_rect(matrix, geometry.size, gray.shape)
        if w > 0 and h > 0:
            roi = cv2.GaussianBlur(gray[y:y + h, x:x + w], (k, k), 0)
            matrix = matrix.copy()
            matrix[:, 2] += matrix[:, :2] @ np.array([x, y], np.float32)
            src = roi
    return cv2.warpAffine(src, matrix, (geometry.size, geometry.size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _source_rect(matrix: np.ndarray, size: int, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """The frame rectangle (x, y, w, h) that the crop samples, padded by a few pixels."""
    inv = cv2.invertAffineTransform(matrix)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float32) @ inv.T
    x1, y1 = np.floor(corners.min(0)).astype(int) - 4
    x2, y2 = np.ceil(corners.max(0)).astype(int) + 4
    h, w = shape[:2]
    x1, y1 = max(x1, 0), max(y1, 0)
    x2, y2 = min(x2, w), min(y2, h)
    return x1, y1, x2 - x1, y2 - y1
