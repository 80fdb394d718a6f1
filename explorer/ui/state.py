"""The explorer's state: one QObject with signals, edited through an undo stack.

Panels read the state and call its setters; they never reach into each other. Every edit that
changes the faces goes through :class:`StateCommand` on ``undo_stack`` so Edit → Undo restores
it; a drag of one slider merges into a single undo step (``end_drag`` closes it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from explorer.core.bundle import DEFAULT_PSI
from explorer.core.directions import Directions, available_methods, default_method, get_directions
from explorer.core.edits import apply_edits, condition_vector
from explorer.core.latents import seed_latents

# Fields captured by undo snapshots (favourites and photos are collections, not edits).
_UNDOABLE = ("seed", "psi", "grid", "alphas", "locks", "method", "custom_z", "custom_detail",
             "custom_label", "custom_dirs")
UNDO_LIMIT = 200  # undo steps kept (a drag is one); older ones are dropped


@dataclass
class Favourite:
    name: str
    z: np.ndarray  # (nz,) float32
    detail: np.ndarray | None = None  # a starred photo's detail, as it was drawn


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


class StateCommand(QUndoCommand):
    """Swap the fields one edit changed between their values before and after it.

    A command holds only the fields its edit changed, and shares their values with the state
    (arrays are read-only, never copied per change), so a long session's undo history stays
    small. Same ``merge_id`` commands merge: :meth:`ExplorerState._push` folds a drag's next value
    into the open command itself, so a drag of thousands of changes is one small command.
    """

    def __init__(self, state: ExplorerState, before: dict[str, Any], after: dict[str, Any],
                 text: str, merge_id: int = -1) -> None:
        super().__init__(text)
        self.state, self.before, self.after, self._merge_id = state, before, after, merge_id

    def id(self) -> int:  # Qt API; -1 = never merge
        return self._merge_id

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 (Qt API)
        if not isinstance(other, StateCommand) or other.id() != self._merge_id:
            return False
        self.after = {**self.after, **other.after}
        self.before = {**{k: v for k, v in other.before.items() if k not in self.before},
                       **self.before}
        # PySide keeps the Python side of a merged command alive after Qt deletes it: empty it.
        other.before, other.after = {}, {}
        return True

    def redo(self) -> None:
        self.state._apply(self.after)

    def undo(self) -> None:
        self.state._apply(self.before)


class ExplorerState(QObject):
    """Everything the panels show: base faces, slider values, locks, method, favourites, photos.

    Parameters
    ----------
    bundle
        The loaded model (:class:`explorer.core.bundle.Bundle`).
    """

    renderChanged = Signal()  # the faces on the canvas need re-rendering
    alphasChanged = Signal()  # slider values (undo, reset, session, photo load)
    locksChanged = Signal()
    viewChanged = Signal()  # seed / psi / grid / custom latent
    directionsChanged = Signal()  # method or a new custom slider
    favouritesChanged = Signal()
    photosChanged = Signal()
    message = Signal(str)  # a line for the status bar
    changed = Signal()  # anything a session saves (see ``revision``)

    def __init__(self, bundle: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bundle = bundle
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        self.seed = 0
        self.psi = DEFAULT_PSI
        self.grid = 1
        self.alphas: dict[str, float] = {}
        self.locks: set[str] = set()
        self.method = default_method(bundle)
        self.custom_z: np.ndarray | None = None  # a photo / favourite / scatter point being edited
        self.custom_detail: np.ndarray | None = None  # the edited photo's detail, if any
        self.keep_detail = True  # render a photo with its detail (closer likeness, milder edits)
        self.custom_label = ""
        self.custom_dirs: list[tuple[str, np.ndarray]] = []
        self.preview_z: np.ndarray | None = None  # interpolation playback (not undoable)
        self.preview_detail: np.ndarray | None = None  # its frame's photo detail, if any
        self.favourites: list[Favourite] = []
        self.photos: list[Photo] = []
        self._base_key: tuple[Any, ...] | None = None
        self._base: np.ndarray | None = None
        self._dirs_key: tuple[Any, ...] | None = None
        self._dirs: Directions | None = None
        self._merge_ids: dict[str, int] = {}  # merge key -> undo command id, this drag only
        self._last_merge_id = 0
        self.revision = 0  # counts changes to what a session saves (unsaved-work checks)
        self._parts: dict[str, tuple[Callable[[], dict[str, Any]],
                                     Callable[[dict[str, Any]], None]]] = {}

    # Derived values.
    @property
    def cond_names(self) -> list[str]:
        return list(getattr(self.bundle, "cond_attributes", []) or [])

    @property
    def directions(self) -> Directions:
        key = (self.method, tuple(n for n, _ in self.custom_dirs))
        if self._dirs_key != key:
            d = get_directions(self.bundle, self.method)
            for name, vec in self.custom_dirs:
                d = d.with_custom(name, vec)
            self._dirs, self._dirs_key = d, key
        assert self._dirs is not None
        return self._dirs

    @property
    def slider_names(self) -> list[str]:
        names = list(self.directions.names)
        return names + [c for c in self.cond_names if c not in names]

    def base_latents(self) -> np.ndarray:
        """(grid², nz): consecutive seeds from ``seed``; the custom latent, if any, is the first."""
        key = (self.seed, self.grid)
        if self._base_key != key:
            seeds = range(self.seed, self.seed + self.grid * self.grid)
            self._base = seed_latents(list(seeds), self.bundle.nz)
            self._base_key = key
        assert self._base is not None
        base = self._base.copy()
        if self.custom_z is not None:
            base[0] = self.custom_z
        return base

    def edit_alphas(self) -> dict[str, float]:
        cond = set(self.cond_names)
        names = set(self.directions.names)
        return {k: v for k, v in self.alphas.items() if v != 0 and k not in cond and k in names}

    def edited_latents(self, base: np.ndarray | None = None) -> np.ndarray:
        """Apply the slider edits (with locks) to ``base`` (default: the canvas faces), (n, nz)."""
        base = self.base_latents() if base is None else np.atleast_2d(base).astype(np.float32)
        alphas = self.edit_alphas()
        if not alphas:
            return base
        locks = [n for n in self.locks if n in self.directions.names and n not in self.cond_names]
        return np.asarray(apply_edits(base, self.directions, alphas, locks), np.float32)

    def cond_vector(self, n: int) -> np.ndarray | None:
        """(n, n_cond) y for a conditional model: the cond sliders drive y; else None."""
        if not self.cond_names:
            return None
        y = condition_vector(self.cond_names, self.alphas)
        return np.tile(np.asarray(y, np.float32), (n, 1))

    def render_inputs(self) -> tuple[np.ndarray, np.ndarray | None]:
        """What the canvas should show now: (z (n, nz), y or None)."""
        z = self.preview_z[None] if self.preview_z is not None else self.edited_latents()
        return z, self.cond_vector(len(z))

    def render_detail(self, n: int) -> np.ndarray | None:
        """(n, *detail_shape) detail for the canvas faces: the photo's on the first face (zeros
        elsewhere), or None when there is none to show."""
        first = self.preview_detail if self.preview_z is not None else self.current_detail()
        return self.bundle.stack_details([first] + [None] * (n - 1))

    def render_psi(self, n: int) -> np.ndarray:
        """(n,) truncation of the canvas faces: the window's ψ, but 1 for a photo being edited,
        with or without its detail (a photo is drawn as encoded, never pulled to the average)."""
        psi = np.full(n, self.psi, np.float32)
        if self.preview_z is None and self.custom_detail is not None:
            psi[0] = 1.0
        if self.preview_z is not None and self.preview_detail is not None:
            psi[0] = 1.0  # a walk through a photo is drawn at 1 all along, as the photo is
        return psi

    def set_keep_detail(self, keep: bool) -> None:
        self.keep_detail = bool(keep)
        self.renderChanged.emit()
        self.mark_changed()

    def current_latent(self) -> np.ndarray:
        """The (edited) first face on the canvas, (nz,)."""
        return self.edited_latents()[0].copy()

    def current_detail(self) -> np.ndarray | None:
        """The detail the edited first face is drawn with (a photo's), or None."""
        if self.custom_detail is None or not self.keep_detail:
            return None
        return self.custom_detail.copy()

    # Undoable edits.
    def snapshot(self) -> dict[str, Any]:
        """The undoable fields as they are now (values shared: arrays are read-only)."""
        return {k: getattr(self, k) for k in _UNDOABLE}

    def _push(self, text: str, merge_key: str | None = None, **changes: Any) -> None:
        changes = {k: _frozen(v) for k, v in changes.items()}
        before = {k: getattr(self, k) for k in changes}
        if all(_same(before[k], changes[k]) for k in changes):
            return
        mid = -1
        if merge_key is not None:
            if merge_key not in self._merge_ids:
                self._last_merge_id += 1
                self._merge_ids[merge_key] = self._last_merge_id
            mid = self._merge_ids[merge_key]
            stack = self.undo_stack
            top = stack.command(stack.count() - 1) if stack.count() else None
            if (isinstance(top, StateCommand) and top.id() == mid
                    and stack.index() == stack.count() and set(changes) <= set(top.after)):
                top.after = {**top.after, **changes}  # the drag goes on: same undo step
                self._apply(top.after)
                return
        self.undo_stack.push(StateCommand(self, before, changes, text, mid))

    def _apply(self, snap: dict[str, Any]) -> None:
        changed = {k for k in snap if k in _UNDOABLE and not _same(getattr(self, k), snap[k])}
        for k in changed:
            setattr(self, k, _frozen(snap[k]))
        if not changed:
            return
        if changed & {"method", "custom_dirs"}:
            self.directionsChanged.emit()
        if changed & {"alphas"}:
            self.alphasChanged.emit()
        if changed & {"locks"}:
            self.locksChanged.emit()
        if changed & {"seed", "psi", "grid", "custom_z", "custom_detail", "custom_label"}:
            self.viewChanged.emit()
        self.renderChanged.emit()
        self.mark_changed()

    def end_drag(self) -> None:
        """Close the current slider drag so the next one is a separate undo step."""
        self._merge_ids.clear()

    def set_alpha(self, name: str, value: float) -> None:
        if name in self.locks:
            return  # a locked attribute stays put
        alphas = dict(self.alphas)
        alphas[name] = float(value)
        self._push(f"Move {name}", merge_key=f"alpha:{name}", alphas=alphas)

    def reset_alphas(self, names: list[str] | None = None) -> None:
        alphas = {k: (0.0 if (names is None or k in names) and k not in self.locks else v)
                  for k, v in self.alphas.items()}
        self._push("Reset sliders", alphas=alphas)

    def set_locked(self, name: str, locked: bool) -> None:
        locks = set(self.locks)
        (locks.add if locked else locks.discard)(name)
        self._push(("Lock " if locked else "Unlock ") + name, locks=locks)

    def set_method(self, method: str) -> None:
        self._push(f"Direction method {method}", method=method)

    def set_seed(self, seed: int) -> None:
        self._push(f"Seed {seed}", seed=int(seed), custom_z=None, custom_detail=None,
                   custom_label="")

    def set_psi(self, psi: float) -> None:
        self._push(f"ψ {psi:.2f}", merge_key="psi", psi=float(psi))

    def set_grid(self, n: int) -> None:
        self._push(f"Grid {n}x{n}", grid=int(max(1, min(6, n))))

    def load_latent(self, z: np.ndarray, label: str, reset_sliders: bool = True,
                    detail: np.ndarray | None = None) -> None:
        """Edit a given face (photo, favourite, scatter point): it becomes the first canvas face.
        A photo brings its detail along."""
        changes: dict[str, Any] = {"custom_z": np.asarray(z, np.float32).reshape(-1),
                                   "custom_detail": None if detail is None else
                                   np.asarray(detail, np.float32),
                                   "custom_label": label}
        if reset_sliders:
            changes["alphas"] = {k: v for k, v in self.alphas.items() if k in self.locks}
        self._push(f"Load {label}", **changes)

    def add_custom_direction(self, name: str, vector: np.ndarray) -> None:
        dirs = [(n, v) for n, v in self.custom_dirs if n != name]
        dirs.append((name, np.asarray(vector, np.float32).reshape(-1)))
        self._push(f"New slider {name}", custom_dirs=dirs)

    # Not undoable.
    def set_preview(self, z: np.ndarray | None, detail: np.ndarray | None = None) -> None:
        """Show z (and a walk's detail for this frame) in place of the first face; None ends it."""
        self.preview_z = None if z is None else np.asarray(z, np.float32).reshape(-1)
        self.preview_detail = None if z is None or detail is None else np.asarray(detail,
                                                                                  np.float32)
        self.renderChanged.emit()

    def add_favourite(self, z: np.ndarray | None = None, name: str | None = None,
                      detail: np.ndarray | None = None) -> Favourite:
        """Star a face; with no z, the current first face as drawn (a photo keeps its detail)."""
        if z is None:
            z, detail = self.current_latent(), self.current_detail()
        fav = Favourite(name or f"★ {len(self.favourites) + 1}",
                        np.asarray(z, np.float32).reshape(-1), self._detail(detail))
        self.favourites.append(fav)
        self.favouritesChanged.emit()
        self.mark_changed()
        self.message.emit(f"Starred {fav.name}")
        return fav

    def remove_favourite(self, index: int) -> None:
        if 0 <= index < len(self.favourites):
            del self.favourites[index]
            self.favouritesChanged.emit()
            self.mark_changed()

    def add_photo(self, photo: Photo) -> None:
        photo.z, photo.detail = _frozen(photo.z), _frozen(photo.detail)  # shared when loaded
        self.photos.append(photo)
        self.photosChanged.emit()
        self.mark_changed()

    # Sessions (plain data and numpy arrays; explorer.core.session writes the file).
    def register_session_part(self, key: str, save: Callable[[], dict[str, Any]],
                              restore: Callable[[dict[str, Any]], None]) -> None:
        """A panel's own part of a session (interpolation keyframes, analogy slots): ``save()``
        gives plain data and arrays; ``restore(data)`` puts it back ({} for an old session)."""
        self._parts[key] = (save, restore)

    def mark_changed(self) -> None:
        """Something a session saves changed (the window asks before losing it)."""
        self.revision += 1
        self.changed.emit()

    def to_session(self) -> dict[str, Any]:
        """Everything the user built, as plain values and numpy arrays."""
        d: dict[str, Any] = {
            "model_path": str(getattr(self.bundle, "path", "")),
            "seed": self.seed, "psi": self.psi, "grid": self.grid,
            "alphas": dict(self.alphas), "locks": sorted(self.locks), "method": self.method,
            "custom_z": self.custom_z, "custom_detail": self.custom_detail,
            "custom_label": self.custom_label, "keep_detail": self.keep_detail,
            "custom_dirs": [{"name": n, "vector": v} for n, v in self.custom_dirs],
            "favourites": [{"name": f.name, "z": f.z, "detail": f.detail}
                           for f in self.favourites],
            "photos": [{"name": p.name, "path": p.path, "z": p.z, "psnr": p.psnr,
                        "top": [list(t) for t in p.top], "detail": p.detail,
                        "face": p.face, "recon": p.recon}
                       for p in self.photos],
        }
        for key, (save, _) in self._parts.items():
            d[key] = save()
        return d

    def _detail(self, v: Any) -> np.ndarray | None:
        """A saved photo detail, or None where it is absent or does not fit this model."""
        if v is None:
            return None
        a = np.asarray(v, np.float32)
        return _frozen(a) if a.shape == tuple(self.bundle.detail_shape) else None

    def _image(self, v: Any) -> np.ndarray | None:
        """A saved (res, res, 3) uint8 thumbnail, or None."""
        if v is None:
            return None
        a = np.asarray(v)
        ok = a.dtype == np.uint8 and a.ndim == 3 and a.shape[2] == 3
        return a if ok else None

    def from_session(self, d: dict[str, Any]) -> None:
        """Restore a session: checked against the model first (SessionError says what does not
        fit, and nothing changes); one undo step for the edits, collections replaced."""
        from explorer.core.session import check_session

        check_session(d, int(self.bundle.nz), tuple(self.bundle.detail_shape))
        arr = lambda v: None if v is None else np.asarray(v, np.float32).reshape(-1)  # noqa: E731
        self.favourites = [Favourite(str(f.get("name", "★")), _frozen(arr(f["z"])),
                                     self._detail(f.get("detail")))
                           for f in d.get("favourites", []) or []]
        self.photos = [Photo(str(p.get("name", "photo")), str(p.get("path", "")),
                             _frozen(arr(p["z"])), face=self._image(p.get("face")),
                             recon=self._image(p.get("recon")),
                             psnr=float(p.get("psnr", float("nan"))),
                             top=[(str(a), float(b)) for a, b in p.get("top", [])],
                             detail=self._detail(p.get("detail")))
                       for p in d.get("photos", []) or []]
        method = d.get("method", default_method(self.bundle))
        self.keep_detail = bool(d.get("keep_detail", True))
        self._push("Open session", seed=int(d.get("seed", 0)), psi=float(d.get("psi", DEFAULT_PSI)),
                   grid=int(d.get("grid", 1)),
                   alphas={str(k): float(v) for k, v in (d.get("alphas") or {}).items()},
                   locks=set(d.get("locks", []) or []),
                   method=method if method in available_methods(self.bundle)
                   else default_method(self.bundle),
                   custom_z=arr(d.get("custom_z")),
                   custom_detail=self._detail(d.get("custom_detail")),
                   custom_label=str(d.get("custom_label", "")),
                   custom_dirs=[(str(c["name"]), arr(c["vector"]))
                                for c in d.get("custom_dirs", []) or []])
        self.favouritesChanged.emit()
        self.photosChanged.emit()
        for key, (_, restore) in self._parts.items():
            part = d.get(key)
            restore(part if isinstance(part, dict) else {})


def _frozen(v: Any) -> Any:
    """A value the state and its undo history can share: arrays read-only (copied only when the
    caller could still write to them), containers copied shallowly."""
    if isinstance(v, np.ndarray):
        if v.flags.writeable or v.base is not None:
            v = np.array(v, copy=True)
            v.setflags(write=False)
        return v
    if isinstance(v, dict):
        return dict(v)
    if isinstance(v, set):
        return set(v)
    if isinstance(v, list):
        return [tuple(_frozen(x) for x in t) if isinstance(t, tuple) else _frozen(t) for t in v]
    return v


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
                and a.shape == b.shape and bool(np.array_equal(a, b)))
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def session_path_ok(path: str | Path) -> bool:
    return Path(path).suffix.lower() in (".json", ".fxs", ".session")
