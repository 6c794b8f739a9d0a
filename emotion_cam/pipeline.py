"""detect -> landmarks -> align -> classify, for still images and for video with tracking and smoothing.

No Qt here: the CLI, the benchmark and the GUI worker all drive this class.
Frames are OpenCV BGR uint8 arrays; results are plain dataclasses.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from emotion_cam.align import CropGeometry, align_face
from emotion_cam.classify import Classifier, load_classifier
from emotion_cam.detect import Detections, auto_scale, detect_close_up, make_detector
from emotion_cam.landmarks import LandmarkPredictor
from emotion_cam.results import Face, FrameResult
from emotion_cam.scan import Scanner
from emotion_cam.smooth import TrackSmoother
from emotion_cam.track import Tracker


@dataclass
class PipelineConfig:
    detector: str = "hog"
    landmark_points: int = 5
    still_min_face: int = 32  # px; stills get one thorough detection
    video_min_face: int = 40  # px; the smallest face a live pass looks for (a large frame's pass is spread over frames)
    detect_every: int = 10  # frames between the starts of detection passes while tracking (1/3 s at 30 fps)
    idle_detect_every: int = 6  # frames between passes while no face is tracked (3: a whole core busy with nobody in view)
    smoothing_s: float = 0.35  # time constant of the probability EMA (label changes on woman2: 1.03/s shown)
    max_age_s: float = 1.0  # drop a track not re-detected for this long
    reconfirm_s: float = 0.4  # a track unconfirmed this long (its tile not reached yet) gets a close look, one a frame
    threads: int = 1  # OpenCV and LiteRT threads
    detect_threads: int = 2  # a large frame's detection jobs run this many side by side (crowd_1080p: 78% -> 91% live recall)
    background_detection: bool = False  # the app: detection jobs run beside the frames, which never wait for them
    model_path: str | None = None
    mirror_average: bool | None = None  # None: the model card's choice


class StageTimer:
    """Milliseconds per pipeline stage; blocks timed under the same name add up."""

    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.ms[stage] = self.ms.get(stage, 0.0) + (time.perf_counter() - start) * 1000.0


class Pipeline:
    """Built from ``config``; ``detector``, ``landmarks`` and ``classifier`` objects replace the config's defaults."""

    def __init__(self, config: PipelineConfig | None = None, *, detector=None, landmarks: LandmarkPredictor | None = None,
                 classifier: Classifier | None = None):
        self.config = config or PipelineConfig()
        cv2.setNumThreads(self.config.threads)
        self.classifier = classifier or load_classifier(self.config.model_path, num_threads=self.config.threads,
                                                        mirror=self.config.mirror_average)
        self.geometry = CropGeometry.from_card(self.classifier.card)
        self.detector = detector or make_detector(self.config.detector)
        self.landmarks = landmarks or LandmarkPredictor(self.config.landmark_points)
        # Detection threads need detectors of their own (dlib's are not thread-safe), which only a detector built
        # here can have: one passed in works alone, in the caller's thread.
        threads = max(1, self.config.detect_threads) if detector is None else 1
        background = self.config.background_detection and detector is None
        others = [make_detector(self.config.detector) for _ in range(threads if background else threads - 1)]
        self.scanner = Scanner(others if background else [self.detector, *others], self.detector, self.config.video_min_face,
                               self.config.detect_every, self.config.idle_detect_every, background)
        self.tracker = Tracker(max_age_s=self.config.max_age_s)
        self.smoother = TrackSmoother(self.config.smoothing_s)
        self._frame_index = 0
        self._prev_gray: np.ndarray | None = None
        self._unsure: dict[int, bool] = {}  # per track ID: shown as unsure in the last frame

    @property
    def cuts(self) -> int:
        """Scene cuts noticed since the last reset."""
        return self.tracker.cuts

    def set_landmark_points(self, points: int) -> None:
        if points != self.landmarks.points:
            self.landmarks = LandmarkPredictor(points)

    def reset(self) -> None:
        """Forget all tracks (a new video, a camera switch)."""
        self.tracker.reset()
        self.smoother.reset()
        self._unsure = {}
        self._frame_index = 0
        self._prev_gray = None
        self.scanner.restart()

    UNSURE_HYSTERESIS = 0.03  # a tracked face leaves "unsure" only this far above the threshold

    def unsure(self, probs: np.ndarray, was_unsure: bool = False) -> bool:
        """Below the card's threshold; a face shown as unsure stays so until it is clearly above it (no blinking)."""
        return bool(probs.max() < self.classifier.unsure_below + (self.UNSURE_HYSTERESIS if was_unsure else 0.0))

    # -- still images -----------------------------------------------------------------------------
    def detect(self, gray: np.ndarray, min_face: int) -> Detections:
        """Faces from ``min_face`` px up; if there are none, a second look for one that fills the image or touches its edges."""
        scale = auto_scale(gray.shape, min_face, self.detector.window)
        dets = self.detector.detect(gray, scale=scale, min_size=min_face // 2)
        return dets if len(dets) else detect_close_up(self.detector, gray)

    def process_image(self, image: np.ndarray, min_face: int | None = None) -> FrameResult:
        """All faces in a still image: a full detection at a scale that finds small faces."""
        timed = StageTimer()
        with timed("detect"):
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
            dets = self.detect(gray, min_face or self.config.still_min_face)
        with timed("landmarks"):
            points = [self.landmarks.predict(gray, b) for b in dets.boxes]
        probs = self._classify(gray, points, timed)
        faces = [Face(b.copy(), pts, p, p, None, float(s), uncertain=self.unsure(p))
                 for b, pts, p, s in zip(dets.boxes, points, probs, dets.scores)]
        return FrameResult(faces, timed.ms)

    # -- video ------------------------------------------------------------------------------------
    def process_frame(self, frame: np.ndarray, t: float | None = None) -> FrameResult:
        """One video frame: tracks follow the optical flow; a detection pass runs a job or two a frame.

        A pass starts every ``detect_every`` frames (``idle_detect_every`` with no face), at once after
        a scene cut (the old boxes are dropped) and as soon as the last pass is done when the flow lost a face.
        """
        t = time.monotonic() if t is None else t
        timed = StageTimer()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        h, w = gray.shape[:2]
        with timed("track"):
            same_size = self._prev_gray is not None and self._prev_gray.shape == gray.shape
            if self.tracker.notice_cut(gray) or not same_size:
                self.tracker.drop(self.tracker.tracks)  # a new shot: the old boxes mean nothing
                self.scanner.restart()
            elif self.tracker.follow(self._prev_gray, gray):
                self.scanner.hurry()
            if self.tracker.drop_outside(w, h):
                self.scanner.hurry()
        self.scanner.step(gray, t, self.tracker, timed)
        with timed("track"):
            # A large frame's pass takes a while to reach every tile: meanwhile a face that turned away or went
            # behind someone would keep its box; the longest-unconfirmed track gets a close look instead.
            unconfirmed = [tr for tr in self.tracker.tracks if t - tr.last_confirmed > self.config.reconfirm_s]
            if unconfirmed:
                self.tracker.confirm(gray, [min(unconfirmed, key=lambda tr: tr.last_confirmed)], self.detector, t)
        self._prev_gray = gray
        tracks = self.tracker.tracks
        with timed("landmarks"):
            points = [self.landmarks.predict(gray, tr.box) for tr in tracks]
        raw = self._classify(gray, points, timed)
        with timed("smooth"):
            smoothed = self.smoother.update([tr.track_id for tr in tracks], raw, t)
            self._unsure = {tr.track_id: self.unsure(s, self._unsure.get(tr.track_id, False)) for tr, s in zip(tracks, smoothed)}
            faces = [Face(tr.box.copy(), pts, s, p, tr.track_id, tr.score, uncertain=self._unsure[tr.track_id])
                     for tr, pts, s, p in zip(tracks, points, smoothed, raw)]
        result = FrameResult(faces, timed.ms, self._frame_index, t)
        self._frame_index += 1
        return result

    # -- shared -----------------------------------------------------------------------------------
    def _classify(self, gray: np.ndarray, points: list[np.ndarray], timed: StageTimer) -> np.ndarray:
        """Align each face onto the model's crop geometry and classify all of them in one call."""
        with timed("align"):
            size = self.geometry.size
            crops = np.stack([align_face(gray, pts, self.geometry) for pts in points]) if points else np.zeros((0, size, size), np.uint8)
        with timed("classify"):
            return self.classifier.predict(crops) if points else np.zeros((0, len(self.classifier.card.labels)), np.float32)
