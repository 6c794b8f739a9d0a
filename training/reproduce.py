"""One command from FER-2013 to the shipped model: train -> Keras copy -> prune -> fine-tune -> class offsets -> int8 -> export.

    python -m training.reproduce --data ../shared/datasets/fer2013 --out models

Training runs in PyTorch (``training.train``); the weights are then copied into
the identical Keras build (``training.convert``) because the int8 path is
TensorFlow Lite's converter. Every training stage checkpoints into ``--runs``
after each epoch and is skipped when finished, so an interrupted run picks up
where it stopped; ``--durable DIR`` keeps a copy of the long run's checkpoint in
a folder that is committed, so a new machine resumes from there. The export
writes the int8 model, its model card (JSON), a confusion-matrix PNG and a
training-curve PNG.

Everything that decides the model is one ``Recipe``, where its inputs and outputs
live is ``Paths``, and ``run`` calls the stages in order, each a function of its own.
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from emotion_cam.emotion import card as cards
from emotion_cam.emotion.card import ModelCard
from emotion_cam.emotion.classifier import EmotionClassifier
from emotion_cam.emotion.dataset import Split, load_folder, resolve
from emotion_cam.emotion.evaluate import latency_ms, predict_all
from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.emotion.metrics import Report, classification_report
from emotion_cam.measure.machine import machine
from emotion_cam.media.outputs import write_bytes
from training.split_cache import load_cached
from training.targets import Targets, prepare
from training.train import TrainConfig, add_config_arguments, as_seen, config_from

log = logging.getLogger("training.reproduce")
MODEL_FILE = "emotion_int8.tflite"


@dataclass
class Recipe:
    """Everything that decides the model; the training run's own settings are ``train``."""

    train: TrainConfig = field(default_factory=TrainConfig)
    teachers: tuple[str, ...] = ()  # training.teachers names: distil their ensemble (train.distill_weight > 0)
    keep: float = 0.75  # fraction of channels kept by pruning; 1: no pruning
    finetune_epochs: int = 1  # after pruning: a quarter of the learning rate, no warm-up, no weight average (by default)
    finetune_fraction: float = 1.0  # of the training set seen per fine-tuning epoch
    finetune_distill: float = 0.0  # > 0: the pruned net also follows the unpruned one's probabilities, with this weight
    finetune_ema: bool = False  # keep the long run's weight average (ema_decay) while fine-tuning too
    class_offsets: bool = True  # tune per-class logit offsets on val (kept only if a two-fold estimate gains)
    int8_faces: int = 500  # training faces that set the int8 activation ranges (the converter's representative data)
    geometry_faces: int = 3000  # training faces whose landmarks fix the crop geometry
    limit_per_class: int = 0  # > 0: only this many faces per class (smoke tests)

    def finetune(self, widths: list[int]) -> TrainConfig:
        return replace(self.train, epochs=self.finetune_epochs, lr=self.train.lr / 4, warmup_epochs=0, widths=widths,
                       ema_decay=self.train.ema_decay if self.finetune_ema else 0.0,
                       distill_weight=self.finetune_distill or self.train.distill_weight)


@dataclass
class Paths:
    data: str  # FER-2013 root with train/ and val/, or fer2013.csv
    out: Path = Path("models")  # the model, its card and figures
    runs: Path = Path("runs")  # checkpoints and logs (resumable)
    cache_dir: str = ".cache"  # decoded splits
    durable: str | None = None  # a committed copy of the long run's checkpoint
    init: str | None = None  # start training from this best.pt
    teacher_durable: str | None = "training/checkpoints"  # the teachers' committed checkpoints (teacher-NAME/)
    votes: str | None = None  # the FER+ votes folder (labels "ferplus"); None: DATA/ferplus


@dataclass
class Data:
    train: Split
    val: Split


@dataclass
class Pruned:
    model: object  # a Keras model
    widths: list[int]
    at_once: Report  # pruned, before fine-tuning
    finetune: TrainConfig | None


