"""Fine-tune the bundled attribute classifier for real photos, calibrate it, save its weights.

    python tools/train_real_classifier.py --out /work/artifacts/classifier_real.safetensors \\
        [--model checkpoints/celeba64.safetensors] [--steps 1500] [--threads 1]

Real photos reach the classifier through the photo path (detect, align by the eyes, crop): their
faces are framed a little differently from CelebA's aligned images, often cut off where the photo
ends (the crop's fill), blurred, JPEG-compressed and differently lit. This trains on CelebA's
training images (1-8000; 8001-8500 calibrate; the last 500 are never used) with that variation
simulated: a random sub-rectangle of the aligned image is taken as "the photo" and warped back to
the training square by `explorer.core.align.warp_face` (with its fill) under a small alignment
error (roll ±6°, scale ±8%, shift ±4%), then blur, downscale, JPEG, colour and grey. Each batch
is half clean, half varied. The per-attribute temperature is then fitted on the calibration
images (clean and varied). Only C's tensors are written (safetensors, C's own key names);
`tools/install_classifier.py` puts them into a copy of a model file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from explorer.core.align import Alignment, warp_face
from explorer.core.bundle import load_bundle
from facegan.models import images_to_tensor
from trainer.finalize import temperatures

DATA = Path("/work/shared/data/celeba-9k")
N_TRAIN, N_CAL = 8000, 500  # images 1-8000 train, 8001-8500 calibrate; 8501-9000 never


def load_celeba(n: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from trainer.data import _read_celeba

    files, labels, names = _read_celeba(DATA)
    imgs = np.stack([np.asarray(Image.open(f).convert("RGB")) for f in files[:n]])
    return imgs, labels[:n], names


def vary(img: np.ndarray, rng: np.random.Generator, res: int) -> np.ndarray:
    """One real-photo-like 64-px crop of an 89x109 aligned CelebA image."""
    import cv2

    h, w = img.shape[:2]  # 109, 89; the training square is rows 10-99
    side = w
    # "The photo": a tight sub-rectangle around the face, or the whole image.
    if rng.random() < 0.6:
        f = rng.uniform(0.55, 1.0)
        s = f * side
        cx = side / 2 + rng.uniform(-0.08, 0.08) * side
        cy = 10 + side * 0.55 + rng.uniform(-0.08, 0.08) * side
        x0, y0 = int(max(0, cx - s / 2)), int(max(0, cy - s / 2))
        x1, y1 = int(min(w, cx + s / 2)), int(min(h, cy + s / 2))
    else:
        x0, y0, x1, y1 = 0, 0, w, h
    photo = np.ascontiguousarray(img[y0:y1, x0:x1])
    # Alignment error around the exact map (photo -> training square).
    a = np.deg2rad(np.clip(rng.normal(0, 3.0), -6, 6))
    k = float(np.clip(np.exp(rng.normal(0, 0.04)), 0.92, 1.08))
    c, sn = k * np.cos(a), k * np.sin(a)
    m0 = np.array([[1.0, 0, x0], [0, 1.0, y0 - 10]])  # photo px -> square px
    cx = cy = side / 2
    rot = np.array([[c, -sn, cx - c * cx + sn * cy], [sn, c, cy - sn * cx - c * cy]])
    m = rot @ np.vstack([m0, [0, 0, 1]])
    m[:, 2] += rng.uniform(-0.04, 0.04, 2) * side
    face = warp_face(photo, Alignment(m, side, photo.shape[:2], "eyes"), res)
    # Photo quality.
    if rng.random() < 0.3:
        face = cv2.GaussianBlur(face, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.3:
        t = int(rng.integers(24, 56))
        face = cv2.resize(cv2.resize(face, (t, t), interpolation=cv2.INTER_AREA), (res, res),
                          interpolation=cv2.INTER_LINEAR)
    f = face.astype(np.float32)
    if rng.random() < 0.8:
        f = f * rng.uniform(0.75, 1.25) + rng.uniform(-25, 25)  # exposure
        f = f * rng.uniform(0.9, 1.1, 3)  # white balance
        mean = f.mean(2, keepdims=True)
        f = mean + (f - mean) * rng.uniform(0.6, 1.3)  # saturation
    if rng.random() < 0.1:
        f = np.repeat(f.mean(2, keepdims=True), 3, 2)
    face = f.clip(0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", face[..., ::-1],
                               [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        face = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
    if rng.random() < 0.5:
        face = face[:, ::-1]
    return np.ascontiguousarray(face)


def clean(img: np.ndarray, res: int) -> np.ndarray:
    from explorer.core.photos import _resize

    return _resize(np.ascontiguousarray(img[10:99]), res)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    b = load_bundle(a.model)
    res = b.resolution
    C = b.network("C")
    C.requires_grad_(True)
    t0 = time.time()
    imgs, labels, names = load_celeba(N_TRAIN + N_CAL)
    assert names == b.attribute_names
    base = np.stack([clean(im, res) for im in imgs])
    print(f"loaded {len(imgs)} images in {time.time() - t0:.0f} s", flush=True)
    target = torch.from_numpy((labels > 0).astype(np.float32))
    C.temperature.fill_(1.0)
    opt = torch.optim.Adam([p for p in C.parameters() if p.requires_grad], lr=a.lr)
    half = a.batch // 2
    t0 = time.time()
    for step in range(a.steps):
        lr = a.lr * 0.5 * (1 + np.cos(np.pi * step / a.steps))
        for g in opt.param_groups:
            g["lr"] = lr
        i_clean = rng.integers(0, N_TRAIN, half)
        i_var = rng.integers(0, N_TRAIN, a.batch - half)
        x = np.concatenate([base[i_clean], np.stack([vary(imgs[i], rng, res) for i in i_var])])
        t = target[np.concatenate([i_clean, i_var])]
        C.train()
        loss = F.binary_cross_entropy_with_logits(C(images_to_tensor(x)), t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 100 == 0 or step == a.steps - 1:
            print(f"step {step} loss {loss.item():.4f} lr {lr:.2e} {time.time() - t0:.0f} s",
                  flush=True)
    # Calibration: per-attribute temperature on images 8001-8500, clean and varied.
    C.eval()
    cal = np.concatenate([base[N_TRAIN:], np.stack([vary(imgs[i], rng, res)
                                                    for i in range(N_TRAIN, N_TRAIN + N_CAL)])])
    cal_t = torch.cat([target[N_TRAIN:]] * 2)
    C.temperature.fill_(1.0)
    with torch.no_grad():
        logits = C(images_to_tensor(cal)).float()
    C.temperature.copy_(temperatures(logits, cal_t).to(C.temperature.device))
    acc = ((logits > 0).float() == cal_t).float().mean(0)
    print("calibration accuracy (clean + varied): "
          + ", ".join(f"{n} {acc[names.index(n)]:.1%}" for n in ("Male", "Young", "Smiling")))
    from safetensors.torch import save_file

    a.out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in C.state_dict().items()}, str(a.out),
              metadata={"what": "face-explorer attribute classifier C, fine-tuned for real "
                        "photos", "command": " ".join(["train_real_classifier.py",
                                                       f"--steps {a.steps}", f"--seed {a.seed}"])})
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()
