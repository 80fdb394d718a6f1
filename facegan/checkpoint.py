"""The model-file format: one loader, one writer, atomic writes.

A model file is a safetensors file. Its tensors are namespaced by network (``G.*`` the EMA
generator, ``E.*`` the encoder, ``C.*`` the attribute classifier, ``D.*`` the discriminator when
kept) plus optional extras under the key constants below, each checked for shape on load:

- ``attr.directions`` (n_attr, nz) float: per attribute, the mean latent of encoded training
  faces that have it minus the mean of those that do not (`facegan.directions`, mean-diff);
- ``attr.directions.sampled`` (n_attr, nz) float: per attribute, the normal of a logistic
  regression separating latents of faces G drew, as the classifier C labelled them
  (`facegan.directions.sampled_directions`); a zero row where G never or always draws the
  attribute. Written by models with a classifier (a conditional G draws its samples with
  conditions from the data's labels);
- ``atlas.z`` (n, nz) float: encoded training faces, for the scatter plot;
- ``atlas.labels`` (n, n_attr) int8 in {-1, +1}: their attribute labels;
- ``cond.reach`` (n_cond,) float, a conditional model's: how far each conditioned attribute's y
  slider reaches (`facegan.directions.condition_reach`); files without it reach 2 everywhere;
- ``cond.correction`` (n_cond, nz) float, a conditional style model's: the latent offset each
  conditioned attribute's y edit adds per unit of y it moves, fitted so that the classifier sees
  the other attributes stay (`facegan.directions.condition_correction`); files without it edit
  y alone;
- ``scorer.head`` (n_attr, n_attr + 128 + 1) float: the photo scorer's last step. Row i turns
  the scoring classifier's n_attr logits, then the 128 face-recognition features of the same
  aligned face (`explorer.core.face_embedding`), then 1, into attribute i's logit. Fitted on
  CelebA training images through the photo path (`tools/fit_scorer_head.py`). A file without it,
  or a machine without the recognition network, scores with the classifier's logits alone.

Optionally a second attribute classifier, the **photo scorer**, under ``C_photo.*``: the same
architecture as C (its own weights and its own fitted ``temperature`` buffer), fine-tuned for real
photos (crop jitter, rotation, blur, JPEG, colour). It is not one of the ``parts`` (a reader that
does not know it ignores it, so such a file still opens in an older explorer); the metadata's
``scorer`` object describes it (what it is, its provenance, its mean temperature). One rule
decides which classifier scores a face for the user: the photo scorer when the file has one,
else C (`scoring_part`). C alone stays the feature trunk of latent refinement and
pivotal tuning and the labeller of direction discovery; J stays evaluation's.

Its safetensors metadata holds one JSON document under the key ``face_explorer``::

    {"format": "face-explorer-model", "format_version": 1, "kind": "dcgan",
     "model_config": {...}, "attribute_names": [...], "parts": ["E", "G", "C"],
     "step": 12000, "final": true, "provenance": {...}, "train_config": {...}, ...}

The loader returns every floating-point tensor as float32.

Opening a model file never executes code: safetensors holds raw tensors and JSON only. Training
state (D, optimisers, RNG) lives beside the model file in a ``.state.pt`` file loaded with
``torch.load(weights_only=True)``, which also refuses code.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save as safetensors_bytes
from torch import nn

from facegan.files import atomic_write
from facegan.models import ModelConfig, build

FORMAT = "face-explorer-model"
FORMAT_VERSION = 1
META_KEY = "face_explorer"
PARTS = ("G", "D", "E", "C", "J")  # J: the independent judge, read by evaluation alone
# Tensor keys of the extras (see the module docstring for what each holds).
ATTR_DIRECTIONS = "attr.directions"
ATTR_DIRECTIONS_SAMPLED = "attr.directions.sampled"
ATLAS_Z = "atlas.z"
ATLAS_LABELS = "atlas.labels"
COND_REACH = "cond.reach"
COND_CORRECTION = "cond.correction"
SCORER_HEAD = "scorer.head"
SCORER_HEAD_EMBEDDING = 128  # face-recognition features a scorer head reads (dlib's descriptor)
SCORER = "C_photo"  # tensor prefix of the optional photo scorer (C's architecture, own weights)


def holds_scorer(tensor_names: Iterable[str]) -> bool:
    """Whether these tensor names include a photo scorer's (``C_photo.*``)."""
    return any(k.startswith(SCORER + ".") for k in tensor_names)