@dataclass
class Quantised:
    blob: bytes
    fp32_blob: bytes
    single: Report  # int8 on val, single crops
    latency_ms: float
    base_blob: bytes  # the unpruned model in int8, for the card's before/after
    base_report: Report
    base_latency_ms: float
    faces: int  # representative faces used


def keras_probs(model, split: Split, batch: int = 256) -> np.ndarray:
    # Eager calls, not predict(): predict traces a tf.function for every new model (tens of seconds on 2 cores),
    # while a forward pass in batches needs no tracing.
    x = split.x[..., None].astype(np.float32)
    return np.concatenate([np.asarray(model(x[i:i + batch], training=False)) for i in range(0, len(x), batch)])


def keras_report(model, split: Split):
    return classification_report(split.y, keras_probs(model, split).argmax(1))


def tflite_stats(blob: bytes, path: Path, split: Split) -> tuple[dict, float]:
    """Write ``blob`` to ``path``; return its val report (via LiteRT) and median single-thread latency."""
    write_bytes(path, blob)
    clf = EmotionClassifier(path, num_threads=1, card=ModelCard())
    report = classification_report(split.y, predict_all(clf, split.x).argmax(1))
    return report, latency_ms(clf, split.x[0])


def load_data(recipe: Recipe, paths: Paths) -> tuple[Data, Targets | None]:
    """The splits as the recipe's labels ask: with FER+ votes, val is labelled by the plurality (see training.targets)."""
    if recipe.limit_per_class:
        train_split, val_split = (load_folder(resolve(paths.data, s), limit_per_class=recipe.limit_per_class)
                                  for s in ("train", "val"))
    else:
        train_split, val_split = load_cached(paths.data, "train", paths.cache_dir), load_cached(paths.data, "val", paths.cache_dir)
    cfg = recipe.train
    train_split, val_split, targets = prepare(cfg.labels, train_split, val_split, paths.data, paths.votes, cfg.min_votes,
                                              cfg.missing_votes_weight, cfg.fer_mix)
    return Data(as_seen(cfg, train_split), as_seen(cfg, val_split)), targets


def teach(recipe: Recipe, paths: Paths, data: Data,
          targets: Targets | None = None) -> tuple[np.ndarray | None, cards.Distillation | None]:
    """Stage 0: the teachers (trained, resumed or loaded) and their ensemble's soft targets; nothing without teachers."""
    if not recipe.teachers:
        return None, None
    from training.teachers import ensemble_probs, mirror_probs, soft_targets, train_teachers

    nets = train_teachers(list(recipe.teachers), data.train, data.val, paths.runs,
                          Path(paths.teacher_durable) if paths.teacher_durable else None, recipe.train.threads,
                          targets)
    from training.teachers import TEACHERS

    accuracy = lambda p: float((p.argmax(1) == data.val.y).mean())  # noqa: E731
    report = cards.Distillation(
        teachers={n: cards.Teacher(net.arch.name, TEACHERS[n].epochs, accuracy(mirror_probs(net, data.val.x)))
                  for n, net in nets.items()},
        ensemble_val_accuracy_mirror_average=accuracy(ensemble_probs(list(nets.values()), data.val.x)),
        weight=recipe.train.distill_weight, temperature=recipe.train.distill_temperature,
        targets="precomputed once per training face: the teachers' mirror-averaged probabilities, averaged")
    log.info("teachers %s; ensemble val accuracy %.4f", report.teachers, report.ensemble_val_accuracy_mirror_average)
    return soft_targets(nets, data.train.x, paths.runs, paths.cache_dir), report


def train_base(recipe: Recipe, paths: Paths, data: Data, soft: np.ndarray | None = None,
               targets: Targets | None = None):
    """Stage 1: the long PyTorch run (resumable; picks up the durable checkpoint on a new machine)."""
    from training.train import load_net, train

    init = load_net(paths.init) if paths.init else None
    return train(recipe.train, data.train, data.val, paths.runs / recipe.train.arch, init=init, durable=paths.durable,
                 soft_targets=soft, targets=targets)


