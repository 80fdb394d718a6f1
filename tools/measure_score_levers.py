"""Cheap levers for truthful scores, measured through the photo path (detect, align, crop).

    python tools/measure_score_levers.py [--classifier FILE.safetensors ...] [--cache DIR]

For UTKFace (the test set: Male against the file name's gender, Young against age < 36 on
adults) and CelebA's last 1,000 images (8001-8500 choose thresholds, 8501-9000 test), each
photo is cut as the app cuts it and six more times under a small alignment error (scale ±5%,
shift ±3% across and down). Every classifier (the model file's, and each --classifier) is
scored four ways: the crop alone; averaged with its mirror image; with the mirror images of the
crop and the two rescaled cuts; with the mirror images of all seven. Each way is read at 0.5
and at per-attribute thresholds chosen on CelebA 8001-8500 (never on UTKFace). Last, as a
diagnosis only, the accuracy by age band and the best a threshold chosen on UTKFace itself
could give (the ceiling of any threshold or calibration).
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import numpy as np
import torch

from explorer.core.align import Alignment, find_face_aligned, warp_face
from explorer.core.bundle import load_bundle
from explorer.core.photos import PhotoError, load_photo
from facegan.models import images_to_tensor

DATA = Path("/work/shared/data")
JITTER = [(1.0, 0, 0), (0.95, 0, 0), (1.05, 0, 0), (1.0, 0.03, 0), (1.0, -0.03, 0),
          (1.0, 0, 0.03), (1.0, 0, -0.03)]  # (scale, shift across, shift down) of the crop


def jittered(al: Alignment, k: float, dx: float, dy: float) -> Alignment:
    """The same cut scaled by k about the crop's centre and shifted by (dx, dy) of its side."""
    s, c = al.side, al.side / 2
    t = np.array([[k, 0, c - k * c + dx * s], [0, k, c - k * c + dy * s], [0, 0, 1.0]])
    m = t @ np.vstack([al.matrix, [0, 0, 1]])
    return Alignment(m[:2], al.side, al.photo_shape, al.method, al.eyes, al.finder)


def crops(files: list[Path], cache: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """(n, 7, 64, 64, 3) crops of the photos a face was found in, and their indices."""
    if cache is not None and cache.exists():
        d = np.load(cache)
        return d["faces"], d["kept"]
    out, kept = [], []
    for i, f in enumerate(files):
        try:
            img = load_photo(f)
            face, al, _, _ = find_face_aligned(img, 64)
        except PhotoError:
            continue
        out.append(np.stack([face] + [warp_face(img, jittered(al, *j), 64)
                                      for j in JITTER[1:]]))
        kept.append(i)
    faces, idx = np.stack(out), np.array(kept)
    if cache is not None:
        np.savez(cache, faces=faces, kept=idx)
    return faces, idx


@torch.no_grad()
def logits(C: torch.nn.Module, faces: np.ndarray) -> np.ndarray:
    """(n, 7, 2, n_attr): each cut, as it is and mirrored."""
    n, k = faces.shape[:2]
    f = faces.reshape(n * k, *faces.shape[2:])
    out = []
    for i in range(0, len(f), 512):
        x = images_to_tensor(f[i : i + 512])
        out.append(torch.stack([C(x), C(x.flip(-1))], 1))
    return torch.cat(out).reshape(n, k, 2, -1).numpy()


WAYS = {"crop": lambda L: L[:, 0, 0], "+ mirror": lambda L: L[:, 0].mean(1),
        "+ rescaled": lambda L: L[:, :3].mean((1, 2)), "+ all 7 cuts": lambda L: L.mean((1, 2))}


def thresholds(lc: np.ndarray, lab: np.ndarray) -> np.ndarray:
    """Per attribute, the logit threshold with the best accuracy (0 unless it beats 0)."""
    t = np.zeros(lc.shape[1])
    for j in range(lc.shape[1]):
        cand = np.quantile(lc[:, j], np.linspace(0.01, 0.99, 99))
        acc = [((lc[:, j] > c) == lab[:, j]).mean() for c in cand]
        if max(acc) > ((lc[:, j] > 0) == lab[:, j]).mean():
            t[j] = cand[int(np.argmax(acc))]
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--classifier", action="append", default=[])
    ap.add_argument("--cache", type=Path, default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    from trainer.data import _read_celeba

    b = load_bundle()
    names = b.attribute_names
    im, iy = names.index("Male"), names.index("Young")
    if a.cache is not None:
        a.cache.mkdir(parents=True, exist_ok=True)
    ufiles = sorted((DATA / "utkface-500").glob("*.jpg"))
    uf, uk = crops(ufiles, a.cache and a.cache / "utk-jitter.npz")
    cfiles, labels, _ = _read_celeba(DATA / "celeba-9k")
    cf, ck = crops(cfiles[-1000:], a.cache and a.cache / "celeba-tail1000-jitter.npz")
    lab = labels[-1000:][ck] > 0
    cal, test = ck < 500, ck >= 500
    meta = [ufiles[i].name.split("_") for i in uk]
    age = np.array([int(m[0]) for m in meta])
    male = np.array([m[1] == "0" for m in meta])
    adult = age >= 18
    C0 = b.network("C").eval()
    nets = [("model file's C", C0)]
    for p in a.classifier:
        from safetensors.torch import load_file

        c = copy.deepcopy(C0)
        c.load_state_dict(load_file(p))
        nets.append((Path(p).name, c.eval()))
    print(f"UTKFace: {len(uk)} faces found, {adult.sum()} adults; CelebA 8001-8500: "
          f"{cal.sum()} found, 8501-9000: {test.sum()}")
    print("| classifier | scored on | threshold | UTK Male | UTK Young (adults) | "
          "CelebA Male | CelebA Young | CelebA mean of 40 |\n|---|---|---|---|---|---|---|---|")
    for cname, C in nets:
        lu_all, lc_all = logits(C, uf), logits(C, cf)
        for way, f in WAYS.items():
            lu, lc = f(lu_all), f(lc_all)
            for tname, t in (("0.5", np.zeros(len(names))),
                             ("CelebA 8001-8500", thresholds(lc[cal], lab[cal]))):
                pu, pc = lu > t, lc > t
                acc = (pc[test] == lab[test]).mean(0)
                print(f"| {cname} | {way} | {tname} | {(pu[:, im] == male).mean():.1%} | "
                      f"{(pu[adult, iy] == (age[adult] < 36)).mean():.1%} | {acc[im]:.1%} | "
                      f"{acc[iy]:.1%} | {acc.mean():.1%} |")
        lu = WAYS["crop"](lu_all)  # diagnosis: where the errors are, and the thresholds' ceiling
        pm = lu[:, im] > 0
        for lo, hi in ((0, 3), (3, 18), (18, 36), (36, 60), (60, 120)):
            s = (age >= lo) & (age < hi)
            print(f"  {cname}, age {lo}-{hi - 1} ({s.sum()}): Male right "
                  f"{(pm[s] == male[s]).mean():.1%}, said Young {(lu[s, iy] > 0).mean():.0%}")
        qs = np.linspace(0.01, 0.99, 99)
        bm = max(((lu[:, im] > c) == male).mean() for c in np.quantile(lu[:, im], qs))
        ly, yy = lu[adult, iy], age[adult] < 36
        by = max(((ly > c) == yy).mean() for c in np.quantile(ly, qs))
        print(f"  {cname}: the best threshold chosen on UTKFace itself (diagnosis, not a "
              f"result): Male {bm:.1%}, Young {by:.1%}")


if __name__ == "__main__":
    main()
