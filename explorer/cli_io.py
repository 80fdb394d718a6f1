"""What the headless subcommands share: reading seeds, settings, latents and photos; writing PNGs.

Errors a user can cause raise CliError, which `explorer.cli` prints as one line (exit code 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from explorer.core.bundle import Bundle
    from explorer.core.scene import EditedFace


class CliError(Exception):
    """A user error: printed as one line, exit code 2."""


# Parsing helpers.


def parse_seeds(text: str) -> list[int]:
    """'1,4,10-13' -> [1, 4, 10, 11, 12, 13]."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part[1:]:
                a, b = part.split("-", 1)
                lo, hi = int(a), int(b)
                if hi < lo or hi - lo > 10_000:
                    raise ValueError
                seeds.extend(range(lo, hi + 1))
            elif part:
                seeds.append(int(part))
        except ValueError:
            raise CliError(f"bad seed list {text!r}; write e.g. 1,4,10-13") from None
    if not seeds or min(seeds) < 0:
        raise CliError(f"bad seed list {text!r}; seeds are integers >= 0")
    return seeds


def parse_setting(text: str) -> tuple[str, float]:
    """'Smiling=+1.5' -> ('Smiling', 1.5)."""
    name, sep, value = text.partition("=")
    try:
        if not sep or not name:
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise CliError(f"bad --set {text!r}; write NAME=VALUE, e.g. Smiling=+1.5") from None


def open_bundle(args: argparse.Namespace) -> Bundle:
    import torch

    from explorer.core.bundle import load_bundle

    torch.set_num_threads(max(1, args.threads))
    return load_bundle(args.model)


def read_latent(bundle: Bundle, source: str, args: argparse.Namespace) -> np.ndarray:
    """A latent (nz,) from a seed ('42'), a .npy latent file or a photo path."""
    return read_face(bundle, source, args, detail=False).z


def read_face(bundle: Bundle, source: str, args: argparse.Namespace,
              detail: bool) -> EditedFace:
    """The face a SOURCE names: a seed, a .npy latent (a photo when `encode` saved its detail
    beside it) or a photo, encoded. With `detail`, a photo brings its detail (fitted by its
    encoding, or saved beside the .npy); without, it is still a photo (drawn at psi 1)."""
    import numpy as np

    from explorer.core.scene import EditedFace

    if source.isdigit():
        z = bundle.seed_latents([int(source)], getattr(args, "psi", 1.0))[0]
        y = bundle.seed_conditions([int(source)])
        return EditedFace(z, label=f"seed {source}", y=None if y is None else y[0])
    p = Path(source)
    if p.suffix.lower() == ".npy":
        try:
            z = np.load(p, allow_pickle=False).astype(np.float32).reshape(-1)
        except (OSError, ValueError) as e:
            raise CliError(f"cannot read latent file {p}: {e}") from None
        if z.shape != (bundle.nz,):
            raise CliError(f"{p.name} holds {z.size} values; this model's latents have {bundle.nz}")
        photo = _detail_path(p).exists()
        return EditedFace(z, saved_detail(bundle, p) if detail else None, p.name, photo,
                          y=saved_condition(bundle, p))
    from explorer.core.encoding import encode_photo

    whole = getattr(args, "whole_image", False)
    r = encode_photo(bundle, p, budget_s=args.budget, whole_image=whole, detail=detail)
    return EditedFace(r.z, r.detail, p.name, photo=True, y=r.y)


def _detail_path(latent: Path) -> Path:
    return latent.with_name(f"{latent.stem}_detail.npy")


def condition_path(latent: Path | str) -> Path:
    """Where a conditional model's condition is saved beside a latent file: NAME_y.npy."""
    latent = Path(latent)
    return latent.with_name(f"{latent.stem}_y.npy")


