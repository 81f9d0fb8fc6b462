"""Rules engine: validity, voltage level, AC-verified technical fit, counter-offers.

Independent references: every counter-offer is re-checked on every step of the
year with a plain stacked AC run, and a decision's binding step is re-solved
with pandapower runpp."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from gridint.config import get_settings
from gridint.hosting import Site
from gridint.hosting.engine import _Study
from gridint.interconnection import QueuedPV, RequestInvalid, evaluate, parse_request
from gridint.interconnection.rules import _context, voltage_level

FEEDER = "xt-county-rural"


def body(**kw):
    b = dict(feeder=FEEDER, bus="T12", category="residential_natural_person",
             mode="full_export", ac_kw=20.0)
    b.update(kw)
    return b


@pytest.fixture(scope="module")
def ctx():
    return _context(FEEDER)


@pytest.fixture(scope="module")
def t12_hc(ctx):
    """HC at T12's LV bus from the hosting study (an independent path: bracketing)."""
    from gridint.hosting import feeder_hosting_capacity

    res = feeder_hosting_capacity(FEEDER, buses=["xt-county-rural-T12-LV"])
    return res.buses[0]["hc_kw"]


def _fits_every_step(ctx, site, x_kw, ahead_kw=0.0):
    """Plain AC check of every step of the year (no screening, no bounds)."""
    p = ctx.p.copy()
    col = site.cols[0]
    p[:, col] += ahead_kw / 1000.0 * ctx.shape
    study = _Study(ctx.c, ctx.p, ctx.q, ctx.shape, ctx.tindex)
    if ahead_kw:
        study = _Study(ctx.c, p, ctx.q, ctx.shape, ctx.tindex)
    steps = np.arange(study.n_steps)
    (r,) = study.run_trials([(site, x_kw, steps)])
    return study.verdict(r, steps)[0]


@pytest.mark.parametrize("bad, field", [
    ({"ac_kw": None}, "ac_kw"), ({"ac_kw": "20"}, "ac_kw"), ({"ac_kw": -1}, "ac_kw"),
    ({"ac_kw": float("nan")}, "ac_kw"), ({"ac_kw": 1e9}, "ac_kw"), ({"bus": ""}, "bus"),
    ({"category": "farmer"}, "category"), ({"mode": "sell"}, "mode"),
    ({"power_factor": 0.5}, "power_factor"), ({"volt_var": "yes"}, "volt_var"),
    ({"battery_kw": 5}, "battery_kwh"), ({"dc_kwp": 100}, "dc_kwp"), ({"colour": 1}, "colour"),
])
def test_parse_request_names_the_field(bad, field):
    with pytest.raises(RequestInvalid) as e:
        parse_request(body(**bad))
    assert e.value.field == field


def test_voltage_level_boundaries():
    assert [voltage_level(x) for x in (8, 8.01, 400, 400.1, 6000, 6000.1)] == [
        "220 V", "380 V", "380 V", "10 kV", "10 kV", "35 kV"]


@pytest.mark.parametrize("category, mode, ok", [
    ("residential_natural_person", "full_export", True),
    ("residential_non_natural_person", "surplus_export", True),
    ("general_ci", "full_export", False), ("general_ci", "surplus_export", True),
    ("large_ci", "surplus_export", False), ("large_ci", "full_self_consumption", True),
])
def test_category_mode_rules(category, mode, ok):
    d = evaluate(parse_request(body(category=category, mode=mode, ac_kw=10)))
    assert (d.decision != "invalid") == ok
    if not ok:
        assert d.reasons[0].rule == "validity.mode"


def test_level_and_referral():
    d = evaluate(parse_request(body(ac_kw=500)))
    assert d.decision == "invalid" and d.reasons[0].rule == "validity.bus" and "10 kV" in d.reasons[0].value
    d = evaluate(parse_request(body(ac_kw=7000, bus="xt-county-rural-N10", category="large_ci",
                                    mode="full_self_consumption")))
    assert d.decision == "referred" and d.voltage_level == "35 kV"
    d = evaluate(parse_request(body(feeder="nowhere")))
    assert d.decision == "invalid" and d.reasons[0].rule == "validity.feeder"


