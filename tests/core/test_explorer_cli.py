"""The headless CLI end to end on the tiny model, and its clean failures on bad input."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from testdata import UTKFACE, needs

from explorer.cli import SUBCOMMANDS, main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_top_level_help_lists_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "opens the window" in out
    for name in SUBCOMMANDS:
        assert name in out
    for name in SUBCOMMANDS:
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and "--model" in out


def test_sample_edit_analogy(tiny_model: Path, tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    m = str(tiny_model)
    code, _, err = run(capsys, "sample", "--model", m, "--seeds", "1-6", "--cols", "3",
                       "--size", "32", "--out", str(tmp_path / "s.png"))
    assert code == 0, err
    assert Image.open(tmp_path / "s.png").size == (96, 64)
    code, _, err = run(capsys, "edit", "4", "--model", m, "--set", "Smiling=+2", "--lock", "Male",
                       "--compare", "--size", "16", "--out", str(tmp_path / "e.png"),
                       "--save-latent", str(tmp_path / "e.npy"))
    assert code == 0, err
    pair = np.asarray(Image.open(tmp_path / "e.png"))
    assert pair.shape == (16, 32, 3) and not np.array_equal(pair[:, :16], pair[:, 16:])
    assert np.load(tmp_path / "e.npy").shape == (8,)
    code, _, err = run(capsys, "analogy", "1", "2", str(tmp_path / "e.npy"), "--model", m,
                       "--size", "16", "--out", str(tmp_path / "a.png"))
    assert code == 0, err
    assert Image.open(tmp_path / "a.png").size == (64, 16)


@needs(UTKFACE)
def test_encode_score_interpolate_embed_with_a_photo(
    tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    m = str(tiny_model)
    photo = str(sorted(UTKFACE.glob("*.jpg"))[0])
    code, out, err = run(capsys, "encode", photo, "--model", m, "--budget", "1", "--threads", "1",
                         "--out", str(tmp_path / "enc"))
    assert code == 0, err
    stem = tmp_path / "enc" / Path(photo).stem
    assert np.load(f"{stem}.npy").shape == (8,)
    recon = np.asarray(Image.open(f"{stem}_recon.png"))
    # The saved latent and detail draw the reconstruction again; the latent alone does not.
    latent_alone = None
    for extra, same in (([], True), (["--no-detail"], False)):
        code, out, err = run(capsys, "edit", f"{stem}.npy", "--model", m, "--size",
                             str(recon.shape[0]), "--out", str(tmp_path / "again.png"), *extra)
        assert code == 0, err
        again = np.asarray(Image.open(tmp_path / "again.png"))
        assert (np.abs(again.astype(int) - recon.astype(int)).max() <= 1) == same
        latent_alone = again.astype(int)
    # edit draws a photo with its detail unless told not to: two different pictures.
    pics = []
    for extra in ([], ["--no-detail"]):
        out_png = tmp_path / f"edit{len(pics)}.png"
        # A budget, not a step count: 1 s leaves room for many steps even on a loaded machine
        # (at 0.2 s a busy run once took none, and so fitted no detail).
        code, out, err = run(capsys, "edit", photo, "--model", m, "--budget", "1", "--set",
                             "Smiling=1", "--compare", "--out", str(out_png), *extra)
        assert code == 0, err
        pics.append(np.asarray(Image.open(out_png)))
    assert pics[0].shape == pics[1].shape and not np.array_equal(pics[0], pics[1])
    code, out, err = run(capsys, "score", photo, "--model", m, "--top", "3", "--budget", "0.1")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 4 and "classifier p" in out
    code, out, err = run(capsys, "interpolate", "1", photo, "2", "--model", m, "--frames", "9",
                         "--size", "32", "--quiet", "--budget", "0.1",
                         "--out", str(tmp_path / "i.gif"))
    assert code == 0, err
    with av.open(str(tmp_path / "i.gif")) as f:
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    assert len(frames) == 9 and frames[0].shape == (32, 32, 3)
    # A walk through an encoded photo passes through the photo as encode drew it (with its
    # detail); without the detail, through its latent alone, drawn as `edit --no-detail` draws it.
    mids = {}
    for extra in ([], ["--no-detail"]):
        code, out, err = run(capsys, "interpolate", "1", f"{stem}.npy", "2", "--model", m,
                             "--frames", "9", "--size", str(recon.shape[0]), "--quiet",
                             "--out", str(tmp_path / "p.gif"), *extra)
        assert code == 0, err
        with av.open(str(tmp_path / "p.gif")) as f:
            mid = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)][4]
        mids[bool(extra)] = mid.astype(int)
    # A GIF shares one 255-colour palette over the walk (explorer.core.video): ~2-4 levels.
    assert np.abs(mids[False] - recon.astype(int)).mean() < 4
    assert np.abs(mids[True] - latent_alone).mean() < 4
    assert np.abs(mids[False] - recon.astype(int)).mean() < np.abs(
        mids[True] - recon.astype(int)).mean()
    code, out, err = run(capsys, "embed", photo, "--model", m, "--method", "pca", "--budget", "0.1",
                         "--color-by", "Male", "--cache-dir", str(tmp_path / "cache"),
                         "--out", str(tmp_path / "m.png"), "--csv", str(tmp_path / "m.csv"))
    assert code == 0, err
    rows = list(csv.reader(open(tmp_path / "m.csv")))
    assert len(rows) == 1 + 64 + 1 and rows[-1][1] == Path(photo).name
    assert Image.open(tmp_path / "m.png").size[0] > 100


@pytest.mark.parametrize(
    "argv, message",
    [
        (["edit", "3", "--set", "Smilng=1"], "unknown attribute 'Smilng'"),
        (["edit", "3", "--set", "Smiling"], "NAME=VALUE"),
        (["edit", "3", "--lock", "Bald"], "unknown attribute 'Bald'"),
        (["edit", "missing_photo.jpg"], "no such photo"),
        (["sample", "--seeds", "a-b"], "bad seed list"),
        (["interpolate", "1"], "at least two keyframes"),
        (["interpolate", "1", "2", "--out", "x.avi"], "unknown video format"),
        (["embed", "--color-by", "Nope"], "unknown attribute 'Nope'"),
        (["sample", "--out", "no/such/folder/s.png"], "does not exist"),
        (["sample", "--out", "s.gifx"], "cannot write '.gifx' images"),
        (["interpolate", "1", "2", "--size", "255"], "--size 255 is odd"),
        (["interpolate", "1", "2", "--frames", "10000", "--out", "x.gif"],
         "--frames must be between 2 and 2000"),
    ],
)
def test_bad_input_fails_cleanly(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str], argv: list[str],
                                 message: str) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, *argv, "--model", str(tiny_model))
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_model_files_fail_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "corrupt.safetensors").write_bytes(b"\x00" * 100)
    code, _, err = run(capsys, "sample", "--model", str(tmp_path / "corrupt.safetensors"))
    assert code == 2 and "not a model file" in err
    code, _, err = run(capsys, "sample", "--model", str(tmp_path / "absent.safetensors"))
    assert code == 2 and "no such model file" in err


def test_console_script_runs_headless(tiny_model: Path, tmp_path: Path) -> None:
    """Through the real entry point (explorer.app), in a fresh process: exit codes and no Qt."""
    code = (
        "import sys; from explorer.app import main; rc = main(sys.argv[1:]); "
        "assert not any(m.startswith('PySide6') for m in sys.modules); sys.exit(rc)"
    )
    ok = subprocess.run([sys.executable, "-c", code, "sample", "--model", str(tiny_model),
                         "--seeds", "1,2", "--out", str(tmp_path / "s.png")],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([sys.executable, "-c", code, "score", "nope.png", "--model",
                          str(tiny_model)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no such photo" in bad.stderr
    assert "Traceback" not in bad.stderr


@needs(UTKFACE)
def test_encode_batch_goes_past_a_fifo_and_a_strip(tiny_model: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A FIFO named like a photo and a 30000x20 image each give one line; the batch goes on."""
    import os
    import threading

    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    strip = tmp_path / "strip.png"
    Image.new("RGB", (30000, 20), (120, 100, 90)).save(strip)
    good = sorted(UTKFACE.glob("*.jpg"))[0]

    def release() -> None:  # if the reader hangs on the FIFO, give it EOF so the test can fail
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:
            pass

    watchdog = threading.Timer(20.0, release)
    watchdog.start()
    try:
        code, out, err = run(capsys, "encode", str(fifo), str(strip), str(good), "--model",
                             str(tiny_model), "--budget", "0.05", "--threads", "1", "--out",
                             str(tmp_path / "enc"))
    finally:
        watchdog.cancel()
    assert code == 2 and "Traceback" not in err and "error: (-215" not in err
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("face-explorer encode:")]
    assert len(lines) == 2 and "named pipe" in lines[0] and "30000x20" in lines[1], err
    assert (tmp_path / "enc" / f"{good.stem}.npy").exists()
    for name in ("edit", "score"):
        code, _, err = run(capsys, name, str(strip), "--model", str(tiny_model))
        assert code == 2 and len(err.strip().splitlines()) == 1 and "30000x20" in err, err


