"""Telemetry API (issue 10): devices, JSON and CSV batches, idempotency, per-point
rejection, ownership, queries, monitoring status — on SQLite and PostgreSQL."""
from __future__ import annotations

import datetime as dt

from gridint.telemetry import to_csv

FEEDER = "xt-county-rural"
NOON = "2025-06-01T12:00:00+08:00"  # sun high in Xiangtan
DAY = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _t(minutes: int) -> str:
    return (DAY + dt.timedelta(minutes=minutes)).isoformat()


T01_LV, T02_LV = f"{FEEDER}-T01-LV", f"{FEEDER}-T02-LV"  # LV buses of transformers T01, T02


def _devices(api):
    for who, body in (("alice", {"name": "pv-a", "bus": T01_LV, "kind": "pv", "rating_kw": 10.0}),
                      ("alice", {"name": "bat-a", "bus": T01_LV, "kind": "storage", "rating_kw": 5.0,
                                 "energy_kwh": 10.0}),
                      ("oscar", {"name": "pv-b", "bus": T02_LV, "kind": "pv", "rating_kw": 20.0,
                                 "owner": "bob"})):
        r = api.client.post("/api/v1/devices", json={"feeder": FEEDER, **body}, headers=api.auth(who))
        assert r.status_code == 201, r.text


def _post(api, who, points):
    return api.client.post("/api/v1/telemetry", json={"points": points}, headers=api.auth(who))


def test_devices_registered_and_listed_per_owner(api):
    _devices(api)
    mine = api.client.get("/api/v1/devices", headers=api.auth("alice")).json()
    assert [d["name"] for d in mine] == ["bat-a", "pv-a"]
    everyone = api.client.get("/api/v1/devices", headers=api.auth("oscar")).json()
    assert {d["name"]: d["owner"] for d in everyone} == {"bat-a": "alice", "pv-a": "alice",
                                                         "pv-b": "bob"}
    # installer may not register for someone else; engineer may not register at all
    body = {"name": "x", "feeder": FEEDER, "bus": T01_LV, "kind": "pv", "rating_kw": 1.0, "owner": "bob"}
    assert api.client.post("/api/v1/devices", json=body, headers=api.auth("alice")).status_code == 403
    assert api.client.post("/api/v1/devices", json=body, headers=api.auth("eve")).status_code == 403
    dup = {"name": "pv-a", "feeder": FEEDER, "bus": T01_LV, "kind": "pv", "rating_kw": 1.0}
    assert api.client.post("/api/v1/devices", json=dup, headers=api.auth("alice")).status_code == 409


