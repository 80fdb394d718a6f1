"""Attribute edits with locks, condition vectors for cGANs, and attribute scores.

Locks follow TL-GAN / InterFaceGAN conditional manipulation: each moved direction is projected onto
the orthogonal complement of the span of the locked directions (through a QR basis, so several locks
that are not mutually orthogonal are handled exactly), then renormalised. Moving it then leaves
every locked attribute's score (the dot product with its direction) unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from explorer.core.directions import Directions

_EPS = 1e-6
Y_LIMIT = 2.0  # how far a conditional model's y may be pushed (it trained on -1, 0 and +1)
SLIDER_END = 3.0  # a slider's alpha runs over [-SLIDER_END, SLIDER_END] standard steps
EXCLUSIVE_SHARE = 0.01  # sides seen on fewer than this share of the rows with another's
# side never go with it (`exclusive_sides`)


def _lock_basis(directions: Directions, locks: Collection[str]) -> np.ndarray | None:
    """(nz, k) orthonormal basis of the locked directions' span, or None."""
    rows = [directions.vector(n) for n in locks]
    rows = [r for r in rows if np.linalg.norm(r) > _EPS]
    if not rows:
        return None
    q, r = np.linalg.qr(np.stack(rows).T.astype(np.float64))
    keep = np.abs(np.diag(r)) > _EPS  # drop dependent locks
    return q[:, keep]


def edit_vector(
    directions: Directions, alphas: Mapping[str, float], locks: Collection[str] = ()
) -> np.ndarray:
    """(nz,) offset sum_i alpha_i * scale_i * d_i', each d_i' orthogonal to the locks."""
    nz = directions.vectors.shape[1]
    for n in locks:
        directions.index(n)  # unknown lock names fail loudly
    delta = np.zeros(nz, np.float64)
    for name, alpha in alphas.items():
        if alpha == 0:
            continue
        i = directions.index(name)
        d = directions.vectors[i].astype(np.float64)
        others = [n for n in locks if n != name]
        q = _lock_basis(directions, others)
        if q is not None:
            d = d - q @ (q.T @ d)
            n = np.linalg.norm(d)
            if n < _EPS:  # the direction lies in the locked span: moving it would move a lock
                continue
            d = d / n
        delta += float(alpha) * float(directions.scale[i]) * d
    return delta.astype(np.float32)


def apply_edits(
    z: np.ndarray,
    directions: Directions,
    alphas: Mapping[str, float],
    locks: Collection[str] = (),
) -> np.ndarray:
    """z' = z + sum_i alpha_i * scale_i * d_i (locks projected out); z (nz,) or (n, nz)."""
    z = np.asarray(z, np.float32)
    if z.shape[-1] != directions.vectors.shape[1]:
        raise ValueError(f"latent size {z.shape[-1]} does not match the directions' "
                         f"{directions.vectors.shape[1]}")
    return (z + edit_vector(directions, alphas, locks)).astype(np.float32)


def y_limits(reach: Sequence[float] | np.ndarray | None, n: int) -> np.ndarray:
    """(n,) how far each conditioned attribute's y may go: the model's fitted reach
    (`Bundle.y_reach`), or Y_LIMIT for every attribute of a model without one."""
    if reach is None:
        return np.full(n, Y_LIMIT, np.float32)
    return np.asarray(reach, np.float32).reshape(n)


def exclusive_sides(labels: np.ndarray | None, share: float = EXCLUSIVE_SHARE
                    ) -> np.ndarray | None:
    """(n, 2, n) which side of each conditioned attribute j the data never shows with a side of
    attribute i: out[i, s, j] is -1 where j's positive side goes with i's side s (1 positive,
    0 negative) on fewer than `share` of the label rows that have i's side s, +1 where its
    negative side does, else 0. `labels` (rows, n) in {-1, +1} (`Bundle.atlas_conditions`).
    On CelebA: blond hair with black hair (1 of 1,238 blond rows), a mustache with blond hair
    or on a woman (0 of 324 mustache rows). A conditional G never trained on such a condition
    draws it melted (a black-haired man made blond turns into a ghost of a blonde woman), so
    `condition_vector` moves the conditions a user did not touch off the sides that cannot go
    with the one they moved. None without labels."""
    if labels is None or len(labels) == 0:
        return None
    pos = np.asarray(labels) > 0
    n = pos.shape[1]
    out = np.zeros((n, 2, n), np.float32)
    for i in range(n):
        for s, rows in ((1, pos[:, i]), (0, ~pos[:, i])):
            if not rows.any():
                continue
            has = pos[rows].mean(0)  # share of those rows on j's positive side
            for j in range(n):
                if j == i:
                    continue
                if has[j] < share:
                    out[i, s, j] = -1.0
                elif 1.0 - has[j] < share:
                    out[i, s, j] = 1.0
    return out


