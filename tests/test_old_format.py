"""A model file written by the release before the `facegan` package move (format 1) still loads
and draws the same pixels: the model-file format is a contract, not an implementation detail.

`fixtures/tiny-format1.safetensors` is a tiny preset model (16 px, G, E, C, both stored direction
sets, an atlas) made with that release; `tiny-format1.expected.npz` holds what it drew then.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from explorer.core.bundle import load_bundle
from explorer.core.directions import get_directions
from explorer.core.latents import seed_latents

FIXTURES = Path(__file__).resolve().parent / "fixtures"
OLD = FIXTURES / "tiny-format1.safetensors"


def _same_pixels(got: np.ndarray, want: np.ndarray) -> None:
    # Identical on the machine that made the fixture; another CPU's float rounding may move a
    # pixel by one level, never more.
    assert got.shape == want.shape and got.dtype == want.dtype
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1, f"pixels moved by up to {diff.max()} levels"
    assert (diff == 0).mean() > 0.99


def test_old_format_file_draws_what_it_drew_before() -> None:
    want = np.load(FIXTURES / "tiny-format1.expected.npz")
    b = load_bundle(OLD)
    assert b.meta["format_version"] == 1
    assert set(b.meta["parts"]) == {"G", "E", "C"}
    z = seed_latents([0, 1, 2, 3, 42], b.nz)
    _same_pixels(b.generate(z), want["psi1"])
    _same_pixels(b.generate(z, psi=0.7), want["psi07"])
    mean_diff = get_directions(b, "mean-diff").vectors
    np.testing.assert_allclose(mean_diff, want["mean_diff"], atol=1e-6)
    np.testing.assert_allclose(get_directions(b, "sampled").vectors, want["sampled"], atol=1e-6)
    _same_pixels(b.generate(z + 2 * mean_diff[0], psi=0.7), want["edit_mean_diff"])
