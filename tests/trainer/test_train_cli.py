"""`face-train` as a user runs it: help, errors, SIGKILL at any moment, Ctrl-C/SIGTERM, DDP."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from facegan.checkpoint import load_model, load_state
from trainer.cli import main
from trainer.monitor import read_jsonl

BIN = Path(sys.executable).parent
FACE_TRAIN = [str(BIN / "face-train")] if (BIN / "face-train").exists() else [
    sys.executable, "-m", "trainer.cli"]
TINY = ["--data", "fake", "--preset", "tiny", "--quiet"]


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", FACE_EXPLORER_CACHE=str(tmp_path / "cache"),
               GLOO_SOCKET_IFNAME="lo", PYTHONUNBUFFERED="1")
    return env


def _wait_for(cond: object, proc: subprocess.Popen, timeout: float = 240) -> None:
    end = time.time() + timeout
    while not cond():  # type: ignore[operator]
        if proc.poll() is not None:
            raise AssertionError(f"face-train exited early ({proc.returncode}): "
                                 f"{proc.stderr.read() if proc.stderr else ''}")
        if time.time() > end:
            proc.kill()
            raise AssertionError("timed out waiting for face-train")
        time.sleep(0.02)


def test_help_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = subprocess.run([*FACE_TRAIN, "--help"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0
    for word in ("--data", "--kind", "--resume", "--preset", "examples:", "celeba64"):
        assert word in out.stdout
    # A missing data folder: exit 2, a message, no traceback (real process, real exit code).
    out = subprocess.run([*FACE_TRAIN, "--data", str(tmp_path / "nope"), "--out",
                          str(tmp_path / "r")], capture_output=True, text=True, timeout=180,
                         env=_env(tmp_path))
    assert out.returncode == 2
    assert "no such data folder" in out.stderr and "Traceback" not in out.stderr
    # The same checks in-process, for the other mistakes.
    cases = [
        ([*TINY, "--cond", "Smiling,Nonsense", "--out", str(tmp_path / "c")], "unknown attrib"),
        ([*TINY, "--loss", "wasserstein", "--out", str(tmp_path / "c")], "loss must be"),
        ([*TINY, "--res", "48", "--out", str(tmp_path / "c")], "resolution must be"),
        (["--data", "fake", "--preset", "huge", "--out", str(tmp_path / "c")], "unknown preset"),
        ([*TINY, "--kind", "cgan", "--out", str(tmp_path / "c")], "cond_attributes"),
    ]
    for argv, msg in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "c" / "model.safetensors").exists()


def test_sigkill_at_any_moment_leaves_a_resumable_run(tmp_path: Path) -> None:
    """Kill -9 while snapshots are written every step, three times; then --resume finishes."""
    out = tmp_path / "run"
    model = out / "model.safetensors"
    cmd = [*FACE_TRAIN, *TINY, "--steps", "400", "--snapshot-every", "1", "--out", str(out)]
    rng = random.Random(0)
    last_step = -1
    for attempt in range(3):
        before = model.stat().st_mtime_ns if model.exists() else None
        p = subprocess.Popen(cmd + (["--resume"] if attempt else []), env=_env(tmp_path),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        _wait_for(lambda b=before: model.exists() and model.stat().st_mtime_ns != b, p)
        time.sleep(rng.uniform(0, 0.3))
        p.kill()
        p.wait(timeout=30)
        assert p.returncode == -signal.SIGKILL
        mf = load_model(model)  # never a torn file
        assert mf.meta["phase"] == "gan" and mf.meta["final"] is False
        st = load_state(out / "model.state.pt")
        assert st["phase"] == "gan" and st["step"] > last_step  # each resume made progress
        assert mf.meta["step"] <= st["step"]  # state is written first, then the model
        last_step = st["step"]
        read_jsonl(out / "metrics.jsonl")  # a cut-short log line is tolerated
    fin = subprocess.run(cmd + ["--resume", "--steps", str(last_step + 3), "--snapshot-every",
                                "1000"], env=_env(tmp_path), capture_output=True, text=True,
                         timeout=300)
    assert fin.returncode == 0, fin.stderr
    mf = load_model(model)
    assert mf.meta["final"] is True and sorted(mf.parts) == ["C", "E", "G"]
    # Exactly the saved step + the 3 remaining GAN steps + tiny's 2 encoder + 2 classifier steps.
    assert mf.meta["step"] == last_step + 3 + 2 + 2
    assert mf.has("atlas.z") and mf.has("attr.directions")
    assert not list(out.rglob("*.tmp"))  # temp files of the killed writes are cleaned up


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_saves_and_exits_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "run"
    cmd = [*FACE_TRAIN, *TINY, "--steps", "400", "--snapshot-every", "1000", "--out", str(out)]
    p = subprocess.Popen(cmd, env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    metrics = out / "metrics.jsonl"
    _wait_for(lambda: metrics.exists() and len(read_jsonl(metrics)) >= 3, p)
    p.send_signal(sig)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 128 + sig, stderr  # 130 for SIGINT, 143 for SIGTERM
    assert "Traceback" not in stderr
    st = load_state(out / "model.state.pt")
    assert f"interrupted: saved gan step {st['step']}" in stderr and "--resume" in stderr
    assert st["step"] == read_jsonl(metrics)[-1]["step"]  # the step in flight was completed
    assert load_model(out / "model.safetensors").meta["step"] == st["step"]
    if sig == signal.SIGINT:
        # Without --resume an existing run is never overwritten.
        again = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True,
                               timeout=180)
        assert again.returncode == 2 and "--resume" in again.stderr
        assert load_state(out / "model.state.pt")["step"] == st["step"]


@pytest.mark.skipif(shutil.which("torchrun", path=str(BIN)) is None, reason="no torchrun")
def test_ddp_two_gloo_processes(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    # --standalone picks a free loopback port itself: no window between choosing and binding it.
    cmd = [str(BIN / "torchrun"), "--standalone", "--nproc_per_node", "2", "-m", "trainer.cli",
           *TINY, "--steps", "4", "--out", str(out)]
    # torchrun returns 0 only when every rank exited 0; a hung rank would time out here.
    res = subprocess.run(cmd, env=_env(tmp_path), capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    mf = load_model(out / "model.safetensors")
    assert mf.meta["final"] is True and mf.meta["step"] == 4 + 2 + 2
    st = load_state(out / "model.state.pt")
    assert st["phase"] == "done"
    recs = [r for r in read_jsonl(out / "metrics.jsonl") if r["phase"] == "gan"]
    assert [r["step"] for r in recs] == [1, 2, 3, 4]  # only rank 0 logs
