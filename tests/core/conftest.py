"""Fixtures for the explorer core: the tiny models loaded once per session.

The data paths are restated here (same formula as tests/conftest.py) because test modules in this
folder import ``conftest`` by name and get this file.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.core.bundle import Bundle, load_bundle

ROOT = Path(__file__).resolve().parent.parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
CELEBA = SHARED_DATA / "celeba-9k"
UTKFACE = SHARED_DATA / "utkface-500"


def needs(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not path.exists(), reason=f"{path} not present")


@pytest.fixture(scope="session")
def bundle(tiny_model: Path) -> Bundle:
    return load_bundle(tiny_model)


@pytest.fixture(scope="session")
def cgan_bundle(tiny_cgan: Path) -> Bundle:
    return load_bundle(tiny_cgan)
