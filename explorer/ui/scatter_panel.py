"""Scatter: a PCA / t-SNE map of the model's atlas and the user's photos (pyqtgraph).

Colour by any attribute; hovering shows the face; a click loads it into the canvas; two groups
picked with the selection box make a new named slider (core ``custom_direction``).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.core.directions import custom_direction
from explorer.ui import workers
from explorer.ui.images import to_pixmap, to_qimage
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

    computed = Signal()

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        b = state.bundle
        self.method = QComboBox()
        self.method.addItems(["pca", "tsne"])
        self.method.setToolTip("PCA is instant; t-SNE keeps neighbours together (slower, cached)")
        self.colour = QComboBox()
        self.colour.addItem("(none)")
        if b.atlas_labels is not None:
            self.colour.addItems(list(b.attribute_names))
        self.colour.setToolTip("Colour the atlas faces by a labelled attribute "
                               "(orange = has it, blue = has not; photos in green)")
        self.compute_btn = QPushButton("Compute")
        self.compute_btn.setToolTip("Embed the atlas faces and your photos in 2-D")
        self.info = QLabel("")
        self.info.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("#181818")
        self.plot.hideAxis("left")
        self.plot.hideAxis("bottom")
        self.plot.setMinimumHeight(260)
        self.scatter = pg.ScatterPlotItem(size=7, hoverable=True, hoverSize=12,
                                          tip=self._tip, pen=None)
        self.plot.addItem(self.scatter)
        self.roi = pg.RectROI([0, 0], [1, 1], pen=pg.mkPen("#ffd54f", width=2))
        self.roi.hide()
        self.plot.addItem(self.roi)
        self.preview = QLabel()
        self.preview.setFixedSize(96, 96)
        self.preview.setStyleSheet("background: #181818;")
        self.preview.setToolTip("The face under the mouse")
        self.group_a = QPushButton("Group A = box")
        self.group_a.setToolTip("Faces inside the yellow box that HAVE the new attribute")
        self.group_b = QPushButton("Group B = box")
        self.group_b.setToolTip("Faces inside the yellow box that do NOT have it")
        self.name = QLineEdit()
        self.name.setPlaceholderText("new slider name")
        self.name.setToolTip("Name of the slider made from groups A and B")
        self.make = QPushButton("Create slider")
        self.make.setToolTip("Add a slider along the direction from group B to group A")
        self.make.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.method)
        top.addWidget(QLabel("Colour"))
        top.addWidget(self.colour, 1)
        top.addWidget(self.compute_btn)
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
        lay.addLayout(mid, 1)
        lay.addWidget(QLabel("Move the yellow box over a group of points, then:"))
        lay.addLayout(groups)
        lay.addLayout(make)
        lay.addWidget(self.info)

        self.points: np.ndarray | None = None  # (n, 2)
        self.latents: np.ndarray | None = None  # (n, nz)
        self.n_atlas = 0
        self.groups: dict[str, np.ndarray] = {}
        self._tips: dict[int, str] = {}
        self.job: workers.Job | None = None
        self.compute_btn.clicked.connect(self.compute)
        self.colour.currentIndexChanged.connect(self.recolour)
        self.scatter.sigClicked.connect(self._clicked)
        self.scatter.sigHovered.connect(self._hovered)
        self.group_a.clicked.connect(lambda: self.set_group("A"))
        self.group_b.clicked.connect(lambda: self.set_group("B"))
        self.make.clicked.connect(lambda: self.create_slider(self.name.text()))
        if b.atlas_z is None:
            self.info.setText("This model has no atlas; only your photos can be mapped.")

    # Embedding.
    def compute(self) -> workers.Job | None:
        from explorer.core.embedding import embed

        parts = []
        atlas = self.state.bundle.atlas_z
        if atlas is not None:
            parts.append(np.asarray(atlas, np.float32))
        photos = [p.z for p in self.state.photos]
        if photos:
            parts.append(np.stack(photos).astype(np.float32))
        if not parts or sum(len(p) for p in parts) < 3:
            self.info.setText("Not enough faces to map (need an atlas or three photos).")
            return None
        z = np.vstack(parts)
        self.n_atlas = 0 if atlas is None else len(atlas)
        method = self.method.currentText()
        self.info.setText(f"Computing {method.upper()} of {len(z)} faces…")
        self.compute_btn.setEnabled(False)
        self.job = workers.start(lambda progress, cancelled: embed(z, method, progress=progress),
                                 on_done=lambda pts: self._done(z, pts),
                                 on_error=self._failed)
        return self.job

    def _done(self, z: np.ndarray, pts: np.ndarray) -> None:
        self.job = None
        self.compute_btn.setEnabled(True)
        self.latents, self.points = z, np.asarray(pts, np.float32)
        self._tips.clear()
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
        self.roi.show()
        outside = int(((self.points < lo - 0.05 * span) | (self.points > hi + 0.05 * span))
                      .any(1)[self.n_atlas :].sum())
        self.info.setText(f"{self.n_atlas} atlas faces, {len(z) - self.n_atlas} photos"
                          + (f" ({outside} outside this view: scroll to zoom out)" if outside
                             else "") + ". Hover to see a face, click to edit it.")
        self.computed.emit()

    def _failed(self, e: Exception) -> None:
        self.job = None
        self.compute_btn.setEnabled(True)
        self.info.setText(f"Could not compute the map: {e}")

    def recolour(self) -> None:
        if self.points is None:
            return
        n = len(self.points)
        brushes = [pg.mkBrush(*PLAIN, 170)] * n
        name = self.colour.currentText()
        labels = self.state.bundle.atlas_labels
        if labels is not None and name in self.state.bundle.attribute_names:
            col = labels[:, self.state.bundle.attribute_names.index(name)]
            brushes = [pg.mkBrush(*(POS if v > 0 else NEG), 170) for v in col]
            brushes += [pg.mkBrush(*PLAIN, 170)] * (n - len(col))
        sizes = [7] * self.n_atlas + [13] * (n - self.n_atlas)
        for i in range(self.n_atlas, n):
            brushes[i] = pg.mkBrush(*PHOTO, 255)
        self.scatter.setData(pos=self.points, data=np.arange(n), brush=brushes, size=sizes)

    # Interaction.
    def face(self, i: int) -> np.ndarray:
        scene = self.state.scene
        return scene.draw(scene.request(self.latents[i], edit=False))[0]

    def _label(self, i: int) -> str:
        return f"atlas face {i}" if i < self.n_atlas else \
            self.state.photos[i - self.n_atlas].name

    def _tip(self, x: float, y: float, data: int) -> str:
        i = int(data)
        if i not in self._tips:
            self._tips[i] = (f"<img src='{png_data_uri(self.face(i))}' width=96 height=96>"
                             f"<br>{self._label(i)}")
        return self._tips[i]

    def _hovered(self, item, points, ev) -> None:
        if len(points):
            img = self.face(int(points[0].data()))
            self.preview.setPixmap(to_pixmap(img).scaled(
                96, 96, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))

    def _clicked(self, item, points, ev) -> None:
        if len(points):
            self.load_point(int(points[0].data()))

    def load_point(self, i: int) -> None:
        """Load point ``i`` (atlas first, then photos) into the canvas."""
        assert self.latents is not None
        self.state.load_latent(self.latents[i], self._label(i))

    def in_box(self) -> np.ndarray:
        """Indices of the points inside the selection box."""
        if self.points is None:
            return np.zeros(0, int)
        (x0, y0), (w, h) = self.roi.pos(), self.roi.size()
        p = self.points
        inside = (p[:, 0] >= x0) & (p[:, 0] <= x0 + w) & (p[:, 1] >= y0) & (p[:, 1] <= y0 + h)
        return np.flatnonzero(inside)

    def set_group(self, which: str, indices: np.ndarray | None = None) -> None:
        idx = self.in_box() if indices is None else np.asarray(indices)
        if len(idx) == 0:
            self.info.setText("The box holds no faces; move or resize it first.")
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
