"""Export a sequence of frames as MP4 (H.264, yuv420p), WebM (VP9) or GIF.

Video goes through PyAV (its wheel carries libx264 and libvpx-vp9); GIF through Pillow with one
palette shared by every frame, each frame quantised at its own size before it is enlarged, repeated
frames merged into one longer frame. Frames are written to a temporary file beside the target and
renamed on success, so a cancelled or failed export never leaves a half-written file behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from facegan.files import atomic_write

FORMATS = {".mp4": "H.264 MP4", ".webm": "VP9 WebM", ".gif": "GIF"}


TRANSPARENT = 255  # the GIF palette index left free for "unchanged since the last frame"


class ExportCancelled(Exception):
    """The export was cancelled; no file was written."""


class ExportError(Exception):
    """The export failed (bad path, bad frames, encoder error); no file was written."""


def _prepare(frame: np.ndarray, size: int | None, even: bool) -> np.ndarray:
    f = np.asarray(frame)
    if f.ndim != 3 or f.shape[2] != 3 or f.dtype != np.uint8:
        raise ExportError(f"frames must be (h, w, 3) uint8 arrays, got {f.dtype} {f.shape}")
    if size is not None and (f.shape[0] != size or f.shape[1] != size):
        # Nearest keeps generated faces crisp when enlarged (64 px -> 512 px).
        resample = Image.Resampling.NEAREST if size >= f.shape[0] else Image.Resampling.LANCZOS
        f = np.asarray(Image.fromarray(f).resize((size, size), resample))
    if even and (f.shape[0] % 2 or f.shape[1] % 2):  # yuv420p needs even sides
        f = np.ascontiguousarray(f[: f.shape[0] // 2 * 2, : f.shape[1] // 2 * 2])
    return f


def _write_av(
    frames: Iterable[np.ndarray], tmp: str, fmt: str, codec: str, fps: int,
    size: int | None, step: Callable[[], None],
) -> None:
    import av

    # MP4: moov atom first, so browsers can start playing before the download ends.
    opts = {"movflags": "+faststart"} if fmt == "mp4" else {}
    with av.open(tmp, mode="w", format=fmt, options=opts) as out:
        stream = None
        for frame in frames:
            f = _prepare(frame, size, even=True)
            if stream is None:
                stream = out.add_stream(codec, rate=fps)
                stream.width, stream.height = f.shape[1], f.shape[0]
                stream.pix_fmt = "yuv420p"
                if codec == "libx264":
                    stream.options = {"crf": "18", "preset": "medium"}
                else:
                    stream.options = {"crf": "30", "b:v": "0", "deadline": "good", "cpu-used": "4"}
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                out.mux(packet)
            step()
        if stream is None:
            raise ExportError("no frames to export")
        for packet in stream.encode():
            out.mux(packet)


def _write_gif(
    frames: Iterable[np.ndarray], tmp: str, fps: int, size: int | None, step: Callable[[], None]
) -> None:
    """One shared palette for the whole clip, frames quantised at their own size before being
    enlarged (nearest keeps every palette index), a repeated frame lengthens the one before it.

    240 frames of 64 px written at 512 px: 5-11x faster and 0.44x the size of quantising every
    enlarged frame with its own palette (benchmarks/gif_export.py)."""
    small: list[np.ndarray] = []
    durations: list[float] = []
    frame_ms = 1000 / fps
    for frame in frames:
        f = np.asarray(frame)
        # Quantise before enlarging (64 -> 512 px is 64x fewer pixels to map); shrinking goes first.
        f = _prepare(f, size if size is not None and size < f.shape[0] else None, even=False)
        if small and f.shape == small[-1].shape and np.array_equal(f, small[-1]):
            durations[-1] += frame_ms
        else:
            small.append(np.ascontiguousarray(f))
            durations.append(frame_ms)
        step()
    if not small:
        raise ExportError("no frames to export")
    palette = _shared_palette(small)
    pal = palette.getpalette()
    images, before = [], None
    for f in small:
        idx = np.asarray(Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE))
        shown = idx
        if before is not None:  # pixels unchanged since the last frame: transparent (index 255)
            shown = np.where(idx == before, np.uint8(TRANSPARENT), idx)
        before = idx
        img = Image.fromarray(shown, "P")
        img.putpalette(pal)
        if size is not None and (img.width != size or img.height != size):
            img = img.resize((size, size), Image.Resampling.NEAREST)
        images.append(img)
    # disposal 1 keeps each frame under the next, so its transparent pixels show the last colour:
    # a walk's slow drift compresses to a fraction.
    images[0].save(
        tmp, format="GIF", save_all=True, append_images=images[1:],
        duration=[round(d) for d in durations], loop=0, disposal=1, optimize=False,
        transparency=TRANSPARENT,
    )


def _shared_palette(frames: Sequence[np.ndarray], max_pixels: int = 1 << 20) -> Image.Image:
    """A 255-colour palette (median cut; the 256th index is left for transparency) of the pixels
    of all `frames` (subsampled past `max_pixels`), as a "P" image for `Image.quantize`."""
    pixels = np.concatenate([f.reshape(-1, 3) for f in frames])
    if len(pixels) > max_pixels:
        pixels = pixels[:: -(-len(pixels) // max_pixels)]
    side = int(np.ceil(np.sqrt(len(pixels))))
    canvas = np.zeros((side * side, 3), np.uint8)
    canvas[: len(pixels)] = pixels
    canvas[len(pixels):] = pixels[0]  # padding repeats a real colour, adds none
    mosaic = Image.fromarray(canvas.reshape(side, side, 3))
    return mosaic.quantize(colors=255, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def export_video(
    frames: Sequence[np.ndarray] | Iterable[np.ndarray],
    path: str | Path,
    fps: int = 24,
    size: int | None = None,
    progress: Callable[[float], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    n_frames: int | None = None,
) -> Path:
    """Write `frames` ((h, w, 3) uint8 each, e.g. rendered lazily by a generator) to `path`.

    The format comes from the suffix: .mp4 (H.264 yuv420p), .webm (VP9) or .gif. `size` resizes
    every frame to size x size. `progress(fraction)` is called after each frame (`n_frames` gives
    the total for iterators without a length). `cancel()` returning True stops the export and raises
    ExportCancelled. Any failure raises ExportError (or ExportCancelled) and leaves no file behind.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ExportError(
            f"unknown video format {path.suffix or '(none)'!r}; use one of {', '.join(FORMATS)}"
        )
    if fps < 1 or fps > 240:
        raise ExportError(f"fps must be between 1 and 240, got {fps}")
    if size is not None and size < 2:
        raise ExportError(f"size must be at least 2 pixels, got {size}")
    if size is not None and size % 2 and suffix != ".gif":  # yuv420p: never a silent 254
        raise ExportError(f"size {size} is odd, and {FORMATS[suffix]} needs even sides; use "
                          f"{size - 1} or {size + 1} (or a GIF)")
    if not path.parent.is_dir():
        raise ExportError(f"the folder {path.parent} does not exist")
    total = n_frames
    if total is None and isinstance(frames, Sequence):
        total = len(frames)
    count = [0]

    def step() -> None:
        count[0] += 1
        if progress is not None and total:
            progress(min(1.0, count[0] / total))
        if cancel is not None and cancel():
            raise ExportCancelled(f"export to {path.name} cancelled")

    def write(tmp: str) -> None:  # a part file with the umask's mode (facegan.files)
        if cancel is not None and cancel():
            raise ExportCancelled(f"export to {path.name} cancelled")
        if suffix == ".gif":
            _write_gif(frames, tmp, fps, size, step)
        else:
            fmt, codec = ("mp4", "libx264") if suffix == ".mp4" else ("webm", "libvpx-vp9")
            _write_av(frames, tmp, fmt, codec, fps, size, step)

    try:
        atomic_write(path, write, suffix=suffix, durable=False)
    except (ExportCancelled, ExportError):
        raise
    except BaseException as e:
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        raise ExportError(f"could not write {path.name}: {type(e).__name__}: {e}") from e
    return path
