"""A thumbnail list whose items carry latents (a photo's detail, a face's condition on a
conditional model) and can be dragged onto analogy slots."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget
from shiboken6 import isValid

from explorer.ui.images import latent_mime, to_pixmap

LATENT_ROLE = Qt.ItemDataRole.UserRole + 1
LABEL_ROLE = Qt.ItemDataRole.UserRole + 2
DETAIL_ROLE = Qt.ItemDataRole.UserRole + 3  # a photo's detail (float32 array), or None
COND_ROLE = Qt.ItemDataRole.UserRole + 4  # the face's condition (float32 array), or None


class FaceList(QListWidget):
    """Icon-mode strip of faces; item ``LATENT_ROLE`` data is the (nz,) latent, ``DETAIL_ROLE``
    the face's photo detail (None for a face without one)."""

    open_hint = "double-click"  # how an item is opened (the photo strip opens on a click)

    def __init__(self, icon: int = 56, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setIconSize(QSize(icon, icon))
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setDragEnabled(True)
        self.setSpacing(2)

    def add_face(self, label: str, z: np.ndarray, image: np.ndarray | None,
                 detail: np.ndarray | None = None,
                 y: np.ndarray | None = None) -> QListWidgetItem:
        short = label if len(label) <= 16 else label[:15] + "…"
        item = QListWidgetItem(short)
        if image is not None:
            item.setIcon(QIcon(to_pixmap(image)))
        item.setData(LATENT_ROLE, np.asarray(z, np.float32).reshape(-1).tolist())
        item.setData(LABEL_ROLE, label)
        if detail is not None:
            item.setData(DETAIL_ROLE, np.asarray(detail, np.float32).copy())
        if y is not None:
            item.setData(COND_ROLE, np.asarray(y, np.float32).reshape(-1).copy())
        item.setToolTip(f"{label}: {self.open_hint} to edit it; drag it onto an analogy slot")
        self.addItem(item)
        return item

    def show_images(self, items: list[QListWidgetItem], images: np.ndarray) -> None:
        """Put thumbnails drawn in the background on their items; an item removed from the list
        meanwhile is skipped."""
        for item, image in zip(items, images, strict=True):
            if isValid(item) and item.listWidget() is self:
                item.setIcon(QIcon(to_pixmap(image)))

    def latent(self, row: int) -> np.ndarray:
        return np.asarray(self.item(row).data(LATENT_ROLE), np.float32)

    def latents(self) -> np.ndarray:
        return np.stack([self.latent(i) for i in range(self.count())]) if self.count() else \
            np.zeros((0, 0), np.float32)

    def detail(self, row: int) -> np.ndarray | None:
        d = self.item(row).data(DETAIL_ROLE)
        return None if d is None else np.array(d, np.float32)

    def condition(self, row: int) -> np.ndarray | None:
        y = self.item(row).data(COND_ROLE)
        return None if y is None else np.array(y, np.float32)

    def mimeData(self, items: list[QListWidgetItem]) -> QMimeData:  # noqa: N802 (Qt API)
        if not items:
            return QMimeData()
        row = self.row(items[0])
        return latent_mime(np.asarray(items[0].data(LATENT_ROLE), np.float32),
                           str(items[0].data(LABEL_ROLE)), self.detail(row), self.condition(row))