def scoring_part(networks: Iterable[str]) -> str | None:
    """The one rule for which classifier scores a face for the user, given the networks a file
    holds (its parts, plus SCORER when it has one): the photo scorer, else C, else None."""
    names = set(networks)
    return SCORER if SCORER in names else "C" if "C" in names else None
_MAX_HEADER = 100 * 1024 * 1024


class ModelFileError(ValueError):
    """A model file that cannot be used, with a message that says why."""


def _state_dict(obj: nn.Module | Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    return obj.state_dict() if isinstance(obj, nn.Module) else obj


def save_model(
    path: str | os.PathLike[str],
    cfg: ModelConfig,
    networks: Mapping[str, nn.Module | Mapping[str, torch.Tensor]],
    meta: Mapping[str, Any],
    extras: Mapping[str, torch.Tensor | np.ndarray] | None = None,
    *,
    half: bool = False,
) -> None:
    """Write a model file atomically.

    Parameters
    ----------
    networks : {'G': module or state_dict, ...}; keys from PARTS, plus SCORER for a photo
        scorer (stored under ``C_photo.*``, not listed in ``parts``; describe it in
        ``meta['scorer']``).
    meta : extra JSON-able metadata (attribute_names, provenance, step, train_config, ...).
    extras : named tensors under the key constants (ATTR_DIRECTIONS, ATLAS_Z, ...).
    half : store floating-point tensors as float16 (the loader returns float32).
    """
    tensors: dict[str, torch.Tensor] = {}
    for part, net in networks.items():
        if part not in PARTS and part != SCORER:
            raise ValueError(f"unknown network part {part!r}")
        for k, v in _state_dict(net).items():
            tensors[f"{part}.{k}"] = v
    for k, v in (extras or {}).items():
        tensors[k] = torch.as_tensor(v)
    out: dict[str, torch.Tensor] = {}
    for k, v in tensors.items():
        v = v.detach().cpu()
        if half and v.is_floating_point():
            v = v.to(torch.float16)
        out[k] = v.contiguous().clone()
    doc = dict(meta)
    doc.update(
        format=FORMAT,
        format_version=FORMAT_VERSION,
        kind=cfg.kind,
        model_config=cfg.to_dict(),
        parts=sorted(p for p in networks if p != SCORER),
    )
    header = {META_KEY: json.dumps(doc)}
    # Serialised here and written by Python, so a full disk is an OSError (ENOSPC), not a
    # library's own error type.
    blob = safetensors_bytes(out, metadata=header)
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(blob))


