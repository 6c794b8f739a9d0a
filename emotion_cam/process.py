"""Settings that change the whole process: made by the entry points (the command line, the window, bench's
fresh processes, batch workers), never by the library, so that ``import emotion_cam`` in someone's program
leaves their OpenCV threads and their heap as they were.

- ``configure(threads)``: OpenCV's thread count, and glibc's heap kept for large blocks (below).
- Third-party log lines kept off the terminal: FFmpeg (inside OpenCV) prints "moov atom not found" for a
  damaged video that we already report, and LiteRT prints an INFO line each time a model loads.
  ``--verbose`` (or ``EMOTION_CAM_VERBOSE=1``) lets them through for debugging.

Why the heap: glibc serves blocks above its mmap threshold (128 KB at first) with fresh mappings and unmaps
them when freed, so a detection pass that allocates its input and feature maps anew each time faults in tens
of megabytes of zeroed pages per pass: system time that showed up as a large share of the CPU per frame on
1080p video (docs/benchmarks.md). Serving every block from the heap (no mmap) and trimming it only above
256 MB lets it reuse those blocks; the largest (a detector's workspace) exceed the highest mmap threshold
glibc accepts, so raising that threshold is not enough.
"""
from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

VERBOSE_ENV = "EMOTION_CAM_VERBOSE"
FFMPEG_QUIET, FFMPEG_WARNINGS = "-8", "24"  # AV_LOG_QUIET, AV_LOG_WARNING
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters (malloc.h)
TRIM_ABOVE = 256 << 20


def configure(threads: int = 1) -> None:
    """What the entry points set for their own process: ``threads`` OpenCV threads and the heap kept."""
    import cv2

    cv2.setNumThreads(threads)
    keep_large_blocks()


def keep_large_blocks() -> bool:
    """Raise glibc's thresholds for this process; False where the C library is not glibc (or not Linux)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    mallopt = getattr(libc, "mallopt", None)
    return bool(mallopt) and bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE))


def verbose() -> bool:
    return os.environ.get(VERBOSE_ENV, "") not in ("", "0")


def default_ffmpeg_level() -> None:
    """At import, before OpenCV opens its first video (it reads the level once); a level the user set is kept."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", FFMPEG_WARNINGS if verbose() else FFMPEG_QUIET)


def set_verbose(on: bool) -> None:
    """Before the first video is opened: OpenCV reads FFmpeg's log level once."""
    os.environ[VERBOSE_ENV] = "1" if on else "0"
    os.environ["OPENCV_FFMPEG_LOGLEVEL"] = FFMPEG_WARNINGS if on else FFMPEG_QUIET


@contextmanager
def native_stderr_quiet() -> Iterator[None]:
    """File descriptor 2 pointed at /dev/null for the block (C++ logging that no setting turns off)."""
    if verbose():
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (a GUI launched without a terminal)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
