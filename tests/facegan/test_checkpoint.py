"""The model-file format: round trips, no unpickling, clear errors for every kind of bad file."""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from facegan.checkpoint import (
    ATTR_DIRECTIONS_SAMPLED,
    FORMAT_VERSION,
    META_KEY,
    ModelFileError,
    load_model,
    load_state,
    save_model,
    save_state,
)
from facegan.files import atomic_write
from facegan.models import ModelConfig, build

NAMES = ["Smiling", "Male", "Young"]


def _cfg(**kw: object) -> ModelConfig:
    base: dict[str, object] = dict(kind="dcgan", resolution=16, nz=8, ngf=8, ndf=8, nef=8)
    base.update(kw)
    return ModelConfig(**base)  # type: ignore[arg-type]


def _write(path: Path, *, half: bool = False, cfg: ModelConfig | None = None) -> dict:
    cfg = cfg or _cfg()
    torch.manual_seed(0)
    nets = {"G": build(cfg, "G"), "E": build(cfg, "E")}
    rng = np.random.default_rng(0)
    extras = {
        "attr.directions": rng.standard_normal((len(NAMES), cfg.nz)).astype(np.float32),
        "atlas.z": rng.standard_normal((5, cfg.nz)).astype(np.float32),
        "atlas.labels": np.where(rng.random((5, len(NAMES))) < 0.5, 1, -1).astype(np.int8),
    }
    save_model(path, cfg, nets, {"attribute_names": NAMES, "step": 7, "name": "t"}, extras,
               half=half)
    return {"nets": nets, "extras": extras, "cfg": cfg}


@pytest.mark.parametrize("half", [False, True])
def test_round_trip(tmp_path: Path, half: bool) -> None:
    path = tmp_path / "m.safetensors"
    src = _write(path, half=half)
    mf = load_model(path)
    assert mf.config == src["cfg"]
    assert mf.attribute_names == NAMES
    assert mf.meta["step"] == 7 and mf.meta["format_version"] == FORMAT_VERSION
    assert sorted(mf.parts) == ["E", "G"]
    tol = dict(atol=1e-3, rtol=1e-3) if half else dict(atol=0, rtol=0)
    for part in ("G", "E"):
        net = mf.network(part)
        assert not net.training
        for k, v in src["nets"][part].state_dict().items():
            got = net.state_dict()[k]
            assert got.dtype == v.dtype  # float16 storage comes back as float32
            torch.testing.assert_close(got, v, **tol)
    for k, v in src["extras"].items():
        got = mf.array(k)
        if v.dtype == np.int8:
            assert got.dtype == np.int8 and np.array_equal(got, v)
        else:
            assert got.dtype == np.float32
            np.testing.assert_allclose(got, v, **tol)
    # The rebuilt generator makes the same images as the one that was saved.
    z = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = src["nets"]["G"].eval()(z)
        torch.testing.assert_close(mf.network("G")(z), want, atol=2e-2 if half else 1e-6,
                                   rtol=0)
    if half:
        full = tmp_path / "full.safetensors"
        _write(full)
        assert path.stat().st_size < 0.6 * full.stat().st_size


def test_network_part_missing_is_a_model_file_error(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    _write(path)
    with pytest.raises(ModelFileError, match="no C network"):
        load_model(path).network("C")


def test_pickle_renamed_is_refused_without_unpickling(tmp_path: Path) -> None:
    """A torch.save / pickle file with a .safetensors name must be rejected, never executed."""
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple:
            return (Path.touch, (marker,))

    for i, dump in enumerate([
        lambda p: torch.save({"G.w": torch.zeros(2), "evil": Evil()}, p),
        lambda p: p.write_bytes(pickle.dumps(Evil(), protocol=2)),
        lambda p: p.write_bytes(pickle.dumps(Evil(), protocol=0)),
    ]):
        path = tmp_path / f"evil{i}.safetensors"
        dump(path)
        with pytest.raises(ModelFileError, match="not a model file"):
            load_model(path)
    assert not marker.exists()


def _raw_safetensors(path: Path, header: object, data: bytes = b"") -> None:
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)


