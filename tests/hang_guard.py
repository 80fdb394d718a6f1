"""The test run's guards against hanging (hooks imported by tests/conftest.py).

A test that runs past `TEST_TIMEOUT_S` ends the whole run with every thread's stack, the test's
own frames and, as the last line, its name; a run whose tests are over but whose process cannot
exit (a thread that never ends) is ended after `EXIT_TIMEOUT_S`, naming the threads left. Either
shows up at once and named, instead of as a CI run that times out with only the tail of a stack
(stop 28's CI: 90 minutes, no test named). The slowest test takes about 60 s here.
"""

from __future__ import annotations

import faulthandler
import os
import sys
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_TIMEOUT_S = float(os.environ.get("FACE_EXPLORER_TEST_TIMEOUT", "600"))
EXIT_TIMEOUT_S = float(os.environ.get("FACE_EXPLORER_EXIT_TIMEOUT", "120"))
PROJECT = str(Path(__file__).resolve().parent.parent)
HUNG_TEST, HUNG_EXIT = 70, 71  # the run's exit status


def _to_terminal(config: pytest.Config) -> None:
    """Print to the terminal from here on, not into a test's captured output."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.suspend_global_capture(in_=True)


def _stop(first: str, last: str, status: int, between: str = "") -> None:
    """End the run: `first`, every thread's stack, `between`, and `last` as the last line."""
    sys.stderr.write(f"\n+++ {first}; every thread's stack:\n")
    sys.stderr.flush()
    faulthandler.dump_traceback(sys.stderr, all_threads=True)
    sys.stderr.write(f"{between}+++ stopped the test run: {last}\n")
    sys.stderr.flush()
    os._exit(status)


def _hung(item: pytest.Item) -> None:
    _to_terminal(item.config)
    where = ""
    test_thread = sys._current_frames().get(threading.main_thread().ident)
    if test_thread is not None:  # the test's own frames again, where a log's tail shows them
        frames = traceback.extract_stack(test_thread)
        ours = [f for f in frames[:-3] if f.filename.startswith(PROJECT) and "site-packages"
                not in f.filename][-6:]  # the test's and the project's frames, then the innermost
        where = ("+++ where the test waits (innermost last):\n"
                 + "".join(traceback.format_list(ours + frames[-3:])))
    late = f"{item.nodeid} ran past {TEST_TIMEOUT_S:.0f} s"
    _stop(late, f"{late} (FACE_EXPLORER_TEST_TIMEOUT)", HUNG_TEST, where)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    watchdog = threading.Timer(TEST_TIMEOUT_S, _hung, args=(item,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()


def _stuck_at_exit() -> None:
    left = [t.name for t in threading.enumerate()
            if not t.daemon and t is not threading.main_thread()]
    _stop(f"the tests are over but the process did not exit within {EXIT_TIMEOUT_S:.0f} s",
          "it could not exit; threads that never ended: "
          f"{', '.join(left) or 'none (see the stacks)'} (FACE_EXPLORER_EXIT_TIMEOUT)",
          HUNG_EXIT)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    """Past this point pytest only cleans up (output capture ends) and Python exits."""
    watchdog = threading.Timer(EXIT_TIMEOUT_S, _stuck_at_exit)
    watchdog.daemon = True  # a process that exits ends it
    watchdog.start()
