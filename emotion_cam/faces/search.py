"""Every call of a face detector goes through here: the passes over live frames and stills, the close-up look,
the close look at a doubtful track or a late result's new face. It hands detections back and changes no track:
the pipeline gives them to the tracker, which never sees a detector.

A live pass looks at the whole frame at the scale where the detector finds faces of
``min_face`` px; it runs every frame on small frames and less often on large ones
(its cost grows with the pixels it sees), always at least every ``max_every`` frames,
so a face that comes into view gets its box within a few frames.
"""
from __future__ import annotations

import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np

from emotion_cam.faces.boxes import cover_matrix, greedy_match, iou_matrix, on_head_above
from emotion_cam.faces.detectors import Detections, FaceDetector, clip_to_image


DARK_MEAN = 60  # a frame darker than this on average (0-255) is searched brightened
_LIFT = (255 * (np.arange(256) / 255) ** 0.6).astype(np.uint8)  # gamma 0.6: shadows up, highlights kept


def lifted(frame: np.ndarray) -> np.ndarray:
    """The frame as the detector should see it: a dark one (a stage, an evening room) brightened.

    YuNet misses dim faces in dark scenes at the live pass's scale and finds most of them with the shadows
    lifted (docs/architecture.md has the figures). A bright frame is returned as it is, at the cost of a strided mean.
    """
    return cv2.LUT(frame, _LIFT) if float(frame[::8, ::8].mean()) < DARK_MEAN else frame


def pass_scale(detector: FaceDetector, shape: tuple[int, ...], min_face: float, max_pixels: float = 4e6,
               give: float = 0.0) -> float:
    """The scale at which ``detector`` finds faces from ``min_face`` px in an image of ``shape``, within ``max_pixels``.

    A detector that pads its input to a multiple of ``stride`` computes the padding too: where a scale at most
    ``give`` smaller brings a side down to a multiple, and so pads less, that one is taken (a 596x336 frame:
    352x192 instead of 358x202 padded to 384x224, a fifth less work for faces from 21 px instead of 20). Live
    passes give a little (``LIVE_GIVE``); a still and the bench's yardstick get exactly the size asked for.
    """
    h, w = shape[:2]
    scale = float(min(detector.min_face(1.0) / max(min_face, 1.0), 4.0, math.sqrt(max_pixels / max(h * w, 1))))
    stride = detector.stride
    if stride <= 1 or give <= 0:
        return scale

    def padded(s: float) -> float:
        return math.ceil(w * s / stride) * math.ceil(h * s / stride)

    snapped = [math.floor(side * scale / stride) * stride / side for side in (w, h)]
    candidates = [s for s in snapped if s >= (1 - give) * scale] + [scale]
    return min(candidates, key=lambda s: (padded(s), -s))


LIVE_GIVE = 0.05  # live passes look for faces up to 5% larger than asked where that saves padding


def nms(dets: Detections, iou: float = 0.4) -> Detections:
    """One box per face when two looks found the same one (the higher score kept)."""
    if len(dets) < 2:
        return dets
    xywh = np.concatenate([dets.boxes[:, :2], dets.boxes[:, 2:] - dets.boxes[:, :2]], 1).tolist()
    ranks = (dets.scores - dets.scores.min() + 1.0).tolist()  # NMSBoxes keeps scores above a threshold >= 0; HOG's may be < 0
    keep = cv2.dnn.NMSBoxes(xywh, ranks, 0.0, iou)
    return dets[np.sort(np.asarray(keep, int).reshape(-1))]


def drop_nested(dets: Detections, cover: float = 0.8) -> Detections:
    """One box per face when two passes boxed it at different sizes, one inside the other (a close-up portrait:
    the whole head at one scale, the face at another), where their IoU is too small for ``nms``: the surer kept."""
    if len(dets) < 2:
        return dets
    inside = cover_matrix(dets.boxes, dets.boxes) >= cover
    np.fill_diagonal(inside, False)
    weaker = inside & (dets.scores[:, None] < dets.scores[None, :])  # [i, j]: i overlaps j mostly and is less sure
    return dets[~weaker.any(1)]


