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
"""
from __future__ import annotations

import argparse
import logging
import platform
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from emotion_cam.card import ModelCard
from emotion_cam.classify import EmotionClassifier
from emotion_cam.evaluate import latency_ms, predict_all
from emotion_cam.labels import EMOTIONS
from emotion_cam.metrics import classification_report
from training import data as fer
from training.train import TrainConfig, add_config_arguments, config_from

log = logging.getLogger("training.reproduce")
MODEL_FILE = "emotion_int8.tflite"


def keras_probs(model, split: fer.Split, batch: int = 256) -> np.ndarray:
    # Eager calls, not predict(): predict traces a tf.function for every new model (tens of seconds on 2 cores),
    # while a forward pass in batches needs no tracing.
    x = split.x[..., None].astype(np.float32)
    return np.concatenate([np.asarray(model(x[i:i + batch], training=False)) for i in range(0, len(x), batch)])


def keras_report(model, split: fer.Split):
    return classification_report(split.y, keras_probs(model, split).argmax(1))


def tflite_stats(blob: bytes, path: Path, split: fer.Split) -> tuple[dict, float]:
    """Write ``blob`` to ``path``; return its val report (via LiteRT) and median single-thread latency."""
    path.write_bytes(blob)
    clf = EmotionClassifier(path, num_threads=1, card={"labels": list(EMOTIONS)})
    report = classification_report(split.y, predict_all(clf, split.x).argmax(1))
    return report, latency_ms(clf, split.x[0])


def train_base(cfg: TrainConfig, train_split: fer.Split, val_split: fer.Split, args: argparse.Namespace):
    """Stage 1: the long PyTorch run (resumable; picks up the durable checkpoint on a new machine)."""
    from training.train import load_net, train

    init = load_net(args.init) if args.init else None
    return train(cfg, train_split, val_split, Path(args.runs) / cfg.arch, init=init, durable=args.durable)


def export_to_keras(net, val_split: fer.Split):
    """Stage 2: the same weights in the Keras build; returns it and the largest probability difference on val."""
    import torch

    from training.convert import to_keras
    from training.train import logits

    model = to_keras(net)
    diff = float(np.abs(keras_probs(model, val_split) - torch.softmax(logits(net, val_split.x), 1).numpy()).max())
    if diff > 1e-3:
        raise RuntimeError(f"the Keras copy disagrees with the PyTorch model by {diff:.2g} in probability on val")
    return model, diff


def prune_and_finetune(base, cfg: TrainConfig, train_split: fer.Split, val_split: fer.Split, args: argparse.Namespace):
    """Stage 3: channel pruning in Keras, fine-tuning of the narrower net in PyTorch, back to Keras."""
    from training.convert import from_keras, to_keras
    from training.prune import prune
    from training.train import train

    pruned, widths = prune(base, cfg.arch, args.keep)
    at_once = keras_report(pruned, val_split)
    ft_cfg = replace(cfg, epochs=args.finetune_epochs, lr=cfg.lr / 4, warmup_epochs=0, widths=widths, ema_decay=0.0)
    ft_split = train_split
    if args.finetune_fraction < 1.0:
        rng = np.random.default_rng(cfg.seed)
        keep_idx = np.sort(rng.permutation(len(train_split))[: int(len(train_split) * args.finetune_fraction)])
        ft_split = fer.Split(train_split.x[keep_idx], train_split.y[keep_idx], train_split.source)
    tuned = train(ft_cfg, ft_split, val_split, Path(args.runs) / f"{cfg.arch}-pruned", init=from_keras(pruned, cfg.arch))
    return to_keras(tuned), widths, at_once, ft_cfg


def calibrate_temperature(model, val_split: fer.Split) -> tuple[float, dict]:
    """Stage 5: the temperature minimising val NLL of the mirror-averaged probabilities; figures before and after."""
    from emotion_cam.metrics import expected_calibration_error, negative_log_likelihood
    from training.calibrate import fit_temperature, scaled

    log_p = np.log(np.clip(keras_probs(model, val_split), 1e-12, 1.0))
    log_m = np.log(np.clip(keras_probs(model, fer.Split(val_split.x[:, :, ::-1].copy(), val_split.y, "")), 1e-12, 1.0))
    temperature = fit_temperature(log_p, val_split.y, log_m)

    def figures(t: float) -> dict:
        p = scaled(log_p, t, log_m)
        return {"nll": negative_log_likelihood(p, val_split.y), "ece": expected_calibration_error(p, val_split.y),
                "accuracy": float((p.argmax(1) == val_split.y).mean())}

    return temperature, {"temperature": temperature, "before": figures(1.0), "after": figures(temperature)}


def run(args: argparse.Namespace) -> dict:
    from training.calibrate import choose_offsets, fold_into_model, fold_temperature, runtime_calibration
    from training.geometry import measure
    from training.arch import ARCHITECTURES
    from training.models import count_macs
    from training.quantize import representative_faces, saved_model, to_tflite
    from training.report import plot_confusion, plot_curves, plot_reliability

    started = time.time()
    runs, out = Path(args.runs), Path(args.out)
    runs.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    if args.limit_per_class:
        train_split = _limited(args.data, "train", args.limit_per_class)
        val_split = _limited(args.data, "val", args.limit_per_class)
    else:
        train_split = fer.load(args.data, "train", args.cache_dir)
        val_split = fer.load(args.data, "val", args.cache_dir)

    cfg = config_from(args)
    log.info("stage 1/7: training %s for %d epochs%s", cfg.arch, cfg.epochs, f" from {args.init}" if args.init else "")
    net = train_base(cfg, train_split, val_split, args)

    log.info("stage 2/7: copying the weights into the Keras model for conversion")
    base, conversion_diff = export_to_keras(net, val_split)
    base_report = keras_report(base, val_split)
    log.info("Keras copy: val accuracy %.4f, largest probability difference %.2g", base_report.accuracy, conversion_diff)

    pruned_dir = runs / f"{cfg.arch}-pruned"
    if args.keep < 1.0:
        log.info("stage 3/7: structured pruning (keep %.0f%% of channels) and fine-tuning", args.keep * 100)
        pruned, widths, pruned_at_once, ft_cfg = prune_and_finetune(base, cfg, train_split, val_split, args)
    else:
        log.info("stage 3/7: no pruning (--keep 1)")
        pruned, widths, pruned_at_once, ft_cfg = base, net.widths, base_report, None
    pruned_probs = keras_probs(pruned, val_split)
    pruned_report = classification_report(val_split.y, pruned_probs.argmax(1))

    log.info("stage 4/7: per-class logit offsets, tuned on val")
    offsets, estimate = np.zeros(len(EMOTIONS)), None
    if args.class_offsets:
        offsets, estimate = choose_offsets(np.log(np.clip(pruned_probs, 1e-7, 1.0)), val_split.y)
        log.info("two-fold estimate %s", estimate)
    fold_into_model(pruned, offsets)
    final_report = keras_report(pruned, val_split)
    log.info("val macro-F1 %.4f -> %.4f, accuracy %.4f -> %.4f", pruned_report.macro_f1, final_report.macro_f1,
             pruned_report.accuracy, final_report.accuracy)

    log.info("stage 5/7: temperature scaling on val (with mirror averaging), folded into the output layer")
    temperature, fp32_calibration = calibrate_temperature(pruned, val_split)
    fold_temperature(pruned, temperature)
    log.info("temperature %.3f: val NLL %.4f -> %.4f, ECE %.4f -> %.4f", temperature, fp32_calibration["before"]["nll"],
             fp32_calibration["after"]["nll"], fp32_calibration["before"]["ece"], fp32_calibration["after"]["ece"])

    log.info("stage 6/7: int8 quantisation")
    rep = representative_faces(train_split.x, train_split.y, n=args.calibration)
    with saved_model(pruned) as saved:
        int8_blob, fp32_blob = to_tflite(saved, rep), to_tflite(saved)
    single_report, int8_latency = tflite_stats(int8_blob, out / MODEL_FILE, val_split)
    if pruned is base:
        base_int8_blob, base_int8_report, base_latency = int8_blob, single_report, int8_latency
    else:
        with saved_model(base) as saved:
            base_int8_blob = to_tflite(saved, rep)
        base_int8_report, base_latency = tflite_stats(base_int8_blob, runs / "unpruned_int8.tflite", val_split)

    calibration, shown_probs = runtime_calibration(out / MODEL_FILE, val_split.x, val_split.y, temperature)
    calibration["val_fp32"] = fp32_calibration
    log.info("int8 through LiteRT: %s single, %s mirror-averaged; unsure below %.2f", calibration["val_int8_single"],
             calibration["val_int8_mirror_average"], calibration["unsure_below"])
    int8_report = classification_report(val_split.y, shown_probs.argmax(1))  # as the app runs it

    log.info("stage 7/7: crop geometry and export")
    geometry = measure(train_split.x, limit=args.geometry_faces)

    arch = ARCHITECTURES[cfg.arch]
    card = {
        "name": "EmotionCam FER-2013 emotion CNN",
        "file": MODEL_FILE,
        "labels": list(EMOTIONS),
        "input": {
            "size": [48, 48], "channels": 1, "dtype": "int8",
            "normalisation": "grayscale pixel values 0..255 (BGR converted with OpenCV), quantised as round(p / scale + zero_point); the model divides by 255 itself",
            "scale": None, "zero_point": None,
        },
        "output": "int8 softmax over labels; dequantise with the tensor's scale/zero_point",
        "crop_geometry": geometry,
        "architecture": {"name": arch.name, "separable": arch.separable, "widths_before_pruning": arch.widths(), "widths": widths},
        "params": int(pruned.count_params()),
        "macs": count_macs(pruned),
        "conversion": {"from": "PyTorch (training.train)", "to": "Keras, then TFLite",
                       "max_probability_difference_on_val": conversion_diff},
        "size_bytes": len(int8_blob),
        "latency_ms_single_thread_median": round(int8_latency, 4),
        "metrics": {"split": f"{fer.resolve(args.data, 'val')} (FER-2013 PublicTest)",
                    "mirror_average": calibration["mirror_average"], **int8_report.to_dict()},
        "pruning": {
            "applied": args.keep < 1.0,
            "method": "channel pruning by BatchNorm |gamma| (network slimming), same fraction per conv, rounded to multiples of 4, then fine-tuning"
                      if args.keep < 1.0 else "none (--keep 1): the unpruned int8 model is the shipped one",
            "keep_fraction": args.keep,
            "before": {"params": int(base.count_params()), "macs": count_macs(base), "int8_size_bytes": len(base_int8_blob),
                       "int8_latency_ms": round(base_latency, 4), "val_accuracy_fp32": base_report.accuracy,
                       "val_accuracy_int8": base_int8_report.accuracy},
            "after_pruning_before_finetune": {"val_accuracy_fp32": pruned_at_once.accuracy},
            "after": {"params": int(pruned.count_params()), "macs": count_macs(pruned), "int8_size_bytes": len(int8_blob),
                      "int8_latency_ms": round(int8_latency, 4), "val_accuracy_fp32": final_report.accuracy,
                      "val_accuracy_int8": single_report.accuracy},
        },
        "class_offsets": {
            "method": "per-class logit offsets maximising val accuracy + macro-F1, added to the softmax layer's bias; kept only if the two-fold estimate (tune on half of val, score the other half) gains",
            "offsets": dict(zip(EMOTIONS, (round(float(v), 3) for v in offsets))),
            "val_fp32_before": {"accuracy": pruned_report.accuracy, "macro_f1": pruned_report.macro_f1},
            "val_fp32_after": {"accuracy": final_report.accuracy, "macro_f1": final_report.macro_f1},
            "two_fold_estimate": estimate,
        },
        "calibration": calibration,
        "quantisation": {
            "method": "full-integer post-training quantisation (int8 weights, activations, input, output)",
            "calibration_faces": int(len(rep)),
            "note": "single crops, no mirror averaging, so that fp32 and int8 compare like for like",
            "val_accuracy_fp32": final_report.accuracy, "val_accuracy_int8": single_report.accuracy,
            "val_macro_f1_fp32": final_report.macro_f1, "val_macro_f1_int8": single_report.macro_f1,
            "fp32_size_bytes": len(fp32_blob),
        },
        "training": {
            "data": "FER-2013 Training split (28,709 faces), tuned on PublicTest; PrivateTest held back",
            "faces": int(len(train_split)),
            "config": asdict(cfg), "initialised_from": args.init, "finetune_config": asdict(ft_cfg) if ft_cfg else None, "finetune_fraction": args.finetune_fraction,
            "command": "python -m training.reproduce " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
            "machine": f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores",
            "seconds": round(time.time() - started),
        },
    }
    clf = EmotionClassifier(out / MODEL_FILE, card={"labels": list(EMOTIONS)})
    card["input"]["scale"], card["input"]["zero_point"] = clf.input_quantisation
    ModelCard.from_dict(card).write((out / MODEL_FILE).with_suffix(".json"))
    plot_confusion(int8_report, out / "confusion_matrix.png", "int8 model on FER-2013 val (PublicTest)")
    plot_reliability(calibration["reliability"], out / "reliability.png",
                     f"int8 model on FER-2013 val, {'mirror-averaged' if calibration['mirror_average'] else 'single crop'}, "
                     f"T = {temperature:.2f}")
    plot_curves({"training": runs / cfg.arch / "log.csv", "fine-tuning after pruning": pruned_dir / "log.csv"}, out / "training_curves.png")
    log.info("done in %.0f s:\n%s", time.time() - started, int8_report.format())
    return card


def _limited(source: str, split: str, n: int) -> fer.Split:
    from emotion_cam.dataset import load_folder

    return load_folder(fer.resolve(source, split), limit_per_class=n)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER-2013 root with train/ and val/, or fer2013.csv")
    p.add_argument("--out", default="models", help="where the model, card and figures go")
    p.add_argument("--runs", default="runs", help="checkpoints and logs (resumable)")
    p.add_argument("--cache-dir", default=".cache")
    p.add_argument("--durable", help="also keep the long run's checkpoint here after every epoch (a folder you commit); "
                                     "a run folder without a checkpoint resumes from it")
    p.add_argument("--init", help="start training from this best.pt (an earlier run's weights)")
    p.add_argument("--finetune-epochs", type=int, default=1)
    p.add_argument("--finetune-fraction", type=float, default=1.0, help="fraction of the training set seen per fine-tuning epoch")
    p.add_argument("--keep", type=float, default=0.75, help="fraction of channels kept by pruning (1: no pruning)")
    add_config_arguments(p)
    p.add_argument("--no-class-offsets", dest="class_offsets", action="store_false",
                   help="skip tuning per-class logit offsets on val")
    p.add_argument("--calibration", type=int, default=500, help="training faces used to calibrate int8 ranges")
    p.add_argument("--geometry-faces", type=int, default=3000)
    p.add_argument("--limit-per-class", type=int, default=0, help="use only N faces per class (smoke tests)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
