"""The explorer's state: a thin QObject adapter over the Qt-free `Scene`, with signals and undo.

What is drawn, and how (which sliders drive y or z, which faces are drawn at ψ 1, the session
schema), lives in `explorer.core.scene`. This adapter adds what a window needs: signals the panels
subscribe to, and an undo stack. Panels read the state and call its setters; they never reach
into each other. Every edit that changes the faces goes through :class:`StateCommand` on
``undo_stack`` so Edit → Undo restores it; a drag of one slider merges into a single undo step
(``end_drag`` closes it).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from explorer.core.directions import Directions
from explorer.core.naming import face_name, favourite_name
from explorer.core.render import RenderRequest, RenderService
from explorer.core.scene import (
    EditedFace,
    Favourite,
    Photo,
    Scene,
    read_session,
    same_value,
    session_dict,
)
from explorer.ui.render_bridge import BackgroundRenderer

__all__ = ["EditedFace", "ExplorerState", "Favourite", "Photo", "StateCommand"]


UNDO_LIMIT = 200  # undo steps kept (a drag is one); older ones are dropped


class StateCommand(QUndoCommand):
    """Swap the fields one edit changed between their values before and after it.

    A command holds only the fields its edit changed, sharing their values with the scene (faces
    are frozen, arrays never written in place), so a long session's undo history stays small.
    Same ``merge_id`` commands merge: :meth:`ExplorerState._push` folds a drag's next value into
    the open command itself, so a drag of thousands of changes is one small command.
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
    """Everything the panels show: the scene (faces, sliders, locks, method), the walk preview,
    favourites and photos.

    Parameters
    ----------
    bundle
        The loaded model (:class:`explorer.core.bundle.Bundle`).
    service
        The window's render service: the panels' thumbnails and the video export draw in its
        background lane (`draw_later`, `draw_in_background`), never on the GUI thread and never
        with a G another thread uses. None (a state tested alone): they draw on the calling
        thread with the bundle's G.
    """

    renderChanged = Signal()  # the faces on the canvas need re-rendering
    alphasChanged = Signal()  # slider values (undo, reset, session, photo load)
    locksChanged = Signal()
    viewChanged = Signal()  # seed / psi / grid / the edited face
    directionsChanged = Signal()  # method or a new custom slider
    favouritesChanged = Signal()
    photosChanged = Signal()
    message = Signal(str)  # a line for the status bar
    changed = Signal()  # anything a session saves (see ``revision``)

    def __init__(self, bundle: Any, parent: QObject | None = None,
                 service: RenderService | None = None) -> None:
        super().__init__(parent)
        self.bundle = bundle
        self.scene = Scene(bundle)
        self.service = service
        self.background = None if service is None else BackgroundRenderer(service, self)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        self.preview: EditedFace | None = None  # interpolation playback (not undoable)
        self.favourites: list[Favourite] = []
        self.photos: list[Photo] = []
        self._merge_ids: dict[str, int] = {}  # merge key -> undo command id, this drag only
        self._last_merge_id = 0
        self.revision = 0  # counts changes to what a session saves (unsaved-work checks)
        self._parts: dict[str, tuple[Callable[[], dict[str, Any]],
                                     Callable[[dict[str, Any]], None]]] = {}

    # The scene's fields, read-only here (edits go through the undoable setters below).
    seed = property(lambda self: self.scene.seed)
    psi = property(lambda self: self.scene.psi)
    grid = property(lambda self: self.scene.grid)
    alphas = property(lambda self: self.scene.alphas)
    locks = property(lambda self: self.scene.locks)
    method = property(lambda self: self.scene.method)
    face = property(lambda self: self.scene.face)
    custom_dirs = property(lambda self: self.scene.custom_dirs)
    discovered = property(lambda self: self.scene.discovered)
    keep_detail = property(lambda self: self.scene.keep_detail)

    @property
    def custom_z(self) -> np.ndarray | None:
        """The latent of the face being edited (photo, favourite, scatter point), or None."""
        return None if self.scene.face is None else self.scene.face.z

    @property
    def custom_detail(self) -> np.ndarray | None:
        """The edited photo's detail, or None."""
        return None if self.scene.face is None else self.scene.face.detail

    @property
    def custom_tuned(self) -> Any:
        """The edited photo's pivotal-tuned weights, or None."""
        return None if self.scene.face is None else self.scene.face.tuned

    @property
    def custom_label(self) -> str:
        return "" if self.scene.face is None else self.scene.face.label

    @property
    def preview_z(self) -> np.ndarray | None:
        return None if self.preview is None else self.preview.z

    @property
    def preview_detail(self) -> np.ndarray | None:
        return None if self.preview is None else self.preview.detail

    # Derived values (the scene's rules).
    @property
    def cond_names(self) -> list[str]:
        return self.scene.cond_names

    @property
    def directions(self) -> Directions:
        return self.scene.directions

    @property
    def slider_names(self) -> list[str]:
        return self.scene.slider_names

    def base_latents(self) -> np.ndarray:
        """(grid², nz): consecutive seeds from ``seed``; the edited face, if any, is the first."""
        return self.scene.base_latents()

    def edit_alphas(self) -> dict[str, float]:
        return self.scene.edit_alphas()

    def edited_latents(self, base: np.ndarray | None = None) -> np.ndarray:
        """Apply the slider edits (with locks) to ``base`` (default: the canvas faces), (n, nz)."""
        return self.scene.edited_latents(base)

    def render_request(self, id: int = 0) -> RenderRequest:
        """What the canvas should show now (the walk's frame while one plays)."""
        return self.scene.canvas_request(id, self.preview)

    def render_inputs(self) -> tuple[np.ndarray, np.ndarray | None]:
        """What the canvas should show now: (z (n, nz), y or None)."""
        req = self.render_request()
        return req.z, req.y

    def render_detail(self, n: int) -> np.ndarray | None:
        """(n, *detail_shape) detail for the canvas faces, or None when there is none to show."""
        return self.render_request().detail

    def render_psi(self, n: int) -> np.ndarray:
        """(n,) truncation of the canvas faces (`Scene.face_psi`: 1 for a photo)."""
        return np.asarray(self.render_request().psi, np.float32)

    def set_keep_detail(self, keep: bool) -> None:
        self.scene.keep_detail = bool(keep)
        self.renderChanged.emit()
        self.mark_changed()

    # Drawing off the GUI thread.
    def draw_later(self, req: RenderRequest, on_done: Callable[[np.ndarray], None],
                   key: Hashable | None = None) -> None:
        """Draw `req` in the render service's background lane; `on_done(images)` runs on the
        GUI thread. A newer request under the same `key` supersedes this one."""
        if self.background is None:
            on_done(self.scene.draw(req))
        else:
            self.background.draw(req, on_done, key)

    def draw_in_background(self, req: RenderRequest) -> np.ndarray:
        """Draw `req` in the background lane and wait for it: for a pool thread's job (video
        export). Raises RuntimeError with the service's message when the draw fails."""
        if self.service is None:
            return self.scene.draw(req)
        res = self.service.render_background(req)
        if res.images is None:
            raise RuntimeError(res.error or "render failed")
        return res.images

    def background_idle(self) -> bool:
        """Every thumbnail asked for has arrived (tests wait on this)."""
        return self.background is None or self.background.idle()

    def current_face(self) -> EditedFace:
        """The first canvas face as drawn now (edits applied, the detail it is drawn with)."""
        return self.scene.current_face()

    def current_latent(self) -> np.ndarray:
        """The (edited) first face on the canvas, (nz,)."""
        return self.scene.current_face().z.copy()

    def current_name(self) -> str:
        """What the first canvas face is: "seed 7", "me.jpg", "★2 seed 3", plus its edits."""
        return face_name(self.seed, self.custom_label, self.edit_alphas())

    def current_tuned(self) -> Any:
        """The pivotal-tuned weights the first face is drawn with (a tuned photo's), or None."""
        return None if self.scene.face is None else self.scene.face.tuned

    def current_condition(self) -> np.ndarray | None:
        """The condition the first face is drawn with now (its own, moved by the y sliders) on
        a conditional model, else None."""
        return self.scene.current_face().y

    def current_detail(self) -> np.ndarray | None:
        """The detail the edited first face is drawn with (a photo's), or None."""
        return self.scene.drawn_detail(self.scene.face)

    # Undoable edits.
    def snapshot(self) -> dict[str, Any]:
        return self.scene.snapshot()

    def _push(self, text: str, merge_key: str | None = None, **changes: Any) -> None:
        """Push an undo step holding only `changes` (and their values before)."""
        snap = self.snapshot()
        before = {k: snap[k] for k in changes}
        if all(same_value(before[k], changes[k]) for k in changes):
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
                top.after = {**top.after, **changes}  # the drag goes on: the same undo step
                self._apply(top.after)
                return
        self.undo_stack.push(StateCommand(self, before, changes, text, mid))

    def _apply(self, snap: dict[str, Any]) -> None:
        changed = self.scene.restore(snap)
        if not changed:
            return
        if changed & {"method", "custom_dirs"}:
            self.directionsChanged.emit()
        if changed & {"alphas"}:
            self.alphasChanged.emit()
        if changed & {"locks"}:
            self.locksChanged.emit()
        if changed & {"seed", "psi", "grid", "face"}:
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
        self._push(f"Seed {seed}", seed=int(seed), face=None)

    def set_psi(self, psi: float) -> None:
        self._push(f"ψ {psi:.2f}", merge_key="psi", psi=float(psi))

    def set_grid(self, n: int) -> None:
        self._push(f"Grid {n}x{n}", grid=int(max(1, min(6, n))))

    def load_face(self, face: EditedFace, reset_sliders: bool = True) -> None:
        """Edit a given face (photo, favourite, scatter point): it becomes the first canvas face."""
        changes: dict[str, Any] = {"face": face}
        if reset_sliders:
            changes["alphas"] = {k: v for k, v in self.alphas.items() if k in self.locks}
        self._push(f"Load {face.label}", **changes)

    def load_latent(self, z: np.ndarray, label: str, reset_sliders: bool = True,
                    detail: np.ndarray | None = None, tuned: Any = None,
                    y: np.ndarray | None = None) -> None:
        """`load_face` of a latent; a photo brings its detail, or its tuned weights, along, and
        a face on a conditional model its condition `y`."""
        self.load_face(EditedFace(z, detail, label, tuned=tuned, y=y), reset_sliders)

    def add_custom_direction(self, name: str, vector: np.ndarray) -> None:
        dirs = [(n, v) for n, v in self.custom_dirs if n != name]
        dirs.append((name, np.asarray(vector, np.float32).reshape(-1)))
        self._push(f"New slider {name}", custom_dirs=dirs)

    # Not undoable.
    def set_discovered(self, items: list[tuple[str, np.ndarray, float]]) -> None:
        """Show these discovered directions (SeFa, GANSpace) as sliders, replacing the last."""
        self.scene.discovered = [(n, np.asarray(v, np.float32).reshape(-1), float(s))
                                 for n, v, s in items]
        self.directionsChanged.emit()
        self.renderChanged.emit()

    def promote_discovered(self, name: str, new_name: str) -> None:
        """Keep a discovered direction as a custom slider named ``new_name`` (saved, undoable);
        its current slider value comes along."""
        found = [v for n, v, _ in self.scene.discovered if n == name]
        if not found:
            return
        alpha = self.alphas.get(name, 0.0)
        self.scene.discovered = [t for t in self.scene.discovered if t[0] != name]
        self.add_custom_direction(new_name, found[0])
        if alpha:
            self.set_alpha(new_name, alpha)
            self.end_drag()

    def set_preview(self, z: np.ndarray | None, detail: np.ndarray | None = None,
                    y: np.ndarray | None = None) -> None:
        """Show z (and a walk's detail and condition for this frame) in place of the first
        face; None ends it."""
        self.preview = None if z is None else EditedFace(z, detail, "preview", y=y)
        self.renderChanged.emit()

    def add_favourite(self, z: np.ndarray | None = None, name: str | None = None,
                      detail: np.ndarray | None = None,
                      y: np.ndarray | None = None) -> Favourite:
        """Star a face; with no z, the current first face as drawn (a photo keeps its detail,
        a face on a conditional model its condition with the y sliders' moves)."""
        tuned = None
        if z is None:
            face = self.current_face()
            z, detail, tuned, y = face.z, face.detail, face.tuned, face.y
            name = name or favourite_name(len(self.favourites) + 1, self.seed, self.custom_label,
                                          self.edit_alphas())
        fav = Favourite(name or f"★{len(self.favourites) + 1}",
                        np.asarray(z, np.float32).reshape(-1),
                        self.scene.fitting_detail(detail), tuned,
                        self.scene.fitting_condition(y))
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
        self.photos.append(photo)
        self.photosChanged.emit()
        self.mark_changed()

    def replace_photo(self, old: Photo, new: Photo) -> None:
        """Put `new` where `old` is in the photo list (a refined encoding); appended if gone."""
        at = next((i for i, p in enumerate(self.photos) if p is old), None)
        if at is None:
            self.photos.append(new)
        else:
            self.photos[at] = new
        self.photosChanged.emit()
        self.mark_changed()

    def replace_face(self, old: EditedFace, new: EditedFace) -> bool:
        """Swap the face `old` for `new` on the canvas and in the undo history, with no undo step
        of its own: a photo's refined encoding taking the place of its first, fast one, so the
        slider edits made meanwhile (and undoing them) keep working. False if nothing held it."""
        found = False
        stack = self.undo_stack
        for i in range(stack.count()):
            cmd = stack.command(i)
            if isinstance(cmd, StateCommand):
                for d in (cmd.before, cmd.after):
                    if d.get("face") is old:
                        d["face"] = new
                        found = True
        if self.scene.face is old:
            self.scene.face = new
            self.viewChanged.emit()
            self.renderChanged.emit()
            self.mark_changed()
            found = True
        return found

    # Sessions (the schema is the scene's; explorer.core.session writes the file).
    def register_session_part(self, key: str, save: Callable[[], dict[str, Any]],
                              restore: Callable[[dict[str, Any]], None]) -> None:
        """A panel's own part of a session (interpolation keyframes, analogy slots): ``save()``
        gives plain data and arrays; ``restore(data)`` puts it back ({} for an old session)."""
        self._parts[key] = (save, restore)

    def mark_changed(self) -> None:
        """Something a session saves changed (the window asks before losing it)."""
        self.revision += 1
        try:
            self.changed.emit()
        except RuntimeError:  # a panel's list emptied while its window is being destroyed
            pass

    def to_session(self) -> dict[str, Any]:
        """Everything the user built: the scene, favourites, photos and the panels' parts."""
        d = session_dict(self.scene, self.favourites, self.photos)
        for key, (save, _) in self._parts.items():
            d[key] = save()
        return d

    def from_session(self, d: dict[str, Any]) -> None:
        """Restore a session: checked against the model first (SessionError says what does not
        fit, and nothing changes); one undo step for the edits, collections replaced."""
        fields, favourites, photos = read_session(self.scene, d)
        self.favourites, self.photos = favourites, photos
        self.scene.keep_detail = bool(d.get("keep_detail", True))
        self._push("Open session", **fields)
        self.favouritesChanged.emit()
        self.photosChanged.emit()
        for key, (_, restore) in self._parts.items():
            part = d.get(key)
            restore(part if isinstance(part, dict) else {})
