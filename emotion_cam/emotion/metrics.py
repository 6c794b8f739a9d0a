"""Classification metrics in plain numpy, so ``emotion-cam eval`` needs no scikit-learn."""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from emotion_cam.emotion.labels import EMOTIONS


@dataclass
class Report:
    accuracy: float
    macro_f1: float
    precision: list[float]
    recall: list[float]
    f1: list[float]
    support: list[int]
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    labels: tuple[str, ...] = EMOTIONS

    def to_dict(self) -> dict:
        d = asdict(self)
        d["labels"] = list(self.labels)
        d["per_class"] = {name: {"precision": p, "recall": r, "f1": f, "support": s}
                          for name, p, r, f, s in zip(self.labels, self.precision, self.recall, self.f1, self.support)}
        return d

    def format(self) -> str:
        """A classification report and confusion matrix as text."""
        w = max(len(n) for n in self.labels)
        lines = [f"accuracy {self.accuracy:.4f}   macro-F1 {self.macro_f1:.4f}   n={sum(self.support)}", ""]
        lines.append(f"{'':>{w}}  precision  recall     f1  support")
        for name, p, r, f, s in zip(self.labels, self.precision, self.recall, self.f1, self.support):
            lines.append(f"{name:>{w}}  {p:9.3f}  {r:6.3f}  {f:5.3f}  {s:7d}")
        lines += ["", "confusion matrix (rows: true, columns: predicted)"]
        short = [n[:5] for n in self.labels]
        lines.append(f"{'':>{w}}  " + " ".join(f"{s:>5}" for s in short))
        for name, row in zip(self.labels, self.confusion):
            lines.append(f"{name:>{w}}  " + " ".join(f"{v:5d}" for v in row))
        return "\n".join(lines)


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = len(EMOTIONS)) -> Report:
    y_true = np.asarray(y_true, np.int64)
    y_pred = np.asarray(y_pred, np.int64)
    cm = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(0)
    support = cm.sum(1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return Report(
        accuracy=float(tp.sum() / max(cm.sum(), 1)),
        macro_f1=float(f1.mean()),
        precision=[float(v) for v in precision],
        recall=[float(v) for v in recall],
        f1=[float(v) for v in f1],
        support=[int(v) for v in support],
        confusion=cm.tolist(),
    )


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> float:
    """Mean |accuracy - confidence| over equal-width bins of the top probability, weighted by the bins' sizes."""
    return calibration_error(reliability(probs, y_true, bins))


def calibration_error(bins: list[dict]) -> float:
    """ECE from the bins of ``reliability``."""
    n = sum(b["count"] for b in bins)
    return float(sum(b["count"] * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"]) / max(n, 1))


def negative_log_likelihood(probs: np.ndarray, y_true: np.ndarray) -> float:
    """Mean -log p(true class): what temperature scaling minimises."""
    return float(-np.mean(np.log(np.clip(probs[np.arange(len(probs)), np.asarray(y_true)], 1e-12, 1.0))))


def reliability(probs: np.ndarray, y_true: np.ndarray, bins: int = 15) -> list[dict]:
    """Per bin of the top probability: its range, the faces in it, their mean confidence and accuracy."""
    conf, right = probs.max(1), probs.argmax(1) == np.asarray(y_true)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    return [{"low": float(edges[b]), "high": float(edges[b + 1]), "count": int((which == b).sum()),
             "confidence": float(conf[which == b].mean()) if (which == b).any() else None,
             "accuracy": float(right[which == b].mean()) if (which == b).any() else None} for b in range(bins)]
