"""`face-train`: train a face GAN from a folder of photos (`face-train evaluate`, which judges a
model file, lives in `evaluation`; the `face-train` script dispatches between the two).

    face-train --data ../shared/data/celeba-9k --preset celeba64 --out runs/celeba64
    face-train --data runs/... --resume --out runs/celeba64        # continue where it stopped
    face-train evaluate checkpoints/celeba64.safetensors --data ../shared/data/celeba-9k
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

EPILOG = """\
examples:
  face-train --data ../shared/data/celeba-9k --preset celeba64 --out runs/celeba64
      the bundled model's recipe: a 64 px DCGAN, then its encoder and attribute classifier
  face-train --data ../shared/data/celeba-9k --kind cgan --cond Smiling,Male --out runs/cgan
      a conditional GAN on two attributes
  face-train --data ../shared/data/celeba-9k --preset style64-cond --init-from runs/style64 \
      --out runs/style64-cond
      the conditional style G, started from the unconditional style run's weights
  face-train --data fake --preset tiny --out /tmp/smoke
      seconds-long smoke run on synthetic data
  face-train --out runs/celeba64 --data ../shared/data/celeba-9k --resume --steps 12000
      continue a stopped run (Ctrl-C saves), optionally with more steps
  face-train evaluate checkpoints/celeba64.safetensors --data ../shared/data/celeba-9k
      the quality report of a model file (see face-train evaluate --help)

