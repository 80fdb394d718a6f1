"""A conditional model's faces each carry a condition of their own: a seed its row of the atlas's
labels, a photo what the scorer sees in it; the y sliders move it, and it travels with the face
(favourites, sessions, analogies, walks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from testdata import UTKFACE, needs

from explorer.cli import main
from explorer.core.analogy import analogy_condition
from explorer.core.bundle import Bundle, load_bundle
from explorer.core.classify import judged_condition
from explorer.core.edits import y_limits
from explorer.core.encoding import encode_face
from explorer.core.interpolation import interpolate_conditions
from explorer.core.scene import EditedFace, Favourite, Photo, Scene, read_session, session_dict


@pytest.fixture(scope="module")
def cstyle(tiny_cstyle: Path) -> Bundle:
    return load_bundle(tiny_cstyle)


def test_each_seed_is_drawn_with_a_condition_of_its_own(cstyle: Bundle) -> None:
    y = cstyle.seed_conditions(list(range(16)))
    assert y is not None and y.shape == (16, 2)
    np.testing.assert_array_equal(y, cstyle.seed_conditions(list(range(16))))  # same seed, same y
    np.testing.assert_array_equal(y[3], cstyle.seed_conditions([3])[0])  # whatever its grid
    labels = cstyle.atlas_conditions()
    assert labels is not None
    assert all(any(np.array_equal(r, row) for row in labels) for r in y)  # real label rows
    assert len({tuple(r) for r in y}) > 1  # not one condition for every seed
    scene = Scene(cstyle, seed=0, grid=4)
    req = scene.canvas_request()
    np.testing.assert_array_equal(req.y, y)
    # Drawn with its own condition, a seed is another face than at the neutral one.
    neutral = cstyle.generate(req.z[:4], np.zeros((4, 2), np.float32), psi=req.psi[:4])
    assert not np.array_equal(scene.draw(req)[:4], neutral)


def test_y_sliders_move_each_face_from_its_own_condition(cstyle: Bundle) -> None:
    scene = Scene(cstyle, seed=0, grid=3, alphas={"Male": 3.0})
    own = scene.seed_conditions()
    req = scene.canvas_request()
    np.testing.assert_array_equal(req.y[:, 0], own[:, 0])  # Smiling untouched
    reach = y_limits(cstyle.y_reach, 2)
    assert (req.y[:, 1] == reach[1]).all()  # Male pushed to the end of its reach, either side
    # A thumbnail (edit=False) is drawn as the face is, the sliders aside.
    thumb = scene.request(np.zeros((2, cstyle.nz), np.float32), edit=False,
                          y=[own[0], None])
    np.testing.assert_array_equal(thumb.y, np.stack([own[0], np.zeros(2, np.float32)]))


def test_the_condition_travels_with_a_starred_face_and_a_session(cstyle: Bundle) -> None:
    scene = Scene(cstyle, seed=7, alphas={"Smiling": -3.0})
    face = scene.current_face()
    own = cstyle.seed_conditions([7])[0]
    end = -float(y_limits(cstyle.y_reach, 2)[0])  # the slider's end: the far side of the reach
    assert face.y is not None and face.y.tolist() == [end, own[1]]  # as drawn, slider included
    # Loaded back with the sliders at 0, it is drawn exactly as it was starred.
    again = Scene(cstyle, seed=7, face=face)
    np.testing.assert_array_equal(again.canvas_request().y[0], face.y)
    np.testing.assert_array_equal(again.draw(again.canvas_request()),
                                  scene.draw(scene.canvas_request()))
    photo_y = np.array([1.0, -1.0], np.float32)
    fav = Favourite("★1", face.z, y=face.y)
    photo = Photo("me.jpg", "", face.z, y=photo_y)
    d = session_dict(again, [fav], [photo])
    snap, favs, photos = read_session(Scene(cstyle), d)
    np.testing.assert_array_equal(snap["face"].y, face.y)
    np.testing.assert_array_equal(favs[0].y, face.y)
    np.testing.assert_array_equal(photos[0].y, photo_y)
    # An older session's face (no condition) is drawn neutral, as it was then.
    del d["custom_y"]
    old, _, _ = read_session(Scene(cstyle), d)
    assert old["face"].y is None
    assert Scene(cstyle, face=old["face"]).canvas_request().y[0].tolist() == [0.0, 0.0]
    # A condition of another model's length is not forced onto this one.
    assert Scene(cstyle).fitting_condition([1.0, 1.0, 1.0]) is None


def test_a_photo_is_encoded_with_what_the_scorer_sees_in_it(cstyle: Bundle) -> None:
    face = cstyle.generate(cstyle.seed_latents([5], 1.0), np.array([1.0, -1.0], np.float32))[0]
    judged = judged_condition(cstyle, face[None])
    assert judged is not None and set(np.unique(judged)) <= {-1.0, 1.0}
    res = encode_face(cstyle, face, budget_s=30, max_steps=3, detail=False)
    np.testing.assert_array_equal(res.y, judged[0])
    # The scene draws the photo with it: its reconstruction, not the neutral condition's.
    scene = Scene(cstyle, face=EditedFace(res.z, label="me", photo=True, y=res.y))
    np.testing.assert_array_equal(scene.canvas_request().y[0], res.y)


def test_analogy_and_walks_carry_conditions() -> None:
    a, b, c = (np.array(v, np.float32) for v in ([1, 1], [-1, 1], [0, -1]))
    np.testing.assert_array_equal(analogy_condition(a, b, c, 1.0), [1.0, -1.0])
    np.testing.assert_array_equal(analogy_condition(a, b, c, 0.25), [0.5, -1.0])
    # clipped to the labels' range
    np.testing.assert_array_equal(analogy_condition(None, None, c, 1.0), c)
    assert analogy_condition(None, None, None) is None
    walk = interpolate_conditions([a, None, c], 5)
    assert walk is not None and walk.shape == (5, 2)
    np.testing.assert_array_equal(walk[0], a)
    np.testing.assert_array_equal(walk[2], [0.0, 0.0])  # the neutral keyframe
    np.testing.assert_array_equal(walk[-1], c)
    assert interpolate_conditions([None, None], 4) is None


@needs(UTKFACE)
def test_the_cli_saves_a_photos_condition_and_draws_with_it(tiny_cstyle: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]
                                                            ) -> None:
    m = str(tiny_cstyle)
    photo = str(sorted(UTKFACE.glob("*.jpg"))[0])
    assert main(["encode", photo, "--model", m, "--budget", "1", "--threads", "1", "--out",
                 str(tmp_path / "enc")]) == 0, capsys.readouterr().err
    stem = tmp_path / "enc" / Path(photo).stem
    y = np.load(f"{stem}_y.npy")
    assert y.shape == (2,) and set(np.abs(y)) == {1.0}  # what the scorer saw: +-1 each
    recon = np.asarray(Image.open(f"{stem}_recon.png")).astype(int)
    # `edit NAME.npy` draws the photo with its saved condition: its reconstruction again.
    assert main(["edit", f"{stem}.npy", "--model", m, "--size", "16", "--out",
                 str(tmp_path / "again.png")]) == 0, capsys.readouterr().err
    again = np.asarray(Image.open(tmp_path / "again.png")).astype(int)
    assert np.abs(again - recon).max() <= 1
    # `sample` draws each seed with its own condition, as the window does.
    assert main(["sample", "--seeds", "0-3", "--model", m, "--size", "16", "--cols", "4",
                 "--psi", "0.7", "--out", str(tmp_path / "s.png")]) == 0
    grid = np.asarray(Image.open(tmp_path / "s.png"))
    b = load_bundle(tiny_cstyle)
    scene = Scene(b, psi=0.7, grid=2)
    want = scene.draw(scene.canvas_request())
    assert grid.shape == (16, 64, 3)
    for k in range(4):
        assert np.abs(grid[:, 16 * k : 16 * (k + 1)].astype(int) - want[k]).max() <= 1


def test_a_broken_saved_condition_is_one_line_and_draws_nothing(
        tiny_cstyle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = load_bundle(tiny_cstyle)
    np.save(tmp_path / "face.npy", b.seed_latents([1])[0])
    out = tmp_path / "out.png"
    for y, says in (([np.nan, 1.0], "not finite"), ([1.0, 1.0, 1.0], "holds 3 values")):
        np.save(tmp_path / "face_y.npy", np.array(y, np.float32))
        assert main(["edit", str(tmp_path / "face.npy"), "--model", str(tiny_cstyle),
                     "--out", str(out)]) != 0
        err = capsys.readouterr().err.strip()
        assert says in err and len(err.splitlines()) == 1, err
        assert not out.exists()


def test_a_style_analogy_keeps_c_as_far_from_the_average_face(cstyle: Bundle,
                                                              tiny_model: Path) -> None:
    from explorer.core.analogy import analogy

    m = cstyle.latent_center
    assert m is not None and m.shape == (cstyle.nz,)
    assert load_bundle(tiny_model).latent_center is None  # z: centred on the origin
    a, b, c = cstyle.seed_latents([1, 2, 3], 0.7)
    out = analogy(a, b, c, 1.5, center=m)
    np.testing.assert_allclose(np.linalg.norm(out - m), np.linalg.norm(c - m), rtol=1e-5)
    np.testing.assert_allclose(analogy(a, a, c, 1.0, center=m), c, atol=1e-5)
