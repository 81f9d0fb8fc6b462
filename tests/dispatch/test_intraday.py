"""Intraday re-dispatch from measured SoC, to the end of the day."""

from __future__ import annotations

import numpy as np

from gridint.dispatch import redispatch

from tests.dispatch.conftest import DAY


def test_redispatch_from_measured_soc_keeps_the_day_plans_end(ov_plan, ov_copy):
    _, day_plan = ov_plan
    feeder, _ = ov_copy()
    names = list(day_plan.units.names)
    k = names.index("xt-county-rural-ESS-U1")
    measured = {n: float(v) for n, v in zip(names, day_plan.soc_percent[47])}
    measured[names[k]] = max(measured[names[k]] - 25.0, 20.0)       # the battery did less than planned
    plan = redispatch(feeder, f"{DAY}T12:07:00+08:00", measured_soc=measured, day_plan=day_plan, pv="profile")
    assert plan.kind == "intraday" and len(plan.time_index) == 48
    assert plan.time_index[0].isoformat() == f"{DAY}T12:00:00+08:00"
    np.testing.assert_allclose(plan.units.soc_init_percent, [measured[n] for n in names])
    np.testing.assert_allclose(plan.soc_percent[-1], day_plan.soc_percent[-1], atol=1e-4)
    assert plan.after["violations"] == 0
    d = plan.to_dict()
    assert d["n_steps"] == 48 and len(d["units"][0]["p_kw"]) == 48


def test_redispatch_without_telemetry_takes_the_plans_soc(ov_plan, ov_copy):
    _, day_plan = ov_plan
    feeder, _ = ov_copy()
    plan = redispatch(feeder, f"{DAY}T18:00+08:00", day_plan=day_plan.to_dict(), pv="profile")
    np.testing.assert_allclose(plan.units.soc_init_percent, day_plan.soc_percent[71], atol=1e-3)
    assert len(plan.time_index) == 24


def test_redispatch_with_the_intraday_forecast(ov_copy):
    feeder, _ = ov_copy()
    plan = redispatch(feeder, f"{DAY}T10:00+08:00")
    assert len(plan.time_index) == 56
    assert "intraday PV forecast issued 2024-03-22T10:00:00+08:00" in plan.source
    assert plan.issue_time.isoformat() == f"{DAY}T10:00:00+08:00"
    assert set(plan.scenarios) == {"p10", "p90"}
    assert plan.reserve_ok


def test_last_quarter_hour_reaches_what_it_can(ov_plan, ov_copy):
    _, day_plan = ov_plan
    feeder, _ = ov_copy()
    names = list(day_plan.units.names)
    measured = {n: 30.0 for n in names}                 # far below the planned 50 % end
    plan = redispatch(feeder, f"{DAY}T23:45+08:00", measured_soc=measured, day_plan=day_plan, pv="profile")
    assert len(plan.time_index) == 1
    u = plan.units
    reach = 30.0 + 100.0 * 0.25 * u.p_charge_kw * u.eff_charge / u.e_kwh
    np.testing.assert_allclose(plan.soc_percent[0], np.minimum(reach, day_plan.soc_percent[-1]), atol=1e-4)
