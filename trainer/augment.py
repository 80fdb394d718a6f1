"""Differentiable augmentation (Zhao et al. 2020, DiffAugment) for GAN training on small data.

The same random transform family is applied to real and fake images before D sees them, and it is
differentiable, so G learns the un-augmented distribution. All randomness comes from a caller's
torch.Generator, which keeps training reproducible and resumable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    parts = tuple(p for p in policy.replace(" ", "").split(",") if p)
    bad = [p for p in parts if p not in POLICIES]
    if bad:
        raise ValueError(f"unknown augmentation {bad}; choose from {POLICIES}")
    return parts


def _rand(gen: torch.Generator, n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.rand(n, 1, 1, 1, generator=gen).to(like.device, like.dtype)


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    """Augment a batch (n, 3, h, w) in [-1, 1]."""
    n = x.shape[0]
    if "color" in policy:
        x = x + (_rand(gen, n, x) - 0.5)  # brightness
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (_rand(gen, n, x) * 2) + mean  # saturation
        mean = x.mean(dim=[1, 2, 3], keepdim=True)
        x = (x - mean) * (_rand(gen, n, x) + 0.5) + mean  # contrast
    if "translation" in policy:
        x = _translate(x, 0.125, gen)
    if "cutout" in policy:
        x = _cutout(x, 0.5, gen)
    return x


def _translate(x: torch.Tensor, ratio: float, gen: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    tx = torch.randint(-sh, sh + 1, (n, 1, 1), generator=gen)
    ty = torch.randint(-sw, sw + 1, (n, 1, 1), generator=gen)
    gb, gx, gy = torch.meshgrid(torch.arange(n), torch.arange(h), torch.arange(w), indexing="ij")
    gx = torch.clamp(gx + tx + 1, 0, h + 1)
    gy = torch.clamp(gy + ty + 1, 0, w + 1)
    xp = F.pad(x, [1, 1, 1, 1, 0, 0, 0, 0])
    gb, gx, gy = gb.to(x.device), gx.to(x.device), gy.to(x.device)
    return xp.permute(0, 2, 3, 1)[gb, gx, gy].permute(0, 3, 1, 2).contiguous(
        memory_format=torch.channels_last if x.is_contiguous(memory_format=torch.channels_last)
        else torch.contiguous_format
    )


def _cutout(x: torch.Tensor, ratio: float, gen: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (n, 1, 1), generator=gen)
    oy = torch.randint(0, w + (1 - cw % 2), (n, 1, 1), generator=gen)
    gb, gx, gy = torch.meshgrid(torch.arange(n), torch.arange(ch), torch.arange(cw), indexing="ij")
    gx = torch.clamp(gx + ox - ch // 2, 0, h - 1)
    gy = torch.clamp(gy + oy - cw // 2, 0, w - 1)
    mask = torch.ones(n, h, w, dtype=x.dtype)
    mask[gb, gx, gy] = 0
    mask = mask.to(x.device)
    return x * mask.unsqueeze(1)
