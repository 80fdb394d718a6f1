"""Photo -> latent: the encoder E gives a start, then Adam refines z against the photo in a budget.

The refinement loss is pixel MSE + L1 plus, when the model bundles an attribute classifier C, a
feature loss on C's convolutional trunk (a perceptual loss learned on faces, with no extra
download); a weak prior term keeps |z|^2 near nz so the edit directions still apply. The best z seen
(by pixel PSNR, the start included) is returned, so refinement never makes a result worse.

With `detail=True` (the default) the refinement also fits the photo's *detail*: an offset to G's
8x8 feature map (after its first up-block), what z alone cannot draw, in the manner of GAN
inversions that optimise intermediate features. Edits still move z, and the detail rides along.
Where it goes and how hard it is held back trade likeness against edit strength; measured on the
bundled model (5,600 steps) over 40 held-out faces at 0.6 s, with the share of sampled-direction
edits (α = 3) that flip the judge's decision:

    offset at 4x4, weight 1:  21.1 dB, 62.5% flipped  (the first design)
    offset at 8x8, weight 1:  25.4 dB, 49.5%
    offset at 8x8, weight 3:  24.2 dB, 64.0%          (kept: better on both counts)
    offset at 8x8, weight 10: 22.3 dB, 66.5%
    no detail:                ~17.8 dB, ~70%

The detail can be switched off per photo (the window's switch, the CLI's --no-detail).

A style G's detail has two parts (`facegan.style`): a W+ offset (one w per layer), latent-only
in the issue's sense, held back far less (`DETAIL_WEIGHT_W_PLUS`), and an offset to its 8x8
features held back as the DCGAN's. `detail="latent"` fits the W+ part alone (the report's
latent-only figure). Measured on the long style run (20,000 steps), 8-12 held-out faces, the
same refinement steps, PSNR of the W+ part alone:

    steps   W alone   W+ weight 3   W+ weight 0.03
    40      17.2 dB   17.5 dB       18.1 dB
    200     20.1 dB   20.2 dB       22.4 dB

and on the conditional run (26,000 steps, 12 held-out faces, 55 steps = the 0.6 s budget):
W+ alone 19.2 dB, W+ and the 8x8 feature offset 29.3 dB, with y edits to the other side at
|y| = 2 flipping 72.0% and 78.5% of 40 faces for the independent judge (collateral 9.8% and 10.3%).

A style G's photo drawn with its detail switched off (the window's "Keep the photo's detail")
used to be its latent alone: z of the whole detail's fit draws another person (issue 12).
`fit_latent_detail` fits a latent-only detail for it instead: a W+ offset with z held, for
LATENT_BUDGET_S after the window's refinement. Measured on 40 held-out faces (2 s whole-detail
fit, then 1 s), y edits at the sliders' end judged by the independent judge: z alone 14.0 dB,
94.5% flipped, 12.8% collateral; with the latent-only detail 19.9 dB, 91.0%, 12.2% (2 s:
21.2 dB, 85.5%); the whole detail 31.8 dB, 87.0%, 11.8%.

Where E predicts a W+ offset too (`facegan.models.Encoder.forward_plus`, fitted by
`tools/fit_encoder_plus.py`), a W+ fit (`detail="latent"`, and E's answer the window shows at
once) starts from it instead of zero; E's w is the same either way. A fit of the whole detail
starts from zero: measured on the bundled model, 80 held-out faces, 0.6 s, y edits at the
sliders' end judged by the independent judge, E's W+ start gave the W+ fit +0.5 dB (19.4 ->
19.9 dB on 24 faces) but the whole detail's fit -0.3 dB (30.2 -> 29.9) and 3.7 points fewer
flips (82.5% -> 78.8%).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from explorer.core.align import Alignment, find_face_aligned
from explorer.core.bundle import Bundle, BundleError
from explorer.core.classify import judged_condition
from explorer.core.fit_target import FitTarget
from explorer.core.photos import FaceBox, PhotoError, load_photo
from facegan.models import images_to_tensor, tensor_to_images

FEATURE_WEIGHT = 0.5
PRIOR_WEIGHT = 1e-3
W_PRIOR_WEIGHT = 1e-2  # style G: mean square distance of w from the encoder's w
DETAIL_WEIGHT = 3.0  # L2 penalty on the detail (mean square over its values)
DETAIL_WEIGHT_W_PLUS = 0.03  # the same for a style G, whose detail is a W+ offset
DETAIL_LR = 0.05
LR = 0.1  # 0.05 and 0.2 tried: +0.85 and +0.94 dB in 25 steps on the dev model, 0.1 +0.90
# Refinement time: one photo from the CLI stays within a second (docs/performance.md). The window
# shows E's answer at once and refines in the background for longer, replacing the face in place.
# Measured on the bundled model, 80 held-out faces, photo detail on, y edits at the sliders' end
# judged by the independent judge (2 threads): 0.6 s 30.2 dB, 82.5% flipped, 12.2% collateral;
# 1.2 s 31.4 dB, 85.0%, 12.4%; 2 s 32.1 dB, 86.2%, 12.8%.
BUDGET_S = 0.6
WINDOW_BUDGET_S = 2.0
# The window's latent-only detail of a style G's photo (`fit_latent_detail`), after its 2 s.
LATENT_BUDGET_S = 1.0
# How hard `fit_latent_detail` holds back each layer's W+ offset, by the resolution the layer
# draws at: (up to this resolution, weight). Measured as W+ fits of the bundled model, 40
# held-out faces, 2 s, y edits at the sliders' end judged by the independent judge: one weight
# 0.03 for all layers 22.5 dB but 66% flipped; offsets on the 16-64 px layers only 21.0-21.5 dB,
# 54%; on the 8 px layers only 21.5 dB, 86.5%; these weights 21.8 dB, 84.5% (0.01 / 0.3 / 1:
# 22.0 dB, 83.5%; 0.003 / 0.1 / 1: 22.1 dB, 81.5%; 0.01 / 1 / 3: 21.7 dB, 84%). The fine
# layers' offsets are what mute an edit.
# (The whole detail's fit keeps DETAIL_WEIGHT_W_PLUS: there these weights measured 31.8 against
# 32.1 dB and 84.7% against 86.2% flipped, 80 faces.)
W_PLUS_LAYER_WEIGHTS = ((8, 0.03), (16, 0.3), (1 << 30, 1.0))


@dataclass
class EncodeResult:
    """z (nz,) float32; recon (res, res, 3) uint8; PSNR in dB of E alone and after refinement;
    timings in seconds per stage; face: the (res, res, 3) uint8 crop that was encoded; detail:
    the photo's detail (Bundle.detail_shape) float32, or None when it was not fitted; y: the
    (n_cond,) condition a conditional model drew it with (`classify.judged_condition`), else
    None."""

    z: np.ndarray
    recon: np.ndarray
    psnr_encoder: float
    psnr: float
    timings: dict[str, float]
    face: np.ndarray
    steps: int = 0
    detail: np.ndarray | None = None
    box: FaceBox | None = None
    boxes: list[FaceBox] = field(default_factory=list)
    alignment: Alignment | None = None  # how `face` was cut from the photo (explorer.core.align)
    y: np.ndarray | None = None
    # (res, res) share of each pixel of `face` that is the photo's own (`Alignment.inside`);
    # None: all of it. The fits count only those pixels (`explorer.core.fit_target`).
    inside: np.ndarray | None = None


class _Adam:
    """Adam on one tensor. torch.optim.Adam would do, but constructing the first one in a process
    imports torch's compiler stack, 2.7 s here: four times the whole refinement budget."""

    def __init__(self, p: torch.Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.p, self.lr, self.betas, self.eps = p, lr, betas, eps
        self.m = torch.zeros_like(p)
        self.v = torch.zeros_like(p)
        self.t = 0

    @torch.no_grad()
    def step(self) -> None:
        g = self.p.grad
        if g is None:
            return
        b1, b2 = self.betas
        self.t += 1
        self.m.mul_(b1).add_(g, alpha=1 - b1)
        self.v.mul_(b2).addcmul_(g, g, value=1 - b2)
        m_hat = self.m / (1 - b1**self.t)
        v_hat = self.v / (1 - b2**self.t)
        self.p.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))