def test_batch_idempotent_out_of_order_and_bad_points_rejected_with_reasons(api):
    _devices(api)
    points = [
        {"device": "pv-a", "time": _t(15), "p_kw": 6.0, "v_pu": 1.02},          # 0 ok
        {"device": "pv-a", "time": _t(0), "p_kw": 5.5},                          # 1 ok, out of order
        {"device": "nope", "time": _t(0), "p_kw": 1.0},                          # 2 unknown
        {"device": "pv-b", "time": _t(0), "p_kw": 1.0},                          # 3 bob's
        {"device": "pv-a", "time": "2025-06-01T12:30:00", "p_kw": 1.0},         # 4 naive
        {"device": "pv-a", "time": _t(30), "p_kw": 12.5},                        # 5 > 1.2 x 10
        {"device": "pv-a", "time": _t(45), "p_kw": -0.5},                        # 6 PV < 0
        {"device": "pv-a", "time": "2025-06-01T01:00:00+08:00", "p_kw": 3.0},   # 7 night
        {"device": "bat-a", "time": _t(0), "p_kw": -4.0, "soc_percent": 55.0},  # 8 ok
        {"device": "bat-a", "time": _t(15), "p_kw": 7.0, "soc_percent": 50.0},  # 9 |p| > 6
        {"device": "bat-a", "time": _t(30), "p_kw": 1.0, "soc_percent": 101.0}, # 10 SoC
        {"device": "pv-a", "time": _t(60), "p_kw": 1.0, "v_pu": 1.7},           # 11 v_pu
        {"device": "pv-a", "time": "2025-06-01T02:00:00+08:00", "p_kw": 0.0},   # 12 ok (night, 0)
    ]
    r = _post(api, "alice", points)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["accepted"] == 4 and out["duplicates"] == 0
    reasons = {x["index"]: x["reason"] for x in out["rejected"]}
    assert sorted(reasons) == [2, 3, 4, 5, 6, 7, 9, 10, 11]
    assert "unknown device" in reasons[2]
    assert "not yours" in reasons[3]
    assert "time zone" in reasons[4]
    assert "1.2 x rating" in reasons[5] and "< 0" in reasons[6]
    assert "night" in reasons[7] and "|p_kw|" in reasons[9]
    assert "soc_percent" in reasons[10] and "v_pu" in reasons[11]
    # re-sent: nothing stored twice
    again = _post(api, "alice", points).json()
    assert again["accepted"] == 0 and again["duplicates"] == 4
    # late point (before the others) accepted
    late = _post(api, "alice", [{"device": "pv-a", "time": _t(-60), "p_kw": 4.0}]).json()
    assert late["accepted"] == 1
    got = api.client.get("/api/v1/telemetry", params={"device": "pv-a"},
                         headers=api.auth("alice")).json()
    times = [dt.datetime.fromisoformat(g["time"]) for g in got]
    assert times == sorted(times) and len(times) == 4
    assert got[-1]["v_pu"] == 1.02


def test_operator_sends_for_any_device_engineer_not_at_all(api):
    _devices(api)
    r = _post(api, "oscar", [{"device": "pv-b", "time": NOON, "p_kw": 10.0}])
    assert r.json()["accepted"] == 1
    assert _post(api, "eve", [{"device": "pv-b", "time": NOON, "p_kw": 1.0}]).status_code == 403
    assert api.client.post("/api/v1/telemetry", json={"points": []}).status_code == 401


def test_csv_batch(api):
    _devices(api)
    text = to_csv([{"device": "pv-a", "time": _t(0), "p_kw": 5.0, "v_pu": 1.01},
                   {"device": "bat-a", "time": _t(0), "p_kw": 2.0, "soc_percent": 40.0},
                   {"device": "pv-a", "time": _t(15), "p_kw": "abc"}])
    h = api.auth("alice", **{"Content-Type": "text/csv"})
    out = api.client.post("/api/v1/telemetry", content=text, headers=h).json()
    assert out["accepted"] == 2
    assert out["rejected"] == [{"index": 2, "reason": "p_kw must be a number, got 'abc'"}]
    bad = api.client.post("/api/v1/telemetry", content="a,b\n1,2\n", headers=h)
    assert bad.status_code == 422 and "header" in bad.text


def test_bad_bodies_and_limits(make_api):
    api = make_api("sqlite")
    api.app.state.settings.telemetry_max_points = 3
    _devices(api)
    pts = [{"device": "pv-a", "time": _t(15 * i), "p_kw": 1.0} for i in range(4)]
    assert _post(api, "alice", pts).status_code == 413
    h = api.auth("alice", **{"Content-Type": "application/json"})
    assert api.client.post("/api/v1/telemetry", content=b"{", headers=h).status_code == 422
    assert api.client.post("/api/v1/telemetry", json={"points": 1}, headers=h).status_code == 422
    huge = b'{"points": [' + b" " * (api.app.state.settings.telemetry_max_body_bytes + 1) + b"]}"
    assert api.client.post("/api/v1/telemetry", content=huge, headers=h).status_code == 413


