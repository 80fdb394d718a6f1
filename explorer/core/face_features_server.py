"""The process that runs dlib's face-recognition network for `face_embedding`.

dlib's Python binding holds the interpreter's lock for the whole of a face's ~80 ms, so run on
a worker thread of the window it would still stall the GUI thread (every slider frame behind it)
for that long. Here it runs in a child process of its own: the caller's thread waits on a pipe,
which does not hold the lock. Only numpy, Pillow and dlib are imported here (no torch).

Protocol on stdin / stdout, little-endian: the child first writes one byte, 0 when the network
loaded, else 1 followed by a message (4-byte length, UTF-8). A request is n, h, w (three int32)
and n*h*w*3 bytes of uint8 faces; n = 0 ends the child. The answer is one byte, 0 followed by
n*128 float32 features, or 1 followed by a message.

    python -m explorer.core.face_features_server
"""

from __future__ import annotations

import os
import struct
import sys
from typing import BinaryIO

import numpy as np

FEATURES = 128
UPSCALED = 256  # the face is upscaled to this side (bicubic) before the chip is cut
# dlib's five points (right eye outer, inner; left eye outer, inner; nose) in CelebA's framing:
# the median over the photo path's 64 px crops of CelebA training images 1-400 (382 found),
# upscaled 4x to 256 px, as fractions of the side.
FIVE_POINTS = ((167 / 256, 134 / 256), (145 / 256, 135 / 256), (89 / 256, 134 / 256),
               (111 / 256, 135 / 256), (128 / 256, 178 / 256))
CHIP, CHIP_PADDING = 150, 0.25  # dlib's face chip for its recognition network
MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"  # in the face_recognition_models wheel


def load_network() -> object:
    """dlib's recognition network from the face_recognition_models wheel (ImportError, OSError
    or RuntimeError when it cannot be had)."""
    import dlib

    from explorer.core.dlib_models import model_path

    return dlib.face_recognition_model_v1(str(model_path(MODEL_FILE)))


def features(net: object, faces: np.ndarray) -> np.ndarray:
    """(n, 128) float32 features of aligned uint8 faces (n, res, res, 3), in this process."""
    import dlib
    from PIL import Image

    side = UPSCALED - 1
    pts = [dlib.point(round(x * UPSCALED), round(y * UPSCALED)) for x, y in FIVE_POINTS]
    shape = dlib.full_object_detection(dlib.rectangle(0, 0, side, side), pts)
    out = np.empty((len(faces), FEATURES), np.float32)
    for i, face in enumerate(faces):
        big = np.asarray(Image.fromarray(np.ascontiguousarray(face)).resize(
            (UPSCALED, UPSCALED), Image.BICUBIC))
        chip = dlib.get_face_chip(big, shape, CHIP, CHIP_PADDING)
        out[i] = np.asarray(net.compute_face_descriptor(chip), np.float32)  # type: ignore[attr-defined]
    return out


def write_message(out: BinaryIO, text: str) -> None:
    """A failure, as the protocol says it: 1, then the UTF-8 text after its length."""
    b = text.encode()
    out.write(b"\x01" + struct.pack("<i", len(b)) + b)
    out.flush()


def read_exactly(inp: BinaryIO, n: int) -> bytes:
    """n bytes from a pipe; EOFError when it ends first (the other side went away)."""
    buf = inp.read(n)
    if buf is None or len(buf) != n:
        raise EOFError
    return buf


def read_message(inp: BinaryIO) -> str:
    """The text of a failure, after its leading 1 (`write_message`)."""
    (n,) = struct.unpack("<i", read_exactly(inp, 4))
    return read_exactly(inp, n).decode(errors="replace")


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    try:
        net = load_network()
    except (ImportError, OSError, RuntimeError) as e:
        write_message(out, f"dlib's face-recognition network cannot be loaded ({e})")
        return
    out.write(b"\x00")
    out.flush()
    while True:
        try:
            n, h, w = struct.unpack("<3i", read_exactly(inp, 12))
            if n <= 0:
                return
            faces = np.frombuffer(read_exactly(inp, n * h * w * 3), np.uint8).reshape(n, h, w, 3)
        except EOFError:  # the parent went away
            return
        try:
            f = features(net, faces)
        except Exception as e:  # noqa: BLE001 - the parent gets it, in one line
            write_message(out, f"{type(e).__name__}: {e}")
            continue
        out.write(b"\x00" + f.astype("<f4").tobytes())
        out.flush()


def main() -> None:
    """Answer on a private copy of stdout; anything else printed to it (by dlib's C++ code or
    by Python) goes to stderr instead, so it cannot break the protocol."""
    sys.stdout.flush()
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
