"""Plain result types: what the pipeline found in one frame. No Qt, no OpenCV objects."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from emotion_cam.emotion.labels import EMOTIONS


@dataclass
class Face:
    box: np.ndarray  # x1, y1, x2, y2 in frame pixels (float32)
    landmarks: np.ndarray  # (5, 2) or (68, 2) frame pixels
    probs: np.ndarray  # (7,) in EMOTIONS order, sums to 1 (smoothed for tracked faces)
    raw_probs: np.ndarray | None = None  # this frame's unsmoothed probabilities
    track_id: int | None = None
    score: float = 0.0  # detector confidence
    unsure: bool = False  # top probability below the model's "unsure" threshold: shown as "unsure"
    contour: np.ndarray | None = None  # (68, 2): dlib's contour points, found only for drawing them (L, --landmarks 68)

    @property
    def area(self) -> float:
        return float((self.box[2] - self.box[0]) * (self.box[3] - self.box[1]))

    @property
    def label(self) -> str:
        """The emotion of the largest probability (the largest bar), even when the face is shown as unsure."""
        return EMOTIONS[self.top]

    @property
    def shown_label(self) -> str:
        """What the overlay and panel say: the label, or "unsure"."""
        return "unsure" if self.unsure else self.label

    def scaled(self, factor: float) -> "Face":
        """The same face on the frame enlarged ``factor`` times (boxes and points; the emotions unchanged)."""
        points = {k: None if v is None else v * factor for k, v in (("landmarks", self.landmarks), ("contour", self.contour))}
        return dataclasses.replace(self, box=self.box * factor, **points)

    @property
    def title(self) -> str:
        """The face's words on the overlay, in the panel and in ``predict``'s text: "happy 83%", or "unsure"."""
        return "unsure" if self.unsure else f"{self.label} {self.confidence:.0%}"

    @property
    def top(self) -> int:
        return int(np.argmax(self.probs))

    @property
    def confidence(self) -> float:
        return float(self.probs[self.top])

    def to_dict(self) -> dict:
        return {
            "track_id": self.track_id,
            "box": [round(float(v), 1) for v in self.box],
            "label": self.label,
            "confidence": round(self.confidence, 4),
            "unsure": bool(self.unsure),
            "probabilities": {name: round(float(p), 4) for name, p in zip(EMOTIONS, self.probs)},
        }


def main_face(faces: list[Face]) -> Face | None:
    """The largest face: the one the timeline plots and the benchmark's flicker counts."""
    return max(faces, key=lambda f: f.area, default=None)


def reading_order(faces: list[Face]) -> list[Face]:
    """Rows from the top, left to right within a row (faces whose centres are within half a face height share
    a row): the order in which a person counts the faces in a photo."""
    rows: list[list[Face]] = []
    for face in sorted(faces, key=lambda f: (f.box[1] + f.box[3]) / 2):
        cy, fh = (face.box[1] + face.box[3]) / 2, face.box[3] - face.box[1]
        if rows and abs(cy - np.mean([(f.box[1] + f.box[3]) / 2 for f in rows[-1]])) < fh / 2:
            rows[-1].append(face)
        else:
            rows.append([face])
    return [f for row in rows for f in sorted(row, key=lambda f: f.box[0])]


@dataclass
class FrameResult:
    faces: list[Face] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)  # per pipeline stage
    frame_index: int = 0  # the frame's position in its source, from 0
    time_s: float = 0.0  # seconds (video time or monotonic clock)
    image: np.ndarray | None = None  # the frame itself, from ``analyze_video`` (to draw on, to save)
    source: str = ""  # the video or camera as given (the CSV's `source`)
    loop: int = 1  # the times a looping video has been played (the CSV's `pass`)
    skipped: int = 0  # frames passed over just before this one to keep up (real-time play)
    decode_ms: float = 0.0  # reading the frame
    process_ms: float = 0.0  # everything from the frame to this result (the stages and what joins them)

    def to_rows(self, source: str | None = None, loop: int | None = None) -> list[dict]:
        """One dict per face in the CSV's columns (``FACE_ROW_HEADER``), with numbers as numbers."""
        return face_records(self.time_s, self.frame_index, self.source if source is None else source, self.faces,
                            self.loop if loop is None else loop)


# One row per face per frame: the columns of the face CSV (sinks.face_csv) and of ``to_rows``. Frames are numbered
# from 0, their position in the source. `pass` counts the times a looping video was played (1, 2, ...): time_s and frame restart with each; it is
# last so that readers of earlier files by column position keep working.
FACE_ROW_HEADER = ["time_s", "frame", "source", "track_id", "x1", "y1", "x2", "y2", "label", "unsure", *EMOTIONS, "pass"]


def face_records(t: float | None, frame_index: int | None, source: str, faces: list[Face], loop: int = 1) -> list[dict]:
    """The CSV's rows as dicts of typed values (what ``to_rows`` and ``to_dataframe`` give)."""
    return [{"time_s": t, "frame": frame_index, "source": source, "track_id": f.track_id,
             **{k: float(v) for k, v in zip(("x1", "y1", "x2", "y2"), f.box)}, "label": f.label, "unsure": bool(f.unsure),
             **{name: float(p) for name, p in zip(EMOTIONS, f.probs)}, "pass": loop} for f in faces]


def to_rows(results, source: str | None = None) -> list[dict]:
    """Rows for many results: the frames of ``analyze_video`` (iterated here; `source` is the video's unless
    given), or the faces of one photo (``analyze``: time and frame are None). Keys are the CSV's columns."""
    if isinstance(results, list) and all(isinstance(f, Face) for f in results):
        return face_records(None, None, source or "", results)
    return [row for r in results for row in r.to_rows(source)]


def to_dataframe(results, source: str | None = None):
    """``to_rows`` as a pandas DataFrame (pandas is optional: ``pip install pandas``)."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_dataframe needs pandas, which EmotionCam does not install: pip install pandas") from None
    # A photo's rows have no time or frame: missing values, in columns of the same types as a video's.
    return pd.DataFrame(to_rows(results, source), columns=FACE_ROW_HEADER).astype(
        {"time_s": "float64", "frame": "Int64", "track_id": "Int64", "pass": "Int64", "unsure": bool})
