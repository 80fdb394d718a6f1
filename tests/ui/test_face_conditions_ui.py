"""On a conditional model the window draws each face with its own condition, and the condition
travels with the face: starred, put on a keyframe or an analogy slot, dragged, saved in a
session and opened again."""

from __future__ import annotations

import numpy as np

from explorer.core.edits import y_limits
from explorer.ui.images import condition_from_mime, latent_mime


def test_faces_keep_their_condition_through_every_panel(open_window, cstyle_bundle, tmp_path,
                                                        qtbot, no_modal_boxes):
    win = open_window(cstyle_bundle)
    st = win.state
    i = cstyle_bundle.cond_attributes.index("Smiling")
    win.sliders.rows["Smiling"].slider.setValue(-300)  # Smiling -3: to the end of the y range
    drawn = st.current_condition()
    lim = y_limits(cstyle_bundle.y_reach, cstyle_bundle.n_cond)
    assert drawn is not None and drawn[i] == -lim[i]  # the far end of Smiling's reach
    np.testing.assert_array_equal(st.render_request().y[0], drawn)

    win.favourites.star.click()  # starred as drawn, the slider's move included
    fav = st.favourites[-1]
    np.testing.assert_array_equal(fav.y, drawn)
    win.interpolation.add_current.click()
    np.testing.assert_array_equal(win.interpolation.keys.condition(0), drawn)
    win.analogy.set_slot("A", st.current_latent(), None, st.current_condition())
    np.testing.assert_array_equal(win.analogy.slots["A"].y, drawn)
    an = win.analogy  # the conditions take part in the arithmetic
    y_b, y_c = np.zeros(2, np.float32), np.array([1.0, 1.0], np.float32)
    an.set_slot("B", st.current_latent(), None, y_b)
    an.set_slot("C", st.current_latent(), None, y_c)
    np.testing.assert_array_equal(an.result_y, np.clip(y_c + drawn - y_b, -lim, lim))
    ik = win.interpolation  # a walk blends the keyframes' conditions
    ik.add_keyframe(st.current_latent(), "C", None, y_c)
    walk_y = ik.walk_conditions()
    np.testing.assert_array_equal(walk_y[0], drawn)
    np.testing.assert_array_equal(walk_y[-1], y_c)
    md = latent_mime(st.current_latent(), "face", None, drawn)  # a drag carries it too
    np.testing.assert_array_equal(condition_from_mime(md, cstyle_bundle.n_cond), drawn)

    # Loaded back, the sliders reset: the face is drawn exactly as it was starred.
    st.set_seed(3)
    win.favourites.load(0)
    assert st.alphas.get("Smiling", 0.0) == 0.0
    np.testing.assert_array_equal(st.render_request().y[0], drawn)

    path = tmp_path / "cond.json"
    assert win.save_session(path), no_modal_boxes
    other = open_window(cstyle_bundle)
    assert other.open_session(path), no_modal_boxes
    np.testing.assert_array_equal(other.state.favourites[0].y, drawn)
    np.testing.assert_array_equal(other.state.render_request().y[0], drawn)
    np.testing.assert_array_equal(other.interpolation.keys.condition(0), drawn)
    np.testing.assert_array_equal(other.analogy.slots["A"].y, drawn)
    qtbot.waitUntil(lambda: st.background_idle() and other.state.background_idle(),
                    timeout=10000)


def test_other_models_open_in_windows_of_their_own(window, monkeypatch):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    from explorer.assets import default_model_file
    from explorer.ui import model_menu

    shipped = model_menu.bundled_models()
    assert shipped and shipped[0] == default_model_file()  # the default first
    assert {p.name for p in shipped} >= {"celeba64.safetensors", "style64-cond.safetensors"}
    started = []
    monkeypatch.setattr(model_menu, "open_in_new_window",
                        lambda path, start=None: started.append(str(path)) or True)
    window.models_menu.aboutToShow.emit()
    acts = {a.text(): a for a in window.models_menu.actions()}
    assert set(acts) == {p.stem for p in shipped}
    acts[shipped[1].stem].trigger()  # the one beside the default
    assert started == [str(shipped[1])]
    # A model file dropped on the window opens the same way, not as a photo.
    md = QMimeData()
    md.setUrls([QUrl.fromLocalFile(str(shipped[1]))])
    ev = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    window.dropEvent(ev)
    assert started[-1] == str(shipped[1]) and not window.photos.queue
    # The command a new window runs is the app itself, on that model.
    program, args = model_menu.window_command(shipped[1])
    assert args[-2:] == ["--model", str(shipped[1])] and "explorer.app" in args[1]


def test_an_exported_walk_draws_a_y_slider_as_the_canvas_does(open_window, cstyle_bundle,
                                                               tmp_path, qtbot, monkeypatch):
    """The y slider's latent correction (`cond.correction`) reaches the export: with the slider
    moved after the keyframes were added, the walk's first frame is the canvas's face."""
    import explorer.core.video as video

    assert cstyle_bundle.cond_correction is not None
    win = open_window(cstyle_bundle)
    st, interp = win.state, win.interpolation
    interp.add_current.click()  # seed 0, sliders at 0
    win.canvas.seed.setValue(5)
    interp.add_current.click()
    win.canvas.seed.setValue(0)
    win.sliders.rows["Male"].slider.setValue(300)  # Male +3, a y slider
    canvas = st.scene.draw(st.render_request())[0]
    written = []
    monkeypatch.setattr(video, "export_video",
                        lambda frames, path, **kw: written.extend(frames) or path)
    done = []
    interp.exported.connect(done.append)
    interp.exportFailed.connect(lambda m: done.append("FAILED " + m))
    interp.frames.setValue(4)
    interp.export(tmp_path / "walk.mp4", show_progress=False)
    qtbot.waitUntil(lambda: bool(done), timeout=20000)
    assert not str(done[0]).startswith("FAILED") and len(written) == 4
    np.testing.assert_array_equal(written[0], canvas)
    # Without the correction the same y would draw another face.
    req = st.render_request()
    alone = cstyle_bundle.generate(interp.keys.latent(0)[None], req.y[:1], psi=1.0)[0]
    assert np.abs(alone.astype(int) - canvas.astype(int)).mean() > 0.5
