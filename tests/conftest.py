"""Shared fixtures: a tiny trained model file, real data paths, headless Qt, one torch thread."""

from __future__ import annotations

import os
import shutil
import tempfile
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

# A hung test, or a run that cannot exit, ends the run with its name (tests/hang_guard.py).
from hang_guard import pytest_runtest_protocol, pytest_unconfigure  # noqa: E402,F401
from testdata import CELEBA, ROOT, TINY_ATTRIBUTES, UTKFACE, needs  # noqa: E402,F401


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
def tiny_cstyle_all(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny conditional style model on every attribute of the data (style64-cond40's shape)."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny_cstyle_all"), kind="style",
                           cond=tuple(TINY_ATTRIBUTES))


@pytest.fixture(scope="session")
def tiny_cgan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny_cgan"), kind="cgan")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    shutil.rmtree(DATA_HOME, ignore_errors=True)
