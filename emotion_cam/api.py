"""EmotionCam from Python: ``analyze`` a photo, ``analyze_video`` a file or camera, or an ``Analyzer`` for many.

The command line and the window run through this same code: ``predict`` is
``Analyzer.analyze``, ``video`` iterates ``Analyzer.analyze_video``, and the
window's worker calls ``Analyzer.track`` once per frame it shows.
"""
from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from emotion_cam.media.sources import Player, Source, VideoFrame
from emotion_cam.media.images import decode_image, read_image, to_bgr8
from emotion_cam.pipeline import Pipeline, PipelineConfig
from emotion_cam.results import Face, FrameResult

ImageLike = str | os.PathLike | np.ndarray | bytes


class Analyzer:
    """Faces and their emotions, with the models loaded once for many calls.

    Options: ``detector`` ("yunet", "hog", "haar"), ``model`` (a .tflite with its card; default: the
    shipped one), ``mirror_average`` (average each face with its mirror image; default: the card's
    choice), ``threads`` (LiteRT threads), ``landmarks`` (68: also each face's 68 contour points, for drawing;
    the emotions do not change).

    One ``Analyzer`` serves one thread at a time (its detector, interpreter and tracker are not
    thread-safe): give each thread, or each process, its own.
    """

    def __init__(self, detector: str | None = None, model: str | os.PathLike | None = None,
                 mirror_average: bool | None = None, threads: int | None = None, landmarks: int | None = None,
                 config: PipelineConfig | None = None):
        given = {"detector": detector, "model_path": None if model is None else os.fspath(model),
                 "mirror_average": mirror_average, "threads": threads,
                 "contours": None if landmarks is None else landmarks == 68}
        self.config = dataclasses.replace(config or PipelineConfig(), **{k: v for k, v in given.items() if v is not None})
        self.pipeline = Pipeline(self.config)

    @classmethod
    def around(cls, pipeline: Pipeline) -> "Analyzer":
        """An ``Analyzer`` over a pipeline built elsewhere (the benchmark builds and times its own)."""
        analyzer = cls.__new__(cls)
        analyzer.config, analyzer.pipeline = pipeline.config, pipeline
        return analyzer

    @property
    def model_path(self) -> Path:
        return self.pipeline.classifier.path

    def analyze(self, image: ImageLike) -> list[Face]:
        """Every face in a photo: a path (any format ``predict`` reads), the file's bytes, or a BGR (or grey)
        ``numpy`` array as OpenCV gives it. Faces come in reading order, numbered 1, 2, … in ``track_id``. A file that cannot be
        used raises ``ImageError`` with the reason."""
        return self.analyze_image(image).faces

    def analyze_image(self, image: ImageLike) -> FrameResult:
        """``analyze`` with the milliseconds of each stage (``timings_ms``) and the image read (``image``)."""
        image = as_image(image)
        result = self.pipeline.process_image(image)
        result.image = image
        return result

    @property
    def mirror_average(self) -> bool:
        return self.pipeline.classifier.mirror

    @mirror_average.setter
    def mirror_average(self, on: bool) -> None:
        self.pipeline.classifier.mirror = on

    def set_landmarks(self, points: int) -> None:
        """68: also find each face's 68 contour points (``Face.contour``), for drawing; 5: not. Results do not change."""
        self.pipeline.set_contours(points == 68)

    def analyze_video(self, source: str | os.PathLike | int, limit: int | None = None,
                      realtime: bool = False, resize: tuple[int, int] | None = None) -> "VideoResults":
        """Per-frame results from a video file or a camera index, tracked and smoothed as in the app.

        Every frame of a file by default (``realtime``: at its frame rate, skipping what comes too late,
        as the window plays it); a camera always gives its newest frame. Iterate it, break when you
        like; the capture is closed at the end, on ``close()``, leaving a ``with`` block, or when the
        iterator is dropped. A source that cannot be opened raises ``SourceError``. ``resize``: (width, height)
        each frame is scaled to first.
        """
        return VideoResults(self, Source.parse(source if isinstance(source, (int, Source)) else os.fspath(source)),
                            limit, realtime, resize)

    def process(self, frame: VideoFrame) -> FrameResult:
        """One frame of a stream into its result: what every frame loop calls (``analyze_video``, the window,
        ``video``, ``bench``), so that all of them number, time and label frames alike."""
        started = time.perf_counter()
        result = self.pipeline.process_frame(frame.image, frame.t, frame.index)
        result.image, result.source, result.loop, result.skipped = frame.image, frame.source, frame.loop, frame.skipped
        result.decode_ms, result.process_ms = frame.decode_ms, (time.perf_counter() - started) * 1000
        return result

    def track(self, frame: np.ndarray, t: float | None = None, index: int | None = None) -> FrameResult:
        """One frame of a stream you read yourself (``t``: its time in seconds; ``index``: its position in the
        stream, from 0, else the frames tracked since the last reset); call ``reset()`` between streams."""
        return self.pipeline.process_frame(frame, t, index)

    def reset(self) -> None:
        """Forget the faces being tracked (a new video, a new camera)."""
        self.pipeline.reset()


