"""What the window says matches what is on the canvas: the seed box, the photo status, names of
keyframes and favourites; "Add photos" asks which; long tooltips wrap."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtGui import Qt as GuiQt
from PySide6.QtWidgets import QApplication

from explorer.core.latents import seed_latent
from explorer.core.naming import face_name
from explorer.ui import pick_dialog
from explorer.ui.face_list import LABEL_ROLE
from explorer.ui.state import Photo


def _photo(bundle, name: str, seed: int) -> Photo:
    z = seed_latent(seed, bundle.nz)
    return Photo(name, f"/tmp/{name}", z, recon=bundle.generate(z[None])[0])


def test_the_seed_box_shows_the_photo_or_favourite_on_the_canvas(window):
    box = window.canvas.seed
    window.canvas.seed.setValue(7)
    assert box.text() == "7"
    window.state.load_latent(seed_latent(3, window.bundle.nz), "me.jpg")
    assert box.text() == "me.jpg" and window.state.seed == 7
    box.stepUp()  # stepping goes back to seeds
    assert window.state.custom_z is None and box.text() == "0" and window.state.seed == 0


def test_keyframes_and_favourites_are_named_after_the_face(window):
    s, interp = window.state, window.interpolation
    window.canvas.seed.setValue(7)
    interp.add_current.click()
    fav = s.add_favourite()
    assert fav.name == "★1 seed 7"
    name = s.slider_names[0]
    s.set_alpha(name, 1.25)
    fav2 = s.add_favourite()
    assert fav2.name == f"★2 seed 7 · {name.replace('_', ' ')} +1.25"
    window.favourites.load(1)  # a favourite on the canvas is named as the favourite
    interp.add_current.click()
    s.load_latent(seed_latent(3, window.bundle.nz), "me.jpg")
    interp.add_current.click()
    labels = [interp.keys.item(i).data(LABEL_ROLE) for i in range(interp.keys.count())]
    assert labels == ["seed 7", fav2.name, "me.jpg"]
    assert s.add_favourite().name == "★3 me.jpg"
    assert (face_name(2, "", {"A_b": -0.5, "C": 2.0, "D": 0.1})
            == "seed 2 · C +2.00, A b −0.50, +1 more")


def test_photo_status_resets_and_one_click_on_a_thumbnail_loads_it(window, qtbot):
    s, panel = window.state, window.photos
    for i, n in enumerate(("a.jpg", "b.jpg")):
        s.add_photo(_photo(window.bundle, n, 20 + i))
    panel.status.setText("a.jpg: encoded. The sliders now edit this photo.")
    item = panel.list.item(1)
    rect = panel.list.visualItemRect(item)
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert s.custom_label == "b.jpg"
    np.testing.assert_array_equal(s.custom_z, s.photos[1].z)
    assert panel.status.text().startswith("b.jpg")
    window.canvas.seed.setValue(4)  # a seed replaces the photo: its status goes
    assert panel.status.text() == ""


def test_add_photos_asks_which(window, monkeypatch):
    s, interp = window.state, window.interpolation
    for i, n in enumerate(("a.jpg", "b.jpg", "c.jpg")):
        s.add_photo(_photo(window.bundle, n, 30 + i))
    offered: list[list[str]] = []
    monkeypatch.setattr(pick_dialog, "pick",
                        lambda parent, title, prompt, names: (offered.append(names), [2, 0])[1])
    interp.add_photos.click()
    assert offered == [["a.jpg", "b.jpg", "c.jpg"]]
    assert [interp.keys.item(i).data(LABEL_ROLE) for i in range(2)] == ["c.jpg", "a.jpg"]
    np.testing.assert_array_equal(interp.keys.latent(0), s.photos[2].z)
    monkeypatch.setattr(pick_dialog, "pick", lambda *a: [])  # cancelled: nothing added
    interp.add_photos.click()
    assert interp.keys.count() == 2


def test_long_tooltips_wrap_as_rich_text(window):
    psi = window.canvas.psi
    assert len(psi.toolTip()) > 100 and not GuiQt.mightBeRichText(psi.toolTip())
    ev = QHelpEvent(QEvent.Type.ToolTip, QPoint(2, 2), psi.mapToGlobal(QPoint(2, 2)))
    QApplication.sendEvent(psi, ev)
    assert GuiQt.mightBeRichText(psi.toolTip()) and "pre-wrap" in psi.toolTip()
    short = window.canvas.random
    before = short.toolTip()
    QApplication.sendEvent(short, QHelpEvent(QEvent.Type.ToolTip, QPoint(2, 2), QPoint(2, 2)))
    assert short.toolTip() == before
