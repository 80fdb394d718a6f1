"""The figure of docs/training/README.md's "Conditions the data never shows together": held-out
faces whose condition has black hair, encoded by E (y as the file's judge J sees them), made
blond at the Blond_Hair slider's end with the file's correction, as the app draws them. Rows:
the faces; made blond with y alone moved (black hair still on); made blond with the conditions
that cannot go with blond hair let go (`explorer.core.edits.settle_exclusive`). Prints J's
probability of blond hair under each row.

    python tools/exclusive_figure.py checkpoints/style64-cond.safetensors \\
        --out docs/training/style64/exclusive_blond.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from evaluation.context import generate, judged_codes
from evaluation.judge import Judge, other_side
from explorer.core.bundle import load_bundle
from explorer.core.edits import corrected_latents
from facegan.checkpoint import load_model
from trainer.data import load_dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/celeba-9k"))
    ap.add_argument("--faces", type=int, default=14)
    a = ap.parse_args()
    torch.set_num_threads(2)
    b = load_bundle(a.model)
    G, E = b.network("G"), b.network("E")
    names, cond = b.attribute_names, b.cond_attributes
    if "Blond_Hair" not in cond or "Black_Hair" not in cond or b.y_reach is None:
        raise SystemExit(f"{a.model.name}: needs y sliders for Blond_Hair and Black_Hair")
    judge = Judge(load_model(a.model).network("J").requires_grad_(False), names)
    held = load_dataset(a.data, b.resolution).split_holdout(500)[1]
    w, y = judged_codes(E, judge, np.ascontiguousarray(held.images[:200]),
                        [names.index(c) for c in cond])
    faces = generate(G, w, batch=200, y=y)
    before = judge.probs(faces) > 0.5
    ai = names.index("Blond_Hair")
    pick = np.flatnonzero((y[:, cond.index("Black_Hair")] > 0) & ~before[:, ai])[: a.faces]
    reach = float(b.y_reach[cond.index("Blond_Hair")])
    rows = [faces[pick]]
    for exclusive in (None, b.cond_exclusive):
        y2 = other_side(y, before, cond, names, "Blond_Hair", reach, exclusive)
        drawn = generate(G, corrected_latents(w, y2, y, b.cond_correction)[pick], y=y2[pick])
        print(("rule" if exclusive is not None else "y alone") + ": J's blond "
              + " ".join(f"{p:.2f}" for p in judge.probs(drawn)[:, ai]))
        rows.append(drawn)
    Image.fromarray(np.concatenate([np.concatenate(list(r), 1) for r in rows], 0)).save(
        a.out, optimize=True)


if __name__ == "__main__":
    main()
