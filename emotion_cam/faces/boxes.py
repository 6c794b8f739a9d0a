"""Box geometry on plain arrays (N, 4) as x1, y1, x2, y2: overlap and one-to-one matching, for the tracker and the scanner."""
from __future__ import annotations

import numpy as np


def _overlaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairwise intersection areas of boxes (N, 4) and (M, 4), and each side's areas."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter, (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of boxes (N, 4) and (M, 4) given as x1, y1, x2, y2."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    inter, area_a, area_b = _overlaps(a, b)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


def cover_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise intersection over the smaller box's area: 1 when one box lies inside the other, whatever their
    sizes (where IoU is small for a face's tight box inside a loose one)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), np.float32)
    inter, area_a, area_b = _overlaps(a, b)
    return inter / np.maximum(np.minimum(area_a[:, None], area_b[None, :]), 1e-6)


def greedy_match(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """(row, col) pairs, best IoU first, each row and column used once, IoU >= threshold."""
    pairs = []
    if iou.size == 0:
        return pairs
    order = np.dstack(np.unravel_index(np.argsort(-iou, axis=None), iou.shape))[0]
    used_r, used_c = set(), set()
    for r, c in order:
        if iou[r, c] < threshold:
            break
        if r in used_r or c in used_c:
            continue
        pairs.append((int(r), int(c)))
        used_r.add(r)
        used_c.add(c)
    return pairs


def on_head_above(boxes: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
    """Which boxes sit on the top of a head whose face has a box of about the same size just below it.

    YuNet boxes the hair and forehead of a face that looks down (a walker watching their step) besides the face
    itself. Two faces of one size cannot sit that close one above the other: their heads would overlap. With
    ``scores`` the face below must also be the surer box; without (boxes confirmed at different times, whose
    scores do not compare), the geometry alone decides.
    """
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    if len(b) < 2:
        return np.zeros(len(b), bool)
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    cx, cy = (b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2
    # [i, j]: box i sits on the head above box j's face
    ratio = h[:, None] / np.maximum(h[None, :], 1e-6)
    rise = (cy[None, :] - cy[:, None]) / np.maximum(h[None, :], 1e-6)
    above = ((np.abs(cx[:, None] - cx[None, :]) < 0.5 * w[None, :]) & (rise > 0.25) & (rise < 0.9)
             & (ratio > 0.7) & (ratio < 1.3))
    if scores is not None:
        above &= scores[None, :] > scores[:, None]
    return above.any(1)
