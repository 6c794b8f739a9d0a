"""The teacher networks of model v3: trained one after another, each on its own long schedule, then averaged.

    python -m training.teachers --data ../shared/datasets/fer2013 --durable training/checkpoints

Each teacher is a named ``TrainConfig``; it trains into ``runs/teacher-NAME`` with a
durable copy in ``DURABLE/teacher-NAME`` (see ``training.train``), so the same command
resumes the unfinished teacher on any machine and skips the finished ones. The
ensemble's probabilities (each teacher mirror-averaged, then the teachers averaged)
are the soft targets of the distilled student.
"""
from __future__ import annotations

import argparse
import hashlib
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from emotion_cam.emotion.dataset import Split
from training.split_cache import load_cached
from training.train import TrainConfig

log = logging.getLogger("training.teachers")

# Different enough to disagree: widths, optimiser, mixup and seeds differ. Not limited in size: they never ship.
# The wider net overfits sooner than the shipped mid one did (its val loss rose after epoch 50 of 100), hence mixup.
TEACHERS: dict[str, TrainConfig] = {
    "wide": TrainConfig(arch="wide", epochs=150, mixup=0.2, seed=11),
    "large-sgd": TrainConfig(arch="large", epochs=80, optimizer="sgd", lr=0.05, weight_decay=5e-4, mixup=0.2, crop=44,
                            seed=22),
    # Model v2's own long run (the shipped student's recipe; teacher-mid/ holds the same files as checkpoints/mid/).
    "mid": TrainConfig(arch="mid", epochs=100, seed=1234),
    # Model v4's wide run on the FER+ votes (training/README.md), started from teacher-wide's weights: its finished
    # durable copy is loaded; trained afresh here it would start from random weights.
    "wide-votes": TrainConfig(arch="wide", epochs=12, crop=44, labels="ferplus", label_smoothing=0.0,
                              missing_votes_weight=0.0),
}


def run_dir(runs: Path, name: str) -> Path:
    return Path(runs) / f"teacher-{name}"


def train_teachers(names: list[str], train_split: Split, val_split: Split, runs: Path, durable: Path | None = None,
                   threads: int = 0, targets=None) -> dict:
    """Train (or resume, or load when finished) each named teacher in turn; returns name -> net.

    ``targets`` (training.targets) are the vote distributions of ``train_split``, needed by a teacher that
    learnt from the FER+ votes; they must have been made with that teacher's rules.
    """
    from training.train import train

    nets = {}
    for name in names:
        if name not in TEACHERS:
            raise ValueError(f"unknown teacher {name!r}; choose from {', '.join(TEACHERS)}")
        cfg = replace(TEACHERS[name], threads=threads)
        log.info("teacher %s: %s, %d epochs", name, cfg.arch, cfg.epochs)
        own = None
        if cfg.labels != "fer2013":
            rules = {k: getattr(cfg, k) for k in ("min_votes", "missing_votes_weight", "fer_mix")}
            if targets is None or any(targets.rules.get(k) != v for k, v in rules.items()):
                raise ValueError(f"teacher {name} learnt from the votes with {rules}: train the student on the same "
                                 f"targets (--labels {cfg.labels} and those settings)")
            own = targets
        nets[name] = train(cfg, train_split, val_split, run_dir(runs, name),
                           durable=Path(durable) / f"teacher-{name}" if durable else None, targets=own)
    return nets


def mirror_probs(net, faces: np.ndarray) -> np.ndarray:
    """Softmax probabilities of ``net`` averaged over each face and its mirror image, as the app classifies."""
    import torch

    from training.train import logits

    plain = torch.softmax(logits(net, faces), 1)
    mirrored = torch.softmax(logits(net, np.ascontiguousarray(faces[:, :, ::-1])), 1)
    return ((plain + mirrored) / 2).numpy()


def ensemble_probs(nets, faces: np.ndarray) -> np.ndarray:
    """The teachers' mirror-averaged probabilities, averaged over the teachers."""
    return np.mean([mirror_probs(net, faces) for net in nets], axis=0)


def soft_targets(nets: dict, faces: np.ndarray, runs: Path, cache_dir: str | Path | None = ".cache") -> np.ndarray:
    """The ensemble's mirror-averaged probabilities for every training face, computed once and cached.

    Precomputed rather than computed online on each augmented batch: a forward pass of the teachers per step
    would cost more than the student's own step, and a face's target is close to its augmented copies' (the
    mirror is averaged in, so it holds for a flipped face exactly). The cache key is the teachers' weights and
    the faces themselves.
    """
    key = hashlib.sha1(np.ascontiguousarray(faces).tobytes())
    for name in sorted(nets):
        key.update(name.encode())
        key.update((run_dir(runs, name) / "best.pt").read_bytes())
    path = Path(cache_dir) / f"soft_targets_{key.hexdigest()[:16]}.npy" if cache_dir is not None else None
    if path is not None and path.exists():
        return np.load(path)
    probs = ensemble_probs([nets[n] for n in sorted(nets)], faces).astype(np.float32)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, probs)
        tmp.replace(path)
    return probs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="FER-2013 root with train/ and val/, or fer2013.csv")
    p.add_argument("--runs", default="runs", help="checkpoints and logs (resumable)")
    p.add_argument("--durable", help="keep each teacher's checkpoint in DURABLE/teacher-NAME (a folder you commit)")
    p.add_argument("--cache-dir", default=".cache")
    p.add_argument("--teachers", default=",".join(TEACHERS), help=f"comma-separated, in training order (default: {','.join(TEACHERS)})")
    p.add_argument("--threads", type=int, default=0, help="PyTorch threads (0: one per core)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    train_split, val_split = load_cached(args.data, "train", args.cache_dir), load_cached(args.data, "val", args.cache_dir)
    nets = train_teachers(args.teachers.split(","), train_split, val_split, Path(args.runs),
                          Path(args.durable) if args.durable else None, args.threads)
    for name, net in nets.items():
        acc = float((mirror_probs(net, val_split.x).argmax(1) == val_split.y).mean())
        log.info("teacher %s: val accuracy %.4f (mirror-averaged, float32)", name, acc)
    acc = float((ensemble_probs(list(nets.values()), val_split.x).argmax(1) == val_split.y).mean())
    log.info("ensemble of %d: val accuracy %.4f (mirror-averaged, float32)", len(nets), acc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
