"""Where live frames come from: a camera index or a video file, decided once, then opened and read with OpenCV."""
from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emotion_cam.imageio import looks_like_image


class SourceError(RuntimeError):
    """A camera or video that cannot be opened or read. ``photo``: the path, when it is a still image (the
    caller says where photos go: the window's File → Open image, the command line's ``predict``)."""

    def __init__(self, message: str, photo: str | None = None):
        super().__init__(message)
        self.photo = photo


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Hold back OpenCV's warnings, e.g. while opening cameras that may be absent: the caller says so itself."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


@dataclass(frozen=True)
class Source:
    """A camera (by index) or a video file. ``Source.parse`` is the one place that tells them apart."""

    camera: int | None = None
    path: str | None = None

    @classmethod
    def parse(cls, value: "Source | str | int | os.PathLike") -> "Source":
        """``0``, ``"1"``: a camera; anything else: a file path (checked when opened)."""
        if isinstance(value, Source):
            return value
        if isinstance(value, int) or (isinstance(value, str) and value.isdigit()):
            return cls(camera=int(value))
        return cls(path=os.fspath(value))

    @property
    def is_camera(self) -> bool:
        return self.camera is not None

    @property
    def label(self) -> str:
        """For messages: "camera 0" or the file path."""
        return f"camera {self.camera}" if self.is_camera else str(self.path)

    def __str__(self) -> str:
        """As the user gives it and as the CSV's source column holds it: the index or the path."""
        return str(self.camera) if self.is_camera else str(self.path)

    def open(self) -> cv2.VideoCapture:
        """An opened capture, or ``SourceError`` saying why not (missing file, a photo, absent or busy camera)."""
        head = b""
        if not self.is_camera:
            path = Path(self.path)
            if not path.exists():
                raise SourceError(f"{self.path}: no such video file")
            if path.is_dir():
                raise SourceError(f"{self.path}: is a folder, not a video")
            try:
                with open(path, "rb") as f:
                    head = f.read(16)
            except OSError as exc:
                raise SourceError(f"{self.path}: cannot read: {exc.strerror or exc}") from None
            if not head:
                raise SourceError(f"{self.path}: the file is empty")
            if looks_like_image(head):  # FFmpeg would play a photo as a one-frame video
                raise SourceError(f"{self.path}: is a still image, not a video", photo=self.path)
        with quiet_opencv():
            cap = cv2.VideoCapture(self.camera if self.is_camera else self.path)
        if not cap.isOpened():
            cap.release()
            if self.is_camera:
                raise SourceError(f"cannot open {self.label}: is it connected and not in use by another program?")
            raise SourceError(f"{self.path}: {_why_unplayable(Path(self.path), head)}")
        return cap


def _why_unplayable(path: Path, head: bytes) -> str:
    """An MP4/MOV that FFmpeg refuses is told apart: one without a video track holds no frames."""
    if head[4:8] == b"ftyp":
        with open(path, "rb") as f:
            boxes = f.read(8 << 20)
        if b"moov" in boxes and b"trak" not in boxes:
            return "the video has no frames (its MP4 container holds no video track)"
        return "a damaged MP4/MOV video (its index cannot be read; a recording that was cut off?)"
    return "not a video OpenCV can read"


def open_capture(source: "Source | str | int") -> cv2.VideoCapture:
    return Source.parse(source).open()


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


def probe_cameras(indices: Iterable[int] = range(5), already_open: int | None = None) -> list[int]:
    """The camera indices that open (``already_open`` counts without being opened twice)."""
    found = []
    with quiet_opencv():  # most indices have no camera; OpenCV would print a warning for each one it tries
        for index in indices:
            if index == already_open:
                found.append(index)
                continue
            cap = cv2.VideoCapture(index)
            if cap.isOpened():
                found.append(index)
            cap.release()
    return found
