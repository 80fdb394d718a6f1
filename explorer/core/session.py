"""Session files: plain JSON, with numpy arrays stored as base64 (exact float32 round trip).

A session holds what `explorer.core.scene.session_dict` gives it: the model path, the scene (seed,
ψ, grid, slider values, locks, direction method, the face being edited, custom directions), the
favourites and the photos. Arrays are written as
``{"__ndarray__": base64, "dtype": ..., "shape": [...]}``; nothing in the file is ever executed or
unpickled. Writes are atomic (`facegan.files.atomic_write`).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import numpy as np

from facegan.files import atomic_write

SESSION_FORMAT = "face-explorer-session"
SESSION_VERSION = 1
_DTYPES = {"float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool"}


class SessionError(Exception):
    """A session file that cannot be read; `str(e)` is the user message."""


def _encode(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        if obj.dtype.name not in _DTYPES:
            raise TypeError(f"cannot store arrays of dtype {obj.dtype} in a session")
        a = np.ascontiguousarray(obj)
        return {
            "__ndarray__": base64.b64encode(a.tobytes()).decode("ascii"),
            "dtype": a.dtype.name,
            "shape": list(a.shape),
        }
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_encode(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a session")


def _decode(obj: Any) -> Any:
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            dtype = obj.get("dtype")
            if dtype not in _DTYPES:
                raise SessionError(f"session array has unsupported dtype {dtype!r}")
            raw = base64.b64decode(obj["__ndarray__"], validate=True)
            return np.frombuffer(raw, dtype=dtype).reshape(obj["shape"]).copy()
        return {k: _decode(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    return obj


def save_session(path: str | Path, state: dict[str, Any]) -> None:
    """Write `state` (JSON-able values and numpy arrays) to `path` atomically."""
    path = Path(path)
    doc = {"format": SESSION_FORMAT, "version": SESSION_VERSION, "state": _encode(state)}
    text = json.dumps(doc, indent=1)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def load_session(path: str | Path) -> dict[str, Any]:
    """Read a session file; SessionError with a clear message if it is missing or malformed."""
    path = Path(path)
    if not path.is_file():
        raise SessionError(f"no such session file: {path}")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SessionError(f"{path.name}: not a session file ({e})") from None
    if not isinstance(doc, dict) or doc.get("format") != SESSION_FORMAT:
        raise SessionError(f"{path.name}: not a face-explorer session file")
    version = doc.get("version")
    if not isinstance(version, int) or version > SESSION_VERSION:
        raise SessionError(f"{path.name}: session version {version!r} is newer than this app's")
    try:
        state = _decode(doc.get("state", {}))
    except (ValueError, TypeError, KeyError) as e:
        raise SessionError(f"{path.name}: damaged array data ({e})") from None
    if not isinstance(state, dict):
        raise SessionError(f"{path.name}: session state is not an object")
    return state
