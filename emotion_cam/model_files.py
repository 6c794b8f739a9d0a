"""Where the shipped model files are, and the one error for a model file that is missing or damaged.

Files in ``models/`` are found beside the package (a source checkout or ``pip install -e .``)
or in ``<prefix>/share/emotion-cam/models`` (a regular install, via ``data_files``).
Nothing is ever downloaded.
"""
from __future__ import annotations

import hashlib
import sys
from pathlib import Path


class ModelFileError(RuntimeError):
    """A model file EmotionCam needs is missing or unreadable; the message names it and says how to get it back."""


def shipped_candidates(name: str) -> list[Path]:
    here = Path(__file__).resolve().parent
    return [here.parent / "models" / name, Path(sys.prefix) / "share" / "emotion-cam" / "models" / name]


def shipped_path(name: str) -> Path:
    """The first of the shipped locations that holds ``name`` (the checkout's when none does, for the message)."""
    candidates = shipped_candidates(name)
    return next((p for p in candidates if p.is_file()), candidates[0])


def checked_bytes(path: Path, sha256: str) -> bytes:
    """The file's bytes, or ``ModelFileError`` when it is missing or not the file we ship (a damaged copy)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path}: model file missing; reinstall EmotionCam or check out the project again") from None
    except OSError as exc:
        raise ModelFileError(f"{path}: cannot read the model file ({exc.strerror or exc})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise ModelFileError(f"{path}: damaged model file (sha256 {digest[:12]}…, expected {sha256[:12]}…); "
                             "reinstall EmotionCam or check out the project again")
    return data
