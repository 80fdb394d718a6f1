"""Give a style model's encoder a W+ head: E predicts one w per synthesis layer, not only w.

    python tools/fit_encoder_plus.py checkpoints/style64-cond.safetensors \\
        --data ../shared/data/celeba-9k --out runs/style64-cond-eplus.safetensors \\
        [--minutes 30] [--steps N] [--threads 2] [--resume]

A photo's latent refinement (`explorer.core.encoding`) starts from E's answer and has 0.6 s: the
closer E's start, the closer the photo after it. E's trunk and w head stay as they are (so w, and
every edit of an encoded face, stays what it was); a low-rank head on the same trunk features
(`facegan.models.Encoder`, `encoder_w_plus`) learns the W+ offset that draws each training photo
closest through the frozen G, with the refinement's own loss: pixels (MSE + 0.5 L1), C's features
and the refinement's hold on a W+ offset (`explorer.core.encoding`). A conditional G draws each
photo with its training labels, as the trainer's encoder phase does. Only the first images of the
data set are used (the last `--holdout`, 500, are held out from everything). It stops after
`--minutes` of training or `--steps` steps, whichever comes first.

The head's training state is saved beside the output (`OUT.state.pt`) every 500 steps and at the
end; `--resume` goes on from it. The output is a copy of the model file with the head added and
`encoder_w_plus` set in its config (`facegan.checkpoint.copy_model_file`: checked by loading it
before it takes its name).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from explorer.core.encoding import DETAIL_WEIGHT_W_PLUS, FEATURE_WEIGHT
from facegan.checkpoint import ModelFileError, copy_model_file, load_model, save_state
from facegan.images import tensor_psnr
from facegan.models import Encoder, build, images_to_tensor
from trainer.data import load_dataset

SAVE_EVERY = 500


def pixel_loss(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The refinement's pixel term on whole crops (`fit_target.FitTarget.pixel_loss`)."""
    return F.mse_loss(x, target) + 0.5 * F.l1_loss(x, target)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--steps", type=int, default=None, help="stop after this many steps")
    ap.add_argument("--holdout", type=int, default=500, help="last images never used")
    ap.add_argument("--batch", type=int, default=24)
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    try:
        mf = load_model(a.model)
    except ModelFileError as e:
        raise SystemExit(str(e)) from None
    cfg = mf.config
    if cfg.kind != "style" or "E" not in mf.parts or "C" not in mf.parts:
        raise SystemExit(f"{a.model.name}: needs a style model with its encoder E and "
                         f"classifier C")
    G, C = mf.network("G").requires_grad_(False), mf.network("C").requires_grad_(False)
    E = build(dataclasses.replace(cfg, encoder_w_plus=True), "E", init=False)
    assert isinstance(E, Encoder) and E.plus is not None
    missing = E.load_state_dict(mf.state_dict("E"), strict=False).missing_keys
    if any(not k.startswith("plus.") for k in missing):
        raise SystemExit(f"{a.model.name}: its encoder does not match its config")
    E.eval().requires_grad_(False)
    E.plus.requires_grad_(True)
    opt = torch.optim.Adam(E.plus.parameters(), lr=a.lr)
    gen = torch.Generator().manual_seed(a.seed)
    state_file = a.out.with_name(a.out.stem + ".state.pt")
    step, spent = 0, 0.0
    if a.resume:
        if not state_file.exists():
            raise SystemExit(f"nothing to resume: {state_file} does not exist")
        st = torch.load(state_file, weights_only=True)
        E.plus.load_state_dict(st["plus"])
        opt.load_state_dict(st["opt"])
        gen.set_state(st["rng"])
        step, spent = int(st["step"]), float(st["seconds"])

    data = load_dataset(a.data, cfg.resolution)
    train = data.split_holdout(a.holdout)[0] if a.holdout else data
    labels = train.label_columns(list(cfg.cond_attributes)) if cfg.n_cond else None
    monitor = images_to_tensor(np.asarray(train.images[-64:]))  # a fixed set to watch
    y_mon = torch.from_numpy(labels[-64:]) if labels is not None else None

    def draw(x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        w, offset = E.forward_plus(x)
        assert offset is not None
        return G(w, y, G.join_detail(offset)), offset.flatten(1)

    def monitor_psnr() -> float:
        with torch.no_grad():
            x, _ = draw(monitor, y_mon)
        return float(np.mean([tensor_psnr(x[i:i + 1], monitor[i:i + 1])
                              for i in range(len(x))]))

    def save() -> None:
        save_state(state_file, {"plus": E.plus.state_dict(), "opt": opt.state_dict(),
                                "rng": gen.get_state(), "step": step, "seconds": spent})

    start_psnr = monitor_psnr()
    print(f"step {step}: E's start on 64 training photos {start_psnr:.2f} dB", flush=True)
    t0 = time.time() - spent
    while time.time() - t0 < 60 * a.minutes and (a.steps is None or step < a.steps):
        idx = torch.randint(0, len(train), (a.batch,), generator=gen).sort().values.numpy()
        x = images_to_tensor(np.asarray(train.images[idx]))
        if bool(torch.rand((), generator=gen) < 0.5):
            x = x.flip(3)
        y = torch.from_numpy(labels[idx]) if labels is not None else None
        with torch.no_grad():
            feat = C.features(x)
        recon, flat = draw(x, y)
        loss = (pixel_loss(recon, x) + FEATURE_WEIGHT * F.mse_loss(C.features(recon), feat)
                + DETAIL_WEIGHT_W_PLUS * flat.pow(2).mean())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        spent = time.time() - t0
        if step % SAVE_EVERY == 0:
            save()
            print(f"step {step} ({spent / 60:.1f} min): loss {loss.item():.4f}, "
                  f"{monitor_psnr():.2f} dB", flush=True)
    save()
    end_psnr = monitor_psnr()
    print(f"step {step}: E's start {end_psnr:.2f} dB (was {start_psnr:.2f})", flush=True)
    plus = {f"E.plus.{k}": v.detach().contiguous() for k, v in E.plus.state_dict().items()}

    def edit(tensors: dict[str, torch.Tensor], doc: dict) -> None:
        tensors.update(plus)
        doc["model_config"]["encoder_w_plus"] = True
        doc["encoder_w_plus"] = {"steps": step, "minutes": round(spent / 60, 1),
                                 "batch": a.batch, "lr": a.lr, "data": str(a.data),
                                 "monitor_psnr_db": [round(start_psnr, 2), round(end_psnr, 2)]}

    try:
        copy_model_file(a.model, a.out, edit)
    except ModelFileError as e:
        raise SystemExit(str(e)) from None
    print(f"-> {a.out}")


if __name__ == "__main__":
    main()
