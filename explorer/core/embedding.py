"""2-D maps of latents for the scatter plot: PCA and t-SNE, cached by content.

t-SNE uses openTSNE (FFT-accelerated interpolation, Linderman et al. 2019) rather than
scikit-learn's Barnes-Hut: measured on this 2-core CPU, 10,000 points take about 12 s with
openTSNE and about 43 s with scikit-learn, so only openTSNE meets the 30 s target for 9,000 faces
(benchmarks/embedding.py re-measures both). openTSNE runs with one job: with the CPU shared (a
training run beside the app), two jobs were 3x slower. The result is cached under the SHA-1 of the
points, their shape and the method, so reopening the same atlas is instant.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from facegan.files import atomic_write, cache_dir

EMBED_METHODS = ("pca", "tsne")
_VERSION = "1"  # bump when the parameters below change, so old cache entries are not reused
TSNE_PARAMS = {"perplexity": 30.0, "n_iter_early": 250, "n_iter": 500, "random_state": 0}


def default_cache_dir() -> Path:
    """$FACE_EXPLORER_CACHE/embeddings, else ~/.cache/face-explorer/embeddings."""
    return cache_dir("embeddings")


def cache_key(points: np.ndarray, method: str) -> str:
    """SHA-1 of the points' bytes, shape, dtype and the method (with its parameters)."""
    h = hashlib.sha1()
    p = np.ascontiguousarray(points, dtype=np.float32)
    h.update(f"{_VERSION}|{method}|{p.shape}|{sorted(TSNE_PARAMS.items())}".encode())
    h.update(p.tobytes())
    return h.hexdigest()


def pca_2d(points: np.ndarray) -> np.ndarray:
    """(n, 2) first two principal components (sklearn PCA, deterministic solver)."""
    from sklearn.decomposition import PCA

    n, d = points.shape
    if n < 2 or d < 2:
        out = np.zeros((n, 2), np.float32)
        if n >= 2:
            out[:, 0] = points[:, 0] - points[:, 0].mean()
        return out
    return PCA(n_components=2, svd_solver="full").fit_transform(points).astype(np.float32)


def tsne_2d(
    points: np.ndarray, progress: Callable[[float], None] | None = None, threads: int = 1
) -> np.ndarray:
    """(n, 2) openTSNE embedding (PCA initialisation, fixed seed, so it is reproducible)."""
    from openTSNE import TSNE
    from openTSNE.callbacks import Callback

    n = len(points)
    if n < 4:
        return pca_2d(points)
    total = TSNE_PARAMS["n_iter_early"] + TSNE_PARAMS["n_iter"]
    done = [0]

    class _Progress(Callback):  # type: ignore[misc]
        def __call__(self, iteration: int, error: float, embedding: object) -> bool:
            done[0] += 10
            if progress is not None:
                progress(min(1.0, done[0] / total))
            return False

    tsne = TSNE(
        n_components=2,
        perplexity=min(TSNE_PARAMS["perplexity"], (n - 1) / 3),
        early_exaggeration_iter=int(TSNE_PARAMS["n_iter_early"]),
        n_iter=int(TSNE_PARAMS["n_iter"]),
        initialization="pca",
        random_state=int(TSNE_PARAMS["random_state"]),
        n_jobs=threads,
        callbacks=_Progress() if progress is not None else None,
        callbacks_every_iters=10,
        verbose=False,
    )
    return np.asarray(tsne.fit(np.ascontiguousarray(points, dtype=np.float64)), np.float32)


def embed(
    points: np.ndarray,
    method: str = "pca",
    cache_dir: Path | None = None,
    progress: Callable[[float], None] | None = None,
    threads: int = 1,
) -> np.ndarray:
    """(n, 2) float32 map of `points` (n, d) by 'pca' or 'tsne'; cached by content in `cache_dir`
    (default `default_cache_dir()`); a cache that cannot be written is skipped, not fatal.

    `threads` caps BLAS/OpenMP threads: with the CPU shared, PCA of 9,000 x 128 took 5.7 s with
    OpenBLAS's default 2 threads and 0.4 s with 1."""
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
    with threadpool_limits(limits=threads):
        out = pca_2d(pts) if method == "pca" else tsne_2d(pts, progress, threads)
    if progress is not None:
        progress(1.0)
    try:
        atomic_write(path, lambda tmp: np.save(tmp, out, allow_pickle=False), suffix=".npy",
                     durable=False)
    except OSError:
        pass
    return out
