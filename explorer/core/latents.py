"""Seeds name faces: each seed has its own `torch.Generator`: same seed, same face, every run."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch


def seed_latent(seed: int, nz: int) -> np.ndarray:
    """(nz,) float32 latent of `seed` (truncation happens in G: see `Bundle.generate`'s psi)."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(nz, generator=gen, dtype=torch.float32).numpy()


def seed_latents(seeds: Sequence[int], nz: int) -> np.ndarray:
    """(n, nz) float32 latents, one per seed."""
    if len(seeds) == 0:
        return np.zeros((0, nz), np.float32)
    return np.stack([seed_latent(s, nz) for s in seeds])


def random_latents(n: int, nz: int, seed: int = 0) -> np.ndarray:
    """(n, nz) float32 prior samples from one generator (for grids and benchmarks)."""
    gen = torch.Generator().manual_seed(int(seed))
    return torch.randn(n, nz, generator=gen).numpy()
