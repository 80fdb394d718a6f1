"""Soak: the window's memory over a long session (10,000 slider changes and 200 photo loads).

Drives a real MainWindow (offscreen is fine) on the bundled model with its background render
service: slider drags of 50 changes each (a drag is one undo step; each release ends it), and
after every drag one photo load (a photo encoded at the start is picked again, as a double-click
in the photo list does, so it comes with its detail) and a grid change. Prints the process's
resident memory (RSS) at the start, every 1,000 events and at the end, and the growth per 1,000
events. The target (issue 14) is RSS flat within 50 MB over the whole run.

Measured on the bundled model (2-core shared machine): before the undo fix +705 MB (+69 MB per
1,000 events, linear); after it and the job fix +46 MB (531 -> 578 MB), most of it before the
200-step undo limit fills (by 4,000 events), then +1.4 to 2.0 MB per 1,000 events.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/soak.py [--changes 10000] [--loads 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "utkface-500"


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def photo_files(n: int) -> list[Path]:
    for folder in (PHOTOS, Path("/work/shared/data/utkface-500")):
        files = sorted(folder.glob("*.jpg"))
        if files:
            return files[:n]
    return []


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None, help="model file (default: the bundled one)")
    p.add_argument("--changes", type=int, default=10_000, help="slider changes")
    p.add_argument("--loads", type=int, default=200, help="photo loads")
    p.add_argument("--drag", type=int, default=50, help="slider changes per drag")
    p.add_argument("--photos", type=int, default=4, help="photos encoded at the start")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the render service")
    args = p.parse_args(argv)

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication

    from explorer.core.bundle import default_model_path, load_bundle
    from explorer.core.encoding import encode_photo
    from explorer.core.render import RenderService, serial_torch_here
    from explorer.ui.main_window import MainWindow
    from explorer.ui.state import Photo

    app = QApplication.instance() or QApplication(sys.argv[:1])  # noqa: F841 (kept alive)
    serial_torch_here()  # as the app's launch does
    bundle = load_bundle(args.model or default_model_path())
    service = RenderService(bundle, threads=args.threads)
    service.backend.wait_ready(600)  # time the app's engine, not the ONNX export beside it
    win = MainWindow(bundle, interval_ms=0, service=service)
    win.show()

    def settle() -> None:
        end = time.perf_counter() + 10
        while not win.canvas.renderer.idle() and time.perf_counter() < end:
            QCoreApplication.processEvents()
            time.sleep(0.001)
        QCoreApplication.processEvents()

    # The photos are encoded once (off the clock) and then loaded again and again.
    photos: list[Photo] = []
    for f in photo_files(args.photos):
        r = encode_photo(bundle, f, budget_s=0.2, whole_image=True)  # UTKFace: a tight crop
        photos.append(Photo(f.name, str(f), r.z, face=r.face, recon=r.recon, psnr=r.psnr,
                            detail=r.detail))
    for ph in photos:
        win.photos._done(ph)  # as the encoder's worker reports it
    settle()
    if not photos:
        print("no photos found: photo loads use seed latents with a random detail instead")

    names = [n for n in win.state.slider_names if n not in win.state.cond_names] or \
        win.state.slider_names
    events = 0
    start = last = rss_mb()
    t0 = time.perf_counter()
    print(f"model {bundle.path} ({bundle.resolution} px); {args.changes} slider changes in drags "
          f"of {args.drag}, {args.loads} photo loads; {len(photos)} photos encoded")
    print(f"{'events':>7s} {'RSS MB':>8s} {'+MB/1000':>9s} {'undo steps':>10s}")
    print(f"{0:7d} {start:8.1f} {'':>9s} {win.state.undo_stack.count():10d}")

    def tick() -> None:
        nonlocal events, last
        events += 1
        if events % 1000 == 0:
            now = rss_mb()
            print(f"{events:7d} {now:8.1f} {now - last:+9.1f} {win.state.undo_stack.count():10d}",
                  flush=True)
            last = now

    changes = loads = drag = 0
    while changes < args.changes or loads < args.loads:
        if changes < args.changes:
            row = win.sliders.rows[names[drag % len(names)]]
            row.slider.setSliderDown(True)
            for i in range(min(args.drag, args.changes - changes)):
                row.slider.setValue(((i * 37 + drag * 11) % 600) - 300)
                settle()
                changes += 1
                tick()
            row.slider.setSliderDown(False)  # emits sliderReleased: the drag's undo step ends
            drag += 1
        if loads < args.loads:
            if photos:
                win.photos.select(loads % len(photos))
            else:
                import numpy as np

                rng = np.random.default_rng(loads)
                win.state.load_latent(rng.standard_normal(bundle.nz).astype("float32"),
                                      f"face {loads}",
                                      detail=rng.standard_normal(bundle.detail_shape)
                                      .astype("float32") * 0.1)
            win.state.set_grid(1 + loads % 3)
            settle()
            loads += 1
            tick()
    end = rss_mb()
    secs = time.perf_counter() - t0
    print(f"{events:7d} {end:8.1f} (end)")
    print(f"RSS {start:.1f} -> {end:.1f} MB: {end - start:+.1f} MB over {events} events "
          f"({(end - start) / events * 1000:+.2f} MB per 1,000 events) in {secs:.0f} s; "
          f"undo steps {win.state.undo_stack.count()}; target: within 50 MB")
    win.close()
    service.close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown: shiboken/pyqtgraph can crash while finalizing
