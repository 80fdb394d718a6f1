"""Training monitor: poll a trainer run folder (metrics.jsonl, samples/grid_*.png) every 2 s.

The trainer appends the metrics log (`facegan.runlog`, whose reader this uses) and writes the
grids atomically; this panel only reads them and never imports the trainer.
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from facegan.runlog import CURVES, METRICS_FILE, read_records

COLOURS = {"d_real": "#4fc3f7", "d_fake": "#ef5350", "g_fool": "#ffd54f"}


class MonitorPanel(QWidget):
    """Curves of D(real), D(fake), D(G(z)) and the newest sample grid of a run."""

    def __init__(self, interval_ms: int = 2000, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.run: Path | None = None
        self.records: list[dict] = []
        self._offset = 0
        self.grid_path: Path | None = None
        self.choose = QPushButton("Open run folder…")
        self.choose.setToolTip("A folder written by face-train (metrics.jsonl, samples/)")
        self.folder = QLabel("No run open.")
        self.folder.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setBackground("#181818")
        self.plot.addLegend(offset=(5, 5))
        self.plot.setYRange(0, 1)
        self.plot.setLabel("bottom", "step")
        self.plot.setMinimumHeight(200)
        self.curves = {k: self.plot.plot([], [], name=label, pen=pg.mkPen(COLOURS[k], width=2))
                       for k, label in CURVES}
        self.grid = QLabel()
        self.grid.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.grid.setMinimumHeight(160)
        self.grid.setToolTip("The newest sample grid (fixed latents)")
        self.stats = QLabel("")
        row = QHBoxLayout()
        row.addWidget(self.choose)
        row.addWidget(self.folder, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(row)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.stats)
        lay.addWidget(self.grid, 1)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.poll)
        self.choose.clicked.connect(self._dialog)

    def _dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a training run folder")
        if d:
            self.open_run(d)

    def open_run(self, folder: str | Path) -> None:
        self.run = Path(folder)
        self.records, self._offset, self.grid_path = [], 0, None
        self.folder.setText(str(self.run))
        self.poll()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def poll(self) -> None:
        if self.run is None:
            return
        new, self._offset = read_records(self.run / METRICS_FILE, self._offset)
        gan = [r for r in new if r.get("phase", "gan") == "gan" and "step" in r]
        if gan:
            self.records += gan
            steps = [r["step"] for r in self.records]
            for k, curve in self.curves.items():
                pts = [(s, r[k]) for s, r in zip(steps, self.records, strict=True) if k in r]
                curve.setData([p[0] for p in pts], [p[1] for p in pts])
            last = self.records[-1]
            self.stats.setText(
                f"step {last['step']}/{last.get('total_steps', '?')} · "
                + " · ".join(f"{lab} {last[k]:.2f}" for k, lab in CURVES if k in last))
        elif not self.records:
            self.stats.setText("Waiting for metrics.jsonl…")
        grids = sorted((self.run / "samples").glob("grid_*.png"))
        if grids and grids[-1] != self.grid_path:
            pm = QPixmap(str(grids[-1]))
            if not pm.isNull():  # a half-written file is retried next poll
                self.grid_path = grids[-1]
                self.grid.setPixmap(pm.scaled(320, 320, Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.SmoothTransformation))
                self.grid.setToolTip(f"{grids[-1].name}")
