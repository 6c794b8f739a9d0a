"""`emotion-cam video A B C --out-dir OUT --jobs N` (emotion_cam.commands.batch): the same rows as single runs, resumable."""
from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import DATA_CLIP, ROOT, cli, spawn


@pytest.fixture
def three_videos(videos_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(DATA_CLIP, folder / "a.mp4")
    shutil.copy(videos_dir / "short_hamilton_clip.mp4", folder / "b.mp4")
    shutil.copy(DATA_CLIP, tmp_path / "c.mp4")
    return [folder, tmp_path / "c.mp4"]


def test_a_batch_writes_the_rows_of_single_runs(three_videos, tmp_path):
    out = tmp_path / "out"
    run = cli("video", *map(str, three_videos), "--out-dir", str(out), "--jobs", "2")
    assert run.returncode == 0 and "3 of 3 videos processed" in run.stdout, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv", "c.csv"]
    for name, source in (("a", three_videos[0] / "a.mp4"), ("b", three_videos[0] / "b.mp4"), ("c", three_videos[1])):
        single = tmp_path / f"single-{name}.csv"
        assert cli("video", str(source), "--csv", str(single)).returncode == 0
        assert (out / f"{name}.csv").read_text() == single.read_text(), name


def test_a_stopped_batch_is_finished_by_running_it_again(three_videos, tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "emotion_cam", "video", *map(str, three_videos), "--out-dir", str(out), "--jobs", "1"]
    proc = spawn(args)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (out / "a.csv").exists():
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "run the same command again" in err and "Traceback" not in err, err
    done = {p.name: p.stat().st_mtime_ns for p in out.glob("*.csv")}
    assert "a.csv" in done and len(done) < 3
    assert not list(out.glob(".*")), "a temporary file was left behind"
    run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and f"{len(done)} of 3 videos already have their outputs: skipped" in run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "b.csv", "c.csv"]
    assert all((out / name).stat().st_mtime_ns == mtime for name, mtime in done.items())  # not redone


def test_a_bad_file_is_reported_and_the_batch_goes_on(three_videos, tmp_path):
    (three_videos[0] / "broken.mp4").write_text("not a video\n")
    run = cli("video", str(three_videos[0]), "--out-dir", str(tmp_path / "out"), "--jobs", "2")
    assert run.returncode == 1 and "broken.mp4: not a video" in run.stderr and "2 of 3 videos processed" in run.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.csv", "b.csv"]
    run = cli("video", str(three_videos[0]), str(three_videos[1]))
    assert run.returncode == 2 and "--out-dir" in run.stderr
