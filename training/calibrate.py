"""Per-class logit offsets tuned on val, folded into the output layer's bias.

Class weights make training see rare classes (disgust is 1.5% of FER-2013) but
do not fix where the final decisions fall, and pruning plus a short fine-tune
move them again. A constant offset per class on the logits shifts those
decision boundaries. The offsets are found by coordinate search on the
validation split, maximising accuracy + macro-F1 (the two figures the model is
judged by), and added to the softmax layer's bias, so the shipped model and its
int8 version include them and nothing changes at run time. They are kept only
if a two-fold estimate (tune on one half of val, score the other) shows a gain,
so what is shipped is not merely fitted to val.
"""
from __future__ import annotations

import numpy as np

from emotion_cam.emotion.card import Calibration, Metrics, ModelCard, OffsetEstimate, Plots, TemperatureFit, ValFigures
from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.emotion.metrics import classification_report

STEPS = np.round(np.arange(-3.0, 3.01, 0.1), 2)


def score(log_probs: np.ndarray, y: np.ndarray, offsets: np.ndarray) -> tuple[float, float]:
    """(accuracy, macro-F1) of argmax(log_probs + offsets)."""
    r = classification_report(y, (log_probs + offsets).argmax(1), log_probs.shape[1])
    return r.accuracy, r.macro_f1


def tune_offsets(log_probs: np.ndarray, y: np.ndarray, passes: int = 3) -> np.ndarray:
    """Offsets (one per class, mean zero) that maximise accuracy + macro-F1 on (log_probs, y)."""
    offsets = np.zeros(log_probs.shape[1])
    best = sum(score(log_probs, y, offsets))
    for _ in range(passes):
        improved = False
        for c in range(len(offsets)):
            for step in STEPS:
                trial = offsets.copy()
                trial[c] = step
                value = sum(score(log_probs, y, trial))
                if value > best + 1e-6:
                    best, offsets, improved = value, trial, True
        if not improved:
            break
    return offsets - offsets.mean()


def two_fold_estimate(log_probs: np.ndarray, y: np.ndarray, seed: int = 0) -> dict:
    """Accuracy and macro-F1 on each half of val with offsets tuned on the other half, vs none (means)."""
    rng = np.random.default_rng(seed)
    first = np.zeros(len(y), bool)
    for c in np.unique(y):  # stratified, so each half has its share of disgust
        idx = rng.permutation(np.flatnonzero(y == c))
        first[idx[: len(idx) // 2]] = True
    before, after = [], []
    for tune, test in ((first, ~first), (~first, first)):
        offsets = tune_offsets(log_probs[tune], y[tune])
        before.append(score(log_probs[test], y[test], np.zeros_like(offsets)))
        after.append(score(log_probs[test], y[test], offsets))
    b, a = np.mean(before, axis=0), np.mean(after, axis=0)
    return {"accuracy_before": round(float(b[0]), 4), "macro_f1_before": round(float(b[1]), 4),
            "accuracy_after": round(float(a[0]), 4), "macro_f1_after": round(float(a[1]), 4)}


def choose_offsets(log_probs: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, OffsetEstimate]:
    """Offsets tuned on all of val if the two-fold estimate gains, else zeros; plus the estimate."""
    estimate = two_fold_estimate(log_probs, y)
    gain = (estimate["accuracy_after"] + estimate["macro_f1_after"]) - (estimate["accuracy_before"] + estimate["macro_f1_before"])
    applied = gain > 0.0
    offsets = tune_offsets(log_probs, y) if applied else np.zeros(log_probs.shape[1])
    return offsets, OffsetEstimate(**estimate, applied=bool(applied))


def fold_into_model(model, offsets: np.ndarray, layer_name: str = "probs") -> None:
    """softmax(z + b + offsets): add the offsets to the output Dense layer's bias, in place."""
    layer = model.get_layer(layer_name)
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, (bias + offsets).astype(bias.dtype)])


# -- temperature scaling ----------------------------------------------------------------------------
# Users read the bars as probabilities. One temperature T for all classes, fitted on val by minimising
# the negative log-likelihood, makes softmax(z / T) say how often the model is right (Guo et al. 2017)
# without changing any argmax; dividing the output layer's kernel and bias by T folds it into the model.

