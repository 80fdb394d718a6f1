"""The live attribute readout: what the classifier sees in the edited face, against the unedited.

While a slider moves, the window shows the probability of the slider's own attribute before and
after the edit, and the other attributes that the edit moves most, so one sees whether an edit
does what its name says and what else it drags along.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from explorer.core.bundle import Bundle
from explorer.core.render import RenderRequest


@dataclass(frozen=True)
class Readout:
    """Probabilities of the unedited (``before``) and edited (``after``) first face."""

    target: str | None  # the attribute of the slider last moved, when the classifier knows it
    before: dict[str, float] = field(default_factory=dict)
    after: dict[str, float] = field(default_factory=dict)
    movers: list[str] = field(default_factory=list)  # other attributes, largest change first

    def change(self, name: str) -> float:
        return self.after[name] - self.before[name]


def first_face(req: RenderRequest) -> RenderRequest:
    """The request's first face alone (with its tuned weights, if any)."""
    psi = np.asarray(req.psi, np.float32)
    return RenderRequest(req.id, req.z[:1], None if req.y is None else req.y[:1],
                         None if req.detail is None else req.detail[:1],
                         psi[:1] if psi.ndim else float(psi),
                         None if req.tuned is None else req.tuned[:1])


def draw_with(bundle: Bundle) -> Callable[[RenderRequest], np.ndarray]:
    """Draw a one-face request with the bundle's own G on the calling thread (tests, scripts;
    the window draws through its render service instead)."""

    def draw(r: RenderRequest) -> np.ndarray:
        return bundle.generate(r.z, r.y, r.detail, r.psi, tuned=r.tuned[0] if r.tuned else None)

    return draw


def readout(bundle: Bundle, edited: RenderRequest, unedited: RenderRequest,
            target: str | None = None, top: int = 3,
            draw: Callable[[RenderRequest], np.ndarray] | None = None) -> Readout:
    """Classify the first face of ``edited`` against the first of ``unedited`` (the same face
    without the slider edits); ``target`` is the attribute of the slider last moved; ``draw``
    renders a request (default `draw_with(bundle)`; the window: its render service)."""
    from explorer.core.classify import attribute_probabilities

    draw = draw or draw_with(bundle)
    faces = [draw(first_face(r)) for r in (edited, unedited)]
    p = attribute_probabilities(bundle, np.concatenate(faces))
    names = list(bundle.attribute_names)
    after = {n: float(v) for n, v in zip(names, p[0], strict=True)}
    before = {n: float(v) for n, v in zip(names, p[1], strict=True)}
    known = target if target in after else None
    order = sorted((n for n in names if n != known), key=lambda n: -abs(after[n] - before[n]))
    return Readout(known, before, after, order[:top])
