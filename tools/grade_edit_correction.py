"""Grade a conditional style model's y-edit correction (issue 12) by the independent judge J.

    python tools/grade_edit_correction.py checkpoints/style64-cond.safetensors
    python tools/grade_edit_correction.py checkpoints/style64-cond.safetensors --fit --anchor 0

Each main attribute's y goes to the other side at its slider's end, the latent moved by the
correction as the app moves it (`edits.corrected_latents`). Rows: the y edit alone, then the
file's stored correction (`cond.correction`), or with --fit one fitted now by
`facegan.directions.condition_correction` at the given --keep and --anchor (C chooses, on the
file's atlas labels, as `tools/fit_condition_reach.py` fits it). Figures, as J judges them:
flipped / collateral (39 others) on the report's 200 random samples (seeds 0-199, ψ 0.7, y from
held-out labels) and on 200 held-out faces encoded by E (y as J sees them); and the Fréchet
distance, in J's pooled features, of 1,000 edited samples (seeds 10,000-10,999) to the held-out
faces, per attribute: how far the edit takes the faces from real ones (the attribute's own shift
counts too, so compare rows, not with the unedited figure).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from evaluation import metrics
from evaluation.context import generate, held_conditions, judged_codes
from evaluation.judge import MAIN_ATTRIBUTES, Judge, other_side
from explorer.core.bundle import load_bundle
from explorer.core.edits import corrected_latents
from facegan.checkpoint import SCORER, load_model
from facegan.directions import CORRECTION_ANCHOR, CORRECTION_KEEP, condition_correction
from trainer.data import load_dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/celeba-9k"))
    ap.add_argument("--fit", action="store_true", help="fit a correction now instead")
    ap.add_argument("--keep", type=float, default=CORRECTION_KEEP)
    ap.add_argument("--anchor", type=float, default=CORRECTION_ANCHOR)
    ap.add_argument("--with-scorer", action="store_true",
                    help="fit against the file's photo scorer too (several classifiers)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    b = load_bundle(a.model)
    G, C, E = (b.network(p) for p in "GCE")
    J = load_model(a.model).network("J").requires_grad_(False)
    names, cond, reach = b.attribute_names, b.cond_attributes, b.y_reach
    if reach is None or b.atlas_conditions() is None:
        raise SystemExit(f"{a.model.name}: needs a conditional G with a fitted reach and an atlas")
    cols = [names.index(c) for c in cond]
    held = load_dataset(a.data, b.resolution).split_holdout(500)[1]
    f_held = metrics.pooled_features(J, np.asarray(held.images))

    judge = Judge(J, names)

    def draw(w: np.ndarray, y: np.ndarray) -> np.ndarray:
        return generate(G, w, batch=200, y=y)

    def judged(img: np.ndarray) -> np.ndarray:
        return judge.probs(img) > 0.5

    sets = {"samples": (b.seed_latents(list(range(200)), 0.7),
                        held_conditions(held, names, cond, 200, seed=1)),
            "E codes": judged_codes(E, judge, np.ascontiguousarray(held.images[:200]), cols)}
    w_f = b.seed_latents(list(range(10_000, 11_000)), 0.7)
    y_f = held_conditions(held, names, cond, 1000, seed=2)

    # J's decisions on the faces before any edit, once per set
    decided = {n: judged(draw(w, y)) for n, (w, y) in sets.items()}
    decided["FD"] = judged(draw(w_f, y_f))

    def edited(w: np.ndarray, y: np.ndarray, before: np.ndarray, attr: str,
               k: np.ndarray | None) -> np.ndarray:
        """The faces after an edit of `attr` to the other side of J's decision `before`."""
        y2 = other_side(y, before, cond, names, attr, float(reach[cond.index(attr)]),
                        b.cond_exclusive)
        return draw(corrected_latents(w, y2, y, k), y2)

    def grade(k: np.ndarray | None, label: str) -> None:
        figures = []
        for n, (w, y) in sets.items():
            rates = []
            for attr in MAIN_ATTRIBUTES:
                before = decided[n]
                flips = judged(edited(w, y, before, attr, k)) != before
                ai = names.index(attr)
                rates.append([flips[:, ai].mean(), np.delete(flips, ai, 1).mean()])
            figures.append(100 * np.mean(rates, 0))
        fds = [metrics.frechet_distance(metrics.pooled_features(
                   J, edited(w_f, y_f, decided["FD"], attr, k)), f_held)
               for attr in MAIN_ATTRIBUTES]
        print(f"{label:24s} " + "  ".join(f"{n} {f[0]:5.1f} / {f[1]:4.1f}%"
                                          for n, f in zip(sets, figures, strict=True))
              + f"  edited FD {np.mean(fds):.2f} (" + " ".join(f"{v:.1f}" for v in fds) + ")",
              flush=True)

    print("flipped / collateral (39 others) by J; FD per attribute: "
          + ", ".join(MAIN_ATTRIBUTES))
    grade(None, "y edit alone")
    if a.fit:
        t0 = time.time()
        labels = b.atlas_conditions()
        assert labels is not None
        judges = [C, b.network(SCORER)] if a.with_scorer else C
        k = condition_correction(G, judges, b.nz, cols, torch.from_numpy(labels), reach,
                                 keep=a.keep, anchor=a.anchor)
        grade(k, f"fitted, keep {a.keep:g}, anchor {a.anchor:g}"
                 f"{', C + scorer' if a.with_scorer else ''} ({time.time() - t0:.0f} s)")
    elif b.cond_correction is not None:
        grade(b.cond_correction, "the file's correction")


if __name__ == "__main__":
    main()
