"""Render latency of the explorer's RenderService: batch 1 and a 4x4 grid.

Configurations: float32 contiguous (the baseline), float32 channels-last, and bfloat16 autocast only
where `bf16_is_fast` says it pays off (never on an AVX2-only CPU, where it is ~30x slower). Every
figure is also given as a ratio to the baseline measured in the same run, so a busy machine shifts
all rows alike. The max pixel difference to the baseline checks the output stays visually the same
(not for the truncated row, which draws other images by design: it measures what truncation in G's
features, the app's default for seeds, costs).

On the CPU three more rows per model: "ONNX Runtime float32" (every call through the exported
graph, `explorer.core.render_backend`), "compiled" (G compiled ahead of time by Inductor, in
bfloat16 where it pays: `explorer.core.render_compiled`; built in a child process the first
time, about 20 s a package, three a model, then loaded from the cache) and "app default
(auto)", what the explorer does (per batch size the fastest of eager, in bfloat16 where it pays,
ONNX Runtime and the compiled engine; the engine it kept is shown in brackets). All rows are
measured interleaved, rep by rep.

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

from explorer.core import render_backend
from explorer.core.bundle import DEFAULT_PSI, default_model_path, load_bundle
from explorer.core.render import RenderRequest, RenderService
from facegan.models import bf16_is_fast

FALLBACK = Path("/tmp/devmodel/model.safetensors")


def pick_model(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    p = default_model_path()
    return p if p.exists() else FALLBACK


class Row:
    """One configuration of one model: its render service and the timings taken so far."""

    def __init__(self, model: int, name: str, svc: RenderService, z: np.ndarray,
                 psi: float) -> None:
        self.model, self.name, self.svc, self.z, self.psi = model, name, svc, z, psi
        self.times: list[float] = []
        self.images: np.ndarray | None = None

    def once(self, i: int) -> float:
        t0 = time.perf_counter()
        r = self.svc.render(RenderRequest(i, self.z, psi=self.psi))
        ms = (time.perf_counter() - t0) * 1e3
        assert r.error is None, r.error
        self.images = r.images
        return ms


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
    bf16_fast = bf16_is_fast(device)
    # (name, channels_last, bf16, psi, engine): the render backend's mode for every call
    # (`explorer.core.render_backend`; "auto" is the app's default).
    configs: list[tuple[str, bool, bool | None, float, str]] = [
        ("float32 contiguous", False, False, 1.0, "eager"),
        ("float32 channels-last", True, False, 1.0, "eager"),
        (f"float32 channels-last ψ {DEFAULT_PSI}", True, False, DEFAULT_PSI, "eager")]
    if bf16_fast:
        configs.append(("bfloat16 channels-last", True, True, 1.0, "eager"))
    if device.type == "cpu":
        configs.append(("ONNX Runtime float32", True, False, 1.0, "onnx"))
        configs.append(("compiled" + (" bfloat16" if bf16_fast else ""), True, None, 1.0,
                        "compiled"))
        configs.append(("app default (auto)", True, None, 1.0, "auto"))
    for i, (p, b) in enumerate(zip(paths, bundles, strict=True)):
        print(f"model {'AB'[i]}: {p} ({b.kind}, {b.resolution} px, nz {b.nz}, ngf "
              f"{b.config.ngf})")
    print(f"device {device}; torch threads {args.threads}; bf16 fast here: {bf16_fast}; "
          f"rows interleaved, {args.reps} reps each; ratios against model A's first row")
    print(f"{'batch':>6s} {'model':>5s} {'config':28s} {'p50 ms':>8s} {'p95 ms':>8s} "
          f"{'ratio p50':>9s} {'ratio p95':>9s} {'max px diff':>11s}")
    for n, label in ((1, "1"), (16, "4x4")):
        rows: list[Row] = []
        try:
            for i, b in enumerate(bundles):
                for name, cl, bf16, psi, engine in configs:
                    # A style G's seeds come truncated in W: psi is part of the latent.
                    z = b.seed_latents(list(range(n)), psi)
                    svc = RenderService(b, threads=args.threads, channels_last=cl, bf16=bf16,
                                        engine=engine)
                    rows.append(Row(i, name, svc, z, psi))
            for r in rows:
                if not r.svc.backend.wait_ready(600):
                    raise SystemExit(f"{r.name}: the engines were not ready in 10 minutes")
                # warm-up; `auto` goes round its engines for its first calls, then keeps one
                for k in range(3 if r.svc.backend.mode != "auto" else
                               len(render_backend.ENGINES) * (render_backend.TRIALS + 1) + 2):
                    r.once(k)
            for k in range(args.reps):  # interleaved: a busy machine shifts every row alike
                for r in rows:
                    r.times.append(r.once(k))
        finally:
            for r in rows:
                r.svc.close()
        base = rows[0]
        b50, b95 = (float(np.percentile(base.times, q)) for q in (50, 95))
        for r in rows:
            p50, p95 = (float(np.percentile(r.times, q)) for q in (50, 95))
            ref = next(x for x in rows if x.model == r.model)
            assert r.images is not None and ref.images is not None
            diff = (int(np.abs(r.images.astype(int) - ref.images.astype(int)).max())
                    if r.psi == 1 else "-")
            name = r.name
            backend = r.svc.backend
            if backend.mode != "eager":
                failed = backend.mode not in ("auto", *backend.engines)
                name += " [failed]" if failed else f" [{backend.engine(n)}]"
            print(f"{label:>6s} {'AB'[r.model]:>5s} {name:28s} {p50:8.2f} {p95:8.2f} "
                  f"{p50 / b50:9.2f} {p95 / b95:9.2f} {diff:>11}")


if __name__ == "__main__":
    main()
