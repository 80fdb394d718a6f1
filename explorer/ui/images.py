"""numpy uint8 images <-> Qt images, grids, and the drag-and-drop payload for a face: its latent,
for a photo the detail its encoding found (see `explorer.core.encoding`), and on a conditional
model its own condition (see `explorer.core.scene`)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QByteArray, QMimeData
from PySide6.QtGui import QImage, QPixmap

from facegan.images import image_grid

FACE_MIME = "application/x-face-explorer-latent"
DETAIL_MIME = "application/x-face-explorer-detail"
COND_MIME = "application/x-face-explorer-condition"


def to_qimage(img: np.ndarray) -> QImage:
    """(h, w, 3) uint8 RGB -> an owning QImage (GUI thread only for pixmaps, QImage is safe)."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    return QImage(img.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def to_pixmap(img: np.ndarray) -> QPixmap:
    return QPixmap.fromImage(to_qimage(img))


def qimage_to_array(qimg: QImage) -> np.ndarray:
    """QImage -> (h, w, 3) uint8 RGB copy (tests and the benchmark read painted pixels)."""
    q = qimg.convertToFormat(QImage.Format.Format_RGB888)
    w, h, bpl = q.width(), q.height(), q.bytesPerLine()
    buf = np.frombuffer(q.constBits(), np.uint8, count=h * bpl).reshape(h, bpl)
    return buf[:, : 3 * w].reshape(h, w, 3).copy()


def tile(images: np.ndarray, cols: int | None = None, pad: int = 1) -> np.ndarray:
    """(n, h, w, 3) -> one image with the faces in a near-square grid, on a dark background."""
    return image_grid(images, cols, pad, background=32, border=False)


def latent_mime(z: np.ndarray, label: str = "face",
                detail: np.ndarray | None = None, y: np.ndarray | None = None) -> QMimeData:
    """Pack one latent (nz,), a photo's detail and a face's condition if it has them, for drag
    and drop between panels (canvas, favourites, photos, slots)."""
    md = QMimeData()
    md.setData(FACE_MIME, QByteArray(np.asarray(z, np.float32).reshape(-1).tobytes()))
    if detail is not None:
        md.setData(DETAIL_MIME, QByteArray(np.asarray(detail, np.float32).tobytes()))
    if y is not None:
        md.setData(COND_MIME, QByteArray(np.asarray(y, np.float32).reshape(-1).tobytes()))
    md.setText(label)
    return md


def latent_from_mime(md: QMimeData) -> np.ndarray | None:
    if not md.hasFormat(FACE_MIME):
        return None
    return np.frombuffer(bytes(md.data(FACE_MIME).data()), np.float32).copy()


def detail_from_mime(md: QMimeData, shape: tuple[int, ...]) -> np.ndarray | None:
    """The dragged face's detail as `shape`, or None (no detail, or one of another model)."""
    if not md.hasFormat(DETAIL_MIME):
        return None
    flat = np.frombuffer(bytes(md.data(DETAIL_MIME).data()), np.float32)
    return flat.reshape(shape).copy() if flat.size == int(np.prod(shape)) else None


def condition_from_mime(md: QMimeData, n_cond: int) -> np.ndarray | None:
    """The dragged face's condition (n_cond,), or None (none, or one of another model)."""
    if not n_cond or not md.hasFormat(COND_MIME):
        return None
    y = np.frombuffer(bytes(md.data(COND_MIME).data()), np.float32)
    return y.copy() if y.size == n_cond else None
