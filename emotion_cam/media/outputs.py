"""Every file EmotionCam writes goes through here, so none can destroy data or fail silently.

An output is checked before any work starts (not an input, not named twice, not a
folder, not an existing file without ``--force``, a folder that can be written). A
regular file is written under a temporary name beside its target and renamed over
it only when complete, so a failed or interrupted write never leaves half a file
over an old one. Special files (``/dev/stdout``, a pipe) are written in place.
Every ``OSError`` becomes one ``OutputError`` naming the path and the reason.
"""
from __future__ import annotations

import errno
import os
import re
import shutil
import stat
import sys
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

PathLike = str | os.PathLike


class OutputError(Exception):
    """An output that must not or could not be written. ``status``: 2 refused by its arguments, 1 the write failed."""

    def __init__(self, path: PathLike, reason: str, status: int = 1):
        super().__init__(f"{os.fspath(path)}: {reason}")
        self.path = os.fspath(path)
        self.reason = reason
        self.status = status


def reason_of(exc: OSError) -> str:
    """"No space left on device", "Read-only file system": what the system says, in its words."""
    return exc.strerror or (os.strerror(exc.errno) if exc.errno else str(exc))


def _is_special(path: Path) -> bool:
    try:
        return not stat.S_ISREG(path.stat().st_mode) and not path.is_dir()
    except OSError:
        return False


