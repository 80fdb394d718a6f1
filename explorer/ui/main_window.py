"""The main window: assembles the panels (central canvas, sliders dock, tools tabs) and the menus.

It holds no editing logic: panels talk to the :class:`ExplorerState`; menu actions call panels.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QSize, QStandardPaths, Qt, QTimer
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QImage,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStyle,
    QTabWidget,
    QWidget,
)

from explorer.core.render import THREADS, RenderService
from explorer.ui import model_menu, prefs, workers
from explorer.ui.analogy_panel import AnalogyPanel
from explorer.ui.canvas_panel import CanvasPanel
from explorer.ui.favourites_panel import FavouritesPanel
from explorer.ui.help import HelpWindow, about_box, app_icon
from explorer.ui.images import to_qimage
from explorer.ui.interpolation_panel import InterpolationPanel
from explorer.ui.monitor_panel import MonitorPanel
from explorer.ui.photo_panel import PhotoPanel
from explorer.ui.scatter_panel import ScatterPanel
from explorer.ui.session_io import open_session, save_session_file
from explorer.ui.slider_panel import SliderPanel
from explorer.ui.state import ExplorerState
from explorer.ui.tooltips import TooltipWrapper


class ToolTabs(QTabWidget):
    """Tabs whose pages sit in frameless scroll areas, so each tool stays whole in a short or
    narrow dock (a 1024x640 laptop). ``currentWidget``/``setCurrentWidget`` speak of the panels."""

    def add_tool(self, w: QWidget, name: str, tip: str) -> None:
        area = QScrollArea()
        area.setWidget(w)
        area.setWidgetResizable(True)
        area.setFrameShape(QFrame.Shape.NoFrame)
        self.setTabToolTip(self.addTab(area, name), tip)

    def fit_width(self) -> None:
        """Wide enough for the widest tool and a vertical scroll bar: no sideways scrolling."""
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        widest = max(self.panel(i).minimumSizeHint().width() for i in range(self.count()))
        self.setMinimumWidth(widest + bar + 6)

    def panel(self, i: int) -> QWidget | None:
        area = self.widget(i)
        return area.widget() if isinstance(area, QScrollArea) else area

    def currentWidget(self) -> QWidget | None:  # noqa: N802 (Qt API)
        return self.panel(self.currentIndex())

    def setCurrentWidget(self, w: QWidget) -> None:  # noqa: N802 (Qt API)
        for i in range(self.count()):
            if self.panel(i) is w or self.widget(i) is w:
                self.setCurrentIndex(i)
                return


def fit_screen(win: QWidget, width: int, height: int) -> QSize:
    """The window's first size: ``width`` x ``height``, or less on a smaller screen."""
    screen = win.screen() or QApplication.primaryScreen()
    if screen is None:
        return QSize(width, height)
    avail = screen.availableGeometry()
    return QSize(min(width, avail.width()), min(height, avail.height()))


AUTOSAVE_MS = 60_000  # unsaved work is written to the autosave folder this often


def autosave_folder() -> Path:
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base or Path.home() / ".local" / "share" / "face-explorer") / "autosave"


def crashed_autosaves(folder: Path) -> list[Path]:
    """Autosaves left by windows that did not close (their process is gone), newest first."""
    from facegan.files import pid_alive

    found = []
    for p in folder.glob("autosave-*.json"):
        pid = p.stem.removeprefix("autosave-")
        if pid.isdigit() and not pid_alive(int(pid)):
            found.append(p)
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def install_error_hook(window: MainWindow) -> None:
    """Errors raised inside Qt slots reach sys.excepthook (PySide prints them there): show them
    in the window too, not only on stderr."""
    import sys
    import traceback

    def hook(kind, value, tb) -> None:
        traceback.print_exception(kind, value, tb)
        try:
            window.show_error(f"Something went wrong: {kind.__name__}: {value}")
        except RuntimeError:  # the window is gone
            pass

    sys.excepthook = hook


def remove_session_files(path: Path) -> None:
    from explorer.core.session import arrays_files

    for f in [path, *arrays_files(path)]:
        f.unlink(missing_ok=True)


