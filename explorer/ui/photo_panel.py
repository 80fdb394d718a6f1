"""Photos: open or drop photos, encode them off the UI thread, show original | reconstruction,
PSNR and what the classifier says of the photo and of the current edit; the sliders then edit the
encoded photo.

Two ways to encode: fast (the latent and the photo's detail, under a second) or pivotal tuning
(a copy of the generator tuned to the photo, ~20 s, with progress and cancel: the person keeps
their likeness under edits). The edit can be seen pasted back into the whole photo (a
before/after toggle) and saved at the photo's own size.

A fast encoding arrives in two steps: the encoder's latent as soon as the face is found (the face
is editable at once, `photoReady`), then the refined latent and detail, which replace it in place
where the canvas and the undo history hold it (`photoRefined`), so slider edits made meanwhile
stay. On a style-based model the refined face is put in place the same way before the job fits
the photo's latent-only detail (`encoding.fit_latent_detail`, drawn while "Keep the photo's
detail" is off), and once more with it. `PROGRESSIVE = False` waits for the final result instead
(the previous behaviour).

Errors (no face, several faces, broken or non-image files) are shown in the panel, never raised.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from explorer.ui import prefs, workers
from explorer.ui.attribute_bars import AttributeBars
from explorer.ui.face_list import FaceList
from explorer.ui.images import to_pixmap
from explorer.ui.state import EditedFace, ExplorerState, Photo

IMAGE_FILTER = "Images (*.jpg *.jpeg *.png *.bmp *.webp *.tif *.tiff *.gif);;All files (*)"
PROGRESSIVE = True  # a fast encoding is editable from the encoder's result; refinement follows
SCORES_MS = 100  # the edit's classifier scores follow a slider drag at most this often
THUMB = 130  # two side by side fit a 300 px dock (a 1024 px laptop)
WARM_UP_MS = 1500  # after the window opens: load what the first photo needs while it is idle


def warm_up_job(bundle):
    """Load OpenCV and its cascades and run E and C once, so the first photo dropped does not
    pay for them (cold: ~150 ms of CPU for detection alone here, warm ~30 ms)."""

    def run(progress, cancelled) -> None:
        import numpy as np

        from explorer.core.photos import FaceBox, detect_faces, eye_angle

        grey = np.full((96, 96, 3), 128, np.uint8)
        detect_faces(grey)
        eye_angle(grey, FaceBox(0, 0, 96, 96))
        face = np.full((1, bundle.resolution, bundle.resolution, 3), 128, np.uint8)
        if bundle.has_encoder and not cancelled():
            bundle.encode(face)
        if bundle.can_score and not cancelled():
            from explorer.core.classify import attribute_probabilities

            attribute_probabilities(bundle, face)

    return run


TOP_K = 6
PREVIEW_SIDE = 720  # the pasted-back preview is drawn on a copy at most this large


class Cancelled(Exception):
    """The user cancelled pivotal tuning."""


def classifier_top(bundle, face) -> list[tuple[str, float]]:
    """The classifier's most probable attributes of a (res, res, 3) face, [] without one."""
    if not bundle.can_score:
        return []
    from explorer.core.classify import attribute_probabilities
    from explorer.core.edits import top_attributes

    probs = attribute_probabilities(bundle, face[None])[0]
    return top_attributes(probs, bundle.attribute_names, k=TOP_K)


