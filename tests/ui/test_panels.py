"""Interpolation export, analogy slots, scatter click and custom slider, training monitor."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from explorer.core.analogy import analogy
from explorer.core.latents import seed_latent
from explorer.ui.images import latent_mime, qimage_to_array


def test_export_short_interpolation_writes_a_video_that_decodes(window, qtbot, tmp_path):
    av = pytest.importorskip("av")
    interp = window.interpolation
    interp.add_current.click()
    window.canvas.seed.setValue(5)
    interp.add_current.click()
    assert interp.keys.count() == 2
    interp.frames.setValue(6)
    interp.fps.setValue(12)
    out = tmp_path / "walk.mp4"
    done = []
    interp.exported.connect(done.append)
    interp.exportFailed.connect(lambda m: done.append("FAILED " + m))
    interp.export(out)
    qtbot.waitUntil(lambda: bool(done), timeout=20000)
    assert done == [str(out)]
    with av.open(str(out)) as f:
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
    assert len(frames) == 6
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).mean() > 1  # it moves


def test_a_walk_from_a_photo_starts_as_the_photo(window, qtbot, tmp_path, monkeypatch):
    """Keyframes carry a photo's detail: frame 0 of the exported walk is the photo as the canvas
    draws it, the playback shows it, and a seed keyframe is reached without it (at ψ 1, as the
    whole walk through a photo is drawn)."""
    b, interp = window.bundle, window.interpolation
    zp = seed_latent(8, b.nz)
    detail = np.random.default_rng(1).normal(0, 0.5, b.detail_shape).astype(np.float32)
    window.state.load_latent(zp, "me.jpg", detail=detail)
    interp.add_current.click()
    interp.add_keyframe(seed_latent(9, b.nz), "seed 9")
    np.testing.assert_array_equal(interp.keys.detail(0), detail)
    assert interp.keys.detail(1) is None
    interp.frames.setValue(5)
    details = interp.walk_details()
    assert details is not None and not details[-1].any()
    np.testing.assert_array_equal(details[0], detail)

    interp.fps.setValue(1)  # a frame a second: the first is still shown when checked below
    interp.play.click()  # the canvas shows the walk's first frame with the photo's detail
    qtbot.waitUntil(lambda: window.state.preview_z is not None, timeout=3000)
    np.testing.assert_array_equal(window.state.render_detail(1)[0], detail)
    interp.stop()
    assert window.state.preview_z is None and window.state.preview_detail is None

    import explorer.core.video as video

    written = []

    def capture(frames, path, **kw):  # the frames the panel hands to the video writer
        written.extend(frames)
        return Path(path)

    monkeypatch.setattr(video, "export_video", capture)
    done = []
    interp.exported.connect(done.append)
    interp.exportFailed.connect(lambda m: done.append("FAILED " + m))
    interp.export(tmp_path / "walk.mp4", show_progress=False)
    qtbot.waitUntil(lambda: bool(done), timeout=20000)
    assert not done[0].startswith("FAILED") and len(written) == 5
    np.testing.assert_array_equal(written[0], b.generate(zp[None], detail=detail)[0])
    assert np.abs(written[0].astype(int)
                  - b.generate(zp[None], psi=window.state.psi)[0].astype(int)).mean() > 1
    np.testing.assert_array_equal(written[-1], b.generate(seed_latent(9, b.nz)[None])[0])


def test_play_walk_in_canvas(window, qtbot):
    interp = window.interpolation
    interp.add_current.click()
    window.canvas.seed.setValue(3)
    interp.add_current.click()
    interp.frames.setValue(4)
    interp.fps.setValue(60)
    seen = []
    window.canvas.canvas.painted.connect(seen.append)
    interp.play.click()
    qtbot.waitUntil(lambda: not interp.timer.isActive(), timeout=5000)
    assert len(seen) >= 4
    assert window.state.preview_z is None  # back to the edited face afterwards


def test_analogy_slots_produce_the_result(window, qtbot):
    panel = window.analogy
    za, zb, zc = (seed_latent(s, window.bundle.nz) for s in (1, 2, 3))
    panel.set_slot("A", za)
    # B arrives by drag and drop, as from the favourites strip.
    md = latent_mime(zb, "fav")
    from PySide6.QtGui import QDropEvent

    ev = QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, md, Qt.MouseButton.LeftButton,
                    Qt.KeyboardModifier.NoModifier)
    panel.slots["B"].dropEvent(ev)
    np.testing.assert_array_equal(panel.slots["B"].z, zb)
    assert panel.result_image is None  # C still empty
    window.state.load_latent(zc, "c")
    [b for b in panel.findChildren(type(panel.use)) if b.text() == "Use current"][2].click()
    qtbot.waitUntil(lambda: panel.result_image is not None, timeout=10000)  # drawn off the GUI
    want = window.bundle.generate(analogy(za, zb, zc, 1.0)[None], psi=window.state.psi)[0]
    np.testing.assert_array_equal(panel.result_image, want)
    assert panel.strip_images.shape[0] == 5
    assert not panel.result.pixmap().isNull()
    panel.use.click()
    np.testing.assert_allclose(window.state.custom_z, analogy(za, zb, zc, 1.0), atol=1e-6)


def test_a_photo_in_slot_c_keeps_its_detail_through_the_analogy(window, qtbot):
    """A − B + (a photo): the photo's detail rides from its list, by drag and drop, into slot C,
    the result, the strip and the canvas, as it does through the sliders."""
    from PySide6.QtGui import QDropEvent

    from explorer.ui.face_list import FaceList

    b, panel = window.bundle, window.analogy
    za, zb, zc = (seed_latent(s, b.nz) for s in (1, 2, 3))
    detail = np.random.default_rng(0).normal(0, 0.5, b.detail_shape).astype(np.float32)
    photos = FaceList()
    photos.add_face("me.jpg", zc, None, detail)
    md = photos.mimeData([photos.item(0)])
    panel.set_slot("A", za)
    panel.set_slot("B", zb)
    panel.slots["C"].dropEvent(QDropEvent(QPointF(5, 5), Qt.DropAction.CopyAction, md,
                                          Qt.MouseButton.LeftButton,
                                          Qt.KeyboardModifier.NoModifier))
    np.testing.assert_array_equal(panel.slots["C"].detail, detail)
    qtbot.waitUntil(window.state.background_idle, timeout=10000)
    result = analogy(za, zb, zc, 1.0)
    with_detail = b.generate(result[None], detail=detail)[0]
    without = b.generate(result[None], psi=window.state.psi)[0]
    np.testing.assert_array_equal(panel.result_image, with_detail)
    assert np.abs(with_detail.astype(int) - without.astype(int)).mean() > 1  # it shows
    np.testing.assert_array_equal(panel.strip_images[0], b.generate(zc[None], detail=detail)[0])
    panel.use.click()
    np.testing.assert_array_equal(window.state.custom_detail, detail)
    # And the canvas hands the photo on: "Use current" in A carries the detail too.
    [x for x in panel.findChildren(type(panel.use)) if x.text() == "Use current"][0].click()
    np.testing.assert_array_equal(panel.slots["A"].detail, detail)


def compute_scatter(window, qtbot):
    panel = window.scatter
    window.tools.setCurrentWidget(panel)
    panel.compute()
    qtbot.waitUntil(lambda: panel.points is not None, timeout=30000)
    return panel


def test_scatter_click_loads_the_face(window, qtbot):
    panel = compute_scatter(window, qtbot)
    n_atlas = len(window.bundle.atlas_z)
    assert panel.points.shape == (n_atlas, 2)
    panel.colour.setCurrentText("Smiling")
    # Click on a real point: map its data position to the widget and send a mouse click.
    vb = panel.plot.getPlotItem().getViewBox()
    (x0, x1), (y0, y1) = vb.viewRange()
    p = panel.points
    inside = np.flatnonzero((p[:, 0] > x0) & (p[:, 0] < x1) & (p[:, 1] > y0) & (p[:, 1] < y1))
    q = (p - [x0, y0]) / [x1 - x0, y1 - y0]
    d = np.linalg.norm(q[inside, None] - q[None], axis=-1)
    d[d == 0] = np.inf
    i = int(inside[np.argmax(d.min(1))])  # the visible point with the most room around it
    scene = vb.mapViewToScene(QPointF(*panel.points[i]))
    pos = panel.plot.mapFromScene(scene)
    qtbot.mouseClick(panel.plot.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: window.state.custom_z is not None, timeout=3000)
    np.testing.assert_array_equal(window.state.custom_z, window.bundle.atlas_z[i])
    assert window.canvas.current_image() is not None
    # The render service draws channels-last, `generate` contiguous: a level apart at most.
    np.testing.assert_allclose(window.canvas.images[0],
                               window.bundle.generate(window.bundle.atlas_z[i][None],
                                                      psi=window.state.psi)[0], rtol=0, atol=1)
    panel._hovered(panel.scatter, [p for p in panel.scatter.points() if p.data() == i], None)
    qtbot.waitUntil(lambda: "img" in panel._tip(i), timeout=10000)  # the tooltip shows the face
    np.testing.assert_array_equal(panel._faces[i], window.bundle.generate(
        window.bundle.atlas_z[i][None], psi=window.state.psi)[0])


def test_scatter_groups_make_a_named_slider(window, qtbot):
    panel = compute_scatter(window, qtbot)
    labels = window.bundle.atlas_labels[:, window.bundle.attribute_names.index("Male")]
    panel.set_group("A", np.flatnonzero(labels > 0))
    panel.set_group("B", np.flatnonzero(labels < 0))
    assert panel.make.isEnabled()
    panel.name.setText("my male")
    panel.make.click()
    assert "my male" in window.sliders.rows
    img = window.canvas.current_image().copy()
    window.sliders.rows["my male"].slider.setValue(300)
    assert not np.array_equal(window.canvas.current_image(), img)
    window.undo_action.trigger()
    window.undo_action.trigger()
    assert "my male" not in window.sliders.rows


def test_favourites_star_and_reload(window):
    window.canvas.seed.setValue(9)
    window.favourites.star.click()
    assert len(window.state.favourites) == 1 and window.favourites.list.count() == 1
    window.canvas.seed.setValue(1)
    window.favourites.load(0)
    np.testing.assert_array_equal(window.state.custom_z, window.state.favourites[0].z)


def test_a_starred_photo_keeps_its_detail(window, qtbot):
    """Starring a photo as drawn (with its detail) and reloading it shows the same face; the
    strip's thumbnail is that face too, not the latent alone."""
    st = window.state
    rng = np.random.default_rng(1)
    detail = rng.normal(size=window.bundle.detail_shape).astype(np.float32)
    st.load_latent(rng.normal(size=window.bundle.nz).astype(np.float32), "photo", detail=detail)
    drawn = window.canvas.current_image().copy()
    window.favourites.star.click()
    window.canvas.seed.setValue(3)  # another face, no detail
    assert st.custom_detail is None
    window.favourites.load(0)
    np.testing.assert_array_equal(st.custom_detail, detail)
    np.testing.assert_array_equal(window.canvas.current_image(), drawn)
    fav = st.favourites[0]
    res = window.bundle.resolution
    qtbot.waitUntil(lambda: not window.favourites.list.item(0).icon().isNull(), timeout=10000)
    icon = window.favourites.list.item(0).icon().pixmap(res, res).toImage()
    thumb = qimage_to_array(icon).astype(int)
    for detail_, close in ((fav.detail, True), (None, False)):
        face = window.bundle.generate(fav.z, detail=detail_)[0].astype(int)
        assert (np.abs(thumb - face).max() <= 1) == close


