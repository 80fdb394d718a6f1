"""Directions the generator found on its own, without labels: SeFa and GANSpace.

- **SeFa** (Shen & Zhou 2021, closed form): the latent directions that the first layer amplifies
  most. With the first layer's weight as a matrix W (nz, k) from the latent to its k outputs, and
  each column normalised, they are the eigenvectors of W Wᵀ by decreasing eigenvalue. For the
  DCGAN W is the first ConvTranspose's weight (nz, C, 4, 4) reshaped to (nz, C·16); for a
  style-based G the latent is w and W is the first modulation affine's weight, transposed.
  Milliseconds.
- **GANSpace** (Härkönen et al. 2020): PCA of early features over a few thousand sampled faces.
  For the DCGAN the features are the first layer's output and each component is regressed back
  to the latent (the latent that moves the features along it); for a style G the feature is w
  itself, so its components are directions in w directly. PCA of z would be useless: the prior
  is isotropic.

Each direction is named by what the bundled classifier says it changes most,
"SeFa 3: Smiling +0.41, Mouth Slightly Open +0.33", and signed so that its largest change is an
increase. Plug another generator kind in with :func:`register_first_layer` and
:func:`register_early_features`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explorer.core.bundle import Bundle, BundleError

# Generator kind -> how to read it. A kind is recognised by a predicate on the module.
_FIRST_LAYER: list[tuple[Callable[[nn.Module], bool], Callable[[nn.Module], np.ndarray]]] = []
_FEATURES: list[tuple[Callable[[nn.Module], bool],
                      Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, bool]]]] = []


def register_first_layer(accepts: Callable[[nn.Module], bool],
                         weight: Callable[[nn.Module], np.ndarray]) -> None:
    """Teach SeFa a generator kind: ``weight(G)`` -> (latent size, k) float matrix."""
    _FIRST_LAYER.insert(0, (accepts, weight))


def register_early_features(
        accepts: Callable[[nn.Module], bool],
        features: Callable[[nn.Module, torch.Tensor], tuple[torch.Tensor, bool]]) -> None:
    """Teach GANSpace a generator kind: ``features(G, z)`` -> ((n, d) features, whether the
    features are the latent itself (then no regression back is needed))."""
    _FEATURES.insert(0, (accepts, features))


def _is_style(G: nn.Module) -> bool:
    layers = getattr(G, "layers", None)
    return hasattr(G, "mapping") and layers is not None and hasattr(layers[0], "affine")


def _is_dcgan(G: nn.Module) -> bool:
    return isinstance(getattr(G, "project", None), nn.Sequential) and \
        isinstance(G.project[0], nn.ConvTranspose2d)


def _style_weight(G: nn.Module) -> np.ndarray:
    affine = G.layers[0].affine  # EqualLinear: w (nz) -> styles (n_in); weight (n_in, nz)
    w = affine.weight.detach().float() * float(getattr(affine, "scale", 1.0))
    return w.T.cpu().numpy()  # (nz, n_in)


def _dcgan_weight(G: nn.Module) -> np.ndarray:
    conv = G.project[0]  # ConvTranspose2d weight (nz + n_cond, C, 4, 4)
    nz = G.cfg.nz if hasattr(G, "cfg") else conv.weight.shape[0]
    return conv.weight.detach().float()[:nz].reshape(nz, -1).cpu().numpy()  # (nz, C*16)


def _style_features(G: nn.Module, z: torch.Tensor) -> tuple[torch.Tensor, bool]:
    return G.map(z), True


def _dcgan_features(G: nn.Module, z: torch.Tensor) -> tuple[torch.Tensor, bool]:
    n_cond = getattr(getattr(G, "cfg", None), "n_cond", 0)
    zin = torch.cat([z, z.new_zeros(len(z), n_cond)], 1) if n_cond else z
    return G.project(zin[:, :, None, None]).flatten(1), False


register_first_layer(_is_dcgan, _dcgan_weight)
register_first_layer(_is_style, _style_weight)
register_early_features(_is_dcgan, _dcgan_features)
register_early_features(_is_style, _style_features)


def first_layer_weight(G: nn.Module) -> np.ndarray:
    """The first layer as a matrix from the latent, (latent size, k) float32."""
    for accepts, weight in _FIRST_LAYER:
        if accepts(G):
            return np.asarray(weight(G), np.float32)
    raise BundleError(f"SeFa does not know this generator ({type(G).__name__})")


def sefa(weight: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """SeFa on a first-layer matrix (nz, m): (k, nz) unit directions, (k,) eigenvalues, largest
    first."""
    w = np.asarray(weight, np.float64)
    w = w / np.maximum(np.linalg.norm(w, axis=0, keepdims=True), 1e-12)  # unit columns
    vals, vecs = np.linalg.eigh(w @ w.T)  # ascending
    order = np.argsort(vals)[::-1][:k]
    return vecs[:, order].T.astype(np.float32), vals[order].astype(np.float32)


@torch.inference_mode()
def ganspace(G: nn.Module, nz: int, k: int = 10, n: int = 3000,
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """GANSpace: (k, nz) unit latent directions and (k,) explained variance ratios."""
    feats_fn = next((f for accepts, f in _FEATURES if accepts(G)), None)
    if feats_fn is None:
        raise BundleError(f"GANSpace does not know this generator ({type(G).__name__})")
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal((n, nz)).astype(np.float32))
    feats, is_latent = feats_fn(G, z)
    f = feats.double()
    f = f - f.mean(0)
    _, s, vh = torch.linalg.svd(f, full_matrices=False)
    comps = vh[:k]  # (k, d) principal axes of the features
    ratio = (s[:k] ** 2 / (s**2).sum()).float().numpy()
    if is_latent:
        dirs = comps
    else:
        # Regress the latent on each face's coordinates along the components: the latent
        # direction that moves the features along component i is row i of B.
        coords = f @ comps.T  # (n, k)
        zc = z.double() - z.double().mean(0)
        dirs = torch.linalg.lstsq(coords, zc).solution  # (k, nz)
    dirs = dirs / dirs.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return dirs.float().numpy(), ratio


@dataclass(frozen=True)
class Discovered:
    """Named discovered directions: ``names[i]`` for row i of ``vectors`` (k, nz), unit norm."""

    method: str
    names: list[str]
    vectors: np.ndarray
    effects: list[list[tuple[str, float]]]  # per direction: (attribute, probability change)


def latent_std(bundle: Bundle, vectors: np.ndarray) -> np.ndarray:
    """(k,) the prior's spread along each direction in G's latent space (1 for z; measured on
    mapped samples for a style G: `Bundle.latent_spread`)."""
    return np.asarray(bundle.latent_spread(np.asarray(vectors, np.float32)), np.float32)


def describe(bundle: Bundle, vectors: np.ndarray, scale: np.ndarray | None = None,
             alpha: float = 2.0, n_faces: int = 48, top: int = 2,
             ) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
    """What each direction changes, by the classifier: moves ``n_faces`` seed faces by
    ``alpha`` (in prior standard deviations) and measures the mean change of every attribute's
    probability. Returns the vectors signed so that the largest change is an increase, and per
    direction its ``top`` changes [(attribute, change)], largest first. The labeller is C
    itself, never the file's photo scorer: direction discovery keeps C."""
    from explorer.core.classify import classifier_probabilities

    scale = np.ones(len(vectors), np.float32) if scale is None else scale
    base = bundle.seed_latents(list(range(10_000, 10_000 + n_faces)))  # z, or a style G's w
    p0 = classifier_probabilities(bundle, bundle.generate(base))
    names = list(bundle.attribute_names)
    signed, effects = [], []
    for v, s in zip(vectors, scale, strict=True):
        p1 = classifier_probabilities(bundle, bundle.generate(base + alpha * s * v[None]))
        delta = (p1 - p0).mean(0)
        order = np.argsort(-np.abs(delta))
        if delta[order[0]] < 0:  # sign the direction so that its main effect is an increase
            v = -v
            p1 = classifier_probabilities(bundle, bundle.generate(base + alpha * s * v[None]))
            delta = (p1 - p0).mean(0)
            order = np.argsort(-np.abs(delta))
        signed.append(v)
        effects.append([(names[i], float(delta[i])) for i in order[:top]])
    return np.asarray(signed, np.float32), effects