def export_to_keras(net, val_split: Split):
    """Stage 2: the same weights in the Keras build; returns it and the largest probability difference on val."""
    import torch

    from training.convert import to_keras
    from training.train import logits

    model = to_keras(net)
    diff = float(np.abs(keras_probs(model, val_split) - torch.softmax(logits(net, val_split.x), 1).numpy()).max())
    if diff > 1e-3:
        raise RuntimeError(f"the Keras copy disagrees with the PyTorch model by {diff:.2g} in probability on val")
    return model, diff


def prune_and_finetune(base, widths: list[int], base_report: Report, recipe: Recipe, paths: Paths,
                       data: Data, soft: np.ndarray | None = None, targets: Targets | None = None) -> Pruned:
    """Stage 3: channel pruning in Keras, fine-tuning of the narrower net in PyTorch, back to Keras (nothing with keep 1).

    A distilled student is fine-tuned with the same loss it was trained with (the teachers' soft targets), which
    recovers more of what pruning cost than the hard labels alone.
    """
    if recipe.keep >= 1.0:
        return Pruned(base, widths, base_report, None)
    from training.convert import from_keras, to_keras
    from training.prune import prune
    from training.train import train

    arch, seed = recipe.train.arch, recipe.train.seed
    pruned, widths = prune(base, arch, recipe.keep)
    at_once = keras_report(pruned, data.val)
    ft_cfg = recipe.finetune(widths)
    ft_split, ft_soft, ft_targets = data.train, soft, targets
    if recipe.finetune_fraction < 1.0:
        rng = np.random.default_rng(seed)
        keep_idx = np.sort(rng.permutation(len(data.train))[: int(len(data.train) * recipe.finetune_fraction)])
        ft_split = data.train.subset(keep_idx)
        ft_soft = None if soft is None else soft[keep_idx]
        ft_targets = None if targets is None else Targets(ft_split, targets.probs[keep_idx], targets.weights[keep_idx],
                                                           targets.summary)
    tuned = train(ft_cfg, ft_split, data.val, paths.runs / f"{arch}-pruned", init=from_keras(pruned, arch),
                  soft_targets=ft_soft, targets=ft_targets)
    return Pruned(to_keras(tuned), widths, at_once, ft_cfg)


def finetune_loss(recipe: Recipe, targets: Targets | None) -> str:
    """What the pruned network was fine-tuned against: the same targets as the long run, and with
    ``--finetune-distill`` the unpruned network's probabilities beside them."""
    own = "the FER+ vote distributions" if targets is not None else "hard labels"
    w = recipe.finetune_distill
    if w:
        return (f"{own} ({1 - w:g}) and the unpruned network's mirror-averaged probabilities "
                f"({w:g}, temperature {recipe.train.distill_temperature:g})")
    return "distillation" if recipe.train.distill_weight else own


def unpruned_targets(recipe: Recipe, net, data: Data, soft: np.ndarray | None) -> np.ndarray | None:
    """The soft targets the pruned network is fine-tuned towards: with ``--finetune-distill``, the unpruned
    network's own mirror-averaged probabilities on every training face (pruning's teacher is the network it
    was cut from, which scored more than the cut copy recovers from the labels alone); otherwise the teachers'."""
    if not recipe.finetune_distill or recipe.keep >= 1.0:
        return soft
    if recipe.teachers:
        raise ValueError("--finetune-distill distils the unpruned network; it cannot be combined with --teachers")
    from training.teachers import mirror_probs

    return mirror_probs(net, data.train.x).astype(np.float32)


