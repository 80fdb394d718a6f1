"""The render service's ONNX Runtime backend: the same faces as eager PyTorch, eager when
onnxruntime is missing or the export fails, and one export per generator in the cache folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_generators import tiny_generator

from explorer.core import render_backend
from explorer.core.bundle import load_bundle
from explorer.core.render import RenderRequest, RenderService
from explorer.core.render_backend import GeneratorBackend
from facegan.files import MadeOnce


@pytest.fixture(autouse=True)
def _fresh_exports(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: no export remembered in memory."""
    monkeypatch.setattr(render_backend, "_exports", MadeOnce())


@pytest.mark.parametrize("kind", ["style", "dcgan", "cgan", "cstyle"])
def test_onnx_draws_what_eager_draws(kind: str, tmp_path: Path) -> None:
    G = tiny_generator(kind)
    backend = GeneratorBackend(G, threads=1, mode="onnx", cache=tmp_path, background=False)
    assert backend.kind == "onnx", backend.error
    n = 5
    torch.manual_seed(2)
    latent = torch.randn(n, 8)
    y = (torch.tensor([[1.0, -1.0]]).expand(n, 2).contiguous() if kind in ("cgan", "cstyle")
         else None)
    detail = 0.3 * torch.randn(n, *G.detail_shape)
    detail[0] = 0  # a face without a photo's detail beside faces with one
    psi = torch.tensor([1.0, 0.7, 0.0, 1.0, 0.5])
    with torch.inference_mode():
        for args in [(latent, y, None, None), (latent, y, detail, None),
                     (latent, y, None, psi), (latent[:1], y[:1] if y is not None else None,
                                              detail[:1], psi[:1])]:
            want, got = G(*args), backend(*args)
            assert got.shape == want.shape
            assert float((got - want).abs().max()) < 1e-4


def test_service_falls_back_to_eager_without_onnxruntime(
        tiny_style: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # import fails
    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path))
    bundle = load_bundle(tiny_style)
    z = bundle.seed_latents([0, 1, 2], 0.7)
    with RenderService(bundle, threads=1, onnx=True, bf16=False, channels_last=False) as svc:
        assert svc.backend.wait_ready(60)
        r = svc.render(RenderRequest(1, z))
        assert svc.backend.kind == "eager" and "onnxruntime" in (svc.backend.error or "")
    assert r.error is None and r.images is not None
    np.testing.assert_array_equal(r.images, bundle.generate(z))
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "eager" in err[0]
    assert not list(tmp_path.rglob("*.onnx"))


def test_service_falls_back_to_eager_when_the_export_fails(
        tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    def broken(G: torch.nn.Module, path: Path) -> None:
        raise RuntimeError("exporter says no\nsecond line of a long trace")

    monkeypatch.setattr(render_backend, "export_graph", broken)
    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path))
    bundle = load_bundle(tiny_model)
    z = bundle.seed_latents([3, 4])
    with RenderService(bundle, threads=1, onnx=True, bf16=False, channels_last=False) as svc:
        assert svc.backend.wait_ready(60)
        r = svc.render(RenderRequest(1, z, psi=0.7))
        assert svc.backend.kind == "eager"
    assert r.error is None
    np.testing.assert_array_equal(r.images, bundle.generate(z, psi=0.7))
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["render backend: drawing with eager PyTorch, not ONNX Runtime "
                   "(RuntimeError: exporter says no)"]


def test_the_exported_graph_is_reused_on_the_next_load(
        tiny_style: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path))
    bundle = load_bundle(tiny_style)
    z = bundle.seed_latents([5, 6, 7, 8], 0.7)
    with RenderService(bundle, threads=1, onnx=True, bf16=False, channels_last=False) as svc:
        assert svc.backend.wait_ready(120) and svc.backend.kind == "onnx", svc.backend.error
        first = svc.render(RenderRequest(1, z)).images
    graphs = list((tmp_path / "onnx").glob("*.onnx"))
    assert len(graphs) == 1
    stamp = graphs[0].stat().st_mtime_ns

    calls: list[Path] = []
    monkeypatch.setattr(render_backend, "export_graph", lambda G, p: calls.append(p))
    monkeypatch.setattr(render_backend, "_exports", MadeOnce())  # as a new process
    with RenderService(load_bundle(tiny_style), threads=1, onnx=True, bf16=False) as svc:
        assert svc.backend.wait_ready(60) and svc.backend.kind == "onnx", svc.backend.error
        again = svc.render(RenderRequest(1, z)).images
    assert calls == [] and list((tmp_path / "onnx").glob("*.onnx")) == graphs
    assert graphs[0].stat().st_mtime_ns >= stamp
    np.testing.assert_array_equal(first, again)
    # ONNX Runtime's faces are eager's to within a rounding step of a pixel.
    assert np.abs(first.astype(int) - bundle.generate(z).astype(int)).max() <= 1


