"""Dispatch plans in the store and through the API; scheduler jobs, forecast, reliability,
map and publication endpoints of the web pages."""
from __future__ import annotations

import inspect

import pytest

from gridint import scheduler
from gridint.store import latest_dispatch_plan, save_dispatch_plan

FEEDER = "xt-jingkai-industrial"


def _record(date="2024-03-01", kind="day-ahead", mark=0.0) -> dict:
    return {"feeder": FEEDER, "date": date, "kind": kind, "n_steps": 1,
            "units": [{"name": "U1", "p_kw": [mark], "soc_percent": [50.0]}]}


def test_store_versions_per_feeder_day_and_kind(api_sqlite):
    url = str(api_sqlite.app.state.settings.database_url)
    assert latest_dispatch_plan(FEEDER, "2024-03-01", database_url=url) is None
    a = save_dispatch_plan(_record(mark=1.0), database_url=url)
    b = save_dispatch_plan(_record(kind="intraday", mark=2.0), database_url=url)
    c = save_dispatch_plan(_record(mark=3.0), database_url=url)
    assert (a["version"], b["version"], c["version"]) == (1, 2, 3)
    assert latest_dispatch_plan(FEEDER, "2024-03-01", "day-ahead", database_url=url)["units"][0]["p_kw"] == [3.0]
    assert latest_dispatch_plan(FEEDER, "2024-03-01", "intraday", database_url=url)["units"][0]["p_kw"] == [2.0]
    assert latest_dispatch_plan(FEEDER, "2024-03-02", "day-ahead", database_url=url) is None
    with pytest.raises(ValueError, match="feeder"):
        save_dispatch_plan({"date": "2024-03-01"}, database_url=url)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        save_dispatch_plan({"feeder": FEEDER, "date": "March"}, database_url=url)


def test_store_functions_match_the_scheduler_calls():
    # gridint.scheduler calls save_dispatch_plan(record) and latest_dispatch_plan(feeder, date, kind)
    src = inspect.getsource(scheduler)
    assert "store.save_dispatch_plan(record)" in src
    assert 'store.latest_dispatch_plan(feeder, date, "day-ahead")' in src
    inspect.signature(save_dispatch_plan).bind({"feeder": FEEDER})
    inspect.signature(latest_dispatch_plan).bind(FEEDER, "2024-01-01", "day-ahead")


def test_dispatch_endpoint_reads_stored_and_computes_on_demand(api_sqlite):
    api, c = api_sqlite, api_sqlite.client
    url = str(api.app.state.settings.database_url)
    save_dispatch_plan(_record(mark=7.0), database_url=url)
    r = c.get(f"/api/v1/dispatch/{FEEDER}/2024-03-01", headers=api.auth("oscar"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["version"], body["computed"], body["kind"]) == (1, False, "day-ahead")
    assert body["plan"]["units"][0]["p_kw"] == [7.0]
    assert c.get(f"/api/v1/dispatch/{FEEDER}/2024-03-01", headers=api.auth("eve")).status_code == 200
    for who in ("alice", "bob"):
        assert c.get(f"/api/v1/dispatch/{FEEDER}/2024-03-01", headers=api.auth(who)).status_code == 403
    assert c.get(f"/api/v1/dispatch/{FEEDER}/2024-03-01").status_code == 401
    assert c.get(f"/api/v1/dispatch/{FEEDER}/2024-03-02?compute=false",
                 headers=api.auth("oscar")).status_code == 404
    assert c.get(f"/api/v1/dispatch/{FEEDER}/2024-03-01?kind=intraday",
                 headers=api.auth("oscar")).status_code == 404
    assert c.get(f"/api/v1/dispatch/{FEEDER}/2024-02-30", headers=api.auth("oscar")).status_code == 422
    assert c.get("/api/v1/dispatch/no-such-feeder/2024-03-01", headers=api.auth("oscar")).status_code == 404

    # no plan stored: made (AC-verified), stored as version 1, then read back
    r = c.get(f"/api/v1/dispatch/{FEEDER}/2024-07-15", headers=api.auth("oscar"))
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["computed"] is True and first["version"] == 1
    plan = first["plan"]
    assert plan["n_steps"] == 96 and len(plan["envelope"]["vmax_pu_after"]) == 96
    assert all(len(u["p_kw"]) == 96 for u in plan["units"])
    again = c.get(f"/api/v1/dispatch/{FEEDER}/2024-07-15", headers=api.auth("eve")).json()
    assert again["computed"] is False and again["version"] == 1
    assert latest_dispatch_plan(FEEDER, "2024-07-15", database_url=url)["units"] == plan["units"]


def test_scheduler_jobs_forecast_reliability_endpoints(api_sqlite):
    api, c = api_sqlite, api_sqlite.client
    r = c.get("/api/v1/scheduler/jobs", headers=api.auth("oscar"))
    assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["jobs"] == []
    assert c.get("/api/v1/scheduler/jobs", headers=api.auth("root")).status_code == 200
    assert c.get("/api/v1/scheduler/jobs", headers=api.auth("alice")).status_code == 403

    r = c.get(f"/api/v1/forecast/{FEEDER}?date=2024-07-15", headers=api.auth("oscar"))
    assert r.status_code == 200, r.text
    f = r.json()
    assert f["n_steps"] == 96
    assert all(p10 <= p50 + 1e-9 <= p90 + 2e-9 for p10, p50, p90 in
               zip(f["pv_kw_p10"], f["pv_kw_p50"], f["pv_kw_p90"]))
    assert c.get(f"/api/v1/forecast/{FEEDER}", headers=api.auth("alice")).status_code == 403
    assert c.get(f"/api/v1/forecast/{FEEDER}?date=soon", headers=api.auth("oscar")).status_code == 422

    r = c.get(f"/api/v1/feeders/{FEEDER}/reliability", headers=api.auth("eve"))
    assert r.status_code == 200, r.text
    rel = r.json()
    assert rel["target_rs1_percent"] == pytest.approx(99.89)
    assert 0 < rel["system"]["rs1_percent"] <= 100 and rel["components"]
    assert c.get(f"/api/v1/feeders/{FEEDER}/reliability", headers=api.auth("alice")).status_code == 403


def test_map_lists_buses_without_capacity(api_sqlite):
    r = api_sqlite.client.get(f"/api/v1/feeders/{FEEDER}/map?capacity=false")
    assert r.status_code == 200
    m = r.json()
    assert len(m["buses"]) == 15 and {t["name"] for t in m["transformers"]} >= {"T01", "T06"}
    assert {e["kind"] for e in m["edges"]} == {"line", "trafo", "tie"}
    assert all(b["lon"] is not None for b in m["buses"])
    assert "zone" not in m["buses"][0]