@dataclass
class ModelFile:
    """A loaded model file: metadata, config and float32 tensors (CPU)."""

    path: Path
    meta: dict[str, Any]
    config: ModelConfig
    tensors: dict[str, torch.Tensor]

    @property
    def parts(self) -> list[str]:
        return list(self.meta.get("parts", []))

    @property
    def attribute_names(self) -> list[str]:
        return list(self.meta.get("attribute_names", []))

    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.path.stem)

    def has(self, key: str) -> bool:
        return key in self.parts or key in self.tensors

    @property
    def has_scorer(self) -> bool:
        """Whether the file holds a photo scorer (``C_photo.*`` tensors)."""
        return holds_scorer(self.tensors)

    @property
    def scoring_part(self) -> str | None:
        """Which of this file's classifiers scores a face for the user (`scoring_part`)."""
        return scoring_part(self.parts + ([SCORER] if self.has_scorer else []))

    def state_dict(self, part: str) -> dict[str, torch.Tensor]:
        prefix = part + "."
        return {k[len(prefix) :]: v for k, v in self.tensors.items() if k.startswith(prefix)}

    def network(self, part: str) -> nn.Module:
        """Rebuild one network from the stored config and load its weights (eval mode, CPU);
        `part` is one of `parts`, or SCORER for the photo scorer (built as a C)."""
        if part not in self.parts and not (part == SCORER and self.has_scorer):
            raise ModelFileError(f"{self.path.name}: this model file has no {part} network")
        try:
            net = build(self.config, "C" if part == SCORER else part)
        except ValueError as e:  # e.g. parts lists 'C' but the config has no classes
            raise ModelFileError(f"{self.path.name}: cannot build {part}: {e}") from None
        try:
            net.load_state_dict(self.state_dict(part), strict=True)
        except RuntimeError as e:
            first = str(e).splitlines()[0:3]
            raise ModelFileError(
                f"{self.path.name}: the {part} weights do not match the stored model config "
                f"({' '.join(first)})"
            ) from None
        return net.eval()

    def array(self, key: str) -> np.ndarray:
        if key not in self.tensors:
            raise ModelFileError(f"{self.path.name}: this model file has no {key!r} tensor")
        return self.tensors[key].numpy()


def _read_header(path: Path) -> dict[str, Any]:
    """Parse the safetensors header by hand first, to give precise messages for bad files."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise ModelFileError(f"{path.name}: file is empty or truncated ({size} bytes)")
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > _MAX_HEADER or 8 + n > size:
            raise ModelFileError(
                f"{path.name}: not a model file (no valid safetensors header); "
                "it may be truncated or of another format"
            )
        try:
            header = json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise ModelFileError(f"{path.name}: not a model file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{path.name}: not a model file (header is not a JSON object)")
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise ModelFileError(
            f"{path.name}: file is truncated ({size} bytes, the header promises {8 + n + end})"
        )
    return header


def _open_meta(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """(safetensors header, face-explorer metadata) of a model file, checked, without its data."""
    if not path.exists():
        raise ModelFileError(f"no such model file: {path}")
    if path.is_dir():
        raise ModelFileError(f"{path} is a folder, not a model file")
    try:
        header = _read_header(path)
        raw = (header.get("__metadata__") or {}).get(META_KEY)
    except (KeyError, TypeError, IndexError, AttributeError):
        raise ModelFileError(f"{path.name}: corrupt safetensors header") from None
    if raw is None:
        raise ModelFileError(f"{path.name}: a safetensors file, but not a face-explorer model")
    try:
        meta = json.loads(raw)
    except (TypeError, json.JSONDecodeError):
        raise ModelFileError(f"{path.name}: model metadata is not valid JSON") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path.name}: model metadata is not a JSON object")
    meta = migrate(meta, path.name)
    _check_meta(meta, path.name)
    return header, meta


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The checked metadata of a model file, without reading its tensors."""
    return _open_meta(Path(path))[1]


def load_model(path: str | os.PathLike[str]) -> ModelFile:
    """Load and validate a model file; raise ModelFileError with a clear message if unusable.

    Everything that can be checked from the header (metadata types, every network's tensor
    names and shapes against the stored config) is checked before any tensor is read, so a file
    whose metadata promises huge networks is refused at once.
    """
    path = Path(path)
    header, meta = _open_meta(path)
    try:
        cfg = ModelConfig.from_dict(meta["model_config"])
    except (KeyError, TypeError, ValueError) as e:
        raise ModelFileError(f"{path.name}: invalid model config: {e}") from None
    _check_shapes(header, meta, cfg, path.name)
    tensors: dict[str, torch.Tensor] = {}
    try:
        with safe_open(str(path), framework="pt") as f:
            for k in f.keys():
                t = f.get_tensor(k)
                tensors[k] = t.float() if t.is_floating_point() else t
    except Exception as e:  # safetensors raises its own error types for corrupt data.
        raise ModelFileError(f"{path.name}: corrupt tensor data ({e})") from None
    mf = ModelFile(path=path, meta=meta, config=cfg, tensors=tensors)
    _validate(mf)
    return mf


