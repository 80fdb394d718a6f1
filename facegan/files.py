"""Writing files so a crash never leaves half of one, and where caches live.

Every file the project writes for keeps (model files, training state, sessions, PNGs, videos,
cached fits and embeddings) goes through `atomic_write` (or `temp_beside` for writers that rename
themselves): the writer fills a temporary file in the same folder, which is renamed over the
target only when complete. The temporary file is named ``.NAME.PID.XXXX.part[.ext]`` (hidden, naming
the process that writes it) and gets the mode a plain ``open()`` would give (0666 less the umask):
``mkstemp``'s 0600 would make exports and sessions unreadable to the other users of a shared
machine. A process killed outright (SIGKILL) cannot remove its part file; `clean_stale_parts`
removes those of processes that no longer run, and every atomic write calls it for its folder.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path


def atomic_write(path: str | os.PathLike[str], write: Callable[[str], None], *,
                 suffix: str = ".tmp", durable: bool = True) -> None:
    """Call ``write(tmp_path)`` then rename over ``path``; a crash or an exception leaves the old
    file intact and no temporary file behind. `suffix` ends the temporary name (writers that pick
    a format by extension need the real one); `durable` fsyncs the data and the rename (skip it
    for caches, where losing the newest entry only costs time)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = str(temp_beside(path, suffix))
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


_PART = re.compile(r"^\..+\.(\d+)\.[^.]+\.part(?:\.[^.]+)?$")


def umask_mode(mode: int = 0o666) -> int:
    """`mode` less the process's umask (what open() would create)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def pid_alive(pid: int) -> bool:
    """True when process `pid` runs (this one included)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def clean_stale_parts(folder: str | Path, name: str | None = None) -> list[Path]:
    """Remove part files in `folder` (of target `name`, or any) whose writer no longer runs."""
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for p in entries:
        m = _PART.match(p.name)
        if not m or (name is not None and not p.name.startswith(f".{name}.")):
            continue
        if not pid_alive(int(m.group(1))):
            try:
                p.unlink()
                removed.append(p)
            except OSError:
                pass
    return removed


def temp_beside(path: str | Path, suffix: str = "") -> Path:
    """A new empty part file beside `path` with the umask's mode; the caller renames it over
    `path` when it is complete (``os.replace``) and unlinks it on failure. `suffix` (say
    ".npy", for writers that pick a format by extension) ends the name, after ".part"."""
    path = Path(path)
    clean_stale_parts(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".part" + (suffix if suffix != ".tmp" else ""))
    try:
        os.fchmod(fd, umask_mode())
    finally:
        os.close(fd)
    return Path(tmp)


def cache_dir(kind: str = "") -> Path:
    """$FACE_EXPLORER_CACHE/kind, else ~/.cache/face-explorer/kind (not created here)."""
    env = os.environ.get("FACE_EXPLORER_CACHE")
    base = Path(env).expanduser() if env else Path.home() / ".cache" / "face-explorer"
    return base / kind if kind else base


class MadeOnce:
    """Cache files a process makes once: per path, one thread makes the file while the others
    that ask for it wait for its result (two render services opening one model share one export
    or build). A file already there is touched (recently used, for pruning by age); a path
    whose making failed, or whose file has gone since, is made again by the next caller."""

    def __init__(self) -> None:
        self._made: dict[str, Future[Path]] = {}
        self._lock = threading.Lock()

    def get(self, path: Path, make: Callable[[], None]) -> Path:
        """`path`, made first by `make()` if it does not exist (blocking)."""
        key = str(path)
        with self._lock:
            fut = self._made.get(key)
            owner = fut is None or (fut.done() and (fut.exception() is not None
                                                     or not path.exists()))
            if owner:
                fut = self._made[key] = Future()
        assert fut is not None
        if not owner:
            return fut.result()
        try:
            if path.exists():
                os.utime(path)
            else:
                make()
            fut.set_result(path)
        except BaseException as e:
            fut.set_exception(e)
            raise
        return path
