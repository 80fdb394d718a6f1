"""Photos: any format loads, the face is found and framed, bad photos say what is wrong."""

from __future__ import annotations

import io
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from testdata import CELEBA, UTKFACE, needs

from explorer.core import photos
from explorer.core.photos import PhotoError, crop_face, detect_faces, find_face, load_photo


def _png(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)  # type: ignore[arg-type]
    return buf.getvalue()


def _utk(i: int = 0) -> Path:
    return sorted(UTKFACE.glob("*.jpg"))[i]


@pytest.mark.parametrize(
    "img",
    [
        Image.new("L", (30, 20), 128),
        Image.new("RGBA", (30, 20), (255, 0, 0, 0)),  # transparent -> white background
        Image.new("CMYK", (30, 20), (0, 255, 0, 0)),
        Image.fromarray(np.full((20, 30), 65535, np.uint16)),  # 16-bit grayscale
        Image.new("P", (30, 20), 3),
        Image.new("1", (30, 20), 1),
    ],
    ids=["gray", "rgba", "cmyk", "16bit", "palette", "bilevel"],
)
def test_any_mode_loads_as_rgb(img: Image.Image) -> None:
    a = load_photo(_png(img, format="TIFF" if img.mode == "CMYK" else "PNG"))
    assert a.shape == (20, 30, 3) and a.dtype == np.uint8
    if img.mode == "RGBA":
        assert (a == 255).all()
    if img.mode == "I;16":
        assert (a == 255).all()


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    a = load_photo(_png(img, format="JPEG", exif=exif.tobytes()))
    assert a.shape == (40, 20, 3)


def test_animation_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (16, 16), c) for c in ((255, 0, 0), (0, 0, 255))]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)
    a = load_photo(p)
    assert a[0, 0, 0] > 200 and a[0, 0, 2] < 50


def test_bad_photos_say_what_is_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(PhotoError, match="no such photo") as e:
        load_photo(tmp_path / "missing.jpg")
    assert e.value.kind == "unreadable"
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    with pytest.raises(PhotoError, match="not a readable image"):
        load_photo(tmp_path / "broken.jpg")
    with pytest.raises(PhotoError, match="folder"):
        load_photo(tmp_path)
    monkeypatch.setattr(photos, "MAX_PIXELS", 100)
    with pytest.raises(PhotoError, match="megapixels") as e:
        load_photo(_png(Image.new("RGB", (20, 20))))
    assert e.value.kind == "too_large"


def test_no_face() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    with pytest.raises(PhotoError, match="no face") as e:
        find_face(img, 16)
    assert e.value.kind == "no_face"
    face, box, _ = find_face(img, 16, whole_image=True)  # the caller may use the whole image
    assert face.shape == (16, 16, 3) and box is None


@needs(UTKFACE)
def test_utkface_photo_is_found_and_framed_like_celeba() -> None:
    img = load_photo(_utk())
    face, box, boxes = find_face(img, 64)
    assert face.shape == (64, 64, 3) and box is not None and boxes[0] == box
    # the detected face is roughly central and fills about 1/1.7 of the crop, as in CelebA
    assert 0.3 * img.shape[1] < box.x + box.w / 2 < 0.7 * img.shape[1]
    again, _, _ = find_face(img, 64)
    np.testing.assert_array_equal(face, again)


@needs(UTKFACE)
@needs(CELEBA)
def test_several_and_tiny_faces_let_the_caller_choose() -> None:
    img = load_photo(_utk())
    pair = np.concatenate([img, img[:, ::-1]], axis=1)  # two faces of equal size
    with pytest.raises(PhotoError, match="2 faces") as e:
        find_face(pair, 16)
    assert e.value.kind == "several_faces" and len(e.value.faces) == 2
    face, box, boxes = find_face(pair, 16, choose=1)
    assert box == boxes[1] and face.shape == (16, 16, 3)
    celeb = load_photo(CELEBA / "img_align_celeba" / "000002.jpg")  # a face the cascade sees
    small = np.asarray(Image.fromarray(celeb).resize((44, 54)))  # its face is now ~30 px wide
    canvas = np.full((300, 300, 3), 90, np.uint8)
    canvas[100:154, 100:144] = small
    boxes = detect_faces(canvas)
    assert len(boxes) == 1 and boxes[0].w < photos.MIN_FACE
    with pytest.raises(PhotoError, match="too small") as e:
        find_face(canvas, 16)
    assert e.value.kind == "tiny_face"
    face, box, _ = find_face(canvas, 16, choose=0)  # the caller may still take it
    assert box == boxes[0] and face.shape == (16, 16, 3)


def test_crop_of_whole_image_is_centre_square() -> None:
    img = np.zeros((30, 50, 3), np.uint8)
    img[:, 10:40] = 200
    out = crop_face(img, None, 10)
    assert out.shape == (10, 10, 3) and (out > 190).all()


def _release_after(fifo: Path, seconds: float) -> threading.Timer:
    """If a reader hangs on the FIFO, open and close its writing end after `seconds` (EOF)."""

    def release() -> None:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        except OSError:  # nobody is reading: nothing hangs
            pass

    t = threading.Timer(seconds, release)
    t.start()
    return t


def test_a_fifo_named_like_a_photo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "face.jpg"
    os.mkfifo(fifo)
    watchdog = _release_after(fifo, 5.0)
    t0 = time.perf_counter()
    try:
        with pytest.raises(PhotoError, match="named pipe") as e:
            load_photo(fifo)
    finally:
        watchdog.cancel()
    assert time.perf_counter() - t0 < 2.0 and e.value.kind == "unreadable"


@pytest.mark.parametrize("shape", [(20, 30000, 3), (30000, 20, 3), (1, 1, 3)])
def test_a_strip_photo_gives_one_line_not_an_opencv_assertion(shape: tuple[int, ...]) -> None:
    img = np.full(shape, 128, np.uint8)
    with pytest.raises(PhotoError, match="too small one way") as e:
        find_face(img, 16)
    assert e.value.kind == "no_face" and "\n" not in str(e.value)
    face, _, _ = find_face(img, 16, whole_image=True)  # the whole-image choice still works
    assert face.shape == (16, 16, 3)
