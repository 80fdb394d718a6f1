"""Nothing the user built is lost (issue 14, items 3 and 4): sessions keep keyframes, analogy
slots, photos and settings, compactly; an old session still opens; quitting with unsaved work
asks; an autosave comes back after a crash; a session that does not fit the model is refused
saying why; errors show in the window, never only on stderr."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from explorer.core.latents import seed_latent


def same(a, b) -> bool:
    """Deep equality of session data (numpy arrays compared by value)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and np.isnan(a) and np.isnan(b):
        return True
    return a == b


def _photo(bundle, i: int):
    from explorer.ui.state import Photo

    rng = np.random.default_rng(i)
    res = bundle.resolution
    return Photo(f"photo{i}.jpg", f"/photos/photo{i}.jpg", seed_latent(100 + i, bundle.nz),
                 face=rng.integers(0, 255, (res, res, 3), dtype=np.uint8),
                 recon=rng.integers(0, 255, (res, res, 3), dtype=np.uint8), psnr=21.5,
                 top=[("Smiling", 0.9)],
                 detail=rng.normal(size=bundle.detail_shape).astype(np.float32))


def _build_everything(win) -> None:
    st, b = win.state, win.bundle
    win.sliders.rows["Smiling"].slider.setValue(120)
    for i in range(3):
        win.photos._done(_photo(b, i))  # as the encoder's worker reports a photo
    win.favourites.star.click()
    interp = win.interpolation
    interp.add_keyframe(seed_latent(1, b.nz), "seed 1")
    interp.add_keyframe(st.photos[1].z, st.photos[1].name, st.photos[1].detail)
    interp.frames.setValue(33)
    interp.loop.setChecked(True)
    interp.mode.setCurrentText("lerp")
    interp.fps.setValue(12)
    interp.size.setCurrentText("256")
    an = win.analogy
    an.set_slot("A", seed_latent(5, b.nz))
    an.set_slot("B", seed_latent(6, b.nz))
    an.set_slot("C", st.photos[0].z, st.photos[0].detail)
    an.strength.setValue(1.5)


def test_a_session_keeps_everything_the_user_built(window, open_window, tmp_path, qtbot,
                                                   no_modal_boxes):
    _build_everything(window)
    path = tmp_path / "work.json"
    assert window.save_session(path), no_modal_boxes
    doc = json.loads(path.read_text())
    # Arrays live compact beside the JSON, never as JSON lists or base64 text.
    assert doc["version"] == 2 and (tmp_path / doc["arrays"]["file"]).exists()
    assert "__ndarray__" not in path.read_text() and path.stat().st_size < 20_000

    other = open_window(window.bundle)
    assert other.open_session(path), no_modal_boxes
    assert same(window.state.to_session(), other.state.to_session())
    ik = other.interpolation
    assert ik.keys.count() == 2 and ik.frames.value() == 33 and ik.loop.isChecked()
    assert ik.mode.currentText() == "lerp" and ik.fps.value() == 12
    assert np.array_equal(ik.keys.detail(1), window.state.photos[1].detail)
    assert np.array_equal(ik.walk(), window.interpolation.walk())
    an = other.analogy
    assert an.strength.value() == 1.5 and an.result_z is not None
    qtbot.waitUntil(lambda: window.state.background_idle() and other.state.background_idle(),
                    timeout=10000)
    assert np.array_equal(an.result_image, window.analogy.result_image)
    assert np.array_equal(other.state.photos[2].face, window.state.photos[2].face)
    assert other.photos.list.count() == 3 and other.favourites.list.count() == 1
    assert not other.unsaved()


def test_twelve_photos_make_a_compact_session(window, tmp_path):
    for i in range(12):
        window.photos._done(_photo(window.bundle, i))
    path = tmp_path / "twelve.json"
    assert window.save_session(path)
    arrays = next(tmp_path.glob("twelve.arrays-*.safetensors"))
    payload = sum(a.nbytes for p in window.state.photos for a in (p.z, p.face, p.recon, p.detail))
    assert arrays.stat().st_size < payload * 1.2 + 50_000  # binary, not text
    assert path.stat().st_size < 20_000
    window.save_session(path)  # saving again replaces the arrays file, leaves no second one
    assert len(list(tmp_path.glob("twelve.arrays-*"))) == 1


