"""Figures for the model card and models/README.md: confusion matrix and training curves (matplotlib, Agg).

``python -m training.report NAME=LOG.csv ... --out FILE.png`` draws the val accuracy of several separate runs
(teachers and a student, say) on one epoch axis.
"""
from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import textwrap
from pathlib import Path

import numpy as np

from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.emotion.metrics import Report
from emotion_cam.media.outputs import OutputError, write_bytes


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | os.PathLike) -> None:
    """A figure as PNG through the one checked output path (temporary file, then rename)."""
    data = io.BytesIO()
    fig.savefig(data, format="png")
    plt.close(fig)
    write_bytes(path, data.getvalue())


def plot_confusion(report: Report, path: str | os.PathLike, title: str) -> None:
    """Row-normalised confusion matrix (recall on the diagonal) with counts in each cell."""
    plt = _pyplot()
    cm = np.array(report.confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6.4, 5.6), dpi=110)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=40, ha="right")
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(len(EMOTIONS)):
        for j in range(len(EMOTIONS)):
            ax.text(j, i, f"{norm[i, j]:.2f}\n{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    ax.set_title(f"{title}\naccuracy {report.accuracy:.3f}, macro-F1 {report.macro_f1:.3f}")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    _save(plt, fig, path)


def read_log(path: str | os.PathLike) -> dict[str, list[float]]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in (rows[0].keys() if rows else [])}


def plot_curves(logs: dict[str, str | os.PathLike], path: str | os.PathLike) -> None:
    """Loss and accuracy per epoch for each named CSV log (e.g. training, then pruned fine-tuning)."""
    plt = _pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4), dpi=110)
    offset = 0
    for name, log_path in logs.items():
        if not Path(log_path).exists():
            continue
        log = read_log(log_path)
        if not log:
            continue
        epochs = np.arange(1, len(log["epoch"]) + 1) + offset
        a1.plot(epochs, log["loss"], label=f"{name}: train set")
        a1.plot(epochs, log["val_loss"], "--", label=f"{name}: val")
        a2.plot(epochs, log["accuracy"], label=f"{name}: train set")
        a2.plot(epochs, log["val_accuracy"], "--", label=f"{name}: val")
        if any(log.get("ema_val_accuracy", [])) and log["ema_val_accuracy"] != log["val_accuracy"]:
            a1.plot(epochs, log["ema_val_loss"], ":", label=f"{name}: val, averaged weights")
            a2.plot(epochs, log["ema_val_accuracy"], ":", label=f"{name}: val, averaged weights")
        offset = epochs[-1]
    a1.set_title("loss")
    a2.set_title("accuracy")
    for a in (a1, a2):
        a.set_xlabel("epoch")
        a.grid(alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    _save(plt, fig, path)


def plot_reliability(bins: list[dict], path: str | os.PathLike, title: str) -> None:
    """Reliability diagram: accuracy against mean top probability per bin, bar widths by bin, counts beneath."""
    from emotion_cam.emotion.metrics import calibration_error

    plt = _pyplot()
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.2, 6.0), dpi=110, gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    filled = [b for b in bins if b["count"]]
    n, ece = sum(b["count"] for b in filled), calibration_error(bins)
    ax.bar([b["low"] for b in filled], [b["accuracy"] for b in filled], width=[b["high"] - b["low"] for b in filled],
           align="edge", color="#4c78a8", edgecolor="white", label="accuracy")
    ax.plot([b["confidence"] for b in filled], [b["accuracy"] for b in filled], "o", color="#f58518", ms=4, label="(mean confidence, accuracy)")
    ax.plot([0, 1], [0, 1], "--", color="gray", lw=1, label="perfectly calibrated")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1)
    ax.set_title(textwrap.fill(title, 48) + f"\nECE {ece:.3f} over {n} faces", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    hist.bar([b["low"] for b in filled], [b["count"] for b in filled], width=[b["high"] - b["low"] for b in filled],
             align="edge", color="#9d9d9d", edgecolor="white")
    hist.set_xlabel("top probability")
    hist.set_ylabel("faces")
    hist.set_xlim(0, 1)
    fig.tight_layout()
    _save(plt, fig, path)


def plot_val_curves(logs: dict[str, str | os.PathLike], path: str | os.PathLike) -> None:
    """Val accuracy per epoch of separate runs side by side (averaged weights where the run kept them)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for name, log_path in logs.items():
        log = read_log(log_path)
        if not log:
            continue
        averaged = any(log.get("ema_val_accuracy", []))
        ax.plot(log["epoch"], log["ema_val_accuracy" if averaged else "val_accuracy"],
                label=f"{name}{' (averaged weights)' if averaged else ''}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("val accuracy (single crop, float)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    _save(plt, fig, path)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", nargs="+", metavar="NAME=LOG", help="a run's name and its log.csv")
    p.add_argument("--out", required=True, help="the PNG to write")
    args = p.parse_args(argv)
    logs = dict(item.split("=", 1) for item in args.logs)
    missing = [path for path in logs.values() if not Path(path).is_file()]
    if missing:
        p.error(f"no such log: {', '.join(missing)}")
    try:
        plot_val_curves(logs, args.out)
    except OutputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
