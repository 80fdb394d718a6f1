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
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import torch
from torch import nn

from facegan.files import atomic_write, cache_dir

EXPORT_FORMAT = 2  # bump when `_GraphInputs`, the export arguments or a G's forward change
KEEP_GRAPHS = 6  # newest exported graphs kept in the cache folder
ENV_SWITCH = "FACE_EXPLORER_ONNX"  # "0": eager only


def onnx_enabled() -> bool:
    """Whether render services use ONNX Runtime by default (env FACE_EXPLORER_ONNX, default on)."""
    return os.environ.get(ENV_SWITCH, "1").strip().lower() not in ("0", "false", "no", "off")


def _log(msg: str) -> None:
    print(f"render backend: {msg}", file=sys.stderr, flush=True)


class _GraphInputs(nn.Module):
    """G's forward with every optional input given, as the graph takes them."""

    def __init__(self, G: nn.Module, with_y: bool) -> None:
        super().__init__()
        self.G, self.with_y = G, with_y

    def forward(self, latent: torch.Tensor, *rest: torch.Tensor) -> torch.Tensor:
        y, detail, psi = rest if self.with_y else (None, *rest)
        return self.G(latent, y, detail, psi)


def _has_y(G: nn.Module) -> bool:
    return bool(getattr(G, "n_cond", 0))


def _input_names(with_y: bool) -> list[str]:
    return ["latent", "y", "detail", "psi"] if with_y else ["latent", "detail", "psi"]


def graph_key(G: nn.Module) -> str:
    """Hex digest of what the exported graph depends on: G's class and weights, the export
    format, torch's and onnxruntime's versions."""
    import onnxruntime

    h = hashlib.sha256()
    h.update(f"{type(G).__qualname__} {EXPORT_FORMAT} torch {torch.__version__} "
             f"ort {onnxruntime.__version__}".encode())
    for name, t in G.state_dict().items():
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name} {tuple(t.shape)} {t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:32]


def _example_inputs(G: nn.Module, n: int = 2) -> tuple[torch.Tensor, ...]:
    nz = int(G.nz) if hasattr(G, "nz") else int(G.cfg.nz)  # type: ignore[union-attr]
    latent = torch.randn(n, nz)
    detail = torch.zeros(n, *G.detail_shape)  # type: ignore[operator]
    psi = torch.ones(n)
    if _has_y(G):
        return latent, torch.zeros(n, int(G.n_cond)), detail, psi  # type: ignore[arg-type]
    return latent, detail, psi


_export_lock = threading.Lock()


def export_graph(G: nn.Module, path: Path) -> None:
    """Export G (a CPU float32 copy, eval mode) to an ONNX file at `path`, written atomically."""
    import onnx  # noqa: F401  (torch's exporter needs it; fail here with a clear name)

    with_y = _has_y(G)
    G = copy.deepcopy(G).float().cpu().eval()
    G = G.to(memory_format=torch.contiguous_format)
    wrapper = _GraphInputs(G, with_y).eval()
    names = _input_names(with_y)
    axes = {k: {0: "n"} for k in [*names, "image"]}
    example = _example_inputs(G)

    def write(tmp: str) -> None:
        import warnings

        # torch's exporter keeps global state: one export at a time in a process
        with _export_lock, warnings.catch_warnings(), torch.no_grad():
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
_exports: dict[str, Future[Path]] = {}
_exports_lock = threading.Lock()


def cached_graph(G: nn.Module, folder: Path | None = None) -> Path:
    """The ONNX file of G in the cache folder, exported first if it is not there yet
    (blocking; the render backend calls it from its background thread)."""
    folder = Path(folder) if folder is not None else cache_dir("onnx")
    path = folder / f"g-{graph_key(G)}.onnx"
    key = str(path)
    with _exports_lock:
        fut = _exports.get(key)
        owner = fut is None or (fut.done() and (fut.exception() is not None
                                                 or not path.exists()))
        if owner:
            fut = _exports[key] = Future()
    assert fut is not None
    if not owner:
        return fut.result()
    try:
        if path.exists():
            os.utime(path)  # recently used: kept by `_prune`
        else:
            export_graph(G, path)
            _prune(folder)
        fut.set_result(path)
    except BaseException as e:
        fut.set_exception(e)
        raise
    return path


TRIALS = 3  # timed calls per engine and batch size before `auto` settles on one