def drop_head_tops(dets: Detections) -> Detections:
    """Without the boxes on the top of a head whose face has its own, surer box just below it (``on_head_above``)."""
    return dets[~on_head_above(dets.boxes, dets.scores)] if len(dets) > 1 else dets


def concat(parts: list[Detections]) -> Detections:
    parts = [p for p in parts if len(p)]
    if not parts:
        return Detections()
    marks = [p.landmarks for p in parts]
    return Detections(np.concatenate([p.boxes for p in parts]).astype(np.float32), np.concatenate([p.scores for p in parts]),
                      None if any(m is None for m in marks) else np.concatenate(marks))


def detect_close_up(detector: FaceDetector, image: np.ndarray, border: float = 0.3, side: int = 400) -> Detections:
    """Faces that fill the image or run off its edges, for when a normal pass finds none.

    Detectors judge a face with some of its surroundings in view; a face that fills a
    close-up (a webcam user leaning in) or is cut by the image edge lacks them. On the
    image with a grey border, shrunk to ``side`` px, most such faces are found again.
    """
    h, w = image.shape[:2]
    pad = int(border * max(h, w))
    framed = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(128, 128, 128))
    dets = detector.detect(framed, scale=min(1.0, side / framed.shape[0], side / framed.shape[1]))
    return clip_to_image(dets.shifted(-pad, -pad), image.shape)


def find_faces(detector: FaceDetector, image: np.ndarray, min_face: float) -> Detections:
    """Every face in a still image from ``min_face`` px up.

    One pass at the scale for small faces and one with the image's long side at the detector's native side (YuNet's
    training size: it sees large faces best there, and faces in small, soft photos better enlarged to it),
    merged; the close-up look when neither finds a face.
    A still gets one chance to be right, so each face must also be found by a close look at the size the
    detector sees best: a dog's face that one pass took for a person's (dogs.jpg) is not found there.
    """
    scale = pass_scale(detector, image.shape, min_face)
    found = [detector.detect(image, scale)]
    coarse = (detector.native_side or 640) / max(image.shape[:2])
    if abs(np.log(coarse / scale)) > np.log(1.15):
        found.append(detector.detect(image, coarse))
    dets = sure(detector, drop_head_tops(drop_nested(nms(concat(found)))))
    dets = dets[np.minimum(dets.boxes[:, 2] - dets.boxes[:, 0], dets.boxes[:, 3] - dets.boxes[:, 1]) >= 0.75 * min_face]
    if not len(dets):
        return sure(detector, detect_close_up(detector, image))
    return dets[np.array([_seen_up_close(detector, image, box) for box in dets.boxes], bool)]


def sure(detector: FaceDetector, dets: Detections) -> Detections:
    """The detections that are faces on their own, without a track to vouch for them."""
    return dets[dets.scores >= detector.threshold]


def _seen_up_close(detector: FaceDetector, image: np.ndarray, box: np.ndarray) -> bool:
    dets = sure(detector, look_around(image, box, detector))
    return bool(len(dets)) and float(iou_matrix(box[None], dets.boxes).max()) >= 0.3


def look_around(image: np.ndarray, box: np.ndarray, detector: FaceDetector, grow: float = 1.0,
                face_px: float | None = None) -> Detections:
    """Faces in the region of ``box`` grown by ``grow`` box sizes on every side, the region resized so that a
    face of the box's size is ``face_px`` tall (default: the size the detector sees best); image coordinates.

    A box size of context on every side: with half of it YuNet lost more of its own faces (docs/architecture.md, *Live passes*).
    """
    h, w = image.shape[:2]
    x1, y1, x2, y2 = box
    bw, bh = x2 - x1, y2 - y1
    rx1, ry1 = int(max(0, x1 - grow * bw)), int(max(0, y1 - grow * bh))
    rx2, ry2 = int(min(w, x2 + grow * bw)), int(min(h, y2 + grow * bh))
    if rx2 - rx1 < 8 or ry2 - ry1 < 8:
        return Detections()
    scale = float(np.clip((face_px or detector.preferred_face) / max(bh, 1), 0.25, 4.0))
    return detector.detect(image[ry1:ry2, rx1:rx2], scale=scale).shifted(rx1, ry1)


