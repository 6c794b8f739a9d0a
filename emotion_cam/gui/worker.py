"""The capture-and-process worker, a QObject living in its own QThread (Qt's worker-object pattern).

A zero-interval QTimer in the worker thread processes one frame per tick, so
queued calls from the GUI (open an image, switch camera, stop) run between
frames. Results go out as plain data (``FrameMessage``). Only one message is in
flight at a time: if the GUI has not shown the last one yet, newer frames are
still processed (tracking stays current) but not sent, so nothing queues up.
"""
from __future__ import annotations

import dataclasses
import enum
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal, Slot

from emotion_cam.media.sources import Source, SourceError, probe_cameras
from emotion_cam.emotion.card import ModelCard
from emotion_cam.draw import Annotator
from emotion_cam.media.images import ImageError, read_image
from emotion_cam.media.outputs import OutputError
from emotion_cam.sinks.recording import Recorder
from emotion_cam.api import Analyzer, VideoResults
from emotion_cam.pipeline import PipelineConfig
from emotion_cam.results import Face


class Problem(enum.Enum):
    """What went wrong, so the window decides how to show it without reading the text."""

    SOURCE = "source"  # a camera or video that cannot be opened or read
    IMAGE = "image"  # a photo that cannot be opened or processed
    WRITE = "write"  # a recording that cannot be written (the recording has stopped)


@dataclass(frozen=True)
class ModelInfo:
    """What the window may know of the worker's model: plain data, copied before the worker's thread starts."""

    path: Path
    card: ModelCard
    mirror_default: bool  # the card's choice of mirror averaging, until the user chooses


@dataclass
class FrameMessage:
    image: np.ndarray  # annotated BGR frame
    faces: list[Face]
    timings_ms: dict[str, float] = field(default_factory=dict)
    fps: float = 0.0
    time_s: float = 0.0  # seconds since the source started
    still: bool = False
    source: str = ""
    frame_index: int = 0  # the frame's position in the source (0 = its first), skipped frames counted
    loop: int = 1  # the times a video file has been played: frame_index and time_s restart with each
    recording_s: float | None = None  # seconds recorded so far, while recording
    length: int = 0  # frames in the video file (its header's count; 0 for a camera): the seek bar's range
    stepped: bool = False  # a frame asked for while paused (a step or a seek): shown although paused
    video_fps: float = 0.0  # the video file's frame rate (0 for a camera): the seek bar's clock


