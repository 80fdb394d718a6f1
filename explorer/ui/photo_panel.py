"""Photos: open or drop photos, encode them off the UI thread, show original | reconstruction,
PSNR and top attributes; the sliders then edit the encoded photo.

Errors (no face, several faces, broken or non-image files) are shown in the panel, never raised.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from explorer.ui import workers
from explorer.ui.attribute_bars import AttributeBars
from explorer.ui.face_list import FaceList
from explorer.ui.images import to_pixmap
from explorer.ui.state import ExplorerState, Photo

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.gif);;All files (*)"
THUMB = 150


def encode_job(bundle, path: str, choose: int | None, whole: bool):
    """The background work for one photo: encode, then classify the crop. Returns a Photo."""
    from explorer.core.encoding import encode_photo

    def run(progress, cancelled) -> Photo:
        res = encode_photo(bundle, path, progress=progress, cancel=cancelled, choose=choose,
                           whole_image=whole)
        top: list[tuple[str, float]] = []
        if bundle.has_classifier:
            from explorer.core.classify import attribute_probabilities
            from explorer.core.edits import top_attributes

            probs = attribute_probabilities(bundle, res.face[None])[0]
            top = top_attributes(probs, bundle.attribute_names, k=6)
        return Photo(Path(path).name, str(path), res.z.reshape(-1).astype("float32"),
                     face=res.face, recon=res.recon, psnr=float(res.psnr), top=top,
                     detail=res.detail)

    return run


class PhotoPanel(QWidget):
    """Encode photos and pick one to edit.

    Parameters
    ----------
    state
        The shared state; encoded photos go to ``state.photos``.
    """

    message = Signal(str)
    photoReady = Signal(object)  # Photo
    photoFailed = Signal(str)

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.queue: deque[tuple[str, int | None, bool]] = deque()
        self.job: workers.Job | None = None
        self.current: tuple[str, int | None, bool] | None = None
        self.last_error = ""

        self.open_btn = QPushButton("Open photos…")
        self.open_btn.setToolTip("Encode photos (or drop them on the window) (Ctrl+O)")
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setToolTip("Stop encoding the current photo")
        self.cancel_btn.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setToolTip("Encoding progress")
        self.status = QLabel("Drop photos of faces here (JPEG, PNG, …).")
        self.status.setWordWrap(True)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c0392b; font-weight: bold;")
        self.error.hide()
        self.largest_btn = QPushButton("Use the largest face")
        self.largest_btn.setToolTip("Encode the largest detected face anyway")
        self.whole_btn = QPushButton("Use the whole image")
        self.whole_btn.setToolTip("Skip face detection and encode the centre square")
        for b in (self.largest_btn, self.whole_btn):
            b.hide()
        self.original = QLabel()
        self.recon = QLabel()
        for lab, tip in ((self.original, "The detected face, as the model sees it"),
                         (self.recon, "The model's reconstruction of that face")):
            lab.setFixedSize(THUMB, THUMB)
            lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lab.setStyleSheet("background: #181818;")
            lab.setToolTip(tip)
        self.psnr = QLabel("")
        self.keep_detail = QCheckBox("Keep the photo's detail")
        self.keep_detail.setChecked(state.keep_detail)
        self.keep_detail.setToolTip(
            "On: the photo is drawn with the detail its encoding found beyond the latent (a closer "
            "likeness; edits act a little more gently). Off: the latent alone.")
        self.bars = AttributeBars()
        self.list = FaceList(48, self)
        self.list.setMaximumHeight(90)
        self.list.setToolTip("Encoded photos: double-click one to edit it")

        row = QHBoxLayout()
        row.addWidget(self.open_btn)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.progress, 1)
        pics = QGridLayout()
        pics.addWidget(QLabel("Original"), 0, 0)
        pics.addWidget(QLabel("Reconstruction"), 0, 1)
        pics.addWidget(self.original, 1, 0)
        pics.addWidget(self.recon, 1, 1)
        fix = QHBoxLayout()
        fix.addWidget(self.largest_btn)
        fix.addWidget(self.whole_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addWidget(self.status)
        lay.addWidget(self.error)
        lay.addLayout(fix)
        lay.addLayout(pics)
        lay.addWidget(self.psnr)
        lay.addWidget(self.keep_detail)
        lay.addWidget(QLabel("Top attributes"))
        lay.addWidget(self.bars)
        lay.addWidget(self.list)
        lay.addStretch(1)

        self.open_btn.clicked.connect(self.open_dialog)
        self.cancel_btn.clicked.connect(self.cancel)
        self.largest_btn.clicked.connect(lambda: self._retry(choose=0))
        self.whole_btn.clicked.connect(lambda: self._retry(whole=True))
        self.list.itemDoubleClicked.connect(lambda it: self.select(self.list.row(it)))
        self.keep_detail.toggled.connect(state.set_keep_detail)
        state.photosChanged.connect(self.rebuild_list)

    # Entry points.
    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open photos", "", IMAGE_FILTER)
        if paths:
            self.open_paths(paths)

    def open_paths(self, paths: list[str]) -> None:
        for p in paths:
            self.queue.append((str(p), None, False))
        self._next()

    def busy(self) -> bool:
        return self.job is not None or bool(self.queue)

    def cancel(self) -> None:
        self.queue.clear()
        if self.job is not None:
            self.job.cancel()

    # Work.
    def _next(self) -> None:
        if self.job is not None or not self.queue:
            return
        if not self.state.bundle.has_encoder:
            self.queue.clear()
            self._show_error("This model has no encoder, so photos cannot be edited with it.")
            return
        self.current = self.queue.popleft()
        path, choose, whole = self.current
        self.error.hide()
        self.largest_btn.hide()
        self.whole_btn.hide()
        self.progress.setValue(0)
        self.cancel_btn.setEnabled(True)
        self.status.setText(f"Encoding {Path(path).name}…")
        self.job = workers.start(encode_job(self.state.bundle, path, choose, whole),
                                 on_done=self._done, on_error=self._failed,
                                 on_progress=lambda f: self.progress.setValue(round(100 * f)))

    def _finish_job(self) -> None:
        self.job = None
        self.cancel_btn.setEnabled(False)
        self._next()

    def _done(self, photo: Photo) -> None:
        self.progress.setValue(100)
        self.status.setText(f"{photo.name}: encoded. The sliders now edit this photo.")
        self.show_photo(photo)
        self.state.add_photo(photo)
        self.state.load_latent(photo.z, photo.name, detail=photo.detail)
        self.photoReady.emit(photo)
        self.message.emit(f"Encoded {photo.name} (PSNR {photo.psnr:.1f} dB)")
        self._finish_job()

    def _failed(self, e: Exception) -> None:
        kind = getattr(e, "kind", "")
        name = Path(self.current[0]).name if self.current else "photo"
        if type(e).__name__ in ("PhotoError", "BundleError", "ExportCancelled"):
            msg = f"{name}: {e}"
        elif type(e).__name__ == "Cancelled" or "cancel" in str(e).lower():
            msg = f"{name}: encoding cancelled"
        else:
            msg = f"{name}: could not encode ({type(e).__name__}: {e})"
        self.status.setText("")
        self._show_error(msg)
        self.largest_btn.setVisible(kind == "several_faces")
        self.whole_btn.setVisible(kind in ("no_face", "several_faces", "tiny_face"))
        self._finish_job()

    def _show_error(self, msg: str) -> None:
        self.last_error = msg
        self.error.setText(msg)
        self.error.show()
        self.progress.setValue(0)
        self.photoFailed.emit(msg)
        self.message.emit(msg)

    def _retry(self, choose: int | None = None, whole: bool = False) -> None:
        if self.current is not None:
            self.queue.appendleft((self.current[0], choose, whole))
            self._next()

    # Display.
    def show_photo(self, photo: Photo) -> None:
        if photo.face is not None:
            self.original.setPixmap(to_pixmap(photo.face).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        if photo.recon is not None:
            self.recon.setPixmap(to_pixmap(photo.recon).scaled(
                THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation))
        self.psnr.setText(f"Reconstruction error: PSNR {photo.psnr:.1f} dB")
        self.bars.set_items(photo.top)

    def select(self, row: int) -> None:
        photo = self.state.photos[row]
        self.show_photo(photo)
        self.state.load_latent(photo.z, photo.name, detail=photo.detail)

    def rebuild_list(self) -> None:
        self.keep_detail.blockSignals(True)  # a session brings its own setting
        self.keep_detail.setChecked(self.state.keep_detail)
        self.keep_detail.blockSignals(False)
        self.list.clear()
        for p in self.state.photos:
            if p.recon is None:  # reopened from a session: only the latent was saved
                p.recon = self.state.bundle.generate(p.z[None], detail=p.detail)[0]
            self.list.add_face(p.name, p.z, p.recon, p.detail)
