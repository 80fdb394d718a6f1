"""Network definitions: DCGAN generator and discriminator, encoder, attribute classifier.

Part of `facegan`, the bottom package the trainer, the explorer and the evaluation stand on. Every
network is rebuilt from a `ModelConfig` stored in the model file, so weights always travel with
their shape.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from facegan.style import StyleGenerator

KINDS = ("dcgan", "cgan", "vaegan", "style")
# Kinds conditioned on `cond_attributes` when it names any (a cgan always is). The one rule for
# "is this model conditional" is `ModelConfig.n_cond > 0`.
CONDITIONAL_KINDS = ("cgan", "style")
RESOLUTIONS = (16, 32, 64, 128)


@dataclass(frozen=True)
class ModelConfig:
    """Shape of every network in a model file.

    Attributes
    ----------
    kind : 'dcgan', 'cgan' (G and D conditioned on `cond_attributes`), 'vaegan' or 'style'
        (a mapping network z -> w and a w-modulated synthesis: `facegan.style`; conditional
        when `cond_attributes` names any).
    resolution : image side in pixels (16 is for tests).
    nz : latent size.
    ngf, ndf, nef : base widths of generator, discriminator and encoder.
    cond_attributes : attribute names that condition a 'cgan' or a 'style' G (y in {-1, +1}
        per attribute); ignored by the other kinds. `n_cond` says whether a model is
        conditional.
    n_classes : number of attribute logits of the bundled classifier (0 = none).
    mapping_layers : depth of a 'style' generator's mapping network.
    encoder_w_plus : a 'style' model's E also predicts a W+ offset (one w per synthesis layer,
        `Encoder.forward_plus`), the start of a photo's latent refinement. Absent from files
        written without it.
    """

    kind: str = "dcgan"
    resolution: int = 64
    nz: int = 128
    ngf: int = 64
    ndf: int = 64
    nef: int = 64
    cond_attributes: tuple[str, ...] = field(default_factory=tuple)
    n_classes: int = 0
    mapping_layers: int = 4
    encoder_w_plus: bool = False

    def __post_init__(self) -> None:
        for f in ("resolution", "nz", "ngf", "ndf", "nef", "n_classes", "mapping_layers"):
            v = getattr(self, f)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"{f} must be a whole number, got {v!r}")
        if not all(isinstance(a, str) for a in self.cond_attributes):
            raise ValueError(f"cond_attributes must be names, got {list(self.cond_attributes)}")
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise ValueError(f"unknown model kind {self.kind!r}; expected one of {KINDS}")
        if self.resolution not in RESOLUTIONS:
            raise ValueError(f"resolution must be one of {RESOLUTIONS}, got {self.resolution}")
        if self.kind == "cgan" and not self.cond_attributes:
            raise ValueError("a conditional GAN needs at least one attribute in cond_attributes")
        if self.n_cond and len(set(self.cond_attributes)) != self.n_cond:
            raise ValueError(f"cond_attributes names an attribute twice: "
                             f"{list(self.cond_attributes)}")
        if not 1 <= self.mapping_layers <= 8:
            raise ValueError("mapping_layers must be 1 to 8")
        if self.nz < 1 or self.ngf < 1 or self.ndf < 1 or self.nef < 1 or self.n_classes < 0:
            raise ValueError("latent size and widths must be positive")
        if not isinstance(self.encoder_w_plus, bool):
            raise ValueError(f"encoder_w_plus must be true or false, got {self.encoder_w_plus!r}")
        if self.encoder_w_plus and self.kind != "style":
            raise ValueError("only a style model's encoder predicts a W+ offset")

    @property
    def n_cond(self) -> int:
        """Size of the condition vector y; 0 for an unconditional model (the one rule)."""
        return len(self.cond_attributes) if self.kind in CONDITIONAL_KINDS else 0

    @property
    def n_stages(self) -> int:
        """Number of 2x up/down-sampling stages between 4x4 and the image."""
        return int(math.log2(self.resolution // 4))

    @property
    def n_styles(self) -> int:
        """A style G's per-layer latents (one per synthesis layer: `StyleGenerator.n_styles`),
        0 for the other kinds."""
        return self.n_stages + 1 if self.kind == "style" else 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cond_attributes"] = list(self.cond_attributes)
        if self.kind != "style":  # files of the older kinds stay readable by older releases
            d.pop("mapping_layers")
        if not self.encoder_w_plus:  # and so do files without a W+ encoder
            d.pop("encoder_w_plus")
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model_config fields: {sorted(unknown)}")
        d = dict(d)
        cond = d.get("cond_attributes", ())
        if not isinstance(cond, (list, tuple)):
            raise ValueError(f"cond_attributes must be a list of names, got {cond!r}")
        d["cond_attributes"] = tuple(cond)
        return cls(**d)


def _widths(base: int, n_stages: int) -> list[int]:
    """Channel widths from the 4x4 end outwards: base*8 capped, halving towards the image."""
    return [base * min(8, 2 ** (n_stages - 1 - i)) for i in range(n_stages)]


def _relu_gauss_mean(mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """E[relu(X)] for X ~ N(mu, sigma^2): mu Phi(mu/sigma) + sigma phi(mu/sigma)."""
    t = mu / sigma
    cdf = 0.5 * (1.0 + torch.erf(t * 0.7071067811865476))
    pdf = torch.exp(-0.5 * t * t) * 0.3989422804014327
    return mu * cdf + sigma * pdf


class Generator(nn.Module):
    """DCGAN generator: z (n, nz) [+ y (n, n_cond)] -> image (n, 3, res, res) in [-1, 1]."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        w = _widths(cfg.ngf, cfg.n_stages)
        # state size. (nz + n_cond) -> (w0) x 4 x 4
        self.project = nn.Sequential(
            nn.ConvTranspose2d(cfg.nz + cfg.n_cond, w[0], 4, 1, 0, bias=False),
            nn.BatchNorm2d(w[0]),
            nn.ReLU(True),
        )
        blocks: list[nn.Module] = []
        for i in range(cfg.n_stages - 1):
            # state size. w[i] x s x s -> w[i+1] x 2s x 2s
            blocks += [
                nn.ConvTranspose2d(w[i], w[i + 1], 4, 2, 1, bias=False),
                nn.BatchNorm2d(w[i + 1]),
                nn.ReLU(True),
            ]
        self.blocks = nn.Sequential(*blocks)
        # state size. w[-1] x res/2 x res/2 -> 3 x res x res
        self.to_rgb = nn.Sequential(nn.ConvTranspose2d(w[-1], 3, 4, 2, 1), nn.Tanh())

    @property
    def n_cond(self) -> int:
        """Size of the condition vector y this G needs (0: none)."""
        return self.cfg.n_cond

    # None of a DCGAN's detail is latent (a style G's leading W+ offset is; `encoding`).
    latent_detail_size = 0

    @property
    def _detail_at(self) -> int:
        """How many modules of `blocks` run before the detail is added: the first up-block's
        three (its output is 8x8), or none for a generator with no up-block."""
        return min(3, len(self.blocks))

    @property
    def detail_shape(self) -> tuple[int, int, int]:
        """Shape of one face's `detail`: the feature map after the first up-block, (C, 8, 8)."""
        if self._detail_at:
            return (self.blocks[0].out_channels, 8, 8)
        return (self.project[0].out_channels, 4, 4)

    def mean_features(self, y: torch.Tensor | None = None) -> torch.Tensor:
        """E_z[project(z, y)] for z ~ N(0, I): (n or 1, w0, 4, 4), exact, with the standing
        BatchNorm statistics (eval mode).

        The first layer maps one input vector to each feature linearly, then BatchNorm (affine
        in eval mode) and ReLU: a feature is relu(X) with X ~ N(mu, sigma^2), mu from y and the
        BatchNorm shift, sigma the norm of its z weights times the BatchNorm scale. So its mean
        is mu Phi(mu/sigma) + sigma phi(mu/sigma), with no sampling. The parts that do not
        depend on y are cached until the weights or statistics change.
        """
        conv, bn = self.project[0], self.project[1]

        def parts() -> tuple[torch.Tensor, ...]:
            w = conv.weight.float()  # (nz + n_cond, w0, 4, 4)
            scale = (bn.weight.float() / torch.sqrt(bn.running_var.float() + bn.eps))
            shift = bn.bias.float() - bn.running_mean.float() * scale
            sigma = (w[: self.cfg.nz].pow(2).sum(0).sqrt() * scale.abs()[:, None, None])
            w_y = w[self.cfg.nz :] * scale[:, None, None]  # (n_cond, w0, 4, 4)
            mu0 = shift[:, None, None].expand_as(sigma)[None].clone()
            sigma = sigma.clamp_min(1e-12)
            return mu0, sigma, w_y, _relu_gauss_mean(mu0, sigma)

        if torch.compiler.is_compiling():  # an exported or compiled graph: G's own computation
            mu0, sigma, w_y, plain = parts()
        else:
            tensors = (conv.weight, bn.weight, bn.bias, bn.running_mean, bn.running_var)
            key = tuple((t.data_ptr(), t._version) for t in tensors)  # new storage or in-place
            if getattr(self, "_mean_key", None) != key:
                with torch.inference_mode(False), torch.no_grad():  # a cache usable in any mode
                    self._mean_parts = parts()
                self._mean_key = key
            mu0, sigma, w_y, plain = self._mean_parts
        if not (self.cfg.n_cond and y is not None):
            return plain
        mu = mu0 + torch.einsum("nc,cohw->nohw", y.float(), w_y)
        return _relu_gauss_mean(mu, sigma)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None,
                detail: torch.Tensor | None = None,
                psi: torch.Tensor | float | None = None) -> torch.Tensor:
        """`detail` (n or 1, *detail_shape) is added to the 8x8 features: what a photo's
        inversion found that z alone cannot draw (see explorer.core.encoding).

        `psi` (a number, or one per face) is the truncation: the first layer's features move
        toward their mean over the prior, mean + psi (h - mean), as StyleGAN truncates in W.
        Scaling z instead only lowers contrast here: z goes through a linear layer and BatchNorm
        before anything nonlinear. 1 or None: no truncation."""
        if self.cfg.n_cond:
            if y is None:
                raise ValueError("this conditional generator needs y")
            z = torch.cat([z, y.to(z.dtype)], dim=1)
        h = self.project(z[:, :, None, None])
        if psi is not None and not (isinstance(psi, (int, float)) and psi == 1):
            p = torch.as_tensor(psi, dtype=torch.float32, device=h.device).reshape(-1, 1, 1, 1)
            mean = self.mean_features(y).to(h.dtype)
            h = mean + p.to(h.dtype) * (h - mean)
        if detail is None:
            return self.to_rgb(self.blocks(h))
        k = self._detail_at
        h = self.blocks[:k](h) + detail.to(h.dtype)
        return self.to_rgb(self.blocks[k:](h))


