"""G compiled ahead of time (AOTInductor): the render backend's fastest CPU engine, where a C++
compiler exists.

Why (`benchmarks/render_latency.py` and `/work/exp/aoti_dyn.py`, 2-core dev machine, 2 threads,
p50): the default's style G draws one face in 1.2 ms and a 4x4 grid in 7.3 ms compiled with
bfloat16, against 3.3 and 12.3 ms eager (ONNX Runtime: 2.4 ms and 20 ms). Inductor fuses the
modulation, demodulation, bias and activation passes around each convolution and, with its
"freezing", folds G's weights into the graph and packs them once for oneDNN.

How: G (a float32 copy, eval mode) is exported with `torch.export` with one dynamic batch axis,
and again for each of `STATIC_BATCHES` with that batch size fixed (Inductor plans a fixed shape
better: one face 0.73 against 1.2 ms, a 4x4 grid 6.6 against 7.3 ms), in the caller's thread
(about a second each); the exported program is compiled in a child process
(`python -m explorer.core.render_compiled`, about 20 s a package here, at a lower priority), so
the C++ compiler neither holds the window's interpreter lock nor can crash the app. The package
is kept in `cache_dir("compiled")` under a key of G's weights, the precision, the thread count,
the batch size, torch's version and the CPU's features: a model is compiled once per machine,
and loads in milliseconds after that.
Everything fails soft: no compiler, a failed build or a package that will not load leaves the
backend on its other engines, with one line on stderr (`explorer.core.render_backend`).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from facegan.files import MadeOnce, cache_dir, temp_beside

PACKAGE_FORMAT = 2  # bump when `_Graph`, the export or the build's settings change
KEEP_PACKAGES = 12  # newest packages kept in the cache folder (3 a model and precision)
STATIC_BATCHES = (1, 16)  # batch sizes with a package of their own: one face, the 4x4 grid
BUILD_TIMEOUT_S = 600
MAX_BATCH = 1024  # the dynamic batch axis's upper bound
ENV_SWITCH = "FACE_EXPLORER_COMPILE"  # "0": no compiled engine

Compiled = Callable[..., torch.Tensor]


def compile_enabled() -> bool:
    """Whether render services compile G by default (env FACE_EXPLORER_COMPILE, default on)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def compiler() -> str | None:
    """The C++ compiler Inductor will call (env CXX, else g++ or clang++), or None."""
    for name in (os.environ.get("CXX"), "g++", "clang++"):
        if name and shutil.which(name):
            return name
    return None


def hash_weights(h: hashlib._Hash, G: nn.Module) -> None:
    """Feed G's class, tensor names, shapes, types and values to `h`."""
    h.update(type(G).__qualname__.encode())
    for name, t in G.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name} {tuple(t.shape)} {t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())


@functools.cache
def cpu_signature() -> str:
    """What the compiled code assumes of the CPU: torch's vector level and, on Linux, the CPU's
    feature flags (Inductor also uses AMX or AVX-512 extensions where it finds them)."""
    flags = platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line for line in f if line.startswith("flags")), flags)
    except OSError:
        pass
    digest = hashlib.sha256(" ".join(sorted(flags.split())).encode()).hexdigest()[:12]
    return f"{torch.backends.cpu.get_cpu_capability()} {digest}"


def package_key(G: nn.Module, bf16: bool, threads: int, batch: int | None = None) -> str:
    """The cache key of G's package: its weights and everything the compiled code depends on,
    the CPU's vector instruction set included (a home folder shared by an AVX-512 machine and
    an AVX2 one must not hand the second a package it cannot run)."""
    h = hashlib.sha256()
    h.update(f"{PACKAGE_FORMAT} torch {torch.__version__} bf16 {bf16} threads {threads} "
             f"batch {batch} python {sys.version_info[:2]} "
             f"cpu {cpu_signature()}".encode())
    hash_weights(h, G)
    return h.hexdigest()[:32]


def has_y(G: nn.Module) -> bool:
    return bool(getattr(G, "n_cond", 0))


class _Graph(nn.Module):
    """G's forward with every input given, `detail` zeros and `psi` ones for faces that have
    none, in bfloat16 autocast when asked; float32 out."""

    def __init__(self, G: nn.Module, bf16: bool) -> None:
        super().__init__()
        self.G, self.bf16 = G, bf16

    def forward(self, latent: torch.Tensor, y: torch.Tensor | None, detail: torch.Tensor,
                psi: torch.Tensor) -> torch.Tensor:
        with torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
            return self.G(latent, y, detail, psi).float()