# Metadata fields the explorer reads, and the JSON types they must have.
_META_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "step": (int,), "phase": (str,), "final": (bool,),
    "provenance": (dict,), "train_config": (dict,), "model_config": (dict,),
    "attribute_names": (list,), "parts": (list,), "classifier": (dict,), "scorer": (dict,),
    "encoder_w_plus": (dict,), "scorer_head": (dict,),
}
_TYPE_WORDS = {str: "a string", int: "an integer", bool: "true or false", dict: "a JSON object",
               list: "a list"}


def _check_meta(meta: dict[str, Any], name: str) -> None:
    """Refuse metadata of the wrong JSON types with one line (the explorer trusts these)."""
    for key, types in _META_TYPES.items():
        v = meta.get(key)
        if v is None:
            continue
        bad_bool = isinstance(v, bool) and bool not in types
        if bad_bool or not isinstance(v, types):
            raise ModelFileError(
                f"{name}: metadata field {key!r} must be {_TYPE_WORDS[types[0]]}, got "
                f"{type(v).__name__} {json.dumps(v)[:60]}")
    for key in ("attribute_names", "parts"):
        items = meta.get(key) or []
        if not all(isinstance(a, str) and a for a in items):
            raise ModelFileError(f"{name}: metadata field {key!r} must be a list of names, got "
                                 f"{json.dumps(items)[:80]}")
        if len(set(items)) != len(items):
            raise ModelFileError(f"{name}: metadata field {key!r} names something twice")
    unknown = [p for p in meta.get("parts") or [] if p not in PARTS]
    if unknown:
        raise ModelFileError(f"{name}: unknown network parts {unknown}; expected some of {PARTS}")


def _expected_shapes(cfg: ModelConfig, part: str) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes of one network of `cfg`, built on the meta device (no memory)."""
    with torch.device("meta"):
        net = build(cfg, part, init=False)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _check_shapes(header: dict[str, Any], meta: dict[str, Any], cfg: ModelConfig,
                  name: str) -> None:
    """Every network's tensors in the header match what its config builds, before any is read."""
    stored = {k: tuple(v.get("shape", ())) for k, v in header.items() if k != "__metadata__"}
    parts = list(meta.get("parts") or [])
    if holds_scorer(stored):
        parts.append(SCORER)
    for part in parts:
        try:
            want = _expected_shapes(cfg, "C" if part == SCORER else part)
        except ValueError as e:  # e.g. parts lists 'C' but the config has no classes
            raise ModelFileError(f"{name}: cannot build {part}: {e}") from None
        prefix = part + "."
        have = {k[len(prefix):]: s for k, s in stored.items() if k.startswith(prefix)}
        missing = sorted(set(want) - set(have))
        extra = sorted(set(have) - set(want))
        wrong = [k for k in want if k in have and have[k] != want[k]]
        if missing or extra or wrong:
            if wrong:
                k = wrong[0]
                why = (f"{prefix}{k} is {list(have[k])}, the config needs {list(want[k])}; "
                       f"{len(wrong)} tensors differ")
            else:
                why = (f"missing {[prefix + k for k in missing[:3]]}" if missing else
                       f"unexpected {[prefix + k for k in extra[:3]]}")
            what = "photo scorer's" if part == SCORER else f"{part}"
            raise ModelFileError(
                f"{name}: the {what} weights do not match the stored model config ({why})")
    n_names = len(meta.get("attribute_names") or [])
    if ("C" in parts or SCORER in parts) and cfg.n_classes != n_names:
        raise ModelFileError(
            f"{name}: the classifier has {cfg.n_classes} outputs but the file names "
            f"{n_names} attributes")


