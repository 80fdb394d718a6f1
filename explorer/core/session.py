"""Session files: a small JSON document, and its arrays compact beside it in safetensors.

A session holds what the user made (slider values, favourites, photos, interpolation keyframes
and settings, analogy slots, custom sliders, the model path). Version 2 writes the plain values
as JSON (``walk.json``) and every numpy array in one safetensors file beside it
(``walk.arrays-<hash>.safetensors``), which the JSON names together with its SHA-256: twelve
photos cost ~1 MB instead of a 6 MB pretty-printed JSON, and a JSON never pairs with the wrong
arrays. Arrays in the JSON are ``{"__array__": key}``. Nothing in either file is executed or
unpickled. Writes are atomic and in order (the arrays, then the JSON that names them, then the old
arrays file is removed), with the umask's file mode.

Version 1 files (arrays inline as base64, ``{"__ndarray__": ...}``, or plain lists) still open.

:func:`check_session` checks a loaded session against a model (latent length, grid, seed, ψ,
custom sliders, details) and lists every problem in plain words before anything is applied.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from facegan.files import atomic_write

SESSION_FORMAT = "face-explorer-session"
SESSION_VERSION = 2
_DTYPES = {"float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}
MAX_SEED = 2**31 - 1
GRID_RANGE = (1, 6)
PSI_RANGE = (0.0, 1.5)


class SessionError(Exception):
    """A session file that cannot be read or does not fit the model; `str(e)` is the message."""


# Writing.


def _split(obj: Any, arrays: dict[str, np.ndarray], key: str) -> Any:
    """JSON-able copy of `obj` with each array moved to `arrays` under a path-like key."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.name not in _DTYPES:
            raise TypeError(f"cannot store arrays of dtype {obj.dtype} in a session")
        arrays[key] = np.ascontiguousarray(obj)
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): _split(v, arrays, f"{key}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_split(v, arrays, f"{key}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)  # JSON has no NaN; json.loads reads "nan" back as a string
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a session")


def _write(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), durable=False)


def arrays_files(path: str | Path) -> list[Path]:
    """The arrays files of session `path` on disk (the current one, and any left over)."""
    path = Path(path)
    return sorted(path.parent.glob(f"{path.stem}.arrays-*.safetensors"))


def save_session(path: str | Path, state: dict[str, Any]) -> None:
    """Write `state` (JSON-able values and numpy arrays, nested) as a session at `path`."""
    from safetensors.numpy import save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    doc: dict[str, Any] = {"format": SESSION_FORMAT, "version": SESSION_VERSION,
                           "state": _split(state, arrays, "state")}
    keep: Path | None = None
    if arrays:
        blob = save(arrays)
        digest = hashlib.sha256(blob).hexdigest()
        keep = path.with_name(f"{path.stem}.arrays-{digest[:12]}.safetensors")
        if not keep.exists():
            _write(keep, blob)
        doc["arrays"] = {"file": keep.name, "sha256": digest}
    _write(path, json.dumps(doc, indent=1, allow_nan=False).encode("utf-8"))
    for old in arrays_files(path):  # the arrays of the session this one replaced
        if old != keep:
            old.unlink(missing_ok=True)


# Reading.


