"""Dropping photos on the window: reconstruction and attribute bars, or a clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from testdata import UTKFACE, needs


def drop_files(win, paths) -> None:
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    ev = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, md,
                    Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    win.dropEvent(ev)


def drop_and_watch(win, paths) -> tuple[list, list]:
    """Drop `paths` on the window; the photos its panel announces as editable (photoReady) and
    as refined in place (photoRefined) arrive in the two lists returned."""
    ready: list = []
    refined: list = []
    win.photos.photoReady.connect(ready.append)
    win.photos.photoRefined.connect(refined.append)
    drop_files(win, paths)
    return ready, refined


def wait_idle(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: not panel.busy(), timeout=20000)


def utk_photos(n: int) -> list[Path]:
    return sorted(UTKFACE.glob("*.jpg"))[:n]


@needs(UTKFACE)
def test_drop_utkface_photo_gives_reconstruction_and_bars(window, qtbot):
    panel = window.photos
    photo_path = utk_photos(1)[0]
    img0 = window.canvas.current_image().copy()
    drop_files(window, [photo_path])
    assert window.tools.currentWidget() is panel
    wait_idle(qtbot, panel)
    assert panel.error.isHidden(), panel.last_error
    assert len(window.state.photos) == 1
    photo = window.state.photos[0]
    assert not panel.recon.pixmap().isNull() and not panel.original.pixmap().isNull()
    assert np.isfinite(photo.psnr) and "PSNR" in panel.psnr.text()
    assert len(panel.bars.items) >= 3
    assert all(0.0 <= p <= 1.0 for _, p in panel.bars.items)
    # The canvas now shows the encoded photo, and the sliders edit it.
    np.testing.assert_array_equal(window.state.custom_z, photo.z)
    assert not np.array_equal(window.canvas.current_image(), img0)
    shown = window.canvas.current_image().copy()
    window.sliders.rows["Smiling"].slider.setValue(250)
    assert not np.array_equal(window.canvas.current_image(), shown)
    np.testing.assert_array_equal(window.state.base_latents()[0], photo.z)

    # The photo is drawn with its detail; unticking shows the latent alone, ticking restores it.
    # (The render service runs G channels-last: pixels may differ by one level from generate.)
    def shows(expected: np.ndarray) -> bool:
        return np.abs(window.canvas.current_image().astype(int) - expected.astype(int)).max() <= 1

    assert photo.detail is not None
    window.sliders.rows["Smiling"].slider.setValue(0)
    assert shows(window.bundle.generate(photo.z, detail=photo.detail)[0])
    panel.keep_detail.setChecked(False)
    assert shows(window.bundle.generate(photo.z)[0])
    assert not shows(window.bundle.generate(photo.z, detail=photo.detail)[0])
    panel.keep_detail.setChecked(True)
    assert shows(window.bundle.generate(photo.z, detail=photo.detail)[0])


def test_bad_files_show_an_error_and_the_app_stays_usable(window, qtbot, tmp_path):
    panel = window.photos
    text = tmp_path / "notes.txt"
    text.write_text("this is not a photo\n")
    drop_files(window, [text])
    wait_idle(qtbot, panel)
    assert panel.error.isVisible()
    assert "notes.txt" in panel.error.text()
    assert "Traceback" not in panel.error.text()
    src = utk_photos(1)[0] if UTKFACE.exists() else None
    if src is not None:
        data = src.read_bytes()
    else:  # any JPEG will do: make one with Qt
        from PySide6.QtGui import QImage

        q = QImage(64, 64, QImage.Format.Format_RGB888)
        q.fill(Qt.GlobalColor.gray)
        q.save(str(tmp_path / "full.jpg"))
        data = (tmp_path / "full.jpg").read_bytes()
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(data[: len(data) // 3])
    drop_files(window, [broken])
    wait_idle(qtbot, panel)
    assert panel.error.isVisible()
    assert "broken.jpg" in panel.error.text() and "Traceback" not in panel.error.text()
    assert window.state.photos == []
    # Still usable: a slider edit renders.
    img = window.canvas.current_image().copy()
    window.sliders.rows["Young"].slider.setValue(-200)
    assert not np.array_equal(window.canvas.current_image(), img)


def test_face_problems_offer_a_way_out(window, qtbot, tmp_path):
    from PySide6.QtGui import QImage

    q = QImage(200, 200, QImage.Format.Format_RGB888)
    q.fill(Qt.GlobalColor.darkGreen)
    path = tmp_path / "wall.png"
    q.save(str(path))
    panel = window.photos
    panel.open_paths([str(path)])
    wait_idle(qtbot, panel)
    assert panel.error.isVisible() and "wall.png" in panel.error.text()
    assert panel.whole_btn.isVisible()
    panel.whole_btn.click()  # encode the centre square instead
    wait_idle(qtbot, panel)
    assert len(window.state.photos) == 1


@needs(UTKFACE)
def test_pivotal_tuning_mode_paste_back_and_the_edit_scores(window, qtbot, tmp_path):
    """With pivotal tuning on, the photo is drawn with its tuned weights; the classifier reads
    the photo and the edit; the edit shows in the whole photo and saves at the photo's size; a
    session keeps the tuned weights."""
    from PIL import Image

    from explorer.core.session import load_session, save_session

    panel = window.photos
    panel.tune.setChecked(True)
    src = utk_photos(3)[2]
    panel.open_paths([str(src)])
    wait_idle(qtbot, panel)
    assert panel.error.isHidden(), panel.last_error
    photo = window.state.photos[0]
    assert photo.tuned is not None and photo.detail is None
    assert "pivotal tuning" in panel.psnr.text()
    tuned_face = window.bundle.generate(photo.z, tuned=photo.tuned)[0]
    assert np.abs(window.canvas.current_image().astype(int) - tuned_face).max() <= 1
    assert len(panel.bars.items) >= 3
    qtbot.waitUntil(lambda: len(panel.edit_bars.items) >= 3)  # read after the frame
    before_scores = list(panel.edit_bars.items)
    window.sliders.rows["Smiling"].slider.setValue(300)
    assert panel.edit_bars.items == before_scores  # not inside the frame's delivery ...
    qtbot.waitUntil(lambda: panel.edit_bars.items != before_scores)  # ... but just after it
    # Before / after in the whole photo, and the saved file.
    assert panel.after_btn.isEnabled()
    panel.after_btn.setChecked(True)
    assert panel.full.isVisible() and not panel.full.pixmap().isNull()
    out = tmp_path / "edited.jpg"
    assert panel.save_to(str(out))
    with Image.open(src) as a, Image.open(out) as b:
        assert a.size == b.size
    # A session round trip keeps the tuned weights (safetensors bytes) and the alignment.
    path = tmp_path / "s.json"
    save_session(path, window.state.to_session())
    window.state.from_session(load_session(path))
    again = window.state.photos[0]
    assert again.tuned is not None and again.tuned.key == photo.tuned.key
    assert again.alignment is not None
    assert window.state.custom_tuned is not None
    assert window.state.custom_tuned.key == photo.tuned.key


@needs(UTKFACE)
def test_a_photo_is_editable_before_refinement_and_refined_in_place(window, qtbot, monkeypatch):
    import threading

    from explorer.core import encoding

    go = threading.Event()
    real = encoding.encode_face

    def held(*a, **k):  # refinement (not the encoder-only pass) waits for the test's edit
        if k.get("max_steps", a[5] if len(a) > 5 else None) != 0:
            go.wait(20)
        return real(*a, **k)

    monkeypatch.setattr(encoding, "encode_face", held)
    panel, state = window.photos, window.state
    ready, refined = drop_and_watch(window, utk_photos(1))
    qtbot.waitUntil(lambda: bool(ready), timeout=20000)
    early = ready[0]
    assert panel.busy() and early.detail is None and state.photos == [early]
    np.testing.assert_array_equal(state.custom_z, early.z)  # on the canvas, editable
    state.set_alpha("Smiling", 0.5)  # an edit made while the encoding is refined
    state.end_drag()
    go.set()
    wait_idle(qtbot, panel)
    assert panel.error.isHidden(), panel.last_error
    photo = refined[0]
    assert state.photos == [photo] and photo.detail is not None and photo.psnr > early.psnr
    # The refinement fitted and scored the photo's own pixels, as the one-pass path does.
    from explorer.core.fit_target import own_psnr

    inside = photo.alignment.inside(photo.face.shape[0])
    assert inside is not None  # a UTKFace chip ends inside the framing
    assert photo.psnr == pytest.approx(own_psnr(photo.recon, photo.face, inside), abs=0.2)
    np.testing.assert_array_equal(state.custom_z, photo.z)
    assert state.alphas["Smiling"] == 0.5 and state.scene.face.detail is not None
    state.undo_stack.undo()  # the edit goes; the refined face stays
    assert state.alphas.get("Smiling", 0.0) == 0.0
    np.testing.assert_array_equal(state.custom_z, photo.z)
    state.undo_stack.undo()  # the photo load goes, and comes back refined
    assert state.custom_z is None or not np.array_equal(state.custom_z, photo.z)
    state.undo_stack.redo()
    np.testing.assert_array_equal(state.custom_z, photo.z)


@needs(UTKFACE)
def test_a_style_models_photo_brings_a_latent_detail_for_the_detail_switch(
        open_window, cstyle_bundle, tiny_bundle, qtbot):
    """On a style G the window puts the refined face in place, then fits the photo's
    latent-only detail and puts it in place too; the detail switch draws it. A DCGAN's photo
    has none (its detail has no latent part)."""
    from explorer.ui.photo_panel import encode_job

    win = open_window(cstyle_bundle)
    panel, state = win.photos, win.state
    ready, refined = drop_and_watch(win, utk_photos(1))
    qtbot.waitUntil(lambda: bool(refined), timeout=30000)
    wait_idle(qtbot, panel)
    assert panel.error.isHidden(), panel.last_error
    assert len(refined) == 2 and refined[0].latent_detail is None  # the refined face, then
    photo = refined[1]  # with its latent-only detail
    np.testing.assert_array_equal(photo.z, refined[0].z)
    assert len(ready) == 1 and state.photos == [photo]
    G = cstyle_bundle.network("G")
    assert photo.latent_detail is not None and photo.latent_detail.shape == G.detail_shape
    assert not photo.latent_detail[G.latent_detail_size:].any()  # a W+ offset alone
    face = state.scene.face
    np.testing.assert_array_equal(face.latent_detail, photo.latent_detail)
    np.testing.assert_array_equal(state.scene.canvas_request().detail[0], photo.detail)
    state.set_keep_detail(False)
    np.testing.assert_array_equal(state.scene.canvas_request().detail[0], photo.latent_detail)
    state.undo_stack.undo()  # the photo load goes, and comes back with both details
    state.undo_stack.redo()
    np.testing.assert_array_equal(state.scene.face.latent_detail, photo.latent_detail)
    dcgan = encode_job(tiny_bundle, str(utk_photos(1)[0]), None, False)(
        lambda f: None, lambda: False)
    assert dcgan.detail is not None and dcgan.latent_detail is None


@needs(UTKFACE)
def test_a_failed_latent_fit_keeps_the_refined_face(open_window, cstyle_bundle, qtbot,
                                                     monkeypatch):
    from explorer.core import encoding

    def broken(*a, **k):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(encoding, "fit_latent_detail", broken)
    win = open_window(cstyle_bundle)
    panel, state = win.photos, win.state
    drop_files(win, utk_photos(1))
    qtbot.waitUntil(lambda: not panel.error.isHidden(), timeout=30000)
    wait_idle(qtbot, panel)
    assert "latent-only fit failed, the refined encoding is kept" in panel.last_error
    (photo,) = state.photos
    assert photo.detail is not None and photo.latent_detail is None
    np.testing.assert_array_equal(state.scene.face.detail, photo.detail)
