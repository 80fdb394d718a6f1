"""Training monitor: poll a trainer run folder (metrics.jsonl, samples/grid_*.png) every 2 s.

It shows the phase (GAN / encoder / classifier), the step of the phase's planned total with an
ETA and images/s, a finished state, D's outputs, G's and D's losses (then the encoder's and the
classifier's), and the newest sample grid in a scroll area. Opening another folder clears it all.
The trainer writes these files atomically (see trainer/monitor.py); we only read them and never
import the training loop.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from explorer.core.run_status import RunStatus, model_is_final, read_options, run_status
from explorer.ui import prefs

CURVES = (("d_real", "D(real)", "#4fc3f7"), ("d_fake", "D(fake)", "#ef5350"),
          ("g_fool", "D(G(z))", "#ffd54f"))
LOSSES = (("loss_g", "G loss", "#ffd54f"), ("loss_d", "D loss", "#4fc3f7"))
LATER = (("enc_pixel", "encoder pixel L1", "#81c784", "encoder"),
         ("cls_loss", "classifier loss", "#ce93d8", "classifier"))


def read_metrics(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """New complete JSONL records from byte ``offset``; returns (records, new offset)."""
    if not path.exists():
        return [], 0
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1  # a line being written is read next time
    out = []
    for line in data[:end].splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out, offset + end


def _plot(title: str, y_range: tuple[float, float] | None = None) -> pg.PlotWidget:
    """A dark plot whose legend sits on an opaque box above the curves (never drawn over)."""
    p = pg.PlotWidget(title=title)
    p.setBackground("#181818")
    legend = p.addLegend(offset=(-5, 5), brush=pg.mkBrush(24, 24, 24, 235),
                         pen=pg.mkPen("#555"))
    legend.setZValue(100)  # above every curve
    if y_range is not None:
        p.setYRange(*y_range)
    p.setLabel("bottom", "step")
    p.setMinimumHeight(90)
    return p


class MonitorPanel(QWidget):
    """Progress, curves and the newest sample grid of a run."""

    def __init__(self, interval_ms: int = 2000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Path | None = None
        self.records: list[dict] = []
        self.all_records: list[dict] = []
        self.options: dict = {}
        self.status = RunStatus()
        self._offset = 0
        self.grid_path: Path | None = None
        self.choose = QPushButton("Open run folder…")
        self.choose.setToolTip("A folder written by face-train (metrics.jsonl, samples/)")
        self.folder = QLabel("No run open.")
        self.folder.setWordWrap(True)
        self.phase = QLabel("")
        self.phase.setStyleSheet("font-weight: bold;")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setToolTip("The whole run: GAN, then encoder, then classifier steps")
        self.stats = QLabel("")
        self.stats.setWordWrap(True)
        self.plot = _plot("Discriminator outputs", (0, 1))
        self.curves = {k: self.plot.plot([], [], name=label, pen=pg.mkPen(c, width=2))
                       for k, label, c in CURVES}
        self.loss_plot = _plot("Losses (GAN steps)")
        self.losses = {k: self.loss_plot.plot([], [], name=label, pen=pg.mkPen(c, width=2))
                       for k, label, c in LOSSES}
        self.later_plot = _plot("Encoder and classifier (their own steps)")
        self.later = {k: self.later_plot.plot([], [], name=label, pen=pg.mkPen(c, width=2))
                      for k, label, c, _ in LATER}
        self.grid = QLabel()
        self.grid.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid.setToolTip("The newest sample grid (fixed latents)")
        self.grid_area = QScrollArea()
        self.grid_area.setWidget(self.grid)
        self.grid_area.setWidgetResizable(True)
        self.grid_area.setMinimumHeight(120)
        self.grid_name = QLabel("")
        self.grid_name.setStyleSheet("color: gray;")

        row = QHBoxLayout()
        row.addWidget(self.choose)
        row.addWidget(self.folder, 1)
        plots = QSplitter(Qt.Orientation.Vertical)
        for w in (self.plot, self.loss_plot, self.later_plot):
            plots.addWidget(w)
        grid_box = QWidget()
        gl = QVBoxLayout(grid_box)
        gl.setContentsMargins(0, 0, 0, 0)
        gl.addWidget(self.grid_name)
        gl.addWidget(self.grid_area, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(plots)
        split.addWidget(grid_box)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addWidget(self.phase)
        lay.addWidget(self.progress)
        lay.addWidget(self.stats)
        lay.addWidget(split, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)
        self.choose.clicked.connect(self._dialog)
        self.clear()

    def _dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a training run folder",
                                             prefs.start_path())
        if d:
            prefs.remember(d)
            self.open_run(d)

    def clear(self) -> None:
        """Forget the shown run: no curves, no grid, no progress."""
        self.records, self.all_records, self._offset, self.grid_path = [], [], 0, None
        self.options, self.status = {}, RunStatus()
        for c in (*self.curves.values(), *self.losses.values(), *self.later.values()):
            c.setData([], [])
        self.grid.clear()
        self.grid.setText("No sample grid yet.")
        self.grid_name.setText("")
        self.phase.setText("")
        self.stats.setText("")
        self.progress.setValue(0)

    def open_run(self, folder: str | Path) -> None:
        self.clear()
        self.run = Path(folder)
        self.options = read_options(self.run)
        self.folder.setText(str(self.run))
        self.poll()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def poll(self) -> None:
        if self.run is None:
            return
        new, self._offset = read_metrics(self.run / "metrics.jsonl", self._offset)
        if not self.options:
            self.options = read_options(self.run)
        self.all_records += new
        gan = [r for r in new if r.get("phase", "gan") == "gan" and "step" in r]
        if gan:
            self.records += gan
            steps = [r["step"] for r in self.records]
            for table, keys in ((self.curves, CURVES), (self.losses, LOSSES)):
                for k, _, _ in keys:
                    pts = [(s, r[k]) for s, r in zip(steps, self.records, strict=True) if k in r]
                    table[k].setData([p[0] for p in pts], [p[1] for p in pts])
        if any(r.get("phase") in ("encoder", "classifier") for r in new):
            for k, _, _, phase in LATER:
                pts = [(r["step"], r[k]) for r in self.all_records
                       if r.get("phase") == phase and k in r and "step" in r]
                self.later[k].setData([p[0] for p in pts], [p[1] for p in pts])
        last_phase = self.all_records[-1].get("phase") if self.all_records else None
        finished = last_phase == "done" or (last_phase is None and model_is_final(self.run))
        self.status = run_status(self.all_records, self.options, finished)
        self._show_status()
        self._show_grid()
        if self.status.finished:
            self.timer.stop()  # nothing more will come

    def _show_status(self) -> None:
        st = self.status
        self.phase.setText(st.text())
        self.phase.setStyleSheet("font-weight: bold;" + (" color: #81c784;" if st.finished
                                                         else ""))
        f = st.fraction
        self.progress.setVisible(f is not None)
        self.progress.setValue(0 if f is None else round(1000 * f))
        last = next((r for r in reversed(self.all_records) if "step" in r), None)
        if last is None:
            self.stats.setText("")
            return
        keys = [(k, lab) for k, lab, _ in (*CURVES, *LOSSES)] + \
            [(k, lab) for k, lab, _, _ in LATER] + [("cls_acc", "classifier accuracy")]
        self.stats.setText(" · ".join(f"{lab} {last[k]:.3f}" for k, lab in keys if k in last))

    def _show_grid(self) -> None:
        assert self.run is not None
        grids = sorted((self.run / "samples").glob("grid_*.png"))
        if grids and grids[-1] != self.grid_path:
            pm = QPixmap(str(grids[-1]))
            if not pm.isNull():  # a half-written file is retried next poll
                self.grid_path = grids[-1]
                if pm.width() < 400:  # small models' grids: twice as large, still sharp
                    pm = pm.scaled(pm.width() * 2, pm.height() * 2,
                                   Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.FastTransformation)
                self.grid.setPixmap(pm)
                self.grid_name.setText(f"{grids[-1].name} (scroll to see all of it)")
                self.grid.setToolTip(grids[-1].name)
