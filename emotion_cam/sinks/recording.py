"""Recording a live session: the annotated frames to an MP4 and their faces to a CSV beside it.

Both files are written through ``outputs`` (temporary names, renamed when the
recording stops), so a recording cut short by a crash leaves no half file under
the final name. Frames are written as they are processed, at the source's frame
rate (a camera's measured rate when it has none).
"""
from __future__ import annotations

import time
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import numpy as np

from emotion_cam.media.outputs import OutputError, VideoFile, make_folder, replacing
from emotion_cam.sinks.face_csv import FaceCsv
from emotion_cam.results import FrameResult


class Recorder:
    """``start`` names and opens the two files; ``write`` adds a frame; ``stop`` finalises them."""

    def __init__(self, folder: str | Path, fps: float, source: str):
        self.folder = make_folder(folder)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        name, k = f"emotioncam-{stamp}", 1
        while (self.folder / f"{name}.mp4").exists() or (self.folder / f"{name}.csv").exists():
            k += 1
            name = f"emotioncam-{stamp}-{k}"
        self.video_path, self.csv_path = self.folder / f"{name}.mp4", self.folder / f"{name}.csv"
        self.source = source
        self.frames = 0
        self.started = time.monotonic()
        self._stack = ExitStack()
        try:
            self._video = self._stack.enter_context(VideoFile(self._stack.enter_context(replacing(self.video_path)),
                                                              self.video_path, fps or 30.0, live=True))
            table = self._stack.enter_context(open(self._stack.enter_context(replacing(self.csv_path)), "w", newline=""))
            self._rows = FaceCsv(table)
        except OSError as exc:
            self._abort(OutputError(self.folder, f"cannot record there: {exc.strerror or exc}"))
        except OutputError as exc:
            self._abort(exc)

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    def write(self, annotated: np.ndarray, result: FrameResult) -> None:
        """One frame (its result, and the result drawn on it); an ``OutputError`` (disk full) ends the recording
        and removes its files."""
        try:
            self._video.write(annotated)
            self._rows.write_result(result)
        except OSError as exc:
            self._abort(OutputError(self.csv_path, f"cannot write: {exc.strerror or exc}"))
        except OutputError as exc:
            self._abort(exc)
        self.frames += 1

    def stop(self) -> tuple[Path, Path]:
        """Both files complete under their names (or ``OutputError``, and neither file)."""
        self._stack.close()
        return self.video_path, self.csv_path

    def _abort(self, exc: OutputError) -> None:
        """Close everything as after a failed write (the temporary files are removed), then raise ``exc``."""
        try:
            self._stack.__exit__(type(exc), exc, exc.__traceback__)
        except OutputError:
            pass
        raise exc
