"""Work around a PySide6 refcount bug that would abort the app on Python 3.11.

PySide6 6.12.0 (the only wheel on this machine's index) drops one reference to ``None`` on every
call of a void C++ method (``setText``, ``setValue``, ...). On Python >= 3.12 ``None`` is immortal
and nothing happens; on 3.11 its count (a few thousand at start) reaches zero after a few thousand
calls and CPython aborts with "none_dealloc: deallocating None" (a slider drag makes hundreds).
We probe for the bug and, only where it is present, make ``None`` effectively immortal the way
Python 3.12 does (PEP 683), by giving it a huge reference count.
"""

from __future__ import annotations

import ctypes
import sys

_APPLIED = False


def none_refcount_leaks() -> bool:
    from PySide6.QtCore import QObject

    o = QObject()
    before = sys.getrefcount(None)
    for _ in range(8):
        o.setObjectName("probe")
    return sys.getrefcount(None) < before - 4


def apply() -> bool:
    """Apply the workaround if needed; return True when it was applied."""
    global _APPLIED
    if _APPLIED or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return _APPLIED
    if none_refcount_leaks():
        ctypes.c_ssize_t.from_address(id(None)).value += 1 << 40  # ob_refcnt is the first field
        _APPLIED = True
    return _APPLIED
