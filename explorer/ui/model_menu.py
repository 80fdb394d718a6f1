"""Opening another model: File ▸ Models lists the model files shipped beside the bundled one,
and File ▸ Open model… any other; each opens in a window of its own (a new process, as the
launcher would start it), so the work in this window stays as it is."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QProcess
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from explorer.assets import default_model_file
from explorer.ui import prefs

MODEL_FILTER = "Model files (*.safetensors)"
# How a new window is started: this Python, running the `face-explorer` entry point.
ENTRY = "from explorer.app import main; raise SystemExit(main())"


def bundled_models() -> list[Path]:
    """The model files shipped with the app (beside the bundled default), default first."""
    default = default_model_file()
    found = sorted(default.parent.glob("*.safetensors")) if default.parent.is_dir() else []
    return sorted(found, key=lambda p: (p.name != default.name, p.name))


def window_command(model: str | Path,
                   session: str | Path | None = None) -> tuple[str, list[str]]:
    """The program and arguments that open `model` (and `session` on it) in a new window."""
    extra = [] if session is None else ["--session", str(session)]
    return sys.executable, ["-c", ENTRY, "--model", str(model), *extra]


def session_model(path: str | Path, current: str | Path) -> Path | None:
    """The model file a session was saved with, when it is another model than `current` and
    still exists (then the session belongs in a window on that model); else None."""
    from explorer.core.session import SessionError, load_session

    try:
        saved = load_session(path).get("model_path")
    except (SessionError, OSError, ValueError):
        return None
    if not saved:
        return None
    p = Path(str(saved)).expanduser()
    try:
        if not p.is_file() or p.resolve() == Path(current).resolve():
            return None
    except OSError:
        return None
    return p


def open_in_new_window(model: str | Path,
                       start: Callable[[str, list[str]], bool] | None = None,
                       session: str | Path | None = None) -> bool:
    """Start a window of its own on `model` (opening `session` there); False if it could not be
    started. (The new window says itself, in a message box, when the file is not a model it can
    open.)"""
    program, args = window_command(model, session)
    run = start or (lambda p, a: bool(QProcess.startDetached(p, a)))
    return run(program, args)


def fill_models_menu(menu: QMenu, current: Path, opened: Callable[[Path], None]) -> None:
    """Put the bundled models in `menu`; the one this window shows is checked and disabled."""
    menu.clear()
    for path in bundled_models():
        a = QAction(path.stem, menu)
        a.setToolTip(f"Open {path.name} in a new window")
        a.setStatusTip(a.toolTip())
        same = path.resolve() == Path(current).resolve()
        a.setCheckable(True)
        a.setChecked(same)
        a.setEnabled(not same)
        a.triggered.connect(lambda _=False, p=path: opened(p))
        menu.addAction(a)
    if not menu.actions():
        menu.addAction("(no bundled models)").setEnabled(False)


def ask_model(parent: QWidget) -> Path | None:
    """A model file the user picks, or None."""
    folder = default_model_file().parent
    start = str(folder) if folder.is_dir() else prefs.start_path()
    path, _ = QFileDialog.getOpenFileName(parent, "Open model", start, MODEL_FILTER)
    if path:
        prefs.remember(path)
    return Path(path) if path else None
