"""The photo scorer: a second classifier in the model file that scores faces for the user.

A model file may hold, beside C, a classifier fine-tuned for real photos (``C_photo.*``). What
the app and the CLI show of a face (the photo panel's bars, the readout, ``score``) comes from
it when present, else from C; latent refinement, pivotal tuning and direction discovery keep C.
The scorer here is C with its output layer negated, so it says the opposite of C everywhere:
p_scorer = 1 - p_C, which no fallback or mix-up can produce by accident.
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from testdata import ROOT, UTKFACE, needs

from explorer.cli import main
from explorer.core.bundle import Bundle, load_bundle
from explorer.core.classify import attribute_probabilities, classifier_probabilities
from explorer.core.edits import top_attributes
from facegan.checkpoint import SCORER, ModelFileError, load_model, save_model
from facegan.models import ModelConfig, build


def _install(model: Path, classifier: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run tools/install_classifier.py --as-scorer in this process."""
    monkeypatch.setattr(sys, "argv", ["install_classifier.py", str(model), str(classifier),
                                      "--as-scorer", "--out", str(out)])
    runpy.run_path(str(ROOT / "tools" / "install_classifier.py"), run_name="__main__")


@pytest.fixture(scope="module")
def scored(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a photo scorer installed by the tool: C with its head negated."""
    tmp = tmp_path_factory.mktemp("scored")
    sd = {k: v.clone() for k, v in load_model(tiny_model).state_dict("C").items()}
    for k in ("head.2.weight", "head.2.bias"):
        sd[k] = -sd[k]
    save_file(sd, str(tmp / "opposite.safetensors"), metadata={"what": "C, negated"})
    with pytest.MonkeyPatch.context() as mp:
        _install(tiny_model, tmp / "opposite.safetensors", tmp / "scored.safetensors", mp)
    return tmp / "scored.safetensors"


def _faces(b: Bundle, n: int = 6) -> np.ndarray:
    return b.generate(b.seed_latents(list(range(n))))


def test_installing_a_scorer_changes_nothing_else(tiny_model: Path, scored: Path) -> None:
    with safe_open(str(tiny_model), "pt") as a, safe_open(str(scored), "pt") as b:
        old = {k: a.get_tensor(k) for k in a.keys()}
        new = {k: b.get_tensor(k) for k in b.keys()}
        meta_old = json.loads(a.metadata()["face_explorer"])
        meta_new = json.loads(b.metadata()["face_explorer"])
    assert {k for k in new if k not in old} == {f"{SCORER}.{k}" for k in load_model(
        tiny_model).state_dict("C")}
    assert all(torch.equal(new[k], v) and new[k].dtype == v.dtype for k, v in old.items())
    assert meta_new.pop("scorer")["provenance"] == {"what": "C, negated"}
    assert meta_new == meta_old  # parts, directions, everything else as it was
    b0, b1 = load_bundle(tiny_model), load_bundle(scored)
    assert not b0.has_scorer and b1.has_scorer
    np.testing.assert_array_equal(_faces(b0), _faces(b1))  # G draws bit-identically


def test_a_file_with_a_scorer_shows_its_scores(tiny_model: Path, scored: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from explorer.ui.photo_panel import TOP_K, classifier_top

    b = load_bundle(scored)
    faces = _faces(b)
    p_c = classifier_probabilities(b, faces)
    np.testing.assert_allclose(p_c, attribute_probabilities(load_bundle(tiny_model), faces),
                               atol=1e-6)  # C is the file's own C, untouched
    shown = attribute_probabilities(b, faces)
    np.testing.assert_allclose(shown, 1 - p_c, atol=1e-5)
    assert np.abs(shown - p_c).max() > 0.05
    # The photo panel's bars (photo and edit) read the scorer.
    got = classifier_top(b, faces[0])
    want = top_attributes(1 - p_c[0], b.attribute_names, k=TOP_K)
    assert [n for n, _ in got] == [n for n, _ in want]
    np.testing.assert_allclose([p for _, p in got], [p for _, p in want], atol=1e-5)
    # The CLI's score prints the scorer's probability of each listed attribute.
    assert main(["score", "3", "--model", str(scored), "--top", "6", "--psi", "1"]) == 0
    face = b.generate(b.seed_latents([3]), psi=1.0)
    p = attribute_probabilities(b, face)[0]
    rows = capsys.readouterr().out.strip().splitlines()[1:]
    assert len(rows) == 6
    for row in rows:
        name, _, prob = row.split()
        assert float(prob) == pytest.approx(p[b.attribute_names.index(name)], abs=0.006)


def test_a_file_without_a_scorer_falls_back_to_c(tiny_model: Path) -> None:
    b = load_bundle(tiny_model)
    assert not b.has_scorer and b.can_score and b.scoring_network() is b.network("C")
    assert load_model(tiny_model).scoring_part == "C"
    faces = _faces(b)
    np.testing.assert_array_equal(attribute_probabilities(b, faces),
                                  classifier_probabilities(b, faces))


def test_refinement_pivotal_tuning_and_discovery_keep_c(tiny_model: Path, scored: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The same photo fits to the same latent and the same tuned weights, and the same
    discovered directions get the same names, with or without a scorer in the file."""
    import explorer.core.photo_edit as photo_edit
    from explorer.core.discovered import describe
    from explorer.core.encoding import encode_photo
    from trainer.data import fake_dataset

    face = fake_dataset(n=1, res=16, seed=3).images[0]
    b0, b1 = load_bundle(tiny_model), load_bundle(scored)
    r0 = encode_photo(b0, face, whole_image=True, budget_s=60, max_steps=5, detail=False)
    r1 = encode_photo(b1, face, whole_image=True, budget_s=60, max_steps=5, detail=False)
    np.testing.assert_array_equal(r0.z, r1.z)
    trunks = []
    real_tune = photo_edit.tune_generator

    def spy(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        trunks.append(kw["features"].__self__)
        return real_tune(*args, **kw)

    monkeypatch.setattr(photo_edit, "tune_generator", spy)
    t0 = photo_edit.tune_photo(b0, r0, steps=8)
    t1 = photo_edit.tune_photo(b1, r1, steps=8)
    assert trunks[1] is b1.network("C") and trunks[1] is not b1.scoring_network()
    assert t0.psnr_after == t1.psnr_after
    np.testing.assert_array_equal(b0.generate(r0.z, tuned=t0), b1.generate(r1.z, tuned=t1))
    v = np.eye(b0.nz, dtype=np.float32)[:2]
    assert describe(b0, v, n_faces=8)[1] == describe(b1, v, n_faces=8)[1]


def test_a_scorer_that_does_not_fit_is_refused_in_one_line(tmp_path: Path) -> None:
    cfg = ModelConfig(kind="dcgan", resolution=16, nz=8, ngf=8, ndf=8, nef=8, n_classes=3)
    other = ModelConfig(kind="dcgan", resolution=16, nz=8, ngf=8, ndf=8, nef=8, n_classes=4)
    nets = {"G": build(cfg, "G"), "C": build(cfg, "C"), SCORER: build(other, "C")}
    path = tmp_path / "m.safetensors"
    save_model(path, cfg, nets, {"attribute_names": ["Smiling", "Male", "Young"]})
    with pytest.raises(ModelFileError, match="photo scorer's weights do not match") as e:
        load_model(path)
    assert "\n" not in str(e.value)
    nets[SCORER] = build(cfg, "C")  # one that fits loads, and is not one of the parts
    save_model(path, cfg, nets, {"attribute_names": ["Smiling", "Male", "Young"]})
    mf = load_model(path)
    assert mf.parts == ["C", "G"] and mf.has_scorer and mf.scoring_part == SCORER


def _with_head(model: Path, head: np.ndarray, out: Path) -> Path:
    from facegan.checkpoint import SCORER_HEAD, copy_model_file

    def install(tensors: dict[str, torch.Tensor], doc: dict) -> None:
        tensors[SCORER_HEAD] = torch.from_numpy(head)

    copy_model_file(model, out, install)
    return out


needs_features = pytest.mark.skipif(
    not __import__("explorer.core.face_embedding", fromlist=["available"]).available(),
    reason="dlib's face-recognition network is not installed")


@needs_features
def test_a_scorer_head_reads_the_logits_and_the_faces_features(
        scored: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Row i of the head maps [the scorer's logits, the face's 128 features, 1] to attribute
    i's logit: an identity row shows the scorer's own score, a row over the features moves
    with the face. Without the recognition network the scorer's own scores are shown."""
    from explorer.core import face_embedding
    from explorer.core.classify import reads_features, scorer_label

    b0 = load_bundle(scored)
    n = len(b0.attribute_names)
    faces = _faces(b0)
    feats = face_embedding.embed_faces(faces)
    w = feats[0] - feats.mean(0)
    w *= 8.0 / np.linalg.norm(w) ** 2  # face 0 reads +8 from the mean of the six
    head = np.zeros((n, n + 129), np.float32)
    head[np.arange(n), np.arange(n)] = 1.0  # the scorer's own logit
    head[1] = 0.0
    head[1, n:n + 128] = w  # attribute 1 reads the features alone
    head[1, -1] = -float(w @ feats.mean(0))
    b = load_bundle(_with_head(scored, head, tmp_path / "head.safetensors"))
    assert b.scorer_head is not None and reads_features(b)
    assert "face-recognition" in scorer_label(b)
    alone = attribute_probabilities(b0, faces)
    shown = attribute_probabilities(b, faces)
    keep = [i for i in range(n) if i != 1]
    np.testing.assert_allclose(shown[:, keep], alone[:, keep], atol=1e-5)
    want = 1 / (1 + np.exp(-(feats - feats.mean(0)) @ w))
    np.testing.assert_allclose(shown[:, 1], want, atol=1e-4)
    assert shown[0, 1] > 0.99 and shown[1:, 1].max() < 0.9  # it tells the faces apart
    monkeypatch.setattr(face_embedding, "available", lambda: False)
    np.testing.assert_array_equal(attribute_probabilities(b, faces), alone)


def test_a_scorer_head_of_the_wrong_shape_is_refused_in_one_line(scored: Path,
                                                                 tmp_path: Path) -> None:
    n = len(load_bundle(scored).attribute_names)
    with pytest.raises(ModelFileError, match="scorer.head has shape") as e:
        _with_head(scored, np.zeros((n, n + 64), np.float32), tmp_path / "bad.safetensors")
    assert "\n" not in str(e.value) and not (tmp_path / "bad.safetensors").exists()


@needs_features
@needs(UTKFACE)
@pytest.mark.skipif(not (ROOT / "checkpoints" / "celeba64.safetensors").exists(),
                    reason="no bundled model")
def test_the_bundled_scores_read_sex_and_age_of_real_photos(tmp_path: Path) -> None:
    """100 UTKFace photos (every 5th) through the photo path, scored as the app shows them:
    the scorer head (the face-recognition features beside the fine-tuned classifier) calls
    age right on more adults than the classifier alone, and sex as often or more."""
    from explorer.core.align import find_face_aligned
    from explorer.core.photos import load_photo
    from facegan.models import map_images

    b = load_bundle(ROOT / "checkpoints" / "celeba64.safetensors")
    assert b.scorer_head is not None
    files = sorted(UTKFACE.glob("*.jpg"))[::5]
    faces = np.stack([find_face_aligned(load_photo(f), b.resolution)[0] for f in files])
    age = np.array([int(f.name.split("_")[0]) for f in files])
    male = np.array([f.name.split("_")[1] == "0" for f in files])
    adult = age >= 18
    shown = attribute_probabilities(b, faces)
    with torch.inference_mode():
        alone = torch.sigmoid(map_images(b.scoring_network(), faces)).numpy()
    M, Y = b.attribute_names.index("Male"), b.attribute_names.index("Young")

    def right(p: np.ndarray) -> tuple[int, int]:
        return (int(((p[:, M] > 0.5) == male).sum()),
                int(((p[adult, Y] > 0.5) == (age[adult] < 36)).sum()))

    (m_shown, y_shown), (m_alone, y_alone) = right(shown), right(alone)
    assert m_shown >= m_alone and m_shown >= 0.85 * len(files)
    assert y_shown >= y_alone + 4, (y_shown, y_alone, adult.sum())


@needs_features
def test_the_features_survive_their_process_dying(tiny_model: Path) -> None:
    """The recognition network runs in a child process (dlib holds the interpreter's lock);
    one that died is started again on the next request, with the same answers."""
    from explorer.core import face_embedding

    faces = _faces(load_bundle(tiny_model), n=3)
    first = face_embedding.embed_faces(faces)
    assert first.shape == (3, 128) and np.ptp(first, axis=0).max() > 0.01
    face_embedding._CHILD[0].kill()
    face_embedding._CHILD[0].wait()
    face_embedding._SEEN.clear()  # ask the process again, not the kept answers
    np.testing.assert_allclose(face_embedding.embed_faces(faces[::-1]), first[::-1], atol=1e-6)


def test_the_head_is_fitted_on_scaled_features_and_kept_only_where_it_helps() -> None:
    """tools/fit_scorer_head.py's rows: a feature a hundred times smaller than the logits still
    decides an attribute it predicts (its standardisation is folded back into the row, so the
    row applied to the raw inputs gives the fitted model's scores), and an attribute the
    features know nothing of keeps the classifier's own logit."""
    from sklearn.linear_model import LogisticRegression

    fit_row = runpy.run_path(str(ROOT / "tools" / "fit_scorer_head.py"))["fit_row"]
    rng = np.random.default_rng(0)
    n = 1200
    logit = rng.normal(0, 4, n)  # attribute 0's classifier logit: right on its own
    small = rng.normal(0, 0.02, n)  # a recognition feature, as small as dlib's
    X = np.stack([logit, small, rng.normal(0, 0.02, n)], 1)
    fit, choose = np.arange(n) < 900, np.arange(n) >= 900
    y_small = small + rng.normal(0, 0.004, n) > 0  # what the small feature alone predicts
    row, c = fit_row(X, y_small, fit, choose, own=0, grid=(0.1, 1.0))
    assert c is not None  # the head won
    scores = X[choose] @ row[:-1] + row[-1]
    assert ((scores > 0) == y_small[choose]).mean() > 0.9
    mu, sd = X[fit].mean(0), X[fit].std(0) + 1e-8
    m = LogisticRegression(C=c, max_iter=2000).fit((X[fit] - mu) / sd, y_small[fit])
    np.testing.assert_allclose(scores, m.decision_function((X[choose] - mu) / sd), atol=1e-6)
    y_own = rng.random(n) < 1 / (1 + np.exp(-logit))  # the logit is calibrated already
    row, c = fit_row(X, y_own, fit, choose, own=0, grid=(0.1, 1.0))
    assert c is None  # the classifier alone
    np.testing.assert_array_equal(row, [1, 0, 0, 0])
