"""Favourites: star the current face, reload or remove it; a drag source for analogy slots."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from explorer.ui.face_list import FaceList
from explorer.ui.state import ExplorerState


class FavouritesPanel(QWidget):
    """A strip of starred faces.

    Parameters
    ----------
    state
        The shared state; the thumbnails are drawn in its render service's background lane.
    """

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.list = FaceList(56, self)
        self.star = QPushButton("★ Star current")
        self.star.setToolTip("Add the current (edited) face to the favourites (Ctrl+D)")
        # Ctrl+D lives on Edit → Star current face (one owner, no ambiguous shortcut).
        self.remove = QPushButton("Remove")
        self.remove.setToolTip("Remove the selected favourite")
        row = QHBoxLayout()
        row.addWidget(self.star)
        row.addWidget(self.remove)
        row.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addWidget(self.list, 1)
        self.star.clicked.connect(lambda: state.add_favourite())
        self.remove.clicked.connect(lambda: state.remove_favourite(self.list.currentRow()))
        self.list.itemDoubleClicked.connect(
            lambda it: self.load(self.list.row(it)))
        state.favouritesChanged.connect(self.rebuild)
        state.viewChanged.connect(self._psi_changed)
        self._psi = state.psi
        self.rebuild()

    def load(self, row: int) -> None:
        fav = self.state.favourites[row]
        self.state.load_latent(fav.z, fav.name, detail=fav.detail, tuned=fav.tuned, y=fav.y)

    def _psi_changed(self) -> None:
        if self.state.psi != self._psi:  # thumbnails are drawn at the window's ψ
            self.rebuild()

    def rebuild(self) -> None:
        self._psi = self.state.psi
        self.list.clear()
        favs = self.state.favourites
        if not favs:
            return
        scene = self.state.scene
        items = [self.list.add_face(f.name, f.z, None, f.detail, f.y) for f in favs]
        req = scene.request(np.stack([f.z for f in favs]), [f.detail for f in favs], edit=False,
                            tuned=[f.tuned for f in favs], y=[f.y for f in favs])
        self.state.draw_later(req, lambda imgs: self.list.show_images(items, imgs),
                              key="favourites")