def test_queries_by_feeder_period_and_owner(api):
    _devices(api)
    _post(api, "alice", [{"device": "pv-a", "time": _t(15 * i), "p_kw": 1.0} for i in range(8)])
    _post(api, "bob", [{"device": "pv-b", "time": _t(15 * i), "p_kw": 2.0} for i in range(8)])
    q = {"feeder": FEEDER, "start": _t(30), "end": _t(90)}
    rows = api.client.get("/api/v1/telemetry", params=q, headers=api.auth("oscar")).json()
    assert len(rows) == 8 and {r["device"] for r in rows} == {"pv-a", "pv-b"}
    mine = api.client.get("/api/v1/telemetry", params=q, headers=api.auth("alice")).json()
    assert {r["device"] for r in mine} == {"pv-a"} and len(mine) == 4
    naive = api.client.get("/api/v1/telemetry", params={"feeder": FEEDER,
                                                        "start": "2025-06-01T12:00:00"},
                           headers=api.auth("oscar"))
    assert naive.status_code == 422 and "time zone" in naive.text


def test_status_lists_silent_and_out_of_limits(api):
    _devices(api)
    _post(api, "alice", [{"device": "pv-a", "time": _t(0), "p_kw": 5.0, "v_pu": 1.09},
                         {"device": "bat-a", "time": _t(-120), "p_kw": 0.0, "v_pu": 1.0}])
    _post(api, "bob", [{"device": "pv-b", "time": _t(0), "p_kw": 5.0, "v_pu": 1.0}])
    params = {"feeder": FEEDER, "silent_intervals": 4, "now": _t(15)}
    st = api.client.get("/api/v1/telemetry/status", params=params, headers=api.auth("oscar")).json()
    assert st["devices_total"] == 3
    flagged = {d["device"]: d for d in st["devices"]}
    assert set(flagged) == {"pv-a", "bat-a"}
    assert flagged["pv-a"]["out_of_limits"] and not flagged["pv-a"]["silent"]
    assert flagged["bat-a"]["silent"] and not flagged["bat-a"]["out_of_limits"]
    later = api.client.get("/api/v1/telemetry/status",
                           params={**params, "silent_intervals": 20},
                           headers=api.auth("oscar")).json()
    assert {d["device"] for d in later["devices"]} == {"pv-a"}


def test_simulator_feeds_the_api_and_faults_are_caught(tmp_path):
    from sims.telemetry_sim import batches, devices_of, feed, simulate

    feeder, bodies = devices_of(FEEDER, 6)
    points = simulate(feeder, bodies, days=1)
    full = 96 * len(bodies) - 56  # one device silent from 10:00
    assert 0.9 * full < len(points) < full  # ~3 % gaps
    out = feed(f"sqlite:///{tmp_path / 'sim.db'}", bodies, batches(points, 300), "csv",
               "2025-06-01T12:30:00+08:00")
    assert out["accepted"] + out["duplicates"] + sum(out["rejected"].values()) == out["points"]
    assert out["duplicates"] >= 150  # the first batch (night: faulty points rejected) re-sent
    assert out["rejected"].get("night", 0) >= 2 * 30  # two stuck meters + one night generator
    assert out["silent"] == 1 and out["devices"] == len(bodies)


