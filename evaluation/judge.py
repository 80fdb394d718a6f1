"""The judge of the report and the edit metrics it reads: how often an edit flips its target
attribute, and how often it flips the others (collateral)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from evaluation.context import generate
from evaluation.report import Report
from facegan.checkpoint import ModelFileError
from facegan.models import map_images

MAIN_ATTRIBUTES = ["Smiling", "Male", "Young", "Eyeglasses", "Blond_Hair"]


class Judge:
    """A classifier's calibrated probabilities of uint8 faces. The judge of the report is the
    model's independent judge J when it has one (another architecture and initialisation,
    trained on real photos only, never seen by the directions or the app); `second` is then the
    bundled classifier C that chose the directions, whose verdict is reported beside it."""

    def __init__(self, C: torch.nn.Module, names: list[str], label: str = "bundled classifier",
                 second: Judge | None = None) -> None:
        self.C, self.names, self.label, self.second = C, names, label, second

    @torch.no_grad()
    def probs(self, images: np.ndarray) -> np.ndarray:
        return torch.sigmoid(map_images(self.C, images)).numpy()


def other_side(y: np.ndarray, before: np.ndarray, cond: list[str], names: list[str], attr: str,
               v: float, exclusive: np.ndarray | None = None) -> np.ndarray:
    """A copy of the conditions `y` with `attr`'s set to the other side of the judge's
    decisions `before` (n, len(names)): -v where the face has it, +v where it lacks it. With
    `exclusive` (`Bundle.cond_exclusive`) the other conditions give way as the app's slider
    moves them (`edits.settle_exclusive`)."""
    from explorer.core.edits import settle_exclusive

    out = y.copy()
    i = cond.index(attr)
    out[:, i] = np.where(before[:, names.index(attr)], -v, v)
    return settle_exclusive(out, [i], exclusive)


def make_judge(mf: Any, judge_from: Any = None) -> Judge:
    """The independent judge J (the model's own, or `judge_from`'s: another model file's J,
    trained on real photos only, grades any model on the same attributes) with the bundled
    classifier C beside it; else C alone."""
    bundled = Judge(mf.network("C"), mf.attribute_names)
    src = judge_from if judge_from is not None else mf
    if "J" not in src.parts:
        return bundled
    if src.attribute_names != mf.attribute_names:
        raise ModelFileError(f"{src.path.name}: its judge knows other attributes than the model")
    return Judge(src.network("J"), mf.attribute_names, "independent judge", second=bundled)


def _flip_row(flipped: np.ndarray, names: list[str], a: str, attrs: list[str],
              edit: str) -> tuple[list[str], tuple[float, float]]:
    """One table row from the judge's before/after disagreements (n, n_attr) of an edit of `a`:
    the target's flip rate, the other 39's, the other main attributes'."""
    ai = names.index(a)
    target = float(flipped[:, ai].mean())
    collateral = float(flipped[:, [i for i in range(len(names)) if i != ai]].mean())
    main_others = [names.index(b) for b in attrs if b != a]
    coll_main = float(flipped[:, main_others].mean()) if main_others else 0.0
    row = [a, edit, f"{100 * target:.1f}%", f"{100 * collateral:.1f}%", f"{100 * coll_main:.1f}%"]
    return row, (target, collateral)


def _edit_table(rep: Report, title: str, edit: str, rows: list[list[str]]) -> None:
    rep.add(f"#### {title}", "")
    rep.table(["attribute", edit, "target flipped", "collateral (39 others)",
               "collateral (other main 4)"], rows)


