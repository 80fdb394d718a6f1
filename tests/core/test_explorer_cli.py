"""The headless CLI end to end on the tiny model, and its clean failures on bad input."""

from __future__ import annotations

import csv
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
    for extra, same in (([], True), (["--no-detail"], False)):
        code, out, err = run(capsys, "edit", f"{stem}.npy", "--model", m, "--size",
                             str(recon.shape[0]), "--out", str(tmp_path / "again.png"), *extra)
        assert code == 0, err
        again = np.asarray(Image.open(tmp_path / "again.png"))
        assert (np.abs(again.astype(int) - recon.astype(int)).max() <= 1) == same
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
    # detail); without the detail, through its latent alone.
    mids = {}
    for extra in ([], ["--no-detail"]):
        code, out, err = run(capsys, "interpolate", "1", f"{stem}.npy", "2", "--model", m,
                             "--frames", "9", "--size", str(recon.shape[0]), "--quiet",
                             "--out", str(tmp_path / "p.gif"), *extra)
        assert code == 0, err
        with av.open(str(tmp_path / "p.gif")) as f:
            mid = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)][4]
        mids[bool(extra)] = np.abs(mid.astype(int) - recon.astype(int)).mean()
    assert mids[False] < 1 < mids[True]
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
    lines = err.strip().splitlines()
    assert len(lines) == 2 and "named pipe" in lines[0] and "30000x20" in lines[1], err
    assert (tmp_path / "enc" / f"{good.stem}.npy").exists()
    for name in ("edit", "score"):
        code, _, err = run(capsys, name, str(strip), "--model", str(tiny_model))
        assert code == 2 and len(err.strip().splitlines()) == 1 and "30000x20" in err, err
