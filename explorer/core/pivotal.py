"""Pivotal tuning (Roich et al. 2022, "PTI"): a copy of G's weights tuned to one photo.

After the latent inversion (`explorer.core.encoding`), the latent is the *pivot*: G's weights are
fine-tuned so that G(pivot) draws the photo itself, while a *locality* term keeps G unchanged for
latents a little away from the pivot (random directions, at distances edits move: PTI's locality
regulariser). Edits then move the latent as usual and are drawn with the tuned weights: the photo
keeps its likeness and the edit keeps acting.

Written against the generic generator interface only: any `nn.Module` G whose forward is
`G(latent, y, detail, psi)` (today's DCGAN, where the latent is z; a style-based G, where it is w)
is tuned through its `named_parameters()` and drawn with `torch.func.functional_call`, so the
bundled model is never modified and never reloaded.

The tuned weights travel with the photo as safetensors bytes (`TunedWeights.to_bytes`): the
difference from the model's own weights, in float16 (half the size of float32; the difference
is small, so float16's ~1e-3 relative error is far below a grey level), never pickle. Their `key`
(a hash of those bytes) identifies them to render caches.
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from explorer.core.fit_target import FitTarget

STEPS = 150  # PTI's own count is 350 (danielroich/PTI); here 150 reach >= 30 dB (docs/photos.md)
LR = 1e-3
# Outside a tight photo's own pixels the tuned G is held to its drawing before tuning, at this
# weight against a photo pixel's 1 (`fit_target`). Measured on the bundled DCGAN, UTKFace photos
# 11 and 40 (20 refinement steps, 150 tuning steps): the edit kept under tuning, Smiling /
# Eyeglasses / Young, and the likeness of the photo's pixels:
#   0.1: photo 40 0.64 / 0.63 / 0.84, 31.3 dB (edits fade: free to fit the face, G_t overfits)
#   0.3: photo 40 0.70 / 0.74 / 0.89, 33.1 dB; photo 11 0.86 / 0.73 / 0.88, 34.3 dB
#   0.5: photo 40 0.74 / 0.74 / 0.89, 32.8 dB; photo 11 0.92 / 0.78 / 0.89, 34.7 dB (kept)
#   1.0: photo 40 0.73 / 0.76 / 0.97, 28.2 dB (the edge between photo and fill fights the fit)
TUNE_FILL_WEIGHT = 0.5
LOCALITY_WEIGHT = 1.0
LOCALITY_BATCH = 1  # locality latents drawn with the pivot each step
LOCALITY_NEAREST = 0.5  # locality latents lie 0.5-1 x the radius away: beyond the edits' reach
LOCALITY_BANK = 64  # near-pivot latents whose G drawings are made once, before the loop
FEATURE_WEIGHT = 0.5  # the perceptual term on C's features, as in the latent inversion
EDIT_WEIGHT = 4.0  # the term that keeps edits' effects (tune_generator's `edits`)
EDIT_BATCH = 4  # edited pivots drawn with the pivot each step
EDIT_STRENGTHS = (-1.0, -0.5, 0.5, 1.0)  # of each edit offset, in the edit term's bank
FORMAT = "face-explorer-pti"
FORMAT_VERSION = 1


class TunedWeightsError(ValueError):
    """Tuned weights that do not fit this model; `str(e)` is the user message."""


@dataclass(frozen=True, eq=False)
class TunedWeights:
    """A generator's parameters tuned to one photo.

    params : every trainable parameter of G by name (float32, CPU), the tuned values.
    key : a short hash of the serialised weights: equal keys, equal weights.
    psnr_before, psnr_after : reconstruction of the photo at the pivot, in dB.
    steps, seconds : how long the tuning ran.
    """

    params: Mapping[str, torch.Tensor] = field(repr=False)
    key: str
    psnr_before: float = float("nan")
    psnr_after: float = float("nan")
    steps: int = 0
    seconds: float = 0.0
    data: bytes = field(default=b"", repr=False)

    def __deepcopy__(self, memo: dict) -> TunedWeights:
        return self  # immutable: undo snapshots share it instead of copying megabytes

    def to_bytes(self) -> bytes:
        """The safetensors serialisation (the difference from the model's weights, float16)."""
        return self.data

    @classmethod
    def from_params(cls, G: nn.Module, params: Mapping[str, torch.Tensor],
                    **info: float) -> TunedWeights:
        """Wrap tuned `params` of G, serialising them (so the key and bytes are known)."""
        from safetensors.torch import save

        base = dict(G.named_parameters())
        delta = {}
        for name, p in params.items():
            if name not in base or base[name].shape != p.shape:
                raise TunedWeightsError(f"tuned weight {name} does not fit this generator")
            d = (p.detach().float().cpu() - base[name].detach().float().cpu()).half()
            if bool(d.any()):  # untouched parameters (a style G's mapping) are not stored
                delta[name] = d
        meta = {"format": FORMAT, "version": str(FORMAT_VERSION),
                **{k: f"{v}" for k, v in info.items()}}
        data = save(delta, metadata=meta)
        # The weights as they will be read back (the float16 rounding included), so a photo
        # draws the same before and after a session round trip.
        tuned = {n: base[n].detach().float().cpu() + d.float() for n, d in delta.items()}
        return cls(params=tuned, key=hashlib.sha1(data).hexdigest()[:16], data=data,
                   **{k: v for k, v in info.items() if k in ("psnr_before", "psnr_after",
                                                             "steps", "seconds")})  # type: ignore[arg-type]

    @classmethod
    def from_bytes(cls, G: nn.Module, data: bytes) -> TunedWeights:
        """Read serialised tuned weights for G; TunedWeightsError if they do not fit it."""
        import json
        import struct

        from safetensors.torch import load

        try:
            data = bytes(data)
            delta = load(data)
            (n,) = struct.unpack("<Q", data[:8])  # the safetensors header: length, then JSON
            meta = json.loads(data[8 : 8 + n]).get("__metadata__") or {}
        except Exception as e:  # safetensors raises several types for damaged data
            raise TunedWeightsError(f"the photo's tuned weights cannot be read ({e})") from None
        if meta.get("format") != FORMAT:
            raise TunedWeightsError("the photo's tuned weights are not face-explorer PTI weights")
        base = dict(G.named_parameters())
        for name, d in delta.items():
            if name not in base or base[name].shape != d.shape:
                raise TunedWeightsError("the photo's tuned weights were made for another model; "
                                        "tune the photo again with this one")
        tuned = {n: base[n].detach().float().cpu() + d.float() for n, d in delta.items()}

        def num(k: str) -> float:
            try:
                return float(meta.get(k, "nan"))
            except ValueError:
                return float("nan")

        return cls(params=tuned, key=hashlib.sha1(bytes(data)).hexdigest()[:16],
                   data=data, psnr_before=num("psnr_before"),
                   psnr_after=num("psnr_after"), steps=int(num("steps") if
                                                           math.isfinite(num("steps")) else 0),
                   seconds=num("seconds"))


def tuned_forward(G: nn.Module, tuned: TunedWeights | Mapping[str, torch.Tensor] | None,
                  *inputs: object) -> torch.Tensor:
    """G(*inputs) drawn with the tuned parameters (None: G's own), without touching G."""
    if tuned is None:
        return G(*inputs)
    params = tuned.params if isinstance(tuned, TunedWeights) else tuned
    return torch.func.functional_call(G, dict(params), tuple(inputs), strict=False)


class _Adam:
    """Adam over a list of tensors (see explorer.core.encoding._Adam for why not torch's)."""

    def __init__(self, params: list[torch.Tensor], lr: float) -> None:
        self.params, self.lr, self.t = params, lr, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        c1, c2 = 1 - 0.9**self.t, 1 - 0.999**self.t
        for p, m, v in zip(self.params, self.m, self.v, strict=True):
            if p.grad is None:
                continue
            m.mul_(0.9).add_(p.grad, alpha=0.1)
            v.mul_(0.999).addcmul_(p.grad, p.grad, value=0.001)
            p.sub_(self.lr * (m / c1) / ((v / c2).sqrt() + 1e-8))
            p.grad = None


def _prior_latents(G: nn.Module, pivot: torch.Tensor, y: torch.Tensor | None, n: int,
                   gen: torch.Generator) -> torch.Tensor:
    """n latents from the prior: N(0, I), through G's mapping when it has one (w, style G)."""
    r = torch.randn((n, pivot.shape[1]), generator=gen)
    mapping = getattr(G, "map", None)
    if callable(mapping):
        with torch.no_grad():
            r = mapping(r, None if y is None else y.expand(n, -1))
    return r


def _batched(t: torch.Tensor | None, n: int) -> torch.Tensor | None:
    return None if t is None else t.expand(n, *t.shape[1:])


@torch.no_grad()
def _draw(G: nn.Module, latents: torch.Tensor, y: torch.Tensor | None,
          detail: torch.Tensor | None, batch: int = 32) -> torch.Tensor:
    """G's drawings of `latents` in batches; y is one condition for all, or one per latent."""
    rows = y is not None and len(y) == len(latents) > 1

    def cond(i: int, n: int) -> torch.Tensor | None:
        return y[i : i + n] if rows and y is not None else _batched(y, n)

    return torch.cat([G(latents[i : i + batch], cond(i, len(latents[i : i + batch])),
                        _batched(detail, len(latents[i : i + batch])))
                      for i in range(0, len(latents), batch)])


def tune_generator(
    G: nn.Module,
    pivot: torch.Tensor,
    target: torch.Tensor,
    y: torch.Tensor | None = None,
    detail: torch.Tensor | None = None,
    steps: int = STEPS,
    lr: float = LR,
    locality: float = LOCALITY_WEIGHT,
    locality_radius: float | None = None,
    random_latents: Callable[[int, torch.Generator], torch.Tensor] | None = None,
    features: Callable[[torch.Tensor], torch.Tensor] | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    seed: int = 0,
    edits: torch.Tensor | None = None,
    y_bank: torch.Tensor | None = None,
    edit_weight: float = EDIT_WEIGHT,
    y_correction: torch.Tensor | None = None,
    edit_batch: int = EDIT_BATCH,
    locality_batch: int = LOCALITY_BATCH,
    inside: np.ndarray | None = None,
) -> TunedWeights:
    """Tune a copy of G so that G(pivot, y, detail) draws `target` (1, 3, res, res) in [-1, 1].

    pivot : (1, d) the inverted latent (z for the DCGAN, w for a style G).
    locality : weight of PTI's locality term: G_t(latent) = G(latent) for `locality_batch`
        latents a step at a random distance up to `locality_radius` (default half the pivot's
        norm) from the pivot, towards random prior latents (`random_latents(n, gen)`; default
        N(0, I), through G's mapping when it has one).
    features : a perceptual feature map (the bundled classifier's trunk) for the loss.
    edits : (k, d) latent offsets the user will apply (attribute directions at the sliders'
        reach); the tuned G must change the drawing under each as G did:
        |(G_t(p + s e) - G_t(p)) - (G(p + s e) - G(p))|^2 for `edit_batch` random (edit,
        strength s in ±1/2, ±1) pairs a step, weighted by `edit_weight`. PTI's own locality term
        keeps far-away faces unchanged but lets every latent near the pivot draw the photo, so
        edits fade; this term is what keeps them acting.
    y_bank : (m, n_cond) the conditions the user will edit the photo to (a conditional model's
        y sliders at each strength, as the app's sliders move y:
        `explorer.core.photo_edit.condition_bank`), kept acting by the same term with
        (p', y') in place of p + s e, p' the pivot moved by `y_correction`. Only the sliders'
        range: beyond it the user never draws, so tuning there would only cost likeness.
    y_correction : (n_cond, nz) the model's latent correction of each y edit
        (`edits.corrected_latents`): an edited pivot moves by the change of y times it, as the
        app draws the edit.
    The references G(.) of both terms are drawn once, before the loop (a bank of latents the
    steps sample from), and each step draws the pivot and its regularisation latents with the
    tuned copy in one batch: one forward and one backward a step.
    cancel : checked every step; the tuning stops there and returns what it has.
    inside : (res, res) which pixels of `target` are the photo's own (`Alignment.inside`); the
        others are held to G's drawing before tuning, and the PSNRs are the photo's pixels'
        (`explorer.core.fit_target`).
    Returns the tuned parameters; G itself is not modified.
    """
    t_start = time.perf_counter()
    G.eval()
    G_t = copy.deepcopy(G).eval()
    G_t.requires_grad_(True)
    params = [p for p in G_t.parameters() if p.requires_grad]
    opt = _Adam(params, lr)
    gen = torch.Generator().manual_seed(seed)
    radius = locality_radius if locality_radius is not None else 0.5 * float(pivot.norm())
    pivot = pivot.detach()
    with torch.no_grad():
        before = G(pivot, y, detail)
    fit = FitTarget(target, inside, features, fill=before, fill_weight=TUNE_FILL_WEIGHT)
    psnr_before = fit.psnr(before)
    # The banks: latents near the pivot (locality) and edited pivots, with G's own drawings.
    n_loc = locality_batch if locality > 0 else 0
    loc_lat = loc_ref = None
    if n_loc:
        far = (random_latents(LOCALITY_BANK, gen) if random_latents is not None
               else _prior_latents(G, pivot, y, LOCALITY_BANK, gen))
        d = far - pivot
        dist = (LOCALITY_NEAREST + (1 - LOCALITY_NEAREST)
                * torch.rand((LOCALITY_BANK, 1), generator=gen)) * radius
        loc_lat = pivot + dist * d / d.norm(dim=1, keepdim=True).clamp_min(1e-8)
        loc_ref = _draw(G, loc_lat, y, detail)
    # The edit bank: (latent, condition) pairs, each an edit at one strength.
    strengths = torch.tensor(EDIT_STRENGTHS)
    lats, conds = [], []
    if edits is not None and len(edits):
        lat = (pivot + strengths[None, :, None] * edits[:, None, :]).reshape(-1, pivot.shape[1])
        lats.append(lat)
        if y is not None:
            conds.append(y.expand(len(lat), -1))
    if y_bank is not None and len(y_bank) and y is not None:
        cy = y_bank.to(y.dtype)
        y_lat = pivot.expand(len(cy), -1)
        if y_correction is not None:  # the latent moves with each y edit as the app moves it
            y_lat = y_lat + (cy - y) @ y_correction.to(y_lat.dtype)
        lats.append(y_lat)
        conds.append(cy)
    n_edit = edit_batch if lats and edit_weight > 0 else 0
    edit_lat = edit_y = edit_change = None
    if n_edit:
        edit_lat = torch.cat(lats)
        edit_y = torch.cat(conds) if conds else None
        edit_change = _draw(G, edit_lat, edit_y, detail) - before
    done = 0
    for _step in range(steps):
        if cancel is not None and cancel():
            break
        parts = [pivot]
        if n_loc and loc_lat is not None:
            li = torch.randint(0, len(loc_lat), (n_loc,), generator=gen)
            parts.append(loc_lat[li])
        ys = _batched(y, 1 + n_loc)  # the pivot and its locality latents
        if n_edit and edit_lat is not None:
            ei = torch.randint(0, len(edit_lat), (n_edit,), generator=gen)
            parts.append(edit_lat[ei])
            if ys is not None and edit_y is not None:
                ys = torch.cat([ys, edit_y[ei]])
        lat = torch.cat(parts)
        xs = G_t(lat, ys, _batched(detail, len(lat)))
        x = xs[:1]
        loss = fit.pixel_loss(x)
        if features is not None:
            loss = loss + FEATURE_WEIGHT * fit.feature_loss(x)
        if n_loc and loc_ref is not None:
            loss = loss + locality * F.mse_loss(xs[1 : 1 + n_loc], loc_ref[li])
        if n_edit and edit_change is not None:
            loss = loss + edit_weight * F.mse_loss(xs[1 + n_loc :] - x, edit_change[ei])
        loss.backward()
        opt.step()
        done += 1
        if progress is not None:
            progress(done / steps)
    tuned = {n: p.detach().clone() for n, p in G_t.named_parameters()}
    seconds = time.perf_counter() - t_start
    tw = TunedWeights.from_params(G, tuned, psnr_before=psnr_before, steps=done, seconds=seconds)
    with torch.no_grad():  # as drawn from the stored (float16-difference) weights
        after = tuned_forward(G, tw, pivot, y, detail)
    return TunedWeights.from_params(G, tuned, psnr_before=psnr_before,
                                    psnr_after=fit.psnr(after), steps=done,
                                    seconds=seconds)


__all__ = ["STEPS", "TunedWeights", "TunedWeightsError", "tune_generator", "tuned_forward"]
