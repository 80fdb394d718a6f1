"""Files written whole or not at all: a temporary file beside the target, then a rename.

The temporary file is named ``.NAME.PID.XXXX.part`` (hidden, and naming the process that writes
it) and gets the mode a plain ``open()`` would give (0666 less the umask): ``mkstemp``'s 0600
would make exports and sessions unreadable to the other users of a shared machine. A process
killed outright (SIGKILL) cannot remove its part file; :func:`clean_stale_parts` removes those
of processes that no longer run, and every atomic write calls it for its folder.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

_PART = re.compile(r"^\..+\.(\d+)\.[^.]+\.part$")


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


def temp_beside(path: str | Path) -> Path:
    """A new empty part file beside `path` with the umask's mode; the caller renames it over
    `path` when it is complete (``os.replace``) and unlinks it on failure."""
    path = Path(path)
    clean_stale_parts(path.parent, path.name)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.",
                               suffix=".part")
    try:
        os.fchmod(fd, umask_mode())
    finally:
        os.close(fd)
    return Path(tmp)