def edit_success(bundle: Any, G: torch.nn.Module, judge: Judge, z: np.ndarray, alpha: float,
                 rep: Report, label: str, methods: int = 3,
                 detail: np.ndarray | None = None, psi: float = 1.0,
                 before: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """Push each main attribute across its boundary; count target flips and collateral flips.

    Compares every direction method the model has, and the default one with locks (the first
    `methods` of those). `before`: the judge's decisions on the unedited faces, if known."""
    from explorer.core.directions import available_methods, default_method, get_directions
    from explorer.core.edits import apply_edits

    names = judge.names
    if before is None:
        before = judge.probs(generate(G, z, detail=detail, psi=psi)) > 0.5
    before2: np.ndarray | None = None
    attrs = [a for a in MAIN_ATTRIBUTES if a in names]
    rows, summary = [], {}
    variants = [(m, False) for m in available_methods(bundle)] + [(default_method(bundle), True)]
    for method, locked in variants[:methods]:
        dirs = get_directions(bundle, method)
        for a in attrs:
            ai = names.index(a)
            locks = [b for b in attrs if b != a] if locked else []
            z_new = np.empty_like(z)
            for sign in (+1, -1):
                sel = (~before[:, ai]) if sign > 0 else before[:, ai]
                if sel.any():
                    z_new[sel] = apply_edits(z[sel], dirs, {a: sign * alpha}, locks)
            imgs = generate(G, z_new, detail=detail, psi=psi)
            after = judge.probs(imgs) > 0.5
            name = method + (" + locks" if locked else "")
            row, summary[f"{a}|{name}"] = _flip_row(after != before, names, a, attrs, name)
            if judge.second is not None:  # the classifier that chose the directions, beside
                if before2 is None:
                    before2 = judge.second.probs(generate(G, z, detail=detail, psi=psi)) > 0.5
                after2 = judge.second.probs(imgs) > 0.5
                row2, _ = _flip_row(after2 != before2, names, a, attrs, name)
                row += [row2[2], row2[3]]
            rows.append(row)
    title = f"{label} ({len(z)} faces, step α = ±{alpha})"
    if judge.second is not None:
        rep.add(f"#### {title}", "", f"Judged by the {judge.label}; the last two columns by "
                f"the {judge.second.label}.", "")
        rep.table(["attribute", "directions", "target flipped", "collateral (39 others)",
                   "collateral (other main 4)", f"target ({judge.second.label})",
                   f"collateral ({judge.second.label})"], rows)
    else:
        _edit_table(rep, title, "directions", rows)
    return summary


def edit_success_y(G: torch.nn.Module, judge: Judge, z: np.ndarray, y: np.ndarray,
                   cond: list[str], rep: Report, label: str, psi: float = 1.0,
                   values: tuple[float, ...] = (1.0, 2.0),
                   detail: np.ndarray | None = None,
                   reach: np.ndarray | None = None,
                   correction: np.ndarray | None = None,
                   exclusive: np.ndarray | None = None) -> dict[str, tuple[float, float]]:
    """A cGAN's edits: the attribute's condition goes to the other side (+v for a face the judge
    says lacks it, -v for one that has it; v = 1 is the training labels', 2 the default reach);
    a photo's `detail` and the other conditions stay, and z moves by the model's `correction`
    of the y edit where it has one (`edits.corrected_latents`, as the app draws the edit). With
    `reach` (one per conditioned attribute, `Bundle.y_reach`) also at each attribute's own
    reach: where the app's slider ends, and with a correction there once more without it. The
    summary holds v = 1's ("|condition y"), the reach's ("|sliders' end") and the reach's
    uncorrected ("|sliders' end, y alone"). `exclusive` (`Bundle.cond_exclusive`): the other
    conditions give way to the edited one as the app's slider moves them (`other_side`)."""
    from explorer.core.edits import corrected_latents

    names = judge.names
    before = judge.probs(generate(G, z, y=y, psi=psi, detail=detail)) > 0.5
    attrs = [a for a in MAIN_ATTRIBUTES if a in names and a in cond]
    rows, summary = [], {}
    steps: list[tuple[str, str, dict[str, float], np.ndarray | None]] = [
        (f"y = ±{v:g}", "condition y", dict.fromkeys(attrs, v), correction) for v in values]
    if reach is not None:
        ends = {a: float(reach[cond.index(a)]) for a in attrs}
        steps.append(("sliders' end (y = ±{:g})", "sliders' end", ends, correction))
        if correction is not None:
            steps.append(("sliders' end, y alone (y = ±{:g}, no correction)",
                          "sliders' end, y alone", ends, None))
    for how, key, vs, k in steps:
        for a in attrs:
            v = vs[a]
            y_new = other_side(y, before, cond, names, a, v, exclusive)
            z_new = corrected_latents(z, y_new, y, k)
            after = judge.probs(generate(G, z_new, y=y_new, psi=psi, detail=detail)) > 0.5
            row, flips = _flip_row(after != before, names, a, attrs, how.format(v))
            rows.append(row)
            summary.setdefault(f"{a}|{key}", flips)
    _edit_table(rep, f"{label} ({len(z)} faces, the attribute's y set to the other side)",
                "edit", rows)
    return summary
