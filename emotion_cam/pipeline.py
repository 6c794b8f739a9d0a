"""detect -> landmarks -> align -> classify, for still images and for video with tracking and smoothing.

No Qt here: the CLI, the benchmark and the GUI worker all drive this class.
Frames are OpenCV BGR uint8 arrays; results are plain dataclasses.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from emotion_cam.align import CropGeometry, align_face
from emotion_cam.classify import EmotionClassifier
from emotion_cam.detect import Detections, auto_scale, make_detector
from emotion_cam.landmarks import LandmarkPredictor
from emotion_cam.results import Face, FrameResult
from emotion_cam.track import SceneThumb, Track, Tracker, iou_matrix


@dataclass
class PipelineConfig:
    detector: str = "hog"
    landmark_points: int = 5
    still_min_face: int = 32  # px; stills get one thorough detection
    video_min_face: int = 80  # px; live frames trade the smallest faces for speed
    detect_every: int = 30  # frames between full detections while tracking (1 s at 30 fps)
    idle_detect_every: int = 3  # frames between detections while no face is tracked
    smoothing_s: float = 0.35  # time constant of the probability EMA (label changes on woman2: 0.5/s shown)
    max_age_s: float = 1.0  # drop a track not re-detected for this long
    threads: int = 1  # OpenCV and LiteRT threads
    model_path: str | None = None
    mirror_average: bool | None = None  # None: the model card's choice


class Pipeline:
    def __init__(self, config: PipelineConfig | None = None):
        self.config = config or PipelineConfig()
        cv2.setNumThreads(self.config.threads)
        self.classifier = EmotionClassifier(self.config.model_path, num_threads=self.config.threads, mirror=self.config.mirror_average)
        self.geometry = CropGeometry.from_card(self.classifier.card)
        self.detector = make_detector(self.config.detector)
        self.landmarks = LandmarkPredictor(self.config.landmark_points)
        self.tracker = Tracker(max_age_s=self.config.max_age_s, smoothing_s=self.config.smoothing_s)
        self._frame_index = 0
        self._force_detect = True
        self._since_detect = 0
        self._prev_gray: np.ndarray | None = None
        self._prev_thumb: SceneThumb | None = None
        self.cuts = 0  # scene cuts noticed since the last reset

    def set_landmark_points(self, points: int) -> None:
        if points != self.landmarks.points:
            self.landmarks = LandmarkPredictor(points)
            for tr in self.tracker.tracks:
                tr.landmarks = None

    def reset(self) -> None:
        """Forget all tracks (a new video, a camera switch)."""
        self.tracker.reset()
        self._frame_index = 0
        self._force_detect = True
        self._since_detect = 0
        self._prev_gray = None
        self._prev_thumb = None
        self.cuts = 0

    # -- still images -----------------------------------------------------------------------------
    def detect(self, gray: np.ndarray, min_face: int) -> Detections:
        scale = auto_scale(gray.shape, min_face, self.detector.window)
        return self.detector.detect(gray, scale=scale, min_size=min_face // 2)

    def process_image(self, image: np.ndarray, min_face: int | None = None) -> FrameResult:
        """All faces in a still image: a full detection at a scale that finds small faces."""
        timings: dict[str, float] = {}
        t = time.perf_counter()
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        dets = self.detect(gray, min_face or self.config.still_min_face)
        timings["detect"] = _ms(t)
        faces = self._classify(gray, dets.boxes, dets.scores, timings)
        return FrameResult(faces, timings)

    # -- video ------------------------------------------------------------------------------------
    def process_frame(self, frame: np.ndarray, t: float | None = None) -> FrameResult:
        """One video frame: detect every ``detect_every`` frames (or when tracks are lost), follow tracks in between."""
        t = time.monotonic() if t is None else t
        timings: dict[str, float] = {}
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        h, w = gray.shape[:2]
        self._since_detect += 1
        start = time.perf_counter()
        # A scene cut: the old boxes mean nothing in the new shot, so detect now and keep only what is found.
        thumb = SceneThumb.of(gray)
        cut = self._prev_thumb is not None and thumb.is_cut_from(self._prev_thumb)
        self._prev_thumb = thumb
        self.cuts += int(cut)
        every = self.config.detect_every if self.tracker.tracks else self.config.idle_detect_every
        detect_now = self._force_detect or cut or self._since_detect >= every
        if detect_now:
            self._since_detect = 0
        timings["track"] = _ms(start)
        start = time.perf_counter()
        if detect_now:
            dets = self.detect(gray, self.config.video_min_face)
            timings["detect"] = _ms(start)
            start = time.perf_counter()
            missed = self.tracker.update_detections(dets.boxes, dets.scores, t, drop_unmatched=cut)
            self._confirm(gray, missed, t)
        self._force_detect = False
        timings["track"] += _ms(start)

        start = time.perf_counter()
        if not detect_now and self._prev_gray is not None and self._prev_gray.shape == gray.shape:
            self._shift_by_flow(self._prev_gray, gray)
        timings["track"] += _ms(start)
        start = time.perf_counter()
        for tr in self.tracker.tracks:
            tr.landmarks = self.landmarks.predict(gray, tr.box)
        if self.tracker.drop_outside(w, h):
            self._force_detect = True
        self._prev_gray = gray
        timings["landmarks"] = _ms(start)

        tracks = self.tracker.tracks
        crops, t_align = self._align(gray, [tr.landmarks for tr in tracks])
        timings["align"] = t_align
        start = time.perf_counter()
        raw = self.classifier.predict(crops) if tracks else np.zeros((0, 7), np.float32)
        timings["classify"] = _ms(start)
        start = time.perf_counter()
        faces = []
        for tr, p in zip(tracks, raw):
            smoothed = tr.smoother.update(p, t)
            faces.append(Face(tr.box.copy(), tr.landmarks.copy(), smoothed.copy(), p, tr.track_id, tr.score,
                              uncertain=bool(smoothed.max() < self.classifier.unsure_below)))
        timings["smooth"] = _ms(start)
        result = FrameResult(faces, timings, self._frame_index, t)
        self._frame_index += 1
        return result

    def _confirm(self, gray: np.ndarray, tracks: list[Track], t: float) -> None:
        """Look again, closely, around each track the full detection missed; drop those with no face there.

        The full pass runs at a scale chosen for speed and misses some faces it could see up close; a
        box that has drifted onto a hand or a tie has no face under it at any scale.
        """
        gone = []
        h, w = gray.shape[:2]
        for tr in tracks:
            x1, y1, x2, y2 = tr.box
            bw, bh = x2 - x1, y2 - y1
            rx1, ry1 = int(max(0, x1 - bw / 2)), int(max(0, y1 - bh / 2))
            rx2, ry2 = int(min(w, x2 + bw / 2)), int(min(h, y2 + bh / 2))
            if rx2 - rx1 < 8 or ry2 - ry1 < 8:
                gone.append(tr)
                continue
            scale = float(np.clip(1.25 * self.detector.window / max(bh, 1), 0.5, 3.0))  # the face ~1.25 windows tall
            dets = self.detector.detect(gray[ry1:ry2, rx1:rx2], scale=scale)
            if not len(dets):
                gone.append(tr)
                continue
            boxes = dets.boxes + np.array([rx1, ry1, rx1, ry1], np.float32)
            best = int(np.argmax(iou_matrix(tr.box[None], boxes)[0]))
            if iou_matrix(tr.box[None], boxes[best:best + 1])[0, 0] < 0.2:
                gone.append(tr)
                continue
            tr.box, tr.score, tr.last_confirmed = boxes[best], float(dets.scores[best]), t
        self.tracker.drop(gone)

    def _shift_by_flow(self, prev: np.ndarray, gray: np.ndarray) -> None:
        """Move and scale each track's box with the optical flow of points on its face (pyramidal Lucas-Kanade).

        The box must not follow the landmarks: dlib's shape predictor largely follows the box it is
        given, so a box fed back from its own landmarks drifts off the face. The flow of a grid of
        points on the face, fitted with a robust similarity transform, does not depend on the box.
        """
        tracks = self.tracker.tracks
        if not tracks:
            return
        grid = np.linspace(0.15, 0.85, 5, dtype=np.float32)
        pts = []
        for tr in tracks:
            x1, y1, x2, y2 = tr.box
            gx, gy = np.meshgrid(x1 + grid * (x2 - x1), y1 + grid * (y2 - y1))
            pts.append(np.stack([gx.ravel(), gy.ravel()], 1))
        # One Lucas-Kanade call for all faces: the image pyramids are built once per frame.
        p0 = np.vstack(pts).astype(np.float32).reshape(-1, 1, 2)
        p1, status, _ = cv2.calcOpticalFlowPyrLK(prev, gray, p0, None, winSize=(21, 21), maxLevel=3)
        n = grid.size ** 2
        for i, tr in enumerate(tracks):
            a, b = p0[i * n:(i + 1) * n], p1[i * n:(i + 1) * n]
            ok = status[i * n:(i + 1) * n].reshape(-1).astype(bool)
            if ok.sum() < 6:
                self._force_detect = True  # the flow lost this face: look for it with the detector next frame
                continue
            matrix, _ = cv2.estimateAffinePartial2D(a[ok], b[ok], method=cv2.RANSAC, ransacReprojThreshold=3.0)
            if matrix is None:
                self._force_detect = True
                continue
            scale = float(np.clip(np.hypot(matrix[0, 0], matrix[1, 0]), 0.8, 1.25))
            centre = (tr.box[:2] + tr.box[2:]) / 2
            centre = matrix[:, :2] @ centre + matrix[:, 2]
            half = (tr.box[2:] - tr.box[:2]) / 2 * scale
            tr.box = np.concatenate([centre - half, centre + half]).astype(np.float32)

    # -- shared -----------------------------------------------------------------------------------
    def _align(self, gray: np.ndarray, landmarks: list[np.ndarray]) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        size = self.geometry.size
        crops = np.stack([align_face(gray, pts, self.geometry) for pts in landmarks]) if landmarks else np.zeros((0, size, size), np.uint8)
        return crops, _ms(start)

    def _classify(self, gray: np.ndarray, boxes: np.ndarray, scores: np.ndarray, timings: dict[str, float]) -> list[Face]:
        start = time.perf_counter()
        points = [self.landmarks.predict(gray, b) for b in boxes]
        timings["landmarks"] = _ms(start)
        crops, timings["align"] = self._align(gray, points)
        start = time.perf_counter()
        probs = self.classifier.predict(crops) if len(points) else np.zeros((0, 7), np.float32)
        timings["classify"] = _ms(start)
        return [Face(b.copy(), pts, p, p, None, float(s), uncertain=bool(p.max() < self.classifier.unsure_below))
                for b, pts, p, s in zip(boxes, points, probs, scores)]

    def crops(self, image: np.ndarray, faces: list[Face]) -> np.ndarray:
        """The aligned crops the classifier saw, for inspection and tests."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
        return self._align(gray, [f.landmarks for f in faces])[0]


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0
