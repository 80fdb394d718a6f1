"""Render service: one worker thread owns a copy of the generator and serves two lanes.

The pattern is stylegan3's ``AsyncRenderer`` and napari's ``_layer_slicer``: requests are frozen
values; failures come back as data in `RenderResult.error`, never as an exception on the worker.

- The interactive lane (`submit`, the canvas) holds one request: a new one replaces the one not yet
  started, so only the newest is drawn.
- The background lane (`submit_background`: thumbnails, video frames, photo reconstructions) is a
  queue served in order, each request only while no interactive one waits, so a slider never
  waits behind thumbnails for more than the one background request being drawn. A queued request
  with the same `key` as a new one is superseded and dropped (a panel redrawing its thumbnails).
  `render_background` waits for its result, for a background job (video export) on a pool thread.

Every draw goes through `render`, the one place G is called, on the worker thread (or, in `render`
called directly, the calling thread under the model lock: the CLI, tests).
"""

from __future__ import annotations

import copy
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np
import torch

from explorer.core.bundle import Bundle
from explorer.core.render_backend import GeneratorBackend
from facegan.models import bf16_is_fast, tensor_to_images

TUNED_CACHE = 8  # photos whose tuned weights the render service keeps ready
THREADS = 2  # torch threads of the window's render worker and of its background jobs


def serial_torch_here() -> None:
    """Let the calling thread (the window's GUI thread, from the start) compute torch on one
    thread, so that it never starts an OpenMP team of its own.

    Why: torch's OpenMP runtime (libgomp) lets a team's idle threads spin between parallel
    regions only while it manages no more threads than the machine has cores. Once the GUI
    thread had run one torch call on two threads, its team (kept for the life of the thread)
    made the render worker's helper sleep and be woken again in every layer: measured on the
    2-core dev machine, one face drawn by the compiled G took 2.2-2.4 ms in the worker against
    1.2 ms with the GUI thread serial (eager bfloat16 4.9 against 3.2 ms, a 4x4 grid 8.0 against
    6.9 ms). The GUI thread's own torch work is small (a classifier reading of a face)."""
    torch.set_num_threads(1)


def parallel_torch_here(threads: int = THREADS) -> None:
    """Let the calling thread (a background job's pool thread) compute torch on `threads`
    threads: its own count, which the GUI thread's one does not give it."""
    torch.set_num_threads(max(1, threads))


@dataclass(frozen=True)
class RenderRequest:
    """What to render: z (n, nz) float32, for a cgan y (n, n_cond), a photo's detail
    (n, *Bundle.detail_shape), zeros for faces that have none, and the truncation psi (faces
    with a detail are drawn at 1: `Bundle.face_psi`)."""

    id: int
    z: np.ndarray
    y: np.ndarray | None = None
    detail: np.ndarray | None = None
    psi: float | np.ndarray = 1.0  # one number, or one per face
    # Per face: a photo's pivotal-tuned weights (explorer.core.pivotal.TunedWeights) or None;
    # faces drawn with tuned weights are drawn at psi 1, as the photo was tuned.
    tuned: tuple[object | None, ...] | None = None


@dataclass(frozen=True)
class RenderResult:
    """Images (n, res, res, 3) uint8, or None with `error` set; `ms` is the render time."""

    id: int
    images: np.ndarray | None
    error: str | None
    ms: float


