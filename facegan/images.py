"""Image helpers every layer shares: any PIL image upright in RGB, faces in a grid, PSNR."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from PIL import Image, ImageOps

_HIGH_DEPTH = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")
_ALPHA = ("RGBA", "LA", "PA", "RGBa", "La")


def to_rgb(img: Image.Image) -> Image.Image:
    """Any mode (grayscale, 16-bit, float, palette, RGBA, CMYK) to 8-bit RGB, alpha on white,
    turned upright by its EXIF orientation (a phone photo, a CelebA file alike)."""
    img = ImageOps.exif_transpose(img)
    if img.mode in _HIGH_DEPTH:
        a = np.asarray(img, dtype=np.float32)
        hi = float(a.max()) if a.size else 1.0
        a = a * (255.0 / (65535.0 if hi > 255 else max(hi, 1.0)))
        img = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")
    if img.mode in _ALPHA or (img.mode == "P" and "transparency" in img.info):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)
    return img.convert("RGB")


def image_grid(images: np.ndarray, cols: int | None = None, pad: int = 2,
               background: int = 255, border: bool = True) -> np.ndarray:
    """(n, h, w, 3) uint8 -> one image with the faces in rows of `cols` (default: a near-square
    grid), `pad` pixels of `background` between them (and around them if `border`)."""
    n, h, w, _ = images.shape
    cols = max(1, cols or int(math.ceil(math.sqrt(n))))
    rows = int(math.ceil(n / cols))
    edge = pad if border else 0
    out = np.full((rows * (h + pad) - pad + 2 * edge, cols * (w + pad) - pad + 2 * edge, 3),
                  background, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        y, x = edge + r * (h + pad), edge + c * (w + pad)
        out[y : y + h, x : x + w] = im
    return out


def tensor_psnr(x: Any, target: Any, weight: Any = None) -> float:
    """PSNR in dB of torch images in [-1, 1] (range 2; `x` clamped to it first) against
    `target`; inf where they are identical. The fitting loops' progress figure. `weight`
    (1, 1, h, w): how much each pixel counts (a photo's own share of a crop); None: all alike."""
    import torch.nn.functional as F

    x = x.detach().clamp(-1, 1)
    if weight is None:
        mse = float(F.mse_loss(x, target))
    else:
        mse = float(((x - target).pow(2) * weight).sum() / (weight.sum() * x.shape[1]))
    return float("inf") if mse == 0 else 10 * math.log10(4.0 / mse)


def psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """PSNR in dB of uint8 images: per image for (n, h, w, 3), a 0-d array for one image (or any
    array of 3 or fewer axes, such as the masked pixels (k, 3) of one); inf where they are
    identical."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    axes = tuple(range(max(a.ndim - 3, 0), a.ndim))
    mse = ((a64 - b64) ** 2).mean(axis=axes)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(255.0**2 / mse)
