"""emotion_cam.pipeline: what a drawing option may and may not change, and how results number frames."""
from __future__ import annotations

import numpy as np

from emotion_cam.api import Analyzer


def test_drawing_the_68_landmarks_leaves_every_label_and_bar_unchanged(faces_dir):
    analyzer = Analyzer()
    plain = analyzer.analyze(faces_dir / "bald_guys.jpg")
    analyzer.set_landmarks(68)  # what L does in the window
    drawn = analyzer.analyze(faces_dir / "bald_guys.jpg")
    assert len(plain) == len(drawn) > 20
    for a, b in zip(plain, drawn):
        assert (a.label, a.uncertain) == (b.label, b.uncertain)
        np.testing.assert_array_equal(a.probs, b.probs)
        assert a.contour is None and b.contour.shape == (68, 2)


def test_a_tracked_frame_carries_the_index_it_is_given_else_its_count(videos_dir):
    import cv2

    analyzer = Analyzer()
    cap = cv2.VideoCapture(str(videos_dir / "woman2.mp4"))
    frame = cap.read()[1]
    cap.release()
    assert [analyzer.track(frame, 0.0).frame_index for _ in range(2)] == [0, 1]
    assert analyzer.track(frame, 5.0, index=150).frame_index == 150
