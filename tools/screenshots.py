"""Screenshots of the real window for the README (run under Xvfb, not offscreen).

    timeout 600 xvfb-run -a -s "-screen 0 1600x1000x24" \\
        nice -n 15 .venv/bin/python tools/screenshots.py [--model PATH] [--photo JPG]

Writes docs/screenshots/{photo_sliders,scatter,interpolation,grid_analogy}.png (1366x768), and
laptop_1024x640.png and large_1600x1000.png: the window at a laptop's size and a large one.
Seeds become latents through `Bundle.seed_latents` (z for the DCGAN kinds, w for a style G).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UTKFACE = ROOT.parent / "shared" / "data" / "utkface-500"
FALLBACK = Path("/tmp/devmodel/model.safetensors")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=None)
    p.add_argument("--photo", default=None, help="a face photo (default: a UTKFace image)")
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--embedding", default="pca", choices=["pca", "tsne"])
    args = p.parse_args(argv)

    from PySide6.QtWidgets import QApplication

    from explorer.core.bundle import default_model_path, load_bundle
    from explorer.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    print("platform:", app.platformName())
    path = Path(args.model) if args.model else default_model_path()
    if not path.exists() and not args.model:
        path = FALLBACK
    bundle = load_bundle(path)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    win = MainWindow(bundle)
    win.resize(1366, 768)
    win.show()

    def wait(cond=lambda: True, seconds: float = 0.3, timeout: float = 60) -> None:
        end = time.time() + timeout
        while not cond():
            app.processEvents()
            if time.time() > end:
                raise TimeoutError("timed out waiting for the window")
            time.sleep(0.01)
        t = time.time() + seconds
        while time.time() < t:
            app.processEvents()
            time.sleep(0.01)

    def settle() -> None:
        wait(lambda: win.canvas.renderer.idle() and win.state.background_idle()
             and win.sliders.readout.job is None, 0.5)

    def shot(name: str) -> None:
        settle()
        f = out / f"{name}.png"
        win.grab().save(str(f))
        print("wrote", f)

    wait(lambda: win.canvas.images is not None)
    # 1. A photo being edited with the sliders.
    photo = Path(args.photo) if args.photo else next(
        (p for p in sorted(UTKFACE.glob("*.jpg")) if p.name.startswith("2")), None)
    names = bundle.attribute_names
    if photo is not None:
        win.photos.open_paths([str(photo)])
        wait(lambda: not win.photos.busy(), 0.2)
    win.tools.setCurrentWidget(win.photos)
    # A conditional model's y slider at its end (its Eyeglasses and Blond_Hair melt or wash out
    # there, and two at their ends at once ghost on a photo with its detail); the DCGAN's latent
    # sliders part way.
    edits = ((("Black_Hair", 300),) if bundle.n_cond else
             (("Blond_Hair", 150), ("Eyeglasses", 120)))
    for n, v in edits:
        if n in win.sliders.rows:
            win.sliders.rows[n].slider.setValue(v)
    if "Male" in win.sliders.rows:
        win.sliders.rows["Male"].lock.setChecked(True)
    shot("photo_sliders")

    # 2. The scatter, coloured by an attribute, with the hover preview filled in.
    win.tools.setCurrentWidget(win.scatter)
    win.scatter.method.setCurrentText(args.embedding)
    win.scatter.compute()
    wait(lambda: win.scatter.points is not None, 0.3, timeout=300)
    if "Male" in names:
        win.scatter.colour.setCurrentIndex(win.scatter.colour.findData("Male"))
    win.scatter._hovered(None, [win.scatter.scatter.points()[0]], None)
    shot("scatter")

    # 3. The interpolation panel with keyframes, mid-walk in the canvas.
    win.state.reset_alphas()
    win.tools.setCurrentWidget(win.interpolation)
    ip = win.interpolation
    if win.state.photos:
        ip.add_keyframe(win.state.photos[0].z, win.state.photos[0].name)
    for s in (3, 8, 21):
        ip.add_keyframe(bundle.seed_latents([s])[0], f"seed {s}")
    ip.loop.setChecked(True)
    walk = ip.walk()
    win.state.set_preview(walk[len(walk) // 5])
    shot("interpolation")
    win.state.set_preview(None)

    # 4. A 4x4 grid all receiving the same edit, next to the analogy panel.
    win.state.set_grid(4)
    win.tools.setCurrentWidget(win.analogy)
    for slot, s in zip("ABC", (5, 6, 7), strict=True):  # seeds as the canvas draws them
        y = bundle.seed_conditions([s])
        win.analogy.set_slot(slot, bundle.seed_latents([s], win.state.psi)[0], None,
                             None if y is None else y[0])
    if "Smiling" in win.sliders.rows:
        win.sliders.rows["Smiling"].slider.setValue(200)
    shot("grid_analogy")

    # 5. A 1024x640 laptop: a photo edited, SeFa's directions found, the live readout.
    win.sliders.rows["Smiling"].slider.setValue(0) if "Smiling" in win.sliders.rows else None
    win.state.set_grid(1)
    win.resize(1024, 640)
    win.sliders.discover("sefa")
    wait(lambda: bool(win.state.discovered), 0.3, timeout=300)
    if win.state.photos:
        win.photos.select(0)
    win.tools.setCurrentWidget(win.photos)
    if "Eyeglasses" in win.sliders.rows:
        win.sliders.rows["Eyeglasses"].slider.setValue(250)
    wait(lambda: win.sliders.readout.job is None, 0.5, timeout=60)
    shot("laptop_1024x640")

    # 6. 1600x1000: the scatter in the big area with faces drawn on it, beside the sliders.
    win.resize(1600, 1000)
    win.tools.setCurrentWidget(win.scatter)
    win.scatter.big.setChecked(True)
    win.scatter.faces.setChecked(True)
    wait(seconds=0.5)
    win.scatter.thumbs.update()
    first = win.sliders.rows[win.state.discovered[0][0]]
    first.slider.setValue(200)
    wait(lambda: win.sliders.readout.job is None, 0.5, timeout=60)
    shot("large_1600x1000")
    win.close()
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    os._exit(code)  # skip interpreter teardown (shiboken/pyqtgraph can crash while finalizing)
