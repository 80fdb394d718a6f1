"""A leading + trailing throttle at the widget edge (pyqtgraph SignalProxy / superqt qthrottled).

The first call runs at once; calls within ``interval_ms`` are merged and the *last* arguments run
when the interval ends, so the newest slider value always gets rendered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer


class Throttle(QObject):
    """Rate-limit ``func`` to once per ``interval_ms``; the last call always runs.

    Parameters
    ----------
    func
        Called on the GUI thread with the latest arguments.
    interval_ms
        Minimum time between two calls of ``func``. 0 calls straight through (tests, benchmark).
    """

    def __init__(self, func: Callable[..., Any], interval_ms: int = 16,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._func = func
        self._interval = interval_ms
        self._pending: tuple[tuple[Any, ...], dict[str, Any]] | None = None
        self._last = -1e9  # perf_counter of the last call of func
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._on_timeout)

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        if self._interval <= 0:
            self._func(*args, **kwargs)
            return
        wait_ms = self._interval - (time.perf_counter() - self._last) * 1e3
        if wait_ms <= 0 and not self._timer.isActive():
            self._call(args, kwargs)  # leading edge: the interval has passed, run now
            return
        self._pending = (args, kwargs)  # trailing edge: keep only the newest
        if not self._timer.isActive():
            self._timer.start(max(1, round(wait_ms)))

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self._last = time.perf_counter()
        self._func(*args, **kwargs)

    def _on_timeout(self) -> None:
        if self._pending is not None:
            args, kwargs = self._pending
            self._pending = None
            self._call(args, kwargs)

    def flush(self) -> None:
        """Run a pending trailing call now (e.g. on slider release)."""
        self._timer.stop()
        self._on_timeout()
        self._timer.stop()

    @property
    def pending(self) -> bool:
        return self._pending is not None
