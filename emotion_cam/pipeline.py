"""detect -> landmarks -> align -> classify, for still images and for video with tracking and smoothing.

No Qt here: the CLI, the benchmark and the GUI worker all drive this class.
Frames are OpenCV BGR uint8 arrays; results are plain dataclasses.
"""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np

from emotion_cam.emotion.alignment import CropGeometry, align_face
from emotion_cam.emotion.classifier import Classifier, load_classifier
from emotion_cam.faces.detectors import DEFAULT_DETECTOR, FaceDetector, make_detector
from emotion_cam.faces.landmarks import LandmarkPredictor
from emotion_cam.emotion.unsure import UnsureRule
from emotion_cam.results import Face, FrameResult, reading_order
from emotion_cam.faces.search import Scanner, find_faces
from emotion_cam.tracking.live_faces import LiveFaces
from emotion_cam.tracking.tracker import Tracker


@dataclass
class PipelineConfig:
    detector: str = DEFAULT_DETECTOR
    align_points: int = 5  # dlib's landmark model that aligns faces where the detector gives no points (5 or 68)
    detector_landmarks: bool = True  # align on the detector's own points where it gives them (its landmark_scheme)
    contours: bool = False  # also find dlib's 68 points on each face, for drawing only: results do not change
    still_min_face: int = 16  # px; stills get one thorough detection
    video_min_face: int = 20  # px; the smallest face a live pass looks for
    detect_every: int = 0  # frames between live passes while faces are tracked; 0: by the frame's size (scan.Scanner)
    idle_detect_every: int = 0  # the same while no face is tracked; 0: twice the tracked interval
    smoothing_s: float = 0.35  # time constant of the probability EMA
    max_age_s: float = 1.0  # drop a track not re-detected for this long
    reconfirm_s: float = 0.4  # a track unconfirmed this long gets a close look, one a frame
    drift_likeness: float = 0.6  # a followed box that looks less like its confirmed face than this gets a close look
    classify_every: int = 2  # frames between classifications of a tracked face (a new face is classified at once)
    classify_budget: int = 4  # faces classified per frame at most; in a larger crowd they take turns
    threads: int = 1  # LiteRT threads (OpenCV's are the process's: set by the entry points, emotion_cam.process)
    background_detection: bool = False  # the app: detection passes run beside the frames, which never wait for them
    inline_pass_ms: float = 15.0  # with background detection, a pass cheaper than this (half a 30 fps frame) runs in the frame
    model_path: str | None = None
    mirror_average: bool | None = None  # None: the model card's choice


