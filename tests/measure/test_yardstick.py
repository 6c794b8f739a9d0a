"""The bench's yardstick: hand marks correct the two detectors, and each kind of mark counts as it says."""
from __future__ import annotations

import json

import numpy as np
import pytest

from emotion_cam.measure.yardstick import MARKS_FILE, FrameMarks, VideoMarks, Yardstick, live_recall


@pytest.fixture(scope="module")
def yardstick():
    return Yardstick()


def boxes(*rows):
    return np.array(rows, np.float32).reshape(-1, 4)


def test_marks_add_a_missed_face_and_count_wrong_boxes_but_not_uncallable_ones(yardstick):
    blank = np.full((240, 320, 3), 128, np.uint8)  # no detector finds a face here: the marks are the truth
    marks = FrameMarks(face=boxes([10, 10, 60, 70]), not_face=boxes([100, 10, 150, 70]), ignore=boxes([200, 10, 250, 70]))
    live = boxes([12, 12, 60, 72], [102, 8, 150, 70], [200, 12, 250, 70], [10, 150, 60, 210])
    judged = yardstick.judge(blank, live, marks)
    assert judged.truth.tolist() == [[10, 10, 60, 70]]
    assert judged.on_face.tolist() == [True, False, False, False]
    assert judged.wrong.tolist() == [False, True, False, False] and judged.counted.tolist() == [True, True, False, True]
    figures = live_recall([judged])
    assert figures["live_recall"] == 1.0 and figures["false_tracks_per_1000_frames"] == 2000  # the wrong box, the stray one


def test_marks_belong_to_a_video_at_its_own_size(tmp_path):
    data = {"every": 5, "videos": {"clip.mp4": {"size": [640, 360], "frames": {"5": {"face": [[1, 2, 30, 40]]}}}}}
    path = tmp_path / "marks.json"
    path.write_text(json.dumps(data))
    marks = VideoMarks.load("/any/where/clip.mp4", (640, 360), path)
    assert marks.at(5).face.tolist() == [[1, 2, 30, 40]] and len(marks.at(10).face) == 0
    assert VideoMarks.load("clip.mp4", (1280, 720), path) is None and VideoMarks.load("other.mp4", (640, 360), path) is None


def test_the_shipped_marks_are_on_frames_the_bench_checks():
    data = json.loads(MARKS_FILE.read_text())
    for video in data["videos"].values():
        assert all(int(i) % data["every"] == 0 for i in video["frames"])
        for marks in video["frames"].values():
            assert set(marks) <= {"face", "not_face", "ignore"}
            for b in sum(marks.values(), []):
                assert 0 <= b[0] < b[2] <= video["size"][0] + 50 and 0 <= b[1] < b[3] <= video["size"][1] + 50