class GeneratorBackend:
    """Calls G for the render service: `backend(latent, y, detail, psi)` -> image tensor.

    Parameters
    ----------
    G : the service's eager generator (its own copy: read here, never changed).
    threads : ONNX Runtime intra-op threads (0: its default).
    mode : "eager"; "onnx" (ONNX Runtime for every call once the graph is loaded); "auto" (the
        default while env FACE_EXPLORER_ONNX is on): per batch size, the first calls alternate
        between eager and ONNX Runtime (one warm-up and `TRIALS` timed calls each), then the
        faster by median draws that batch size. Eager may be bfloat16 autocast where the
        service uses it (`bf16_is_fast`: AVX-512 with BF16 here), which beats float32 ONNX
        Runtime on a 4x4 grid but not on one face; where eager is float32, ONNX Runtime wins both.
    device, bf16 : the service's; ONNX Runtime serves only CPU services.
    cache : folder of the exported graphs (default `cache_dir("onnx")`).
    background : export and load in a daemon thread (False: before the constructor returns).

    `kind` says whether ONNX Runtime can draw ("onnx") or not ("eager"); `engine(n)` which
    engine draws n faces now; `wait_ready` waits for the background work to end (benchmarks,
    tests).
    """

    def __init__(self, G: nn.Module, *, threads: int = 2, mode: str | None = None,
                 device: torch.device | str = "cpu", bf16: bool = False,
                 cache: Path | None = None, background: bool = True) -> None:
        mode = mode or ("auto" if onnx_enabled() else "eager")
        if mode not in ("eager", "onnx", "auto"):
            raise ValueError(f"unknown render backend mode {mode!r}")
        self._G = G
        self._threads = threads
        self._bf16 = bf16
        self.mode = mode
        self._session: object | None = None
        self._names = _input_names(_has_y(G))
        self._done = threading.Event()
        # auto: per batch size, [eager times, onnx times] (ms), then the chosen engine
        self._trials: dict[int, tuple[list[float], list[float]]] = {}
        self._chosen: dict[int, str] = {}
        self.error: str | None = None  # why ONNX Runtime does not draw, if it was tried
        if mode == "eager" or torch.device(device).type != "cpu":
            self._done.set()
            return
        # G is the service's own copy, never changed: the background thread only reads it (the
        # export works on a copy of its own), so the constructor returns at once.
        work: Callable[[], None] = lambda: self._prepare(G, cache)  # noqa: E731
        if background:
            threading.Thread(target=work, name="onnx-export", daemon=True).start()
        else:
            work()

    @property
    def kind(self) -> str:
        return "eager" if self._session is None else "onnx"

    def engine(self, n: int) -> str:
        """The engine that draws the next call of n faces: "eager" or "onnx"."""
        if self._session is None:
            return "eager"
        if self.mode == "onnx":
            return "onnx"
        if n in self._chosen:
            return self._chosen[n]
        eager, onnx = self._trials.get(n, ([], []))
        return "onnx" if len(onnx) <= len(eager) else "eager"

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Wait for the export and load to end (either way); True if they ended in time."""
        return self._done.wait(timeout)

    def _prepare(self, G: nn.Module, cache: Path | None) -> None:
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
            self.error = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            _log(f"drawing with eager PyTorch ({self.error})")
        finally:
            self._done.set()

    def __call__(self, latent: torch.Tensor, y: torch.Tensor | None = None,
                 detail: torch.Tensor | None = None,
                 psi: torch.Tensor | None = None) -> torch.Tensor:
        n = int(latent.shape[0])
        engine = self.engine(n) if latent.device.type == "cpu" else "eager"
        timing = self.mode == "auto" and self._session is not None and n not in self._chosen
        t0 = time.perf_counter()
        out = self._onnx(latent, y, detail, psi) if engine == "onnx" else None
        if out is None:
            engine = "eager"
            with torch.autocast(latent.device.type, torch.bfloat16, enabled=self._bf16):
                out = self._G(latent, y, detail, psi)
        if timing and self._session is not None:
            self._record(n, engine, (time.perf_counter() - t0) * 1e3)
        return out

    def _record(self, n: int, engine: str, ms: float) -> None:
        times = self._trials.setdefault(n, ([], []))
        runs = times[engine == "onnx"]
        runs.append(ms)
        eager, onnx = times
        if min(len(eager), len(onnx)) > TRIALS:  # the first of each was the warm-up
            fast = "onnx" if np.median(onnx[1:]) <= np.median(eager[1:]) else "eager"
            self._chosen[n] = fast
            del self._trials[n]

    def _onnx(self, latent: torch.Tensor, y: torch.Tensor | None,
              detail: torch.Tensor | None, psi: torch.Tensor | None) -> torch.Tensor | None:
        """G's output drawn by ONNX Runtime, or None when it cannot draw (then for good)."""
        session = self._session
        if session is None:
            return None
        n = latent.shape[0]
        feeds = {"latent": latent.float().numpy()}
        if "y" in self._names:
            if y is None:
                return None  # G raises its own clear error
            feeds["y"] = y.float().numpy()
        shape = tuple(self._G.detail_shape)  # type: ignore[arg-type]
        feeds["detail"] = (np.zeros((n, *shape), np.float32) if detail is None
                           else np.ascontiguousarray(detail.float().expand(n, *shape).numpy()))
        feeds["psi"] = (np.ones(n, np.float32) if psi is None
                        else np.ascontiguousarray(psi.float().reshape(-1).expand(n).numpy()))
        try:
            return torch.from_numpy(session.run(None, feeds)[0])  # type: ignore[attr-defined]
        except Exception as e:  # a graph that cannot draw these inputs: eager from now on
            self._session = None
            self.error = f"{type(e).__name__}: {e}".splitlines()[0][:300]
            _log(f"ONNX Runtime failed, drawing with eager PyTorch ({self.error})")
            return None
