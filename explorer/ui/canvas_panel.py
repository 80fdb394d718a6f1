"""The face canvas: one large face or a grid of faces, with seed, random, ψ and grid controls."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QMimeData, QPoint, QPointF, QRect, Qt, Signal
from PySide6.QtGui import QColor, QDrag, QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.core.render import RenderResult, RenderService
from explorer.ui.images import latent_mime, tile, to_qimage
from explorer.ui.render_bridge import LiveRenderer
from explorer.ui.state import ExplorerState

PREVIEW_SHARE = 0.25  # of a grid's faces redrawn per frame while a slider is dragged
SEED_TIP = "Seed: names a face (the grid shows consecutive seeds)"


class FaceCanvas(QWidget):
    """Paints the newest frame scaled to fit; emits ``painted(frame_id)`` after each paint.

    The frame is resampled once, smoothly, straight to the device pixels it covers (twice as many
    per side on a device pixel ratio 2 screen) and drawn 1:1, so a high-DPI screen gets a sharp
    face rather than one scaled to logical pixels and then magnified again.
    A left-drag starts a drag of the first face's latent (drop it on an analogy slot).
    """

    painted = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(128, 128)  # shrinks on a laptop; the docks keep their room
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._qimage: QImage | None = None
        self._scaled: tuple[tuple[int, int, float], QImage] | None = None  # (w, h, dpr), image
        self.image: np.ndarray | None = None  # the frame as uint8 (h, w, 3)
        self.frame_id = -1
        self.painted_id = -1
        # The face a drag carries: (latent, photo detail or None).
        # -> (z, detail or None, condition or None) of the face a drag carries
        self.drag_face: Callable[[], tuple[np.ndarray, np.ndarray | None, np.ndarray | None]] \
            | None = None
        self._press: QPoint | None = None
        self.setToolTip("The faces being edited. Drag onto an analogy slot to use this face.")

    def set_frame(self, img: np.ndarray, frame_id: int) -> None:
        self.image = img
        self._qimage = to_qimage(img)  # built on the GUI thread only
        self._scaled = None
        self.frame_id = frame_id
        self.update()

    def qimage(self) -> QImage | None:
        """The frame on screen as a QImage (the start-up cache keeps it), or None."""
        return self._qimage

    def target_rect(self) -> QRect:
        if self._qimage is None:
            return QRect()
        w, h = self._qimage.width(), self._qimage.height()
        s = min(self.width() / w, self.height() / h)
        tw, th = int(w * s), int(h * s)
        return QRect((self.width() - tw) // 2, (self.height() - th) // 2, tw, th)

    def device_image(self, w: int, h: int, dpr: float) -> QImage:
        """The frame smoothly scaled to w x h logical = (w, h) * dpr device pixels, tagged with
        that ratio (cached until the frame, the size or the ratio changes)."""
        assert self._qimage is not None
        key = (w, h, dpr)
        if self._scaled is None or self._scaled[0] != key:
            img = self._qimage.scaled(max(1, round(w * dpr)), max(1, round(h * dpr)),
                                      Qt.AspectRatioMode.IgnoreAspectRatio,
                                      Qt.TransformationMode.SmoothTransformation)
            img.setDevicePixelRatio(dpr)
            self._scaled = (key, img)
        return self._scaled[1]

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(24, 24, 24))
        if self._qimage is not None:
            r = self.target_rect()
            # Device pixels per logical pixel for this painter: the screen's ratio, or the
            # target's when rendered into an image (deviceTransform covers both).
            dpr = p.deviceTransform().m11() or self.devicePixelRatioF()
            p.drawImage(QPointF(r.topLeft()), self.device_image(r.width(), r.height(), dpr))
        p.end()
        if self.frame_id != self.painted_id:
            self.painted_id = self.frame_id
            self.painted.emit(self.frame_id)

    def mousePressEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if e.button() == Qt.MouseButton.LeftButton:
            self._press = e.position().toPoint()

    def mouseMoveEvent(self, e: QMouseEvent) -> None:  # noqa: N802
        if self._press is None or self.drag_face is None or self._qimage is None:
            return
        if (e.position().toPoint() - self._press).manhattanLength() < 12:
            return
        self._press = None
        z, detail, y = self.drag_face()
        md: QMimeData = latent_mime(z, "current face", detail, y)
        drag = QDrag(self)
        drag.setMimeData(md)
        drag.setPixmap(self.grab(self.target_rect()).scaled(
            64, 64, Qt.AspectRatioMode.KeepAspectRatio))
        drag.exec(Qt.DropAction.CopyAction)


class CanvasPanel(QWidget):
    """Canvas plus its controls; owns the live renderer for the state's faces.

    Parameters
    ----------
    state, service
        The shared state and render service.
    sync
        Render synchronously (tests).
    """

    stats = Signal(float, float)  # render ms, painted frames per second
    failed = Signal(str)  # a render that could not be drawn, in words (the window shows it)
    firstFace = Signal(object)  # (res, res, 3) uint8: the first face as just drawn

    def __init__(self, state: ExplorerState, service: RenderService, sync: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.renderer = LiveRenderer(service, sync=sync, parent=self)
        self.canvas = FaceCanvas(self)
        self.canvas.drag_face = lambda: (state.current_latent(), state.current_detail(),
                                         state.current_condition())
        self.images: np.ndarray | None = None  # (n, res, res, 3) newest shown faces
        # While a slider is dragged over a grid, each frame redraws the first face and a rotating
        # share of the others (PREVIEW_SHARE of the grid), so a frame costs a fraction of the
        # grid and every face shown is exactly drawn; the whole grid follows on release.
        self.dragging = False
        self._turn = 0
        self._subset: dict[int, np.ndarray] = {}  # request id -> face indices it draws
        self._partial = False  # the faces shown are not all of the newest edit
        self._paints: deque[float] = deque(maxlen=120)
        self.last_ms = float("nan")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setWordWrap(True)
        self.error.hide()

        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip(SEED_TIP)
        self.seed.setKeyboardTracking(False)
        self.seed.setMinimumWidth(84)  # its hint fits 10 digits; seeds are mostly 5
        self.random = QToolButton()
        self.random.setText("Random")
        self.random.setToolTip("A random seed (Ctrl+R)")
        self.random.setShortcut("Ctrl+R")
        self.psi = QDoubleSpinBox()
        self.psi.setRange(0.0, 1.5)
        self.psi.setSingleStep(0.05)
        self.psi.setKeyboardTracking(False)
        self.psi.setToolTip("Truncation ψ: 1 draws faces as trained; lower values pull the "
                            "generator's features toward the average face: cleaner faces, less "
                            "variety, and slider edits that act more weakly (they are pulled "
                            "too). A photo drawn with its detail is always drawn at 1")
        self.grid = QComboBox()
        self.grid.addItems([f"{n}x{n}" for n in range(1, 7)])
        self.grid.setToolTip("Grid: show one face or a grid of faces that all get the same edit")
        self.label = QLabel("")
        self.label.setStyleSheet("color: gray;")
        # Long photo names must not widen the window past a 1366 px screen.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        bar = QHBoxLayout()
        for w in (QLabel("Seed"), self.seed, self.random, QLabel("ψ"), self.psi, self.grid):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.error)
        lay.addWidget(self.canvas, 1)

        self.seed.valueChanged.connect(lambda v: v >= 0 and state.set_seed(v))
        self.random.clicked.connect(self.random_seed)
        self.psi.valueChanged.connect(state.set_psi)
        self.grid.currentIndexChanged.connect(lambda i: state.set_grid(i + 1))
        state.viewChanged.connect(self.sync_controls)
        state.renderChanged.connect(self.refresh)
        self.renderer.rendered.connect(self._show)
        self.renderer.failed.connect(self._failed)
        self.canvas.painted.connect(self._on_painted)
        self.sync_controls()

    def random_seed(self) -> None:
        self.state.set_seed(int(np.random.default_rng().integers(0, 100_000)))

    def sync_controls(self) -> None:
        s = self.state
        self.psi.blockSignals(True)
        self.psi.setValue(s.psi)
        self.psi.blockSignals(False)
        self._sync_seed()
        self.grid.blockSignals(True)
        self.grid.setCurrentIndex(s.grid - 1)
        self.grid.blockSignals(False)
        self.label.setText(f"editing {s.custom_label}" if s.custom_label else "")
        self.label.setToolTip(self.label.text())

    def _sync_seed(self) -> None:
        """The seed box shows what is on the canvas: its seed, or the photo, favourite or atlas
        face in its place (as the box's special text; typing a seed goes back to seeds)."""
        s, box = self.state, self.seed
        box.blockSignals(True)
        if s.custom_z is not None:
            label = s.custom_label or "custom face"
            box.setSpecialValueText(label if len(label) <= 12 else label[:11] + "…")
            box.setMinimum(-1)
            box.setValue(-1)
            box.setToolTip(f"Showing {label}, not a seed. Type or step to a seed to go back.")
        else:
            box.setMinimum(0)
            box.setSpecialValueText("")
            box.setValue(s.seed)
            box.setToolTip(SEED_TIP)
        box.blockSignals(False)

    def refresh(self) -> int:
        """Ask for the state's current faces (part of a grid while a slider is dragged: see
        `set_dragging`); returns the request id (-1 when the request could not be made: the
        reason is shown, not raised into Qt's event loop)."""
        try:
            return self._request()
        except Exception as e:
            self._failed(f"{type(e).__name__}: {e}")
            return -1

    def _request(self) -> int:
        req = self.state.render_request()
        n = len(req.z)
        tuned = req.tuned if req.tuned and any(t is not None for t in req.tuned) else None
        if (not self.dragging or n < 4 or self.images is None or len(self.images) != n
                or tuned is not None):  # a tuned photo's grid is drawn whole
            self._partial = False
            return self.renderer.request(req.z, req.y, req.detail, req.psi, req.tuned)
        k = max(1, round(PREVIEW_SHARE * n))
        others = np.arange(1, n)
        idx = np.concatenate([[0], np.roll(others, -self._turn)[: k - 1]])
        self._turn = (self._turn + k - 1) % (n - 1)
        psi = np.broadcast_to(np.asarray(req.psi, np.float32), (n,))
        rid = self.renderer.last_id + 1  # known before a synchronous render delivers it
        self._subset[rid] = idx
        for old in [i for i in self._subset if i < rid - 64]:
            del self._subset[old]
        self._partial = True
        return self.renderer.request(req.z[idx], None if req.y is None else req.y[idx],
                                     None if req.detail is None else req.detail[idx], psi[idx])

    def set_dragging(self, on: bool) -> None:
        """A slider drag starts or ends; at its end the whole grid is drawn again."""
        self.dragging = bool(on)
        if not on and self._partial:
            self.refresh()

    def _show(self, res: RenderResult) -> None:
        assert res.images is not None
        idx = self._subset.pop(res.id, None)
        if idx is not None and self.images is not None and len(self.images) > idx.max():
            images = self.images.copy()
            images[idx] = res.images
            self.images = images
        else:
            self.images = res.images
        self.last_ms = res.ms
        self.error.hide()
        cols = int(math.ceil(math.sqrt(len(self.images))))
        self.canvas.set_frame(tile(self.images, cols), res.id)
        self.firstFace.emit(self.images[0])

    def _failed(self, msg: str) -> None:
        self.show_error(f"Render failed: {msg}")
        self.failed.emit(f"Render failed: {msg}")

    def show_error(self, msg: str) -> None:
        self.error.setText(msg)
        self.error.show()

    def _on_painted(self, frame_id: int) -> None:
        now = time.perf_counter()
        self._paints.append(now)
        recent = [t for t in self._paints if now - t <= 1.0]
        fps = (len(recent) - 1) / (recent[-1] - recent[0]) if len(recent) > 1 else 0.0
        self.stats.emit(self.last_ms, fps)

    def current_image(self) -> np.ndarray | None:
        """The faces as one image (grid tiled), as last shown."""
        return self.canvas.image
