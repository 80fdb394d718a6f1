"""A conditional style model in the app's core and the CLI: y sliders for the conditioned
attributes (as a cgan's), W directions for the rest, truncation per y."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.cli import main
from explorer.core.bundle import Bundle, load_bundle
from explorer.core.edits import SLIDER_END, y_limits
from explorer.core.scene import Scene


@pytest.fixture(scope="module")
def cstyle(tiny_cstyle: Path) -> Bundle:
    return load_bundle(tiny_cstyle)


def test_it_opens_as_a_conditional_style_model(cstyle: Bundle) -> None:
    assert cstyle.kind == "style" and cstyle.truncates_latents
    assert cstyle.cond_attributes == ["Smiling", "Male"]
    w = cstyle.seed_latents([1, 2], 1.0)
    up = cstyle.generate(w, np.array([1.0, -1.0], np.float32))
    down = cstyle.generate(w, np.array([-1.0, 1.0], np.float32))
    assert up.shape == (2, 16, 16, 3) and not np.array_equal(up, down)
    # psi 0: every seed draws the mean face of its y; another y, another mean face.
    w0 = cstyle.seed_latents([1, 2, 3], 0.0)
    m_up = cstyle.generate(w0, np.array([1.0, -1.0], np.float32))
    m_down = cstyle.generate(w0, np.array([-1.0, 1.0], np.float32))
    assert np.array_equal(m_up[0], m_up[1]) and np.array_equal(m_up[1], m_up[2])
    assert not np.array_equal(m_up[0], m_down[0])


def test_cond_sliders_drive_y_and_the_rest_move_w(cstyle: Bundle) -> None:
    scene = Scene(cstyle, psi=0.7, alphas={"Smiling": 1.0})
    req = scene.canvas_request()
    own = cstyle.seed_conditions([0])[0]  # the seed's own condition, moved by the slider
    lim = y_limits(cstyle.y_reach, 2)  # a slider step: (reach + 1) / SLIDER_END units of y
    want = np.clip(own + [(lim[0] + 1) / SLIDER_END, 0.0], -lim, lim).astype(np.float32)
    assert req.y is not None and req.y[0].tolist() == want.tolist()
    np.testing.assert_array_equal(req.z, cstyle.seed_latents([0], 0.7))  # the face stays
    assert scene.method == "sampled"  # W directions fitted on its own (conditioned) samples
    assert {"Young", "Eyeglasses"} <= set(scene.slider_names)
    assert set(cstyle.cond_attributes) <= set(scene.slider_names)
    moved = Scene(cstyle, psi=0.7, alphas={"Smiling": 1.0, "Young": 2.0}).canvas_request()
    assert not np.array_equal(moved.z, req.z) and np.array_equal(moved.y, req.y)


def test_the_cli_edits_a_conditional_style_model(tiny_cstyle: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["edit", "4", "--model", str(tiny_cstyle), "--set", "Male=+1", "--set",
                 "Young=+2", "--compare", "--size", "16", "--out", str(tmp_path / "e.png")])
    err = capsys.readouterr().err
    assert code == 0, err
    pair = np.asarray(Image.open(tmp_path / "e.png"))
    assert pair.shape == (16, 32, 3) and not np.array_equal(pair[:, :16], pair[:, 16:])


def test_a_photo_encodes_and_refines_in_w_plus_at_the_neutral_y(cstyle: Bundle) -> None:
    from explorer.core.encoding import encode_face

    face = cstyle.generate(cstyle.seed_latents([5], 1.0), np.zeros(2, np.float32))[0]
    res = encode_face(cstyle, face, budget_s=30, max_steps=40, detail=True,
                      y=np.zeros(2, np.float32))
    assert res.y is not None and res.y.tolist() == [0.0, 0.0]
    assert res.z.shape == (cstyle.nz,) and np.isfinite(res.z).all()
    assert res.detail is not None and res.detail.shape == cstyle.detail_shape
    assert res.psnr >= res.psnr_encoder  # refinement never makes it worse
    # The encoded face takes y edits like a seed: y moves the drawing, the latent stays.
    a = cstyle.generate(res.z, np.array([1.0, 0.0], np.float32), res.detail)
    b = cstyle.generate(res.z, np.array([-1.0, 0.0], np.float32), res.detail)
    assert not np.array_equal(a, b)


@pytest.mark.slow  # a tiny training run
def test_a_model_conditioned_on_every_attribute_edits_by_y_alone(tiny_cstyle_all: Path) -> None:
    """The style64-cond40 recipe's shape: every slider is a y slider, so an edit moves y (and
    the latent only by the file's correction of that y edit), and the other attributes' y stay
    where the face had them."""
    from testdata import TINY_ATTRIBUTES

    from explorer.core.edits import corrected_latents

    b = load_bundle(tiny_cstyle_all)
    assert b.cond_attributes == TINY_ATTRIBUTES and b.y_reach is not None
    plain = Scene(b, psi=0.7).canvas_request()
    assert plain.y is not None
    before = b.generate(plain.z, plain.y[0])
    for i, name in enumerate(TINY_ATTRIBUTES):
        toward = -2.0 if plain.y[0, i] > 0 else 2.0  # the slider toward the other side
        req = Scene(b, psi=0.7, alphas={name: toward}).canvas_request()
        assert req.y is not None
        np.testing.assert_allclose(req.z, corrected_latents(plain.z, req.y, plain.y,
                                                            b.cond_correction), atol=1e-6)
        assert np.flatnonzero(req.y[0] != plain.y[0]).tolist() == [i]
        assert not np.array_equal(b.generate(req.z, req.y[0]), before)