def softmax(log_probs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = log_probs / temperature
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def scaled(log_probs: np.ndarray, temperature: float, mirrored: np.ndarray | None = None) -> np.ndarray:
    """Probabilities at ``temperature``; with the mirrored crops' log-probabilities, the mean of the two (as the runtime does)."""
    p = softmax(log_probs, temperature)
    return p if mirrored is None else (p + softmax(mirrored, temperature)) / 2


def cross_entropy(probs: np.ndarray, targets: np.ndarray) -> float:
    """Mean cross-entropy from target distributions (N, C) to ``probs``; with one-hot targets, the NLL."""
    return float(-(targets * np.log(np.clip(probs, 1e-12, 1.0))).sum(1).mean())


def fit_temperature(log_probs: np.ndarray, y: np.ndarray, mirrored: np.ndarray | None = None) -> float:
    """The T in [0.25, 4] minimising val NLL (golden-section search on log T; the NLL is unimodal in T).

    ``y``: class labels (N,), or target distributions (N, C) such as the share of ten people's votes: the bars
    then read as "how many of ten people would call it this"."""
    targets = np.asarray(y, np.float64) if np.ndim(y) == 2 else np.eye(log_probs.shape[1])[np.asarray(y)]

    def nll(log_t: float) -> float:
        return cross_entropy(scaled(log_probs, float(np.exp(log_t)), mirrored), targets)

    lo, hi = np.log(0.25), np.log(4.0)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(60):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return float(np.exp((lo + hi) / 2))


def unsure_threshold(probs: np.ndarray, y: np.ndarray, accuracy: float = 0.5, half_width: float = 0.05,
                     agreement: np.ndarray | None = None) -> float:
    """The top probability above which faces are right at least ``accuracy`` of the time, everywhere.

    Accuracy is measured locally (faces whose top probability lies within ``half_width``
    of t, at least 30 of them), so the threshold marks where the model becomes more
    likely wrong than right, not an average over everything below it. With ``agreement`` (for each face, 1
    where at least half of its ten people chose the emotion shown), it marks instead where most people would
    no longer call such faces what the label says.
    """
    conf = probs.max(1)
    right = (probs.argmax(1) == y).astype(float) if agreement is None else np.asarray(agreement, float)
    threshold = 0.0
    for t in np.round(np.arange(0.20, 0.901, 0.01), 2):
        near = np.abs(conf - t) < half_width
        if near.sum() >= 30 and right[near].mean() < accuracy:
            threshold = float(t) + 0.01
    return round(threshold, 2)


def fold_temperature(model, temperature: float, layer_name: str = "probs") -> None:
    """softmax((z + b) / T): divide the output Dense layer's kernel and bias by T, in place."""
    layer = model.get_layer(layer_name)
    kernel, bias = layer.get_weights()
    layer.set_weights([(kernel / temperature).astype(kernel.dtype), (bias / temperature).astype(bias.dtype)])


# -- what the runtime does with an int8 model ---------------------------------------------------------

def runtime_calibration(model_path, val_x: np.ndarray, val_y: np.ndarray, temperature: float | None,
                        val_fp32: TemperatureFit | None = None,
                        val_shares: np.ndarray | None = None) -> tuple[Calibration, np.ndarray]:
    """Measure the int8 model through LiteRT as the app runs it: with and without mirror averaging, ECE/NLL, and
    the "unsure" threshold. Mirror averaging is switched on when it does not cost val accuracy.
    With ``val_shares`` (each val face's vote shares), "unsure" means that most people would not call such a face
    what the label says (fewer than half of its ten people chose the emotion shown, more often than not), and the
    card records the bars' cross-entropy to the shares and
    how often a face that at least 7 of 10 people call neutral is shown unsure.
    Returns the card's calibration block and the val probabilities as the app computes them.
    """
    from emotion_cam.emotion.classifier import EmotionClassifier
    from emotion_cam.emotion.evaluate import predict_all
    from emotion_cam.emotion.metrics import reliability

    single = predict_all(EmotionClassifier(model_path, card=ModelCard(), mirror=False), val_x)
    mirrored = predict_all(EmotionClassifier(model_path, card=ModelCard(), mirror=True), val_x)
    single_figures, mirrored_figures = figures(single, val_y), figures(mirrored, val_y)
    use_mirror = mirrored_figures.accuracy >= single_figures.accuracy
    shown = mirrored if use_mirror else single
    # (Each face's largest vote share is at least one half on average at every top probability here, so "people
    # disagree among themselves" never marks a face unsure; "most would not say what the label says" does.)
    agreement = None if val_shares is None else val_shares[np.arange(len(shown)), shown.argmax(1)] >= 0.5
    threshold = unsure_threshold(shown, val_y, agreement=agreement)
    unsure = shown.max(1) < threshold
    right = shown.argmax(1) == val_y
    votes = {}
    if val_shares is not None:
        calm = val_shares[:, EMOTIONS.index("neutral")] >= 0.7
        votes = {"val_vote_cross_entropy": cross_entropy(shown, val_shares),
                 "val_calm_faces_unsure": float(unsure[calm].mean()) if calm.any() else None}
    rule = ("top probability below the point above which, of the val faces with about that top probability (+-0.05), "
            "at least half have the emotion shown chosen by at least half of their ten people" if val_shares is not None else
            "top probability below the point above which val faces with about that top probability (+-0.05) are "
            "right at least half the time")
    return Calibration(
        temperature=temperature,
        mirror_average=bool(use_mirror),
        val_int8_single=single_figures,
        val_int8_mirror_average=mirrored_figures,
        unsure_below=threshold,
        unsure_rule=rule,
        val_unsure_fraction=float(unsure.mean()),
        val_accuracy_unsure=float(right[unsure].mean()) if unsure.any() else None,
        val_accuracy_sure=float(right[~unsure].mean()) if (~unsure).any() else None,
        reliability=reliability(shown, val_y),
        val_fp32=val_fp32,
        **votes,
    ), shown


def figures(probs: np.ndarray, y: np.ndarray) -> ValFigures:
    """Accuracy and how well the probabilities say it (ECE, NLL)."""
    from emotion_cam.emotion.metrics import expected_calibration_error, negative_log_likelihood

    return ValFigures(accuracy=float((probs.argmax(1) == y).mean()), ece=expected_calibration_error(probs, y),
                      nll=negative_log_likelihood(probs, y), mean_top_probability=float(probs.max(1).mean()))


def main(argv: list[str] | None = None) -> int:
    """Re-measure a finished int8 model's runtime calibration on val and write it into its card (and the reliability diagram).

    ``training.reproduce`` does this for every model it makes; this command is for a model made before it did.
    """
    import argparse
    import json
    from dataclasses import asdict, replace
    from pathlib import Path

    from emotion_cam.emotion.classifier import card_path, load_card
    from emotion_cam.emotion.metrics import classification_report
    from training.split_cache import load_cached
    from training.report import plot_confusion, plot_reliability

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--model", default="models/emotion_int8.tflite")
    p.add_argument("--data", required=True, help="FER-2013 root (val/ is used), or a val folder")
    p.add_argument("--cache-dir", default=".cache")
    args = p.parse_args(argv)
    card = load_card(args.model)
    val = load_cached(args.data, "val", args.cache_dir)
    calibration, shown_probs = runtime_calibration(args.model, val.x, val.y, card.calibration.temperature,
                                                   card.calibration.val_fp32)
    report = classification_report(val.y, shown_probs.argmax(1))
    split = card.metrics.split if card.metrics else f"{args.data} val"
    plots = card.plots or Plots()
    card = replace(card, calibration=calibration, metrics=Metrics.from_report(report, split, calibration.mirror_average), plots=plots)
    card.write(card_path(args.model))
    plot_confusion(report, Path(args.model).parent / plots.confusion_matrix, "int8 model on FER-2013 val (PublicTest)")
    t = calibration.temperature
    plot_reliability(calibration.reliability, Path(args.model).parent / plots.reliability,
                     f"int8 model on FER-2013 val, {'mirror-averaged' if calibration.mirror_average else 'single crop'}, "
                     + (f"T={t:.2f}" if t else "no temperature scaling"))
    shown = asdict(calibration.shown)
    print(json.dumps({k: v for k, v in asdict(calibration).items() if k not in ("reliability", "val_fp32")} | {"shown": shown}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
