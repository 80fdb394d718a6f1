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

A conditional style G on more attributes than its parent's gets the parent's condition offset
column by column (each attribute's column where the new list puts it, rescaled for the offset's
1/sqrt(n_cond) scale), and zeros for the new attributes: it draws its parent's faces at every y
of the parent's attributes, and learns the new ones from zero.

The parent can also be a model file (`.safetensors`): its G (the EMA weights, for both G and its
EMA), E, C and J, but no D, which starts fresh; `--g-hold` then lets D learn against the
parent's G for some steps before G moves.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch import nn

from facegan.checkpoint import ModelFileError, load_model, load_state

# Trainer state keys of the networks a warm start copies.
NETWORKS = ("G", "G_ema", "D", "E", "C", "J")
COND_OFFSET = "cond_offset.weight"  # a conditional style G's (n_styles * nz, n_cond) offset


def load_parent(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The training state of a run folder (or of a `.state.pt` file) to start from, or the
    networks of a model file (`.safetensors`; no D) as such a state."""
    p = Path(path)
    if p.is_file() and p.suffix == ".safetensors":
        mf = load_model(p)
        state: dict[str, Any] = {part: mf.network(part).state_dict()
                                 for part in ("G", "E", "C", "J") if part in mf.parts}
        if "G" not in state:
            raise ModelFileError(f"{p.name}: holds no generator to start from")
        state["G_ema"] = state["G"]
        state["train_config"] = {"cond_attributes": list(mf.config.cond_attributes)}
        return state
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


def _widen_condition(dst: torch.Tensor, src: torch.Tensor, parent_cond: list[str],
                     cond: list[str]) -> bool:
    """Put the parent's condition offset `src` (rows, n_parent) into `dst` (rows, n_cond): each
    parent attribute's column where `cond` puts it, rescaled for ConditionOffset's 1/sqrt(n)
    scale, the rest zero. False where the parent's attributes are not all in `cond`."""
    if (len(parent_cond) != src.shape[1] or len(cond) != dst.shape[1]
            or src.shape[0] != dst.shape[0] or not set(parent_cond) <= set(cond)):
        return False
    dst.zero_()
    gain = (len(cond) / len(parent_cond)) ** 0.5
    for j, a in enumerate(parent_cond):
        dst[:, cond.index(a)] = src[:, j] * gain
    return True


def copy_matching(net: nn.Module, source: dict[str, torch.Tensor],
                  parent_cond: list[str] | None = None,
                  cond: list[str] | None = None) -> dict[str, str]:
    """Copy `source` tensors into `net` where they fit; returns {name: 'copied' | 'widened' |
    'fresh'} for every tensor of `net` (fresh: kept its initial value). A style G's condition
    offset on other attributes than the parent's (`parent_cond` -> `cond`: more, or the same in
    another order) is placed by attribute."""
    report: dict[str, str] = {}
    own = net.state_dict()
    with torch.no_grad():
        for name, dst in own.items():
            src = source.get(name)
            if src is None or src.dim() != dst.dim():
                report[name] = "fresh"
            elif (name == COND_OFFSET and parent_cond and cond and parent_cond != cond
                  and _widen_condition(dst, src, parent_cond, cond)):
                report[name] = "widened"
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


def warm_start(nets: dict[str, nn.Module], parent: dict[str, Any],
               cond: list[str] | None = None) -> dict[str, dict[str, int]]:
    """Copy the parent's weights into `nets` (a Trainer's `nets()`); count what happened per
    network ('zero': a new G tensor that starts at zero). `cond`: the new run's conditioned
    attributes (a parent conditioned on fewer is widened by attribute). Raises if G could not
    take the parent's generator whole."""
    counts: dict[str, dict[str, int]] = {}
    g_fresh_nonzero = False
    parent_cond = list(parent.get("train_config", {}).get("cond_attributes", []) or [])
    for key, net in nets.items():
        if key not in NETWORKS or key not in parent:
            continue
        report = copy_matching(net, parent[key], parent_cond, cond)
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
