"""Render latency of the explorer's RenderService: batch 1 and a 4x4 grid.

Configurations: float32 contiguous (the baseline), float32 channels-last, and bfloat16 autocast only
where `bf16_is_fast` says it pays off (never on an AVX2-only CPU, where it is ~30x slower). Every
figure is also given as a ratio to the baseline measured in the same run, so a busy machine shifts
all rows alike. The max pixel difference to the baseline checks the output stays visually the same
(not for the truncated row, which draws other images by design: it measures what truncation in G's
features, the app's default for seeds, costs).

With `--against PATH` (say a style-based model beside the bundled DCGAN) the second model's rows
follow, their ratios taken against the first model's baseline of the same run.

    nice -n 15 .venv/bin/python benchmarks/render_latency.py [--model PATH] [--against PATH]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from explorer.core.bundle import DEFAULT_PSI, default_model_path, load_bundle
from explorer.core.render import RenderRequest, RenderService
from facegan.models import bf16_is_fast

FALLBACK = Path("/tmp/devmodel/model.safetensors")


def pick_model(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    p = default_model_path()
    return p if p.exists() else FALLBACK


def measure(svc: RenderService, z: np.ndarray, reps: int,
            psi: float = 1.0) -> tuple[list[float], np.ndarray]:
    req = RenderRequest(0, z, psi=psi)
    for _ in range(3):
        svc.render(req)  # warm-up
    times = []
    out = None
    for i in range(reps):
        t0 = time.perf_counter()
        r = svc.render(RenderRequest(i, z, psi=psi))
        times.append((time.perf_counter() - t0) * 1e3)
        assert r.error is None, r.error
        out = r.images
    assert out is not None
    return times, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model file (default: bundled, else dev model)")
    ap.add_argument("--against", default=None,
                    help="a second model whose rows are compared with the first's baseline")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=40)
    args = ap.parse_args()
    paths = [pick_model(args.model)] + ([Path(args.against)] if args.against else [])
    bundles = [load_bundle(p) for p in paths]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    configs = [("float32 contiguous", False, False, 1.0),
               ("float32 channels-last", True, False, 1.0),
               (f"float32 channels-last ψ {DEFAULT_PSI}", True, False, DEFAULT_PSI)]
    if bf16_is_fast(device):
        configs.append(("bfloat16 channels-last", True, True, 1.0))
    for i, (p, b) in enumerate(zip(paths, bundles, strict=True)):
        print(f"model {'AB'[i]}: {p} ({b.kind}, {b.resolution} px, nz {b.nz}, ngf "
              f"{b.config.ngf})")
    print(f"device {device}; torch threads {args.threads}; bf16 fast here: {bf16_is_fast(device)}")
    print(f"{'batch':>6s} {'model':>5s} {'config':28s} {'p50 ms':>8s} {'p95 ms':>8s} "
          f"{'ratio p50':>9s} {'max px diff':>11s}")
    for n, label in ((1, "1"), (16, "4x4")):
        base_p50 = None
        for i, b in enumerate(bundles):
            base_img = None
            for name, cl, bf16, psi in configs:
                # A style G's seeds come truncated in W: psi is part of the latent.
                z = b.seed_latents(list(range(n)), psi)
                svc = RenderService(b, threads=args.threads, channels_last=cl, bf16=bf16)
                try:
                    t, img = measure(svc, z, args.reps, psi)
                finally:
                    svc.close()
                p50, p95 = float(np.percentile(t, 50)), float(np.percentile(t, 95))
                if base_p50 is None:
                    base_p50 = p50
                if base_img is None:
                    base_img = img
                diff = (int(np.abs(img.astype(int) - base_img.astype(int)).max()) if psi == 1
                        else "-")
                print(f"{label:>6s} {'AB'[i]:>5s} {name:28s} {p50:8.2f} {p95:8.2f} "
                      f"{p50 / base_p50:9.2f} {diff:>11}")


if __name__ == "__main__":
    main()