def _detail_penalty(r: torch.Tensor, n_latent: int) -> torch.Tensor:
    """The L2 penalty on a detail: its first `n_latent` values (a style G's W+ offset) held
    back by DETAIL_WEIGHT_W_PLUS, the feature offset by DETAIL_WEIGHT (mean squares)."""
    flat = r.reshape(r.shape[0], -1)
    latent, feature = flat[:, :n_latent], flat[:, n_latent:]
    loss = DETAIL_WEIGHT * feature.pow(2).mean()
    if n_latent:
        loss = loss + DETAIL_WEIGHT_W_PLUS * latent.pow(2).mean()
    return loss


def _encoder_start(E: torch.nn.Module, G: torch.nn.Module, target: torch.Tensor,
                   w_plus: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """E's answer for a (1, 3, res, res) target: w, and for a W+ fit (`w_plus`) E's W+ offset
    as a detail (its feature part zero); None where E has no W+ head
    (`facegan.models.Encoder.forward_plus`)."""
    if not w_plus:
        return E(target).float(), None
    z0, offset = E.forward_plus(target)
    return z0.float(), None if offset is None else G.join_detail(offset.float())


def encode_face(
    bundle: Bundle,
    face: np.ndarray,
    budget_s: float = BUDGET_S,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    max_steps: int | None = None,
    detail: bool | Literal["latent"] = True,
    y: np.ndarray | None = None,
    inside: np.ndarray | None = None,
) -> EncodeResult:
    """Encode one (res, res, 3) uint8 face. Refinement stops at `budget_s` (or `max_steps`), or
    early when `cancel()` returns True (the best result so far is returned). `detail` also fits
    the photo's detail (see the module notes); "latent" only its latent part (a style G's W+
    offset; none on a DCGAN). A conditional model draws the face with `y` (n_cond,), by default
    what the app's scorer sees in the face (`classify.judged_condition`). `inside` (res, res):
    which pixels are the photo's own (`Alignment.inside`); only those are fitted, and the PSNR
    is theirs (`fit_target`)."""
    if not bundle.has_encoder:
        raise BundleError(f"{bundle.name}: this model has no encoder, so photos cannot be encoded")
    face = bundle.check_faces(face)[0]
    G, E = bundle.network("G"), bundle.network("E")
    C = bundle.network("C") if bundle.has_classifier else None
    if y is None and bundle.n_cond:
        y = judged_condition(bundle, face[None])
    y = bundle.check_y(y, 1)
    yt = torch.from_numpy(y) if y is not None else None
    target = images_to_tensor(face[None])  # (1, 3, res, res) in [-1, 1]
    timings: dict[str, float] = {}

    n_latent = int(getattr(G, "latent_detail_size", 0))
    if detail == "latent" and not n_latent:
        detail = False
    t0 = time.perf_counter()
    with torch.no_grad():  # not inference_mode: feat_t takes part in the loss graph below
        z0, r0 = _encoder_start(E, G, target, detail == "latent")
        x0 = G(z0, yt, r0)
    # Where the photo has nothing, the fit holds E's own drawing (`fit_target`).
    fit = FitTarget(target, inside, C.features if C is not None else None, fill=x0)
    timings["encoder"] = time.perf_counter() - t0
    psnr_e = fit.psnr(x0)

    t0 = time.perf_counter()
    z = z0.clone().requires_grad_(True)
    opt = _Adam(z, LR)
    r = None
    if detail:
        r = (r0.clone() if r0 is not None else torch.zeros(1, *G.detail_shape)).requires_grad_()
    opt_r = _Adam(r, DETAIL_LR) if r is not None else None
    # "latent": the feature part stays zero (its gradient is masked out before each step)
    keep = None
    if r is not None and detail == "latent":
        keep = torch.zeros_like(r).reshape(1, -1)
        keep[:, :n_latent] = 1.0
        keep = keep.reshape(r.shape)
    best = (psnr_e, z0.clone(), x0.clone(), None if r is None else r.detach().clone())
    steps = 0
    nz = bundle.nz
    while True:
        elapsed = time.perf_counter() - t0
        if elapsed >= budget_s or (max_steps is not None and steps >= max_steps):
            break
        if cancel is not None and cancel():
            break
        z.grad = None
        if r is not None:
            r.grad = None
        x = G(z, yt, r)
        loss = fit.pixel_loss(x)
        if C is not None:
            loss = loss + FEATURE_WEIGHT * fit.feature_loss(x)
        if bundle.truncates_latents:  # in-domain: a style G's w stays near E's answer
            loss = loss + W_PRIOR_WEIGHT * (z - z0).pow(2).mean()
        else:
            loss = loss + PRIOR_WEIGHT * (z.pow(2).sum() / nz - 1.0) ** 2
        if r is not None:
            loss = loss + _detail_penalty(r, n_latent)
        loss.backward()
        if keep is not None and r is not None and r.grad is not None:
            r.grad.mul_(keep)
        # Score the z that produced x (before the step), so the kept pair is consistent.
        p = fit.psnr(x)
        if p > best[0]:
            best = (p, z.detach().clone(), x.detach().clone(),
                    None if r is None else r.detach().clone())
        opt.step()
        if opt_r is not None:
            opt_r.step()
        steps += 1
        if progress is not None:
            progress(min(1.0, (time.perf_counter() - t0) / budget_s) if budget_s > 0 else 1.0)
    timings["refine"] = time.perf_counter() - t0
    p, zb, xb, rb = best
    return EncodeResult(
        z=zb[0].numpy().astype(np.float32),
        recon=tensor_to_images(xb)[0],
        psnr_encoder=psnr_e,
        psnr=p,
        timings=timings,
        face=face,
        steps=steps,
        detail=None if rb is None else rb[0].numpy().astype(np.float32),
        y=None if y is None else y[0].copy(),
        inside=None if fit.weight is None else np.asarray(inside, np.float32),
    )


def w_plus_weights(G: torch.nn.Module) -> torch.Tensor:
    """(n_styles,) how hard a latent-only fit holds back each layer's W+ offset
    (`W_PLUS_LAYER_WEIGHTS`, by the resolution the layer draws at)."""
    res, out = 4, []
    for layer in G.layers:
        res *= 2 if layer.up else 1
        out.append(next(v for r, v in W_PLUS_LAYER_WEIGHTS if res <= r))
    return torch.tensor(out, dtype=torch.float32)


def fit_latent_detail(
    bundle: Bundle,
    face: np.ndarray,
    z: np.ndarray,
    y: np.ndarray | None = None,
    start: np.ndarray | None = None,
    budget_s: float = LATENT_BUDGET_S,
    inside: np.ndarray | None = None,
    cancel: Callable[[], bool] | None = None,
    max_steps: int | None = None,
) -> tuple[np.ndarray, float]:
    """A style G's latent-only detail for a face whose latent `z` is already fitted: the W+
    offset (as a detail whose feature part is zero) that draws the (res, res, 3) uint8 `face`
    best with `z` held, fitted from `start`'s W+ part (default none) within `budget_s`. What
    the window draws while a photo's detail is switched off. Returns (detail, PSNR in dB)."""
    if not bundle.has_latent_detail:
        raise BundleError(f"{bundle.name}: this model's photo detail has no latent part")
    G = bundle.network("G")
    n_latent = int(G.latent_detail_size)
    C = bundle.network("C") if bundle.has_classifier else None
    face = bundle.check_faces(face)[0]
    y = bundle.check_y(None if y is None else np.asarray(y, np.float32)[None], 1)
    yt = torch.from_numpy(y) if y is not None else None
    target = images_to_tensor(face[None])
    zt = torch.from_numpy(np.asarray(z, np.float32).reshape(1, -1))
    r0 = torch.zeros(1, n_latent)
    if start is not None:
        r0 = torch.from_numpy(np.asarray(start, np.float32).reshape(1, -1)[:, :n_latent].copy())
    with torch.no_grad():
        x0 = G(zt, yt, G.join_detail(r0))
    fit = FitTarget(target, inside, C.features if C is not None else None, fill=x0)
    lw = w_plus_weights(G).repeat_interleave(G.nz)[None]
    r = r0.clone().requires_grad_(True)
    opt = _Adam(r, DETAIL_LR)
    best = (fit.psnr(x0), r0.clone())
    t0, steps = time.perf_counter(), 0
    while time.perf_counter() - t0 < budget_s and (max_steps is None or steps < max_steps):
        if cancel is not None and cancel():
            break
        r.grad = None
        x = G(zt, yt, G.join_detail(r))
        loss = fit.pixel_loss(x) + (lw * r.pow(2)).mean()
        if C is not None:
            loss = loss + FEATURE_WEIGHT * fit.feature_loss(x)
        loss.backward()
        p = fit.psnr(x)
        if p > best[0]:
            best = (p, r.detach().clone())
        opt.step()
        steps += 1
    with torch.no_grad():
        detail = G.join_detail(best[1])[0].numpy().astype(np.float32)
    return detail, best[0]


def encode_photo(
    bundle: Bundle,
    src: str | Path | bytes | np.ndarray,
    budget_s: float = BUDGET_S,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    choose: int | None = None,
    whole_image: bool = False,
    max_steps: int | None = None,
    detail: bool | Literal["latent"] = True,
) -> EncodeResult:
    """Load (path, bytes or an RGB array), find the face, align it by the eyes as CelebA's
    faces are (`explorer.core.align`), encode it; PhotoError for unreadable photos and no /
    several / tiny faces (see `photos.pick_face`)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    img = src if isinstance(src, np.ndarray) else load_photo(src)
    timings["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    face, al, box, boxes = find_face_aligned(img, bundle.resolution, choose, whole_image)
    timings["detect"] = time.perf_counter() - t0
    r = encode_face(bundle, face, budget_s, progress, cancel, max_steps, detail,
                    inside=al.inside(bundle.resolution))
    r.timings = {**timings, **r.timings}
    r.box, r.boxes, r.alignment = box, boxes, al
    return r


__all__ = ["BUDGET_S", "LATENT_BUDGET_S", "WINDOW_BUDGET_S", "EncodeResult", "PhotoError",
           "encode_face", "encode_photo", "fit_latent_detail"]
