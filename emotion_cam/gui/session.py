"""What File → Export shown faces writes: every face of every frame the window showed, in the CLI's CSV layout."""
from __future__ import annotations

from collections import deque

from emotion_cam.media.outputs import replacing
from emotion_cam.sinks.face_csv import FaceCsv, face_rows


class SessionRecorder:
    """Rows kept in memory (the newest 500,000: about an hour of one face at 30 fps, some 100 MB at most)."""

    def __init__(self, max_rows: int = 500_000):
        self.rows: deque[list] = deque(maxlen=max_rows)

    def __len__(self) -> int:
        return len(self.rows)

    def record(self, msg) -> None:
        """A ``FrameMessage`` the window has just shown."""
        when = (None, None) if msg.still else (msg.time_s, msg.frame_index)  # a photo has no time or frame
        self.rows.extend(face_rows(*when, msg.source, msg.faces, msg.loop))

    def export(self, path: str) -> int:
        """Rows written; ``OutputError`` if the file cannot be (an old file at ``path`` is then untouched)."""
        with replacing(path) as tmp, open(tmp, "w", newline="") as f:
            FaceCsv(f).write_rows(self.rows)
        return len(self.rows)
