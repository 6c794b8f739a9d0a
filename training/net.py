"""The PyTorch twin of ``training.models.build``: the same layers, so weights copy across one to one.

Training runs in PyTorch because it is about twice as fast per epoch on a CPU as
Keras's ``fit`` for these small convs; the shipped model still goes through the
Keras -> TFLite int8 converter, so ``training.convert`` copies the weights into
the Keras build and checks that both give the same logits.
"""
from __future__ import annotations

import torch
from torch import nn

from emotion_cam.emotion.labels import EMOTIONS
from training.arch import Arch, get

BN_EPSILON = 1e-3  # Keras's default, so the BatchNorm statistics mean the same on both sides


class SeparableConv(nn.Sequential):
    """Keras's SeparableConv2D: a depthwise 3x3 then a pointwise 1x1, no bias."""

    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1, bias=False))


class Net(nn.Module):
    """Raw pixels (B, 1, H, W) in 0..255 -> logits (B, 7). Any H, W: the head pools globally."""

    def __init__(self, arch: Arch | str, widths: list[int] | None = None):
        super().__init__()
        self.arch = get(arch)
        self.widths = list(widths) if widths is not None else self.arch.widths()
        if len(self.widths) != len(self.arch.widths()):
            raise ValueError(f"{self.arch.name} has {len(self.arch.widths())} convs, got {len(self.widths)} widths")
        self.convs, self.bns = nn.ModuleList(), nn.ModuleList()
        cin = 1
        for i, w in enumerate(self.widths):
            dense = i == 0 or not self.arch.separable
            self.convs.append(nn.Conv2d(cin, w, 3, padding=1, bias=False) if dense else SeparableConv(cin, w))
            self.bns.append(nn.BatchNorm2d(w, eps=BN_EPSILON))
            cin = w
        # Max-pooling after each stage but the last, as in the Keras build.
        ends = [sum(len(s) for s in self.arch.stages[: k + 1]) - 1 for k in range(len(self.arch.stages) - 1)]
        self.pool_after = set(ends)
        self.dropout = nn.Dropout(self.arch.dropout)
        self.head = nn.Linear(cin, len(EMOTIONS))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x * (1.0 / 255.0)
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = torch.relu(bn(conv(x)))
            if i in self.pool_after:
                x = nn.functional.max_pool2d(x, 2)
        return self.head(self.dropout(x.mean((2, 3))))
