"""The headless ``video`` command: frames from a file or camera through the tracking pipeline, to CSV and/or MP4."""
from __future__ import annotations

import csv
import os
import sys

import cv2
from tqdm import tqdm

from emotion_cam.capture import Source, SourceError, frames
from emotion_cam.draw import Annotator
from emotion_cam.pipeline import Pipeline
from emotion_cam.results import FACE_ROW_HEADER, face_rows


def process_video(pipeline: Pipeline, source: Source | str | int, out: str | os.PathLike | None = None,
                  csv_path: str | os.PathLike | None = None, limit: int | None = None, progress: bool = True) -> int:
    """Run the live pipeline over a whole video; returns the number of frames processed.

    Whatever ends the run (the last frame, a read error, Ctrl+C, SIGTERM turned into an exception by the
    caller) the MP4 and CSV written so far are closed properly. A file that yields no frame, or ends well
    before the frame count in its header, raises ``SourceError`` after that.
    """
    source = Source.parse(source)
    cap = source.open()
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if not source.is_camera else 0
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
