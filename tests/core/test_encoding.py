"""Encoding photos and scoring attributes: refinement beats the encoder alone, within budget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from testdata import UTKFACE, needs

from explorer.core.bundle import Bundle, BundleError
from explorer.core.classify import attribute_probabilities
from explorer.core.encoding import encode_face, encode_photo
from explorer.core.fit_target import own_psnr
from explorer.core.photos import PhotoError


@needs(UTKFACE)
def test_utkface_photo_found_cropped_and_refined(bundle: Bundle) -> None:
    photo = sorted(UTKFACE.glob("*.jpg"))[0]
    seen: list[float] = []
    # A step count, not the clock, so a busy CI machine cannot make this flaky.
    r = encode_photo(bundle, photo, budget_s=60, max_steps=40, progress=seen.append)
    assert r.box is not None and r.face.shape == (16, 16, 3)
    assert r.z.shape == (8,) and r.z.dtype == np.float32
    assert r.recon.shape == (16, 16, 3) and r.recon.dtype == np.uint8
    assert r.steps == 40 and len(seen) == 40
    assert r.psnr > r.psnr_encoder  # refinement improves on E alone
    # The likeness of the photo's own pixels (a UTKFace chip ends inside CelebA's framing).
    assert r.inside is not None
    assert r.psnr == pytest.approx(own_psnr(r.recon, r.face, r.inside), abs=0.2)
    assert r.detail is not None and r.detail.shape == bundle.detail_shape
    np.testing.assert_array_equal(bundle.generate(r.z, detail=r.detail)[0], r.recon)
    for stage in ("load", "detect", "encoder", "refine"):
        assert stage in r.timings


def test_photo_detail_brings_the_reconstruction_closer(bundle: Bundle) -> None:
    """With the detail fitted, the same number of steps gets nearer to the photo; without it,
    the result is z alone. Edits move z and keep the detail."""
    from trainer.data import fake_dataset

    faces = fake_dataset(n=4, res=16, seed=7).images
    with_d = [encode_face(bundle, f, budget_s=60, max_steps=30) for f in faces]
    without = [encode_face(bundle, f, budget_s=60, max_steps=30, detail=False) for f in faces]
    assert all(r.detail is None for r in without)
    # The tiny test model draws these only roughly (9 dB); on the bundled model the gain is ~3 dB.
    assert np.mean([r.psnr for r in with_d]) > np.mean([r.psnr for r in without])
    r = with_d[0]
    np.testing.assert_array_equal(bundle.generate(r.z[None], detail=r.detail)[0], r.recon)
    moved = bundle.generate(r.z[None] + 1.0, detail=r.detail)[0]
    assert np.abs(moved.astype(int) - r.recon.astype(int)).mean() > 1
    with pytest.raises(BundleError, match="photo detail must have shape"):
        bundle.generate(r.z[None], detail=np.zeros((2, 3)))


def test_refinement_stops_at_its_budget(bundle: Bundle) -> None:
    face = bundle.generate(np.ones((1, 8), np.float32))[0]
    r = encode_face(bundle, face, budget_s=0.3)
    assert 0.3 <= r.timings["refine"] < 0.3 + 2.0  # one step of slack, generous for busy CI
    assert r.psnr >= r.psnr_encoder


def test_cancel_stops_refinement_early(bundle: Bundle) -> None:
    face = bundle.generate(np.ones((1, 8), np.float32))[0]
    r = encode_face(bundle, face, budget_s=30, cancel=lambda: True)
    assert r.steps == 0 and r.timings["refine"] < 5
    assert r.psnr == r.psnr_encoder


def test_encode_bad_inputs(bundle: Bundle, tmp_path: Path) -> None:
    with pytest.raises(PhotoError, match="no such photo"):
        encode_photo(bundle, tmp_path / "nope.png")
    with pytest.raises(BundleError, match="uint8 arrays of shape"):
        encode_face(bundle, np.zeros((64, 64, 3), np.uint8))


def test_attribute_probabilities(bundle: Bundle) -> None:
    faces = bundle.generate(np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32))
    p = attribute_probabilities(bundle, faces)
    assert p.shape == (5, 6) and ((p >= 0) & (p <= 1)).all()
    np.testing.assert_allclose(attribute_probabilities(bundle, faces[0]), p[:1], atol=1e-5)
