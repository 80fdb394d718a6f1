"""The metrics log of a training run (``metrics.jsonl``): the trainer appends, the explorer's
training monitor and the curves plot read. One JSON record per logged step; a line cut short by
a killed run is skipped."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from facegan.files import atomic_write

METRICS_FILE = "metrics.jsonl"
# The three quantities a GAN run is watched by: (record key, label).
CURVES = (("d_real", "D(real)"), ("d_fake", "D(fake)"), ("g_fool", "D(G(z)): G fooling D"))


def append_record(path: str | os.PathLike[str], record: dict[str, Any]) -> None:
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def read_records(path: str | os.PathLike[str], offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Complete records from byte `offset` on; returns (records, the offset to read from next).
    A line still being written is left for the next read."""
    p = Path(path)
    if not p.exists():
        return [], 0
    with open(p, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1
    out = []
    for line in data[:end].splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out, offset + end


def truncate_records(path: str | os.PathLike[str], total_steps: int) -> int:
    """Drop the records after `total_steps` (logged by a run killed after its last snapshot,
    which a resume logs again) and lines cut short; returns how many records were dropped."""
    p = Path(path)
    if not p.exists():
        return 0
    lines = p.read_text().splitlines()
    keep = []
    for line in lines:
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and rec.get("total_steps", 0) <= total_steps:
            keep.append(line)
    if len(keep) != len(lines):
        text = "".join(k + "\n" for k in keep)
        atomic_write(p, lambda tmp: Path(tmp).write_text(text))
    return len(lines) - len(keep)
