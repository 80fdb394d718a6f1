"""Long work (photo encoding, t-SNE, video export) on a QThreadPool, reported back by signals.

The job function gets ``progress(fraction)`` and ``cancelled() -> bool`` callables; its return value
arrives in ``finished``, an exception's message in ``failed``. Signals cross to the GUI thread.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from explorer.core import render

POOL_EXPIRY_MS = 1000


class WorkerSignals(QObject):
    progress = Signal(float)
    finished = Signal(object)
    failed = Signal(object)  # the exception instance


class Job(QRunnable):
    """One cancellable background call; keep a reference while it runs (``signals``)."""

    def __init__(self, fn: Callable[[Callable[[float], None], Callable[[], bool]], Any]) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.signals = WorkerSignals()
        self._cancel = False
        self.done = False

    def cancel(self) -> None:
        self._cancel = True

    def cancelled(self) -> bool:
        return self._cancel

    def _progress(self, f: float) -> None:
        try:
            self.signals.progress.emit(f)
        except RuntimeError:  # the window went away: stop quietly
            self._cancel = True

    def run(self) -> None:
        render.parallel_torch_here()  # this pool thread's own count, not the GUI thread's one
        try:
            out = self.fn(self._progress, self.cancelled)
        except Exception as e:  # reported to the window, never lost
            e.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.done = True
            self._emit(self.signals.failed, e)
            return
        self.done = True
        self._emit(self.signals.finished, out)

    @staticmethod
    def _emit(signal, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # receiver side deleted (window closed while working)
            pass


_JOBS: set[Job] = set()


def start(fn: Callable[[Callable[[float], None], Callable[[], bool]], Any],
          on_done: Callable[[Any], None] | None = None,
          on_error: Callable[[Exception], None] | None = None,
          on_progress: Callable[[float], None] | None = None) -> Job:
    """Run ``fn(progress, cancelled)`` on the global thread pool and wire up the callbacks."""
    job = Job(fn)
    _JOBS.add(job)
    if on_progress is not None:
        job.signals.progress.connect(on_progress)
    if on_done is not None:
        job.signals.finished.connect(on_done)
    if on_error is not None:
        job.signals.failed.connect(on_error)
    job.signals.finished.connect(lambda *_: _forget(job))
    job.signals.failed.connect(lambda *_: _forget(job))
    pool = QThreadPool.globalInstance()
    # An idle pool thread goes after a second, and its torch threads with it: while they exist
    # the render worker's helper sleeps between layers (`render.serial_torch_here`).
    pool.setExpiryTimeout(POOL_EXPIRY_MS)
    pool.start(job)
    return job


def _forget(job: Job) -> None:
    """After the job's own callbacks ran: drop it, and delete its signals object, whose Qt
    connections (these lambdas) hold the job in a cycle Python's collector cannot see; without
    this every job, its function and what that holds stayed in memory for good."""
    _JOBS.discard(job)
    job.signals.deleteLater()
    job.fn = None


def cancel_all() -> None:
    """Ask every running job to stop (window closing)."""
    for job in list(_JOBS):
        job.cancel()