def test_an_old_version_1_session_still_opens(window, tmp_path, no_modal_boxes):
    nz, shape = window.bundle.nz, window.bundle.detail_shape
    z = seed_latent(9, nz)
    detail = np.ones(shape, np.float32) * 0.25
    b64 = {"__ndarray__": base64.b64encode(detail.tobytes()).decode(), "dtype": "float32",
           "shape": list(shape)}
    old = {"format": "face-explorer-session", "version": 1, "state": {
        "seed": 7, "psi": 0.8, "grid": 2, "alphas": {"Smiling": 0.5}, "locks": [],
        "method": "sampled", "custom_z": z.tolist(), "custom_detail": b64, "custom_label": "x",
        "custom_dirs": [], "favourites": [{"name": "f", "z": z.tolist(), "detail": None}],
        "photos": [{"name": "p.jpg", "path": "p.jpg", "z": z.tolist(), "psnr": 20.0,
                    "top": [["Smiling", 0.7]], "detail": b64}]}}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old, indent=1))
    assert window.open_session(path), no_modal_boxes
    st = window.state
    assert st.seed == 7 and st.grid == 2 and st.alphas["Smiling"] == 0.5
    assert np.array_equal(st.custom_detail, detail) and len(st.photos) == 1
    assert window.interpolation.keys.count() == 0  # absent parts are simply empty


def test_quitting_with_unsaved_work_asks_first(window, tmp_path, monkeypatch):
    assert not window.unsaved()
    window.sliders.rows["Smiling"].slider.setValue(50)
    assert window.unsaved() and window.isWindowModified()
    asked = []
    monkeypatch.setattr(window, "ask_unsaved", lambda: asked.append(1) or "cancel")
    window.close()
    assert asked and window.isVisible()  # cancelled: nothing lost
    saved = tmp_path / "s.json"
    monkeypatch.setattr(window, "ask_unsaved", lambda: "save")
    monkeypatch.setattr(window, "save_session_dialog", lambda: window.save_session(saved))
    window.close()
    assert saved.exists() and not window.isVisible()


def test_keyframe_and_analogy_edits_count_as_unsaved_work(window):
    window.interpolation.add_keyframe(seed_latent(1, window.bundle.nz), "k")
    assert window.unsaved()
    window.save_session(window.autosave_path.parent / "x.json")
    assert not window.unsaved()
    window.analogy.set_slot("A", seed_latent(2, window.bundle.nz))
    assert window.unsaved()


def test_autosave_is_offered_back_after_a_crash(window, open_window, tmp_path, monkeypatch):
    folder = tmp_path / "autosave"
    window.autosave_path = folder / f"autosave-{os.getpid()}.json"
    _build_everything(window)
    assert window.autosave() == window.autosave_path and window.autosave() is None  # once
    # The process "crashes": its autosave stays, named after a process that no longer runs.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    from explorer.core.session import arrays_files, load_session, save_session

    save_session(folder / f"autosave-{dead.pid}.json", load_session(window.autosave_path))
    other = open_window(window.bundle)
    other.autosave_path = folder / "autosave-0.json"  # this window's own (pid 0 never crashes)
    monkeypatch.setattr(other, "ask_restore", lambda path: True)
    assert other.offer_restore()
    assert same(other.state.to_session(), window.state.to_session())
    assert other.interpolation.keys.count() == 2 and other.unsaved()
    assert not (folder / f"autosave-{dead.pid}.json").exists()
    assert not arrays_files(folder / f"autosave-{dead.pid}.json")
    window.close()  # a clean close removes the window's own autosave
    assert not window.autosave_path.exists() and not arrays_files(window.autosave_path)


def _hostile(window, tmp_path, name: str, **changes) -> dict:
    nz = window.bundle.nz
    state = {"seed": 3, "psi": 0.7, "grid": 1, "alphas": {}, "locks": [], "method": "sampled",
             "custom_z": seed_latent(3, nz), "custom_detail": None, "custom_label": "",
             "custom_dirs": [], "favourites": [], "photos": []}
    state.update(changes)
    from explorer.core.session import save_session

    save_session(tmp_path / f"{name}.json", state)
    return state


