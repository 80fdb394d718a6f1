"""Face data sets: CelebA's own layout, UTKFace file-name labels, or any folder of images.

Every image is decoded once, centre-cropped to a square and resized to the model's resolution, and
kept in a memory-mapped uint8 cache (N, res, res, 3), so epochs never decode a JPEG again.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

import facegan.images
from facegan.files import cache_dir

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
UTK_RE = re.compile(r"^(\d+)_([01])_(\d)_.*\.jpg", re.IGNORECASE)
UTK_ATTRIBUTES = ["Male", "Young"]
YOUNG_MAX_AGE = 35
MAX_PIXELS = 40_000_000  # decompression-bomb limit for training images


class DataError(ValueError):
    """A data set that cannot be read, with a message that says what to fix."""


@dataclass
class FaceDataset:
    """Decoded faces and their labels.

    images : (n, res, res, 3) uint8, usually a read-only memmap.
    labels : (n, n_attr) int8 in {-1, +1}, or None when the data set has no labels.
    """

    images: np.ndarray
    labels: np.ndarray | None
    attribute_names: list[str]
    ids: list[str]
    source: str
    layout: str
    skipped: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: np.ndarray | slice) -> FaceDataset:
        ids = np.asarray(self.ids)[index].tolist()
        labels = None if self.labels is None else self.labels[index]
        return FaceDataset(
            self.images[index], labels, self.attribute_names, ids, self.source, self.layout
        )

    def split_holdout(self, holdout: int) -> tuple[FaceDataset, FaceDataset]:
        """(train, held-out): the last `holdout` images are never trained on."""
        if holdout < 0 or holdout >= len(self):
            raise DataError(f"cannot hold out {holdout} of {len(self)} images")
        n = len(self) - holdout
        return self.subset(slice(0, n)), self.subset(slice(n, len(self)))

    def label_columns(self, names: list[str]) -> np.ndarray:
        """Labels for the named attributes, (n, len(names)) float32 in {-1, +1}."""
        if self.labels is None:
            raise DataError(f"{self.source} has no attribute labels")
        missing = [a for a in names if a not in self.attribute_names]
        if missing:
            raise DataError(
                f"unknown attributes {missing}; the data set has {self.attribute_names}"
            )
        idx = [self.attribute_names.index(a) for a in names]
        return self.labels[:, idx].astype(np.float32)


# Layouts.


def _read_celeba(root: Path) -> tuple[list[Path], np.ndarray, list[str]]:
    attr_file = root / "list_attr_celeba.txt"
    img_dir = root / "img_align_celeba"
    if not img_dir.is_dir():
        raise DataError(f"{root}: has list_attr_celeba.txt but no img_align_celeba/ folder")
    lines = attr_file.read_text().splitlines()
    if len(lines) < 2:
        raise DataError(
            f"{attr_file}: too short; expected a count, a header and one line per image"
        )
    names = lines[1].split()
    files, rows = [], []
    for ln, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(names) + 1:
            raise DataError(f"{attr_file}:{ln}: expected {len(names)} labels, got {len(parts) - 1}")
        files.append(img_dir / parts[0])
        rows.append([1 if v == "1" else -1 for v in parts[1:]])
    missing = [f.name for f in files if not f.exists()]
    if missing:
        raise DataError(
            f"{attr_file} names {len(missing)} images that are not in {img_dir} "
            f"(first: {missing[:3]}); the label file and the folder do not match"
        )
    return files, np.asarray(rows, dtype=np.int8).reshape(len(files), len(names)), names


def _read_utkface(files: list[Path]) -> tuple[list[Path], np.ndarray, list[str]]:
    rows = []
    for f in files:
        m = UTK_RE.match(f.name)
        assert m is not None
        age, gender = int(m.group(1)), int(m.group(2))
        rows.append([1 if gender == 0 else -1, 1 if age <= YOUNG_MAX_AGE else -1])
    return files, np.asarray(rows, dtype=np.int8), list(UTK_ATTRIBUTES)


def _read_csv_labels(csv_path: Path, files: list[Path]) -> tuple[np.ndarray, list[str]]:
    with open(csv_path, newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or len(header) < 2:
            raise DataError(f"{csv_path}: expected a header 'file,Attr1,Attr2,...'")
        table = {row[0]: row[1:] for row in reader if row}
    names = header[1:]
    rows = []
    unmatched = [f.name for f in files if f.name not in table]
    if unmatched:
        raise DataError(
            f"{csv_path}: no labels for {len(unmatched)} images (first: {unmatched[:3]}); "
            "every image in the folder needs a row"
        )
    for f in files:
        vals = table[f.name]
        rows.append([1 if v.strip() in ("1", "+1", "true", "True") else -1 for v in vals])
    return np.asarray(rows, dtype=np.int8), names


def _list_images(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def discover(root: str | os.PathLike[str]) -> tuple[str, list[Path], np.ndarray | None, list[str]]:
    """Find the layout of a data folder: (layout, files, labels, attribute_names)."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"no such data folder: {root}")
    if not root.is_dir():
        raise DataError(f"{root} is not a folder")
    if (root / "list_attr_celeba.txt").exists():
        files, labels, names = _read_celeba(root)
        layout = "celeba"
    else:
        files = _list_images(root)
        if not files:
            raise DataError(f"{root}: no images found (looked for {sorted(IMAGE_EXTS)})")
        if (root / "img_align_celeba").is_dir():
            raise DataError(f"{root}: CelebA images without list_attr_celeba.txt beside them")
        if all(UTK_RE.match(f.name) for f in files):
            files, labels, names = _read_utkface(files)
            layout = "utkface"
        elif (root / "attributes.csv").exists():
            labels, names = _read_csv_labels(root / "attributes.csv", files)
            layout = "folder+csv"
        else:
            labels, names, layout = None, [], "folder"
    if not files:
        raise DataError(f"{root}: the data set is empty")
    return layout, files, labels, names


