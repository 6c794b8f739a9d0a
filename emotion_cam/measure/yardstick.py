"""What the bench measures live boxes against: two thorough detectors together, corrected by hand where they fail.

The live detector cannot be its own yardstick. The reference faces of a frame are the
union of a thorough dlib HOG pass (twice the size: frontal faces from about 40 px)
and a thorough YuNet look (as for a still: faces from 14 px, each found again up
close). Both detectors err on the shared videos: YuNet boxes the top of a head that
looks down, HOG and YuNet miss a face cut by the frame edge or dim in a dark
audience. ``assets/bench_marks.json`` holds hand marks for those frames: boxes looked
at and called a face, not a face, or too dim or cut to call (counted neither way).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emotion_cam.faces.boxes import iou_matrix
from emotion_cam.faces.detectors import HogDetector, YuNetDetector
from emotion_cam.faces.search import concat, find_faces, lifted, look_around, nms

MARKS_FILE = Path(__file__).resolve().parents[2] / "assets" / "bench_marks.json"
MARK_IOU = 0.5  # a box is the marked one from this overlap (a box on the hair above a face overlaps its face by less)


def _boxes(rows) -> np.ndarray:
    return np.array(rows, np.float32).reshape(-1, 4)


@dataclass
class FrameMarks:
    """One frame's hand marks."""

    face: np.ndarray = field(default_factory=lambda: _boxes([]))
    not_face: np.ndarray = field(default_factory=lambda: _boxes([]))
    ignore: np.ndarray = field(default_factory=lambda: _boxes([]))

    @staticmethod
    def _hits(boxes: np.ndarray, marked: np.ndarray) -> np.ndarray:
        if not len(boxes) or not len(marked):
            return np.zeros(len(boxes), bool)
        return iou_matrix(boxes, marked).max(1) >= MARK_IOU

    def is_face(self, boxes: np.ndarray) -> np.ndarray:
        return self._hits(boxes, self.face)

    def is_not_face(self, boxes: np.ndarray) -> np.ndarray:
        return self._hits(boxes, self.not_face)

    def is_ignored(self, boxes: np.ndarray) -> np.ndarray:
        return self._hits(boxes, self.ignore)


@dataclass
class VideoMarks:
    """The hand marks of one video at one frame size, by frame index (every ``every``-th frame was looked at)."""

    every: int
    frames: dict[int, FrameMarks]

    def at(self, index: int) -> FrameMarks:
        return self.frames.get(index, FrameMarks())

    @classmethod
    def load(cls, source: str, size: tuple[int, int], path: Path = MARKS_FILE) -> "VideoMarks | None":
        """The marks for ``source`` (by file name) played at ``size`` (w, h); None if it has none."""
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        video = data["videos"].get(Path(str(source)).name)
        if video is None or tuple(video["size"]) != tuple(size):
            return None
        frames = {int(i): FrameMarks(**{k: _boxes(v) for k, v in marks.items()}) for i, marks in video["frames"].items()}
        return cls(int(data["every"]), frames)


@dataclass
class Judged:
    """One checked frame: the reference faces, the live boxes, and which live boxes count and sit on a face."""

    truth: np.ndarray
    live: np.ndarray
    on_face: np.ndarray  # a face under the live box (the permissive look, or a hand mark)
    counted: np.ndarray  # not on a box marked as too dim or cut to call
    wrong: np.ndarray  # on a box marked not a face (the top of a head beside its face's own box, say)


class Yardstick:
    """The faces of a frame as two thorough detectors see them together, and a permissive look under a box."""

    def __init__(self) -> None:
        self.hog, self.yunet = HogDetector(), YuNetDetector()
        self.loose_hog, self.loose_yunet = HogDetector(threshold=-0.5), YuNetDetector(threshold=0.5)

    def faces(self, frame: np.ndarray) -> np.ndarray:
        """HOG at 2x (its 80 px window finds faces from about 40 px) and YuNet's thorough look; in a dark frame
        YuNet also looks at it brightened, as the live passes do, so that dim faces count as faces."""
        bright = lifted(frame)
        looks = [self.hog.detect(frame, 2.0), find_faces(self.yunet, frame, 14)]
        if bright is not frame:
            looks.append(find_faces(self.yunet, bright, 14))
        return nms(concat(looks)).boxes

    def face_near(self, frame: np.ndarray, box: np.ndarray) -> bool:
        """Is there a face under a live box? The yardstick misses faces that look down or sit small; in a dark frame
        it also looks at the frame brightened as the live passes see it (a dim face is still a face)."""
        bright = lifted(frame)
        for image in (frame,) if bright is frame else (frame, bright):
            for detector, sizes in ((self.loose_yunet, (64, 96)), (self.loose_hog, (100, 140))):
                for face_px in sizes:
                    dets = look_around(image, box, detector, face_px=face_px)
                    if len(dets) and iou_matrix(box[None], dets.boxes).max() >= 0.2:
                        return True
        return False

    def judge(self, frame: np.ndarray, live: np.ndarray, marks: FrameMarks | None = None) -> Judged:
        """The frame's reference faces (the detectors' less the boxes marked not a face or uncallable, plus the
        faces marked that they missed) and what each live box is."""
        marks = marks or FrameMarks()
        found = self.faces(frame)
        found = found[~(marks.is_not_face(found) | marks.is_ignored(found))]
        missed = marks.face[~FrameMarks._hits(marks.face, found)]
        truth = np.concatenate([found, missed]).reshape(-1, 4)
        counted = ~marks.is_ignored(live)
        marked_face, marked_not = marks.is_face(live), marks.is_not_face(live)
        on_face = np.array([bool(f) or (not n and self.face_near(frame, b))
                            for b, f, n in zip(live, marked_face, marked_not)], bool)
        return Judged(truth, live, on_face, counted, marked_not)


def live_recall(checked: list[Judged]) -> dict:
    """Recall of the live boxes against the reference faces, and live boxes on no face per 1,000 checked frames
    (a box overlapping no reference face with nothing under it, or on a box marked not a face)."""
    found = total = false = 0
    for j in checked:
        iou = iou_matrix(j.truth, j.live)
        total += len(j.truth)
        found += int((iou.max(1) >= 0.3).sum()) if len(j.live) else 0
        unmatched = iou.max(0) < 0.1 if len(j.truth) else np.ones(len(j.live), bool)
        false += int((((unmatched & ~j.on_face) | j.wrong) & j.counted).sum())
    return {"live_recall": round(found / total, 4) if total else None,
            "false_tracks_per_1000_frames": round(1000 * false / len(checked), 1) if checked else None,
            "reference_faces": total}
