"""FER+ votes: ten people's calls on each FER-2013 face, the targets of the model and the yardstick of ``eval --votes``.

FER-2013's label is one person's call; FER+ (Barsoum et al., ICMI 2016) had every face
labelled again by ten. Its columns come in FER+'s order and include three that are not
emotions of ours: contempt, unknown and not-a-face (NF). This module reads the votes CSV
(keyed by our JPEG names, see the CSV's README) and turns counts into what the rest
needs: vote shares over our seven classes, and the plurality (the one emotion with more
votes than any other column).
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_cam.emotion.labels import EMOTIONS

FERPLUS_COLUMNS: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                                    "contempt", "unknown", "NF")
_OURS = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "neutral": "neutral",
         "sad": "sadness", "surprise": "surprise"}
EMOTION_COLUMNS = np.array([FERPLUS_COLUMNS.index(_OURS[e]) for e in EMOTIONS])  # our class i is FER+ column [i]
UNREADABLE_COLUMNS = np.array([FERPLUS_COLUMNS.index("unknown"), FERPLUS_COLUMNS.index("NF")])


class VotesError(ValueError):
    """A votes file that cannot be read; the message names the file and what is wrong."""


@dataclass
class Votes:
    """Vote counts (N, 10) in FER+'s column order, one row per face file name."""

    names: tuple[str, ...]
    counts: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.names)

    def lookup(self, names) -> tuple[np.ndarray, np.ndarray]:
        """Counts for each of ``names`` (rows of zeros where a face has no votes) and which ones have votes."""
        row = {n: i for i, n in enumerate(self.names)}
        where = np.array([row.get(n, -1) for n in names], dtype=np.int64)
        found = where >= 0
        counts = np.zeros((len(where), len(FERPLUS_COLUMNS)), np.float32)
        counts[found] = self.counts[where[found]]
        return counts, found


def load_votes(path: str | os.PathLike) -> Votes:
    """Read a FER+ votes CSV with columns ``our_file`` and the ten vote counts."""
    path = Path(path)
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = ({"our_file"} | set(FERPLUS_COLUMNS)) - set(reader.fieldnames or ())
            if missing:
                raise VotesError(f"{path}: not a FER+ votes file (missing column(s) {', '.join(sorted(missing))})")
            names, rows = [], []
            for line, r in enumerate(reader, start=2):
                try:
                    rows.append([float(r[c]) for c in FERPLUS_COLUMNS])
                except (TypeError, ValueError):
                    raise VotesError(f"{path}:{line}: vote counts must be numbers") from None
                names.append(r["our_file"])
    except OSError as exc:
        raise VotesError(f"{path}: {exc.strerror or exc}") from None
    counts = np.asarray(rows, np.float32).reshape(-1, len(FERPLUS_COLUMNS))
    if (counts < 0).any():
        raise VotesError(f"{path}: negative vote counts")
    return Votes(tuple(names), counts, str(path))


def votes_file(data_root: str | os.PathLike, split: str) -> Path:
    """Where the shared dataset keeps a split's votes: ``<root>/ferplus/votes_<split>.csv``."""
    return Path(data_root) / "ferplus" / f"votes_{split}.csv"


def plurality(counts: np.ndarray) -> np.ndarray:
    """Our class index where one of our emotions has more votes than every other column (contempt, unknown
    and NF included), else -1: ties and faces people called something else have no plurality."""
    counts = np.atleast_2d(counts)
    top = counts.max(1)
    alone = (counts == top[:, None]).sum(1) == 1
    column = counts.argmax(1)
    ours = np.full(len(counts), -1, np.int64)
    for cls, col in enumerate(EMOTION_COLUMNS):
        ours[alone & (column == col) & (top > 0)] = cls
    return ours


def readable(counts: np.ndarray) -> np.ndarray:
    """Faces whose largest vote is not unknown or not-a-face (FER+ drops the others) and that have an emotion vote."""
    counts = np.atleast_2d(counts)
    emotion_top = counts[:, EMOTION_COLUMNS].max(1)
    return (emotion_top > 0) & (counts[:, UNREADABLE_COLUMNS].max(1) < counts.max(1))


def shares(counts: np.ndarray, min_votes: int = 1) -> np.ndarray:
    """Vote shares over our seven classes (rows sum to 1; zeros where no emotion vote is left).

    Contempt, unknown and NF votes are left out. ``min_votes`` 2 drops an emotion that only one of
    the ten chose (FER+'s own outlier removal).
    """
    ours = np.atleast_2d(counts)[:, EMOTION_COLUMNS].astype(np.float64)
    ours[ours < min_votes] = 0.0
    total = ours.sum(1, keepdims=True)
    return np.divide(ours, total, out=np.zeros_like(ours), where=total > 0)
