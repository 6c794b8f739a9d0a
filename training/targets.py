"""What the network learns from: FER-2013's one label per face, or the FER+ votes of ten people.

With ``labels="ferplus"`` each training face's target is its vote distribution over our seven
classes (FER+'s "probability" mode, the best of its four in the paper), with these choices,
settled by ``training.label_pilot``:

- contempt, unknown and not-a-face votes are left out of the shares (contempt is not one of
  our classes); a face whose largest vote is unknown or not-a-face is dropped, as FER+ does;
- ``min_votes``: an emotion with fewer votes is dropped from a face's shares (FER+ uses 2);
- a face without votes (about 5%: not matched to FER+) keeps its FER-2013 label as a one-hot
  target, weighted by ``missing_votes_weight`` (0 drops it);
- ``fer_mix`` blends that share of the FER-2013 one-hot label into every voted face's target.

Validation is always scored against the plurality (the one emotion with more votes than any
other column): faces without one are left out of val, as FER+ leaves them out of its test.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emotion_cam.emotion.dataset import Split
from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.emotion.votes import load_votes, plurality, readable, shares, votes_file

log = logging.getLogger(__name__)


@dataclass
class Targets:
    """The training faces kept, their target distributions (N, 7) and per-face loss weights (N,)."""

    split: Split  # y: each face's largest target (for class counts and training accuracy)
    probs: np.ndarray
    weights: np.ndarray
    summary: dict
    rules: dict = field(default_factory=dict)  # the choices that made them (for the model card)
    votes_dir: str = ""
    val_shares: np.ndarray | None = None  # each plurality val face's vote shares: what the bars are calibrated to
    val_fer_labels: np.ndarray | None = None  # the same faces' FER-2013 labels, for comparison


def vote_targets(split: Split, votes_csv: str | os.PathLike, min_votes: int = 1, missing_votes_weight: float = 0.5,
                 fer_mix: float = 0.0) -> Targets:
    if not split.names:
        raise ValueError(f"{split.source}: FER+ votes are keyed by file name; use the folder layout, not the CSV")
    counts, found = load_votes(votes_csv).lookup(split.names)
    q = shares(counts, min_votes)
    voted = found & readable(counts) & (q.sum(1) > 0)
    onehot = np.eye(len(EMOTIONS))[split.y]
    q = np.where(voted[:, None], (1 - fer_mix) * q + fer_mix * onehot, onehot)
    weights = np.where(voted, 1.0, missing_votes_weight)
    keep = voted | (~found & (missing_votes_weight > 0))
    kept = split.subset(keep)
    kept.y = q[keep].argmax(1)
    summary = {"faces": len(split), "with_votes": int(found.sum()), "dropped_unreadable": int((found & ~voted).sum()),
               "without_votes_kept": int((~found & keep).sum()), "trained_on": int(keep.sum())}
    log.info("FER+ targets from %s: %s", votes_csv, summary)
    rules = {"min_votes": min_votes, "missing_votes_weight": missing_votes_weight, "fer_mix": fer_mix,
             "contempt_unknown_not_a_face": "left out of the shares; a face whose largest vote is unknown or "
                                            "not-a-face is dropped"}
    return Targets(kept, q[keep].astype(np.float32), weights[keep].astype(np.float32), summary, rules)


def plurality_split(split: Split, votes_csv: str | os.PathLike) -> tuple[Split, np.ndarray, np.ndarray]:
    """The faces that have a plurality, labelled by it; their vote shares, and their FER-2013 labels."""
    counts, found = load_votes(votes_csv).lookup(split.names)
    label = np.where(found, plurality(counts), -1)
    kept = split.subset(label >= 0)
    kept.y = label[label >= 0]
    log.info("val: %d of %d faces have a FER+ plurality", len(kept), len(split))
    return kept, shares(counts[label >= 0]).astype(np.float32), split.y[label >= 0]


def prepare(labels: str, train_split: Split, val_split: Split, data_root: str | os.PathLike,
            votes_dir: str | os.PathLike | None = None, min_votes: int = 1, missing_votes_weight: float = 0.5,
            fer_mix: float = 0.0) -> tuple[Split, Split, Targets | None]:
    """The splits a run trains and validates on, and the vote targets (None for FER-2013's labels)."""
    if labels == "fer2013":
        return train_split, val_split, None
    if labels != "ferplus":
        raise ValueError(f"unknown labels {labels!r} (fer2013 or ferplus)")
    root = Path(votes_dir).parent if votes_dir else Path(data_root)
    train_votes = Path(votes_dir) / "votes_train.csv" if votes_dir else votes_file(root, "train")
    val_votes = Path(votes_dir) / "votes_val.csv" if votes_dir else votes_file(root, "val")
    targets = vote_targets(train_split, train_votes, min_votes, missing_votes_weight, fer_mix)
    val, targets.val_shares, targets.val_fer_labels = plurality_split(val_split, val_votes)
    targets.votes_dir = str(Path(train_votes).parent)
    return targets.split, val, targets
