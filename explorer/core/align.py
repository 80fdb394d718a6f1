"""Eye alignment: warp a photo so its face sits where CelebA's training faces sit, and back.

CelebA's aligned images put the eyes level at fixed places; the model (and its classifier) saw
their centre square. A photo is aligned by the similarity transform (rotation, scale, shift) that
puts its two eyes where CelebA's are; a face whose eyes are not found falls back to the face
box's framing (`photos.crop_face`'s measurement).

Finding faces and eyes. dlib's HOG face detector with its 5-point landmark predictor (dlib-bin
and face_recognition_models wheels: nothing is downloaded at run time) is used when importable,
else OpenCV's Haar face and eye cascades. Measured by `tools/measure_alignment.py` on UTKFace's
first 150 photos (face found / both eyes found / median roll error against the photo as is):

    photos as they are:       dlib 96.0% / 96.0%          OpenCV 96.0% / 90.7%
    rotated 20 degrees:       dlib 89.3% / 89.3% / 0.4 deg  OpenCV 35.3% / 32.0% / 0.9 deg
    shrunk to a ~48-px face:  dlib 97.3% / 97.3% / 0.4 deg  OpenCV 85.3% / 76.0% / 0.6 deg

Where the eyes sit in the training square differs by finder (each has its own bias), so each
finder's target is measured with that finder on CelebA training images 1-400 (medians; x of
the left-in-image eye, x of the right one, y of both, as fractions of the square's side):
dlib 0.388, 0.607, 0.522 (374 found); OpenCV 0.380, 0.608, 0.515 (263 found). CelebA's published
landmarks give about 0.39, 0.60, 0.51.

The transform is kept (`Alignment`), so an edited face can be warped back into the photo
(`explorer.core.paste_back`).

Where the crop reaches past the photo's edge, the missing part is filled with a heavily blurred
copy of the edge (replicate, then blur, then feather the seam): stripes and mirrored ghost faces
are what the other fills gave.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from explorer.core.photos import FaceBox, _cascade, _gray, warp_square

# Eye centres in CelebA's training square per finder (see the module docstring).
CELEBA_EYES = {"dlib": (0.388, 0.607, 0.522), "opencv": (0.380, 0.608, 0.515)}
DETECT_SIDE = 640  # dlib runs on a copy whose long side is at most this
DLIB_TO_HAAR = 1.12  # face-box width of the Haar cascade over dlib's (detect_landmarked)
# Framing by the face box when no eyes are found (photos.py's measurement).
CROP_SIDE = 1.70
CROP_DY = -0.14


@dataclass(frozen=True)
class Alignment:
    """How a face crop was cut from a photo.

    matrix : (2, 3) float64 affine map from photo pixels to crop pixels at `side`.
    side : the crop's side in pixels before it is resized to the model's resolution.
    photo_shape : (h, w) of the photo (after EXIF orientation).
    method : 'eyes' (two eyes found and put at CELEBA_EYES), 'box' (the face box's framing,
        eyes level when found) or 'whole' (the photo's centre square).
    eyes : ((x, y), (x, y)) in photo pixels, when found.
    finder : 'dlib' or 'opencv' (which found the eyes), '' otherwise.
    """

    matrix: np.ndarray
    side: int
    photo_shape: tuple[int, int]
    method: str
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None
    finder: str = ""

    def at(self, res: int) -> np.ndarray:
        """The (2, 3) map from photo pixels to pixels of a res x res crop."""
        m = self.matrix.copy()
        m *= res / self.side
        return m

    def scaled(self, k: float) -> Alignment:
        """The same cut from a copy of the photo resized by k (a preview of a large photo)."""
        h, w = self.photo_shape
        m = self.matrix.copy()
        m[:, :2] /= k
        eyes = None if self.eyes is None else tuple((x * k, y * k) for x, y in self.eyes)
        return Alignment(m, self.side, (round(h * k), round(w * k)), self.method,
                         eyes, self.finder)  # type: ignore[arg-type]

    def inside(self, res: int, sub: int = 4) -> np.ndarray | None:
        """(res, res) float32: the share of each pixel of the res x res crop that lies within the
        photo (the rest is fill, `photos.warp_square`), from `sub` x `sub` points a pixel; None
        where the whole crop does."""
        inv = _invert(self.at(res))
        t = (np.arange(res * sub) + 0.5) / sub - 0.5  # crop pixel centres at integers, as cv2's
        xx, yy = np.meshgrid(t, t)
        px = inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2]
        py = inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]
        h, w = self.photo_shape
        ok = (px >= -0.5) & (px <= w - 0.5) & (py >= -0.5) & (py <= h - 0.5)
        share = ok.reshape(res, sub, res, sub).mean((1, 3)).astype(np.float32)
        return None if share.min() >= 0.999 else share

    def face_quad(self, res: int, margin: float = 0.0) -> np.ndarray:
        """(4, 2) photo-pixel corners of the crop square (shrunk by `margin` of its side)."""
        inv = _invert(self.at(res))
        a, b = margin * res, (1 - margin) * res
        pts = np.array([[a, a, 1], [b, a, 1], [b, b, 1], [a, b, 1]], np.float64)
        return pts @ inv.T


def _invert(m: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.invertAffineTransform(m.astype(np.float64))


Eyes = tuple[tuple[float, float], tuple[float, float]]
_DLIB: list[object] = []
_DLIB_LOCK = threading.Lock()


def warm_up() -> None:
    """Load dlib's detector and predictor in a background thread (its detector takes ~1 s to
    build, 20 s on a machine under heavy load), so the first photo does not wait for it."""
    threading.Thread(target=_dlib, name="landmarks-warm-up", daemon=True).start()


def _dlib() -> tuple[object, object] | None:
    """(detector, 5-point predictor), or None when dlib or its model files are not installed."""
    with _DLIB_LOCK:
        return _load_dlib()


def _load_dlib() -> tuple[object, object] | None:
    if not _DLIB:
        try:
            import dlib

            from explorer.core.dlib_models import model_path

            f = model_path("shape_predictor_5_face_landmarks.dat")
            _DLIB.append((dlib.get_frontal_face_detector(), dlib.shape_predictor(str(f))))
        except (ImportError, RuntimeError, OSError):
            _DLIB.append(None)
    return _DLIB[0]  # type: ignore[return-value]


def has_landmarks() -> bool:
    """Whether the dlib landmark finder is available (else OpenCV's cascades are used)."""
    return _dlib() is not None


def detect_landmarked(img: np.ndarray) -> list[tuple[FaceBox, Eyes]]:
    """Faces with their eye centres (photo pixels), largest first, from dlib; [] without dlib.

    The box is widened to the Haar cascade's framing (dlib's HOG boxes are tighter: the cascade's
    box is 1.12 dlib boxes wide, median over 54 UTKFace photos both found), so box sizes mean the
    same whichever finder ran."""
    d = _dlib()
    if d is None:
        return []
    import cv2

    det, sp = d
    h, w = img.shape[:2]
    k = min(1.0, DETECT_SIDE / max(h, w))
    small = np.ascontiguousarray(img if k == 1.0 else cv2.resize(
        img, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA))
    # Upsample once for small photos (finds faces down to ~40 px), not for large ones (slow).
    rects = det(small, 1 if max(small.shape[:2]) <= 400 else 0)  # type: ignore[operator]
    out = []
    for r in rects:
        shape = sp(small, r)  # type: ignore[operator]
        p = np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], np.float64) / k
        e1, e2 = p[0:2].mean(0), p[2:4].mean(0)
        (xa, ya), (xb, yb) = sorted((tuple(e1), tuple(e2)))
        bw = r.width() / k * DLIB_TO_HAAR
        cx, cy = r.center().x / k, r.center().y / k
        box = FaceBox(round(cx - bw / 2), round(cy - bw / 2), round(bw), round(bw))
        out.append((box, ((float(xa), float(ya)), (float(xb), float(yb)))))
    return sorted(out, key=lambda t: -t[0].w * t[0].h)


