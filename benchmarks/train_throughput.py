"""Training throughput: our GAN step against a plain textbook DCGAN loop, same data, same run.

    python benchmarks/train_throughput.py                      # celeba-9k, 64 px, batch 64
    python benchmarks/train_throughput.py --steps 15 --batch 64 --data ../shared/data/celeba-9k

Ours: `trainer.loop.Trainer.gan_step` with the `celeba64` preset (the bundled model's recipe: hinge
loss, spectral-norm D, DiffAugment translation, EMA of G) on the decoded uint8 cache, channels-last,
as `face-train` runs it by default: bfloat16 autocast where the hardware has it (`bf16_is_fast`),
float32 elsewhere. Where bfloat16 is on, ours in float32 (`--no-bf16`) is a third loop in the same
rounds. Idle on the AVX-512 dev machine: textbook 107, ours float32 138 (1.29x), ours by default
(bf16) 229 images/s (2.14x).

Textbook: the pytorch/examples `dcgan/main.py` loop: a DataLoader that opens, resizes and crops the
JPEGs with PIL every step (Resize(64) + CenterCrop(64) + ToTensor + Normalize), the default memory
format, BatchNorm D with a sigmoid and BCELoss, separate D forwards for real and fake, and a G step
whose backward also fills D's parameter gradients. Same G/D widths and latent size as ours.

The loops run in alternating rounds (a fresh DataLoader iterator per round, so its workers never
prefetch while ours is timed), warm-up steps excluded from every round. Beside images per second
(wall clock) each loop's CPU seconds per image are printed, the textbook's including its loader
workers': on a machine shared with other work the CPU figure is the steadier one.

Why float32 alone stays far from 2x (the 2-core AVX-512 dev machine under load, one thread,
CPU seconds per step of batch 64): ours 0.86-0.93, the textbook's loop 0.99 (+0.01 decoding its
JPEGs), ours with --bf16 0.55. torch.profiler puts 89% of our step in the convolutions
(convolution_backward 60%, mkldnn_convolution 21%), Adam 1.5%, the EMA 0.3%, DiffAugment's
translation 0.7%; torch.compile of G and D gave 1.00-1.02x (after 278 s of compiling). Counted in
passes of D over a batch, the textbook runs 3 forwards, 3 weight-gradient and 1 input-gradient
backwards; ours 3, 2 and 1 (one forward of G serves both steps, D is frozen in G's step), so the
algorithm gives ~1.1x and channels-last the rest.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from facegan.models import bf16_is_fast  # noqa: E402
from trainer.config import TrainConfig, preset  # noqa: E402
from trainer.data import IMAGE_EXTS, load_dataset  # noqa: E402
from trainer.loop import Trainer  # noqa: E402

# The shared data sit beside the checkout (/work/main) or two levels up (a worktree /work/wt/x).
DEFAULT_DATA = next((p / "shared" / "data" / "celeba-9k" for p in (ROOT.parent, ROOT.parent.parent)
                     if (p / "shared").is_dir()), ROOT.parent / "shared" / "data" / "celeba-9k")


# The textbook loop (pytorch/examples dcgan/main.py), written out without torchvision.


class JpegFolder(Dataset):
    """Decode, resize the short side to `res`, centre-crop and normalise, on every access."""

    def __init__(self, root: Path, res: int, limit: int | None = None) -> None:
        folder = root / "img_align_celeba" if (root / "img_align_celeba").is_dir() else root
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
        self.files = files[:limit] if limit else files
        self.res = res

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img = Image.open(self.files[i]).convert("RGB")
        w, h = img.size  # Resize(res): short side to res, bilinear (torchvision's default)
        s = self.res / min(w, h)
        img = img.resize((max(self.res, round(w * s)), max(self.res, round(h * s))),
                         Image.Resampling.BILINEAR)
        w, h = img.size  # CenterCrop(res)
        left, top = (w - self.res) // 2, (h - self.res) // 2
        img = img.crop((left, top, left + self.res, top + self.res))
        x = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return (x - 0.5) / 0.5, 0  # ToTensor + Normalize((0.5,)*3, (0.5,)*3)


def textbook_g(nz: int, ngf: int) -> nn.Module:
    return nn.Sequential(
        nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2),
        nn.ReLU(True),
        nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
        nn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), nn.Tanh(),
    )


def textbook_d(ndf: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
    )


class Textbook:
    """One DCGAN iteration exactly as pytorch/examples writes it."""

    def __init__(self, data: JpegFolder, nz: int, ngf: int, ndf: int, batch: int,
                 workers: int) -> None:
        torch.manual_seed(0)
        self.netG, self.netD = textbook_g(nz, ngf), textbook_d(ndf)
        self.criterion = nn.BCELoss()
        self.optD = torch.optim.Adam(self.netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optG = torch.optim.Adam(self.netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.loader = DataLoader(data, batch_size=batch, shuffle=True, num_workers=workers,
                                 drop_last=True, persistent_workers=False)
        self.nz = nz

    def step(self, real: torch.Tensor) -> None:
        b = real.size(0)
        self.netD.zero_grad()
        label = torch.full((b,), 1.0)
        output = self.netD(real).view(-1)
        errD_real = self.criterion(output, label)
        errD_real.backward()
        noise = torch.randn(b, self.nz, 1, 1)
        fake = self.netG(noise)
        label.fill_(0.0)
        output = self.netD(fake.detach()).view(-1)
        errD_fake = self.criterion(output, label)
        errD_fake.backward()
        self.optD.step()
        self.netG.zero_grad()
        label.fill_(1.0)
        output = self.netD(fake).view(-1)
        errG = self.criterion(output, label)
        errG.backward()
        self.optG.step()
        _ = (errD_real + errD_fake).item(), errG.item()  # the loop prints these

    def round(self, steps: int, warmup: int) -> tuple[float, float]:
        """(wall s, CPU s incl. loader workers) for `steps` iterations after `warmup` untimed
        ones (fresh iterator)."""
        it = iter(self.loader)
        for _ in range(warmup):
            self.step(next(it)[0])
        kids0 = _children_cpu()
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(steps):
            self.step(next(it)[0])
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        del it  # shut the workers down (and reap them) before the other loop is timed
        return dt, dc + _children_cpu() - kids0


def _children_cpu() -> float:
    """CPU seconds of this process's finished and reaped children (the loader workers)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def ours_round(tr: Trainer, steps: int, warmup: int) -> tuple[float, float]:
    for _ in range(warmup):
        tr.gan_step()
    c0, t0 = time.process_time(), time.perf_counter()
    for _ in range(steps):
        tr.gan_step()
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CelebA-layout data folder")
    p.add_argument("--steps", type=int, default=30, help="timed steps per loop (all rounds)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3, help="alternating rounds per loop")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps at the start of a round")
    p.add_argument("--workers", type=int, default=2, help="textbook DataLoader workers")
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    p.add_argument("--no-bf16", action="store_true",
                   help="measure ours in float32 only (as `face-train --no-bf16`)")
    args = p.parse_args(argv)
    if not args.data.exists():
        print(f"no data at {args.data}", file=sys.stderr)
        return 2
    if args.threads:
        torch.set_num_threads(args.threads)

    t0 = time.perf_counter()
    data = load_dataset(args.data, args.res, limit=args.limit)
    print(f"decode cache ready in {time.perf_counter() - t0:.1f} s ({len(data)} images; "
          "decoded once, then memory-mapped; not part of the timings)")
    values = preset("celeba64")
    values.update(res=args.res, batch=args.batch, holdout=0, classifier_steps=0)
    cfg = TrainConfig(**values)
    ours = Trainer(cfg, data)
    textbook = Textbook(JpegFolder(args.data, args.res, args.limit), cfg.nz, cfg.ngf, cfg.ndf,
                        args.batch, args.workers)
    bf16 = bf16_is_fast(ours.device) and cfg.bf16 and not args.no_bf16
    default = "ours (default: bf16)" if bf16 else "ours (default: float32)"
    loops: dict[str, Callable[[int, int], tuple[float, float]]] = {
        "textbook DCGAN loop": textbook.round,
        default: lambda n, w: ours_round(ours, n, w),
    }
    if bf16:
        ours_f32 = Trainer(cfg.with_(bf16=False), data)
        loops["ours (float32, --no-bf16)"] = lambda n, w: ours_round(ours_f32, n, w)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"CPU capability {torch.backends.cpu.get_cpu_capability()}, bfloat16 loop "
          f"{'measured too' if bf16 else 'not measured'}; {args.res} px, batch {args.batch}, "
          f"nz {cfg.nz}, widths G {cfg.ngf} D {cfg.ndf}, {os.cpu_count()} CPUs", flush=True)

    per = [max(1, args.steps // args.rounds)] * args.rounds
    wall = dict.fromkeys(loops, 0.0)
    cpu = dict.fromkeys(loops, 0.0)
    for r, n in enumerate(per):
        line = []
        for name, fn in loops.items():
            dt, dc = fn(n, args.warmup)
            wall[name] += dt
            cpu[name] += dc
            line.append(f"{name.split(' ')[0]}{' f32' if 'float32' in name else ''} "
                        f"{n * args.batch / dt:6.1f} img/s")
        print(f"round {r + 1}: " + "   ".join(line), flush=True)
    n_total = sum(per) * args.batch
    base = "textbook DCGAN loop"
    for name in loops:
        ips, cpi = n_total / wall[name], 1e3 * cpu[name] / n_total
        ratio = "" if name == base else (
            f"  {wall[base] / wall[name]:5.2f}x images/s, "
            f"{cpu[base] / cpu[name]:5.2f}x less CPU per image")
        print(f"{name:22s}: {ips:7.1f} images/s, {cpi:6.1f} CPU ms/image{ratio}")
    print(f"ratio               : {wall[base] / wall[default]:7.2f}x ({default} against the "
          "textbook, images/s; target >= 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
