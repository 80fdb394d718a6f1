"""The auxiliary condition term (`--cond-aux`): a conditional G is also asked to make the run's own
classifier, frozen and trained on real photos, see y's attributes in its faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

COND = ("Smiling", "Male")


def _values() -> dict:
    from trainer.config import preset

    values = preset("tiny")
    values.update(kind="style", steps=6, encoder_steps=2, classifier_steps=20)
    return values


def _aux(t, z: torch.Tensor, y: torch.Tensor) -> float:  # noqa: ANN001
    """C's cross-entropy against y on the training G's faces (no augmentation, no mixing)."""
    t.C.eval()
    with torch.no_grad():
        logits = t.C(t.G(t.G.map(z, y), y))[:, t.cond_cols]
    return F.binary_cross_entropy_with_logits(logits, (y > 0).float()).item()


def _parent(tmp_path: Path) -> tuple:
    """A finished tiny unconditional run to start children from, its data, and a fixed batch:
    latents z (32, 8) and conditions y (32, 2) of +-1."""
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig
    from trainer.data import fake_dataset
    from trainer.run import Run

    data = fake_dataset(n=64, res=16, names=TINY_ATTRIBUTES)
    Run(tmp_path / "parent", TrainConfig(**_values()), data, quiet=True, command=["t"]).train()
    z = torch.randn(32, 8, generator=torch.Generator().manual_seed(1))
    y = torch.where(torch.rand(32, 2, generator=torch.Generator().manual_seed(2)) > 0.5, 1.0, -1.0)
    return data, z, y


def _probed_child(tmp_path: Path, data, name: str, **options):  # noqa: ANN001, ANN202
    """The trainer of a conditional child of `_parent`'s run (30 steps, lr_g 1e-2, `options`),
    with C swapped for a fixed linear probe: a classifier that surely sees something in a 16 px
    face (the tiny run's own C, 20 steps on noise, is at chance and barely depends on its
    input)."""
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig
    from trainer.run import Run

    cfg = TrainConfig(**_values()).with_(cond_attributes=COND, steps=30, encoder_steps=0,
                                         init_from=str(tmp_path / "parent"), lr_g=1e-2,
                                         **options)
    t = Run(tmp_path / name, cfg, data, quiet=True, command=["t"]).trainer
    assert t.c_trained
    torch.manual_seed(3)
    probe = torch.nn.Linear(3 * 16 * 16, len(TINY_ATTRIBUTES))
    with torch.no_grad():
        probe.weight.mul_(10)
    t.C = torch.nn.Sequential(torch.nn.Flatten(), probe)
    return t


@pytest.mark.parametrize(("option", "says"), [("cond_aux", "--cond-aux needs"),
                                              ("cond_keep", "--cond-keep needs")])
def test_classifier_terms_are_refused_without_a_trained_classifier(tmp_path: Path, option: str,
                                                                   says: str) -> None:
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig
    from trainer.data import fake_dataset
    from trainer.run import Run, RunError

    data = fake_dataset(n=64, res=16, names=TINY_ATTRIBUTES)
    cfg = TrainConfig(**_values()).with_(cond_attributes=COND, **{option: 1.0})
    with pytest.raises(RunError, match=f"{says} a conditional model and a trained classifier"):
        Run(tmp_path / "fresh", cfg, data, quiet=True, command=["t"])


@pytest.mark.slow  # three tiny training runs
def test_cond_aux_teaches_g_to_show_y_to_the_classifier(tmp_path: Path) -> None:
    data, z, y = _parent(tmp_path)
    after = {}
    for weight in (0.0, 5.0):
        t = _probed_child(tmp_path, data, f"child{weight}", cond_aux=weight)
        before = _aux(t, z, y)
        for _ in range(30):
            m = t.gan_step()
        assert ("cond_aux" in m) == (weight > 0)
        after[weight] = _aux(t, z, y)
    # Both start from the same G (its y offset at zero), so `before` is the same for both.
    assert after[5.0] < before - 0.1
    assert after[5.0] < after[0.0] - 0.1, after


def test_cond_dropout_leaves_y_unspecified_on_a_share_of_faces(tmp_path: Path) -> None:
    """`--cond-dropout p`: a share p of the faces, real and fake, lose their whole condition
    (y = 0, judged unconditionally), and p of the other faces' single attributes; the auxiliary
    term asks nothing of a dropped attribute."""
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig
    from trainer.data import fake_dataset
    from trainer.loop import Trainer

    data = fake_dataset(n=64, res=16, names=TINY_ATTRIBUTES)
    cfg = TrainConfig(**_values()).with_(cond_attributes=COND, cond_dropout=0.3, batch=4000)
    t = Trainer(cfg, data)
    _real, y_real, _z, y_fake = t._draw()
    for y in (y_real, y_fake):
        rows = (y == 0).all(1).float().mean().item()
        entries = (y == 0).float().mean().item()
        assert 0.3 + 0.7 * 0.09 - 0.03 < rows < 0.3 + 0.7 * 0.09 + 0.03  # whole rows, or both
        assert 0.3 + 0.7 * 0.3 - 0.03 < entries < 0.3 + 0.7 * 0.3 + 0.03
        assert set(y.unique().tolist()) <= {-1.0, 0.0, 1.0}
    t.c_trained = True
    fake = torch.zeros(2, 3, 16, 16)
    t.C = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16,
                                                                  len(TINY_ATTRIBUTES)))
    with torch.no_grad():
        t.C[1].bias.fill_(3.0)  # C says "has it" of every attribute
    t.policy = ()  # no augmentation: the same input each call
    has = t._cond_aux_loss(fake, torch.tensor([[1.0, 0.0], [1.0, 0.0]])).item()
    lacks = t._cond_aux_loss(fake, torch.tensor([[1.0, -1.0], [1.0, 0.0]])).item()
    assert has == pytest.approx(F.softplus(torch.tensor(-3.0)).item(), rel=1e-4)
    assert lacks > has  # only the given -1 adds a cost; the dropped entries add none


def test_cond_flip_turns_one_attribute_of_a_share_of_fake_conditions() -> None:
    """`--cond-flip q`: q of the fake faces get a real face's labels with one attribute on the
    other side (what a slider edit asks of G); real faces keep their own labels."""
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig
    from trainer.data import fake_dataset
    from trainer.loop import Trainer, sample_conditions

    data = fake_dataset(n=64, res=16, names=TINY_ATTRIBUTES)
    t = Trainer(TrainConfig(**_values()).with_(cond_attributes=COND, cond_flip=0.4,
                                              batch=4000), data)
    state = t.gen.get_state()
    _real, y_real, _z, y_fake = t._draw()
    t.gen.set_state(state)  # the same draws without the flip: the rows it started from
    t.real_batch()
    torch.randn(4000, t.cfg.nz, generator=t.gen)
    rows = sample_conditions(t.cond, 4000, t.gen)
    changed = (y_fake != rows).sum(1)
    assert set(changed.unique().tolist()) == {0, 1}  # one attribute at most
    assert 0.37 < (changed == 1).float().mean().item() < 0.43
    assert bool((y_fake[changed == 1] == -rows[changed == 1]).any(1).all())
    assert set(y_real.unique().tolist()) <= {-1.0, 1.0}


def test_cond_balance_shows_rare_combinations_more_often() -> None:
    """`--cond-balance p`: real faces and fake conditions are drawn with each combination of
    the conditioned attributes weighed by its count to the power -p: at 1 a combination on a
    twentieth of the faces is drawn as often as the common ones; real faces still come with
    their own labels; at 0 the draws are the uniform ones of every earlier run."""
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig
    from trainer.data import fake_dataset
    from trainer.loop import Trainer

    data = fake_dataset(n=80, res=16, names=TINY_ATTRIBUTES)
    cols = [data.attribute_names.index(a) for a in COND]
    # 4 faces of the 80 smile without being male: the rare combination; the rest split 3 ways.
    combo = np.array([0] * 4 + [1] * 25 + [2] * 25 + [3] * 26)
    data.labels[:, cols[0]] = np.where(np.isin(combo, [0, 1]), 1, -1)
    data.labels[:, cols[1]] = np.where(combo == 0, -1, np.where(combo == 1, 1,
                                                                 np.where(combo == 2, 1, -1)))
    base = TrainConfig(**_values()).with_(cond_attributes=COND, batch=4000)
    balanced = Trainer(base.with_(cond_balance=1.0), data)
    _real, y_real, _z, y_fake = balanced._draw()
    for y in (y_real, y_fake):
        rare = ((y[:, 0] > 0) & (y[:, 1] < 0)).float().mean().item()
        assert 0.21 < rare < 0.29  # a quarter, against 4 of 80 as the data has them
    # Real faces keep their own labels: the faces drawn as the rare combination are its four.
    state = balanced.gen.get_state()
    x, y = balanced.real_batch(400)
    balanced.gen.set_state(state)
    idx = torch.multinomial(balanced.cond_weights, 400, replacement=True,
                            generator=balanced.gen).sort().values.numpy()
    np.testing.assert_array_equal(y.numpy(), data.labels[idx][:, cols])
    assert set(idx[(y[:, 0] > 0).numpy() & (y[:, 1] < 0).numpy()].tolist()) <= {0, 1, 2, 3}
    # At 0 (the default) nothing changes: the same draws as a run without the option.
    plain, zero = Trainer(base, data), Trainer(base.with_(cond_balance=0.0), data)
    assert zero.cond_weights is None
    for a, b in zip(plain._draw(), zero._draw(), strict=True):
        assert torch.equal(a, b)


def test_cond_keep_pairs_half_the_batch_as_one_attribute_edits() -> None:
    """`--cond-keep`: the second half of the fake batch repeats the first half's latents with one
    conditioned attribute on its other side (an unspecified 0 to either side)."""
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig
    from trainer.data import fake_dataset
    from trainer.loop import Trainer

    data = fake_dataset(n=64, res=16, names=TINY_ATTRIBUTES)
    t = Trainer(TrainConfig(**_values()).with_(cond_attributes=COND, cond_keep=1.0,
                                              cond_dropout=0.3, batch=2000), data)
    _real, _y_real, z, y = t._draw()
    h = 1000
    assert t.pair_cols is not None and len(t.pair_cols) == h
    assert torch.equal(z[h:], z[:h])
    assert not torch.equal(z[:h], z[: h // 2].repeat(2, 1))  # the first half is not repeated
    changed = y[h:] != y[:h]
    assert bool((changed.sum(1) == 1).all())  # exactly one attribute per pair
    rows = torch.arange(h)
    assert torch.equal(changed.float().argmax(1), t.pair_cols)
    old, new = y[:h][rows, t.pair_cols], y[h:][rows, t.pair_cols]
    assert bool(((old != 0) <= (new == -old)).all())
    assert bool((new[old == 0].abs() == 1).all())
    assert 0.4 < (new[old == 0] > 0).float().mean().item() < 0.6


@pytest.mark.slow  # two tiny training runs
def test_cond_keep_teaches_an_edit_to_keep_the_other_attributes(tmp_path: Path) -> None:
    from testdata import TINY_ATTRIBUTES

    data, z, y = _parent(tmp_path)
    y_edit = y.clone()
    y_edit[:, 0] = -y_edit[:, 0]  # Smiling to its other side

    def others_moved(t) -> float:  # noqa: ANN001
        """C's probabilities of every attribute but Smiling: how far the edit moves them."""
        with torch.no_grad():
            p = torch.sigmoid(t.C(t.G(t.G.map(z, y), y)))
            q = torch.sigmoid(t.C(t.G(t.G.map(z, y_edit), y_edit)))
        keep = torch.ones(len(TINY_ATTRIBUTES), dtype=torch.bool)
        keep[t.cond_cols[0]] = False
        return (p - q)[:, keep].abs().mean().item()

    after = {}
    for weight in (0.0, 20.0):
        # cond_aux teaches y to show; the keep term asks the rest to stay as it was.
        t = _probed_child(tmp_path, data, f"child{weight}", cond_aux=5.0, cond_keep=weight)
        t.policy = ()
        for _ in range(30):
            m = t.gan_step()
        assert ("cond_keep" in m) == (weight > 0)
        after[weight] = others_moved(t)
    assert after[20.0] < 0.7 * after[0.0], after