def encode_job(bundle, path: str, choose: int | None, whole: bool, tune: bool = False,
               early=None):
    """The background work for one photo: encode (and with `tune`, pivotal tuning), then
    classify the aligned crop. Returns a Photo. With `early` (a fast encoding only), the
    encoder's own result is handed to `early(photo)` first, classified, before refinement, and
    on a style G the refined photo too, before its latent-only detail is fitted. The
    job fits with its own copy of G (tuning draws it with swapped-in weights), never the one
    another thread draws with."""
    from explorer.core.encoding import (
        LATENT_BUDGET_S,
        WINDOW_BUDGET_S,
        encode_face,
        encode_photo,
        fit_latent_detail,
    )
    from explorer.core.fit_target import own_psnr

    # A style G's photo also gets a latent-only detail, drawn while its detail is switched off
    latent_s = LATENT_BUDGET_S if bundle.has_latent_detail else 0.0
    fit_share = WINDOW_BUDGET_S / (WINDOW_BUDGET_S + latent_s)

    def latent_detail(own, res, cancelled):
        if not latent_s or cancelled():
            return None
        return fit_latent_detail(own, res.face, res.z, res.y, start=res.detail,
                                 budget_s=latent_s, inside=res.inside, cancel=cancelled)[0]

    def run(progress, cancelled) -> Photo:
        own = bundle.with_own("G")
        if early is not None and not tune:
            # E's own answer: w, and E's W+ offset where E predicts one
            first = encode_photo(own, path, cancel=cancelled, choose=choose,
                                 whole_image=whole, max_steps=0,
                                 detail="latent" if own.config.encoder_w_plus else False)
            top = classifier_top(own, first.face)
            early(Photo(Path(path).name, str(path), first.z.reshape(-1).astype("float32"),
                        face=first.face, recon=first.recon, psnr=float(first.psnr), top=top,
                        detail=first.detail, alignment=first.alignment, y=first.y,
                        latent_detail=first.detail))  # E's W+ answer is latent-only
            # E's answer is editable already: the refinement behind it may take longer
            res = encode_face(own, first.face, budget_s=WINDOW_BUDGET_S,
                              progress=lambda f: progress(fit_share * f),
                              cancel=cancelled, y=first.y, inside=first.inside)
            refined = Photo(Path(path).name, str(path), res.z.reshape(-1).astype("float32"),
                            face=res.face, recon=res.recon, psnr=float(res.psnr), top=top,
                            detail=res.detail, alignment=first.alignment, y=res.y)
            if not latent_s:
                return refined
            early(refined)  # in place now; its latent-only detail follows
            return dataclasses.replace(refined, latent_detail=latent_detail(own, res, cancelled))
        share = 0.1 if tune else fit_share  # tuning takes most of the time
        res = encode_photo(own, path, progress=lambda f: progress(share * f),
                           cancel=cancelled, choose=choose, whole_image=whole, detail=not tune)
        tuned, recon, psnr = None, res.recon, float(res.psnr)
        if tune:
            from explorer.core.photo_edit import tune_photo

            tuned = tune_photo(own, res, progress=lambda f: progress(share + (1 - share) * f),
                               cancel=cancelled)
            if cancelled():
                raise Cancelled("pivotal tuning cancelled")
            recon = own.generate(res.z, res.y, tuned=tuned)[0]
            psnr = own_psnr(recon, res.face, res.inside)
        return Photo(Path(path).name, str(path), res.z.reshape(-1).astype("float32"),
                     face=res.face, recon=recon, psnr=psnr, top=classifier_top(own, res.face),
                     detail=None if tuned is not None else res.detail, tuned=tuned,
                     alignment=res.alignment, y=res.y,
                     latent_detail=None if tune else latent_detail(own, res, cancelled))

    return run


class _Relay(QObject):
    early = Signal(object)  # (job id, Photo), from the worker thread


