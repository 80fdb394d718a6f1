"""The render service's compiled engine (G compiled ahead of time by Inductor): the faces eager
PyTorch draws, one build per generator in the cache folder, and the other engines when it
cannot be built."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_generators import tiny_generator

from explorer.core import render_backend, render_compiled
from explorer.core.bundle import load_bundle
from explorer.core.render import RenderRequest, RenderService
from explorer.core.render_backend import GeneratorBackend
from facegan.files import MadeOnce

needs_compiler = pytest.mark.skipif(render_compiled.compiler() is None,
                                    reason="no C++ compiler for Inductor")


@pytest.fixture(autouse=True)
def _fresh_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process would: no build remembered in memory. A build that
    takes over 4 minutes (20 s here) fails its test, with the reason, before the run's
    watchdog would stop everything."""
    monkeypatch.setattr(render_compiled, "_builds", MadeOnce())
    monkeypatch.setattr(render_compiled, "BUILD_TIMEOUT_S", 240)


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One compiled-package folder for the module: each tiny G is built once."""
    return tmp_path_factory.mktemp("compiled")


@needs_compiler
@pytest.mark.parametrize("kind", ["style", "cgan"])
def test_compiled_draws_what_eager_draws(kind: str, packages: Path) -> None:
    """Every input form the app sends (with and without a photo's detail, truncation per face)
    and any batch size (one package, a dynamic batch axis)."""
    G = tiny_generator(kind)
    static = (1,) if kind == "style" else ()  # one face: a package of its own
    backend = GeneratorBackend(G, threads=1, mode="compiled", compiled_cache=packages,
                               static_batches=static, background=False)
    assert backend.engines == ("eager", "compiled"), backend.compile_error
    assert set(backend._compiled) == {None, *static}
    n = 5
    torch.manual_seed(2)
    latent = torch.randn(n, 8)
    y = torch.tensor([[1.0, -1.0]]).expand(n, 2).contiguous() if kind == "cgan" else None
    detail = 0.3 * torch.randn(n, *G.detail_shape)
    detail[0] = 0  # a face without a photo's detail beside faces with one
    psi = torch.tensor([1.0, 0.7, 0.0, 1.0, 0.5])
    with torch.inference_mode():
        for args in [(latent, y, None, None), (latent, y, detail, None),
                     (latent, y, None, psi), (latent[:1], y[:1] if y is not None else None,
                                              detail[1:2], psi[1:2])]:
            assert backend.engine(len(args[0])) == "compiled"
            want, got = G(*args), backend(*args)
            assert got.shape == want.shape
            assert float((got - want).abs().max()) < 1e-4
    assert len(list(packages.glob("g-*.pt2"))) >= 1
    assert all(p.name.startswith("g-") for p in packages.iterdir())  # no build's leftovers


@needs_compiler
def test_the_package_is_reused_and_a_changed_model_gets_its_own(
        packages: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A second window on the same model loads the package in milliseconds, with no build; a
    model trained further (same shapes, new weights) never draws with the old package."""
    G = tiny_generator("style")
    first = GeneratorBackend(G, threads=1, mode="compiled", compiled_cache=packages,
                             static_batches=(), background=False)
    assert "compiled" in first.engines, first.compile_error
    built = list(packages.glob("g-*.pt2"))

    def no_build(*a: object, **k: object) -> None:
        raise AssertionError("built again")

    def no_probe(*a: object, **k: object) -> None:  # compiling test programs to load one
        raise AssertionError("the CPU probed with the C++ compiler at load")

    monkeypatch.setattr(render_compiled, "build_package", no_build)
    monkeypatch.setattr(torch._inductor.codecache, "get_device_information", no_probe)
    monkeypatch.setattr(render_compiled, "_builds", MadeOnce())  # as a new process
    again = GeneratorBackend(G, threads=1, mode="compiled", compiled_cache=packages,
                             static_batches=(), background=False)
    assert "compiled" in again.engines, again.compile_error
    assert list(packages.glob("g-*.pt2")) == built

    monkeypatch.undo()
    monkeypatch.setattr(render_compiled, "_builds", MadeOnce())
    with torch.no_grad():
        G.layers[-1].bias.add_(0.5)
    new = GeneratorBackend(G, threads=1, mode="compiled", compiled_cache=packages,
                           static_batches=(), background=False)
    w = torch.randn(3, 8)
    with torch.inference_mode():
        assert float((new(w) - G(w)).abs().max()) < 1e-4
        assert float((first(w) - G(w)).abs().max()) > 0.1


def test_a_package_built_for_another_cpu_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A cache folder shared by two machines (a networked home folder): a package compiled
    for AVX-512 or AMX is never handed to a CPU without them."""
    G = tiny_generator("style")
    here = render_compiled.package_key(G, False, 1)
    monkeypatch.setattr(render_compiled, "cpu_signature", lambda: "AVX2 000000000000")
    assert render_compiled.package_key(G, False, 1) != here


def test_a_failed_build_leaves_eager_drawing(
        tiny_style: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """No compiler, or a build that fails: one line on stderr, the same faces, nothing left in
    the cache folder."""
    monkeypatch.setenv("CXX", "")
    monkeypatch.setattr(render_compiled.shutil, "which", lambda name: None)
    monkeypatch.setenv("FACE_EXPLORER_CACHE", str(tmp_path))
    bundle = load_bundle(tiny_style)
    z = bundle.seed_latents([0, 1, 2], 0.7)
    with RenderService(bundle, threads=1, engine="compiled", bf16=False,
                       channels_last=False) as svc:
        assert svc.backend.wait_ready(60)
        r = svc.render(RenderRequest(1, z))
        assert svc.backend.engines == ("eager",)
        assert "compiler" in (svc.backend.compile_error or "")
    assert r.error is None and r.images is not None
    np.testing.assert_array_equal(r.images, bundle.generate(z))
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["render backend: drawing without the compiled engine (RuntimeError: no C++ "
                   "compiler (g++ or clang++) found)"]
    assert not list(tmp_path.rglob("*.pt2"))


def test_a_build_that_fails_says_why_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The child process's last error line reaches the caller (here: it finds no C++ compiler
    on its PATH); no partial package is kept."""
    monkeypatch.setattr(render_compiled, "_build_env", lambda work: {"PATH": ""})
    G = tiny_generator("style")
    with pytest.raises(RuntimeError, match="compiling G failed: .*C\\+\\+ compiler"):
        render_compiled.build_package(G, tmp_path / "g-x.pt2", bf16=False, threads=1)
    assert list(tmp_path.iterdir()) == []  # nor the build's intermediate files


def test_a_failed_build_is_not_tried_again_at_every_start(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build that failed once (a broken compiler) is remembered beside the packages: the next
    start says why in one line at once, without spending a build's CPU time again."""
    monkeypatch.setattr(render_compiled, "_build_env", lambda work: {"PATH": ""})
    G = tiny_generator("style")
    with pytest.raises(RuntimeError, match="compiling G failed"):
        render_compiled.cached_package(G, bf16=False, threads=1, folder=tmp_path)
    built: list[object] = []
    monkeypatch.setattr(render_compiled, "build_package", lambda *a, **k: built.append(a))
    monkeypatch.setattr(render_compiled, "_builds", MadeOnce())  # as a new process
    with pytest.raises(RuntimeError, match="compiling G failed.*an earlier build; delete"):
        render_compiled.cached_package(G, bf16=False, threads=1, folder=tmp_path)
    assert built == []
    for record in tmp_path.glob("g-*.failed"):  # deleted: the next start builds again
        record.unlink()
    monkeypatch.setattr(render_compiled, "_builds", MadeOnce())
    render_compiled.cached_package(G, bf16=False, threads=1, folder=tmp_path)
    assert len(built) == 1


@needs_compiler
def test_auto_measures_every_ready_engine_then_keeps_one(
        packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACE_EXPLORER_ONNX", "1")
    monkeypatch.setenv("FACE_EXPLORER_COMPILE", "1")
    monkeypatch.setattr(render_backend, "_exports", MadeOnce())
    G = tiny_generator("style")
    backend = GeneratorBackend(G, threads=1, mode="auto", cache=tmp_path,
                               compiled_cache=packages, static_batches=(),
                               background=False)
    assert backend.engines == ("eager", "onnx", "compiled"), (backend.error,
                                                               backend.compile_error)
    used = []
    with torch.inference_mode():
        for _ in range(3 * (render_backend.TRIALS + 1) + 3):
            used.append(backend.engine(4))
            backend(torch.randn(4, 8))
    assert set(used[:12]) == {"eager", "onnx", "compiled"}
    assert len(set(used[-3:])) == 1 and 4 in backend._chosen


def test_a_broken_package_in_the_cache_is_removed_and_the_others_draw(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A cached package cut short (a full disk, a killed copy): one line, the same faces drawn
    eagerly, and the file gone so that the next start builds it anew."""
    monkeypatch.setattr(render_compiled, "compiler", lambda: "g++")
    G = tiny_generator("style")
    path = tmp_path / f"g-{render_compiled.package_key(G, False, 1)}.pt2"
    path.write_bytes(b"PK\x03\x04 not a whole package")
    backend = GeneratorBackend(G, threads=1, mode="compiled", compiled_cache=tmp_path,
                               static_batches=(), background=False)
    assert backend.engines == ("eager",) and backend.compile_error
    assert not path.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("render backend: drawing without the compiled")
    w = torch.randn(2, 8)
    with torch.inference_mode():
        assert torch.equal(backend(w), G(w))


def test_a_build_that_ran_out_of_time_is_tried_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A timeout may be a busy machine only: it leaves no record, the next start builds."""
    def slow(*a: object, **k: object) -> None:
        raise render_compiled.BuildTimeout("compiling G took over 600 s")

    monkeypatch.setattr(render_compiled, "build_package", slow)
    G = tiny_generator("style")
    with pytest.raises(RuntimeError, match="took over"):
        render_compiled.cached_package(G, bf16=False, threads=1, folder=tmp_path)
    assert not list(tmp_path.glob("g-*.failed"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_build_past_its_time_ends_with_every_compiler_it_started(tmp_path: Path) -> None:
    """The child and what it started (the C++ compiler) are ended together: nothing compiles on
    for nobody, and nothing left running holds the app waiting for the child's output."""
    pid_file = tmp_path / "grandchild"
    code = ("import subprocess, sys, time; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
            f"open({str(pid_file)!r}, 'w').write(str(p.pid)); time.sleep(120)")
    t0 = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        render_compiled._run_child([sys.executable, "-c", code], dict(os.environ),
                                   tmp_path / "log", timeout=3)
    assert time.monotonic() - t0 < 30
    grandchild = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _running(grandchild) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(grandchild)


def test_a_finished_build_is_not_held_by_what_it_left_running(tmp_path: Path) -> None:
    """The child is done when it exits, though a process it started runs on with its output
    (with pipes, the app waited for that process too: up to the build's whole timeout)."""
    pid_file = tmp_path / "grandchild"
    code = ("import subprocess, sys; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); "
            f"open({str(pid_file)!r}, 'w').write(str(p.pid)); print('built')")
    t0 = time.monotonic()
    try:
        status = render_compiled._run_child([sys.executable, "-c", code], dict(os.environ),
                                            tmp_path / "log", timeout=60)
        assert status == 0 and time.monotonic() - t0 < 30
        assert (tmp_path / "log").read_text().strip() == "built"
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), 9)


@pytest.mark.skipif(os.name != "posix", reason="sessions are POSIX's")
@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 has no process_group: a session")
def test_the_build_shares_the_apps_cpu_share(tmp_path: Path) -> None:
    """Linux gives each session (autogroup) an equal share of the CPU: the build's child stays
    in the app's session, where its lower priority keeps the window's threads first at a first
    start, and in a process group of its own, which a timeout ends as a whole. (Sessions, not
    /proc/self/autogroup: a kernel without autogroup scheduling leaves that file empty.)"""
    code = "import os; print(os.getsid(0), os.getpgid(0), os.getpid())"
    status = render_compiled._run_child([sys.executable, "-c", code], dict(os.environ),
                                        tmp_path / "log", timeout=30)
    assert status == 0
    sid, pgid, pid = map(int, (tmp_path / "log").read_text().split())
    assert sid == os.getsid(0)
    assert pgid == pid != os.getpgid(0)


def _running(pid: int) -> bool:
    """Whether `pid` runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
