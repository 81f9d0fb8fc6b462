"""The Xiangtan feeders are grids a company would operate: a whole profile year
(existing PV included) stays inside GB/T 12325 and thermal limits."""

from __future__ import annotations

import numpy as np
import pytest

from gridint.config import get_settings
from gridint.grid.catalog import read_catalog
from gridint.powerflow import compile_net, element_injections, run_batch

XIANGTAN = [n for n in read_catalog() if n.startswith("xt-")]


@pytest.mark.parametrize("name", XIANGTAN)
def test_profile_year_within_limits(name, catalog_feeder):
    s = get_settings()
    feeder = catalog_feeder(name)
    prof = feeder.profiles
    assert len(prof) == 35136 and str(prof.time_index.tz) == "Asia/Shanghai"
    c = compile_net(feeder.net)
    res = run_batch(c, *element_injections(c, **prof.as_kwargs()))
    assert res.converged.all()
    assert np.nanmin(res.vm_pu) >= s.vm_min_pu
    assert np.nanmax(res.vm_pu) <= s.vm_max_pu
    assert res.line_loading_percent.max() <= s.line_loading_max_percent
    assert res.trafo_loading_percent.max() <= s.trafo_loading_max_percent
    # existing rooftop PV does not already push power back through any 台区 beyond beta
    reverse = -res.trafo_p_hv_mw / c.trafo_sn_mva
    assert reverse.max() <= s.reverse_load_rate_max


def test_catalog_pv_comes_from_the_fleet_model(catalog_feeder):
    """One PV model: the profile year's rooftop PV is the pvlib fleet model on the
    default weather year, not a second, simplified shape."""
    from gridint.solar.fleet import fleet_ac_kw, pv_systems
    from gridint.solar.weather import default_weather

    feeder = catalog_feeder("xt-county-rural")
    systems = pv_systems(feeder.net)
    expected_mw = fleet_ac_kw(systems, default_weather()).to_numpy() / 1000.0
    got = feeder.profiles.values["sgen_p_mw"][systems.index].to_numpy()
    np.testing.assert_allclose(got, expected_mw, rtol=0, atol=1e-12)
    assert (feeder.profiles.values["sgen_q_mvar"][systems.index].to_numpy() == 0).all()
