"""Paths through latent space: lerp and slerp between N keyframes, optional loop and easing.

slerp follows the angle between the two latents and interpolates their norms, the usual choice for
Gaussian latents (White 2016, "Sampling Generative Networks"). A walk through photos also carries
their details (`explorer.core.encoding`): `interpolate_details` blends them on the same clock, so a
photo keyframe looks like the photo and the detail fades in and out between keyframes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

MODES = ("lerp", "slerp")
EASINGS = ("linear", "ease-in-out")


def lerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """(1 - t) a + t b; t scalar or (k,) giving (k, nz)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    t = np.asarray(t, np.float64)
    if t.ndim:
        t = t[:, None]
    return ((1 - t) * a + t * b).astype(np.float32)


def slerp(a: np.ndarray, b: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    """Spherical interpolation; falls back to lerp for (anti)parallel or zero vectors."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a64), np.linalg.norm(b64)
    if na < 1e-12 or nb < 1e-12:
        return lerp(a, b, t)
    cos = float(np.clip(np.dot(a64 / na, b64 / nb), -1.0, 1.0))
    omega = np.arccos(cos)
    if np.sin(omega) < 1e-6:
        return lerp(a, b, t)
    tt = np.asarray(t, np.float64)
    if tt.ndim:
        tt = tt[:, None]
    out = (np.sin((1 - tt) * omega) * a64 + np.sin(tt * omega) * b64) / np.sin(omega)
    # Exact endpoints (the sines are not exactly 0/1 in floating point).
    out = np.where(tt == 0, a64, np.where(tt == 1, b64, out))
    return out.astype(np.float32)


def _ease(u: np.ndarray, easing: str) -> np.ndarray:
    if easing == "linear":
        return u
    if easing == "ease-in-out":  # smoothstep: zero speed at each keyframe
        return u * u * (3 - 2 * u)
    raise ValueError(f"unknown easing {easing!r}; choose one of {EASINGS}")


def interpolate(
    keyframes: np.ndarray,
    n_frames: int,
    mode: str = "slerp",
    loop: bool = False,
    easing: str = "linear",
) -> np.ndarray:
    """(n_frames, nz) path through `keyframes` (k, nz), keyframes evenly spaced in time.

    Without loop, frame 0 is keyframe 0 and the last frame the last keyframe. With loop, the path
    returns to keyframe 0 and the last frame stops one step short of it, so the sequence repeats
    seamlessly. Easing applies within each segment.
    """
    kf = np.asarray(keyframes, np.float32)
    if kf.ndim != 2 or len(kf) < 1:
        raise ValueError(f"keyframes must have shape (k, nz) with k >= 1, got {kf.shape}")
    if mode not in MODES:
        raise ValueError(f"unknown interpolation mode {mode!r}; choose one of {MODES}")
    if easing not in EASINGS:
        raise ValueError(f"unknown easing {easing!r}; choose one of {EASINGS}")
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if len(kf) == 1:
        return np.repeat(kf, n_frames, axis=0)
    pts = np.vstack([kf, kf[:1]]) if loop else kf
    n_seg = len(pts) - 1
    if loop:
        g = np.arange(n_frames) / n_frames * n_seg
    else:
        g = np.linspace(0.0, n_seg, n_frames) if n_frames > 1 else np.zeros(1)
    fn = slerp if mode == "slerp" else lerp
    out = np.empty((n_frames, kf.shape[1]), np.float32)
    for j, gj in enumerate(g):
        seg = min(int(np.floor(gj)), n_seg - 1)
        u = float(_ease(np.asarray(gj - seg), easing))
        out[j] = fn(pts[seg], pts[seg + 1], u)
    return out


def interpolate_details(
    details: Sequence[np.ndarray | None],
    n_frames: int,
    loop: bool = False,
    easing: str = "linear",
) -> np.ndarray | None:
    """(n_frames, *shape) details along the walk of `interpolate` through the same keyframes:
    each keyframe's detail (zeros for one without), blended linearly on the same clock; None
    when no keyframe has a detail."""
    given = [d for d in details if d is not None]
    if not given:
        return None
    shape = np.shape(given[0])
    if any(np.shape(d) != shape for d in given):
        raise ValueError("the keyframes' details have different shapes")
    flat = np.stack([np.zeros(int(np.prod(shape)), np.float32) if d is None
                     else np.asarray(d, np.float32).reshape(-1) for d in details])
    return interpolate(flat, n_frames, mode="lerp", loop=loop, easing=easing).reshape(
        n_frames, *shape)


def interpolate_conditions(
    conditions: Sequence[np.ndarray | None],
    n_frames: int,
    loop: bool = False,
    easing: str = "linear",
) -> np.ndarray | None:
    """(n_frames, n_cond) a conditional model's condition along the walk: each keyframe's own
    (None: neutral, zeros) blended linearly on the walk's clock, as `interpolate_details`
    blends details; None when no keyframe has one (other models)."""
    return interpolate_details(conditions, n_frames, loop=loop, easing=easing)