def test_bad_files_give_clear_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    _write(good)
    blob = good.read_bytes()
    cases: dict[str, tuple[bytes | None, str]] = {
        "empty": (b"", "empty or truncated"),
        "tiny": (b"\x01\x02", "empty or truncated"),
        "truncated": (blob[: len(blob) // 2], "truncated"),
        "header_cut": (blob[:40], "truncated|not a model file"),
        "garbage": (bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
                    "not a model file"),
        "text": (b"hello, I am a text file that somebody renamed\n" * 4, "not a model file"),
    }
    for name, (data, msg) in cases.items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(data)  # type: ignore[arg-type]
        with pytest.raises(ModelFileError, match=msg):
            load_model(p)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "missing.safetensors")
    with pytest.raises(ModelFileError, match="folder"):
        load_model(tmp_path)


def test_corrupt_header_structures(tmp_path: Path) -> None:
    """Hand-made headers that are JSON but not a valid safetensors layout."""
    headers = [
        [1, 2, 3],  # not an object
        {"x": 5},  # entry is not a tensor description
        {"x": {"dtype": "F32", "shape": [2]}},  # no data_offsets
        {"__metadata__": "oops", "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
        {"__metadata__": {META_KEY: "[1, 2]"},
         "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
        {"__metadata__": {META_KEY: "{not json"},
         "x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
    ]
    for i, h in enumerate(headers):
        p = tmp_path / f"h{i}.safetensors"
        _raw_safetensors(p, h, b"\0" * 4)
        with pytest.raises(ModelFileError):
            load_model(p)


def test_plain_safetensors_is_not_a_model(tmp_path: Path) -> None:
    p = tmp_path / "plain.safetensors"
    save_file({"weight": torch.zeros(3, 3)}, str(p))
    with pytest.raises(ModelFileError, match="not a face-explorer model"):
        load_model(p)


def _rewrite_meta(src: Path, dst: Path, **changes: object) -> None:
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        meta = json.loads(f.metadata()[META_KEY])
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    meta.update(changes)
    save_file(tensors, str(dst), metadata={META_KEY: json.dumps(meta)})


def test_newer_format_and_bad_metadata(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    _write(good)
    cases = [
        (dict(format_version=FORMAT_VERSION + 1), "newer face-explorer.*upgrade"),
        (dict(format_version="one"), "format_version"),
        (dict(format="something-else"), "format"),
        (dict(model_config={"kind": "dcgan", "resolution": 50}), "invalid model config"),
        (dict(model_config={"kind": "dcgan", "colour": 1}), "invalid model config"),
        (dict(parts=["G", "C"]), "C"),  # claims a classifier the config has no room for
        (dict(parts=["E"]), "no generator"),
    ]
    for i, (change, msg) in enumerate(cases):
        p = tmp_path / f"m{i}.safetensors"
        _rewrite_meta(good, p, **change)
        with pytest.raises(ModelFileError, match=msg):
            load_model(p)


def test_shape_mismatch(tmp_path: Path) -> None:
    """Weights of one config under the metadata of another: caught on load, with a message."""
    small = tmp_path / "small.safetensors"
    _write(small)
    wide = tmp_path / "wide.safetensors"
    _rewrite_meta(small, wide, model_config=_cfg(ngf=16).to_dict())
    with pytest.raises(ModelFileError, match="G weights do not match"):
        load_model(wide)
    # The extras are checked against the config as well.
    bad_dirs = tmp_path / "dirs.safetensors"
    _rewrite_meta(small, bad_dirs, attribute_names=["Smiling"])
    with pytest.raises(ModelFileError, match="attr.directions has shape"):
        load_model(bad_dirs)


def test_atomic_write_keeps_old_file_when_writer_fails(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    _write(path)
    before = path.read_bytes()

    def half_then_crash(tmp: str) -> None:
        Path(tmp).write_bytes(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half_then_crash)
    assert path.read_bytes() == before
    assert load_model(path).meta["step"] == 7
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temp files left
    # And KeyboardInterrupt (Ctrl-C during a save) is treated the same way.
    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, lambda tmp: (_ for _ in ()).throw(KeyboardInterrupt))
    assert path.read_bytes() == before


def test_training_state_refuses_code(tmp_path: Path) -> None:
    good = tmp_path / "ok.state.pt"
    save_state(good, {"step": 3, "w": torch.ones(2)})
    assert load_state(good)["step"] == 3
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self) -> tuple:
            return (Path.touch, (marker,))

    bad = tmp_path / "bad.state.pt"
    torch.save({"evil": Evil()}, bad)
    with pytest.raises(ModelFileError, match="unreadable training state"):
        load_state(bad)
    assert not marker.exists()


def test_metadata_promising_huge_networks_is_refused_before_any_tensor_is_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ngf=1024 over a small file's tensors: refused from the header (it cost 3 GB and 15 s)."""
    small = tmp_path / "small.safetensors"
    _write(small)
    huge = tmp_path / "huge.safetensors"
    _rewrite_meta(small, huge, model_config=_cfg(ngf=1024, nef=1024, resolution=16).to_dict())
    import facegan.checkpoint as ck

    def no_read(*a: object, **kw: object) -> None:
        raise AssertionError("tensor data read before the shapes were checked")

    monkeypatch.setattr(ck, "safe_open", no_read)
    with pytest.raises(ModelFileError, match=r"weights do not match.*the config needs \[1024"):
        load_model(huge)


def test_metadata_of_the_wrong_types_gives_one_line(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    _write(good)
    cfg = _cfg().to_dict()
    cases = [
        (dict(attribute_names=[1, 2, 3]), "attribute_names.*list of names"),
        (dict(attribute_names=[{"a": 1}, "Male", "Young"]), "attribute_names.*list of names"),
        (dict(attribute_names="Smiling"), "attribute_names.*a list"),
        (dict(attribute_names=["Smiling", "Smiling", "Young"]), "twice"),
        (dict(model_config={**cfg, "nz": 8.0}), "nz must be a whole number"),
        (dict(model_config={**cfg, "nz": True}), "nz must be a whole number"),
        (dict(model_config={**cfg, "cond_attributes": "Smiling"}), "cond_attributes"),
        (dict(model_config=[1, 2]), "model_config"),
        (dict(provenance="made by hand"), "provenance.*JSON object"),
        (dict(train_config=3), "train_config.*JSON object"),
        (dict(step="seven"), "step.*integer"),
        (dict(parts=["G", "X"]), "unknown network parts"),
        (dict(parts="G"), "parts.*a list"),
    ]
    for i, (change, msg) in enumerate(cases):
        p = tmp_path / f"m{i}.safetensors"
        _rewrite_meta(good, p, **change)
        with pytest.raises(ModelFileError, match=msg):
            load_model(p)


def _rewrite_tensor(src: Path, dst: Path, key: str, value: torch.Tensor) -> None:
    from safetensors import safe_open

    with safe_open(str(src), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors[key] = value
    save_file(tensors, str(dst), metadata=meta)


def test_wrong_sampled_directions_and_non_finite_weights_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.safetensors"
    _write(good)
    bad = tmp_path / "sampled.safetensors"
    _rewrite_tensor(good, bad, "attr.directions.sampled", torch.zeros(2, 5))
    with pytest.raises(ModelFileError, match="attr.directions.sampled has shape"):
        load_model(bad)
    mf = load_model(good)
    for value in (float("nan"), float("inf")):
        w = mf.tensors["G.project.0.weight"].clone()
        w[0, 0, 0, 0] = value
        p = tmp_path / f"g_{value}.safetensors"
        _rewrite_tensor(good, p, "G.project.0.weight", w)
        with pytest.raises(ModelFileError, match="G.project.0.weight holds 1 NaN or infinite"):
            load_model(p)


def test_sampled_directions_are_shape_checked(tmp_path: Path) -> None:
    """attr.directions.sampled must be one row per attribute name, nz wide; else a clear error."""
    cfg = _cfg()
    nets = {"G": build(cfg, "G")}
    good = tmp_path / "good.safetensors"
    save_model(good, cfg, nets, {"attribute_names": NAMES},
               {ATTR_DIRECTIONS_SAMPLED: np.ones((len(NAMES), cfg.nz), np.float32)})
    assert load_model(good).array(ATTR_DIRECTIONS_SAMPLED).shape == (len(NAMES), cfg.nz)
    bad = tmp_path / "bad.safetensors"
    save_model(bad, cfg, nets, {"attribute_names": NAMES},
               {ATTR_DIRECTIONS_SAMPLED: np.ones((len(NAMES), cfg.nz + 1), np.float32)})
    with pytest.raises(ModelFileError, match=r"attr.directions.sampled has shape \(3, 9\)"):
        load_model(bad)


def test_a_model_file_copy_changes_only_what_it_is_asked_to(tmp_path: Path) -> None:
    from facegan.checkpoint import copy_model_file

    src = tmp_path / "m.safetensors"
    _write(src)
    before = src.read_bytes()

    def edit(tensors: dict, doc: dict) -> None:
        tensors["attr.directions"] = torch.zeros_like(tensors["attr.directions"])
        doc["name"] = "copied"

    mf = copy_model_file(src, tmp_path / "copy.safetensors", edit)
    assert mf.meta["name"] == "copied" and mf.meta["step"] == 7
    assert not mf.array("attr.directions").any()
    orig = load_model(src)
    np.testing.assert_array_equal(mf.array("atlas.z"), orig.array("atlas.z"))
    for k, v in orig.state_dict("G").items():
        assert torch.equal(mf.state_dict("G")[k], v)
    assert src.read_bytes() == before  # the original is not touched
    with pytest.raises(ModelFileError, match="write to a copy"):
        copy_model_file(src, src, edit)

    # A copy the app could not open (a tensor of the wrong shape) is refused on the way out.
    def break_it(tensors: dict, doc: dict) -> None:
        tensors["atlas.z"] = torch.zeros(5, 3)

    with pytest.raises(ModelFileError):
        copy_model_file(src, tmp_path / "bad.safetensors", break_it)
    assert src.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.safetensors", "m.safetensors"]
