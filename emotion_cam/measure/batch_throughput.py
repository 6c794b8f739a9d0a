"""Frames per second of a batch of videos three ways, in one run: the local process pool (``--jobs N``), a
``--scheduler local`` Dask cluster of N workers, and a Dask cluster of N single-threaded workers started by
hand on this machine (``dask scheduler``/``dask worker``), as a lab would run one; each twice, in turns.

    python -m emotion_cam.measure.batch_throughput ../shared/media/videos --minutes 1 --workers 2

The inputs are made from the videos given, each repeated end to end until it lasts ``--minutes`` (videos of
a minute or more are what a batch is for; the per-video costs that differ between the paths are start-up
and scheduling). Needs the ``[cluster]`` extra. Prints one JSON object.
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from emotion_cam.commands.batch import find_videos
from emotion_cam.measure.machine import cpu_name


def lengthen(source: str, target: Path, seconds: float) -> int:
    """``source`` played again and again into ``target`` until it lasts ``seconds``; returns its frames."""
    cap = cv2.VideoCapture(source)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while (ok := cap.read())[0]:
        frames.append(ok[1])
    cap.release()
    need = max(len(frames), round(seconds * fps))
    h, w = frames[0].shape[:2]
    out = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for k in range(need):
        out.write(frames[k % len(frames)])
    out.release()
    return need


def timed(args: list[str]) -> float:
    start = time.perf_counter()
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(f"failed: {' '.join(args)}\n{run.stderr}")
    return time.perf_counter() - start


def start_cluster(workers: int) -> tuple[str, list[subprocess.Popen]]:
    from distributed import Client

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    dask, quiet = [sys.executable, "-m", "dask"], {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen(dask + ["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], **quiet)]
    procs += [subprocess.Popen(dask + ["worker", address, "--nthreads", "1", "--no-dashboard"], **quiet)
              for _ in range(workers)]
    with Client(address, timeout=60) as client:
        client.wait_for_workers(workers, timeout=120)
    return address, procs


def model_load_ms() -> float:
    """What loading the models costs a task that would load them itself (the best of three)."""
    from emotion_cam.api import Analyzer

    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        Analyzer()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("videos", nargs="+", help="video files or folders")
    p.add_argument("--minutes", type=float, default=1.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "in").mkdir()
        frames = sum(lengthen(v, tmp / "in" / f"{Path(v).stem}.mp4", args.minutes * 60) for v in find_videos(args.videos))
        inputs = sorted(str(p) for p in (tmp / "in").iterdir())
        address, procs = start_cluster(args.workers)
        try:
            base = [sys.executable, "-m", "emotion_cam", "video", *inputs, "--force"]
            ways = {"local pool": ["--jobs", str(args.workers)],
                    "--scheduler local": ["--scheduler", "local", "--jobs", str(args.workers)],
                    "cluster on localhost": ["--scheduler", address]}
            seconds: dict[str, list[float]] = {name: [] for name in ways}
            for r in range(args.rounds):
                for name, extra in ways.items():
                    seconds[name].append(timed(base + ["--out-dir", str(tmp / f"out-{r}-{len(seconds[name])}"), *extra]))
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
    best = {name: min(s) for name, s in seconds.items()}
    local = best["local pool"]
    print(json.dumps({
        "cpu": cpu_name(), "videos": len(inputs), "frames": frames,
        "minutes_each": args.minutes, "workers": args.workers,
        "seconds": seconds,
        "frames_per_s": {name: round(frames / s, 1) for name, s in best.items()},
        "ratio_to_local_pool": {name: round(s / local, 3) for name, s in best.items()},
        "overhead_per_video_s": {name: round((s - local) / len(inputs), 2) for name, s in best.items()},
        "model_load_ms": round(model_load_ms(), 1),
    }, indent=1))


if __name__ == "__main__":
    main()
