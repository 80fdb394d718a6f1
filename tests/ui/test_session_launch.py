"""Sessions reopen identical; the launcher refuses a bad model with a message, not a traceback."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QLabel

from explorer.core.latents import seed_latent
from explorer.ui.images import qimage_to_array


def test_saved_session_reopens_identical(window, open_window, tmp_path, no_modal_boxes):
    st = window.state
    window.canvas.seed.setValue(4)
    window.canvas.grid.setCurrentIndex(1)
    window.canvas.psi.setValue(0.65)
    window.sliders.rows["Smiling"].slider.setValue(130)
    window.sliders.rows["Male"].lock.click()
    window.sliders.method.setCurrentText("linear")
    window.favourites.star.click()
    detail = np.random.default_rng(0).normal(size=window.bundle.detail_shape).astype(np.float32)
    st.load_latent(seed_latent(42, window.bundle.nz), "photo-like", reset_sliders=False,
                   detail=detail)
    window.favourites.star.click()  # a photo-like face: starred with its detail
    path = tmp_path / "s.json"
    window.save_session(path)
    assert path.exists(), no_modal_boxes

    other = open_window(window.bundle)
    assert other.open_session(path)
    from test_session_work import same

    a, b = st.to_session(), other.state.to_session()
    assert same(a, b) and a["custom_detail"] is not None
    assert a["favourites"][1]["detail"] is not None
    np.testing.assert_array_equal(other.canvas.current_image(), window.canvas.current_image())
    assert other.sliders.rows["Smiling"].slider.value() == 130
    assert not other.sliders.rows["Male"].slider.isEnabled()
    assert other.favourites.list.count() == 2
    assert other._recent()[0] == str(path)


def test_a_broken_session_file_is_refused_politely(window, tmp_path, no_modal_boxes):
    shown = no_modal_boxes
    bad = tmp_path / "bad.json"
    bad.write_text("{ not json")
    seed = window.state.seed
    assert not window.open_session(bad)
    assert shown and "bad.json" in shown[0]
    assert window.state.seed == seed


def test_launch_with_a_missing_or_corrupt_model_exits_nonzero(qapp, tmp_path, capsys):
    from explorer.ui.launch import launch

    assert launch(["--model", str(tmp_path / "nope.safetensors")]) != 0
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00" * 64)
    assert launch(["--model", str(corrupt)]) != 0
    err = capsys.readouterr().err
    assert "nope.safetensors" in err and "corrupt.safetensors" in err
    assert "Traceback" not in err


def test_the_cli_draws_the_face_the_window_shows_for_a_seed(window, tiny_model, tmp_path):
    from PIL import Image

    from explorer.cli import DEFAULT_PSI, main
    from explorer.core.bundle import DEFAULT_PSI as WINDOW_PSI

    assert DEFAULT_PSI == WINDOW_PSI == window.state.psi < 1  # both draw seeds truncated
    window.canvas.seed.setValue(7)
    res = window.bundle.resolution
    out = tmp_path / "seed7.png"
    assert main(["sample", "--seeds", "7", "--model", str(tiny_model), "--size", str(res),
                 "--threads", "1", "--out", str(out)]) == 0
    cli = np.asarray(Image.open(out).convert("RGB")).astype(int)
    # (The window's render service runs G channels-last: pixels may differ by one level.)
    assert np.abs(cli - window.canvas.current_image().astype(int)).max() <= 1


def test_a_second_start_shows_the_last_face_before_the_model_loads(qapp, tiny_model, tmp_path,
                                                                    monkeypatch):
    from PySide6.QtWidgets import QApplication

    from explorer.ui.launch import launch
    from explorer.ui.main_window import MainWindow
    from explorer.ui.startup import StartupSplash, last_frame_path

    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path))
    seen: dict[str, object] = {}

    def run_until_live(app) -> int:  # stands in for app.exec(): until the window shows a face
        tops = QApplication.topLevelWidgets()
        seen["splash"] = [w for w in tops if isinstance(w, StartupSplash) and w.isVisible()]
        win = next(w for w in tops if isinstance(w, MainWindow) and w.isVisible())
        end = time.perf_counter() + 20
        while win.canvas.canvas.painted_id < 1 and time.perf_counter() < end:
            app.processEvents()
            time.sleep(0.005)
        app.processEvents()
        seen["frame"] = win.canvas.current_image()
        seen["splash_after"] = [w for w in seen["splash"] if w.isVisible()]
        win.close()
        win.deleteLater()
        return 0

    monkeypatch.setattr(QApplication, "exec", run_until_live)
    path = last_frame_path(str(tiny_model))
    assert launch(["--model", str(tiny_model)]) == 0
    assert seen["splash"] == [] and path.exists()  # a first start has nothing to show yet
    first = seen["frame"]
    assert launch(["--model", str(tiny_model)]) == 0
    (splash,) = seen["splash"]  # the second shows the first one's face at once...
    assert seen["splash_after"] == []  # ...until the live window has painted its own
    shown = qimage_to_array(splash.findChild(QLabel).pixmap().toImage())
    kept = qimage_to_array(QImage(str(path)))
    np.testing.assert_array_equal(kept, first)
    assert shown.shape[0] > kept.shape[0]  # enlarged for the screen


def test_the_bundled_models_last_frame_is_keyed_by_its_name(monkeypatch):
    """When the default model changes, the splash does not show the old model's face."""
    from explorer import assets
    from explorer.ui.startup import last_frame_path

    monkeypatch.delenv("FACE_EXPLORER_MODEL", raising=False)
    now = last_frame_path(None)
    monkeypatch.setattr(assets, "DEFAULT_MODEL_NAME", "another.safetensors")
    assert last_frame_path(None) != now
    assert last_frame_path("m.safetensors") == last_frame_path("m.safetensors")
