"""How the render service calls its generator: eager PyTorch, or ONNX Runtime once G's exported
graph is ready.

Why (`benchmarks/render_latency.py`, rows interleaved, p50 as a ratio to the DCGAN's eager
float32 on the loaded 2-core dev machine): eager PyTorch draws the style G 1.2-1.7x slower than
the DCGAN; through ONNX Runtime the style G draws one face at 0.04 (2 threads) to 0.45 (1 thread)
and a 4x4 grid at 0.25 to 0.91, the same pixels to +-1. PyTorch's two OpenMP threads stall when
another process holds a core, ONNX Runtime's do not. Eager bfloat16 (this CPU has AVX-512 BF16)
still wins the 4x4 grid on one thread (0.74 for the style G), hence mode "auto".

The graph is G's own forward with every input present: (latent, [y], detail, psi), `detail`
zeros and `psi` ones for faces that have none, one dynamic batch axis. It is exported once per
generator content (a hash of G's weights, the exporter's format, torch's and onnxruntime's
versions) into `cache_dir("onnx")`, in a background thread; eager PyTorch draws until the graph
is loaded, and for good when onnxruntime or onnx is missing, the export fails or a run fails (one
line on stderr, never a crash). A photo's pivotal-tuned weights are drawn by the render service
with `torch.func.functional_call` on the eager G; this backend only serves G's own weights.
"""

from __future__ import annotations

import copy
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from explorer.core import render_compiled
from explorer.core.render_compiled import Compiled, compile_enabled, has_y
from facegan.files import MadeOnce, atomic_write, cache_dir

EXPORT_FORMAT = 2  # bump when `_GraphInputs`, the export arguments or a G's forward change
KEEP_GRAPHS = 6  # newest exported graphs kept in the cache folder
ENV_SWITCH = "FACE_EXPLORER_ONNX"  # "0": eager only


def onnx_enabled() -> bool:
    """Whether render services use ONNX Runtime by default (env FACE_EXPLORER_ONNX, default on)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _log(msg: str) -> None:
    print(f"render backend: {msg}", file=sys.stderr, flush=True)


def _why(e: BaseException) -> str:
    """An engine's failure in one short line: its type and the first line of its message."""
    return f"{type(e).__name__}: {e}".splitlines()[0][:300]


