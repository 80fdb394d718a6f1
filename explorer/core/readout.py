"""The live attribute readout: what the classifier sees in the edited face, against the unedited.

While a slider moves, the window shows the probability of the slider's own attribute before and
after the edit, and the other attributes that the edit moves most, so one sees whether an edit
does what its name says and what else it drags along.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from explorer.core.bundle import Bundle


@dataclass(frozen=True)
class Readout:
    """Probabilities of the unedited (``before``) and edited (``after``) first face."""

    target: str | None  # the attribute of the slider last moved, when the classifier knows it
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    movers: list[str] = field(default_factory=list)  # other attributes, largest change first

    def change(self, name: str) -> float:
        return self.after[name] - self.before[name]


def readout(bundle: Bundle, edited: np.ndarray, base: np.ndarray, y: np.ndarray | None = None,
            detail: np.ndarray | None = None, psi: float = 1.0, target: str | None = None,
            top: int = 3) -> Readout:
    """Classify the edited latent (nz,) and the unedited one (nz,) in one batch; ``detail`` is the
    face's photo detail (the same for both), ``y`` its condition (1, n_cond) for a cGAN."""
    from explorer.core.classify import attribute_probabilities

    z = np.stack([np.asarray(edited, np.float32).reshape(-1),
                  np.asarray(base, np.float32).reshape(-1)])
    yy = None if y is None else np.repeat(np.asarray(y, np.float32).reshape(1, -1), 2, 0)
    dd = None if detail is None else bundle.stack_details([detail, detail])
    p = attribute_probabilities(bundle, bundle.generate(z, yy, dd, psi))
    names = list(bundle.attribute_names)
    after = {n: float(v) for n, v in zip(names, p[0], strict=True)}
    before = {n: float(v) for n, v in zip(names, p[1], strict=True)}
    known = target if target in after else None
    order = sorted((n for n in names if n != known), key=lambda n: -abs(after[n] - before[n]))
    return Readout(known, before, after, order[:top])
