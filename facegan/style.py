"""A style-based 64 px generator built for editing: a mapping network z -> w and a synthesis
network modulated by w at every layer (StyleGAN's W space, on the DCGAN's own cost).

Why: the DCGAN's Z space is entangled (a Smiling boundary also flips Male on half the faces);
StyleGAN's mapping network makes W far more linearly separable (165 -> 3.7 on FFHQ, NVlabs
stylegan README). The synthesis follows the DCGAN's transposed-conv path so one face costs about
what today's G costs (`../shared/research/levers.md`: a style G on the DCGAN's path trained at
48-49 img/s against 45-49 and rendered a 4x4 grid in the same 28-30 ms):

    const (w0, 4, 4) -> up-conv w0->w1 (8x8) -> 3x3 conv (8x8) -> up-conv ... -> up-conv to RGB

Every layer is modulated in the "non-fused" form StyleGAN2 describes: scale the input channels by
an affine map of w, one shared convolution, demodulate the output channels analytically (no
per-sample grouped convolutions: slow on CPU and they do not export). Weights use the equalised
learning rate (unit-variance parameters, a constant scale at run time); the mapping network's
learning rate is 100x lower (lr_mul 0.01), as in StyleGAN.

The explorer's latent for this kind is w (size nz, like z): edits, interpolations and analogies
act in W. A photo's `detail` is one flat vector of two parts: a per-layer offset to w (W+,
n_styles x nz, latent-only) and an offset to the 8x8 feature map after the second layer (what W+
cannot draw, as the DCGAN's detail). Files written before the feature part existed hold the W+
part alone (`legacy_detail_shape`); `explorer.core.bundle` pads them. Truncation is
`w_avg + psi (w - w_avg)` with `w_avg` tracked during training.

The conditional variant (`n_cond` > 0, attributes y in {-1, +1}): y enters the mapping network's
output as a linear W+ offset, `ws = mapping(z) + A y` per layer (`ConditionOffset`), with A
zero at initialisation, so a warm start from an unconditional run draws exactly its parent's
faces at every y until training teaches it the condition. Additive in W, the condition keeps the
explorer's contract: a face's latent is its y-free w (`map`), y is a slider beside it, and
truncation stays exact per y: the mean latent of condition y is `w_avg + A y`, and
`w_avg + psi (w - w_avg) + A y` is that mean plus psi times the face's distance from it, so psi 0
draws y's mean face and a y edit keeps its full strength after truncation. (Adding y to the
first mapping layer instead would make w_avg a function of y with no closed form, and changing
y would need each face's z, which an encoded photo does not have.)
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)


class _Frozen:
    """Values derived from a layer's parameters (the equalised scale applied, a type cast, the
    demodulation's squared sums), kept while those parameters are frozen.

    Rendering and latent refinement send no gradient to G's weights, yet recomputing these on
    every call was a quarter of a refinement step at batch 1 and, over a render, left the style G
    1.9x slower than the DCGAN on a 4x4 grid instead of 1.2x (`benchmarks/render_latency.py`,
    2-core dev machine, 2026-11-30). Kept until a source tensor changes: another tensor (as
    `functional_call` swaps in a photo's tuned weights) or an in-place write (an optimiser or
    EMA step, `load_state_dict`), which bumps its version. Kept as ordinary tensors even when
    first made under `torch.inference_mode`, so a later call with gradients can use them; never
    while a source needs a gradient (training, pivotal tuning) or while tracing, exporting or
    compiling, so an exported or compiled graph stays G's own computation."""

    def __init__(self) -> None:
        self.held: tuple | None = None

    def get(self, sources: tuple[torch.Tensor, ...], dtype: torch.dtype,
            compute: Callable[[torch.dtype], tuple[torch.Tensor, ...]]
            ) -> tuple[torch.Tensor, ...]:
        if (any(t.requires_grad for t in sources) or torch.jit.is_tracing()
                or torch.compiler.is_compiling()):
            return compute(dtype)
        key = (tuple(t._version for t in sources), dtype)
        held = self.held
        if held is None or held[1] != key or any(a is not b for a, b in zip(held[0], sources,
                                                                             strict=True)):
            with torch.inference_mode(False), torch.no_grad():
                held = self.held = (sources, key, compute(dtype))
        return held[2]


