"""The edit back in the full photo: carry only what the edit changed onto the photo's own pixels.

The model draws a 64-px face; the photo is larger and sharper. So the photo is not replaced by the
drawing: the change the edit made (edited face − reconstruction, both drawn by the same generator
from the same photo) is warped back through the inverse of the alignment (`explorer.core.align`),
upsampled to the photo's resolution, and added to the photo's pixels under a feathered mask that
covers the face square and fades out before its edges. What the edit did not touch keeps the
photo's own detail; at zero edit the photo comes back unchanged.

`save_like` writes the result at the photo's own size, upright, keeping its EXIF data with the
orientation tag reset (the pixels are already turned as the photo is shown).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from explorer.core.align import Alignment

# The mask in crop coordinates: an ellipse of these radii (fractions of the crop side) around the
# crop's centre, feathered by a Gaussian of this sigma; it reaches the face, hair and chin of
# CelebA's framing and is near zero at the crop's edges, so no seam shows.
MASK_RADII = (0.42, 0.46)
MASK_CENTRE = (0.5, 0.52)
MASK_FEATHER = 0.06


def face_mask(size: int) -> np.ndarray:
    """(size, size) float32 in [0, 1]: the feathered ellipse in crop coordinates."""
    import cv2

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    cx, cy = MASK_CENTRE[0] * size, MASK_CENTRE[1] * size
    rx, ry = MASK_RADII[0] * size, MASK_RADII[1] * size
    inside = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0).astype(np.float32)
    return cv2.GaussianBlur(inside, (0, 0), sigmaX=MASK_FEATHER * size)


def paste_back(photo: np.ndarray, alignment: Alignment, recon: np.ndarray,
               edited: np.ndarray) -> np.ndarray:
    """The photo (h, w, 3) uint8 with the edit (edited − recon, both (res, res, 3) uint8 drawn by
    the same generator) warped back into it under the feathered mask; same size and dtype."""
    import cv2

    res = recon.shape[0]
    if recon.shape != edited.shape or recon.shape[:2] != (res, res):
        raise ValueError(f"reconstruction {recon.shape} and edit {edited.shape} must be the "
                         "same square size")
    h, w = photo.shape[:2]
    if tuple(alignment.photo_shape) != (h, w):
        raise ValueError(f"the alignment was made for a {alignment.photo_shape} photo, not "
                         f"{(h, w)}")
    delta = edited.astype(np.float32) - recon.astype(np.float32)
    if not np.any(delta):
        return photo.copy()
    # Upsample in crop space first (bicubic, to the crop's own side), then warp back: the
    # change arrives at the photo's resolution without blocky 64-px steps.
    side = alignment.side
    big = cv2.resize(delta, (side, side), interpolation=cv2.INTER_CUBIC)
    mask = face_mask(side)
    inv = cv2.invertAffineTransform(alignment.matrix)
    flags = cv2.INTER_LINEAR
    back = cv2.warpAffine(big * mask[..., None], inv, (w, h), flags=flags,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out = photo.astype(np.float32) + back
    return out.round().clip(0, 255).astype(np.uint8)


def face_box_of(alignment: Alignment) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) photo pixels bounding where the mask can change the photo."""
    q = alignment.face_quad(alignment.side)
    h, w = alignment.photo_shape
    x0, y0 = np.floor(q.min(0)).astype(int)
    x1, y1 = np.ceil(q.max(0)).astype(int)
    return max(0, x0), max(0, y0), min(w, x1), min(h, y1)


def save_like(image: np.ndarray, out: str | Path, original: str | Path | None = None,
              quality: int = 95) -> None:
    """Write `image` (upright RGB) to `out` (format from the suffix), atomically. With the
    `original` photo's path, its EXIF data is kept with the orientation reset to 1 (upright)."""
    from PIL import Image

    out = Path(out)
    pil = Image.fromarray(image)
    kw: dict[str, object] = {}
    fmt = Image.registered_extensions().get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"{out.name}: unknown image type {out.suffix!r}; use .jpg or .png")
    if original is not None:
        try:
            with Image.open(original) as src:
                exif = src.getexif()
            if exif:
                exif[0x0112] = 1  # Orientation: the pixels are already turned
                kw["exif"] = exif.tobytes()
        except OSError:
            pass
    if fmt == "JPEG":
        kw.update(quality=quality, subsampling=0)
    tmp = out.with_name(f".{out.name}.part")
    try:
        pil.save(tmp, format=fmt, **kw)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)


__all__ = ["face_box_of", "face_mask", "paste_back", "save_like"]
