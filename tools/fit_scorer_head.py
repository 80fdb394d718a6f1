"""Fit a model file's scorer head and write it into a COPY of the file.

    python tools/fit_scorer_head.py checkpoints/celeba64.safetensors \\
        --data ../shared/data/celeba-9k --cache /work/artifacts/scorer-head \\
        --out /tmp/celeba64.safetensors [--also OTHER.safetensors /tmp/OTHER.safetensors]

The head (`facegan.checkpoint.SCORER_HEAD`) is the photo scorer's last step: per attribute, a
logistic regression over the scoring classifier's 40 logits and the 128 face-recognition
features of the same face (`explorer.core.face_embedding`). Faces go through the photo path, as
a user's photo does (load, find the eyes, align, crop at the model's resolution). CelebA's
training images fit it (all but the last 1,000 of the folder: images 1-8000 of celeba-9k); the
500 after them choose, per attribute, between the head's row and the classifier alone (lower
log loss wins; a row that loses becomes the identity on the attribute's own logit); the last
500 are never read. Each regression is fitted on standardised inputs (the logits span about
+-10, the features about +-0.2, so one L2 weight on the raw inputs penalises the features ~50x
more) for every L2 weight in --c, and the same choosing images pick, per attribute, the weight
with the lowest log loss; the standardisation is folded back into the row. Crops and features
(~11 minutes on two cores) are kept in --cache.
Every other tensor and metadata entry is copied as it is (`copy_model_file`).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from explorer.core.align import find_face_aligned
from explorer.core.bundle import load_bundle
from explorer.core.face_embedding import available, embed_faces
from explorer.core.photos import PhotoError, load_photo
from facegan.checkpoint import SCORER_HEAD, ModelFileError, copy_model_file
from facegan.models import map_images
from trainer.data import _read_celeba

HELD_OUT = 500  # the folder's last images: never read
CHOOSE = 500  # the ones before them: choose per attribute between the head and the classifier


def faces_and_features(files: list[Path], res: int, cache: Path | None
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(faces, kept indices, features) of `files` through the photo path, kept in `cache`."""
    f = None if cache is None else cache / f"celeba-{len(files)}-{res}px.npz"
    if f is not None and f.exists():
        d = np.load(f)
        return d["faces"], d["kept"], d["emb"]
    faces, kept = [], []
    t = time.time()
    for i, p in enumerate(files):
        try:
            faces.append(find_face_aligned(load_photo(p), res)[0])
            kept.append(i)
        except PhotoError:
            continue
    print(f"photo path: {len(kept)} of {len(files)} faces found ({time.time() - t:.0f} s)")
    out = np.stack(faces)
    emb = np.concatenate([embed_faces(out[i:i + 500]) for i in range(0, len(out), 500)])
    print(f"recognition features: {time.time() - t:.0f} s")
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        np.savez(f, faces=out, kept=np.array(kept), emb=emb)
    return out, np.array(kept), emb


def log_loss(logit: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0, -np.where(y, logit, -logit))))


C_GRID = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)


