"""Figures of real photos edited end to end: docs/screenshots/photo_edits.png.

    python tools/photo_figures.py [--steps 150] [--set Smiling=flip] [--out docs/screenshots]

`--set NAME=flip` moves the slider to its end toward the side the photo is not on (the scorer's
call), so a smiling photo stops smiling and a straight face smiles; `NAME=3` always goes up.

For four UTKFace photos: the photo, its eye-aligned crop, the reconstruction with pivotal
tuning, the edited crop, and the edited photo pasted back at the photo's own size. Each row's
caption gives the reconstruction PSNR over the photo's own pixels of the crop (a tight photo ends
inside the framing; G draws the rest: `explorer.core.fit_target`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from explorer.core.bundle import load_bundle
from explorer.core.classify import attribute_probabilities
from explorer.core.directions import default_method, get_directions
from explorer.core.edits import SLIDER_END, apply_edits, condition_vector, corrected_latents
from explorer.core.encoding import encode_photo
from explorer.core.paste_back import save_like
from explorer.core.photo_edit import paste_edit, tune_photo
from explorer.core.photos import load_photo

PHOTOS = ("29_1_1_20170113013111447.jpg.chip.jpg", "68_0_3_20170117172636569.jpg.chip.jpg",
          "32_1_0_20170117134818053.jpg.chip.jpg", "51_0_0_20170111171747325.jpg.chip.jpg")
SIDE = 200


def tile(img: np.ndarray, caption: str) -> Image.Image:
    im = Image.fromarray(img).resize((SIDE, round(SIDE * img.shape[0] / img.shape[1])),
                                     Image.Resampling.LANCZOS)
    out = Image.new("RGB", (SIDE, SIDE + 18), "white")
    out.paste(im, (0, 18))
    ImageDraw.Draw(out).text((4, 3), caption, fill="black")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--set", default="Smiling=flip")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/utkface-500"))
    ap.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    a = ap.parse_args()
    torch.set_num_threads(1)
    b = load_bundle()
    d = get_directions(b, default_method(b))
    name, value = a.set.split("=")
    rows = []
    for f in PHOTOS:
        path = a.data / f
        if not path.exists():
            path = sorted(a.data.glob("*.jpg"))[len(rows) * 50]
        img = load_photo(path)
        r = encode_photo(b, img, budget_s=1.0, detail=False)
        tw = tune_photo(b, r, steps=a.steps)
        alpha = float(value) if value != "flip" else (
            -SLIDER_END if attribute_probabilities(b, r.face[None])[0, b.attribute_names.index(
                name)] > 0.5 else SLIDER_END)
        # As the app's slider moves it: through y on a conditional model's attributes
        if name in b.cond_attributes:
            y2 = condition_vector(b.cond_attributes, {name: alpha}, r.y, b.y_reach,
                                      b.cond_exclusive)
            z2 = corrected_latents(r.z, y2, r.y, b.cond_correction)
        else:
            z2, y2 = apply_edits(r.z, d, {name: alpha}), r.y
        recon = b.generate(r.z, r.y, tuned=tw)[0]
        edited = b.generate(z2, y2, tuned=tw)[0]
        pasted = paste_edit(b, img, r.alignment, r.z, z2, y2, None, tw, r.y)
        save_like(pasted, a.out / f"photo_edit_{len(rows)}_pasted.jpg", original=path)
        cells = [tile(img, "photo"), tile(r.face, "aligned crop (64 px)"),
                 tile(recon, f"PTI reconstruction {tw.psnr_after:.1f} dB"),
                 tile(edited, f"edited crop ({name} {alpha:+g})"),
                 tile(pasted, "edit pasted back")]
        row = Image.new("RGB", (SIDE * len(cells), SIDE + 18), "white")
        for i, c in enumerate(cells):
            row.paste(c, (i * SIDE, 0))
        rows.append(row)
        print(f"{path.name}: inversion {r.psnr:.1f} dB, PTI {tw.psnr_after:.1f} dB in "
              f"{tw.seconds:.0f} s", flush=True)
    sheet = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
    for i, r in enumerate(rows):
        sheet.paste(r, (0, i * r.height))
    sheet.save(a.out / "photo_edits.png")
    print(f"-> {a.out / 'photo_edits.png'}")


if __name__ == "__main__":
    main()
