"""Latent analogies A - B + C (vector arithmetic on latents, as in DCGAN, Radford et al. 2016):
"A is to B as ? is to C"."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def analogy(a: np.ndarray, b: np.ndarray, c: np.ndarray, strength: float = 1.0,
            keep_norm: bool = True, center: np.ndarray | None = None) -> np.ndarray:
    """c + strength * (a - b) on latents of equal shape (float32; rows along the last axis).

    With `keep_norm` the result is rescaled to c's distance from `center` (the origin by
    default). Gaussian latents live on a thin shell (|z| near sqrt(nz)), and c + (a - b) of three
    independent faces is about sqrt(3) times longer: off the shell G draws a washed-out blur
    (sampling generative networks, White 2016). A style G's W is no ball around the origin but a
    cloud around its mean w_avg (`Bundle.latent_center`): measured about it, the result keeps
    c's distance from the average face, where measured from the origin it fell far outside
    the cloud and drew a melted face at strength 0.5 already."""
    a, b, c = (np.asarray(v, np.float32) for v in (a, b, c))
    if not (a.shape == b.shape == c.shape):
        raise ValueError(f"analogy needs latents of one shape, got {a.shape}, {b.shape}, {c.shape}")
    m = np.zeros(c.shape[-1], np.float32) if center is None else \
        np.asarray(center, np.float32).reshape(-1)
    out = c + np.float32(strength) * (a - b)
    if keep_norm:
        n_out = np.linalg.norm(out - m, axis=-1, keepdims=True)
        n_c = np.linalg.norm(c - m, axis=-1, keepdims=True)
        out = np.where(n_out > 1e-6, m + (out - m) * (n_c / np.maximum(n_out, 1e-6)), out)
    return out.astype(np.float32)


def analogy_condition(a: np.ndarray | None, b: np.ndarray | None, c: np.ndarray | None,
                      strength: float = 1.0) -> np.ndarray | None:
    """A conditional model's condition for the result: c + strength * (a - b) on the faces' own
    conditions (None: neutral), clipped to [-1, 1], the range of the labels the model was
    trained on, so "smiling A - neutral B + C" smiles through y as it does through w; None when
    no face has one.

    Not the y sliders' reach (up to ±3 on the bundled model): three faces' labels add up to ±3
    on several attributes at once, and the model draws such a y as a melted face (seeds 5, 6, 7
    and three other triples looked at, 2026-11-30, at strengths 0.5 and 1); each at ±1 it
    draws a face, and one slider still takes it to its reach."""
    given = [v for v in (a, b, c) if v is not None]
    if not given:
        return None
    n = np.asarray(given[0]).size
    a, b, c = (np.zeros(n, np.float32) if v is None else np.asarray(v, np.float32).reshape(-1)
               for v in (a, b, c))
    return np.clip(c + np.float32(strength) * (a - b), -1.0, 1.0).astype(np.float32)


def analogy_strip(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, strengths: Sequence[float],
    center: np.ndarray | None = None,
) -> np.ndarray:
    """(k, nz): the analogy at each strength (0 gives c itself)."""
    return np.stack([analogy(a, b, c, s, center=center)
                     for s in strengths]).reshape(len(strengths), -1)
