"""The live path from state to pixels: frozen requests out, newest results back on the GUI thread.

``RenderService.submit`` calls back on its worker thread; :class:`LiveRenderer` re-emits the result
through a queued Qt signal and drops anything older than what is already shown (stylegan3's
AsyncRenderer stamps, napari's slicer). ``sync=True`` renders on the calling thread (tests).
"""

from __future__ import annotations

import time

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
