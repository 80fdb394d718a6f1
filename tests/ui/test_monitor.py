"""The training monitor tells the whole story: phase, step of the planned total, ETA and images/s,
G and D losses, a finished state, a scrollable grid, and a clean slate for another folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from explorer.core.run_status import run_status
from explorer.ui.monitor_panel import MonitorPanel


def _run(tmp_path: Path, name: str = "run") -> Path:
    run = tmp_path / name
    (run / "samples").mkdir(parents=True)
    cfg = {"kind": "dcgan", "steps": 3000, "encoder_steps": 500, "classifier_steps": 200}
    (run / "training_options.json").write_text(json.dumps({"train_config": cfg}))
    return run


def _log(run: Path, *recs: dict) -> None:
    with open(run / "metrics.jsonl", "a") as f:
        f.writelines(json.dumps(r) + "\n" for r in recs)


def _gan(step: int, time: float) -> dict:
    return {"phase": "gan", "step": step, "total_steps": step, "time": time,
            "images_per_s": 412.0, "d_real": 0.6, "d_fake": 0.3, "g_fool": 0.35,
            "loss_d": 1.1, "loss_g": 0.9}


@pytest.fixture
def monitor(qtbot):
    mon = MonitorPanel(interval_ms=50)
    qtbot.addWidget(mon)
    mon.resize(700, 500)
    mon.show()
    yield mon
    mon.stop()


def test_phase_step_of_the_planned_total_eta_and_losses(monitor, tmp_path):
    run = _run(tmp_path)
    _log(run, _gan(860, 86.0), _gan(872, 87.2))  # 10 steps/s
    monitor.open_run(run)
    text = monitor.phase.text()
    assert "GAN phase" in text and "step 872/3000" in text and "run 872/3700" in text
    assert "412 images/s" in text
    assert "ETA 4 min 43 s" in text  # (3700 - 872) steps at 10 per second
    assert monitor.progress.value() == round(1000 * 872 / 3700)
    x, y = monitor.losses["loss_g"].getData()
    assert list(x) == [860, 872] and list(y) == [0.9, 0.9]
    assert list(monitor.losses["loss_d"].getData()[1]) == [1.1, 1.1]
    # The legend is drawn on an opaque box above the curves.
    legend = monitor.plot.getPlotItem().legend
    assert legend.zValue() > max(c.zValue() for c in monitor.curves.values())


def test_encoder_then_classifier_then_finished(monitor, qtbot, tmp_path):
    run = _run(tmp_path)
    _log(run, _gan(3000, 300.0))
    monitor.open_run(run)
    _log(run, {"phase": "encoder", "step": 100, "total_steps": 3100, "time": 310.0,
               "images_per_s": 900.0, "enc_pixel": 0.21})
    qtbot.waitUntil(lambda: "encoder phase" in monitor.phase.text(), timeout=3000)
    assert "step 100/500" in monitor.phase.text()
    assert list(monitor.later["enc_pixel"].getData()[1]) == [0.21]
    _log(run, {"phase": "classifier", "step": 200, "total_steps": 3700, "time": 330.0,
               "cls_loss": 0.4, "cls_acc": 0.9},
         {"phase": "done", "total_steps": 3700, "time": 331.0})
    qtbot.waitUntil(lambda: monitor.status.finished, timeout=3000)
    assert monitor.phase.text().startswith("Finished") and monitor.progress.value() == 1000
    assert not monitor.timer.isActive()
    assert "classifier accuracy 0.900" in monitor.stats.text()


def test_another_folder_clears_the_old_run(monitor, qtbot, tmp_path):
    run = _run(tmp_path)
    _log(run, _gan(10, 1.0), _gan(20, 2.0))
    q = QImage(600, 600, QImage.Format.Format_RGB888)  # bigger than the view: it scrolls
    q.fill(Qt.GlobalColor.red)
    q.save(str(run / "samples" / "grid_000020.png"))
    monitor.open_run(run)
    assert monitor.grid_path is not None
    qtbot.waitUntil(lambda: monitor.grid_area.verticalScrollBar().maximum() > 0, timeout=3000)
    empty = tmp_path / "not_a_run"
    empty.mkdir()
    monitor.open_run(empty)
    for c in (*monitor.curves.values(), *monitor.losses.values()):
        assert len(c.getData()[0] or []) == 0
    assert monitor.grid_path is None and monitor.grid.pixmap().isNull()
    assert monitor.phase.text() == "Waiting for metrics.jsonl…"
    assert not monitor.progress.isVisible()


def test_status_without_options_or_records():
    assert run_status([], {}).text() == "Waiting for metrics.jsonl…"
    st = run_status([{"phase": "gan", "step": 5, "total_steps": 5}], {})
    assert st.text() == "GAN phase · step 5/?" and st.fraction is None


def test_a_run_the_real_trainer_finished_reads_as_finished(monitor, tiny_model):
    monitor.open_run(tiny_model.parent)
    assert monitor.status.finished, monitor.phase.text()
    assert monitor.grid_path is None or monitor.grid_path.exists()
    assert len(monitor.losses["loss_g"].getData()[0]) > 0
