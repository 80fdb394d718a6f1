"""Where dlib's model files are: the face_recognition_models wheel (nothing is downloaded at run
time). Used by the landmark finder (`align`) and the face-recognition features
(`face_embedding`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def model_path(name: str) -> Path:
    """The path of one of the wheel's model files; ImportError when dlib or the wheel is not
    installed (the caller falls back to what it does without dlib)."""
    import dlib  # noqa: F401  (the caller needs it; say so here, once)

    spec = importlib.util.find_spec("face_recognition_models")  # its __init__ needs setuptools:
    if spec is None or not spec.submodule_search_locations:  # found, not imported
        raise ImportError("face_recognition_models")
    f = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not f.is_file():
        raise ImportError(f"face_recognition_models has no {name}")
    return f
