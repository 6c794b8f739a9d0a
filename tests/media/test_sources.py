"""media.sources.Player: the one frame-pacing policy (files in real time wait or skip, offline every frame)."""
from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from emotion_cam.media.sources import Player, Source


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """50 frames at 25 fps, each frame's number written in its pixels."""
    path = tmp_path_factory.mktemp("clip") / "count.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for i in range(50):
        writer.write(np.full((48, 64, 3), i * 5, np.uint8))
    writer.release()
    return path


def number(image: np.ndarray) -> int:
    return int(round(float(image.mean()) / 5))


def test_offline_every_frame_in_order(clip):
    got = list(Player(Source.parse(clip).open(), is_camera=False, realtime=False, source="count.avi"))
    assert [number(f.image) for f in got] == [f.index for f in got] == list(range(50))
    assert {(f.source, f.loop, f.skipped) for f in got} == {("count.avi", 1, 0)}


def test_real_time_waits_for_each_frames_time(clip):
    player = Player(Source.parse(clip).open(), is_camera=False)
    start = time.monotonic()
    seen = []
    for _ in range(10):
        player.wait()
        seen.append(player.read())
    elapsed = time.monotonic() - start
    assert [f.index for f in seen] == list(range(10)) and sum(f.skipped for f in seen) == 0
    assert elapsed >= 9 / 25 - 0.01  # not faster than the video
    assert seen[5].t == pytest.approx(5 / 25)


def test_real_time_skips_what_a_slow_reader_is_too_late_for_and_resyncs_after_a_pause(clip):
    player = Player(Source.parse(clip).open(), is_camera=False)
    player.wait()
    first = player.read()
    time.sleep(0.4)  # ten frames' time spent elsewhere
    late = player.read()
    assert first.index == 0 and late.skipped >= 8 and late.index == late.skipped + 1
    assert number(late.image) == late.index
    time.sleep(0.4)  # paused
    player.resync()
    after = player.read()
    assert after.skipped == 0 and after.index == late.index + 1


def test_a_file_that_ends_before_its_header_says_is_told(clip, tmp_path):
    cut = tmp_path / "cut.avi"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    player = Player(Source.parse(cut).open(), is_camera=False, realtime=False)
    while player.read() is not None:
        pass
    assert player.length == 50 and player.ended_early()
    whole = Player(Source.parse(clip).open(), is_camera=False, realtime=False)
    while whole.read() is not None:
        pass
    assert not whole.ended_early()
    whole.restart()
    again = whole.read()
    assert number(again.image) == 0 and (again.index, again.loop) == (0, 2)  # from the start, its second pass
