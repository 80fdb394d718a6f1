"""One scene, one set of render rules: the window and `face-explorer edit` draw a photo edit
with the same pixels (with its detail, and without it, where they once disagreed on ψ)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explorer.cli import main as cli_main


@pytest.mark.parametrize("keep_detail", [True, False], ids=["detail", "no-detail"])
def test_window_and_cli_draw_the_same_photo_edit(window, tmp_path: Path, tiny_model: Path,
                                                 keep_detail: bool) -> None:
    b = window.bundle
    # A photo as `face-explorer encode` leaves it: its latent and the detail its encoding found.
    rng = np.random.default_rng(3)
    z = rng.standard_normal(b.nz).astype(np.float32)
    detail = (0.3 * rng.standard_normal(b.detail_shape)).astype(np.float32)
    np.save(tmp_path / "me.npy", z)
    np.save(tmp_path / "me_detail.npy", detail)

    st = window.state
    st.set_psi(0.5)  # a photo is drawn at ψ 1 either way; seeds would not be
    st.set_keep_detail(keep_detail)
    st.load_latent(z, "me.npy", detail=detail)
    st.set_locked("Male", True)
    st.set_alpha("Smiling", 1.5)
    st.set_alpha("Young", -1.0)
    req = st.render_request()
    window_pixels = st.scene.draw(req)[0]

    argv = ["edit", str(tmp_path / "me.npy"), "--model", str(tiny_model), "--psi", "0.5",
            "--set", "Smiling=1.5", "--set", "Young=-1", "--lock", "Male",
            "--method", st.method, "--size", str(b.resolution), "--out", str(tmp_path / "e.png")]
    assert cli_main(argv + ([] if keep_detail else ["--no-detail"])) == 0
    cli_pixels = np.asarray(Image.open(tmp_path / "e.png").convert("RGB"))
    np.testing.assert_array_equal(window_pixels, cli_pixels)
    # The edit did something, and the detail was drawn exactly when it was meant to be.
    assert (req.detail is not None) == keep_detail
    np.testing.assert_array_equal(req.psi, [1.0])
    plain = st.scene.draw(st.scene.request(z, [detail if keep_detail else None], True,
                                           edit=False))[0]
    assert np.abs(plain.astype(int) - window_pixels.astype(int)).mean() > 1