def tune_class_offsets(model, probs: np.ndarray, recipe: Recipe,
                       val_split: Split) -> tuple[np.ndarray, cards.OffsetEstimate | None]:
    """Stage 4: per-class logit offsets tuned on val, folded into the output layer's bias (zeros when turned off)."""
    from training.calibrate import choose_offsets, fold_into_model

    offsets, estimate = np.zeros(len(EMOTIONS)), None
    if recipe.class_offsets:
        offsets, estimate = choose_offsets(np.log(np.clip(probs, 1e-7, 1.0)), val_split.y)
    fold_into_model(model, offsets)
    return offsets, estimate


def calibrate_temperature(model, val_split: Split, shares: np.ndarray | None = None) -> tuple[float, cards.TemperatureFit]:
    """Stage 5: the temperature minimising val NLL of the mirror-averaged probabilities against the labels (with
    FER+ votes, the plurality), so that a bar at 80% is right 80% of the time; figures before and after.

    ``shares`` fits it to the vote shares instead (the bars then say how many of ten people would call a face so).
    Not the default: on model v4 that left the bars under-confident against the plurality (ECE 10.4%, mean top
    bar 0.75 at 85% accuracy), since a face's top vote share (0.75 on average) is lower than how often its
    plurality is found; fitted to the plurality, ECE falls to about 1.5% and the cross-entropy to the shares
    rises from 0.77 to 0.86 (training/README.md, model v4)."""
    from training.calibrate import figures, fit_temperature, scaled

    log_p = np.log(np.clip(keras_probs(model, val_split), 1e-12, 1.0))
    log_m = np.log(np.clip(keras_probs(model, Split(val_split.x[:, :, ::-1].copy(), val_split.y, "")), 1e-12, 1.0))
    temperature = fit_temperature(log_p, val_split.y if shares is None else shares, log_m)

    def at(t: float) -> cards.ValFigures:
        return figures(scaled(log_p, t, log_m), val_split.y)

    return temperature, cards.TemperatureFit(temperature, before=at(1.0), after=at(temperature))


def quantise(model, base, recipe: Recipe, paths: Paths, data: Data) -> Quantised:
    """Stage 6: full-integer int8 (and float32 for the card's comparison) into ``out``; the unpruned model too if pruned."""
    from training.quantize import representative_faces, saved_model, to_tflite

    rep = representative_faces(data.train.x, data.train.y, n=recipe.int8_faces)
    with saved_model(model) as saved:
        blob, fp32_blob = to_tflite(saved, rep), to_tflite(saved)
    single, latency = tflite_stats(blob, paths.out / MODEL_FILE, data.val)
    if model is base:
        return Quantised(blob, fp32_blob, single, latency, blob, single, latency, len(rep))
    with saved_model(base) as saved:
        base_blob = to_tflite(saved, rep)
    base_report, base_latency = tflite_stats(base_blob, paths.runs / "unpruned_int8.tflite", data.val)
    return Quantised(blob, fp32_blob, single, latency, base_blob, base_report, base_latency, len(rep))


