"""Face-recognition features of aligned faces: dlib's ResNet descriptor (128 numbers).

The photo scorer (`classify`) reads, beside its own logits, what a network trained to tell
people apart sees in a face: dlib's face-recognition ResNet
(``dlib_face_recognition_resnet_model_v1``, trained on about 3 million faces of 7,485 people,
released into the public domain by its author, shipped in the face_recognition_models wheel:
nothing is downloaded). Its features carry sex and age across real photos better than a 64 px
classifier trained on CelebA alone (docs/photos.md, section 2).

Every face the app scores is already aligned to CelebA's framing (a photo's crop, or a face G
drew), so the network's 150 px chip is cut from it with one fixed five-point shape instead of
finding landmarks again: the median of dlib's five points on the photo path's 64 px crops of
CelebA training images 1-400 (382 found), upscaled 4x (bicubic) to 256 px, as fractions of the
side. The same cut for photos and for G's faces, so the photo's bars and the edit's read alike.

About 60-80 ms a face on this CPU (dlib's own code, one thread).
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from facegan.checkpoint import SCORER_HEAD_EMBEDDING

EMBEDDING_DIM = SCORER_HEAD_EMBEDDING  # what a model file's scorer head reads
UPSCALED = 256  # the face is upscaled to this side (bicubic) before the chip is cut
# dlib's five points (right eye outer, inner; left eye outer, inner; nose) in CelebA's framing.
FIVE_POINTS = ((167 / 256, 134 / 256), (145 / 256, 135 / 256), (89 / 256, 134 / 256),
               (111 / 256, 135 / 256), (128 / 256, 178 / 256))
CHIP, CHIP_PADDING = 150, 0.25  # dlib's face chip for its recognition network

_NET: list[object] = []
_LOCK = threading.Lock()


def _network() -> object | None:
    with _LOCK:
        if not _NET:
            try:
                import dlib

                from explorer.core.dlib_models import model_path

                f = model_path("dlib_face_recognition_resnet_model_v1.dat")
                _NET.append(dlib.face_recognition_model_v1(str(f)))
            except (ImportError, RuntimeError, OSError):
                _NET.append(None)
        return _NET[0]


def available() -> bool:
    """Whether dlib and its recognition network are installed (else faces are scored without
    these features)."""
    return _network() is not None


def _shape() -> object:
    import dlib

    side = UPSCALED - 1
    pts = [dlib.point(round(x * UPSCALED), round(y * UPSCALED)) for x, y in FIVE_POINTS]
    return dlib.full_object_detection(dlib.rectangle(0, 0, side, side), pts)


def embed_faces(faces: np.ndarray) -> np.ndarray:
    """(n, 128) float32 descriptors of aligned uint8 faces (n, res, res, 3).

    Raises RuntimeError when the network is not installed (ask `available` first)."""
    net = _network()
    if net is None:
        raise RuntimeError("dlib's face-recognition network is not installed")
    import dlib

    shape = _shape()
    out = np.empty((len(faces), EMBEDDING_DIM), np.float32)
    with _LOCK:  # dlib's network object is not known to be thread-safe
        for i, face in enumerate(faces):
            big = np.asarray(Image.fromarray(np.ascontiguousarray(face)).resize(
                (UPSCALED, UPSCALED), Image.BICUBIC))
            chip = dlib.get_face_chip(big, shape, CHIP, CHIP_PADDING)
            out[i] = np.asarray(net.compute_face_descriptor(chip), np.float32)  # type: ignore[attr-defined]
    return out
