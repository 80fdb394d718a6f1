"""A photo, edited: eye alignment, paste-back into the full photo, pivotal tuning, batches."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from testdata import ROOT, UTKFACE, needs

from explorer.cli import main
from explorer.core.align import CELEBA_EYES, find_face_aligned
from explorer.core.bundle import Bundle, load_bundle
from explorer.core.encoding import encode_photo
from explorer.core.paste_back import face_box_of, paste_back
from explorer.core.photo_edit import paste_edit, tune_photo
from explorer.core.pivotal import TunedWeights, TunedWeightsError, tuned_forward
from explorer.core.render import RenderRequest, RenderService
from facegan.images import psnr

BUNDLED = ROOT / "checkpoints" / "celeba64.safetensors"


def _utk(i: int) -> np.ndarray:
    return np.asarray(Image.open(sorted(UTKFACE.glob("*.jpg"))[i]).convert("RGB"))


def _on_canvas(img: np.ndarray, deg: float, side: int = 320) -> np.ndarray:
    """The photo turned by `deg` on a larger grey canvas (a tilted face in a wider photo)."""
    import cv2

    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    m[:, 2] += (side - w) / 2
    return cv2.warpAffine(img, m, (side, side), borderValue=(120, 120, 120))


@needs(UTKFACE)
def test_tilted_face_is_levelled_with_eyes_where_celeba_has_them() -> None:
    img = _on_canvas(_utk(3), 18.0)
    face, al, box, _ = find_face_aligned(img, 64)
    assert face.shape == (64, 64, 3) and box is not None
    assert al.method == "eyes" and al.eyes is not None
    (xa, ya), (xb, yb) = al.eyes
    assert math.degrees(math.atan2(yb - ya, xb - xa)) == pytest.approx(-18, abs=6)
    eyes = np.array([[xa, ya, 1.0], [xb, yb, 1.0]]) @ al.at(64).T  # into the crop
    ex0, ex1, ey = CELEBA_EYES[al.finder]
    np.testing.assert_allclose(eyes, [[ex0 * 64, ey * 64], [ex1 * 64, ey * 64]], atol=0.5)


@needs(UTKFACE)
def test_tight_photo_is_filled_without_stripes() -> None:
    """UTKFace crops end inside CelebA's framing: the fill outside the photo is smooth (no
    replicated-edge stripes: neighbouring fill columns barely differ)."""
    face, al, _, _ = find_face_aligned(_utk(5), 128)
    inside = np.ones(al.photo_shape, np.float32)
    import cv2

    inside = cv2.warpAffine(inside, al.at(128), (128, 128), borderValue=0) > 0.5
    fill = ~cv2.dilate(inside.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    assert fill.sum() > 200  # this photo does end inside the framing
    g = face.astype(np.float32).mean(2)
    grad = np.abs(np.diff(g, axis=1))[fill[:, 1:] & fill[:, :-1]]
    assert np.median(grad) < 2.0


@needs(UTKFACE)
def test_paste_back_at_zero_edit_and_an_edit_stays_in_the_face(bundle: Bundle) -> None:
    photo = _on_canvas(_utk(7), 0.0, 520)
    r = encode_photo(bundle, photo, budget_s=60, max_steps=5)
    same = paste_edit(bundle, photo, r.alignment, r.z, r.z)
    b = r.box
    outside = np.ones(photo.shape[:2], bool)
    outside[b.y : b.y + b.h, b.x : b.x + b.w] = False
    assert same.shape == photo.shape
    assert psnr(same[outside], photo[outside]) >= 40
    assert psnr(same[~outside], photo[~outside]) >= 30
    x0, y0, x1, y1 = face_box_of(r.alignment)  # where the mask can reach
    outside[:] = True
    outside[y0:y1, x0:x1] = False
    assert outside.mean() > 0.3
    # A change drawn by the model reaches the photo inside the face and nowhere else.
    recon = np.full((16, 16, 3), 100, np.uint8)
    edited = recon.copy()
    edited[4:12, 4:12] = 160
    out = paste_back(photo, r.alignment, recon, edited)
    assert np.array_equal(out[outside], photo[outside])
    assert np.abs(out.astype(int) - photo).max() > 30


@needs(UTKFACE)
def test_cli_paste_back_keeps_size_and_orientation(tiny_model: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """A photo stored sideways with EXIF orientation 6 comes back upright at its shown size."""
    upright = Image.fromarray(_on_canvas(_utk(9), 0.0, 260)[:, 20:])  # 240 x 260, portrait
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # turned: EXIF 6 turns it back
    exif = Image.Exif()
    exif[0x0112] = 6
    src = tmp_path / "me.jpg"
    stored.save(src, exif=exif.tobytes(), quality=95)
    out = tmp_path / "me_smiling.jpg"
    code = main(["edit", str(src), "--model", str(tiny_model), "--set", "Smiling=+1.5",
                 "--paste-back", "--budget", "0.05", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    with Image.open(out) as o:
        assert o.size == upright.size
        assert o.getexif().get(0x0112, 1) == 1
        got = np.asarray(o.convert("RGB")).astype(float)
    assert np.abs(got - np.asarray(upright)).mean() < 12  # upright, the same photo


def test_batch_keeps_going_past_a_bad_photo(tiny_model: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.jpg").write_bytes(b"not an image")
    Image.fromarray(np.full((40, 40, 3), 128, np.uint8)).save(folder / "flat.png")
    code = main(["encode", str(folder), "--model", str(tiny_model), "--whole-image",
                 "--budget", "0.05", "--out", str(tmp_path / "out")])
    out, err = capsys.readouterr()
    assert code == 2
    assert (tmp_path / "out" / "flat.npy").exists()
    assert "1 of 2 photos encoded" in out and "broken.jpg" in err and "1 failed" in err


def test_pivotal_tuning_fits_the_photo_and_travels_as_safetensors(bundle: Bundle) -> None:
    from trainer.data import fake_dataset

    face = fake_dataset(n=1, res=16, seed=3).images[0]
    r = encode_photo(bundle, face, whole_image=True, budget_s=60, max_steps=5, detail=False)
    G = bundle.network("G")
    before = {n: p.clone() for n, p in G.named_parameters()}
    seen: list[float] = []
    tw = tune_photo(bundle, r, steps=40, progress=seen.append)
    assert len(seen) == 40 and tw.steps == 40
    assert tw.psnr_after > tw.psnr_before + 3
    assert all(torch.equal(p, before[n]) for n, p in G.named_parameters())  # G untouched
    drawn = bundle.generate(r.z, tuned=tw)[0]
    assert psnr(drawn, face) == pytest.approx(tw.psnr_after, abs=0.3)
    # Round trip through bytes: safetensors, the same weights, the same key.
    data = tw.to_bytes()
    assert not data.startswith(b"\x80")  # not a pickle
    back = TunedWeights.from_bytes(G, data)
    assert back.key == tw.key and back.psnr_after == pytest.approx(tw.psnr_after)
    np.testing.assert_array_equal(bundle.generate(r.z, tuned=back)[0], drawn)
    with pytest.raises(TunedWeightsError):
        TunedWeights.from_bytes(G, b"garbage")
    # The render service draws a tuned face beside an untuned one in one request.
    z2 = np.stack([r.z, r.z])
    with RenderService(bundle, threads=1) as svc:
        res = svc.render(RenderRequest(1, z2, psi=1.0, tuned=(tw, None)))
    assert res.error is None
    assert psnr(res.images[0], drawn) > 40
    assert psnr(res.images[1], bundle.generate(r.z)[0]) > 40


@pytest.mark.parametrize("kind", ["dcgan", "style"])
def test_pivotal_tuning_works_for_either_generator_kind(kind: str) -> None:
    """PTI only needs G(latent, y, detail, psi): the DCGAN (latent z) and the style G (latent w,
    locality latents drawn through its mapping) are tuned by the same code, G left untouched."""
    from explorer.core.pivotal import tune_generator
    from facegan.models import ModelConfig, build

    torch.manual_seed(0)
    G = build(ModelConfig(kind=kind, resolution=16, nz=8, ngf=8, ndf=8, nef=8), "G").eval()
    G.requires_grad_(False)
    target = torch.rand(1, 3, 16, 16) * 2 - 1
    latent = torch.randn(1, 8)
    if kind == "style":
        latent = G.map(latent)
    before = {n: p.clone() for n, p in G.named_parameters()}
    edits = torch.randn(3, latent.shape[1]) * 0.3  # the edit term's batch is drawn too
    tw = tune_generator(G, latent, target, steps=40, lr=1e-2, edits=edits)
    assert tw.psnr_after > tw.psnr_before + 2
    assert all(torch.equal(p, before[n]) for n, p in G.named_parameters())
    with torch.no_grad():
        assert not torch.equal(tuned_forward(G, tw, latent), G(latent))
    if kind == "style":  # the mapping takes no part in drawing from w: it is not stored
        assert not any(n.startswith("mapping") for n in tw.params)


@pytest.mark.slow
@needs(UTKFACE)
@needs(BUNDLED)
def test_bundled_model_pti_reaches_30_db_on_real_photos_and_edits_still_act() -> None:
    """The tuned G draws the photo (>= 30 dB) and still moves it under the sliders: each main
    edit changes the tuned drawing by most of what it changes G's (before the edit term, PTI's
    locality term alone kept a quarter to a half of it and the judge saw no edit flip)."""
    from explorer.core.directions import default_method, get_directions
    from explorer.core.edits import apply_edits

    b = load_bundle(BUNDLED)
    d = get_directions(b, default_method(b))
    for i in (11, 40):
        r = encode_photo(b, _utk(i), budget_s=60, max_steps=20, detail=False)
        tw = tune_photo(b, r)
        assert tw.psnr_after >= 30, (i, tw.psnr_after)
        assert tw.psnr_after > r.psnr + 5
        for name in ("Smiling", "Eyeglasses", "Young"):
            z2 = apply_edits(r.z, d, {name: 3.0})
            dg = (b.generate(z2[None], psi=1.0)[0].astype(np.float32)
                  - b.generate(r.z[None], psi=1.0)[0]).ravel()
            dt = (b.generate(z2[None], psi=1.0, tuned=tw)[0].astype(np.float32)
                  - b.generate(r.z[None], psi=1.0, tuned=tw)[0]).ravel()
            assert dt @ dg / (dg @ dg) > 0.7, (i, name, dt @ dg / (dg @ dg))


@pytest.mark.slow
@needs(UTKFACE)
@needs(BUNDLED)
def test_scores_through_the_photo_path_read_real_adults() -> None:
    """Detect, align by the eyes, score as the app does: on the first 30 adult UTKFace photos
    the bundled model's photo scorer calls Male right on >= 85% (26 of 30 when measured; C
    alone 27) and Young against age < 36 on >= 80% (28 of 30; C alone 26). A guard on the
    photo path's framing and the scorer, not the issue's targets (95% and 85% over all 499,
    missed: see docs/photos.md)."""
    from explorer.core.classify import attribute_probabilities

    b = load_bundle(BUNDLED)
    files = [f for f in sorted(UTKFACE.glob("*.jpg")) if int(f.name.split("_")[0]) >= 18][:30]
    faces = np.stack([find_face_aligned(np.asarray(Image.open(f).convert("RGB")), 64)[0]
                      for f in files])
    p = attribute_probabilities(b, faces)
    male = np.array([f.name.split("_")[1] == "0" for f in files])
    young = np.array([int(f.name.split("_")[0]) < 36 for f in files])
    assert ((p[:, b.attribute_names.index("Male")] > 0.5) == male).mean() >= 0.85
    assert ((p[:, b.attribute_names.index("Young")] > 0.5) == young).mean() >= 0.80


def test_pivotal_tuning_keeps_a_conditional_models_y_sliders_acting() -> None:
    """On a conditional style G, the y sliders move the face through y, not the latent: the
    edit term keeps them acting too (`y_bank`), where tuning without it fades them."""
    from explorer.core.pivotal import EDIT_STRENGTHS, tune_generator
    from facegan.models import ModelConfig, build

    torch.manual_seed(0)
    G = build(ModelConfig(kind="style", resolution=16, nz=8, ngf=8, ndf=8, nef=8,
                          mapping_layers=2, cond_attributes=("Smiling", "Male")), "G").eval()
    with torch.no_grad():
        G.cond_offset.weight.normal_(0, 1.0)
    G.requires_grad_(False)
    target = torch.rand(1, 3, 16, 16) * 2 - 1
    y = torch.zeros(1, 2)
    latent = G.map(torch.randn(1, 8), y)
    dy = torch.tensor([[2.0, 0.0], [0.0, 2.0]])

    def strength(tw: object) -> float:
        """How much of G's own change under each y edit the tuned G makes (1 = all of it)."""
        with torch.no_grad():
            base_t, base = tuned_forward(G, tw, latent, y), G(latent, y)
            out = []
            for d in dy:
                yy = y + d[None]
                dt = (tuned_forward(G, tw, latent, yy) - base_t).ravel()
                dg = (G(latent, yy) - base).ravel()
                out.append(float(dt @ dg / (dg @ dg)))
        return float(np.mean(out))

    plain = tune_generator(G, latent, target, y, steps=60, lr=1e-2)
    bank = torch.cat([y + s * d[None] for d in dy for s in EDIT_STRENGTHS])
    kept = tune_generator(G, latent, target, y, steps=60, lr=1e-2, y_bank=bank)
    assert kept.psnr_after > kept.psnr_before + 2
    assert abs(strength(kept) - 1) < abs(strength(plain) - 1) - 0.1, (strength(kept),
                                                                      strength(plain))
