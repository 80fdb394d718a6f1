"""Thumbnails and video frames are drawn in the render service's background lane: on its thread,
never the GUI thread, and never with the bundle's G (which photo fitting uses on a pool thread)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from explorer.core.latents import seed_latent
from explorer.ui.state import Photo


def test_thumbnails_and_video_frames_are_drawn_off_the_gui_thread(window, qtbot, tmp_path,
                                                                   monkeypatch):
    b, st = window.bundle, window.state
    ran: dict[str, list[str]] = {"lane": [], "bundle": []}
    hooks = [window.service._G_exact.register_forward_pre_hook(
                 lambda *_: ran["lane"].append(threading.current_thread().name)),
             b.network("G").register_forward_pre_hook(
                 lambda *_: ran["bundle"].append(threading.current_thread().name))]
    try:
        # Favourites, analogy slots and result, keyframes, a reopened photo, the scatter map.
        st.add_favourite()
        for n, s in zip("ABC", (1, 2, 3), strict=True):
            window.analogy.set_slot(n, seed_latent(s, b.nz))
        interp = window.interpolation
        interp.add_keyframe(seed_latent(4, b.nz), "four")
        interp.add_keyframe(seed_latent(5, b.nz), "five")
        res = b.resolution
        st.add_photo(Photo("me.jpg", "/me.jpg", seed_latent(6, b.nz),
                           face=np.zeros((res, res, 3), np.uint8), recon=None))
        # Nothing is drawn until the GUI thread returns to its event loop.
        assert window.analogy.result_image is None and st.photos[0].recon is None
        qtbot.waitUntil(st.background_idle, timeout=20000)

        assert not window.favourites.list.item(0).icon().isNull()
        assert all(not s.pixmap().isNull() for s in window.analogy.slots.values())
        assert window.analogy.result_image is not None
        assert all(not interp.keys.item(i).icon().isNull() for i in range(2))
        assert not window.photos.list.item(0).icon().isNull()

        # The video export's frames come from the same lane, waited for by the export's thread.
        import explorer.core.video as video

        written: list[np.ndarray] = []

        def capture(frames, path, **kw):
            written.extend(frames)
            return Path(path)

        monkeypatch.setattr(video, "export_video", capture)
        done: list[str] = []
        interp.exported.connect(done.append)
        interp.exportFailed.connect(lambda m: done.append("FAILED " + m))
        interp.frames.setValue(10)
        interp.export(tmp_path / "walk.mp4", show_progress=False)
        qtbot.waitUntil(lambda: bool(done), timeout=20000)
        assert not done[0].startswith("FAILED") and len(written) == 10
    finally:
        for h in hooks:
            h.remove()
    assert ran["lane"] and set(ran["lane"]) == {"render-service"}
    assert ran["bundle"] == []  # the bundle's G drew none of them
    # The pixels the CLI draws: the photo at ψ 1, the walk at the window's ψ.
    np.testing.assert_array_equal(st.photos[0].recon, b.generate(seed_latent(6, b.nz)[None])[0])
    np.testing.assert_array_equal(np.stack(written), b.generate(interp.walk(), psi=st.psi))
