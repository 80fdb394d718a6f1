"""Warm starts: begin a run from another run's weights (`face-train --init-from RUN`).

The conditional model is the unconditional one plus a condition: G's first layer takes
(nz + n_cond) inputs instead of nz, and D gains a projection head. Training a cGAN from scratch
costs as many CPU hours as the unconditional model did; starting from its weights, G already draws
faces and only has to learn what y means. Each tensor whose name and shape match is copied. A
tensor that is the source's with extra input rows (G's first layer) gets the source rows and
zeros for the new ones, so the warm-started G draws exactly its parent's faces at every y until
training teaches it the condition. Everything else (D's projection head, optimiser state) starts
fresh.

A conditional style G (`facegan.style`) is the unconditional one plus a new tensor, its
condition offset, which starts at zero: fresh, yet it draws its parent's faces exactly, as does
its D, whose projection term has a gain that starts at zero. A fresh G tensor that is not all
zeros would change the drawings: such a parent is refused.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn

from facegan.checkpoint import ModelFileError, load_state

# Trainer state keys of the networks a warm start copies.
NETWORKS = ("G", "G_ema", "D", "E", "C", "J")


def load_parent(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The training state of a run folder (or of a `.state.pt` file) to start from."""
    p = Path(path)
    if p.is_dir():
        states = sorted(p.glob("*.state.pt"))
        if not states:
            raise ModelFileError(f"{p}: no training state (*.state.pt) to start from")
        p = states[0]
    if not p.is_file():
        raise ModelFileError(f"{p}: no such run folder or training state")
    state = load_state(p)
    if not any(k in state for k in NETWORKS):
        raise ModelFileError(f"{p.name}: holds no network weights")
    return state


def copy_matching(net: nn.Module, source: dict[str, torch.Tensor]) -> dict[str, str]:
    """Copy `source` tensors into `net` where they fit; returns {name: 'copied' | 'widened' |
    'fresh'} for every tensor of `net` (fresh: kept its initial value)."""
    report: dict[str, str] = {}
    own = net.state_dict()
    with torch.no_grad():
        for name, dst in own.items():
            src = source.get(name)
            if src is None or src.dim() != dst.dim():
                report[name] = "fresh"
            elif src.shape == dst.shape:
                dst.copy_(src)
                report[name] = "copied"
            elif src.shape[1:] == dst.shape[1:] and src.shape[0] < dst.shape[0]:
                dst.zero_()
                dst[: src.shape[0]].copy_(src)
                report[name] = "widened"
            else:
                report[name] = "fresh"
    net.load_state_dict(own)
    return report


def warm_start(nets: dict[str, nn.Module], parent: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Copy the parent's weights into `nets` (a Trainer's `nets()`); count what happened per
    network ('zero': a new G tensor that starts at zero). Raises if G could not take the
    parent's generator whole."""
    counts: dict[str, dict[str, int]] = {}
    g_fresh_nonzero = False
    for key, net in nets.items():
        if key not in NETWORKS or key not in parent:
            continue
        report = copy_matching(net, parent[key])
        if key in ("G", "G_ema"):
            own = net.state_dict()
            report = {k: "zero" if v == "fresh" and not own[k].any() else v
                      for k, v in report.items()}
            g_fresh_nonzero = g_fresh_nonzero or "fresh" in report.values()
        counts[key] = dict(Counter(report.values()))
    if g_fresh_nonzero or not counts.get("G"):
        raise ModelFileError(
            "the parent's generator does not fit this config (use the same --res, --nz, --ngf)")
    return counts
