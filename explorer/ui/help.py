"""The app's face in Qt: its icon, the Help window (guide and shortcuts from resources/help/) and
the About box (icon, version)."""

from __future__ import annotations

import platform
from functools import cache

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import QSize, QUrl, qVersion
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from explorer import __version__
from explorer.assets import ICON_SIZES, help_page, icon_png

HELP_PAGES = {"guide": "Guide", "shortcuts": "Keyboard shortcuts"}


@cache
def app_icon() -> QIcon:
    """The application icon at every shipped size (PNG: no SVG plugin needed)."""
    icon = QIcon()
    for s in ICON_SIZES:
        icon.addFile(str(icon_png(s)), QSize(s, s))
    return icon


class HelpWindow(QDialog):
    """A non-modal window showing the help pages; links between them work, Back goes back."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Face explorer help")
        self.setWindowIcon(app_icon())
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.back = QPushButton("Back")
        self.back.setEnabled(False)
        self.back.clicked.connect(self.browser.backward)
        self.browser.backwardAvailable.connect(self.back.setEnabled)
        bar = QHBoxLayout()
        bar.addWidget(self.back)
        self.page_buttons = {}
        for name, title in HELP_PAGES.items():
            b = QPushButton(title)
            b.clicked.connect(lambda _=False, n=name: self.show_page(n))
            bar.addWidget(b)
            self.page_buttons[name] = b
        bar.addStretch(1)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        bar.addWidget(close)
        lay = QVBoxLayout(self)
        lay.addWidget(self.browser, 1)
        lay.addLayout(bar)
        self.resize(640, 720)

    def show_page(self, name: str) -> None:
        """Load help page `name` ("guide" or "shortcuts") and bring the window up."""
        self.browser.setSource(QUrl.fromLocalFile(str(help_page(name))))
        self.show()
        self.raise_()
        self.activateWindow()

    def page(self) -> str:
        """The stem of the page shown ("guide", "shortcuts")."""
        return self.browser.source().fileName().rsplit(".", 1)[0]


def about_text(model_name: str) -> str:
    return (f"<h3>Face explorer {__version__}</h3>"
            "<p>Explore what a face GAN has learned: attribute sliders, interpolation, "
            "analogies, maps of faces, and your own photos, edited.</p>"
            f"<p>Model: {model_name} (Help &rarr; About this model)</p>"
            f"<p><small>Python {platform.python_version()} · Qt {qVersion()} · "
            f"PySide6 {pyside_version}</small></p>")


def about_box(parent: QWidget, model_name: str) -> QMessageBox:
    """The About box (not yet shown): the icon large, the version, the model."""
    box = QMessageBox(parent)
    box.setWindowTitle("About Face explorer")
    box.setWindowIcon(app_icon())
    box.setIconPixmap(app_icon().pixmap(96, 96))
    box.setText(about_text(model_name))
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    return box
