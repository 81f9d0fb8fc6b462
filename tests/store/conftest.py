"""Store fixtures: a fresh database per test on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import pytest

from gridint.store import init_db, make_sessionmaker
from tests.store.postgres import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """URL of a fresh, empty database (not migrated)."""
    return database_url(request.param, tmp_path)


@pytest.fixture
def sessions(db_url):
    """Session factory on a freshly migrated database."""
    engine = init_db(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()
