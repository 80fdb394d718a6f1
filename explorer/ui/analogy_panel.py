"""Analogy: A − B + C from three face slots, the result and a strip of strengths.

A photo keeps its detail in its slot, and in C it rides along to the result (the analogy moves C's
latent as a slider would), so "A − B + my photo" still looks like the photo. On a conditional
model the faces' own conditions take part in the arithmetic (`analogy.analogy_condition`)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.core.analogy import analogy, analogy_condition, analogy_strip
from explorer.core.render import RenderRequest
from explorer.ui.images import (
    condition_from_mime,
    detail_from_mime,
    latent_from_mime,
    tile,
    to_pixmap,
)
from explorer.ui.state import ExplorerState

STRENGTHS = (0.0, 0.5, 1.0, 1.5, 2.0)
SLOT = 90  # three slots side by side fit a 300 px dock (a 1024 px laptop)


class FaceSlot(QLabel):
    """A drop target holding one face (latent, a photo's detail, a face's condition); shows
    it."""

    changed = Signal()

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.z: np.ndarray | None = None
        self.detail: np.ndarray | None = None
        self.y: np.ndarray | None = None
        self.detail_shape: tuple[int, ...] = ()
        self.n_cond = 0
        self.setAcceptDrops(True)
        self.setFixedSize(SLOT, SLOT)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: #181818; color: #aaa; border: 1px dashed #666;")
        self.setText(f"{name}\ndrop a face")
        self.setToolTip(f"Slot {name}: drop a face from the canvas, favourites or photos")

    def set_face(self, z: np.ndarray, detail: np.ndarray | None = None,
                 y: np.ndarray | None = None) -> None:
        """Hold a face; its picture follows (`set_image`) once drawn in the background."""
        self.z = np.asarray(z, np.float32).reshape(-1)
        self.detail = None if detail is None else np.asarray(detail, np.float32)
        self.y = None if y is None else np.asarray(y, np.float32).reshape(-1)
        self.changed.emit()

    def set_image(self, image: np.ndarray) -> None:
        self.setPixmap(to_pixmap(image).scaled(SLOT, SLOT, Qt.AspectRatioMode.KeepAspectRatio,
                                               Qt.TransformationMode.SmoothTransformation))

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if latent_from_mime(e.mimeData()) is not None:
            e.acceptProposedAction()

    def dropEvent(self, e: QDropEvent) -> None:  # noqa: N802
        z = latent_from_mime(e.mimeData())
        if z is not None:
            self.drop_latent(z, detail_from_mime(e.mimeData(), self.detail_shape),
                             condition_from_mime(e.mimeData(), self.n_cond))
            e.acceptProposedAction()

    def drop_latent(self, z: np.ndarray, detail: np.ndarray | None = None,
                    y: np.ndarray | None = None) -> None:
        """Overridden by the panel to render the face (kept here so tests can call it)."""


class AnalogyPanel(QWidget):
    """Slots A, B, C; result C + s·(A − B) and a strip over strengths.

    Parameters
    ----------
    state
        The shared state (the slots, the result and the strip are drawn in its render
        service's background lane).
    """

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.slots = {n: FaceSlot(n, self) for n in "ABC"}
        grid = QGridLayout()
        hints = {"A": "A (has it)", "B": "B (has not)", "C": "C (apply to)"}
        for i, (n, slot) in enumerate(self.slots.items()):
            slot.detail_shape = tuple(state.bundle.detail_shape)
            slot.n_cond = state.bundle.n_cond
            slot.drop_latent = lambda z, d=None, y=None, s=slot: self.set_slot(s.name, z, d, y)
            btn = QPushButton("Use current")
            btn.setToolTip(f"Put the current face in slot {n}")
            btn.clicked.connect(lambda _=False, n=n: self.set_slot(
                n, state.current_latent(), state.current_detail(), state.current_condition()))
            grid.addWidget(QLabel(hints[n]), 0, i)
            grid.addWidget(slot, 1, i)
            grid.addWidget(btn, 2, i)
            slot.changed.connect(self.update_result)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(-3.0, 3.0)
        self.strength.setSingleStep(0.25)
        self.strength.setValue(1.0)
        self.strength.setToolTip("How much of A − B to add to C")
        self.result = QLabel()
        self.result.setFixedSize(2 * SLOT, 2 * SLOT)
        self.result.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.result.setStyleSheet("background: #181818; color: #aaa;")
        self.result.setText("A − B + C")
        self.result.setToolTip("The analogy's result")
        self.strip = QLabel()
        self.strip.setMinimumHeight(70)
        self.strip.setToolTip("The result at strengths " + ", ".join(map(str, STRENGTHS)))
        self.use = QPushButton("Edit the result")
        self.use.setToolTip("Load the result into the canvas to edit it")
        self.use.setEnabled(False)
        self.result_z: np.ndarray | None = None
        self.result_detail: np.ndarray | None = None  # C's, when C is a photo
        self.result_y: np.ndarray | None = None  # a conditional model's, by the same arithmetic
        self.result_image: np.ndarray | None = None
        self.strip_images: np.ndarray | None = None

        srow = QHBoxLayout()
        srow.addWidget(QLabel("Strength"))
        srow.addWidget(self.strength)
        srow.addWidget(self.use)
        srow.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(grid)
        lay.addLayout(srow)
        lay.addWidget(self.result, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(QLabel("Strengths " + " · ".join(f"{s:g}" for s in STRENGTHS)))
        lay.addWidget(self.strip)
        lay.addStretch(1)
        self.strength.valueChanged.connect(self.update_result)
        # The slots and the strength are part of the session, and unsaved work when they change.
        state.register_session_part("analogy", self.session_data, self.restore_session)
        self.strength.valueChanged.connect(lambda *_: state.mark_changed())
        for slot in self.slots.values():
            slot.changed.connect(state.mark_changed)
        self.use.clicked.connect(lambda: self.result_z is not None and state.load_latent(
            self.result_z, "analogy result", detail=self.result_detail, y=self.result_y))

    # Sessions.
    def session_data(self) -> dict:
        return {"slots": {n: {"z": s.z, "detail": s.detail, "y": s.y}
                          for n, s in self.slots.items() if s.z is not None},
                "strength": self.strength.value()}

    def restore_session(self, d: dict) -> None:
        """Put saved slots and strength back ({}: an older session without them)."""
        for n, slot in self.slots.items():
            slot.z = slot.detail = slot.y = None
            slot.clear()
            slot.setText(f"{n}\ndrop a face")
        self.result_z = self.result_detail = self.result_image = self.strip_images = None
        self.result_y = None
        self.result.clear()
        self.result.setText("A − B + C")
        self.strip.clear()
        self.use.setEnabled(False)
        strength = d.get("strength")
        if isinstance(strength, (int, float)) and not isinstance(strength, bool):
            self.strength.blockSignals(True)
            self.strength.setValue(float(strength))
            self.strength.blockSignals(False)
        slots = d.get("slots") or {}
        for n in "ABC":
            s = slots.get(n) if isinstance(slots, dict) else None
            if isinstance(s, dict) and s.get("z") is not None:
                self.set_slot(n, np.asarray(s["z"], np.float32).reshape(-1),
                              self.state.scene.fitting_detail(s.get("detail")), s.get("y"))

    def _request(self, z: np.ndarray, detail: np.ndarray | None = None,
                 y: list[np.ndarray | None] | None = None) -> RenderRequest:
        """Faces at the window's ψ; with a photo's detail (one for all), as the photo is drawn,
        and each face's own condition `y` (None: neutral)."""
        z = np.atleast_2d(np.asarray(z, np.float32))
        return self.state.scene.request(z, [detail] * len(z), edit=False, y=y)

    def set_slot(self, name: str, z: np.ndarray, detail: np.ndarray | None = None,
                 y: np.ndarray | None = None) -> None:
        slot = self.slots[name]
        slot.set_face(z, detail, self.state.scene.fitting_condition(y))
        held = slot.z

        def arrived(imgs: np.ndarray) -> None:
            if slot.z is held:  # not emptied or refilled meanwhile
                slot.set_image(imgs[0])

        self.state.draw_later(self._request(held, detail, [slot.y]), arrived,
                              key=f"slot {name}")

    def update_result(self) -> None:
        a, b, c = (self.slots[n].z for n in "ABC")
        if a is None or b is None or c is None:
            return
        center = self.state.bundle.latent_center
        self.result_z = analogy(a, b, c, self.strength.value(), center=center).astype(np.float32)
        self.result_detail = self.slots["C"].detail
        ya, yb, yc = (self.slots[n].y for n in "ABC")
        self.result_y = analogy_condition(ya, yb, yc, self.strength.value())
        strip_z = analogy_strip(a, b, c, STRENGTHS, center)
        strip_y = [analogy_condition(ya, yb, yc, s) for s in STRENGTHS]
        self.use.setEnabled(True)
        rz = self.result_z
        self.state.draw_later(self._request(np.vstack([rz[None], strip_z]), self.result_detail,
                                            [self.result_y, *strip_y]),
                              lambda imgs: self._show_result(rz, imgs), key="analogy result")

    def _show_result(self, result_z: np.ndarray, imgs: np.ndarray) -> None:
        """The result and the strip, drawn in the background, unless a newer result came."""
        if self.result_z is not result_z:
            return
        self.result_image, self.strip_images = imgs[0], imgs[1:]
        self.result.setPixmap(to_pixmap(imgs[0]).scaled(
            2 * SLOT, 2 * SLOT, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))
        strip = tile(self.strip_images, cols=len(STRENGTHS))
        w = max(self.strip.width(), 300)
        self.strip.setPixmap(to_pixmap(strip).scaledToWidth(
            w, Qt.TransformationMode.SmoothTransformation))
