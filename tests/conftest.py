"""Shared fixtures. Catalog feeders are loaded once per session (read-only use)."""

from __future__ import annotations

import copy

import pytest

from gridint.grid.catalog import load_feeder, read_catalog


@pytest.fixture(scope="session")
def catalog_names() -> list[str]:
    return list(read_catalog())


_CACHE: dict = {}


@pytest.fixture
def catalog_feeder():
    """Factory: a fresh deep copy of a catalog feeder (tests may modify it)."""

    def get(name: str):
        if name not in _CACHE:
            _CACHE[name] = load_feeder(name)
        return copy.deepcopy(_CACHE[name])

    return get


@pytest.fixture
def db(tmp_path, monkeypatch):
    """``GRIDINT_DATABASE_URL`` set to a fresh SQLite file for this test (settings re-read);
    yields the URL. For the command-line tests, which use the configured database."""
    from gridint.config import get_settings

    url = f"sqlite:///{tmp_path / 'gridint-test.db'}"
    monkeypatch.setenv("GRIDINT_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
