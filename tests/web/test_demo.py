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


def test_demo_telemetry_feeds_the_monitoring_view_and_the_loop(tmp_path, monkeypatch, catalog_feeder):
    """The demo feeder's DERs report the last 24 h: the monitoring status flags the silent
    device and the feeder-end voltages; the intraday loop finds measured PV and SoC."""
    import pandas as pd

    from gridint.store.demo import DEMO_FEEDER, demo_telemetry
    from gridint.telemetry import status
    from gridint.telemetry.loop import feeder_measurements

    monkeypatch.chdir(tmp_path)
    demo_users("sqlite:///gridint.db")
    now = pd.Timestamp("2025-06-02 13:07", tz="Asia/Shanghai")
    first = demo_telemetry("sqlite:///gridint.db", now=now)
    assert first["registered"] == first["devices"] == 9
    assert first["accepted"] > 700 and first["rejected"] > 0        # stuck meters at night
    again = demo_telemetry("sqlite:///gridint.db", now=now)
    assert again["registered"] == 0 and again["accepted"] == 0 and again["duplicates"] == first["accepted"]
    engine = init_db("sqlite:///gridint.db")
    with make_sessionmaker(engine)() as s:
        st = status(s, DEMO_FEEDER, now=now.to_pydatetime())
        assert st["devices_total"] == 9 and st["silent"] == 1 and st["out_of_limits"] >= 1
        m = feeder_measurements(s, DEMO_FEEDER, catalog_feeder(DEMO_FEEDER).net, now.floor("15min"))
        assert len(m["measured_soc"]) == 3 and m["measured_pv_pu"].notna().sum() > 80
    engine.dispose()
    with pytest.raises(GridintError, match="local default database"):
        demo_telemetry(f"sqlite:///{tmp_path}/other.db")
