"""The model card: the contract between ``training.reproduce``, which builds it, and the app, which reads it.

Training fills a ``ModelCard`` and writes it as JSON beside the model; the app, the
About dialog and the calibration tools read the same typed fields back. The JSON
layout is ``dataclasses.asdict`` of the card (optional sections left out when
empty), and reading it checks every field's type, so a card from a different
version of the code fails with one message naming the field instead of a
``KeyError`` deep in the pipeline.
"""
from __future__ import annotations

import json
import os
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.emotion.metrics import Report
from emotion_cam.media.outputs import write_bytes

Point = tuple[float, float]


# Sections added after cards were first written: left out of a card while empty, so older cards stay as they were.
OPTIONAL = {"omit_if_none": True}


class CardError(ValueError):
    """A model card that is missing or unreadable; the message names the file."""


@dataclass
class InputSpec:
    """What the model takes: a square grayscale crop, int8 with the model's own quantisation."""

    size: tuple[int, int] = (48, 48)
    channels: int = 1
    dtype: str = "int8"
    normalisation: str = ("grayscale pixel values 0..255 (BGR converted with OpenCV), quantised as "
                          "round(p / scale + zero_point); the model divides by 255 itself")
    scale: float | None = None  # the input tensor's, read back from the converted model
    zero_point: int | None = None
    # FER-2013's faces are histogram-equalised (84% lie within 4 grey levels of cv2.equalizeHist of themselves),
    # so the classifier equalises each crop the same way: a face in a dim or washed-out frame then reaches the
    # model as its training faces did. Cards without the field were all trained on FER-2013 too.
    equalise_histogram: bool = True


@dataclass
class LandmarkGeometry:
    """Where one landmark source puts the eyes and nose on the training crops (fractions of the crop side)."""

    left_eye: Point
    right_eye: Point
    nose: Point
    spread_iqr: dict[str, Point] = field(default_factory=dict)  # interquartile range per point
    faces_measured: int = 0
    faces_tried: int = 0
    method: str = ""


@dataclass
class Architecture:
    name: str
    separable: bool
    widths_before_pruning: list[int]
    widths: list[int]


@dataclass
class Conversion:
    route: str  # the frameworks the weights went through
    max_probability_difference_on_val: float


@dataclass
class Metrics(Report):
    """The shipped model on FER-2013 val, run as the app runs it (its mirror-averaging choice)."""

    split: str = ""
    mirror_average: bool = False

    @classmethod
    def from_report(cls, report: Report, split: str, mirror_average: bool) -> "Metrics":
        return cls(**asdict(report), split=split, mirror_average=mirror_average)


@dataclass
class Score:
    accuracy: float
    macro_f1: float


@dataclass
class OffsetEstimate:
    """Offsets tuned on one half of val and scored on the other, both ways, against none."""

    accuracy_before: float
    macro_f1_before: float
    accuracy_after: float
    macro_f1_after: float
    applied: bool


@dataclass
class ClassOffsets:
    method: str
    offsets: dict[str, float]
    val_fp32_before: Score
    val_fp32_after: Score
    two_fold_estimate: OffsetEstimate | None = None


@dataclass
class ValFigures:
    accuracy: float
    ece: float
    nll: float
    mean_top_probability: float | None = None


@dataclass
class TemperatureFit:
    """The float model's val figures before and after dividing its logits by the temperature."""

    temperature: float
    before: ValFigures
    after: ValFigures


@dataclass
class Calibration:
    """What the bars mean: the temperature folded into the model, and how the int8 model measured on val."""

    mirror_average: bool = False
    temperature: float | None = None
    unsure_below: float = 0.0  # top probability under which a face is shown as unsure; 0: never
    unsure_rule: str = ""
    val_int8_single: ValFigures | None = None
    val_int8_mirror_average: ValFigures | None = None
    val_unsure_fraction: float | None = None
    val_accuracy_unsure: float | None = None
    val_accuracy_sure: float | None = None
    reliability: list[dict] = field(default_factory=list)  # metrics.reliability's bins, for the diagram
    val_fp32: TemperatureFit | None = None
    # With FER+ votes: the cross-entropy from val's vote shares to the shown bars, and how often a face that at
    # least 7 of 10 people call neutral is shown unsure.
    val_vote_cross_entropy: float | None = field(default=None, metadata=OPTIONAL)
    val_calm_faces_unsure: float | None = field(default=None, metadata=OPTIONAL)

    @property
    def shown(self) -> ValFigures | None:
        """The figures of the probabilities the app shows (mirror-averaged or not, as the card chose)."""
        return self.val_int8_mirror_average if self.mirror_average else self.val_int8_single


@dataclass
class PruningStage:
    params: int
    macs: int
    int8_size_bytes: int
    int8_latency_ms: float
    val_accuracy_fp32: float
    val_accuracy_int8: float


@dataclass
class Pruning:
    applied: bool
    method: str
    keep_fraction: float
    before: PruningStage
    after: PruningStage
    val_accuracy_fp32_before_finetune: float  # pruned at once, before fine-tuning recovered what it could
    # What the long run trained on: "hard labels", "distillation" (the teachers' soft targets) or "the FER+ vote
    # distributions"; with --finetune-distill, also the unpruned network's probabilities and their weight.
    finetune_loss: str = "hard labels"


