"""Train one architecture on FER-2013 in PyTorch: augmentation, class weights, one warm-up + cosine schedule, EMA, resumable.

A run directory holds everything a run needs to continue after an interruption:
``last.pt`` (weights, EMA weights, optimizer, schedule and the epoch reached,
written atomically after every epoch), ``best.pt`` (the weights with the best val
accuracy, plain or EMA), ``log.csv``, TensorBoard logs under ``tb/`` and
``config.json``. Running the same command again resumes at the next epoch with
the same learning rate it would have had. ``durable`` names a second folder that
gets a copy of ``last.pt``, ``best.pt`` and ``log.csv`` after every epoch: commit it,
and a new machine (where ``runs/`` is gone) resumes from there.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel

from emotion_cam.emotion.classifier import equalise_histograms
from emotion_cam.emotion.dataset import Split
from training.split_cache import load_cached
from training.targets import Targets, prepare
from training.augment import AugmentConfig, augment_batch
from training.net import Net

log = logging.getLogger(__name__)
LOG_FIELDS = ["epoch", "lr", "loss", "accuracy", "val_loss", "val_accuracy", "ema_val_loss", "ema_val_accuracy", "seconds"]
DURABLE_FILES = ("last.pt", "best.pt", "log.csv", "config.json")


@dataclass
class TrainConfig:
    arch: str = "compact"
    epochs: int = 120
    batch_size: int = 128
    optimizer: str = "adamw"  # or "sgd" (Nesterov momentum 0.9)
    lr: float = 2e-3
    weight_decay: float = 0.05  # decoupled (AdamW) or L2 (SGD), on conv and dense weights only
    warmup_epochs: int = 2
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5  # 0: none, 1: fully balanced
    ema_decay: float = 0.999  # 0 turns the weight average off
    crop: int = 48  # < 48 trains on random crops (cheaper per step); evaluation is always on the whole 48x48 face
    mixup: float = 0.0  # Beta(a, a) mixing of pairs of faces and their labels; 0 turns it off
    # "fer2013": one label per face (the folder); "ferplus": the FER+ vote distribution (see training.targets).
    labels: str = "fer2013"
    min_votes: int = 1  # ferplus: an emotion with fewer votes on a face is dropped from its target (FER+ uses 2)
    missing_votes_weight: float = 0.5  # ferplus: loss weight of a face without votes (its FER-2013 label); 0 drops it
    fer_mix: float = 0.0  # ferplus: share of the FER-2013 label blended into each voted face's target
    # Train and score on histogram-equalised faces, re-equalised after the lighting jitter: what the app's
    # classifier gives the model (card: input.equalise_histogram). 16% of FER-2013's faces are not equalised.
    equalise: bool = False
    distill_weight: float = 0.0  # share of the loss that follows the teachers' soft targets (0: hard labels only)
    distill_temperature: float = 4.0  # both sides softened by it, the soft term scaled by its square (Hinton et al.)
    seed: int = 1234
    threads: int = 0  # torch.set_num_threads; 0 keeps PyTorch's default (one per core)
    # "bf16" computes convs in bfloat16 (float32 weights; 2x faster on CPUs with AVX512-BF16/AMX), "fp32" does not;
    # "auto" picks bf16 on a GPU or on a CPU that has it natively.
    precision: str = "auto"
    widths: list[int] | None = None  # set when fine-tuning a pruned model
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def schedule(self) -> dict:
        """The fields that fix the learning-rate schedule and the model: a resumed run must match them."""
        keys = ("arch", "epochs", "batch_size", "optimizer", "lr", "warmup_epochs", "widths", "crop")
        if self.distill_weight:  # a student: what it learns from is part of its schedule
            keys += ("distill_weight", "distill_temperature")
        if self.labels != "fer2013":
            keys += ("labels", "min_votes", "missing_votes_weight", "fer_mix")
        if self.equalise:
            keys += ("equalise",)
        return {k: v for k, v in asdict(self).items() if k in keys}


def class_weights(counts: np.ndarray, power: float) -> np.ndarray:
    """Inverse-frequency weights raised to ``power`` (0.5 dampens them: full balancing costs overall accuracy)."""
    counts = np.maximum(counts, 1)
    w = (counts.sum() / (len(counts) * counts)) ** power
    return w / np.sum(w * counts) * counts.sum()  # keep the mean loss scale unchanged


def lr_factor(step: int, warmup_steps: int, total_steps: int, floor: float = 0.01) -> float:
    """Linear warm-up from a tenth, then one cosine decay to ``floor`` over the rest of the run."""
    if step < warmup_steps:
        return 0.1 + 0.9 * step / warmup_steps
    t = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


def _device_and_dtype(precision: str) -> tuple[torch.device, torch.dtype | None]:
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if precision == "auto":
        native = device.type == "cuda" or torch.ops.mkldnn._is_mkldnn_bf16_supported()
        precision = "bf16" if native else "fp32"
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"unknown precision {precision!r} (auto, bf16 or fp32)")
    return device, (torch.bfloat16 if precision == "bf16" else None)


def ema_update(decay: float):
    """EMA of weights and BatchNorm statistics whose decay ramps up as min(decay, (1 + n) / (10 + n)).

    Without the ramp the average of a short run (a pilot, a fine-tune) is dominated by
    the random initial weights: at 0.999 they keep half the weight after 700 steps.
    """
    @torch.no_grad()
    def update(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        d = min(decay, (1.0 + float(n)) / (10.0 + float(n)))
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1.0 - d)
        else:  # BatchNorm's integer batch counter: keep the latest
            for a, c in zip(averaged, current):
                a.copy_(c)

    return update


def _optimizer(net: Net, cfg: TrainConfig) -> torch.optim.Optimizer:
    decay = [p for n, p in net.named_parameters() if p.ndim > 1]
    rest = [p for n, p in net.named_parameters() if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, nesterov=True)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r} (adamw or sgd)")


@torch.no_grad()
def logits(net: torch.nn.Module, faces: np.ndarray | torch.Tensor, batch: int = 512) -> torch.Tensor:
    """Eval-mode float32 logits for uint8 faces (N, 48, 48), on the CPU."""
    x = torch.as_tensor(faces)
    device = next(net.parameters()).device
    net.eval()
    return torch.cat([net(x[i:i + batch, None].to(device).float()).float().cpu() for i in range(0, len(x), batch)])


def evaluate(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(loss, accuracy) of ``net`` in eval mode on uint8 faces ``x`` (N, 48, 48)."""
    z = logits(net, x)
    return float(F.cross_entropy(z, y)), float((z.argmax(1) == y).float().mean())