class FrameWorker(QObject):
    frame_ready = Signal(object)  # FrameMessage
    status = Signal(str, int)  # transient information for the status bar, and for how many ms
    problem = Signal(object, str)  # (Problem, text): something the user must see
    cameras_found = Signal(list)  # camera indices that open
    source_opened = Signal(object)  # the Source that opened: only such a camera is remembered
    recorded = Signal(str, str, int)  # a finished recording: its MP4, its CSV, frames
    stopped = Signal()

    RETRY_S = 1.0

    def __init__(self, config: PipelineConfig | None = None, landmark_points: int = 5):
        """Builds the worker's own pipeline (here, so that a missing model is an error before the window opens);
        after ``moveToThread`` only the worker's thread uses it. The default: detection in the background, so
        frames never wait for a detection pass."""
        super().__init__()
        config = dataclasses.replace(config or PipelineConfig(background_detection=True), contours=landmark_points == 68)
        self.analyzer = analyzer = Analyzer(config=config)
        classifier = analyzer.pipeline.classifier
        self.model_info = ModelInfo(classifier.path, classifier.card, classifier.mirror)
        self.annotator = Annotator()
        self.mirror = False
        self.paused = False
        self._stream: VideoResults | None = None  # the open camera or video: the API's one frame loop
        self._source: Source | None = None
        self._timer: QTimer | None = None
        self._in_flight = threading.Event()
        self.stopping = threading.Event()  # set from the GUI thread on close: skip any further work
        self._fps = 0.0
        self._done: deque[float] = deque()  # times of the frames processed in the last second
        self._retry_at = 0.0
        self._still: np.ndarray | None = None
        self._still_result = None  # the photo's faces, kept to draw it again at another size
        self._still_name = ""
        self._record_to: str | None = None  # recording was asked for, into this folder: starts at the next frame
        self._recorder: Recorder | None = None

    # -- slots, run in the worker thread ----------------------------------------------------------
    @Slot()
    def frame_shown(self) -> None:
        """The GUI has painted the last message; the next one may be sent."""
        self._in_flight.clear()

    @Slot()
    def setup(self) -> None:
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._tick)

    @Slot(object)
    def open_source(self, source) -> None:
        """Start live processing from a camera or video file (a ``Source``, or an index or path to parse)."""
        self._stop_recording()  # a recording is of one source
        self._release()
        self._still = None
        self.analyzer.reset()
        self._source = source = Source.parse(source)
        try:
            self._open_stream()
        except SourceError as exc:
            if not source.is_camera:  # a camera may be plugged in later and is retried; a bad file is not
                self._source = None
                if self._timer is not None:
                    self._timer.stop()
            advice = "Open it with File → Open image." if exc.photo else "Use File → Open image or File → Open video instead."
            self.problem.emit(Problem.SOURCE, f"{exc}\n\n{advice}")
            return
        self.source_opened.emit(source)
        if self._timer is not None:
            self._timer.start()

    @Slot(str)
    def open_image(self, path: str) -> None:
        """Process a still image (the live source pauses until Live is chosen again)."""
        try:
            image = read_image(path)
        except ImageError as exc:
            self.problem.emit(Problem.IMAGE, f"Cannot open the image.\n\n{exc}")
            return
        if self._timer is not None:
            self._timer.stop()
        self._stop_recording()
        self._still, self._still_name = image, path
        try:
            self._process_still()
        except Exception as exc:  # never leave "Opening …" on screen: whatever went wrong, say so
            self._still = None
            self.problem.emit(Problem.IMAGE, f"Cannot open the image.\n\n{path}: {type(exc).__name__}: {exc}")

    @Slot()
    def refresh_still(self) -> None:
        if self._still is not None:
            self._process_still()

    @Slot(object)
    def resume_live(self, source) -> None:
        """Back to the live source after a photo: the one that was open, else ``source`` (the window's choice)."""
        if self._source is None and source is not None:
            self._source = Source.parse(source)
        if self._source is None:
            self.problem.emit(Problem.SOURCE, "No camera or video is open. Use File → Open video, or pick a camera.")
            return
        self._still = None
        if self._stream is None:
            self.open_source(self._source)
        elif self._timer is not None:
            self._stream.player.resync()
            self._timer.start()

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused and self._stream is not None:
            self._stream.player.resync()

    @Slot(bool)
    def set_mirror(self, on: bool) -> None:
        self.mirror = on  # the live view only: photos are shown as taken
        if self._stream is not None:
            self._stream.mirror = on

    @Slot(int)
    def set_landmarks(self, points: int) -> None:
        self.analyzer.set_landmarks(points)
        self.annotator.landmarks = points == 68
        self.refresh_still()

    @Slot(int, int)
    def set_view_size(self, width: int, height: int) -> None:
        """Text is sized for the screen: live frames from the next one on; a photo is drawn again (not analysed
        again) when its labels' size changes, so that it looks the same however it was opened (--image
        arrives before the window has its size)."""
        before = self._still_units()
        self.annotator.view_size = (width, height)
        if self._still is not None and self._still_units() != before:
            self._show_still(self._still_result)

    def _still_units(self) -> list[float]:
        if self._still is None or self._still_result is None:
            return []
        return [self.annotator.enlargement(self._still.shape)] + [
            round(self.annotator.text_unit(self._still.shape, float(f.box[3] - f.box[1])), 2) for f in self._still_result.faces]

    @Slot(bool)
    def set_bars(self, on: bool) -> None:
        self.annotator.bars = on  # off: the label alone on the face, the bars in the panel
        self.refresh_still()

    @Slot(bool)
    def set_mirror_average(self, on: bool) -> None:
        self.analyzer.mirror_average = on
        self.refresh_still()

    @Slot()
    def probe_cameras(self) -> None:
        in_use = self._source.camera if self._source is not None and self._stream is not None else None
        self.cameras_found.emit(probe_cameras(already_open=in_use))

    @Slot(int)
    def seek(self, index: int) -> None:
        """A video file from frame ``index`` (the tracks start afresh); while paused, that frame is shown."""
        if self._stream is None or self._source.is_camera:
            return
        self._stream.player.seek(index)
        self.analyzer.reset()
        if self.paused:
            self._show_next()

    @Slot(int)
    def step(self, frames: int) -> None:
        """While paused: the next frame (1) or the previous one (-1)."""
        if self._stream is None or not self.paused:
            return
        if frames < 0:
            self.seek(self._stream.player.index - 2)
        else:
            self._show_next()

    def _show_next(self) -> None:
        self._in_flight.clear()  # a frame asked for is always sent
        self._stream.player.resync()  # the clock ran on while paused: the next frame is the next one, not "now"
        paused, self.paused = self.paused, False
        try:
            self._tick(wait=False)
        finally:
            self.paused = paused

    @Slot(object)
    def set_recording(self, folder) -> None:
        """Start recording into ``folder`` (from the next live frame), or stop with None."""
        if folder is None:
            self._stop_recording()
        elif self._recorder is None:
            self._record_to = str(folder)

    @Slot()
    def stop(self) -> None:
        self._stop_recording()  # on close: the recording is finalised, never lost
        if self._timer is not None:
            self._timer.stop()
            self._timer.deleteLater()
            self._timer = None
        self._release()
        self.stopped.emit()

    # -- internals --------------------------------------------------------------------------------
    def _open_stream(self) -> None:
        """The source opened through the API's frame loop (``SourceError`` if it cannot be); the tracks start afresh."""
        self._stream = None
        self._stream = self.analyzer.analyze_video(self._source, realtime=True)
        self._stream.mirror = self.mirror

    def _release(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    def _process_still(self) -> None:
        # A photo is shown as taken: Mirror is for the live view, where it makes the preview act like a mirror.
        self._still_result = self.analyzer.analyze_image(self._still)
        self._show_still(self._still_result)

    def _show_still(self, result) -> None:
        annotated = self.annotator.draw_for_view(self._still, result.faces)
        self._in_flight.set()
        self.frame_ready.emit(FrameMessage(annotated, result.faces, result.timings_ms, 0.0, 0.0, True, self._still_name))

    def _tick(self, wait: bool = True) -> None:
        if self.stopping.is_set():
            return
        if self._stream is None:
            if self._source is not None and time.monotonic() >= self._retry_at:
                self._reopen()
            else:
                time.sleep(0.02)  # waiting to retry a camera: don't spin
            return
        if self.paused:
            time.sleep(0.02)  # keep the thread responsive without spinning
            return
        result = self._stream.next_result(wait)
        if result is None:
            self._end_of_stream()
            return
        now = time.monotonic()
        self._done.append(now)
        while self._done and self._done[0] < now - 1.0:
            self._done.popleft()
        self._fps = (len(self._done) - 1) / max(self._done[-1] - self._done[0], 1e-3) if len(self._done) > 1 else 0.0
        recording = self._record(result)
        if self._in_flight.is_set():
            return  # the GUI is still busy with the previous frame: drop this one
        if recording is not None and self.annotator.enlargement(result.image.shape) == 1.0:
            annotated = recording  # drawn once for both
        else:
            annotated = self.annotator.draw_for_view(result.image, result.faces, copy=False)
        self._in_flight.set()
        self.frame_ready.emit(FrameMessage(annotated, result.faces, result.timings_ms, self._fps, result.time_s, False,
                                           result.source, result.frame_index, result.loop,
                                           None if self._recorder is None else self._recorder.elapsed_s,
                                           self._stream.player.length, stepped=not wait,
                                           video_fps=self._stream.player.fps))

    def _record(self, result) -> np.ndarray | None:
        """Every processed frame, annotated, into the recording (none is dropped there); the annotated frame."""
        if self._record_to is not None:
            folder, self._record_to = self._record_to, None
            rate = self._stream.player.fps or self._fps or 30.0
            try:
                self._recorder = Recorder(folder, rate, str(self._source))
            except OutputError as exc:
                self.problem.emit(Problem.WRITE, f"Could not start recording.\n\n{exc}")
                return None
        if self._recorder is None:
            return None
        annotated = self.annotator.draw(result.image, result.faces)  # a copy: the view may draw the frame enlarged
        try:
            self._recorder.write(annotated, result)
        except OutputError as exc:
            self._recorder = None
            self.problem.emit(Problem.WRITE, f"Recording stopped: it could not be written (nothing was kept).\n\n{exc}")
        return annotated

    def _stop_recording(self) -> None:
        self._record_to = None
        recorder, self._recorder = self._recorder, None
        if recorder is None:
            return
        try:
            video, table = recorder.stop()
        except OutputError as exc:
            self.problem.emit(Problem.WRITE, f"The recording could not be finished (nothing was kept).\n\n{exc}")
            return
        self.recorded.emit(str(video), str(table), recorder.frames)

    def _end_of_stream(self) -> None:
        is_file = not self._source.is_camera
        if is_file and self._stream.frames_read == 0:  # looping would spin on a file that gives no frame at all
            self._release()
            self._source = None
            if self._timer is not None:
                self._timer.stop()
            self.problem.emit(Problem.SOURCE, "No frame could be read from this video: it is not a video, or a damaged one.\n\n"
                              "Use File → Open video to pick another file, or File → Open image for a photo.")
            return
        if is_file:
            player = self._stream.player
            if player.ended_early():
                self.status.emit(f"{Path(self._source.path).name} ended at frame {player.index} of {player.length}: the file "
                                 "is truncated or damaged. Playing what it holds again.", 8000)
            else:
                self.status.emit("End of video: playing it again from the start", 2500)
            player.restart()  # its next pass: frames numbered from 0 again, `pass` one more
            self.analyzer.reset()
            return
        self._release()
        self.status.emit(f"{self._source.label.capitalize()} stopped sending frames: retrying every second…", 0)
        self._retry_at = time.monotonic() + self.RETRY_S

    def _reopen(self) -> None:
        self._retry_at = time.monotonic() + self.RETRY_S
        try:
            self._open_stream()
            self.status.emit(f"{self._source.label.capitalize()} is back", 3000)
        except SourceError:
            self._stream = None
