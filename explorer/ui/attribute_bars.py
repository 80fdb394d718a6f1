"""Horizontal bars: a face's most likely attributes (classifier probabilities)."""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget


class AttributeBars(QWidget):
    """Shows ``[(name, probability)]`` as labelled bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setVerticalSpacing(2)
        self.items: list[tuple[str, float]] = []
        self.setToolTip("The photo's most likely attributes, from the model's classifier")

    def set_items(self, items: list[tuple[str, float]]) -> None:
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.deleteLater()
        self.items = list(items)
        for r, (name, p) in enumerate(self.items):
            bar = QProgressBar()
            bar.setRange(0, 100)
            bar.setValue(round(100 * p))
            bar.setFormat(f"{100 * p:.0f}%")
            bar.setMaximumHeight(16)
            self.grid.addWidget(QLabel(name.replace("_", " ")), r, 0)
            self.grid.addWidget(bar, r, 1)
