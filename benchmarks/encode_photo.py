"""Photo encoding, stage by stage, on UTKFace photos: load, detect, crop, E, refine.

Also compares the PSNR of the encoder alone with E + refinement (the time budget per photo is
--budget). Photos where no single face is found are counted and skipped.

    nice -n 15 .venv/bin/python benchmarks/encode_photo.py [--model PATH] [--n 20] [--budget 0.6]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from explorer.core.bundle import default_model_path, load_bundle
from explorer.core.encoding import encode_photo
from explorer.core.photos import PhotoError

ROOT = Path(__file__).resolve().parent.parent
UTKFACE = ROOT.parent / "shared" / "data" / "utkface-500"
FALLBACK = Path("/tmp/devmodel/model.safetensors")
STAGES = ("load", "detect", "crop", "encoder", "refine")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model file (default: bundled, else dev model)")
    ap.add_argument("--photos", type=Path, default=UTKFACE)
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--budget", type=float, default=0.6)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    path = Path(args.model) if args.model else default_model_path()
    if not args.model and not path.exists():
        path = FALLBACK
    torch.set_num_threads(args.threads)
    b = load_bundle(path)
    files = sorted(args.photos.glob("*.jpg"))[: args.n]
    rows, skipped = [], 0
    t_all, c_all = time.perf_counter(), time.process_time()
    for f in files:
        t0 = time.perf_counter()
        try:
            r = encode_photo(b, f, budget_s=args.budget)
        except PhotoError:
            skipped += 1
            continue
        total = time.perf_counter() - t0
        rows.append([r.timings[s] * 1e3 for s in STAGES] + [total * 1e3, r.psnr_encoder, r.psnr,
                                                             r.steps])
    a = np.array(rows)
    print(f"model {path} ({b.resolution} px); {len(rows)} photos encoded, {skipped} without a "
          f"single face; budget {args.budget} s; torch threads {args.threads}; "
          f"wall {time.perf_counter() - t_all:.1f} s, CPU {time.process_time() - c_all:.1f} s")
    print(f"{'stage':10s} {'median ms':>10s} {'p95 ms':>8s}")
    for i, s in enumerate([*STAGES, "total"]):
        print(f"{s:10s} {np.median(a[:, i]):10.1f} {np.percentile(a[:, i], 95):8.1f}")
    print(f"PSNR E alone      {np.mean(a[:, 6]):6.2f} dB (median {np.median(a[:, 6]):.2f})")
    print(f"PSNR E + refine   {np.mean(a[:, 7]):6.2f} dB (median {np.median(a[:, 7]):.2f}); "
          f"gain {np.mean(a[:, 7] - a[:, 6]):+.2f} dB; better on {(a[:, 7] > a[:, 6]).sum()}/"
          f"{len(a)}; refine steps median {np.median(a[:, 8]):.0f}")


if __name__ == "__main__":
    main()
