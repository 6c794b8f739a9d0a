"""Weights between the PyTorch trainer's ``Net`` and the Keras build that the TFLite converter reads.

Layouts: PyTorch convs are (out, in, kh, kw), Keras (kh, kw, in, out); a depthwise
kernel is (in, 1, kh, kw) in PyTorch and (kh, kw, in, 1) in Keras; Dense kernels are
transposed. BatchNorm carries gamma, beta and the running mean and variance.
"""
from __future__ import annotations

import keras
import numpy as np
import torch
from keras import layers

from training.models import build
from training.net import Net, SeparableConv


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().float().numpy()


def to_keras(net: Net) -> keras.Model:
    """A Keras model computing the same softmax as ``softmax(net(x))`` (in eval mode)."""
    model = build(net.arch, net.widths)
    for i, (conv, bn) in enumerate(zip(net.convs, net.bns)):
        if isinstance(conv, SeparableConv):
            depthwise, pointwise = conv
            weights = [_np(depthwise.weight).transpose(2, 3, 0, 1), _np(pointwise.weight).transpose(2, 3, 1, 0)]
        else:
            weights = [_np(conv.weight).transpose(2, 3, 1, 0)]
        model.get_layer(f"conv{i}").set_weights(weights)
        model.get_layer(f"bn{i}").set_weights([_np(bn.weight), _np(bn.bias), _np(bn.running_mean), _np(bn.running_var)])
    model.get_layer("probs").set_weights([_np(net.head.weight).T, _np(net.head.bias)])
    return model


def from_keras(model: keras.Model, arch) -> Net:
    """The ``Net`` twin of a Keras build (e.g. after pruning), widths read off the model."""
    n = sum(1 for layer in model.layers if isinstance(layer, layers.BatchNormalization))
    widths = [model.get_layer(f"bn{i}").get_weights()[0].shape[0] for i in range(n)]
    net = Net(arch, widths)
    with torch.no_grad():
        for i, (conv, bn) in enumerate(zip(net.convs, net.bns)):
            weights = model.get_layer(f"conv{i}").get_weights()
            if isinstance(conv, SeparableConv):
                conv[0].weight.copy_(torch.from_numpy(weights[0].transpose(2, 3, 0, 1).copy()))
                conv[1].weight.copy_(torch.from_numpy(weights[1].transpose(3, 2, 0, 1).copy()))
            else:
                conv.weight.copy_(torch.from_numpy(weights[0].transpose(3, 2, 0, 1).copy()))
            gamma, beta, mean, var = model.get_layer(f"bn{i}").get_weights()
            for dst, src in ((bn.weight, gamma), (bn.bias, beta), (bn.running_mean, mean), (bn.running_var, var)):
                dst.copy_(torch.from_numpy(src))
        kernel, bias = model.get_layer("probs").get_weights()
        net.head.weight.copy_(torch.from_numpy(kernel.T.copy()))
        net.head.bias.copy_(torch.from_numpy(bias))
    return net