class MainWindow(QMainWindow):
    """The face-explorer window for one model.

    Parameters
    ----------
    bundle
        The loaded model.
    sync
        Render and run long jobs synchronously where possible (tests, benchmark).
    interval_ms
        Slider throttle interval.
    """

    def __init__(self, bundle, sync: bool = False, interval_ms: int = 16,
                 service: RenderService | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bundle = bundle
        self.setWindowTitle(f"Face explorer — {bundle.name}")
        self.setWindowIcon(app_icon())
        if QApplication.windowIcon().isNull():  # dialogs (file, input, message) use it too
            QApplication.setWindowIcon(app_icon())
        self.help_window: HelpWindow | None = None
        self.setAcceptDrops(True)
        self.service = service or RenderService(bundle, threads=THREADS)
        self._own_service = service is None
        self.state = ExplorerState(bundle, self, self.service)
        self.settings = prefs.settings()

        self.canvas = CanvasPanel(self.state, self.service, sync=sync)
        self.sliders = SliderPanel(self.state, interval_ms)
        # The readout's classification waits while the canvas draws a frame (two cores).
        self.sliders.readout.wait_for = lambda: not self.canvas.renderer.idle()
        self.canvas.canvas.painted.connect(lambda _: self.sliders.readout.kick())
        self.canvas.renderer.failed.connect(lambda _: self.sliders.readout.kick())
        self.sliders.dragging.connect(self.canvas.set_dragging)
        self.photos = PhotoPanel(self.state)
        self.interpolation = InterpolationPanel(self.state)
        self.analogy = AnalogyPanel(self.state)
        self.scatter = ScatterPanel(self.state)
        self.favourites = FavouritesPanel(self.state)
        self.monitor = MonitorPanel()

        self.central = QTabWidget()
        self.central.addTab(self.canvas, "Faces")
        self.central.addTab(self.monitor, "Training monitor")
        self.central.setTabToolTip(1, "Watch a training run's curves and samples")
        self.setCentralWidget(self.central)
        self.tools = ToolTabs()
        self.tools.setUsesScrollButtons(True)
        for w, name, tip in (
            (self.photos, "Photos", "Drop photos to encode and edit them"),
            (self.interpolation, "Interpolation", "Walk between faces; export a video"),
            (self.analogy, "Analogy", "A − B + C"),
            (self.scatter, "Scatter", "PCA / t-SNE map of the model's faces and your photos"),
            (self.favourites, "Favourites", "Starred faces"),
        ):
            self.tools.add_tool(w, name, tip)
        self.tools.fit_width()
        self.scatter.bigToggled.connect(self.show_scatter_big)
        self._dock("Tools", self.tools, Qt.DockWidgetArea.LeftDockWidgetArea, 420)
        self._dock("Attributes", self.sliders, Qt.DockWidgetArea.RightDockWidgetArea, 370)

        self.stats = QLabel("")
        self.statusBar().addPermanentWidget(self.stats)
        self.canvas.stats.connect(
            lambda ms, fps: self.stats.setText(f"render {ms:.1f} ms · {fps:.0f} fps"))
        self.state.message.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self.photos.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.canvas.failed.connect(lambda m: self.statusBar().showMessage(m, 15000))
        assert self.state.background is not None
        self.state.background.failed.connect(
            lambda m: self.statusBar().showMessage(f"Could not draw a thumbnail: {m}", 15000))
        self.canvas.firstFace.connect(self.photos.show_edit_scores)
        self._menus()
        self._tips = TooltipWrapper(self)
        QApplication.instance().installEventFilter(self._tips)
        self.resize(fit_screen(self, 1366, 740))
        self.canvas.refresh()

        # Unsaved work: the title's [*], a question before quitting, an autosave to restore.
        self.setWindowTitle(f"Face explorer — {bundle.name}[*]")
        self.session_path: Path | None = None
        self._saved_revision = self.state.revision
        self.autosave_path = autosave_folder() / f"autosave-{os.getpid()}.json"
        self._autosaved_revision = self.state.revision
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()
        self.state.changed.connect(self._mark_modified)

    def _dock(self, title: str, w: QWidget, area: Qt.DockWidgetArea, width: int) -> None:
        d = QDockWidget(title, self)
        d.setObjectName(title)
        d.setWidget(w)
        d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                      | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, d)
        self.resizeDocks([d], [width], Qt.Orientation.Horizontal)

    def _action(self, menu, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        a.setStatusTip(tip or text)
        a.setToolTip(tip or text)
        a.triggered.connect(slot)
        menu.addAction(a)
        return a

    def _menus(self) -> None:
        mb = self.menuBar()
        f = mb.addMenu("&File")
        self._action(f, "Open photo…", self.photos.open_dialog, QKeySequence.StandardKey.Open,
                     "Encode a photo and edit it")
        self._action(f, "Open session…", self.open_session_dialog, "Ctrl+Shift+O")
        self._action(f, "Open model…", self.open_model_dialog, "Ctrl+Shift+M",
                     "Open another model file in a new window")
        self.models_menu = f.addMenu("Models")
        self.models_menu.setToolTipsVisible(True)
        self.models_menu.aboutToShow.connect(lambda: model_menu.fill_models_menu(
            self.models_menu, self.bundle.path, self.open_model))
        self._action(f, "Save session…", self.save_session_dialog, QKeySequence.StandardKey.Save)
        self.recent_menu = f.addMenu("Recent sessions")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        f.addSeparator()
        self._action(f, "Export PNG…", self.export_png_dialog, "Ctrl+E",
                     "Save the faces on the canvas as a PNG (upscaled if you like)")
        self._action(f, "Save edited photo…", self.photos.save_dialog, "Ctrl+Shift+S",
                     "Save the photo being edited at its own size, the edit pasted back in")
        self._action(f, "Export video…", self.interpolation.export_dialog, "Ctrl+Shift+E",
                     "Export the interpolation as MP4 / WebM / GIF")
        f.addSeparator()
        self._action(f, "Quit", self.close, "Ctrl+Q")  # StandardKey.Quit is empty on some platforms
        e = mb.addMenu("&Edit")
        undo = self.state.undo_stack.createUndoAction(self, "Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        redo = self.state.undo_stack.createRedoAction(self, "Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        e.addAction(undo)
        e.addAction(redo)
        self.undo_action, self.redo_action = undo, redo
        e.addSeparator()
        self._action(e, "Copy image", self.copy_image, QKeySequence.StandardKey.Copy,
                     "Copy the faces on the canvas to the clipboard")
        self._action(e, "Star current face", lambda: self.state.add_favourite(), "Ctrl+D")
        self._action(e, "Find attribute", self._focus_filter, QKeySequence.StandardKey.Find)
        h = mb.addMenu("&Help")
        self._action(h, "Guide", lambda: self.show_help("guide"), "F1",
                     "A short guide to the window")
        self._action(h, "Keyboard shortcuts", lambda: self.show_help("shortcuts"))
        h.addSeparator()
        self._action(h, "About Face explorer", self.about_app, tip="Version")
        self._action(h, "About this model", self.about_model, tip="Name and provenance")

    def show_scatter_big(self, on: bool) -> None:
        """Move the scatter map into the central area (a tab beside the faces), or back."""
        area = next(self.tools.widget(i) for i in range(self.tools.count())
                    if self.tools.panel(i) is self.scatter
                    or getattr(self.tools.panel(i), "stands_for", None) is self.scatter)
        in_central = self.central.indexOf(self.scatter) >= 0
        if on and not in_central:
            area.takeWidget()
            note = QLabel("The scatter map is in the big area (its tab beside Faces); "
                          "press Big there to bring it back.")
            note.setWordWrap(True)
            note.stands_for = self.scatter
            area.setWidget(note)
            i = self.central.addTab(self.scatter, "Scatter")
            self.central.setCurrentIndex(i)
            self.tools.setCurrentIndex(0)  # the dock shows a tool again, not the note
        elif not on and in_central:
            self.central.removeTab(self.central.indexOf(self.scatter))
            note = area.takeWidget()
            if note is not None:
                note.deleteLater()
            area.setWidget(self.scatter)
            self.scatter.show()
            self.tools.setCurrentWidget(self.scatter)
        self.scatter.big.blockSignals(True)
        self.scatter.big.setChecked(on)
        self.scatter.big.blockSignals(False)

    # Actions.
    def _focus_filter(self) -> None:
        self.sliders.filter.setFocus()
        self.sliders.filter.selectAll()

    def output_image(self, size: int | None = None) -> QImage | None:
        """The canvas faces as an image ``size`` px wide (smoothly scaled), or as drawn."""
        img = self.canvas.current_image()
        if img is None:
            return None
        q = to_qimage(img)
        if size and size != q.width():
            q = q.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                         Qt.TransformationMode.SmoothTransformation)
        return q

    def copy_image(self) -> None:
        """Copy the faces at the last image size chosen (512 px until one is chosen)."""
        q = self.output_image(prefs.size_px(prefs.output_size("image")))
        if q is not None:
            QApplication.clipboard().setImage(q)
            self.statusBar().showMessage(f"Image copied ({q.width()} px)", 3000)

    def export_png(self, path: str | Path, size: int | None = None) -> Path:
        q = self.output_image(size)
        if q is None:
            raise RuntimeError("nothing rendered yet")
        if not q.save(str(path)):
            raise OSError(f"could not write {path}")
        return Path(path)

    def export_png_dialog(self) -> None:
        sizes = list(prefs.OUTPUT_SIZES)
        size, ok = QInputDialog.getItem(
            self, "Export PNG", "Size (px; larger than the model is upscaled smoothly)", sizes,
            sizes.index(prefs.output_size("image")), False)
        if not ok:
            return
        prefs.set_output_size("image", size)
        path, _ = QFileDialog.getSaveFileName(self, "Export PNG", prefs.start_path("faces.png"),
                                              "PNG (*.png)")
        if path:
            prefs.remember(path)
            try:
                self.export_png(path, prefs.size_px(size))
                self.statusBar().showMessage(f"Saved {path}", 5000)
            except Exception as e:
                QMessageBox.warning(self, "Export PNG", str(e))

    def save_session_dialog(self) -> bool:
        start = str(self.session_path) if self.session_path else prefs.start_path("session.json")
        path, _ = QFileDialog.getSaveFileName(self, "Save session", start, "Session (*.json)")
        if not path:
            return False
        prefs.remember(path)
        return self.save_session(path)

    def save_session(self, path: str | Path) -> bool:
        try:
            save_session_file(path, self.state)
        except Exception as e:
            QMessageBox.warning(self, "Save session", f"Could not save the session: {e}")
            return False
        self._add_recent(str(path))
        self.session_path = Path(path)
        self._mark_saved()
        self.statusBar().showMessage(f"Session saved to {path}", 5000)
        return True

    # Unsaved work.
    def unsaved(self) -> bool:
        """True when something a session saves changed since the last save or open."""
        return self.state.revision != self._saved_revision

    def _mark_modified(self) -> None:
        """The title's unsaved mark; set only when it changes (every slider move lands here)."""
        unsaved = self.unsaved()
        if unsaved != self.isWindowModified():
            self.setWindowModified(unsaved)

    def _mark_saved(self) -> None:
        self._saved_revision = self.state.revision
        self.setWindowModified(False)

    def autosave(self) -> Path | None:
        """Write unsaved work to this window's autosave file (a crash loses a minute at most)."""
        if not self.unsaved() or self.state.revision == self._autosaved_revision:
            return None
        try:
            save_session_file(self.autosave_path, self.state)
        except Exception as e:
            self.statusBar().showMessage(f"Autosave failed: {e}", 8000)
            return None
        self._autosaved_revision = self.state.revision
        return self.autosave_path

    def ask_restore(self, path: Path) -> bool:
        if QApplication.platformName() == "offscreen":
            return False  # nobody to ask; the file is kept for a window that can
        answer = QMessageBox.question(
            self, "Restore unsaved work",
            "Face explorer did not close properly last time. Restore the work it autosaved "
            f"({Path(path).name})?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def offer_restore(self) -> bool:
        """After a crash: offer the newest autosave left behind; True when it was restored.
        Whatever the answer, the crashed windows' autosaves are then removed."""
        found = crashed_autosaves(self.autosave_path.parent)
        if not found:
            return False
        other = model_menu.session_model(found[0], self.state.bundle.path)
        if other is not None:  # work on another model: a window on it offers the restore
            if model_menu.open_in_new_window(other):
                self.statusBar().showMessage(
                    f"Work autosaved before a crash was on {other.name}: a window on it offers "
                    "to restore it", 10000)
            return False
        if not self.ask_restore(found[0]):
            return False
        err = open_session(found[0], self.state)
        if err:
            QMessageBox.warning(self, "Restore unsaved work", err)
            return False
        for f in found:
            remove_session_files(f)
        self.autosave()  # the restored work is this window's unsaved work now
        self.statusBar().showMessage("Restored the work autosaved before the crash; save it "
                                     "to keep it", 10000)
        return True

    def ask_unsaved(self) -> str:
        """'save', 'discard' or 'cancel' for closing with unsaved work."""
        if QApplication.platformName() == "offscreen":
            return "discard"  # a headless run has nobody to ask (the autosave is removed too)
        answer = QMessageBox.question(
            self, "Unsaved work", "Save this session before closing?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Save)
        return {QMessageBox.StandardButton.Save: "save",
                QMessageBox.StandardButton.Discard: "discard"}.get(answer, "cancel")

    def show_error(self, msg: str) -> None:
        """A failure the user must see (a render, an action that raised): in the status bar and
        on the canvas, never only on stderr."""
        self.statusBar().showMessage(msg, 15000)
        self.canvas.show_error(msg)

    def open_session_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open session", prefs.start_path(),
                                              "Session (*.json)")
        if path:
            prefs.remember(path)
            self.open_session(path)

    def open_session(self, path: str | Path) -> bool:
        """Load a session here; one saved with another model that is still there opens in a
        window of its own on that model instead (this window's work stays)."""
        err = open_session(path, self.state)
        if err:
            other = model_menu.session_model(path, self.state.bundle.path)
            if other is not None and model_menu.open_in_new_window(other, session=path):
                self.statusBar().showMessage(
                    f"{Path(path).name} was saved with {other.name}: it opens in a window of "
                    "its own", 10000)
                return False
            QMessageBox.warning(self, "Open session", err)
            return False
        self._add_recent(str(path))
        self.session_path = Path(path)
        self._mark_saved()
        return True

    def _add_recent(self, path: str) -> None:
        items = [p for p in self._recent() if p != path]
        self.settings.setValue("recent", json.dumps([path] + items[:7]))

    def _recent(self) -> list[str]:
        try:
            return list(json.loads(str(self.settings.value("recent", "[]"))))
        except (json.JSONDecodeError, TypeError):
            return []

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in self._recent():
            self.recent_menu.addAction(p, lambda p=p: self.open_session(p))
        if not self.recent_menu.actions():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def about_text(self) -> str:
        b = self.bundle
        prov = b.meta.get("provenance", {}) or {}
        lines = [f"<b>{b.name}</b> — {b.kind}, {b.resolution}×{b.resolution} px, "
                 f"latent size {b.nz}, {len(b.attribute_names)} attributes",
                 f"<br>File: {b.path}"]
        if b.cond_attributes:
            lines.append(f"<br>Conditioned on: {', '.join(b.cond_attributes)}")
        for k, v in prov.items():
            lines.append(f"<br>{k}: {v if not isinstance(v, (dict, list)) else json.dumps(v)}")
        if b.meta.get("step") is not None:
            lines.append(f"<br>Training step: {b.meta['step']}")
        return "".join(lines)

    def show_help(self, page: str = "guide") -> None:
        if self.help_window is None:
            self.help_window = HelpWindow(self)
        self.help_window.show_page(page)

    def about_app(self) -> None:
        self._about = about_box(self, self.bundle.name)
        self._about.open()  # window-modal, does not block

    def about_model(self) -> None:
        QMessageBox.about(self, "About this model", self.about_text())

    # Other models open in windows of their own.
    def open_model_dialog(self) -> None:
        path = model_menu.ask_model(self)
        if path is not None:
            self.open_model(path)

    def open_model(self, path: str | Path) -> bool:
        """Open the model file `path` in a new window; this one keeps its work."""
        ok = model_menu.open_in_new_window(path)
        self.statusBar().showMessage(f"Opening {Path(path).name} in a new window…" if ok else
                                     f"Could not start a window for {Path(path).name}", 5000)
        return ok

    # Drops anywhere on the window go to the photo panel.
    def dragEnterEvent(self, e: QDragEnterEvent) -> None:  # noqa: N802 (Qt API)
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dropEvent(self, e: QDropEvent) -> None:  # noqa: N802
        paths = [u.toLocalFile() for u in e.mimeData().urls() if u.isLocalFile()]
        models = [p for p in paths if p.lower().endswith(".safetensors")]
        for model in models:
            self.open_model(model)  # a model file dropped: it opens in a window of its own
        paths = [p for p in paths if p not in models]
        if paths:
            self.central.setCurrentWidget(self.canvas)
            self.tools.setCurrentWidget(self.photos)
            self.photos.open_paths(paths)
        if paths or models:
            e.acceptProposedAction()

    def closeEvent(self, e: QCloseEvent) -> None:  # noqa: N802
        if self.unsaved():
            choice = self.ask_unsaved()
            if choice == "cancel" or (choice == "save" and not self.save_session_dialog()):
                e.ignore()
                return
        self.autosave_timer.stop()
        remove_session_files(self.autosave_path)  # a clean close: nothing to restore
        QApplication.instance().removeEventFilter(self._tips)
        self.monitor.stop()
        self.interpolation.stop()
        workers.cancel_all()
        if self._own_service:
            self.service.close()
        super().closeEvent(e)