def test_latest_point_per_device(api):
    _devices(api)
    _post(api, "alice", [{"device": "pv-a", "time": _t(15), "p_kw": 6.0, "v_pu": 1.03},
                         {"device": "bat-a", "time": _t(30), "p_kw": 2.0, "soc_percent": 61.0},
                         {"device": "bat-a", "time": _t(0), "p_kw": -1.0, "soc_percent": 55.0}])
    _post(api, "alice", [{"device": "pv-a", "time": _t(-60), "p_kw": 4.0}])  # late, older
    url = "/api/v1/telemetry/latest"
    got = api.client.get(url, params={"feeder": FEEDER}, headers=api.auth("eve"))
    assert got.status_code == 200, got.text
    rows = {r["device"]: r for r in got.json()}
    assert list(rows) == ["bat-a", "pv-a", "pv-b"]  # by name, pv-b never sent
    assert rows["bat-a"]["soc_percent"] == 61.0 and rows["bat-a"]["p_kw"] == 2.0
    assert rows["bat-a"]["energy_kwh"] == 10.0 and rows["bat-a"]["kind"] == "storage"
    assert dt.datetime.fromisoformat(rows["bat-a"]["time"]) == DAY + dt.timedelta(minutes=30)
    assert rows["pv-a"]["v_pu"] == 1.03 and rows["pv-a"]["p_kw"] == 6.0
    assert rows["pv-b"]["time"] is None and rows["pv-b"]["p_kw"] is None
    # as of an earlier instant; an installer sees only its own devices
    early = api.client.get(url, params={"feeder": FEEDER, "now": _t(10)}, headers=api.auth("alice"))
    rows = {r["device"]: r for r in early.json()}
    assert list(rows) == ["bat-a", "pv-a"]
    assert rows["bat-a"]["soc_percent"] == 55.0 and rows["pv-a"]["p_kw"] == 4.0
    other = api.client.get(url, params={"feeder": "xt-yuetang-urban"}, headers=api.auth("oscar"))
    assert other.status_code == 200 and other.json() == []
    naive = api.client.get(url, params={"feeder": FEEDER, "now": "2025-06-01T12:00:00"},
                           headers=api.auth("oscar"))
    assert naive.status_code == 422 and "time zone" in naive.text
    assert api.client.get(url, params={"feeder": FEEDER}).status_code == 401
    assert api.client.get(url, headers=api.auth("oscar")).status_code == 422  # feeder required


def _register(api, who="alice", **body):
    base = {"name": "dev-x", "feeder": FEEDER, "bus": T01_LV, "kind": "pv", "rating_kw": 5.0}
    return api.client.post("/api/v1/devices", json={**base, **body}, headers=api.auth(who))


def _reason(r) -> tuple[str, str]:
    assert r.status_code == 422, r.text
    (d,) = r.json()["detail"]
    return d["field"], d["reason"]


def test_registration_checked_against_the_grid_model(api_sqlite):
    api = api_sqlite
    field, reason = _reason(_register(api, feeder="xt-nowhere"))
    assert field == "feeder" and "'xt-nowhere' is not a catalog feeder" in reason
    assert "xt-county-rural" in reason and "case33bw" in reason  # the allowed values
    field, reason = _reason(_register(api, bus="X"))
    assert field == "bus" and reason.startswith("bus: 'X' is not a bus of xt-county-rural (")
    assert f"e.g. {FEEDER}-N01, {FEEDER}-N02" in reason
    _, reason = _reason(_register(api, bus="N07"))  # a bus name without the feeder prefix
    assert f"did you mean '{FEEDER}-N07'?" in reason
    # a bus of a catalog feeder, but of another one
    _, reason = _reason(_register(api, bus="xt-yuetang-urban-N01"))
    assert "is not a bus of xt-county-rural" in reason
    # behind the normally-open tie, the supply point: buses of the net, not of the feeder
    _, reason = _reason(_register(api, bus=f"{FEEDER}-NBR"))
    assert "behind the normally-open tie (zone xt-county-rural-neighbour)" in reason
    _, reason = _reason(_register(api, bus=f"{FEEDER}-TIE"))
    assert "neighbour" in reason
    _, reason = _reason(_register(api, bus=f"{FEEDER}-SUB"))
    assert "ext_grid" in reason
    # a storage device named like a storage row of the net must sit at that row's bus
    field, reason = _reason(_register(api, name="T05-ESS-C", kind="storage", energy_kwh=40.0))
    assert field == "bus" and f"storage 'T05-ESS-C' of {FEEDER} sits at bus '{FEEDER}-T05-LV'" in reason
    r = _register(api, name="T05-ESS-C", kind="storage", energy_kwh=40.0, bus=f"{FEEDER}-T05-LV")
    assert r.status_code == 201, r.text
    # a transformer name stands for its LV bus, and the bus name is stored (as in requests)
    r = _register(api, name="pv-t", bus="T02")
    assert r.status_code == 201 and r.json()["bus"] == T02_LV
    # PV devices are reference systems: any name, any connection bus (10 kV too)
    r = _register(api, name="T01-PV-RES", bus=f"{FEEDER}-N05")
    assert r.status_code == 201, r.text
    names = [d["name"] for d in api.client.get("/api/v1/devices", headers=api.auth("alice")).json()]
    assert names == ["T01-PV-RES", "T05-ESS-C", "pv-t"]