def example_inputs(G: nn.Module, n: int = 2) -> tuple[torch.Tensor | None, ...]:
    """(latent, y or None, detail, psi) for n faces, as G's exported graphs take them."""
    nz = int(G.nz) if hasattr(G, "nz") else int(G.cfg.nz)  # type: ignore[union-attr]
    y = torch.zeros(n, int(G.n_cond)) if has_y(G) else None  # type: ignore[arg-type]
    return torch.randn(n, nz), y, torch.zeros(n, *G.detail_shape), torch.ones(n)  # type: ignore[operator]


# torch's exporters (`torch.export` and the ONNX one) keep global state: one export at a time
# in a process (two windows' services exporting at once failed without it).
EXPORT_LOCK = threading.Lock()


def export_program(G: nn.Module, bf16: bool,
                   batch: int | None = None) -> torch.export.ExportedProgram:
    """G's forward as an exported program (a CPU float32 copy): for `batch` faces, else with a
    dynamic batch axis."""
    G = copy.deepcopy(G).float().cpu().eval().to(memory_format=torch.contiguous_format)
    for p in G.parameters():
        p.requires_grad_(False)
    example = example_inputs(G, batch or 2)
    n = torch.export.Dim("n", min=1, max=MAX_BATCH)
    shapes = None if batch else [None if x is None else {0: n} for x in example]
    with EXPORT_LOCK, torch.no_grad():
        return torch.export.export(_Graph(G, bf16).eval(), example, dynamic_shapes=shapes)


def _build_env(work: str) -> dict[str, str]:
    """The child's environment: Inductor's intermediate files go to `work` (removed after the
    build: the package holds all it needs). Always set, as torch sets the variable in this
    process to its default (under /tmp) once anything asks for Inductor's cache folder.
    Inductor compiles in the child itself, not in a pool of worker processes it would start
    (one per core it sees, each importing torch; a package is one C++ file anyway)."""
    return {**os.environ, "TORCHINDUCTOR_CACHE_DIR": work, "TORCHINDUCTOR_COMPILE_THREADS": "1"}


class BuildTimeout(RuntimeError):
    """The child ran past its time: perhaps only a busy machine, so not remembered."""


def _die_with_parent(parent: int) -> None:
    """In the child, first thing: on Linux, end it when the thread that started it ends (the app
    quit while compiling), instead of compiling on for nobody. Set here, after exec, and not in a
    `preexec_fn`: Python code between fork and exec can deadlock in a process with threads (the
    window's, torch's), and `subprocess` then waits for the child's exec with no timeout."""
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if parent and os.getppid() != parent:  # it ended before the line above took effect
        sys.exit(1)


def _own_group() -> dict[str, object]:
    """Popen's arguments for a child in a process group of its own. Not a session of its own
    where Python can help it (3.11+): Linux's autogroup scheduling gives every session an equal
    share of the CPU, so a child in its own session would take a core from the window whatever
    its nice value (its `_main` lowers that session's share instead, on 3.10)."""
    if os.name != "posix":
        return {}
    if sys.version_info >= (3, 11):
        return {"process_group": 0}
    return {"start_new_session": True}


def _run_child(cmd: list[str], env: dict[str, str], log: Path, timeout: float) -> int:
    """Run the build's child, its output into `log`, in a process group of its own: a timeout
    ends the child and every compiler it started, and nothing it left running can hold this
    side waiting on a pipe."""
    with open(log, "wb") as out:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,  # type: ignore[call-overload]
                                 stderr=subprocess.STDOUT, env=env, **_own_group())
        try:
            return child.wait(timeout)
        except BaseException:  # the timeout, or this side interrupted: no orphans compiling on
            if os.name == "posix":
                try:
                    os.killpg(child.pid, signal.SIGKILL)
                except OSError:
                    pass
            child.kill()
            child.wait()
            raise


