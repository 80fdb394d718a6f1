"""Latent analogies A - B + C (seed 001 fig. 7): "A is to B as ? is to C"."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def analogy(a: np.ndarray, b: np.ndarray, c: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """c + strength * (a - b) on any latents of equal shape (float32)."""
    a, b, c = (np.asarray(v, np.float32) for v in (a, b, c))
    if not (a.shape == b.shape == c.shape):
        raise ValueError(f"analogy needs latents of one shape, got {a.shape}, {b.shape}, {c.shape}")
    return (c + np.float32(strength) * (a - b)).astype(np.float32)


def analogy_strip(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, strengths: Sequence[float]
) -> np.ndarray:
    """(k, nz): the analogy at each strength (0 gives c itself)."""
    return np.stack([analogy(a, b, c, s) for s in strengths]).reshape(len(strengths), -1)