class RenderService:
    """One worker thread that owns the generator: newest interactive request wins; background
    requests are drawn in order when no interactive one waits.

    Parameters
    ----------
    bundle : the loaded model.
    threads : torch intra-op threads of the worker thread (set there, never in the caller's
        thread: `serial_torch_here`); a caller of `render` draws on its own thread's count.
    device : 'cpu', 'cuda', ...; default CUDA when present, else CPU.
    channels_last : run the interactive lane's generator in channels-last memory format.
    bf16 : the interactive lane's bfloat16 autocast; default only where `bf16_is_fast` says it
        pays off.
    onnx : draw the interactive lane's G (its own weights) through ONNX Runtime once its graph
        is exported (in the background; eager until then, or for good if that fails): True for
        every call, None (default, while env FACE_EXPLORER_ONNX is on) for the batch sizes where
        it measures faster than eager here, False never (`explorer.core.render_backend`). Faces
        with pivotal-tuned weights are drawn eager.
    engine : the interactive lane's engine mode, when given instead of `onnx`: "eager", "onnx",
        "compiled" (G compiled ahead of time, `explorer.core.render_compiled`) or "auto" (the
        default: per batch size the fastest of the engines whose switches are on).

    The background lane keeps an eager float32 copy of G in the default memory format, so its
    thumbnails and video frames have the pixels `Bundle.generate` (the CLI) draws: bf16 and
    channels-last move about 1 pixel value in 6 by up to 3 levels on the bundled model.
    """

    def __init__(
        self,
        bundle: Bundle,
        threads: int = 2,
        device: str | None = None,
        channels_last: bool = True,
        bf16: bool | None = None,
        onnx: bool | None = None,
        engine: str | None = None,
    ) -> None:
        self.bundle = bundle
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.threads = threads
        self.channels_last = channels_last
        self.bf16 = bf16_is_fast(self.device) if bf16 is None else bf16
        G = copy.deepcopy(bundle.network("G")).to(self.device).eval()
        self._G_exact = G  # the background lane's: eager float32, the default memory format
        self._G = copy.deepcopy(G).to(memory_format=torch.channels_last) if channels_last else G
        mode = engine or (None if onnx is None else ("onnx" if onnx else "eager"))
        self.backend = GeneratorBackend(self._G, threads=threads, mode=mode, device=self.device,
                                        bf16=self.bf16)
        # (tuned key, channels-last) -> weights, LRU order
        self._tuned_cache: dict[tuple[str, bool], dict[str, torch.Tensor]] = {}
        self._model_lock = threading.Lock()  # the worker and `render` never run G at once
        self._cv = threading.Condition()
        self._pending: tuple[RenderRequest, Callable[[RenderResult], None]] | None = None
        self._queue: deque[tuple[RenderRequest, Callable[[RenderResult], None], Hashable]] = \
            deque()  # the background lane
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="render-service", daemon=True)
        self._thread.start()

    # Synchronous path.
    def render(self, req: RenderRequest, exact: bool = False) -> RenderResult:
        """Render now on the calling thread (tests, CLI); errors come back in `error`. The one
        place G runs. `exact`: the background lane's way, float32 with G in the default memory
        format, whose pixels are `Bundle.generate`'s (else the interactive lane's: the backend,
        ONNX Runtime or eager, possibly channels-last and bfloat16)."""
        t0 = time.perf_counter()
        try:
            psi = req.psi
            tuned = req.tuned if req.tuned and any(t is not None for t in req.tuned) else None
            if tuned is not None:
                n = len(np.atleast_2d(req.z))
                if len(tuned) != n:
                    raise ValueError(f"{len(tuned)} tuned weights for {n} faces")
                psi = np.broadcast_to(np.asarray(req.psi, np.float32), (n,)).copy()
                psi[[t is not None for t in tuned]] = 1.0
            inputs = self.bundle.generator_inputs(req.z, req.y, req.detail, psi, self.device)
            with self._model_lock, torch.inference_mode():
                if exact:  # eager float32: the CLI's pixels
                    G = self._G_exact
                    out = G(*inputs) if tuned is None else self._tuned_render(G, False, tuned,
                                                                              inputs)
                elif tuned is None:  # the backend applies the autocast to eager calls
                    out = self.backend(*inputs)
                else:
                    with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
                        out = self._tuned_render(self._G, self.channels_last, tuned, inputs)
                images = tensor_to_images(out)
            return RenderResult(req.id, images, None, (time.perf_counter() - t0) * 1e3)
        except Exception as e:  # reported as data: the UI shows it
            msg = f"{type(e).__name__}: {e}"
            return RenderResult(req.id, None, msg, (time.perf_counter() - t0) * 1e3)

    def _tuned_render(self, G: torch.nn.Module, channels_last: bool,
                      tuned: tuple[object | None, ...],
                      inputs: tuple[torch.Tensor | None, ...]) -> torch.Tensor:
        """Draw each group of faces that share tuned weights with those weights (one G call per
        group); the weights come from a small cache, so a photo's frames never reload them."""
        from explorer.core.pivotal import tuned_forward

        groups: dict[str, list[int]] = {}
        by_key: dict[str, object | None] = {}
        for i, t in enumerate(tuned):
            k = "" if t is None else t.key  # type: ignore[attr-defined]
            groups.setdefault(k, []).append(i)
            by_key[k] = t
        out: torch.Tensor | None = None
        for k, rows in groups.items():
            idx = torch.tensor(rows, device=self.device)
            part = tuple(None if x is None else (x if x.ndim == 0 else x[idx]) for x in inputs)
            params = None if not k else self._device_params(k, by_key[k], channels_last)
            y = tuned_forward(G, params, *part)
            if out is None:
                out = y.new_empty((len(tuned), *y.shape[1:]))
            out[idx] = y
        assert out is not None
        return out

    def _device_params(self, key: str, tuned: object,
                       channels_last: bool) -> dict[str, torch.Tensor]:
        """The tuned weights on this service's device and a lane's memory format (LRU of 8)."""
        hit = self._tuned_cache.pop((key, channels_last), None)
        if hit is None:
            hit = {}
            for n, p in tuned.params.items():  # type: ignore[attr-defined]
                p = p.to(self.device)
                if channels_last and p.ndim == 4:
                    p = p.contiguous(memory_format=torch.channels_last)
                hit[n] = p
        self._tuned_cache[(key, channels_last)] = hit
        while len(self._tuned_cache) > TUNED_CACHE:
            self._tuned_cache.pop(next(iter(self._tuned_cache)))
        return hit

    # Asynchronous path.
    def submit(self, req: RenderRequest, on_done: Callable[[RenderResult], None]) -> None:
        """Queue `req`, replacing any request not yet started; `on_done` runs on the worker."""
        with self._cv:
            if self._closed:
                raise RuntimeError("render service is closed")
            self._pending = (req, on_done)
            self._cv.notify()

    def submit_background(self, req: RenderRequest, on_done: Callable[[RenderResult], None],
                          key: Hashable | None = None) -> None:
        """Queue `req` in the background lane (drawn in order, after any interactive request);
        a queued request with the same `key` is dropped and its `on_done` never runs.
        `on_done` runs on the worker."""
        with self._cv:
            if self._closed:
                raise RuntimeError("render service is closed")
            if key is not None:
                for i, item in enumerate(self._queue):
                    if item[2] == key:
                        del self._queue[i]
                        break
            self._queue.append((req, on_done, key))
            self._cv.notify()

    def render_background(self, req: RenderRequest) -> RenderResult:
        """Draw `req` in the background lane and wait for it (a pool thread's job, e.g. video
        export); errors, and a service closed meanwhile, come back in `error`."""
        if threading.current_thread() is self._thread:
            return self.render(req, exact=True)
        done = threading.Event()
        box: list[RenderResult] = []

        def arrived(res: RenderResult) -> None:
            box.append(res)
            done.set()

        try:
            self.submit_background(req, arrived)
        except RuntimeError as e:
            return RenderResult(req.id, None, str(e), 0.0)
        while not done.wait(0.05):
            with self._cv:
                if self._closed and not box:
                    return RenderResult(req.id, None, "render service is closed", 0.0)
        return box[0]

    def _next(self) -> tuple[RenderRequest, Callable[[RenderResult], None], bool] | None:
        """The next request to draw, interactive first (and whether it is a background one),
        or None once closed."""
        with self._cv:
            while self._pending is None and not self._queue and not self._closed:
                self._cv.wait()
            if self._closed:
                return None
            if self._pending is not None:
                (req, on_done), self._pending = self._pending, None
                return req, on_done, False
            req, on_done, _ = self._queue.popleft()
            return req, on_done, True

    def _loop(self) -> None:
        if self.device.type == "cpu" and self.threads > 0:
            torch.set_num_threads(self.threads)
        while (item := self._next()) is not None:
            req, on_done, background = item
            result = self.render(req, exact=background)
            try:
                on_done(result)
            except Exception as e:  # a broken callback must not kill the worker
                print(f"render service: on_done raised {type(e).__name__}: {e}")

    def close(self) -> None:
        """Stop the worker (pending and queued requests are dropped) and wait for it."""
        with self._cv:
            self._closed = True
            self._pending = None
            self._queue.clear()
            self._cv.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def __enter__(self) -> RenderService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
