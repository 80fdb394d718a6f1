"""Measure face alignment: where CelebA's training faces have their eyes, and how often / how well
the eye finder works on real photos (UTKFace), tilted (rotated copies) and small (shrunk copies).

    python tools/measure_alignment.py [--celeba N] [--utk N]

Prints the medians of CELEBA_EYES (for explorer/core/align.py) and a table of eye-finding rates
and roll errors.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
from PIL import Image

from explorer.core.align import find_eyes
from explorer.core.photos import detect_faces

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
if not DATA.exists():
    DATA = Path("/work/shared/data")


def celeba_eyes(n: int) -> None:
    pts = []
    for i in range(1, n + 1):
        img = np.asarray(Image.open(DATA / "celeba-9k/img_align_celeba" / f"{i:06d}.jpg")
                         .convert("RGB"))
        boxes = detect_faces(img)
        if not boxes:
            continue
        eyes = find_eyes(img, boxes[0])
        if eyes is None:
            continue
        (xa, ya), (xb, yb) = eyes
        side, top = img.shape[1], (img.shape[0] - img.shape[1]) // 2  # the training square
        pts.append((xa / side, xb / side, ((ya + yb) / 2 - top) / side))
    a = np.array(pts)
    med = np.median(a, 0)
    print(f"CelebA training images 1-{n}: eyes found on {len(a)}; median eye x {med[0]:.3f}, "
          f"{med[1]:.3f}, y {med[2]:.3f} (IQR {np.subtract(*np.percentile(a, [75, 25], 0))})")


def rotate(img: np.ndarray, deg: float, scale: float = 1.0, canvas: int | None = None):
    import cv2

    h, w = img.shape[:2]
    c = canvas or max(h, w)
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, scale)
    m[0, 2] += c / 2 - w / 2
    m[1, 2] += c / 2 - h / 2
    bg = tuple(int(v) for v in img.reshape(-1, 3).mean(0))
    return cv2.warpAffine(img, m, (c, c), flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=bg)


def utk(n: int) -> None:
    files = sorted((DATA / "utkface-500").glob("*.jpg"))[:n]
    rows = {k: [0, 0, []] for k in ("as is", "tilted 20", "small (48 px face)")}
    for f in files:
        img = np.asarray(Image.open(f).convert("RGB"))
        base = None
        for name, im, deg in (("as is", img, 0.0),
                              ("tilted 20", rotate(img, 20.0, 1.0, 300), 20.0),
                              ("small (48 px face)", rotate(img, 0.0, 0.4, 400), 0.0)):
            boxes = detect_faces(im)
            rows[name][0] += bool(boxes)
            if not boxes:
                continue
            eyes = find_eyes(im, boxes[0])
            if eyes is None:
                continue
            rows[name][1] += 1
            (xa, ya), (xb, yb) = eyes
            roll = math.degrees(math.atan2(yb - ya, xb - xa))
            if name == "as is":
                base = roll
            elif base is not None:
                rows[name][2].append(abs(roll - (base - deg)))
    print(f"UTKFace first {len(files)} photos:")
    print(f"{'case':22s} {'face found':>10s} {'eyes found':>10s} {'roll error (median deg)':>24s}")
    for k, (faces, eyes, err) in rows.items():
        e = f"{np.median(err):.1f}" if err else "-"
        print(f"{k:22s} {faces / len(files):10.1%} {eyes / len(files):10.1%} {e:>24s}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--celeba", type=int, default=400)
    ap.add_argument("--utk", type=int, default=499)
    a = ap.parse_args()
    if a.celeba:
        celeba_eyes(a.celeba)
    if a.utk:
        utk(a.utk)


def dlib_eyes_fn():
    """dlib's HOG detector + 5-point predictor (when dlib-bin and face_recognition_models are
    importable), as a (img) -> eyes-or-None function, for comparison."""
    import importlib.util

    import dlib

    spec = importlib.util.find_spec("face_recognition_models")  # its __init__ needs setuptools
    assert spec is not None and spec.submodule_search_locations
    models = Path(next(iter(spec.submodule_search_locations))) / "models"
    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))

    def fn(img: np.ndarray):
        rects = det(img, 1)
        if not rects:
            return None, False
        r = max(rects, key=lambda r: r.area())
        s = sp(img, r)
        p = np.array([[s.part(i).x, s.part(i).y] for i in range(5)], float)
        e1, e2 = p[0:2].mean(0), p[2:4].mean(0)
        return tuple(sorted((tuple(e1), tuple(e2)))), True

    return fn
