"""Headless video processing: frames from a file or camera through the tracking pipeline, to CSV and/or MP4."""
from __future__ import annotations

import csv
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from emotion_cam.draw import Annotator
from emotion_cam.imageio import looks_like_image
from emotion_cam.pipeline import Pipeline
from emotion_cam.results import FACE_ROW_HEADER, face_rows


class SourceError(RuntimeError):
    """A camera or video that cannot be opened or read."""


def is_camera(source: str | int | None) -> bool:
    """A camera index (0, "1"), as opposed to a video file path."""
    return isinstance(source, int) or (isinstance(source, str) and source.isdigit())


def parse_source(source: str | int) -> str | int:
    """A camera index ("0", 1) or a path; a missing file is an error, not a silent camera."""
    if is_camera(source):
        return int(source)
    if not Path(source).exists():
        raise SourceError(f"{source}: no such video file")
    return source


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Hold back OpenCV's warnings, e.g. while opening cameras that may be absent: the caller says so itself."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def open_capture(source: str | int) -> cv2.VideoCapture:
    src = parse_source(source)
    if isinstance(src, str) and Path(src).is_file():
        with open(src, "rb") as f:
            head = f.read(16)
        if looks_like_image(head):  # FFmpeg would play a photo as a one-frame video
            raise SourceError(f"{src} is a still image, not a video: open it as an image (File → Open image, or emotion-cam predict)")
    with quiet_opencv():
        cap = cv2.VideoCapture(src)
    if not cap.isOpened():
        cap.release()
        what = f"camera {src}" if isinstance(src, int) else f"{src}"
        hint = "is it connected and not in use by another program?" if isinstance(src, int) else "not a video OpenCV can read"
        raise SourceError(f"cannot open {what}: {hint}")
    return cap


def frames(cap: cv2.VideoCapture, limit: int | None = None, resize: tuple[int, int] | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """(time in seconds, BGR frame) pairs: video time for files, wall-clock time for cameras."""
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    start = time.monotonic()
    n = 0
    while limit is None or n < limit:
        ok, frame = cap.read()
        if not ok or frame is None:
            return
        if resize is not None:
            frame = cv2.resize(frame, resize, interpolation=cv2.INTER_AREA)
        t = n / fps if fps > 0 else time.monotonic() - start
        yield t, frame
        n += 1


def process_video(pipeline: Pipeline, source: str | int, out: str | os.PathLike | None = None,
                  csv_path: str | os.PathLike | None = None, limit: int | None = None, progress: bool = True) -> int:
    """Run the live pipeline over a whole video; returns the number of frames processed.

    Whatever ends the run (the last frame, a read error, Ctrl+C, SIGTERM turned into an exception by the
    caller) the MP4 and CSV written so far are closed properly. A file that yields no frame, or ends well
    before the frame count in its header, raises ``SourceError`` after that.
    """
    cap = open_capture(source)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if not is_camera(source) else 0
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    annotator = Annotator()
    csv_file = open(csv_path, "w", newline="") if csv_path else None
    rows = csv.writer(csv_file) if csv_file else None
    if rows:
        rows.writerow(FACE_ROW_HEADER)
    pipeline.reset()
    n = 0
    expected = total if limit is None else min(total, limit)
    bar = tqdm(total=expected or None, unit="frame", disable=not progress, file=sys.stderr, mininterval=0.5)
    try:
        for t, frame in frames(cap, limit):
            result = pipeline.process_frame(frame, t)
            if rows:
                rows.writerows(face_rows(result.timestamp, result.frame_index, str(source), result.faces))
            if out:
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                    if not writer.isOpened():
                        raise SourceError(f"{out}: cannot write a video there")
                writer.write(annotator.draw(frame, result.faces))
            n += 1
            bar.update()
    finally:
        bar.close()
        cap.release()
        if writer is not None:
            writer.release()
        if csv_file:
            csv_file.close()
    if n == 0:
        raise SourceError(f"{source}: no frame could be read (not a video, or a damaged one)")
    if expected > 0 and n < expected - 2:  # container frame counts can be off by a frame or two
        raise SourceError(f"{source}: the video ended after frame {n} of {expected}: the file is truncated or damaged "
                          f"(the {n} frames read were processed and saved)")
    return n