def find_eyes(img: np.ndarray, box: FaceBox) -> tuple[tuple[float, float],
                                                     tuple[float, float]] | None:
    """The two eye centres in photo pixels (left-in-image first) found by OpenCV's eye cascade
    in the box's upper part, or None when no plausible pair is found."""
    y0, x0 = max(0, box.y), max(0, box.x)  # boxes may reach past the border
    y1, x1 = max(y0, box.y + box.h * 5 // 8), max(x0, box.x + box.w)
    region = img[y0:y1, x0:x1]
    if region.shape[0] < 8 or region.shape[1] < 8:
        return None
    gray = _gray(region)
    # Small faces: the eye cascade's 20-px window needs the face at least ~100 px wide.
    k = max(1.0, 120.0 / max(1, box.w))
    if k > 1.0:
        import cv2

        gray = cv2.resize(gray, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    eyes = _cascade("haarcascade_eye.xml").detectMultiScale(  # type: ignore[attr-defined]
        gray, scaleFactor=1.1, minNeighbors=5, minSize=(max(6, round(box.w * k) // 10),) * 2
    )
    if len(eyes) < 2:
        return None
    bw = box.w
    best = None
    cands = [((ex + ew / 2) / k + x0, (ey + eh / 2) / k + y0, ew / k) for ex, ey, ew, eh in eyes]
    for i in range(len(cands)):
        for j in range(i + 1, len(cands)):
            (xa, ya, wa), (xb, yb, wb) = sorted((cands[i], cands[j]))
            dx, dy = xb - xa, yb - ya
            # A left/right pair: 0.25-0.65 face widths apart, within 30 degrees of level,
            # of similar size, one each side of the box's centre line.
            if not (0.25 * bw <= dx <= 0.65 * bw) or abs(dy) > 0.58 * dx:
                continue
            if max(wa, wb) > 1.8 * min(wa, wb):
                continue
            mid = box.x + bw / 2
            if not (xa < mid + 0.1 * bw and xb > mid - 0.1 * bw):
                continue
            score = abs(dy) / dx + abs((xa + xb) / 2 - mid) / bw
            if best is None or score < best[0]:
                best = (score, ((xa, ya), (xb, yb)))
    return None if best is None else best[1]


def eyes_alignment(eyes: Eyes, photo_shape: tuple[int, int], res: int,
                   finder: str = "dlib") -> Alignment:
    """The similarity transform that puts `eyes` (found by `finder`) where CelebA's are, at
    least `res` px square."""
    (xa, ya), (xb, yb) = eyes
    dist = math.hypot(xb - xa, yb - ya)
    ex0, ex1, ey = CELEBA_EYES[finder]
    side = max(res, round(dist / (ex1 - ex0)))  # crop at the photo's resolution, at least res
    s = side * (ex1 - ex0) / dist
    a = math.atan2(yb - ya, xb - xa)
    c, sn = s * math.cos(-a), s * math.sin(-a)
    mx, my = (xa + xb) / 2, (ya + yb) / 2
    tx, ty = side * (ex0 + ex1) / 2, side * ey
    m = np.array([[c, -sn, tx - c * mx + sn * my], [sn, c, ty - sn * mx - c * my]], np.float64)
    return Alignment(m, side, photo_shape, "eyes", eyes, finder)


def box_alignment(img: np.ndarray, box: FaceBox | None, res: int,
                  angle: float | None = None) -> Alignment:
    """The face box's framing (rotated by `angle` radians when given), or the centre square."""
    h, w = img.shape[:2]
    if box is None:
        s = min(h, w)
        m = np.array([[1.0, 0, -(w - s) / 2], [0, 1.0, -(h - s) / 2]])
        return Alignment(m, s, (h, w), "whole")
    import cv2

    side = CROP_SIDE * box.w
    cx, cy = box.x + box.w / 2, box.y + box.h / 2 + CROP_DY * box.w
    out = max(res, round(side))
    m = cv2.getRotationMatrix2D((cx, cy), math.degrees(angle or 0.0), out / side)
    m[0, 2] += out / 2 - cx
    m[1, 2] += out / 2 - cy
    return Alignment(m.astype(np.float64), out, (h, w), "box")


def align_face(img: np.ndarray, box: FaceBox | None, res: int,
               eyes: Eyes | None = None, finder: str = "dlib") -> Alignment:
    """Eyes (given, or found by the cascade in the box), else the box's framing, else the
    centre square."""
    if box is None and eyes is None:
        return box_alignment(img, None, res)
    if eyes is None and box is not None:
        eyes, finder = find_eyes(img, box), "opencv"
    if eyes is None:
        return box_alignment(img, box, res)
    return eyes_alignment(eyes, img.shape[:2], res, finder)


def warp_face(img: np.ndarray, al: Alignment, res: int) -> np.ndarray:
    """Cut the (res, res, 3) uint8 crop `al` describes, filling what lies outside the photo."""

    from explorer.core.photos import _resize

    src = np.ascontiguousarray(img)
    out = al.side
    if al.method == "whole":
        h, w = img.shape[:2]
        top, left = (h - out) // 2, (w - out) // 2
        return _resize(np.ascontiguousarray(img[top : top + out, left : left + out]), res)
    # The crop is cut at about the photo's own scale (side >= the eye distance's), so linear
    # interpolation does not alias; `_resize` then reduces it as the trainer does.
    return _resize(warp_square(src, al.matrix, out), res)


def find_face_aligned(
    img: np.ndarray, res: int, choose: int | None = None, whole_image: bool = False
) -> tuple[np.ndarray, Alignment, FaceBox | None, list[FaceBox]]:
    """Detect, pick (`photos.pick_face`: PhotoError for none / several / tiny), align by the eyes
    and crop: (face (res, res, 3) uint8, alignment, box used, every box found)."""
    from explorer.core.photos import check_face_room, detect_faces, pick_face

    if whole_image:
        al = box_alignment(img, None, res)
        return warp_face(img, al, res), al, None, []
    check_face_room(img)  # a 30000x20 strip: one line, not an OpenCV assertion in a detector
    found: list[tuple[FaceBox, Eyes | None]] = list(detect_landmarked(img))
    finder = "dlib"
    if not found:
        found, finder = [(b, None) for b in detect_faces(img)], "opencv"
    boxes = [b for b, _ in found]
    i = pick_face(boxes, choose)
    box, eyes = found[i]
    al = align_face(img, box, res, eyes, finder)
    return warp_face(img, al, res), al, box, boxes


__all__ = ["CELEBA_EYES", "Alignment", "align_face", "box_alignment", "detect_landmarked",
           "eyes_alignment", "find_eyes", "find_face_aligned", "has_landmarks", "warp_face"]
