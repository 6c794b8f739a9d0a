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

from emotion_cam.media.images import looks_like_image


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


@dataclass
class VideoFrame:
    """One frame as every consumer sees it: the window, ``video``, the API, a recording and ``bench``."""

    image: np.ndarray  # BGR
    t: float  # seconds: the frame's time in a file, since the start for a camera
    index: int  # its position in the source, from 0, skipped frames counted (the CSV's `frame`)
    source: str = ""  # the source as the user gave it (the CSV's `source`)
    loop: int = 1  # the times a looping video has been played, this time included (the CSV's `pass`)
    skipped: int = 0  # frames passed over just before this one, the reader being too late for them
    decode_ms: float = 0.0  # the time reading it took


class Player:
    """The one frame-pacing policy, for the window, ``video`` and ``bench --realtime``.

    A file played in real time waits for each frame's time and skips the frames its reader is too late
    for (the picture keeps to the clock, as a video player's does); a file not in real time gives every
    frame at once (``video``: nothing is lost). A camera gives its newest frame: OpenCV is asked to keep
    a one-frame buffer, so a slow reader sees now, not a queue of the past.
    """

    def __init__(self, cap: cv2.VideoCapture, is_camera: bool, realtime: bool = True,
                 resize: tuple[int, int] | None = None, source: str = ""):
        self.cap, self.is_camera, self.resize, self.source = cap, is_camera, resize, source
        self.loop = 1  # plays of a looping video
        self.fps = 0.0 if is_camera else (cap.get(cv2.CAP_PROP_FPS) or 30.0)
        self.realtime = realtime and not is_camera
        self.length = 0 if is_camera else int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)  # from the header: may be off
        if is_camera:
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.index = 0
        self.start = time.monotonic()

    def restart(self) -> None:
        """From the first frame again (a video that loops: its next pass) or, for a camera, a new clock."""
        if self.index and not self.is_camera:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self.loop += 1
        self.index = 0
        self.start = time.monotonic()

    def seek(self, index: int) -> None:
        """Go to frame ``index`` of a file (clamped to it), the clock set there."""
        if self.is_camera:
            return
        index = max(0, min(index, self.length - 1)) if self.length else max(0, index)
        self.cap.set(cv2.CAP_PROP_POS_FRAMES, index)
        self.index = index
        self.resync()

    def resync(self) -> None:
        """The clock set to the current frame, after a pause: playing goes on from here instead of skipping ahead."""
        self.start = time.monotonic() - (self.index / self.fps if self.fps else 0.0)

    @property
    def due(self) -> int:
        """The frame the clock has reached (files in real time)."""
        return int((time.monotonic() - self.start) * self.fps)

    def wait(self) -> None:
        """Until the next frame's time, for a file played in real time; at once otherwise."""
        if self.realtime:
            ahead = (self.start + self.index / self.fps) - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)

    def read(self) -> VideoFrame | None:
        """The next frame by the policy, or None at the end of the stream (or a read that failed)."""
        started = time.perf_counter()
        skipped = 0
        if self.realtime:
            # More than a frame late: on to the frame due now (one frame of slack, so that a single slow frame
            # costs no skip).
            while self.index < self.due - 1 and self.cap.grab():
                self.index += 1
                skipped += 1
        ok, image = self.cap.read()
        if not ok or image is None:
            return None
        if self.resize is not None:
            image = cv2.resize(image, self.resize, interpolation=cv2.INTER_AREA)
        t = self.index / self.fps if self.fps else time.monotonic() - self.start
        frame = VideoFrame(image, t, self.index, self.source, self.loop, skipped, (time.perf_counter() - started) * 1000)
        self.index += 1
        return frame

    def __iter__(self) -> Iterator[VideoFrame]:
        """Every frame by the policy, to the end of the stream."""
        while (frame := self.read()) is not None:
            yield frame

    def ended_early(self) -> bool:
        """After the last frame: a file that stopped well before the frame count in its header is damaged."""
        return not self.is_camera and self.length > 0 and self.index < self.length - 2


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
