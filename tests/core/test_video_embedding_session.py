"""Video export decodes back, cancelled exports leave nothing; embeddings; session files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageSequence

from explorer.core.embedding import embed
from explorer.core.session import SessionError, load_session, save_session
from explorer.core.video import ExportCancelled, ExportError, export_video


def _frames(n: int = 12, side: int = 16) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    return [rng.integers(0, 255, (side, side, 3), dtype=np.uint8) for _ in range(n)]


def _decode(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as f:
        return [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]


@pytest.mark.parametrize("suffix", [".mp4", ".webm", ".gif"])
def test_export_decodes_back_with_right_count_and_size(tmp_path: Path, suffix: str) -> None:
    seen: list[float] = []
    out = export_video(iter(_frames(12)), tmp_path / f"clip{suffix}", fps=12, size=32,
                       progress=seen.append, n_frames=12)
    frames = _decode(out)
    assert len(frames) == 12
    assert frames[0].shape == (32, 32, 3)
    assert seen[-1] == 1.0 and len(seen) == 12
    assert [p.name for p in tmp_path.iterdir()] == [f"clip{suffix}"]  # no temp file left
    if suffix == ".mp4":
        with av.open(str(out)) as f:
            s = f.streams.video[0]
            assert s.codec_context.name == "h264" and s.codec_context.pix_fmt == "yuv420p"


def test_export_keeps_the_picture(tmp_path: Path) -> None:
    frame = np.zeros((32, 32, 3), np.uint8)
    frame[:, :16] = (250, 20, 20)
    out = export_video([frame] * 4, tmp_path / "c.gif", fps=4)
    back = _decode(out)[0].astype(int)
    assert back[16, 4, 0] > 200 and back[16, 28, 0] < 60


@pytest.mark.parametrize("suffix", [".mp4", ".gif"])
def test_cancelled_export_leaves_no_file(tmp_path: Path, suffix: str) -> None:
    calls = [0]

    def cancel() -> bool:
        calls[0] += 1
        return calls[0] > 5

    with pytest.raises(ExportCancelled):
        export_video(_frames(30), tmp_path / f"c{suffix}", cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_failed_export_leaves_no_file_and_says_why(tmp_path: Path) -> None:
    bad = _frames(3) + [np.zeros((4, 4), np.float32)]
    with pytest.raises(ExportError, match="uint8"):
        export_video(bad, tmp_path / "c.mp4")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError, match="unknown video format"):
        export_video(_frames(2), tmp_path / "c.avi")
    with pytest.raises(ExportError, match="does not exist"):
        export_video(_frames(2), tmp_path / "no" / "c.mp4")
    with pytest.raises(ExportError, match="no frames"):
        export_video([], tmp_path / "c.webm")
    assert list(tmp_path.iterdir()) == []


def test_embeddings_are_cached_by_content(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal(0, 1, (40, 8)), rng.normal(6, 1, (40, 8))]).astype(np.float32)
    maps: list[np.ndarray] = []
    for method in ("pca", "tsne"):
        y = embed(pts, method, cache_dir=tmp_path, partial=maps.append)
        assert y.shape == (80, 2) and y.dtype == np.float32
        # the two clusters stay apart in the map
        gap = np.linalg.norm(y[:40].mean(0) - y[40:].mean(0))
        assert gap > 2 * y[:40].std(0).max()
    # t-SNE handed out its map while refining it: it moved, and ended where the result is
    assert len(maps) >= 10 and all(m.shape == (80, 2) for m in maps)
    assert not np.allclose(maps[0], maps[-1])
    drift = (maps[-1] - maps[-1].mean(0)) - (y - y.mean(0))
    assert np.abs(drift).max() < 0.02 * np.ptp(y, axis=0).max()
    files = sorted(tmp_path.glob("*.npy"))
    assert len(files) == 2
    np.save(files[0], np.full((80, 2), 7.0, np.float32))  # a cache hit returns the stored map
    method = files[0].name.split("-")[0]
    np.testing.assert_array_equal(embed(pts, method, cache_dir=tmp_path), 7.0)
    other = embed(pts + 1, method, cache_dir=tmp_path)  # different content, new entry
    assert not np.allclose(other, 7.0)
    with pytest.raises(ValueError, match="unknown embedding method"):
        embed(pts, "umap", cache_dir=tmp_path)


def test_session_round_trip(tmp_path: Path) -> None:
    z = np.random.default_rng(0).normal(size=(3, 8)).astype(np.float32)
    state = {"model": Path("/m.safetensors"), "favourites": z, "sliders": {"Smiling": 1.5},
             "locks": ["Male"], "custom": {"Mine": z[0]}}
    save_session(tmp_path / "s.json", state)
    back = load_session(tmp_path / "s.json")
    np.testing.assert_array_equal(back["favourites"], z)
    assert back["favourites"].dtype == np.float32
    np.testing.assert_array_equal(back["custom"]["Mine"], z[0])
    assert back["sliders"] == {"Smiling": 1.5} and back["model"] == "/m.safetensors"
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SessionError, match="not a session file"):
        load_session(tmp_path / "bad.json")
    with pytest.raises(SessionError, match="no such session"):
        load_session(tmp_path / "missing.json")


def test_gif_frames_decode_back_through_transparency_and_repeats(tmp_path: Path) -> None:
    # A square moving over a fixed background: most pixels are unchanged from frame to frame, so
    # they are written transparent; every decoded frame must still show its own picture. A frame
    # repeated three times becomes one frame three times as long.
    frames = []
    for i in range(6):
        f = np.full((16, 16, 3), (30, 90, 160), np.uint8)
        f[4:8, 2 * i : 2 * i + 4] = (240, 200, 20)
        frames.append(f)
    frames[3:3] = [frames[2], frames[2]]
    out = export_video(frames, tmp_path / "walk.gif", fps=10, size=64)
    with Image.open(out) as im:
        decoded = [np.asarray(f.convert("RGB")).astype(int) for f in ImageSequence.Iterator(im)]
        durations = [f.info["duration"] for f in ImageSequence.Iterator(im)]
    assert len(decoded) == 6
    assert durations[2] == 300 and durations[0] == 100
    for got, want in zip(decoded, frames[:3] + frames[5:], strict=True):
        assert got.shape == (64, 64, 3)
        assert np.abs(got[::4, ::4] - want).max() <= 8


def test_pca_map_follows_the_widest_spread_with_a_fixed_sign() -> None:
    from explorer.core.embedding import pca_2d

    rng = np.random.default_rng(2)
    pts = rng.normal(0, 0.01, (200, 6))
    pts[:, 4] *= 50  # the widest spread: the map's x
    pts[:, 1] *= 20  # the next: its y
    xy = pca_2d(pts.astype(np.float32))
    assert np.corrcoef(xy[:, 0], pts[:, 4])[0, 1] > 0.999  # same sign, whatever the solver
    assert np.corrcoef(xy[:, 1], pts[:, 1])[0, 1] > 0.99
    np.testing.assert_allclose(pca_2d(-pts.astype(np.float32)), -xy, atol=1e-3)
