"""Temporal smoothing of one face's probabilities, so the shown label follows expressions, not noise.

An exponential moving average whose weight comes from the time between
frames (a time constant in seconds), so it behaves the same at 10 or 60 fps.
The label shown is always the largest smoothed probability, i.e. the largest
bar drawn beside it: steadiness comes from smoothing the probabilities
themselves, never from a label that disagrees with its bars.
"""
from __future__ import annotations

import math

import numpy as np


class EmotionSmoother:
    def __init__(self, time_constant_s: float = 0.25):
        self.time_constant_s = time_constant_s
        self.probs: np.ndarray | None = None
        self._t: float | None = None

    def reset(self) -> None:
        self.probs, self._t = None, None

    def update(self, probs: np.ndarray, t: float) -> np.ndarray:
        """Blend in this frame's ``probs`` observed at time ``t`` (seconds); returns the smoothed probabilities."""
        probs = np.asarray(probs, np.float32)
        if self.probs is None or self._t is None or self.time_constant_s <= 0:
            self.probs = probs.copy()
        else:
            dt = max(t - self._t, 0.0)
            alpha = 1.0 - math.exp(-dt / self.time_constant_s)
            self.probs = (1.0 - alpha) * self.probs + alpha * probs
        self._t = t
        return self.probs
