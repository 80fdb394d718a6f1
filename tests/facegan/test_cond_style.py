"""The conditional style G: y adds a zero-initialised W+ offset, so a warm start from an
unconditional style run draws its parent's faces, truncation stays exact per y, and y edits keep
their strength at any psi; and the file opens in the app, the CLI and the evaluation."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from facegan.checkpoint import load_model, save_model
from facegan.models import ModelConfig, build, tensor_to_images

COND = ("Smiling", "Male")


def _cfg(**kw: object) -> ModelConfig:
    values: dict = dict(kind="style", resolution=16, nz=8, ngf=8, ndf=8, nef=8,
                        mapping_layers=2, cond_attributes=COND)
    values.update(kw)
    return ModelConfig(**values)


@pytest.fixture()
def G() -> torch.nn.Module:
    """A conditional style G whose condition already does something (not the zero start)."""
    torch.manual_seed(0)
    g = build(_cfg(), "G").eval()
    with torch.no_grad():
        g.w_avg.normal_()
        g.cond_offset.weight.normal_(0, 1.0)
    return g


def _ws(g: torch.nn.Module, *args: object, **kw: object) -> torch.Tensor:
    """The per-layer latents G's synthesis gets for G(*args): what the face is, in W+."""
    seen: list[torch.Tensor] = []
    real = g.synthesis
    g.synthesis = lambda ws, feature=None: (  # type: ignore[method-assign]
        seen.append(ws), real(ws, feature))[1]
    try:
        with torch.no_grad():
            g(*args, **kw)
    finally:
        del g.synthesis
    return seen[0]


def test_only_a_style_or_cgan_kind_is_conditional_and_names_count_once() -> None:
    assert _cfg().n_cond == 2 and _cfg(cond_attributes=()).n_cond == 0
    assert ModelConfig(kind="dcgan", cond_attributes=COND).n_cond == 0  # ignored there
    with pytest.raises(ValueError, match="twice"):
        _cfg(cond_attributes=("Male", "Male"))


