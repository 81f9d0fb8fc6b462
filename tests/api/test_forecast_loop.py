"""GET /api/v1/forecast/{feeder}?horizon=intraday starts from the feeder's measured PV."""
from __future__ import annotations

import pandas as pd

FEEDER = "xt-jingkai-industrial"


def test_intraday_forecast_uses_the_feeders_telemetry(api_sqlite, catalog_feeder):
    api, c = api_sqlite, api_sqlite.client
    net = catalog_feeder(FEEDER).net
    url = f"/api/v1/forecast/{FEEDER}?date=2024-07-15&horizon=intraday"
    before = c.get(url, headers=api.auth("oscar"))
    assert before.status_code == 200, before.text
    assert before.json()["history"] == "weather model"
    assert before.json()["issue_time"].startswith("2024-07-15T10:00")
    # two reference systems report 20 % of their rating from 06:00 to 10:00
    for k, bus in enumerate(net.bus["name"].iloc[[3, 5]]):
        r = c.post("/api/v1/devices", json={"name": f"ref-{k}", "feeder": FEEDER, "bus": str(bus),
                                             "kind": "pv", "rating_kw": 100.0, "owner": "alice"},
                   headers=api.auth("oscar"))
        assert r.status_code == 201, r.text
    steps = pd.date_range("2024-07-15 06:00", "2024-07-15 10:00", freq="15min", inclusive="left",
                          tz="Asia/Shanghai")
    points = [{"device": f"ref-{k}", "time": t.isoformat(), "p_kw": 20.0} for t in steps for k in (0, 1)]
    r = c.post("/api/v1/telemetry", json={"points": points}, headers=api.auth("alice"))
    assert r.status_code == 200 and r.json()["accepted"] == len(points), r.text
    after = c.get(url, headers=api.auth("oscar")).json()
    assert after["history"] == "measured" and after["measured_steps"] == 16
    # a dull morning measured: the next hour is forecast well below the weather model's
    assert sum(after["pv_kw_p50"][:4]) < 0.6 * sum(before.json()["pv_kw_p50"][:4])
