"""Open the window: ``face-explorer [--model PATH] [PHOTO... | MODEL.safetensors | SESSION.json]``.

Paths on the command line are what a file manager's "open with" (the launcher entry's ``%F``)
passes: photos are encoded, a ``.safetensors`` file is the model to open, a ``.json`` file a saved
session. A word that is neither a subcommand nor an existing file is an error (a mistyped
subcommand must not open the window). ``--install-desktop`` / ``--uninstall-desktop`` add or remove
the launcher entry, icon and MIME type for this user (see explorer.desktop).

A missing or corrupt model gives a clear message box and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SESSION_SUFFIXES = (".json", ".fxs", ".session")


def parse(argv: list[str]) -> argparse.Namespace:
    from explorer import __version__
    from explorer.assets import DEFAULT_MODEL_NAME
    from explorer.cli import SUBCOMMANDS

    p = argparse.ArgumentParser(prog="face-explorer", description="Explore a face GAN.")
    p.add_argument("--version", action="version", version=f"face-explorer {__version__}")
    p.add_argument("--model", metavar="PATH", default=None,
                   help="model file (default: $FACE_EXPLORER_MODEL or the bundled "
                        f"checkpoints/{DEFAULT_MODEL_NAME})")
    p.add_argument("--session", metavar="FILE", default=None, help="open a saved session")
    p.add_argument("--install-desktop", action="store_true",
                   help="add the launcher entry, icon and model-file type for this user "
                        "(under $XDG_DATA_HOME, default ~/.local/share) and exit")
    p.add_argument("--uninstall-desktop", action="store_true",
                   help="remove what --install-desktop added and exit")
    p.add_argument("paths", nargs="*", metavar="FILE",
                   help="photos to encode, a model (.safetensors) or a session (.json) to open")
    args = p.parse_args(argv)
    args.photos = []
    for path in args.paths:
        if not Path(path).exists():
            p.error(f"{path!r} is neither a command ({', '.join(SUBCOMMANDS)}) nor an existing "
                    "file")
        suffix = Path(path).suffix.lower()
        if suffix == ".safetensors":
            if args.model is not None:
                p.error(f"one model at a time: {args.model} and {path}")
            args.model = path
        elif suffix in SESSION_SUFFIXES:
            if args.session is not None:
                p.error(f"one session at a time: {args.session} and {path}")
            args.session = path
        else:
            args.photos.append(path)
    return args


# The windows `launch` opened: kept alive here, so `launch(..., exec_loop=False)` (tests) can
# hand them over.
OPENED: list = []


def launch(argv: list[str], exec_loop: bool = True) -> int:
    """Run the window until it closes; return the exit status. Without ``exec_loop`` the window
    is left open (in OPENED) and 0 is returned at once."""
    try:
        args = parse(argv)
    except SystemExit as e:  # --help (0) or a usage error (2, already printed)
        return int(e.code or 0)
    if args.install_desktop or args.uninstall_desktop:
        from explorer import desktop

        return desktop.main("install" if args.install_desktop else "uninstall")
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("face-explorer")
    from explorer.ui.qt_check import refcount_leak

    leak = refcount_leak()
    if leak:
        print(f"face-explorer: warning: {leak}", file=sys.stderr)
    from explorer.ui.startup import StartupSplash, last_frame_path, probe, save_last_frame

    if args.session and args.model is None:  # a session opens on the model it was saved with
        from explorer.core.bundle import default_model_path
        from explorer.ui.model_menu import session_model

        saved = session_model(args.session, default_model_path())
        if saved is not None:
            args.model = str(saved)

    # The last session's face, on screen before torch and the model load (~2 s).
    frame_path = last_frame_path(args.model)
    splash = StartupSplash.load(frame_path)
    if splash is not None:
        splash.show()
        app.processEvents()
    from explorer import __version__
    from explorer.ui.help import app_icon

    app.setApplicationVersion(__version__)
    app.setDesktopFileName("face-explorer")  # ties the windows to the launcher entry
    app.setWindowIcon(app_icon())
    from explorer.core.bundle import BundleError, load_bundle
    from explorer.core.render import serial_torch_here

    serial_torch_here()  # before torch's first call on this thread: the model's load

    def fail(msg: str) -> int:
        if splash is not None:
            splash.close()
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
    canvas = win.canvas.canvas

    def live(_frame_id: int) -> None:
        canvas.painted.disconnect(live)
        if splash is not None:
            splash.close()
        elif not frame_path.exists():  # first start: keep a face for the next one
            save_last_frame(frame_path, canvas.qimage())
        probe("live-face")

    def keep_last_frame() -> None:
        try:
            save_last_frame(frame_path, canvas.qimage())
        except RuntimeError:  # the window was already deleted: nothing to keep
            pass

    canvas.painted.connect(live)
    app.aboutToQuit.connect(keep_last_frame)
    win.show()
    win.offer_restore()  # after a crash: bring back what was autosaved
    if leak:
        win.statusBar().showMessage(leak)
    if args.session:
        win.open_session(args.session)
    if args.photos:
        win.photos.open_paths(args.photos)
    OPENED.append(win)
    return int(app.exec()) if exec_loop else 0
