"""explorer.core and facegan import no Qt: each module is imported in a fresh process, then
sys.modules is checked.

pyproject.toml has the matching import-linter contract (`lint-imports`); this test also catches
imports that happen at run time through third-party packages (e.g. matplotlib picking a Qt backend).
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import explorer.core
import facegan


def test_core_modules_import_no_qt() -> None:
    names = [f"explorer.core.{m.name}" for m in pkgutil.iter_modules(explorer.core.__path__)]
    assert "explorer.core.render" in names and "explorer.core.video" in names
    names += [f"facegan.{m.name}" for m in pkgutil.iter_modules(facegan.__path__)]
    code = (
        "import importlib, sys\n"
        f"for n in {names + ['explorer.cli']!r}:\n"
        "    importlib.import_module(n)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('PySide6', 'pyqtgraph', 'PyQt5', 'PyQt6', 'shiboken6') or m.startswith('explorer.ui'))\n"
        "print(bad)\n"
        "sys.exit(1 if bad else 0)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"Qt imported by the core: {r.stdout} {r.stderr}"
