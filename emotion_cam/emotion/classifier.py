"""The int8 emotion CNN run with LiteRT (``ai-edge-litert``), never TensorFlow.

Input: aligned 48x48 grayscale crops (uint8). The model card beside the
``.tflite`` says how the model was trained and where the face must sit in the
crop; this module equalises each crop's histogram as the training faces were
(``input.equalise_histogram``), applies the input quantisation and dequantises
the softmax.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from emotion_cam.emotion.card import CardError, ModelCard
from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.model_files import shipped_path
from emotion_cam.process import native_stderr_quiet

MODEL_NAME = "emotion_int8.tflite"
MODEL_ENV = "EMOTION_CAM_MODEL"


class ModelError(RuntimeError):
    """The emotion model is missing, unreadable or does not match its card; the message names the path."""


def default_model_path() -> Path:
    """``$EMOTION_CAM_MODEL`` if set, else the shipped model in ``models/``."""
    if os.environ.get(MODEL_ENV):
        return Path(os.environ[MODEL_ENV])
    return shipped_path(MODEL_NAME)


def card_path(model_path: str | os.PathLike) -> Path:
    return Path(model_path).with_suffix(".json")


def load_card(model_path: str | os.PathLike) -> ModelCard:
    """The model card (JSON beside the model)."""
    try:
        return ModelCard.read(card_path(model_path))
    except CardError as exc:
        raise ModelError(str(exc)) from None


def equalise_histograms(crops: np.ndarray) -> np.ndarray:
    """Each (48, 48) uint8 crop of ``crops`` histogram-equalised, as FER-2013's faces are (the card's
    ``input.equalise_histogram``); training equalises its faces with this too."""
    return np.stack([cv2.equalizeHist(np.ascontiguousarray(c, np.uint8)) for c in crops])


class Classifier(Protocol):
    """What the pipeline needs from an emotion model, whatever its file format."""

    path: Path
    card: ModelCard
    mirror: bool  # average each crop with its mirror image
    unsure_below: float  # top probability under which a face is shown as unsure

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(N, 7) probabilities for (N, 48, 48) uint8 aligned crops."""
        ...


def load_classifier(model_path: str | os.PathLike | None = None, num_threads: int = 1, mirror: bool | None = None) -> Classifier:
    """The classifier for ``model_path`` (default: the shipped model), chosen by the file's suffix."""
    path = Path(model_path) if model_path else default_model_path()
    kinds = {".tflite": EmotionClassifier}
    if path.suffix.lower() not in kinds:
        raise ModelError(f"{path}: unsupported model format {path.suffix or '(no suffix)'}; supported: {', '.join(kinds)}")
    return kinds[path.suffix.lower()](path, num_threads=num_threads, mirror=mirror)


class EmotionClassifier:
    """Seven emotion probabilities per aligned face crop.

    With ``mirror`` each crop and its horizontal mirror go through the model in one
    batched call and their probabilities are averaged: a face's expression does not
    change with a flip, the model's errors partly do. ``None`` takes the model card's
    choice (``calibration.mirror_average``, measured on val), off for older cards.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, num_threads: int = 1, card: ModelCard | None = None,
                 mirror: bool | None = None):
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise ModelError(
                f"{path}: emotion model not found. The shipped model lives in the project's models/ folder "
                f"(reinstall or check out the project again), or point {MODEL_ENV} at a .tflite made by "
                f"'python -m training.reproduce'."
            )
        self.path = path
        self.card = load_card(path) if card is None else card
        from ai_edge_litert.interpreter import Interpreter

        try:
            with native_stderr_quiet():  # LiteRT's "Created TensorFlow Lite XNNPACK delegate" line
                self._interp = Interpreter(model_path=str(path), num_threads=num_threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: not a usable TFLite model ({exc})") from None
        inp = self._interp.get_input_details()[0]
        out = self._interp.get_output_details()[0]
        self._in_index, self._out_index = inp["index"], out["index"]
        self._in_dtype = inp["dtype"]
        self._in_scale, self._in_zero = inp["quantization"]
        self.input_quantisation = (float(self._in_scale), int(self._in_zero))  # what the card records
        self._out_scale, self._out_zero = out["quantization"]
        self.input_size = int(inp["shape"][1])
        if tuple(self.card.labels) != EMOTIONS or int(out["shape"][-1]) != len(EMOTIONS):
            raise ModelError(f"{path}: model outputs {out['shape'][-1]} classes {list(self.card.labels)}, expected {list(EMOTIONS)}")
        self._batch = 1
        self.mirror = self.card.mirror_average if mirror is None else bool(mirror)
        self.unsure_below = self.card.unsure_below  # chosen on val; 0 for cards without it

    def _quantise(self, crops: np.ndarray) -> np.ndarray:
        if self.card.input.equalise_histogram:
            crops = equalise_histograms(crops)
        x = crops.astype(np.float32)[..., None]
        if self._in_dtype == np.float32:
            return x
        info = np.iinfo(self._in_dtype)
        return np.clip(np.round(x / self._in_scale + self._in_zero), info.min, info.max).astype(self._in_dtype)

    def _run(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        if n != self._batch:
            self._interp.resize_tensor_input(self._in_index, [n, self.input_size, self.input_size, 1])
            self._interp.allocate_tensors()
            self._batch = n
        self._interp.set_tensor(self._in_index, batch)
        self._interp.invoke()
        out = self._interp.get_tensor(self._out_index)
        if out.dtype != np.float32:
            out = (out.astype(np.float32) - self._out_zero) * self._out_scale
        return out

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(N, 7) probabilities summing to 1 for (N, 48, 48) uint8 crops (or one (48, 48) crop -> (7,))."""
        crops = np.asarray(crops)
        single = crops.ndim == 2
        if single:
            crops = crops[None]
        if len(crops) == 0:
            return np.zeros((0, len(EMOTIONS)), np.float32)
        if crops.shape[1:] != (self.input_size, self.input_size):
            raise ValueError(f"crops must be {self.input_size}x{self.input_size}, got {crops.shape[1:]}")
        x = self._quantise(crops)
        if self.mirror:
            probs = self._run(np.concatenate([x, x[:, :, ::-1]]))
            probs = (probs[: len(x)] + probs[len(x):]) / 2
        else:
            probs = self._run(x)
        probs = np.clip(probs, 0.0, None)
        probs /= np.maximum(probs.sum(axis=1, keepdims=True), 1e-6)
        return probs[0] if single else probs
