"""The model card: the contract between ``training.reproduce``, which writes it as JSON beside the model, and the app.

The app reads the fields it acts on through this dataclass (labels, input size and
quantisation, crop geometry, calibration); everything else training records
(architecture, pruning, training run, figures) stays in ``details`` for Help → About
model. The JSON layout is the same as the dict training builds.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from emotion_cam.labels import EMOTIONS


class CardError(ValueError):
    """A model card that is missing or unreadable; the message names the file."""


@dataclass
class ModelCard:
    labels: tuple[str, ...] = EMOTIONS
    input: dict = field(default_factory=lambda: {"size": [48, 48], "channels": 1})  # size, quantisation, normalisation
    crop_geometry: dict = field(default_factory=dict)  # left_eye, right_eye, nose as fractions of the crop side
    metrics: dict = field(default_factory=dict)  # measured on FER-2013 val, as the app runs the model
    calibration: dict = field(default_factory=dict)  # temperature, mirror averaging, unsure threshold, ECE/NLL
    details: dict = field(default_factory=dict)  # name, size, params, MACs, latency, architecture, pruning, training ...
    key_order: list[str] = field(default_factory=list, repr=False, compare=False)  # the file's, kept when written back

    FIELDS = ("labels", "input", "crop_geometry", "metrics", "calibration")

    @property
    def input_size(self) -> int:
        return int(self.input["size"][0])

    @property
    def mirror_average(self) -> bool:
        return bool(self.calibration.get("mirror_average", False))

    @property
    def unsure_below(self) -> float:
        """Top probability under which a face is shown as unsure (0 for cards made before there was one)."""
        return float(self.calibration.get("unsure_below") or 0.0)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelCard":
        details = dict(data)
        known = {k: details.pop(k) for k in cls.FIELDS if k in details}
        if "labels" in known:
            known["labels"] = tuple(known["labels"])
        return cls(**known, details=details, key_order=list(data))

    def to_dict(self) -> dict:
        fields = {"labels": list(self.labels), "input": self.input, "crop_geometry": self.crop_geometry,
                  "metrics": self.metrics, "calibration": self.calibration}
        d = {**self.details, **{k: v for k, v in fields.items() if v or k in ("labels", "input")}}
        rank = {k: i for i, k in enumerate(self.key_order)}
        return dict(sorted(d.items(), key=lambda kv: rank.get(kv[0], len(rank))))

    @classmethod
    def read(cls, path: str | os.PathLike) -> "ModelCard":
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError:
            raise CardError(f"{path}: model card missing; it must sit beside the model (see models/README.md)") from None
        except (OSError, ValueError, TypeError) as exc:
            raise CardError(f"{path}: unreadable model card ({exc})") from None

    def write(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
