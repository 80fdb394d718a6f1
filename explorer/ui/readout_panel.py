"""The live attribute readout under the sliders: the classifier's view of the edited face.

Each change of the faces asks for a readout of the first face; the classification runs on the
thread pool, one at a time, and only the newest request waiting is run next (at most one every
``GAP_MS`` after the last, so it never crowds out the canvas's own renders during a drag), so a
drag is followed without queueing up stale work (``explorer.core.readout``). While the canvas
has a frame of its own being drawn (`wait_for`), a readout waits for it to be painted (`kick`): on
two cores a classification running beside the canvas's render slows that frame, which is the
slider-to-pixels latency a user feels.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QVBoxLayout, QWidget

from explorer.core.readout import Readout, readout
from explorer.ui import workers
from explorer.ui.state import ExplorerState

GAP_MS = 80  # rest between two readouts while a drag goes on


def _pct(p: float) -> str:
    return f"{100 * p:.0f}%"


class ReadoutPanel(QWidget):
    """Target attribute before → after, and the attributes the edit moves most."""

    updated = Signal(object)  # the Readout now shown

    def __init__(self, state: ExplorerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.title = QLabel("What the classifier sees")
        self.title.setStyleSheet("color: gray; font-weight: bold;")
        from explorer.core.classify import scorer_label

        self.title.setToolTip(f"The probabilities of {scorer_label(state.bundle)} for the first "
                              "face as edited, against the same face unedited; updated while you "
                              "drag")
        self.rows = QGridLayout()
        self.rows.setVerticalSpacing(1)
        self.rows.setContentsMargins(0, 0, 0, 0)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        lay.addWidget(self.title)
        lay.addLayout(self.rows)
        self.current: Readout | None = None
        self.target: str | None = None
        self.job: workers.Job | None = None
        self._pending = False
        self._gap = QTimer(self)
        self._gap.setSingleShot(True)
        self._gap.setInterval(GAP_MS)
        self._gap.timeout.connect(self.kick)
        self.wait_for: Callable[[], bool] | None = None  # True while the canvas draws a frame
        self._alphas = dict(state.alphas)
        self.worker_threads: set[int] = set()  # where readouts were computed (tests)
        self.setVisible(bool(state.bundle.can_score))
        if state.bundle.can_score:
            state.renderChanged.connect(self.request)
            self.request()

    def request(self) -> None:
        """Ask for a readout of the faces as they are now (coalesced while one runs)."""
        if self.state.preview is not None:
            return  # a walk playing in the canvas: the edited face itself has not changed
        changed = [k for k, v in self.state.alphas.items() if self._alphas.get(k, 0.0) != v]
        if changed:
            self.target = changed[-1]
        if self.target is not None and not self.state.alphas.get(self.target):
            self.target = None  # its slider is back at 0: nothing to follow
        self._alphas = dict(self.state.alphas)
        self._pending = True
        # Decided once the change's other listeners (the canvas's request) have run.
        QTimer.singleShot(0, self, self.kick)

    def kick(self) -> None:
        """Start the waiting readout if nothing holds it: one running, the rest after the last
        one, or the canvas drawing a frame (the window kicks again when it is painted)."""
        if not self._pending or self.job is not None or self._gap.isActive():
            return
        if self.wait_for is not None and self.wait_for():
            return
        self._start()

    def _start(self) -> None:
        scene = self.state.scene
        # Immutable requests built here; only drawing and classifying run on the pool.
        edited = scene.canvas_request()
        face = scene.face
        base_y = scene.base_conditions()
        unedited = scene.request(scene.base_latents()[:1], [scene.drawn_detail(face)],
                                 face is not None and face.photo, edit=False,
                                 y=None if base_y is None else base_y[:1])
        target, bundle, state = self.target, scene.bundle, self.state

        def run(progress, cancelled):  # draws in the render service's background lane
            self.worker_threads.add(threading.get_ident())
            return readout(bundle, edited, unedited, target, draw=state.draw_in_background)

        self._pending = False
        self.job = workers.start(run, on_done=self._done, on_error=self._failed)

    def _done(self, r: Readout) -> None:
        self.job = None
        self.show_readout(r)
        self._gap.start()

    def _failed(self, e: Exception) -> None:
        self.job = None
        self.title.setText(f"Readout failed: {e}")
        self._gap.start()

    def show_readout(self, r: Readout) -> None:
        self.current = r
        while self.rows.count():
            w = self.rows.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        lines = ([r.target] if r.target else []) + \
            [n for n in r.movers if abs(r.change(n)) >= 0.005]
        if not lines:
            hint = QLabel("Move a slider: the classifier's view of the face follows here.")
            hint.setWordWrap(True)
            hint.setStyleSheet("color: gray;")
            self.rows.addWidget(hint, 0, 0, 1, 2)
        for i, name in enumerate(lines):
            b, a = r.before[name], r.after[name]
            label = QLabel(name.replace("_", " ") + (" (slider)" if name == r.target else ""))
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setValue(round(100 * a))
            bar.setFormat(f"{_pct(b)} → {_pct(a)}")
            bar.setMaximumHeight(15)
            bar.setToolTip(f"{name}: {_pct(b)} unedited, {_pct(a)} as edited "
                           f"({100 * (a - b):+.0f} points)")
            self.rows.addWidget(label, i, 0)
            self.rows.addWidget(bar, i, 1)
        self.updated.emit(r)
