"""The scene: what the explorer draws, as plain data, and the rules that turn it into a render.

A `Scene` holds the seed, the grid, ψ, the slider values and locks, the direction method, custom
directions and the face being edited (an `EditedFace`). It has no Qt: the window's
`ExplorerState` is a thin adapter that adds signals and undo; the CLI, the interpolation export
and the analogy draw through a scene too, so each render rule is written once, here:

- sliders of attributes a conditional model is conditioned on drive y; every other slider moves
  z along its direction, with the locked directions projected out (`edits.apply_edits`);
- on a conditional model every face has a condition of its own, which the y sliders move: a seed
  its row of the atlas's labels (`Bundle.seed_conditions`), a photo what the scorer sees in it
  (`classify.judged_condition`); a face that carries none (an older session's) is drawn neutral;
- a y slider's edit also moves z by the model's correction of it, where the file has one
  (`edits.corrected_latents`), so that the other attributes stay (`Scene.edited`);
- a photo is drawn at ψ 1, with or without its detail: its latent was fitted at ψ 1, and
  truncating it would pull it off its likeness. Every other face is drawn at the scene's ψ;
- the edited photo's detail is drawn only while `keep_detail` is on.

The scene also owns the session schema (`session_dict`, `read_session`): what a session file
holds, as plain JSON-able values (`explorer.core.session` writes the file).

The pattern is napari's evented model (the view subscribes to a plain model) and stylegan3's
renderer, whose request is a description the renderer turns into latents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from explorer.core.bundle import DEFAULT_PSI, Bundle
from explorer.core.directions import Directions, available_methods, default_method, get_directions
from explorer.core.edits import apply_edits, condition_vector, corrected_latents
from explorer.core.render import RenderRequest

MAX_GRID = 6


@dataclass(frozen=True, eq=False)
class EditedFace:
    """One face as the explorer edits it: its latent plus what a photo carries.

    Attributes
    ----------
    z : (nz,) float32 latent.
    detail : (*Bundle.detail_shape) float32: what the latent alone cannot draw of a photo, found
        by its encoding; None for a face with none.
    label : what the user calls it ('photo.jpg', '★ 2', 'analogy result').
    photo : whether the face was fitted to a photo (drawn at ψ 1, see the module docstring).
        A face that carries a detail or tuned weights is always a photo.
    tuned : the photo's pivotal-tuned generator weights (`explorer.core.pivotal.TunedWeights`,
        immutable), drawn with whether or not `keep_detail` is on; None for a face with none.
    y : (n_cond,) float32 the face's own condition on a conditional model (see the module
        docstring); None for the neutral one, and on other models.
    latent_detail : (*Bundle.detail_shape) float32, a style G's photo only: a latent-only
        detail (a W+ offset, its feature part zero) fitted to the photo with z held
        (`encoding.fit_latent_detail`), drawn while `keep_detail` is off; None: z alone.
    """

    z: np.ndarray
    detail: np.ndarray | None = None
    label: str = ""
    photo: bool = False
    tuned: Any = None
    y: np.ndarray | None = None
    latent_detail: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "z", np.asarray(self.z, np.float32).reshape(-1).copy())
        if self.y is not None:
            object.__setattr__(self, "y", np.asarray(self.y, np.float32).reshape(-1).copy())
        if self.detail is not None:
            object.__setattr__(self, "detail", np.asarray(self.detail, np.float32).copy())
            object.__setattr__(self, "photo", True)
        if self.latent_detail is not None:
            object.__setattr__(self, "latent_detail",
                               np.asarray(self.latent_detail, np.float32).copy())
        if self.tuned is not None:
            object.__setattr__(self, "photo", True)

    def same(self, other: object) -> bool:
        """Equal latents, details, labels (numpy-aware; used by undo to skip no-op steps)."""
        if not isinstance(other, EditedFace):
            return False
        return (self.label == other.label and self.photo == other.photo
                and _tuned_key(self.tuned) == _tuned_key(other.tuned)
                and np.array_equal(self.z, other.z) and same_value(self.y, other.y)
                and _same_array(self.detail, other.detail)
                and _same_array(self.latent_detail, other.latent_detail))


def _same_array(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    return (a is None) == (b is None) and (a is None or (
        b is not None and a.shape == b.shape and np.array_equal(a, b)))


@dataclass
class Favourite:
    name: str
    z: np.ndarray  # (nz,) float32
    detail: np.ndarray | None = None  # a starred photo's detail, as it was drawn
    tuned: Any = None  # a starred photo's pivotal-tuned weights (explorer.core.pivotal)
    y: np.ndarray | None = None  # its condition as it was drawn (conditional models), or None


@dataclass
class Photo:
    """A photo encoded into the model's latent space."""

    name: str
    path: str
    z: np.ndarray  # (nz,)
    face: np.ndarray | None = None  # (res, res, 3) uint8 crop that was encoded
    recon: np.ndarray | None = None  # (res, res, 3) uint8
    psnr: float = float("nan")
    top: list[tuple[str, float]] = field(default_factory=list)  # [(attribute, probability)]
    detail: np.ndarray | None = None  # (*Bundle.detail_shape) what z alone cannot draw
    tuned: Any = None  # pivotal-tuned weights (explorer.core.pivotal.TunedWeights), if tuned
    alignment: Any = None  # how the face was cut from the photo (explorer.core.align)
    y: np.ndarray | None = None  # (n_cond,) what the scorer saw in it (conditional models)
    latent_detail: np.ndarray | None = None  # drawn with the detail off (EditedFace's)

    def as_edited(self) -> EditedFace:
        """The face the explorer edits for this photo: its latent, details, tuned weights and
        condition."""
        return EditedFace(self.z, self.detail, self.name, photo=True, tuned=self.tuned,
                          y=self.y, latent_detail=self.latent_detail)


