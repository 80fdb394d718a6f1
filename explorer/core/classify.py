"""Attribute probabilities of faces from the model's bundled classifier C."""

from __future__ import annotations

import numpy as np
import torch

from explorer.core.bundle import Bundle, BundleError
from facegan.models import map_images


@torch.inference_mode()
def attribute_probabilities(bundle: Bundle, faces: np.ndarray, batch: int = 256) -> np.ndarray:
    """(n, n_attr) calibrated probabilities for faces (n, res, res, 3) uint8 (or one face).

    Raises BundleError if the model has no classifier.
    """
    if not bundle.has_classifier:
        raise BundleError(f"{bundle.name}: this model has no attribute classifier")
    C = bundle.network("C")
    faces = bundle.check_faces(faces)
    return torch.sigmoid(map_images(C, faces, batch)).numpy()
