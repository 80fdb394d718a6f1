"""From state to pixels: frozen requests out, results back on the GUI thread.

``RenderService`` calls back on its worker thread; both classes here re-emit a result through a
queued Qt signal. :class:`LiveRenderer` (the canvas, the interactive lane) drops anything older
than what is already shown (stylegan3's AsyncRenderer stamps, napari's slicer); ``sync=True``
renders on the calling thread (tests). :class:`BackgroundRenderer` (thumbnails: favourites,
analogy, keyframes, the scatter map, the photo list) draws in the service's background lane, so G
never runs on the GUI thread for them, and hands each result to its own callback.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Hashable

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from explorer.core.render import RenderRequest, RenderResult, RenderService


class _Relay(QObject):
    done = Signal(object)


class LiveRenderer(QObject):
    """Submit render requests; emit ``rendered(RenderResult)`` for the newest only.

    Parameters
    ----------
    service
        The shared :class:`RenderService`.
    sync
        Render on the calling thread instead of the service's worker.
    """

    rendered = Signal(object)  # RenderResult with images
    failed = Signal(str)

    def __init__(self, service: RenderService, sync: bool = False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self.sync = sync
        self._relay = _Relay(self)
        self._relay.done.connect(self._deliver)  # queued: emitted from the worker thread
        self._next_id = 0
        self.shown_id = -1
        self.submitted_at: dict[int, float] = {}  # id -> perf_counter (status bar, benchmark)

    @property
    def last_id(self) -> int:
        return self._next_id

    def request(self, z: np.ndarray, y: np.ndarray | None = None,
                detail: np.ndarray | None = None, psi: float | np.ndarray = 1.0,
                tuned: tuple[object | None, ...] | None = None) -> int:
        self._next_id += 1
        req = RenderRequest(self._next_id, np.ascontiguousarray(z, np.float32),
                            None if y is None else np.ascontiguousarray(y, np.float32),
                            None if detail is None else np.ascontiguousarray(detail, np.float32),
                            np.asarray(psi, np.float32), tuned)
        self.submitted_at[req.id] = time.perf_counter()
        if len(self.submitted_at) > 256:
            for k in sorted(self.submitted_at)[:128]:
                del self.submitted_at[k]
        if self.sync:
            self._deliver(self.service.render(req))
        else:
            self.service.submit(req, self._relay.done.emit)
        return req.id

    @Slot(object)
    def _deliver(self, res: RenderResult) -> None:
        if res.id <= self.shown_id:
            return  # stale: a newer frame is already on screen
        if res.error is not None or res.images is None:
            self.failed.emit(res.error or "render failed")
            return
        self.shown_id = res.id
        self.rendered.emit(res)

    def idle(self) -> bool:
        """True when the newest request has been shown (tests wait on this)."""
        return self.shown_id >= self._next_id


class BackgroundRenderer(QObject):
    """Draw requests in the render service's background lane; ``on_done(images)`` runs on the GUI
    thread, in the order the requests were made.

    A request made under a ``key`` supersedes the one before it under that key: the older one is
    dropped from the queue if not yet drawn, and its result never delivered if it was (a panel
    redrawing its thumbnails wants only the newest). Failures are emitted as ``failed``.
    """

    failed = Signal(str)

    def __init__(self, service: RenderService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.service = service
        self._relay = _Relay(self)
        self._relay.done.connect(self._deliver)  # queued: emitted from the worker thread
        self._next_id = 0
        self._waiting: dict[int, tuple[Callable[[np.ndarray], None], Hashable | None]] = {}
        self._latest: dict[Hashable, int] = {}

    def draw(self, req: RenderRequest, on_done: Callable[[np.ndarray], None],
             key: Hashable | None = None) -> int:
        """Queue ``req``; ``on_done`` gets its (n, res, res, 3) uint8 images on the GUI thread."""
        self._next_id += 1
        rid = self._next_id
        if key is not None:
            self._waiting.pop(self._latest.get(key, -1), None)
            self._latest[key] = rid
        self._waiting[rid] = (on_done, key)
        lane_key = None if key is None else (id(self), key)
        try:
            self.service.submit_background(dataclasses.replace(req, id=rid),
                                           self._relay.done.emit, lane_key)
        except RuntimeError:  # the service closed: the window is going away
            self._waiting.pop(rid, None)
        return rid

    @Slot(object)
    def _deliver(self, res: RenderResult) -> None:
        waiting = self._waiting.pop(res.id, None)
        if waiting is None:
            return  # superseded
        on_done, key = waiting
        if key is not None and self._latest.get(key) == res.id:
            del self._latest[key]
        if res.error is not None or res.images is None:
            self.failed.emit(res.error or "render failed")
            return
        on_done(res.images)

    def idle(self) -> bool:
        """True when every request made has been delivered or superseded (tests wait on this)."""
        return not self._waiting