# Decoding.


def centre_square(img: Image.Image, res: int) -> np.ndarray:
    """CelebA's usual crop: the centred square of the short side, resized to res x res."""
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    img = img.crop((left, top, left + s, top + s))
    return np.asarray(img.resize((res, res), Image.Resampling.LANCZOS, reducing_gap=2.0))


def decode_one(path: Path, res: int) -> np.ndarray | None:
    """Decode one training image, or None if it is unreadable (the caller counts it)."""
    # No global PIL state is touched here: this runs in worker threads.
    try:
        with Image.open(path) as img:  # reads the header only
            if img.width * img.height > MAX_PIXELS:
                return None
            img.seek(0)
            img.load()
            return centre_square(facegan.images.to_rgb(img), res)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def _save_npy(path: str, arr: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, arr)


def default_cache_dir() -> Path:
    return cache_dir()


def _cache_key(files: list[Path], res: int) -> str:
    h = hashlib.sha1(f"v1|{res}".encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{int(st.st_mtime)}\n".encode())
    return h.hexdigest()[:16]


def load_dataset(
    root: str | os.PathLike[str],
    res: int,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    workers: int = 2,
) -> FaceDataset:
    """Read, decode (once; cached) and label a data folder.

    Unreadable images are skipped and counted in one warning.
    """
    layout, files, labels, names = discover(root)
    if limit is not None:
        files = files[:limit]
        labels = None if labels is None else labels[:limit]
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    key = _cache_key(files, res)
    img_path, ok_path = cache / f"{key}.images.npy", cache / f"{key}.ok.npy"
    if img_path.exists() and ok_path.exists():
        ok = np.load(ok_path)
        images = np.load(img_path, mmap_mode="r")
    else:
        # Huge images are counted as skipped; PIL's own warning about them would be noise.
        with warnings.catch_warnings(), ThreadPoolExecutor(max(1, workers)) as pool:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            decoded = list(pool.map(lambda f: decode_one(f, res), files))
        ok = np.array([d is not None for d in decoded], dtype=bool)
        if not ok.any():
            raise DataError(f"{root}: none of the {len(files)} images could be decoded")
        arr = np.stack([d for d in decoded if d is not None]).astype(np.uint8)
        from facegan.checkpoint import atomic_write

        atomic_write(img_path, lambda tmp: _save_npy(tmp, arr))
        atomic_write(ok_path, lambda tmp: _save_npy(tmp, ok))
        images = np.load(img_path, mmap_mode="r")
    skipped = [f.name for f, good in zip(files, ok, strict=True) if not good]
    if skipped:
        warnings.warn(
            f"{len(skipped)} of {len(files)} images could not be read and were skipped "
            f"(first: {skipped[:3]})",
            stacklevel=2,
        )
    kept = [f for f, good in zip(files, ok, strict=True) if good]
    return FaceDataset(
        images=images,
        labels=None if labels is None else labels[ok],
        attribute_names=names,
        ids=[f.name for f in kept],
        source=str(Path(root)),
        layout=layout,
        skipped=skipped,
    )


def fake_dataset(
    n: int = 64, res: int = 16, n_attr: int = 4, seed: int = 0, names: list[str] | None = None
) -> FaceDataset:
    """Synthetic 'faces' (a bright blob on a dark ground) with random labels, for smoke runs.

    Attribute 0 shifts the blob's colour, so a conditional model has something to learn.
    """
    if names is not None:
        n_attr = len(names)
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random((n, n_attr)) < 0.5, 1, -1).astype(np.int8)
    yy, xx = np.mgrid[0:res, 0:res] / max(res - 1, 1)
    images = np.zeros((n, res, res, 3), np.uint8)
    for i in range(n):
        cy, cx = 0.5 + 0.1 * rng.standard_normal(2)
        blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.05)
        colour = np.array([220, 160, 120]) if labels[i, 0] > 0 else np.array([120, 160, 220])
        images[i] = np.clip(blob[..., None] * colour + 20 * rng.random((res, res, 3)), 0, 255)
    names = list(names) if names is not None else [f"Attr{k}" for k in range(n_attr)]
    return FaceDataset(images, labels, names, [f"{i:06d}.png" for i in range(n)], "fake", "fake")