def migrate(meta: dict[str, Any], name: str) -> dict[str, Any]:
    """Bring older metadata up to FORMAT_VERSION (the only place that knows old versions)."""
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{name}: metadata says format {meta.get('format')!r}, not {FORMAT!r}")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ModelFileError(f"{name}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{name}: made by a newer face-explorer (format {version}, this one reads up to "
            f"{FORMAT_VERSION}); please upgrade"
        )
    return meta


def _validate(mf: ModelFile) -> None:
    name = mf.path.name
    if "G" not in mf.parts:
        raise ModelFileError(f"{name}: the model file has no generator")
    for part in mf.parts + ([SCORER] if mf.has_scorer else []):
        mf.network(part)  # strict load: every tensor present with the right shape
    names = mf.attribute_names
    nz = mf.config.nz
    checks = {
        ATTR_DIRECTIONS: (len(names), nz),
        ATTR_DIRECTIONS_SAMPLED: (len(names), nz),
        ATLAS_Z: (None, nz),
        ATLAS_LABELS: (None, len(names)),
        COND_CORRECTION: (mf.config.n_cond, nz),
        SCORER_HEAD: (len(names), len(names) + SCORER_HEAD_EMBEDDING + 1),
    }
    for key, shape in checks.items():
        if key in mf.tensors:
            got = tuple(mf.tensors[key].shape)
            wrong = [s is not None and s != g for s, g in zip(shape, got, strict=False)]
            if len(got) != 2 or any(wrong):
                raise ModelFileError(f"{name}: {key} has shape {got}, expected {shape}")
    if COND_REACH in mf.tensors:
        reach = mf.tensors[COND_REACH]
        if tuple(reach.shape) != (mf.config.n_cond,) or not bool((reach.float() > 0).all()):
            raise ModelFileError(f"{name}: {COND_REACH} must hold one positive reach per "
                                 f"conditioned attribute ({mf.config.n_cond})")
    if ATLAS_Z in mf.tensors and ATLAS_LABELS in mf.tensors:
        if mf.tensors[ATLAS_Z].shape[0] != mf.tensors[ATLAS_LABELS].shape[0]:
            raise ModelFileError(f"{name}: atlas.z and atlas.labels differ in length")
    for key, t in mf.tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            n_bad = int((~torch.isfinite(t)).sum())
            what = "the generator" if key.startswith("G.") else key
            raise ModelFileError(
                f"{name}: {key} holds {n_bad} NaN or infinite values (a diverged training run?); "
                f"{what} cannot be used")


def copy_model_file(
    src: str | os.PathLike[str], out: str | os.PathLike[str],
    edit: Callable[[dict[str, torch.Tensor], dict[str, Any]], None],
) -> ModelFile:
    """Write a COPY of model file `src` to `out` with its tensors and its JSON document changed
    by `edit(tensors, doc)` in place (every other tensor and metadata entry is copied as it is);
    returns the copy as loaded. A copy the app could not open is refused (ModelFileError) and
    not written."""
    src, out = Path(src), Path(out)
    if out.resolve() == src.resolve():
        raise ModelFileError("write to a copy: the output must not be the model file itself")
    with safe_open(str(src), "pt") as f:
        meta = dict(f.metadata() or {})
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    doc = json.loads(meta[META_KEY])
    edit(tensors, doc)
    meta[META_KEY] = json.dumps(doc)
    blob = safetensors_bytes(tensors, metadata=meta)

    def write(tmp: str) -> None:
        Path(tmp).write_bytes(blob)
        load_model(tmp)  # checked before it takes the name: nothing broken is left behind

    atomic_write(out, write, suffix=".safetensors")
    return load_model(out)


def state_path(model_path: str | os.PathLike[str]) -> Path:
    """Where the training state of a model file lives."""
    p = Path(model_path)
    return p.with_name(p.stem + ".state.pt")


def save_state(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a Python file: a full disk raises OSError, not a C++ error
            torch.save(state, f)

    atomic_write(path, write)


def load_state(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load training state without unpickling code (weights_only)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelFileError(f"{Path(path).name}: unreadable training state ({e})") from None
