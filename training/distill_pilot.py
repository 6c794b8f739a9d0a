"""A short pilot that chooses the student's distillation weight and temperature before its long run.

    python -m training.distill_pilot --data ../shared/datasets/fer2013 --teachers wide,large-sgd \\
        --weights 0,0.5,0.8 --temperatures 2,4 --epochs 10

Each setting trains the student's architecture for a few epochs on one short schedule
(the same for all, so they compare like for like), from the teachers' ensemble
targets as ``training.reproduce`` computes them; weight 0 is the hard-label baseline.
Every run resumes from its own folder under ``RUNS/pilot``, and from its durable copy
under ``DURABLE/pilot`` on a new machine, so an interrupted pilot picks up where it
stopped. The table goes to the log and to ``results.json`` in both folders;
the long run is then started by hand with the chosen ``--distill-weight`` and
``--distill-temperature`` (a pilot of a few epochs favours what pays off early, so
its choice is a judgement, not an automatic one).
"""
from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path

from emotion_cam.media.outputs import write_bytes
from training.split_cache import load_cached
from training.train import TrainConfig

log = logging.getLogger("training.distill_pilot")


def settings(weights: list[float], temperatures: list[float]) -> list[tuple[float, float]]:
    """(weight, temperature) pairs; weight 0 (hard labels only) once, whatever the temperature."""
    pairs = [(0.0, temperatures[0])] if 0.0 in weights else []
    return pairs + [(w, t) for w in weights if w > 0 for t in temperatures]


def run_pilot(data: str, teachers: list[str], weights: list[float], temperatures: list[float], base: TrainConfig,
              runs: Path = Path("runs"), durable: Path | None = Path("training/checkpoints"),
              cache_dir: str | None = ".cache") -> list[dict]:
    """Train the student once per setting; returns one row per setting with its val accuracy (mirror-averaged)."""
    from training.teachers import mirror_probs, soft_targets, train_teachers
    from training.train import train

    train_split, val_split = load_cached(data, "train", cache_dir), load_cached(data, "val", cache_dir)
    nets = train_teachers(teachers, train_split, val_split, runs, durable, base.threads)
    soft = soft_targets(nets, train_split.x, runs, cache_dir)
    rows = []
    for weight, temperature in settings(weights, temperatures):
        cfg = replace(base, distill_weight=weight, distill_temperature=temperature)
        name = f"w{weight:g}-t{temperature:g}" if weight else "hard-labels"
        net = train(cfg, train_split, val_split, runs / "pilot" / name, soft_targets=soft if weight else None,
                    durable=durable / "pilot" / name if durable else None)
        accuracy = float((mirror_probs(net, val_split.x).argmax(1) == val_split.y).mean())
        rows.append({"run": name, "weight": weight, "temperature": temperature if weight else None,
                     "epochs": cfg.epochs, "val_accuracy_mirror_average": accuracy})
        log.info("%s: val accuracy %.4f (mirror-averaged, float32)", name, accuracy)
    write_results("pilot", {"teachers": teachers, "arch": base.arch, "rows": rows}, runs, durable)
    return rows


def write_results(name: str, table: dict, runs: Path, durable: Path | None) -> None:
    """A pilot's table as ``NAME/results.json`` in the run folder and in its durable (committed) copy."""
    data = (json.dumps(table, indent=2) + "\n").encode()
    for folder in [runs] + ([durable] if durable else []):
        (folder / name).mkdir(parents=True, exist_ok=True)
        write_bytes(folder / name / "results.json", data)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER-2013 root with train/ and val/, or fer2013.csv")
    p.add_argument("--teachers", default="wide,large-sgd", help="comma-separated training.teachers names")
    p.add_argument("--weights", default="0,0.5,0.8", help="distillation weights to try (0: hard labels only)")
    p.add_argument("--temperatures", default="2,4", help="temperatures to try")
    p.add_argument("--arch", default="mid", help="the student's architecture")
    p.add_argument("--epochs", type=int, default=10, help="epochs per setting (one short schedule for all)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--runs", default="runs")
    p.add_argument("--durable", default="training/checkpoints", help="the teachers' committed checkpoints")
    p.add_argument("--cache-dir", default=".cache")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    base = TrainConfig(arch=args.arch, epochs=args.epochs, batch_size=args.batch_size, threads=args.threads)
    rows = run_pilot(args.data, args.teachers.split(","), [float(w) for w in args.weights.split(",")],
                     [float(t) for t in args.temperatures.split(",")], base, Path(args.runs),
                     Path(args.durable) if args.durable else None, args.cache_dir)
    for row in sorted(rows, key=lambda r: -r["val_accuracy_mirror_average"]):
        print(f"{row['run']:>14}  {row['val_accuracy_mirror_average']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