def saved_condition(bundle: Bundle, latent: Path) -> np.ndarray | None:
    """The condition saved beside a latent file (NAME_y.npy) on a conditional model, or None
    (the face is drawn neutral)."""
    import numpy as np

    p = condition_path(latent)
    if not bundle.n_cond or not p.exists():
        return None
    try:
        y = np.load(p, allow_pickle=False).astype(np.float32).reshape(-1)
    except (OSError, ValueError) as e:
        raise CliError(f"cannot read condition {p}: {e}") from None
    if y.shape != (bundle.n_cond,):
        raise CliError(f"{p.name} holds {y.size} values; this model's condition has "
                       f"{bundle.n_cond}")
    if not np.isfinite(y).all():
        raise CliError(f"{p.name} holds values that are not finite numbers")
    return y


def saved_detail(bundle: Bundle, latent: Path) -> np.ndarray | None:
    """The photo detail `encode` saved beside a latent file (NAME_detail.npy), if there is one."""
    import numpy as np

    p = _detail_path(latent)
    if not p.exists():
        return None
    try:
        d = np.load(p, allow_pickle=False).astype(np.float32)
    except (OSError, ValueError) as e:
        raise CliError(f"cannot read photo detail {p}: {e}") from None
    fitted = bundle.fitting_detail(d)
    if fitted is None:
        raise CliError(f"{p.name} has shape {d.shape}; this model's photo detail has "
                       f"{tuple(bundle.detail_shape)} (use --no-detail to leave it out)")
    return fitted


PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif")


def photo_paths(items: list[str]) -> list[Path]:
    """Photos named, with each folder replaced by the photos in it (sorted by name)."""
    out: list[Path] = []
    for it in items:
        p = Path(it)
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix.lower() in PHOTO_SUFFIXES
                           and not f.name.startswith("."))
            if not found:
                raise CliError(f"the folder {p} holds no photos ({', '.join(PHOTO_SUFFIXES)})")
            out += found
        else:
            out.append(p)
    return out


def is_photo_source(source: str) -> bool:
    """A SOURCE that is neither a seed nor a .npy latent."""
    return not (source.isdigit() or source.lower().endswith(".npy"))


def batch_errors() -> tuple[type[BaseException], ...]:
    """What one bad photo in a batch may raise: reported, and the batch goes on."""
    from explorer.core.bundle import BundleError
    from explorer.core.photos import PhotoError

    return (CliError, PhotoError, BundleError, ValueError, OSError)


def saved_tuned(bundle: Bundle, latent: Path) -> Any:
    """The pivotal-tuned weights `encode --tune` saved beside a latent (NAME_tuned.safetensors),
    or None."""
    from explorer.core.pivotal import TunedWeights, TunedWeightsError

    p = latent.with_name(f"{latent.stem}_tuned.safetensors")
    if not p.exists():
        return None
    try:
        return TunedWeights.from_bytes(bundle.network("G"), p.read_bytes())
    except (OSError, TunedWeightsError) as e:
        raise CliError(f"{p.name}: {e}") from None


def resize_faces(images: np.ndarray, size: int | None) -> list[Any]:
    from PIL import Image

    out = []
    for im in images:
        pil = Image.fromarray(im)
        if size and size != pil.width:
            pil = pil.resize((size, size), Image.Resampling.LANCZOS)
        out.append(pil)
    return out


IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}


def image_format(path: Path) -> str:
    """The Pillow format for an output image's suffix; CliError for one we do not write."""
    fmt = IMAGE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CliError(f"cannot write {path.suffix or 'a file without a suffix'!r} images; "
                       f"name the output {', '.join(IMAGE_FORMATS)}")
    return fmt


def save_grid(images: np.ndarray, path: Path, cols: int, size: int | None) -> None:
    """Save (n, h, w, 3) uint8 images as one image grid in the format its suffix names (PNG,
    JPEG, WebP), atomically (`facegan.files.atomic_write`)."""
    import numpy as np
    from PIL import Image

    from facegan.files import atomic_write
    from facegan.images import image_grid

    fmt = image_format(path)
    tiles = np.stack([np.asarray(t) for t in resize_faces(images, size)])
    cols = max(1, min(cols, len(tiles)))
    grid = Image.fromarray(image_grid(tiles, cols, pad=0, border=False))
    check_out(path)
    atomic_write(path, lambda tmp: grid.save(
        tmp, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {})), durable=False)


def check_out(path: Path) -> None:
    if not path.parent.exists():
        raise CliError(f"the folder {path.parent} does not exist")
