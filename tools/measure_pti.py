"""Pivotal tuning measured on held-out real photos: likeness, time, and whether edits act.

    python tools/measure_pti.py [--photos c8525,c8575,u20,...] [--steps 150] [--alpha 3]
        [--judge runs/style64-6429.safetensors] [--model FILE]

Photos: `cNNNN` is CelebA image NNNN (use the held-out tail, 8501-9000), `uNNN` the NNN-th
UTKFace photo (sorted by name). Each goes through the photo path (detect, align by the eyes,
crop, invert: `encode_photo`, latent only, 30 refinement steps) and is then drawn two ways:
the latent alone with G, and the latent with pivotal-tuned weights. For each way: the
reconstruction PSNR against the aligned crop; then Smiling, Eyeglasses and Young edits at
--alpha standard steps toward the side the judge says the face is not on: whether the judge's
decision flips, and the share of the other 39 decisions that change (collateral). The judge is
--judge's independent judge J (another model file's; the bundled DCGAN has none), with the
bundled classifier C beside it. Also the share of G's own pixel change that each edit makes
with the tuned weights (1 = the edit acts as strongly as without tuning), and the seconds the
tuning took. --model measures another model file than the bundled one; on a conditional model
the conditioned attributes are edited as the app's sliders edit them, through y (the photo at the
condition the scorer sees in it, moved by the slider's --alpha and clipped to the y range,
`edits.condition_vector`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from explorer.core.bundle import load_bundle
from explorer.core.directions import default_method, get_directions
from explorer.core.edits import apply_edits, condition_vector, corrected_latents
from explorer.core.encoding import encode_photo
from explorer.core.fit_target import own_psnr
from explorer.core.photo_edit import tune_photo
from facegan.checkpoint import load_model
from facegan.models import images_to_tensor

TARGETS = ("Smiling", "Eyeglasses", "Young")
DATA = Path("/work/shared/data")
HELD_OUT = ("c8525,c8575,c8625,c8675,c8725,c8775,c8825,c8875,c8925,c8975,"
            "u20,u120,u220,u320,u420")


def photo_path(p: str) -> Path:
    if p[0] == "c":
        return DATA / "celeba-9k" / "img_align_celeba" / f"{int(p[1:]):06d}.jpg"
    return sorted((DATA / "utkface-500").glob("*.jpg"))[int(p[1:])]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photos", default=HELD_OUT)
    ap.add_argument("--steps", type=int, default=None, help="default: pivotal.STEPS")
    ap.add_argument("--alpha", type=float, default=3.0)
    ap.add_argument("--judge", default="runs/style64-6429.safetensors")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", default=None, help="default: the bundled model")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    b = load_bundle(a.model) if a.model else load_bundle()
    cond = list(b.cond_attributes)

    def edited(z: np.ndarray, t: str, alpha: float, y0: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray | None]:
        """The latent and condition a slider at `alpha` for attribute t gives, from the photo's
        own condition y0 (what the scorer saw in it, as the app draws it)."""
        if t in cond:
            y2 = condition_vector(cond, {t: alpha}, base=y0[0], reach=b.y_reach,
                                  exclusive=b.cond_exclusive)[None]
            return corrected_latents(z, y2, y0, b.cond_correction), y2
        return apply_edits(z, d, {t: alpha}), y0

    C = b.network("C").eval()
    judges = {"C": C}
    if Path(a.judge).exists():
        judges = {"J": load_model(a.judge).network("J").eval(), "C": C}
    d = get_directions(b, default_method(b))
    names = b.attribute_names

    @torch.no_grad()
    def decide(net: torch.nn.Module, img: np.ndarray) -> np.ndarray:
        return (torch.sigmoid(net(images_to_tensor(img[None])))[0] > 0.5).numpy()

    rows = []
    for p in a.photos.split(","):
        r = encode_photo(b, photo_path(p), budget_s=120, max_steps=30, detail=False)
        t0 = time.perf_counter()
        tw = tune_photo(b, r, **({} if a.steps is None else {"steps": a.steps}))
        row: dict[str, float] = {"sec": time.perf_counter() - t0}
        for mode, w in (("latent", None), ("pti", tw)):
            y0 = b.check_y(r.y, 1)
            base = b.generate(r.z, y0, psi=1.0, tuned=w)[0]
            row[f"{mode} dB"] = own_psnr(base, r.face, r.inside)  # the photo's own pixels
            for jn, net in judges.items():
                p0, coll = decide(net, base), []
                for t in TARGETS:
                    i = names.index(t)
                    z2, y2 = edited(r.z, t, (-1.0 if p0[i] else 1.0) * a.alpha, y0)
                    img = b.generate(z2, y2, psi=1.0, tuned=w)[0]
                    p1 = decide(net, img)
                    row[f"{mode} {jn} {t}"] = float(p1[i] != p0[i])
                    others = np.arange(len(names)) != i
                    coll.append(float((p1[others] != p0[others]).mean()))
                    if mode == "pti" and jn == next(iter(judges)):
                        dg = (b.generate(z2, y2, psi=1.0)[0].astype(np.float32)
                              - b.generate(r.z, y0, psi=1.0)[0]).ravel()
                        dt = (img.astype(np.float32) - base).ravel()
                        row[f"strength {t}"] = float(dt @ dg / max(float(dg @ dg), 1e-6))
                row[f"{mode} {jn} collateral"] = float(np.mean(coll))
        rows.append(row)
        print(f"{p}: latent {row['latent dB']:.1f} dB, tuned {row['pti dB']:.1f} dB in "
              f"{row['sec']:.0f} s; strength " + " ".join(
                  f"{row[f'strength {t}']:.2f}" for t in TARGETS), flush=True)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    print(f"\n{len(rows)} photos, edits at alpha {a.alpha}; tuning median "
          f"{np.median([r['sec'] for r in rows]):.0f} s ({a.threads} thread); tuned PSNR "
          f"{mean['pti dB']:.1f} dB (min {min(r['pti dB'] for r in rows):.1f}, >= 30 dB on "
          f"{sum(r['pti dB'] >= 30 for r in rows)}); latent alone {mean['latent dB']:.1f} dB")
    print("| drawn with | judge | " + " | ".join(f"{t} flipped" for t in TARGETS)
          + " | collateral (39 others) |\n|---|---|---|---|---|---|")
    for mode, label in (("latent", "G (latent alone)"), ("pti", "pivotal-tuned G")):
        for jn in judges:
            print(f"| {label} | {jn} | " + " | ".join(
                f"{mean[f'{mode} {jn} {t}']:.0%}" for t in TARGETS)
                + f" | {mean[f'{mode} {jn} collateral']:.1%} |")
    print("edit strength under tuning (share of G's own pixel change): " + ", ".join(
        f"{t} {mean[f'strength {t}']:.2f}" for t in TARGETS))


if __name__ == "__main__":
    main()
