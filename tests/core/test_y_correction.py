"""A conditional style model's y edit carries a latent correction: fitted so that the bundled
classifier sees the other attributes stay (`facegan.directions.condition_correction`), stored in
the model file (`cond.correction`) and added wherever a y slider draws (`Scene.edited`); files
without it edit y alone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from explorer.core.bundle import Bundle, BundleError, load_bundle
from explorer.core.edits import SLIDER_END, corrected_latents
from explorer.core.scene import Scene
from facegan.checkpoint import COND_CORRECTION
from facegan.directions import condition_correction


class _DragsAlong(nn.Module):
    """A 'generator' of two pixels: the first is y, the second y plus w's second coordinate, so
    moving y drags the second pixel along and only a latent move can hold it."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, w, y, detail=None, psi=None):  # noqa: ANN001, ANN201
        return torch.stack([y[:, 0], y[:, 0] + w[:, 1]], 1)[:, :, None, None]


class _Reads(nn.Module):
    """A 'classifier' of two attributes, one per pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, x):  # noqa: ANN001, ANN201
        return 4 * x[:, :, 0, 0]


def test_the_fitted_correction_holds_the_attribute_the_y_edit_dragged_along() -> None:
    G, C = _DragsAlong(), _Reads()
    y = torch.from_numpy(np.random.default_rng(0).choice([-1.0, 1.0], (64, 1)).astype(np.float32))
    reach = np.array([2.0], np.float32)
    k = condition_correction(G, C, 2, [0], y, reach, steps=150, batch=16, anchor=0.0)
    assert k.shape == (1, 2)
    assert k[0, 1] < -0.5  # the latent moves against the drag
    assert abs(k[0, 0]) < 0.1  # a coordinate that draws nothing is left alone
    assert all(p.requires_grad for p in (*G.parameters(), *C.parameters()))  # left as found
    # The other attribute moves far less under the corrected edit than under y alone.
    w = torch.randn(32, 2, generator=torch.Generator().manual_seed(1))
    y0 = y[:32]
    y1 = -2 * torch.sign(y0)
    with torch.no_grad():
        before = C(G(w, y0))[:, 1]
        alone = (C(G(w, y1))[:, 1] - before).abs().mean()
        fixed = (C(G(w + (y1 - y0) @ torch.from_numpy(k), y1))[:, 1] - before).abs().mean()
    assert fixed < 0.3 * alone
    # The anchor holds the picture's colour layout to what the y edit alone draws: here that
    # layout is the dragged pixel itself, so the correction gives way.
    held = condition_correction(G, C, 2, [0], y, reach, steps=150, batch=16)
    assert abs(held[0, 1]) < 0.5 * abs(k[0, 1])


def test_corrected_latents_move_by_the_change_of_y_times_the_correction() -> None:
    k = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], np.float32)
    z = np.zeros((2, 3), np.float32)
    base = np.array([[1.0, -1.0], [0.0, 0.0]], np.float32)
    y = np.array([[-1.5, -1.0], [0.0, 0.5]], np.float32)
    np.testing.assert_allclose(corrected_latents(z, y, base, k), [[-2.5, 0, 0], [0, 1, 0]])
    assert corrected_latents(z, base, base, k) is not None
    np.testing.assert_array_equal(corrected_latents(z, base, base, k), z)  # no y edit
    np.testing.assert_array_equal(corrected_latents(z, y, base, None), z)  # no correction


@pytest.fixture(scope="module")
def cstyle(tiny_cstyle: Path) -> Bundle:
    return load_bundle(tiny_cstyle)


def test_the_trainer_stores_a_correction_and_every_y_slider_draw_adds_it(cstyle: Bundle) -> None:
    k = cstyle.cond_correction
    assert k is not None and k.shape == (2, cstyle.nz) and np.abs(k).sum() > 0
    still = Scene(cstyle, seed=0, grid=2)
    z0, y0 = still.canvas_request().z, still.canvas_request().y
    np.testing.assert_array_equal(z0, still.base_latents())  # sliders at 0: nothing moves
    scene = Scene(cstyle, seed=0, grid=2, alphas={"Male": SLIDER_END})
    req = scene.canvas_request()
    assert (req.y[:, 1] != y0[:, 1]).any()
    np.testing.assert_allclose(req.z - z0, (req.y - y0) @ k, atol=1e-5)
    # The starred face is the face drawn: its latent carries the correction, and drawn again
    # with the sliders at 0 (a favourite opened for editing) it is the same picture.
    face = scene.current_face()
    np.testing.assert_allclose(face.z, req.z[0], atol=1e-6)
    reopened = Scene(cstyle, seed=0, grid=1, face=face)
    again = reopened.canvas_request()
    np.testing.assert_array_equal(again.z[0], face.z)
    np.testing.assert_array_equal(again.y[0], face.y)
    # A walk's export goes through the same rule.
    z, y = scene.edited(z0, y0)
    np.testing.assert_array_equal(z, req.z)
    np.testing.assert_array_equal(y, req.y)


def _without_correction(src: Path, out: Path, replace: torch.Tensor | None = None) -> Path:
    with safe_open(str(src), "pt") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys() if k != COND_CORRECTION}
    if replace is not None:
        tensors[COND_CORRECTION] = replace
    save_file(tensors, str(out), metadata=meta)
    return out


def test_an_older_file_edits_y_alone_and_a_wrong_correction_is_refused(
        tiny_cstyle: Path, cstyle: Bundle, tmp_path: Path) -> None:
    old = load_bundle(_without_correction(tiny_cstyle, tmp_path / "older.safetensors"))
    assert old.cond_correction is None
    base = Scene(old, seed=0, grid=2).canvas_request()
    req = Scene(old, seed=0, grid=2, alphas={"Male": SLIDER_END}).canvas_request()
    np.testing.assert_array_equal(req.z, base.z)  # y moves, z does not
    assert (req.y != base.y).any()
    bad = _without_correction(tiny_cstyle, tmp_path / "bad.safetensors",
                              torch.zeros(3, cstyle.nz))
    with pytest.raises(BundleError, match=COND_CORRECTION):
        load_bundle(bad)
