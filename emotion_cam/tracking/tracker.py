"""Face tracks: stable IDs across frames, box updates between detection passes, and scene cuts. Boxes only:
the tracker is handed detections and never calls a detector (``emotion_cam.faces.search`` does).

Between passes each track's box (and its landmarks, if the detector gave them) moves
with the optical flow of its face. Detections are matched to tracks by IoU; a track
not confirmed for ``max_age_s`` is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from emotion_cam.faces.boxes import cover_matrix, greedy_match, iou_matrix, on_head_above
from emotion_cam.faces.detectors import Detections
from emotion_cam.tracking.smoothing import EmotionSmoother


def move_boxes(prev: np.ndarray, gray: np.ndarray, boxes: list[np.ndarray]) -> list[np.ndarray | None]:
    """Each box moved and scaled from ``prev`` to ``gray`` by the optical flow of a grid of points on it
    (pyramidal Lucas-Kanade, one call for all boxes, robust similarity fit); None where the flow failed."""
    if not boxes:
        return []
    grid = np.linspace(0.15, 0.85, 5, dtype=np.float32)
    pts = []
    for x1, y1, x2, y2 in boxes:
        gx, gy = np.meshgrid(x1 + grid * (x2 - x1), y1 + grid * (y2 - y1))
        pts.append(np.stack([gx.ravel(), gy.ravel()], 1))
    p0 = np.vstack(pts).astype(np.float32).reshape(-1, 1, 2)
    p1, status, _ = cv2.calcOpticalFlowPyrLK(prev, gray, p0, None, winSize=(21, 21), maxLevel=3)
    n = grid.size ** 2
    moved: list[np.ndarray | None] = []
    for i, box in enumerate(boxes):
        a, b = p0[i * n:(i + 1) * n], p1[i * n:(i + 1) * n]
        ok = status[i * n:(i + 1) * n].reshape(-1).astype(bool)
        matrix = None
        if ok.sum() >= 6:
            matrix, _ = cv2.estimateAffinePartial2D(a[ok], b[ok], method=cv2.RANSAC, ransacReprojThreshold=3.0)
        if matrix is None:
            moved.append(None)
            continue
        scale = float(np.clip(np.hypot(matrix[0, 0], matrix[1, 0]), 0.8, 1.25))
        centre = matrix[:, :2] @ ((box[:2] + box[2:]) / 2) + matrix[:, 2]
        half = (box[2:] - box[:2]) / 2 * scale
        moved.append(np.concatenate([centre - half, centre + half]).astype(np.float32))
    return moved


def likeness_patch(gray: np.ndarray, box: np.ndarray, side: int = 16) -> np.ndarray | None:
    """What is under ``box``, as a tiny zero-mean, unit-norm patch: two of them compared by a dot product (their
    normalised cross-correlation) tell whether a followed box still shows the face it was confirmed on."""
    h, w = gray.shape[:2]
    x1, y1 = int(max(0, box[0])), int(max(0, box[1]))
    x2, y2 = int(min(w, box[2])), int(min(h, box[3]))
    if x2 - x1 < 4 or y2 - y1 < 4:
        return None
    patch = cv2.resize(gray[y1:y2, x1:x2], (side, side), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    patch -= patch.mean()
    norm = float(np.linalg.norm(patch))
    return patch / norm if norm > 1e-3 else None


@dataclass
class SceneThumb:
    """A tiny grayscale copy of a frame and its histogram, to notice cuts between consecutive frames."""

    pixels: np.ndarray
    hist: np.ndarray

    @classmethod
    def of(cls, gray: np.ndarray) -> "SceneThumb":
        step = max(1, min(gray.shape[0] // 144, gray.shape[1] // 256))  # subsample first: INTER_AREA on a full frame costs 0.5 ms
        pixels = cv2.resize(gray[::step, ::step], (64, 36), interpolation=cv2.INTER_AREA)
        hist = cv2.calcHist([pixels], [0], None, [32], [0, 256])
        cv2.normalize(hist, hist, 1, 0, cv2.NORM_L1)
        return cls(pixels, hist)

    def is_cut_from(self, prev: "SceneThumb", max_mean_diff: float = 20.0, max_hist_distance: float = 0.2) -> bool:
        """True at a scene cut. Measured on the shared videos: cuts in short_hamilton_clip.mp4 give a mean
        absolute difference of 28-31 (of 255) and a Bhattacharyya distance of 0.24-0.39; camera and
        subject motion at most 17.4 and 0.12 (99th percentile; 7 and 0.06 in the crowd and talking-head clips)."""
        diff = float(np.abs(self.pixels.astype(np.int16) - prev.pixels.astype(np.int16)).mean())
        return diff > max_mean_diff or cv2.compareHist(prev.hist, self.hist, cv2.HISTCMP_BHATTACHARYYA) > max_hist_distance


@dataclass(eq=False)  # a track is itself, not its values
class Track:
    track_id: int
    box: np.ndarray  # x1, y1, x2, y2 (float32)
    last_confirmed: float  # time of the last detection that found this face
    score: float = 0.0
    landmarks: np.ndarray | None = None  # (5, 2) the detector's points, moved with the box since
    confirmed_look: np.ndarray | None = None  # ``likeness_patch`` of the box where it was confirmed (taken at the next follow)
    likeness: float = 1.0  # how much the followed box still looks like that (normalised cross-correlation)
    # What the emotion stages know of this face: one record per track, nothing kept elsewhere by its ID.
    raw: np.ndarray | None = None  # the last classification's probabilities
    classified_frame: int = -1  # the frame that classification was made in (-1: not yet)
    smoother: EmotionSmoother | None = None  # the probabilities smoothed over time: what the bars show
    unsure: bool = False  # shown as unsure in the last frame (the rule's hysteresis needs it)

    def classified(self, probs: np.ndarray, frame: int, t: float, time_constant_s: float) -> None:
        """This frame's classification of the face, blended into its smoothed probabilities."""
        self.raw, self.classified_frame = probs, frame
        self.smoother = self.smoother or EmotionSmoother(time_constant_s)
        self.smoother.update(probs, t)

    @property
    def probs(self) -> np.ndarray | None:
        return None if self.smoother is None else self.smoother.probs

    def take(self, dets: Detections, i: int, t: float) -> None:
        """This track's face is detection ``i`` of ``dets``, seen at time ``t``."""
        self.box, self.score, self.last_confirmed = dets.boxes[i].astype(np.float32), float(dets.scores[i]), t
        self.landmarks = None if dets.landmarks is None else dets.landmarks[i].astype(np.float32)
        self.confirmed_look, self.likeness = None, 1.0


