"""emotion_cam.results: reading order, titles and rows of the plain result types."""
from __future__ import annotations

import numpy as np

from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.results import FACE_ROW_HEADER, Face, FrameResult, reading_order


def face(x: float, y: float, probs=None, unsure: bool = False) -> Face:
    p = np.asarray(probs if probs is not None else np.eye(7)[3], np.float32)
    return Face(np.array([x, y, x + 40, y + 50], np.float32), np.zeros((5, 2), np.float32), p, unsure=unsure)


def test_reading_order_is_rows_from_the_top_then_left_to_right():
    faces = [face(300, 12), face(10, 200), face(150, 0), face(200, 190), face(20, 5)]
    order = [(int(f.box[0]), int(f.box[1])) for f in reading_order(faces)]
    assert order == [(20, 5), (150, 0), (300, 12), (10, 200), (200, 190)]


def test_the_title_is_the_largest_bar_or_unsure():
    p = np.full(7, 0.05, np.float32)
    p[EMOTIONS.index("sad")] = 0.7
    assert face(0, 0, p).title == "sad 70%"
    assert face(0, 0, p, unsure=True).title == "unsure" and face(0, 0, p, unsure=True).label == "sad"


def test_a_frame_gives_rows_with_its_own_source_pass_and_number():
    result = FrameResult([face(0, 0), face(50, 0)], frame_index=7, time_s=0.28, source="clip.mp4", loop=2)
    rows = result.to_rows()
    assert len(rows) == 2 and set(rows[0]) == set(FACE_ROW_HEADER)
    assert (rows[0]["frame"], rows[0]["source"], rows[0]["pass"], rows[0]["label"]) == (7, "clip.mp4", 2, "happy")
