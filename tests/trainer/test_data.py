"""Data readers: CelebA layout on real data, broken and odd files, UTKFace, folders, cache."""

from __future__ import annotations

import shutil
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from testdata import CELEBA, UTKFACE, needs

import trainer.data as data_mod
from trainer.data import DataError, fake_dataset, load_dataset

ATTR_FILE = CELEBA / "list_attr_celeba.txt"


def _celeba_rows(n: int) -> tuple[list[str], list[str], np.ndarray]:
    """(names, ids, labels) of the first n rows, parsed here independently of the reader."""
    lines = ATTR_FILE.read_text().splitlines()
    names = lines[1].split()
    ids, rows = [], []
    for line in lines[2 : 2 + n]:
        parts = line.split()
        ids.append(parts[0])
        rows.append([int(v) for v in parts[1:]])
    return names, ids, np.array(rows, dtype=np.int8)


def _skip_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if "could not be read" in str(w.message)]


@needs(CELEBA)
def test_celeba_slice(tmp_path: Path) -> None:
    ds = load_dataset(CELEBA, 32, cache_dir=tmp_path, limit=40)
    names, ids, labels = _celeba_rows(40)
    assert ds.layout == "celeba"
    assert len(ds) == 40 and ds.images.shape == (40, 32, 32, 3) and ds.images.dtype == np.uint8
    assert len(ds.attribute_names) == 40 and ds.attribute_names == names
    assert "Smiling" in ds.attribute_names and "Eyeglasses" in ds.attribute_names
    assert ds.ids == ids
    assert ds.labels is not None and np.array_equal(ds.labels, labels)
    assert not ds.skipped
    # The usual CelebA crop: the centred square (box (0, 10, 89, 99) of the 89x109 images).
    with Image.open(CELEBA / "img_align_celeba" / ids[3]) as im:
        w, h = im.size
        s = min(w, h)
        box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
        want = np.asarray(im.convert("RGB").crop(box).resize((32, 32), Image.Resampling.BICUBIC))
    diff = np.abs(ds.images[3].astype(np.float32) - want.astype(np.float32)).mean()
    assert diff < 6, diff
    # Faces, not blank frames: every image has real contrast.
    assert (ds.images.reshape(40, -1).std(1) > 20).all()


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A PNG whose header claims w x h pixels (a decompression bomb, cheaply)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat)
                     + chunk(b"IEND", b""))


