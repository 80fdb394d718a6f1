"""Every model file shipped in checkpoints/ loads, describes itself and generates faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facegan.checkpoint import FORMAT_VERSION, load_model

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
FILES = sorted(CHECKPOINTS.glob("*.safetensors"))


def test_the_default_model_is_bundled_and_at_most_two_files_are() -> None:
    from explorer.assets import DEFAULT_MODEL_NAME

    assert (CHECKPOINTS / DEFAULT_MODEL_NAME).exists(), "make run needs the bundled model"
    assert len(FILES) <= 2, "keep at most two model files in checkpoints/"


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_bundled_model_loads_and_generates(path: Path) -> None:
    assert path.stat().st_size < 40 * 1024 * 1024, "keep bundled files under 40 MB"
    mf = load_model(path)
    meta = mf.meta
    assert meta["format_version"] == FORMAT_VERSION
    prov = meta["provenance"]
    for key in ("dataset", "image_count", "total_steps", "wall_time_s", "command", "commit"):
        assert prov.get(key) not in (None, ""), f"provenance lacks {key}"
    assert meta["final"] is True
    assert set(mf.parts) >= {"G", "E"}
    names = mf.attribute_names
    assert len(names) == 40 and "Smiling" in names and "Eyeglasses" in names
    assert mf.array("attr.directions").shape == (40, mf.config.nz)
    assert len(mf.array("atlas.z")) >= 1000
    G = mf.network("G")
    z = torch.randn(8, mf.config.nz, generator=torch.Generator().manual_seed(0))
    y = None
    if mf.config.n_cond:
        y = torch.ones(8, mf.config.n_cond)
    with torch.no_grad():
        x = G(z, y).numpy()
    assert x.shape == (8, 3, mf.config.resolution, mf.config.resolution)
    assert np.isfinite(x).all()
    # Faces, not a constant image: samples differ from each other and use the value range.
    assert x.std(axis=0).mean() > 0.05
    assert x.max() - x.min() > 1.0
