"""How truthful the classifier is on real photos, through the photo path (detect, align, crop).

    python tools/measure_photo_scores.py [--model FILE] [--classifier FILE.safetensors | --c]
        [--framing eyes|box] [--n N] [--celeba-tail N]

Male: UTKFace's gender label (0 = male) on every photo the path finds a face in. Young: the
classifier's Young against age < 36, on adults (18 and over). Also the CelebA held-out tail (the
last 500 images, never trained on) through the same photo path, against CelebA's labels.
By default the model file scores as the app does (`classify.attribute_probabilities`: its photo
scorer when it has one, else C, through its scorer head when it has one); `--no-head` scores with
that classifier alone, `--c` with the file's C alone, `--classifier` with retrained weights
(`tools/train_real_classifier.py`). Prints one table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from explorer.core.align import find_face_aligned
from explorer.core.bundle import load_bundle
from explorer.core.classify import attribute_probabilities, reads_features
from explorer.core.photos import PhotoError, find_face, load_photo
from facegan.models import images_to_tensor

DATA = Path("/work/shared/data")


def crops(files: list[Path], res: int, framing: str,
          cache: Path | None = None) -> tuple[np.ndarray, list[int]]:
    """The photo path's crops of `files` (and which were found), kept in `cache` (.npz)."""
    if cache is not None and cache.exists():
        d = np.load(cache)
        return d["faces"], list(d["kept"])
    out, kept = [], []
    for i, f in enumerate(files):
        try:
            img = load_photo(f)
            face = (find_face_aligned(img, res)[0] if framing == "eyes"
                    else find_face(img, res)[0])
        except PhotoError:
            continue
        out.append(face)
        kept.append(i)
    if cache is not None:
        np.savez(cache, faces=np.stack(out), kept=np.array(kept))
    return np.stack(out), kept


@torch.no_grad()
def network_probs(C: torch.nn.Module, faces: np.ndarray) -> np.ndarray:
    C.eval()
    return torch.cat([torch.sigmoid(C(images_to_tensor(faces[i:i + 256])))
                      for i in range(0, len(faces), 256)]).numpy()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--classifier", default=None)
    ap.add_argument("--c", action="store_true",
                    help="score with the file's classifier C, not its photo scorer")
    ap.add_argument("--no-head", action="store_true",
                    help="score with the scoring classifier alone, not through the scorer head")
    ap.add_argument("--framing", choices=("eyes", "box"), default="eyes")
    ap.add_argument("--n", type=int, default=499)
    ap.add_argument("--celeba-tail", type=int, default=500)
    ap.add_argument("--cache", type=Path, default=None,
                    help="folder to keep the crops in between runs (they depend only on the "
                         "photo path, not on the classifier)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    b = load_bundle(a.model)
    C = b.network("C") if a.c or a.classifier else b.scoring_network()
    who = ("the file's C" if a.c else "the file's photo scorer" if b.has_scorer
           else "the file's C (no photo scorer)")
    if a.classifier:
        from safetensors.torch import load_file

        C.load_state_dict(load_file(a.classifier))
    if not (a.c or a.classifier or a.no_head) and reads_features(b):
        who += " through its scorer head"

        def probs(_: torch.nn.Module, faces: np.ndarray) -> np.ndarray:  # as the app scores
            return attribute_probabilities(b, faces)
    else:
        probs = network_probs
    names = b.attribute_names
    files = sorted((DATA / "utkface-500").glob("*.jpg"))[: a.n]
    def cache(name: str) -> Path | None:
        if a.cache is None:
            return None
        a.cache.mkdir(parents=True, exist_ok=True)
        return a.cache / f"{name}-{a.framing}-{a.n if name == 'utk' else a.celeba_tail}.npz"

    faces, kept = crops(files, b.resolution, a.framing, cache("utk"))
    p = probs(C, faces)
    meta = [files[i].name.split("_") for i in kept]
    age = np.array([int(m[0]) for m in meta])
    male = np.array([m[1] == "0" for m in meta])
    acc_male = float(((p[:, names.index("Male")] > 0.5) == male).mean())
    adult = age >= 18
    young = p[adult, names.index("Young")] > 0.5
    acc_young = float((young == (age[adult] < 36)).mean())
    print(f"framing {a.framing}, classifier {a.classifier or who}")
    male_adult = float(((p[adult, names.index("Male")] > 0.5) == male[adult]).mean())
    print(f"UTKFace: faces found {len(kept)}/{len(files)}; Male right {acc_male:.1%} "
          f"(adults {male_adult:.1%}, under 18 "
          f"{((p[~adult, names.index('Male')] > 0.5) == male[~adult]).mean():.1%}); "
          f"Young vs age<36 on {adult.sum()} adults {acc_young:.1%}")
    if a.celeba_tail:
        from trainer.data import _read_celeba

        cfiles, labels, cnames = _read_celeba(DATA / "celeba-9k")
        tail = cfiles[-a.celeba_tail:]
        cf, ck = crops(tail, b.resolution, a.framing, cache("celeba"))
        cp = probs(C, cf) > 0.5
        lab = labels[-a.celeba_tail:][ck] > 0
        acc = (cp == lab).mean(0)
        sel = ["Male", "Young", "Smiling", "Eyeglasses", "No_Beard", "Wearing_Lipstick"]
        print(f"CelebA held-out tail through the photo path: {len(ck)}/{len(tail)} found; "
              + ", ".join(f"{n} {acc[cnames.index(n)]:.1%}" for n in sel)
              + f"; mean of 40 {acc.mean():.1%}")


if __name__ == "__main__":
    main()
