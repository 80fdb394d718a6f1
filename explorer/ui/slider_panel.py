"""Attribute sliders: one row per attribute (filter, lock, reset), and the direction method.

Each slider is throttled at the widget edge (leading + trailing, ~60 Hz) so a drag renders while it
moves and always ends on the newest value. For a conditional model the cond sliders drive y.
Below them, directions the model found on its own (SeFa, GANSpace; ``explorer.core.discovered``),
found off the UI thread, each with a "keep" button that promotes it to a named custom slider.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSlider,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from explorer.core.directions import available_methods
from explorer.core.edits import SLIDER_END
from explorer.ui import workers
from explorer.ui.readout_panel import ReadoutPanel
from explorer.ui.state import ExplorerState
from explorer.ui.throttle import Throttle

STEPS = 100  # slider units per alpha unit
RANGE = SLIDER_END  # alpha in [-RANGE, RANGE] standard steps


class SliderRow(QWidget):
    """Name, slider, value, lock and reset for one attribute."""

    def __init__(self, name: str, cond: bool, panel: SliderPanel, interval_ms: int,
                 discovered: bool = False) -> None:
        super().__init__(panel)
        self.name = name
        self.state = panel.state
        short = name.split(":")[0] if discovered else name.replace("_", " ")
        self.label = QLabel()
        self.label.setFixedWidth(106)
        self.label.setText(self.label.fontMetrics().elidedText(
            short + (" (y)" if cond else ""), Qt.TextElideMode.ElideRight, 104))
        self.label.setToolTip(name)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(int(-RANGE * STEPS), int(RANGE * STEPS))
        self.slider.setMinimumWidth(48)
        what = "the condition y given to the generator" if cond else "along its latent direction"
        self.slider.setToolTip(f"Move every face {what}: more / less {name.replace('_', ' ')}")
        self.value = QLabel("0.00")
        self.value.setFixedWidth(36)
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.lock = QToolButton()
        self.lock.setText("lock")  # plain text: emoji fonts are often missing on Linux
        self.lock.setCheckable(True)
        self.lock.setStyleSheet("QToolButton:checked { background: #f0b429; color: black; "
                                "font-weight: bold; }")
        self.lock.setToolTip(f"Lock {name}: other sliders will not change it, and it cannot move")
        self.reset = QToolButton()
        self.reset.setText("↺")
        self.reset.setToolTip(f"Reset {name} to 0")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 0, 2, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.value)
        lay.addWidget(self.lock)
        lay.addWidget(self.reset)
        self.keep: QToolButton | None = None
        if discovered:
            self.keep = QToolButton()
            self.keep.setText("keep")
            self.keep.setToolTip("Keep this direction as a named slider of your own (saved with "
                                 "the session)")
            self.keep.clicked.connect(lambda: panel.promote(self.name))
            lay.replaceWidget(self.lock, self.keep)  # in the lock's place: the row stays narrow
            self.lock.hide()
            self.setToolTip(name)
        self.throttle = Throttle(self._commit, interval_ms, self)
        self._shown: tuple[float, bool] | None = None  # (alpha, locked) the last sync showed
        self.slider.valueChanged.connect(self._moved)
        self.slider.sliderPressed.connect(lambda: panel.dragging.emit(True))
        self.slider.sliderReleased.connect(self._released)
        self.panel = panel
        self.lock.toggled.connect(lambda on: self.state.set_locked(self.name, on))
        self.reset.clicked.connect(lambda: self.state.reset_alphas([self.name]))

    def _moved(self, v: int) -> None:
        self.value.setText(f"{v / STEPS:+.2f}")
        self.throttle(v / STEPS)

    def _commit(self, alpha: float) -> None:
        self.state.set_alpha(self.name, alpha)

    def _released(self) -> None:
        self.throttle.flush()
        self.state.end_drag()
        self.panel.dragging.emit(False)

    def sync(self) -> None:
        a = self.state.alphas.get(self.name, 0.0)
        locked = self.name in self.state.locks
        text = f"{a:+.2f}"
        if self._shown == (a, locked) and self.slider.value() == round(a * STEPS):
            return  # as shown already: every slider move syncs every row, most unchanged
        self.slider.blockSignals(True)
        self.slider.setValue(round(a * STEPS))
        self.slider.blockSignals(False)
        self.value.setText(text)
        self.lock.blockSignals(True)
        self.lock.setChecked(locked)
        self.lock.blockSignals(False)
        self.slider.setEnabled(not locked)
        self.reset.setEnabled(not locked)
        self._shown = (a, locked)


class SliderPanel(QWidget):
    """All attribute sliders for the state's model; ``dragging(bool)`` says when a drag starts
    and ends (the canvas refreshes part of a grid while it lasts).

    Parameters
    ----------
    state
        The shared explorer state.
    interval_ms
        Throttle interval of each slider (0 = no throttling).
    """

    dragging = Signal(bool)

    def __init__(self, state: ExplorerState, interval_ms: int = 16,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.interval_ms = interval_ms
        self.rows: dict[str, SliderRow] = {}
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter attributes…  (Ctrl+F)")
        self.filter.setToolTip("Show only the attributes whose name contains this text")
        self.filter.setClearButtonEnabled(True)
        self.method = QComboBox()
        self.method.addItems(available_methods(state.bundle))
        self.method.setToolTip("How attribute directions are found: sampled = boundaries fitted on "
                               "the model's own faces as the classifier labels them; mean-diff = "
                               "mean difference of labelled photos; linear = a linear classifier "
                               "on labelled photos (InterFaceGAN)")
        self.reset_all = QPushButton("Reset all")
        self.reset_all.setToolTip("Set every unlocked slider back to 0 (Ctrl+0)")
        self.reset_all.setShortcut("Ctrl+0")
        self.discover_method = QComboBox()
        self.discover_method.addItems(["SeFa", "GANSpace"])
        self.discover_method.setToolTip(
            "Directions the model found without labels. SeFa: the latent directions its first "
            "layer amplifies most (closed form, instant). GANSpace: principal axes of its early "
            "features over 3,000 faces. Each is named by what the classifier sees it change.")
        self.discover_btn = QPushButton("Discover")
        self.discover_btn.setToolTip("Add sliders for directions the model found on its own")
        self.discover_info = QLabel("")
        self.discover_info.setStyleSheet("color: gray;")
        self.discover_info.setWordWrap(True)
        self.job: workers.Job | None = None
        top = QHBoxLayout()
        top.addWidget(self.filter, 1)
        top.addWidget(self.method)
        top.addWidget(self.reset_all)
        found = QHBoxLayout()
        found.addWidget(QLabel("Unlabelled:"))
        found.addWidget(self.discover_method)
        found.addWidget(self.discover_btn)
        found.addStretch(1)
        self.body = QWidget()
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(0, 0, 0, 0)
        self.body_layout.setSpacing(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.body)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(top)
        lay.addWidget(scroll, 1)
        lay.addLayout(found)
        lay.addWidget(self.discover_info)
        self.readout = ReadoutPanel(state)
        lay.addWidget(self.readout)
        self.discover_btn.clicked.connect(lambda: self.discover())

        self.filter.textChanged.connect(self.apply_filter)
        self.method.currentTextChanged.connect(state.set_method)
        self.reset_all.clicked.connect(lambda: state.reset_alphas())
        state.alphasChanged.connect(self.sync)
        state.locksChanged.connect(self.sync)
        state.directionsChanged.connect(self.build)
        self.build()

    def build(self) -> None:
        names = self.state.slider_names
        if list(self.rows) != names:
            for row in self.rows.values():
                row.setParent(None)
                row.deleteLater()
            self.rows = {}
            cond = set(self.state.cond_names)
            found = {n for n, _, _ in self.state.discovered}
            while self.body_layout.count():
                item = self.body_layout.takeAt(0)
                if item.widget() is not None and not isinstance(item.widget(), SliderRow):
                    item.widget().deleteLater()
            for n in names:
                if n in found and n == next(m for m in names if m in found):
                    head = QLabel("Found by the model")
                    head.setStyleSheet("color: gray; font-weight: bold; margin-top: 6px;")
                    self.body_layout.addWidget(head)
                row = SliderRow(n, n in cond, self, self.interval_ms, discovered=n in found)
                self.rows[n] = row
                self.body_layout.addWidget(row)
            self.body_layout.addStretch(1)
            bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
            self.setMinimumWidth(self.body.minimumSizeHint().width() + bar + 12)
        self.method.blockSignals(True)
        self.method.setCurrentText(self.state.method)
        self.method.blockSignals(False)
        self.apply_filter(self.filter.text())
        self.sync()

    def sync(self) -> None:
        for row in self.rows.values():
            row.sync()

    # Discovered directions.
    def discover(self, method: str | None = None, k: int = 8) -> workers.Job | None:
        """Find ``k`` directions by SeFa or GANSpace in the background; they become sliders."""
        from explorer.core.discovered import discover, latent_std

        method = (method or self.discover_method.currentText()).lower()
        bundle = self.state.bundle.with_own("G")  # the job's own G: never another thread's
        self.discover_btn.setEnabled(False)
        self.discover_info.setText(f"Finding {method} directions…")

        def run(progress, cancelled):
            d = discover(bundle, method, k, progress=progress)
            return d, latent_std(bundle, d.vectors)

        self.job = workers.start(run, on_done=self._discovered, on_error=self._discover_failed)
        return self.job

    def _discovered(self, result) -> None:
        d, scale = result
        self.job = None
        self.discover_btn.setEnabled(True)
        self.state.set_discovered(list(zip(d.names, d.vectors, scale, strict=True)))
        self.discover_info.setText(f"{len(d.names)} directions found by {d.method}; "
                                   "press keep on one to make it your own slider.")

    def _discover_failed(self, e: Exception) -> None:
        self.job = None
        self.discover_btn.setEnabled(True)
        self.discover_info.setText(f"Could not find directions: {e}")

    def promote(self, name: str) -> str | None:
        """Ask a name and keep the discovered direction ``name`` as a custom slider."""
        effect = name.split(":", 1)[1].split(",")[0].strip() if ":" in name else name
        guess = effect.rsplit(" ", 1)[0] if effect else name
        new, ok = QInputDialog.getText(self, "Keep direction", f"Name for “{name}”:",
                                       text=f"{guess} (found)")
        new = new.strip()
        if not ok or not new:
            return None
        self.state.promote_discovered(name, new)
        self.discover_info.setText(f"Kept as “{new}”.")
        return new

    def apply_filter(self, text: str) -> None:
        t = text.strip().lower().replace(" ", "_")
        for n, row in self.rows.items():
            row.setVisible(not t or t in n.lower())
