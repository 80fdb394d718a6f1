"""What a run writes for people to watch: JSONL metrics, sample grids, a curves plot, a timelapse.

The explorer's training-monitor tab polls these files; it never imports the training loop.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from facegan.checkpoint import atomic_write

CURVES = (("d_real", "D(real)"), ("d_fake", "D(fake)"), ("g_fool", "D(G(z)): G fooling D"))


def make_grid(images: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """(n, h, w, 3) uint8 -> one image with the faces in a grid."""
    n, h, w, _ = images.shape
    nrow = nrow or int(math.ceil(math.sqrt(n)))
    ncol = int(math.ceil(n / nrow))
    grid = np.full((ncol * (h + pad) + pad, nrow * (w + pad) + pad, 3), 255, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, nrow)
        grid[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) :][:, :w] = im
    return grid


def save_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG"))


def append_jsonl(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a metrics log; a line cut short by a killed run is skipped."""
    out = []
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def truncate_jsonl(path: str | os.PathLike[str], total_steps: int) -> int:
    """Drop the records after `total_steps` (logged by a run killed after its last snapshot,
    which a resume logs again) and lines cut short; returns how many records were dropped."""
    p = Path(path)
    if not p.exists():
        return 0
    lines = p.read_text().splitlines()
    keep = []
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and rec.get("total_steps", 0) <= total_steps:
            keep.append(line)
    if len(keep) != len(lines):
        text = "".join(k + "\n" for k in keep)
        atomic_write(p, lambda tmp: Path(tmp).write_text(text))
    return len(lines) - len(keep)


def plot_curves(records: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """The three quantities seed 002 monitors, and the losses, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    gan = [r for r in records if r.get("phase") == "gan"]
    if not gan:
        return
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), dpi=100)
    steps = [r["step"] for r in gan]
    for key, label in CURVES:
        axes[0].plot(steps, [r.get(key, np.nan) for r in gan], label=label, lw=1)
    axes[0].set_ylim(0, 1)
    axes[0].set_title("Discriminator outputs (probabilities)")
    axes[0].legend(fontsize=8)
    for key in ("loss_d", "loss_g"):
        axes[1].plot(steps, [r.get(key, np.nan) for r in gan], label=key, lw=1)
    axes[1].set_title("Losses")
    axes[1].legend(fontsize=8)
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def write_timelapse(grid_paths: list[Path], path: str | os.PathLike[str], fps: int = 4) -> None:
    """GIF of the sample grids over training; frames are quantised first (much faster in Pillow)."""
    if not grid_paths:
        return
    frames = [Image.open(p).convert("RGB").quantize(colors=255, method=Image.Quantize.MEDIANCUT)
              for p in grid_paths]
    duration = int(1000 / fps)
    atomic_write(
        path,
        lambda tmp: frames[0].save(
            tmp, format="GIF", save_all=True, append_images=frames[1:], duration=duration, loop=0
        ),
    )
