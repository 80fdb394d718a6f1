"""A quick look at a conditional model's y edits on random samples, judged by another model file's
independent judge: the per-attribute table `face-train evaluate` prints for random samples, without
the encoder, refinement or FD (a minute instead of ten), to follow a run between snapshots.

    .venv/bin/python tools/y_edit_check.py runs/style64-cond/model.safetensors [MORE.safetensors] \\
        --judge runs/style64/model.safetensors --data ../shared/data/celeba-9k --n 200
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    from evaluation.context import held_conditions
    from evaluation.judge import Judge, edit_success_y
    from evaluation.report import Report
    from explorer.core.bundle import load_bundle
    from facegan.checkpoint import load_model
    from trainer.data import load_dataset

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", type=Path)
    p.add_argument("--judge", type=Path, required=True)
    p.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "celeba-9k")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--psi", type=float, default=0.7)
    args = p.parse_args(argv)
    judge_mf = load_model(args.judge)
    held = None
    for path in args.models:
        mf = load_model(path)
        bundle = load_bundle(path)
        cond = list(mf.config.cond_attributes)
        if held is None:
            _, held = load_dataset(args.data, mf.config.resolution).split_holdout(500)
        y = held_conditions(held, mf.attribute_names, cond, args.n, seed=1)  # as evaluate's
        z = bundle.seed_latents(list(range(args.n)), args.psi)
        rep = Report()
        judge = Judge(judge_mf.network("J"), judge_mf.attribute_names, "independent judge")
        edit_success_y(mf.network("G"), judge, z, y, cond, rep,
                       f"{path} · random samples (ψ = {args.psi})")
        print("\n".join(rep.lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
