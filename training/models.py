"""CNN architectures for 48x48 grayscale faces, built from a list of channel widths.

Every architecture is a plain chain of conv -> BatchNorm -> ReLU stages with no
residual additions, so that structured pruning can drop any conv's output
channels by building the same architecture with narrower widths and copying the
kept slices of the weights (see ``training.prune``).
"""
from __future__ import annotations

import keras
from keras import layers

from emotion_cam.emotion.labels import EMOTIONS
from training.arch import INPUT_SHAPE, Arch, get

# Keras's BatchNormalization epsilon; the PyTorch twin (training.net) uses the same value so weights carry over exactly.
BN_EPSILON = 1e-3


def build(arch: Arch | str, widths: list[int] | None = None) -> keras.Model:
    """Build ``arch`` with its nominal widths or with ``widths`` (one per conv, e.g. after pruning).

    The model takes raw pixel values (0..255, float) and rescales them itself, so
    the int8 TFLite input is simply the grayscale pixel shifted by the zero point.
    """
    arch = get(arch)
    widths = list(widths) if widths is not None else arch.widths()
    if len(widths) != len(arch.widths()):
        raise ValueError(f"{arch.name} has {len(arch.widths())} convs, got {len(widths)} widths")
    inputs = keras.Input(INPUT_SHAPE, name="face")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    i = 0
    for s, stage in enumerate(arch.stages):
        for _ in stage:
            if i == 0 or not arch.separable:
                x = layers.Conv2D(widths[i], 3, padding="same", use_bias=False, name=f"conv{i}")(x)
            else:
                x = layers.SeparableConv2D(widths[i], 3, padding="same", use_bias=False, name=f"conv{i}")(x)
            x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"bn{i}")(x)
            x = layers.ReLU(name=f"relu{i}")(x)
            i += 1
        if s < len(arch.stages) - 1:
            x = layers.MaxPooling2D(2, name=f"pool{s}")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(arch.dropout, name="dropout")(x)
    # float32 softmax even under a mixed-precision policy, so the loss sees full-precision probabilities.
    outputs = layers.Dense(len(EMOTIONS), activation="softmax", name="probs", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=arch.name)


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates of one forward pass (convs and dense layers; BN folds away in TFLite)."""
    macs = 0
    for layer in model.layers:
        if isinstance(layer, layers.SeparableConv2D):
            _, h, w, cout = layer.output.shape
            cin = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            macs += h * w * cin * kh * kw + h * w * cin * cout
        elif isinstance(layer, layers.Conv2D):
            _, h, w, cout = layer.output.shape
            cin = layer.input.shape[-1]
            kh, kw = layer.kernel_size
            macs += h * w * cin * cout * kh * kw
        elif isinstance(layer, layers.Dense):
            macs += layer.input.shape[-1] * layer.units
    return int(macs)
