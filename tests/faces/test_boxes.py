"""emotion_cam.faces.boxes: overlap and matching on plain (N, 4) arrays."""
from __future__ import annotations

import numpy as np
import pytest

from emotion_cam.faces.boxes import cover_matrix, greedy_match, iou_matrix, on_head_above


def test_iou_of_known_boxes():
    a = np.array([[0, 0, 10, 10], [0, 0, 10, 10]], np.float32)
    b = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[1, 50 / 150, 0], [1, 50 / 150, 0]], rtol=1e-6)
    assert iou_matrix(a, np.zeros((0, 4), np.float32)).shape == (2, 0)


def test_a_box_inside_another_covers_it_fully_whatever_their_iou():
    outer, inner = np.array([[0, 0, 100, 100]], np.float32), np.array([[20, 20, 50, 50]], np.float32)
    assert cover_matrix(outer, inner)[0, 0] == pytest.approx(1.0)
    assert iou_matrix(outer, inner)[0, 0] == pytest.approx(0.09)


def test_greedy_matching_takes_the_best_overlap_first_and_each_box_once():
    iou = np.array([[0.9, 0.5], [0.8, 0.6], [0.1, 0.2]])
    assert sorted(greedy_match(iou, 0.3)) == [(0, 0), (1, 1)]
    assert greedy_match(iou, 0.95) == []


def test_the_top_of_a_head_above_a_face_of_its_size_is_told_apart():
    face, hair, neighbour = [100, 100, 160, 170], [102, 50, 158, 110], [300, 100, 360, 170]
    flags = on_head_above(np.array([face, hair, neighbour], np.float32))
    assert flags.tolist() == [False, True, False]
