"""Face-recognition features of aligned faces: dlib's ResNet descriptor (128 numbers).

The photo scorer (`classify`) reads, beside its own logits, what a network trained to tell
people apart sees in a face: dlib's face-recognition ResNet
(``dlib_face_recognition_resnet_model_v1``, trained on about 3 million faces of 7,485 people,
released into the public domain by its author, shipped in the face_recognition_models wheel:
nothing is downloaded). Its features carry sex and age across real photos better than a 64 px
classifier trained on CelebA alone (docs/photos.md, section 2).

Every face the app scores is already aligned to CelebA's framing (a photo's crop, or a face G
drew), so the network's 150 px chip is cut from it with one fixed five-point shape instead of
finding landmarks again (`face_features_server.FIVE_POINTS`). The same cut for photos and for
G's faces, so the photo's bars and the edit's read alike.

The network runs in a child process (`face_features_server`): dlib holds the interpreter's lock
for the ~80 ms a face takes, which on a worker thread would stall the window's GUI thread.
The child starts on the first request and is reused; the last faces' features are kept by
their pixels (the readout's unedited face stays the same through a drag).
"""

from __future__ import annotations

import atexit
import hashlib
import os
import struct
import subprocess
import sys
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from explorer.core.dlib_models import model_path
from explorer.core.face_features_server import (
    FEATURES,
    MODEL_FILE,
    read_exactly,
    read_message,
)
from facegan.checkpoint import SCORER_HEAD_EMBEDDING

assert FEATURES == SCORER_HEAD_EMBEDDING  # what a model file's scorer head reads
SEEN_MAX = 64

_LOCK = threading.Lock()
_CHILD: list[subprocess.Popen[bytes]] = []
_FAILED: list[str] = []  # why the network cannot be had, once known
_SEEN: OrderedDict[bytes, np.ndarray] = OrderedDict()


def available() -> bool:
    """Whether dlib and its recognition network are installed and have not failed to load
    (else faces are scored without these features). Cheap: starts nothing."""
    if _FAILED:
        return False
    try:
        model_path(MODEL_FILE)
    except ImportError:
        return False
    return True


def _stop() -> None:
    for p in _CHILD:
        try:
            p.stdin.write(struct.pack("<3i", 0, 0, 0))  # type: ignore[union-attr]
            p.stdin.close()  # type: ignore[union-attr]
            p.wait(timeout=2)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            p.kill()
    _CHILD.clear()


atexit.register(_stop)


def _child() -> subprocess.Popen[bytes]:
    """The running child, started if need be (RuntimeError when it cannot serve)."""
    if _CHILD and _CHILD[0].poll() is None:
        return _CHILD[0]
    _CHILD.clear()
    env = dict(os.environ)  # the child imports this package from where the parent did
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    p = subprocess.Popen([sys.executable, "-m", "explorer.core.face_features_server"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env)
    try:
        if read_exactly(p.stdout, 1) != b"\x00":
            why = read_message(p.stdout)
            _FAILED.append(why)
            raise RuntimeError(why)
    except EOFError:
        p.kill()
        raise RuntimeError("the face-recognition process ended as it started") from None
    _CHILD.append(p)
    return p


def _ask(faces: np.ndarray) -> np.ndarray:
    """Features of `faces` from the child; a child that died is started again once."""
    for attempt in (0, 1):
        p = _child()
        try:
            n, h, w = faces.shape[:3]
            p.stdin.write(struct.pack("<3i", n, h, w) + faces.tobytes())  # type: ignore[union-attr]
            p.stdin.flush()  # type: ignore[union-attr]
            if read_exactly(p.stdout, 1) == b"\x00":
                return np.frombuffer(read_exactly(p.stdout, n * FEATURES * 4), "<f4").reshape(
                    n, FEATURES).astype(np.float32)
            raise RuntimeError(read_message(p.stdout))
        except (OSError, EOFError):
            p.kill()
            _CHILD.clear()
            if attempt:
                raise RuntimeError("the face-recognition process ended") from None
    raise AssertionError("unreachable")


def _key(face: np.ndarray) -> bytes:
    return hashlib.blake2b(face.tobytes(), digest_size=16,
                           person=str(face.shape).encode()[:16]).digest()


def embed_faces(faces: np.ndarray) -> np.ndarray:
    """(n, 128) float32 features of aligned uint8 faces (n, res, res, 3).

    Raises RuntimeError when the network cannot be had or its process fails."""
    faces = np.ascontiguousarray(faces, np.uint8)
    out = np.empty((len(faces), FEATURES), np.float32)
    with _LOCK:  # one request at a time through the pipe
        keys = [_key(f) for f in faces]
        todo = [i for i, k in enumerate(keys) if k not in _SEEN]
        if todo:
            new = _ask(faces[todo])
            for j, i in enumerate(todo):
                _SEEN[keys[i]] = new[j]
        for i, k in enumerate(keys):
            _SEEN.move_to_end(k)
            out[i] = _SEEN[k]
        while len(_SEEN) > SEEN_MAX:
            _SEEN.popitem(last=False)
    return out