def run(recipe: Recipe, paths: Paths) -> ModelCard:
    from training.calibrate import fold_temperature, runtime_calibration
    from training.geometry import measure_all

    started = time.time()
    paths.runs.mkdir(parents=True, exist_ok=True)
    paths.out.mkdir(parents=True, exist_ok=True)
    data, targets = load_data(recipe, paths)
    cfg = recipe.train

    if recipe.teachers and not cfg.distill_weight:
        raise ValueError("--teachers needs --distill-weight above 0")
    soft, distillation = teach(recipe, paths, data, targets)
    log.info("stage 1/7: training %s for %d epochs%s%s", cfg.arch, cfg.epochs, f" from {paths.init}" if paths.init else "",
             f", distilling {', '.join(recipe.teachers)}" if recipe.teachers else "")
    net = train_base(recipe, paths, data, soft, targets)

    log.info("stage 2/7: copying the weights into the Keras model for conversion")
    base, conversion_diff = export_to_keras(net, data.val)
    base_report = keras_report(base, data.val)
    log.info("Keras copy: val accuracy %.4f, largest probability difference %.2g", base_report.accuracy, conversion_diff)

    log.info("stage 3/7: %s", f"structured pruning (keep {recipe.keep:.0%} of channels) and fine-tuning"
             if recipe.keep < 1.0 else "no pruning (--keep 1)")
    pruned = prune_and_finetune(base, net.widths, base_report, recipe, paths, data,
                                unpruned_targets(recipe, net, data, soft), targets)
    pruned_probs = keras_probs(pruned.model, data.val)
    pruned_report = classification_report(data.val.y, pruned_probs.argmax(1))

    log.info("stage 4/7: per-class logit offsets, tuned on val")
    offsets, estimate = tune_class_offsets(pruned.model, pruned_probs, recipe, data.val)
    final_report = keras_report(pruned.model, data.val)
    log.info("two-fold estimate %s; val macro-F1 %.4f -> %.4f, accuracy %.4f -> %.4f", estimate, pruned_report.macro_f1,
             final_report.macro_f1, pruned_report.accuracy, final_report.accuracy)

    log.info("stage 5/7: temperature scaling on val (with mirror averaging), folded into the output layer")
    temperature, fp32_calibration = calibrate_temperature(pruned.model, data.val)
    fold_temperature(pruned.model, temperature)
    log.info("temperature %.3f: val NLL %.4f -> %.4f, ECE %.4f -> %.4f", temperature, fp32_calibration.before.nll,
             fp32_calibration.after.nll, fp32_calibration.before.ece, fp32_calibration.after.ece)

    log.info("stage 6/7: int8 quantisation")
    int8 = quantise(pruned.model, base, recipe, paths, data)
    calibration, shown_probs = runtime_calibration(paths.out / MODEL_FILE, data.val.x, data.val.y, temperature,
                                                   fp32_calibration, targets.val_shares if targets else None)
    log.info("int8 through LiteRT: %s single, %s mirror-averaged; unsure below %.2f", calibration.val_int8_single,
             calibration.val_int8_mirror_average, calibration.unsure_below)
    int8_report = classification_report(data.val.y, shown_probs.argmax(1))  # as the app runs it

    log.info("stage 7/7: crop geometry and export")
    card = build_card(
        recipe, paths, data, base=base, base_report=base_report, conversion_diff=conversion_diff, pruned=pruned,
        pruned_report=pruned_report, final_report=final_report, offsets=offsets, estimate=estimate, int8=int8,
        int8_report=int8_report, calibration=calibration, geometry=measure_all(data.train.x, limit=recipe.geometry_faces),
        distillation=distillation, seconds=time.time() - started, targets=targets, shown_probs=shown_probs)
    write_outputs(card, paths, recipe, int8_report)
    log.info("done in %.0f s:\n%s", time.time() - started, int8_report.format())
    return card


