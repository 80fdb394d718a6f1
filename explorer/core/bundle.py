"""A loaded model file as the explorer sees it: metadata, networks and numpy in, numpy out.

`load_bundle` is the explorer's only way to open a model file. It goes through
`facegan.checkpoint.load_model` (safetensors + JSON, never code) and turns its `ModelFileError`
into a `BundleError` whose message can be shown to a user as is.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from explorer.assets import default_model_file
from facegan.checkpoint import (
    ATLAS_LABELS,
    ATLAS_Z,
    ATTR_DIRECTIONS,
    ATTR_DIRECTIONS_SAMPLED,
    COND_CORRECTION,
    COND_REACH,
    SCORER,
    SCORER_HEAD,
    ModelFileError,
    load_model,
    scoring_part,
)
from facegan.models import (
    DEFAULT_PSI,  # noqa: F401  (re-exported: explorer.core.bundle.DEFAULT_PSI)
    ModelConfig,
    forward_psi,
    map_images,
    tensor_to_images,
    truncates_latents,
)

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
# <repo>/checkpoints/<assets.DEFAULT_MODEL_NAME>, or the copy a wheel carries (explorer.assets).
DEFAULT_MODEL = default_model_file()
# Truncation the window opens at and the CLI's seeds use: `facegan.models.DEFAULT_PSI`.


class BundleError(Exception):
    """A model file that cannot be used, or a part it lacks; `str(e)` is the user message."""


SEED_CONDITION_STREAM = 20261130  # keeps a seed's condition apart from its latent's stream


def default_model_path() -> Path:
    """The bundled model: env FACE_EXPLORER_MODEL, else checkpoints/DEFAULT_MODEL_NAME
    (`explorer.assets`; in the source tree, or inside the installed package)."""
    env = os.environ.get("FACE_EXPLORER_MODEL")
    return Path(env).expanduser() if env else DEFAULT_MODEL


@dataclass
class Bundle:
    """A loaded model: config, attribute names, atlas, stored directions and the networks.

    Attributes
    ----------
    path, name, meta, config, kind, nz, resolution : what the file says about itself.
    attribute_names : every labelled attribute (40 for CelebA).
    cond_attributes : attributes that drive the condition vector y (a conditional model's, else
        empty).
    atlas_z : (n, nz) float32 encoded faces, or None.
    atlas_labels : (n, n_attr) int8 in {-1, +1}, or None.
    has_encoder, has_classifier : whether E / C are in the file.
    has_scorer : whether the file holds a photo scorer (`facegan.checkpoint.SCORER`): a second
        classifier fine-tuned for real photos that scores faces for the user in C's place
        (`scoring_network`). C stays the feature trunk of refinement and pivotal tuning and
        the labeller of direction discovery.
    raw_directions, sampled_directions : the stored direction sets (`facegan.checkpoint`), or None.
    cond_reach : a conditional model's stored y reach per attribute (`y_reach`), or None.
    cond_correction : a conditional model's stored latent correction of each y edit
        (`edits.corrected_latents`), or None: its y edits move y alone.
    scorer_head : (n_attr, n_attr + 129) the photo scorer's last step over its logits and a
        face's recognition features (`facegan.checkpoint.SCORER_HEAD`; `classify`), or None.
    networks : CPU float32 G, E, C (and the photo scorer under SCORER) as loaded; reach them
        through `network` (which says when one is missing) and `scoring_network`.
        A render service takes its own copy of G (`explorer.core.render`).
    """

    path: Path
    name: str
    meta: dict[str, Any]
    config: ModelConfig
    kind: str
    nz: int
    resolution: int
    attribute_names: list[str]
    cond_attributes: list[str]
    atlas_z: np.ndarray | None
    atlas_labels: np.ndarray | None
    has_encoder: bool
    has_classifier: bool
    has_scorer: bool = False
    raw_directions: np.ndarray | None = None  # (n_attr, nz) mean-difference vectors as stored
    sampled_directions: np.ndarray | None = None  # (n_attr, nz) boundaries fitted on samples
    cond_reach: np.ndarray | None = None  # (n_cond,) the y sliders' reach, as stored
    cond_correction: np.ndarray | None = None  # (n_cond, nz) each y edit's latent correction
    scorer_head: np.ndarray | None = None  # (n_attr, n_attr + 129) logits + features -> logits
    networks: dict[str, nn.Module] = field(default_factory=dict, repr=False)
    cache: dict[str, Any] = field(default_factory=dict, repr=False)  # {"directions:linear": ...}

    @property
    def has_latent_detail(self) -> bool:
        """Whether a photo's detail has a latent part (a style G's W+ offset), so a photo can
        be drawn from its latent alone with one (`encoding.fit_latent_detail`)."""
        G = self.networks.get("G")
        return bool(getattr(G, "latent_detail_size", 0))

    @property
    def can_score(self) -> bool:
        """Whether faces can be scored for the user (a photo scorer or C)."""
        return self.has_scorer or self.has_classifier

    def scoring_network(self) -> nn.Module:
        """The one rule for which classifier scores a face for the user (readout, photo panel,
        CLI), by `facegan.checkpoint.scoring_part`; BundleError without either."""
        part = scoring_part(self.networks)
        if part is None:
            raise BundleError(f"{self.name}: this model has no attribute classifier")
        return self.networks[part]

    @property
    def n_cond(self) -> int:
        return len(self.cond_attributes)

    @property
    def y_reach(self) -> np.ndarray | None:
        """(n_cond,) how far each y slider reaches (`facegan.directions.condition_reach`, fitted
        by the trainer), or None: the file has none, and every slider reaches
        `edits.Y_LIMIT`."""
        return None if self.cond_reach is None else self.cond_reach.copy()

    @property
    def truncates_latents(self) -> bool:
        """Whether truncation acts on the latent itself (a style G: w_avg + psi (w - w_avg),
        applied to a seed's face before any edit, so psi never weakens a slider) rather than
        inside G (the DCGAN's first-layer features): `facegan.models.truncates_latents`."""
        return truncates_latents(self.kind)

    def latent_spread(self, unit: np.ndarray) -> np.ndarray:
        """(k,) standard deviation of the prior's latents along each unit direction (k, nz):
        1 for z ~ N(0, I); for a style G measured on 4,096 mapped samples (W is no Gaussian
        ball), so a slider's alpha = 1 is one standard deviation of the faces G draws."""
        if not self.truncates_latents:
            return np.ones(len(unit), np.float32)
        if "w_samples" not in self.cache:
            from explorer.core.latents import random_latents

            with torch.inference_mode():
                G = self.network("G")
                self.cache["w_samples"] = G.map(
                    torch.from_numpy(random_latents(4096, self.nz, seed=777))).float().numpy()
        proj = self.cache["w_samples"] @ np.asarray(unit, np.float32).T
        return np.maximum(proj.std(0), 1e-6).astype(np.float32)

    @property
    def latent_center(self) -> np.ndarray | None:
        """(nz,) the middle of the latents' cloud when it is not the origin: a style G's w_avg
        (the average face), else None (z ~ N(0, I) is centred on 0)."""
        if not self.truncates_latents:
            return None
        G = self.network("G")
        return G.w_avg.detach().float().numpy().reshape(-1).copy()

    def seed_latents(self, seeds: Sequence[int], psi: float = 1.0) -> np.ndarray:
        """(n, nz) latents of seeds as the explorer edits them: z for the DCGAN kinds (truncated
        later, in G); for a style G its w, truncated toward w_avg by `psi` here."""
        from explorer.core.latents import seed_latents

        z = seed_latents(list(seeds), self.nz)
        if not self.truncates_latents or len(z) == 0:
            return z
        G = self.network("G")
        with torch.inference_mode():
            w = G.map(torch.from_numpy(z))
            if psi != 1:
                w = G.truncate(w, float(psi))
        return w.float().numpy()

    def network(self, part: str) -> nn.Module:
        """The CPU float32 network 'G', 'E' or 'C'; BundleError if the file has none."""
        if part not in self.networks:
            what = {"E": "encoder", "C": "attribute classifier", "G": "generator"}
            raise BundleError(f"{self.name}: this model has no {what.get(part, part)}")
        return self.networks[part]

    def with_own(self, *parts: str) -> Bundle:
        """This bundle with its own copies of the networks `parts` ('G', 'E', 'C'), the rest
        shared: for a background job that runs a network itself (fitting a photo, finding
        directions), so no network is ever used by two threads at once."""
        nets = dict(self.networks)
        for part in parts:
            nets[part] = copy.deepcopy(self.network(part))
        return dataclasses.replace(self, networks=nets)

    def default_y(self, n: int) -> np.ndarray | None:
        """Neutral condition (all zeros, between 'has' and 'has not') for a cgan, else None."""
        return np.zeros((n, self.n_cond), np.float32) if self.n_cond else None

    def seed_conditions(self, seeds: Sequence[int]) -> np.ndarray | None:
        """(n, n_cond) the condition each seed is drawn with, for a conditional model (None
        for others): a row of the atlas's labels (+-1, real faces' attributes as they occur
        together), picked by the seed, so a seed is always the same person. Without an atlas,
        the neutral condition. A conditional model trained with condition dropout draws y = 0
        as 'unspecified', which blends both sides of each attribute: a seed is a face of its
        own, as in training."""
        if not self.n_cond:
            return None
        labels = self.atlas_conditions()
        if labels is None or len(labels) == 0 or len(seeds) == 0:
            return np.zeros((len(seeds), self.n_cond), np.float32)
        rows = [int(np.random.default_rng([int(s), SEED_CONDITION_STREAM]).integers(len(labels)))
                for s in seeds]
        return labels[rows]

    def atlas_conditions(self) -> np.ndarray | None:
        """(n_atlas, n_cond) the atlas faces' labels on a conditional model's attributes (+-1):
        the condition each encoded atlas face is drawn with; None without an atlas or a
        condition."""
        if not self.n_cond or self.atlas_labels is None:
            return None
        cols = [self.attribute_names.index(a) for a in self.cond_attributes]
        return self.atlas_labels[:, cols].astype(np.float32)

    @property
    def cond_exclusive(self) -> np.ndarray | None:
        """(n_cond, 2, n_cond) the sides of the conditioned attributes the data never shows
        together, from the atlas's labels (`edits.exclusive_sides`), which a y slider's edit
        moves the untouched conditions off; None without a condition or an atlas."""
        if "cond_exclusive" not in self.cache:
            from explorer.core.edits import exclusive_sides

            self.cache["cond_exclusive"] = exclusive_sides(self.atlas_conditions())
        return self.cache["cond_exclusive"]

    def check_z(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float32)
        if z.ndim == 1:
            z = z[None]
        if z.ndim != 2 or z.shape[1] != self.nz:
            raise BundleError(f"latents must have shape (n, {self.nz}), got {z.shape}")
        return z

    def check_y(self, y: np.ndarray | None, n: int) -> np.ndarray | None:
        if not self.n_cond:
            return None
        if y is None:
            return self.default_y(n)
        y = np.asarray(y, dtype=np.float32)
        if y.ndim == 1:
            y = np.broadcast_to(y, (n, y.shape[0]))
        if y.shape != (n, self.n_cond):
            raise BundleError(f"condition must have shape ({n}, {self.n_cond}), got {y.shape}")
        return np.array(y, np.float32)  # a copy: a broadcast view is read-only

    @property
    def detail_shape(self) -> tuple[int, ...]:
        """Shape of one face's photo detail (see `explorer.core.encoding`)."""
        return tuple(self.network("G").detail_shape)  # type: ignore[return-value]

    @property
    def saved_detail_shapes(self) -> list[tuple[int, ...]]:
        """The shapes a saved photo detail may have for this model: today's, and a style G's
        W+ offset alone, as files before its 8x8 feature part held it."""
        legacy = getattr(self.network("G"), "legacy_detail_shape", None)
        return [self.detail_shape] + ([tuple(legacy)] if legacy is not None else [])

    def fitting_detail(self, v: Any) -> np.ndarray | None:
        """A saved photo detail in today's shape, or None where it is absent or fits no shape
        of `saved_detail_shapes`. A style G's W+-only detail gets a zero feature part, which
        draws the face exactly as before."""
        if v is None:
            return None
        a = np.asarray(v, np.float32)
        if a.shape == self.detail_shape:
            return a.copy()
        if a.shape in self.saved_detail_shapes:  # a style G's W+ offset alone
            return self.network("G").join_detail(torch.from_numpy(a)[None])[0].numpy()
        return None

    def check_detail(self, detail: np.ndarray | None, n: int) -> np.ndarray | None:
        """None, or detail as (n, *detail_shape) float32 (one face's detail may be given)."""
        if detail is None:
            return None
        d = np.asarray(detail, dtype=np.float32)
        if d.shape == self.detail_shape:
            d = d[None]
        if d.shape[1:] != self.detail_shape or len(d) not in (1, n):
            raise BundleError(f"photo detail must have shape (n, {self.detail_shape}), "
                              f"got {d.shape}")
        return np.broadcast_to(d, (n, *self.detail_shape)).copy()

    def stack_details(self, details: Sequence[np.ndarray | None]) -> np.ndarray | None:
        """One detail per face (None: a face with none) -> (n, *detail_shape) with zeros where
        a face has none; None when no face has a detail."""
        if all(d is None for d in details):
            return None
        out = np.zeros((len(details), *self.detail_shape), np.float32)
        for i, d in enumerate(details):
            if d is not None:
                out[i] = d
        return out

    @staticmethod
    def face_psi(psi: float | np.ndarray, detail: np.ndarray | None,
                 n: int) -> np.ndarray | None:
        """Per-face truncation (`psi` one number, or one per face): 1 for faces drawn with a
        photo's detail (fitted at psi 1: truncating would move the photo off its likeness);
        None when no face is truncated."""
        p = np.asarray(psi, np.float32)
        if p.ndim > 1 or (p.ndim == 1 and len(p) != n) or not np.all(np.isfinite(p) & (p >= 0)):
            raise BundleError(f"truncation psi must be numbers >= 0, one or one per face; "
                              f"got {psi}")
        out = np.broadcast_to(p, (n,)).copy()
        if detail is not None:
            out[np.abs(detail).reshape(n, -1).max(1) > 0] = 1.0
        return None if np.all(out == 1.0) else out

    def generator_inputs(
        self, z: np.ndarray, y: np.ndarray | None = None, detail: np.ndarray | None = None,
        psi: float | np.ndarray = 1.0, device: torch.device | str = "cpu",
    ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
        """Checked (z, y, detail, psi) tensors on `device`, as G's forward takes them."""
        zz = self.check_z(z)
        yy = self.check_y(y, len(zz))
        dd = self.check_detail(detail, len(zz))
        pp = forward_psi(self.kind, self.face_psi(psi, dd, len(zz)))  # checked either way

        def opt(a: np.ndarray | None) -> torch.Tensor | None:
            return None if a is None else torch.from_numpy(a).to(device)

        return torch.from_numpy(zz).to(device), opt(yy), opt(dd), opt(pp)

    @torch.inference_mode()
    def generate(self, z: np.ndarray, y: np.ndarray | None = None,
                 detail: np.ndarray | None = None,
                 psi: float | np.ndarray = 1.0, tuned: Any = None) -> np.ndarray:
        """Synchronous render on the CPU: z (n, nz) or (nz,) -> (n, res, res, 3) uint8;
        `detail` is a photo's detail (see `check_detail`), `psi` the truncation (`face_psi`);
        `tuned` a photo's pivotal-tuned weights (`explorer.core.pivotal.TunedWeights`) to draw
        every face with, at psi 1 as the photo was tuned."""
        if tuned is None:
            return tensor_to_images(self.network("G")(*self.generator_inputs(z, y, detail, psi)))
        from explorer.core.pivotal import tuned_forward

        inputs = self.generator_inputs(z, y, detail, 1.0)
        return tensor_to_images(tuned_forward(self.network("G"), tuned, *inputs))

    @torch.inference_mode()
    def encode(self, faces: np.ndarray) -> np.ndarray:
        """(n, res, res, 3) uint8 faces -> (n, nz) float32 latents from the encoder E."""
        return map_images(self.network("E"), self.check_faces(faces)).numpy()

    def check_faces(self, faces: np.ndarray) -> np.ndarray:
        faces = np.asarray(faces)
        if faces.ndim == 3:
            faces = faces[None]
        r = self.resolution
        if faces.ndim != 4 or faces.shape[1:] != (r, r, 3) or faces.dtype != np.uint8:
            raise BundleError(
                f"faces must be uint8 arrays of shape (n, {r}, {r}, 3), got {faces.dtype} "
                f"{faces.shape}"
            )
        return faces


def load_bundle(path: str | Path | None = None) -> Bundle:
    """Open a model file (default: the bundled model); raise BundleError saying what is wrong."""
    p = Path(path).expanduser() if path is not None else default_model_path()
    if path is None and not p.exists():
        raise BundleError(
            f"the bundled model {p} is not there yet; pass --model PATH or set FACE_EXPLORER_MODEL"
        )
    try:
        mf = load_model(p)
        nets = {part: mf.network(part) for part in mf.parts if part in ("G", "E", "C")}
        if mf.has_scorer:
            nets[SCORER] = mf.network(SCORER)
    except ModelFileError as e:
        raise BundleError(str(e)) from None
    except (OSError, ValueError, RuntimeError) as e:  # unreadable file, permission, bad tensors
        raise BundleError(f"{p.name}: cannot read model file ({e})") from None
    for net in nets.values():
        net.requires_grad_(False)
    cfg = mf.config
    names = mf.attribute_names
    atlas_z = mf.array(ATLAS_Z).astype(np.float32) if ATLAS_Z in mf.tensors else None
    atlas_labels = None
    if ATLAS_LABELS in mf.tensors:
        atlas_labels = np.where(mf.array(ATLAS_LABELS) > 0, 1, -1).astype(np.int8)
    raw = None
    if ATTR_DIRECTIONS in mf.tensors:
        raw = mf.array(ATTR_DIRECTIONS).astype(np.float32)
    sampled = None
    if ATTR_DIRECTIONS_SAMPLED in mf.tensors:
        sampled = mf.array(ATTR_DIRECTIONS_SAMPLED).astype(np.float32)
    reach = mf.array(COND_REACH).astype(np.float32) if COND_REACH in mf.tensors else None
    correction = None
    if COND_CORRECTION in mf.tensors:
        correction = mf.array(COND_CORRECTION).astype(np.float32)
    head = mf.array(SCORER_HEAD).astype(np.float32) if SCORER_HEAD in mf.tensors else None
    return Bundle(
        path=p,
        name=mf.name,
        meta=mf.meta,
        config=cfg,
        kind=cfg.kind,
        nz=cfg.nz,
        resolution=cfg.resolution,
        attribute_names=names,
        cond_attributes=list(cfg.cond_attributes) if cfg.n_cond else [],
        atlas_z=atlas_z,
        atlas_labels=atlas_labels,
        has_encoder="E" in nets,
        has_classifier="C" in nets,
        has_scorer=SCORER in nets,
        raw_directions=raw,
        sampled_directions=sampled,
        cond_reach=reach,
        cond_correction=correction,
        scorer_head=head,
        networks=nets,
    )
