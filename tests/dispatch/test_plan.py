"""Day-ahead plan: over-voltage removed (AC-checked, confirmed by pandapower runpp),
SoC physics, limits, reserve, curtailment, scenarios, record fields."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pandapower as pp
import pytest

from gridint.config import get_settings
from gridint.dispatch import CLI_FIELDS, day_inputs, dispatch, plan_day
from gridint.errors import DispatchError, FeederError

from tests.dispatch.conftest import DAY


def _runpp_vm(net, values: dict, steps) -> list[pd.Series]:
    """pandapower's own power flow of some steps of the planned element values."""
    work = copy.deepcopy(net)
    out = []
    for step in steps:
        for key, df in values.items():
            table, col = key.split("_", 1)
            work[table].loc[df.columns, col] = df.iloc[step].to_numpy()
        pp.runpp(work, init="auto", tolerance_mva=1e-9, calculate_voltage_angles=True, max_iteration=30,
                 numba=False)
        out.append(work.res_bus.vm_pu.copy())
    return out


def test_over_voltage_day_is_fixed_by_storage(ov_plan):
    feeder, plan = ov_plan
    s = get_settings()
    assert plan.before["violations_by_kind"]["voltage"] > 0
    assert plan.before["vmax_pu"] > s.vm_max_pu
    assert plan.after["violations"] == 0, plan.residual
    assert plan.after["vmax_pu"] <= s.vm_max_pu
    assert plan.residual == []
    assert plan.converged
    # storage did it, curtailment (the last resort) was not needed
    assert plan.curtailment_kwh == pytest.approx(0.0, abs=1e-6)
    assert np.clip(plan.p_kw, 0, None).sum() * 0.25 > 100.0
    assert plan.reserve_ok


def test_ac_check_agrees_with_pandapower_runpp(ov_plan):
    feeder, plan = ov_plan
    env = plan.envelope()
    values = plan.element_values()
    steps = sorted({int(np.argmax(env["vmax_pu_before"])), int(np.argmax(env["vmax_pu_after"])),
                    int(np.argmax(np.abs(plan.p_kw).sum(axis=1))), 8})
    bus_index = plan._res_after.compiled.bus_index
    for k, vm in zip(steps, _runpp_vm(feeder.net, values, steps)):
        vm_ref = vm.reindex(bus_index).to_numpy()
        assert np.nanmax(np.abs(vm_ref - plan._res_after.vm_pu[k])) < 1e-8, k
        assert np.nanmax(vm_ref) <= get_settings().vm_max_pu


def test_before_case_agrees_with_pandapower_runpp(ov_plan):
    feeder, plan = ov_plan
    values = {k: v for k, v in plan._inputs.values.items()}
    k = int(np.argmax(plan.envelope()["vmax_pu_before"]))
    vm_ref = _runpp_vm(feeder.net, values, [k])[0]
    assert vm_ref.max() > get_settings().vm_max_pu
    bus_index = plan._res_before.compiled.bus_index
    assert np.nanmax(np.abs(vm_ref.reindex(bus_index).to_numpy() - plan._res_before.vm_pu[k])) < 1e-8


def test_soc_follows_power_and_efficiency(ov_plan):
    _, plan = ov_plan
    u = plan.units
    e = u.soc_init_percent / 100.0 * u.e_kwh
    for k in range(len(plan.time_index)):  # independent integration of the plan's power
        p = plan.p_kw[k]
        e = e + 0.25 * (np.clip(p, 0, None) * u.eff_charge - np.clip(-p, 0, None) / u.eff_discharge)
        np.testing.assert_allclose(100.0 * e / u.e_kwh, plan.soc_percent[k], atol=1e-5)
    # daily cycle: back to the initial SoC; window and power limits kept
    np.testing.assert_allclose(plan.soc_percent[-1], u.soc_init_percent, atol=1e-5)
    assert (plan.soc_percent >= u.soc_min_percent - 1e-6).all()
    assert (plan.soc_percent <= u.soc_max_percent + 1e-6).all()
    assert (plan.p_kw <= u.p_charge_kw + 1e-6).all() and (-plan.p_kw <= u.p_discharge_kw + 1e-6).all()
    floor = 100.0 * u.floor_kwh / u.e_kwh
    assert (plan.soc_percent >= floor - 1e-5).all()


def test_summary_has_exactly_the_issue_fields_and_is_json(ov_plan):
    _, plan = ov_plan
    d = plan.summary()
    assert tuple(d) == CLI_FIELDS
    assert d["n_steps"] == 96 and d["date"] == DAY
    for unit in d["units"]:
        assert set(unit) == {"name", "p_kw", "soc_percent"}
        assert len(unit["p_kw"]) == len(unit["soc_percent"]) == 96
    full = json.loads(json.dumps(plan.to_dict()))
    assert set(CLI_FIELDS) <= set(full)
    assert len(full["timestamps"]) == 96 and full["timestamps"][0] == f"{DAY}T00:00:00+08:00"
    assert {"p10", "p90"}.isdisjoint(full["scenarios"])  # profile PV: P50 only
    assert full["envelope"]["vmax_pu_before"][0] == pytest.approx(plan.envelope()["vmax_pu_before"].iloc[0])


