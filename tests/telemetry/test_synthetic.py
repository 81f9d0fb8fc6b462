"""Synthetic telemetry: storage units follow a dispatch plan; registrations are accepted."""
from __future__ import annotations

import numpy as np
import pandas as pd

from gridint.telemetry.synthetic import API_FIELDS, api_body, device_bodies, simulate

FEEDER = "xt-jingkai-industrial"


def test_storage_units_follow_the_plan_and_pv_stays_physical(catalog_feeder):
    feeder = catalog_feeder(FEEDER)
    bodies = device_bodies(feeder)
    units = [b for b in bodies if b["kind"] == "storage" and "soc_percent" in b]
    assert [b["name"] for b in units] == list(feeder.net.storage["name"])
    index = pd.date_range("2025-06-01", periods=96, freq="15min", tz="Asia/Shanghai")
    p_plan = np.where((index.hour >= 11) & (index.hour < 13), 300.0, 0.0)
    soc_plan = 50 + np.cumsum(p_plan) * 0.25 / 1900 * 100
    plan = {"timestamps": [t.isoformat() for t in index[:48]],   # a plan of the morning only
            "units": [{"name": units[0]["name"], "p_kw": list(p_plan[:48]), "soc_percent": list(soc_plan[:48])}]}
    pts = simulate(feeder, bodies, index, seed=3, faults=False, gap_fraction=0.0, plans=[plan])
    mine = pd.DataFrame([p for p in pts if p["device"] == units[0]["name"]])
    assert len(mine) == 96
    planned = mine.iloc[:48]
    np.testing.assert_allclose(planned["soc_percent"], np.round(soc_plan[:48], 2))
    np.testing.assert_allclose(planned["p_kw"], p_plan[:48], atol=0.05 * 300)   # 1 % meter noise
    afternoon = mine.iloc[48:]                     # no plan: the customer-battery shape, SoC in range
    assert afternoon["soc_percent"].between(0, 100).all()
    pv = pd.DataFrame([p for p in pts if p["device"].endswith(tuple(f"-pv{i}" for i in feeder.net.sgen.index))])
    rating = {b["name"]: b["rating_kw"] for b in bodies if b["kind"] == "pv"}
    assert (pv["p_kw"] <= pv["device"].map(rating) + 1e-9).all() and (pv["p_kw"] >= 0).all()
    assert set(api_body(bodies[0])) <= set(API_FIELDS) and "sgen" not in api_body(bodies[0])
