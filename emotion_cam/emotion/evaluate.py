"""Evaluate the TFLite classifier alone on labelled face crops (see ``emotion_cam.emotion.dataset`` for the inputs)."""
from __future__ import annotations

import time

import numpy as np

from emotion_cam.emotion.classifier import EmotionClassifier


def predict_all(classifier: EmotionClassifier, faces: np.ndarray, batch: int = 64) -> np.ndarray:
    return np.concatenate([classifier.predict(faces[i:i + batch]) for i in range(0, len(faces), batch)])


def latency_ms(classifier: EmotionClassifier, face: np.ndarray, runs: int = 300) -> float:
    """Median single-face inference time in ms (after warm-up)."""
    for _ in range(20):
        classifier.predict(face)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        classifier.predict(face)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)
