"""Third-party log lines kept off the terminal: EmotionCam says what went wrong in its own words.

FFmpeg (inside OpenCV) prints "moov atom not found" for a damaged video that we
already report, and LiteRT prints an INFO line each time a model loads. ``--verbose``
(or ``EMOTION_CAM_VERBOSE=1``) lets them through for debugging.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

VERBOSE_ENV = "EMOTION_CAM_VERBOSE"
FFMPEG_QUIET, FFMPEG_WARNINGS = "-8", "24"  # AV_LOG_QUIET, AV_LOG_WARNING


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
