"""Pivotal tuning measured on real photos: likeness and whether edits still act.

    python tools/measure_pti.py [--n 8] [--steps 350] [--alpha 3] [--classifier FILE]

For the first N UTKFace photos (offset --start): encode (latent only), then three ways of drawing
the photo: the latent alone, the latent + the photo's detail (the fast mode), the latent with
pivotal-tuned weights. For each: reconstruction PSNR against the aligned crop; then Smiling,
Eyeglasses and Young edits at --alpha standard steps toward the side the face is not on, judged by
the bundled classifier (or --classifier): the share of faces whose target decision flips, and the
share of the other attributes' decisions (of the 40) that change.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from explorer.core.bundle import images_to_tensor, load_bundle, tensor_to_images
from explorer.core.directions import default_method, get_directions
from explorer.core.edits import apply_edits
from explorer.core.encoding import encode_photo, psnr
from explorer.core.pivotal import tune_generator, tuned_forward

TARGETS = ("Smiling", "Eyeglasses", "Young")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=8)
    ap.add_argument("--start", type=int, default=100)
    ap.add_argument("--steps", type=int, default=350)
    ap.add_argument("--alpha", type=float, default=3.0)
    ap.add_argument("--budget", type=float, default=1.0)
    ap.add_argument("--classifier", default=None)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    b = load_bundle()
    G, C = b.network("G"), b.network("C")
    judge = C
    if a.classifier:
        import copy

        from safetensors.torch import load_file

        judge = copy.deepcopy(C)
        judge.load_state_dict(load_file(a.classifier))
    d = get_directions(b, default_method(b))
    names = b.attribute_names
    files = sorted(Path("/work/shared/data/utkface-500").glob("*.jpg"))[a.start:a.start + a.n]
    modes = ("latent", "detail", "pti")
    rec = {m: [] for m in modes}
    flips = {m: {t: [] for t in TARGETS} for m in modes}
    coll = {m: [] for m in modes}
    secs = []
    y = b.default_y(1)
    yt = None if y is None else torch.from_numpy(y)

    def draw(z: np.ndarray, mode: str, detail, tw) -> np.ndarray:
        with torch.no_grad():
            zt = torch.from_numpy(z.reshape(1, -1))
            dt = torch.from_numpy(detail[None]) if mode == "detail" else None
            return tensor_to_images(tuned_forward(G, tw if mode == "pti" else None, zt, yt, dt))[0]

    def judge_p(img: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            judge.eval()
            return torch.sigmoid(judge(images_to_tensor(img[None])))[0].numpy()

    for f in files:
        r = encode_photo(b, f, budget_s=a.budget)  # with the detail (the fast mode)
        target = images_to_tensor(r.face[None])
        t0 = time.perf_counter()
        tw = tune_generator(G, torch.from_numpy(r.z[None]), target, yt, steps=a.steps,
                            features=C.features)
        secs.append(time.perf_counter() - t0)
        for m in modes:
            base = draw(r.z, m, r.detail, tw)
            rec[m].append(psnr(base, r.face))
            p0 = judge_p(base) > 0.5
            for t in TARGETS:
                i = names.index(t)
                sign = -1.0 if p0[i] else 1.0
                z2 = apply_edits(r.z, d, {t: sign * a.alpha})
                p1 = judge_p(draw(z2, m, r.detail, tw)) > 0.5
                flips[m][t].append(p1[i] != p0[i])
                others = np.ones(len(names), bool)
                others[i] = False
                coll[m].append(float((p1[others] != p0[others]).mean()))
        print(f"{f.name[:14]}: " + "; ".join(
            f"{m} {rec[m][-1]:.1f} dB, flips " + "".join(
                "1" if flips[m][t][-1] else "0" for t in TARGETS) for m in modes)
              + f"; tuning {secs[-1]:.1f} s", flush=True)
    print(f"\n{len(files)} UTKFace photos, edits at alpha {a.alpha}, PTI {a.steps} steps "
          f"(median {np.median(secs):.1f} s, 1 thread, shared machine)")
    print(f"{'mode':8s} {'PSNR dB':>8s} " + " ".join(f"{t + ' flip':>16s}" for t in TARGETS)
          + f" {'collateral':>11s}")
    for m in modes:
        print(f"{m:8s} {np.mean(rec[m]):8.1f} " + " ".join(
            f"{np.mean(flips[m][t]):16.0%}" for t in TARGETS) + f" {np.mean(coll[m]):11.1%}")


if __name__ == "__main__":
    main()
