"""Fit a conditional model's y reach (`cond.reach`), and with --correction each y edit's latent
correction (`cond.correction`), into a COPY of its model file.

    python tools/fit_condition_reach.py checkpoints/style64-cond.safetensors --out /tmp/m.st \
        --correction

The trainer fits the reach when it finishes a conditional run (`trainer.run`); this adds it to
a file written before that existed. The fit is the trainer's (`facegan.directions.
condition_reach`): G draws 300 faces with conditions drawn from the file's atlas labels (real
faces' label rows), the bundled classifier C says which side of each attribute each face is on,
and each conditioned attribute's reach is the smallest |y| at which C sees 90% of the faces flip.
The correction is the trainer's too (`facegan.directions.condition_correction`, 150 batches of 24
faces per attribute, about 35 s each on 2 CPU threads: 4.6 minutes for the bundled file's seven,
the reach included), fitted at the reach just found, on the same atlas label rows.
C chooses, so the report's independent judge can grade. Every other tensor and the metadata are
copied as they are (`facegan.checkpoint.copy_model_file`); the result is checked by loading it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from explorer.core.bundle import load_bundle
from facegan.checkpoint import COND_CORRECTION, COND_REACH, ModelFileError, copy_model_file
from facegan.directions import condition_correction, condition_reach


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--correction", action="store_true",
                    help="also fit each y edit's latent correction (a style G's)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    b = load_bundle(a.model)
    labels = b.atlas_conditions()  # the atlas's labels on the conditioned attributes, +-1
    if labels is None or not b.has_classifier:
        raise SystemExit(f"{a.model.name}: needs a conditional G, its classifier C and an atlas")
    cond = b.cond_attributes
    rows = np.random.default_rng(1).integers(0, len(labels), 300)
    y = torch.from_numpy(labels[rows])
    index = [b.attribute_names.index(x) for x in cond]
    reach = condition_reach(b.network("G"), b.network("C"), b.nz, index, y, n=len(y))
    fitted = {COND_REACH: torch.from_numpy(reach)}
    if a.correction:
        k = condition_correction(b.network("G"), b.network("C"), b.nz, index,
                                 torch.from_numpy(labels), reach)
        fitted[COND_CORRECTION] = torch.from_numpy(k)
        print(", ".join(f"{x} |k| {float(np.linalg.norm(r)):.2f}"
                        for x, r in zip(cond, k, strict=True)))
    try:
        copy_model_file(a.model, a.out, lambda t, _doc: t.update(fitted))
    except ModelFileError as e:
        raise SystemExit(str(e)) from None
    print(", ".join(f"{x} {r:g}" for x, r in zip(cond, reach, strict=True)), f"-> {a.out}")


if __name__ == "__main__":
    main()
