"""E's W+ head (`tools/fit_encoder_plus.py`, `Encoder.forward_plus`): a photo's refinement starts
from E's per-layer answer, closer to the photo than E's w alone."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from testdata import CELEBA, ROOT, needs

from explorer.core.bundle import load_bundle
from explorer.core.encoding import encode_face
from facegan.checkpoint import load_model

pytestmark = needs(CELEBA)
N_PHOTOS = 24


def _celeba_folder(root: Path, n: int) -> Path:
    """A CelebA-layout folder of the first n real images with their labels."""
    lines = (CELEBA / "list_attr_celeba.txt").read_text().splitlines()
    (root / "img_align_celeba").mkdir(parents=True)
    rows = lines[2:2 + n]
    for line in rows:
        name = line.split()[0]
        shutil.copy(CELEBA / "img_align_celeba" / name, root / "img_align_celeba" / name)
    (root / "list_attr_celeba.txt").write_text("\n".join([str(n), lines[1], *rows]) + "\n")
    return root


def _fit(model: Path, data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "fit_encoder_plus.py"), str(model), "--data",
         str(data), "--out", str(out), "--holdout", "0", "--threads", "1", "--batch", "8",
         "--lr", "2e-3", *extra], capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.fixture(scope="module")
def fitted(tiny_cstyle: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The tiny conditional style model with a W+ head fitted in two runs (the second resumes
    the first), and its data folder."""
    tmp = tmp_path_factory.mktemp("eplus")
    data = _celeba_folder(tmp / "celeba", N_PHOTOS)
    out = tmp / "eplus.safetensors"
    first = _fit(tiny_cstyle, data, out, "--steps", "60")
    assert first.returncode == 0, first.stderr
    second = _fit(tiny_cstyle, data, out, "--steps", "120", "--resume")
    assert second.returncode == 0, second.stderr
    return out, data


def _faces(data: Path, res: int) -> np.ndarray:
    from trainer.data import load_dataset

    return np.asarray(load_dataset(data, res).images)


def test_es_w_plus_start_draws_the_photos_closer_than_its_w(tiny_cstyle: Path, fitted) -> None:
    out, data = fitted
    mf = load_model(out)
    assert mf.config.encoder_w_plus and mf.meta["encoder_w_plus"]["steps"] == 120
    before, after = load_bundle(tiny_cstyle), load_bundle(out)
    faces = _faces(data, after.resolution)
    start_w = [encode_face(before, f, max_steps=0, detail="latent").psnr for f in faces]
    start_plus = [encode_face(after, f, max_steps=0, detail="latent") for f in faces]
    assert np.mean([r.psnr for r in start_plus]) > np.mean(start_w) + 0.3
    # w is E's as before: only the W+ offset is new, and it is the detail's latent part
    z_before = before.encode(faces)
    assert np.allclose(np.stack([r.z for r in start_plus]), z_before, atol=1e-5)
    n_latent = after.network("G").latent_detail_size
    details = np.stack([r.detail for r in start_plus])
    assert np.abs(details[:, :n_latent]).max() > 0 and not details[:, n_latent:].any()
    # a fit of the whole detail (W+ and the feature offset) starts from E's w alone
    whole = encode_face(after, faces[0], max_steps=0, detail=True)
    assert whole.detail is not None and not whole.detail.any()


def test_a_model_file_without_the_head_loads_and_encodes_as_before(tiny_cstyle: Path) -> None:
    b = load_bundle(tiny_cstyle)
    assert not b.config.encoder_w_plus and "encoder_w_plus" not in b.config.to_dict()
    r = encode_face(b, np.full((b.resolution, b.resolution, 3), 128, np.uint8), max_steps=0,
                    detail="latent")
    assert r.detail is not None and not r.detail.any()


def test_resuming_without_a_state_is_refused_in_one_line(tiny_cstyle: Path, tmp_path: Path,
                                                         fitted) -> None:
    _, data = fitted
    r = _fit(tiny_cstyle, data, tmp_path / "x.safetensors", "--steps", "2", "--resume")
    assert r.returncode != 0 and "nothing to resume" in r.stderr
    assert r.stderr.strip().count("\n") == 0 and not (tmp_path / "x.safetensors").exists()


def test_the_report_edits_es_w_plus_answer_too(fitted, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """`face-train evaluate` grades edits on E's whole answer (w and its W+ offset), the face
    the window shows first, beside E's w alone."""
    from evaluation.face_train import main as train_cli
    from trainer.data import FaceDataset

    out, data = fitted
    names = load_model(out).attribute_names  # the tiny model's six: the labels keep only those
    lines = (data / "list_attr_celeba.txt").read_text().splitlines()
    cols = [lines[1].split().index(a) for a in names]
    folder = tmp_path / "celeba"
    shutil.copytree(data / "img_align_celeba", folder / "img_align_celeba")
    rows = [" ".join([r.split()[0], *[r.split()[1 + i] for i in cols]]) for r in lines[2:]]
    (folder / "list_attr_celeba.txt").write_text("\n".join([lines[0], " ".join(names), *rows])
                                                 + "\n")
    data = folder
    split = FaceDataset.split_holdout  # the tiny model holds nothing out: the report takes 8
    monkeypatch.setattr(FaceDataset, "split_holdout", lambda self, n: split(self, n or 8))
    docs = tmp_path / "docs"
    rc = train_cli(["evaluate", str(out), "--data", str(data), "--utk", str(tmp_path / "no"),
                    "--out", str(docs), "--n-refine", "2", "--n-edit", "8", "--budget", "0.02"])
    assert rc == 0
    text = (docs / "evaluation.md").read_text()
    assert "#### Held-out faces, encoded by E in W+ (E's own W+ offset)" in text
    assert "held-out faces (E alone in W+):" in text  # its Targets line
