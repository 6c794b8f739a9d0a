"""Evaluate the TFLite classifier alone on labelled face crops (see ``emotion.dataset`` for the inputs), against
their FER-2013 labels or against the FER+ votes of ten people (``emotion.votes``)."""
from __future__ import annotations

import time

import numpy as np

from emotion_cam.emotion.classifier import EmotionClassifier
from emotion_cam.emotion.labels import EMOTIONS
from emotion_cam.emotion.metrics import (Report, classification_report, expected_calibration_error,
                                         negative_log_likelihood)
from emotion_cam.emotion.unsure import UnsureRule
from emotion_cam.emotion.votes import EMOTION_COLUMNS, Votes, plurality, shares


def predict_all(classifier: EmotionClassifier, faces: np.ndarray, batch: int = 64) -> np.ndarray:
    return np.concatenate([classifier.predict(faces[i:i + batch]) for i in range(0, len(faces), batch)])


def latency_ms(classifier: EmotionClassifier, face: np.ndarray, runs: int = 300) -> float:
    """Median single-face inference time in ms (after warm-up)."""
    for _ in range(20):
        classifier.predict(face)
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        classifier.predict(face)
        times.append(time.perf_counter() - t)
    return float(np.median(times) * 1000)


def vote_report(probs: np.ndarray, names, fer_labels: np.ndarray, votes: Votes, unsure: UnsureRule) -> dict:
    """The classifier's probabilities for a folder of FER-2013 faces scored against ten people's votes.

    - against the plurality (the faces that have one): accuracy, macro-F1, per class, ECE and NLL;
    - against the vote shares (every face with votes): the cross-entropy from the shares to the bars, beside
      the shares' own entropy (the least any prediction can reach), so the bars read as "how many of ten";
    - FER-2013's one-person labels on the same faces, for comparison;
    - how often a face is shown unsure, overall and on faces that at least 7 of 10 people call neutral.
    """
    counts, found = votes.lookup(names)
    label = np.where(found, plurality(counts), -1)
    has = label >= 0
    q = shares(counts)
    voted = found & (q.sum(1) > 0)
    p_has, y_has = probs[has], label[has]
    report = classification_report(y_has, p_has.argmax(1))
    fer = classification_report(np.asarray(fer_labels)[has], p_has.argmax(1))
    entropy = -(q[voted] * np.log(np.clip(q[voted], 1e-12, 1.0))).sum(1)
    cross = -(q[voted] * np.log(np.clip(probs[voted], 1e-12, 1.0))).sum(1)
    shown_unsure = np.array([unsure(p) for p in probs], bool)
    calm = found & (counts[:, EMOTION_COLUMNS[EMOTIONS.index("neutral")]] >= 7)
    return {
        "faces": int(len(probs)), "with_votes": int(found.sum()), "with_plurality": int(has.sum()),
        "plurality": {**report.to_dict(), "ece": expected_calibration_error(p_has, y_has),
                      "nll": negative_log_likelihood(p_has, y_has)},
        "vote_cross_entropy": float(cross.mean()) if voted.any() else None,
        "vote_entropy": float(entropy.mean()) if voted.any() else None,
        "fer2013_labels": {"accuracy": fer.accuracy, "macro_f1": fer.macro_f1},
        "unsure_below": unsure.below,
        "shown_unsure": float(shown_unsure.mean()) if len(probs) else 0.0,
        "neutral_by_7_of_10": int(calm.sum()),
        "neutral_by_7_of_10_shown_unsure": float(shown_unsure[calm].mean()) if calm.any() else None,
    }


def format_vote_report(r: dict) -> str:
    """``vote_report`` as text, for ``emotion-cam eval --votes``."""
    p = r["plurality"]
    report = Report(**{k: p[k] for k in ("accuracy", "macro_f1", "precision", "recall", "f1", "support", "confusion")})
    lines = [f"{r['with_votes']} of {r['faces']} faces have FER+ votes; {r['with_plurality']} have a plurality "
             "(one emotion with more votes than any other answer)", "",
             "Against the plurality:",
             report.format().replace("\n", f"   ECE {p['ece']:.4f}   NLL {p['nll']:.4f}\n", 1), ""]
    if r["vote_cross_entropy"] is not None:
        lines.append(f"Against the vote shares: cross-entropy {r['vote_cross_entropy']:.4f} "
                     f"(the votes' own entropy, the least possible: {r['vote_entropy']:.4f})")
    lines.append(f"Against FER-2013's labels on the same {r['with_plurality']} faces: accuracy "
                 f"{r['fer2013_labels']['accuracy']:.4f}, macro-F1 {r['fer2013_labels']['macro_f1']:.4f}")
    calm = r["neutral_by_7_of_10_shown_unsure"]
    lines.append(f"Shown unsure (largest bar below {r['unsure_below']:.2f}): {r['shown_unsure']:.1%} of all faces"
                 + (f"; {calm:.1%} of the {r['neutral_by_7_of_10']} faces that 7 or more of 10 people call neutral"
                    if calm is not None else ""))
    return "\n".join(lines)
