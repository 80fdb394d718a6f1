"""The scatter map: a colour legend, a lasso besides the box, faces drawn on the points, an
aligned hover tooltip, and room in the window's big area."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from explorer.ui.scatter_view import MAX_THUMBS, inside_polygon, legend_names


def computed(window, qtbot):
    window.tools.setCurrentWidget(window.scatter)
    panel = window.scatter
    panel.compute()
    qtbot.waitUntil(lambda: panel.points is not None, timeout=20000)
    return panel


def _to_widget(panel, xy) -> QPoint:
    scene = panel.view.mapViewToScene(QPointF(float(xy[0]), float(xy[1])))
    return panel.plot.mapFromScene(scene)


def _drag(qtbot, widget, path: list[QPoint]) -> None:
    """A left-button drag along ``path`` (sent as real mouse events to the plot's viewport, at a
    hand's pace: pyqtgraph drops moves closer than ~17 ms apart)."""
    def send(kind, pos, buttons):
        gpos = widget.mapToGlobal(pos)
        ev = QMouseEvent(kind, QPointF(pos), QPointF(gpos), Qt.MouseButton.LeftButton,
                         buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(widget, ev)

    send(QEvent.Type.MouseButtonPress, path[0], Qt.MouseButton.LeftButton)
    for p in path[1:]:
        qtbot.wait(20)
        send(QEvent.Type.MouseMove, p, Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, path[-1], Qt.MouseButton.NoButton)


def test_the_legend_names_the_colours_without_underscores(window, qtbot):
    panel = computed(window, qtbot)
    assert legend_names(panel.legend) == ["atlas face"]
    names = [panel.colour.itemText(i) for i in range(panel.colour.count())]
    assert all("_" not in n for n in names)
    under = next(n for n in window.bundle.attribute_names if "_" in n)
    panel.colour.setCurrentIndex(panel.colour.findData(under))
    pretty = under.replace("_", " ")
    assert legend_names(panel.legend) == [pretty, f"not {pretty}"]
    assert panel.legend.zValue() > panel.scatter.zValue()


def test_a_lasso_drawn_on_the_map_picks_the_points_inside_it(window, qtbot):
    panel = computed(window, qtbot)
    window.resize(1400, 900)
    qtbot.wait(50)
    panel.select_mode.setCurrentText("lasso")
    assert not panel.roi.isVisible()
    (x0, x1), (y0, y1) = panel.view.viewRange()
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 4, (y1 - y0) / 4
    t = np.linspace(0, 2 * np.pi, 24)
    ring = np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)
    _drag(qtbot, panel.plot.viewport(), [_to_widget(panel, p) for p in ring])
    assert panel.lasso is not None and len(panel.lasso) >= 20
    p = panel.points
    inside_ellipse = np.flatnonzero(((p[:, 0] - cx) / rx) ** 2 + ((p[:, 1] - cy) / ry) ** 2 < 0.8)
    outside_ellipse = np.flatnonzero(((p[:, 0] - cx) / rx) ** 2 + ((p[:, 1] - cy) / ry) ** 2 > 1.2)
    chosen = set(panel.selection().tolist())
    assert set(inside_ellipse.tolist()) <= chosen and not chosen & set(outside_ellipse.tolist())
    assert len(chosen) > 0
    panel.set_group("A")
    np.testing.assert_array_equal(panel.groups["A"], panel.latents[sorted(chosen)])
    assert (panel.view.viewRange()[0][0], panel.view.viewRange()[0][1]) == (x0, x1)  # no pan


def test_inside_polygon_even_odd():
    square = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], float)
    pts = np.array([[1, 1], [3, 1], [1.9, 0.1], [-0.1, 1]])
    assert inside_polygon(pts, square).tolist() == [0, 2]


def test_faces_on_a_sample_of_points_and_on_all_when_zoomed_in(window, qtbot):
    panel = computed(window, qtbot)
    n = len(panel.points)
    panel.faces.setChecked(True)
    qtbot.waitUntil(lambda: len(panel.thumbs.shown()) > 0, timeout=10000)  # drawn off the GUI
    qtbot.waitUntil(window.state.background_idle, timeout=10000)
    shown = panel.thumbs.shown()
    assert 0 < len(shown) <= MAX_THUMBS
    assert len(shown) == min(n, MAX_THUMBS) or len(shown) == len(panel.thumbs.wanted())
    # Zoom in on a few points: every visible one gets its face.
    i = shown[0]
    x, y = (float(v) for v in panel.points[i])
    d = float(np.sort(np.abs(panel.points - panel.points[i]).max(1))[4]) + 1e-6
    panel.view.setRange(xRange=(x - d, x + d), yRange=(y - d, y + d), padding=0)
    (x0, x1), (y0, y1) = panel.view.viewRange()
    p = panel.points
    visible = np.flatnonzero((p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1))
    qtbot.waitUntil(lambda: panel.thumbs.shown() == sorted(visible.tolist()), timeout=3000)
    item = panel.thumbs.items[i]
    face = window.bundle.generate(panel.latents[i][None], psi=window.state.psi)[0]
    np.testing.assert_array_equal(item.image, face[::-1])  # the point's own face, upright
    panel.faces.setChecked(False)
    assert panel.thumbs.shown() == []


def test_hover_tooltip_sits_by_the_point_and_the_map_takes_the_big_area(window, qtbot):
    panel = computed(window, qtbot)
    pt = panel.scatter.points()[0]
    panel._hovered(panel.scatter, [pt], None)
    at = panel.plot.viewport().mapToGlobal(_to_widget(panel, (pt.pos().x(), pt.pos().y())))
    assert (panel.tip_anchor - at).manhattanLength() <= 24
    dock_width = panel.plot.width()
    panel.big.click()
    assert window.central.currentWidget() is panel
    qtbot.waitUntil(lambda: panel.plot.width() > dock_width, timeout=3000)
    panel.big.click()
    assert window.central.indexOf(panel) < 0 and window.tools.currentWidget() is panel
