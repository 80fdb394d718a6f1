"""Attribute probabilities of faces: what the app shows a user, and what C alone says.

Two classifiers may live in a model file (`facegan.checkpoint`): C, trained on CelebA's aligned
faces, and optionally a photo scorer, C fine-tuned for real photos. `attribute_probabilities`
is what the app and the CLI show of a face (the readout, the photo panel's bars, ``score``): it
follows the one rule `Bundle.scoring_network` (the photo scorer when the file has one, else C);
where the file also holds a scorer head (`facegan.checkpoint.SCORER_HEAD`) and dlib's
face-recognition network is installed, the head turns that classifier's logits and the face's
recognition features (`face_embedding`) into the scores shown.
`classifier_probabilities` is C's own reading, for the machinery that stays on C: naming
discovered directions. (Neither grades the directions: that is the independent judge J, read by
`evaluation` alone.)
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from explorer.core.bundle import Bundle, BundleError
from facegan.models import map_images


@torch.inference_mode()
def _probabilities(C: torch.nn.Module, bundle: Bundle, faces: np.ndarray,
                   batch: int) -> np.ndarray:
    faces = bundle.check_faces(faces)
    return torch.sigmoid(map_images(C, faces, batch)).numpy()


def reads_features(bundle: Bundle) -> bool:
    """Whether `attribute_probabilities` reads faces' recognition features too (the file has a
    scorer head and this machine has the network)."""
    from explorer.core import face_embedding

    return bundle.scorer_head is not None and face_embedding.available()


@torch.inference_mode()
def attribute_probabilities(bundle: Bundle, faces: np.ndarray, batch: int = 256) -> np.ndarray:
    """(n, n_attr) calibrated probabilities that the app shows for faces (n, res, res, 3) uint8
    (or one face): the photo scorer's when the model has one, else C's, through the file's
    scorer head where it reads features (`reads_features`).

    Raises BundleError if the model has no classifier.
    """
    faces = bundle.check_faces(faces)
    logits = map_images(bundle.scoring_network(), faces, batch)
    if reads_features(bundle):
        from explorer.core.face_embedding import embed_faces

        try:
            emb = torch.from_numpy(embed_faces(faces))
        except RuntimeError as e:  # the network failed to load or its process died:
            _warn_once(str(e))  # the classifier alone, as on a machine without it
        else:
            feats = torch.cat([logits, emb, torch.ones(len(faces), 1)], 1)
            logits = feats @ torch.from_numpy(bundle.scorer_head).T
    return torch.sigmoid(logits).numpy()


_WARNED: set[str] = set()


def _warn_once(why: str) -> None:
    if why not in _WARNED:
        _WARNED.add(why)
        print(f"face-explorer: scores without face-recognition features: {why}", file=sys.stderr)


def classifier_probabilities(bundle: Bundle, faces: np.ndarray, batch: int = 256) -> np.ndarray:
    """(n, n_attr) calibrated probabilities of the model's own classifier C, whatever scorer the
    file also holds: for direction discovery, which must keep C.

    Raises BundleError if the model has no classifier C.
    """
    if not bundle.has_classifier:
        raise BundleError(f"{bundle.name}: this model has no attribute classifier")
    return _probabilities(bundle.network("C"), bundle, faces, batch)


def judged_condition(bundle: Bundle, faces: np.ndarray) -> np.ndarray | None:
    """(n, n_cond) the condition a conditional model draws faces (n, res, res, 3) uint8 with:
    what the app's scorer sees in each (+1 where it calls the attribute present, else -1), so
    an encoded photo keeps its smile, glasses and hair; None for a model without a condition.
    Without a classifier, the neutral condition."""
    if not bundle.n_cond:
        return None
    faces = bundle.check_faces(faces)
    if not bundle.can_score:
        return np.zeros((len(faces), bundle.n_cond), np.float32)
    p = attribute_probabilities(bundle, faces)
    cols = [bundle.attribute_names.index(a) for a in bundle.cond_attributes]
    return np.where(p[:, cols] > 0.5, 1.0, -1.0).astype(np.float32)


def scorer_label(bundle: Bundle) -> str:
    """Which classifier `attribute_probabilities` reads, in words, for tooltips."""
    what = ("the model's classifier fine-tuned for real photos" if bundle.has_scorer
            else "the model's bundled classifier")
    if reads_features(bundle):
        what += ", with a face-recognition network's features"
    return what
