"""A model's attribute directions as the explorer uses them, by the method the user picks.

The fitting itself (mean-diff, sampled, linear, custom) lives in `facegan.directions`; this module
reads the stored sets from a `Bundle`, fits ``linear`` on its atlas (cached on disk), falls back to
the mean difference where ``sampled`` has no boundary, and hands out unit vectors with a scale.

`Directions.scale` is the latent distance of alpha = 1: the prior's standard deviation along the
direction, which is 1 for z ~ N(0, I). (The atlas spread was tried first, but an encoder that is
not fully trained maps faces into a shrunken cloud, 0.006 wide on the test model, which made
sliders useless; the prior is the space the generator samples from.)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from explorer.core.bundle import Bundle, BundleError
from facegan.directions import EPS as _EPS
from facegan.directions import METHODS, custom_direction, linear_directions, normalise

# custom_direction is fitted in facegan; the UI picks it up here, beside the Directions it extends.
__all__ = ["METHODS", "Directions", "available_methods", "custom_direction", "default_method",
           "get_directions"]


@dataclass(frozen=True)
class Directions:
    """Unit attribute directions.

    Attributes
    ----------
    method : one of METHODS, or 'custom' for user-made sets.
    names : attribute names, one per row of `vectors`.
    vectors : (n_attr, nz) float32 unit-norm (a zero row where an attribute has no direction).
    scale : (n_attr,) latent distance of alpha = 1.
    """

    method: str
    names: list[str]
    vectors: np.ndarray
    scale: np.ndarray

    def index(self, name: str) -> int:
        """Row of `name`; KeyError with the known names if absent."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"unknown attribute {name!r}; known: {', '.join(self.names)}"
            ) from None

    def vector(self, name: str) -> np.ndarray:
        return self.vectors[self.index(name)]

    def with_custom(self, name: str, vector: np.ndarray, scale: float | None = None) -> Directions:
        """A copy with a user-defined direction added (or replaced) under `name`."""
        v = np.asarray(vector, np.float32).reshape(-1)
        if v.shape[0] != self.vectors.shape[1]:
            raise ValueError(f"direction must have {self.vectors.shape[1]} values, got {v.shape}")
        n = float(np.linalg.norm(v))
        if n < _EPS:
            raise ValueError("the custom direction is zero (the two groups have the same mean)")
        v = v / n
        s = 1.0 if scale is None else float(scale)
        names = list(self.names)
        vectors, scales = self.vectors.copy(), self.scale.copy()
        if name in names:
            i = names.index(name)
            vectors[i], scales[i] = v, s
        else:
            names.append(name)
            vectors = np.vstack([vectors, v[None]]).astype(np.float32)
            scales = np.append(scales, np.float32(s)).astype(np.float32)
        return replace(self, names=names, vectors=vectors, scale=scales)


def _scales(vectors: np.ndarray) -> np.ndarray:
    """Prior standard deviation along each unit direction: 1 for z ~ N(0, I)."""
    return np.ones(len(vectors), np.float32)


def _cached_linear(z: np.ndarray, labels: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """`linear_directions`, cached on disk by the SHA-1 of the atlas (40 fits take seconds)."""
    import hashlib
    import os
    import tempfile

    from explorer.core.embedding import default_cache_dir

    h = hashlib.sha1(b"linear-v1")
    for a in (z, labels, fallback):
        h.update(str(a.shape).encode())
        h.update(np.ascontiguousarray(a).tobytes())
    path = default_cache_dir().parent / "directions" / f"linear-{h.hexdigest()}.npy"
    try:
        out = np.load(path, allow_pickle=False)
        if out.shape == fallback.shape:
            return out.astype(np.float32)
    except (OSError, ValueError):
        pass
    out = linear_directions(z, labels, fallback)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".linear.", suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, out, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache only costs time
    return out


def available_methods(bundle: Bundle) -> list[str]:
    """The methods this model has the data for, best first."""
    have = {"sampled": bundle.sampled_directions is not None,
            "mean-diff": bundle.raw_directions is not None,
            "linear": bundle.atlas_z is not None and bundle.atlas_labels is not None}
    return [m for m in METHODS if have[m]]


def default_method(bundle: Bundle) -> str:
    """The best method this model supports ('mean-diff' when it has none, which then explains)."""
    return next(iter(available_methods(bundle)), "mean-diff")


def get_directions(bundle: Bundle, method: str = "mean-diff") -> Directions:
    """Directions of every attribute of `bundle` by `method`, cached on the bundle (and the
    linear fits on disk, under $FACE_EXPLORER_CACHE/directions)."""
    if method not in METHODS:
        raise ValueError(f"unknown direction method {method!r}; choose one of {METHODS}")
    key = f"directions:{method}"
    if key in bundle.cache:
        return bundle.cache[key]
    raw = bundle.raw_directions
    if method == "sampled":
        if bundle.sampled_directions is None:
            raise BundleError(f"{bundle.name}: this model stores no directions fitted on samples "
                              "(retrain with a classifier, or pick mean-diff)")
        vectors = bundle.sampled_directions.copy()
        empty = np.linalg.norm(vectors, axis=1) < _EPS
        if raw is not None:
            vectors[empty] = raw[empty]
    elif method == "mean-diff":
        if raw is None:
            raise BundleError(f"{bundle.name}: this model stores no attribute directions")
        vectors = raw
    else:
        if bundle.atlas_z is None or bundle.atlas_labels is None:
            raise BundleError(
                f"{bundle.name}: this model has no labelled atlas to fit directions on"
            )
        fallback = raw if raw is not None else np.zeros(
            (len(bundle.attribute_names), bundle.nz), np.float32)
        vectors = _cached_linear(bundle.atlas_z, bundle.atlas_labels, fallback)
    unit = normalise(np.asarray(vectors, np.float32))
    scales = bundle.latent_spread(unit) if bundle.truncates_latents else _scales(unit)
    d = Directions(method, list(bundle.attribute_names), unit, scales)
    bundle.cache[key] = d
    return d