def test_monitor_polls_a_run_folder(qtbot, tmp_path):
    from PySide6.QtGui import QImage

    from explorer.ui.monitor_panel import MonitorPanel

    run = tmp_path / "run"
    (run / "samples").mkdir(parents=True)
    recs = [{"phase": "gan", "step": s, "total_steps": 40, "d_real": 0.6, "d_fake": 0.3,
             "g_fool": 0.35} for s in (10, 20)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs) + '{"pha')
    q = QImage(40, 40, QImage.Format.Format_RGB888)
    q.fill(Qt.GlobalColor.red)
    q.save(str(run / "samples" / "grid_000010.png"))
    mon = MonitorPanel(interval_ms=50)
    qtbot.addWidget(mon)
    mon.open_run(run)
    x, y = mon.curves["d_real"].getData()
    assert list(x) == [10, 20] and list(y) == [0.6, 0.6]
    assert mon.grid_path.name == "grid_000010.png"
    # The trainer keeps writing: the half line completes, a new grid appears.
    with open(run / "metrics.jsonl", "a") as f:
        f.write('se": "gan", "step": 30, "d_real": 0.5, "d_fake": 0.4, "g_fool": 0.4}\n')
    q.save(str(run / "samples" / "grid_000030.png"))
    qtbot.waitUntil(lambda: len(mon.curves["g_fool"].getData()[0]) == 3, timeout=3000)
    qtbot.waitUntil(lambda: mon.grid_path.name == "grid_000030.png", timeout=3000)
    assert "step 30" in mon.phase.text()
    mon.stop()


def test_cancelled_export_leaves_no_file_and_the_app_usable(window, qtbot, tmp_path):
    interp = window.interpolation
    interp.add_current.click()
    window.canvas.seed.setValue(2)
    interp.add_current.click()
    interp.frames.setValue(2000)
    out = tmp_path / "long.gif"
    msgs = []
    interp.exportFailed.connect(msgs.append)
    interp.exported.connect(msgs.append)
    job = interp.export(out)
    assert interp.dialog is not None
    from PySide6.QtWidgets import QPushButton

    interp.dialog.findChild(QPushButton).click()  # the progress dialog's Cancel button
    qtbot.waitUntil(lambda: bool(msgs), timeout=20000)
    assert job.cancelled()
    assert msgs == ["Export cancelled."]
    assert not out.exists()
    assert interp.dialog is None
    window.canvas.seed.setValue(3)  # still usable
    assert window.canvas.current_image() is not None
