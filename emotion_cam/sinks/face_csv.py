"""The face CSV: one row per face per frame, as `video --csv`, a recording (Ctrl+R) and the window's export
(Ctrl+E) write it. Its columns are ``results.FACE_ROW_HEADER``; frames are numbered from 0, their position
in the source (frames skipped to keep up counted), and ``pass`` counts the plays of a looping video."""
from __future__ import annotations

import csv
from typing import TextIO

from emotion_cam.results import FACE_ROW_HEADER, Face, FrameResult


def face_rows(t: float | None, frame_index: int | None, source: str, faces: list[Face], loop: int = 1) -> list[list]:
    """The rows of one frame, as text (what the file holds); a photo has no time or frame (empty cells)."""
    time_s = "" if t is None else f"{t:.3f}"
    return [[time_s, "" if frame_index is None else frame_index, source, f.track_id, *(f"{v:.1f}" for v in f.box), f.label, int(f.unsure),
             *(f"{p:.4f}" for p in f.probs), loop] for f in faces]


class FaceCsv:
    """The one writer of the face CSV: the header on creation, then frames' rows into an open text file."""

    def __init__(self, file: TextIO):
        self._writer = csv.writer(file)
        self._writer.writerow(FACE_ROW_HEADER)

    def write_result(self, result: FrameResult) -> None:
        """A frame of the one frame loop (``api.VideoResults``): its time, number, source and pass come with it."""
        self.write(result.time_s, result.frame_index, result.source, result.faces, result.loop)

    def write(self, t: float | None, frame_index: int | None, source: str, faces: list[Face], loop: int = 1) -> None:
        self._writer.writerows(face_rows(t, frame_index, source, faces, loop))

    def write_rows(self, rows) -> None:
        """Rows made earlier by ``face_rows`` (the window keeps what it showed until it is exported)."""
        self._writer.writerows(rows)
