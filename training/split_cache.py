"""FER-2013 splits for training, decoded once and cached as ``.npz``.

Decoding 30k JPEGs takes longer than an epoch of the compact model, so each
split is decoded once into a uint8 array cached under a key made from the
source's file list; a later or resumed run reads the cache.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from emotion_cam.emotion.dataset import Split, load_split, resolve

__all__ = ["Split", "load_cached"]


def _fingerprint(source: Path, split: str) -> str:
    h = hashlib.sha1(f"{source.resolve()}|{split}".encode())
    if source.is_dir():
        for p in sorted(source.rglob("*")):
            if p.is_file():
                h.update(f"{p.relative_to(source)}:{p.stat().st_size}".encode())
    else:
        st = source.stat()
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def load_cached(source: str | os.PathLike, split: str = "train", cache_dir: str | os.PathLike | None = ".cache") -> Split:
    """Load a split from a dataset root (``<root>/<split>/<class>``), a split folder, or a CSV; cached.

    ``source`` may be the FER-2013 root holding ``train/`` and ``val/``, the split folder
    itself, or ``fer2013.csv``.
    """
    source = resolve(source, split)
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir) / f"fer_{split}_{_fingerprint(source, split)}.npz"
        if cache.exists():
            with np.load(cache) as z:
                if "names" in z or not source.is_dir():  # caches from before file names were kept are decoded again
                    return Split(z["x"], z["y"], str(source), names=tuple(z["names"]) if "names" in z else ())
    data = load_split(source, split)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, x=data.x, y=data.y, names=np.asarray(data.names, dtype=str))
        tmp.replace(cache)
    return data
