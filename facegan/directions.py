"""Every way of fitting an attribute direction in latent space, in one place.

- ``mean-diff`` (`mean_difference_directions`): the mean latent of faces with an attribute minus
  the mean of faces without it. The trainer fits it on the encoded training set and stores it
  as ``attr.directions``.
- ``sampled`` (`sampled_directions`, InterFaceGAN on the generator's own faces): G draws faces,
  the classifier C labels them, one logistic regression per attribute separates the latents.
  The trainer stores it as ``attr.directions.sampled``. They follow what G draws; on the first
  bundled model they flipped the judge's decision on 2-7x more faces than the other two methods.
- ``linear`` (`linear_directions`, InterFaceGAN, Shen et al. 2020): the same regression fitted
  on a labelled atlas of encoded faces (the explorer fits it on the stored atlas).
- ``custom`` (`custom_direction`): the mean latent of a group of faces a user picked minus the
  mean of another group.

And for a conditional G, whose conditioned attributes move through y, not along a direction:
how far each one's y slider should reach (`condition_reach`), fitted the same way, on G's own
faces as C labels them. The trainer stores it as ``cond.reach``. And a correction of each y
edit (`condition_correction`): a latent offset per conditioned attribute, added in proportion to
the change of its y, fitted so that C sees the other attributes stay while the edited one flips.
The trainer stores it as ``cond.correction``.

All return raw vectors; `normalise` makes unit ones (a zero row stays zero). No Qt, no trainer:
the trainer, the explorer and the evaluation all stand on this module.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from facegan.models import DEFAULT_PSI, map_batches, prior_latents, truncates_latents

METHODS = ("sampled", "mean-diff", "linear")
EPS = 1e-8


def normalise(v: np.ndarray) -> np.ndarray:
    """Unit rows of `v` (float32); a row shorter than EPS becomes zero."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.where(n > EPS, v / np.maximum(n, EPS), 0.0).astype(np.float32)


