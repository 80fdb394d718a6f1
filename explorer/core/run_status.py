"""Where a training run stands, from the files it writes (no training code imported).

A run folder holds ``metrics.jsonl`` (one record per logged step: ``phase``, ``step`` within the
phase, ``total_steps`` over all phases, ``time`` in seconds, ``images_per_s`` and the phase's
metrics), ``training_options.json`` (the config, so the planned length of each phase) and
``model.safetensors`` (``final`` in its metadata once the run has finished).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PHASES = ("gan", "encoder", "classifier")
PHASE_NAMES = {"gan": "GAN", "encoder": "encoder", "classifier": "classifier", "done": "finished"}


def read_options(run: Path) -> dict[str, Any]:
    """The run's ``train_config`` ({} when the file is missing or unreadable)."""
    try:
        doc = json.loads((run / "training_options.json").read_text())
        cfg = doc.get("train_config", {})
        return cfg if isinstance(cfg, dict) else {}
    except (OSError, json.JSONDecodeError, AttributeError):
        return {}


def phase_lengths(cfg: dict[str, Any]) -> dict[str, int]:
    """Planned steps per phase ({} when unknown). A VAE/GAN has no separate encoder phase."""
    if "steps" not in cfg:
        return {}
    return {"gan": int(cfg["steps"]),
            "encoder": 0 if cfg.get("kind") == "vaegan" else int(cfg.get("encoder_steps", 0)),
            "classifier": int(cfg.get("classifier_steps", 0))}


def model_is_final(run: Path) -> bool:
    """True when the run's model file says it is the finished one."""
    path = run / "model.safetensors"
    if not path.exists():
        return False
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="numpy") as f:
            meta = json.loads((f.metadata() or {}).get("face_explorer", "{}"))
        return bool(meta.get("final"))
    except Exception:  # a file being written, or not a model: not finished (yet)
        return False


@dataclass(frozen=True)
class RunStatus:
    """One line's worth of progress."""

    phase: str = ""  # gan / encoder / classifier / done / "" (nothing logged yet)
    step: int = 0  # within the phase
    phase_total: int | None = None
    done_steps: int = 0  # over all phases
    run_total: int | None = None
    images_per_s: float | None = None
    eta_s: float | None = None  # to the end of the run, at the current phase's pace

    @property
    def finished(self) -> bool:
        return self.phase == "done"

    @property
    def fraction(self) -> float | None:
        if self.finished:
            return 1.0
        if not self.run_total:
            return None
        return min(1.0, self.done_steps / self.run_total)

    def text(self) -> str:
        if not self.phase:
            return "Waiting for metrics.jsonl…"
        if self.finished:
            return f"Finished: {self.done_steps} steps in all."
        parts = [f"{PHASE_NAMES.get(self.phase, self.phase)} phase",
                 f"step {self.step}/{self.phase_total if self.phase_total else '?'}"]
        if self.run_total:
            parts.append(f"run {self.done_steps}/{self.run_total}")
        if self.eta_s is not None:
            parts.append(f"ETA {format_duration(self.eta_s)}")
        if self.images_per_s is not None:
            parts.append(f"{self.images_per_s:.0f} images/s")
        return " · ".join(parts)


def format_duration(s: float) -> str:
    s = max(0, int(round(s)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def run_status(records: list[dict[str, Any]], cfg: dict[str, Any],
               finished: bool = False) -> RunStatus:
    """Progress from the metric records so far, the run's config and whether it has finished."""
    lengths = phase_lengths(cfg)
    run_total = sum(lengths.values()) if lengths else None
    logged = [r for r in records if "step" in r or r.get("phase") == "done"]
    if not logged:
        return RunStatus(phase="done" if finished else "", run_total=run_total)
    last = logged[-1]
    done_steps = int(last.get("total_steps", last.get("step", 0)))
    if finished or last.get("phase") == "done":
        return RunStatus(phase="done", step=done_steps, done_steps=done_steps,
                         run_total=run_total)
    phase = str(last.get("phase", "gan"))
    # Pace: steps per second over the last few records of this phase.
    same = [r for r in logged[-20:] if r.get("phase") == phase and "time" in r]
    eta = None
    if len(same) >= 2 and run_total:
        dt = float(same[-1]["time"]) - float(same[0]["time"])
        dn = int(same[-1].get("total_steps", 0)) - int(same[0].get("total_steps", 0))
        if dt > 0 and dn > 0:
            eta = max(0, run_total - done_steps) * dt / dn
    ips = last.get("images_per_s")
    return RunStatus(phase=phase, step=int(last.get("step", 0)),
                     phase_total=lengths.get(phase), done_steps=done_steps, run_total=run_total,
                     images_per_s=None if ips is None or not math.isfinite(ips) else float(ips),
                     eta_s=eta)
