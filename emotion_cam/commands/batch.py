"""Many videos at once: one CSV (and optionally one MP4) per input in an output folder, on several processes.

Each input is one plain, picklable call (``run_one``), so any process pool or
cluster scheduler can map it: here a ``ProcessPoolExecutor``, one OpenCV/LiteRT
thread per process; a Dask cluster in ``cluster``. Outputs are written by the temporary-file-and-rename path with
nothing kept from an interrupted file, so an output that exists is complete: a
rerun skips those inputs and does the rest.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from emotion_cam.media.outputs import OutputError, check_outputs, make_folder

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True)
class Job:
    source: str
    csv: str
    mp4: str | None = None

    def done(self) -> bool:
        return Path(self.csv).is_file() and (self.mp4 is None or Path(self.mp4).is_file())


@dataclass(frozen=True)
class Outcome:
    source: str
    frames: int = 0
    error: str | None = None


def find_videos(inputs: list[str]) -> list[str]:
    """The files given, and the videos (by suffix) in the folders given, each once, in order."""
    found: list[str] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found += sorted(str(p) for p in path.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
        else:
            found.append(item)
    seen: set[str] = set()
    return [f for f in found if not (os.path.realpath(f) in seen or seen.add(os.path.realpath(f)))]


def plan(inputs: list[str], out_dir: str | os.PathLike, mp4: bool = False) -> list[Job]:
    """One job per video: OUT/NAME.csv (and OUT/NAME_annotated.mp4); a second NAME gets NAME-2."""
    folder = make_folder(out_dir)
    jobs, used = [], set()
    for source in find_videos(inputs):
        stem, k = Path(source).stem, 1
        while (name := stem if k == 1 else f"{stem}-{k}") in used:
            k += 1
        used.add(name)
        jobs.append(Job(source, str(folder / f"{name}.csv"), str(folder / f"{name}_annotated.mp4") if mp4 else None))
    return jobs


_local = threading.local()  # one Analyzer per worker thread (a Dask worker may run several tasks at once)
_in_worker = False  # set in pool workers: a stop there ends the worker's part of the batch, not just the job
_stopped = False


def run_one(job: Job, config=None) -> Outcome:
    """One input, in whatever process runs it; errors come back as text, never as an exception."""
    global _stopped
    from emotion_cam.api import Analyzer
    from emotion_cam.media.sources import SourceError
    from emotion_cam.media.images import ImageError
    from emotion_cam.commands.video import process_video
    from emotion_cam.process import configure

    from emotion_cam.commands.video import Terminated

    if _stopped:
        return Outcome(job.source, error="stopped")
    try:
        if getattr(_local, "analyzer", None) is None or _local.config != config:
            if _in_worker:  # a worker process of ours: its process-wide settings are the batch's to make
                configure(config.threads if config is not None else 1)
            _local.analyzer, _local.config = Analyzer(config=config), config
        return Outcome(job.source, process_video(_local.analyzer, job.source, job.mp4, job.csv, progress=False,
                                                 keep_partial=False))
    except (SourceError, OutputError, ImageError, ValueError, OSError) as exc:
        return Outcome(job.source, error=str(exc))
    except (Terminated, KeyboardInterrupt):
        if not _in_worker:
            raise
        _stopped = True  # the video's unfinished outputs are removed by now; start no further job
        return Outcome(job.source, error="stopped")


def _worker_start() -> None:
    """In each worker: SIGTERM ends the current video as in a single run (its unfinished outputs removed);
    Ctrl+C reaches the workers from the terminal and the parent tells them the same."""
    import signal

    from emotion_cam.commands.video import Terminated

    global _in_worker
    _in_worker = True

    def terminated(signum, frame):
        raise Terminated()

    signal.signal(signal.SIGTERM, terminated)


def run_batch(jobs: list[Job], workers: int, config=None, force: bool = False, progress: bool = True,
              scheduler: str | None = None) -> list[Outcome]:
    """Every job not done yet (all with ``force``), ``workers`` at a time, or as tasks of the Dask cluster at
    ``scheduler`` ("local": a local one of ``workers`` processes); outcomes in the jobs' order."""
    todo = [j for j in jobs if force or not j.done()]
    check_outputs([p for j in todo for p in (j.csv, j.mp4)], inputs=[j.source for j in jobs], force=True)
    skipped = len(jobs) - len(todo)
    if skipped:
        print(f"{skipped} of {len(jobs)} videos already have their outputs: skipped (--force redoes them)", file=sys.stderr)
    if scheduler:
        from emotion_cam.commands.cluster import run_on_cluster

        return run_on_cluster(todo, scheduler, workers, config, progress)
    outcomes: dict[str, Outcome] = {}
    bar = tqdm(total=len(todo), unit="video", disable=not progress, file=sys.stderr)
    try:
        if workers <= 1:
            for job in todo:
                outcomes[job.source] = run_one(job, config)
                bar.update()
        else:
            # spawn: a fresh interpreter per worker, no forked copy of this one's threads or locks
            with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                     initializer=_worker_start) as pool:
                futures = {pool.submit(run_one, job, config): job for job in todo}
                try:
                    for future in as_completed(futures):
                        outcomes[futures[future].source] = future.result()
                        bar.update()
                except BaseException:  # Ctrl+C, SIGTERM: stop the workers too; each removes its unfinished files
                    for future in futures:
                        future.cancel()
                    for child in multiprocessing.active_children():
                        child.terminate()
                    pool.shutdown(wait=True, cancel_futures=True)  # quick now; leaves no queue or lock behind
                    raise
    finally:
        bar.close()
    return [outcomes[j.source] for j in todo]