@dataclass
class Quantisation:
    method: str
    calibration_faces: int  # training faces that set the activation ranges
    note: str
    val_accuracy_fp32: float
    val_accuracy_int8: float
    val_macro_f1_fp32: float
    val_macro_f1_int8: float
    fp32_size_bytes: int


@dataclass
class Teacher:
    arch: str
    epochs: int
    val_accuracy_mirror_average: float


@dataclass
class Distillation:
    """Where the student's soft targets came from and how much they weighed."""

    teachers: dict[str, Teacher]
    ensemble_val_accuracy_mirror_average: float
    weight: float  # share of the loss that follows the soft targets
    temperature: float
    targets: str  # how they were computed (precomputed once per face, or online)


@dataclass
class LabelSource:
    """What the model learnt from, when it is not FER-2013's own one-person labels."""

    name: str  # "FER+ votes"
    files: str  # where the votes were read
    licence: str
    provenance: str
    rules: dict  # how votes became targets (training.targets)
    summary: dict  # faces kept and dropped


@dataclass
class Training:
    data: str
    faces: int
    config: dict  # training.train.TrainConfig as a dict: the runtime never imports training
    command: str
    machine: str
    seconds: int
    initialised_from: str | None = None
    finetune_config: dict | None = None
    finetune_fraction: float = 1.0
    labels: LabelSource | None = field(default=None, metadata=OPTIONAL)  # None: FER-2013's folder labels


@dataclass
class Plots:
    """The figures training drew, as file names beside the model."""

    confusion_matrix: str = "confusion_matrix.png"
    reliability: str = "reliability.png"
    training_curves: str = "training_curves.png"


@dataclass
class ModelCard:
    name: str = "EmotionCam FER-2013 emotion CNN"
    file: str = "emotion_int8.tflite"
    labels: tuple[str, ...] = EMOTIONS
    input: InputSpec = field(default_factory=InputSpec)
    output: str = "int8 softmax over labels; dequantise with the tensor's scale/zero_point"
    crop_geometry: dict[str, LandmarkGeometry] = field(default_factory=dict)  # per landmark source (align.LANDMARK_SOURCES)
    architecture: Architecture | None = None
    params: int | None = None
    macs: int | None = None
    size_bytes: int | None = None
    latency_ms_single_thread_median: float | None = None
    metrics: Metrics | None = None  # on val against the labels the model is judged by (FER+ plurality, if trained on it)
    metrics_fer2013_labels: Score | None = None  # the same faces against FER-2013's one-person labels, for comparison
    calibration: Calibration = field(default_factory=Calibration)
    conversion: Conversion | None = None
    pruning: Pruning | None = None
    class_offsets: ClassOffsets | None = None
    quantisation: Quantisation | None = None
    distillation: Distillation | None = None
    training: Training | None = None
    plots: Plots | None = None

    @property
    def input_size(self) -> int:
        return int(self.input.size[0])

    @property
    def mirror_average(self) -> bool:
        return self.calibration.mirror_average

    @property
    def unsure_below(self) -> float:
        """Top probability under which a face is shown as unsure (0 for cards made before there was one)."""
        return float(self.calibration.unsure_below or 0.0)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelCard":
        """Raises ``TypeError`` naming the field that is missing, unknown or of the wrong type."""
        return _build(cls, data, "card")

    def to_dict(self) -> dict:
        return _drop_empty(_omit_optional(self, asdict(self)))

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
        write_bytes(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode())  # temporary file, then rename


def _omit_optional(obj, d: dict) -> dict:
    """``d`` (``asdict(obj)``) without the ``OPTIONAL`` fields that are None, at every depth."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None and f.metadata.get("omit_if_none"):
            d.pop(f.name, None)
        elif is_dataclass(value):
            _omit_optional(value, d[f.name])
    return d


def _drop_empty(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None and v != {}}


def _build(tp, value, where: str):
    """``value`` (parsed JSON) as type ``tp``: dataclasses by their fields, containers by their items."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _build(inner, value, where)
    if is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected an object, got {type(value).__name__}")
        hints = typing.get_type_hints(tp)
        names = {f.name for f in fields(tp)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise TypeError(f"{where}: unknown field {unknown[0]!r}")
        missing = [f.name for f in fields(tp) if f.name not in value and f.default is MISSING
                   and f.default_factory is MISSING]
        if missing:
            raise TypeError(f"{where}: missing field {missing[0]!r}")
        return tp(**{k: _build(hints[k], v, f"{where}.{k}") for k, v in value.items()})
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise TypeError(f"{where}: expected a list, got {type(value).__name__}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise TypeError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_build(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else typing.Any
        return origin(_build(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{where}: expected an object, got {type(value).__name__}")
        item = args[1] if args else typing.Any
        return {k: _build(item, v, f"{where}.{k}") for k, v in value.items()}
    if tp is typing.Any:
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise TypeError(f"{where}: expected {tp.__name__}, got {type(value).__name__}")
    return value
