"""A conditional model's y sliders each reach as far as their attribute needs: fitted on G's own
faces by the bundled classifier (`facegan.directions.condition_reach`), stored in the model file
(`cond.reach`), and used by the sliders, analogies and pivotal tuning; files without it reach 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from explorer.core.analogy import analogy_condition
from explorer.core.bundle import Bundle, load_bundle
from explorer.core.edits import SLIDER_END, Y_LIMIT, condition_vector, y_limits
from explorer.core.scene import Scene
from facegan.checkpoint import COND_REACH
from facegan.directions import REACH_CANDIDATES, condition_reach


class _DrawsY(nn.Module):
    """A 'generator' whose picture is its condition: one pixel per conditioned attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, w, y, detail=None, psi=None):  # noqa: ANN001, ANN201
        return y[:, :, None, None] + 0 * w[:, :1, None, None]


class _Sees(nn.Module):
    """A 'classifier': attribute 0 is on when its y > 0, attribute 1 only when its y > 2.4,
    attribute 2 never."""

    def __init__(self) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.zeros(1))

    def forward(self, x):  # noqa: ANN001, ANN201
        v = x[:, :, 0, 0]
        return torch.stack([v[:, 0], v[:, 1] - 2.4, -torch.ones(len(x))], 1)


def test_the_reach_is_the_smallest_y_at_which_the_classifier_sees_most_faces_flip() -> None:
    y = torch.from_numpy(np.random.default_rng(0).choice([-1.0, 1.0], (40, 3)).astype(np.float32))
    reach = condition_reach(_DrawsY(), _Sees(), 4, [0, 1, 2], y, n=40)
    # 0 flips at once; 1 only past 2.4; 2 never (then the y where most flip, all equal: the first)
    np.testing.assert_array_equal(reach, [1.0, 2.5, REACH_CANDIDATES[0]])


def test_a_sliders_end_takes_a_labelled_face_to_the_other_side_of_its_reach() -> None:
    names = ["Smiling", "Young"]
    reach = np.array([1.5, 3.0], np.float32)
    base = np.array([1.0, -1.0], np.float32)
    y = condition_vector(names, {"Smiling": -SLIDER_END, "Young": SLIDER_END}, base, reach)
    np.testing.assert_allclose(y, [-1.5, 3.0])
    y = condition_vector(names, {"Young": SLIDER_END}, np.array([1.0, 1.0]), reach)
    assert y[1] == 3.0  # clipped at the reach
    # Without a fitted reach a slider step is one unit of y, clipped at Y_LIMIT, as before.
    np.testing.assert_allclose(condition_vector(names, {"Smiling": 1.0}, base), [2.0, -1.0])
    np.testing.assert_allclose(y_limits(None, 2), [Y_LIMIT, Y_LIMIT])
    # An analogy's condition stays in the labels' range, not the reach: three faces' labels
    # would otherwise add up to the reach on several attributes at once.
    out = analogy_condition(np.array([1.0, 1.0]), np.array([-1.0, -1.0]), base, 1.0)
    np.testing.assert_allclose(out, [1.0, 1.0])


@pytest.fixture(scope="module")
def cstyle(tiny_cstyle: Path) -> Bundle:
    return load_bundle(tiny_cstyle)


def test_the_trainer_stores_the_reach_and_the_sliders_use_it(cstyle: Bundle, tiny_cstyle: Path,
                                                             tmp_path: Path) -> None:
    reach = cstyle.y_reach
    assert reach is not None and reach.shape == (2,)
    assert set(reach.tolist()) <= set(REACH_CANDIDATES)
    scene = Scene(cstyle, seed=0, grid=2, alphas={"Male": SLIDER_END})
    assert (scene.canvas_request().y[:, 1] == reach[1]).all()
    # A file written before the reach existed: every slider reaches Y_LIMIT.
    with safe_open(str(tiny_cstyle), "pt") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys() if k != COND_REACH}
    older = tmp_path / "older.safetensors"
    save_file(tensors, str(older), metadata=meta)
    old = load_bundle(older)
    assert old.y_reach is None
    scene = Scene(old, seed=0, grid=2, alphas={"Male": SLIDER_END})
    assert (scene.canvas_request().y[:, 1] == Y_LIMIT).all()
