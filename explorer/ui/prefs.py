"""What the window remembers between runs: output sizes, the last folder, recent sessions.

One ``QSettings`` store: the user's config folder, or the INI file named by
``$FACE_EXPLORER_SETTINGS`` (tests point it at a temporary path).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

DEFAULT_OUTPUT_SIZE = 512  # px: a size people share; smaller models are upscaled smoothly
OUTPUT_SIZES = ("native", "128", "256", "512", "1024")


def settings() -> QSettings:
    path = os.environ.get("FACE_EXPLORER_SETTINGS")
    if path:
        return QSettings(path, QSettings.Format.IniFormat)
    return QSettings("face-explorer", "face-explorer")


def output_size(kind: str) -> str:
    """The last size chosen for ``kind`` ("image" or "video"): one of OUTPUT_SIZES."""
    v = str(settings().value(f"output/{kind}_size", DEFAULT_OUTPUT_SIZE))
    return v if v in OUTPUT_SIZES else str(DEFAULT_OUTPUT_SIZE)


def set_output_size(kind: str, size: str) -> None:
    if size in OUTPUT_SIZES:
        settings().setValue(f"output/{kind}_size", size)


def size_px(size: str) -> int | None:
    """A size choice in pixels; None for the model's native size."""
    return None if size == "native" else int(size)


def last_dir() -> str:
    """The folder of the last file opened or saved, if it still exists; else the home folder."""
    d = str(settings().value("last_dir", ""))
    return d if d and Path(d).is_dir() else str(Path.home())


def remember(path: str | Path) -> None:
    """Note the folder of ``path`` (a file, or a folder itself) for the next file dialog."""
    p = Path(path)
    settings().setValue("last_dir", str(p if p.is_dir() else p.parent))


def start_path(name: str = "") -> str:
    """Where a file dialog opens: the last folder, with a suggested file name."""
    return str(Path(last_dir()) / name) if name else last_dir()
