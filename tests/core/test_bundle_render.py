"""Loading model files and rendering: same seed same face, newest request wins, errors as data."""

from __future__ import annotations

import copy
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from explorer.core.bundle import Bundle, BundleError, default_model_path, load_bundle
from explorer.core.latents import seed_latents
from explorer.core.render import RenderRequest, RenderResult, RenderService


def test_bundle_describes_the_model(bundle: Bundle) -> None:
    assert bundle.nz == 8 and bundle.resolution == 16 and bundle.kind == "dcgan"
    assert bundle.attribute_names[:2] == ["Smiling", "Male"]
    assert bundle.has_encoder and bundle.has_classifier
    assert bundle.atlas_z is not None and bundle.atlas_z.shape == (64, 8)
    assert bundle.atlas_labels is not None and set(np.unique(bundle.atlas_labels)) <= {-1, 1}
    assert bundle.cond_attributes == []


def test_same_seed_same_image(bundle: Bundle, tiny_model: Path) -> None:
    a = bundle.generate(seed_latents([7, 8], bundle.nz))
    again = load_bundle(tiny_model).generate(seed_latents([7, 8], bundle.nz))
    assert a.dtype == np.uint8 and a.shape == (2, 16, 16, 3)
    np.testing.assert_array_equal(a, again)
    assert not np.array_equal(a[0], a[1])  # different seeds, different faces


def test_truncation_pulls_faces_toward_the_average_face(bundle: Bundle) -> None:
    z = seed_latents(list(range(200)), bundle.nz)
    G = bundle.network("G")
    with torch.no_grad():  # the closed-form mean of the first features is their sample mean
        h = G.project(torch.from_numpy(z)[:, :, None, None])
        mean = G.mean_features()[0]
    assert (h.mean(0) - mean).abs().max().item() < 4 * h.std(0).max().item() / np.sqrt(len(z))
    g = copy.deepcopy(G)  # the cached mean follows the weights and statistics
    with torch.no_grad():
        g.project[1].running_mean += 1.0
    assert not torch.allclose(g.mean_features(), mean)
    as_trained = bundle.generate(z[:16])
    np.testing.assert_array_equal(bundle.generate(z[:16], psi=1.0), as_trained)
    spread = {p: bundle.generate(z[:16], psi=p).astype(float).std(0).mean()
              for p in (1.0, 0.5, 0.0)}
    assert spread[1.0] > spread[0.5] > spread[0.0]
    assert spread[0.0] < 1.0  # at psi 0 every seed draws the one average face
    with pytest.raises(BundleError, match="psi"):
        bundle.generate(z[:1], psi=float("nan"))


def test_a_face_with_a_photo_detail_is_never_truncated(bundle: Bundle) -> None:
    z = seed_latents([1, 2], bundle.nz)
    detail = np.zeros((2, *bundle.detail_shape), np.float32)
    detail[0] = 0.5
    truncated = bundle.generate(z, detail=detail, psi=0.3)
    np.testing.assert_array_equal(truncated[0], bundle.generate(z, detail=detail)[0])
    assert not np.array_equal(truncated[1], bundle.generate(z[1:])[0])
    np.testing.assert_array_equal(truncated[1], bundle.generate(z[1:], psi=0.3)[0])
    with RenderService(bundle, threads=1, channels_last=False) as svc:
        r = svc.render(RenderRequest(1, z, detail=detail, psi=0.3))
    assert r.images is not None and np.abs(r.images.astype(int) - truncated).max() <= 1


def test_a_cgan_truncates_toward_the_average_face_of_its_condition(cgan_bundle: Bundle) -> None:
    z = seed_latents(list(range(8)), cgan_bundle.nz)
    up, down = (np.tile(np.array([[s, s]], np.float32), (8, 1)) for s in (1.0, -1.0))
    a, b = cgan_bundle.generate(z, up, psi=0.0), cgan_bundle.generate(z, down, psi=0.0)
    assert a.astype(float).std(0).mean() < 1.0  # one face per condition
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 0.5  # y still matters


