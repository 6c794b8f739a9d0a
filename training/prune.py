"""Structured (channel) pruning: drop whole conv filters, so the network really gets smaller and faster.

Each conv is followed by BatchNorm, whose scale |gamma| says how much a channel
contributes (the "network slimming" criterion, Liu et al. 2017). The channels
with the smallest |gamma| are removed from the conv's output, from its BN and
from the next layer's input; the result is the same architecture with narrower
widths, which TFLite runs with proportionally fewer MACs. Magnitude sparsity
(zeroed weights in dense tensors) would not speed TFLite up at all.
"""
from __future__ import annotations

import numpy as np
import keras
from keras import layers

from training.arch import Arch, get
from training.models import build


def channel_importance(model: keras.Model, n_convs: int) -> list[np.ndarray]:
    return [np.abs(model.get_layer(f"bn{i}").get_weights()[0]) for i in range(n_convs)]


def choose_channels(importance: list[np.ndarray], keep: float, multiple: int = 4) -> list[np.ndarray]:
    """Indices of the channels to keep per conv: the top ``keep`` fraction by |gamma|, rounded to ``multiple``.

    A multiple of 4 keeps the int8 kernels' SIMD lanes full; at least ``multiple`` channels always stay.
    """
    kept = []
    for imp in importance:
        n = len(imp)
        k = int(round(n * keep / multiple)) * multiple
        k = min(n, max(multiple, k))
        kept.append(np.sort(np.argsort(-imp)[:k]))
    return kept


def prune(model: keras.Model, arch: Arch | str, keep: float) -> tuple[keras.Model, list[int]]:
    """A narrower copy of ``model`` keeping ``keep`` of each conv's channels; returns (model, widths)."""
    arch = get(arch)
    n = len(arch.widths())
    kept = choose_channels(channel_importance(model, n), keep)
    widths = [len(k) for k in kept]
    small = build(arch, widths)
    prev = np.arange(1)  # the single grayscale input channel
    for i in range(n):
        src, dst = model.get_layer(f"conv{i}"), small.get_layer(f"conv{i}")
        out = kept[i]
        if isinstance(src, layers.SeparableConv2D):
            depthwise, pointwise = src.get_weights()
            dst.set_weights([depthwise[:, :, prev, :], pointwise[:, :, prev, :][..., out]])
        else:
            (kernel,) = src.get_weights()
            dst.set_weights([kernel[:, :, prev, :][..., out]])
        small.get_layer(f"bn{i}").set_weights([w[out] for w in model.get_layer(f"bn{i}").get_weights()])
        prev = out
    kernel, bias = model.get_layer("probs").get_weights()
    small.get_layer("probs").set_weights([kernel[prev], bias])
    return small, widths
