"""What a photo fit draws toward: the aligned crop, counted only where it is the photo's own.

Latent refinement (`explorer.core.encoding`) and pivotal tuning (`explorer.core.pivotal`) fit G
to an aligned crop. A tightly cut photo (UTKFace's chips, a selfie close to the frame) ends before
CelebA's framing does; `photos.warp_square` fills the rest with a blurred copy of the edge, which
is no part of the person. Fitted like the rest, that fill came back in every reconstruction and
edit as a smeared band above the head. Here the pixel terms count only the photo's own pixels
(`Alignment.inside`), and the perceptual term compares against the crop with G's own drawing
where the photo has nothing: G draws hair and background there as it would for any face, and the
reported PSNR is the photo's pixels'.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

from facegan.images import psnr, tensor_psnr

Features = Callable[[torch.Tensor], torch.Tensor]
# How much a pixel outside the photo counts toward a `fill`, against 1 for the photo's own (the
# latent refinement's; measured on the four UTKFace photos of docs/screenshots/photo_edits.png at
# the 0.6 s budget: at 1 the inversion lost 1.2-3.3 dB of the photo's pixels against leaving the
# rest free, at 0.1 0.1-0.9 dB).
FILL_WEIGHT = 0.1


class FitTarget:
    """One (1, 3, res, res) target in [-1, 1]; `inside` (res, res) the share of each pixel that
    lies in the photo (None: all of it); `features`: a perceptual feature map (C's trunk).

    `fill` (1, 3, res, res): what to fit where the photo has nothing, at `fill_weight` against a
    photo pixel's 1, instead of leaving it free. The refinement passes E's drawing (the hair and
    background this model gives such a face), pivotal tuning the inversion's drawing: left
    almost free, the tuned weights fit the face so closely that edits fade
    (`pivotal.TUNE_FILL_WEIGHT`). The PSNR stays the photo's pixels'."""

    def __init__(self, target: torch.Tensor, inside: np.ndarray | None = None,
                 features: Features | None = None, fill: torch.Tensor | None = None,
                 fill_weight: float = FILL_WEIGHT) -> None:
        self.target = target
        self.weight: torch.Tensor | None = None  # the photo's share of each pixel, if not all
        if inside is not None and float(np.min(inside)) < 0.999:
            w = torch.from_numpy(np.asarray(inside, np.float32))[None, None].to(target.dtype)
            if tuple(w.shape[2:]) != tuple(target.shape[2:]):
                raise ValueError(f"inside is {tuple(w.shape[2:])}, the target "
                                 f"{tuple(target.shape[2:])}")
            self.weight = w
        # What the loss draws toward: the target, or the target completed by `fill`, and how
        # much each pixel counts (None: all alike).
        self.fitted, self.counts, self.free = target, self.weight, self.weight
        if self.weight is not None and fill is not None:
            self.fitted = self.weight * target + (1 - self.weight) * fill.detach()
            self.counts = self.weight + fill_weight * (1 - self.weight)
            self.free = None
        self.features = features
        self._feat_t = None
        if features is not None and self.free is None:
            with torch.no_grad():
                self._feat_t = features(self.fitted)

    def pixel_loss(self, x: torch.Tensor) -> torch.Tensor:
        """MSE + 0.5 L1 over the photo's own pixels (and the fill's, where there is one)."""
        if self.counts is None:
            return F.mse_loss(x, self.fitted) + 0.5 * F.l1_loss(x, self.fitted)
        d = x - self.fitted
        n = self.counts.sum() * x.shape[1]
        return ((d * d * self.counts).sum() + 0.5 * (d.abs() * self.counts).sum()) / n

    def feature_loss(self, x: torch.Tensor) -> torch.Tensor:
        """MSE of the feature maps, against the crop completed by x itself where the photo has
        nothing (0 without a feature map)."""
        if self.features is None:
            return x.new_zeros(())
        feat_t = self._feat_t
        if feat_t is None:
            assert self.free is not None
            with torch.no_grad():
                w = self.free
                feat_t = self.features(w * self.target + (1 - w) * x.detach())
        return F.mse_loss(self.features(x), feat_t)

    def psnr(self, x: torch.Tensor) -> float:
        """PSNR in dB over the photo's own pixels (x clamped to [-1, 1]); inf where equal."""
        return tensor_psnr(x, self.target, self.weight)


def own_psnr(a: np.ndarray, b: np.ndarray, inside: np.ndarray | None) -> float:
    """PSNR in dB of two (res, res, 3) uint8 crops over the photo's own pixels (`inside`, the
    share of each pixel; None: all): the likeness the fits report."""
    if inside is None:
        return float(psnr(a, b))
    d2 = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    w = np.asarray(inside, np.float64)
    mse = float((d2 * w[..., None]).sum() / (w.sum() * d2.shape[2]))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


__all__ = ["FILL_WEIGHT", "FitTarget", "own_psnr"]
