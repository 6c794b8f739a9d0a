"""FER-2013 faces from the folder-per-class layout or the original ``fer2013.csv``.

Shared by ``emotion-cam eval`` and the training pipeline. Unreadable files and
malformed rows are reported (logged and listed in ``Split.skipped``) and left
out: a face is never given a guessed label.
"""
from __future__ import annotations

import csv
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from emotion_cam.emotion.labels import EMOTIONS

log = logging.getLogger(__name__)

IMAGE_SIZE = 48
CSV_USAGE = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}  # split name -> CSV Usage
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".tif", ".tiff", ".webp"}


@dataclass
class Split:
    """One split: ``x`` is (N, 48, 48) uint8 grayscale, ``y`` is (N,) int class ids.

    ``names`` are the faces' file names (empty for a CSV, whose rows have none): FER+'s votes are keyed by them.
    """

    x: np.ndarray
    y: np.ndarray
    source: str
    skipped: list[tuple[str, str]] = field(default_factory=list)
    names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, index: np.ndarray) -> "Split":
        """The faces at ``index`` (an index array or a boolean mask), names kept."""
        index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index)
        names = tuple(self.names[i] for i in index) if self.names else ()
        return Split(self.x[index], self.y[index], self.source, names=names)

    def class_counts(self) -> np.ndarray:
        return np.bincount(self.y, minlength=len(EMOTIONS))


def _decode_face(path: Path) -> np.ndarray:
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise ValueError("empty file")
    img = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE)
    if img is None:
        raise ValueError("not a decodable image")
    if img.shape != (IMAGE_SIZE, IMAGE_SIZE):
        img = cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
    return img


def load_folder(root: str | os.PathLike, limit_per_class: int | None = None) -> Split:
    """Read ``root/<class>/*.jpg`` for the seven FER-2013 classes (missing class folders count as empty)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected <root>/<class>/<image> for {', '.join(EMOTIONS)})")
    unknown = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in EMOTIONS)
    if unknown:
        log.warning("%s: ignoring folders that are not FER-2013 classes: %s", root, ", ".join(unknown))
    xs, ys, names, skipped = [], [], [], []
    for label, name in enumerate(EMOTIONS):
        files = sorted(p for p in (root / name).glob("*") if p.suffix.lower() in IMAGE_SUFFIXES) if (root / name).is_dir() else []
        if limit_per_class is not None:
            files = files[:limit_per_class]
        for path in files:
            try:
                xs.append(_decode_face(path))
                ys.append(label)
                names.append(path.name)
            except (ValueError, OSError) as exc:
                skipped.append((str(path), str(exc)))
    for path, why in skipped:
        log.warning("skipped %s: %s", path, why)
    if not xs:
        raise ValueError(f"{root}: no readable face images found")
    return Split(np.stack(xs), np.asarray(ys, dtype=np.int64), str(root), skipped, tuple(names))


def load_csv(path: str | os.PathLike, split: str = "train") -> Split:
    """Read the original ``fer2013.csv`` (columns emotion, pixels, Usage) for one split."""
    usage = CSV_USAGE.get(split, split)
    xs, ys, skipped = [], [], []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"emotion", "pixels", "Usage"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, row in enumerate(reader, start=2):
            if row["Usage"].strip() != usage:
                continue
            try:
                label = int(row["emotion"])
                if not 0 <= label < len(EMOTIONS):
                    raise ValueError(f"emotion {label} out of range 0..6")
                pixels = np.array(row["pixels"].split(), dtype=np.int64)
                if pixels.size != IMAGE_SIZE * IMAGE_SIZE or pixels.min() < 0 or pixels.max() > 255:
                    raise ValueError(f"expected {IMAGE_SIZE * IMAGE_SIZE} pixel values in 0..255, got {pixels.size}")
            except ValueError as exc:
                skipped.append((f"{path}:{line}", str(exc)))
                continue
            xs.append(pixels.astype(np.uint8).reshape(IMAGE_SIZE, IMAGE_SIZE))
            ys.append(label)
    for where, why in skipped:
        log.warning("skipped %s: %s", where, why)
    if not xs:
        raise ValueError(f"{path}: no rows with Usage={usage}")
    return Split(np.stack(xs), np.asarray(ys, dtype=np.int64), f"{path}[{usage}]", skipped)


def resolve(source: str | os.PathLike, split: str) -> Path:
    """``root/<split>`` when ``source`` is a dataset root, else ``source`` (a split folder or a CSV)."""
    source = Path(source)
    if source.is_dir() and (source / split).is_dir() and not (source / EMOTIONS[0]).is_dir():
        source = source / split
    if not source.exists():
        raise FileNotFoundError(f"{source}: no such file or folder")
    return source


def load_split(source: str | os.PathLike, split: str = "val") -> Split:
    """Load one split from a dataset root, a split folder or a CSV."""
    path = resolve(source, split)
    return load_folder(path) if path.is_dir() else load_csv(path, split)