class _GraphInputs(nn.Module):
    """G's forward with every optional input given, as the graph takes them."""

    def __init__(self, G: nn.Module, with_y: bool) -> None:
        super().__init__()
        self.G, self.with_y = G, with_y

    def forward(self, latent: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        y, detail, psi = rest if self.with_y else (None, *rest)
        return self.G(latent, y, detail, psi)


def _input_names(with_y: bool) -> list[str]:
    return ["latent", "y", "detail", "psi"] if with_y else ["latent", "detail", "psi"]


def graph_key(G: nn.Module) -> str:
    """Hex digest of what the exported graph depends on: G's class and weights, the export
    format, torch's and onnxruntime's versions."""
    import onnxruntime

    h = hashlib.sha256()
    h.update(f"{EXPORT_FORMAT} torch {torch.__version__} ort {onnxruntime.__version__}".encode())
    render_compiled.hash_weights(h, G)
    return h.hexdigest()[:32]


def _example_inputs(G: nn.Module, n: int = 2) -> tuple[torch.Tensor, ...]:
    return tuple(x for x in render_compiled.example_inputs(G, n) if x is not None)


def export_graph(G: nn.Module, path: Path) -> None:
    """Export G (a CPU float32 copy, eval mode) to an ONNX file at `path`, written atomically."""
    import onnx  # noqa: F401  (torch's exporter needs it; fail here with a clear name)

    with_y = has_y(G)
    G = copy.deepcopy(G).float().cpu().eval()
    G = G.to(memory_format=torch.contiguous_format)
    wrapper = _GraphInputs(G, with_y).eval()
    names = _input_names(with_y)
    axes = {k: {0: "n"} for k in [*names, "image"]}
    example = _example_inputs(G)

    def write(tmp: str) -> None:
        import warnings

        with render_compiled.EXPORT_LOCK, warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the classic exporter's deprecation notice
            torch.onnx.export(wrapper, example, tmp, dynamo=False, input_names=names,
                              output_names=["image"], dynamic_axes=axes, opset_version=17)

    atomic_write(path, write, suffix=".onnx", durable=False)


def _prune(folder: Path, keep: int = KEEP_GRAPHS) -> None:
    """Remove all but the newest `keep` graphs (by modification time)."""
    try:
        graphs = sorted(folder.glob("g-*.onnx"), key=lambda p: p.stat().st_mtime, reverse=True)
    except OSError:
        return
    for p in graphs[keep:]:
        try:
            p.unlink()
        except OSError:
            pass


# One export per graph key per process: two render services on one model share it.
_exports = MadeOnce()


def cached_graph(G: nn.Module, folder: Path | None = None) -> Path:
    """The ONNX file of G in the cache folder, exported first if it is not there yet
    (blocking; the render backend calls it from its background thread)."""
    folder = Path(folder) if folder is not None else cache_dir("onnx")
    path = folder / f"g-{graph_key(G)}.onnx"

    def make() -> None:
        export_graph(G, path)
        _prune(folder)

    return _exports.get(path, make)


TRIALS = 3  # timed calls per engine and batch size before `auto` settles on one
ENGINES = ("eager", "onnx", "compiled")
MODES = ("eager", "onnx", "compiled", "auto")


class GeneratorBackend:
    """Calls G for the render service: `backend(latent, y, detail, psi)` -> image tensor.

    Engines: "eager" PyTorch (bfloat16 autocast where the service uses it), "onnx" (ONNX
    Runtime, float32) and "compiled" (G compiled ahead of time by Inductor, in bfloat16 where the
    service uses it: `explorer.core.render_compiled`). The other engines are prepared in a
    background thread; eager draws until they are ready, and for good where they cannot be.

    Parameters
    ----------
    G : the service's eager generator (its own copy: read here, never changed).
    threads : ONNX Runtime's intra-op threads and the compiled engine's (0: their default).
    mode : "eager"; "onnx" or "compiled" (that engine for every call once it is ready); "auto"
        (the default while env FACE_EXPLORER_ONNX or FACE_EXPLORER_COMPILE is on, each engine
        only while its switch is on): per batch size, the first calls go round the ready engines
        (one warm-up and `TRIALS` timed calls each), then the fastest by median draws that
        batch size. When an engine becomes ready later (the compiled one takes about 20 s a
        package the first time a model is opened on a machine), every batch size it draws is
        measured again. On this 2-core machine the compiled engine wins both one face and a
        4x4 grid; ONNX Runtime beats eager float32, and eager bfloat16 beats ONNX Runtime on a
        grid.
    device, bf16 : the service's; the other engines serve only CPU services.
    cache : folder of the exported ONNX graphs (default `cache_dir("onnx")`).
    compiled_cache : folder of the compiled packages (default `cache_dir("compiled")`).
    static_batches : batch sizes compiled with their size fixed, after the dynamic package.
    background : prepare the engines in a daemon thread (False: before the constructor returns).

    `kind` says whether ONNX Runtime can draw ("onnx") or not ("eager"), `engines` which
    engines are ready, `engine(n)` which one draws n faces now; `error` and `compile_error` why
    ONNX Runtime or the compiled engine does not draw, if it was tried; `wait_ready` waits for
    the background work to end (benchmarks, tests).
    """

    def __init__(self, G: nn.Module, *, threads: int = 2, mode: str | None = None,
                 device: torch.device | str = "cpu", bf16: bool = False,
                 cache: Path | None = None, compiled_cache: Path | None = None,
                 static_batches: tuple[int, ...] = render_compiled.STATIC_BATCHES,
                 background: bool = True) -> None:
        wanted = {"onnx": onnx_enabled(), "compiled": compile_enabled()}
        mode = mode or ("auto" if any(wanted.values()) else "eager")
        if mode not in MODES:
            raise ValueError(f"unknown render backend mode {mode!r}")
        if mode != "auto":
            wanted = {k: k == mode for k in wanted}
        self._G = G
        self._threads = threads
        self._bf16 = bf16
        self.mode = mode
        self._session: object | None = None
        # the compiled packages: None the dynamic-batch one, else a batch size's own
        self._compiled: dict[int | None, Compiled] = {}
        self._static_batches = tuple(static_batches)
        self._names = _input_names(has_y(G))
        self._done = threading.Event()
        # auto: per batch size, each engine's times (ms) so far, then the chosen engine
        self._trials: dict[int, dict[str, list[float]]] = {}
        self._chosen: dict[int, str] = {}
        self.error: str | None = None  # why ONNX Runtime does not draw, if it was tried
        self.compile_error: str | None = None  # why the compiled engine does not draw
        if not any(wanted.values()) or torch.device(device).type != "cpu":
            self._done.set()
            return
        # G is the service's own copy, never changed: the background thread only reads it (the
        # export works on a copy of its own), so the constructor returns at once.
        work: Callable[[], None] = lambda: self._prepare(  # noqa: E731
            G, wanted, cache, compiled_cache)
        if background:
            threading.Thread(target=work, name="render-engines", daemon=True).start()
        else:
            work()

    @property
    def kind(self) -> str:
        return "eager" if self._session is None else "onnx"

    @property
    def engines(self) -> tuple[str, ...]:
        """The engines that can draw now, "eager" first."""
        ready = {"eager": True, "onnx": self._session is not None,
                 "compiled": bool(self._compiled)}
        return tuple(e for e in ENGINES if ready[e])

    def engine(self, n: int) -> str:
        """The engine that draws the next call of n faces: "eager", "onnx" or "compiled"."""
        engines = self.engines
        if self.mode != "auto":
            return self.mode if self.mode in engines else "eager"
        if len(engines) == 1:
            return "eager"
        chosen = self._chosen.get(n)
        if chosen in engines:
            return chosen  # type: ignore[return-value]
        runs = self._trials.get(n, {})
        # the engine with the fewest calls so far; the newest engine first on a tie
        return min(reversed(engines), key=lambda e: len(runs.get(e, ())))

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for the background work to end (either way); True if it ended in time."""
        return self._done.wait(timeout)

    def _prepare(self, G: nn.Module, wanted: dict[str, bool], cache: Path | None,
                 compiled_cache: Path | None) -> None:
        try:
            if wanted["onnx"]:
                self._prepare_onnx(G, cache, alone=not wanted["compiled"])
            if wanted["compiled"]:
                self._prepare_compiled(G, compiled_cache)
        finally:
            self._done.set()

    def _prepare_onnx(self, G: nn.Module, cache: Path | None, alone: bool) -> None:
        try:
            import onnxruntime as ort

            path = cached_graph(G, cache)
            so = ort.SessionOptions()
            so.intra_op_num_threads = max(0, self._threads)
            so.inter_op_num_threads = 1
            # Spinning workers take the CPU from the UI and the other lane between frames;
            # measured no slower without (p95 lower under load).
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            try:
                self._session = ort.InferenceSession(str(path), so,
                                                     providers=["CPUExecutionProvider"])
            except Exception:
                path.unlink(missing_ok=True)  # a bad cache entry: exported anew next time
                raise
        except Exception as e:  # ImportError, export or load failure: eager it stays
            self.error = _why(e)
            others = "eager PyTorch" if alone else "eager PyTorch or the compiled engine"
            _log(f"drawing with {others}, not ONNX Runtime ({self.error})")

    def _prepare_compiled(self, G: nn.Module, folder: Path | None) -> None:
        """The dynamic-batch package first, then one per `static_batches` size; each that
        arrives draws its batch sizes from then on (after they are measured again)."""
        if render_compiled.compiler() is None:
            self.compile_error = "RuntimeError: no C++ compiler (g++ or clang++) found"
            _log(f"drawing without the compiled engine ({self.compile_error})")
            return
        threads = self._threads if self._threads > 0 else torch.get_num_threads()
        for batch in (None, *self._static_batches):
            try:
                path = render_compiled.cached_package(G, bf16=self._bf16, threads=threads,
                                                      batch=batch, folder=folder)
                try:
                    compiled = render_compiled.load_package(path)
                except Exception:
                    path.unlink(missing_ok=True)  # a bad cache entry: built anew next time
                    raise
            except Exception as e:  # no compiler, a failed build or load: the others draw
                self.compile_error = _why(e)
                if self._compiled:  # the dynamic-batch package still draws every size
                    _log(f"the compiled engine draws {batch} faces without a package of their "
                         f"own ({self.compile_error})")
                else:
                    _log(f"drawing without the compiled engine ({self.compile_error})")
                return
            self._compiled = {**self._compiled, batch: compiled}
            if self.mode == "auto":  # a new engine: its batch sizes are measured again
                if batch is None:
                    self._chosen, self._trials = {}, {}
                else:
                    self._chosen.pop(batch, None)
                    self._trials.pop(batch, None)

    def __call__(self, latent: torch.Tensor, y: torch.Tensor | None = None,
                 detail: torch.Tensor | None = None,
                 psi: torch.Tensor | None = None) -> torch.Tensor:
        n = int(latent.shape[0])
        engine = self.engine(n) if latent.device.type == "cpu" else "eager"
        timing = self.mode == "auto" and len(self.engines) > 1 and n not in self._chosen
        t0 = time.perf_counter()
        out = None
        if engine == "onnx":
            out = self._onnx(latent, y, detail, psi)
        elif engine == "compiled":
            out = self._run_compiled(latent, y, detail, psi)
        if out is None:
            engine = "eager"
            with torch.autocast(latent.device.type, torch.bfloat16, enabled=self._bf16):
                out = self._G(latent, y, detail, psi)
        if timing:
            self._record(n, engine, (time.perf_counter() - t0) * 1e3)
        return out

    def _record(self, n: int, engine: str, ms: float) -> None:
        trials, engines = self._trials, self.engines
        runs = trials.setdefault(n, {})
        runs.setdefault(engine, []).append(ms)
        if all(len(runs.get(e, ())) > TRIALS for e in engines):  # the first was the warm-up
            self._chosen[n] = min(engines, key=lambda e: float(np.median(runs[e][1:])))
            trials.pop(n, None)

    def _full_inputs(self, latent: torch.Tensor, detail: torch.Tensor | None,
                     psi: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """`detail` and `psi` for every face, as the exported graphs take them."""
        n = latent.shape[0]
        shape = tuple(self._G.detail_shape)  # type: ignore[arg-type]
        d = (torch.zeros((n, *shape)) if detail is None
             else detail.float().expand(n, *shape).contiguous())
        p = (torch.ones(n) if psi is None
             else psi.float().reshape(-1).expand(n).contiguous())
        return d, p

    def _run_compiled(self, latent: torch.Tensor, y: torch.Tensor | None,
                      detail: torch.Tensor | None,
                      psi: torch.Tensor | None) -> torch.Tensor | None:
        """G's output drawn by the compiled engine, or None when it cannot draw (then for
        good)."""
        packages = self._compiled
        compiled = packages.get(int(latent.shape[0]), packages.get(None))
        if compiled is None:
            return None
        if "y" in self._names and y is None:
            return None  # G raises its own clear error
        d, p = self._full_inputs(latent, detail, psi)
        try:
            return compiled(latent.float().contiguous(),
                            None if y is None else y.float().contiguous(), d, p)
        except Exception as e:  # inputs it cannot draw: the other engines from now on
            self._compiled = {}
            self.compile_error = _why(e)
            _log(f"the compiled engine failed, drawing without it ({self.compile_error})")
            return None

    def _onnx(self, latent: torch.Tensor, y: torch.Tensor | None,
              detail: torch.Tensor | None, psi: torch.Tensor | None) -> torch.Tensor | None:
        """G's output drawn by ONNX Runtime, or None when it cannot draw (then for good)."""
        session = self._session
        if session is None:
            return None
        feeds = {"latent": latent.float().numpy()}
        if "y" in self._names:
            if y is None:
                return None  # G raises its own clear error
            feeds["y"] = y.float().numpy()
        d, p = self._full_inputs(latent, detail, psi)
        feeds["detail"], feeds["psi"] = d.numpy(), p.numpy()
        try:
            return torch.from_numpy(session.run(None, feeds)[0])  # type: ignore[attr-defined]
        except Exception as e:  # a graph that cannot draw these inputs: eager from now on
            self._session = None
            self.error = _why(e)
            _log(f"ONNX Runtime failed, drawing with eager PyTorch ({self.error})")
            return None