@pytest.mark.parametrize("name, changes, words", [
    ("short_latent", {"custom_z": np.zeros(5, np.float32)}, "has 5 values"),
    ("grid0", {"grid": 0}, "grid is 0"),
    ("grid60", {"grid": 60}, "grid is 60"),
    ("negative_seed", {"seed": -4}, "seed is -4"),
    ("huge_seed", {"seed": 2**40}, "seed is"),
    ("nan_psi", {"psi": float("nan")}, "psi is"),
    ("bad_direction", {"custom_dirs": [{"name": "mine", "vector": np.ones(3, np.float32)}]},
     "custom slider 'mine'"),
    ("bad_favourite", {"favourites": [{"name": "f", "z": np.ones(2, np.float32)}]},
     "favourite 'f'"),
])
def test_a_session_that_does_not_fit_the_model_is_refused(window, tmp_path, no_modal_boxes,
                                                          name, changes, words):
    _hostile(window, tmp_path, name, **changes)
    before = window.state.to_session()
    assert not window.open_session(tmp_path / f"{name}.json")
    assert no_modal_boxes and words in no_modal_boxes[-1] and "fit this model" in \
        no_modal_boxes[-1]
    assert same(window.state.to_session(), before)  # nothing changed
    # ... and the canvas still works.
    shown = window.canvas.renderer.shown_id
    window.sliders.rows["Smiling"].slider.setValue(77)
    assert window.canvas.renderer.shown_id > shown and window.canvas.error.isHidden()


def test_render_errors_show_in_the_window(window, monkeypatch):
    def broken():
        raise ValueError("shapes do not match")

    monkeypatch.setattr(window.state, "render_request", lambda *a, **k: broken())
    window.canvas.refresh()
    assert "shapes do not match" in window.statusBar().currentMessage()
    assert window.canvas.error.isVisible() and "shapes do not match" in window.canvas.error.text()


def test_an_error_inside_any_slot_reaches_the_window(window, qtbot, monkeypatch):
    from explorer.ui.main_window import install_error_hook

    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # restored after the test
    install_error_hook(window)

    def slot():
        raise RuntimeError("a slot failed")

    QTimer.singleShot(0, slot)
    qtbot.waitUntil(lambda: "a slot failed" in window.statusBar().currentMessage(), timeout=3000)


def _saved_with_detail(window, path):
    """A session of `window`'s model holding a photo detail (no other model's shape fits)."""
    detail = np.random.default_rng(0).normal(size=window.bundle.detail_shape).astype(np.float32)
    window.state.load_latent(seed_latent(42, window.bundle.nz), "photo-like", detail=detail)
    window.save_session(path)
    return path


def test_a_session_of_another_model_opens_in_a_window_on_that_model(
        window, open_window, cstyle_bundle, tmp_path, monkeypatch, no_modal_boxes):
    from explorer.ui import model_menu

    path = _saved_with_detail(window, tmp_path / "dcgan.json")
    started = []
    monkeypatch.setattr(model_menu, "open_in_new_window",
                        lambda model, start=None, session=None:
                        started.append((str(model), str(session))) or True)
    other = open_window(cstyle_bundle)  # the default model now: the session does not fit it
    before = other.state.to_session()
    assert not other.open_session(path)
    assert started == [(str(window.bundle.path), str(path))] and not no_modal_boxes
    assert same(other.state.to_session(), before)  # this window's work is untouched
    # The launcher, given the session alone, opens the model it was saved with.
    assert model_menu.session_model(path, cstyle_bundle.path) == window.bundle.path
    assert model_menu.session_model(path, window.bundle.path) is None
    program, args = model_menu.window_command(window.bundle.path, path)
    assert args[-4:] == ["--model", str(window.bundle.path), "--session", str(path)]


def test_a_crash_autosave_of_another_model_is_offered_in_a_window_on_it(
        window, open_window, cstyle_bundle, tmp_path, monkeypatch):
    from explorer.core.session import load_session, save_session
    from explorer.ui import model_menu

    folder = tmp_path / "autosave"
    window.autosave_path = folder / f"autosave-{os.getpid()}.json"
    _saved_with_detail(window, tmp_path / "s.json")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    crashed = folder / f"autosave-{dead.pid}.json"
    save_session(crashed, load_session(tmp_path / "s.json"))
    started = []
    monkeypatch.setattr(model_menu, "open_in_new_window",
                        lambda model, start=None, session=None: started.append(str(model)) or True)
    other = open_window(cstyle_bundle)
    other.autosave_path = folder / "autosave-0.json"
    monkeypatch.setattr(other, "ask_restore", lambda path: pytest.fail("asked here"))
    assert not other.offer_restore()
    assert started == [str(window.bundle.path)]  # that window asks, and restores
    assert crashed.exists()  # nothing is lost meanwhile
