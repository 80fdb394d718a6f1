"""2-D maps of latents for the scatter plot: PCA and t-SNE, cached by content.

t-SNE uses openTSNE with its FFT-accelerated gradients (Linderman et al. 2019) from 5,000 points:
openTSNE's "auto" picks Barnes-Hut below 10,000 points, which took 47 CPU s for 9,000 faces here
against ~23 with FFT and ~11 with FFT and 250 iterations after the early exaggeration instead
of 500 (benchmarks/embedding.py re-measures). It uses both cores when the machine
is otherwise idle and one when it is busy (`default_threads`): with the CPU shared by a training
run, two jobs were 3x slower. The optimisation can hand out its points as it goes (`partial`), so
the scatter shows a map within seconds and refines it in place. The result is cached under the
SHA-1 of the points, their shape and the method, so reopening the same atlas is instant.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

EMBED_METHODS = ("pca", "tsne")
_VERSION = "2"  # bump when the parameters below change, so old cache entries are not reused
# 250 iterations after the early exaggeration, not openTSNE's 500: the later ones cost most (the
# FFT grid grows with the map) and moved the KL divergence of 9,000 faces from 3.119 to 3.079.
TSNE_PARAMS = {"perplexity": 30.0, "n_iter_early": 250, "n_iter": 250, "random_state": 0,
               "fft_from": 5000}
# FFT gradients pay from a few thousand points: measured here (CPU s, 250 + 250 iterations) 1.4
# with Barnes-Hut against 3.5 with FFT at 1,000 points, 5.4 against 5.8 at 3,000, and ~2x in
# FFT's favour at 9,000 (its grid has a fixed cost that small maps do not repay).
PARTIAL_EVERY = 25  # iterations between two partial maps handed to `partial`


def default_threads() -> int:
    """Every core when the machine is idle (1-minute load below half a core per core),
    else one: on a shared CPU, OpenMP threads that wait on each other were 3x slower."""
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return 1
    return cores if load < 0.5 * cores else 1


def default_cache_dir() -> Path:
    """$FACE_EXPLORER_CACHE/embeddings, else ~/.cache/face-explorer/embeddings."""
    env = os.environ.get("FACE_EXPLORER_CACHE")
    base = Path(env) if env else Path.home() / ".cache" / "face-explorer"
    return base / "embeddings"


def cache_key(points: np.ndarray, method: str) -> str:
    """SHA-1 of the points' bytes, shape, dtype and the method (with its parameters)."""
    h = hashlib.sha1()
    p = np.ascontiguousarray(points, dtype=np.float32)
    h.update(f"{_VERSION}|{method}|{p.shape}|{sorted(TSNE_PARAMS.items())}".encode())
    h.update(p.tobytes())
    return h.hexdigest()


def pca_2d(points: np.ndarray) -> np.ndarray:
    """(n, 2) first two principal components: numpy's eigh of the (d, d) covariance, in float64.

    Not scikit-learn: importing it alone took 1.2-8 s (cold) in the window, against 30 ms for the
    whole PCA of 3,000 x 128 here. Each component's sign is fixed (its largest loading positive,
    as scikit-learn's svd_flip does), so the map does not flip between runs."""
    n, d = points.shape
    if n < 2 or d < 2:
        out = np.zeros((n, 2), np.float32)
        if n >= 2:
            out[:, 0] = points[:, 0] - points[:, 0].mean()
        return out
    x = np.asarray(points, np.float64)
    x = x - x.mean(0)
    _, vecs = np.linalg.eigh(x.T @ x)
    comps = vecs[:, ::-1][:, :2]  # eigh sorts ascending
    rows = np.abs(comps).argmax(0)
    comps = comps * np.sign(comps[rows, [0, 1]])
    return (x @ comps).astype(np.float32)


def tsne_2d(
    points: np.ndarray, progress: Callable[[float], None] | None = None, threads: int = 1,
    partial: Callable[[np.ndarray], None] | None = None,
) -> np.ndarray:
    """(n, 2) openTSNE embedding (PCA initialisation, fixed seed, so it is reproducible).

    `partial((n, 2) float32)` gets the map as it stands every `PARTIAL_EVERY` iterations."""
    from openTSNE import TSNE
    from openTSNE.callbacks import Callback

    n = len(points)
    if n < 4:
        return pca_2d(points)
    total = TSNE_PARAMS["n_iter_early"] + TSNE_PARAMS["n_iter"]
    done = [0]

    class _Progress(Callback):  # type: ignore[misc]
        def __call__(self, iteration: int, error: float, embedding: object) -> bool:
            done[0] += PARTIAL_EVERY
            if progress is not None:
                progress(min(1.0, done[0] / total))
            if partial is not None:
                partial(np.array(embedding, np.float32))
            return False

    tsne = TSNE(
        n_components=2,
        perplexity=min(TSNE_PARAMS["perplexity"], (n - 1) / 3),
        early_exaggeration_iter=int(TSNE_PARAMS["n_iter_early"]),
        n_iter=int(TSNE_PARAMS["n_iter"]),
        initialization="pca",
        random_state=int(TSNE_PARAMS["random_state"]),
        n_jobs=threads,
        negative_gradient_method="fft" if n >= TSNE_PARAMS["fft_from"] else "bh",
        callbacks=_Progress() if progress is not None or partial is not None else None,
        callbacks_every_iters=PARTIAL_EVERY,
        verbose=False,
    )
    return np.asarray(tsne.fit(np.ascontiguousarray(points, dtype=np.float64)), np.float32)


def embed(
    points: np.ndarray,
    method: str = "pca",
    cache_dir: Path | None = None,
    progress: Callable[[float], None] | None = None,
    threads: int | None = None,
    partial: Callable[[np.ndarray], None] | None = None,
) -> np.ndarray:
    """(n, 2) float32 map of `points` (n, d) by 'pca' or 'tsne'; cached by content in `cache_dir`
    (default `default_cache_dir()`); a cache that cannot be written is skipped, not fatal.

    `threads` caps BLAS/OpenMP threads (default `default_threads()`; a trainer beside the app
    can ask for 1). `partial` gets t-SNE's map while it is refined (see `tsne_2d`)."""
    if method not in EMBED_METHODS:
        raise ValueError(f"unknown embedding method {method!r}; choose one of {EMBED_METHODS}")
    pts = np.asarray(points, np.float32)
    if pts.ndim != 2:
        raise ValueError(f"points must have shape (n, d), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError("points contain NaN or infinite values")
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = folder / f"{method}-{cache_key(pts, method)}.npy"
    if path.exists():
        try:
            cached = np.load(path, allow_pickle=False)
            if cached.shape == (len(pts), 2):
                if progress is not None:
                    progress(1.0)
                return cached.astype(np.float32)
        except (OSError, ValueError):
            pass  # a damaged cache entry is recomputed
    from threadpoolctl import threadpool_limits

    if method == "tsne":
        import openTSNE  # noqa: F401  (load its OpenMP/BLAS first, so the limit below covers them)
    threads = default_threads() if threads is None else max(1, int(threads))
    with threadpool_limits(limits=threads):
        out = pca_2d(pts) if method == "pca" else tsne_2d(pts, progress, threads, partial)
    if progress is not None:
        progress(1.0)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".embed.", suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, out, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass
    return out
