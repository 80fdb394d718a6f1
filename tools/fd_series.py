"""FD of several model files' generators in ONE independent judge's feature space, to follow a
training run snapshot by snapshot (the evaluation's FD uses each model's own classifier unless
`--judge`/`--against` is given; this is the quick version for many files).

    python tools/fd_series.py --judge runs/style64/model.safetensors snap1.safetensors ...

Prints the real-vs-real floor, then each file's FD at psi 1 on the held-out faces, with the
share of samples the judge sees Smiling and Male (the real held-out shares first).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from evaluation import metrics
from evaluation.context import generate
from evaluation.judge import make_judge
from explorer.core.bundle import load_bundle
from facegan.checkpoint import load_model
from trainer.data import load_dataset

SHARES = ("Smiling", "Male")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", type=Path, nargs="+")
    ap.add_argument("--judge", type=Path, required=True, help="a model file carrying J")
    ap.add_argument("--data", type=Path, default=Path("../shared/data/celeba-9k"))
    ap.add_argument("-n", type=int, default=1000, help="samples per model")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    jm = load_model(a.judge)
    if "J" not in jm.parts:
        raise SystemExit(f"{a.judge}: no independent judge (J) in this file")
    J = make_judge(jm)
    idx = [jm.attribute_names.index(s) for s in SHARES]
    train, held = load_dataset(a.data, jm.config.resolution).split_holdout(500)
    held_img = np.asarray(held.images)
    f_held = metrics.pooled_features(J.C, held_img)
    pick = np.sort(np.random.default_rng(0).choice(len(train), len(held_img), replace=False))
    floor = metrics.frechet_distance(
        metrics.pooled_features(J.C, np.asarray(train.images)[pick]), f_held)
    real = (J.probs(held_img)[:, idx] > 0.5).mean(0)
    print(f"floor {floor:.2f}; real held-out " + ", ".join(
        f"{s} {100 * v:.0f}%" for s, v in zip(SHARES, real, strict=True)))
    seeds = list(range(10_000, 10_000 + a.n))
    for path in a.models:
        b = load_bundle(path)
        z = b.seed_latents(seeds, 1.0)
        fake = generate(load_model(path).network("G"), z)
        fd = metrics.frechet_distance(metrics.pooled_features(J.C, fake), f_held)
        share = (J.probs(fake)[:, idx] > 0.5).mean(0)
        print(f"{path}: FD {fd:.2f}, " + ", ".join(
            f"{s} {100 * v:.0f}%" for s, v in zip(SHARES, share, strict=True)), flush=True)


if __name__ == "__main__":
    main()
