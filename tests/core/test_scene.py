"""The Qt-free scene on its own: the render rules and the session schema, without a window."""

from __future__ import annotations

import numpy as np
import pytest

from explorer.core.bundle import Bundle
from explorer.core.edits import SLIDER_END, y_limits
from explorer.core.latents import seed_latents
from explorer.core.scene import EditedFace, Favourite, Photo, Scene, read_session, session_dict
from explorer.core.session import SessionError


def test_a_photo_is_drawn_at_psi_1_with_or_without_its_detail(bundle: Bundle) -> None:
    detail = np.full(bundle.detail_shape, 0.1, np.float32)
    scene = Scene(bundle, psi=0.5, grid=2, face=EditedFace(seed_latents([9], bundle.nz)[0],
                                                            detail, "me.jpg"))
    req = scene.canvas_request()
    np.testing.assert_array_equal(req.psi, [1.0, 0.5, 0.5, 0.5])  # the photo first, seeds after
    np.testing.assert_array_equal(req.detail[0], detail)
    assert not req.detail[1:].any()
    scene.keep_detail = False
    req = scene.canvas_request()
    assert req.detail is None and req.psi[0] == 1.0
    # A seed is drawn at the scene's psi.
    np.testing.assert_array_equal(Scene(bundle, psi=0.5).canvas_request().psi, [0.5])


def test_sliders_move_z_with_locks_and_the_request_carries_them(bundle: Bundle) -> None:
    scene = Scene(bundle, alphas={"Smiling": 2.0}, locks={"Male"})
    d = scene.directions
    req = scene.canvas_request()
    moved = req.z[0] - seed_latents([0], bundle.nz)[0]
    assert moved @ d.vector("Smiling") > 1.0
    assert abs(moved @ d.vector("Male")) < 1e-4
    # Unedited requests leave z alone.
    z = seed_latents([4], bundle.nz)
    np.testing.assert_array_equal(scene.request(z, edit=False).z, z)


def test_cond_sliders_drive_y_not_z(cgan_bundle: Bundle) -> None:
    name = cgan_bundle.cond_attributes[0]
    scene = Scene(cgan_bundle, alphas={name: 1.0})
    req = scene.canvas_request()
    own = cgan_bundle.seed_conditions([0])[0]  # the seed's own condition, moved by the slider
    lim = float(y_limits(cgan_bundle.y_reach, len(own))[0])  # one step: (reach + 1) / 3 of y
    assert req.y[0, 0] == np.float32(np.clip(own[0] + (lim + 1) / SLIDER_END, -lim, lim))
    np.testing.assert_array_equal(req.y[0, 1:], own[1:])
    np.testing.assert_array_equal(req.z, seed_latents([0], cgan_bundle.nz))


def _plain(v: object) -> object:
    """A session dict with its arrays as lists, comparable with ==."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v.tolist() if isinstance(v, np.ndarray) else v


def test_session_round_trip_and_undo_snapshots(bundle: Bundle) -> None:
    detail = np.full(bundle.detail_shape, 0.2, np.float32)
    z = seed_latents([5], bundle.nz)[0]
    scene = Scene(bundle, seed=7, psi=0.5, grid=3, alphas={"Smiling": 1.5}, locks={"Male"},
                  face=EditedFace(z, detail, "me.jpg", latent_detail=-detail),
                  custom_dirs=[("Mine", np.ones(bundle.nz, np.float32))])
    favs = [Favourite("★ 1", z, detail)]
    photos = [Photo("me.jpg", "/x/me.jpg", z, psnr=21.5, top=[("Smiling", 0.9)], detail=detail,
                    latent_detail=-detail)]
    d = session_dict(scene, favs, photos)
    other = Scene(bundle)
    before = other.snapshot()
    fields, favs2, photos2 = read_session(other, d)
    assert other.restore(fields) == {"seed", "psi", "grid", "alphas", "locks", "face",
                                     "custom_dirs"}
    assert _plain(session_dict(other, favs2, photos2)) == _plain(d)
    assert other.face is not None and other.face.latent_detail is not None
    np.testing.assert_array_equal(photos2[0].latent_detail, -detail)
    np.testing.assert_array_equal(other.canvas_request().z, scene.canvas_request().z)
    assert other.restore(before) and other.face is None and other.seed == 0
    # A saved detail of another model's shape: the session is refused, saying why (issue 14).
    d["custom_detail"] = [1.0, 2.0]
    with pytest.raises(SessionError, match="photo detail has shape"):
        read_session(other, d)
