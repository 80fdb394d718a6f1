"""Pieces of the scatter map: a view box that draws a lasso, faces drawn on the points, a legend.

The map has thousands of points; faces are drawn on a sample of them (a fixed, spread-out pick),
and on every visible point once the view is zoomed in to ``MAX_THUMBS`` points or fewer.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QPolygonF

MAX_THUMBS = 60  # faces drawn at once
THUMB_FRACTION = 0.07  # a face's width as a fraction of the visible x range


class LassoViewBox(pg.ViewBox):
    """A ViewBox that, in lasso mode, turns a left-drag into a free-hand selection polygon
    (``lassoed`` carries its vertices in view coordinates) instead of panning."""

    lassoed = Signal(object)  # (k, 2) float array

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lasso_mode = False
        self._trace: list[tuple[float, float]] = []
        self.path = pg.PlotCurveItem(pen=pg.mkPen("#ffd54f", width=2))
        self.path.setZValue(50)
        self.addItem(self.path, ignoreBounds=True)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 (pyqtgraph API)
        if not self.lasso_mode or ev.button() != Qt.MouseButton.LeftButton:
            super().mouseDragEvent(ev, axis)
            return
        ev.accept()
        p = self.mapToView(ev.pos())
        if ev.isStart():
            self._trace = [(p.x(), p.y())]
        self._trace.append((p.x(), p.y()))
        self.show_polygon(np.asarray(self._trace))
        if ev.isFinish():
            poly = np.asarray(self._trace, float)
            self.show_polygon(poly, closed=True)
            self.lassoed.emit(poly)

    def show_polygon(self, poly: np.ndarray | None, closed: bool = False) -> None:
        if poly is None or len(poly) == 0:
            self.path.setData([], [])
            return
        if closed:
            poly = np.vstack([poly, poly[:1]])
        self.path.setData(poly[:, 0], poly[:, 1])


def inside_polygon(points: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Indices of ``points`` (n, 2) inside the closed polygon ``poly`` (k, 2) (even-odd rule)."""
    if poly is None or len(poly) < 3:
        return np.zeros(0, int)
    q = QPolygonF([QPointF(float(x), float(y)) for x, y in poly])
    return np.asarray([i for i, (x, y) in enumerate(points)
                       if q.containsPoint(QPointF(float(x), float(y)), Qt.FillRule.OddEvenFill)],
                      int)


def sample_order(points: np.ndarray, seed: int = 0) -> np.ndarray:
    """An order of the points that spreads the first ones over the map (farthest-point
    sampling from a random start, for the first MAX_THUMBS; the rest follow at random)."""
    n = len(points)
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.zeros(0, int)
    first = [int(rng.integers(n))]
    d = np.linalg.norm(points - points[first[0]], axis=1)
    for _ in range(min(MAX_THUMBS, n) - 1):
        i = int(np.argmax(d))
        first.append(i)
        d = np.minimum(d, np.linalg.norm(points - points[i], axis=1))
    rest = np.setdiff1d(rng.permutation(n), first, assume_unique=False)
    rest = rest[np.argsort(rng.permutation(len(rest)))]
    return np.concatenate([np.asarray(first, int), rest])


class Thumbnails:
    """Faces drawn on the map's points: a spread-out sample, or every visible point when few are
    in view. ``request_faces(indices, on_done)`` has faces drawn off the GUI thread and calls
    ``on_done(indices of a batch, its (k, h, w, 3) uint8 faces)`` on it as each batch arrives;
    they are cached, and placed as they arrive."""

    def __init__(self, view: pg.ViewBox,
                 request_faces: Callable[[np.ndarray,
                                          Callable[[np.ndarray, np.ndarray], None]], None]
                 ) -> None:
        self.view = view
        self.request_faces = request_faces
        self.enabled = False
        self.points: np.ndarray | None = None
        self.order = np.zeros(0, int)
        self.cache: dict[int, np.ndarray] = {}
        self.items: dict[int, pg.ImageItem] = {}
        self._generation = 0  # a new map: faces drawn for the old one are not used

    def set_points(self, points: np.ndarray | None) -> None:
        self.points = points
        self.cache.clear()
        self._generation += 1
        self.order = sample_order(points) if points is not None else np.zeros(0, int)
        self.update()

    def set_enabled(self, on: bool) -> None:
        self.enabled = on
        self.update()

    def shown(self) -> list[int]:
        return sorted(self.items)

    def wanted(self) -> np.ndarray:
        """The points to draw faces on at the current view."""
        if not self.enabled or self.points is None or len(self.points) == 0:
            return np.zeros(0, int)
        (x0, x1), (y0, y1) = self.view.viewRange()
        p = self.points
        visible = (p[:, 0] >= x0) & (p[:, 0] <= x1) & (p[:, 1] >= y0) & (p[:, 1] <= y1)
        if visible.sum() <= MAX_THUMBS:
            return np.flatnonzero(visible)
        ranked = self.order[visible[self.order]]
        return np.sort(ranked[:MAX_THUMBS])

    def update(self) -> None:
        want = self.wanted()
        for i in [i for i in self.items if i not in set(want.tolist())]:
            self.view.removeItem(self.items.pop(i))
        missing = np.asarray([i for i in want if int(i) not in self.cache], int)
        if len(missing):
            gen = self._generation
            self.request_faces(missing, lambda idx, imgs: self._arrived(gen, idx, imgs))
        want = np.asarray([i for i in want if int(i) in self.cache], int)
        if not len(want):
            return
        assert self.points is not None
        (x0, x1), (y0, y1) = self.view.viewRange()
        w = THUMB_FRACTION * (x1 - x0)
        # Square on screen: the view's y units per x unit.
        vw, vh = max(self.view.width(), 1.0), max(self.view.height(), 1.0)
        h = w * ((y1 - y0) / vh) / ((x1 - x0) / vw)
        for i in want:
            i = int(i)
            item = self.items.get(i)
            if item is None:
                item = pg.ImageItem(self.cache[i], axisOrder="row-major")
                item.setZValue(10)
                self.view.addItem(item, ignoreBounds=True)
                self.items[i] = item
            x, y = self.points[i]
            item.setRect(QRectF(float(x - w / 2), float(y - h / 2), float(w), float(h)))

    def _arrived(self, generation: int, idx: np.ndarray, images: np.ndarray) -> None:
        """Faces drawn in the background: cache them and place those still wanted."""
        if generation != self._generation:
            return
        for i, img in zip(idx, images, strict=True):
            self.cache[int(i)] = np.ascontiguousarray(img[::-1])  # y grows upwards
        self.update()

    def clear(self) -> None:
        for item in self.items.values():
            self.view.removeItem(item)
        self.items.clear()


def colour_legend(plot: pg.PlotWidget) -> pg.LegendItem:
    """A legend on an opaque box in the plot's corner, drawn above the points."""
    legend = pg.LegendItem(offset=(-5, 5), brush=pg.mkBrush(24, 24, 24, 235),
                           pen=pg.mkPen("#555"), labelTextColor="#ddd")
    legend.setParentItem(plot.getPlotItem().vb)
    legend.setZValue(100)
    return legend


def set_legend(legend: pg.LegendItem, entries: list[tuple[str, tuple[int, int, int]]]) -> None:
    legend.clear()
    for name, rgb in entries:
        legend.addItem(pg.ScatterPlotItem(brush=pg.mkBrush(*rgb), pen=None, size=9), name)


def legend_names(legend: pg.LegendItem) -> list[str]:
    return [label.text for _, label in legend.items]
