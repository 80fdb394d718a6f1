"""Outputs default to a shareable 512 px; the last size and the last folder are remembered."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QInputDialog

from explorer.ui import prefs
from explorer.ui.images import qimage_to_array


def test_copy_image_and_video_default_to_512_px_smoothly_upscaled(window):
    assert window.canvas.current_image().shape[1] < 512  # the tiny model is 16 px
    window.copy_image()
    img = QApplication.clipboard().image()
    assert (img.width(), img.height()) == (512, 512)
    # Smooth: pixels blend rather than repeating the model's pixels in 32 px blocks.
    src = window.canvas.current_image()
    k = 512 // src.shape[1]
    blocky = np.repeat(np.repeat(src, k, 0), k, 1).astype(int)
    assert np.abs(qimage_to_array(img).astype(int) - blocky).mean() > 0.5
    assert window.interpolation.size.currentText() == "512"


def test_export_png_remembers_the_size_and_the_folder(window, monkeypatch, tmp_path):
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    asked: list[tuple[int, str]] = []

    def get_item(parent, title, label, items, current, editable):
        asked.append((current, items[current]))
        return "256", True

    opened_in: list[str] = []

    def save_name(parent, title, start, filt):
        opened_in.append(start)
        return str(out_dir / "faces.png"), filt

    monkeypatch.setattr(QInputDialog, "getItem", get_item)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", save_name)
    window.export_png_dialog()
    assert asked[0][1] == "512"  # first time: the default
    assert QImage(str(out_dir / "faces.png")).width() == 256
    assert Path(opened_in[0]).parent != out_dir

    window.export_png_dialog()  # the second time starts from the last choice and folder
    assert asked[1][1] == "256"
    assert Path(opened_in[1]).parent == out_dir
    window.copy_image()
    assert QApplication.clipboard().image().width() == 256


def test_video_size_and_folder_carry_over_to_a_new_window(window, open_window, tiny_bundle,
                                                          monkeypatch, tmp_path):
    window.interpolation.size.setCurrentText("1024")
    folder = tmp_path / "videos"
    folder.mkdir()
    prefs.remember(folder / "walk.mp4")
    later = open_window(tiny_bundle)
    assert later.interpolation.size.currentText() == "1024"
    starts: list[str] = []
    monkeypatch.setattr(QFileDialog, "getOpenFileNames",
                        lambda parent, title, start, filt: (starts.append(start), ([], ""))[1])
    later.photos.open_dialog()
    assert starts == [str(folder)]