def _conv_dtype(x: torch.Tensor) -> torch.dtype:
    """The type a layer's weights take part in: the autocast type under autocast, else x's."""
    dev = x.device.type
    return torch.get_autocast_dtype(dev) if torch.is_autocast_enabled(dev) else x.dtype


class EqualLinear(nn.Module):
    """Fully connected layer with the equalised learning rate (StyleGAN)."""

    def __init__(self, n_in: int, n_out: int, *, bias_init: float = 0.0,
                 lr_mul: float = 1.0, act: bool = False) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_out, n_in) / lr_mul)
        self.bias = nn.Parameter(torch.full((n_out,), float(bias_init) / lr_mul))
        self.scale = lr_mul / math.sqrt(n_in)
        self.lr_mul = lr_mul
        self.act = act
        self._frozen = _Frozen()

    def _scaled(self, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        return (self.weight * self.scale).to(dtype), (self.bias * self.lr_mul).to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self._frozen.get((self.weight, self.bias), _conv_dtype(x), self._scaled)
        y = F.linear(x, weight, bias)
        return F.leaky_relu(y, 0.2) * SQRT2 if self.act else y


class MappingNetwork(nn.Module):
    """z (n, nz) -> w (n, nz): pixel norm, then `layers` leaky-ReLU fully connected layers."""

    def __init__(self, nz: int, layers: int, lr_mul: float = 0.01) -> None:
        super().__init__()
        self.net = nn.Sequential(*[EqualLinear(nz, nz, lr_mul=lr_mul, act=True)
                                   for _ in range(layers)])

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
        return self.net(z)


class ConditionOffset(nn.Module):
    """y (n, n_cond) -> a W+ offset (n, n_styles, nz): linear, no bias (y = 0 is the
    unconditional mean), zero at initialisation. Equalised learning rate at the full rate
    (lr_mul 1, not the mapping's 0.01): a new part that has to learn from zero."""

    def __init__(self, n_cond: int, n_styles: int, nz: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(n_styles * nz, n_cond))
        self.scale = 1.0 / math.sqrt(n_cond)
        self.shape = (n_styles, nz)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return F.linear(y, self.weight * self.scale).reshape(-1, *self.shape)


class ModulatedConv(nn.Module):
    """One modulated layer: x * s(w) -> shared conv -> demodulate -> bias -> leaky ReLU.

    `up`: a 4x4 stride-2 transposed conv (the DCGAN's up-block), else a 3x3 conv. The
    demodulation coefficient of output channel o is 1 / sqrt(sum_i s_i^2 |W_oi|^2): the output's
    expected scale for unit-variance inputs. An up-conv's output pixel sees a quarter of its 16
    taps, hence the 1/4.
    """

    def __init__(self, n_in: int, n_out: int, nz: int, *, up: bool, demod: bool = True,
                 act: bool = True, in_gain: float = 1.0) -> None:
        super().__init__()
        self.up, self.demod, self.act = up, demod, act
        # The previous layer's leaky-ReLU gain (sqrt 2), folded into this layer's input scales:
        # one pass over the activations fewer per layer.
        self.in_gain = in_gain
        k = 4 if up else 3
        shape = (n_in, n_out, k, k) if up else (n_out, n_in, k, k)
        self.weight = nn.Parameter(torch.randn(shape))
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.affine = EqualLinear(nz, n_in, bias_init=1.0)
        self.scale = 1.0 / math.sqrt(n_in * (k * k / 4 if up else k * k))
        self.out_channels = n_out
        self._frozen = _Frozen()

    def _scaled(self, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
        """The scaled conv weight in `dtype` and the demodulation's squared sums (n_in, n_out),
        for s^2 @ wsq."""
        weight = self.weight * self.scale
        if self.up:
            wsq = weight.pow(2).sum((2, 3)) / 4.0  # (n_in, n_out): an up-conv's 16 taps
        else:
            wsq = weight.pow(2).sum((2, 3)).t()
        return weight.to(dtype), wsq.float()

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)  # (n, n_in)
        weight, wsq = self._frozen.get((self.weight,), _conv_dtype(x), self._scaled)
        s_in = s * self.in_gain if self.in_gain != 1.0 else s
        x = x * s_in[:, :, None, None].to(x.dtype)
        if self.up:
            y = F.conv_transpose2d(x, weight, stride=2, padding=1)
        else:
            y = F.conv2d(x, weight, padding=1)
        bias = self.bias[None, :, None, None].to(y.dtype)
        if self.demod:  # the input gain is the previous layer's activation's, not part of s
            d = torch.rsqrt(s.float().pow(2) @ wsq + 1e-8)  # (n, n_out)
            y = torch.addcmul(bias, y, d[:, :, None, None].to(y.dtype))
        else:
            y = y + bias
        # An activation's sqrt 2 gain is applied by the next layer (`in_gain`).
        return F.leaky_relu(y, 0.2, inplace=not y.requires_grad) if self.act else y


class StyleGenerator(nn.Module):
    """w (n, nz) [per layer: (n, n_styles, nz)] -> image (n, 3, res, res) in [-1, 1].

    `map(z)` gives w from the prior. `forward(latent, y, detail, psi)` keeps the DCGAN's
    signature: latent is w, `detail` a photo's detail (n, *detail_shape): a W+ offset and an 8x8
    feature offset (`split_detail`), `psi` truncation toward
    `w_avg`. Training calls `forward(z, from_z=True, mix=(z2, cut))` for style mixing.
    A conditional G (`n_cond` > 0) needs y in every forward; it adds `ConditionOffset(y)` to
    every layer's w after truncation and before a photo's detail.
    """

    # A photo's feature detail goes after the 8x8 3x3 layer. Measured on the conditional run
    # (26,000 steps, 12-40 held-out faces, 55 refinement steps = 0.6 s): W+ alone 19.2 dB;
    # + offset after layer 0 25.6 dB, after layer 1 29.3 dB, after layer 2 (16x16) 33.5 dB; y edits
    # to y = ±2 flipped 72.0% (W+ alone), 78.5% (layer 1), 62.5% (layer 2) for the judge.
    FEATURE_LAYER = 1

    def __init__(self, nz: int, widths: list[int], mapping_layers: int,
                 n_cond: int = 0) -> None:
        super().__init__()
        self.nz = nz
        self.n_cond = n_cond
        self.mapping = MappingNetwork(nz, mapping_layers)
        self.const = nn.Parameter(torch.randn(1, widths[0], 4, 4))
        layers = [ModulatedConv(widths[0], widths[1] if len(widths) > 1 else widths[0], nz,
                                up=True)]
        c = layers[0].out_channels
        layers.append(ModulatedConv(c, c, nz, up=False, in_gain=SQRT2))
        for w_next in widths[2:]:
            layers.append(ModulatedConv(c, w_next, nz, up=True, in_gain=SQRT2))
            c = w_next
        layers.append(ModulatedConv(c, 3, nz, up=True, demod=False, act=False, in_gain=SQRT2))
        self.layers = nn.ModuleList(layers)
        if n_cond:
            self.cond_offset = ConditionOffset(n_cond, len(layers), nz)
        self.register_buffer("w_avg", torch.zeros(nz))
        self.w_avg_beta = 0.995

    @property
    def n_styles(self) -> int:
        return len(self.layers)

    @property
    def latent_detail_size(self) -> int:
        """How many of a detail's leading values are latent (the W+ offset, n_styles x nz)."""
        return self.n_styles * self.nz

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """The feature map a photo's feature detail is added to: after layer FEATURE_LAYER."""
        return (self.layers[self.FEATURE_LAYER].out_channels, 8, 8)

    @property
    def detail_shape(self) -> tuple[int]:
        """One face's photo detail, flat: the W+ offset, then the 8x8 feature offset."""
        c, h, w = self.feature_shape
        return (self.latent_detail_size + c * h * w,)

    @property
    def legacy_detail_shape(self) -> tuple[int, int]:
        """A detail saved before the feature part existed: the W+ offset alone."""
        return (self.n_styles, self.nz)

    def split_detail(self, detail: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(n, *detail_shape) -> the W+ offset (n, n_styles, nz) and the feature offset
        (n, *feature_shape)."""
        n, k = detail.shape[0], self.latent_detail_size
        return (detail[:, :k].reshape(n, self.n_styles, self.nz),
                detail[:, k:].reshape(n, *self.feature_shape))

    def join_detail(self, offset: torch.Tensor,
                    feature: torch.Tensor | None = None) -> torch.Tensor:
        """The inverse of `split_detail`: a W+ offset ((n, n_styles, nz) or flat) and a feature
        offset ((n, *feature_shape); None: zero, which draws the W+ offset alone) -> (n,
        *detail_shape)."""
        n = offset.shape[0]
        flat = offset.reshape(n, self.latent_detail_size)
        feat = (flat.new_zeros(n, math.prod(self.feature_shape)) if feature is None
                else feature.reshape(n, -1).to(flat.dtype))
        return torch.cat([flat, feat], 1)

    def map(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Prior noise z (n, nz) -> w (n, nz), the latent the explorer edits. y does not enter
        here: a conditional G adds its offset of y in `forward`, so w stays y-free."""
        return self.mapping(z)

    def mean_latents(self, y: torch.Tensor | None = None) -> torch.Tensor:
        """The mean per-layer latent (n or 1, n_styles, nz) of condition y: w_avg plus y's
        offset; what psi 0 draws."""
        ws = self.w_avg[None, None].expand(1, self.n_styles, -1)
        if self.n_cond and y is not None:
            ws = ws + self.cond_offset(y.to(ws.dtype))
        return ws

    def truncate(self, w: torch.Tensor, psi: torch.Tensor | float) -> torch.Tensor:
        """w_avg + psi (w - w_avg); psi one number or one per face."""
        p = torch.as_tensor(psi, dtype=w.dtype, device=w.device)
        p = p.reshape(-1, *([1] * (w.dim() - 1)))
        avg = self.w_avg.to(w.dtype)
        return avg + p * (w - avg)

    def synthesis(self, ws: torch.Tensor, feature: torch.Tensor | None = None) -> torch.Tensor:
        """ws (n, n_styles, nz) -> image; `feature` (n or 1, *feature_shape) is added to the
        features after layer FEATURE_LAYER (a photo's feature detail)."""
        x = self.const.to(ws.dtype).expand(ws.shape[0], -1, -1, -1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i])
            if feature is not None and i == self.FEATURE_LAYER:
                x = x + feature.to(x.dtype)
        return torch.tanh(x)

    def forward(self, latent: torch.Tensor, y: torch.Tensor | None = None,
                detail: torch.Tensor | None = None,
                psi: torch.Tensor | float | None = None, *, from_z: bool = False,
                mix: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        if from_z:
            w = self.mapping(latent)
            if self.training and torch.is_grad_enabled():
                with torch.no_grad():
                    self.w_avg.lerp_(w.detach().float().mean(0), 1.0 - self.w_avg_beta)
        else:
            w = latent
        ws = w[:, None].expand(-1, self.n_styles, -1)
        if mix is not None:  # style mixing: layers >= cut take the second latent's w
            z2, cut = mix
            w2 = self.mapping(z2)
            later = torch.arange(self.n_styles, device=w.device)[None, :] >= cut[:, None]
            ws = torch.where(later[:, :, None], w2[:, None], ws)
        if psi is not None and not (isinstance(psi, (int, float)) and psi == 1):
            ws = self.truncate(ws, psi)
        if self.n_cond:
            if y is None:
                raise ValueError("this conditional generator needs y")
            ws = ws + self.cond_offset(y.to(ws.dtype))
        feature = None
        if detail is not None:
            offset, feature = self.split_detail(detail)
            ws = ws + offset.to(ws.dtype)
        return self.synthesis(ws, feature)
