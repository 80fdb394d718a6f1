"""Shared fixtures: a tiny trained model file, real data paths, headless Qt, one torch thread."""

from __future__ import annotations

import faulthandler
import os
import shutil
import sys
import tempfile
import threading
import traceback
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("FACE_EXPLORER_CACHE", str(Path(__file__).parent.parent / ".cache" / "tests"))
# Windows' autosaves (and other app data) in a folder of this run's own: a window killed in an
# earlier run, or on this machine outside the tests, left an autosave that every window opened
# here would offer to restore, starting a window of its own on that autosave's model.
DATA_HOME = os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="face-explorer-test-data-")
# Render services draw eager in tests (no background export per service); the ONNX Runtime path
# has its own tests (tests/core/test_render_backend.py), which ask for it.
os.environ.setdefault("FACE_EXPLORER_ONNX", "0")
# Nor do they compile G (about 20 s a package); the compiled engine's tests ask for it.
os.environ.setdefault("FACE_EXPLORER_COMPILE", "0")

import torch  # noqa: E402

torch.set_num_threads(1)

from testdata import CELEBA, ROOT, TINY_ATTRIBUTES, UTKFACE, needs  # noqa: E402,F401

# A test that runs past this many seconds ends the whole run, its name as the last line printed
# (after every thread's stack): a hang shows up at once and named, not as a CI run that times
# out with only the tail of a stack (the slowest test takes about 60 s here).
TEST_TIMEOUT_S = float(os.environ.get("FACE_EXPLORER_TEST_TIMEOUT", "600"))
PROJECT = str(Path(__file__).resolve().parent.parent)


def _hung(item: pytest.Item) -> None:
    capture = item.config.pluginmanager.getplugin("capturemanager")
    if capture is not None:  # print to the terminal, not into the test's captured output
        capture.suspend_global_capture(in_=True)
    name = item.nodeid
    sys.stderr.write(f"\n+++ {name} ran past {TEST_TIMEOUT_S:.0f} s; every thread's stack:\n")
    sys.stderr.flush()
    faulthandler.dump_traceback(sys.stderr, all_threads=True)
    test_thread = sys._current_frames().get(threading.main_thread().ident)
    if test_thread is not None:  # the test's own frames again, where a log's tail shows them
        frames = traceback.extract_stack(test_thread)
        ours = [f for f in frames[:-3] if f.filename.startswith(PROJECT) and "site-packages"
                not in f.filename][-6:]  # the test's and the project's frames, then the innermost
        sys.stderr.write("+++ where the test waits (innermost last):\n")
        sys.stderr.write("".join(traceback.format_list(ours + frames[-3:])))
    sys.stderr.write(f"+++ stopped the test run: {name} ran past {TEST_TIMEOUT_S:.0f} s "
                     f"(FACE_EXPLORER_TEST_TIMEOUT)\n")
    sys.stderr.flush()
    os._exit(70)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    watchdog = threading.Timer(TEST_TIMEOUT_S, _hung, args=(item,))
    watchdog.daemon = True
    watchdog.start()
    try:
        yield
    finally:
        watchdog.cancel()


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Each test starts on one torch thread: the CLI (`--threads 2`), a window's render service
    and a training run set the process's count, and a test after them ran on two threads,
    which on a loaded 2-core machine spin-wait (the PTI test: 100 s instead of 1 s)."""
    yield
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def make_tiny_model(out: Path, kind: str = "dcgan", res: int = 16, steps: int = 30,
                    cond: tuple[str, ...] = ()) -> Path:
    """Train a seconds-long model on synthetic data with the real trainer; return its file
    (`cond`: the attributes a conditional model is conditioned on; a cgan's default two)."""
    from trainer.config import TrainConfig, preset
    from trainer.data import fake_dataset
    from trainer.run import Run

    values = preset("tiny")
    values.update(kind=kind, res=res, steps=steps, encoder_steps=steps, classifier_steps=steps,
                  sample_every=10_000, snapshot_every=10_000, atlas_size=64)
    if cond or kind == "cgan":
        values["cond_attributes"] = cond or ("Smiling", "Male")
    if kind == "style":
        values["judge"] = True
    cfg = TrainConfig(**values)
    data = fake_dataset(n=128, res=res, names=TINY_ATTRIBUTES)
    run = Run(out, cfg, data, quiet=True, command=["tests"])
    return run.train()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete tiny model file (G, E, C, directions, atlas), trained once per session."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny_model"))


@pytest.fixture(scope="session")
def tiny_style(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny style-based model (mapping network, W space, the judge), trained by the trainer."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny_style"), kind="style")


@pytest.fixture(scope="session")
def tiny_cstyle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny conditional style model (y on Smiling and Male), trained by the trainer."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny_cstyle"), kind="style",
                           cond=("Smiling", "Male"))


@pytest.fixture(scope="session")
def tiny_cgan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny_cgan"), kind="cgan")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(DATA_HOME, ignore_errors=True)
