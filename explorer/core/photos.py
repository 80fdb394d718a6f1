"""Photos in: load any image safely, find the face, crop it with the framing the model learned.

Framing. The model sees CelebA's aligned images cut to their centred square (the trainer's
`centre_square`). OpenCV's bundled Haar cascade, run on 300 CelebA aligned images, puts the face
box so that this training square has its centre 0.14 box-widths above the box centre and a side
of 1.70 box-widths (medians; spread 0.06 and 0.19); the eyes sit at 0.51 of the aligned image's
height, 0.11 box-widths above the box centre. `crop_face` reproduces that square around any
detected box and, when the eye cascade finds both eyes inside the box, rotates the photo so the
eyes are level as in CelebA's alignment. Nothing is downloaded: the cascades ship inside the
opencv wheel (pinned < 5, whose wheels dropped them).
"""

from __future__ import annotations

import io
import math
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from facegan.images import to_rgb

MAX_PIXELS = 60_000_000  # decompression-bomb limit (a 60-megapixel photo is still accepted)
# px: the cascade's smallest window is 24 px, and a 32-px face (a 54-px crop) already has to be
# upscaled for a 64-px model; smaller faces are reported as tiny (the caller may still choose one).
MIN_FACE = 32
DETECT_SIDE = 640  # detection runs on a copy whose long side is at most this
PAD = 0.15  # margin added around the photo for detection, as a fraction of its long side
# Framing measured on CelebA aligned images (see module docstring), in units of face-box width.
CROP_SIDE = 1.70
CROP_DY = -0.14


