"""emotion_cam.emotion.alignment: a face's landmarks land on the model's crop geometry, upright, at its size."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from emotion_cam.emotion.alignment import CropGeometry, align_face, alignment_matrix

GEOMETRY = CropGeometry(48, (0.32, 0.38), (0.68, 0.38), (0.50, 0.62), "yunet")


def drawn_face(angle_deg: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A grey frame with two bright eye spots and a dark nose spot, turned by ``angle_deg`` about its middle;
    and the YuNet-style points (eyes, nose tip, mouth corners) of that drawing."""
    img = np.full((240, 320), 128, np.uint8)
    left, right, nose = np.array([130.0, 100]), np.array([190.0, 100]), np.array([160.0, 140])
    mouth = np.array([[140.0, 170], [180, 170]])
    rot = cv2.getRotationMatrix2D((160, 120), angle_deg, 1.0)
    pts = np.vstack([left, right, nose, mouth]) @ rot[:, :2].T + rot[:, 2]
    for (x, y), v in zip(pts[:3], (255, 255, 0)):
        cv2.circle(img, (int(round(x)), int(round(y))), 6, int(v), -1)
    return img, pts.astype(np.float32)


@pytest.mark.parametrize("angle", [0.0, 20.0, -35.0])
def test_the_eyes_and_nose_land_where_the_card_puts_them_whatever_the_tilt(angle):
    img, pts = drawn_face(angle)
    crop = align_face(img, pts, GEOMETRY)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    for (fx, fy), bright in ((GEOMETRY.left_eye, True), (GEOMETRY.right_eye, True), (GEOMETRY.nose, False)):
        x, y = int(round(fx * 48)), int(round(fy * 48))
        value = crop[y - 1:y + 2, x - 1:x + 2].mean()
        assert (value > 200) if bright else (value < 60), (angle, fx, fy, value)


def test_the_crop_is_upright_and_not_mirrored():
    img, pts = drawn_face()
    img[:100, :160] = 250  # a mark on the image's upper left only
    crop = align_face(img, pts, GEOMETRY)
    assert crop[:8, :8].mean() > 200 and crop[-8:, -8:].mean() < 200 and crop[:8, -8:].mean() < 200


def test_the_transform_is_a_similarity_that_scales_the_eye_distance_to_the_geometry():
    _, pts = drawn_face(10.0)
    m = alignment_matrix(pts, GEOMETRY)
    eyes = np.c_[pts[:2], np.ones(2)] @ m.T
    assert np.linalg.norm(eyes[1] - eyes[0]) == pytest.approx((0.68 - 0.32) * 48, rel=0.02)
    assert m[0, 0] == pytest.approx(m[1, 1], rel=1e-4) and m[0, 1] == pytest.approx(-m[1, 0], rel=1e-4)
