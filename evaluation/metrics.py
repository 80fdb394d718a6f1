"""Image-quality measures for the evaluation report: PSNR, SSIM, Fréchet distance, neighbours.

The Fréchet distance here is computed in the bundled attribute classifier's pooled feature space,
not Inception's (which would need downloaded weights); its numbers are comparable only with each
other, so the report always prints a real-vs-real floor beside it.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy import linalg
from torch import nn

from facegan.models import images_to_tensor


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB of uint8 images (n, h, w, 3) or one image (h, w, 3)."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    axes = tuple(range(a.ndim - 3, a.ndim))
    mse = ((a64 - b64) ** 2).mean(axis=axes)
    return 10 * np.log10(255.0**2 / np.maximum(mse, 1e-10))


def ssim(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-image SSIM (Wang et al. 2004, 7x7 Gaussian window, on luma) of uint8 images (n,h,w,3)."""
    def luma(x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(x.astype(np.float32))
        y = 0.299 * t[..., 0] + 0.587 * t[..., 1] + 0.114 * t[..., 2]
        return y[:, None]

    x, y = luma(a), luma(b)
    g = torch.exp(-((torch.arange(7) - 3.0) ** 2) / (2 * 1.5**2))
    w = (g[:, None] * g[None, :]) / (g.sum() ** 2)
    w = w[None, None]
    mu_x, mu_y = F.conv2d(x, w), F.conv2d(y, w)
    sxx = F.conv2d(x * x, w) - mu_x**2
    syy = F.conv2d(y * y, w) - mu_y**2
    sxy = F.conv2d(x * y, w) - mu_x * mu_y
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    s = ((2 * mu_x * mu_y + c1) * (2 * sxy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2))
    return s.mean(dim=(1, 2, 3)).numpy()


@torch.no_grad()
def pooled_features(C: nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Global-average-pooled classifier trunk features, (n, channels)."""
    C.eval()
    out = []
    for i in range(0, len(images), batch):
        out.append(C.trunk(images_to_tensor(images[i : i + batch])).mean(dim=(2, 3)))
    return torch.cat(out).double().numpy()


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def nearest_neighbours(queries: np.ndarray, pool: np.ndarray, batch: int = 64) -> tuple[
        np.ndarray, np.ndarray]:
    """Index and RMS pixel distance of each query's nearest image in pool (both uint8 n,h,w,3)."""
    p = torch.from_numpy(pool.reshape(len(pool), -1).astype(np.float32))
    p_sq = (p**2).sum(1)
    idx, dist = [], []
    for i in range(0, len(queries), batch):
        q = torch.from_numpy(queries[i : i + batch].reshape(-1, p.shape[1]).astype(np.float32))
        d2 = (q**2).sum(1, keepdim=True) - 2 * q @ p.T + p_sq[None]
        m, j = d2.min(1)
        idx.append(j.numpy())
        dist.append(np.sqrt(np.maximum(m.numpy(), 0) / p.shape[1]))
    return np.concatenate(idx), np.concatenate(dist)
