"""`face-train evaluate`: the quality report, end to end on a tiny model and labelled folder."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from testdata import TINY_ATTRIBUTES

from evaluation.face_train import main as train_cli
from trainer.config import TrainConfig, preset
from trainer.data import fake_dataset, load_dataset
from trainer.run import Run

pytestmark = pytest.mark.slow  # trains two tiny models and writes whole reports


def _labelled_folder(root: Path, n: int = 96) -> Path:
    data = fake_dataset(n=n, res=16, names=TINY_ATTRIBUTES)
    root.mkdir()
    with open(root / "attributes.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["file", *TINY_ATTRIBUTES])
        for i, (img, lab) in enumerate(zip(data.images, data.labels, strict=True)):
            Image.fromarray(img).save(root / f"{i:04d}.png")
            w.writerow([f"{i:04d}.png", *[int(v) for v in lab]])
    return root


@pytest.mark.parametrize("kind", ["dcgan", "style"])
def test_evaluate_writes_the_report_on_held_out_faces(tmp_path: Path, kind: str) -> None:
    folder = _labelled_folder(tmp_path / "faces")
    values = preset("tiny")
    values.update(steps=20, encoder_steps=20, classifier_steps=20, holdout=24, atlas_size=32,
                  sample_every=1000, snapshot_every=1000, kind=kind, judge=kind == "style")
    train, held = load_dataset(folder, 16, cache_dir=tmp_path / "cache").split_holdout(24)
    model = Run(tmp_path / "run", TrainConfig(**values), train, quiet=True,
                command=["t"]).train()

    docs = tmp_path / "docs"
    rc = train_cli(["evaluate", str(model), "--data", str(folder), "--utk", str(tmp_path / "no"),
                    "--out", str(docs), "--n-refine", "3", "--n-edit", "24", "--budget", "0.02"])
    assert rc == 0
    text = (docs / "evaluation.md").read_text()
    assert f"**{len(held)} held-out faces**" in text
    for heading in ("## The attribute classifier", "## Reconstruction", "## Attribute edits",
                    "## Fidelity and diversity", "## Targets"):
        assert heading in text, heading
    # Every direction method the model has, and the default with locks, per attribute.
    for method in ("sampled", "mean-diff", "linear", "sampled + locks"):
        assert f"| Smiling | {method} |" in text, method
    psnr = {name: float(v) for name, v in
            re.findall(r"\| (E [^|]*), held-out CelebA \| \d+ \| ([\d.]+) \|", text)}
    w_plus = ["E + refinement in W+ (latent only)"] if kind == "style" else []
    off = (["E + refinement + photo detail, drawn with the detail off (latent-only detail)"]
           if kind == "style" else [])
    assert list(psnr) == ["E alone", "E + refinement", *w_plus, "E + refinement + photo detail",
                          *off]
    if kind == "style":  # the latent-only figure is W+, not W+ and the feature offset
        said = re.search(r"([\d.]+) dB latent only \(W\+\)", text)
        assert said and abs(float(said[1]) - psnr["E + refinement in W+ (latent only)"]) <= 0.06
    assert all(5 < v < 60 for v in psnr.values())
    assert "photo detail (what the app edits by default)" in text
    # A model with the independent judge is graded by it, the bundled classifier beside it.
    judged = "Judged by the independent judge; the last two columns by the bundled classifier"
    assert (judged in text) == (kind == "style")
    for fig in ("samples", "reconstructions", "nearest", "interpolation", "edit_Smiling"):
        img = np.asarray(Image.open(docs / "evaluation" / f"{fig}.png"))
        assert img.ndim == 3 and img.std() > 1, fig  # a real picture, not a blank
        assert f"evaluation/{fig}.png" in text
    assert "ψ = 0.7" in text  # random samples at the app's truncation, and FD at several
    # The step sweep carries the chance level of collateral (a random direction of each step).
    sweep = re.findall(r"^\| (\d\.0) \|(?: [\d.]+% \|){8}$", text, re.M)
    assert sweep == ["1.0", "2.0", "3.0", "4.0", "6.0"]
    # Each target says whether it was met, or by how much it was missed.
    targets = text[text.index("## Targets"):]
    assert len(re.findall(r"target [≥≤] [\d.]+ ?(?:%|dB|x): (?:met|missed by [\d.]+)",
                          targets)) == 8
    # FD in the independent judge's feature space too, so two models graded by one judge compare.
    both = "| sets | FD, bundled classifier | FD, independent judge |"
    assert (both in text) == (kind == "style")

    # A missing model file is a clear message and exit code 2, not a traceback.
    assert train_cli(["evaluate", str(tmp_path / "missing.safetensors"), "--data",
                      str(folder)]) == 2


@pytest.mark.parametrize("kind", ["cgan", "style"])
def test_evaluate_a_conditional_model_edits_through_y(tmp_path: Path, kind: str) -> None:
    folder = _labelled_folder(tmp_path / "faces")
    values = preset("tiny")
    values.update(kind=kind, cond_attributes=("Smiling", "Male"), steps=20, encoder_steps=20,
                  classifier_steps=20, holdout=24, atlas_size=32, sample_every=1000,
                  snapshot_every=1000)
    train, _ = load_dataset(folder, 16, cache_dir=tmp_path / "cache").split_holdout(24)
    model = Run(tmp_path / "run", TrainConfig(**values), train, quiet=True,
                command=["t"]).train()
    docs = tmp_path / "docs"
    assert train_cli(["evaluate", str(model), "--data", str(folder), "--out", str(docs),
                      "--n-refine", "3", "--budget", "0.02", "--n-edit", "24",
                      "--report", "evaluation-cgan"]) == 0
    text = (docs / "evaluation-cgan.md").read_text()
    assert f"kind {kind} on Smiling, Male" in text
    assert "--report evaluation-cgan`" in text  # the reproduce line writes this report again
    for a in ("Smiling", "Male"):
        assert f"| {a} | y = ±1 |" in text and f"| {a} | y = ±2 |" in text, a
        assert (docs / "evaluation-cgan" / f"edit_{a}.png").exists()
    assert "Edit success, condition y = ±1, held-out faces" in text
    # ... and at each slider's own end, the model's fitted reach (what a user's drag does)
    assert "Edit success, y sliders at their end, held-out faces" in text
    assert "| Smiling | sliders' end (y = ±" in text
    # Refined codes too, each drawn with the y the judge sees; y edits act on them as on E's.
    assert "| E + refinement, held-out CelebA |" in text
    assert "Held-out faces, E + refinement (" in text
    assert "Held-out faces, E + refinement + photo detail (what the app edits" in text
    assert "Reconstruction with refinement:" in text and "dB latent only" in text


def test_evaluate_against_puts_two_models_side_by_side_under_one_judge(tmp_path: Path) -> None:
    folder = _labelled_folder(tmp_path / "faces")
    train, _ = load_dataset(folder, 16, cache_dir=tmp_path / "cache").split_holdout(24)
    models = {}
    for kind in ("style", "dcgan"):
        values = preset("tiny")
        values.update(steps=10, encoder_steps=10, classifier_steps=10, holdout=24, atlas_size=32,
                      sample_every=1000, snapshot_every=1000, kind=kind, judge=kind == "style")
        models[kind] = Run(tmp_path / kind, TrainConfig(**values), train, quiet=True,
                           command=["t"]).train()
    docs = tmp_path / "docs"
    # The DCGAN has no judge of its own: both are graded by the style model's.
    assert train_cli(["evaluate", str(models["dcgan"]), "--against", str(models["style"]),
                      "--data", str(folder), "--utk", str(tmp_path / "no"), "--out", str(docs),
                      "--n-refine", "2", "--n-edit", "24", "--budget", "0.02"]) == 0
    text = (docs / "evaluation.md").read_text()
    other = (docs / "evaluation-against.md").read_text()
    assert f"--against {models['style']}" in text  # the reproduce line measures both again
    for report in (text, other):
        assert "Judged by the independent judge" in report
    side = text[text.index("## Side by side"):]
    rows = dict(re.findall(r"^\| (edits flipped, E alone) \| ([\d.]+%) \|", side, re.M))
    assert rows, side[:500]
    # Each model's column holds its own figure, the one its own report states.
    fd_rows = re.findall(r"^\| FD, independent judge: ψ = 1.0 \| ([\d.]+) \| ([\d.]+) \| ≤ 1.5x",
                         side, re.M)
    assert len(fd_rows) == 1
    fd_dcgan, fd_style = fd_rows[0]
    for report, fd in ((text, fd_dcgan), (other, fd_style)):
        own = re.search(r"\| generated \(ψ = 1.0\) vs held-out \| [\d.]+ \| ([\d.]+) \|", report)
        assert own and f"{float(own.group(1)):.2f}" == fd
    beside = np.asarray(Image.open(docs / "evaluation" / "beside_samples.png"))
    single = np.asarray(Image.open(docs / "evaluation" / "samples.png"))
    assert beside.shape[1] > 2 * single.shape[1] and "beside_edit_Smiling.png" in side