def test_tuned_faces_stay_on_eager_weights(tiny_style: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A photo's tuned weights draw through functional_call on the eager G, not the graph of
    G's own weights."""
    from explorer.core.pivotal import TunedWeights

    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path))
    bundle = load_bundle(tiny_style)
    G = bundle.network("G")
    params = {n: p.detach() + 0.3 for n, p in G.named_parameters()
              if n.startswith("layers.") and n.endswith(".bias")}
    tuned = TunedWeights.from_params(G, params)
    z = bundle.seed_latents([9, 10])
    with RenderService(bundle, threads=1, onnx=True, channels_last=False, bf16=False) as svc:
        assert svc.backend.wait_ready(120) and svc.backend.kind == "onnx"
        r = svc.render(RenderRequest(1, z, tuned=(tuned, None)))
    assert r.error is None
    np.testing.assert_array_equal(r.images[:1], bundle.generate(z[:1], tuned=tuned))
    assert np.abs(r.images[:1].astype(int) - bundle.generate(z[:1]).astype(int)).max() > 8
    assert np.abs(r.images[1:].astype(int) - bundle.generate(z[1:]).astype(int)).max() <= 1


def test_auto_settles_on_the_faster_engine_per_batch_size(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`auto` alternates eager and ONNX Runtime for a batch size's first calls, then keeps the
    faster: here ONNX Runtime is made 30 ms slower for 4 faces only."""
    import time

    monkeypatch.setenv("FACE_EXPLORER_ONNX", "1")  # auto's engines: the switches that are on
    G = tiny_generator("style")
    backend = GeneratorBackend(G, threads=1, mode="auto", cache=tmp_path, background=False)
    session = backend._session
    assert session is not None

    class Slow:
        def run(self, names: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            if len(feeds["latent"]) == 4:
                time.sleep(0.03)
            return session.run(names, feeds)  # type: ignore[attr-defined]

    backend._session = Slow()
    used: dict[int, list[str]] = {1: [], 4: []}
    with torch.inference_mode():
        for _ in range(2 * (render_backend.TRIALS + 1) + 3):
            for n in (1, 4):
                used[n].append(backend.engine(n))
                out = backend(torch.randn(n, 8))
                assert out.shape == (n, 3, 16, 16)
    for n in (1, 4):  # both engines tried, then one kept
        assert {"eager", "onnx"} <= set(used[n][:8]) and len(set(used[n][-3:])) == 1
    assert backend.engine(4) == "eager"


def test_two_models_export_at_once(tmp_path: Path) -> None:
    """Two services opening different models at the same time both get their graph (torch's
    exporter keeps global state, so exports take turns)."""
    backends = [GeneratorBackend(tiny_generator(kind), threads=1, mode="onnx", cache=tmp_path)
                for kind in ("style", "dcgan", "cgan")]
    for b in backends:
        assert b.wait_ready(120)
        assert b.kind == "onnx", b.error
    assert len(list(tmp_path.glob("g-*.onnx"))) == 3


def test_changed_weights_get_their_own_graph(tmp_path: Path) -> None:
    """A model file trained further (same shapes, new weights) never draws with the old graph."""
    G = tiny_generator("style")
    old = GeneratorBackend(G, threads=1, mode="onnx", cache=tmp_path, background=False)
    with torch.no_grad():
        G.layers[-1].bias.add_(0.5)
    new = GeneratorBackend(G, threads=1, mode="onnx", cache=tmp_path, background=False)
    assert len(list(tmp_path.glob("g-*.onnx"))) == 2
    w = torch.randn(3, 8)
    with torch.inference_mode():
        assert float((new(w) - G(w)).abs().max()) < 1e-4
        assert float((old(w) - G(w)).abs().max()) > 0.1
