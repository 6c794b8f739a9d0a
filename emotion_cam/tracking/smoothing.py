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


class TrackSmoother:
    """One ``EmotionSmoother`` per track ID: the next link after the tracker (tracks -> smoothing -> drawing).

    A new ID starts fresh; IDs no longer tracked are forgotten.
    """

    def __init__(self, time_constant_s: float = 0.25):
        self.time_constant_s = time_constant_s
        self._by_id: dict[int, EmotionSmoother] = {}

    def reset(self) -> None:
        self._by_id.clear()

    def update(self, ids: list[int], probs, t: float) -> np.ndarray:
        """Smoothed (N, 7) probabilities for this frame's tracks ``ids`` with raw ``probs`` at time ``t``.

        A row of ``probs`` may be None: that face was not classified this frame and keeps its smoothed value.
        """
        self._by_id = {i: self._by_id.get(i) or EmotionSmoother(self.time_constant_s) for i in ids}
        rows = []
        for i, p in zip(ids, probs):
            smoother = self._by_id[i]
            rows.append(smoother.probs if p is None and smoother.probs is not None else smoother.update(p, t))
        return np.array(rows, np.float32) if rows else np.zeros((0, 0), np.float32)