def _decode_v1(obj: Any) -> Any:
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            dtype = obj.get("dtype")
            if dtype not in _DTYPES:
                raise SessionError(f"session array has unsupported dtype {dtype!r}")
            raw = base64.b64decode(obj["__ndarray__"], validate=True)
            return np.frombuffer(raw, dtype=dtype).reshape(obj["shape"]).copy()
        return {k: _decode_v1(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode_v1(v) for v in obj]
    return obj


def _join(obj: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {"__array__"}:
            key = obj["__array__"]
            if key not in arrays:
                raise SessionError(f"the arrays file has no {key!r}")
            return arrays[key]
        return {k: _join(v, arrays) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_join(v, arrays) for v in obj]
    return obj


def _read_arrays(path: Path, meta: Any) -> dict[str, np.ndarray]:
    from safetensors.numpy import load

    if not isinstance(meta, dict) or not isinstance(meta.get("file"), str):
        raise SessionError(f"{path.name}: damaged arrays entry")
    f = path.parent / Path(meta["file"]).name  # never outside the session's folder
    if not f.is_file():
        raise SessionError(f"{path.name}: its arrays file {f.name} is missing (copy it with "
                           "the session)")
    blob = f.read_bytes()
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise SessionError(f"{path.name}: its arrays file {f.name} does not match it")
    try:
        return {k: v.copy() for k, v in load(blob).items()}
    except Exception as e:
        raise SessionError(f"{path.name}: damaged arrays file {f.name} ({e})") from None


def load_session(path: str | Path) -> dict[str, Any]:
    """Read a session file (version 1 or 2); SessionError with a clear message if it is missing
    or malformed."""
    path = Path(path)
    if not path.is_file():
        raise SessionError(f"no such session file: {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SessionError(f"{path.name}: not a session file ({e})") from None
    except OSError as e:
        raise SessionError(f"{path.name}: cannot be read ({e.strerror or e})") from None
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise SessionError(f"{path.name}: not a face-explorer session file")
    version = doc.get("version")
    if not isinstance(version, int) or version > SESSION_VERSION:
        raise SessionError(f"{path.name}: session version {version!r} is newer than this app's")
    try:
        if version >= 2:
            arrays = _read_arrays(path, doc["arrays"]) if "arrays" in doc else {}
            state = _join(doc.get("state", {}), arrays)
        else:
            state = _decode_v1(doc.get("state", {}))
    except SessionError:
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise SessionError(f"{path.name}: damaged array data ({e})") from None
    if not isinstance(state, dict):
        raise SessionError(f"{path.name}: session state is not an object")
    return state


# Checking against a model.


def _array(v: Any, what: str, problems: list[str], *, size: int | None = None,
           shapes: Sequence[Sequence[int]] | None = None) -> None:
    """Say in `problems` why `v` is not finite numbers of `size` values (a latent) or of one
    of `shapes` (a photo detail; the first is today's); None (absent) is fine."""
    if v is None:
        return
    try:
        a = np.asarray(v, dtype=np.float32)
    except (TypeError, ValueError):
        problems.append(f"{what} is not {'a list' if shapes is None else 'an array'} of numbers")
        return
    if size is not None and a.size != size:
        problems.append(f"{what} has {a.size} values; this model's latents have {size}")
    elif shapes is not None and a.shape not in [tuple(s) for s in shapes]:
        problems.append(f"{what} has shape {a.shape}; this model's photo detail has "
                        f"{tuple(shapes[0])}")
    elif not np.isfinite(a).all():
        problems.append(f"{what} holds NaN or infinite values")


def _number(d: dict[str, Any], key: str, lo: float, hi: float, integer: bool,
            problems: list[str]) -> None:
    if key not in d:
        return
    v = d[key]
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    if ok and integer and isinstance(v, float):
        ok = v.is_integer()
    if not ok or not math.isfinite(float(v)) or not lo <= float(v) <= hi:
        kind = "a whole number" if integer else "a number"
        problems.append(f"{key} is {v!r}; it must be {kind} from {lo:g} to {hi:g}")


def _items(d: dict[str, Any], key: str, problems: list[str]) -> list[dict[str, Any]]:
    v = d.get(key, [])
    if v is None:
        return []
    if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
        problems.append(f"{key} is not a list of entries")
        return []
    return v


def _entry(d: dict[str, Any], key: str, what: str, problems: list[str]) -> dict[str, Any]:
    """`d[key]` when it is an entry (a dict), {} when absent; else a problem and {}."""
    v = d.get(key) or {}
    if not isinstance(v, dict):
        problems.append(f"{what} is not an entry")
        return {}
    return v


def check_session(d: dict[str, Any], nz: int,
                  detail_shapes: Sequence[Sequence[int]]) -> None:
    """SessionError listing everything in session `d` that does not fit a model with latents of
    length `nz` and photo details of one of `detail_shapes` (`Bundle.saved_detail_shapes`);
    nothing is changed."""
    problems: list[str] = []
    _number(d, "seed", 0, MAX_SEED, True, problems)
    _number(d, "grid", *GRID_RANGE, True, problems)
    _number(d, "psi", *PSI_RANGE, False, problems)
    alphas = d.get("alphas", {})
    if not isinstance(alphas, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in alphas.values()):
        problems.append("the slider values are not all numbers")
    _array(d.get("custom_z"), "the edited face's latent", problems, size=nz)
    _array(d.get("custom_detail"), "the edited face's photo detail", problems, shapes=detail_shapes)
    _array(d.get("custom_latent_detail"), "the edited face's latent detail", problems,
           shapes=detail_shapes)
    for i, c in enumerate(_items(d, "custom_dirs", problems)):
        _array(c.get("vector"), f"custom slider {c.get('name', i)!r}", problems, size=nz)
    for key, what in (("favourites", "favourite"), ("photos", "photo")):
        for i, f in enumerate(_items(d, key, problems)):
            name = f.get("name", i)
            if f.get("z") is None:
                problems.append(f"{what} {name!r} has no latent")
            _array(f.get("z"), f"{what} {name!r}", problems, size=nz)
            _array(f.get("detail"), f"{what} {name!r}'s detail", problems, shapes=detail_shapes)
            _array(f.get("latent_detail"), f"{what} {name!r}'s latent detail", problems,
                   shapes=detail_shapes)
    interp = _entry(d, "interpolation", "the interpolation", problems)
    for i, k in enumerate(_items(interp, "keyframes", problems)):
        _array(k.get("z"), f"keyframe {i + 1}", problems, size=nz)
        _array(k.get("detail"), f"keyframe {i + 1}'s detail", problems, shapes=detail_shapes)
    analogy = _entry(d, "analogy", "the analogy", problems)
    slots = analogy.get("slots") or {}
    for name, s in (slots.items() if isinstance(slots, dict) else []):
        if isinstance(s, dict):
            _array(s.get("z"), f"analogy slot {name}", problems, size=nz)
            _array(s.get("detail"), f"analogy slot {name}'s detail", problems, shapes=detail_shapes)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise SessionError("it does not fit this model: " + "; ".join(problems[:3]) + more)