def test_cond_keep_leaves_attributes_correlated_with_the_edited_one_free() -> None:
    """`--cond-keep-free r`: an edit of one attribute is not asked to keep those whose labels
    correlate with it by |r| or more (a man loses the lipstick his label rarely comes with);
    itself is never kept."""
    from testdata import TINY_ATTRIBUTES

    from trainer.config import TrainConfig
    from trainer.data import fake_dataset
    from trainer.loop import Trainer

    data = fake_dataset(n=64, res=16, names=TINY_ATTRIBUTES)
    names = list(TINY_ATTRIBUTES)
    a, b = names.index("Smiling"), names.index("Male")
    other = next(i for i in range(len(names)) if i not in (a, b))
    data.labels[:, other] = data.labels[:, a]  # an attribute that always comes with Smiling
    keep_all = Trainer(TrainConfig(**_values()).with_(cond_attributes=COND, cond_keep=1.0),
                       data).keep_weights
    assert keep_all is not None and keep_all.shape == (2, len(names))
    assert keep_all[0, a] == 0 and keep_all[1, b] == 0  # never the edited attribute itself
    assert keep_all[0, other] == 1 and keep_all.sum() == 2 * (len(names) - 1)
    free = Trainer(TrainConfig(**_values()).with_(cond_attributes=COND, cond_keep=1.0,
                                                  cond_keep_free=0.9), data).keep_weights
    assert free is not None and free[0, other] == 0 and free[0, a] == 0
    r = abs(np.corrcoef(data.labels[:, b].astype(float), data.labels[:, other].astype(float))[0, 1])
    assert free[1, other] == float(r < 0.9)
