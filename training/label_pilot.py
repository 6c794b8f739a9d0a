"""A short pilot that settles how the FER+ votes become training targets, before the long runs.

    python -m training.label_pilot --data ../shared/datasets/fer2013 --arch mid --epochs 2 --crop 44 \\
        --init training/checkpoints/mid/best.pt --settings votes,votes-min2,votes-unvoted-dropped,votes-fer-mix-0.2

Each setting (``SETTINGS``) trains the same architecture on one short schedule, so they compare
like for like, and is scored on val against the FER+ plurality (mirror-averaged, float32), with
the cross-entropy of its probabilities against the vote shares beside it. FER-2013's own labels
are the baseline. Every run resumes from its folder under ``RUNS/label-pilot`` or from its
durable copy under ``DURABLE/label-pilot``, so a pilot spread over sessions picks up where it
stopped; the table goes to the log and to ``results.json`` in both folders. The long run is then
started by hand with the chosen options (a pilot of a few epochs favours what pays off early,
so its choice is a judgement).
"""
from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from emotion_cam.emotion.votes import load_votes, shares, votes_file
from training.distill_pilot import write_results
from training.train import TrainConfig

log = logging.getLogger("training.label_pilot")

# name -> the TrainConfig fields it sets. "votes" is the plain reading of FER+'s probability mode; each other
# setting changes one choice from it.
SETTINGS: dict[str, dict] = {
    "fer2013": {"labels": "fer2013"},
    "votes": {"labels": "ferplus", "label_smoothing": 0.0},
    "votes-min2": {"labels": "ferplus", "label_smoothing": 0.0, "min_votes": 2},
    "votes-unvoted-dropped": {"labels": "ferplus", "label_smoothing": 0.0, "missing_votes_weight": 0.0},
    "votes-fer-mix-0.2": {"labels": "ferplus", "label_smoothing": 0.0, "fer_mix": 0.2},
}


def vote_cross_entropy(probs: np.ndarray, names, votes_csv: Path) -> float:
    """Mean cross-entropy from the vote shares to ``probs`` over the faces that have votes."""
    counts, found = load_votes(votes_csv).lookup(names)
    q = shares(counts)
    ok = found & (q.sum(1) > 0)
    return float(-(q[ok] * np.log(np.clip(probs[ok], 1e-12, 1.0))).sum(1).mean())


def run_pilot(data: str, names: list[str], base: TrainConfig, runs: Path = Path("runs"),
              durable: Path | None = Path("training/checkpoints"), cache_dir: str | None = ".cache",
              init: str | None = None) -> list[dict]:
    from training.teachers import mirror_probs
    from training.train import load_net, prepare_splits, train

    rows = []
    plurality_val = None
    for name in names:
        cfg = replace(base, **SETTINGS[name])
        train_split, val_split, targets = prepare_splits(cfg, data, cache_dir)
        if plurality_val is None or cfg.labels == "ferplus":
            plurality_val = prepare_splits(replace(cfg, labels="ferplus"), data, cache_dir)[1]
        net = train(cfg, train_split, val_split, runs / "label-pilot" / name, targets=targets,
                    init=load_net(init) if init else None,
                    durable=durable / "label-pilot" / name if durable else None)
        probs = mirror_probs(net, plurality_val.x)
        row = {"run": name, **SETTINGS[name], "epochs": cfg.epochs, "arch": cfg.arch, "crop": cfg.crop, "init": init,
               "val_plurality_accuracy_mirror_average": float((probs.argmax(1) == plurality_val.y).mean()),
               "val_vote_cross_entropy": vote_cross_entropy(probs, plurality_val.names, votes_file(data, "val")),
               "trained_on": targets.summary if targets else len(train_split)}
        rows.append(row)
        log.info("%s: %s", name, row)
    write_results("label-pilot", {"arch": base.arch, "epochs": base.epochs, "rows": rows}, runs, durable)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER-2013 root with train/, val/ and ferplus/")
    p.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated, from {', '.join(SETTINGS)}")
    p.add_argument("--arch", default="compact")
    p.add_argument("--epochs", type=int, default=8, help="epochs per setting (one short schedule for all)")
    p.add_argument("--batch-size", type=int, default=TrainConfig.batch_size)
    p.add_argument("--crop", type=int, default=TrainConfig.crop, help="random training crops of this size (48: none)")
    p.add_argument("--init", help="start every setting from this best.pt (the long run's own starting point)")
    p.add_argument("--runs", default="runs")
    p.add_argument("--durable", default="training/checkpoints", help="where each setting's durable copy goes")
    p.add_argument("--cache-dir", default=".cache")
    p.add_argument("--threads", type=int, default=0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    names = [n for n in args.settings.split(",") if n]
    unknown = [n for n in names if n not in SETTINGS]
    if unknown:
        p.error(f"unknown setting(s) {', '.join(unknown)}; choose from {', '.join(SETTINGS)}")
    base = TrainConfig(arch=args.arch, epochs=args.epochs, threads=args.threads, crop=args.crop, batch_size=args.batch_size)
    rows = run_pilot(args.data, names, base, Path(args.runs), Path(args.durable) if args.durable else None,
                     args.cache_dir, args.init)
    for row in sorted(rows, key=lambda r: -r["val_plurality_accuracy_mirror_average"]):
        print(f"{row['run']:>22}  {row['val_plurality_accuracy_mirror_average']:.4f}  {row['val_vote_cross_entropy']:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