def test_sample_writes_the_format_its_suffix_names(tiny_model: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    for name, fmt in (("s.jpg", "JPEG"), ("s.webp", "WEBP"), ("s.png", "PNG")):
        code, _, err = run(capsys, "sample", "--model", str(tiny_model), "--seeds", "1,2",
                           "--size", "16", "--out", str(tmp_path / name))
        assert code == 0, err
        assert Image.open(tmp_path / name).format == fmt


def test_a_mistyped_subcommand_is_an_error_not_the_window(
        capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.app import main as app_main

    code = app_main(["smaple", "--seeds", "1"])
    _, err = capsys.readouterr()
    assert code == 2 and "unknown command 'smaple'" in err and "'sample'" in err
    assert len(err.strip().splitlines()) == 1


def test_outputs_respect_the_umask(tiny_model: Path, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Exports and sessions are readable by others under umask 022 (mkstemp alone gives 0600)."""
    import os
    import stat

    from explorer.core.session import save_session
    from explorer.core.video import export_video

    old = os.umask(0o022)
    try:
        frames = [np.zeros((16, 16, 3), np.uint8)] * 2
        outs = [export_video(frames, tmp_path / "w.gif"), export_video(frames, tmp_path / "w.mp4")]
        save_session(tmp_path / "s.json", {"seed": 1, "z": np.zeros(4, np.float32)})
        outs.append(tmp_path / "s.json")
        code, _, err = run(capsys, "sample", "--model", str(tiny_model), "--seeds", "1",
                           "--size", "16", "--out", str(tmp_path / "g.png"))
        assert code == 0, err
        outs.append(tmp_path / "g.png")
    finally:
        os.umask(old)
    for p in outs:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p.name
    assert not list(tmp_path.glob(".*.part*"))


def test_part_files_of_killed_exports_are_cleaned(tmp_path: Path) -> None:
    """SIGKILL leaves a part file; the next export into the folder removes it (a live
    process's part file stays: it may be exporting right now)."""
    import os

    from explorer.core.video import export_video

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".w.gif.{dead.pid}.abc123.part"
    live = tmp_path / f".w.gif.{os.getppid()}.def456.part"
    stale.write_bytes(b"half a video")
    live.write_bytes(b"someone else's")
    export_video([np.zeros((8, 8, 3), np.uint8)] * 2, tmp_path / "w.gif")
    assert not stale.exists() and live.exists()


def test_sigterm_during_a_cli_export_leaves_no_part_file(tiny_model: Path,
                                                         tmp_path: Path) -> None:
    import signal
    import time

    out = tmp_path / "walk.gif"
    p = subprocess.Popen([sys.executable, "-m", "explorer.app", "interpolate", "1", "2",
                          "--model", str(tiny_model), "--frames", "2000", "--size", "512",
                          "--quiet", "--out", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".walk.gif.*.part*")) and time.monotonic() < deadline:
        if p.poll() is not None:
            break
        time.sleep(0.05)
    assert p.poll() is None, f"the export ended before it could be stopped: {p.stderr.read()}"
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 143 and "Traceback" not in err, err
    assert not out.exists() and not list(tmp_path.glob(".*.part*"))


def test_hostile_model_metadata_fails_cleanly(tiny_model: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Metadata of the wrong types and NaN weights: one line each, never a traceback."""
    import json

    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(tiny_model), framework="pt") as f:
        meta = json.loads(f.metadata()["face_explorer"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    n_attr = len(meta["attribute_names"])
    nan_g = dict(tensors)
    nan_g["G.to_rgb.0.weight"] = torch.full_like(tensors["G.to_rgb.0.weight"], float("nan"))
    cases = [
        (dict(provenance="hand made"), tensors, "provenance"),
        (dict(attribute_names=list(range(n_attr))), tensors, "attribute_names"),
        (dict(model_config={**meta["model_config"], "nz": 8.0}), tensors, "nz"),
        ({}, {**tensors, "attr.directions.sampled": torch.zeros(2, 3)}, "sampled has shape"),
        ({}, nan_g, "NaN or infinite"),
    ]
    for i, (change, ts, message) in enumerate(cases):
        p = tmp_path / f"hostile{i}.safetensors"
        save_file(ts, str(p), metadata={"face_explorer": json.dumps({**meta, **change})})
        code, _, err = run(capsys, "sample", "--model", str(p), "--out", str(tmp_path / "s.png"))
        assert code == 2 and message in err and "Traceback" not in err, (change, err)
        assert len(err.strip().splitlines()) == 1


def test_o_is_short_for_out(tiny_model: Path, tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    for name in SUBCOMMANDS:
        code, out, _ = run(capsys, name, "--help")
        if "--out" in out:
            assert re.search(r"-o \w+, --out", out), name
    code, _, err = run(capsys, "sample", "--model", str(tiny_model), "--seeds", "1-2",
                       "--size", "16", "-o", str(tmp_path / "short.png"))
    assert code == 0, err
    assert Image.open(tmp_path / "short.png").size == (32, 16)


def test_face_train_takes_o_for_out() -> None:
    from trainer.cli import build_parser

    args = build_parser().parse_args(["--data", "x", "-o", "runs/short"])
    assert args.out == "runs/short"


def test_the_cli_refines_a_photo_for_the_cores_budget() -> None:
    """The CLI spells the budget out (its --help imports no torch); the window refines longer,
    in the background, after E's answer is already editable."""
    from explorer.cli import BUDGET_S
    from explorer.core.encoding import BUDGET_S as CORE_BUDGET_S
    from explorer.core.encoding import WINDOW_BUDGET_S

    assert BUDGET_S == CORE_BUDGET_S < WINDOW_BUDGET_S
