"""API fixtures: the app on a fresh database (SQLite or PostgreSQL), users and tokens,
the stand-in rules engine (a fixed feeder limit; the real engine plugs in unchanged)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import pytest

warnings.filterwarnings("ignore", message=".*httpx.*starlette.testclient.*")

from fastapi.testclient import TestClient  # noqa: E402

from api import create_app  # noqa: E402
from gridint.config import Settings  # noqa: E402
from gridint.store import repo, write_transaction  # noqa: E402
from tests.store.fakes import CapacityEvaluator  # noqa: E402
from tests.store.postgres import database_url  # noqa: E402

USERS = {"root": "admin", "alice": "installer", "bob": "installer", "eve": "engineer",
         "oscar": "operator"}
FEEDER, BUS = "xt-county-rural", "T01"


def req_body(kw=10.0, **more) -> dict:
    return {"feeder": FEEDER, "bus": BUS, "category": "residential_natural_person",
            "mode": "surplus_export", "ac_kw": kw, **more}


@dataclass
class Api:
    client: TestClient
    app: object
    evaluator: CapacityEvaluator
    tokens: dict = field(default_factory=dict)

    def auth(self, user: str, **headers) -> dict:
        return {"Authorization": f"Bearer {self.tokens[user]}", **headers}

    def sessions(self):
        return self.app.state.sessions()


def add_users(app) -> dict:
    tokens = {}
    with app.state.sessions() as s, write_transaction(s):
        for name, role in USERS.items():
            tokens[name] = repo.create_user(s, name, role)[1]
    return tokens


def settings_for(url: str) -> Settings:
    return Settings(database_url=url, scheduler_enabled=False)


@pytest.fixture
def make_api(tmp_path):
    """Factory: ``make_api(kind, limit_kw=50)`` -> :class:`Api` (closed at teardown)."""
    opened = []

    def make(kind: str = "sqlite", limit_kw: float = 50.0) -> Api:
        ev = CapacityEvaluator(limit_kw)
        app = create_app(settings_for(database_url(kind, tmp_path)), evaluator=ev)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        opened.append(client)
        return Api(client, app, ev, add_users(app))

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture(params=["sqlite", "postgresql"])
def api(request, make_api) -> Api:
    return make_api(request.param)


@pytest.fixture
def api_sqlite(make_api) -> Api:
    return make_api("sqlite")