def test_curtailment_is_the_last_resort_and_reported_per_pv_system(ov_copy):
    """Substation at 1.05 pu: storage alone is not enough, so PV is curtailed, per system."""
    feeder, inputs = ov_copy()
    feeder.net.ext_grid.loc[feeder.net.ext_grid["role"] == "substation", "vm_pu"] = 1.05
    plan = dispatch(feeder, inputs)
    assert plan.before["violations_by_kind"]["voltage"] > 0
    assert plan.after["violations"] == 0, plan.residual[:3]
    assert plan.curtailment_kwh > 0
    rows = plan.to_dict()["curtailment"]
    assert rows and all(r["name"] in set(feeder.net.sgen["name"]) for r in rows)
    assert sum(r["kwh"] for r in rows) == pytest.approx(plan.curtailment_kwh, rel=1e-6, abs=1e-3)
    # the utility battery worked first: it was charged close to its window
    u = list(plan.units.names).index("xt-county-rural-ESS-U1")
    assert plan.soc_percent[:, u].max() > 85.0


def test_residual_violation_is_reported_with_its_reason(ov_copy):
    """Low substation voltage at the evening peak: the batteries cannot lift every bus."""
    feeder, inputs = ov_copy()
    net = feeder.net
    net.ext_grid.loc[net.ext_grid["role"] == "substation", "vm_pu"] = 0.95
    plan = dispatch(feeder, inputs)
    assert plan.before["violations_by_kind"]["voltage"] > 0
    assert plan.after["violations"] > 0
    assert plan.after["violations"] < plan.before["violations"]
    assert plan.after["vmin_pu"] > plan.before["vmin_pu"]
    assert len(plan.residual) == plan.after["violations"]
    reasons = pd.Series([r["reason"] for r in plan.residual]).value_counts()
    assert reasons.index[0] == "not enough storage power or energy near the bus to raise the voltage"
    assert all(r["kind"] == "voltage" and r["value"] < r["limit"] for r in plan.residual)
    assert not plan.converged


def test_reserve_kept_and_reported_when_the_start_is_below_it(ov_copy):
    feeder, inputs = ov_copy()
    plan = dispatch(feeder, inputs, initial_soc={"T01-ESS-C": 12.0})
    k = list(plan.units.names).index("T01-ESS-C")
    units_floor = 100.0 * plan.units.floor_kwh[k] / plan.units.e_kwh[k]
    assert units_floor > 12.0
    assert not plan.reserve_ok
    short = {r["name"]: r for r in plan.reserve_short}
    assert set(short) == {"T01-ESS-C"} and short["T01-ESS-C"]["steps_below"] >= 1
    # it recharges to the reserve as fast as it can and ends there
    first_ok = int(np.argmax(plan.soc_percent[:, k] >= units_floor - 1e-6))
    assert (plan.soc_percent[first_ok:, k] >= units_floor - 1e-5).all()
    assert plan.soc_percent[-1, k] == pytest.approx(units_floor, abs=1e-4)


def test_forecast_plan_is_robust_against_p90(ov_copy):
    """Default path: day-ahead forecast, one battery schedule for P10/P50/P90."""
    feeder, _ = ov_copy()
    plan = plan_day(feeder, DAY)
    sc = plan.scenarios
    assert set(sc) == {"p10", "p90"} and all(v["planned"] for v in sc.values())
    assert sc["p90"]["pv_kwh"] > sc["p10"]["pv_kwh"]
    assert sc["p90"]["without_plan"]["violations"] > 0
    assert sc["p90"]["with_plan"]["violations"] == 0
    assert plan.after["violations"] == 0
    assert plan.issue_time.isoformat() == "2024-03-21T12:00:00+08:00"


def test_checked_only_scenarios_when_not_robust(ov_copy):
    feeder, _ = ov_copy()
    inputs = day_inputs(feeder, DAY)
    plan = dispatch(feeder, inputs, robust=False)
    assert set(plan.scenarios) == {"p10", "p90"}
    assert not any(v["planned"] for v in plan.scenarios.values())
    assert plan.lp["scenarios"] == ["p50"]


def test_no_storage_and_bad_inputs_are_clear_errors(catalog_feeder):
    with pytest.raises(DispatchError, match="no in-service storage"):
        plan_day(catalog_feeder("case33bw"), DAY, pv="profile")
    with pytest.raises(FeederError, match="max_e_mwh"):
        plan_day(catalog_feeder("cigre-mv-der"), DAY, pv="profile")
    feeder = catalog_feeder("xt-jingkai-industrial")
    with pytest.raises(DispatchError, match="YYYY-MM-DD"):
        plan_day(feeder, "22/03/2024")
    with pytest.raises(FeederError, match="outside \\[0, 100\\]"):
        plan_day(feeder, DAY, pv="profile", initial_soc={"T03-ESS-C": 140})
    with pytest.raises(FeederError, match="unknown storage unit"):
        plan_day(feeder, DAY, pv="profile", initial_soc={"nope": 40})