class PhotoPanel(QWidget):
    """Encode photos and pick one to edit.

    Parameters
    ----------
    state
        The shared state; encoded photos go to ``state.photos``.
    """

    message = Signal(str)
    photoReady = Signal(object)  # Photo: editable (the encoder's result, or the final one)
    # Photo: the refined encoding replaced the early one (a style G's twice: then with its
    # latent-only detail)
    photoRefined = Signal(object)
    photoFailed = Signal(str)  # the one-line message shown

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._relay = _Relay(self)
        self._relay.early.connect(self._early)  # queued: emitted on the worker thread
        self.early: tuple[Photo, EditedFace | None] | None = None  # the job's editable result
        self._early_psnr = float("nan")  # the encoder's likeness of the job's photo
        self._in_place = False  # the job's refined face is in place (its latent fit runs)
        self._scores_face = None  # the newest face whose edit scores are due
        self._scores_job: workers.Job | None = None  # the reading under way, off the GUI thread
        self._scores_timer = QTimer(self)
        self._scores_timer.setSingleShot(True)
        self._scores_timer.setInterval(SCORES_MS)
        self._scores_timer.timeout.connect(self._read_edit_scores)
        self.queue: deque[tuple[str, int | None, bool]] = deque()
        self.job: workers.Job | None = None
        self.current: tuple[str, int | None, bool] | None = None
        self.last_error = ""
        self.warmed = False  # the warm-up below has run (benchmarks/photo_drop.py waits on it)
        QTimer.singleShot(WARM_UP_MS, self._warm_up)

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
        self.psnr.setWordWrap(True)
        self.tune = QCheckBox("Pivotal tuning (~20 s)")  # the tooltip says what it does
        self.tune.setToolTip(
            "On: after encoding, a copy of the generator is tuned to this photo (PTI), so the "
            "person survives edits; it takes about 15 s and can be cancelled. Off: the fast "
            "encoding (latent + detail, under a second).")
        self.keep_detail = QCheckBox("Keep the photo's detail")
        self.keep_detail.setChecked(state.keep_detail)
        self.keep_detail.setToolTip(
            "On: the photo is drawn with the detail its encoding found beyond the latent (a closer "
            "likeness; edits act a little more gently). Off: the latent alone (on a style-based "
            "model, one latent per layer fitted to the photo).")
        from explorer.core.classify import scorer_label

        who = scorer_label(state.bundle)
        self.bars = AttributeBars()
        self.bars.setToolTip(f"What {who} says of the photo's aligned crop")
        self.edit_bars = AttributeBars()
        self.edit_bars.setToolTip(f"What {who} says of the face as edited now")
        self.full = QLabel()
        self.full.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.full.setMinimumHeight(120)
        # The pixmap must not widen the panel (a 300 px dock would scroll sideways).
        self.full.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.full.setToolTip("The whole photo, with the edit pasted back into it")
        self.full.hide()
        self.after_btn = QPushButton("Edit in the photo")
        self.after_btn.setCheckable(True)
        self.after_btn.setToolTip("Toggle between the photo as it is (before) and with the "
                                  "current edit pasted back into it (after)")
        self.save_btn = QPushButton("Save photo…")
        self.save_btn.setToolTip("Save the whole photo at its own size with the edit pasted "
                                 "back into the face (Ctrl+Shift+S)")
        for b in (self.after_btn, self.save_btn):
            b.setEnabled(False)
        self.editing: Photo | None = None
        self._photo_cache: tuple[str, object] | None = None  # (path, photo pixels)
        self.list = FaceList(48, self)
        self.list.open_hint = "click"
        self.list.setMaximumHeight(90)
        self.list.setToolTip("Encoded photos: click one to edit it")

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
        lay.addWidget(self.tune)
        lay.addWidget(self.keep_detail)
        full = QHBoxLayout()
        full.addWidget(self.after_btn)
        full.addWidget(self.save_btn)
        lay.addLayout(full)
        lay.addWidget(self.full)
        # One above the other: side by side they widened the Tools dock past a 1024 px laptop.
        lay.addWidget(QLabel("The classifier: the photo"))
        lay.addWidget(self.bars)
        lay.addWidget(QLabel("The current edit"))
        lay.addWidget(self.edit_bars)
        lay.addWidget(self.list)
        lay.addStretch(1)

        self.open_btn.clicked.connect(self.open_dialog)
        self.cancel_btn.clicked.connect(self.cancel)
        self.largest_btn.clicked.connect(lambda: self._retry(choose=0))
        self.whole_btn.clicked.connect(lambda: self._retry(whole=True))
        self.list.itemClicked.connect(lambda it: self.select(self.list.row(it)))
        state.viewChanged.connect(self._canvas_changed)
        self.keep_detail.toggled.connect(state.set_keep_detail)
        self.after_btn.toggled.connect(self._toggle_after)
        self.save_btn.clicked.connect(self.save_dialog)
        state.photosChanged.connect(self.rebuild_list)
        state.renderChanged.connect(self._refresh_after)
        if state.bundle.has_encoder:
            from explorer.core.align import warm_up

            warm_up()  # the face finder loads while the user picks a photo

    # Entry points.
    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Open photos", prefs.start_path(),
                                                IMAGE_FILTER)
        if paths:
            prefs.remember(paths[0])
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
    def _warm_up(self) -> None:
        if self.warmed or not self.state.bundle.has_encoder:
            self.warmed = True
            return

        def done(*_: object) -> None:  # a failed warm-up only means a slower first photo
            self.warmed = True

        self.warm_job = workers.start(warm_up_job(self.state.bundle), on_done=done, on_error=done)

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
        tune = self.tune.isChecked()
        if tune:
            self.status.setText(f"Encoding {Path(path).name} with pivotal tuning (~20 s)…")
        self.early = None
        job_id = object()
        self._job_id = job_id
        early = (lambda ph: self._relay.early.emit((job_id, ph))) if PROGRESSIVE else None
        self.job = workers.start(encode_job(self.state.bundle, path, choose, whole, tune, early),
                                 on_done=self._done, on_error=self._failed,
                                 on_progress=lambda f: self.progress.setValue(round(100 * f)))

    def _finish_job(self) -> None:
        self.job = None
        self.cancel_btn.setEnabled(False)
        self._next()

    def _early(self, item: tuple[object, Photo]) -> None:
        """The encoder's result of the current photo: editable now, refined in place later.
        A second one (a style G's) is the refined face, put in place before the job fits its
        latent-only detail."""
        job_id, photo = item
        if job_id is not self._job_id or self.job is None or self.job.cancelled():
            return
        if self.early is not None:
            self._in_place = True
            self.status.setText(f"{photo.name}: encoded; fitting its latent alone…")
            self._replace_early(photo)
            return
        self._early_psnr, self._in_place = photo.psnr, False
        self.show_photo(photo)
        self.state.add_photo(photo)
        self._edit(photo)
        self.early = (photo, self.state.scene.face)
        self.status.setText(f"{photo.name}: editable now; refining the encoding…")
        self.photoReady.emit(photo)

    def _done(self, photo: Photo) -> None:
        if self.early is not None:
            self._refined(photo)
            return
        if self.job is not None and self.job.cancelled():  # stopped early: not the photo asked for
            name = Path(self.current[0]).name if self.current else "photo"
            self.status.setText(f"{name}: encoding cancelled")
            self._finish_job()
            return
        self.progress.setValue(100)
        self.status.setText(f"{photo.name}: encoded. The sliders now edit this photo.")
        self.show_photo(photo)
        self.state.add_photo(photo)
        self._edit(photo)
        self.message.emit(f"Encoded {photo.name} (PSNR {photo.psnr:.1f} dB)")
        self.photoReady.emit(photo)
        self._finish_job()

    def _refined(self, photo: Photo) -> None:
        """The refined encoding replaces the early one in the photo list and, where the canvas
        or the undo history hold the early face, there too (no undo step of its own)."""
        old = self.early[0]  # type: ignore[index]
        if self.job is not None and self.job.cancelled():  # keep what is in place
            self.early = None
            self.status.setText(f"{old.name}: encoded; its latent-only fit was stopped"
                                if self._in_place else
                                f"{old.name}: refinement stopped; the encoder's result is kept")
            self._finish_job()
            return
        self.progress.setValue(100)
        self.status.setText(f"{photo.name}: encoded. The sliders now edit this photo.")
        self._replace_early(photo)
        self.early = None
        self._finish_job()

    def _replace_early(self, photo: Photo) -> None:
        """`photo` takes the place of the job's editable result in the photo list and, where
        the canvas or the undo history hold its face, there too (no undo step of its own);
        said in the status bar and by `photoRefined`."""
        old, old_face = self.early  # type: ignore[misc]
        self.state.replace_photo(old, photo)
        face = photo.as_edited()
        if old_face is not None:
            self.state.replace_face(old_face, face)
        if self.editing is old:
            self.editing = photo
            self.show_photo(photo)
            self._refresh_after()
        self.early = (photo, face if old_face is not None else None)
        self.message.emit(f"Encoded {photo.name} (PSNR {self._early_psnr:.1f} -> "
                          f"{photo.psnr:.1f} dB)")
        self.photoRefined.emit(photo)

    def _failed(self, e: Exception) -> None:
        kind = getattr(e, "kind", "")
        name = Path(self.current[0]).name if self.current else "photo"
        if type(e).__name__ in ("PhotoError", "BundleError", "ExportCancelled"):
            msg = f"{name}: {e}"
        elif isinstance(e, Cancelled):
            msg = f"{name}: pivotal tuning cancelled"
        else:
            msg = f"{name}: could not encode ({type(e).__name__}: {e})"
        self.status.setText("")
        if self.early is not None:  # refinement failed: what is in place stays
            msg = (f"{name}: its latent-only fit failed, the refined encoding is kept ({e})"
                   if self._in_place else
                   f"{name}: refinement failed, the encoder's result is kept ({e})")
            self.early = None
        self._show_error(msg)
        self.photoFailed.emit(msg)
        self.largest_btn.setVisible(kind == "several_faces")
        self.whole_btn.setVisible(kind in ("no_face", "several_faces", "tiny_face"))
        self._finish_job()

    def _show_error(self, msg: str) -> None:
        self.last_error = msg
        self.error.setText(msg)
        self.error.show()
        self.progress.setValue(0)
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
        how = "pivotal tuning" if photo.tuned is not None else "fast encoding"
        self.psnr.setText(f"Reconstruction error: PSNR {photo.psnr:.1f} dB ({how})")
        self.bars.set_items(photo.top)

    def select(self, row: int) -> None:
        photo = self.state.photos[row]
        self.show_photo(photo)
        self.error.hide()
        self.largest_btn.hide()
        self.whole_btn.hide()
        self._edit(photo)
        self.status.setText(f"{photo.name}: the sliders now edit this photo.")

    def _canvas_changed(self) -> None:
        """Another face replaced the photo on the canvas: its status line no longer holds."""
        name = self.state.custom_label if self.state.custom_z is not None else None
        if self.job is None and not any(name == p.name for p in self.state.photos):
            self.status.setText("")

    def _edit(self, photo: Photo) -> None:
        """Make `photo` the face being edited (with its tuned weights or its detail)."""
        self.editing = photo
        self.state.load_face(photo.as_edited())
        can = photo.alignment is not None and bool(photo.path)
        self.after_btn.setEnabled(can)
        self.save_btn.setEnabled(can)
        self._refresh_after()

    def _editing_now(self) -> Photo | None:
        """The photo being edited, if the canvas still shows it."""
        p = self.editing
        if p is None or self.state.custom_label != p.name or self.state.custom_z is None:
            return None
        return p

    def show_edit_scores(self, face) -> None:
        """The classifier's reading of the first face as just drawn (connected to the canvas).

        Read at most every `SCORES_MS`, after the frame, with the newest face: classifying on
        the GUI thread inside each frame's delivery added its time to every slider frame."""
        if self._editing_now() is None or not self.state.bundle.can_score:
            self._scores_face = None
            self.edit_bars.set_items([])
            return
        self._scores_face = face
        if not self._scores_timer.isActive():
            self._scores_timer.start()

    def _read_edit_scores(self) -> None:
        """Read the newest face's scores on the thread pool (the scorer's face-recognition
        features take ~80 ms a face); while one reading runs, the newest face waits for it."""
        if self._scores_job is not None:
            return
        face, self._scores_face = self._scores_face, None
        if face is None or self._editing_now() is None:
            return
        bundle = self.state.bundle

        def run(progress, cancelled):
            return classifier_top(bundle, face)

        self._scores_job = workers.start(run, on_done=self._edit_scores_read,
                                         on_error=self._edit_scores_failed)

    def _edit_scores_read(self, top) -> None:
        self._scores_job = None
        if self._editing_now() is not None:
            self.edit_bars.set_items(top)
        if self._scores_face is not None and not self._scores_timer.isActive():
            self._scores_timer.start()

    def _edit_scores_failed(self, e: Exception) -> None:
        self._scores_job = None
        self.edit_bars.set_items([])
        self.status.setText(f"Could not score the edit: {e}")

    # The edit in the whole photo.
    def _photo_pixels(self, photo: Photo):
        from explorer.core.photos import load_photo

        if self._photo_cache is None or self._photo_cache[0] != photo.path:
            self._photo_cache = (photo.path, load_photo(photo.path))
        return self._photo_cache[1]

    def pasted(self, full_size: bool = True):
        """The photo being edited with the current edit pasted back (None when none is)."""
        from explorer.core.photo_edit import paste_edit

        p = self._editing_now()
        if p is None or p.alignment is None:
            return None
        img = self._photo_pixels(p)
        al = p.alignment
        if not full_size and max(img.shape[:2]) > PREVIEW_SIDE:
            import cv2

            k = PREVIEW_SIDE / max(img.shape[:2])
            al = al.scaled(k)
            img = cv2.resize(img, (al.photo_shape[1], al.photo_shape[0]),
                             interpolation=cv2.INTER_AREA)
        s = self.state
        return paste_edit(s.bundle, img, al, p.z, s.current_latent(), s.current_condition(),
                          s.current_detail(), s.current_tuned(), p.y)

    def _toggle_after(self, on: bool) -> None:
        self.after_btn.setText("The photo as it was" if on else "Edit in the photo")
        self._refresh_after()

    def _refresh_after(self) -> None:
        p = self._editing_now()
        if p is None or p.alignment is None:
            self.full.hide()
            return
        try:
            img = self.pasted(full_size=False) if self.after_btn.isChecked() else None
            if img is None:
                img = self._photo_pixels(p)
        except Exception as e:  # a moved or deleted photo: say so, lose nothing
            self.full.setText(f"{p.name}: cannot show the photo ({e})")
            self.full.show()
            return
        view = self.parentWidget()  # the tab's scroll viewport: what can be seen of the panel
        w = max(120, min(self.width(), view.width() if view is not None else self.width()) - 16)
        self.full.setPixmap(to_pixmap(img).scaled(
            w, w, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        self.full.show()

    def save_dialog(self) -> None:
        p = self._editing_now()
        if p is None:
            self._show_error("Load a photo to edit first.")
            return
        stem = Path(p.path).stem
        out, _ = QFileDialog.getSaveFileName(self, "Save edited photo",
                                             str(Path(p.path).with_name(f"{stem}_edited.jpg")),
                                             "JPEG (*.jpg);;PNG (*.png)")
        if out:
            self.save_to(out)

    def save_to(self, out: str) -> bool:
        """Write the edited photo (full size, upright, EXIF kept); errors shown in the panel."""
        from explorer.core.paste_back import save_like

        p = self._editing_now()
        try:
            img = self.pasted(full_size=True)
            if img is None or p is None:
                raise ValueError("no photo is being edited")
            save_like(img, out, original=p.path)
        except (OSError, ValueError) as e:
            self._show_error(f"Could not save the edited photo: {e}")
            return False
        self.message.emit(f"Saved the edited photo to {out}")
        return True

    def rebuild_list(self) -> None:
        self.keep_detail.blockSignals(True)  # a session brings its own setting
        self.keep_detail.setChecked(self.state.keep_detail)
        self.keep_detail.blockSignals(False)
        self.list.clear()
        for p in self.state.photos:
            item = self.list.add_face(p.name, p.z, p.recon, p.detail, p.y)
            if p.recon is None:  # reopened from a session: only the latent was saved
                self.state.draw_later(self.state.scene.request(p.z, [p.detail], True,
                                                               edit=False, tuned=[p.tuned],
                                                               y=[p.y]),
                                      lambda imgs, p=p, item=item: self._recon_drawn(p, item,
                                                                                     imgs[0]))

    def _recon_drawn(self, photo: Photo, item, recon: np.ndarray) -> None:
        """A reopened photo's reconstruction, drawn in the background, on the photo and its
        thumbnail."""
        photo.recon = recon
        self.list.show_images([item], recon[None])
