"""The training loop: GAN phase, encoder phase, classifier phase. It emits events and knows no UI.

A run goes through phases in order: 'gan' (G, D and, for a VAE/GAN, E), 'encoder' (E against a
frozen G), 'classifier' (the attribute classifier on real photos), then 'done'. Everything the loop
needs to continue lives in `state_dict()`, so a resumed run continues at the exact step.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from facegan.models import (
    ModelConfig,
    bf16_is_fast,
    build,
    images_to_tensor,
    prior_latents,
    tensor_to_images,
)
from trainer.augment import diff_augment, parse_policy
from trainer.config import TrainConfig
from trainer.data import FaceDataset

PHASES = ("gan", "encoder", "classifier", "done")
# A phase whose inputs another phase changed must run again: the encoder inverts G.
DEPENDS = {"encoder": "gan"}
Callback = Callable[["Trainer"], None]


class StopRequested(KeyboardInterrupt):
    """Raised between two steps after `Trainer.stop_requested` was set: the state is consistent."""


def refresh_bn_stats(g: nn.Module, cfg: ModelConfig, labels: np.ndarray | None, n: int = 8) -> None:
    """Recompute BatchNorm statistics of an EMA generator from its own outputs (standing stats)."""
    gen = torch.Generator().manual_seed(1234)
    bns = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:  # a style G has no batch norm
        g.eval()
        return
    device = next(g.parameters()).device
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    g.train()
    with torch.no_grad():
        for _ in range(n):
            z = torch.randn(64, cfg.nz, generator=gen).to(device)
            g(z, sample_conditions(labels, 64, gen).to(device) if cfg.n_cond else None)
    for m in bns:
        m.momentum = 0.1
    g.eval()


def sample_conditions(labels: np.ndarray | None, n: int, gen: torch.Generator,
                      weights: torch.Tensor | None = None) -> torch.Tensor:
    """Condition vectors drawn from the data's own label rows (keeps attribute correlations),
    uniformly or with the rows' `weights` (`balance_weights`)."""
    assert labels is not None
    idx = draw_rows(len(labels), n, gen, weights).numpy()
    return torch.from_numpy(labels[idx]).float()


def draw_rows(count: int, n: int, gen: torch.Generator,
              weights: torch.Tensor | None = None) -> torch.Tensor:
    """n row indices of `count`, uniformly (as every run before `cond_balance` drew them) or
    with replacement in proportion to `weights`."""
    if weights is None:
        return torch.randint(0, count, (n,), generator=gen)
    return torch.multinomial(weights, n, replacement=True, generator=gen)


def balance_weights(labels: np.ndarray | None, power: float) -> torch.Tensor | None:
    """(rows,) each label row's weight: the count of rows with its combination of conditioned
    attributes to the power -`power` (`TrainConfig.cond_balance`); None at power 0."""
    if labels is None or power <= 0:
        return None
    _, inverse, counts = np.unique(labels > 0, axis=0, return_inverse=True, return_counts=True)
    return torch.from_numpy(counts[inverse.reshape(-1)].astype(np.float64) ** -power)


