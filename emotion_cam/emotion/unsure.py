"""When a face is shown as "unsure": the one decision, from the model card's threshold.

A face whose largest bar is below the card's threshold (``calibration.unsure_below``, chosen on val) is
unsure: the overlay and panel say "unsure" in grey, ``predict --json`` says ``"unsure": true`` and the
CSVs have ``unsure`` 1. A tracked face shown as unsure leaves that state only once its largest bar is
``HYSTERESIS`` above the threshold, so that a face hovering at the line does not blink between "unsure" and
a label; a still image has no history and is judged at the threshold itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

HYSTERESIS = 0.03


@dataclass(frozen=True)
class UnsureRule:
    below: float  # the card's threshold; 0: never unsure
    hysteresis: float = HYSTERESIS

    def __call__(self, probs: np.ndarray, was_unsure: bool = False) -> bool:
        return bool(np.max(probs) < self.below + (self.hysteresis if was_unsure else 0.0))