def _same(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_outputs(outputs: Iterable[PathLike | None], inputs: Iterable[PathLike] = (), force: bool = False,
                  regular_only: Iterable[PathLike] = ()) -> list[Path]:
    """The outputs as paths, or ``OutputError`` for the first that must not be written.

    ``inputs`` are files the run reads (an output that is one of them would be destroyed while read);
    ``regular_only`` are outputs that cannot go to a device or pipe (an MP4 needs to seek).
    """
    inputs = [Path(i) for i in inputs if i is not None and not str(i).isdigit()]
    regular_only = {os.fspath(p) for p in regular_only}
    checked: list[Path] = []
    for out in outputs:
        if out is None:
            continue
        path = Path(out)
        for source in inputs:
            if _same(path, source):
                raise OutputError(path, "is also an input of this run: writing it would destroy it", status=2)
        for other in checked:
            if _same(path, other):
                raise OutputError(path, "is given as two outputs of this run: give each its own file", status=2)
        if path.is_dir():
            raise OutputError(path, "is a folder; give a file name", status=2)
        special = _is_special(path)
        if special and os.fspath(out) in regular_only:
            raise OutputError(path, "is not a regular file: a video has to be written to a file", status=2)
        if path.exists() and not special and not force:
            raise OutputError(path, "exists; use --force to overwrite it", status=2)
        parent = path.parent
        if not parent.is_dir():
            raise OutputError(path, f"the folder {parent} does not exist", status=2)
        if not special and not os.access(parent, os.W_OK):
            raise OutputError(path, f"cannot write in {parent}: {_why_not_writable(parent)}")
        checked.append(path)
    return checked


def _why_not_writable(folder: Path) -> str:
    try:
        probe = folder / f".emotioncam-{uuid.uuid4().hex[:8]}.probe"
        probe.touch()
        probe.unlink()
    except OSError as exc:
        return reason_of(exc)
    return os.strerror(errno.EACCES)


def make_folder(folder: PathLike) -> Path:
    """``folder`` and its parents, or ``OutputError`` saying why it cannot be made or written in."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(folder, "exists and is not a folder", status=2)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(folder, f"cannot make this folder: {reason_of(exc)}") from None
    if not os.access(folder, os.W_OK):
        raise OutputError(folder, f"cannot write in this folder: {_why_not_writable(folder)}")
    return folder


@contextmanager
def replacing(target: PathLike, keep_partial: bool = False) -> Iterator[Path]:
    """A path to write ``target``'s new content to; it becomes ``target`` when the block ends.

    The temporary file keeps the target's suffix (FFmpeg picks the container by it). If the block
    fails the temporary file is removed and the old target is untouched, except that with
    ``keep_partial`` an interruption that is not a write error (Ctrl+C, SIGTERM, a video that ends
    early) still keeps what was written: a shorter but complete file. An ``OSError`` in the block,
    or in the rename, is raised as ``OutputError``.
    """
    target = Path(target)
    if _is_special(target):
        try:
            yield target
        except OSError as exc:
            raise OutputError(target, f"cannot write: {reason_of(exc)}") from None
        return
    tmp = target.with_name(_temporary_name(target, uuid.uuid4().hex[:8]))
    try:
        yield tmp
    except OSError as exc:
        _remove(tmp)
        raise OutputError(target, f"cannot write: {reason_of(exc)}") from None
    except OutputError:
        _remove(tmp)
        raise
    except BaseException:
        if keep_partial and tmp.exists():
            _commit(tmp, target)
        else:
            _remove(tmp)
        raise
    _commit(tmp, target)


def _temporary_name(target: Path, tag: str) -> str:
    return f".{target.stem}.{tag}.part{target.suffix}"


def remove_leftovers(*targets: PathLike | None) -> None:
    """Remove the temporary files of ``targets`` that a killed process left (it had no chance to); only for a
    caller that knows no process of its own is writing them now."""
    for target in filter(None, targets):
        target = Path(target)
        pattern = re.compile(re.escape(_temporary_name(target, "TAG")).replace("TAG", "[0-9a-f]{8}"))
        for leftover in target.parent.glob(".*.part*"):
            if pattern.fullmatch(leftover.name):
                _remove(leftover)


def _commit(tmp: Path, target: Path) -> None:
    try:
        if target.exists():
            shutil.copymode(target, tmp)  # an overwritten file keeps its permissions
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise OutputError(target, f"cannot write: {reason_of(exc)}") from None


def _remove(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass


def write_bytes(target: PathLike, data: bytes) -> Path:
    with replacing(target) as tmp, open(tmp, "wb") as f:
        f.write(data)
    return Path(target)


def write_image(target: PathLike, image: np.ndarray) -> Path:
    """An image in the format its suffix names (PNG, JPEG, ...); OpenCV encodes, Python writes (for a real errno)."""
    suffix = Path(target).suffix.lower() or ".png"
    try:
        ok, encoded = cv2.imencode(suffix, image)
    except cv2.error:
        ok = False
    if not ok:
        raise OutputError(target, f"cannot write a {suffix} image: use .png or .jpg", status=2)
    return write_bytes(target, encoded.tobytes())


def write_stdout(text: str) -> None:
    """Results on standard output, flushed now so that a full disk or closed pipe is told apart from success."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # `| head` closing early: the caller ends quietly
    except OSError as exc:
        raise OutputError("standard output", f"cannot write the results: {reason_of(exc)}") from None


def silence_stdout() -> None:
    """After a failed write to stdout: point it at /dev/null so the interpreter's last flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


class VideoFile:
    """An MP4 written at ``tmp`` (a ``replacing`` path for ``target``), opened at the first frame (its size) and
    checked when closed, as FFmpeg itself reports no failed write.

    H.264 (which browsers play inline) where PyAV is installed (the ``h264`` extra: its wheel bundles FFmpeg with
    x264); otherwise MPEG-4 Part 2 through OpenCV, the only encoder opencv-python-headless has that plays
    widely outside browsers (VLC, mpv, QuickTime). ``live``: a recording that must keep up with its camera
    takes x264's fastest preset, a file written offline a slower one that makes it several times smaller.
    """

    def __init__(self, tmp: Path, target: str | os.PathLike, fps: float, live: bool = False):
        self.tmp, self.target, self.fps, self.live = tmp, target, fps, live
        self._writer: cv2.VideoWriter | _H264Writer | None = None
        self.frames = 0

    def __enter__(self) -> "VideoFile":
        return self

    def write(self, frame) -> None:
        if self._writer is None:
            self._writer = _H264Writer.open(self.tmp, self.target, self.fps, frame.shape, self.live) or self._mpeg4(frame)
        self._writer.write(frame)
        self.frames += 1

    def _mpeg4(self, frame) -> cv2.VideoWriter:
        h, w = frame.shape[:2]
        writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
        if not writer.isOpened():
            raise OutputError(self.target, "cannot write a video there (OpenCV's FFmpeg could not open it)")
        return writer

    def __exit__(self, kind, exc, tb) -> None:
        if self._writer is not None:
            try:
                self._writer.release()
            except OutputError:
                if kind is None:  # else the error under way (Ctrl+C, a read error) is the one to report
                    raise
        if kind is None or not issubclass(kind, (OutputError, OSError)):
            self._check()

    def _check(self) -> None:
        """FFmpeg does not report a failed write (a full disk): count the frames that arrived in the file."""
        if not self.frames:
            return
        cap = cv2.VideoCapture(str(self.tmp))
        stored = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        cap.release()
        if stored < self.frames - 2:
            raise OutputError(self.target, f"the video could not be written completely ({stored} of {self.frames} "
                                           "frames stored: is the disk full?)")


class _H264Writer:
    """PyAV's x264 into MP4, with the ``write``/``release`` of ``cv2.VideoWriter``; yuv420p (what browsers decode)
    needs even sides, so an odd last row or column is left out; the index goes first (``faststart``) so that a
    browser starts playing before the whole file has arrived."""

    def __init__(self, container, stream, target):
        self.container, self.stream, self.target, self.index = container, stream, target, 0

    @classmethod
    def open(cls, tmp: Path, target, fps: float, shape: tuple, live: bool) -> "_H264Writer | None":
        try:
            import av
        except ImportError:
            return None
        from fractions import Fraction

        h, w = shape[:2]
        try:
            container = av.open(str(tmp), "w", format="mp4", container_options={"movflags": "+faststart"})
            stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise OutputError(target, f"cannot write a video there: {exc}") from None
        stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
        stream.options = {"preset": "ultrafast" if live else "veryfast", "crf": "23"}
        return cls(container, stream, target)

    def write(self, frame) -> None:
        import av

        h, w = self.stream.height, self.stream.width
        image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="bgr24")
        image.pts, self.index = self.index, self.index + 1
        try:
            for packet in self.stream.encode(image):
                self.container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(self.target, f"cannot write: {getattr(exc, 'strerror', None) or exc}") from None

    def release(self) -> None:
        import av

        error = None
        try:
            for packet in self.stream.encode():  # the frames x264 still holds
                self.container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            error = exc
        try:
            self.container.close()
        except (av.FFmpegError, OSError) as exc:
            error = error or exc
        if error is not None:
            raise OutputError(self.target, f"cannot write: {getattr(error, 'strerror', None) or error}")
