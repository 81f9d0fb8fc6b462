"""Shared dispatch fixtures: the over-voltage day of xt-county-rural and its plan.

The day: 2024-03-22, the clearest spring day of the typical Xiangtan year, on
the rural feeder with its substation 10 kV bus held at 1.045 pu (10.45 kV, within
the usual 10.0-10.7 kV operating range of Chinese 10 kV buses) and the rooftop PV
at the busbars with customer batteries 1.5 times the committed size ("whole-county
rooftop PV" growth). PV is the profile year's (the fleet model on the weather of
that day), so the test does not depend on the forecast model.
"""

from __future__ import annotations

import copy

import pytest

from gridint.grid.catalog import load_feeder

DAY = "2024-03-22"
EXT_GRID_VM_PU = 1.045
PV_FACTOR = 1.5


def over_voltage_feeder():
    """xt-county-rural with the over-voltage day's set-point and extra PV (fresh copy)."""
    f = copy.deepcopy(_base())
    net = f.net
    net.ext_grid.loc[net.ext_grid["role"] == "substation", "vm_pu"] = EXT_GRID_VM_PU
    more = net.sgen["bus"].isin(net.storage["bus"])
    for col in ("p_mw", "sn_mva", "kwp"):
        net.sgen.loc[more, col] *= PV_FACTOR
    f.__dict__.pop("profiles", None)  # profiles follow the enlarged PV
    return f


_CACHE = {}


def _base():
    if "f" not in _CACHE:
        _CACHE["f"] = load_feeder("xt-county-rural")
    return _CACHE["f"]


@pytest.fixture(scope="session")
def ov_inputs():
    """The over-voltage feeder (profiles computed) and its day inputs (profile PV as P50)."""
    from gridint.dispatch import day_inputs

    feeder = over_voltage_feeder()
    return feeder, day_inputs(feeder, DAY, pv="profile")


@pytest.fixture
def ov_copy(ov_inputs):
    """Factory: a fresh copy of the over-voltage feeder (profiles kept) and the inputs."""

    def get():
        feeder, inputs = ov_inputs
        return copy.deepcopy(feeder), inputs

    return get


@pytest.fixture(scope="session")
def ov_plan(ov_inputs):
    """Day-ahead plan of the over-voltage day (PV of the profile year as P50)."""
    from gridint.dispatch import dispatch

    feeder, inputs = ov_inputs
    return feeder, dispatch(feeder, inputs)