def test_the_conditional_style_file_round_trips(tmp_path: Path, G: torch.nn.Module) -> None:
    cfg = _cfg(n_classes=3)
    D = build(cfg, "D").eval()  # train mode would move spectral norm's power iteration
    path = tmp_path / "cstyle.safetensors"
    save_model(path, cfg, {"G": G, "D": D}, {"attribute_names": ["Smiling", "Male", "Young"]})
    mf = load_model(path)
    assert mf.config == cfg and mf.config.cond_attributes == COND and mf.config.n_cond == 2
    G2 = mf.network("G")
    w = G.map(torch.randn(4, 8))
    y = torch.tensor([[1.0, -1.0], [-1.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    with torch.no_grad():
        assert torch.equal(G(w, y), G2(w, y))
        assert torch.equal(G(w, y, psi=0.5), G2(w, y, psi=0.5))
    x = torch.randn(4, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(D(x, y), mf.network("D")(x, y))
    with pytest.raises(ValueError, match="needs y"):
        G2(w)


def test_y_changes_the_face_and_psi_zero_draws_that_ys_mean_face(G: torch.nn.Module) -> None:
    w = G.map(torch.randn(6, 8, generator=torch.Generator().manual_seed(3)))
    up, down = torch.tensor([[1.0, -1.0]]).expand(6, 2), torch.tensor([[-1.0, 1.0]]).expand(6, 2)
    with torch.no_grad():
        a, b = tensor_to_images(G(w, up)), tensor_to_images(G(w, down))
        assert (np.abs(a.astype(int) - b).mean()) > 1.0  # y moves the drawing
        # psi 0 draws one face per y, whatever the seed: the mean latent of that y.
        m_up = tensor_to_images(G(G.truncate(w, 0.0), up))
        m_down = tensor_to_images(G(G.truncate(w, 0.0), down))
        assert all(np.array_equal(m_up[0], m) for m in m_up)
        assert all(np.array_equal(m_down[0], m) for m in m_down)
        assert not np.array_equal(m_up[0], m_down[0])
        mean_up = tensor_to_images(G.synthesis(G.mean_latents(up[:1])))
        np.testing.assert_array_equal(m_up[:1], mean_up)
    # ... and that mean latent is what y's faces average to in W+ (offset is additive in W).
    z = torch.randn(4096, 8, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        G.w_avg.copy_(G.map(z).mean(0))
        drawn = _ws(G, G.map(z), up[:1].expand(4096, 2)).mean(0)
    torch.testing.assert_close(drawn, G.mean_latents(up[:1])[0], atol=1e-5, rtol=0)


def test_a_y_edit_keeps_its_full_strength_after_truncation(G: torch.nn.Module) -> None:
    w = G.map(torch.randn(3, 8, generator=torch.Generator().manual_seed(5)))
    up, down = torch.tensor([[1.0, 0.0]]).expand(3, 2), torch.tensor([[-1.0, 0.0]]).expand(3, 2)
    moved = {psi: _ws(G, G.truncate(w, psi), up) - _ws(G, G.truncate(w, psi), down)
             for psi in (1.0, 0.5, 0.0)}
    assert float(moved[1.0].abs().max()) > 0.1
    for psi in (0.5, 0.0):  # a DCGAN's feature truncation would scale the edit by psi
        torch.testing.assert_close(moved[psi], moved[1.0], atol=1e-5, rtol=0)
    # psi given to G's forward (the graph's input) is the same truncation, before y.
    torch.testing.assert_close(_ws(G, w, up, None, 0.5), _ws(G, G.truncate(w, 0.5), up),
                               atol=1e-6, rtol=0)


@pytest.mark.slow  # two tiny training runs
def test_a_warm_start_from_an_unconditional_style_run_draws_its_faces(tmp_path: Path) -> None:
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig, preset
    from trainer.data import fake_dataset
    from trainer.run import Run

    values = preset("tiny")
    values.update(kind="style", steps=6, encoder_steps=2, classifier_steps=2)
    data = fake_dataset(n=64, res=16, names=TINY_ATTRIBUTES)
    parent = Run(tmp_path / "parent", TrainConfig(**values), data, quiet=True, command=["t"])
    parent.train()
    cfg = TrainConfig(**values).with_(cond_attributes=COND, steps=12,
                                      init_from=str(tmp_path / "parent"))
    child = Run(tmp_path / "child", cfg, data, quiet=True, command=["t"])
    t, p = child.trainer, parent.trainer
    assert t.mcfg.n_cond == 2 and not t.G.cond_offset.weight.any()
    z = torch.randn(8, 8, generator=torch.Generator().manual_seed(1))
    x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    # Eval copies of both Ds: in train mode each call moves spectral norm's power iteration.
    d_child, d_parent = copy.deepcopy(t.D).eval(), copy.deepcopy(p.D).eval()
    with torch.no_grad():
        want = p.G_ema(p.G_ema.map(z))
        want_trunc = p.G_ema(p.G_ema.truncate(p.G_ema.map(z), 0.6))
        assert torch.equal(t.G_ema.w_avg, p.G_ema.w_avg)
        for y in (torch.ones(8, 2), -torch.ones(8, 2), torch.zeros(8, 2)):
            w = t.G_ema.map(z, y)
            assert torch.equal(t.G_ema(w, y), want)  # the same z draws the same image
            assert torch.equal(t.G_ema(t.G_ema.truncate(w, 0.6), y), want_trunc)
            assert torch.equal(d_child(x, y), d_parent(x))  # D's projection starts at zero too
    child.train()  # trains: now y changes the faces
    mf = load_model(tmp_path / "child" / "model.safetensors")
    assert mf.config.cond_attributes == COND and {"G", "E", "C"} <= set(mf.parts)
    G = mf.network("G")
    w = G.map(z)
    with torch.no_grad():
        diff = (G(w, torch.ones(8, 2)) - G(w, -torch.ones(8, 2))).abs().mean().item()
    assert diff > 1e-4


@pytest.mark.slow  # a tiny training run
def test_a_warm_start_from_a_model_file_onto_more_attributes_keeps_its_faces(
        tmp_path: Path, tiny_cstyle: Path) -> None:
    """A model file carries no D: the child starts from its G, E, C and J, widens the condition
    offset by attribute, and with --g-hold moves only D at first."""
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig, preset
    from trainer.data import fake_dataset
    from trainer.run import Run

    parent = load_model(tiny_cstyle)
    assert parent.config.cond_attributes == COND
    more = ("Young", "Male", "Eyeglasses", "Smiling")  # another order, two new attributes
    values = preset("tiny")
    values.update(kind="style", res=16, judge=True, steps=3, encoder_steps=0,
                  classifier_steps=1, cond_attributes=more, g_hold=3,
                  init_from=str(tiny_cstyle))
    data = fake_dataset(n=64, res=16, names=TINY_ATTRIBUTES)
    child = Run(tmp_path / "child", TrainConfig(**values), data, quiet=True, command=["t"])
    t, G0 = child.trainer, parent.network("G")
    assert t.c_trained
    z = torch.randn(8, 8, generator=torch.Generator().manual_seed(1))
    y_parent = torch.tensor([[1.0, -1.0]] * 4 + [[-1.0, 1.0]] * 4)  # Smiling, Male
    y_child = torch.zeros(8, 4)
    y_child[:, 3], y_child[:, 1] = y_parent[:, 0], y_parent[:, 1]

    def drawn(g: torch.nn.Module, y: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return g.eval()(g.map(z), y)

    want = drawn(G0, y_parent)
    torch.testing.assert_close(drawn(t.G_ema, y_child), want, atol=1e-5, rtol=1e-5)
    y_new = y_child.clone()
    y_new[:, 0] = 1.0  # a new attribute's y starts with no effect
    torch.testing.assert_close(drawn(t.G_ema, y_new), want, atol=1e-5, rtol=1e-5)
    d0 = copy.deepcopy(t.D.state_dict())
    child.train()  # three held steps: D learns, G does not move
    torch.testing.assert_close(drawn(t.G_ema, y_child), want, atol=1e-5, rtol=1e-5)
    assert any(not torch.equal(v, t.D.state_dict()[k]) for k, v in d0.items())
    mf = load_model(tmp_path / "child" / "model.safetensors")
    assert mf.config.cond_attributes == more


def test_cond_on_a_style_preset_keeps_a_style_g_and_the_preset_names_the_cgans_seven() -> None:
    from trainer.cli import build_parser, config_from_args
    from trainer.config import preset

    def cfg(*argv: str):  # noqa: ANN202
        return config_from_args(build_parser().parse_args(["--data", "x", "-o", "y", *argv]))[0]

    assert cfg("--preset", "style64", "--cond", "Smiling,Male").kind == "style"
    assert cfg("--kind", "style", "--cond", "Smiling").model_config().n_cond == 1
    assert cfg("--preset", "celeba64", "--cond", "Smiling").kind == "cgan"  # as before
    c = cfg("--preset", "style64-cond")
    assert c.kind == "style" and c.cond_attributes == preset("celeba64-cgan")["cond_attributes"]
    plain = {k: v for k, v in preset("style64-cond").items() if k != "cond_attributes"}
    assert plain == preset("style64")
    every = preset("style64-cond40")
    assert {k: v for k, v in every.items() if k != "cond_attributes"} == preset("style64")
    assert len(set(every["cond_attributes"])) == 40
    assert set(c.cond_attributes) <= set(every["cond_attributes"])
