"""Two models side by side (`face-train evaluate A --against B`): both are measured by the same
judge on the same held-out faces, seeds and step, and the report of A gets one table of both
models' headline figures and their figures drawn next to each other."""

from __future__ import annotations

import numpy as np
from PIL import Image

from evaluation.context import Context
from trainer.monitor import save_png

TARGETS = {"edits flipped": "≥ 90%", "edits' collateral": "≤ 8%",
           "PSNR (dB), E + refinement, held-out CelebA": "≥ 22 dB (latent only)",
           "PSNR (dB), E + refinement in W+": "≥ 22 dB (latent only)"}
FIGURES = ["samples", "samples_psi1", "reconstructions", "interpolation"]


def _target(key: str) -> str:
    for prefix, target in TARGETS.items():
        if key.startswith(prefix):
            return target
    return "≤ 1.5x the floor" if key.startswith("FD") and "ψ = 1.0" in key else ""


def _fmt(v: float | None, key: str) -> str:
    if v is None:
        return "-"
    return f"{v:.1f}%" if key.startswith(("edits", "chance")) else f"{v:.2f}"


def _beside(a: np.ndarray, b: np.ndarray, gap: int = 12) -> np.ndarray:
    """Two RGB pictures next to each other on white, tops aligned."""
    h = max(a.shape[0], b.shape[0])
    out = np.full((h, a.shape[1] + gap + b.shape[1], 3), 255, np.uint8)
    out[:a.shape[0], :a.shape[1]] = a
    out[:b.shape[0], a.shape[1] + gap:] = b
    return out


def comparison_section(c: Context, other: Context, other_report: str) -> None:
    """Append to `c`'s report a side-by-side section of `c` and `other` (already measured)."""
    a, b = c.mf.meta.get("name") or c.model.stem, other.mf.meta.get("name") or other.model.stem
    c.rep.add("## Side by side", "",
              f"`{c.model}` ({a}, kind {c.mf.config.kind}) and `{other.model}` ({b}, kind "
              f"{other.mf.config.kind}), measured in one run by the same judge ({c.judge.label}) "
              f"on the same held-out faces, seeds and step α = ±{c.alpha}; edits with each "
              "model's default direction method. The other model's whole report: "
              f"[{other_report}.md]({other_report}.md).", "")
    keys = list(dict.fromkeys([*c.figures, *other.figures]))
    c.rep.table(["figure", a, b, "target"],
                [[k, _fmt(c.figures.get(k), k), _fmt(other.figures.get(k), k), _target(k)]
                 for k in keys])
    names = [f for f in FIGURES if (c.figs / f"{f}.png").exists()
             and (other.figs / f"{f}.png").exists()]
    names += sorted(p.stem for p in c.figs.glob("edit_*.png")
                    if (other.figs / p.name).exists())
    for name in names:
        left = np.asarray(Image.open(c.figs / f"{name}.png").convert("RGB"))
        right = np.asarray(Image.open(other.figs / f"{name}.png").convert("RGB"))
        save_png(c.figs / f"beside_{name}.png", _beside(left, right))
        c.rep.add(f"**{name.replace('_', ' ')}** (left: {a}; right: {b})  ",
                  f"![{name}]({c.figs.name}/beside_{name}.png)", "")