def test_fitting_request_is_approved_and_bigger_one_queued(ctx, t12_hc):
    ok = evaluate(parse_request(body(ac_kw=round(0.95 * t12_hc, 1))))
    assert ok.decision == "approved"
    assert ok.max_kw_now == pytest.approx(t12_hc, abs=max(1.0, 0.006 * t12_hc))
    big = evaluate(parse_request(body(ac_kw=round(1.5 * t12_hc, 1))))
    assert big.decision == "queued"
    rule = big.reasons[-1]
    assert rule.rule in ("technical.voltage", "technical.thermal", "technical.reverse_power")
    assert rule.element and rule.time


def test_counter_offers_fit_on_every_step(ctx, t12_hc):
    ac = round(1.5 * t12_hc, 1)
    d = evaluate(parse_request(body(ac_kw=ac)))
    offers = {o.kind: o for o in d.counter_offers}
    assert {"max_kw", "export_limit_kw", "battery"} <= set(offers)
    col = np.array([ctx.column("T12")])
    w = np.array([1.0])
    assert _fits_every_step(ctx, Site("a", col, w), offers["max_kw"].value)
    e = offers["export_limit_kw"].value
    assert _fits_every_step(ctx, Site("b", col, w, export_limit_fraction=e / ac), ac)
    # and it is the largest limit (to the search resolution)
    assert not _fits_every_step(ctx, Site("b", col, w, export_limit_fraction=(e + 0.1 * ac) / ac), ac)
    b = offers["battery"].value
    assert _fits_every_step(ctx, Site("c", col, w, battery_kw=b["battery_kw"],
                                      battery_kwh=b["battery_kwh"]), ac)


def test_queue_ahead_takes_capacity(ctx, t12_hc):
    req = parse_request(body(ac_kw=round(0.5 * t12_hc, 1)))
    assert evaluate(req).decision == "approved"
    ahead = [QueuedPV("xt-county-rural-T12-LV", round(0.7 * t12_hc, 1), "approved", 1)]
    d = evaluate(req, ahead=ahead)
    assert d.decision in ("queued", "approved_with_conditions")
    assert d.max_kw_now < 0.5 * t12_hc


def test_self_consumption_needs_no_capacity():
    d = evaluate(parse_request(body(ac_kw=300, category="large_ci", mode="full_self_consumption")))
    assert d.decision == "approved_with_conditions"
    assert d.conditions == {"anti_reverse_power_relay": True}


def test_binding_step_against_pandapower(ctx, t12_hc):
    """The queued request's binding step solved with runpp breaks the limit named;
    the approved one at the same step does not."""
    s = get_settings()
    big = evaluate(parse_request(body(ac_kw=round(1.5 * t12_hc, 1))))
    reason = big.reasons[-1]
    k = ctx.tindex.get_loc(pd.Timestamp(reason.time))
    prof = ctx.feeder.profiles
    lv_bus = int(ctx.c.bus_index[ctx.column("T12")])

    def run(x_kw):
        net = copy.deepcopy(ctx.feeder.net)
        for key, df in prof.values.items():
            table, col = key.split("_", 1)
            net[table].loc[df.columns, col] = df.iloc[k].to_numpy()
        pp.create_sgen(net, lv_bus, p_mw=x_kw / 1000.0 * ctx.shape[k])
        pp.runpp(net, tolerance_mva=1e-9)
        t = net.trafo.index[net.trafo.name == "T12"][0]
        return (-net.res_trafo.p_hv_mw.at[t] / net.trafo.sn_mva.at[t],
                net.res_bus.vm_pu.max())

    assert reason.rule == "technical.reverse_power" and reason.element == "T12"
    rate_big, _ = run(1.5 * t12_hc)
    rate_ok, _ = run(0.95 * t12_hc)
    assert rate_big > s.reverse_load_rate_max >= rate_ok
    assert rate_big == pytest.approx(reason.value, rel=1e-6)


def test_snapshot_feeder_with_a_queue_ahead():
    """A feeder without profiles (one snapshot step) takes a queue ahead too."""
    req = parse_request(body(feeder="case33bw", bus="17", ac_kw=500, category="general_ci",
                             mode="surplus_export"))
    alone = evaluate(req)
    ahead = evaluate(req, ahead=[QueuedPV("17", 2000.0, "approved", 1)])
    assert alone.decision == "approved"
    assert ahead.max_kw_now == pytest.approx(alone.max_kw_now - 2000.0, abs=0.01 * alone.max_kw_now)