class _ConvTrunk(nn.Module):
    """Strided-conv feature extractor shared by D, E and the classifier: image -> (n, C, 4, 4)."""

    def __init__(self, base: int, n_stages: int, *, sn: bool, norm: bool) -> None:
        super().__init__()
        w = list(reversed(_widths(base, n_stages)))
        wrap = spectral_norm if sn else (lambda m: m)
        layers: list[nn.Module] = [wrap(nn.Conv2d(3, w[0], 4, 2, 1)), nn.LeakyReLU(0.2, True)]
        for i in range(n_stages - 1):
            layers.append(wrap(nn.Conv2d(w[i], w[i + 1], 4, 2, 1, bias=not norm)))
            if norm:
                layers.append(nn.BatchNorm2d(w[i + 1]))
            layers.append(nn.LeakyReLU(0.2, True))
        self.layers = nn.Sequential(*layers)
        self.out_channels = w[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class Discriminator(nn.Module):
    """Spectral-norm DCGAN discriminator; conditional models use a projection head (Miyato 2018).

    Returns logits (n,). `features(x)` gives the last conv features for feature-matching losses.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.trunk = _ConvTrunk(cfg.ndf, cfg.n_stages, sn=True, norm=False)
        c = self.trunk.out_channels
        self.head = spectral_norm(nn.Linear(c * 16, 1))
        self.embed = (
            spectral_norm(nn.Linear(cfg.n_cond, c * 16, bias=False)) if cfg.n_cond else None
        )
        # A style D's projection term starts at zero (a spectral-norm weight cannot), so a warm
        # start from an unconditional style run begins with its parent's D.
        self.embed_gain = (nn.Parameter(torch.zeros(()))
                           if cfg.n_cond and cfg.kind == "style" else None)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x).flatten(1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.features(x)
        out = self.head(h).squeeze(1)
        if self.embed is not None:
            if y is None:
                raise ValueError("this conditional discriminator needs y")
            proj = (self.embed(y.to(h.dtype)) * h).sum(1)
            out = out + (proj * self.embed_gain if self.embed_gain is not None else proj)
        return out


class JudgeClassifier(nn.Module):
    """The independent judge: 40 attribute logits from another architecture (3x3 convs, batch
    norm, global average pooling, twice the classifier's width) and another initialisation,
    trained on real photos only. `face-train evaluate` grades edits with it; the directions and
    the app never see it, so an edit cannot be tuned to the grader."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i in range(cfg.n_stages):
            c = 64 * min(2**i, 4)
            layers += [nn.Conv2d(c_in, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True),
                       nn.Conv2d(c, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(True)]
            c_in = c
        self.trunk = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(0.2), nn.Linear(c_in, cfg.n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x).mean((2, 3)))


class Encoder(nn.Module):
    """Image -> latent. For a VAE/GAN it returns (mu, logvar); otherwise z.

    With `cfg.encoder_w_plus` a second head reads the same trunk features and predicts a W+
    offset (`forward_plus`): a low-rank map (PLUS_RANK), 1.2 M weights on the 64 px model where
    a full one would have 10 M, zero at initialisation, so E's w is unchanged and a fresh head
    predicts no offset."""

    PLUS_RANK = 128

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.trunk = _ConvTrunk(cfg.nef, cfg.n_stages, sn=False, norm=True)
        n_out = cfg.nz * (2 if cfg.kind == "vaegan" else 1)
        self.head = nn.Linear(self.trunk.out_channels * 16, n_out)
        self.plus: nn.Module | None = None
        if cfg.encoder_w_plus:
            self.plus = nn.Sequential(
                nn.Linear(self.trunk.out_channels * 16, self.PLUS_RANK), nn.LeakyReLU(0.2),
                nn.Linear(self.PLUS_RANK, cfg.n_styles * cfg.nz))
            self.zero_plus()

    def zero_plus(self) -> None:
        """A W+ head that predicts no offset yet (its last layer zero)."""
        if self.plus is not None:
            nn.init.zeros_(self.plus[2].weight)
            nn.init.zeros_(self.plus[2].bias)

    def _latent(self, features: torch.Tensor) -> torch.Tensor:
        out = self.head(features)
        return out[:, : self.cfg.nz] if self.cfg.kind == "vaegan" else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._latent(self.trunk(x).flatten(1))

    def forward_plus(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(w (n, nz), the W+ offset (n, n_styles, nz) or None without a W+ head)."""
        f = self.trunk(x).flatten(1)
        w = self._latent(f)
        if self.plus is None:
            return w, None
        return w, self.plus(f).reshape(-1, self.cfg.n_styles, self.cfg.nz)

    def forward_dist(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mu, logvar) for a VAE/GAN encoder."""
        out = self.head(self.trunk(x).flatten(1))
        mu, logvar = out.chunk(2, dim=1)
        return mu, logvar.clamp(-10, 10)


class AttributeClassifier(nn.Module):
    """Small CNN: image -> attribute logits (n, n_classes), divided by a fitted temperature."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.trunk = _ConvTrunk(32, cfg.n_stages, sn=False, norm=True)
        c = self.trunk.out_channels
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.3), nn.Linear(c * 16, cfg.n_classes))
        # Per-attribute temperature for calibrated probabilities (fitted after training).
        self.register_buffer("temperature", torch.ones(cfg.n_classes))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.trunk(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x)) / self.temperature


def images_to_tensor(images: np.ndarray) -> torch.Tensor:
    """(n, h, w, 3) uint8 -> (n, 3, h, w) float32 in [-1, 1], what every network here takes.

    Copies only when it must (a read-only memmap slice or a PIL array), so the tensor is writable.
    """
    x = torch.from_numpy(np.require(images, np.uint8, ["C_CONTIGUOUS", "WRITEABLE"]))
    return x.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def tensor_to_images(x: torch.Tensor) -> np.ndarray:
    """(n, 3, h, w) float in [-1, 1] -> (n, h, w, 3) uint8."""
    x = x.detach().float().clamp(-1, 1).add(1.0).mul(127.5).round()
    return x.to(torch.uint8).permute(0, 2, 3, 1).contiguous().cpu().numpy()


def bf16_is_fast(device: torch.device) -> bool:
    """bfloat16 autocast pays off on GPUs and on CPUs with AVX-512/AMX; on AVX2-only CPUs it is
    emulated and about 30x slower than float32 (measured on the 2-core AMD EPYC dev machine)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        return torch.backends.cpu.get_cpu_capability() not in ("DEFAULT", "NO AVX", "AVX2")
    return False


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) convolutions, N(1, 0.02) batch-norm scales."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            w = getattr(m, "parametrizations", None)
            weight = w.weight.original if w is not None else m.weight
            nn.init.normal_(weight, 0.0, 0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def _style_generator(cfg: ModelConfig) -> nn.Module:
    return StyleGenerator(cfg.nz, _widths(cfg.ngf, cfg.n_stages), cfg.mapping_layers,
                          cfg.n_cond)


def build(cfg: ModelConfig, part: str, *, init: bool = True) -> nn.Module:
    """Build one network by its short name: 'G', 'D', 'E', 'C' or 'J' (the judge).

    `init=False` skips the DCGAN initialisation (for shapes only, or weights loaded next)."""
    factories = {"G": Generator, "D": Discriminator, "E": Encoder, "C": AttributeClassifier,
                 "J": JudgeClassifier}
    if cfg.kind == "style":
        factories["G"] = _style_generator
    if part not in factories:
        raise ValueError(f"unknown network {part!r}")
    if part in ("C", "J") and cfg.n_classes < 1:
        raise ValueError("this config has no classifier (n_classes = 0)")
    net = factories[part](cfg)
    if part == "J" or not init:  # J: PyTorch's default initialisation (Kaiming uniform)
        return net
    init_weights(net)
    if isinstance(net, Encoder):
        net.zero_plus()
    return net


# Truncation the window opens at, the CLI's seeds use and the y reach is fitted at (a style G:
# w toward w_avg; a DCGAN: its first-layer features toward their mean). Measured on the
# bundled models: docs/evaluation.md (FD and the sample grid at several psi).
DEFAULT_PSI = 0.7


def truncates_latents(model: nn.Module | str) -> bool:
    """Whether a generator (or a model kind) truncates the latent itself, before any edit (a
    style G: w_avg + psi (w - w_avg) on a seed's w, so psi never weakens a slider) rather than in
    G's forward (the DCGAN kinds: the first layer's features)."""
    return model == "style" if isinstance(model, str) else isinstance(model, StyleGenerator)


def forward_psi(model: nn.Module | str, psi: Any) -> Any:
    """The truncation G's forward gets for latents drawn at `psi` (one number, one per face, or
    None): None where the latents come truncated already (`truncates_latents`), or for psi 1;
    else psi itself. The one place this rule lives (the explorer, the CLI, evaluation)."""
    if psi is None or truncates_latents(model):
        return None
    if np.ndim(psi) == 0 and float(psi) == 1:
        return None
    return psi


def prior_latents(G: nn.Module, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
    """The latents G draws from prior noise z: w = mapping(z) for a style G, z itself otherwise.
    Edits, directions and the encoder live in this space."""
    return G.map(z, y) if isinstance(G, StyleGenerator) else z


@torch.no_grad()
def map_images(fn: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray,
               batch: int = 256, device: torch.device | str = "cpu") -> torch.Tensor:
    """`fn` (E, C, C's trunk, ...) over uint8 faces (n, h, w, 3) in batches, each converted by
    `images_to_tensor` (and moved to `device`) only when its turn comes; the outputs
    concatenated on the CPU, as float32."""
    return torch.cat([fn(images_to_tensor(images[i : i + batch]).to(device)).float().cpu()
                      for i in range(0, len(images), batch)])


@torch.no_grad()
def map_batches(fn: Callable[..., torch.Tensor], *arrays: np.ndarray | torch.Tensor | None,
                batch: int = 256, device: torch.device | str | None = None) -> torch.Tensor:
    """`fn(*parts)` (G, C(G(.)), ...) over arrays cut into batches along their first axis (None
    passes through as None; numpy becomes float32 tensors; `device`, if given, is where each
    part goes); the outputs concatenated on the CPU."""
    n = next(len(a) for a in arrays if a is not None)

    def part(a: np.ndarray | torch.Tensor | None, i: int) -> torch.Tensor | None:
        if a is None:
            return None
        t = a[i : i + batch]
        t = t if isinstance(t, torch.Tensor) else torch.from_numpy(np.asarray(t)).float()
        return t if device is None else t.to(device)

    return torch.cat([fn(*(part(a, i) for a in arrays)).cpu() for i in range(0, n, batch)])
