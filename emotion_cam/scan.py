"""Where, at what scale and when a live frame is searched for faces: one thorough pass, cut into jobs that fit a frame's time.

Small faces need the frame enlarged (dlib's HOG window is 80 px: a 40 px face needs
2x), and a 2x pass over a 1080p frame takes about half a second on one core. Run at
once it would freeze the picture, so a large frame's pass is cut into tiles that
overlap by the largest face they are responsible for, plus one coarse job over the
whole frame for faces larger than that; the pipeline runs a few jobs a frame. A small
frame's pass is a single job.
"""
from __future__ import annotations

import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from emotion_cam.detect import Detections, detect_close_up
from emotion_cam.track import Tracker, find_near, greedy_match, iou_matrix


@dataclass(frozen=True)
class ScanJob:
    region: tuple[int, int, int, int]  # x1, y1, x2, y2 of the frame the detector sees
    core: tuple[int, int, int, int]  # a face whose centre lies here is this job's to find
    scale: float
    min_face: float = 0.0  # px; smaller faces are another job's
    max_face: float = math.inf  # px; larger faces may be cut by the region's edge: another job's

    def owns(self, boxes: np.ndarray) -> np.ndarray:
        """Which of ``boxes`` (N, 4) this job is responsible for: centre in its core, size in its range."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
        size = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        x1, y1, x2, y2 = self.core
        return (cx >= x1) & (cx < x2) & (cy >= y1) & (cy < y2) & (size >= self.min_face) & (size <= self.max_face)

    def run(self, detector, gray: np.ndarray) -> Detections:
        """The faces this job owns, in frame coordinates."""
        x1, y1, x2, y2 = self.region
        dets = detector.detect(gray[y1:y2, x1:x2], scale=self.scale)
        if not len(dets):
            return dets
        boxes = dets.boxes + np.array([x1, y1, x1, y1], np.float32)
        keep = self.owns(boxes)
        return Detections(boxes[keep], dets.scores[keep])


def plan_scan(shape: tuple[int, ...], min_face: int, window: int, job_megapixels: float = 1.3,
              max_megapixels: float = 9.0) -> list[ScanJob]:
    """The jobs of one pass over a frame of ``shape`` that finds faces from ``min_face`` px up.

    ``job_megapixels`` bounds the enlarged area one job searches (HOG costs about 55 ms a
    megapixel here), ``max_megapixels`` the whole pass (a 4K frame gets a coarser scale).
    """
    h, w = shape[:2]
    scale = float(np.clip(window / max(min_face, 1), 0.25, 4.0))
    scale = min(scale, math.sqrt(max_megapixels * 1e6 / max(h * w, 1)))
    whole = (0, 0, w, h)
    if h * w * scale**2 <= job_megapixels * 1e6:
        return [ScanJob(whole, whole, scale)]
    overlap = 3 * window / scale  # tiles find faces up to this size whole; the coarse job finds larger ones
    side = math.sqrt(job_megapixels * 1e6) / scale - overlap  # a tile's core, so that the tile fits the budget
    cols, rows = max(1, math.ceil(w / max(side, overlap))), max(1, math.ceil(h / max(side, overlap)))
    xs = np.linspace(0, w, cols + 1).round().astype(int)
    ys = np.linspace(0, h, rows + 1).round().astype(int)
    half = int(math.ceil(overlap / 2))
    coarse_face = 0.8 * overlap  # a little below the tiles' limit: no face size falls between the two
    jobs = [ScanJob(whole, whole, min(scale, window / coarse_face), min_face=coarse_face)]
    for r in range(rows):
        for c in range(cols):
            core = (int(xs[c]), int(ys[r]), int(xs[c + 1]), int(ys[r + 1]))
            region = (max(0, core[0] - half), max(0, core[1] - half), min(w, core[2] + half), min(h, core[3] + half))
            jobs.append(ScanJob(region, core, scale, max_face=overlap))
    return jobs


def _run_job(job: ScanJob, detector, gray: np.ndarray, close_up: bool) -> Detections:
    dets = job.run(detector, gray)
    if close_up and not len(dets) and job.region == (0, 0, gray.shape[1], gray.shape[0]):
        dets = detect_close_up(detector, gray)  # a face too close to the camera
    return dets


@dataclass
class _InFlight:
    """A detection job running in the background, with what it needs to be applied to a later frame."""

    job: ScanJob
    future: Future
    detector: object  # busy until the job is done
    gray: np.ndarray  # the frame it looks at
    boxes: dict[int, np.ndarray]  # track ID -> its box in that frame
    stale: bool = False  # a cut or a reset came since: its faces belong to another shot


class Scanner:
    """Runs a live video's detection passes: when one starts, which jobs run on which frame, and what they found
    reaching the tracker.

    In the frame's own time (``background=False``: the ``video`` and ``bench`` commands) up to ``len(detectors)``
    jobs run side by side in each frame, so every run sees the same detections. In the background (the app) each
    idle detector takes the next job on the latest frame and the frames never wait; a job's faces are brought to
    the frame where they arrive. dlib releases Python's lock while it detects, but a detector object is not
    thread-safe, so each thread has its own.
    """

    def __init__(self, detectors: list, looker, min_face: int, every: int, idle_every: int, background: bool = False):
        self.detectors = detectors
        self.looker = looker  # the detector for close looks in the caller's thread (never one of a running job)
        self.min_face, self.every, self.idle_every = min_face, every, idle_every
        self.background = background
        self._pool = ThreadPoolExecutor(len(detectors)) if background or len(detectors) > 1 else None
        self._idle = list(detectors)  # background: detectors not running a job
        self._running: list[_InFlight] = []  # background: jobs whose faces have not reached the tracker yet
        self._jobs: list[ScanJob] = []  # what is left of the current pass
        self._since_pass = 0
        self._due = True

    def restart(self) -> None:
        """A new shot or source: drop the pass under way (running jobs finish, their faces are ignored); one starts at once."""
        self._jobs = []
        for job in self._running:
            job.stale = True
        self._due = True

    def hurry(self) -> None:
        """Start the next pass as soon as the current one is done (the flow lost a face, or one left the frame)."""
        self._due = True

    def step(self, gray: np.ndarray, t: float, tracker: Tracker, timed) -> None:
        """This frame's share of detection; ``timed(stage)`` times the stages."""
        self._since_pass += 1
        with timed("track"):
            for done in [job for job in self._running if job.future.done()]:
                self._running.remove(done)
                self._idle.append(done.detector)
                if not done.stale:
                    self._apply_late(done, gray, t, tracker)
            every = self.every if tracker.tracks else self.idle_every
            if not self._jobs and not self._running and (self._due or self._since_pass >= every):
                self._jobs = plan_scan(gray.shape, self.min_face, self.detectors[0].window)
                self._since_pass, self._due = 0, False
        close_up = not tracker.tracks
        if self.background:
            while self._jobs and self._idle:
                job, detector = self._jobs.pop(0), self._idle.pop()
                self._running.append(_InFlight(job, self._pool.submit(_run_job, job, detector, gray, close_up), detector,
                                               gray, {tr.track_id: tr.box.copy() for tr in tracker.tracks}))
            return
        jobs, self._jobs = self._jobs[:len(self.detectors)], self._jobs[len(self.detectors):]
        if not jobs:
            return
        with timed("detect"):
            if len(jobs) > 1:
                found = list(self._pool.map(_run_job, jobs, self.detectors, [gray] * len(jobs), [close_up] * len(jobs)))
            else:
                found = [_run_job(jobs[0], self.detectors[0], gray, close_up)]
        with timed("track"):
            for job, dets in zip(jobs, found):
                missed = tracker.update_detections(dets.boxes, dets.scores, t, owned=job.owns)
                tracker.confirm(gray, missed, self.looker, t)

    def _apply_late(self, done: _InFlight, gray: np.ndarray, t: float, tracker: Tracker) -> None:
        """A job's faces in an earlier frame, brought to this one: a face matched to a track moves as the track has
        moved since; a new face is looked for again near where it was."""
        dets = done.future.result()
        live = {tr.track_id: tr for tr in tracker.tracks}
        ids = [i for i in done.boxes if i in live]
        then = np.array([done.boxes[i] for i in ids], np.float32).reshape(-1, 4)
        pairs = greedy_match(iou_matrix(then, dets.boxes), tracker.iou_threshold)
        boxes, scores, keep = dets.boxes.copy(), dets.scores.copy(), np.ones(len(dets), bool)
        for r, c in pairs:
            boxes[c] += live[ids[r]].box - then[r]
        for c in sorted(set(range(len(dets))) - {c for _, c in pairs}):
            found = find_near(gray, boxes[c], self.looker)
            if found is None:
                keep[c] = False  # turned away or hidden since: the next pass will tell
            else:
                boxes[c], scores[c] = found
        missed = tracker.update_detections(boxes[keep], scores[keep], t, owned=done.job.owns)
        tracker.confirm(gray, missed, self.looker, t)
