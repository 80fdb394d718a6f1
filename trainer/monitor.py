"""What a run writes for people to watch: sample grids, a curves plot, a timelapse (the metrics
log itself is `facegan.runlog`, shared with the explorer's training-monitor tab)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from facegan.files import atomic_write
from facegan.runlog import CURVES


def save_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    atomic_write(path, lambda tmp: Image.fromarray(image).save(tmp, format="PNG"))


def plot_curves(records: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """The three quantities a GAN run is watched by (`CURVES`), and the losses, as a PNG."""
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
