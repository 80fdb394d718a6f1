"""Interpolation: a keyframe strip, lerp/slerp walk played in the canvas, and video export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListView,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from explorer.core.interpolation import interpolate, interpolate_conditions, interpolate_details
from explorer.ui import pick_dialog, prefs, workers
from explorer.ui.face_list import LABEL_ROLE, FaceList
from explorer.ui.images import condition_from_mime, detail_from_mime, latent_from_mime
from explorer.ui.state import ExplorerState

VIDEO_FILTER = "MP4 video (*.mp4);;WebM video (*.webm);;Animated GIF (*.gif)"


class KeyframeList(FaceList):
    """The keyframe strip; also accepts faces dragged from other panels."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(56, parent)
        self.setAcceptDrops(True)
        self.on_drop = None  # (z, label, detail or None, condition or None) -> None
        self.detail_shape: tuple[int, ...] = ()
        self.n_cond = 0

    def dragEnterEvent(self, e: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if latent_from_mime(e.mimeData()) is not None and e.source() is not self:
            e.acceptProposedAction()
        else:
            super().dragEnterEvent(e)

    def dragMoveEvent(self, e) -> None:  # noqa: N802
        if latent_from_mime(e.mimeData()) is not None and e.source() is not self:
            e.acceptProposedAction()
        else:
            super().dragMoveEvent(e)

    def dropEvent(self, e: QDropEvent) -> None:  # noqa: N802
        z = latent_from_mime(e.mimeData())
        if z is not None and e.source() is not self and self.on_drop is not None:
            self.on_drop(z, e.mimeData().text(),
                         detail_from_mime(e.mimeData(), self.detail_shape),
                         condition_from_mime(e.mimeData(), self.n_cond))
            e.acceptProposedAction()


class InterpolationPanel(QWidget):
    """Build a walk between keyframes, play it in the canvas, export it as a video.

    Parameters
    ----------
    state
        The shared state (keyframes are taken from its faces, favourites and photos).
    """

    exported = Signal(str)
    exportFailed = Signal(str)

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.keys = KeyframeList(self)
        self.keys.on_drop = self.add_keyframe
        self.keys.detail_shape = tuple(state.bundle.detail_shape)
        self.keys.n_cond = state.bundle.n_cond
        self.keys.setFlow(QListView.Flow.LeftToRight)
        self.keys.setWrapping(False)
        self.keys.setFixedHeight(104)
        self.keys.setToolTip("Keyframes of the walk (drop faces here; double-click to edit one)")
        self.add_current = QPushButton("Add current")
        self.add_current.setToolTip("Append the current (edited) face as a keyframe (Ctrl+K)")
        self.add_current.setShortcut("Ctrl+K")
        self.add_favs = QPushButton("Add favourites")
        self.add_favs.setToolTip("Choose favourites to append as keyframes")
        self.add_photos = QPushButton("Add photos")
        self.add_photos.setToolTip("Choose encoded photos to append as keyframes")
        self.remove = QPushButton("Remove")
        self.remove.setToolTip("Remove the selected keyframe")
        self.clear = QPushButton("Clear")
        self.clear.setToolTip("Remove every keyframe")
        self.mode = QComboBox()
        self.mode.addItems(["slerp", "lerp"])
        self.mode.setToolTip("slerp follows the sphere where Gaussian latents live; lerp is a "
                             "straight line")
        self.easing = QComboBox()
        self.easing.addItems(["linear", "ease-in-out"])
        self.easing.setToolTip("Pace of the walk between two keyframes")
        self.frames = QSpinBox()
        self.frames.setRange(2, 2000)
        self.frames.setValue(60)
        self.frames.setToolTip("Total number of frames of the walk")
        self.loop = QCheckBox("Loop")
        self.loop.setToolTip("Return from the last keyframe to the first")
        self.fps = QSpinBox()
        self.fps.setRange(1, 60)
        self.fps.setValue(24)
        self.fps.setToolTip("Frames per second when playing and exporting")
        self.size = QComboBox()
        self.size.addItems(list(prefs.OUTPUT_SIZES))
        self.size.setCurrentText(prefs.output_size("video"))
        self.size.setToolTip("Video size in pixels (larger than the model is upscaled smoothly); "
                             "remembered for next time")
        self.play = QPushButton("▶ Play")
        self.play.setCheckable(True)
        self.play.setToolTip("Play the walk in the canvas (Ctrl+P)")
        self.play.setShortcut("Ctrl+P")
        self.export_btn = QPushButton("Export video…")
        self.export_btn.setToolTip("Write the walk as MP4, WebM or GIF (Ctrl+Shift+E)")
        self.info = QLabel("Add two or more keyframes.")
        self.info.setWordWrap(True)

        b1 = QHBoxLayout()
        for b in (self.add_current, self.add_favs, self.add_photos):
            b1.addWidget(b)
        b2 = QHBoxLayout()
        for b in (self.remove, self.clear):
            b2.addWidget(b)
        b2.addStretch(1)
        form = QFormLayout()
        form.addRow("Path", self.mode)
        form.addRow("Easing", self.easing)
        form.addRow("Frames", self.frames)
        form.addRow("", self.loop)
        form.addRow("FPS", self.fps)
        form.addRow("Video size", self.size)
        b3 = QHBoxLayout()
        b3.addWidget(self.play)
        b3.addWidget(self.export_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(QLabel("Keyframes"))
        lay.addWidget(self.keys)
        lay.addLayout(b1)
        lay.addLayout(b2)
        lay.addLayout(form)
        lay.addLayout(b3)
        lay.addWidget(self.info)
        lay.addStretch(1)

        self.timer = QTimer(self)
        self.timer.timeout.connect(self._tick)
        self._walk: np.ndarray | None = None
        self._walk_details: np.ndarray | None = None
        self._walk_y: np.ndarray | None = None
        self._frame = 0
        self.job: workers.Job | None = None
        self.dialog: QProgressDialog | None = None
        self.add_current.clicked.connect(lambda: self.add_keyframe(
            state.current_latent(), state.current_name(), state.current_detail(),
            state.current_condition()))
        self.add_favs.clicked.connect(lambda: self._add_some("favourites", state.favourites))
        self.add_photos.clicked.connect(lambda: self._add_some("photos", state.photos))
        self.remove.clicked.connect(lambda: self.keys.takeItem(self.keys.currentRow()))
        self.clear.clicked.connect(self.keys.clear)
        self.play.toggled.connect(self._play)
        self.export_btn.clicked.connect(self.export_dialog)
        self.size.currentTextChanged.connect(lambda t: prefs.set_output_size("video", t))
        self.keys.itemDoubleClicked.connect(
            lambda it: state.load_latent(self.keys.latent(self.keys.row(it)),
                                         str(it.data(LABEL_ROLE)),
                                         detail=self.keys.detail(self.keys.row(it)),
                                         y=self.keys.condition(self.keys.row(it))))
        # Keyframes and settings are part of the session, and unsaved work when they change.
        state.register_session_part("interpolation", self.session_data, self.restore_session)
        model = self.keys.model()
        for sig in (model.rowsInserted, model.rowsRemoved, model.modelReset):
            sig.connect(lambda *_: state.mark_changed())
        for w in (self.mode, self.easing, self.size):
            w.currentIndexChanged.connect(lambda *_: state.mark_changed())
        for w in (self.frames, self.fps):
            w.valueChanged.connect(lambda *_: state.mark_changed())
        self.loop.toggled.connect(lambda *_: state.mark_changed())

    def _add_some(self, what: str, faces: list) -> None:
        """Ask which of the photos (or favourites) to add, all ticked to start."""
        if not faces:
            self.info.setText(f"No {what} yet.")
            return
        rows = pick_dialog.pick(self, f"Add {what}", f"Add these {what} as keyframes, in order:",
                                [f.name for f in faces])
        for i in rows:
            self.add_keyframe(faces[i].z, faces[i].name, faces[i].detail, faces[i].y)

    def add_keyframe(self, z: np.ndarray, label: str, detail: np.ndarray | None = None,
                     y: np.ndarray | None = None) -> None:
        """Append a face; a photo's detail and a face's condition come along (it is drawn as it
        was)."""
        y = self.state.scene.fitting_condition(y)
        item = self.keys.add_face(label, z, None, detail, y)
        self.state.draw_later(self.state.scene.request(z, [detail], edit=False, y=[y]),
                              lambda imgs: self.keys.show_images([item], imgs))
        self.info.setText(f"{self.keys.count()} keyframes.")

    # Sessions.
    def session_data(self) -> dict:
        """Keyframes (label, latent, photo detail, condition) and the walk's settings."""
        from explorer.ui.face_list import LABEL_ROLE

        return {
            "keyframes": [{"label": str(self.keys.item(i).data(LABEL_ROLE)),
                           "z": self.keys.latent(i), "detail": self.keys.detail(i),
                           "y": self.keys.condition(i)}
                          for i in range(self.keys.count())],
            "mode": self.mode.currentText(), "easing": self.easing.currentText(),
            "frames": self.frames.value(), "loop": self.loop.isChecked(),
            "fps": self.fps.value(), "size": self.size.currentText(),
        }

    def restore_session(self, d: dict) -> None:
        """Put saved keyframes and settings back ({}: an older session without them)."""
        self.stop()
        self.keys.clear()
        for k in d.get("keyframes", []) or []:
            self.add_keyframe(np.asarray(k["z"], np.float32).reshape(-1),
                              str(k.get("label", "keyframe")),
                              self.state.scene.fitting_detail(k.get("detail")), k.get("y"))
        for combo, key in ((self.mode, "mode"), (self.easing, "easing"), (self.size, "size")):
            if str(d.get(key)) in [combo.itemText(i) for i in range(combo.count())]:
                combo.setCurrentText(str(d[key]))
        for box, key in ((self.frames, "frames"), (self.fps, "fps")):
            if isinstance(d.get(key), int) and not isinstance(d.get(key), bool):
                box.setValue(d[key])
        self.loop.setChecked(bool(d.get("loop", False)))
        self.info.setText(f"{self.keys.count()} keyframes." if self.keys.count()
                          else "Add two or more keyframes.")

    def walk(self) -> np.ndarray:
        """(frames, nz) latents of the walk (no slider edits)."""
        keys = self.keys.latents()
        if len(keys) < 2:
            raise ValueError("add at least two keyframes")
        return interpolate(keys, self.frames.value(), mode=self.mode.currentText(),
                           loop=self.loop.isChecked(), easing=self.easing.currentText())

    def walk_details(self) -> np.ndarray | None:
        """(frames, *detail_shape) photo details along the walk, or None (no photo keyframe)."""
        return interpolate_details([self.keys.detail(i) for i in range(self.keys.count())],
                                   self.frames.value(), loop=self.loop.isChecked(),
                                   easing=self.easing.currentText())

    def walk_conditions(self) -> np.ndarray | None:
        """(frames, n_cond) the keyframes' own conditions along the walk, or None (a model
        without one)."""
        return interpolate_conditions([self.keys.condition(i) for i in range(self.keys.count())],
                                      self.frames.value(), loop=self.loop.isChecked(),
                                      easing=self.easing.currentText())

    # Playback in the canvas.
    def _play(self, on: bool) -> None:
        if not on:
            self.stop()
            return
        try:
            self._walk, self._walk_details = self.walk(), self.walk_details()
            self._walk_y = self.walk_conditions()
        except ValueError as e:
            self.info.setText(str(e).capitalize() + ".")
            self.play.setChecked(False)
            return
        self._frame = 0
        self.play.setText("■ Stop")
        self.timer.start(int(1000 / self.fps.value()))

    def _tick(self) -> None:
        if self._walk is None:
            return
        i = self._frame % len(self._walk)
        self.state.set_preview(self._walk[i],
                               None if self._walk_details is None else self._walk_details[i],
                               None if self._walk_y is None else self._walk_y[i])
        self._frame += 1
        if self._frame >= len(self._walk) and not self.loop.isChecked():
            self.stop()

    def stop(self) -> None:
        self.timer.stop()
        self._walk = self._walk_details = self._walk_y = None
        self.play.blockSignals(True)
        self.play.setChecked(False)
        self.play.blockSignals(False)
        self.play.setText("▶ Play")
        if self.state.preview_z is not None:
            self.state.set_preview(None)

    # Export.
    def export_dialog(self) -> None:
        if self.keys.count() < 2:
            QMessageBox.information(self, "Export video", "Add at least two keyframes first.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export video", prefs.start_path("walk.mp4"),
                                              VIDEO_FILTER)
        if path:
            prefs.remember(path)
            self.export(path)

    def export(self, path: str | Path, show_progress: bool = True) -> workers.Job | None:
        """Render the walk (with the current slider edits) and write it in the background."""
        from explorer.core.video import export_video

        try:
            # the sliders' edits (y sliders and their correction too), applied once
            z, y = self.state.scene.edited(self.walk(), self.walk_conditions())
            details = self.walk_details()
        except ValueError as e:
            self.exportFailed.emit(str(e))
            return None
        scene, state = self.state.scene, self.state
        size = prefs.size_px(self.size.currentText())
        fps = self.fps.value()
        photo = details is not None  # a walk through a photo is drawn at ψ 1 all along
        # The requests are made here, on the GUI thread, from the scene as it is now; the pool
        # thread waits for each batch from the render service's background lane.
        reqs = [scene.request(z[i : i + 8], None if details is None else details[i : i + 8],
                              photo, edit=False, y=None if y is None else y[i : i + 8])
                for i in range(0, len(z), 8)]

        def frames():
            for req in reqs:
                yield from state.draw_in_background(req)

        def run(progress, cancelled):
            return export_video(frames(), path, fps=fps, size=size, progress=progress,
                                cancel=cancelled, n_frames=len(z))

        if show_progress:
            self.dialog = QProgressDialog(f"Writing {Path(path).name}…", "Cancel", 0, 100, self)
            self.dialog.setWindowTitle("Export video")
            self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
            self.dialog.setMinimumDuration(300)
            self.dialog.setValue(0)
        self.job = workers.start(run, on_done=self._exported, on_error=self._export_failed,
                                 on_progress=self._progress)
        if self.dialog is not None:
            self.dialog.canceled.connect(self.job.cancel)
        return self.job

    def _progress(self, f: float) -> None:
        if self.dialog is not None:
            self.dialog.setValue(round(100 * f))

    def _close_dialog(self) -> None:
        if self.dialog is not None:
            self.dialog.reset()
            self.dialog.deleteLater()
            self.dialog = None
        self.job = None

    def _exported(self, path) -> None:
        self._close_dialog()
        self.info.setText(f"Saved {path}")
        self.exported.emit(str(path))

    def _export_failed(self, e: Exception) -> None:
        self._close_dialog()
        msg = "Export cancelled." if type(e).__name__ == "ExportCancelled" else \
            f"Export failed: {e}"
        self.info.setText(msg)
        self.exportFailed.emit(msg)
