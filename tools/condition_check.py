"""How far a conditional snapshot's y edits reach, as the bundled classifier C sees them: G draws
150 samples (ψ 0.7) with conditions from the reference file's atlas label rows, each listed
attribute's y goes to the other side at ±2, and C says how often the attribute flips. A run's
snapshot (`runs/NAME/model.safetensors` before the run finishes) has no C and no atlas yet, so
both come from the reference file (C chooses; the report's judge grades).

    python tools/condition_check.py runs/style64-cond40/model.safetensors \\
        --reference checkpoints/style64-cond.safetensors --attrs Smiling,Male,Wearing_Lipstick
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from evaluation.judge import other_side
from explorer.core.bundle import load_bundle
from facegan.models import map_batches, prior_latents


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--reference", type=Path, required=True,
                    help="a model file with C and an atlas (the bundled one)")
    ap.add_argument("--attrs", required=True, help="comma-separated conditioned attributes")
    ap.add_argument("--n", type=int, default=150)
    ap.add_argument("--y", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    b, ref = load_bundle(a.model), load_bundle(a.reference)
    if ref.atlas_labels is None or b.attribute_names != ref.attribute_names:
        raise SystemExit(f"{a.reference.name}: needs an atlas and the model's attributes")
    G, C = b.network("G"), ref.network("C")
    cols = [ref.attribute_names.index(x) for x in b.cond_attributes]
    rows = np.random.default_rng(1).integers(0, len(ref.atlas_labels), a.n)
    y = ref.atlas_labels[rows][:, cols].astype(np.float32)
    z = torch.randn(a.n, b.nz, generator=torch.Generator().manual_seed(0))
    out = []
    with torch.no_grad():
        lat = prior_latents(G, z)

        def sides(c: np.ndarray) -> np.ndarray:
            return map_batches(lambda w, cc: C(G(w, cc, None, 0.7)).float(), lat,
                               torch.from_numpy(c)).numpy() > 0

        before = sides(y)
        for name in a.attrs.split(","):
            ai = b.attribute_names.index(name)
            moved = other_side(y, before, b.cond_attributes, b.attribute_names, name, a.y)
            out.append(f"{name} {100 * (sides(moved)[:, ai] != before[:, ai]).mean():.0f}%")
    print(", ".join(out))


if __name__ == "__main__":
    main()
