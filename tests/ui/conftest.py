"""UI fixtures: a loaded tiny bundle and a real MainWindow on it (offscreen, see tests/conftest)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")


@pytest.fixture(scope="session")
def tiny_bundle(tiny_model):
    from explorer.core.bundle import load_bundle

    return load_bundle(tiny_model)


@pytest.fixture(scope="session")
def cgan_bundle(tiny_cgan):
    from explorer.core.bundle import load_bundle

    return load_bundle(tiny_cgan)


@pytest.fixture(scope="session")
def cstyle_bundle(tiny_cstyle):
    from explorer.core.bundle import load_bundle

    return load_bundle(tiny_cstyle)


def make_window(qtbot, bundle, **kw):
    from explorer.ui.main_window import MainWindow

    win = MainWindow(bundle, **kw)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.canvas.images is not None, timeout=5000)
    return win


@pytest.fixture
def window(qtbot, tiny_bundle, tmp_path, monkeypatch):
    """A window rendering synchronously with slider throttling off (deterministic tests)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))  # QSettings (recent files) stay here
    win = make_window(qtbot, tiny_bundle, sync=True, interval_ms=0)
    yield win
    win.close()


@pytest.fixture
def live_window(qtbot, tiny_bundle, tmp_path, monkeypatch):
    """The real configuration: background render service and a 16 ms slider throttle."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    win = make_window(qtbot, tiny_bundle, sync=False, interval_ms=16)
    yield win
    win.close()


@pytest.fixture
def open_window(qtbot, tmp_path, monkeypatch):
    """Factory: ``open_window(bundle, **kw)`` -> a shown MainWindow, closed after the test."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    wins = []

    def make(bundle, **kw):
        kw.setdefault("sync", True)
        kw.setdefault("interval_ms", 0)
        wins.append(make_window(qtbot, bundle, **kw))
        return wins[-1]

    yield make
    for w in wins:
        w.close()


@pytest.fixture(autouse=True)
def no_modal_boxes(monkeypatch):
    """A modal message box would hang an offscreen test: record its text instead."""
    from PySide6.QtWidgets import QMessageBox

    shown: list[str] = []
    for name in ("warning", "critical", "information"):
        monkeypatch.setattr(QMessageBox, name,
                            lambda *a, **k: shown.append(str(a[2]) if len(a) > 2 else ""))
    monkeypatch.setattr(QMessageBox, "about", lambda *a, **k: shown.append(str(a[2])))
    return shown


@pytest.fixture(autouse=True)
def settings_file(tmp_path, monkeypatch):
    """Remembered sizes and folders go to a fresh INI file per test (explorer.ui.prefs)."""
    path = tmp_path / "face-explorer-settings.ini"
    monkeypatch.setenv("FACE_EXPLORER_SETTINGS", str(path))
    return path