# The fields an undo step captures (favourites and photos are collections, not edits).
UNDOABLE = ("seed", "psi", "grid", "alphas", "locks", "method", "face", "custom_dirs")


@dataclass
class Scene:
    """What is drawn. Fields are plain values; `bundle` is the model they are drawn with.

    Attributes
    ----------
    seed : the first face's RNG seed (a grid shows consecutive seeds).
    psi : truncation for faces that are not photos.
    grid : faces per side (1..MAX_GRID).
    alphas : slider values by attribute name.
    locks : attributes kept fixed while others move.
    method : direction method (`explorer.core.directions.METHODS`).
    face : the face being edited in place of the first seed, or None.
    custom_dirs : user-made directions, [(name, (nz,) vector)].
    discovered : directions the model found (SeFa, GANSpace), [(name, (nz,) unit vector,
        scale)]; sliders like the others, but neither undoable nor saved until made custom.
    keep_detail : draw a photo with its detail (closer likeness, milder edits).
    """

    bundle: Bundle = field(repr=False, compare=False)
    seed: int = 0
    psi: float = DEFAULT_PSI
    grid: int = 1
    alphas: dict[str, float] = field(default_factory=dict)
    locks: set[str] = field(default_factory=set)
    method: str = ""
    face: EditedFace | None = None
    custom_dirs: list[tuple[str, np.ndarray]] = field(default_factory=list)
    discovered: list[tuple[str, np.ndarray, float]] = field(default_factory=list)
    keep_detail: bool = True
    _dirs: tuple[Any, Directions] | None = field(default=None, repr=False, compare=False)
    _base: tuple[Any, np.ndarray] | None = field(default=None, repr=False, compare=False)
    _ybase: tuple[Any, np.ndarray | None] | None = field(default=None, repr=False,
                                                         compare=False)

    def __post_init__(self) -> None:
        if not self.method:
            self.method = default_method(self.bundle)

    # Derived values.
    @property
    def cond_names(self) -> list[str]:
        return list(getattr(self.bundle, "cond_attributes", []) or [])

    def _spread(self, vec: np.ndarray) -> float | None:
        """A custom slider's step: one standard deviation of the prior's latents along it (1
        for a Gaussian z, so None there; measured in W for a style G: `Bundle.latent_spread`)."""
        if not getattr(self.bundle, "truncates_latents", False):
            return None
        v = np.asarray(vec, np.float32).reshape(1, -1)
        n = float(np.linalg.norm(v))
        return float(self.bundle.latent_spread(v / n)[0]) if n > 0 else None

    @property
    def directions(self) -> Directions:
        """The method's directions plus the custom ones (cached until either changes)."""
        key = (self.method, tuple((n, v.tobytes()) for n, v in self.custom_dirs),
               tuple(n for n, _, _ in self.discovered))
        if self._dirs is None or self._dirs[0] != key:
            d = get_directions(self.bundle, self.method)
            for name, vec in self.custom_dirs:
                d = d.with_custom(name, vec, self._spread(vec))
            for name, vec, scale in self.discovered:
                d = d.with_custom(name, vec, scale)
            self._dirs = (key, d)
        return self._dirs[1]

    @property
    def slider_names(self) -> list[str]:
        names = list(self.directions.names)
        return names + [c for c in self.cond_names if c not in names]

    def seed_latents(self) -> np.ndarray:
        """(grid², nz): consecutive seeds from `seed`, without the edited face."""
        # A style G's seed latents come truncated toward w_avg (`Bundle.seed_latents`), before
        # any edit: psi is part of them, and its sliders keep their full strength.
        key = (self.seed, self.grid, self.psi if self.bundle.truncates_latents else None)
        if self._base is None or self._base[0] != key:
            seeds = range(self.seed, self.seed + self.grid * self.grid)
            self._base = (key, self.bundle.seed_latents(list(seeds), self.psi))
        return self._base[1].copy()

    def base_latents(self) -> np.ndarray:
        """(grid², nz): the seeds' latents; the edited face, if any, is the first."""
        base = self.seed_latents()
        if self.face is not None:
            base[0] = self.face.z
        return base

    def edit_alphas(self) -> dict[str, float]:
        """Slider values that move z (non-zero, not a condition, a known direction)."""
        cond = set(self.cond_names)
        names = set(self.directions.names)
        return {k: v for k, v in self.alphas.items() if v != 0 and k not in cond and k in names}

    def edited_latents(self, base: np.ndarray | None = None) -> np.ndarray:
        """Apply the slider edits (with locks) to `base` (default: the canvas faces), (n, nz)."""
        base = self.base_latents() if base is None else np.atleast_2d(base).astype(np.float32)
        alphas = self.edit_alphas()
        if not alphas:
            return base
        names = self.directions.names
        locks = [n for n in self.locks if n in names and n not in self.cond_names]
        return np.asarray(apply_edits(base, self.directions, alphas, locks), np.float32)

    def edited(self, z: np.ndarray, y: np.ndarray | Sequence[np.ndarray | None] | None
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """Faces z (n, nz) whose own conditions are `y` (as `conditions` takes them) with every
        slider edit: z moved along the directions (`edited_latents`), y moved by the y sliders
        (`conditions`) and z by the model's correction of those y edits
        (`edits.corrected_latents`). The one place a slider edit is applied, so the canvas, a
        starred face and an exported walk agree."""
        z = np.atleast_2d(np.asarray(z, np.float32))
        yy = self.conditions(y, len(z))
        base = self.conditions(y, len(z), edit=False)
        return corrected_latents(self.edited_latents(z), yy, base,
                                 self.bundle.cond_correction), yy

    def seed_conditions(self) -> np.ndarray | None:
        """(grid², n_cond) the seeds' own conditions (`Bundle.seed_conditions`), without the
        edited face; None for a model without a condition."""
        key = (self.seed, self.grid)
        if self._ybase is None or self._ybase[0] != key:
            seeds = range(self.seed, self.seed + self.grid * self.grid)
            self._ybase = (key, self.bundle.seed_conditions(list(seeds)))
        y = self._ybase[1]
        return None if y is None else y.copy()

    def base_conditions(self) -> np.ndarray | None:
        """(grid², n_cond) the canvas faces' own conditions: the seeds'; the edited face's
        first (neutral where it carries none). None for a model without a condition."""
        y = self.seed_conditions()
        if y is not None and self.face is not None:
            y[0] = self.face_condition(self.face.y)
        return y

    def face_condition(self, y: np.ndarray | None) -> np.ndarray:
        """(n_cond,) a face's own condition: `y`, or the neutral one where it has none."""
        if y is None:
            return np.zeros(len(self.cond_names), np.float32)
        return np.asarray(y, np.float32).reshape(-1).copy()

    def conditions(self, base: np.ndarray | Sequence[np.ndarray | None] | None, n: int,
                   edit: bool = True) -> np.ndarray | None:
        """(n, n_cond) y for n faces whose own conditions are `base` ((n, n_cond), or one per
        face, None for neutral; None: all neutral), with the y sliders added (clipped as
        `edits.condition_vector` clips) unless `edit` is False; None on a model without one."""
        if not self.cond_names:
            return None
        if base is None:
            base = [None] * n
        elif isinstance(base, np.ndarray) and base.ndim == 1:
            base = [base]  # one face's
        rows = [self.face_condition(b) for b in base]
        if len(rows) != n:
            raise ValueError(f"{len(rows)} conditions for {n} faces")
        if edit:
            reach = self.bundle.y_reach
            exclusive = self.bundle.cond_exclusive
            rows = [condition_vector(self.cond_names, self.alphas, base=r, reach=reach,
                                     exclusive=exclusive) for r in rows]
        return np.stack(rows).astype(np.float32) if rows else \
            np.zeros((0, len(self.cond_names)), np.float32)

    def drawn_detail(self, face: EditedFace | None) -> np.ndarray | None:
        """The detail `face` is drawn with: its own while `keep_detail` is on, else its
        latent-only detail (a style G's photo), else None."""
        if face is None:
            return None
        d = face.detail if self.keep_detail else face.latent_detail
        return None if d is None else d.copy()

    def face_psi(self, photo: bool | Sequence[bool] | np.ndarray, n: int) -> np.ndarray:
        """(n,) truncation: 1 for photos, the scene's ψ for every other face."""
        p = np.broadcast_to(np.asarray(photo, bool), (n,))
        return np.where(p, 1.0, self.psi).astype(np.float32)

    # Requests.
    def request(self, z: np.ndarray, details: Sequence[np.ndarray | None] | np.ndarray | None
                = None, photo: bool | Sequence[bool] | np.ndarray = False, *, edit: bool = True,
                id: int = 0, tuned: Sequence[Any] | None = None,
                y: np.ndarray | Sequence[np.ndarray | None] | None = None) -> RenderRequest:
        """Draw faces z (n, nz) under this scene's rules: the slider edits (unless `edit` is
        False; the y sliders too), each face's own condition `y` (see `conditions`), each face's
        detail (one per face, None for none; or an (n, *detail_shape) array), ψ 1 for photos
        (`photo`, and every face given a detail or tuned weights); `tuned`: per face, a photo's
        pivotal-tuned weights or None."""
        z = np.atleast_2d(np.asarray(z, np.float32))
        n = len(z)
        detail: np.ndarray | None
        if details is None:
            detail = None
        elif isinstance(details, np.ndarray):
            detail = np.asarray(details, np.float32)
        else:
            detail = self.bundle.stack_details(list(details))
        if details is not None and not isinstance(details, np.ndarray):
            photo = np.asarray(photo, bool) | np.array([d is not None for d in details])
        tt = None
        if tuned is not None and any(t is not None for t in tuned):
            tt = tuple(tuned)
            photo = np.asarray(photo, bool) | np.array([t is not None for t in tt])
        zz, yy = self.edited(z, y) if edit else (z, self.conditions(y, n, edit=False))
        return RenderRequest(id, np.ascontiguousarray(zz), yy, detail, self.face_psi(photo, n),
                             tt)

    def canvas_request(self, id: int = 0, preview: EditedFace | None = None) -> RenderRequest:
        """The canvas: the grid of seeds with the edited face first, all with the slider edits;
        or, during a walk's playback, its frame `preview` alone (already edited). The edited
        face's detail is drawn only while `keep_detail` is on; a photo stays at ψ 1 either way."""
        if preview is not None:
            return self.request(preview.z, [preview.detail], preview.photo, edit=False, id=id,
                                tuned=[preview.tuned], y=[preview.y])
        z = self.base_latents()
        face = self.face
        details = [self.drawn_detail(face)] + [None] * (len(z) - 1)
        photo = np.zeros(len(z), bool)
        photo[0] = face is not None and face.photo
        tuned = [None if face is None else face.tuned] + [None] * (len(z) - 1)
        return self.request(z, details, photo, id=id, tuned=tuned, y=self.base_conditions())

    def draw(self, req: RenderRequest) -> np.ndarray:
        """Render `req` now on the calling thread: (n, res, res, 3) uint8 (the CLI's path)."""
        if not req.tuned:
            return self.bundle.generate(req.z, req.y, req.detail, req.psi)
        out = []
        for i, t in enumerate(req.tuned):  # faces with tuned weights, one at a time
            psi = req.psi if np.ndim(req.psi) == 0 else np.asarray(req.psi)[i : i + 1]
            out.append(self.bundle.generate(
                req.z[i : i + 1], None if req.y is None else req.y[i : i + 1],
                None if req.detail is None else req.detail[i : i + 1], psi, tuned=t))
        return np.concatenate(out)

    def current_face(self) -> EditedFace:
        """The first canvas face as drawn now (slider edits applied), e.g. to star it."""
        base = self.base_conditions()
        zz, yy = self.edited(self.base_latents()[:1], None if base is None else base[:1])
        z, y = zz[0], None if yy is None else yy[0]
        f = self.face
        if f is None:
            return EditedFace(z, label=f"seed {self.seed}", y=y)
        return EditedFace(z, self.drawn_detail(f), f.label, f.photo, f.tuned, y)

    # Undo snapshots.
    def snapshot(self) -> dict[str, Any]:
        """Copies of the undoable fields."""
        return {"seed": self.seed, "psi": self.psi, "grid": self.grid,
                "alphas": dict(self.alphas), "locks": set(self.locks), "method": self.method,
                "face": self.face,  # frozen: shared safely
                "custom_dirs": [(n, v.copy()) for n, v in self.custom_dirs]}

    def changed_fields(self, snap: dict[str, Any]) -> set[str]:
        return {k for k in UNDOABLE if k in snap and not same_value(getattr(self, k), snap[k])}

    def restore(self, snap: dict[str, Any]) -> set[str]:
        """Set the undoable fields from `snap` (all of them, or only those an undo step
        changed); return the names of those that changed."""
        changed = self.changed_fields(snap)
        for k in changed:
            v = snap[k]
            if k == "custom_dirs":
                v = [(n, a.copy()) for n, a in v]
            elif isinstance(v, (dict, set)):
                v = type(v)(v)
            setattr(self, k, v)
        return changed

    # Session schema.
    def to_dict(self) -> dict[str, Any]:
        """The scene as plain values and numpy arrays (the session file keeps arrays apart)."""
        f = self.face
        return {
            "model_path": str(getattr(self.bundle, "path", "")),
            "seed": self.seed, "psi": self.psi, "grid": self.grid,
            "alphas": dict(self.alphas), "locks": sorted(self.locks), "method": self.method,
            "custom_z": None if f is None else f.z,
            "custom_detail": None if f is None else f.detail,
            "custom_latent_detail": None if f is None else f.latent_detail,
            "custom_label": "" if f is None else f.label,
            "custom_tuned": tuned_bytes(None if f is None else f.tuned),
            "custom_y": None if f is None else f.y,
            "custom_dirs": [{"name": n, "vector": v} for n, v in self.custom_dirs],
            "keep_detail": self.keep_detail,
        }

    def from_dict(self, d: dict[str, Any]) -> dict[str, Any]:
        """The undoable fields a session dict describes (a snapshot to `restore`)."""
        z = _vector(d.get("custom_z"))
        detail = self.fitting_detail(d.get("custom_detail"))
        tuned = self.fitting_tuned(d.get("custom_tuned"))
        face = None if z is None else EditedFace(
            z, detail, str(d.get("custom_label", "")), tuned=tuned,
            y=self.fitting_condition(d.get("custom_y")),
            latent_detail=self.fitting_detail(d.get("custom_latent_detail")))
        method = d.get("method", default_method(self.bundle))
        methods = available_methods(self.bundle)
        return {"seed": int(d.get("seed", 0)), "psi": float(d.get("psi", DEFAULT_PSI)),
                "grid": int(d.get("grid", 1)),
                "alphas": {str(k): float(v) for k, v in (d.get("alphas") or {}).items()},
                "locks": set(d.get("locks", []) or []),
                "method": method if method in methods else default_method(self.bundle),
                "face": face,
                "custom_dirs": [(str(c["name"]), _vector(c["vector"])) for c in
                                d.get("custom_dirs", []) or []]}

    def fitting_tuned(self, v: Any) -> Any:
        """Saved tuned weights (safetensors bytes as uint8), or None where absent or made for
        another model."""
        if v is None:
            return None
        from explorer.core.pivotal import TunedWeights, TunedWeightsError

        try:
            return TunedWeights.from_bytes(self.bundle.network("G"),
                                           np.asarray(v, np.uint8).tobytes())
        except TunedWeightsError:
            return None

    def fitting_condition(self, v: Any) -> np.ndarray | None:
        """A saved face's condition, or None (neutral) where it is absent or does not fit this
        model (another model's, or a model without one)."""
        if v is None or not self.cond_names:
            return None
        a = np.asarray(v, np.float32).reshape(-1)
        return a if len(a) == len(self.cond_names) and np.isfinite(a).all() else None

    def fitting_detail(self, v: Any) -> np.ndarray | None:
        """A saved photo detail, or None where it is absent or does not fit this model."""
        return self.bundle.fitting_detail(v)


def session_dict(scene: Scene, favourites: Sequence[Favourite],
                 photos: Sequence[Photo]) -> dict[str, Any]:
    """Everything a session file holds about the scene, favourites and photos (with their
    crops), as plain values and numpy arrays (`explorer.core.session` stores arrays compactly)."""
    d = scene.to_dict()
    d["favourites"] = [{"name": f.name, "z": f.z, "detail": f.detail,
                        "tuned": tuned_bytes(f.tuned), "y": f.y}
                       for f in favourites]
    d["photos"] = [{"name": p.name, "path": p.path, "z": p.z, "psnr": p.psnr, "y": p.y,
                    "top": [list(t) for t in p.top], "detail": p.detail,
                    "latent_detail": p.latent_detail,
                    "face": p.face, "recon": p.recon,
                    "tuned": tuned_bytes(p.tuned), "alignment": _alignment_dict(p.alignment)}
                   for p in photos]
    return d


def read_session(scene: Scene, d: dict[str, Any]
                 ) -> tuple[dict[str, Any], list[Favourite], list[Photo]]:
    """A session dict -> (the scene's undoable fields, favourites, photos). It is checked
    against the model first: SessionError lists what does not fit (`check_session`)."""
    from explorer.core.session import check_session

    check_session(d, int(scene.bundle.nz), scene.bundle.saved_detail_shapes)
    favourites = [Favourite(str(f.get("name", "★")), _vector(f["z"]),
                            scene.fitting_detail(f.get("detail")),
                            scene.fitting_tuned(f.get("tuned")),
                            scene.fitting_condition(f.get("y")))
                  for f in d.get("favourites", []) or []]
    photos = [Photo(str(p.get("name", "photo")), str(p.get("path", "")), _vector(p["z"]),
                    face=_image(p.get("face")), recon=_image(p.get("recon")),
                    psnr=float(p.get("psnr", float("nan"))),
                    top=[(str(a), float(b)) for a, b in p.get("top", []) or []],
                    detail=scene.fitting_detail(p.get("detail")),
                    tuned=scene.fitting_tuned(p.get("tuned")),
                    alignment=_alignment_of(p.get("alignment")),
                    y=scene.fitting_condition(p.get("y")),
                    latent_detail=scene.fitting_detail(p.get("latent_detail")))
              for p in d.get("photos", []) or []]
    return scene.from_dict(d), favourites, photos


def _image(v: Any) -> np.ndarray | None:
    """A saved (h, w, 3) uint8 crop or reconstruction, or None."""
    if v is None:
        return None
    a = np.asarray(v)
    return a if a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3 else None


def _tuned_key(t: Any) -> str | None:
    return None if t is None else t.key


def tuned_bytes(tuned: Any) -> np.ndarray | None:
    """Tuned weights as a session stores them: their safetensors bytes, as uint8 (base64 in
    the file; never pickle)."""
    return None if tuned is None else np.frombuffer(tuned.to_bytes(), np.uint8).copy()


def _alignment_dict(al: Any) -> dict[str, Any] | None:
    """How a photo's face was cut (explorer.core.align.Alignment) as plain session data."""
    if al is None:
        return None
    return {"matrix": np.asarray(al.matrix, np.float64).tolist(), "side": int(al.side),
            "photo_shape": list(al.photo_shape), "method": al.method, "finder": al.finder}


def _alignment_of(d: Any) -> Any:
    """The Alignment a session saved, or None where absent or malformed."""
    if not isinstance(d, dict):
        return None
    from explorer.core.align import Alignment

    try:
        m = np.asarray(d["matrix"], np.float64).reshape(2, 3)
        h, w = (int(v) for v in d["photo_shape"])
        return Alignment(m, int(d["side"]), (h, w), str(d.get("method", "eyes")),
                         None, str(d.get("finder", "")))
    except (KeyError, TypeError, ValueError):
        return None


def _vector(v: Any) -> np.ndarray | None:
    return None if v is None else np.asarray(v, np.float32).reshape(-1)


def same_value(a: Any, b: Any) -> bool:
    """Equality that understands numpy arrays, faces and nested lists/tuples."""
    if isinstance(a, EditedFace) or isinstance(b, EditedFace):
        return a is b or (isinstance(a, EditedFace) and a.same(b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and type(a) is type(b):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)

