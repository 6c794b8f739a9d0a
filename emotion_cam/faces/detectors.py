"""Face detectors behind one protocol: an image (and a scale) in, ``Detections`` (plain arrays) out.

YuNet, a small CNN run by OpenCV's ``cv2.FaceDetectorYN``, is the default: it finds
small, turned and profile faces that dlib's HOG misses, gives five landmarks with
each face, and costs a fraction of a HOG pass. dlib's HOG and OpenCV's Haar cascade
stay available. Every detector sees the image resized by ``scale`` and says, through
``min_face(scale)``, the smallest face it finds there, so callers ask for faces of a
size instead of knowing each detector's window.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from emotion_cam.model_files import ModelFileError, checked_bytes, shipped_path

# The five points YuNet gives, in its order; "right" and "left" are the subject's (the right eye is on the image's left).
LANDMARK_NAMES = ("right_eye", "left_eye", "nose_tip", "right_mouth", "left_mouth")


@dataclass
class Detections:
    """Faces in image pixels: boxes (N, 4) as x1, y1, x2, y2, scores (N,), and landmarks (N, 5, 2) in
    ``LANDMARK_NAMES`` order where the detector gives them (None where it does not)."""

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    landmarks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.boxes)

    def __getitem__(self, index) -> "Detections":
        """The detections picked by a boolean mask or an index array."""
        return Detections(self.boxes[index], self.scores[index], None if self.landmarks is None else self.landmarks[index])

    def shifted(self, dx: float, dy: float) -> "Detections":
        """The same faces in the coordinates of an image whose origin lies at (-dx, -dy) of this one."""
        d = np.array([dx, dy], np.float32)
        return Detections(self.boxes + np.tile(d, 2), self.scores,
                          None if self.landmarks is None else self.landmarks + d)


class FaceDetector(Protocol):
    """What the scanner needs from a face detector. Not thread-safe: one object per thread."""

    name: str
    threshold: float  # a detection scoring this much is a face on its own; weaker ones (down to the detector's
    #                   floor) are returned too, and only keep a face that is already tracked
    preferred_face: float  # px: the face size it sees best at scale 1, for close looks
    native_side: float | None  # px: the image side it was trained at and sees best (None: any size)
    stride: int  # its input is padded to a multiple of this many px (1: none), so a pass pays for the padding
    landmark_scheme: str | None  # the points it gives with each face, named as the model card's crop geometries
    #                              key them ("yunet"); None: no points (faces are aligned on dlib's)

    def min_face(self, scale: float = 1.0) -> float:
        """The smallest face (px of the original image) it finds in the image resized by ``scale``."""

    def detect(self, image: np.ndarray, scale: float = 1.0) -> Detections:
        """Faces in a BGR or grayscale image, looked for in a copy resized by ``scale``; image coordinates."""


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    if scale == 1.0:
        return image
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=interp)


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def clip_to_image(dets: Detections, shape: tuple[int, ...], min_size: float = 1.0) -> Detections:
    """Boxes clipped to the image; those smaller than ``min_size`` px on a side dropped."""
    h, w = shape[:2]
    boxes = dets.boxes.copy()
    boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
    boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
    size = np.minimum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
    keep = size >= max(min_size, 1.0)
    return Detections(boxes, dets.scores, dets.landmarks)[keep]


# -- YuNet ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class YuNetModel:
    file: str
    sha256: str
    min_face_px: float  # the smallest marked face (box height) it finds at scale 1: 43 of the 43 marked faces


YUNET_MODELS = {
    "n": YuNetModel("yunet_n_640_640.onnx", "25a606a145a5b6d7271ae138fbd00eba91dad8b83222ae3f2c7ecd0f4a7b0e31", 12.0),
}


class YuNetDetector:
    """YuNet (libfacedetection, Apache-2.0) through ``cv2.FaceDetectorYN``: boxes, scores and five landmarks."""

    name = "yunet"
    preferred_face = 64.0
    native_side = 640.0
    stride = 32  # cv2.FaceDetectorYN pads its input to a multiple of 32 and runs the network on all of it
    landmark_scheme = "yunet"  # five points in LANDMARK_NAMES order

    def __init__(self, threshold: float = 0.75, floor: float = 0.5, model: str = "n", path: str | os.PathLike | None = None):
        spec = YUNET_MODELS[model]
        self.path = Path(path) if path else shipped_path(spec.file)
        self.threshold = threshold
        self._min_face = spec.min_face_px
        data = checked_bytes(self.path, spec.sha256)
        try:
            # From the file's bytes, which were just checked; nms 0.3 and top_k as in OpenCV Zoo's demo.
            self._net = cv2.FaceDetectorYN.create("onnx", data, b"", (320, 320), min(floor, threshold), 0.3, 5000)
        except cv2.error as exc:
            raise ModelFileError(f"{self.path}: OpenCV cannot load the face detector ({exc.err})") from None
        self._size = (320, 320)

    def min_face(self, scale: float = 1.0) -> float:
        return self._min_face / scale

    def detect(self, image: np.ndarray, scale: float = 1.0) -> Detections:
        small = _resize(image if image.ndim == 3 else cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), scale)
        size = (small.shape[1], small.shape[0])
        if min(size) < self._min_face:  # no face fits (a 1-pixel strip)
            return Detections(landmarks=np.zeros((0, 5, 2), np.float32))
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, faces = self._net.detect(small)
        if faces is None or not len(faces):
            return Detections(landmarks=np.zeros((0, 5, 2), np.float32))
        faces = faces.astype(np.float32)
        points = faces[:, :14] / np.float32(scale)  # x, y, w, h, then the five landmarks' x, y
        boxes = np.concatenate([points[:, 0:2], points[:, 0:2] + points[:, 2:4]], axis=1)
        return clip_to_image(Detections(boxes, faces[:, 14], points[:, 4:14].reshape(-1, 5, 2)), image.shape)


# -- dlib HOG ---------------------------------------------------------------------------------------
def cache_dir() -> Path:
    """Per-user cache folder (``$XDG_CACHE_HOME/emotion-cam``); holds derived files only, never frames."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "emotion-cam"


