"""A small dialog to pick some of a list of named items (checkboxes, all ticked to start)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)


class PickDialog(QDialog):
    """Tick the items to use; ``chosen()`` gives their indices in order."""

    def __init__(self, title: str, prompt: str, names: list[str],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.list = QListWidget()
        for n in names:
            it = QListWidgetItem(n)
            it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            it.setCheckState(Qt.CheckState.Checked)
            self.list.addItem(it)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(prompt))
        lay.addWidget(self.list)
        lay.addWidget(buttons)

    def chosen(self) -> list[int]:
        return [i for i in range(self.list.count())
                if self.list.item(i).checkState() == Qt.CheckState.Checked]


def pick(parent: QWidget | None, title: str, prompt: str, names: list[str]) -> list[int]:
    """Ask which of ``names`` to use; [] when cancelled (tests replace this function)."""
    d = PickDialog(title, prompt, names, parent)
    return d.chosen() if d.exec() == QDialog.DialogCode.Accepted else []