def _save(obj, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def _restore(run_dir: Path, durable: Path | None, device: torch.device) -> dict | None:
    if not (run_dir / "last.pt").exists() and durable is not None and (durable / "last.pt").exists():
        log.info("no checkpoint in %s: resuming from the durable copy in %s", run_dir, durable)
        for name in DURABLE_FILES:
            if (durable / name).exists():
                shutil.copy2(durable / name, run_dir / name)
    if not (run_dir / "last.pt").exists():
        return None
    return torch.load(run_dir / "last.pt", map_location=device, weights_only=False)


def soft_cross_entropy(logits_: torch.Tensor, target: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Per-face cross-entropy against a target distribution (one-hot: the usual loss), optionally smoothed."""
    if smoothing:
        target = (1 - smoothing) * target + smoothing / target.shape[1]
    return -(target * F.log_softmax(logits_, dim=1)).sum(1)


def soft_loss(student_logits: torch.Tensor, teacher_probs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Per-face KL divergence from the teachers' probabilities to the student's, both softened by ``temperature``,
    times its square so the gradients keep their size as the temperature changes."""
    soft_teacher = F.softmax(torch.log(teacher_probs.clamp_min(1e-8)) / temperature, dim=1)
    log_student = F.log_softmax(student_logits / temperature, dim=1)
    return F.kl_div(log_student, soft_teacher, reduction="none").sum(1) * temperature**2


def train(cfg: TrainConfig, train_split: Split, val_split: Split, run_dir: str | os.PathLike,
          init: Net | None = None, durable: str | os.PathLike | None = None,
          soft_targets: np.ndarray | None = None, targets: Targets | None = None) -> Net:
    """Train (or resume) into ``run_dir``; returns the best net (plain or EMA weights). ``init`` starts from given weights.

    ``soft_targets`` (N, 7), the teachers' probabilities for each training face (mirror-averaged, so they hold for
    a flipped face too), are followed with weight ``cfg.distill_weight``; an augmented face keeps its face's target.
    ``targets`` (from ``training.targets``) replaces the one-hot labels by distributions (the FER+ votes), each
    face's cross-entropy weighted by its own weight and by the class weights its target expects.
    """
    if cfg.distill_weight and (soft_targets is None or len(soft_targets) != len(train_split)):
        raise ValueError("distillation needs the teachers' probabilities for every training face")
    if (cfg.labels != "fer2013") != (targets is not None) or (targets is not None and len(targets.probs) != len(train_split)):
        raise ValueError(f"labels {cfg.labels!r} need {'no ' if cfg.labels == 'fer2013' else ''}target distributions "
                         "for the training faces (training.targets.prepare)")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    durable = Path(durable) if durable else None
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)

    device, amp = _device_and_dtype(cfg.precision)
    net = Net(cfg.arch, cfg.widths)
    if init is not None:
        net.load_state_dict(init.state_dict())
    net = net.to(device, memory_format=torch.channels_last)  # channels-last convs: 1.2-1.3x faster on CPU
    ema = AveragedModel(net, multi_avg_fn=ema_update(cfg.ema_decay), use_buffers=True) if cfg.ema_decay else None
    opt = _optimizer(net, cfg)
    steps = len(train_split) // cfg.batch_size
    if steps == 0:
        raise ValueError(f"{len(train_split)} training faces: fewer than one batch of {cfg.batch_size}")
    total, warmup = steps * cfg.epochs, steps * min(cfg.warmup_epochs, cfg.epochs - 1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, warmup, total))

    start, best = 0, -1.0
    state = _restore(run_dir, durable, device)
    if state is not None:
        if state["schedule"] != cfg.schedule():
            raise ValueError(f"{run_dir}/last.pt was made with {state['schedule']}, not {cfg.schedule()}: "
                             "use another run folder (or delete it) to start afresh")
        if state["epoch"] >= cfg.epochs:  # finished (the durable copy of a finished run holds no weights)
            log.info("%s already trained for %d epochs", run_dir, state["epoch"])
            return load_best(run_dir)
        net.load_state_dict(state["net"])
        if ema is not None and state.get("ema") is not None:
            ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"])  # dropout draws from the global generator: resuming continues its stream
        start, best = state["epoch"], state["best_val_accuracy"]
        log.info("resuming %s at epoch %d of %d, lr %.3g (best val accuracy so far %.4f)",
                 run_dir, start + 1, cfg.epochs, sched.get_last_lr()[0], best)
    (run_dir / "config.json").write_text(json.dumps(asdict(cfg), indent=2))

    x_train = torch.from_numpy(train_split.x[:, None]).contiguous()
    y_train = torch.from_numpy(train_split.y.astype(np.int64))
    q_train = torch.from_numpy(np.asarray(soft_targets, np.float32)) if cfg.distill_weight else None
    p_train = torch.from_numpy(targets.probs) if targets is not None else None
    w_train = torch.from_numpy(targets.weights) if targets is not None else None
    x_val, y_val = torch.from_numpy(val_split.x), torch.from_numpy(val_split.y.astype(np.int64))
    weights = torch.tensor(class_weights(train_split.class_counts(), cfg.class_weight_power), dtype=torch.float32, device=device)
    log.info("train %d faces %s, val %d faces; %d steps an epoch, epochs %d..%d on %s%s",
             len(train_split), train_split.class_counts().tolist(), len(val_split), steps, start + 1, cfg.epochs,
             device, " (bfloat16)" if amp else "")
    from torch.utils.tensorboard import SummaryWriter

    tb = SummaryWriter(str(run_dir / "tb"), purge_step=start + 1)
    log_path = run_dir / "log.csv"
    if start == 0 or not log_path.exists():
        with open(log_path, "w", newline="") as f:
            csv.writer(f).writerow(LOG_FIELDS)

    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)  # the epoch's own stream: resuming repeats it
        order = torch.randperm(len(y_train), generator=g)
        mix_rng = np.random.default_rng([cfg.seed, epoch])
        net.train()
        loss_sum = correct = seen = 0.0
        for i in range(steps):
            idx = order[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            # Augmented on the CPU from the epoch's generator (cheap: about 1% of a step), then moved to the device.
            x = augment_batch(x_train[idx].float(), g, cfg.augment, cfg.crop, equalised=cfg.equalise)
            x, y = x.to(device, memory_format=torch.channels_last), y_train[idx].to(device)
            if cfg.mixup:
                lam = float(mix_rng.beta(cfg.mixup, cfg.mixup))
                partner = torch.randperm(len(y), generator=g).to(device)
                x = lam * x + (1 - lam) * x[partner]
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                out = net(x).float()
            if p_train is not None:
                p, w = p_train[idx].to(device), w_train[idx].to(device)
                if cfg.mixup:
                    p, w = lam * p + (1 - lam) * p[partner], lam * w + (1 - lam) * w[partner]
                loss = soft_cross_entropy(out, p, cfg.label_smoothing) * (p @ weights) * w
            else:
                loss = F.cross_entropy(out, y, reduction="none", label_smoothing=cfg.label_smoothing) * weights[y]
                if cfg.mixup:
                    y2 = y[partner]
                    loss = lam * loss + (1 - lam) * F.cross_entropy(out, y2, reduction="none", label_smoothing=cfg.label_smoothing) * weights[y2]
            if q_train is not None:
                q = q_train[idx].to(device)
                if cfg.mixup:
                    q = lam * q + (1 - lam) * q[partner]
                loss = (1 - cfg.distill_weight) * loss + cfg.distill_weight * soft_loss(out, q, cfg.distill_temperature)
            loss = loss.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if ema is not None:
                ema.update_parameters(net)
            loss_sum += loss.item() * len(y)
            correct += float((out.argmax(1) == y).sum())
            seen += len(y)
        val_loss, val_acc = evaluate(net, x_val, y_val)
        ema_loss, ema_acc = evaluate(ema.module, x_val, y_val) if ema is not None else (val_loss, val_acc)
        row = {"epoch": epoch + 1, "lr": sched.get_last_lr()[0], "loss": loss_sum / seen, "accuracy": correct / seen,
               "val_loss": val_loss, "val_accuracy": val_acc, "ema_val_loss": ema_loss, "ema_val_accuracy": ema_acc,
               "seconds": round(time.perf_counter() - t0, 1)}
        better = max(val_acc, ema_acc)
        if better > best:
            best = better
            source = ema.module if ema is not None and ema_acc >= val_acc else net
            _save({"arch": cfg.arch, "widths": net.widths, "state": source.state_dict(), "epoch": epoch + 1,
                   "val_accuracy": better, "ema": source is not net}, run_dir / "best.pt")
        _save({"net": net.state_dict(), "ema": ema.state_dict() if ema is not None else None, "optimizer": opt.state_dict(),
               "scheduler": sched.state_dict(), "epoch": epoch + 1, "best_val_accuracy": best, "schedule": cfg.schedule(), "rng": torch.get_rng_state()},
              run_dir / "last.pt")
        with open(log_path, "a", newline="") as f:
            csv.writer(f).writerow([f"{row[k]:.6g}" if isinstance(row[k], float) else row[k] for k in LOG_FIELDS])
        for k, v in row.items():
            if k != "epoch":
                tb.add_scalar(k, v, epoch + 1)
        tb.flush()
        if durable is not None:
            durable.mkdir(parents=True, exist_ok=True)
            for name in DURABLE_FILES:
                if (run_dir / name).exists():
                    shutil.copy2(run_dir / name, durable / name)
            if epoch + 1 == cfg.epochs:  # nothing left to resume: the committed copy need not carry weights and optimizer
                _save({"epoch": epoch + 1, "best_val_accuracy": best, "schedule": cfg.schedule()}, durable / "last.pt")
        log.info("epoch %d/%d: lr %.3g, loss %.4f, acc %.4f, val %.4f, EMA val %.4f (%.0f s)", epoch + 1, cfg.epochs,
                 row["lr"], row["loss"], row["accuracy"], val_acc, ema_acc, row["seconds"])
    tb.close()
    return load_best(run_dir)


def load_best(run_dir: str | os.PathLike) -> Net:
    return load_net(Path(run_dir) / "best.pt")


def load_net(path: str | os.PathLike) -> Net:
    """A ``best.pt`` (weights with their architecture and widths) as a CPU net in eval mode."""
    best = torch.load(path, map_location="cpu", weights_only=False)
    net = Net(best["arch"], best["widths"])
    net.load_state_dict(best["state"])
    return net.eval()  # on the CPU, contiguous: ready for export


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Train an emotion CNN on FER-2013 (resumes if RUN_DIR has a checkpoint).",
                                epilog="example: python -m training.train --data ../shared/datasets/fer2013 --arch compact --run runs/compact")
    p.add_argument("--data", required=True, help="FER-2013 root (train/, val/), or fer2013.csv")
    p.add_argument("--run", required=True, help="run directory (checkpoints, logs)")
    p.add_argument("--durable", help="also copy the checkpoint here after every epoch (a folder you commit)")
    p.add_argument("--cache-dir", default=".cache")
    p.add_argument("--votes", help="folder of the FER+ votes (votes_train.csv, votes_val.csv) for --labels ferplus "
                                   "(default: DATA/ferplus)")
    add_config_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    cfg = config_from(args)
    train_split, val_split, targets = prepare_splits(cfg, args.data, args.cache_dir, args.votes)
    train(cfg, train_split, val_split, args.run, durable=args.durable, targets=targets)
    return 0


