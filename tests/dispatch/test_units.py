"""Storage units: documented columns, defaults from settings, errors that name the column;
the synthetic feeders' batteries (p_mw = 0 changes no power flow)."""

from __future__ import annotations

import copy

import numpy as np
import pandapower as pp
import pandas as pd
import pytest

from gridint.config import get_settings
from gridint.dispatch import storage_units
from gridint.errors import FeederError
from gridint.grid.synthetic import STORAGE_CRITICAL_MAX_POWER_SHARE, STORAGE_DURATION_H, generate_feeder
from gridint.powerflow import compile_net, element_injections, run_batch

XIANGTAN = ("xt-county-rural", "xt-yuetang-urban", "xt-jingkai-industrial")


@pytest.mark.parametrize("name", XIANGTAN)
def test_synthetic_feeders_have_utility_and_customer_batteries(catalog_feeder, name):
    net = catalog_feeder(name).net
    st = net.storage
    assert (st["p_mw"] == 0).all() and (st["q_mvar"] == 0).all()
    u = storage_units(net)
    owners = list(u.owner)
    assert owners.count("utility") == 1 and owners.count("customer") >= 1
    # the utility battery sits on the 10 kV node at the trunk end (tie TIE-1)
    k = owners.index("utility")
    tie_bus = int(net.switch.loc[net.switch["name"] == "TIE-1", "bus"].iloc[0])
    assert u.bus[k] == tie_bus and net.bus.at[tie_bus, "vn_kv"] == 10.0
    # customer batteries at LV busbars with PV
    cust = u.bus[u.owner == "customer"]
    assert set(cust) <= set(net.sgen["bus"]) and (net.bus.loc[cust, "vn_kv"] < 1.0).all()
    np.testing.assert_allclose(u.e_kwh, STORAGE_DURATION_H * u.p_charge_kw)
    np.testing.assert_allclose(u.p_charge_kw, u.p_discharge_kw)
    assert (u.critical_kw <= STORAGE_CRITICAL_MAX_POWER_SHARE * u.p_charge_kw + 1e-9).all()
    assert (u.floor_kwh < u.soc_max_percent / 100.0 * u.e_kwh).all()
    assert u.island_capable.dtype == bool and u.island_capable[k]


def test_storage_generation_is_seeded_and_separate():
    a = generate_feeder("xt-jingkai-industrial", seed=7)
    b = generate_feeder("xt-jingkai-industrial", seed=7)
    pd.testing.assert_frame_equal(a.storage, b.storage)


def test_idle_storage_changes_no_power_flow(catalog_feeder):
    """p_mw = 0 storage: the batch engine and pandapower runpp see the same net as without it."""
    net = catalog_feeder("xt-county-rural").net
    bare = copy.deepcopy(net)
    bare.storage = bare.storage.iloc[0:0]
    c1, c0 = compile_net(net), compile_net(bare)
    r1, r0 = run_batch(c1, *element_injections(c1)), run_batch(c0, *element_injections(c0))
    np.testing.assert_array_equal(r1.vm_pu, r0.vm_pu)
    pp.runpp(net, tolerance_mva=1e-9, numba=False)
    pp.runpp(bare, tolerance_mva=1e-9, numba=False)
    np.testing.assert_allclose(net.res_bus.vm_pu, bare.res_bus.vm_pu, atol=1e-12)
    assert np.abs(net.res_bus.vm_pu.reindex(c1.bus_index).to_numpy() - r1.vm_pu[0]).max() < 1e-8


def test_units_read_the_documented_columns(catalog_feeder):
    net = catalog_feeder("xt-county-rural").net
    u = storage_units(net)
    st = net.storage
    np.testing.assert_allclose(u.e_kwh, st["max_e_mwh"] * 1000)
    np.testing.assert_allclose(u.p_discharge_kw, -st["min_p_mw"] * 1000)
    np.testing.assert_allclose(u.reserve_kwh, st["reserve_h"] * st["critical_kw"] / st["eff_discharge"])
    np.testing.assert_allclose(u.floor_kwh, np.maximum(st["soc_min_percent"] / 100 * st["max_e_mwh"] * 1000,
                                                       u.reserve_kwh))
    recs = u.records()
    assert recs[0]["name"] == "xt-county-rural-ESS-U1" and recs[0]["owner"] == "utility"


def test_defaults_for_a_plain_pandapower_storage_row():
    s = get_settings()
    net = pp.create_empty_network()
    b0, b1 = pp.create_bus(net, 10.0), pp.create_bus(net, 10.0)
    pp.create_ext_grid(net, b0)
    pp.create_line(net, b0, b1, 1.0, "NA2XS2Y 1x95 RM/25 12/20 kV")
    pp.create_load(net, b1, p_mw=0.5)
    pp.create_storage(net, b1, p_mw=0.0, max_e_mwh=0.4, sn_mva=0.2, name="B")
    u = storage_units(net)
    assert u.p_charge_kw[0] == 200.0 and u.p_discharge_kw[0] == 200.0
    assert u.eff_charge[0] == s.storage_eff_charge and u.soc_min_percent[0] == s.storage_soc_min_percent
    assert u.soc_init_percent[0] == s.storage_soc_initial_percent
    assert u.critical_kw[0] == pytest.approx(s.storage_critical_share * 500.0)
    assert u.owner[0] == "utility" and not u.island_capable[0]
    net.storage.loc[0, "min_e_mwh"] = 0.08  # pandapower's own column gives the SoC floor
    assert storage_units(net).soc_min_percent[0] == pytest.approx(20.0)


@pytest.mark.parametrize("col, value, match", [
    ("max_e_mwh", np.nan, "Battery 1.*max_e_mwh = nan outside.*energy rating"),
    ("eff_charge", 1.2, "eff_charge = 1.2 outside the allowed range \\(0, 1\\]"),
    ("owner", "bank", "owner = 'bank'; allowed: utility, customer"),
    ("soc_max_percent", 5.0, "soc_max_percent = 5 outside the allowed range \\(soc_min_percent, 100\\]"),
    ("soc_percent", -3.0, "soc_percent = -3 outside the allowed range \\[0, 100\\]"),
])
def test_bad_columns_name_unit_column_and_range(catalog_feeder, col, value, match):
    net = catalog_feeder("cigre-mv-der").net
    net.storage["max_e_mwh"] = [1.2, 0.4]
    if col not in net.storage:
        net.storage[col] = pd.Series([None] * len(net.storage), index=net.storage.index, dtype=object)
    net.storage[col] = net.storage[col].astype(object)
    net.storage.loc[0, col] = value
    with pytest.raises(FeederError, match=match):
        storage_units(net)


def test_cigre_batteries_without_energy_rating_are_rejected(catalog_feeder):
    with pytest.raises(FeederError, match="storage 'Battery 1': max_e_mwh = nan outside the allowed range"):
        storage_units(catalog_feeder("cigre-mv-der").net)
