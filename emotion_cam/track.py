"""Face tracks: stable IDs across frames, and cheap box updates between full detections.

Full-frame detection is the expensive stage (tens of ms), so it runs only every
few frames; in between, the pipeline moves each track's box with the optical
flow of the face. Detections are matched to tracks by IoU; a track not
confirmed by a detection for ``max_age_s`` is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emotion_cam.smooth import EmotionSmoother


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes (N, 4) and (M, 4) given as x1, y1, x2, y2."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


def greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """(row, col) pairs, best IoU first, each row and column used once, IoU >= threshold."""
    pairs = []
    if iou.size == 0:
        return pairs
    order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
    used_r, used_c = set(), set()
    for r, c in order:
        if iou[r, c] < threshold:
            break
        if r in used_r or c in used_c:
            continue
        pairs.append((int(r), int(c)))
        used_r.add(r)
        used_c.add(c)
    return pairs


@dataclass
class Track:
    track_id: int
    box: np.ndarray
    last_confirmed: float  # time of the last detection that matched
    landmarks: np.ndarray | None = None
    score: float = 0.0
    smoother: EmotionSmoother = field(default_factory=EmotionSmoother)


class Tracker:
    """Keeps tracks and assigns IDs; knows nothing about images."""

    def __init__(self, iou_threshold: float = 0.3, max_age_s: float = 1.0, smoothing_s: float = 0.35):
        self.iou_threshold = iou_threshold
        self.max_age_s = max_age_s
        self.smoothing_s = smoothing_s
        self.tracks: list[Track] = []
        self._next_id = 1

    def reset(self) -> None:
        self.tracks = []
        self._next_id = 1

    def update_detections(self, boxes: np.ndarray, scores: np.ndarray, t: float) -> None:
        """Match a full detection pass: matched tracks take the detected box, others age, new faces get new IDs."""
        current = np.array([tr.box for tr in self.tracks], np.float32).reshape(-1, 4)
        pairs = greedy_match(iou_matrix(current, boxes), self.iou_threshold)
        matched_tracks = {r for r, _ in pairs}
        matched_dets = {c for _, c in pairs}
        for r, c in pairs:
            tr = self.tracks[r]
            tr.box, tr.score, tr.last_confirmed = boxes[c].astype(np.float32), float(scores[c]), t
        self.tracks = [tr for i, tr in enumerate(self.tracks) if i in matched_tracks or t - tr.last_confirmed <= self.max_age_s]
        for c in range(len(boxes)):
            if c not in matched_dets:
                self.tracks.append(Track(self._next_id, boxes[c].astype(np.float32), t, score=float(scores[c]),
                                         smoother=EmotionSmoother(self.smoothing_s)))
                self._next_id += 1

    def drop_outside(self, width: int, height: int, min_inside: float = 0.5) -> bool:
        """Drop tracks whose box has mostly left the frame; True if any was dropped."""
        keep = []
        for tr in self.tracks:
            x1, y1, x2, y2 = tr.box
            area = max((x2 - x1) * (y2 - y1), 1e-6)
            inside = max(0.0, min(x2, width) - max(x1, 0)) * max(0.0, min(y2, height) - max(y1, 0))
            if inside / area >= min_inside:
                keep.append(tr)
        dropped = len(keep) < len(self.tracks)
        self.tracks = keep
        return dropped
