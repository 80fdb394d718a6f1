"""Attribute probabilities of faces from the model's bundled classifier C."""

from __future__ import annotations

import numpy as np
import torch

from explorer.core.bundle import Bundle, BundleError, images_to_tensor


@torch.inference_mode()
def attribute_probabilities(bundle: Bundle, faces: np.ndarray, batch: int = 256) -> np.ndarray:
    """(n, n_attr) calibrated probabilities for faces (n, res, res, 3) uint8 (or one face).

    Raises BundleError if the model has no classifier.
    """
    if not bundle.has_classifier:
        raise BundleError(f"{bundle.name}: this model has no attribute classifier")
    C = bundle.network("C")
    faces = bundle.check_faces(faces)
    out = [torch.sigmoid(C(images_to_tensor(faces[i : i + batch])).float())
           for i in range(0, len(faces), batch)]
    return torch.cat(out).numpy()
