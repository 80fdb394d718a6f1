"""The test run's guards (tests/hang_guard.py): a test that hangs, or a run whose process cannot
exit, ends the run at once, named in its last line, instead of holding CI until its time is up."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from testdata import ROOT


def _run(fixture: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        f"tests/fixtures/{fixture}"], cwd=ROOT, env={**os.environ, **env},
                       capture_output=True, text=True, timeout=120)
    return r, time.monotonic() - t0


def test_a_hung_test_stops_the_run_and_names_itself_last() -> None:
    r, took = _run("hangs.py", FACE_EXPLORER_TEST_TIMEOUT="3")
    assert r.returncode == 70, r.stdout[-2000:] + r.stderr[-2000:]
    assert took < 60
    last = r.stderr.strip().splitlines()[-1]
    assert "tests/fixtures/hangs.py::test_that_hangs ran past 3 s" in last
    assert "in test_that_hangs" in r.stderr  # the hung thread's stack
    assert "threading.Event().wait()" in "\n".join(r.stderr.splitlines()[-8:])  # in the tail


def test_a_run_that_cannot_exit_is_stopped_naming_the_thread_left() -> None:
    r, took = _run("never_exits.py", FACE_EXPLORER_EXIT_TIMEOUT="3")
    assert r.returncode == 71, r.stdout[-2000:] + r.stderr[-2000:]
    assert took < 60
    assert "1 passed" in r.stdout
    last = r.stderr.strip().splitlines()[-1]
    assert "could not exit; threads that never ended: never-ends" in last
