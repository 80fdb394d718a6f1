"""Training configuration: one frozen dataclass, stored in every snapshot and model file."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from facegan.models import CONDITIONAL_KINDS, ModelConfig


@dataclass(frozen=True)
class TrainConfig:
    """Everything that shapes a training run (the data path and output folder live in the CLI)."""

    kind: str = "dcgan"
    res: int = 64
    nz: int = 128
    ngf: int = 64
    ndf: int = 64
    nef: int = 64
    cond_attributes: tuple[str, ...] = ()
    batch: int = 64
    steps: int = 10_000  # GAN steps
    encoder_steps: int = 2_000  # encoder phase (G frozen); VAE/GAN trains E jointly instead
    classifier_steps: int = 1_500  # attribute classifier phase (0 = no classifier)
    optimizer: str = "adam"  # adam | rmsprop (RMSprop: the KDnuggets face-GAN tutorial)
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    lr_e: float = 2e-4
    beta1: float = 0.5
    loss: str = "hinge"  # hinge | bce
    label_smooth: float = 0.0  # bce only: real target 1 - label_smooth
    label_noise: float = 0.0  # bce only: uniform noise added to targets
    balance_margin: float = 0.0  # skip the side winning by this margin (Larsen & Sønderby 2015)
    d_l2: float = 0.0  # L2 on D; with balance_margin > 0 it adapts (Larsen & Sønderby 2015)
    ema: float = 0.999  # EMA decay of G's copy (0 = off)
    augment: str = "color,translation"  # DiffAugment policy ('' = off)
    r1: float = 0.0  # R1 gradient penalty weight on real images (0 = off)
    r1_every: int = 16  # lazy R1: apply every N steps
    vae_kl: float = 0.01  # VAE/GAN: KL weight
    vae_gamma: float = 1.0  # VAE/GAN: weight of the reconstruction term in G's loss
    enc_feature: float = 1.0  # encoder image loss: weight of D-feature loss
    enc_prior: float = 1.0  # encoder: keep codes of real faces centred with the prior's spread
    # bfloat16 autocast (loss in float32) where the hardware has it (`bf16_is_fast`: AVX-512/AMX
    # CPUs, GPUs), float32 elsewhere. Idle, on the 2-core AVX-512 dev CPU, the DCGAN step runs at
    # 1.66x float32's images/s (229 against 138; benchmarks/train_throughput.py); on an AVX2-only
    # CPU bfloat16 would be 4-35x slower, so there it stays off. Under heavy load two bf16 threads
    # were measured slower than float32 (thread stalls): --no-bf16 or --threads 1 then.
    bf16: bool = True
    channels_last: bool = True
    seed: int = 0
    holdout: int = 500  # last N images never trained on (GAN, encoder, classifier)
    atlas_size: int = 3_000
    sample_every: int = 250
    snapshot_every: int = 500
    log_every: int = 25
    threads: int = 0  # torch CPU threads (0 = torch default)
    init_from: str = ""  # run folder whose weights a new run starts from (trainer.warm)
    mapping_layers: int = 4  # style: depth of the mapping network z -> w
    style_mix: float = 0.9  # style: share of faces drawn with two latents' styles (mixing)
    judge: bool = False  # train the independent judge classifier beside the classifier
    gan_minutes: float = 0.0  # > 0: the GAN phase ends after this much training time
    # Conditional models: weight of an auxiliary term in G's loss (AC-GAN, Odena et al. 2017)
    # asking the run's own attribute classifier, frozen and trained on real photos only, to see
    # y's attributes in G's faces. Needs a trained C (a warm start or a resumed finished run);
    # the independent judge that grades the edits is never used.
    cond_aux: float = 0.0
    # Conditional models: share of faces (real and fake) whose whole condition is dropped to 0,
    # and, of the rest, share of single attributes dropped to 0. y = 0 then means "unspecified"
    # (D judges those faces unconditionally), so the app's neutral y draws real faces, not a
    # blend of the two sides of every attribute.
    cond_dropout: float = 0.0
    # Conditional models: share of fake faces whose condition (a real face's labels) has one
    # attribute, chosen at random, flipped to the other side: the edits the sliders make, and
    # more of the rare sides (glasses, moustaches) for G to learn.
    cond_flip: float = 0.0
    # Conditional models, GAN phase: real faces and fake conditions are drawn with each label
    # row weighed by the count of its combination of conditioned attributes to the power
    # -cond_balance (0: as the data has them; 1: every combination alike), so that rare ones
    # (68 blond men among 8,500 CelebA faces) are shown to D and asked of G more often.
    cond_balance: float = 0.0
    # Conditional models: weight of a term that asks an edit to change only what it edits. Half
    # of each batch repeats the other half's latents with one conditioned attribute moved to its
    # other side, and the run's own classifier (frozen, real photos only; never the judge) is
    # asked to see every other attribute of the pair alike. Needs a trained C, as `cond_aux`.
    cond_keep: float = 0.0
    # `cond_keep`: attributes whose labels correlate with the moved one at least this much (|r|
    # on the training labels: Male with Wearing_Lipstick, Smiling with High_Cheekbones) are left
    # free to change with it; 1 keeps every other attribute.
    cond_keep_free: float = 1.0
    # GAN steps at the start of the GAN phase in which only D learns: a warm start from a model
    # file, which carries no D, lets a fresh D learn the parent's G before G moves.
    g_hold: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "rmsprop"):
            raise ValueError("optimizer must be adam or rmsprop")
        if self.loss not in ("hinge", "bce"):
            raise ValueError("loss must be hinge or bce")
        if self.batch < 2:
            raise ValueError("batch must be at least 2")
        # Fractions: (name, upper bound, whether the bound itself is allowed); all start at 0.
        for name, hi, closed in (("ema", 1, False), ("style_mix", 1, True),
                                 ("cond_keep_free", 1, True),
                                 ("cond_dropout", 1, False), ("cond_flip", 1, True),
                                 ("cond_balance", 1, True),
                                 ("balance_margin", 0.5, False)):
            v = getattr(self, name)
            if not (0 <= v <= hi if closed else 0 <= v < hi):
                raise ValueError(f"{name} must be in [0, {hi}{']' if closed else ')'}")
        for name in ("steps", "encoder_steps", "classifier_steps", "holdout", "atlas_size",
                     "threads", "gan_minutes", "cond_aux", "cond_keep", "g_hold"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("sample_every", "snapshot_every", "log_every", "r1_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more, got {getattr(self, name)}")
        self.model_config()  # validates kind, resolution and widths

    def model_config(self, n_classes: int = 0) -> ModelConfig:
        return ModelConfig(
            kind=self.kind,
            resolution=self.res,
            nz=self.nz,
            ngf=self.ngf,
            ndf=self.ndf,
            nef=self.nef,
            cond_attributes=(tuple(self.cond_attributes) if self.kind in CONDITIONAL_KINDS
                             else ()),
            n_classes=n_classes,
            mapping_layers=self.mapping_layers,
        )

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["cond_attributes"] = list(self.cond_attributes)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        d["cond_attributes"] = tuple(d.get("cond_attributes", ()))
        return cls(**d)

    def with_(self, **kw: Any) -> TrainConfig:
        return replace(self, **kw)


# The style64 recipe, shared by its conditional presets.
_STYLE64: dict[str, Any] = dict(
    kind="style", res=64, nz=256, ngf=64, ndf=64, nef=64, batch=64, steps=20_000,
    encoder_steps=3_000, classifier_steps=2_000, loss="hinge",
    # lr_d 1.2e-3: the A/B from the long run's 9,500-step snapshot (docs/training/README.md)
    # reached a lower FD in 1,000 fewer steps than 4e-4.
    augment="color,translation,cutout", ema=0.999, lr_g=2e-3, lr_d=1.2e-3, lr_e=2e-4,
    beta1=0.0, mapping_layers=4, style_mix=0.9, judge=True, holdout=500,
)

# Presets: named starting points; CLI flags override their fields.
PRESETS: dict[str, dict[str, Any]] = {
    # Recognisable faces on celeba-9k on a 2-core CPU in about two hours.
    "celeba64": dict(
        res=64, nz=128, ngf=64, ndf=64, nef=64, batch=64, steps=3_500, encoder_steps=1_200,
        classifier_steps=1_000, loss="hinge", augment="translation", ema=0.999,
        lr_g=2e-4, lr_d=2e-4, holdout=500,
    ),
    # The conditional variant on the attributes users reach for first.
    "celeba64-cgan": dict(
        kind="cgan", res=64, nz=128, ngf=64, ndf=64, nef=64, batch=64, steps=9_000,
        encoder_steps=2_000, classifier_steps=0, loss="hinge", augment="color,translation",
        cond_attributes=(
            "Smiling", "Male", "Young", "Eyeglasses", "Blond_Hair", "Black_Hair", "Mustache",
        ),
    ),
    # The style-based G (facegan.style): W space for editing, DiffAugment with cutout, the
    # equalised learning rate (hence lr_g 10x the DCGAN's), TTUR for the spectral-norm D, and the
    # independent judge. Calibrated against celeba64 in docs/training/README.md.
    "style64": dict(_STYLE64),
    # The conditional style G: style64 conditioned on the cgan's attributes (y enters W as a
    # zero-initialised offset, `facegan.style`), meant to start from an unconditional style run
    # (--init-from runs/style64), which it then draws exactly at every y until it learns y.
    "style64-cond": dict(
        **_STYLE64,
        cond_attributes=(
            "Smiling", "Male", "Young", "Eyeglasses", "Blond_Hair", "Black_Hair", "Mustache",
        ),
    ),
    # The conditional style G on all 40 CelebA attributes: a y edit then holds the other 39 by
    # their own y instead of leaving them to W, where they ride along with the edited one
    # (Male with Wearing_Lipstick, Eyeglasses with Young). Meant to start from the bundled
    # seven-attribute file (--init-from FILE --g-hold N: the file has no D), whose condition
    # offset it widens by attribute.
    "style64-cond40": dict(
        **_STYLE64,
        cond_attributes=(
            "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald",
            "Bangs", "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
            "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
            "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
            "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose",
            "Receding_Hairline", "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair",
            "Wavy_Hair", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick",
            "Wearing_Necklace", "Wearing_Necktie", "Young",
        ),
    ),
    # Seconds, for tests and smoke runs.
    "tiny": dict(
        res=16, nz=8, ngf=8, ndf=8, nef=8, batch=8, steps=4, encoder_steps=2,
        classifier_steps=2, sample_every=2, snapshot_every=2, log_every=1, holdout=0,
        atlas_size=16, bf16=False,
    ),
}


def preset(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose from {sorted(PRESETS)}")
    return dict(PRESETS[name])


__all__ = ["TrainConfig", "PRESETS", "preset", "field"]
