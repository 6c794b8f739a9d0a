"""emotion_cam.pipeline: what a drawing option may and may not change, and how results number frames."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from emotion_cam.api import Analyzer


def test_drawing_the_68_landmarks_leaves_every_label_and_bar_unchanged(faces_dir):
    analyzer = Analyzer()
    plain = analyzer.analyze(faces_dir / "bald_guys.jpg")
    analyzer.set_landmarks(68)  # what L does in the window
    drawn = analyzer.analyze(faces_dir / "bald_guys.jpg")
    assert len(plain) == len(drawn) > 20
    for a, b in zip(plain, drawn):
        assert (a.label, a.unsure) == (b.label, b.unsure)
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


DATA = Path(__file__).resolve().parent / "data"  # made or licensed for the tests: runs without ../shared


def test_predict_still_gives_the_golden_faces_labels_and_bars():
    """Detector, alignment and classifier together, on photos committed for the tests (tests/data/README.md): a
    broken crop, a lost face or a changed model fails here."""
    import json

    from conftest import cli

    golden = json.loads((DATA / "golden.json").read_text())
    run = cli("predict", *(str(DATA / g["image"]) for g in golden), "--json")
    assert run.returncode == 0, run.stderr
    for want, got in zip(golden, json.loads(run.stdout)):
        assert len(got["faces"]) == len(want["faces"]), want["image"]
        for w, g in zip(want["faces"], got["faces"]):
            assert (g["track_id"], g["label"], g["unsure"]) == (w["track_id"], w["label"], w["unsure"])
            np.testing.assert_allclose(g["box"], w["box"], atol=3)
            np.testing.assert_allclose(list(g["probabilities"].values()), list(w["probabilities"].values()), atol=0.05)


def test_a_tracked_clip_keeps_one_face_under_one_number_frame_by_frame():
    import emotion_cam

    with emotion_cam.analyze_video(DATA / "astronaut_2s.mp4") as frames:
        rows = emotion_cam.to_rows(frames)
    assert [r["frame"] for r in rows] == list(range(30))
    assert {r["track_id"] for r in rows} == {1} and {r["label"] for r in rows} == {"happy"}
    assert rows[0]["source"].endswith("astronaut_2s.mp4") and {r["pass"] for r in rows} == {1}
