"""Fixtures for the explorer core: the tiny models loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.core.bundle import Bundle, load_bundle


@pytest.fixture(scope="session")
def bundle(tiny_model: Path) -> Bundle:
    return load_bundle(tiny_model)


@pytest.fixture(scope="session")
def cgan_bundle(tiny_cgan: Path) -> Bundle:
    return load_bundle(tiny_cgan)
