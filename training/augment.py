"""Batch augmentation for 48x48 faces, as TensorFlow ops inside the ``tf.data`` pipeline.

Flip, rotation, zoom and shift are composed into one projective transform per
image (one resampling instead of four), then brightness/contrast jitter and
random erasing. Values stay in 0..255 like the model's input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf


@dataclass(frozen=True)
class AugmentConfig:
    flip: bool = True
    rotation_deg: float = 10.0
    zoom: float = 0.1  # scale drawn from [1 - zoom, 1 + zoom]
    shift: float = 0.1  # fraction of the image size
    brightness: float = 0.2  # additive, fraction of 255
    contrast: float = 0.25  # multiplicative about the image mean
    erase_prob: float = 0.25
    erase_area: tuple[float, float] = (0.02, 0.15)


def _affine(images: tf.Tensor, cfg: AugmentConfig, seed: tf.Tensor) -> tf.Tensor:
    b = tf.shape(images)[0]
    size = tf.cast(tf.shape(images)[1], tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 5)
    angle = tf.random.stateless_uniform([b], seeds[0], -1.0, 1.0) * (cfg.rotation_deg * math.pi / 180.0)
    scale = tf.random.stateless_uniform([b], seeds[1], 1.0 - cfg.zoom, 1.0 + cfg.zoom)
    shift = tf.random.stateless_uniform([b, 2], seeds[2], -cfg.shift, cfg.shift) * size
    flip = tf.where(tf.random.stateless_uniform([b], seeds[3]) < 0.5, -1.0, 1.0) if cfg.flip else tf.ones([b])
    # Inverse map (output pixel -> input pixel) about the image centre.
    c = (size - 1.0) / 2.0
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    a0, a1 = cos * flip, -sin
    b0, b1 = sin * flip, cos
    a2 = c - a0 * c - a1 * c + shift[:, 0]
    b2 = c - b0 * c - b1 * c + shift[:, 1]
    zeros = tf.zeros([b])
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        interpolation="BILINEAR",
        fill_mode="REFLECT",
        fill_value=0.0,
    )


def _photometric(images: tf.Tensor, cfg: AugmentConfig, seed: tf.Tensor) -> tf.Tensor:
    b = tf.shape(images)[0]
    s1, s2 = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    contrast = tf.random.stateless_uniform([b, 1, 1, 1], s1, 1.0 - cfg.contrast, 1.0 + cfg.contrast)
    bright = tf.random.stateless_uniform([b, 1, 1, 1], s2, -cfg.brightness, cfg.brightness) * 255.0
    return tf.clip_by_value((images - mean) * contrast + mean + bright, 0.0, 255.0)


def _erase(images: tf.Tensor, cfg: AugmentConfig, seed: tf.Tensor) -> tf.Tensor:
    """Random erasing: a rectangle per image filled with noise, so the model cannot lean on one region."""
    b = tf.shape(images)[0]
    h = tf.cast(tf.shape(images)[1], tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 6)
    area = tf.random.stateless_uniform([b], seeds[0], *cfg.erase_area) * h * h
    aspect = tf.exp(tf.random.stateless_uniform([b], seeds[1], math.log(0.3), math.log(3.3)))
    eh = tf.minimum(tf.sqrt(area * aspect), h)
    ew = tf.minimum(tf.sqrt(area / aspect), h)
    y0 = tf.random.stateless_uniform([b], seeds[2]) * (h - eh)
    x0 = tf.random.stateless_uniform([b], seeds[3]) * (h - ew)
    grid = tf.range(h)
    in_y = (grid[None, :] >= y0[:, None]) & (grid[None, :] < (y0 + eh)[:, None])
    in_x = (grid[None, :] >= x0[:, None]) & (grid[None, :] < (x0 + ew)[:, None])
    mask = in_y[:, :, None] & in_x[:, None, :]
    apply = tf.random.stateless_uniform([b], seeds[4]) < cfg.erase_prob
    mask = (mask & apply[:, None, None])[..., None]
    noise = tf.random.stateless_uniform(tf.shape(images), seeds[5], 0.0, 255.0)
    return tf.where(mask, noise, images)


def augment_batch(images: tf.Tensor, seed: tf.Tensor, cfg: AugmentConfig = AugmentConfig()) -> tf.Tensor:
    """Augment a float32 batch (B, 48, 48, 1) in 0..255; ``seed`` is a stateless (2,) int seed."""
    s = tf.random.experimental.stateless_split(seed, 3)
    images = _affine(images, cfg, s[0])
    images = _photometric(images, cfg, s[1])
    if cfg.erase_prob > 0:
        images = _erase(images, cfg, s[2])
    return images