class VideoResults:
    """The iterator ``Analyzer.analyze_video`` returns: one ``FrameResult`` per frame, its ``image`` the frame.

    The one frame loop: the window, ``video``, a batch and ``bench`` all read their frames through it.
    ``next_result`` is one turn of it for a caller that paces itself (the window pauses, steps and loops).
    """

    def __init__(self, analyzer: Analyzer, source: Source, limit: int | None, realtime: bool,
                 resize: tuple[int, int] | None = None):
        self.source = source
        self.analyzer = analyzer
        self.limit = limit
        self.mirror = False  # each frame mirrored before it is tracked (the window's live view, M)
        self._cap = None  # set first: __del__ runs even when opening fails
        self._cap = source.open()
        self.player = Player(self._cap, source.is_camera, realtime=realtime, resize=resize, source=str(source))
        self.frames_read = 0
        analyzer.reset()

    @property
    def closed(self) -> bool:
        return self._cap is None

    def __iter__(self) -> Iterator[FrameResult]:
        return self

    def __next__(self) -> FrameResult:
        result = None if self.limit is not None and self.frames_read >= self.limit else self.next_result()
        if result is None:
            self.close()
            raise StopIteration
        return result

    def next_result(self, wait: bool = True) -> FrameResult | None:
        """The next frame's result (``wait``: for its time, in real-time play), or None at the end of the stream;
        the capture stays open, so that a looping caller can ``player.restart()``."""
        if self._cap is None:
            return None
        if wait:
            self.player.wait()
        frame = self.player.read()
        if frame is None:
            return None
        self.frames_read += 1
        if self.mirror:
            frame.image = cv2.flip(frame.image, 1)
        return self.analyzer.process(frame)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def __enter__(self) -> "VideoResults":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()


def as_image(image: ImageLike) -> np.ndarray:
    """A path read as ``predict`` reads it, an encoded file's bytes (JPEG, PNG …), or an array checked and made
    BGR uint8 (grey, BGRA, 16-bit accepted)."""
    if isinstance(image, (bytes, bytearray, memoryview)):
        return decode_image(bytes(image))
    if not isinstance(image, (np.ndarray, str, os.PathLike)):
        raise TypeError(f"an image is a path, an encoded file's bytes or a numpy array, not {type(image).__name__}")
    if isinstance(image, np.ndarray):
        if image.ndim not in (2, 3) or image.size == 0 or (image.ndim == 3 and image.shape[2] not in (1, 3, 4)):
            raise ValueError(f"an image array must be HxW or HxWx3 (BGR) / HxWx4, not shape {image.shape}")
        return to_bgr8(image)
    return read_image(image)


_default: Analyzer | None = None


def analyze(image: ImageLike, **options) -> list[Face]:
    """Every face in a photo, with its box, score, landmarks, seven probabilities, label and ``unsure``.

    ``image``: a path or a BGR ``numpy`` array. ``options`` are ``Analyzer``'s; without them one default
    ``Analyzer`` is built on the first call and kept (loading the models takes a moment).

    >>> faces = analyze("group.jpg")            # doctest: +SKIP
    >>> [(f.track_id, f.label, round(f.confidence, 2)) for f in faces]  # doctest: +SKIP
    [(1, 'happy', 0.93), (2, 'neutral', 0.61)]
    """
    global _default
    if options:
        return Analyzer(**options).analyze(image)
    if _default is None:
        _default = Analyzer()
    return _default.analyze(image)


def analyze_video(source: str | os.PathLike | int, limit: int | None = None, realtime: bool = False,
                  **options) -> VideoResults:
    """Per-frame results of a video file or camera (``Analyzer.analyze_video`` with a new ``Analyzer``).

    >>> for frame in analyze_video("clip.mp4", limit=100):   # doctest: +SKIP
    ...     print(frame.frame_index, frame.time_s, [(f.track_id, f.label) for f in frame.faces])
    """
    return Analyzer(**options).analyze_video(source, limit, realtime)
