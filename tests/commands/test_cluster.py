"""`emotion-cam video … --out-dir OUT --scheduler ADDRESS` (emotion_cam.commands.cluster) on a real Dask
cluster: a `dask scheduler` and `dask worker` processes on localhost, as a lab would start them by hand."""
from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DATA_CLIP, ROOT, VIDEOS, cli, spawn

distributed = pytest.importorskip("distributed", reason="the [cluster] extra (Dask's distributed) is not installed")

SHARED_VIDEOS = ("crowd_1080p.mp4", "short_hamilton_clip.mp4", "test.mp4", "woman2.mp4")


class Cluster:
    """A scheduler and worker processes (no nanny: a killed worker stays dead), stopped at the end."""

    def __init__(self, workers: int, hide: Path | None = None):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.address = f"tcp://127.0.0.1:{port}"
        dask = [sys.executable, "-m", "dask"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        self.scheduler = spawn(dask + ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)
        # A worker with ``hide`` covered by an empty file system sees none of the files under it.
        hidden = ["unshare", "--mount", "sh", "-c", 'mount -t tmpfs tmpfs "$0" && exec "$@"', str(hide)] if hide else []
        self.workers = [spawn(hidden + dask + ["worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                                      "--name", f"w{k}"], **quiet) for k in range(workers)]
        with distributed.Client(self.address, timeout=60) as client:
            client.wait_for_workers(workers, timeout=90)

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:  # nothing of theirs to keep: no graceful close to wait for
            proc.kill()
            proc.wait()


@pytest.fixture
def cluster():
    c = Cluster(workers=2)
    yield c
    c.stop()


@pytest.fixture(scope="module")
def singles(tmp_path_factory):
    """Each shared video's CSV from a single `emotion-cam video` run (the same call the command makes)."""
    from emotion_cam.api import Analyzer
    from emotion_cam.commands.video import process_video

    folder = tmp_path_factory.mktemp("singles")
    analyzer = Analyzer()
    for name in SHARED_VIDEOS:
        process_video(analyzer, str(VIDEOS / name), csv_path=folder / f"{Path(name).stem}.csv", progress=False)
    return folder


@pytest.fixture
def four_videos(videos_dir):
    return [str(videos_dir / name) for name in SHARED_VIDEOS]  # as given to single runs: the CSVs name their source


def complete(out: Path) -> list[Path]:
    return [p for p in out.glob("*.csv") if not p.name.startswith(".")]  # not the temporary files being written


def same_as_singles(out: Path, singles: Path) -> None:
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in singles.iterdir()), "missing, extra or leftover files"
    for single in singles.iterdir():
        assert (out / single.name).read_text() == single.read_text(), single.name


def test_a_batch_on_a_cluster_writes_the_rows_of_single_runs(cluster, four_videos, singles, tmp_path):
    out = tmp_path / "out"
    run = cli("video", *four_videos, "--out-dir", str(out), "--scheduler", cluster.address)
    assert run.returncode == 0 and "4 of 4 videos processed" in run.stdout, run.stderr
    same_as_singles(out, singles)


def test_a_worker_killed_mid_video_costs_only_a_retry(cluster, four_videos, singles, tmp_path):
    out = tmp_path / "out"
    batch = spawn([sys.executable, "-m", "emotion_cam", "video", *four_videos, "--out-dir", str(out),
                   "--scheduler", cluster.address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and batch.poll() is None and len(list(out.glob(".*.part.csv"))) < 2:
        time.sleep(0.05)  # both workers are in the middle of a video
    cluster.workers[0].kill()
    _, err = batch.communicate(timeout=300)
    assert batch.returncode == 0, err
    same_as_singles(out, singles)  # also: the dead worker's temporary file is gone


def test_an_interrupted_cluster_batch_is_finished_by_running_it_again(cluster, four_videos, singles, tmp_path):
    out = tmp_path / "out"
    args = [sys.executable, "-m", "emotion_cam", "video", *four_videos, "--out-dir", str(out), "--scheduler", cluster.address]
    batch = spawn(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and batch.poll() is None and not complete(out):
        time.sleep(0.02)
    batch.send_signal(signal.SIGINT)
    _, err = batch.communicate(timeout=60)
    assert batch.returncode == 130 and "have complete outputs" in err and "Traceback" not in err, err
    done = {p.name: p.stat().st_mtime_ns for p in complete(out)}
    assert 0 < len(done) < 4
    run = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "already have their outputs: skipped" in run.stderr, run.stderr
    same_as_singles(out, singles)
    assert all((out / name).stat().st_mtime_ns == mtime for name, mtime in done.items())  # not redone


def test_without_the_extra_the_local_batch_works_and_scheduler_says_what_to_install(tmp_path):
    shutil.copy(DATA_CLIP, tmp_path / "a.mp4")
    blocked = "import sys; sys.modules['distributed'] = None; from emotion_cam.commands.cli import main; sys.exit(main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", blocked, "video", str(tmp_path / "a.mp4"), "--out-dir", str(tmp_path / "out"),
                          "--scheduler", "local"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and run.stderr.strip().splitlines() == [
        "emotion-cam: error: --scheduler needs Dask's distributed package: pip install 'emotion-cam[cluster]'"]
    assert not (tmp_path / "out").exists()
    run = subprocess.run([sys.executable, "-c", blocked, "video", str(tmp_path / "a.mp4"), "--out-dir", str(tmp_path / "out"),
                          "--jobs", "1"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and "1 of 1 videos processed (30 frames)" in run.stdout, run.stderr


def test_an_out_dir_a_worker_does_not_see_stops_before_anything_is_submitted(tmp_path):
    """A worker without the share, made the way it happens: its own mount namespace, with an empty file
    system over the output folder's parent."""
    if shutil.which("unshare") is None or subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode:
        pytest.skip("needs unshare --mount (root, or user namespaces) to give a worker a file system of its own")
    out = tmp_path / "out"
    shutil.copy(DATA_CLIP, tmp_path / "a.mp4")
    c = Cluster(workers=1, hide=tmp_path)
    try:
        run = cli("video", str(tmp_path / "a.mp4"), "--out-dir", str(out), "--scheduler", c.address)
    finally:
        c.stop()
    assert run.returncode == 2 and "Dask workers do not see" in run.stderr and "every worker shares" in run.stderr, run.stderr
    assert list(out.iterdir()) == [], "something was written (or the probe file left behind)"