def test_times_in_the_configured_time_zone(api_sqlite):
    api = api_sqlite
    _devices(api)
    _post(api, "alice", [{"device": "pv-a", "time": "2025-06-01T04:00:00Z", "p_kw": 5.0}])
    (row,) = api.client.get("/api/v1/telemetry", params={"device": "pv-a"},
                            headers=api.auth("alice")).json()
    assert row["time"] == "2025-06-01T12:00:00+08:00"  # Asia/Shanghai, ISO 8601 with offset
    st = api.client.get("/api/v1/telemetry/status",
                        params={"feeder": FEEDER, "now": "2025-06-01T06:00:00Z"},
                        headers=api.auth("oscar")).json()
    assert st["now"] == "2025-06-01T14:00:00+08:00" and st["silent_since"] == "2025-06-01T13:00:00+08:00"
    pv = next(d for d in st["devices"] if d["device"] == "pv-a")
    assert pv["time"] == "2025-06-01T12:00:00+08:00"
    assert "no data since 2025-06-01T12:00:00+08:00" in pv["reasons"][0]


def test_hourly_rollup_through_the_api_matches_pandas(api):
    """GET /telemetry/hourly after the roll-up equals a pandas resample of the points sent."""
    import pandas as pd

    from gridint.telemetry import rollup

    _devices(api)
    pts = [{"device": "bat-a", "time": _t(15 * k), "p_kw": p, "soc_percent": soc, "v_pu": v}
           for k, (p, soc, v) in enumerate([(2.0, 40.0, 1.01), (-1.5, 45.0, 1.02), (4.0, 38.0, 0.99),
                                            (0.5, 47.0, 1.00), (-3.0, 50.0, 1.03), (1.0, 44.0, 1.02)])
           if k != 2] + [{"device": "pv-b", "time": _t(0), "p_kw": 8.0}]
    assert _post(api, "oscar", pts).json()["accepted"] == len(pts)
    with api.app.state.sessions() as s:
        rollup(s, DAY - dt.timedelta(hours=1), DAY + dt.timedelta(hours=3))
    got = api.client.get("/api/v1/telemetry/hourly", params={"feeder": FEEDER}, headers=api.auth("alice"))
    assert got.status_code == 200, got.text
    rows = got.json()
    assert {r["device"] for r in rows} == {"bat-a"}               # bob's pv-b is not alice's
    df = pd.DataFrame([p for p in pts if p["device"] == "bat-a"])
    df["time"] = pd.to_datetime(df["time"])
    ref = df.set_index("time").resample("1h")
    want = pd.DataFrame({"n_points": ref["p_kw"].count(), "p_kw_mean": ref["p_kw"].mean(),
                         "p_kw_min": ref["p_kw"].min(), "p_kw_max": ref["p_kw"].max(),
                         "e_kwh": ref["p_kw"].sum() * 0.25, "soc_percent_last": ref["soc_percent"].last(),
                         "v_pu_min": ref["v_pu"].min(), "v_pu_max": ref["v_pu"].max()})
    assert len(rows) == len(want) == 2
    for r, (hour, w) in zip(rows, want.iterrows()):
        assert pd.Timestamp(r["hour"]) == hour and r["hour"].endswith("+08:00")
        for k, v in w.items():
            assert abs(r[k] - v) < 1e-9, (k, r[k], v)
    assert api.client.get("/api/v1/telemetry/hourly", headers=api.auth("alice")).status_code == 422
