"""GIF export: a 240-frame walk written at 512 px, against the previous writer in the same run.

The frames are a slerp walk through five seeds of the bundled model, rendered once up front (the
render is not what is timed). The baseline is the writer this replaced: every frame enlarged, then
quantised with its own median-cut palette. Prints seconds, file size and the ratios.

    nice -n 15 .venv/bin/python benchmarks/gif_export.py [--model PATH] [--frames 240] [--size 512]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence

from explorer.core.bundle import default_model_path, load_bundle
from explorer.core.interpolation import interpolate
from explorer.core.latents import random_latents
from explorer.core.video import export_video


def old_gif(frames: list[np.ndarray], path: Path, fps: int, size: int) -> None:
    """The previous writer: enlarge each frame (nearest), quantise it with its own palette."""
    images = []
    for f in frames:
        img = Image.fromarray(f).resize((size, size), Image.Resampling.NEAREST)
        images.append(img.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=0))
    images[0].save(path, format="GIF", save_all=True, append_images=images[1:],
                   duration=round(1000 / fps), loop=0, optimize=False, disposal=1)


def colour_error(path: Path, frames: list[np.ndarray]) -> float:
    """Mean absolute difference between the decoded GIF (sampled back to the frames' size) and
    the frames, in 0-255 levels: what the palette costs."""
    with Image.open(path) as im:
        decoded = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]
    if len(decoded) != len(frames):
        raise SystemExit(f"{path.name}: {len(decoded)} frames decoded, {len(frames)} written")
    step = decoded[0].shape[0] // frames[0].shape[0]
    return float(np.mean([np.abs(d[::step, ::step].astype(int) - f).mean()
                          for d, f in zip(decoded, frames, strict=True)]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--frames", type=int, default=240)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--fps", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each; the best is shown")
    args = ap.parse_args()
    b = load_bundle(args.model or default_model_path())
    walk = interpolate(random_latents(5, b.nz, seed=3), args.frames, mode="slerp")
    frames = [f for i in range(0, len(walk), 16) for f in b.generate(walk[i : i + 16])]
    print(f"{len(frames)} frames of {b.resolution} px -> {args.size} px GIF at {args.fps} fps; "
          f"load {os.getloadavg()[0]:.2f}")
    best: dict[str, tuple[float, int]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for name in ("previous", "now"):
                out = Path(tmp) / f"{name}.gif"
                t0 = time.perf_counter()
                if name == "previous":
                    old_gif(frames, out, args.fps, args.size)
                else:
                    export_video(frames, out, fps=args.fps, size=args.size)
                dt = time.perf_counter() - t0
                if name not in best or dt < best[name][0]:
                    best[name] = (dt, out.stat().st_size, colour_error(out, frames))
    for name, (dt, nbytes, err) in best.items():
        print(f"{name:9s} {dt:6.2f} s  {nbytes / 1e6:6.2f} MB  mean |error| {err:4.2f} / 255")
    (t_old, b_old, _), (t_new, b_new, _) = best["previous"], best["now"]
    print(f"speed-up {t_old / t_new:.1f}x, file {b_new / b_old:.2f}x the size "
          f"(target: <= 3 s and smaller)")


if __name__ == "__main__":
    main()
