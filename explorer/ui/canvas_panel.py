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
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.core.render import RenderResult, RenderService
from explorer.ui.images import latent_mime, tile, to_qimage
from explorer.ui.render_bridge import LiveRenderer
from explorer.ui.state import ExplorerState


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
        self.setMinimumSize(256, 256)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._qimage: QImage | None = None
        self._scaled: tuple[tuple[int, int, float], QImage] | None = None  # (w, h, dpr), image
        self.image: np.ndarray | None = None  # the frame as uint8 (h, w, 3)
        self.frame_id = -1
        self.painted_id = -1
        # The face a drag carries: (latent, photo detail or None).
        self.drag_face: Callable[[], tuple[np.ndarray, np.ndarray | None]] | None = None
        self._press: QPoint | None = None
        self.setToolTip("The faces being edited. Drag onto an analogy slot to use this face.")

    def set_frame(self, img: np.ndarray, frame_id: int) -> None:
        self.image = img
        self._qimage = to_qimage(img)  # built on the GUI thread only
        self._scaled = None
        self.frame_id = frame_id
        self.update()

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
        z, detail = self.drag_face()
        md: QMimeData = latent_mime(z, "current face", detail)
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

    def __init__(self, state: ExplorerState, service: RenderService, sync: bool = False,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.renderer = LiveRenderer(service, sync=sync, parent=self)
        self.canvas = FaceCanvas(self)
        self.canvas.drag_face = lambda: (state.current_latent(), state.current_detail())
        self.images: np.ndarray | None = None  # (n, res, res, 3) newest shown faces
        self._paints: deque[float] = deque(maxlen=120)
        self.last_ms = float("nan")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #c0392b;")
        self.error.setWordWrap(True)
        self.error.hide()

        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setToolTip("Seed: names a face (the grid shows consecutive seeds)")
        self.seed.setKeyboardTracking(False)
        self.random = QPushButton("Random")
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
        self.grid.setToolTip("Show one face or a grid of faces that all get the same edit")
        self.label = QLabel("")
        self.label.setStyleSheet("color: gray;")
        # Long photo names must not widen the window past a 1366 px screen.
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        bar = QHBoxLayout()
        for w in (QLabel("Seed"), self.seed, self.random, QLabel("ψ"), self.psi, QLabel("Grid"),
                  self.grid):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.error)
        lay.addWidget(self.canvas, 1)

        self.seed.valueChanged.connect(state.set_seed)
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
        for w, v in ((self.seed, s.seed), (self.psi, s.psi)):
            w.blockSignals(True)
            w.setValue(v)
            w.blockSignals(False)
        self.grid.blockSignals(True)
        self.grid.setCurrentIndex(s.grid - 1)
        self.grid.blockSignals(False)
        self.label.setText(f"editing {s.custom_label}" if s.custom_label else "")
        self.label.setToolTip(self.label.text())

    def refresh(self) -> int:
        """Ask for the state's current faces; returns the request id (-1 when the request could
        not be made: the reason is shown, not raised into Qt's event loop)."""
        try:
            req = self.state.render_request()
            return self.renderer.request(req.z, req.y, req.detail, req.psi)
        except Exception as e:
            self._failed(f"{type(e).__name__}: {e}")
            return -1

    def _show(self, res: RenderResult) -> None:
        assert res.images is not None
        self.images = res.images
        self.last_ms = res.ms
        self.error.hide()
        cols = int(math.ceil(math.sqrt(len(res.images))))
        self.canvas.set_frame(tile(res.images, cols), res.id)

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