def frontal_face_detector():
    """dlib's frontal face detector, kept in dlib's binary format after the first start.

    ``dlib.get_frontal_face_detector()`` parses the detector from text compiled into
    dlib, which takes about 2 s; the same detector saved with ``save()`` loads in
    about 2 ms. The cache is derived from the installed dlib, so nothing is downloaded.
    """
    import dlib

    cache = cache_dir() / f"dlib-{dlib.__version__}-frontal_face_detector.svm"
    if cache.is_file():
        try:
            return dlib.fhog_object_detector(str(cache))
        except RuntimeError:
            pass  # damaged cache: rebuild it below
    detector = dlib.get_frontal_face_detector()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
        detector.save(str(tmp))
        os.replace(tmp, cache)
    except (OSError, RuntimeError):
        pass  # read-only home: every start pays the 2 s
    return detector


class HogDetector:
    """dlib's HOG + linear SVM frontal face detector (``dlib.get_frontal_face_detector``); no landmarks."""

    name = "hog"
    preferred_face = 100.0
    native_side = None
    stride = 1
    landmark_scheme = None
    window = 80  # px: the smallest face it finds at scale 1

    def __init__(self, threshold: float = 0.0, floor: float | None = None):
        """``floor`` below ``threshold`` also returns weaker candidates (0 by default: none)."""
        self._detector = frontal_face_detector()
        self.threshold = threshold
        self.floor = threshold if floor is None else min(floor, threshold)

    def min_face(self, scale: float = 1.0) -> float:
        return self.window / scale

    def detect(self, image: np.ndarray, scale: float = 1.0) -> Detections:
        small = np.ascontiguousarray(_resize(_gray(image), scale))
        rects, scores, _ = self._detector.run(small, 0, self.floor)
        if not rects:
            return Detections()
        boxes = np.array([[r.left(), r.top(), r.right() + 1, r.bottom() + 1] for r in rects], np.float32) / scale
        return clip_to_image(Detections(boxes, np.asarray(scores, np.float32)), image.shape)


# -- OpenCV Haar ------------------------------------------------------------------------------------
class HaarDetector:
    """OpenCV's frontal-face Haar cascade: quick, more false alarms, misses turned faces; no landmarks."""

    name = "haar"
    threshold = -np.inf  # its detections are all faces to it: minNeighbors already decided
    preferred_face = 48.0
    native_side = None
    stride = 1
    landmark_scheme = None
    window = 24

    def __init__(self, min_neighbors: int = 5, scale_factor: float = 1.1):
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise ModelFileError(f"{path}: cannot load OpenCV's Haar cascade (reinstall opencv-python-headless)")
        self.min_neighbors = min_neighbors
        self.scale_factor = scale_factor

    def min_face(self, scale: float = 1.0) -> float:
        return self.window / scale

    def detect(self, image: np.ndarray, scale: float = 1.0) -> Detections:
        small = cv2.equalizeHist(_resize(_gray(image), scale))
        rects, _, weights = self._cascade.detectMultiScale3(
            small, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.window, self.window), outputRejectLevels=True,
        )
        if len(rects) == 0:
            return Detections()
        rects = np.asarray(rects, np.float32)
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1) / scale
        return clip_to_image(Detections(boxes, np.asarray(weights, np.float32).reshape(-1)), image.shape)


DETECTORS = {"yunet": YuNetDetector, "hog": HogDetector, "haar": HaarDetector}
DEFAULT_DETECTOR = "yunet"


def make_detector(name: str = DEFAULT_DETECTOR) -> FaceDetector:
    try:
        factory = DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTORS)}") from None
    return factory()