def test_default_model_path_respects_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FACE_EXPLORER_MODEL", raising=False)
    from explorer.assets import DEFAULT_MODEL_NAME

    assert default_model_path().parts[-2:] == ("checkpoints", DEFAULT_MODEL_NAME)
    monkeypatch.setenv("FACE_EXPLORER_MODEL", str(tmp_path / "m.safetensors"))
    assert default_model_path() == tmp_path / "m.safetensors"


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "no such model file"),
        ("truncated", "truncated"),
        ("garbage", "not a model file"),
        ("empty", "empty"),
    ],
)
def test_bad_model_files_say_what_is_wrong(
    tiny_model: Path, tmp_path: Path, damage: str, message: str
) -> None:
    p = tmp_path / "bad.safetensors"
    if damage == "truncated":
        data = tiny_model.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        p.write_bytes(b"\x80\x04\x95 pickled code, not a model" * 10)
    elif damage == "empty":
        p.write_bytes(b"")
    with pytest.raises(BundleError, match=message):
        load_bundle(p)


def test_wrong_tensor_shapes_are_reported(tiny_model: Path, tmp_path: Path) -> None:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(tiny_model), framework="pt") as f:
        meta = f.metadata()
    t = load_file(str(tiny_model))
    t["attr.directions"] = t["attr.directions"][:, :3].contiguous()
    p = tmp_path / "shapes.safetensors"
    save_file(t, str(p), metadata=meta)
    with pytest.raises(BundleError, match="attr.directions has shape"):
        load_bundle(p)
    shutil.copy(tiny_model, tmp_path / "ok.safetensors")
    assert load_bundle(tmp_path / "ok.safetensors").nz == 8


def test_render_service_sync_matches_generate(bundle: Bundle) -> None:
    z = seed_latents([1, 2, 3, 4], bundle.nz)
    with RenderService(bundle, threads=1) as svc:
        r = svc.render(RenderRequest(1, z))
    assert r.error is None and r.id == 1 and r.ms >= 0
    assert r.images is not None and r.images.shape == (4, 16, 16, 3)
    # channels-last float32 is visually the same as the plain path
    assert np.abs(r.images.astype(int) - bundle.generate(z).astype(int)).max() <= 1


def test_render_errors_come_back_as_data(bundle: Bundle) -> None:
    with RenderService(bundle, threads=1) as svc:
        r = svc.render(RenderRequest(5, np.zeros((1, 3), np.float32)))
    assert r.images is None and r.id == 5 and "(n, 8)" in (r.error or "")


def test_newest_request_wins_and_superseded_are_dropped(bundle: Bundle) -> None:
    results: list[RenderResult] = []
    done = threading.Event()
    gate = threading.Event()

    def on_done(r: RenderResult) -> None:
        gate.wait(5)  # hold the worker on the first request while more arrive
        results.append(r)
        if r.id == 10:
            done.set()

    with RenderService(bundle, threads=1) as svc:
        svc.submit(RenderRequest(0, seed_latents([0], bundle.nz)), on_done)
        time.sleep(0.2)
        for i in range(1, 11):
            svc.submit(RenderRequest(i, seed_latents([i], bundle.nz)), on_done)
        gate.set()
        assert done.wait(10)
    ids = [r.id for r in results]
    assert ids[0] == 0 and ids[-1] == 10 and len(ids) <= 3  # 1..9 were superseded, not queued
    # The service draws channels-last, `generate` contiguous: oneDNN may round a level apart.
    np.testing.assert_allclose(results[-1].images, bundle.generate(seed_latents([10], 8)),
                               rtol=0, atol=1)


def test_cgan_renders_with_condition(cgan_bundle: Bundle) -> None:
    assert cgan_bundle.cond_attributes == ["Smiling", "Male"]
    z = seed_latents([1], cgan_bundle.nz)
    a = cgan_bundle.generate(z, np.array([[1.0, -1.0]], np.float32))
    b = cgan_bundle.generate(z, np.array([[-1.0, 1.0]], np.float32))
    assert a.shape == (1, 16, 16, 3) and not np.array_equal(a, b)
    with pytest.raises(BundleError, match="condition"):
        cgan_bundle.generate(z, np.zeros((1, 5), np.float32))