def effect_name(label: str, effect: list[tuple[str, float]]) -> str:
    """"SeFa 3: Smiling +0.41, Mouth Slightly Open +0.33"."""
    parts = [f"{n.replace('_', ' ')} {d:+.2f}".replace("-", "−") for n, d in effect]
    return f"{label}: " + ", ".join(parts) if parts else label


def discover(bundle: Bundle, method: str = "sefa", k: int = 8,
             progress: Callable[[float], None] | None = None) -> Discovered:
    """Find ``k`` directions of ``bundle``'s generator by ``method`` ('sefa' or 'ganspace') and
    name them by the classifier (by number alone when the model has no classifier)."""
    G = bundle.network("G")
    if method == "sefa":
        vectors, _ = sefa(first_layer_weight(G), k)
        label = "SeFa"
    elif method == "ganspace":
        vectors, _ = ganspace(G, bundle.nz, k)
        label = "PC"
    else:
        raise ValueError(f"unknown method {method!r}; use 'sefa' or 'ganspace'")
    if progress:
        progress(0.3)
    if bundle.has_classifier:
        vectors, effects = describe(bundle, vectors, latent_std(bundle, vectors))
    else:
        effects = [[] for _ in vectors]
    if progress:
        progress(1.0)
    names = [effect_name(f"{label} {i + 1}", e) for i, e in enumerate(effects)]
    return Discovered(method, names, vectors, effects)
