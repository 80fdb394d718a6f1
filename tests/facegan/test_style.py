"""The style-based generator: W space, truncation in W before the edit, W+ photo detail, the
independent judge, and its model file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.core.bundle import load_bundle
from explorer.core.directions import get_directions
from explorer.core.edits import apply_edits
from explorer.core.latents import seed_latents
from facegan.checkpoint import load_model, save_model
from facegan.models import ModelConfig, build, prior_latents


@pytest.fixture(scope="module")
def style(tiny_style: Path):  # noqa: ANN201
    return load_bundle(tiny_style)


def test_style_kind_round_trips_through_the_model_file(tmp_path: Path) -> None:
    cfg = ModelConfig(kind="style", resolution=16, nz=8, ngf=8, ndf=8, nef=8, n_classes=3,
                      mapping_layers=2)
    torch.manual_seed(0)
    G, J = build(cfg, "G").eval(), build(cfg, "J").eval()
    G.w_avg.normal_()  # a tracked buffer must travel too
    path = tmp_path / "style.safetensors"
    save_model(path, cfg, {"G": G, "J": J}, {"attribute_names": ["a", "b", "c"]})
    mf = load_model(path)
    assert mf.config == cfg and sorted(mf.parts) == ["G", "J"]
    G2 = mf.network("G")
    w = prior_latents(G, torch.randn(4, 8))
    with torch.no_grad():
        assert torch.equal(G(w), G2(w))
        assert torch.equal(G.truncate(w, 0.5), G2.truncate(w, 0.5))


def _tiny_style_g(seed: int) -> torch.nn.Module:
    cfg = ModelConfig(kind="style", resolution=16, nz=8, ngf=8, ndf=8, nef=8, mapping_layers=2)
    torch.manual_seed(seed)
    return build(cfg, "G").eval().requires_grad_(False)


def test_a_frozen_g_draws_its_current_weights_whatever_it_drew_before() -> None:
    """G keeps its scaled weights while they are frozen (`facegan.style._Frozen`): a draw after
    new weights are loaded in place, after a tuned copy is swapped in, or with gradients after
    an inference-mode draw is the draw of a G that never kept anything."""
    G, other = _tiny_style_g(0), _tiny_style_g(1)
    w = prior_latents(G, torch.randn(3, 8))
    with torch.inference_mode():
        G(w)  # keeps G's own weights
    fresh = _tiny_style_g(1)
    G.load_state_dict(other.state_dict())  # in place: the kept weights are stale now
    with torch.no_grad():
        assert torch.equal(G(w), fresh(w))
    tuned = {k: v * 1.1 for k, v in other.state_dict().items()}
    with torch.no_grad():
        a = torch.func.functional_call(G, tuned, (w,))
        b = torch.func.functional_call(fresh, tuned, (w,))
        assert torch.equal(a, b) and not torch.equal(a, fresh(w))
        assert torch.equal(G(w), fresh(w))  # and back to its own weights
    G = _tiny_style_g(1)
    with torch.inference_mode():  # a first render, then a latent fit (gradient to w only)
        G(w)
    wg = w.clone().requires_grad_(True)
    G(wg).square().mean().backward()
    wf = w.clone().requires_grad_(True)
    fresh(wf).square().mean().backward()
    assert wg.grad is not None and torch.equal(wg.grad, wf.grad)
    with torch.autocast("cpu", torch.bfloat16), torch.no_grad():
        assert torch.equal(G(w), fresh(w))


def test_a_g_being_trained_follows_every_step() -> None:
    """Weights that take gradients are never kept: each optimiser step changes the next draw."""
    G = _tiny_style_g(0).train().requires_grad_(True)
    opt = torch.optim.SGD(G.parameters(), lr=0.1)
    w = prior_latents(G, torch.randn(3, 8))
    before = G(w).detach()
    G(w).square().mean().backward()
    opt.step()
    after = G(w).detach()
    G.requires_grad_(False)
    assert not torch.equal(before, after) and torch.equal(after, G(w))


def test_truncation_in_w_psi_zero_is_the_mean_face_and_one_changes_nothing(style) -> None:
    G = style.network("G")
    w1 = style.seed_latents([0, 1, 2], psi=1.0)
    with torch.no_grad():
        mapped = G.map(torch.from_numpy(seed_latents([0, 1, 2], style.nz))).numpy()
    np.testing.assert_allclose(w1, mapped, rtol=0, atol=1e-6)  # psi 1: untouched w
    w0 = style.seed_latents([0, 1, 2], psi=0.0)
    np.testing.assert_allclose(w0, np.broadcast_to(G.w_avg.numpy(), w0.shape), atol=1e-6)
    faces = style.generate(w0, psi=0.0)
    assert np.array_equal(faces[0], faces[1]) and np.array_equal(faces[1], faces[2])
    assert not np.array_equal(style.generate(w1)[0], style.generate(w1)[1])


def test_an_edit_after_truncation_keeps_its_full_strength(style) -> None:
    dirs = get_directions(style, "sampled")
    name = dirs.names[0]
    step = {name: 2.0}
    moved = {}
    for psi in (1.0, 0.5):
        base = style.seed_latents([3], psi)
        moved[psi] = apply_edits(base, dirs, step) - base
    # The edit moves w by the same amount at any psi (a DCGAN's feature truncation scales it).
    np.testing.assert_allclose(moved[0.5], moved[1.0], atol=1e-5)
    assert np.linalg.norm(moved[1.0]) > 0
    base = style.seed_latents([3], 0.5)
    drawn = style.generate(apply_edits(base, dirs, step), psi=0.5)
    G = style.network("G")
    with torch.no_grad():  # what a user sees is G at the truncated face plus the full edit
        want = G(torch.from_numpy(apply_edits(base, dirs, step)))
    from facegan.models import tensor_to_images

    np.testing.assert_array_equal(drawn, tensor_to_images(want))


def test_w_plus_refinement_beats_the_encoder_alone(style) -> None:
    from explorer.core.encoding import encode_face

    face = style.generate(style.seed_latents([5], 1.0) * 0.5)[0]
    res = encode_face(style, face, budget_s=30, max_steps=60, detail="latent")
    G = style.network("G")
    assert res.detail is not None and res.detail.shape == G.detail_shape
    w_plus, feature = G.split_detail(torch.from_numpy(res.detail)[None])
    assert w_plus.abs().max() > 0 and feature.abs().max() == 0  # latent only: no feature part
    assert res.psnr > res.psnr_encoder + 0.5


def test_the_feature_detail_draws_a_photo_closer_than_w_plus_alone(style) -> None:
    """A face with what G cannot draw (blotches at 8x8 and 4x4 scale on a drawn face): the 8x8
    feature offset gets closer than the latent part alone, with the same steps."""
    from PIL import Image

    from explorer.core.encoding import encode_face

    drawn = style.generate(style.seed_latents([5], 1.0) * 0.5)[0].astype(np.float32)
    res = drawn.shape[0]
    rng = np.random.default_rng(1)
    blotches = sum(np.asarray(Image.fromarray(rng.integers(0, 255, (k, k, 3), np.uint8))
                              .resize((res, res), Image.BILINEAR), np.float32) for k in (4, 8))
    face = np.clip(0.5 * drawn + 0.25 * blotches, 0, 255).astype(np.uint8)
    latent = encode_face(style, face, budget_s=30, max_steps=40, detail="latent")
    full = encode_face(style, face, budget_s=30, max_steps=40, detail=True)
    assert full.psnr > latent.psnr + 0.5


def test_a_w_plus_detail_saved_before_the_feature_part_draws_the_same_face(style) -> None:
    """Sessions and NAME_detail.npy files written before the 8x8 feature part hold the W+
    offset alone, (n_styles, nz): they load, padded with a zero feature part, and draw the face
    they drew then (w plus the per-layer offset)."""
    from explorer.core.session import check_session

    G = style.network("G")
    rng = np.random.default_rng(0)
    old = (0.3 * rng.standard_normal(G.legacy_detail_shape)).astype(np.float32)
    check_session({"custom_detail": old}, style.nz, style.saved_detail_shapes)  # no error
    new = style.fitting_detail(old)
    assert new is not None and new.shape == G.detail_shape
    w = torch.from_numpy(style.seed_latents([2], 1.0))
    with torch.no_grad():
        then = G.synthesis(w[:, None] + torch.from_numpy(old)[None])
        now = G(w, None, torch.from_numpy(new)[None])
    torch.testing.assert_close(now, then)
    assert style.fitting_detail(np.zeros((3, 3), np.float32)) is None  # another model's


def test_the_judge_is_stored_but_not_given_to_the_app(tiny_style: Path, style) -> None:
    assert "J" in load_model(tiny_style).parts
    assert "J" not in style.networks  # directions and the app never see the grader


def test_a_custom_slider_on_a_style_model_steps_in_ws_own_spread(style) -> None:
    from explorer.core.scene import Scene

    scene = Scene(style)
    v = np.zeros(style.nz, np.float32)
    v[0] = 1.0
    scene.custom_dirs = [("Mine", v)]
    d = scene.directions
    want = float(style.latent_spread(v[None])[0])
    assert d.scale[d.index("Mine")] == pytest.approx(want) and want != pytest.approx(1.0)


@pytest.mark.slow  # a whole training run: GAN, encoder and classifier phases
def test_gan_minutes_ends_the_gan_phase_and_the_run_goes_on(tmp_path: Path) -> None:
    """A time budget (`--gan-minutes`, the GPU calibration's equal-time rule) stops the GAN phase
    after that much training and becomes the run's step count; the encoder and classifier follow."""
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig, preset
    from trainer.data import fake_dataset
    from trainer.run import Run

    values = preset("tiny")
    values.update(kind="style", steps=100_000, gan_minutes=1e-4, encoder_steps=2,
                  classifier_steps=2, sample_every=10_000, snapshot_every=10_000, atlas_size=16)
    data = fake_dataset(n=32, res=16, names=TINY_ATTRIBUTES)
    model = Run(tmp_path / "run", TrainConfig(**values), data, quiet=True, command=["t"]).train()
    mf = load_model(model)
    steps = mf.meta["train_config"]["steps"]
    assert 1 <= steps < 100_000 and mf.meta["train_config"]["gan_minutes"] == 0
    assert {"G", "E", "C"} <= set(mf.parts)
