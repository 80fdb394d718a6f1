"""Writing files so a crash never leaves half of one, and where caches live.

Every file the project writes for keeps (model files, training state, sessions, PNGs, videos,
cached fits and embeddings) goes through `atomic_write`: the writer fills a temporary file in the
same folder, which is renamed over the target only when complete.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None], *,
                 suffix: str = ".tmp", durable: bool = True) -> None:
    """Call ``write(tmp_path)`` then rename over ``path``; a crash or an exception leaves the old
    file intact and no temporary file behind. `suffix` ends the temporary name (writers that pick
    a format by extension need the real one); `durable` fsyncs the data and the rename (skip it
    for caches, where losing the newest entry only costs time)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if not durable:
        return
    try:  # Make the rename itself durable.
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def cache_dir(kind: str = "") -> Path:
    """$FACE_EXPLORER_CACHE/kind, else ~/.cache/face-explorer/kind (not created here)."""
    env = os.environ.get("FACE_EXPLORER_CACHE")
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "face-explorer"
    return base / kind if kind else base
