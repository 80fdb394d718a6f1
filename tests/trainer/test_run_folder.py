"""A run folder under stress: a full disk at any write, a read-only folder, two trainers, a resume
with other flags or other data, lost steps in the metrics log, bad step counts."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facegan.checkpoint import load_model, load_state, read_meta
from facegan.models import bf16_is_fast
from facegan.runlog import read_records
from trainer.cli import main
from trainer.config import TrainConfig, preset
from trainer.data import fake_dataset
from trainer.run import Run

TINY = ["--data", "fake", "--preset", "tiny", "--quiet"]
FAST = [*TINY, "--classifier-steps", "0"]  # no classifier: no sampled directions to fit
needs_dev_full = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")


@contextmanager
def disk_full(monkeypatch: pytest.MonkeyPatch, when: Callable[[str], bool]) -> Iterator[None]:
    """Atomic writes whose temp file name matches `when` go to /dev/full: a real ENOSPC."""
    real = tempfile.mkstemp

    def mkstemp(suffix: str | None = None, prefix: str | None = None,
                dir: str | None = None, text: bool = False) -> tuple[int, str]:  # noqa: A002
        fd, tmp = real(suffix=suffix, prefix=prefix, dir=dir, text=text)
        if when(prefix or ""):
            os.close(fd)
            os.unlink(tmp)
            os.symlink("/dev/full", tmp)
            fd = os.open(tmp, os.O_WRONLY)
        return fd, tmp

    with monkeypatch.context() as m:
        m.setattr(tempfile, "mkstemp", mkstemp)
        yield


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def image_folder(root: Path, n: int, attributes: list[str] | None = None, seed: int = 0) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        name = f"{i:03d}.png"
        Image.fromarray(rng.integers(0, 255, (20, 20, 3), dtype=np.uint8)).save(root / name)
        rows.append(",".join([name, *("1" if rng.random() < 0.5 else "-1"
                                      for _ in attributes or [])]))
    if attributes:
        (root / "attributes.csv").write_text("\n".join([",".join(["file", *attributes]), *rows]))
    return root


# Item 7: finishing is a phase like the others.

@pytest.mark.slow
@needs_dev_full
def test_a_full_disk_at_the_final_write_leaves_a_run_that_resume_finishes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    flags = {"on": False}  # whether the write in progress is the final model file
    real_export = Run.export

    def export(self: Run, path: Path, *, final: bool, **kw: object) -> None:  # type: ignore[misc]
        flags["on"] = final
        real_export(self, path, final=final, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Run, "export", export)
    with disk_full(monkeypatch, lambda prefix: flags["on"] and prefix.startswith(".model.")):
        assert main([*TINY, "--out", str(out)]) == 1
    err = one_line_error(capsys)
    assert "No space left on device" in err and "--resume" in err
    assert load_state(out / "model.state.pt")["phase"] == "done"
    assert read_meta(out / "model.safetensors")["final"] is False  # a plain snapshot
    assert main([*TINY, "--out", str(out), "--resume"]) == 0
    mf = load_model(out / "model.safetensors")
    assert mf.meta["final"] is True and mf.meta["step"] == 4 + 2 + 2
    assert mf.has("atlas.z") and mf.has("attr.directions") and mf.has("attr.directions.sampled")
    assert (out / "timelapse.gif").exists() and not list(out.rglob("*.tmp"))
    # A finished run says so instead of silently doing nothing.
    capsys.readouterr()
    assert main(["--data", "fake", "--preset", "tiny", "--out", str(out), "--resume"]) == 0
    assert "nothing to do" in capsys.readouterr().err


# Item 8: a resume rebuilds from the run's own config and notices other data.

@pytest.mark.slow
def test_resume_uses_the_stored_config_and_refuses_conflicting_flags(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "run32")
    assert main([*FAST, "--res", "32", "--steps", "2", "--out", out]) == 0
    # Without --res 32 (it crashed with a tensor size mismatch).
    assert main([*FAST, "--steps", "3", "--out", out, "--resume"]) == 0
    mf = load_model(Path(out) / "model.safetensors")
    # 2 GAN steps, 2 encoder, 2 classifier; then the third GAN step and the encoder again.
    assert mf.config.resolution == 32 and mf.meta["final"] and mf.meta["step"] == 4 + 1 + 2
    capsys.readouterr()
    for flags, shown in [(["--res", "64"], "--res 64 (the run has 32)"),
                         (["--nz", "16"], "--nz 16 (the run has 8)"),
                         (["--kind", "vaegan"], "--kind vaegan (the run has dcgan)"),
                         (["--cond", "Attr0"], "--cond Attr0 (the run has )")]:
        assert main([*FAST, *flags, "--out", out, "--resume"]) == 2, flags
        assert shown in one_line_error(capsys)
    # A preset is the run's starting point, not a change: ignored with a warning.
    assert main(["--data", "fake", "--preset", "celeba64", "--quiet", "--out", out,
                 "--resume"]) == 0
    assert "--preset celeba64 is ignored on --resume" in capsys.readouterr().err
    assert load_model(Path(out) / "model.safetensors").config.resolution == 32


@pytest.mark.slow
def test_resume_refuses_a_changed_data_set(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    data = image_folder(tmp_path / "faces", 24, ["Smiling", "Male"])
    out = str(tmp_path / "run")
    base = ["--data", str(data), "--preset", "tiny", "--quiet", "--out", out,
            "--cache-dir", str(tmp_path / "cache")]
    assert main([*base, "--steps", "2"]) == 0
    assert sorted(load_model(Path(out) / "model.safetensors").parts) == ["C", "E", "G"]
    capsys.readouterr()
    # An unlabelled folder: it silently dropped the classifier.
    (data / "attributes.csv").rename(tmp_path / "attributes.csv")
    assert main([*base, "--steps", "3", "--resume"]) == 2
    assert "has no labels" in one_line_error(capsys)
    # Other attributes.
    image_folder(data, 24, ["Smiling", "Young"])
    assert main([*base, "--steps", "3", "--resume"]) == 2
    assert "other attributes" in one_line_error(capsys)
    # One image more.
    (tmp_path / "attributes.csv").replace(data / "attributes.csv")
    image_folder(data, 24, ["Smiling", "Male"])  # the original folder again...
    Image.new("RGB", (20, 20)).save(data / "999.png")  # ...plus one unlabelled image
    with open(data / "attributes.csv", "a") as f:
        f.write("\n999.png,1,-1")
    assert main([*base, "--steps", "3", "--resume"]) == 2
    err = one_line_error(capsys)
    assert "changed since this run started (24 training images then, 25 now)" in err
    assert "--init-from" in err
    (data / "999.png").unlink()
    image_folder(data, 24, ["Smiling", "Male"])
    assert main([*base, "--steps", "3", "--resume"]) == 0  # the same data again: resumes
    assert load_model(Path(out) / "model.safetensors").meta["step"] == 6 + 1 + 2


# Item 9: one trainer per run folder; no duplicated metrics after a resume.

def test_a_second_trainer_on_a_run_folder_is_refused_and_a_dead_ones_lock_is_not(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from trainer.runfolder import RunLock; "
         "lock = RunLock(sys.argv[1]).acquire(); print('locked', flush=True); time.sleep(600)",
         str(out)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert main([*FAST, "--out", str(out)]) == 2
        err = one_line_error(capsys)
        assert f"another face-train (pid {holder.pid}) is training in" in err
        assert not (out / "model.safetensors").exists()
    finally:
        holder.kill()  # SIGKILL: the lock dies with its process
        holder.wait(timeout=30)
    assert main([*FAST, "--out", str(out)]) == 0
    assert read_meta(out / "model.safetensors")["final"] is True


def test_a_resume_drops_the_metrics_of_steps_lost_since_the_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "run"

    def die_at_step_5(t: object) -> None:
        if t.phase == "gan" and t.step == 5:  # type: ignore[attr-defined]
            raise KeyboardInterrupt  # a hard stop mid-run: no snapshot of steps 4 and 5

    from trainer.run import Run as _Run

    real_init = _Run.__init__

    def init(self: _Run, *a: object, **kw: object) -> None:
        real_init(self, *a, **kw)  # type: ignore[arg-type]
        self.trainer.add_callback("on_step", die_at_step_5)

    with pytest.MonkeyPatch.context() as m:
        m.setattr(_Run, "__init__", init)
        assert main([*FAST, "--steps", "8", "--snapshot-every", "3", "--out", str(out)]) == 130
    gan = [r["step"] for r in read_records(out / "metrics.jsonl")[0] if r["phase"] == "gan"]
    assert gan == [1, 2, 3, 4, 5] and load_state(out / "model.state.pt")["step"] == 3
    assert main([*FAST, "--steps", "8", "--out", str(out), "--resume"]) == 0
    recs = read_records(out / "metrics.jsonl")[0]
    assert [r["step"] for r in recs if r["phase"] == "gan"] == list(range(1, 9))
    assert [r["total_steps"] for r in recs] == [*range(1, 8 + 2 + 1), 8 + 2]  # and "done"
    assert recs[-1]["phase"] == "done"


# Item 10: one line instead of a traceback.

@pytest.mark.parametrize("argv, message", [
    (["--snapshot-every", "0"], "--snapshot-every must be 1 or more, got 0"),
    (["--steps", "-5"], "--steps must be 0 or more, got -5"),
    (["--log-every", "0"], "--log-every must be 1 or more"),
    (["--holdout", "-1"], "--holdout must be 0 or more"),
])
def test_bad_step_counts_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     argv: list[str], message: str) -> None:
    out = tmp_path / "run"
    assert main([*TINY, *argv, "--out", str(out)]) == 2
    assert message in one_line_error(capsys)
    assert not (out / "model.safetensors").exists()


def _read_only(folder: Path) -> Callable[[], None]:
    """Make `folder` unwritable even for root (chmod, else chattr +i); returns the undo."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o555)
    try:
        (folder / "probe").touch()
    except OSError:
        return lambda: folder.chmod(0o755)
    (folder / "probe").unlink()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        folder.chmod(0o755)
        pytest.skip("cannot make a read-only folder here")
    return lambda: (subprocess.run(["chattr", "-i", str(folder)]), folder.chmod(0o755))