def find_near(image: np.ndarray, box: np.ndarray, detector: FaceDetector, reach: float = 1.0) -> Detections:
    """The face of about ``box``'s size nearest to it within ``reach`` box sizes (an empty result if none).

    For a face found in an earlier frame: where it is now, found again rather than followed (the optical flow
    across several frames of a walking crowd can land on a coat).
    """
    dets = look_around(image, box, detector, grow=reach)
    if not len(dets):
        return dets
    ratio = (dets.boxes[:, 3] - dets.boxes[:, 1]) / max(box[3] - box[1], 1)
    distance = np.hypot(*((dets.boxes[:, :2] + dets.boxes[:, 2:]) / 2 - (box[:2] + box[2:]) / 2).T)
    distance[(ratio < 0.7) | (ratio > 1.4)] = np.inf
    best = int(np.argmin(distance))
    return dets[[best]] if np.isfinite(distance[best]) else dets[[]]


@dataclass
class _InFlight:
    """A pass running in the background, with what it needs to be applied to a later frame."""

    future: Future
    boxes: dict[int, np.ndarray]  # track ID -> its box in the frame the pass looks at
    stale: bool = False  # a cut or a reset came since: its faces belong to another shot


class Scanner:
    """When a live video is searched for faces, and what the detector found there, brought to the current frame.

    In the frame's own time (``video`` and ``bench``) a due pass runs in the frame, so every run sees the same
    detections. In the background (the app) a due pass that costs more than ``inline_ms`` runs on its own
    detector beside the frames, which never wait for it; its faces are brought to the frame where they arrive,
    a frame or more late. A cheaper pass (a webcam-sized frame) runs in the frame: waiting a few milliseconds
    costs the frame nothing a viewer sees, while a late pass leaves every new face unboxed for a frame. The
    first pass of a new source or shot runs in the frame in both, so its faces have boxes from its first frame
    on. ``looker`` makes the close looks in the caller's thread.
    """

    MATCH_IOU = 0.3  # a late face and a track's box from the same frame are one face from this overlap
    FRESH_FRAMES = 1  # a new face from a pass this many frames old is taken where it was found (a face barely moves)

    def __init__(self, looker: FaceDetector, min_face: float, every: int = 0, idle_every: int = 0, max_every: int = 5,
                 pass_pixels: float = 20_000, background: Callable[[], FaceDetector] | None = None,
                 inline_ms: float = 0.0):
        self.looker = looker
        self.min_face = min_face
        self.every, self.idle_every, self.max_every = every, idle_every, max_every
        self.pass_pixels = pass_pixels  # pixels a pass may look at per frame between passes (0 "every": automatic)
        self._background = background() if background else None
        self.inline_ms = inline_ms  # with a background detector: a pass expected to cost less runs in the frame
        self._pass_ms: float | None = None  # what a pass costs at this source's size (a running average)
        self._pool = ThreadPoolExecutor(1) if background else None
        self._running: _InFlight | None = None
        self._since_pass = 0
        self._due = True
        self._fresh = True  # a new source or shot: the next pass runs in the frame
        self._last_seen: tuple[np.ndarray, np.ndarray] | None = None

    def restart(self) -> None:
        """A new shot or source: a running pass's faces are ignored; a pass runs in the next frame."""
        if self._running is not None:
            self._running.stale = True
        self._due = self._fresh = True
        self._pass_ms = None  # a new source may have another size: its first pass, in the frame, measures anew

    def inline(self) -> bool:
        """Whether a due pass runs in the frame: always without a background detector, else if it is cheap."""
        return self._background is None or self._fresh or (self._pass_ms is not None and self._pass_ms <= self.inline_ms)

    def hurry(self) -> None:
        """Run the next pass as soon as possible (the flow lost a face, or one left the frame)."""
        self._due = True

    def intervals(self, shape: tuple[int, ...]) -> tuple[int, int]:
        """Frames between passes (faces tracked, none tracked) for frames of ``shape``."""
        h, w = shape[:2]
        scale = pass_scale(self.looker, shape, self.min_face, give=LIVE_GIVE)
        auto = int(np.clip(math.ceil(h * w * scale**2 / self.pass_pixels), 1, self.max_every))
        every = self.every or auto
        return every, max(self.idle_every or 2 * auto, every)

    def is_new_face(self, dets: Detections) -> np.ndarray:
        """Which detections may start a track: the sure ones (a weak one only keeps a face already tracked)."""
        return dets.scores >= self.looker.threshold

    def detect(self, frame: np.ndarray, tracks: dict[int, np.ndarray]) -> Detections | None:
        """This frame's detections for the tracks' boxes ``tracks`` (ID -> box): a pass run now, or a background
        pass that has finished, brought to this frame; None when no pass reports in this frame."""
        self._since_pass += 1
        found = None
        running = self._running
        if running is not None and running.future.done():
            self._running = None
            if not running.stale:
                found = self._bring_forward(running, self._seen(frame), tracks)
        every, idle_every = self.intervals(frame.shape)
        if self._due or self._since_pass >= (every if tracks else idle_every):
            if self.inline():
                self._since_pass, self._due, self._fresh = 0, False, False
                return self._pass(self.looker, self._seen(frame), not tracks)
            if self._running is None:
                self._since_pass, self._due = 0, False
                seen = self._seen(frame)
                # The caller draws its overlay into the frame while the pass still reads it: the pass gets its own copy.
                seen = seen.copy() if seen is frame else seen
                self._running = _InFlight(self._pool.submit(self._pass, self._background, seen, not tracks),
                                          {i: b.copy() for i, b in tracks.items()})
        return found

    def look_again(self, frame: np.ndarray, boxes: list[np.ndarray]) -> list[Detections]:
        """A close look around each box (a track a pass missed, or one unconfirmed for a while): the face there,
        as one detection, or none.

        A pass at a scale chosen for speed misses some faces it could see up close; a box that has drifted onto
        a hand or a tie has no face under it at any scale. A weak detection is enough: the face is tracked already.
        """
        found = []
        frame = self._seen(frame)
        for box in boxes:
            dets = look_around(frame, box, self.looker)
            iou = iou_matrix(box[None], dets.boxes)[0] if len(dets) else np.zeros(0)
            found.append(dets[[int(np.argmax(iou))]] if len(iou) and iou.max() >= 0.2 else dets[[]])
        return found

    def _seen(self, frame: np.ndarray) -> np.ndarray:
        """``lifted(frame)``, computed only in frames that look for faces, once (a pass and close looks share it)."""
        if self._last_seen is None or self._last_seen[0] is not frame:
            self._last_seen = (frame, lifted(frame))
        return self._last_seen[1]

    def _pass(self, detector: FaceDetector, frame: np.ndarray, close_up: bool) -> Detections:
        start = time.perf_counter()
        dets = drop_head_tops(detector.detect(frame, pass_scale(detector, frame.shape, self.min_face, give=LIVE_GIVE)))
        if close_up and not len(sure(detector, dets)):
            dets = detect_close_up(detector, frame)
        ms = (time.perf_counter() - start) * 1000.0
        self._pass_ms = ms if self._pass_ms is None else 0.7 * self._pass_ms + 0.3 * ms  # a float: safe across threads
        return dets

    def _bring_forward(self, done: _InFlight, frame: np.ndarray, tracks: dict[int, np.ndarray]) -> Detections:
        """A pass's faces in an earlier frame, brought to this one: a face matched to a track moves as the track has
        moved since; a new face is taken where it was if the pass is a frame old, else looked for again near there."""
        dets = done.future.result()
        ids = [i for i in done.boxes if i in tracks]
        then = np.array([done.boxes[i] for i in ids], np.float32).reshape(-1, 4)
        pairs = greedy_match(iou_matrix(then, dets.boxes), self.MATCH_IOU)
        moved = []
        for r, c in pairs:
            d = tracks[ids[r]] - then[r]
            moved.append(dets[[c]].shifted(float(d[0] + d[2]) / 2, float(d[1] + d[3]) / 2))
        for c in sorted(set(range(len(dets))) - {c for _, c in pairs}):
            if dets.scores[c] < self.looker.threshold:
                continue
            if self._since_pass <= self.FRESH_FRAMES:  # a new face, a frame old: where the pass found it
                moved.append(dets[[c]])
            else:  # found again near where it was; empty if it turned away or hid since
                moved.append(sure(self.looker, find_near(frame, dets.boxes[c], self.looker)))
        return concat(moved)
