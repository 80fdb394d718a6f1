"""Render service: one worker thread owns a copy of the generator and serves the newest request.

The pattern is stylegan3's ``AsyncRenderer`` and napari's ``_layer_slicer``: requests are frozen
values; `submit` replaces the pending request (a superseded one is dropped, never queued); failures
come back as data in `RenderResult.error`, never as an exception on the worker thread.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from explorer.core.bundle import Bundle, tensor_to_images
from facegan.models import bf16_is_fast


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


@dataclass(frozen=True)
class RenderResult:
    """Images (n, res, res, 3) uint8, or None with `error` set; `ms` is the render time."""

    id: int
    images: np.ndarray | None
    error: str | None
    ms: float


class RenderService:
    """One worker thread that owns the generator; newest request wins.

    Parameters
    ----------
    bundle : the loaded model.
    threads : torch intra-op threads (`torch.set_num_threads` is process-wide in PyTorch, so the
        last service created sets it for the process).
    device : 'cpu', 'cuda', ...; default CUDA when present, else CPU.
    channels_last : run the generator in channels-last memory format.
    bf16 : use bfloat16 autocast; default only where `bf16_is_fast` says it pays off.
    """

    def __init__(
        self,
        bundle: Bundle,
        threads: int = 2,
        device: str | None = None,
        channels_last: bool = True,
        bf16: bool | None = None,
    ) -> None:
        self.bundle = bundle
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.threads = threads
        if self.device.type == "cpu" and threads > 0:
            torch.set_num_threads(threads)
        self.channels_last = channels_last
        self.bf16 = bf16_is_fast(self.device) if bf16 is None else bf16
        G = copy.deepcopy(bundle.network("G")).to(self.device).eval()
        if channels_last:
            G = G.to(memory_format=torch.channels_last)
        self._G = G
        self._model_lock = threading.Lock()  # the worker and `render` never run G at once
        self._cv = threading.Condition()
        self._pending: tuple[RenderRequest, Callable[[RenderResult], None]] | None = None
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name="render-service", daemon=True)
        self._thread.start()

    # Synchronous path.
    def render(self, req: RenderRequest) -> RenderResult:
        """Render now on the calling thread (tests, CLI); errors come back in `error`."""
        t0 = time.perf_counter()
        try:
            inputs = self.bundle.generator_inputs(req.z, req.y, req.detail, req.psi, self.device)
            with self._model_lock, torch.inference_mode():
                with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16):
                    out = self._G(*inputs)
                images = tensor_to_images(out)
            return RenderResult(req.id, images, None, (time.perf_counter() - t0) * 1e3)
        except Exception as e:  # reported as data: the UI shows it
            msg = f"{type(e).__name__}: {e}"
            return RenderResult(req.id, None, msg, (time.perf_counter() - t0) * 1e3)

    # Asynchronous path.
    def submit(self, req: RenderRequest, on_done: Callable[[RenderResult], None]) -> None:
        """Queue `req`, replacing any request not yet started; `on_done` runs on the worker."""
        with self._cv:
            if self._closed:
                raise RuntimeError("render service is closed")
            self._pending = (req, on_done)
            self._cv.notify()

    def _loop(self) -> None:
        if self.device.type == "cpu" and self.threads > 0:
            torch.set_num_threads(self.threads)
        while True:
            with self._cv:
                while self._pending is None and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                assert self._pending is not None
                req, on_done = self._pending
                self._pending = None
            result = self.render(req)
            try:
                on_done(result)
            except Exception as e:  # a broken callback must not kill the worker
                print(f"render service: on_done raised {type(e).__name__}: {e}")

    def close(self) -> None:
        """Stop the worker (pending requests are dropped) and wait for it."""
        with self._cv:
            self._closed = True
            self._pending = None
            self._cv.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=10)

    def __enter__(self) -> RenderService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
