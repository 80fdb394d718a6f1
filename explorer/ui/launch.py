"""Open the window: ``face-explorer [--model PATH]``.

A missing or corrupt model gives a clear message box and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="face-explorer", description="Explore a face GAN.")
    p.add_argument("--model", metavar="PATH", default=None,
                   help="model file (default: $FACE_EXPLORER_MODEL or the bundled "
                        "checkpoints/celeba64.safetensors)")
    p.add_argument("--session", metavar="FILE", default=None, help="open a saved session")
    p.add_argument("photos", nargs="*", help="photos to open and encode")
    return p.parse_args(argv)


def launch(argv: list[str]) -> int:
    """Run the window until it closes; return the exit status."""
    args = parse(argv)
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("face-explorer")
    from explorer.ui.qt_check import refcount_leak

    leak = refcount_leak()
    if leak:
        print(f"face-explorer: warning: {leak}", file=sys.stderr)
    from explorer.core.bundle import BundleError, load_bundle

    def fail(msg: str) -> int:
        print(f"face-explorer: {msg}", file=sys.stderr)
        if app.platformName() != "offscreen":  # a modal box would hang a headless run
            QMessageBox.critical(None, "Face explorer: cannot open the model", msg)
        return 2

    try:
        bundle = load_bundle(args.model)
    except BundleError as e:
        return fail(str(e))
    except Exception as e:  # anything else the loader did not foresee
        return fail(f"cannot open the model: {type(e).__name__}: {e}")
    from explorer.ui.main_window import MainWindow, install_error_hook

    win = MainWindow(bundle)
    install_error_hook(win)
    win.show()
    win.offer_restore()  # after a crash: bring back what was autosaved
    if leak:
        win.statusBar().showMessage(leak)
    if args.session:
        win.open_session(args.session)
    if args.photos:
        win.photos.open_paths(args.photos)
    return int(app.exec())