def settle_exclusive(y: np.ndarray, moved: Collection[int], exclusive: np.ndarray | None
                     ) -> np.ndarray:
    """y (n_cond,), or rows of it (n, n_cond), with each condition that was not `moved` taken
    off a side the data never shows with a moved one's (`exclusive_sides`): toward the allowed
    side's label (+-1) by how far the moved condition is into its side (|y_i| up to 1), so that
    y moves continuously with the slider; a condition already at least 1 into its allowed side
    stays."""
    y = np.array(y, np.float32)
    if exclusive is None:
        return y
    free = np.ones(y.shape[-1], bool)
    free[list(moved)] = False
    for i in moved:
        t = np.minimum(np.abs(y[..., i]), 1.0)[..., None]
        forced = exclusive[i][(y[..., i] > 0).astype(int)]  # (..., n_cond)
        give = free & (forced != 0) & (forced * y < 1.0)
        y = np.where(give, y + (forced - y) * t, y).astype(np.float32)
    return y


def condition_vector(
    cond_attributes: Sequence[str],
    alphas: Mapping[str, float],
    base: np.ndarray | None = None,
    reach: Sequence[float] | np.ndarray | None = None,
    exclusive: np.ndarray | None = None,
) -> np.ndarray:
    """(n_cond,) y for a conditional model: the same slider values drive y instead of z.

    Attribute i's y moves by alpha (L_i + 1) / SLIDER_END and is clipped to +-L_i, L_i its reach
    (`y_limits`): the slider's end takes a face labelled +1 to -L_i and one labelled -1 to +L_i.
    With the default reach 2 a slider step is one unit of y. `base` (default all zeros,
    'neither') is where sliders at 0 leave y; attributes that are not conditioned are ignored
    (the caller moves them in z). With `exclusive` (`exclusive_sides`, `Bundle.cond_exclusive`)
    the conditions whose sliders are at 0 give way to the moved ones (`settle_exclusive`).
    """
    y = np.zeros(len(cond_attributes), np.float32) if base is None else np.array(base, np.float32)
    limits = y_limits(reach, len(cond_attributes))
    moved = []
    for name, alpha in alphas.items():
        if name in cond_attributes:
            i = list(cond_attributes).index(name)
            lim = float(limits[i])
            y[i] = np.clip(y[i] + alpha * (lim + 1.0) / SLIDER_END, -lim, lim)
            if alpha != 0:
                moved.append(i)
    return settle_exclusive(y, moved, exclusive)


def corrected_latents(z: np.ndarray, y: np.ndarray | None, base: np.ndarray | None,
                      correction: np.ndarray | None) -> np.ndarray:
    """z (n, nz) with each face's y edit corrected: z + (y - base) @ correction, y and base
    (n, n_cond) the face's condition with and without the y sliders, `correction` (n_cond, nz)
    the model's (`Bundle.cond_correction`, fitted by `facegan.directions.condition_correction`
    so that the other attributes stay). Unchanged without a correction or a y edit."""
    z = np.asarray(z, np.float32)
    if correction is None or y is None or base is None:
        return z
    dy = np.asarray(y, np.float32) - np.asarray(base, np.float32)
    if not dy.any():
        return z
    return (z + dy @ np.asarray(correction, np.float32)).astype(np.float32)


def attribute_scores(z: np.ndarray, directions: Directions) -> np.ndarray:
    """Dot product with each unit direction: (n_attr,) for z (nz,), (n, n_attr) for z (n, nz)."""
    return (np.asarray(z, np.float32) @ directions.vectors.T).astype(np.float32)


def top_attributes(
    scores: np.ndarray, names: Sequence[str], k: int = 5
) -> list[tuple[str, float]]:
    """The k attributes with the largest scores, largest first (scores (n_attr,))."""
    s = np.asarray(scores, np.float64).reshape(-1)
    if len(s) != len(names):
        raise ValueError(f"{len(s)} scores for {len(names)} names")
    order = np.argsort(-s, kind="stable")[: max(0, k)]
    return [(names[i], float(s[i])) for i in order]