def build_card(recipe: Recipe, paths: Paths, data: Data, *, base, base_report, conversion_diff, pruned: Pruned,
               pruned_report, final_report, offsets, estimate, int8: Quantised, int8_report, calibration, geometry,
               distillation: cards.Distillation | None, seconds: float, targets: Targets | None = None,
               shown_probs: np.ndarray | None = None) -> ModelCard:
    """Stage 7: the model card; every figure in it was measured in this run."""
    from training.arch import ARCHITECTURES
    from training.models import count_macs

    cfg, model = recipe.train, pruned.model
    arch = ARCHITECTURES[cfg.arch]
    applied = recipe.keep < 1.0
    scale, zero_point = EmotionClassifier(paths.out / MODEL_FILE, card=ModelCard()).input_quantisation
    return ModelCard(
        file=MODEL_FILE,
        input=cards.InputSpec(scale=scale, zero_point=zero_point),
        crop_geometry=geometry,
        architecture=cards.Architecture(arch.name, arch.separable, arch.widths(), list(pruned.widths)),
        params=int(model.count_params()),
        macs=count_macs(model),
        size_bytes=len(int8.blob),
        latency_ms_single_thread_median=round(int8.latency_ms, 4),
        metrics=cards.Metrics.from_report(int8_report, f"{resolve(paths.data, 'val')} (FER-2013 PublicTest"
                                          + (", the faces with a FER+ plurality, labelled by it)" if targets else ")"),
                                          calibration.mirror_average),
        metrics_fer2013_labels=fer2013_score(targets, shown_probs),
        calibration=calibration,
        conversion=cards.Conversion("PyTorch (training.train) -> Keras -> TFLite", conversion_diff),
        pruning=cards.Pruning(
            applied=applied,
            method="channel pruning by BatchNorm |gamma| (network slimming), same fraction per conv, rounded to multiples of 4, then fine-tuning"
                   if applied else "none (--keep 1): the unpruned int8 model is the shipped one",
            keep_fraction=recipe.keep,
            before=cards.PruningStage(int(base.count_params()), count_macs(base), len(int8.base_blob),
                                      round(int8.base_latency_ms, 4), base_report.accuracy, int8.base_report.accuracy),
            after=cards.PruningStage(int(model.count_params()), count_macs(model), len(int8.blob), round(int8.latency_ms, 4),
                                     final_report.accuracy, int8.single.accuracy),
            val_accuracy_fp32_before_finetune=pruned.at_once.accuracy,
            finetune_loss=finetune_loss(recipe, targets) if applied else "none"),
        class_offsets=cards.ClassOffsets(
            method="per-class logit offsets maximising val accuracy + macro-F1, added to the softmax layer's bias; kept only if the two-fold estimate (tune on half of val, score the other half) gains",
            offsets=dict(zip(EMOTIONS, (round(float(v), 3) for v in offsets))),
            val_fp32_before=cards.Score(pruned_report.accuracy, pruned_report.macro_f1),
            val_fp32_after=cards.Score(final_report.accuracy, final_report.macro_f1),
            two_fold_estimate=estimate),
        quantisation=cards.Quantisation(
            method="full-integer post-training quantisation (int8 weights, activations, input, output)",
            calibration_faces=int8.faces,
            note="single crops, no mirror averaging, so that fp32 and int8 compare like for like",
            val_accuracy_fp32=final_report.accuracy, val_accuracy_int8=int8.single.accuracy,
            val_macro_f1_fp32=final_report.macro_f1, val_macro_f1_int8=int8.single.macro_f1,
            fp32_size_bytes=len(int8.fp32_blob)),
        distillation=distillation,
        training=cards.Training(
            data="FER-2013 Training split (28,709 faces), tuned on PublicTest; PrivateTest held back"
                 + ("; targets: the FER+ vote distributions" if targets else ""),
            labels=None if targets is None else cards.LabelSource(
                name="FER+ votes (ten crowd workers per face; Barsoum et al., ICMI 2016), probability mode",
                files=targets.votes_dir, licence="MIT (Copyright (c) Microsoft Corporation); images under FER-2013's terms",
                provenance="github.com/microsoft/FERPlus fer2013new.csv @ ae2128ab, matched to the FER-2013 JPEGs by "
                           "rank correlation of pixels (see the votes' README)",
                rules=targets.rules, summary=targets.summary),
            faces=int(len(data.train)),
            config=asdict(cfg),
            command="python -m training.reproduce " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            machine=machine(),
            seconds=round(seconds),
            initialised_from=paths.init,
            finetune_config=asdict(pruned.finetune) if pruned.finetune else None,
            finetune_fraction=recipe.finetune_fraction),
        plots=cards.Plots(),
    )


def fer2013_score(targets: Targets | None, shown_probs: np.ndarray | None) -> cards.Score | None:
    """With FER+ votes: the shown predictions against FER-2013's one-person labels of the same val faces."""
    if targets is None or shown_probs is None:
        return None
    report = classification_report(targets.val_fer_labels, shown_probs.argmax(1))
    return cards.Score(report.accuracy, report.macro_f1)