The data folder may be CelebA's own layout (img_align_celeba/ + list_attr_celeba.txt), UTKFace
photos (labels in the file names), or any folder of images (optionally with attributes.csv).
A run folder gets model.safetensors (open it in face-explorer), curves, sample grids and
a timelapse.
"""

# (flag, TrainConfig field, type, help)
FLAGS: list[tuple[str, str, Any, str]] = [
    ("--kind", "kind", str,
     "dcgan | cgan (conditioned on --cond) | vaegan (Larsen et al. 2016) | style (mapping "
     "network + w-modulated synthesis, edited in W; conditional with --cond)"),
    ("--res", "res", int, "image size: 32, 64 or 128 (16 for tests)"),
    ("--nz", "nz", int, "latent size"),
    ("--ngf", "ngf", int, "generator base width"),
    ("--ndf", "ndf", int, "discriminator base width"),
    ("--nef", "nef", int, "encoder base width"),
    ("--batch", "batch", int, "images per step"),
    ("--steps", "steps", int, "GAN training steps"),
    ("--encoder-steps", "encoder_steps", int, "steps to train the encoder after the GAN"),
    ("--classifier-steps", "classifier_steps", int, "steps to train the attribute classifier"),
    ("--optimizer", "optimizer", str, "adam | rmsprop"),
    ("--lr-g", "lr_g", float, "generator learning rate"),
    ("--lr-d", "lr_d", float, "discriminator learning rate"),
    ("--lr-e", "lr_e", float, "encoder learning rate"),
    ("--beta1", "beta1", float, "Adam beta1 (0.5 DCGAN; 0.0 with TTUR learning rates)"),
    ("--loss", "loss", str, "hinge | bce (non-saturating)"),
    ("--label-smooth", "label_smooth", float, "bce: real label is 1 - this"),
    ("--label-noise", "label_noise", float, "bce: uniform noise of this size on the labels"),
    ("--balance-margin", "balance_margin", float,
     "skip the update of whichever side wins by this margin (0 = off; Larsen and "
     "Sønderby's 'Generating Faces with Torch' uses 0.3)"),
    ("--d-l2", "d_l2", float, "L2 on D (adapts when --balance-margin is on)"),
    ("--ema", "ema", float, "decay of the generator's moving average (0 = off)"),
    ("--augment", "augment", str, "DiffAugment policy: comma list of color,translation,cutout"),
    ("--r1", "r1", float, "R1 gradient penalty weight (0 = off; costs time)"),
    ("--seed", "seed", int, "random seed"),
    ("--holdout", "holdout", int, "last N images are never trained on (for evaluation)"),
    ("--atlas-size", "atlas_size", int, "encoded faces stored for the scatter plot"),
    ("--sample-every", "sample_every", int, "write a sample grid every N steps"),
    ("--snapshot-every", "snapshot_every", int, "write a resumable snapshot every N steps"),
    ("--log-every", "log_every", int, "log metrics every N steps"),
    ("--threads", "threads", int, "CPU threads for torch (0 = default)"),
    ("--mapping-layers", "mapping_layers", int, "style: depth of the mapping network"),
    ("--style-mix", "style_mix", float, "style: share of faces drawn with mixed styles"),
    ("--gan-minutes", "gan_minutes", float,
     "end the GAN phase after this many minutes of training (0 = run --steps)"),
    ("--cond-aux", "cond_aux", float,
     "conditional: weight of the classifier's term asking G to show y (0 = off)"),
    ("--cond-dropout", "cond_dropout", float,
     "conditional: share of faces whose y is dropped to 0 (unspecified), and of attributes"),
    ("--cond-flip", "cond_flip", float,
     "conditional: share of fake faces with one attribute of y flipped (an edit)"),
    ("--cond-balance", "cond_balance", float,
     "conditional: draw real faces and fake conditions with each combination of conditioned "
     "attributes weighed by its count to this power, negated (0 = as the data has them, "
     "1 = all alike)"),
    ("--cond-keep", "cond_keep", float,
     "conditional: weight of the classifier's term asking an edit to keep the other attributes"),
    ("--cond-keep-free", "cond_keep_free", float,
     "conditional: --cond-keep leaves attributes whose labels correlate this much with the "
     "edited one free (1 = keep all)"),
    ("--init-from", "init_from", str,
     "start a new run from this run folder's weights (e.g. a cGAN from the unconditional run), "
     "or from a model file's (its D starts fresh)"),
    ("--g-hold", "g_hold", int,
     "GAN steps at the start in which only D learns (a fresh D, e.g. --init-from a model file)"),
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="face-train",
        description="Train a face GAN (and its encoder) from a folder of photos.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, metavar="PATH",
                   help="data folder, or 'fake' for synthetic smoke-test data")
    p.add_argument("-o", "--out", required=True, metavar="DIR", help="run folder (e.g. runs/NAME)")
    p.add_argument("--preset", metavar="NAME",
                   help="starting recipe: celeba64, celeba64-cgan, style64, style64-cond, "
                   "style64-cond40 or tiny "
                   "(flags override it)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--cond", metavar="A,B,...",
                   help="attributes for a conditional GAN (a cgan, or a style G with a style "
                   "--kind or preset)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | mps")
    prec = p.add_mutually_exclusive_group()
    prec.add_argument("--bf16", action="store_true",
                      help="bfloat16 autocast where the hardware has it (AVX-512 or AMX CPUs, "
                      "GPUs; the default): ~1.7x the images/s, other numerics; float32 otherwise")
    prec.add_argument("--no-bf16", action="store_true", help="train in float32")
    p.add_argument("--no-channels-last", action="store_true", help="default memory format")
    p.add_argument("--limit", type=int, metavar="N", help="use only the first N images")
    p.add_argument("--cache-dir", metavar="DIR", help="where decoded images are cached")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    for flag, _, typ, help_ in FLAGS:
        p.add_argument(flag, type=typ, default=None, help=help_)
    return p


def pick_device(name: str) -> str:
    import torch

    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def config_from_args(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    from facegan.models import CONDITIONAL_KINDS
    from trainer.config import TrainConfig, preset

    values: dict[str, Any] = preset(args.preset) if args.preset else {}
    explicit = {field: getattr(args, field) for _, field, _, _ in FLAGS
                if getattr(args, field) is not None}
    if args.cond:
        explicit["cond_attributes"] = tuple(a.strip() for a in args.cond.split(",") if a.strip())
        if values.get("kind") not in CONDITIONAL_KINDS:  # a style preset stays a style G
            explicit.setdefault("kind", "cgan")
    if args.no_bf16:
        explicit["bf16"] = False
    if args.bf16:
        explicit["bf16"] = True
    if args.no_channels_last:
        explicit["channels_last"] = False
    values.update(explicit)
    return TrainConfig(**values), explicit


def flag_of(field: str) -> str:
    """The command-line flag that sets a TrainConfig field."""
    special = {"cond_attributes": "--cond", "bf16": "--bf16",
               "channels_last": "--no-channels-last"}
    return special.get(field) or next((f for f, k, _, _ in FLAGS if k == field), field)


def resume_config(stored: Any, explicit: dict[str, Any], preset_name: str | None) -> Any:
    """A resumed run's config: the run's own, with the flags a resume may change.

    A flag that would change the run's shape or data (--res, --nz, --kind, --cond, ...) and
    differs from the stored value is refused; a --preset is ignored with a warning.
    """
    from trainer.config import preset
    from trainer.run import RESUMABLE, RunError

    conflicts = [f"{flag_of(k)} {_show(v)} (the run has {_show(getattr(stored, k))})"
                 for k, v in explicit.items()
                 if k not in RESUMABLE and _norm(v) != _norm(getattr(stored, k))]
    if conflicts:
        raise RunError(f"--resume continues the run with its own config; these flags differ "
                       f"from it: {', '.join(conflicts)}. Drop them, or start a new run (--out)")
    if preset_name:
        differ = [k for k, v in preset(preset_name).items()
                  if k not in explicit and _norm(v) != _norm(getattr(stored, k))]
        if differ:
            print(f"face-train: warning: --preset {preset_name} is ignored on --resume; the run "
                  f"keeps its own {', '.join(differ[:6])}", file=sys.stderr)
    return stored.with_(**{k: v for k, v in explicit.items() if k in RESUMABLE})


def _norm(v: Any) -> Any:
    return tuple(v) if isinstance(v, (list, tuple)) else v


def _show(v: Any) -> str:
    return ",".join(v) if isinstance(v, (list, tuple)) else str(v)


def train_main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    from facegan.checkpoint import ModelFileError
    from trainer.config import TrainConfig
    from trainer.data import DataError, fake_dataset, load_dataset
    from trainer.run import RESUMABLE, Run, RunError, read_run_state
    from trainer.runfolder import RunLock

    try:
        cfg, explicit = config_from_args(args)
    except (ValueError, TypeError) as e:
        msg = str(e)
        field = msg.split(" ", 1)[0]
        if getattr(args, field, None) is not None:  # the flag typed: "--steps must be ..."
            msg = flag_of(field) + msg[len(field):]
        print(f"face-train: {msg}", file=sys.stderr)
        return 2
    device = pick_device(args.device)
    ddp = int(os.environ.get("WORLD_SIZE", "1")) > 1
    import torch.distributed as dist

    if ddp:
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
        if device == "cuda":
            import torch

            local = int(os.environ.get("LOCAL_RANK", "0"))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
    run: Any = None
    lock: RunLock | None = None
    try:
        if not ddp or dist.get_rank() == 0:  # before reading data: a busy folder fails at once
            lock = RunLock(args.out).acquire()
        state = read_run_state(args.out) if args.resume else None
        if state is not None:
            cfg = resume_config(TrainConfig.from_dict(state["train_config"]), explicit,
                                args.preset)
        if args.data == "fake":
            data = fake_dataset(n=max(64, cfg.batch * 4), res=cfg.res)
        else:
            data = load_dataset(args.data, cfg.res, cache_dir=args.cache_dir, limit=args.limit)
        if cfg.model_config().n_cond:
            data.label_columns(list(cfg.cond_attributes))  # fail early on unknown names
        train, _held = data.split_holdout(cfg.holdout) if cfg.holdout else (data, None)
        calib = None
        if cfg.classifier_steps and train.labels is not None and len(train) >= 200:
            n_cal = min(300, len(train) // 10)
            calib = train.subset(slice(len(train) - n_cal, len(train)))
        overrides = {k: v for k, v in explicit.items() if k in RESUMABLE}
        run = Run(args.out, cfg, train, resume=args.resume, overrides=overrides, device=device,
                  command=["face-train", *argv], quiet=args.quiet, calib=calib, lock=lock,
                  state=state)
        del state
        path = run.train()
        if ddp:  # every rank waits for rank 0's final write; one leaving early aborts gloo
            dist.barrier()
    except (DataError, RunError, ModelFileError) as e:
        print(f"face-train: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a full disk, a folder that went away, unreadable data
        where = f" ({e.filename})" if e.filename else ""
        hint = ""
        if os.path.exists(os.path.join(args.out, "model.state.pt")):
            hint = f"; {args.out} keeps its last snapshot: fix this and continue with --resume"
        print(f"face-train: {e.strerror or e}{where}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # 128 + the signal, as shells report it (SIGTERM 143)
        sig = getattr(run, "signal", None) or signal.SIGINT
        return 128 + int(sig)
    finally:
        if lock is not None:
            lock.release()
        if ddp and dist.is_initialized():
            dist.destroy_process_group()
    if run.is_main and not args.quiet:
        print(f"done: open it with  face-explorer --model {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Train (the `face-train` script itself is `evaluation.face_train`, which also evaluates)."""
    return train_main(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
