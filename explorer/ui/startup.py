"""A face on screen before the model has loaded: the last frame of the previous session.

`import torch` alone takes ~1.7 s here, and the window needs the model, so a cold start used to
show nothing for ~3 s. The launcher now shows a small window with the last frame the canvas
painted (saved when the window closes, keyed by which model was asked for) as soon as Qt is up,
and swaps in the real window once it has painted its own first face. Nothing here imports torch.

`benchmarks/startup.py` measures the time to the first painted face with and without it.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from facegan.files import atomic_write, cache_dir

PROBE_ENV = "FACE_EXPLORER_STARTUP_PROBE"  # set: print when a face is first painted (benchmark)


def last_frame_path(model_arg: str | None) -> Path:
    """Where the last frame for the model asked for (--model, else $FACE_EXPLORER_MODEL, else
    the bundled one) is kept; the key is that request, so no model has to be opened to find it.
    The bundled one is keyed by its name: when the default changes, the old face is not shown."""
    from explorer.assets import DEFAULT_MODEL_NAME

    asked = model_arg if model_arg is not None else f"default {DEFAULT_MODEL_NAME}"
    key = f"{asked}|{os.environ.get('FACE_EXPLORER_MODEL', '')}"
    return cache_dir() / f"last-frame-{hashlib.sha1(key.encode()).hexdigest()[:16]}.png"


def save_last_frame(path: Path, image: QImage | None) -> None:
    """Keep `image` for the next start; a cache that cannot be written is skipped, not fatal."""
    if image is None or image.isNull():
        return
    def write(tmp: str) -> None:
        if not image.save(tmp, "PNG"):
            raise OSError(f"could not write {tmp}")

    try:
        atomic_write(path, write, suffix=".png", durable=False)
    except OSError:
        pass


def probe(what: str) -> None:
    """With $FACE_EXPLORER_STARTUP_PROBE set, print the first time `what` happens (benchmark)."""
    if os.environ.get(PROBE_ENV):
        print(f"startup-probe {what} {time.time():.4f}", flush=True)


class StartupSplash(QWidget):
    """The previous session's last frame with a 'loading' line, shown until the window is live.

    Parameters
    ----------
    image
        The cached frame; `load` returns None when there is none (first start, unreadable file).
    """

    def __init__(self, image: QImage) -> None:
        super().__init__(None, Qt.WindowType.Window)
        self.setWindowTitle("Face explorer — loading the model…")
        self.setStyleSheet("background: #181818; color: #bbbbbb;")
        face = _Face()
        face.setAlignment(Qt.AlignmentFlag.AlignCenter)
        face.setPixmap(QPixmap.fromImage(image).scaled(
            480, 480, Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation))
        note = QLabel("Loading the model… (the last face you saw)")
        note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lay = QVBoxLayout(self)
        lay.addWidget(face, 1)
        lay.addWidget(note)
        self.resize(520, 540)

    @staticmethod
    def load(path: Path) -> StartupSplash | None:
        image = QImage(str(path)) if path.exists() else QImage()
        return None if image.isNull() else StartupSplash(image)


class _Face(QLabel):
    _probed = False

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().paintEvent(event)
        if not self._probed:
            self._probed = True
            probe("cached-face")
