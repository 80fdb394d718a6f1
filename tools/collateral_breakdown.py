"""Which other attributes ride along with each main y edit (issue 12), as the independent judge
sees them: 200 held-out faces encoded by E (y as J sees them), each main attribute's y set to
the other side at its slider's end, the latent moved by the file's correction as the app moves
it. Prints, per edit, the target's flip rate, the collateral over the 39 others and the others
that flip most; then the others that flip most over all five edits.

    python tools/collateral_breakdown.py checkpoints/style64-cond.safetensors \\
        [--judge checkpoints/style64-cond.safetensors]

--judge: the file whose J grades (default: the model's own), so that a new run is graded by
the same judge as the bundled file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from evaluation.context import generate, judged_codes
from evaluation.judge import MAIN_ATTRIBUTES, Judge, other_side
from explorer.core.bundle import load_bundle
from explorer.core.edits import corrected_latents
from facegan.checkpoint import load_model
from trainer.data import load_dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--judge", type=Path, help="the file whose J grades (default: the model)")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/celeba-9k"))
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    b = load_bundle(a.model)
    G, E = b.network("G"), b.network("E")
    J = load_model(a.judge or a.model).network("J").requires_grad_(False)
    names, cond, reach = b.attribute_names, b.cond_attributes, b.y_reach
    if reach is None:
        raise SystemExit(f"{a.model.name}: needs a conditional G with a fitted reach")
    cols = [names.index(c) for c in cond]
    held = load_dataset(a.data, b.resolution).split_holdout(500)[1]
    judge = Judge(J, names)
    w, y = judged_codes(E, judge, np.ascontiguousarray(held.images[: a.n]), cols)

    def judged(ww: np.ndarray, yy: np.ndarray) -> np.ndarray:
        return judge.probs(generate(G, ww, batch=200, y=yy)) > 0.5

    before = judged(w, y)
    total = np.zeros(len(names))
    for attr in MAIN_ATTRIBUTES:
        i, ai = cond.index(attr), names.index(attr)
        y2 = other_side(y, before, cond, names, attr, float(reach[i]), b.cond_exclusive)
        after = judged(corrected_latents(w, y2, y, b.cond_correction), y2)
        rate = 100 * (after != before).mean(0)
        top = [j for j in np.argsort(-rate) if j != ai][:10]
        print(f"{attr} (y = ±{reach[i]:g}): target {rate[ai]:.1f}%, collateral "
              f"{np.delete(rate, ai).mean():.1f}%; most: "
              + ", ".join(f"{names[j]} {rate[j]:.0f}%" for j in top))
        rate[ai] = 0
        total += rate / len(MAIN_ATTRIBUTES)
    print("over the five edits: " + ", ".join(f"{names[j]} {total[j]:.0f}%"
                                              for j in np.argsort(-total)[:15]))


if __name__ == "__main__":
    main()
