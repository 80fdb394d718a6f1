"""The app's face: icon on the window and its dialogs, Help (guide, shortcuts), About with the
version, files opened from the command line, and a sharp canvas at device pixel ratio 2."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QImage, QKeySequence
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox
from testdata import ROOT, UTKFACE, needs

from explorer import __version__
from explorer.ui.images import qimage_to_array, to_qimage


def test_window_and_dialogs_wear_the_icon(window):
    from explorer.ui.help import app_icon

    assert not window.windowIcon().isNull()
    assert not QApplication.windowIcon().isNull()
    box = QMessageBox(window)
    assert box.windowIcon().cacheKey() == window.windowIcon().cacheKey()
    sizes = {s.width() for s in app_icon().availableSizes()}
    assert {16, 32, 48, 256} <= sizes
    box.deleteLater()


@pytest.mark.parametrize("size", [16, 48, 256])
def test_committed_icon_pngs_match_the_svg(qapp, size):
    sys.path.insert(0, str(ROOT / "tools"))
    from render_icons import render_svg

    from explorer.assets import icon_png, icon_svg

    fresh = qimage_to_array(render_svg(icon_svg(), size).convertToFormat(
        QImage.Format.Format_RGB888))
    committed = qimage_to_array(QImage(str(icon_png(size))).convertToFormat(
        QImage.Format.Format_RGB888))
    assert np.abs(fresh.astype(int) - committed.astype(int)).max() <= 2, \
        "run tools/render_icons.py after editing the SVG"


def test_help_guide_and_shortcuts_open_from_the_help_menu(window):
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    actions = {a.text(): a for a in help_menu.actions()}
    assert actions["Guide"].shortcut() == QKeySequence("F1")
    actions["Guide"].trigger()
    hw = window.help_window
    assert hw.isVisible() and hw.page() == "guide"
    assert "short guide" in hw.browser.toPlainText()
    assert not hw.windowIcon().isNull()
    hw.browser.setSource(QUrl("shortcuts.html"))  # the guide's link, relative to its page
    assert hw.page() == "shortcuts" and "Keyboard shortcuts" in hw.browser.toPlainText()
    hw.back.click()
    assert hw.page() == "guide"
    actions["Keyboard shortcuts"].trigger()
    assert hw.page() == "shortcuts"
    hw.close()


def window_shortcuts(window) -> set[str]:
    keys = set()
    for w in window.findChildren(QAction) + window.findChildren(QAbstractButton):
        seqs = w.shortcuts() if isinstance(w, QAction) else [w.shortcut()]
        keys |= {s.toString(QKeySequence.SequenceFormat.PortableText) for s in seqs
                 if not s.isEmpty()}
    return keys


def test_the_shortcut_page_lists_every_shortcut_the_window_has(window):
    from explorer.assets import help_page

    page = help_page("shortcuts").read_text()
    listed = set(re.findall(r"<kbd>([^<]+)</kbd>", page))
    actual = window_shortcuts(window)
    assert actual - listed == set(), "shortcuts missing from resources/help/shortcuts.html"
    assert listed - actual == set(), "resources/help/shortcuts.html lists shortcuts that do nothing"


def test_ctrl_y_redoes_as_well_as_ctrl_shift_z(window):
    assert {s.toString() for s in window.redo_action.shortcuts()} == {"Ctrl+Shift+Z", "Ctrl+Y"}
    slider = window.sliders.rows["Smiling"].slider
    slider.setValue(120)
    for keys in ("Ctrl+Shift+Z", "Ctrl+Y"):
        window.undo_action.trigger()
        assert slider.value() == 0
        redo = next(a for a in window.findChildren(QAction)
                    if QKeySequence(keys) in a.shortcuts())
        redo.trigger()
        assert slider.value() == 120, keys


def test_about_shows_the_icon_and_the_version(window, qtbot):
    window.about_app()
    box = window._about
    qtbot.waitUntil(box.isVisible, timeout=2000)
    assert f"Face explorer {__version__}" in box.text() and window.bundle.name in box.text()
    assert not box.iconPixmap().isNull() and box.iconPixmap().width() >= 64
    box.close()


def test_canvas_at_device_pixel_ratio_2_is_scaled_once_to_device_pixels(window):
    canvas = window.canvas.canvas
    face = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # sharp detail
    canvas.set_frame(face, 10_000)
    canvas.resize(300, 300)
    r = canvas.target_rect()
    smooth = Qt.TransformationMode.SmoothTransformation
    ignore = Qt.AspectRatioMode.IgnoreAspectRatio
    src = to_qimage(face)
    for dpr in (1, 2):
        target = QImage(300 * dpr, 300 * dpr, QImage.Format.Format_RGB32)
        target.setDevicePixelRatio(dpr)
        canvas.render(target)
        painted = qimage_to_array(target)[r.y() * dpr:(r.y() + r.height()) * dpr,
                                          r.x() * dpr:(r.x() + r.width()) * dpr].astype(int)
        w, h = r.width() * dpr, r.height() * dpr
        once = qimage_to_array(src.scaled(w, h, ignore, smooth)).astype(int)
        twice = qimage_to_array(src.scaled(r.width(), r.height(), ignore, smooth).scaled(
            w, h, ignore, smooth)).astype(int)
        nearest = qimage_to_array(src.scaled(w, h)).astype(int)
        assert painted.shape == once.shape == (h, w, 3)
        assert np.abs(painted - once).max() <= 1  # one smooth resample to device pixels
        assert np.abs(painted - nearest).mean() > 5  # smooth, not blocky
        if dpr == 2:  # not first to logical pixels, then magnified again
            assert np.abs(painted - twice).mean() > 1


def test_face_explorer_model_file_opens_that_model(qapp, tiny_model, monkeypatch, tmp_path):
    from explorer.ui.launch import OPENED, launch

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert launch([str(tiny_model)], exec_loop=False) == 0
    win = OPENED.pop()
    try:
        assert win.bundle.path == Path(tiny_model)
        assert win.bundle.name in win.windowTitle()  # "[*]" marks unsaved work after it
    finally:
        win.close()


def test_a_word_that_is_neither_a_command_nor_a_file_is_an_error(qapp, capsys):
    from explorer.app import main

    assert main(["smaple"]) == 2
    err = capsys.readouterr().err
    assert "unknown command 'smaple'" in err and "did you mean 'sample'" in err
    assert not [w for w in QApplication.topLevelWidgets() if w.isVisible()
                and type(w).__name__ == "MainWindow"]


def test_version_flag_prints_the_version(capsys):
    from explorer.app import main

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"face-explorer {__version__}"


def test_two_models_at_once_are_refused(qapp, tiny_model, capsys):
    from explorer.ui.launch import launch

    assert launch(["--model", str(tiny_model), str(tiny_model)]) == 2
    assert "one model at a time" in capsys.readouterr().err


@needs(UTKFACE)
def test_face_explorer_photo_opens_with_the_photo_on_the_canvas(qapp, qtbot, tiny_model,
                                                                monkeypatch, tmp_path):
    from explorer.ui.launch import OPENED, launch

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    photo = sorted(UTKFACE.glob("*.jpg"))[0]
    assert launch(["--model", str(tiny_model), str(photo)], exec_loop=False) == 0
    win = OPENED.pop()
    try:
        qtbot.waitUntil(lambda: not win.photos.busy(), timeout=30000)
        assert win.photos.error.isHidden(), win.photos.last_error
        assert [Path(p.path).name for p in win.state.photos] == [photo.name]
        np.testing.assert_array_equal(win.state.custom_z, win.state.photos[0].z)
        qtbot.waitUntil(lambda: win.canvas.renderer.idle(), timeout=10000)
        expected = win.bundle.generate(win.state.photos[0].z, detail=win.state.photos[0].detail)
        assert np.abs(win.canvas.current_image().astype(int) - expected[0].astype(int)).max() <= 1
    finally:
        win.close()
