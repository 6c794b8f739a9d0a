"""Where, and at what scale, a live frame is searched for faces: one thorough pass, cut into jobs that fit a frame's time.

Small faces need the frame enlarged (dlib's HOG window is 80 px: a 40 px face needs
2x), and a 2x pass over a 1080p frame takes about half a second on one core. Run at
once it would freeze the picture, so a large frame's pass is cut into tiles that
overlap by the largest face they are responsible for, plus one coarse job over the
whole frame for faces larger than that; the pipeline runs a few jobs a frame. A small
frame's pass is a single job.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from emotion_cam.detect import Detections


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
