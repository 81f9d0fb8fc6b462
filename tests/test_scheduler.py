"""Scheduler: jobs survive a stop/start on a SQLite file and fire; runs, failures and
misfires are recorded; the job functions are textual references."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from gridint import scheduler as gs

TICKS: list = []


def tick(tag: str) -> str:
    """A short-interval test job (module level: stored by textual reference)."""
    TICKS.append(tag)
    return tag


def boom() -> None:
    raise RuntimeError("planned failure for the test")


def _wait(cond, timeout_s: float = 30.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def _status(sched) -> dict:
    return {r["id"]: r for r in gs.job_status(sched)}


def test_jobs_survive_a_restart_and_fire(tmp_path):
    url = f"sqlite:///{tmp_path / 'gridint.db'}"
    TICKS.clear()
    s1 = gs.create_scheduler(url)
    s1.add_job("tests.test_scheduler:tick", "interval", seconds=1, args=["t"], id="tick", name="test tick")
    s1.start()
    try:
        assert _wait(lambda: len(TICKS) >= 1)
        assert _wait(lambda: _status(s1)["tick"]["last_run_time"] is not None)
    finally:
        s1.shutdown(wait=True)
    n_first = len(TICKS)

    # a new scheduler on the same database, without adding anything: the jobs are there
    s2 = gs.create_scheduler(url, default_jobs=False)
    s2.start(paused=True)
    jobs = {j.id: j for j in s2.get_jobs()}
    assert set(jobs) == {gs.JOB_DAY_AHEAD, gs.JOB_INTRADAY, gs.JOB_PUBLICATION, gs.JOB_TELEMETRY,
                         "tick"}
    assert jobs[gs.JOB_TELEMETRY].func_ref == "gridint.scheduler:run_telemetry_maintenance"
    assert jobs[gs.JOB_DAY_AHEAD].func_ref == "gridint.scheduler:run_day_ahead"
    assert jobs[gs.JOB_INTRADAY].func_ref == "gridint.scheduler:run_intraday"
    assert jobs["tick"].func_ref == "tests.test_scheduler:tick"
    s2.resume()
    try:
        assert _wait(lambda: len(TICKS) > n_first)          # fires again after the restart
        status = _status(s2)
    finally:
        s2.shutdown(wait=True)
    day = status[gs.JOB_DAY_AHEAD]
    assert day["next_run_time"].endswith("+08:00") and "T17:00:00" in day["next_run_time"]
    assert "T01:30:00+08:00" in status[gs.JOB_TELEMETRY]["next_run_time"]
    nxt = datetime.fromisoformat(status[gs.JOB_INTRADAY]["next_run_time"])
    assert nxt.minute % 15 == 0 and nxt.second == 0
    assert status["tick"]["last_error"] is None and status["tick"]["last_run_time"]
    assert set(status["tick"]) == {"id", "name", "next_run_time", "last_run_time", "last_error"}
    # job_status works from the database alone (e.g. in the API process)
    assert {r["id"] for r in gs.job_status(database_url=url)} == set(jobs)


def test_failures_and_misfires_are_recorded(tmp_path):
    url = f"sqlite:///{tmp_path / 'gridint.db'}"
    sched = gs.create_scheduler(url, default_jobs=False)
    sched.start()
    try:
        sched.add_job("tests.test_scheduler:boom", "date", id="boom", name="failing job")
        past = datetime.now(timezone.utc) - timedelta(minutes=10)
        sched.add_job("tests.test_scheduler:tick", "date", run_date=past, args=["late"], id="late",
                      name="missed job", misfire_grace_time=1)
        assert _wait(lambda: len(gs.job_status(database_url=url)) == 0)  # both ran / were dropped
        rows = _runs(url)
        assert _wait(lambda: {("boom", "error"), ("late", "missed")} <= {(r[0], r[1]) for r in _runs(url)})
    finally:
        sched.shutdown(wait=True)
    rows = {r[0]: r for r in _runs(url)}
    assert "RuntimeError: planned failure for the test" in rows["boom"][2]
    assert rows["late"][2].startswith("misfire: the run scheduled for")
    assert "late" not in TICKS


def _runs(url):
    import sqlalchemy as sa

    t = gs._runs_table()
    with gs._engine(url).connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(t.c.job_id, t.c.event, t.c.error))]


def test_publication_without_hosting_publish_is_logged(monkeypatch, caplog):
    import gridint.hosting as hosting

    monkeypatch.delattr(hosting, "publish", raising=False)
    with caplog.at_level("WARNING"):
        out = gs.run_publication("2025Q2")
    assert out == {"quarter": "2025Q2", "published": False, "result": None}
    assert "gridint.hosting.publish is not available" in caplog.text
    monkeypatch.setattr(hosting, "publish", lambda q: {"quarter": q, "rows": 3}, raising=False)
    assert gs.run_publication("2025Q3")["result"] == {"quarter": "2025Q3", "rows": 3}
    assert gs.quarter_label("2025-08-15") == "2025Q3"


def test_disabled_scheduler_does_not_start(monkeypatch):
    from gridint.config import get_settings

    monkeypatch.setattr(get_settings(), "scheduler_enabled", False)
    assert gs.start_scheduler("sqlite:///:memory:") is None


class _FakePlan:
    def __init__(self, feeder, date, kind, n):
        self.rec = {"feeder": feeder, "date": date, "kind": kind, "n_steps": n, "violations_before": 3,
                    "violations_after": 0, "curtailment_kwh": 0.0, "reserve_ok": True, "solve_s": 0.1}

    def to_dict(self):
        return dict(self.rec)


def test_day_ahead_and_intraday_jobs_plan_every_feeder_and_chain(monkeypatch, catalog_feeder):
    """Job wiring (the plans themselves are tested in tests/dispatch): every feeder with
    storage is planned for tomorrow, unusable ones are recorded as skipped, the intraday
    job starts from the stored day-ahead plan."""
    import gridint.dispatch as gd
    from gridint.errors import FeederError

    calls = []

    def plan_day(feeder, date):
        if feeder.name == "cigre-mv-der":
            raise FeederError("storage 'Battery 1': max_e_mwh = nan outside the allowed range")
        calls.append(("day-ahead", feeder.name, date))
        return _FakePlan(feeder.name, date, "day-ahead", 96)

    def redispatch(feeder, now, day_plan=None, **measured):
        calls.append(("intraday", feeder.name, day_plan))
        return _FakePlan(feeder.name, now.date().isoformat(), "intraday", 16)

    monkeypatch.setattr(gd, "plan_day", plan_day)
    monkeypatch.setattr(gd, "redispatch", redispatch)
    monkeypatch.setattr(gs, "_store", lambda: None)
    for name in ("xt-jingkai-industrial", "cigre-mv-der"):
        gs._FEEDERS.setdefault(name, catalog_feeder(name))
    out = gs.run_day_ahead("2024-03-22", feeders=["xt-jingkai-industrial", "cigre-mv-der"])
    assert set(out["planned"]) == {"xt-jingkai-industrial"} and out["failed"] == {}
    assert "max_e_mwh" in out["skipped"]["cigre-mv-der"]
    assert calls[0] == ("day-ahead", "xt-jingkai-industrial", "2024-03-22")
    rec = gs._PLANS[("xt-jingkai-industrial", "2024-03-22", "day-ahead")]
    intra = gs.run_intraday("2024-03-22T20:00+08:00", feeders=["xt-jingkai-industrial"])
    assert intra["planned"]["xt-jingkai-industrial"]["n_steps"] == 16
    assert calls[-1] == ("intraday", "xt-jingkai-industrial", rec)

    def broken(feeder, date):
        raise ValueError("bug")

    monkeypatch.setattr(gd, "plan_day", broken)
    with pytest.raises(gs.DispatchError, match="dispatch failed for xt-jingkai-industrial"):
        gs.run_day_ahead("2024-03-22", feeders=["xt-jingkai-industrial"])


def test_feeders_with_storage_lists_the_xiangtan_feeders_and_cigre(monkeypatch, catalog_feeder):
    from gridint.grid import catalog

    names = ("xt-county-rural", "case33bw", "cigre-mv-der")
    for name in names:
        gs._FEEDERS.setdefault(name, catalog_feeder(name))
    monkeypatch.setattr(catalog, "read_catalog", lambda *a, **k: {n: None for n in names})
    assert gs.feeders_with_storage() == ["xt-county-rural", "cigre-mv-der"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_telemetry_maintenance_rolls_up_and_trims(tmp_path, kind):
    """The job on a fresh store: 100 days of one device, 90 kept raw, all rolled up."""
    import sqlalchemy as sa

    from gridint.store import init_db, make_sessionmaker, repo, write_transaction
    from gridint.store.models import DerDevice, Telemetry, TelemetryHourly
    from tests.store.postgres import database_url

    url = database_url(kind, tmp_path)
    engine = init_db(url)
    start = datetime(2025, 3, 1, tzinfo=timezone.utc)
    with make_sessionmaker(engine)() as s, write_transaction(s):
        user = repo.create_user(s, "o", "installer")[0]
        dev = DerDevice(name="d", feeder="f", bus="b", kind="pv", rating_kw=5.0, owner_id=user.id)
        s.add(dev)
        s.flush()
        s.execute(sa.insert(Telemetry), [{"device_id": dev.id, "time": start + timedelta(hours=k),
                                          "p_kw": 1.0} for k in range(100 * 24)])
    out = gs.run_telemetry_maintenance(now="2025-06-09 01:30", database_url=url)  # +08:00
    # June, July, August on PostgreSQL, then March to May (their rows sat in DEFAULT);
    # SQLite: one table
    assert out["partitions_created"] == ([f"telemetry_partitions.p2025_0{m}" for m in (6, 7, 8, 3, 4, 5)]
                                         if kind == "postgresql" else [])
    assert out["retention"]["cut"] == "2025-03-10T17:00:00+00:00"  # 90 days before, hour
    assert out["retention"]["rows_deleted"] == 9 * 24 + 17
    with make_sessionmaker(engine)() as s:
        first = s.scalar(sa.select(sa.func.min(Telemetry.time)))
        assert first == datetime(2025, 3, 10, 17, tzinfo=timezone.utc)
        hours = s.scalar(sa.select(sa.func.count()).select_from(TelemetryHourly))
    # the trimmed hours, and the hours touched by the last three days (2025-06-05 17:30 to
    # 06-08 17:30 UTC: 17:00 .. 17:00, 73 hours) are rolled up
    assert hours == (9 * 24 + 17) + 3 * 24 + 1
    engine.dispose()
