"""The live attribute readout follows a slider drag, computed off the UI thread."""

from __future__ import annotations

import threading

import numpy as np

from explorer.core.classify import attribute_probabilities


def test_the_readout_follows_a_drag(window, qtbot):
    s, panel = window.state, window.sliders.readout
    assert panel.isVisible()
    qtbot.waitUntil(lambda: panel.current is not None, timeout=10000)
    name = next(n for n in s.slider_names if n in window.bundle.attribute_names)
    seen = []
    panel.updated.connect(seen.append)
    slider = window.sliders.rows[name].slider
    slider.setSliderDown(True)
    for v in range(0, 301, 30):
        slider.setValue(v)
        qtbot.wait(15)
    slider.setSliderDown(False)

    def final_matches() -> bool:
        r = panel.current
        if r is None or r.target != name:
            return False
        face = window.bundle.generate(s.current_latent()[None], psi=s.psi)
        want = attribute_probabilities(window.bundle, face)[0]
        return abs(r.after[name] - want[window.bundle.attribute_names.index(name)]) < 1e-5

    qtbot.waitUntil(final_matches, timeout=15000)
    r = panel.current
    assert len({round(x.after[name], 6) for x in seen}) >= 2  # it moved along with the drag
    unedited = window.bundle.generate(s.base_latents()[:1], psi=s.psi)
    p0 = attribute_probabilities(window.bundle, unedited)[0]
    np.testing.assert_allclose([r.before[n] for n in window.bundle.attribute_names], p0,
                               atol=1e-5)
    moved = {n: abs(r.after[n] - r.before[n]) for n in r.after if n != name}
    assert r.movers[0] == max(moved, key=moved.get)
    assert panel.worker_threads and threading.get_ident() not in panel.worker_threads
    texts = [panel.rows.itemAt(i).widget() for i in range(panel.rows.count())]
    assert any(getattr(w, "text", lambda: "")().endswith("(slider)") for w in texts)


def test_the_readout_lets_go_of_a_slider_set_back_to_zero(window, qtbot):
    panel = window.sliders.readout
    name = next(n for n in window.state.slider_names if n in window.bundle.attribute_names)
    window.sliders.rows[name].slider.setValue(200)
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.target == name,
                    timeout=15000)
    window.state.reset_alphas()
    qtbot.waitUntil(lambda: panel.current.target is None, timeout=15000)
    assert all(abs(panel.current.change(n)) < 1e-6 for n in panel.current.after)


def test_the_readout_waits_for_the_canvas_frame_and_then_follows(live_window, qtbot):
    """With the background renderer, a readout never starts while the canvas draws a frame of
    its own (on two cores it would slow that frame), and still catches up with the drag."""
    win = live_window
    s, panel = win.state, win.sliders.readout
    qtbot.waitUntil(lambda: panel.current is not None, timeout=10000)
    name = next(n for n in s.slider_names if n in win.bundle.attribute_names)
    started_while_drawing = []
    start = panel._start

    def watched() -> None:
        started_while_drawing.append(not win.canvas.renderer.idle())
        start()

    panel._start = watched
    slider = win.sliders.rows[name].slider
    slider.setSliderDown(True)
    for v in range(0, 301, 20):
        slider.setValue(v)
        qtbot.wait(10)
    slider.setSliderDown(False)

    def final_matches() -> bool:
        r = panel.current
        if r is None or r.target != name or not win.canvas.renderer.idle():
            return False
        face = win.bundle.generate(s.current_latent()[None], psi=s.psi)
        want = attribute_probabilities(win.bundle, face)[0]
        return abs(r.after[name] - want[win.bundle.attribute_names.index(name)]) < 1e-5

    qtbot.waitUntil(final_matches, timeout=15000)
    assert started_while_drawing and not any(started_while_drawing)