def write_outputs(card: ModelCard, paths: Paths, recipe: Recipe, int8_report: Report) -> None:
    """The card beside the model, and the figures models/README.md shows."""
    from training.report import plot_confusion, plot_curves, plot_reliability

    arch, cal, plots = recipe.train.arch, card.calibration, card.plots
    card.write((paths.out / MODEL_FILE).with_suffix(".json"))
    plot_confusion(int8_report, paths.out / plots.confusion_matrix, "int8 model on FER-2013 val (PublicTest)")
    plot_reliability(cal.reliability, paths.out / plots.reliability,
                     f"int8 model on FER-2013 val, {'mirror-averaged' if cal.mirror_average else 'single crop'}, "
                     f"T={cal.temperature:.2f}")  # no space: the wrapped title keeps it whole
    plot_curves({"training": paths.runs / arch / "log.csv", "fine-tuning after pruning": paths.runs / f"{arch}-pruned" / "log.csv"},
                paths.out / plots.training_curves)


def main(argv: list[str] | None = None) -> int:
    defaults = Recipe()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER-2013 root with train/ and val/, or fer2013.csv")
    p.add_argument("--out", default="models", help="where the model, card and figures go")
    p.add_argument("--runs", default="runs", help="checkpoints and logs (resumable)")
    p.add_argument("--cache-dir", default=".cache")
    p.add_argument("--durable", help="also keep the long run's checkpoint here after every epoch (a folder you commit); "
                                     "a run folder without a checkpoint resumes from it")
    p.add_argument("--init", help="start training from this best.pt (an earlier run's weights)")
    p.add_argument("--votes", help="folder of the FER+ votes (votes_train.csv, votes_val.csv) for --labels ferplus "
                                   "(default: DATA/ferplus)")
    p.add_argument("--teachers", default="", help="comma-separated training.teachers names whose ensemble the model "
                                                   "is distilled from (with --distill-weight); trained first if needed")
    p.add_argument("--teacher-durable", default=Paths.teacher_durable,
                   help="the teachers' committed checkpoints (teacher-NAME/ inside; default: %(default)s)")
    p.add_argument("--finetune-epochs", type=int, default=defaults.finetune_epochs)
    p.add_argument("--finetune-fraction", type=float, default=defaults.finetune_fraction,
                   help="fraction of the training set seen per fine-tuning epoch")
    p.add_argument("--finetune-distill", type=float, default=defaults.finetune_distill,
                   help="weight of the unpruned network's probabilities in the fine-tuning loss (0: the labels only; "
                        "softened by --distill-temperature)")
    p.add_argument("--finetune-ema", action="store_true",
                   help="average the weights while fine-tuning as the long run does (--ema-decay; default: off)")
    p.add_argument("--keep", type=float, default=defaults.keep, help="fraction of channels kept by pruning (1: no pruning)")
    add_config_arguments(p)
    p.add_argument("--no-class-offsets", dest="class_offsets", action="store_false",
                   help="skip tuning per-class logit offsets on val")
    p.add_argument("--int8-faces", "--calibration", dest="int8_faces", type=int, default=defaults.int8_faces,
                   help="training faces that set the int8 activation ranges (--calibration is its old name)")
    p.add_argument("--geometry-faces", type=int, default=defaults.geometry_faces)
    p.add_argument("--limit-per-class", type=int, default=defaults.limit_per_class, help="use only N faces per class (smoke tests)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    recipe = Recipe(train=config_from(args), teachers=tuple(n for n in args.teachers.split(",") if n), keep=args.keep, finetune_epochs=args.finetune_epochs,
                    finetune_fraction=args.finetune_fraction, finetune_distill=args.finetune_distill,
                    finetune_ema=args.finetune_ema, class_offsets=args.class_offsets, int8_faces=args.int8_faces,
                    geometry_faces=args.geometry_faces, limit_per_class=args.limit_per_class)
    paths = Paths(args.data, Path(args.out), Path(args.runs), args.cache_dir, args.durable, args.init, args.teacher_durable,
                  args.votes)
    run(recipe, paths)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
