"""Paths of the real face data and names shared by the tests (a plain module, not a conftest)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the project; FACE_EXPLORER_SHARED_DATA names it elsewhere (a worktree).
SHARED_DATA = Path(os.environ.get("FACE_EXPLORER_SHARED_DATA", ROOT.parent / "shared" / "data"))
CELEBA = SHARED_DATA / "celeba-9k"
UTKFACE = SHARED_DATA / "utkface-500"
# Attribute names of the tiny model: real CelebA names, so features that look names up work.
TINY_ATTRIBUTES = ["Smiling", "Male", "Young", "Eyeglasses", "Blond_Hair", "Black_Hair"]


def needs(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present")
