"""Batch augmentation for 48x48 faces in PyTorch, drawn from a seeded generator so a resumed run sees the same stream.

Flip, rotation, zoom, shift and the optional random crop are composed into one
affine map per image (one resampling instead of four), then brightness/contrast
jitter and random erasing. Values stay in 0..255 like the model's input.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


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


def _uniform(g: torch.Generator, shape, lo: float, hi: float) -> torch.Tensor:
    return torch.rand(shape, generator=g) * (hi - lo) + lo


def _affine(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator, crop: int) -> torch.Tensor:
    b, _, h, _ = x.shape
    angle = _uniform(g, b, -1.0, 1.0) * math.radians(cfg.rotation_deg)
    scale = _uniform(g, b, 1.0 - cfg.zoom, 1.0 + cfg.zoom)
    flip = torch.where(torch.rand(b, generator=g) < 0.5, -1.0, 1.0) if cfg.flip else torch.ones(b)
    frac = crop / h  # a crop x crop window of the (transformed) face, anywhere inside it
    shift = _uniform(g, (b, 2), -1.0, 1.0) * (2 * cfg.shift + (1 - frac))
    # Output -> input map in affine_grid's [-1, 1] coordinates.
    cos, sin = torch.cos(angle) / scale * frac, torch.sin(angle) / scale * frac
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1), torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, [b, 1, crop, crop], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _photometric(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    mean = x.mean((1, 2, 3), keepdim=True)
    contrast = _uniform(g, (b, 1, 1, 1), 1.0 - cfg.contrast, 1.0 + cfg.contrast)
    bright = _uniform(g, (b, 1, 1, 1), -cfg.brightness, cfg.brightness) * 255.0
    return ((x - mean) * contrast + mean + bright).clamp_(0.0, 255.0)


def _erase(x: torch.Tensor, cfg: AugmentConfig, g: torch.Generator) -> torch.Tensor:
    """Random erasing: a rectangle per image filled with noise, so the model cannot lean on one region."""
    b, _, h, w = x.shape
    area = _uniform(g, b, *cfg.erase_area) * h * w
    aspect = torch.exp(_uniform(g, b, math.log(0.3), math.log(3.3)))
    eh, ew = torch.sqrt(area * aspect).clamp(max=h), torch.sqrt(area / aspect).clamp(max=w)
    y0, x0 = torch.rand(b, generator=g) * (h - eh), torch.rand(b, generator=g) * (w - ew)
    ys, xs = torch.arange(h), torch.arange(w)
    in_y = (ys[None] >= y0[:, None]) & (ys[None] < (y0 + eh)[:, None])
    in_x = (xs[None] >= x0[:, None]) & (xs[None] < (x0 + ew)[:, None])
    apply = torch.rand(b, generator=g) < cfg.erase_prob
    mask = (in_y[:, :, None] & in_x[:, None, :] & apply[:, None, None])[:, None]
    noise = torch.rand(x.shape, generator=g) * 255.0
    return torch.where(mask, noise, x)


def equalise(x: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation of each image of a float batch (B, 1, H, W) in 0..255, as ``cv2.equalizeHist``
    does to the same image rounded to uint8: the app equalises every crop, so training sees what it sees."""
    b = x.shape[0]
    levels = x.round().clamp(0, 255).long().reshape(b, -1)
    hist = torch.zeros(b, 256, dtype=torch.long).scatter_add_(1, levels, torch.ones_like(levels))
    cdf = hist.cumsum(1)
    first = torch.where(hist > 0, cdf, torch.full_like(cdf, levels.shape[1])).min(1, keepdim=True).values
    span = (levels.shape[1] - first).clamp(min=1)
    lut = ((cdf - first).clamp(min=0) * 255.0 / span).round()
    out = lut.gather(1, levels).float()
    flat = first == levels.shape[1]  # one grey level: left as it is, as OpenCV does
    return torch.where(flat, levels.float(), out).reshape(x.shape)


def augment_batch(x: torch.Tensor, g: torch.Generator, cfg: AugmentConfig = AugmentConfig(), crop: int | None = None,
                  equalised: bool = False) -> torch.Tensor:
    """Augment a float batch (B, 1, 48, 48) in 0..255; ``crop`` < 48 returns random crop x crop windows;
    ``equalised``: the lighting-jittered faces are equalised again before erasing, as the app equalises its crops."""
    x = _affine(x, cfg, g, crop or x.shape[-1])
    x = _photometric(x, cfg, g)
    if equalised:
        x = equalise(x)
    if cfg.erase_prob > 0:
        x = _erase(x, cfg, g)
    return x
