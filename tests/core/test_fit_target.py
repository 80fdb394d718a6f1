"""Fitting a photo that ends inside CelebA's framing: only the photo's own pixels count, the rest
is G's to draw (`explorer.core.fit_target`, `Alignment.inside`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from testdata import UTKFACE, needs

from explorer.core.align import find_face_aligned
from explorer.core.bundle import load_bundle
from explorer.core.encoding import encode_photo
from explorer.core.fit_target import FILL_WEIGHT, FitTarget, own_psnr


def _utk(i: int) -> np.ndarray:
    return np.asarray(Image.open(sorted(UTKFACE.glob("*.jpg"))[i]).convert("RGB"))


@needs(UTKFACE)
def test_a_tight_photo_knows_which_pixels_of_its_crop_are_its_own() -> None:
    face, al, _, _ = find_face_aligned(_utk(5), 64)
    inside = al.inside(64)
    assert inside is not None and inside.shape == (64, 64)
    assert 0.15 < inside.mean() < 0.7  # a UTKFace chip ends well inside the framing
    assert inside[0].max() == 0.0 and inside[32, 32] == 1.0  # above the head: fill; face: photo
    # The same photo with room around it (a wider photo): every pixel is the photo's.
    img = _utk(5)
    wide = np.full((3 * img.shape[0], 3 * img.shape[1], 3), 120, np.uint8)
    wide[img.shape[0]:2 * img.shape[0], img.shape[1]:2 * img.shape[1]] = img
    _face, al_wide, _, _ = find_face_aligned(wide, 64)
    assert al_wide.inside(64) is None


def test_only_the_photos_own_pixels_are_fitted_and_scored() -> None:
    torch.manual_seed(0)
    target = torch.rand(1, 3, 8, 8) * 2 - 1
    inside = np.zeros((8, 8), np.float32)
    inside[:, :4] = 1.0  # the left half is the photo's
    x = target.clone()
    x[..., 4:] = -target[..., 4:]  # right on the photo, wrong everywhere else
    free = FitTarget(target, inside)
    assert free.pixel_loss(x).item() == pytest.approx(0.0, abs=1e-7)
    assert free.psnr(x) == float("inf")
    assert FitTarget(target).pixel_loss(x).item() > 0.1  # the whole crop would count it
    # With a fill, the rest is held to it, at FILL_WEIGHT of a photo pixel's weight.
    held = FitTarget(target, inside, fill=x)
    assert held.pixel_loss(x).item() == pytest.approx(0.0, abs=1e-7)
    other = FitTarget(target, inside, fill=torch.zeros_like(x))
    d = x[..., 4:]
    want = FILL_WEIGHT * (d.pow(2) + 0.5 * d.abs()).sum() / ((32 + FILL_WEIGHT * 32) * 3)
    assert other.pixel_loss(x).item() == pytest.approx(want.item(), rel=1e-5)
    assert other.psnr(x) == float("inf")  # the score stays the photo's pixels'
    # A crop that is all photo fits as before.
    whole = FitTarget(target, np.ones((8, 8), np.float32))
    assert whole.weight is None


@needs(UTKFACE)
def test_an_encoded_tight_photo_reports_the_likeness_of_its_own_pixels(tiny_model: Path) -> None:
    b = load_bundle(tiny_model)
    r = encode_photo(b, _utk(5), budget_s=60, max_steps=5)
    assert r.inside is not None and r.inside.shape == r.face.shape[:2]
    own = own_psnr(r.recon, r.face, r.inside)
    whole = own_psnr(r.recon, r.face, None)
    assert r.psnr == pytest.approx(own, abs=0.3)
    assert abs(own - whole) > 0.3  # the fill is not what was scored
