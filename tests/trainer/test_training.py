"""Training on tiny synthetic data: loadable models, exact resume, Ctrl-C, cGAN, E, VAE/GAN."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from testdata import TINY_ATTRIBUTES

from facegan.checkpoint import load_model, load_state
from trainer.config import TrainConfig, preset
from trainer.data import FaceDataset, fake_dataset
from trainer.loop import Trainer
from trainer.run import Run, RunError


def tiny_cfg(**kw: Any) -> TrainConfig:
    values = preset("tiny")
    values.update(sample_every=1000, snapshot_every=1000)
    values.update(kw)
    return TrainConfig(**values)


def tiny_data(n: int = 64) -> FaceDataset:
    return fake_dataset(n=n, res=16, names=TINY_ATTRIBUTES)


def test_few_steps_make_a_loadable_model(tmp_path: Path) -> None:
    cfg = tiny_cfg(steps=4, encoder_steps=3, classifier_steps=3, sample_every=2)
    path = Run(tmp_path / "run", cfg, tiny_data(), quiet=True, command=["t"]).train()
    mf = load_model(path)
    assert sorted(mf.parts) == ["C", "E", "G"]
    assert mf.attribute_names == TINY_ATTRIBUTES and mf.meta["final"] is True
    assert mf.meta["step"] == 4 + 3 + 3 and mf.config.nz == 8 and mf.config.resolution == 16
    z = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        x = mf.network("G")(z)
        assert x.shape == (5, 3, 16, 16) and x.abs().max() <= 1
        assert mf.network("E")(x).shape == (5, 8)
        assert mf.network("C")(x).shape == (5, len(TINY_ATTRIBUTES))
    assert mf.array("attr.directions").shape == (len(TINY_ATTRIBUTES), 8)
    assert mf.array("attr.directions.sampled").shape == (len(TINY_ATTRIBUTES), 8)
    assert mf.array("atlas.z").shape[0] == mf.array("atlas.labels").shape[0] == 16
    assert set(np.unique(mf.array("atlas.labels"))) <= {-1, 1}
    out = tmp_path / "run"
    for f in ("metrics.jsonl", "curves.png", "timelapse.gif", "training_options.json",
              "samples/grid_000002.png", "samples/grid_000004.png"):
        assert (out / f).exists(), f
    # An existing run is never overwritten without resume.
    with pytest.raises(RunError, match="--resume"):
        Run(out, cfg, tiny_data(), quiet=True)


def _all_tensors(obj: Any, prefix: str = "") -> dict[str, Any]:
    """Flatten a (nested) state dict to {path: tensor or number}."""
    out: dict[str, Any] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(_all_tensors(v, f"{prefix}{k}/"))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(_all_tensors(v, f"{prefix}{i}/"))
    else:
        out[prefix] = obj
    return out


def _interrupt_inside(run: Run, opt_name: str, at_total: int) -> None:
    """Deliver a real SIGINT in the middle of the step `at_total` (inside an optimiser step)."""
    t = run.trainer
    opt = getattr(t, opt_name)
    orig = opt.step

    def step(*a: Any, **kw: Any) -> Any:
        r = orig(*a, **kw)
        if t.total_steps + 1 == at_total:
            os.kill(os.getpid(), signal.SIGINT)
        return r

    opt.step = step


@pytest.mark.slow  # several training runs in a row
def test_resume_matches_uninterrupted_run(tmp_path: Path) -> None:
    """Ctrl-C in the middle of a step in each phase, resume each time: same weights, same steps."""
    cfg = tiny_cfg(steps=6, encoder_steps=4, classifier_steps=4, loss="bce", label_noise=0.1,
                   augment="color,translation,cutout", ema=0.9, snapshot_every=4)
    straight = Run(tmp_path / "a", cfg, tiny_data(), quiet=True, command=["t"])
    straight.train()

    out = tmp_path / "b"
    # Whatever the process had (a shell's background job starts with SIGINT ignored).
    handler_before = signal.getsignal(signal.SIGINT)
    stops = [("opt_d", 3, ("gan", 3)), ("opt_e", 8, ("encoder", 2)),
             ("opt_c", 12, ("classifier", 2))]
    for i, (opt, at, where) in enumerate(stops):
        run = Run(out, cfg, tiny_data(), quiet=True, resume=i > 0, command=["t"])
        _interrupt_inside(run, opt, at)
        with pytest.raises(KeyboardInterrupt):
            run.train()
        st = load_state(out / "model.state.pt")
        assert (st["phase"], st["step"], st["total_steps"]) == (*where, at)
        assert signal.getsignal(signal.SIGINT) is handler_before  # restored
    Run(out, cfg, tiny_data(), quiet=True, resume=True, command=["t"]).train()

    a, b = load_state(tmp_path / "a" / "model.state.pt"), load_state(out / "model.state.pt")
    assert (b["phase"], b["total_steps"]) == ("done", 14) == (a["phase"], a["total_steps"])
    ta, tb = _all_tensors(a), _all_tensors(b)
    assert ta.keys() == tb.keys()
    for k in ta:
        if k.startswith("wall_time"):
            continue
        va, vb = ta[k], tb[k]
        if isinstance(va, torch.Tensor):
            assert torch.equal(va, vb), k
        else:
            assert va == vb, k
    for part in ("G", "D", "E", "C"):  # the nets themselves, spelled out
        for k, v in a[part].items():
            assert torch.equal(v, b[part][k]), f"{part}.{k}"
    ma, mb = load_model(tmp_path / "a" / "model.safetensors"), load_model(out / "model.safetensors")
    for k, v in ma.tensors.items():
        assert torch.equal(v, mb.tensors[k]), k


def test_conditional_generator_depends_on_y(tiny_cgan: Path) -> None:
    mf = load_model(tiny_cgan)
    assert mf.config.kind == "cgan" and mf.config.cond_attributes == ("Smiling", "Male")
    G = mf.network("G")
    z = torch.randn(16, 8, generator=torch.Generator().manual_seed(3))
    y = torch.ones(16, 2)
    with torch.no_grad():
        base = G(z, y)
        assert torch.equal(base, G(z, y.clone()))  # same y, same faces
        for a in range(2):
            y2 = y.clone()
            y2[:, a] = -1
            diff = (G(z, y2) - base).abs().mean().item()
            assert diff > 0.01, (a, diff)
    with pytest.raises(ValueError, match="needs y"):
        G(z)


def _recon_errors(t: Trainer, x: torch.Tensor) -> tuple[float, float]:
    """(pixel L1 of G(E(x)) vs x on photos, MSE of E(G(z)) vs z on samples), E in eval mode."""
    G = t.frozen_generator()
    t.E.eval()
    with torch.no_grad():
        pix = (G(t.E(x)) - x).abs().mean().item()
        z = torch.randn(64, t.cfg.nz, generator=torch.Generator().manual_seed(5))
        lat = (t.E(G(z)) - z).pow(2).mean().item()
    t.E.train()
    return pix, lat


def _train_encoder(enc_prior: float) -> tuple[Trainer, torch.Tensor, tuple[float, float]]:
    data = tiny_data(64)
    t = Trainer(tiny_cfg(steps=60, encoder_steps=100, lr_e=2e-3, batch=16, enc_prior=enc_prior),
                data)
    for _ in range(60):
        t.gan_step()
    t.phase = "encoder"
    x = torch.from_numpy(np.asarray(data.images[:32])).permute(0, 3, 1, 2).float() / 127.5 - 1
    before = _recon_errors(t, x)
    for _ in range(100):
        t.encoder_step()
    return t, x, before


@pytest.mark.slow  # trains an encoder for hundreds of steps
def test_encoder_learns_to_reconstruct_training_faces() -> None:
    # Without the prior term: the tiny G only draws these synthetic faces from far-out latents
    # (second moment ~40 per dimension), which the prior term rightly refuses.
    t, x, (pix0, lat0) = _train_encoder(enc_prior=0.0)
    pix1, lat1 = _recon_errors(t, x)
    assert pix1 < 0.7 * pix0, (pix0, pix1)  # measured: 0.71 -> 0.35
    assert lat1 < 0.5 * lat0, (lat0, lat1)  # measured: 0.98 -> 0.12


@pytest.mark.slow  # trains an encoder for hundreds of steps
def test_encoder_prior_keeps_codes_of_photos_near_the_prior() -> None:
    """Codes of real faces stay centred with unit spread, where the edit directions apply."""
    t, x, _ = _train_encoder(enc_prior=1.0)
    t.E.eval()
    with torch.no_grad():
        z = t.E(x)
    assert z.mean(0).abs().mean() < 0.5, z.mean(0)  # measured: 0.20 (no prior term: 5.5)
    assert 0.3 < z.pow(2).mean() < 3.0, z.pow(2).mean()  # measured: 0.95 (no prior term: 38)
    _, lat1 = _recon_errors(t, x)
    assert lat1 < 0.2  # samples still invert: measured 0.07


def test_vaegan_trains_and_exports_its_encoder(tmp_path: Path) -> None:
    cfg = tiny_cfg(kind="vaegan", steps=4, encoder_steps=5, classifier_steps=0, snapshot_every=2)
    seen: list[dict[str, float]] = []
    run = Run(tmp_path / "v", cfg, tiny_data(), quiet=True, command=["t"])
    run.trainer.add_callback("on_step", lambda t: seen.append(dict(t.metrics)))
    path = run.train()
    assert len(seen) == 4  # the encoder phase is part of the GAN phase for a VAE/GAN
    assert all(np.isfinite(m["kl"]) and np.isfinite(m["rec"]) for m in seen)
    mf = load_model(path)
    assert mf.config.kind == "vaegan" and sorted(mf.parts) == ["E", "G"]
    E, G = mf.network("E"), mf.network("G")
    x = torch.from_numpy(np.asarray(run.data.images[:4])).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        z = E(x)
        assert z.shape == (4, 8) and torch.isfinite(z).all()
        assert G(z).shape == (4, 3, 16, 16)
    assert mf.array("atlas.z").shape[1] == 8


@pytest.mark.slow  # several training runs in a row
def test_resume_with_more_gan_steps_reopens_a_finished_run(tmp_path: Path) -> None:
    """`--resume --steps N` on a finished run trains G on from where it stopped, then runs the
    encoder again in full (it inverts the new G) and keeps the finished classifier as it was."""
    cfg = tiny_cfg(steps=4, encoder_steps=3, classifier_steps=3)
    out = tmp_path / "run"
    Run(out, cfg, tiny_data(), quiet=True, command=["t"]).train()
    first = load_state(out / "model.state.pt")
    assert (first["phase"], first["total_steps"]) == ("done", 10)

    run = Run(out, cfg, tiny_data(), quiet=True, resume=True, overrides={"steps": 6},
              command=["t"])
    assert (run.trainer.phase, run.trainer.step) == ("gan", 4)
    run.train()
    again = load_state(out / "model.state.pt")
    # 2 more GAN steps, 3 encoder steps again, no classifier steps.
    assert (again["phase"], again["total_steps"]) == ("done", 15)
    assert again["done"] == {"gan": 6, "encoder": 3, "classifier": 3}
    for k, v in first["C"].items():
        assert torch.equal(v, again["C"][k]), k
    assert any(not torch.equal(v, again["G"][k]) for k, v in first["G"].items())
    assert any(not torch.equal(v, again["E"][k]) for k, v in first["E"].items())
    mf = load_model(out / "model.safetensors")
    assert mf.meta["provenance"]["gan_steps"] == 6 and sorted(mf.parts) == ["C", "E", "G"]

    # Resuming again with nothing grown changes nothing.
    run = Run(out, cfg.with_(steps=6), tiny_data(), quiet=True, resume=True,
              overrides={"steps": 6}, command=["t"])
    assert run.trainer.phase == "done"


@pytest.mark.slow  # several training runs in a row
def test_a_cgan_warm_started_from_an_unconditional_run_draws_its_faces_then_learns_y(
    tmp_path: Path,
) -> None:
    from trainer.warm import load_parent, warm_start

    parent = Run(tmp_path / "parent", tiny_cfg(steps=6, encoder_steps=2, classifier_steps=2),
                 tiny_data(), quiet=True, command=["tests"])
    parent.train()
    cfg = tiny_cfg(kind="cgan", cond_attributes=("Smiling", "Male"), steps=12,
                   init_from=str(tmp_path / "parent"))
    child = Run(tmp_path / "child", cfg, tiny_data(), quiet=True, command=["tests"])
    t, p = child.trainer, parent.trainer
    z = torch.randn(8, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = p.G_ema(z)
        for y in (torch.ones(8, 2), -torch.ones(8, 2)):  # the new y rows start at zero
            torch.testing.assert_close(t.G_ema(z, y), want)
    d_trunk = {k: v for k, v in t.D.state_dict().items() if not k.startswith("embed")}
    for k, v in d_trunk.items():
        torch.testing.assert_close(v, p.D.state_dict()[k])
    child.train()  # trains: now y changes the faces
    G = load_model(tmp_path / "child" / "model.safetensors").network("G")
    with torch.no_grad():
        diff = (G(z, torch.ones(8, 2)) - G(z, -torch.ones(8, 2))).abs().mean().item()
    assert diff > 1e-3
    assert load_model(tmp_path / "child" / "model.safetensors").meta["train_config"][
        "init_from"] == str(tmp_path / "parent")
    # A parent of another shape is refused with a message, not a traceback.
    wide = Trainer(tiny_cfg(ngf=16), tiny_data())
    with pytest.raises(ValueError, match="does not fit"):
        warm_start(wide.nets(), load_parent(tmp_path / "parent"))
    with pytest.raises(ValueError, match="no such run"):
        load_parent(tmp_path / "nowhere")
