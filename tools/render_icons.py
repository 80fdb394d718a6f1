"""Render resources/icons/face-explorer.svg to the PNG sizes the launcher and the window use.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/render_icons.py

Writes resources/icons/face-explorer-{16,...,512}.png (tests/test_resources.py checks that the
committed PNGs still match the SVG).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from explorer.assets import ICON_NAME, ICON_SIZES  # noqa: E402


def render_svg(svg: Path, size: int) -> QImage:
    """The SVG drawn into a transparent size x size ARGB image (antialiased)."""
    r = QSvgRenderer(str(svg))
    if not r.isValid():
        raise ValueError(f"{svg}: not a valid SVG")
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    r.render(p)
    p.end()
    return img


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    icons = Path(__file__).resolve().parent.parent / "resources" / "icons"
    svg = icons / f"{ICON_NAME}.svg"
    for size in ICON_SIZES:
        out = icons / f"{ICON_NAME}-{size}.png"
        if not render_svg(svg, size).save(str(out)):
            raise OSError(f"could not write {out}")
        print("wrote", out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
