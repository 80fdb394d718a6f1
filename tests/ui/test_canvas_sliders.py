"""Canvas and sliders, driven through the real widgets."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.core.edits import apply_edits, attribute_scores
from explorer.core.render import RenderRequest
from explorer.ui.images import qimage_to_array, tile
from explorer.ui.throttle import Throttle


def painted(win) -> np.ndarray:
    return qimage_to_array(win.canvas.canvas.grab().toImage())


def drag(row, values) -> None:
    """Press, move through ``values`` and release, as a mouse drag does."""
    row.slider.setSliderDown(True)
    for v in values:
        row.slider.setValue(v)
    row.slider.setSliderDown(False)  # emits sliderReleased


def expected(win, alphas, locks=()):
    st = win.state
    z = apply_edits(st.base_latents(), st.directions, alphas, locks)
    y = st.scene.conditions(st.scene.base_conditions(), len(z))
    res = win.service.render(RenderRequest(0, z, y, psi=st.psi))
    return tile(res.images, int(np.ceil(np.sqrt(len(z)))))


def test_slider_drag_repaints_live_and_last_value_wins(live_window, qtbot):
    win = live_window
    before = painted(win)
    row = win.sliders.rows["Smiling"]
    seen = []
    win.canvas.canvas.painted.connect(seen.append)
    drag(row, list(range(0, 301, 10)) + [250])  # 32 moves within a few ms; ends at alpha 2.5
    qtbot.waitUntil(lambda: win.canvas.renderer.idle() and not row.throttle.pending, timeout=5000)
    qtbot.waitUntil(lambda: win.canvas.canvas.painted_id == win.canvas.renderer.last_id,
                    timeout=5000)
    assert win.state.alphas["Smiling"] == 2.5
    assert len(seen) < 32  # throttled and stale frames dropped, not one render per move
    np.testing.assert_array_equal(win.canvas.current_image(), expected(win, {"Smiling": 2.5}))
    after = painted(win)
    assert np.abs(after.astype(int) - before.astype(int)).mean() > 0.5  # the pixels changed


def test_throttle_leading_and_trailing(qtbot):
    calls = []
    th = Throttle(calls.append, 30)
    for i in range(10):
        th(i)
    assert calls == [0]  # leading edge at once
    qtbot.waitUntil(lambda: calls == [0, 9], timeout=1000)  # trailing edge: only the last


def test_locked_attribute_stays_put(window):
    st = window.state
    window.sliders.rows["Male"].lock.click()
    assert st.locks == {"Male"}
    assert not window.sliders.rows["Male"].slider.isEnabled()
    male = st.directions.names.index("Male")
    score0 = attribute_scores(st.edited_latents(), st.directions)[:, male]
    drag(window.sliders.rows["Smiling"], [100, 200, 300])
    drag(window.sliders.rows["Young"], [-150])
    assert st.alphas["Smiling"] == 3.0
    score1 = attribute_scores(st.edited_latents(), st.directions)[:, male]
    np.testing.assert_allclose(score1, score0, atol=1e-4)
    st.set_alpha("Male", 2.0)  # a locked slider cannot be moved, even programmatically
    assert "Male" not in st.alphas
    np.testing.assert_array_equal(window.canvas.current_image(),
                                  expected(window, {"Smiling": 3.0, "Young": -1.5}, ["Male"]))


def test_grid_faces_all_get_the_same_edit(window):
    window.canvas.grid.setCurrentIndex(2)  # 3x3
    assert window.canvas.images.shape[0] == 9
    plain = window.canvas.images.copy()
    drag(window.sliders.rows["Blond_Hair"], [200])
    st = window.state
    shift = st.edited_latents() - st.base_latents()
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-5)
    assert np.abs(shift[0]).sum() > 0
    assert (np.abs(window.canvas.images.astype(int) - plain).reshape(9, -1).mean(1) > 0).all()


def test_seed_and_psi_controls(window):
    img0 = window.canvas.current_image().copy()
    window.canvas.seed.setValue(7)
    assert window.state.seed == 7
    assert not np.array_equal(window.canvas.current_image(), img0)
    window.canvas.seed.setValue(0)
    np.testing.assert_array_equal(window.canvas.current_image(), img0)  # a seed names a face
    window.canvas.psi.setValue(0.3)
    assert window.state.psi == 0.3
    assert not np.array_equal(window.canvas.current_image(), img0)


def test_undo_restores_previous_state(window):
    st = window.state
    img0 = window.canvas.current_image().copy()
    drag(window.sliders.rows["Smiling"], [50, 100, 150])  # one drag = one undo step
    window.sliders.rows["Eyeglasses"].lock.click()
    window.canvas.seed.setValue(11)
    assert st.undo_stack.count() == 3
    window.undo_action.trigger()
    assert st.seed == 0 and st.locks == {"Eyeglasses"}
    window.undo_action.trigger()
    assert st.locks == set()
    assert window.sliders.rows["Smiling"].slider.value() == 150
    window.undo_action.trigger()
    assert st.alphas.get("Smiling", 0.0) == 0.0
    assert window.sliders.rows["Smiling"].slider.value() == 0
    np.testing.assert_array_equal(window.canvas.current_image(), img0)
    window.redo_action.trigger()
    assert st.alphas["Smiling"] == 1.5


def test_filter_reset_and_method(window):
    sl = window.sliders
    sl.filter.setText("hair")
    visible = [n for n, r in sl.rows.items() if not r.isHidden()]
    assert visible == ["Blond_Hair", "Black_Hair"]
    drag(sl.rows["Smiling"], [120])
    sl.reset_all.click()
    assert window.state.alphas["Smiling"] == 0.0
    sl.method.setCurrentText("linear")
    assert window.state.method == "linear"
    assert window.state.directions.method == "linear"


@pytest.mark.parametrize("which", ["cgan_bundle", "cstyle_bundle"])
def test_cgan_cond_sliders_drive_y(open_window, which, request):
    cgan_bundle = request.getfixturevalue(which)  # a cgan, or a conditional style G
    win = open_window(cgan_bundle)
    assert "(y)" in win.sliders.rows["Smiling"].label.text()
    img0 = win.canvas.current_image().copy()
    z0 = win.state.edited_latents().copy()
    i = cgan_bundle.cond_attributes.index("Smiling")
    own = win.state.scene.base_conditions()[0, i]  # the seed's own condition
    _, y0 = win.state.render_inputs()
    assert y0[0, i] == own
    drag(win.sliders.rows["Smiling"], [-100])
    _, y = win.state.render_inputs()
    from explorer.core.edits import SLIDER_END, y_limits

    lim = float(y_limits(cgan_bundle.y_reach, cgan_bundle.n_cond)[i])
    step = (lim + 1) / SLIDER_END  # one slider step in y, for this attribute's reach
    assert y[0, i] == np.float32(np.clip(own - step, -lim, lim))  # moves the face's own y
    np.testing.assert_array_equal(win.state.edited_latents(), z0)  # y moved, not z
    assert not np.array_equal(win.canvas.current_image(), img0)


def test_export_png_copy_and_about(window, tmp_path):
    out = window.export_png(tmp_path / "faces.png", 128)
    from PySide6.QtGui import QImage

    q = QImage(str(out))
    assert (q.width(), q.height()) == (128, 128)
    window.copy_image()
    from PySide6.QtWidgets import QApplication

    assert not QApplication.clipboard().image().isNull()
    about = window.about_text()
    assert window.bundle.name in about
    assert f"{window.bundle.resolution}×{window.bundle.resolution}" in about
    for key in window.bundle.meta.get("provenance", {}):
        assert key in about


def test_grid_drag_redraws_part_of_the_grid_exactly_then_all_of_it_on_release(window):
    win = window
    win.state.set_grid(3)
    res = win.bundle.resolution
    row = win.sliders.rows["Smiling"]
    old = win.canvas.images.copy()
    row.slider.setSliderDown(True)
    row.slider.setValue(200)  # a drag over a 3x3 grid: face 0 and a quarter of the rest
    moving = win.canvas.images.copy()
    full = expected(win, {"Smiling": 2.0})
    faces = [full[r * (res + 1): r * (res + 1) + res, c * (res + 1): c * (res + 1) + res]
             for r in range(3) for c in range(3)]
    redrawn = [i for i in range(9) if not np.array_equal(moving[i], old[i])]
    assert 0 in redrawn and 1 <= len(redrawn) <= 3  # a fraction of the grid per frame...
    for i in range(9):  # ...and every face shown is exactly one edit or the other, never a blur
        np.testing.assert_array_equal(moving[i], faces[i] if i in redrawn else old[i])
    row.slider.setValue(210)
    again = [i for i in range(9) if not np.array_equal(win.canvas.images[i], moving[i])]
    assert set(again) - {0}, "the next frame redraws other faces"
    row.slider.setSliderDown(False)  # release: the whole grid at the final value
    np.testing.assert_array_equal(win.canvas.current_image(), expected(win, {"Smiling": 2.1}))
