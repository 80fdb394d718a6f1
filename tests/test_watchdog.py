"""The test run's watchdog (tests/conftest.py): a test that hangs ends the whole run at once
with every thread's stack and, last, its own name, instead of holding CI until its time is up."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from testdata import ROOT


def test_a_hung_test_stops_the_run_and_names_itself_last() -> None:
    env = {**os.environ, "FACE_EXPLORER_TEST_TIMEOUT": "3"}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        "tests/fixtures/hangs.py"], cwd=ROOT, env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 70, r.stdout[-2000:] + r.stderr[-2000:]
    assert time.monotonic() - t0 < 60
    last = r.stderr.strip().splitlines()[-1]
    assert "tests/fixtures/hangs.py::test_that_hangs ran past 3 s" in last
    assert "in test_that_hangs" in r.stderr  # the hung thread's stack
    assert "threading.Event().wait()" in "\n".join(r.stderr.splitlines()[-8:])  # in the tail
