"""Embedding time: PCA and t-SNE of 9,000 latents; openTSNE against scikit-learn on a subset.

The points are the model's atlas, topped up to --n with E(G(z)) of prior samples when the atlas is
smaller (the dev model's holds 3,000), so they are distributed like encoded faces. The cache is
bypassed (a fresh temporary folder), then one cached call is timed.

    nice -n 15 .venv/bin/python benchmarks/embedding.py [--model PATH] [--n 9000] [--subset 3000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from explorer.core.bundle import default_model_path, load_bundle
from explorer.core.embedding import TSNE_PARAMS, embed
from explorer.core.latents import random_latents

FALLBACK = Path("/tmp/devmodel/model.safetensors")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model file (default: bundled, else dev model)")
    ap.add_argument("--n", type=int, default=9000)
    ap.add_argument("--subset", type=int, default=3000, help="points for openTSNE vs sklearn")
    ap.add_argument("--skip-sklearn", action="store_true")
    args = ap.parse_args()
    path = Path(args.model) if args.model else default_model_path()
    if not args.model and not path.exists():
        path = FALLBACK
    torch.set_num_threads(1)
    b = load_bundle(path)
    pts = b.atlas_z if b.atlas_z is not None else np.zeros((0, b.nz), np.float32)
    if len(pts) < args.n:
        z = random_latents(args.n - len(pts), b.nz, seed=1)
        extra = [b.encode(b.generate(z[i : i + 500])) for i in range(0, len(z), 500)]
        pts = np.concatenate([pts, *extra])
    pts = pts[: args.n].astype(np.float32)
    print(f"model {path}; {len(pts)} points of {pts.shape[1]} dims")
    print(f"{'method':34s} {'points':>7s} {'seconds':>8s}")
    with tempfile.TemporaryDirectory() as tmp:
        for method in ("pca", "tsne"):
            t0 = time.perf_counter()
            embed(pts, method, cache_dir=Path(tmp))
            label = "tsne (explorer, openTSNE)" if method == "tsne" else "pca (sklearn)"
            print(f"{label:34s} {len(pts):7d} {time.perf_counter() - t0:8.2f}")
        t0 = time.perf_counter()
        embed(pts, "tsne", cache_dir=Path(tmp))
        print(f"{'tsne, cached':34s} {len(pts):7d} {time.perf_counter() - t0:8.3f}")
    sub = pts[: args.subset]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        embed(sub, "tsne", cache_dir=Path(tmp))
        print(f"{'openTSNE (FFT), 1 job':34s} {len(sub):7d} {time.perf_counter() - t0:8.2f}")
    if not args.skip_sklearn:
        from sklearn.manifold import TSNE

        t0 = time.perf_counter()
        TSNE(n_components=2, perplexity=TSNE_PARAMS["perplexity"], init="pca", random_state=0,
             max_iter=750, n_jobs=1).fit_transform(sub)
        print(f"{'scikit-learn (Barnes-Hut), 1 job':34s} {len(sub):7d} "
              f"{time.perf_counter() - t0:8.2f}")


if __name__ == "__main__":
    main()
