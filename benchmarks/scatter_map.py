"""The window's scatter: Compute (PCA of the atlas) to points painted, as a user's first click.

Each measurement is a fresh process (imports cold, as in a new session): a real MainWindow is
shown, the Scatter panel's Compute is clicked with an empty embedding cache, and the clock stops
when the plot has been painted with the points. The baseline, in the same run, is the previous
PCA (scikit-learn's, imported on the first click); the two alternate so load hits both alike.

    nice -n 15 .venv/bin/python benchmarks/scatter_map.py [--model PATH] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np


def one(model: str | None, old: bool) -> float:
    """Seconds from Compute to the painted map in this (fresh) process."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["FACE_EXPLORER_CACHE"] = tempfile.mkdtemp(prefix="scatter-bench-")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from explorer.core import embedding
    from explorer.core.bundle import load_bundle
    from explorer.ui.main_window import MainWindow

    if old:
        def sklearn_pca(points: np.ndarray) -> np.ndarray:
            from sklearn.decomposition import PCA

            return PCA(n_components=2, svd_solver="full").fit_transform(points).astype(np.float32)

        embedding.pca_2d = sklearn_pca
    win = MainWindow(load_bundle(model))
    win.resize(1366, 740)
    win.show()
    end = time.perf_counter() + 5
    while time.perf_counter() < end and win.canvas.canvas.painted_id < 1:  # first face drawn
        app.processEvents()
        time.sleep(0.005)
    panel = win.scatter
    panel.method.setCurrentText("pca")
    done: list[float] = []
    shown = panel._done  # the job's on_done looks it up when it runs

    def painted(z: np.ndarray, pts: np.ndarray) -> None:
        shown(z, pts)
        panel.plot.grab()  # the map painted
        done.append(time.perf_counter())

    panel._done = painted
    t0 = time.perf_counter()
    panel.compute_btn.click()
    while not done:
        app.processEvents()
        time.sleep(0.001)
    if panel.points is None or len(panel.points) < 3:
        raise SystemExit("no points were mapped")
    return done[0] - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", choices=("old", "new"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(f"{one(args.model, args.child == 'old'):.4f}")
        sys.stdout.flush()
        os._exit(0)  # skip Qt/pyqtgraph teardown
    times: dict[str, list[float]] = {"old": [], "new": []}
    extra = ["--model", args.model] if args.model else []
    for _ in range(args.repeat):
        for kind in ("old", "new"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, *extra],
                                 capture_output=True, text=True, check=True).stdout
            times[kind].append(float(out.strip().splitlines()[-1]))
    print(f"Compute -> painted PCA map of the atlas, fresh process each, load "
          f"{os.getloadavg()[0]:.1f}")
    for kind, label in (("old", "previous (scikit-learn PCA)"), ("new", "now (numpy eigh)")):
        t = times[kind]
        print(f"{label:28s} median {np.median(t):5.2f} s  (runs: "
              f"{', '.join(f'{x:.2f}' for x in t)})")
    print(f"speed-up {np.median(times['old']) / np.median(times['new']):.1f}x (target: <= 1 s)")


if __name__ == "__main__":
    main()
