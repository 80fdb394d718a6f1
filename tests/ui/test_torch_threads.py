"""Which threads compute torch on several threads: the render worker and background jobs, never
the GUI thread (`explorer.core.render.serial_torch_here`: a GUI thread with a torch team of its
own made every one-face frame about 1 ms slower on a 2-core machine)."""

from __future__ import annotations

import torch

from explorer.core import render
from explorer.core.render import RenderRequest


def test_the_window_keeps_its_gui_thread_serial_and_its_worker_and_jobs_parallel(
        qapp, qtbot, tiny_model, monkeypatch, tmp_path) -> None:
    from explorer.ui import workers
    from explorer.ui.launch import OPENED, launch

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    torch.set_num_threads(2)  # as a fresh process starts on a 2-core machine
    assert launch(["--model", str(tiny_model)], exec_loop=False) == 0
    win = OPENED.pop()
    try:
        assert torch.get_num_threads() == 1  # the GUI thread, after the window's whole start
        seen: dict[str, int] = {}
        req = win.state.render_request()
        win.service.submit(RenderRequest(10**6, req.z, req.y, req.detail, req.psi),
                           lambda res: seen.setdefault("worker", torch.get_num_threads()))
        job = workers.start(lambda progress, cancelled: torch.get_num_threads(),
                            on_done=lambda n: seen.setdefault("job", n))
        qtbot.waitUntil(lambda: len(seen) == 2 and job.done, timeout=10000)
        assert seen == {"worker": win.service.threads, "job": render.THREADS}
        assert render.THREADS == 2 and win.service.threads == render.THREADS
        assert torch.get_num_threads() == 1
    finally:
        win.close()