def fit_row(X: np.ndarray, y: np.ndarray, fit: np.ndarray, choose: np.ndarray, own: int,
            grid: tuple[float, ...] = C_GRID) -> tuple[np.ndarray, float | None]:
    """One attribute's head row over X's columns plus a bias, and the inverse L2 weight that won
    on the choosing rows: a logistic regression on standardised X (one per weight in `grid`),
    or (None) the attribute's own logit (column `own`) alone, whichever has the lowest log loss
    there."""
    mu, sd = X[fit].mean(0), X[fit].std(0) + 1e-8
    best = np.zeros(X.shape[1] + 1)
    best[own] = 1.0
    best_loss, won = log_loss(X[choose, own], y[choose]), None
    for c in grid:
        m = LogisticRegression(C=c, max_iter=2000).fit((X[fit] - mu) / sd, y[fit])
        w = m.coef_[0] / sd
        row = np.append(w, m.intercept_[0] - float(w @ mu))
        loss = log_loss(X[choose] @ row[:-1] + row[-1], y[choose])
        if loss < best_loss:
            best, best_loss, won = row, loss, c
    return best, won


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", type=Path, required=True, help="a CelebA folder (celeba-9k)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--also", nargs=2, type=Path, action="append", default=[],
                    metavar=("MODEL", "OUT"), help="give the same head to another file whose "
                    "scoring classifier reads the faces identically")
    ap.add_argument("--c", type=float, nargs="+", default=list(C_GRID),
                    help="inverse L2 weights to choose from, per attribute (standardised inputs)")
    a = ap.parse_args()
    if not available():
        raise SystemExit("dlib's face-recognition network is not installed (dlib-bin and "
                         "face_recognition_models)")
    b = load_bundle(a.model)
    if not b.can_score:
        raise SystemExit(f"{b.name}: the model has no classifier to put a head on")
    files, labels, names = _read_celeba(a.data)
    if names != b.attribute_names:
        raise SystemExit(f"{a.data}: its attributes are not the model's")
    n_used = len(files) - HELD_OUT
    faces, kept, emb = faces_and_features(files[:n_used], b.resolution, a.cache)
    with torch.inference_mode():
        logits = map_images(b.scoring_network(), faces).numpy()
    X = np.hstack([logits, emb]).astype(np.float64)
    Y = labels[kept] > 0
    fit, choose = kept < n_used - CHOOSE, kept >= n_used - CHOOSE
    n = len(names)
    head = np.zeros((n, X.shape[1] + 1), np.float32)
    rows = []
    for i, name in enumerate(names):
        row, c = fit_row(X, Y[:, i], fit, choose, i, tuple(a.c))
        head[i] = row
        shown, alone = X[choose] @ row[:-1] + row[-1], X[choose, i]
        acc = [float(((s > 0) == Y[choose, i]).mean()) for s in (alone, shown)]
        rows.append((name, c is not None, *acc))
        print(f"{name:20s} classifier {acc[0]:.1%}  shown {acc[1]:.1%}  "
              f"{'classifier alone' if c is None else f'head, C={c:g}'}", flush=True)
    kept_rows = [r for r in rows if r[1]]
    shown = np.mean([r[3] for r in rows])
    print(f"{len(kept_rows)} of {n} attributes read the features; choosing-set accuracy, mean of "
          f"{n}: classifier {np.mean([r[2] for r in rows]):.1%}, shown {shown:.1%}")

    def install(tensors: dict[str, torch.Tensor], doc: dict) -> None:
        tensors[SCORER_HEAD] = torch.from_numpy(head).contiguous()
        doc["scorer_head"] = {
            "what": "logistic regression per attribute over the scoring classifier's logits "
                    "and dlib_face_recognition_resnet_model_v1's 128 features (standardised; "
                    "L2 weight chosen per attribute)",
            "fitted_on": f"{a.data.name} images 1-{n_used - CHOOSE} through the photo path "
                         f"({int(fit.sum())} faces found); chosen per attribute on "
                         f"{n_used - CHOOSE + 1}-{n_used} ({int(choose.sum())} found)",
            "reads_features": [r[0] for r in kept_rows],
            "command": " ".join(["fit_scorer_head.py", *sys.argv[1:]]),
        }

    for src, dst in [(a.model, a.out), *a.also]:
        if src != a.model:
            with torch.inference_mode():
                other = map_images(load_bundle(src).scoring_network(), faces[:256]).numpy()
            if not np.allclose(other, logits[:256], atol=1e-4):
                raise SystemExit(f"{src}: its scoring classifier is not {a.model.name}'s; fit "
                                 f"its own head")
        try:
            copy_model_file(src, dst, install)
        except ModelFileError as e:
            raise SystemExit(str(e)) from None
        print(f"{src.name} with its scorer head -> {dst}")


if __name__ == "__main__":
    main()
