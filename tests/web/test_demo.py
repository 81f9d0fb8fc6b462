"""``gridint serve --demo``: demo users only on the local default database, fresh tokens."""
from __future__ import annotations

import pytest

from gridint.errors import GridintError
from gridint.store import init_db, make_sessionmaker, repo
from gridint.store.demo import DEMO_USERS, demo_users


def test_demo_users_idempotent_with_fresh_tokens(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default database is ./gridint.db
    first = demo_users("sqlite:///gridint.db")
    second = demo_users("sqlite:///gridint.db")
    assert {n: r for n, (r, _) in first.items()} == DEMO_USERS
    engine = init_db("sqlite:///gridint.db")
    with make_sessionmaker(engine)() as s:
        assert len(repo.list_users(s)) == 3
        for name, (role, token) in second.items():
            assert repo.user_by_token(s, token).name == name
            assert repo.user_by_token(s, first[name][1]) is None  # old token revoked
    engine.dispose()


def test_demo_refused_elsewhere(tmp_path):
    with pytest.raises(GridintError, match="local default database"):
        demo_users(f"sqlite:///{tmp_path}/other.db")
    with pytest.raises(GridintError, match="loopback"):
        demo_users("sqlite:///gridint.db", host="0.0.0.0")
    assert not (tmp_path / "other.db").exists()
