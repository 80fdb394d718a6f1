"""The render service's two lanes: the newest interactive request first, background requests in
order after it, a key supersedes a queued background request, and the background lane draws the
pixels `Bundle.generate` (the CLI) draws, on the service's own thread."""

from __future__ import annotations

import threading
import time

import numpy as np

from explorer.core.bundle import Bundle
from explorer.core.latents import seed_latents
from explorer.core.render import RenderRequest, RenderResult, RenderService


def _held(svc: RenderService, bundle: Bundle) -> tuple[list[int], threading.Event]:
    """Hold the worker in the callback of a first interactive request (id 0); return the ids
    served, in order, and the gate that lets the worker go on."""
    served: list[int] = []
    gate, started = threading.Event(), threading.Event()

    def first(r: RenderResult) -> None:
        started.set()
        gate.wait(10)
        served.append(r.id)

    svc.submit(RenderRequest(0, seed_latents([0], bundle.nz)), first)
    assert started.wait(10)
    return served, gate


def _until(pred, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while not pred() and time.monotonic() < end:
        time.sleep(0.01)
    return pred()


def test_interactive_requests_are_served_before_queued_background_ones(bundle: Bundle) -> None:
    with RenderService(bundle, threads=1) as svc:
        served, gate = _held(svc, bundle)
        for i in (1, 2, 3):
            svc.submit_background(RenderRequest(i, seed_latents([i], bundle.nz)),
                                  lambda r: served.append(r.id))
        svc.submit(RenderRequest(4, seed_latents([4], bundle.nz)), lambda r: served.append(r.id))
        svc.submit(RenderRequest(5, seed_latents([5], bundle.nz)), lambda r: served.append(r.id))
        gate.set()
        assert _until(lambda: len(served) == 5)
    # 4 was superseded by 5 (newest interactive wins), which goes before the queued thumbnails,
    # and those come in the order they were asked for.
    assert served == [0, 5, 1, 2, 3]


def test_a_key_supersedes_a_queued_background_request(bundle: Bundle) -> None:
    with RenderService(bundle, threads=1) as svc:
        served, gate = _held(svc, bundle)
        for i, key in ((1, "thumbs"), (2, None), (3, "thumbs"), (4, None), (5, "hover")):
            svc.submit_background(RenderRequest(i, seed_latents([i], bundle.nz)),
                                  lambda r: served.append(r.id), key=key)
        gate.set()
        assert _until(lambda: len(served) == 5)
        time.sleep(0.1)
    assert served == [0, 2, 3, 4, 5]  # 1 never drawn: 3 replaced it


def test_the_background_lane_draws_the_cli_pixels_on_the_service_thread(bundle: Bundle) -> None:
    """Video frames waited for from a pool thread: bfloat16 and channels-last speed up the
    interactive lane only; the background lane's frames are `Bundle.generate`'s, exactly."""
    z = seed_latents(list(range(6)), bundle.nz)
    ran_on: list[str] = []
    out: list[RenderResult] = []
    with RenderService(bundle, threads=1, bf16=True, channels_last=True) as svc:
        svc._G_exact.register_forward_pre_hook(
            lambda *_: ran_on.append(threading.current_thread().name))
        pool = threading.Thread(target=lambda: out.append(svc.render_background(
            RenderRequest(1, z, psi=np.float32(0.7)))), name="pool")
        pool.start()
        pool.join(20)
        fast = svc.render(RenderRequest(2, z, psi=np.float32(0.7))).images
    assert out and out[0].error is None
    np.testing.assert_array_equal(out[0].images, bundle.generate(z, psi=0.7))
    assert ran_on == ["render-service"]
    assert fast is not None and np.abs(fast.astype(int) - out[0].images.astype(int)).max() <= 8


def test_waiting_on_a_closed_service_says_so(bundle: Bundle) -> None:
    svc = RenderService(bundle, threads=1)
    svc.close()
    r = svc.render_background(RenderRequest(3, seed_latents([3], bundle.nz)))
    assert r.images is None and "closed" in (r.error or "")
