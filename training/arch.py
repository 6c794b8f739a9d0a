"""The CNN architectures, as plain data shared by the PyTorch trainer and the Keras exporter.

Every architecture is a plain chain of conv -> BatchNorm -> ReLU stages with no
residual additions, so that structured pruning can drop any conv's output
channels by building the same architecture with narrower widths and copying the
kept slices of the weights (see ``training.prune``).
"""
from __future__ import annotations

from dataclasses import dataclass

INPUT_SHAPE = (48, 48, 1)


@dataclass(frozen=True)
class Arch:
    """A stage is a tuple of conv widths followed by 2x2 max-pooling (except the last, which is pooled globally).

    ``separable`` picks depthwise-separable 3x3 convs after the first (dense) conv:
    about 8x fewer MACs for a small loss in accuracy.
    """

    name: str
    stages: tuple[tuple[int, ...], ...]
    separable: bool
    dropout: float = 0.3

    def widths(self) -> list[int]:
        return [w for stage in self.stages for w in stage]


ARCHITECTURES: dict[str, Arch] = {
    # Compact default: dense 3x3 convs, ~0.3M params, ~30 MMACs before pruning. Dense convs
    # learn faster per CPU-second than separable ones in CPU kernels.
    "compact": Arch("compact", ((16, 16), (32, 32), (64, 64), (128, 128)), separable=False),
    # Depthwise-separable variant of twice the width: fewer MACs, slower to train on CPU.
    "separable": Arch("separable", ((32, 32), (64, 64), (128, 128), (256, 256)), separable=True),
    # 1.5x the compact widths: ~0.67M params, ~2.2x the MACs, still under 1 MB as int8 without pruning.
    "mid": Arch("mid", ((24, 24), (48, 48), (96, 96), (192, 192)), separable=False, dropout=0.4),
    # Larger reference: dense 3x3 convs at twice the width, ~1.2M params, ~4x the MACs.
    "wide": Arch("wide", ((32, 32), (64, 64), (128, 128), (256, 256)), separable=False, dropout=0.4),
    # A teacher (never shipped): 2x the mid widths with a third conv in the last three stages, ~4.4M params, ~6x the MACs.
    "large": Arch("large", ((48, 48), (96, 96, 96), (192, 192, 192), (384, 384, 384)), separable=False, dropout=0.4),
}


def get(arch: Arch | str) -> Arch:
    return ARCHITECTURES[arch] if isinstance(arch, str) else arch