def _odd_celeba(root: Path) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """A CelebA-layout folder from real images plus broken files.

    Returns (kept ids in order, skipped ids, label row per id).
    """
    names, ids, labels = _celeba_rows(12)
    img_dir = root / "img_align_celeba"
    img_dir.mkdir(parents=True)
    src = [CELEBA / "img_align_celeba" / i for i in ids]
    rgb = [Image.open(p).convert("RGB") for p in src]
    files: list[str] = []
    good: list[str] = []
    bad: list[str] = []

    def add(name: str, ok: bool) -> None:
        files.append(name)
        (good if ok else bad).append(name)

    for k in range(3):  # plain good JPEGs
        shutil.copy(src[k], img_dir / ids[k])
        add(ids[k], True)
    raw = src[3].read_bytes()
    (img_dir / "t_truncated.jpg").write_bytes(raw[: len(raw) // 2])
    add("t_truncated.jpg", False)
    rgb[4].convert("L").save(img_dir / "t_gray.jpg")
    add("t_gray.jpg", True)
    rgb[5].convert("CMYK").save(img_dir / "t_cmyk.jpg")
    add("t_cmyk.jpg", True)
    a16 = (np.asarray(rgb[6].convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray(a16).save(img_dir / "t_16bit.png")
    assert Image.open(img_dir / "t_16bit.png").mode.startswith("I")
    pal = rgb[7].convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(img_dir / "t_palette.png", transparency=0)
    add("t_16bit.png", True)
    add("t_palette.png", True)
    _png_header_only(img_dir / "t_bomb.png", 40_000, 40_000)
    add("t_bomb.png", False)
    rgb[8].resize((400, 300)).save(img_dir / "t_big.png")  # over the lowered pixel limit
    add("t_big.png", False)
    (img_dir / "t_text.jpg").write_text("this is not an image\n" * 20)
    add("t_text.jpg", False)
    rgba = rgb[9].convert("RGBA")
    rgba.putalpha(128)
    rgba.save(img_dir / "t_rgba.png")
    add("t_rgba.png", True)
    # Label rows: reuse real rows for every file.
    rows = {f: labels[i % len(labels)] for i, f in enumerate(files)}
    lines = [str(len(files)), " ".join(names)]
    lines += [f + " " + " ".join(f"{v:2d}" for v in rows[f]) for f in files]
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return good, bad, rows


@needs(CELEBA)
def test_odd_and_broken_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "odd"
    good, bad, rows = _odd_celeba(root)
    monkeypatch.setattr(data_mod, "MAX_PIXELS", 250 * 250)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = load_dataset(root, 16, cache_dir=tmp_path / "cache")
    msgs = _skip_warnings(rec)
    assert len(msgs) == 1, msgs  # one warning for all of them
    assert f"{len(bad)} of {len(good) + len(bad)} images" in msgs[0]
    assert not [w for w in rec if issubclass(w.category, Image.DecompressionBombWarning)]
    assert sorted(ds.skipped) == sorted(bad)
    assert ds.ids == good
    assert ds.images.shape == (len(good), 16, 16, 3) and ds.images.dtype == np.uint8
    assert ds.labels is not None
    assert np.array_equal(ds.labels, np.stack([rows[f] for f in good]))
    img = {f: ds.images[i].astype(int) for i, f in enumerate(good)}
    gray = img["t_gray.jpg"]
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    g16 = img["t_16bit.png"]  # 16-bit scaled to 8 bits, not clipped to white
    assert 40 < g16.mean() < 215 and g16.std() > 10
    assert abs(img["t_cmyk.jpg"].mean() - img[good[0]].mean()) < 80  # a face, not noise
    for f in ("t_palette.png", "t_rgba.png"):
        assert img[f].std() > 10
    # Transparent palette entry 0 became white, not black.
    pal = Image.open(root / "img_align_celeba" / "t_palette.png")
    if (np.asarray(pal) == 0).mean() > 0.05:
        assert img["t_palette.png"].max() == 255


def test_label_and_layout_errors(tmp_path: Path) -> None:
    some = Image.new("RGB", (30, 40), (200, 120, 90))
    # CelebA images without the label file.
    a = tmp_path / "nolabels" / "img_align_celeba"
    a.mkdir(parents=True)
    some.save(a / "000001.jpg")
    with pytest.raises(DataError, match="without list_attr_celeba.txt"):
        load_dataset(a.parent, 16, cache_dir=tmp_path / "c")
    # Label file naming images that are not there.
    b = tmp_path / "mismatch"
    (b / "img_align_celeba").mkdir(parents=True)
    some.save(b / "img_align_celeba" / "000001.jpg")
    (b / "list_attr_celeba.txt").write_text("2\nSmiling Male\n000001.jpg 1 -1\n000777.jpg -1 1\n")
    with pytest.raises(DataError, match=r"000777\.jpg.*do not match"):
        load_dataset(b, 16, cache_dir=tmp_path / "c")
    # Label file with the wrong number of columns: says which line.
    (b / "list_attr_celeba.txt").write_text("1\nSmiling Male\n000001.jpg 1\n")
    with pytest.raises(DataError, match=r"list_attr_celeba.txt:3: expected 2 labels"):
        load_dataset(b, 16, cache_dir=tmp_path / "c")
    # Label file without the img_align_celeba folder.
    c = tmp_path / "nofolder"
    c.mkdir()
    (c / "list_attr_celeba.txt").write_text("0\nSmiling\n")
    with pytest.raises(DataError, match="no img_align_celeba"):
        load_dataset(c, 16, cache_dir=tmp_path / "c")
    # Empty folder, and a folder with only non-images.
    e = tmp_path / "empty"
    e.mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_dataset(e, 16, cache_dir=tmp_path / "c")
    (e / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match="no images found"):
        load_dataset(e, 16, cache_dir=tmp_path / "c")
    # Only unreadable images.
    (e / "x.jpg").write_text("not a jpeg")
    with pytest.raises(DataError, match="none of the 1 images could be decoded"):
        load_dataset(e, 16, cache_dir=tmp_path / "c")
    with pytest.raises(DataError, match="no such data folder"):
        load_dataset(tmp_path / "nowhere", 16, cache_dir=tmp_path / "c")


@needs(UTKFACE)
def test_utkface_labels_from_file_names(tmp_path: Path) -> None:
    ds = load_dataset(UTKFACE, 16, cache_dir=tmp_path, limit=30)
    assert ds.layout == "utkface" and ds.attribute_names == ["Male", "Young"]
    assert len(ds) == 30 and ds.labels is not None
    for name, (male, young) in zip(ds.ids, ds.labels, strict=True):
        age, gender = (int(v) for v in name.split("_")[:2])
        assert male == (1 if gender == 0 else -1), name
        assert young == (1 if age <= 35 else -1), name
    assert set(np.unique(ds.labels[:, 0])) == {-1, 1}  # both genders in the slice


def _plain_folder(root: Path, n: int = 5) -> list[str]:
    root.mkdir(parents=True)
    names = []
    rng = np.random.default_rng(0)
    for i in range(n):
        name = f"face_{i}.png"
        Image.fromarray(rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(root / name)
        names.append(name)
    return names


def test_plain_folder_with_and_without_csv(tmp_path: Path) -> None:
    names = _plain_folder(tmp_path / "plain")
    ds = load_dataset(tmp_path / "plain", 16, cache_dir=tmp_path / "c")
    assert ds.layout == "folder" and ds.labels is None and ds.ids == names
    with pytest.raises(DataError, match="no attribute labels"):
        ds.label_columns(["Smiling"])
    rows = {"face_0.png": "1,-1", "face_1.png": "-1,1", "face_2.png": "1,1",
            "face_3.png": "-1,-1", "face_4.png": "1,-1"}
    csv = "file,Smiling,Glasses\n" + "".join(f"{k},{v}\n" for k, v in reversed(rows.items()))
    (tmp_path / "plain" / "attributes.csv").write_text(csv)
    ds = load_dataset(tmp_path / "plain", 16, cache_dir=tmp_path / "c")
    assert ds.layout == "folder+csv" and ds.attribute_names == ["Smiling", "Glasses"]
    want = np.array([[int(v) for v in rows[n].split(",")] for n in ds.ids], dtype=np.int8)
    assert ds.labels is not None and np.array_equal(ds.labels, want)
    np.testing.assert_array_equal(ds.label_columns(["Glasses"])[:, 0], want[:, 1])
    with pytest.raises(DataError, match="unknown attributes"):
        ds.label_columns(["Bald"])
    # A CSV that misses an image says which.
    (tmp_path / "plain" / "attributes.csv").write_text("file,Smiling\nface_0.png,1\n")
    with pytest.raises(DataError, match=r"no labels for 4 images.*face_1\.png"):
        load_dataset(tmp_path / "plain", 16, cache_dir=tmp_path / "c")


def test_decode_cache_is_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _plain_folder(tmp_path / "plain", n=6)
    cache = tmp_path / "cache"
    first = load_dataset(tmp_path / "plain", 16, cache_dir=cache)
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2  # images + ok mask
    first_images = np.array(first.images)

    def boom(path: Path, res: int) -> None:
        raise AssertionError(f"decoded {path} again")

    monkeypatch.setattr(data_mod, "decode_one", boom)
    second = load_dataset(tmp_path / "plain", 16, cache_dir=cache)
    assert isinstance(second.images, np.memmap)  # memory-mapped, not read into RAM
    assert np.array_equal(np.asarray(second.images), first_images)
    assert sorted(p.name for p in cache.iterdir()) == files
    # Another resolution, or a changed image, is decoded afresh.
    with pytest.raises(AssertionError, match="decoded"):
        load_dataset(tmp_path / "plain", 32, cache_dir=cache)
    Image.new("RGB", (50, 50), (9, 9, 9)).save(tmp_path / "plain" / "face_2.png")
    with pytest.raises(AssertionError, match="decoded"):
        load_dataset(tmp_path / "plain", 16, cache_dir=cache)


def test_split_holdout_keeps_last_n_out() -> None:
    ds = fake_dataset(n=20, res=16, n_attr=3)
    train, held = ds.split_holdout(5)
    assert len(train) == 15 and len(held) == 5
    assert train.ids == ds.ids[:15] and held.ids == ds.ids[15:]
    assert np.array_equal(held.images, ds.images[15:])
    assert held.labels is not None and np.array_equal(held.labels, ds.labels[15:])
    assert not set(train.ids) & set(held.ids)
    assert len(ds.split_holdout(0)[0]) == 20
    with pytest.raises(DataError, match="cannot hold out"):
        ds.split_holdout(20)