def test_a_read_only_folder_is_refused_before_training(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    import trainer.loop

    steps = []
    monkeypatch.setattr(trainer.loop.Trainer, "gan_step",
                        lambda self: steps.append(1) or {})  # type: ignore[func-returns-value]
    ro = tmp_path / "ro"
    undo = _read_only(ro)
    try:
        for out in (ro, ro / "run"):
            assert main([*TINY, "--out", str(out)]) == 2
            err = one_line_error(capsys)
            assert f"cannot write to {out if out == ro else ro}" in err or "cannot write" in err
    finally:
        undo()
    assert steps == []  # found before the first training step


@needs_dev_full
def test_a_full_disk_at_a_snapshot_is_one_line_and_resumable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    argv = [*FAST, "--steps", "6", "--snapshot-every", "2", "--out", str(out)]
    writes = {"n": 0}

    def second_state_write(prefix: str) -> bool:
        if prefix.startswith(".model.state.pt."):
            writes["n"] += 1
        return writes["n"] >= 2

    with disk_full(monkeypatch, second_state_write):
        assert main(argv) == 1
    err = one_line_error(capsys)
    assert "No space left on device" in err and "--resume" in err
    assert load_state(out / "model.state.pt")["step"] == 2  # the first snapshot is intact
    assert main([*argv, "--resume"]) == 0
    assert read_meta(out / "model.safetensors")["step"] == 6 + 2


def test_bf16_where_the_hardware_has_it_unless_float32_is_asked_for(
        capsys: pytest.CaptureFixture[str]) -> None:
    from trainer.cli import build_parser, config_from_args
    from trainer.loop import Trainer

    p = build_parser()
    base = ["--data", "fake", "--out", "x", "--preset", "celeba64"]
    assert config_from_args(p.parse_args(base))[0].bf16 is True  # used only where it is fast:
    t = Trainer(TrainConfig(**{**preset("tiny"), "bf16": True}), fake_dataset(n=16, res=16))
    assert t.use_bf16 == bf16_is_fast(t.device)
    assert config_from_args(p.parse_args([*base, "--bf16"]))[0].bf16 is True
    assert config_from_args(p.parse_args([*base, "--no-bf16"]))[0].bf16 is False
    with pytest.raises(SystemExit):
        p.parse_args([*base, "--bf16", "--no-bf16"])
    assert "not allowed with" in capsys.readouterr().err
