"""A start-up check for PySide6 builds that lose references (they abort the window later).

PySide6-Essentials 6.12.0 on Python 3.11 drops a reference to ``True`` on every signal emit and
one to ``None`` on every void C++ call (``setText``, ``setValue``): after ~30 s of dragging a
slider CPython aborts (``bool_dealloc`` / ``none_dealloc``) and unsaved work is lost. pyproject.toml
pins below 6.12 on Python < 3.12 (on 3.12+ both objects are immortal and nothing happens), so the
old ctypes workaround that made ``None`` immortal is gone; this probe only names the problem when
an installation ignores the pin. tests/ui/test_signal_refcount.py checks it at scale.
"""

from __future__ import annotations

import sys


def refcount_leak() -> str | None:
    """A one-line warning when this PySide6 leaks references on emits or void calls, else None."""
    from PySide6 import __version__
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    o = _Probe()
    true0, none0 = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(8):
        o.ping.emit()
        o.setObjectName("probe")
    lost = max(true0 - sys.getrefcount(True), none0 - sys.getrefcount(None))
    if lost < 4:
        return None
    return (f"PySide6 {__version__} on Python {sys.version_info.major}.{sys.version_info.minor} "
            "loses references on every signal and will abort the window within minutes; "
            "install PySide6-Essentials<6.12 (pip install 'PySide6-Essentials<6.12')")
