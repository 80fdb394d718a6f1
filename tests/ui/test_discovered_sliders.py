"""Discovered directions become sliders (found off the UI thread) and can be kept as your own."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QInputDialog


def test_sefa_sliders_edit_the_face_and_one_can_be_kept(window, qtbot, monkeypatch):
    panel, s = window.sliders, window.state
    job = panel.discover("sefa", k=3)
    assert job is not None and not panel.discover_btn.isEnabled()  # the UI is free meanwhile
    qtbot.waitUntil(lambda: len(s.discovered) == 3, timeout=30000)
    names = [n for n, _, _ in s.discovered]
    assert all(n.startswith(f"SeFa {i + 1}: ") for i, n in enumerate(names))
    assert all(n in panel.rows and panel.rows[n].keep is not None for n in names)
    assert panel.rows[names[0]].label.text() == "SeFa 1"
    before = window.canvas.current_image().copy()
    panel.rows[names[0]].slider.setValue(250)
    assert not np.array_equal(window.canvas.current_image(), before)

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("my smile", True))
    panel.rows[names[0]].keep.click()
    assert [n for n, _ in s.custom_dirs] == ["my smile"]
    np.testing.assert_array_equal(s.custom_dirs[0][1], s_vec := s.directions.vector("my smile"))
    assert names[0] not in panel.rows and "my smile" in panel.rows
    assert s.alphas["my smile"] == 2.5 and panel.rows["my smile"].keep is None
    assert len(s.discovered) == 2 and abs(np.linalg.norm(s_vec) - 1) < 1e-5
    assert "my smile" in {d["name"] for d in s.to_session()["custom_dirs"]}