class PhotoError(Exception):
    """A photo that cannot be used as is. `kind` says why; `str(e)` is the user message.

    kind : 'unreadable' | 'no_face' | 'several_faces' | 'tiny_face' | 'too_large'.
    faces : the boxes that were found (for 'several_faces' / 'tiny_face'), largest first.
    """

    def __init__(self, kind: str, message: str, faces: list[FaceBox] | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.faces = faces or []


@dataclass(frozen=True)
class FaceBox:
    """A face found in a photo, in pixels of that photo."""

    x: int
    y: int
    w: int
    h: int


# Loading.


def load_photo(src: str | Path | bytes) -> np.ndarray:
    """(h, w, 3) uint8 RGB from a path or bytes: EXIF orientation applied, any mode, bomb limit,
    the first frame of an animation. Raises PhotoError('unreadable' | 'too_large')."""
    name = "the photo" if isinstance(src, bytes) else Path(src).name
    if not isinstance(src, bytes):
        p = Path(src)
        if not p.exists():
            raise PhotoError("unreadable", f"no such photo: {p}")
        if p.is_dir():
            raise PhotoError("unreadable", f"{p} is a folder, not a photo")
        # A FIFO, socket or device named like a photo would block open() or read() forever (the
        # window's encoder, and every photo queued after it, with it): only regular files open.
        mode = os.stat(p).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket"
                    if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode)
                    or stat.S_ISBLK(mode) else "not a regular file")
            raise PhotoError("unreadable", f"{p.name} is {kind}, not a photo file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
            w, h = img.size
            if w * h > MAX_PIXELS:
                raise PhotoError(
                    "too_large",
                    f"{name} is {w}x{h} ({w * h / 1e6:.0f} megapixels); the limit is "
                    f"{MAX_PIXELS / 1e6:.0f} megapixels",
                )
            if getattr(img, "is_animated", False):
                img = next(iter(ImageSequence.Iterator(img))).copy()
            img.load()
            return np.asarray(to_rgb(img))  # upright by its EXIF orientation
    except PhotoError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("too_large", f"{name} is too large to open safely") from None
    except Exception as e:  # PIL raises many types for broken files
        raise PhotoError("unreadable", f"{name} is not a readable image ({e})") from None


# Detection.

_CASCADES: dict[str, object] = {}


def _cascade(name: str) -> object:
    import cv2

    if name not in _CASCADES:
        c = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        if c.empty():
            raise RuntimeError(f"OpenCV could not load its bundled {name}")
        _CASCADES[name] = c
    return _CASCADES[name]


def _gray(img: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)


def check_face_room(img: np.ndarray) -> None:
    """PhotoError 'no_face' for a photo too thin one way to hold a face (a 30000x20 strip): one
    line, before any detector resizes it to nothing and fails an OpenCV assertion."""
    h, w = img.shape[:2]
    if min(h, w) < MIN_FACE:
        raise PhotoError(
            "no_face", f"the photo is {w}x{h} px, too small one way to hold a face (at least "
            f"{MIN_FACE} px each way); use the whole image or another photo")


def detect_faces(img: np.ndarray) -> list[FaceBox]:
    """Frontal faces found by OpenCV's Haar cascade, largest first (photo pixels).

    PhotoError 'no_face' for a photo too thin one way to hold a face (a 30000x20 strip), and
    'unreadable' if OpenCV fails on it: one line, never an OpenCV assertion."""
    check_face_room(img)
    h, w = img.shape[:2]
    try:
        return _detect(img)
    except Exception as e:  # cv2.error on a shape it was never meant for
        last = (str(e).strip().splitlines() or [type(e).__name__])[-1][:160]
        raise PhotoError("unreadable", f"face detection failed on this {w}x{h} photo ({last})"
                         ) from None


def _detect(img: np.ndarray) -> list[FaceBox]:
    import cv2

    h, w = img.shape[:2]
    k = min(1.0, DETECT_SIDE / max(h, w))
    gray = _gray(img)
    if k < 1.0:
        gray = cv2.resize(gray, (max(1, round(w * k)), max(1, round(h * k))),
                          interpolation=cv2.INTER_AREA)
    # A face that touches the border (tightly cropped photos such as UTKFace's) is missed by the
    # cascade half the time; a replicated 15% margin finds 94 of 100 instead of 54.
    pad = round(PAD * max(gray.shape))
    gray = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    gray = cv2.equalizeHist(gray)
    min_side = max(20, round(MIN_FACE * k * 0.5))
    cascade = _cascade("haarcascade_frontalface_default.xml")
    found = cascade.detectMultiScale(  # type: ignore[attr-defined]
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(min_side, min_side)
    )
    boxes = [
        FaceBox(round((x - pad) / k), round((y - pad) / k), round(bw / k), round(bh / k))
        for x, y, bw, bh in found
    ]
    return sorted(boxes, key=lambda b: -b.w * b.h)


def eye_angle(img: np.ndarray, box: FaceBox) -> float | None:
    """Roll of the face in radians from the two eyes found in the box's upper half, or None."""
    y0, x0 = max(0, box.y), max(0, box.x)  # boxes may reach past the border (see detect_faces)
    region = img[y0 : box.y + box.h * 5 // 8, x0 : box.x + box.w]
    if region.shape[0] < 8 or region.shape[1] < 8:
        return None
    top = _gray(region)
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(  # type: ignore[attr-defined]
        top, scaleFactor=1.1, minNeighbors=5, minSize=(max(6, box.w // 10),) * 2
    )
    if len(eyes) < 2:
        return None
    two = sorted(eyes, key=lambda e: -e[2] * e[3])[:2]
    (x1, y1), (x2, y2) = sorted((ex + ew / 2, ey + eh / 2) for ex, ey, ew, eh in two)
    dx, dy = x2 - x1, y2 - y1
    if dx < 0.2 * box.w or abs(dy) > 0.5 * dx:  # not a left/right pair of eyes
        return None
    return math.atan2(dy, dx)


# Cropping.


def _resize(img: np.ndarray, res: int) -> np.ndarray:
    """Resize a square like the trainer does (Pillow Lanczos, reducing_gap 2)."""
    pil = Image.fromarray(img)
    return np.asarray(pil.resize((res, res), Image.Resampling.LANCZOS, reducing_gap=2.0))


def crop_face(
    img: np.ndarray, box: FaceBox | None, res: int, level_eyes: bool = True
) -> np.ndarray:
    """(res, res, 3) uint8 face with CelebA framing; box None = the whole image's centre square."""
    import cv2

    h, w = img.shape[:2]
    if box is None:
        s = min(h, w)
        top, left = (h - s) // 2, (w - s) // 2
        return _resize(np.ascontiguousarray(img[top : top + s, left : left + s]), res)
    side = CROP_SIDE * box.w
    cx = box.x + box.w / 2
    cy = box.y + box.h / 2 + CROP_DY * box.w
    angle = eye_angle(img, box) if level_eyes else None
    out = max(res, round(side))  # crop at full resolution, then resize like the trainer
    m = cv2.getRotationMatrix2D((cx, cy), math.degrees(angle or 0.0), out / side)
    m[0, 2] += out / 2 - cx
    m[1, 2] += out / 2 - cy
    return _resize(warp_square(np.ascontiguousarray(img), m, out), res)


def warp_square(src: np.ndarray, m: np.ndarray, out: int) -> np.ndarray:
    """The (out, out) square the affine map `m` cuts from `src`. A tightly cropped photo
    (UTKFace) has less around the face than CelebA's framing: the part outside the photo is
    edge-replicated, which smears into stripes, so it is blurred into a soft background instead
    (mirroring was tried: it shows ghost faces)."""
    import cv2

    sq = cv2.warpAffine(src, m, (out, out), flags=cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
    inside = cv2.warpAffine(np.ones(src.shape[:2], np.float32), m, (out, out),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if inside.min() < 0.999:
        soft = cv2.GaussianBlur(sq, (0, 0), sigmaX=out / 12)
        a = cv2.GaussianBlur(inside, (0, 0), sigmaX=out / 40)[..., None]
        sq = (a * sq + (1 - a) * soft).round().clip(0, 255).astype(np.uint8)
    return sq


def pick_face(boxes: list[FaceBox], choose: int | None = None) -> int:
    """Which of `boxes` (largest first) to use: `choose`, else the one clearly largest face.

    Raises PhotoError 'no_face', 'several_faces' or 'tiny_face' unless `choose` says which."""
    if choose is not None:
        if not 0 <= choose < len(boxes):
            raise PhotoError(
                "no_face" if not boxes else "several_faces",
                f"face {choose} was asked for, but {len(boxes)} face(s) were found",
                boxes,
            )
        return choose
    if not boxes:
        raise PhotoError(
            "no_face", "no face found in the photo; use the whole image or another photo"
        )
    big = [b for b in boxes if b.w >= MIN_FACE]
    if not big:
        raise PhotoError(
            "tiny_face",
            f"the face is too small ({boxes[0].w} px wide, at least {MIN_FACE} px needed); use a "
            "larger photo or the whole image",
            boxes,
        )
    rivals = [b for b in big[1:] if b.w >= 0.6 * big[0].w]
    if rivals:
        raise PhotoError(
            "several_faces",
            f"{len(rivals) + 1} faces of similar size found; choose one (0 = largest)",
            boxes,
        )
    return boxes.index(big[0])


def find_face(
    img: np.ndarray, res: int, choose: int | None = None, whole_image: bool = False
) -> tuple[np.ndarray, FaceBox | None, list[FaceBox]]:
    """Detect, pick and crop: returns (face (res, res, 3), box used, every box found).

    Raises PhotoError 'no_face', 'several_faces' or 'tiny_face' unless `choose` (an index into the
    boxes, largest first) or `whole_image` says what to use instead.
    """
    if whole_image:
        return crop_face(img, None, res), None, []
    boxes = detect_faces(img)
    box = boxes[pick_face(boxes, choose)]
    return crop_face(img, box, res), box, boxes