def due_for_classification(ids: list[int], last: dict[int, int], frame: int, every: int, budget: int) -> list[int]:
    """Indices into ``ids`` (track IDs) of the faces to classify in ``frame``, given the frame each was last
    classified in (``last``): every new face, then those classified longest ago, each at most once in ``every``
    frames, about ``len(ids) / every`` a frame (so that the work is spread over the frames) and at most ``budget``.

    The bars are smoothed over about a third of a second, so a face classified every second or third frame reads
    the same as one classified every frame; a crowd then costs a few crops a frame instead of two per face.
    """
    new = [i for i, tid in enumerate(ids) if tid not in last]
    waiting = sorted((i for i, tid in enumerate(ids) if tid in last and frame - last[tid] >= every),
                     key=lambda i: last[ids[i]])
    per_frame = min(budget, math.ceil(len(ids) / max(every, 1)))
    return sorted(new + waiting[:max(0, per_frame - len(new))])


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

    def __init__(self, config: PipelineConfig | None = None, *, detector: FaceDetector | None = None,
                 landmarks: LandmarkPredictor | None = None, classifier: Classifier | None = None):
        self.config = config or PipelineConfig()
        self.classifier = classifier or load_classifier(self.config.model_path, num_threads=self.config.threads,
                                                        mirror=self.config.mirror_average)
        self.detector = detector or make_detector(self.config.detector)
        self.landmarks = landmarks or LandmarkPredictor(self.config.align_points)
        self.contours: LandmarkPredictor | None = None
        self.set_contours(self.config.contours)
        self.unsure = UnsureRule(self.classifier.unsure_below)
        # One crop geometry per landmark scheme the card measured (dlib's always: its defaults where not measured).
        card = self.classifier.card
        self.geometry = {"dlib": CropGeometry.from_card(card),
                         **{scheme: CropGeometry.from_card(card, scheme) for scheme in card.crop_geometry if scheme != "dlib"}}
        # A background pass needs a detector of its own (they are not thread-safe), which only a detector built
        # here can have: one passed in works alone, in the caller's thread.
        background = self.config.background_detection and detector is None
        scanner = Scanner(self.detector, self.config.video_min_face, self.config.detect_every,
                          self.config.idle_detect_every,
                          background=(lambda: make_detector(self.config.detector)) if background else None,
                          inline_ms=self.config.inline_pass_ms)
        self.live = LiveFaces(scanner, Tracker(max_age_s=self.config.max_age_s), self.config.reconfirm_s,
                              self.config.drift_likeness)
        self._frame_index = 0

    @property
    def cuts(self) -> int:
        """Scene cuts noticed since the last reset."""
        return self.live.cuts

    @property
    def scanner(self) -> Scanner:
        return self.live.scanner

    def set_contours(self, on: bool) -> None:
        """Find dlib's 68 points on every face (``Face.contour``) for drawing; alignment never uses them."""
        self.contours = (self.contours or LandmarkPredictor(68)) if on else None

    def reset(self) -> None:
        """Forget all tracks (a new video, a camera switch)."""
        self.live.reset()
        self._frame_index = 0

    def landmark_source(self, detector_points: np.ndarray | None) -> str:
        """Where a face's alignment points come from: the detector's own (its scheme, where the card has a crop
        geometry for it), or dlib's model on its box."""
        scheme = getattr(self.detector, "landmark_scheme", None)
        usable = self.config.detector_landmarks and detector_points is not None and self.geometry.get(scheme) is not None
        return scheme if usable else "dlib"

    def _points(self, gray: np.ndarray, box: np.ndarray, detector_points: np.ndarray | None) -> tuple[np.ndarray, str]:
        source = self.landmark_source(detector_points)
        return (detector_points, source) if source != "dlib" else (self.landmarks.predict(gray, box), source)

    def _contours(self, gray: np.ndarray, boxes) -> list[np.ndarray | None]:
        return [self.contours.predict(gray, b) if self.contours is not None else None for b in boxes]

    # -- still images -----------------------------------------------------------------------------
    def process_image(self, image: np.ndarray, min_face: int | None = None) -> FrameResult:
        """All faces in a still image: a thorough detection that finds small faces."""
        timed = StageTimer()
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        with timed("detect"):
            dets = find_faces(self.detector, image, min_face or self.config.still_min_face)
        with timed("landmarks"):
            marks = [None if dets.landmarks is None else dets.landmarks[i] for i in range(len(dets))]
            points = [self._points(gray, b, m) for b, m in zip(dets.boxes, marks)]
            contours = self._contours(gray, dets.boxes)
        probs = self._classify(gray, points, timed)
        faces = [Face(b.copy(), pts, p, p, None, float(s), unsure=self.unsure(p), contour=c)
                 for b, (pts, _), p, s, c in zip(dets.boxes, points, probs, dets.scores, contours)]
        for number, face in enumerate(reading_order(faces), 1):  # the numbers on the boxes, the panel's and the CLI's
            face.track_id = number
        return FrameResult(sorted(faces, key=lambda f: f.track_id), timed.ms)

    # -- video ------------------------------------------------------------------------------------
    def process_frame(self, frame: np.ndarray, t: float | None = None, index: int | None = None) -> FrameResult:
        """One video frame: the live faces (cut, follow, detect, match, close looks) -> landmarks -> align ->
        classify the faces due -> smooth -> unsure.

        ``index``: the frame's position in its source (from 0), for the result; else the frames processed since
        the last reset."""
        t = time.monotonic() if t is None else t
        timed = StageTimer()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        tracks = self.live.update(frame, gray, t, timed)
        with timed("landmarks"):
            points = [self._points(gray, tr.box, tr.landmarks) for tr in tracks]
            contours = self._contours(gray, [tr.box for tr in tracks])
        due = due_for_classification([tr.track_id for tr in tracks],
                                     {tr.track_id: tr.classified_frame for tr in tracks if tr.classified_frame >= 0},
                                     self._frame_index, self.config.classify_every, self.config.classify_budget)
        fresh = self._classify(gray, [points[i] for i in due], timed)
        with timed("smooth"):
            for i, p in zip(due, fresh):
                tracks[i].classified(p, self._frame_index, t, self.config.smoothing_s)
            for tr in tracks:
                tr.unsure = self.unsure(tr.probs, tr.unsure)
        faces = [Face(tr.box.copy(), pts, tr.probs.copy(), tr.raw, tr.track_id, tr.score, unsure=tr.unsure, contour=c)
                 for tr, (pts, _), c in zip(tracks, points, contours)]
        result = FrameResult(faces, timed.ms, self._frame_index if index is None else index, t)
        self._frame_index += 1
        return result

    # -- shared -----------------------------------------------------------------------------------
    def _classify(self, gray: np.ndarray, points: list[tuple[np.ndarray, str]], timed: StageTimer) -> np.ndarray:
        """Align each face onto the model's crop geometry for its landmark source and classify all of them in one call."""
        with timed("align"):
            size = self.geometry["dlib"].size
            crops = (np.stack([align_face(gray, pts, self.geometry[source]) for pts, source in points]) if points
                     else np.zeros((0, size, size), np.uint8))
        with timed("classify"):
            return self.classifier.predict(crops) if points else np.zeros((0, len(self.classifier.card.labels)), np.float32)