class Trainer:
    """Trains one model. Callbacks: on_step, on_sample, on_snapshot, on_phase (minGPT style)."""

    def __init__(self, cfg: TrainConfig, data: FaceDataset, device: str = "cpu") -> None:
        self.cfg = cfg
        self.data = data
        self.device = torch.device(device)
        self.rank = dist.get_rank() if dist.is_initialized() else 0
        self.world = dist.get_world_size() if dist.is_initialized() else 1
        n_classes = len(data.attribute_names) if cfg.classifier_steps > 0 else 0
        if n_classes and data.labels is None:
            n_classes = 0
        self.mcfg = cfg.model_config(n_classes=n_classes)
        self.cond = (
            data.label_columns(list(cfg.cond_attributes)) if self.mcfg.n_cond else None
        )  # (n, n_cond) float32 in {-1, +1}
        self.cond_weights = balance_weights(self.cond, cfg.cond_balance)
        self.policy = parse_policy(cfg.augment)
        self.gen = torch.Generator().manual_seed(cfg.seed * 1000 + self.rank)
        torch.manual_seed(cfg.seed)  # weight init only; training randomness uses self.gen
        self.G, self.D, self.E = build(self.mcfg, "G"), build(self.mcfg, "D"), build(self.mcfg, "E")
        self.C = build(self.mcfg, "C") if n_classes else None
        self.J = build(self.mcfg, "J") if n_classes and cfg.judge else None
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        mf = torch.channels_last if cfg.channels_last else torch.contiguous_format
        for net in self.nets().values():
            net.to(self.device, memory_format=mf)
        self.memory_format = mf
        self.opt_g = self._opt(self.G.parameters(), cfg.lr_g)
        self.opt_d = self._opt(self.D.parameters(), cfg.lr_d)
        self.opt_e = self._opt(self.E.parameters(), cfg.lr_e)
        self.opt_c = torch.optim.Adam(self.C.parameters(), 1e-3) if self.C is not None else None
        self.opt_j = torch.optim.Adam(self.J.parameters(), 1e-3) if self.J is not None else None
        self.G_train, self.D_train, self.E_train = self.G, self.D, self.E
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.G_train, self.D_train, self.E_train = DDP(self.G), DDP(self.D), DDP(self.E)
        self.phase = "gan"
        self.step = 0  # step within the current phase
        self.done: dict[str, int] = {}  # steps finished in phases left behind
        self.total_steps = 0
        self.d_l2 = cfg.d_l2
        self.metrics: dict[str, float] = {}
        self.callbacks: dict[str, list[Callback]] = {}
        self.fixed_z = torch.randn(64, cfg.nz, generator=torch.Generator().manual_seed(42))
        self.fixed_y = (
            sample_conditions(self.cond, 64, torch.Generator().manual_seed(43))
            if self.cond is not None else None
        )
        self.started = time.time()
        self.wall_time = 0.0  # seconds of training, summed over resumes
        self._frozen_g: nn.Module | None = None
        self.c_limit = len(data)  # the classifier draws from images [0, c_limit)
        self.use_bf16 = cfg.bf16 and bf16_is_fast(self.device)
        self.stop_requested = False  # set by a signal handler; honoured between two steps
        # Whether C has learnt from real photos (its phase ran, or a warm start copied it): the
        # auxiliary condition term (`cond_aux`) asks it about G's faces.
        self.c_trained = False
        self.cond_cols = (
            [data.attribute_names.index(a) for a in cfg.cond_attributes]
            if self.cond is not None and self.C is not None else []
        )
        # This step's edit pairs (`cond_keep`): the conditioned attribute each pair moved.
        self.pair_cols: torch.Tensor | None = None
        # (n_cond, n_attr): which attributes `cond_keep` asks an edit of each conditioned one to
        # keep: not itself, nor those its labels correlate with by `cond_keep_free` or more.
        self.keep_weights: torch.Tensor | None = None
        if cfg.cond_keep > 0 and self.cond_cols and data.labels is not None:
            r = np.nan_to_num(np.corrcoef(data.labels.astype(np.float32).T))
            free = np.abs(r[self.cond_cols]) >= cfg.cond_keep_free
            if cfg.cond_keep_free >= 1:  # 1: keep every other attribute, even a twin
                free[:] = False
            free[np.arange(len(self.cond_cols)), self.cond_cols] = True
            self.keep_weights = torch.from_numpy((~free).astype(np.float32))

    # Plumbing.

    def _opt(self, params: Any, lr: float) -> torch.optim.Optimizer:
        if self.cfg.optimizer == "rmsprop":
            return torch.optim.RMSprop(params, lr=lr)
        return torch.optim.Adam(params, lr=lr, betas=(self.cfg.beta1, 0.999))

    def nets(self) -> dict[str, nn.Module]:
        nets = {"G": self.G, "D": self.D, "E": self.E, "G_ema": self.G_ema}
        if self.C is not None:
            nets["C"] = self.C
        if self.J is not None:
            nets["J"] = self.J
        return nets

    def add_callback(self, event: str, fn: Callback) -> None:
        self.callbacks.setdefault(event, []).append(fn)

    def trigger(self, event: str) -> None:
        for fn in self.callbacks.get(event, []):
            fn(self)

    def autocast(self) -> AbstractContextManager[Any]:
        if not self.use_bf16:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=torch.bfloat16)

    def phase_length(self, phase: str, cfg: TrainConfig | None = None) -> int:
        cfg = cfg or self.cfg
        return {
            "gan": cfg.steps,
            "encoder": 0 if cfg.kind == "vaegan" else cfg.encoder_steps,
            "classifier": cfg.classifier_steps if self.C is not None else 0,
            "done": 0,
        }[phase]

    def real_batch(self, n: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A random batch of real faces in [-1, 1] (random horizontal flips), and conditions."""
        n = n or max(2, self.cfg.batch // self.world)
        idx = draw_rows(len(self.data), n, self.gen, self.cond_weights)
        order = idx.sort().values.numpy()  # sorted reads are kinder to the memmap
        x = self._faces(order)
        y = None
        if self.cond is not None:
            y = torch.from_numpy(self.cond[order]).to(self.device)
        return x, y

    def _faces(self, idx: np.ndarray) -> torch.Tensor:
        """Images at sorted indices in [-1, 1], each flipped left-right with probability 1/2."""
        x = images_to_tensor(self.data.images[idx])
        flip = torch.rand(len(idx), generator=self.gen) < 0.5
        x[flip] = x[flip].flip(3)
        return x.to(self.device).contiguous(memory_format=self.memory_format)

    def aug(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.policy, self.gen) if self.policy else x

    # GAN losses (logits in float32).

    def d_loss(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if cfg.loss == "hinge":
            return F.relu(1 - real).mean() + F.relu(1 + fake).mean()
        t_real = torch.full_like(real, 1.0 - cfg.label_smooth)
        t_fake = torch.zeros_like(fake)
        if cfg.label_noise:
            t_real = t_real - cfg.label_noise * torch.rand(real.shape, generator=self.gen)
            t_fake = t_fake + cfg.label_noise * torch.rand(fake.shape, generator=self.gen)
        return F.binary_cross_entropy_with_logits(
            real, t_real
        ) + F.binary_cross_entropy_with_logits(fake, t_fake)

    def g_loss(self, fake: torch.Tensor) -> torch.Tensor:
        if self.cfg.loss == "hinge":
            return -fake.mean()
        return F.binary_cross_entropy_with_logits(fake, torch.ones_like(fake))

    def _update_ema(self) -> None:
        beta = self.cfg.ema if self.total_steps > 100 else 0.0  # track closely at the start
        with torch.no_grad():
            for pe, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
                pe.lerp_(p, 1.0 - beta)
            for be, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
                be.copy_(b)

    # Steps.

    def _draw(self) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]:
        """One step's randomness, always in this order: real batch, latents, fake conditions."""
        real, y_real = self.real_batch()
        n = real.shape[0]
        z = torch.randn(n, self.cfg.nz, generator=self.gen).to(self.device)
        y_fake = None
        if self.cond is not None:
            y_fake = sample_conditions(self.cond, n, self.gen, self.cond_weights).to(self.device)
            if self.cfg.cond_flip > 0:
                y_fake = self._flip(y_fake)
            if self.cfg.cond_dropout > 0 and y_real is not None:
                y_real, y_fake = self._drop(y_real), self._drop(y_fake)
            if self.cfg.cond_keep > 0:
                z, y_fake = self._pair(z, y_fake)
        return real, y_real, z, y_fake

    def _pair(self, z: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Edit pairs for `cond_keep`: the second half of the batch repeats the first half's
        latents with one conditioned attribute moved to its other side (an unspecified 0 to a
        random side), as a slider edit does; `pair_cols` records which."""
        h = z.shape[0] // 2
        col = torch.randint(0, y.shape[1], (h,), generator=self.gen)
        side = torch.where(torch.rand(h, generator=self.gen) < 0.5, -1.0, 1.0)
        z, y = z.clone(), y.clone()
        z[h:2 * h] = z[:h]
        moved = y[:h].clone()
        rows = torch.arange(h)
        old = moved[rows, col.to(y.device)]
        moved[rows, col.to(y.device)] = torch.where(old != 0, -old, side.to(y.device))
        y[h:2 * h] = moved
        self.pair_cols = col
        return z, y

    def _flip(self, y: torch.Tensor) -> torch.Tensor:
        """y with one random attribute flipped on `cond_flip` of its rows."""
        rows = torch.rand(y.shape[0], generator=self.gen) < self.cfg.cond_flip
        col = torch.randint(0, y.shape[1], (y.shape[0],), generator=self.gen)
        flip = torch.zeros(y.shape, dtype=torch.bool)
        flip[torch.arange(y.shape[0]), col] = rows
        return torch.where(flip.to(y.device), -y, y)

    def _drop(self, y: torch.Tensor) -> torch.Tensor:
        """y with `cond_dropout` of its rows, and of the other rows' entries, set to 0."""
        p = self.cfg.cond_dropout
        row = torch.rand(y.shape[0], 1, generator=self.gen) < p
        entry = torch.rand(y.shape, generator=self.gen) < p
        return y.masked_fill((row | entry).to(y.device), 0.0)

    def _fake(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The training G's images of prior noise z; a style G maps z to w itself (tracking
        w_avg) and mixes two latents' styles on `style_mix` of the faces."""
        if self.mcfg.kind != "style":
            return self.G_train(z, y)
        n, mix = z.shape[0], None
        if self.cfg.style_mix > 0:
            n_styles = self.G.n_styles
            z2 = torch.randn(n, self.cfg.nz, generator=self.gen).to(self.device)
            cut = torch.randint(1, n_styles, (n,), generator=self.gen)
            keep = torch.rand(n, generator=self.gen) >= self.cfg.style_mix
            cut[keep] = n_styles
            if self.pair_cols is not None:  # an edit pair shares its mixing too
                h = len(self.pair_cols)
                z2[h:2 * h], cut[h:2 * h] = z2[:h], cut[:h]
            mix = (z2, cut.to(self.device))
        return self.G_train(z, y, from_z=True, mix=mix)

    def gan_step(self) -> dict[str, float]:
        """One GAN step: D learns real from fake, then G learns to fool D (a VAE/GAN's step,
        which also trains E, is `vaegan_step`)."""
        if self.cfg.kind == "vaegan":
            return self.vaegan_step()
        real, y_real, z, y_fake = self._draw()
        # One G forward serves the D step (detached) and the G step: G does not change in
        # between, so its output is the same; only BatchNorm's running stats, which training
        # does not use, are updated once per step instead of twice.
        with self.autocast():
            fake_g = self._fake(z, y_fake)
        m, d = self._d_step(real, [fake_g.detach()], y_real, y_fake)
        # G step: D is frozen and used without its DDP wrapper.
        self.D.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            g_out = self.D(self.aug(fake_g), y_fake).float()
        loss_g = self.g_loss(g_out)
        terms: dict[str, torch.Tensor] = {}
        if self.cfg.cond_aux > 0 and y_fake is not None:
            terms["cond_aux"] = self._cond_aux_loss(fake_g, y_fake)
            loss_g = loss_g + self.cfg.cond_aux * terms["cond_aux"]
        if self.cfg.cond_keep > 0 and self.pair_cols is not None:
            terms["cond_keep"] = self._cond_keep_loss(fake_g, self.pair_cols)
            loss_g = loss_g + self.cfg.cond_keep * terms["cond_keep"]
        if not d["skip_g"] and self.step >= self.cfg.g_hold:
            loss_g.backward()
            self.opt_g.step()
        m = self._end_step(m, d, loss_g, g_out)
        m.update({k: v.item() for k, v in terms.items()})
        return m

    def _frozen_c(self, x: torch.Tensor) -> torch.Tensor:
        """C's logits (float32) on x, C frozen and in eval mode; gradients flow to x only."""
        assert self.C is not None and self.c_trained
        self.C.eval().requires_grad_(False)
        try:
            with self.autocast():
                return self.C(x).float()
        finally:
            self.C.requires_grad_(True)

    def _cond_aux_loss(self, fake: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """How far C (frozen, trained on real photos) is from seeing y's attributes in the
        (augmented) fakes: the mean binary cross-entropy over the conditioned attributes."""
        logits = self._frozen_c(self.aug(fake))[:, self.cond_cols]
        given = (y != 0).float()  # attributes dropped to 0 (unspecified) ask nothing
        loss = F.binary_cross_entropy_with_logits(logits, (y > 0).float(), weight=given,
                                                  reduction="sum")
        return loss / given.sum().clamp(min=1.0)

    def _cond_keep_loss(self, fake: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
        """How much C (frozen, trained on real photos) sees an edit change the face's other
        attributes: the squared difference of its probabilities on the edited face from those on
        the face before the edit (held fixed), summed over every attribute but the one the pair
        moved (and those `cond_keep_free` leaves free with it), averaged over pairs. Both faces
        of a pair are the same augmentation-free draw, so only the edit separates them.

        The face before the edit is held fixed: with gradients through both faces (the first
        form, weight 2, from 32,000 steps), G learnt within 4,500 steps to draw faces on which C
        sees nothing change because it sees little at all: C called 3.7% of faces drawn with
        Smiling y = +1 smiling, against 66% before (`docs/training/README.md`)."""
        h = len(cols)
        p = torch.sigmoid(self._frozen_c(fake[:2 * h]))
        assert self.keep_weights is not None
        keep = self.keep_weights.to(p.device)[cols.to(p.device)]
        return ((p[:h].detach() - p[h:2 * h]).pow(2) * keep).sum() / h

    def vaegan_step(self) -> dict[str, float]:
        """One VAE/GAN step (Larsen et al. 2016): E encodes real faces; D judges them against G's
        samples and G's reconstructions; E learns to reconstruct in D's feature space (plus a KL
        term), G to fool D with both."""
        cfg = self.cfg
        real, y_real, z, y_fake = self._draw()
        n = real.shape[0]
        with self.autocast():
            mu, logvar = self.E.forward_dist(real) if self.world == 1 else \
                self.E_train.module.forward_dist(real)
        mu, logvar = mu.float(), logvar.float()
        eps = torch.randn(mu.shape, generator=self.gen).to(self.device)
        z_rec = mu + eps * (0.5 * logvar).exp()
        # The G step runs G on z and z_rec jointly (other batch statistics), so the D step has
        # its own forward.
        with torch.no_grad(), self.autocast():
            fake = self.G(z, y_fake)
            recon_ng = self.G(z_rec.detach(), None)
        m, d = self._d_step(real, [fake, recon_ng], y_real, y_fake)
        # G and E step; D is frozen and used without its DDP wrapper.
        self.D.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        with self.autocast():
            both = self.G_train(torch.cat([z, z_rec]), None)
            fake_g, recon = both[:n], both[n:]
            g_out = self.D(self.aug(fake_g), y_fake).float()
        loss_g = self.g_loss(g_out)
        with self.autocast():
            f_rec, f_real = self.D.features(recon), self.D.features(real)
        rec = F.mse_loss(f_rec.float(), f_real.float().detach()) + F.l1_loss(
            recon.float(), real.float()
        )
        kl = -0.5 * torch.mean(1 + logvar - mu.pow(2) - logvar.exp())
        with self.autocast():
            adv_rec = self.g_loss(self.D(self.aug(recon), None).float())
        self.opt_e.zero_grad(set_to_none=True)
        (cfg.vae_kl * kl + rec).backward(inputs=list(self.E.parameters()), retain_graph=True)
        loss_g_total = loss_g + 0.5 * adv_rec + cfg.vae_gamma * rec
        if not d["skip_g"]:
            loss_g_total.backward(inputs=list(self.G.parameters()))
            self.opt_g.step()
        self.opt_e.step()
        m.update(kl=kl.item(), rec=rec.item())
        return self._end_step(m, d, loss_g, g_out)

    def _d_step(self, real: torch.Tensor, fakes: list[torch.Tensor], y_real: torch.Tensor | None,
                y_fake: torch.Tensor | None) -> tuple[dict[str, float], dict[str, Any]]:
        """D's update on real faces against `fakes` (detached), with the balance rule and R1;
        returns (metrics so far, what the rest of the step needs: losses, probabilities, skips)."""
        cfg = self.cfg
        n = real.shape[0]
        m: dict[str, float] = {}
        # One forward over real and fake (DDP wants one forward per backward).
        d_in = [self.aug(real)] + [self.aug(f) for f in fakes]
        y_in = None if y_real is None else torch.cat([y_real, y_fake])
        with self.autocast():
            out = self.D_train(torch.cat(d_in), y_in).float()
        d_real, d_fake = out[:n], out[n:]
        loss_d = self.d_loss(d_real, d_fake)
        p_real, p_fake = torch.sigmoid(d_real).mean().item(), torch.sigmoid(d_fake).mean().item()
        err_r = F.binary_cross_entropy_with_logits(d_real.detach(), torch.ones_like(d_real)).item()
        err_f = F.binary_cross_entropy_with_logits(d_fake.detach(), torch.zeros_like(d_fake)).item()
        margin = cfg.balance_margin
        skip_d = margin > 0 and (err_f < margin or err_r < margin)
        skip_g = margin > 0 and (err_f > 1 - margin or err_r > 1 - margin)
        if margin > 0 and cfg.d_l2 > 0:  # adaptive L2 on D (Larsen & Sønderby 2015)
            self.d_l2 = float(np.clip(self.d_l2 * (1.5 if skip_d else 1 / 1.5), 1e-6, 1e-2))
            for g in self.opt_d.param_groups:
                g["weight_decay"] = self.d_l2
        self.opt_d.zero_grad(set_to_none=True)
        if not skip_d:
            loss_d.backward()
            self.opt_d.step()
        if cfg.r1 > 0 and self.total_steps % cfg.r1_every == 0 and not skip_d:
            m["r1"] = self._r1_step(real, y_real)
        return m, {"loss_d": loss_d.item(), "d_real": p_real, "d_fake": p_fake,
                   "skip_d": skip_d, "skip_g": skip_g}

    def _end_step(self, m: dict[str, float], d: dict[str, Any], loss_g: torch.Tensor,
                  g_out: torch.Tensor) -> dict[str, float]:
        """Unfreeze D, move the generator's average, and complete the step's metrics."""
        cfg = self.cfg
        self.D.requires_grad_(True)
        if cfg.ema > 0:
            self._update_ema()
        else:
            self.G_ema.load_state_dict(self.G.state_dict())
        m.update(
            loss_d=d["loss_d"], loss_g=loss_g.item(), d_real=d["d_real"], d_fake=d["d_fake"],
            g_fool=torch.sigmoid(g_out.detach()).mean().item(),
            skip_d=float(d["skip_d"]), skip_g=float(d["skip_g"]),
        )
        if cfg.balance_margin > 0 and cfg.d_l2 > 0:
            m["d_l2"] = self.d_l2
        return m

    def _r1_step(self, real: torch.Tensor, y: torch.Tensor | None) -> float:
        real = real.detach().float().requires_grad_(True)
        out = self.D_train(real, y)
        (grad,) = torch.autograd.grad(out.sum(), real, create_graph=True)
        penalty = grad.pow(2).sum([1, 2, 3]).mean()
        self.opt_d.zero_grad(set_to_none=True)
        (0.5 * self.cfg.r1 * self.cfg.r1_every * penalty).backward()
        self.opt_d.step()
        return penalty.item()

    def frozen_generator(self) -> nn.Module:
        """The EMA generator with standing BatchNorm statistics, as shipped in the model file."""
        if self._frozen_g is None:
            g = copy.deepcopy(self.G_ema)
            refresh_bn_stats(g, self.mcfg, self.cond)
            self._frozen_g = g.requires_grad_(False).eval()
        return self._frozen_g

    def ema_generator(self) -> nn.Module:
        """The EMA generator with standing statistics: cached once G is frozen, fresh before."""
        if self.phase != "gan":
            return self.frozen_generator()
        g = copy.deepcopy(self.G_ema)
        refresh_bn_stats(g, self.mcfg, self.cond)
        return g.requires_grad_(False)

    def encoder_step(self) -> dict[str, float]:
        """E learns to invert the frozen G: E(G(z)) ~ z on samples and G(E(x)) ~ x on photos."""
        cfg = self.cfg
        G = self.frozen_generator()
        self.D.eval().requires_grad_(False)
        real, y_real, z, y_fake = self._draw()
        n = real.shape[0]
        with torch.no_grad():
            z = prior_latents(G, z, y_fake)  # a style G's E predicts w, which G's samples know
        with torch.no_grad(), self.autocast():
            fake = G(z, y_fake)
        with self.autocast():
            z_hat = self.E_train(torch.cat([fake, real])).float()
            recon = G(z_hat[n:], y_real)
            f_rec, f_real = self.D.features(recon), self.D.features(real)
        loss_lat = F.mse_loss(z_hat[:n], z)
        loss_pix = F.l1_loss(recon.float(), real.float())
        loss_feat = F.mse_loss(f_rec.float(), f_real.float())
        # Codes of real faces drift off the prior (a shifted, 2x wider cloud on the first bundled
        # model), where G extrapolates and the attribute directions lose their meaning: match the
        # batch's first two moments to N(0, I).
        z_real = z_hat[n:]
        if self.mcfg.kind == "style":  # W is no unit Gaussian: match the samples' w moments
            loss_prior = (z_real.mean(0) - z.mean(0)).pow(2).mean() + (
                z_real.var(0) - z.var(0)).pow(2).mean()
        else:
            loss_prior = z_real.mean(0).pow(2).mean() + (z_real.pow(2).mean() - 1.0).pow(2)
        loss = loss_lat + loss_pix + cfg.enc_feature * loss_feat + cfg.enc_prior * loss_prior
        self.opt_e.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_e.step()
        return dict(
            enc_latent=loss_lat.item(), enc_pixel=loss_pix.item(), enc_feat=loss_feat.item(),
            enc_prior=loss_prior.item(),
        )

    def classifier_step(self) -> dict[str, float]:
        assert self.C is not None and self.opt_c is not None and self.data.labels is not None
        self.C.train()
        n = max(2, 128 // self.world)
        idx = torch.randint(0, self.c_limit, (n,), generator=self.gen).sort().values.numpy()
        x = self._faces(idx)
        t = torch.from_numpy((self.data.labels[idx] > 0).astype(np.float32)).to(self.device)
        # Dropout draws from the global RNG: seed it from self.gen so a resumed run is exact.
        seed = int(torch.randint(0, 2**62, (1,), generator=self.gen))
        cuda = [self.device.index or 0] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda):
            torch.manual_seed(seed)
            with self.autocast():
                logits = self.C(x).float()
        loss = F.binary_cross_entropy_with_logits(logits, t)
        self.opt_c.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_c.step()
        self.c_trained = True
        acc = ((logits > 0).float() == t).float().mean().item()
        m = dict(cls_loss=loss.item(), cls_acc=acc)
        if self.J is not None and self.opt_j is not None:  # the judge: same photos, own weights
            self.J.train()
            with torch.random.fork_rng(devices=cuda):
                torch.manual_seed(seed + 1)
                with self.autocast():
                    j_logits = self.J(x).float()
            j_loss = F.binary_cross_entropy_with_logits(j_logits, t)
            self.opt_j.zero_grad(set_to_none=True)
            j_loss.backward()
            self.opt_j.step()
            m["judge_loss"] = j_loss.item()
        return m

    # Driving.

    def run(self) -> None:
        """Run the remaining steps of every phase; resumable at any step."""
        last = time.time()
        while self.phase != "done":
            length = self.phase_length(self.phase)
            while self.step < length:
                if (self.phase == "gan" and self.cfg.gan_minutes > 0 and self.step > 0
                        and self.wall_time >= 60 * self.cfg.gan_minutes):
                    # The time budget becomes the run's step count (stored with the state).
                    self.cfg = self.cfg.with_(steps=self.step, gan_minutes=0.0)
                    self.trigger("on_snapshot")
                    break
                fn = {"gan": self.gan_step, "encoder": self.encoder_step,
                      "classifier": self.classifier_step}[self.phase]
                self.metrics = fn()
                self.step += 1
                self.total_steps += 1
                now = time.time()
                self.wall_time += now - last
                last = now
                self.trigger("on_step")
                if self.phase == "gan" and self.step % self.cfg.sample_every == 0:
                    self.trigger("on_sample")
                if self.step % self.cfg.snapshot_every == 0 or self.step == length:
                    self.trigger("on_snapshot")
                if self._should_stop():
                    raise StopRequested(f"stopped after {self.phase} step {self.step}")
            self.done[self.phase] = self.step
            self.phase = PHASES[PHASES.index(self.phase) + 1]
            self.step = self.done.get(self.phase, 0)
            self.trigger("on_phase")
            last = time.time()

    def _should_stop(self) -> bool:
        """Whether to stop now; under DDP every rank agrees, so none waits on a stopped peer."""
        if self.world == 1:
            return self.stop_requested
        flag = torch.tensor([float(self.stop_requested)], device=self.device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return bool(flag.item())

    def _reopen(self, s: dict[str, Any]) -> None:
        """Go back to the first finished phase that the (resumed) config made longer.

        `--resume --steps N` on a finished run trains G further; the encoder, which inverts G,
        then runs again in full from its current weights, while the classifier (real photos only)
        keeps its finished steps.
        """
        old = TrainConfig.from_dict(s["train_config"])
        cur = PHASES.index(self.phase)
        self.done = {p: self.phase_length(p, old) for p in PHASES[:cur]}
        self.done.update(s.get("done", {}))
        for p in PHASES[:cur]:
            if self.phase_length(p) > self.done[p]:
                self.phase, self.step = p, self.done.pop(p)
                for later, needs in DEPENDS.items():
                    if needs == p:
                        self.done.pop(later, None)
                return

    @torch.no_grad()
    def sample_grid(self, n: int = 64) -> np.ndarray:
        """Images of the fixed latents from the EMA generator, (n, res, res, 3) uint8.

        During the GAN phase the EMA copy gets standing BatchNorm statistics first (as the model
        file does): the live G's running statistics do not match the averaged weights.
        """
        g = self.ema_generator()
        y = self.fixed_y[:n] if self.fixed_y is not None else None
        y = None if y is None else y.to(self.device)
        x = g(prior_latents(g, self.fixed_z[:n].to(self.device), y), y)
        return tensor_to_images(x)

    # State.

    def state_dict(self) -> dict[str, Any]:
        s: dict[str, Any] = {
            "train_config": self.cfg.to_dict(),
            "phase": self.phase, "step": self.step, "total_steps": self.total_steps,
            "done": dict(self.done),
            "wall_time": self.wall_time, "d_l2": self.d_l2, "c_trained": self.c_trained,
            "rng": self.gen.get_state(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "opt_e": self.opt_e.state_dict(),
        }
        for k, net in self.nets().items():
            s[k] = net.state_dict()
        if self.opt_c is not None:
            s["opt_c"] = self.opt_c.state_dict()
        if self.opt_j is not None:
            s["opt_j"] = self.opt_j.state_dict()
        return s

    def load_state_dict(self, s: dict[str, Any]) -> None:
        for k, net in self.nets().items():
            net.load_state_dict(s[k])
        self.opt_g.load_state_dict(s["opt_g"])
        self.opt_d.load_state_dict(s["opt_d"])
        self.opt_e.load_state_dict(s["opt_e"])
        if self.opt_c is not None and "opt_c" in s:
            self.opt_c.load_state_dict(s["opt_c"])
        if self.opt_j is not None and "opt_j" in s:
            self.opt_j.load_state_dict(s["opt_j"])
        self.phase, self.step, self.total_steps = s["phase"], s["step"], s["total_steps"]
        self._reopen(s)
        self.wall_time, self.d_l2 = s["wall_time"], s["d_l2"]
        # States written before the flag: C is trained if its phase ran or the run was warm-started
        self.c_trained = s.get("c_trained", bool(
            self.C is not None and (s.get("done", {}).get("classifier")
                                    or s["train_config"].get("init_from"))))
        self.gen.set_state(s["rng"])
        self._frozen_g = None
        # The config is the source of truth for learning rates (a resume may change them).
        for opt, lr in ((self.opt_g, self.cfg.lr_g), (self.opt_d, self.cfg.lr_d),
                        (self.opt_e, self.cfg.lr_e)):
            for group in opt.param_groups:
                group["lr"] = lr
                if "betas" in group:
                    group["betas"] = (self.cfg.beta1, group["betas"][1])