def mean_difference_directions(z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n_attr, nz): mean z of faces with each attribute minus mean z of faces without it.
    `labels` is (n, n_attr) in {-1, +1} (> 0 means 'has'); an attribute every face has, or none
    has, gets a zero row."""
    dirs = np.zeros((labels.shape[1], z.shape[1]), dtype=np.float32)
    for a in range(labels.shape[1]):
        pos, neg = labels[:, a] > 0, labels[:, a] <= 0
        if pos.any() and neg.any():
            dirs[a] = z[pos].mean(0) - z[neg].mean(0)
    return dirs


def fit_normals(z: np.ndarray, positive: np.ndarray, fallback: np.ndarray,
                min_per_class: int = 1) -> np.ndarray:
    """One logistic regression per attribute separating the latents z (n, nz) by `positive`
    (n, n_attr) bool; (n_attr, nz) normals. An attribute with fewer than `min_per_class` faces
    on either side has no boundary and keeps its `fallback` row."""
    from sklearn.linear_model import LogisticRegression

    out = np.array(fallback, np.float32, copy=True)
    for a in range(positive.shape[1]):
        y = positive[:, a]
        if y.sum() < min_per_class or (~y).sum() < min_per_class:
            continue
        clf = LogisticRegression(C=1.0, max_iter=300, class_weight="balanced")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings on tiny atlases
            clf.fit(z, y)
        out[a] = clf.coef_[0]
    return out


def linear_directions(z: np.ndarray, labels: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """InterFaceGAN normals on atlas latents z (n, nz) and their {-1, +1} labels; (n_attr, nz)."""
    return fit_normals(z, labels > 0, fallback)


@torch.no_grad()
def sampled_directions(G: nn.Module, C: nn.Module, nz: int, n: int = 10_000,
                       seed: int = 0, y: torch.Tensor | None = None) -> np.ndarray:
    """(n_attr, nz) InterFaceGAN normals: G draws n faces, C labels them, one logistic regression
    per attribute separates the latents. They follow what G actually draws, where the mean
    difference of encoded photos also carries the encoder's errors. An attribute G never draws
    (or always draws) gets a zero row (the explorer then falls back to the mean difference).
    A conditional G draws face i with condition y[i] (n rows, e.g. drawn from the data's
    labels); the regression sees the latents alone, y being independent of them."""
    G.eval()
    C.eval()
    dev = next(G.parameters()).device
    z = torch.randn(n, nz, generator=torch.Generator().manual_seed(seed)).to(dev)
    lat = prior_latents(G, z)  # w for a style G: the boundaries live where the edits act
    if y is not None and len(y) != n:
        raise ValueError(f"sampled_directions: {len(y)} conditions for {n} faces")
    yy = None if y is None else y.float().to(dev)
    logits = map_batches(lambda w, c: C(G(w, c)).float(), lat, yy).numpy()
    return fit_normals(lat.cpu().numpy(), logits > 0,
                       np.zeros((logits.shape[1], nz), np.float32), min_per_class=10)


REACH_CANDIDATES = (1.0, 1.5, 2.0, 2.5, 3.0)
REACH_TARGET = 0.9  # the share of faces whose attribute an edit at the sliders' end should flip


def condition_reach(G: nn.Module, C: nn.Module, nz: int, cond_index: list[int], y: torch.Tensor,
                    n: int = 300, seed: int = 0, psi: float = DEFAULT_PSI,
                    candidates: tuple[float, ...] = REACH_CANDIDATES,
                    target: float = REACH_TARGET) -> np.ndarray:
    """(n_cond,) how far each conditioned attribute's y should go to edit it: G draws n faces
    with conditions y (n rows, e.g. the data's labels), C says which side of each attribute
    each face is on, and the attribute's y is set to the other side at each candidate |y|. G
    draws at `psi`, as the app draws the seeds a user edits. The
    reach is the smallest candidate at which C sees `target` of the faces flip, else the one at
    which most flip. Attributes differ: on the conditional style G (26,000 steps; 300 seeds, as
    C saw them) Smiling and Eyeglasses flipped on 90-94% of faces at |y| = 1.5, Young on 89%
    only at 3, and Blond_Hair and Eyeglasses flipped less beyond 1.5-2 (the face washes out or
    the glasses melt).
    C chooses; the report's independent judge grades (`evaluation`)."""
    G.eval()
    C.eval()
    if len(y) != n:
        raise ValueError(f"condition_reach: {len(y)} conditions for {n} faces")
    dev = next(G.parameters()).device
    z = torch.randn(n, nz, generator=torch.Generator().manual_seed(seed)).to(dev)
    lat = prior_latents(G, z)
    yy = y.float().to(dev)

    def sides(c: torch.Tensor) -> np.ndarray:
        return map_batches(lambda w, cc: C(G(w, cc, None, psi)).float(), lat, c).numpy() > 0

    before = sides(yy)
    reach = np.zeros(len(cond_index), np.float32)
    for k, ai in enumerate(cond_index):
        rates = []
        for v in candidates:
            moved = yy.clone()
            moved[:, k] = torch.from_numpy(np.where(before[:, ai], -v, v)).to(dev)
            rates.append(float((sides(moved)[:, ai] != before[:, ai]).mean()))
        hit = [v for v, r in zip(candidates, rates, strict=True) if r >= target]
        reach[k] = hit[0] if hit else candidates[int(np.argmax(rates))]
    return reach


CORRECTION_KEEP = 0.4  # weight of C's other attributes against the target's margin
CORRECTION_ANCHOR = 10.0  # weight of the picture's 4x4 colour layout, held to the y edit's own
ANCHOR_GRID = 4


def condition_correction(G: nn.Module, C: nn.Module | Sequence[nn.Module], nz: int,
                         cond_index: list[int],
                         y: torch.Tensor, reach: np.ndarray, steps: int = 150, batch: int = 24,
                         seed: int = 0, psi: float = DEFAULT_PSI, keep: float = CORRECTION_KEEP,
                         anchor: float = CORRECTION_ANCHOR, margin: float = 2.0) -> np.ndarray:
    """(n_cond, nz) k: an edit that moves a face's y_i by dy also moves its latent by dy k_i.

    A conditional style G's y edit adds the same W+ offset to every face, and drags attributes
    along with the edited one. Each k_i is fitted with Adam on `steps` batches of `batch` faces
    (drawn at `psi`: a style G's w truncated, another G's z as it is; conditions: rows of `y`,
    e.g. the data's labels), every face pushed to the other side of attribute i at its slider's
    end (`reach`). The loss: C's other attributes as before the edit (binary cross-entropy
    against C's probabilities before it, weighed by `keep` and the number of attributes / 10);
    the target's logit past `margin` (softplus); the picture's coarse colour layout (a 4x4 grid
    of mean colours) as the y edit alone draws it (mean squared, weighed by `anchor`); and
    1e-2 |k_i|². Without the anchor C is held by recolouring the face (an orange cast on older
    faces, white backgrounds under Eyeglasses): fewer decisions change, to the eye worse faces.
    Graded by the independent judge on the bundled model (docs/training/README.md, "A learnt
    correction of each y edit"): random samples 88.2 -> 93.2% flipped, 16.7 -> 15.8%
    collateral. C chooses; the report's judge grades (`evaluation`)."""
    judges = [C] if isinstance(C, nn.Module) else list(C)
    G.eval()
    for c in judges:
        c.eval()
    dev = next(G.parameters()).device
    gen = torch.Generator().manual_seed(seed)
    out = np.zeros((len(cond_index), nz), np.float32)
    nets = (*G.parameters(), *(p for c in judges for p in c.parameters()))
    was = [p.requires_grad for p in nets]
    for p in nets:
        p.requires_grad_(False)

    def layout(x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x, ANCHOR_GRID)

    try:
        for i, ai in enumerate(cond_index):
            k = torch.zeros(nz, device=dev, requires_grad=True)
            opt = torch.optim.Adam([k], lr=0.02)
            lim = float(reach[i])
            for _ in range(steps):
                z = torch.randn(batch, nz, generator=gen).to(dev)
                rows = torch.randint(0, len(y), (batch,), generator=gen)
                yb = y[rows].float().to(dev)
                with torch.no_grad():
                    w = prior_latents(G, z)
                    if truncates_latents(G) and psi != 1:
                        w = G.truncate(w, psi)
                    x0 = G(w, yb)
                    befores = [c(x0).float() for c in judges]
                    up = befores[0][:, ai] < 0
                    y2 = yb.clone()
                    y2[:, i] = torch.where(up, lim, -lim)
                    alone = layout(G(w, y2)) if anchor else None
                x = G(w + (y2[:, i] - yb[:, i])[:, None] * k, y2)
                sign = torch.where(up, 1.0, -1.0)
                kept = target = torch.zeros((), device=dev)
                for c, before in zip(judges, befores, strict=True):
                    after = c(x).float()
                    others = [j for j in range(before.shape[1]) if j != ai]
                    p0 = torch.sigmoid(before[:, others])
                    kept = kept + (F.binary_cross_entropy_with_logits(after[:, others], p0)
                                   - F.binary_cross_entropy_with_logits(before[:, others], p0))
                    target = target + F.softplus(margin - sign * after[:, ai]).mean()
                kept, target = kept / len(judges), target / len(judges)
                loss = keep * kept * len(others) / 10 + target + 1e-2 * k.pow(2).sum()
                if alone is not None:
                    loss = loss + anchor * (layout(x) - alone).pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
            out[i] = k.detach().cpu().numpy()
    finally:
        for p, r in zip(nets, was, strict=True):
            p.requires_grad_(r)
    return out


def custom_direction(z_has: np.ndarray, z_hasnot: np.ndarray) -> np.ndarray:
    """(nz,) unit direction from two groups of latents: mean(has) - mean(has not)."""
    a, b = np.asarray(z_has, np.float32), np.asarray(z_hasnot, np.float32)
    if a.ndim == 1:
        a = a[None]
    if b.ndim == 1:
        b = b[None]
    if len(a) == 0 or len(b) == 0:
        raise ValueError("a custom attribute needs at least one face in 'has' and in 'has not'")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"the two groups have different latent sizes ({a.shape[1]}, {b.shape[1]})")
    v = a.mean(0) - b.mean(0)
    n = float(np.linalg.norm(v))
    if n < EPS:
        raise ValueError("the two groups have the same mean latent; no direction between them")
    return (v / n).astype(np.float32)