def build_package(G: nn.Module, path: Path, *, bf16: bool, threads: int,
                  batch: int | None = None, timeout: float | None = None) -> None:
    """Export G here, compile it in a child process, and put the package at `path` (`timeout`:
    seconds, `BUILD_TIMEOUT_S` by default)."""
    path = Path(path)
    timeout = BUILD_TIMEOUT_S if timeout is None else timeout
    path.parent.mkdir(parents=True, exist_ok=True)
    program = temp_beside(path, ".ep.pt2")
    package = temp_beside(path, ".pt2")
    try:
        torch.export.save(export_program(G, bf16, batch), str(program))
        cmd = [sys.executable, "-m", "explorer.core.render_compiled", str(program), str(package),
               "--threads", str(threads), "--parent", str(os.getpid())]
        with tempfile.TemporaryDirectory(prefix=".inductor-", dir=path.parent) as work:
            log = Path(work) / "build.log"
            try:
                status = _run_child(cmd, _build_env(work), log, timeout)
            except subprocess.TimeoutExpired as e:
                raise BuildTimeout(f"compiling G took over {timeout:.0f} s") from e
            said = log.read_text(errors="replace")
        if status != 0 or not package.exists():
            lines = [s for s in said.splitlines() if s.strip()]
            why = lines[-1] if lines else f"exit status {status}"
            raise RuntimeError(f"compiling G failed: {why[:300]}")
        os.replace(package, path)
    finally:
        program.unlink(missing_ok=True)
        package.unlink(missing_ok=True)


def _prune(folder: Path, keep: int = KEEP_PACKAGES) -> None:
    """Remove all but the newest `keep` packages, and the records of failed builds, by
    modification time."""
    for pattern in ("g-*.pt2", "g-*.failed"):
        try:
            found = sorted(folder.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        except OSError:
            return
        for p in found[keep:]:
            p.unlink(missing_ok=True)


# One build per package key per process: two render services on one model share it.
_builds = MadeOnce()


def cached_package(G: nn.Module, *, bf16: bool, threads: int, batch: int | None = None,
                   folder: Path | None = None) -> Path:
    """The compiled package of G in the cache folder, built first if it is not there yet
    (blocking: the render backend calls it from its background thread)."""
    folder = Path(folder) if folder is not None else cache_dir("compiled")
    path = folder / f"g-{package_key(G, bf16, threads, batch)}.pt2"
    failed = path.with_suffix(".failed")

    def make() -> None:
        if failed.exists():  # built before and failed: not again at every start
            raise RuntimeError(f"{failed.read_text(errors='replace').strip()[:300]} (an "
                               f"earlier build; delete {failed} to try again)")
        try:
            build_package(G, path, bf16=bf16, threads=threads, batch=batch)
        except BuildTimeout:
            raise
        except RuntimeError as e:  # the build's own failure (not a quit or an interrupt)
            try:
                failed.write_text(str(e))
            except OSError:
                pass
            raise
        _prune(folder)

    return _builds.get(path, make)


def load_package(path: Path) -> Compiled:
    """The compiled G: call it with (latent, y, detail, psi) as `example_inputs` gives them
    (y only for a conditional G; the package's batch size where it has one); float32 images
    out.

    The package's loader is made directly: torch's `aoti_load_package` first works out this
    CPU's vector instruction set, only to warn when it differs from the package's, by compiling
    and running test programs with the C++ compiler in this process (9 s and a dozen compiler
    processes in a fresh process here, every start after /tmp is cleared; pytorch/pytorch
    #191715). The package key holds the instruction set instead (`package_key`)."""
    try:
        from torch.export.pt2_archive._package import AOTICompiledModel

        loader = torch._C._aoti.AOTIModelPackageLoader(  # type: ignore[attr-defined]
            str(path), "model", False, 1, -1)
    except (ImportError, AttributeError):  # another torch: its public loader
        return torch._inductor.aoti_load_package(str(path))  # type: ignore[attr-defined]
    return AOTICompiledModel(loader)


def _main(argv: list[str]) -> int:
    """The child process: compile an exported program into a package."""
    import argparse

    ap = argparse.ArgumentParser(description="compile an exported G (the render backend's child)")
    ap.add_argument("program")
    ap.add_argument("package")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parent", type=int, default=0, help="the app's process id")
    args = ap.parse_args(argv)
    _die_with_parent(args.parent)
    try:
        os.nice(10)  # the window's own threads go first
        if os.name == "posix" and os.getsid(0) == os.getpid():  # a session (autogroup) its own
            with open("/proc/self/autogroup", "w") as f:
                f.write("10")
    except OSError:
        pass
    torch.set_num_threads(max(1, args.threads))
    program = torch.export.load(args.program)
    # Inductor freezes (folds the weights, their casts and packing into the package) only with
    # gradients off: without, one face took 2.3 ms instead of 1.2.
    with torch.no_grad():
        torch._inductor.aoti_compile_and_package(  # type: ignore[attr-defined]
            program, package_path=args.package, inductor_configs={"freezing": True})
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
