"""`face-train evaluate MODEL`: the quality report of a model file, on faces it never saw.

Measures edit success (with the bundled classifier as the judge), reconstruction (encoder alone,
encoder + refinement, and the photo path on UTKFace), fidelity and diversity (a Fréchet distance in
the classifier's feature space, with a real-vs-real floor; nearest training neighbours), and writes
a Markdown report with image grids.

The report is built from `context` (what every section reads), `judge` (the judge and the edit
metrics), `sections` (one function per section) and `report` (the Markdown writer).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from evaluation.compare import comparison_section
from evaluation.context import Context
from evaluation.judge import make_judge
from evaluation.report import Report
from evaluation.sections import (
    classifier_section,
    edit_section,
    fidelity_section,
    header_section,
    reconstruction_section,
    targets_section,
)
from facegan.checkpoint import ModelFileError, load_model
from trainer.data import DataError, load_dataset


def evaluate(model: Path, data_dir: Path, utk_dir: Path | None, out: Path, *, n_refine: int,
             n_utk: int, n_edit: int, alpha: float, psi: float, budget: float,
             report: str = "evaluation", judge: Path | None = None,
             against: Path | None = None) -> Path:
    """Write `out/REPORT.md` with its figures in `out/REPORT/`; return the report's path. With
    `against`, that model is measured too, by the same judge (`judge`, else whichever of the two
    files carries an independent judge), into `out/REPORT-against.md`, and REPORT.md gets both
    side by side."""
    t0 = time.time()
    opts = dict(n_refine=n_refine, n_utk=n_utk, n_edit=n_edit, alpha=alpha, psi=psi,
                budget=budget)
    if against is not None and judge is None:
        judge = next((m for m in (model, against) if "J" in load_model(m).parts), None)
    c = _measure(model, data_dir, utk_dir, out / report, judge=judge,
                 extra=f" --against {against}" if against is not None else "", **opts)
    if against is not None:
        other = _measure(against, data_dir, utk_dir, out / f"{report}-against", judge=judge,
                         **opts)
        (out / f"{report}-against.md").write_text("\n".join(other.rep.lines))
        comparison_section(c, other, f"{report}-against")
    c.rep.add(f"_Evaluation took {time.time() - t0:.0f} s._", "")
    path = out / f"{report}.md"
    path.write_text("\n".join(c.rep.lines))
    return path


def _measure(model: Path, data_dir: Path, utk_dir: Path | None, figs: Path, *, n_refine: int,
             n_utk: int, n_edit: int, alpha: float, psi: float, budget: float,
             judge: Path | None, extra: str = "") -> Context:
    """Every section of one model's report, measured; the report's text is in `c.rep`."""
    from explorer.core.bundle import load_bundle

    mf = load_model(model)
    for part in ("G", "E", "C"):
        if part not in mf.parts:
            raise ModelFileError(f"{model.name}: evaluation needs a model with {part}")
    holdout = int(mf.meta.get("train_config", {}).get("holdout", 500))
    train, held = load_dataset(data_dir, mf.config.resolution).split_holdout(holdout)
    if held.labels is None:
        raise DataError(f"{data_dir}: evaluation needs the attribute labels")
    figs.mkdir(parents=True, exist_ok=True)
    c = Context(model, data_dir, mf, load_bundle(model), mf.network("G"), mf.network("E"),
                make_judge(mf, load_model(judge) if judge and judge != model else None), train,
                held, figs, Report(), alpha, psi, n_edit, budget)
    given = {"--n-refine": (n_refine, 100), "--n-utk": (n_utk, 100), "--n-edit": (n_edit, 300),
             "--budget": (budget, 0.6), "--judge": (judge, None)}
    c.extra_args = "".join(f" {k} {v}" for k, (v, d) in given.items() if v != d) + extra
    header_section(c)
    classifier_section(c)
    enc = reconstruction_section(c, utk_dir, n_refine, n_utk)
    summaries = edit_section(c, enc)
    fidelity_section(c, enc)
    targets_section(c, enc, summaries)
    return c


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="face-train evaluate",
                                description="Write a quality report of a model file to docs/.")
    p.add_argument("model", type=Path, help="model file (.safetensors)")
    p.add_argument("--data", type=Path, default=Path("../shared/data/celeba-9k"),
                   help="the CelebA-layout folder the model was trained on (held-out tail used)")
    p.add_argument("--utk", type=Path, default=Path("../shared/data/utkface-500"),
                   help="photos for the photo-path reconstruction check")
    p.add_argument("--out", type=Path, default=Path("docs"), help="where the report goes")
    p.add_argument("--n-refine", type=int, default=100, help="held-out faces to refine")
    p.add_argument("--n-utk", type=int, default=100, help="UTKFace photos to encode")
    p.add_argument("--n-edit", type=int, default=300, help="faces per edit-success table")
    p.add_argument("--alpha", type=float, default=3.0,
                   help="edit step, in prior standard deviations along the direction")
    p.add_argument("--psi", type=float, default=None,
                   help="truncation for random samples (default: the app's)")
    p.add_argument("--report", default="evaluation",
                   help="report name: writes OUT/REPORT.md and its figures in OUT/REPORT/")
    p.add_argument("--budget", type=float, default=0.6, help="refinement seconds per face")
    p.add_argument("--against", type=Path, default=None,
                   help="measure this model file too, by the same judge, and put both side by "
                        "side in the report")
    p.add_argument("--judge", type=Path, default=None,
                   help="take the independent judge from this model file (for a model without "
                        "one, so two models are graded by the same judge)")
    args = p.parse_args(argv)
    if args.psi is None:
        from explorer.core.bundle import DEFAULT_PSI

        args.psi = DEFAULT_PSI
    try:
        path = evaluate(args.model, args.data, args.utk, args.out, n_refine=args.n_refine,
                        n_utk=args.n_utk, n_edit=args.n_edit, alpha=args.alpha, psi=args.psi,
                        budget=args.budget, report=args.report, judge=args.judge,
                        against=args.against)
    except (ModelFileError, DataError) as e:
        print(f"face-train evaluate: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
