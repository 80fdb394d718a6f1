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