class Tracker:
    """Keeps tracks, assigns IDs, and moves boxes between detections."""

    FLOW_MAX_WIDTH = 1280  # wider frames are followed at half size

    def __init__(self, iou_threshold: float = 0.3, max_age_s: float = 1.0):
        self.iou_threshold = iou_threshold
        self.max_age_s = max_age_s
        self.tracks: list[Track] = []
        self.cuts = 0  # scene cuts noticed since the last reset
        self._next_id = 1
        self._thumb: SceneThumb | None = None
        self._halves: list[tuple[np.ndarray, np.ndarray]] = []

    def reset(self) -> None:
        self.tracks = []
        self.cuts = 0
        self._next_id = 1
        self._thumb = None

    def notice_cut(self, gray: np.ndarray) -> bool:
        """True if ``gray`` starts a new shot (compared with the previous frame seen here)."""
        thumb = SceneThumb.of(gray)
        cut = self._thumb is not None and thumb.is_cut_from(self._thumb)
        self._thumb = thumb
        self.cuts += int(cut)
        return cut

    def update(self, dets: Detections, t: float, new: np.ndarray | None = None) -> list[Track]:
        """Match a detection pass: matched tracks take the detected box, new faces get new IDs.

        Only the detections marked in ``new`` (all by default) may start a track: a weak detection keeps a face
        that is already tracked (turned, blurred, in shadow) but is not trusted as a face of its own. An
        unmatched track is missed; it is dropped once unconfirmed for ``max_age_s``. Returns the missed tracks
        that were kept, for a closer look.
        """
        current = np.array([tr.box for tr in self.tracks], np.float32).reshape(-1, 4)
        pairs = greedy_match(iou_matrix(current, dets.boxes), self.iou_threshold)
        for r, c in pairs:
            self.tracks[r].take(dets, c, t)
        matched_tracks, matched_dets = {r for r, _ in pairs}, {c for _, c in pairs}
        missed = [tr for i, tr in enumerate(self.tracks) if i not in matched_tracks]
        stale = [tr for tr in missed if t - tr.last_confirmed > self.max_age_s]
        self.drop(stale)
        for c in range(len(dets)):
            if c not in matched_dets and (new is None or new[c]):
                track = Track(self._next_id, dets.boxes[c], t)
                track.take(dets, c, t)
                self.tracks.append(track)
                self._next_id += 1
        self._merge_duplicates()
        self._drop_head_tops()
        return [tr for tr in missed if tr not in stale and tr in self.tracks]

    def oldest_unconfirmed(self, t: float, older_than_s: float) -> list[Track]:
        """The track confirmed longest ago, if that is more than ``older_than_s`` before ``t`` (else none)."""
        old = [tr for tr in self.tracks if t - tr.last_confirmed > older_than_s]
        return [min(old, key=lambda tr: tr.last_confirmed)] if old else []

    def drifted(self, below: float) -> list[Track]:
        """The tracks whose followed box no longer looks like the face it was confirmed on (likeness under
        ``below``): the flow carried it onto a door frame after the face left, or onto a passer-by's coat."""
        return [tr for tr in self.tracks if tr.likeness < below]

    def settle(self, tracks: list[Track], looks: list[Detections], t: float) -> None:
        """A closer look at each of ``tracks``: a track whose look found its face (one detection) takes it; the
        others are dropped (the face turned away, went behind someone, or the box drifted off it)."""
        for tr, dets in zip(tracks, looks):
            if len(dets):
                tr.take(dets, 0, t)
        self.drop([tr for tr, dets in zip(tracks, looks) if not len(dets)])
        self._merge_duplicates()
        self._drop_head_tops()

    DUPLICATE_COVER = 0.6  # two boxes sharing this much of the smaller one are one face

    def _merge_duplicates(self) -> None:
        """One track per face. Two arise when a face's box changes size faster than IoU matching allows (a new
        track starts on it) or when a close look at a missed track finds the face another track holds. The
        older ID stays, with the more recently confirmed box."""
        if len(self.tracks) < 2:
            return
        boxes = np.array([tr.box for tr in self.tracks], np.float32)
        cover = np.triu(cover_matrix(boxes, boxes), k=1)
        gone: set[int] = set()
        for i, j in zip(*np.nonzero(cover > self.DUPLICATE_COVER)):
            if i in gone or j in gone:
                continue
            a, b = self.tracks[i], self.tracks[j]
            keep, lose = (a, b) if a.track_id < b.track_id else (b, a)
            if lose.last_confirmed > keep.last_confirmed:
                keep.box, keep.score, keep.landmarks, keep.last_confirmed = lose.box, lose.score, lose.landmarks, lose.last_confirmed
            gone.add(j if lose is b else i)
        self.tracks = [tr for k, tr in enumerate(self.tracks) if k not in gone]

    def _drop_head_tops(self) -> None:
        """No track on the hair of a face that has its own track just below: the detector boxed the top of a head
        that looked down before it boxed the face, or a close look at a missed track found the hair again. Track
        scores come from different frames, so the geometry alone decides."""
        if len(self.tracks) > 1:
            tops = on_head_above(np.array([tr.box for tr in self.tracks], np.float32))
            self.tracks = [tr for tr, top in zip(self.tracks, tops) if not top]

    def follow(self, prev: np.ndarray, gray: np.ndarray) -> bool:
        """Move and scale each box with the optical flow of its face; True if the flow lost a face.

        The box must not follow the landmarks: dlib's shape predictor largely follows the box it is
        given, so a box fed back from its own landmarks drifts off the face. The flow of a grid of
        points on the face, fitted with a robust similarity transform, does not depend on the box.
        """
        if not self.tracks:
            return False
        for tr in self.tracks:
            if tr.confirmed_look is None:  # confirmed in ``prev``, where its box still is
                tr.confirmed_look = likeness_patch(prev, tr.box)
        if gray.shape[1] > self.FLOW_MAX_WIDTH:  # a large frame: followed at half size, a quarter of the work
            half = [tr.box / 2 for tr in self.tracks]
            moved = [None if b is None else b * 2 for b in move_boxes(self._half(prev), self._half(gray), half)]
        else:
            moved = move_boxes(prev, gray, [tr.box for tr in self.tracks])
        for tr, box in zip(self.tracks, moved):
            if box is not None:
                if tr.landmarks is not None:  # the same shift and scale as the box
                    scale = (box[2] - box[0]) / max(tr.box[2] - tr.box[0], 1e-6)
                    tr.landmarks = (tr.landmarks - (tr.box[:2] + tr.box[2:]) / 2) * scale + (box[:2] + box[2:]) / 2
                tr.box = box
            now = likeness_patch(gray, tr.box)
            if tr.confirmed_look is not None and now is not None:
                tr.likeness = float(tr.confirmed_look @ now)
        return any(box is None for box in moved)

    def _half(self, gray: np.ndarray) -> np.ndarray:
        """``gray`` at half size; the last two are kept, as each frame is followed from and then to."""
        for image, half in self._halves:
            if image is gray:
                return half
        half = cv2.pyrDown(gray)
        self._halves = [self._halves[-1], (gray, half)] if self._halves else [(gray, half)]
        return half

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

    def drop(self, tracks: list[Track]) -> None:
        self.tracks = [tr for tr in self.tracks if tr not in tracks]
