"""Scatter: a PCA / t-SNE map of the model's atlas and the user's photos (pyqtgraph).

Colour by any attribute (with a legend); hovering shows the face beside the point; a click loads
it into the canvas; faces can be drawn on the points; two groups picked with the box or a lasso make
a new named slider (core ``custom_direction``). The map can move to the window's big area.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from explorer.core.directions import custom_direction
from explorer.ui import workers
from explorer.ui.images import to_pixmap, to_qimage
from explorer.ui.scatter_view import (
    LassoViewBox,
    Thumbnails,
    colour_legend,
    inside_polygon,
    set_legend,
)
from explorer.ui.state import ExplorerState

POS, NEG, PHOTO, PLAIN = (240, 140, 40), (60, 130, 230), (60, 200, 90), (180, 180, 180)


def png_data_uri(img: np.ndarray) -> str:
    buf = QByteArray()
    dev = QBuffer(buf)
    dev.open(QIODevice.OpenModeFlag.WriteOnly)
    to_qimage(img).save(dev, "PNG")
    return "data:image/png;base64," + bytes(buf.toBase64().data()).decode()


class ScatterPanel(QWidget):
    """The embedding map.

    Parameters
    ----------
    state
        The shared state (atlas from its bundle, photos from ``state.photos``).
    """

    partialMap = Signal(object, object)  # t-SNE's points while refined (worker thread -> GUI)
    bigToggled = Signal(bool)  # the map asks for the window's big area (or back to its tab)

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        b = state.bundle
        self.method = QComboBox()
        self.method.addItems(["pca", "tsne"])
        self.method.setToolTip("PCA is instant; t-SNE keeps neighbours together (slower, cached)")
        self.colour = QComboBox()
        self.colour.addItem("(none)", "")
        if b.atlas_labels is not None:
            for n in b.attribute_names:
                self.colour.addItem(n.replace("_", " "), n)
        self.colour.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.colour.setMinimumContentsLength(8)
        self.colour.setToolTip("Colour the atlas faces by a labelled attribute "
                               "(orange = has it, blue = has not; photos in green)")
        self.compute_btn = QPushButton("Compute")
        self.compute_btn.setToolTip("Embed the atlas faces and your photos in 2-D")
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.view = LassoViewBox()
        self.plot = pg.PlotWidget(viewBox=self.view)
        self.plot.setBackground("#181818")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMinimumHeight(260)
        self.scatter = pg.ScatterPlotItem(size=7, hoverable=True, hoverSize=12, tip=None,
                                          pen=None)
        self.plot.addItem(self.scatter)
        self.roi = pg.RectROI([0, 0], [1, 1], pen=pg.mkPen("#ffd54f", width=2))
        self.roi.hide()
        self.plot.addItem(self.roi)
        self.legend = colour_legend(self.plot)
        self.lasso: np.ndarray | None = None  # (k, 2) polygon in map coordinates
        self.select_mode = QComboBox()
        self.select_mode.addItems(["box", "lasso"])
        self.select_mode.setToolTip("Pick groups with the yellow box, or draw a lasso around "
                                    "them (drag on the map; in lasso mode the map pans with the "
                                    "right button)")
        self.faces = QCheckBox("Faces")
        self.faces.setToolTip("Draw the faces on the map: a spread-out sample, and every face "
                              "once you zoom in far enough")
        self.big = QPushButton("Big")
        self.big.setCheckable(True)
        self.big.setToolTip("Show the map in the window's big area (and back here)")
        self.thumbs = Thumbnails(self.view, self.request_faces)
        self._thumb_timer = QTimer(self)
        self._thumb_timer.setSingleShot(True)
        self._thumb_timer.setInterval(60)
        self._thumb_timer.timeout.connect(self.thumbs.update)
        self.tip_anchor: QPoint | None = None  # where the last hover tooltip was shown
        self.preview = QLabel()
        self.preview.setFixedSize(80, 80)
        self.preview.setStyleSheet("background: #181818;")
        self.preview.setToolTip("The face under the mouse")
        self.group_a = QPushButton("Group A = selection")
        self.group_a.setToolTip("Faces inside the box or lasso that HAVE the new attribute")
        self.group_b = QPushButton("Group B = selection")
        self.group_b.setToolTip("Faces inside the box or lasso that do NOT have it")
        self.name = QLineEdit()
        self.name.setPlaceholderText("new slider name")
        self.name.setToolTip("Name of the slider made from groups A and B")
        self.make = QPushButton("Create slider")
        self.make.setToolTip("Add a slider along the direction from group B to group A")
        self.make.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.method)
        top.addWidget(self.compute_btn)
        top.addWidget(self.faces)
        top.addStretch(1)
        top.addWidget(self.big)
        colour = QHBoxLayout()
        colour.addWidget(QLabel("Colour"))
        colour.addWidget(self.colour, 1)
        colour.addWidget(self.select_mode)
        groups = QHBoxLayout()
        groups.addWidget(self.group_a)
        groups.addWidget(self.group_b)
        make = QHBoxLayout()
        make.addWidget(self.name, 1)
        make.addWidget(self.make)
        side = QVBoxLayout()
        side.addWidget(self.preview)
        side.addStretch(1)
        mid = QHBoxLayout()
        mid.addWidget(self.plot, 1)
        mid.addLayout(side)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addLayout(colour)
        lay.addLayout(mid, 1)
        hint = QLabel("Move the yellow box over a group of points (or draw a lasso), then:")
        hint.setWordWrap(True)
        lay.addWidget(hint)
        lay.addLayout(groups)
        lay.addLayout(make)
        lay.addWidget(self.info)

        self.points: np.ndarray | None = None  # (n, 2)
        self.latents: np.ndarray | None = None  # (n, nz)
        self.point_y: list[np.ndarray | None] = []  # each point's condition (conditional models)
        self._computing_y: list[np.ndarray | None] = []
        self.n_atlas = 0
        self.groups: dict[str, np.ndarray] = {}
        self._faces: dict[int, np.ndarray] = {}  # hover faces drawn for this map
        self._hover: int | None = None  # the point the mouse is on
        self.job: workers.Job | None = None
        self.compute_btn.clicked.connect(self.compute)
        self.partialMap.connect(self._partial)
        self.colour.currentIndexChanged.connect(self.recolour)
        self.scatter.sigClicked.connect(self._clicked)
        self.scatter.sigHovered.connect(self._hovered)
        self.select_mode.currentTextChanged.connect(self._select_mode)
        self.view.lassoed.connect(self.set_lasso)
        self.faces.toggled.connect(self.thumbs.set_enabled)
        self.view.sigRangeChanged.connect(lambda *_: self._thumb_timer.start())
        self.big.toggled.connect(self.bigToggled)
        self.group_a.clicked.connect(lambda: self.set_group("A"))
        self.group_b.clicked.connect(lambda: self.set_group("B"))
        self.make.clicked.connect(lambda: self.create_slider(self.name.text()))
        if b.atlas_z is None:
            self.info.setText("This model has no atlas; only your photos can be mapped.")

    # Embedding.
    def compute(self) -> workers.Job | None:
        from explorer.core.embedding import embed

        parts = []
        ys: list[np.ndarray | None] = []
        atlas = self.state.bundle.atlas_z
        if atlas is not None:
            parts.append(np.asarray(atlas, np.float32))
            atlas_y = self.state.bundle.atlas_conditions()
            ys += [None] * len(atlas) if atlas_y is None else list(atlas_y)
        photos = [p.z for p in self.state.photos]
        if photos:
            parts.append(np.stack(photos).astype(np.float32))
            ys += [p.y for p in self.state.photos]
        if not parts or sum(len(p) for p in parts) < 3:
            self.info.setText("Not enough faces to map (need an atlas or three photos).")
            return None
        z = np.vstack(parts)
        self._computing_y = ys  # shown with the map, as `latents` is
        self.n_atlas = 0 if atlas is None else len(atlas)
        method = self.method.currentText()
        self.info.setText(f"Computing {method.upper()} of {len(z)} faces…")
        self.compute_btn.setEnabled(False)
        self._partial_at = 0.0

        def run(progress, cancelled):
            def partial(pts: np.ndarray) -> None:
                if time.perf_counter() - self._partial_at > 0.5:  # at most two redraws a second
                    self._partial_at = time.perf_counter()
                    self.partialMap.emit(z, pts)

            return embed(z, method, progress=progress, partial=partial)

        self.job = workers.start(run, on_done=lambda pts: self._done(z, pts),
                                 on_error=self._failed)
        return self.job

    def _partial(self, z: np.ndarray, pts: np.ndarray) -> None:
        """Show t-SNE's map while it is being refined: the faces are already the right ones."""
        if self.job is None:
            return  # the final map is already shown
        self.latents, self.points = z, np.asarray(pts, np.float32)
        self.point_y = self._computing_y
        self.recolour()
        self.plot.autoRange()

    def _done(self, z: np.ndarray, pts: np.ndarray) -> None:
        self.job = None
        self.compute_btn.setEnabled(True)
        self.latents, self.points = z, np.asarray(pts, np.float32)
        self.point_y = self._computing_y
        self._faces.clear()
        self.lasso = None
        self.view.show_polygon(None)
        self.recolour()
        # Frame the bulk of the atlas: an encoded photo far outside it must not squash the map.
        core = (self.points[: self.n_atlas] if self.n_atlas >= 3 else self.points).astype(float)
        lo, hi = np.percentile(core, 0.5, axis=0), np.percentile(core, 99.5, axis=0)
        span = np.maximum(hi - lo, 1e-6)
        self.plot.setRange(xRange=(float(lo[0] - 0.05 * span[0]), float(hi[0] + 0.05 * span[0])),
                           yRange=(float(lo[1] - 0.05 * span[1]), float(hi[1] + 0.05 * span[1])),
                           padding=0)
        self.roi.setPos(pg.Point(*(lo + 0.1 * span)))
        self.roi.setSize(pg.Point(*(0.3 * span)))
        self.roi.setVisible(self.select_mode.currentText() == "box")
        self.thumbs.set_points(self.points)
        outside = int(((self.points < lo - 0.05 * span) | (self.points > hi + 0.05 * span))
                      .any(1)[self.n_atlas :].sum())
        self.info.setText(f"{self.n_atlas} atlas faces, {len(z) - self.n_atlas} photos"
                          + (f" ({outside} outside this view: scroll to zoom out)" if outside
                             else "") + ". Hover to see a face, click to edit it.")

    def _failed(self, e: Exception) -> None:
        self.job = None
        self.compute_btn.setEnabled(True)
        self.info.setText(f"Could not compute the map: {e}")

    def recolour(self) -> None:
        if self.points is None:
            return
        n = len(self.points)
        brushes = [pg.mkBrush(*PLAIN, 170)] * n
        name = str(self.colour.currentData() or "")
        labels = self.state.bundle.atlas_labels
        entries = [("atlas face", PLAIN)]
        if labels is not None and name in self.state.bundle.attribute_names:
            col = labels[:, self.state.bundle.attribute_names.index(name)]
            brushes = [pg.mkBrush(*(POS if v > 0 else NEG), 170) for v in col]
            brushes += [pg.mkBrush(*PLAIN, 170)] * (n - len(col))
            pretty = name.replace("_", " ")
            entries = [(pretty, POS), (f"not {pretty}", NEG)]
        if n > self.n_atlas:
            entries.append(("your photos", PHOTO))
        set_legend(self.legend, entries)
        sizes = [7] * self.n_atlas + [13] * (n - self.n_atlas)
        for i in range(self.n_atlas, n):
            brushes[i] = pg.mkBrush(*PHOTO, 255)
        self.scatter.setData(pos=self.points, data=np.arange(n), brush=brushes, size=sizes)

    # Interaction.
    def _label(self, i: int) -> str:
        return f"atlas face {i}" if i < self.n_atlas else \
            self.state.photos[i - self.n_atlas].name

    def _tip(self, i: int) -> str:
        """The hover tooltip of point `i`: its face once drawn, and its name."""
        img = self._faces.get(i)
        face = "" if img is None else f"<img src='{png_data_uri(img)}' width=96 height=96><br>"
        return face + self._label(i)

    def request_faces(self, idx: np.ndarray,
                      on_done: Callable[[np.ndarray, np.ndarray], None]) -> None:
        """Have the faces of points ``idx`` drawn at the window's ψ in the render service's
        background lane, in batches of 16 (a slider's frame waits for one batch at most);
        ``on_done(batch indices, (k, res, res, 3) uint8 faces)`` runs on the GUI thread as each
        batch arrives. Asking again supersedes the batches not yet drawn."""
        assert self.latents is not None
        idx = np.asarray(idx, int)
        for n, i in enumerate(range(0, len(idx), 16)):
            part = idx[i : i + 16]
            self.state.draw_later(self.state.scene.request(self.latents[part], edit=False,
                                                           y=[self.point_y[j] for j in part]),
                                  lambda imgs, part=part: on_done(part, imgs),
                                  key=("map faces", n))

    def _hovered(self, item, points, ev) -> None:
        if not len(points):
            return
        i = int(points[0].data())
        self._hover = i
        # The tooltip sits just right of and below the point itself, not where the mouse was
        # when Qt got round to a tooltip event.
        scene = self.view.mapViewToScene(points[0].pos())
        local = self.plot.mapFromScene(scene)
        self.tip_anchor = self.plot.viewport().mapToGlobal(local) + QPoint(10, 10)
        if i in self._faces:
            self._show_hover(i)
            return
        latents = self.latents

        def arrived(imgs: np.ndarray) -> None:
            if self.latents is latents:  # the same map
                self._faces[i] = imgs[0]
                if self._hover == i:
                    self._show_hover(i)

        assert latents is not None
        self.state.draw_later(self.state.scene.request(latents[i], edit=False,
                                                       y=[self.point_y[i]]), arrived,
                              key="hover")

    def _show_hover(self, i: int) -> None:
        self.preview.setPixmap(to_pixmap(self._faces[i]).scaled(
            80, 80, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))
        if self.tip_anchor is not None:
            QToolTip.showText(self.tip_anchor, self._tip(i), self.plot.viewport())

    def _clicked(self, item, points, ev) -> None:
        if len(points):
            self.load_point(int(points[0].data()))

    def load_point(self, i: int) -> None:
        """Load point ``i`` (atlas first, then photos) into the canvas."""
        assert self.latents is not None
        self.state.load_latent(self.latents[i], self._label(i), y=self.point_y[i])

    def _select_mode(self, mode: str) -> None:
        self.view.lasso_mode = mode == "lasso"
        self.roi.setVisible(mode == "box" and self.points is not None)
        self.view.show_polygon(self.lasso if mode == "lasso" else None, closed=True)

    def set_lasso(self, poly: np.ndarray) -> None:
        """Select the points inside ``poly`` ((k, 2) map coordinates)."""
        self.lasso = np.asarray(poly, float)
        if self.select_mode.currentText() != "lasso":
            self.select_mode.setCurrentText("lasso")
        self.view.show_polygon(self.lasso, closed=True)
        self.info.setText(f"The lasso holds {len(self.selection())} faces.")

    def selection(self) -> np.ndarray:
        """Indices of the points inside the lasso (lasso mode) or the box."""
        if self.select_mode.currentText() == "lasso":
            if self.points is None or self.lasso is None:
                return np.zeros(0, int)
            return inside_polygon(self.points, self.lasso)
        return self.in_box()

    def in_box(self) -> np.ndarray:
        """Indices of the points inside the selection box."""
        if self.points is None:
            return np.zeros(0, int)
        (x0, y0), (w, h) = self.roi.pos(), self.roi.size()
        p = self.points
        inside = (p[:, 0] >= x0) & (p[:, 0] <= x0 + w) & (p[:, 1] >= y0) & (p[:, 1] <= y0 + h)
        return np.flatnonzero(inside)

    def set_group(self, which: str, indices: np.ndarray | None = None) -> None:
        idx = self.selection() if indices is None else np.asarray(indices)
        if len(idx) == 0:
            self.info.setText(f"The {self.select_mode.currentText()} holds no faces; "
                              "move, resize or draw it first.")
            return
        assert self.latents is not None
        self.groups[which] = self.latents[idx]
        self.info.setText(f"Group {which}: {len(idx)} faces. "
                          + ("Name the slider and create it." if len(self.groups) == 2 else ""))
        self.make.setEnabled(len(self.groups) == 2)

    def create_slider(self, name: str) -> bool:
        name = name.strip()
        if not name or len(self.groups) < 2:
            self.info.setText("Pick groups A and B and type a name first.")
            return False
        try:
            vec = custom_direction(self.groups["A"], self.groups["B"])
            self.state.add_custom_direction(name, vec)
        except ValueError as e:
            self.info.setText(f"Could not make the slider: {e}")
            return False
        self.info.setText(f"New slider '{name}' added to the attributes.")
        return True