def prepare_splits(cfg: TrainConfig, data: str, cache_dir: str | None = ".cache",
                   votes: str | None = None) -> tuple[Split, Split, Targets | None]:
    """The training and val splits of ``data`` as ``cfg.labels`` asks, with the vote targets if any."""
    train_split, val_split, targets = prepare(cfg.labels, load_cached(data, "train", cache_dir),
                                              load_cached(data, "val", cache_dir), data, votes, cfg.min_votes,
                                              cfg.missing_votes_weight, cfg.fer_mix)
    return as_seen(cfg, train_split), as_seen(cfg, val_split), targets


def as_seen(cfg: TrainConfig, split: Split) -> Split:
    """The faces as the network is to see them: histogram-equalised with ``cfg.equalise`` (cv2's, as the app's
    classifier does; equalising an equalised face again moves no pixel more than one grey level)."""
    if not cfg.equalise:
        return split
    return replace(split, x=equalise_histograms(split.x))


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """One option per TrainConfig field (``--epochs``, ``--lr`` ...), defaults from the dataclass."""
    for name, value in asdict(TrainConfig()).items():
        if name in ("widths", "augment"):
            continue
        if isinstance(value, bool):
            p.add_argument(f"--{name.replace('_', '-')}", action=argparse.BooleanOptionalAction, default=value)
        else:
            p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)


def config_from(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{k: getattr(args, k) for k in asdict(TrainConfig()) if k not in ("widths", "augment")})


if __name__ == "__main__":
    raise SystemExit(main())
