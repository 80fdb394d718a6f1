"""The window fits a 1024x640 laptop: docks beside the canvas, never over it, every tool whole."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSpinBox,
    QComboBox,
    QDockWidget,
    QLineEdit,
    QScrollArea,
    QWidget,
)


def _rect_in(w: QWidget, top: QWidget) -> QRect:
    return QRect(w.mapTo(top, QPoint(0, 0)), w.size())


def _scroll_to(area: QScrollArea, c: QWidget) -> None:
    """Scroll the whole of ``c`` into view (ensureWidgetVisible shows a line edit's cursor only)."""
    r = _rect_in(c, area.widget())
    area.ensureVisible(r.center().x(), r.center().y(), r.width() // 2 + 1, r.height() // 2 + 1)


def _controls(panel: QWidget) -> list[QWidget]:
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)
    return [c for c in panel.findChildren(QWidget) if isinstance(c, kinds) and c.isVisibleTo(panel)]


def test_the_window_fits_1024x640_with_docks_beside_a_shrunken_canvas(window, qtbot):
    window.resize(1024, 640)
    qtbot.waitUntil(lambda: window.width() <= 1024 and window.height() <= 640, timeout=3000)
    assert window.minimumSizeHint().width() <= 1024
    central = _rect_in(window.centralWidget(), window)
    docks = [d for d in window.findChildren(QDockWidget) if d.isVisible()]
    assert {d.objectName() for d in docks} >= {"Tools", "Attributes"}
    for d in docks:
        r = _rect_in(d, window)
        assert window.rect().contains(r), f"{d.objectName()} runs off the window"
        assert not r.intersects(central), f"{d.objectName()} covers the canvas"
    face = window.canvas.canvas
    assert face.isVisible() and face.width() >= 128 and face.height() >= 128


def test_every_control_of_every_tool_can_be_scrolled_into_view_at_1024x640(window, qtbot):
    window.resize(1024, 640)
    qtbot.waitUntil(lambda: window.width() <= 1024, timeout=3000)
    # The photo panel as it is with a photo open: scores, a long PSNR line, the whole photo.
    photos, names = window.photos, window.bundle.attribute_names
    for bars in (photos.bars, photos.edit_bars):
        bars.set_items([(n, 0.5) for n in names[:6]])
    photos.psnr.setText("Reconstruction error: PSNR 30.4 dB (fast encoding)")
    big = QPixmap(600, 600)
    big.fill(Qt.GlobalColor.gray)
    photos.full.setPixmap(big)
    photos.full.show()
    tools = window.tools
    for i in range(tools.count()):
        tools.setCurrentIndex(i)
        area = tools.widget(i)
        assert isinstance(area, QScrollArea)
        qtbot.waitUntil(area.isVisible, timeout=2000)
        qtbot.wait(30)  # let the page lay out at its new width
        assert area.horizontalScrollBar().maximum() == 0, f"{tools.tabText(i)} scrolls sideways"
        view = _rect_in(area.viewport(), window)
        for c in _controls(tools.panel(i)):
            _scroll_to(area, c)
            assert view.contains(_rect_in(c, window)), f"{tools.tabText(i)}: {c} out of reach"
    # The last attribute slider too, and the slider rows are not cut at the right.
    sliders = window.sliders
    scroll = sliders.findChild(QScrollArea)
    last = list(sliders.rows.values())[-1]
    _scroll_to(scroll, last.reset)
    assert _rect_in(scroll.viewport(), window).contains(_rect_in(last.reset, window))
