"""Tiny untrained generators of every kind, for the render engines' tests (a plain module)."""

from __future__ import annotations

import torch

from facegan.models import ModelConfig, build


def tiny_generator(kind: str) -> torch.nn.Module:
    """A 16 px G of `kind` ("style", "dcgan", "cgan" or "cstyle": the conditional style G) with
    weights that act: w_avg and the condition offset drawn at random, and standing BatchNorm
    statistics other than the defaults."""
    cond = ("Smiling", "Male") if kind in ("cgan", "cstyle") else ()
    styled = kind == "cstyle"
    kind = "style" if styled else kind
    cfg = ModelConfig(kind=kind, resolution=16, nz=8, ngf=8, ndf=8, nef=8, mapping_layers=2,
                      cond_attributes=cond)
    torch.manual_seed(1)
    G = build(cfg, "G").eval()
    if kind == "style":
        G.w_avg.normal_()
        if styled:  # a condition that already acts (it starts at zero)
            G.cond_offset.weight.data.normal_()
    else:  # standing BatchNorm statistics other than the defaults
        for m in G.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return G
