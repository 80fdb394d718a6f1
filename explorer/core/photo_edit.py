"""A photo, edited: pivotal tuning of an encoded photo, and its edit pasted back into the photo.

The steps the window and the CLI share: `tune_photo` tunes a copy of G's weights around the
photo's inverted latent (`explorer.core.pivotal`), `paste_edit` draws the reconstruction and the
edit with the same weights and carries the change into the full photo
(`explorer.core.paste_back`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from explorer.core.align import Alignment
from explorer.core.bundle import Bundle
from explorer.core.edits import condition_vector
from explorer.core.encoding import EncodeResult
from explorer.core.paste_back import paste_back
from explorer.core.pivotal import EDIT_STRENGTHS, STEPS, TunedWeights, tune_generator
from facegan.models import images_to_tensor

EDIT_STRENGTH = 3.0  # the sliders' reach, in standard steps


def tune_photo(bundle: Bundle, result: EncodeResult, steps: int = STEPS,
               progress: Callable[[float], None] | None = None,
               cancel: Callable[[], bool] | None = None) -> TunedWeights:
    """Pivotal tuning for an encoded photo: G's weights tuned so that its latent alone (no
    detail) draws the aligned crop (the photo's own pixels of it, `result.inside`), with the
    condition it was encoded with (a conditional model's); the perceptual term uses the bundled
    classifier's trunk."""
    G = bundle.network("G")
    C = bundle.network("C") if bundle.has_classifier else None
    y = bundle.check_y(result.y, 1)
    with torch.inference_mode(False):
        return tune_generator(
            G, torch.from_numpy(np.asarray(result.z, np.float32).reshape(1, -1)),
            images_to_tensor(result.face[None]),
            None if y is None else torch.from_numpy(y), None, steps=steps,
            features=None if C is None else C.features, progress=progress, cancel=cancel,
            edits=slider_edits(bundle), y_bank=None if y is None else condition_bank(bundle, y[0]),
            inside=result.inside,
            y_correction=None if bundle.cond_correction is None
            else torch.from_numpy(bundle.cond_correction))


def slider_edits(bundle: Bundle, strength: float = EDIT_STRENGTH) -> torch.Tensor | None:
    """(n_attr, latent) offsets of every attribute slider at `strength` standard steps: what
    pivotal tuning must keep acting (`tune_generator`'s `edits`); None without directions."""
    from explorer.core.directions import default_method, get_directions

    try:
        d = get_directions(bundle, default_method(bundle))
    except Exception:  # a model with no directions: tune without the term
        return None
    v = np.asarray(d.vectors, np.float32) * np.asarray(d.scale, np.float32)[:, None]
    v = v[np.abs(v).sum(1) > 0]
    return torch.from_numpy(strength * v) if len(v) else None


def condition_bank(bundle: Bundle, y: np.ndarray) -> torch.Tensor | None:
    """(n_cond * len(EDIT_STRENGTHS), n_cond) the conditions a photo whose own is `y` takes
    under each y slider at each of pivotal tuning's strengths (a share of the slider's end), as
    the app's sliders move y (`edits.condition_vector`: clipped at each reach, the conditions
    the data never shows with the moved one let go); None for a model without a condition."""
    if not bundle.n_cond:
        return None
    names, base = list(bundle.cond_attributes), np.asarray(y, np.float32).reshape(-1)
    return torch.from_numpy(np.stack([
        condition_vector(names, {a: s * EDIT_STRENGTH}, base, bundle.y_reach,
                         bundle.cond_exclusive) for a in names for s in EDIT_STRENGTHS]))


def paste_edit(bundle: Bundle, photo: np.ndarray, alignment: Alignment | None, z: np.ndarray,
               z_edit: np.ndarray, y: np.ndarray | None = None,
               detail: np.ndarray | None = None,
               tuned: TunedWeights | None = None,
               y_photo: np.ndarray | None = None) -> np.ndarray:
    """The full photo with the edit (z -> z_edit, and on a conditional model y_photo -> y; None
    is the neutral condition) carried onto it: the reconstruction and the edit are drawn alike
    (same detail, same tuned weights, psi 1) and only their difference is pasted (`alignment`:
    how the photo's face was cut)."""
    if alignment is None:
        raise ValueError("this encoding does not say where the face came from in the photo")
    z = np.asarray(z, np.float32).reshape(1, -1)
    z2 = np.asarray(z_edit, np.float32).reshape(1, -1)
    y0 = bundle.check_y(y_photo, 1)  # the condition the photo was encoded with
    y1 = y0 if y is None else np.asarray(y, np.float32).reshape(1, -1)
    recon = bundle.generate(z, y0, detail, 1.0, tuned=tuned)[0]
    edited = bundle.generate(z2, y1, detail, 1.0, tuned=tuned)[0]
    return paste_back(photo, alignment, recon, edited)


__all__ = ["condition_bank", "paste_edit", "tune_photo"]
