"""What every section of the report reads (`Context`), the held-out faces encoded (`Encoded`),
and batched generation and encoding for the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from facegan.models import forward_psi, map_batches, map_images, tensor_to_images

if TYPE_CHECKING:  # annotations only: the judge module generates through this one
    from evaluation.judge import Judge
    from evaluation.report import Report


@dataclass
class Context:
    """What every section of the report reads: the model, the data, the judge, the options."""

    model: Path
    data_dir: Path
    mf: Any
    bundle: Any
    G: torch.nn.Module
    E: torch.nn.Module
    judge: Judge
    train: Any
    held: Any
    figs: Path
    rep: Report
    alpha: float
    psi: float
    n_edit: int
    budget: float
    extra_args: str = ""  # the options that differ from the defaults, for the reproduce line
    fd_psi1: tuple[float, float] | None = None  # FD at psi 1 and its floor, the judge's space
    # The headline figures, for a side-by-side section: "what | detail" -> value.
    figures: dict[str, float] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return self.judge.names

    @property
    def nz(self) -> int:
        return int(self.mf.config.nz)

    @property
    def cond(self) -> list[str]:
        return list(self.mf.config.cond_attributes) if self.mf.config.n_cond else []

    @property
    def held_img(self) -> np.ndarray:
        return np.asarray(self.held.images)

    def judged_y(self, images: np.ndarray) -> np.ndarray | None:
        """A cGAN's condition for real faces: what the judge sees in them (+-1); else None."""
        if not self.cond:
            return None
        return judged_conditions(self.judge, images, [self.names.index(a) for a in self.cond])

    def prior_y(self, n: int, seed: int) -> np.ndarray | None:
        """A cGAN's conditions for random samples: rows of the held-out labels; else None."""
        return held_conditions(self.held, self.names, self.cond, n, seed) if self.cond else None


def held_conditions(held: Any, names: list[str], cond: list[str], n: int,
                    seed: int) -> np.ndarray:
    """(n, len(cond)) conditions for random samples: rows of the held-out faces' labels, drawn
    with `seed`."""
    rows = np.random.default_rng(seed).integers(0, len(held), n)
    return held.labels[rows][:, [names.index(a) for a in cond]].astype(np.float32)


@dataclass
class Encoded:
    """The held-out faces in latent space: E alone, and refined (with and without the detail)."""

    z: np.ndarray
    y: np.ndarray | None
    z_refined: np.ndarray | None = None
    z_detail: np.ndarray | None = None
    detail: np.ndarray | None = None
    refined_psnr: float = float("nan")
    detail_psnr: float = float("nan")
    w_plus_psnr: float = float("nan")  # a style G: refined in W+ without the feature offset
    w_plus: np.ndarray | None = None  # E's own W+ offsets as details, where E has the head


def generate(G: torch.nn.Module, z: np.ndarray, batch: int = 128,
              detail: np.ndarray | None = None, y: np.ndarray | None = None,
              psi: float = 1.0) -> np.ndarray:
    """Images of z (with a cGAN's y, a photo's detail) at truncation psi, in batches; G gets
    the psi `facegan.models.forward_psi` says (none for a style G, whose latents come truncated)."""
    p = forward_psi(G, psi)
    return tensor_to_images(map_batches(lambda zz, yy, dd: G(zz, yy, dd, p),
                                        z, y, detail, batch=batch))


def encode(E: torch.nn.Module, images: np.ndarray) -> np.ndarray:
    return map_images(E, images).numpy()


def judged_conditions(judge: Judge, images: np.ndarray, cols: list[int]) -> np.ndarray:
    """The judge's decisions on the attributes at `cols` as a condition: +1 has it, -1 not."""
    return np.where(judge.probs(images)[:, cols] > 0.5, 1.0, -1.0).astype(np.float32)


def judged_codes(E: torch.nn.Module, judge: Judge, faces: np.ndarray,
                 cols: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Real faces as a conditional style G edits them: E's w (its first layer's, where E
    answers in W+) and, as the condition, the judge's decisions (`judged_conditions`)."""
    w = encode(E, faces)
    return (w[:, 0] if w.ndim == 3 else w), judged_conditions(judge, faces, cols)
