"""Tests of gridint.grid.validate: reading pandapower files and checking feeders.

Each broken net starts from a small valid feeder built with pandapower's own
``create_*`` functions and breaks one thing; the published pandapower test
feeders must pass without fatal problems. Island findings are cross-checked
against pandapower's power flow, which leaves unsupplied buses without a voltage.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pandapower as pp
import pandapower.networks as pn
import pytest

from gridint.errors import FeederError, FeederValidationError, GridintError
from gridint.grid.validate import read_net, validate_net

MV_CABLE = "NA2XS2Y 1x95 RM/25 6/10 kV"
LV_CABLE = "NAYY 4x150 SE"
OBERRHEIN_JSON = Path(pp.__file__).parent / "networks" / "mv_oberrhein.json"


def make_feeder():
    """A fresh copy of the valid test feeder (building a net costs ~0.3 s, copying 10 ms)."""
    if "net" not in _FEEDER:
        _FEEDER["net"] = _build_feeder()
    return copy.deepcopy(_FEEDER["net"])


_FEEDER: dict = {}


def _build_feeder():
    """Valid 10/0.4 kV feeder: grid - L1 - B1 - L2(S1) - B2(load); B1 - T1 - LV1 - L3 - LV2.

    Returns the net; element indices: buses HV=0, B1=1, B2=2, LV1=3, LV2=4;
    lines L1=0, L2=1, L3=2; trafo T1=0; switch S1=0 (on L2 at B1);
    loads LD1=0 (B2), LD2=1 (LV2); sgen PV1=0 (LV2).
    """
    net = pp.create_empty_network(name="test feeder")
    hv = pp.create_bus(net, 10.0, name="HV")
    b1 = pp.create_bus(net, 10.0, name="B1")
    b2 = pp.create_bus(net, 10.0, name="B2")
    lv1 = pp.create_bus(net, 0.4, name="LV1")
    lv2 = pp.create_bus(net, 0.4, name="LV2")
    pp.create_ext_grid(net, hv, vm_pu=1.0, name="Grid")
    pp.create_line(net, hv, b1, 1.0, MV_CABLE, name="L1")
    l2 = pp.create_line(net, b1, b2, 1.0, MV_CABLE, name="L2")
    pp.create_switch(net, b1, l2, et="l", closed=True, name="S1")
    pp.create_transformer_from_parameters(
        net, b1, lv1, sn_mva=0.4, vn_hv_kv=10.0, vn_lv_kv=0.4, vk_percent=4.0,
        vkr_percent=1.0, pfe_kw=0.5, i0_percent=0.3, tap_side="hv", tap_neutral=0,
        tap_min=-2, tap_max=2, tap_step_percent=2.5, tap_pos=0, tap_changer_type="Ratio",
        name="T1",
    )
    pp.create_line(net, lv1, lv2, 0.2, LV_CABLE, name="L3")
    pp.create_load(net, b2, p_mw=0.3, q_mvar=0.1, name="LD1")
    pp.create_load(net, lv2, p_mw=0.1, q_mvar=0.03, name="LD2")
    pp.create_sgen(net, lv2, p_mw=0.05, name="PV1")
    return net


def problems_of(net) -> list[str]:
    with pytest.raises(FeederValidationError) as info:
        validate_net(net, source="test feeder")
    assert info.value.source == "test feeder"
    return info.value.problems


def unsupplied_by_pandapower(net) -> set[int]:
    """Buses pandapower's power flow leaves without a voltage (independent reference)."""
    pp.runpp(net, numba=False)
    return set(net.res_bus.index[net.res_bus.vm_pu.isna()])


# --------------------------------------------------------------------------------------
# valid feeders
# --------------------------------------------------------------------------------------


def test_small_feeder_is_valid_and_solves():
    net = make_feeder()
    assert validate_net(net) == []
    assert unsupplied_by_pandapower(net) == set()


@pytest.mark.parametrize(
    "factory",
    [pn.case33bw, lambda: pn.create_cigre_network_mv(with_der="all")],
    ids=["case33bw", "cigre_mv_all_der"],
)
def test_published_feeders_are_valid(factory):
    assert validate_net(factory()) == []


def test_mv_oberrhein_file_reads_and_is_valid():
    # the file behind pandapower.networks.mv_oberrhein(), without its power flow run
    net = read_net(OBERRHEIN_JSON)
    assert len(net.bus) == 179 and len(net.ext_grid) == 2
    assert validate_net(net) == []


@pytest.mark.slow
def test_mv_oberrhein_function_is_valid():
    assert validate_net(pn.mv_oberrhein()) == []


# --------------------------------------------------------------------------------------
# one defect each
# --------------------------------------------------------------------------------------


def test_missing_max_i_ka():
    net = make_feeder()
    net.line.at[1, "max_i_ka"] = np.nan
    assert problems_of(net) == ["line 1 'L2': max_i_ka must be > 0 (got nan)"]


def test_unknown_bus_reference():
    net = make_feeder()
    net.line.at[2, "to_bus"] = 99
    net.load.at[0, "bus"] = 77
    problems = problems_of(net)
    assert "line 2 'L3': to_bus 99 does not exist in the bus table" in problems
    assert "load 0 'LD1': bus 77 does not exist in the bus table" in problems
    # LV2 now hangs in the air with its load and PV: also an island
    assert any(p.startswith("island without supply: buses [4 'LV2']") for p in problems)


def test_switch_element_and_terminal_checks():
    net = make_feeder()
    # pandapower's create_switch refuses these, a hand-edited file does not
    for idx, (element, et, name) in enumerate(
        [(7, "l", "S2"), (1, "l", "S3"), (1, "x", "S4")], start=1
    ):
        net.switch.loc[idx] = {"bus": 0, "element": element, "et": et, "type": "LBS",
                               "closed": True, "name": name, "z_ohm": 0.0, "in_ka": np.nan}
    # S2: no line 7; S3: line 1 runs B1-B2, not at HV; S4: unknown et
    problems = problems_of(net)
    assert "switch 1 'S2': element 7 (et='l') does not exist in the line table" in problems
    assert any(
        p.startswith("switch 2 'S3': bus 0 is not a terminal of line 1 'L2' (from_bus 1, to_bus 2)")
        for p in problems
    )
    assert "switch 3 'S4': et must be one of 'b', 'l', 't', 't3' (got 'x')" in problems


def test_line_between_voltage_levels():
    net = make_feeder()
    pp.create_line(net, 2, 4, 0.5, LV_CABLE, name="L4")  # B2 (10 kV) to LV2 (0.4 kV)
    (problem,) = problems_of(net)
    assert problem.startswith("line 3 'L4': line connects 10 kV to 0.4 kV buses")
    assert "allowed <= 1.0 %" in problem and problem.endswith("use a transformer")


def test_bus_bus_switch_between_voltage_levels():
    net = make_feeder()
    pp.create_switch(net, 2, 4, et="b", closed=False, name="S9")
    (problem,) = problems_of(net)
    assert problem.startswith(
        "switch 1 'S9': bus-bus switch connects 10 kV bus 2 'B2' to 0.4 kV bus 4 'LV2'"
    )


def test_trafo_rated_voltage_mismatch():
    net = make_feeder()
    net.trafo.at[0, "vn_lv_kv"] = 0.42  # 5 %: normal Chinese practice (0.4 kV on 0.38 kV)
    assert not any("vn_lv_kv" in w for w in validate_net(net))
    net.trafo.at[0, "vn_lv_kv"] = 0.43  # 7.5 % off the 0.4 kV bus: warning only
    warnings = validate_net(net)
    assert any(
        "trafo 0 'T1': vn_lv_kv 0.43 kV differs from lv_bus 3 'LV1' vn_kv 0.4 kV by 7.5 %" in w
        for w in warnings
    )
    net.trafo.at[0, "vn_hv_kv"] = 20.0  # 100 % off the 10 kV bus: fatal
    (problem,) = problems_of(net)
    assert problem.startswith(
        "trafo 0 'T1': vn_hv_kv 20 kV differs from hv_bus 1 'B1' vn_kv 10 kV by 100.0 % "
        "(allowed <= 10.0 %)"
    )


def test_trafo_connected_the_wrong_way_round():
    net = make_feeder()
    net.trafo.loc[0, ["hv_bus", "lv_bus"]] = [3, 1]
    problems = problems_of(net)
    assert len(problems) == 2
    assert all(p.endswith("hv_bus and lv_bus look swapped") for p in problems)


def test_island_after_opening_the_only_switch():
    net = make_feeder()
    net.switch.at[0, "closed"] = False
    (problem,) = problems_of(net)
    assert problem.startswith("island without supply: buses [2 'B2'] (1 load, 0 sgens)")
    assert unsupplied_by_pandapower(net) == {2}  # pandapower silently leaves B2 dead


def test_island_after_removing_a_line():
    net = make_feeder()
    net.line = net.line.drop(index=0)  # L1: the whole feeder loses its supply
    (problem,) = problems_of(net)
    assert problem.startswith(
        "island without supply: buses [1 'B1', 2 'B2', 3 'LV1', 4 'LV2'] (2 loads, 1 sgen)"
    )
    assert unsupplied_by_pandapower(net) == {1, 2, 3, 4}


def test_open_trafo_switch_and_closed_bus_switch():
    net = make_feeder()
    pp.create_switch(net, 3, 0, et="t", closed=False, name="ST")  # T1 open at LV1
    (problem,) = problems_of(net)
    assert problem.startswith("island without supply: buses [3 'LV1', 4 'LV2'] (1 load, 1 sgen)")
    # a closed bus-bus tie from a supplied 0.4 kV bus restores supply
    lv0 = pp.create_bus(net, 0.4, name="LV0")
    pp.create_transformer(net, 0, lv0, "0.4 MVA 10/0.4 kV", name="T0")
    pp.create_switch(net, lv0, 4, et="b", closed=True, name="TIE")
    assert validate_net(net) == []
    assert unsupplied_by_pandapower(net) == set()


def test_isolated_bus_without_elements_is_a_warning(caplog):
    net = make_feeder()
    pp.create_bus(net, 10.0, name="SPARE")
    with caplog.at_level(logging.WARNING, logger="gridint.grid.validate"):
        warnings = validate_net(net, source="f1")
    assert warnings == [
        "1 in-service bus without supply and without loads or generators "
        "(pandapower sets them out of service): [5 'SPARE']"
    ]
    assert "f1: 1 in-service bus without supply" in caplog.text


def test_no_ext_grid():
    net = make_feeder()
    net.ext_grid = net.ext_grid.drop(index=0)
    assert problems_of(net) == ["no in-service ext_grid: a feeder needs a supply point"]
    net = make_feeder()
    net.ext_grid.at[0, "in_service"] = False
    assert problems_of(net) == ["no in-service ext_grid: a feeder needs a supply point"]


def test_ext_grid_voltage_out_of_band():
    net = make_feeder()
    net.ext_grid.at[0, "vm_pu"] = 10.5  # kV typed as pu
    assert problems_of(net) == ["ext_grid 0 'Grid': vm_pu must be in [0.8, 1.2] (got 10.5)"]


def test_nan_p_mw():
    net = make_feeder()
    net.load.at[0, "p_mw"] = np.nan
    assert problems_of(net) == ["load 0 'LD1': p_mw must be finite (got nan)"]


def test_negative_scaling_and_nan_sgen_q():
    net = make_feeder()
    net.sgen.at[0, "scaling"] = -1.0
    net.sgen.at[0, "q_mvar"] = np.nan
    assert sorted(problems_of(net)) == [
        "sgen 0 'PV1': q_mvar must be finite (got nan)",
        "sgen 0 'PV1': scaling must be finite and >= 0 (got -1)",
    ]


def test_tap_out_of_range():
    net = make_feeder()
    net.trafo.at[0, "tap_pos"] = 5
    assert problems_of(net) == [
        "trafo 0 'T1': tap_pos must be within [tap_min, tap_max] = [-2, 2] (got 5)"
    ]


def test_tap_ignored_by_pandapower_is_a_warning():
    net = make_feeder()
    net.trafo.at[0, "tap_changer_type"] = None
    net.trafo.at[0, "tap_pos"] = 1
    (warning,) = validate_net(net)
    assert warning.startswith(
        "trafo 0 'T1': tap_pos 1 is ignored by pandapower because tap_changer_type is missing"
    )


def test_trafo_impedance_limits():
    net = make_feeder()
    net.trafo.at[0, "vkr_percent"] = 5.0  # above vk_percent = 4
    net.trafo.at[0, "sn_mva"] = 0.0
    assert sorted(problems_of(net)) == [
        "trafo 0 'T1': sn_mva must be > 0 (got 0)",
        "trafo 0 'T1': vkr_percent must be in [0, vk_percent) = [0, 4) (got 5)",
    ]


def test_out_of_service_element_with_bad_data_is_a_warning():
    net = make_feeder()
    idx = pp.create_line(net, 1, 2, 1.0, MV_CABLE, name="L5", in_service=False)
    net.line.at[idx, "max_i_ka"] = np.nan
    assert validate_net(net) == ["line 3 'L5' (out of service): max_i_ka must be > 0 (got nan)"]


def test_several_problems_are_all_listed():
    net = make_feeder()
    net.line.at[0, "max_i_ka"] = np.nan
    net.line.at[2, "length_km"] = -0.2
    net.line.at[1, "parallel"] = 0
    net.bus.at[2, "vn_kv"] = np.nan
    net.load.at[1, "p_mw"] = np.nan
    net.trafo.at[0, "tap_pos"] = -3
    net.load.at[0, "bus"] = 42
    with pytest.raises(FeederValidationError) as info:
        validate_net(net, source="x.json")
    expected = [
        "line 0 'L1': max_i_ka must be > 0 (got nan)",
        "line 2 'L3': length_km must be > 0 (got -0.2)",
        "line 1 'L2': parallel must be an integer >= 1 (got 0)",
        "bus 2 'B2': vn_kv must be > 0 (got nan)",
        "load 1 'LD2': p_mw must be finite (got nan)",
        "trafo 0 'T1': tap_pos must be within [tap_min, tap_max] = [-2, 2] (got -3)",
        "load 0 'LD1': bus 42 does not exist in the bus table",
    ]
    assert sorted(info.value.problems) == sorted(expected)
    message = str(info.value)
    assert message.startswith("x.json: 7 problems: ")
    assert all(p in message for p in expected)
    assert isinstance(info.value, FeederError) and isinstance(info.value, GridintError)


def test_bus_names_missing_or_duplicated_are_warnings():
    net = make_feeder()
    net.bus.at[3, "name"] = None
    net.bus.at[4, "name"] = "B2"
    assert validate_net(net) == [
        "bus: 1 bus without a name ([3]); results will name them by index",
        "bus: name 'B2' is used by buses [2, 4]; results that name buses are ambiguous",
    ]


def test_not_a_net():
    with pytest.raises(FeederValidationError, match="not a pandapower net"):
        validate_net({"bus": None})


# --------------------------------------------------------------------------------------
# read_net
# --------------------------------------------------------------------------------------


def test_read_net_round_trip(tmp_path):
    net = make_feeder()
    path = tmp_path / "feeder.json"
    pp.to_json(net, str(path))
    back = read_net(path)
    assert list(back.bus.name) == ["HV", "B1", "B2", "LV1", "LV2"]
    assert back.line.max_i_ka.tolist() == pytest.approx(net.line.max_i_ka.tolist())
    assert back.trafo.at[0, "tap_changer_type"] == "Ratio"
    assert read_net(str(path)).load.p_mw.sum() == pytest.approx(0.4)


def test_read_net_missing_file(tmp_path):
    path = tmp_path / "nope.json"
    with pytest.raises(FeederError, match="feeder file not found") as info:
        read_net(path)
    assert str(path) in str(info.value)


def test_read_net_directory_and_empty_file(tmp_path):
    with pytest.raises(FeederError, match="not a file"):
        read_net(tmp_path)
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    with pytest.raises(FeederError, match="feeder file is empty") as info:
        read_net(empty)
    assert str(empty) in str(info.value)


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"bus,vn_kv\n0,10\n", "not a JSON file (Expecting value at line 1, column 1)"),
        (b'{"bus": [1, 2,', "not a JSON file"),
        (b"\x80\x04\x95pickle\x00\xff", "not a JSON file (binary content)"),
    ],
    ids=["csv", "truncated", "pickle"],
)
def test_read_net_not_json(tmp_path, content, detail):
    path = tmp_path / "feeder.json"
    path.write_bytes(content)
    with pytest.raises(FeederError) as info:
        read_net(path)
    assert not isinstance(info.value, FeederValidationError)
    assert str(info.value).startswith(f"{path}: {detail}")
    assert "pandapower.to_json" in str(info.value)


@pytest.mark.parametrize(
    "content", ['{"a": 1}', "[1, 2, 3]", '"hello"'], ids=["object", "array", "string"]
)
def test_read_net_json_that_is_not_a_net(tmp_path, content):
    path = tmp_path / "other.json"
    path.write_text(content)
    with pytest.raises(FeederError, match="JSON is not a pandapower net") as info:
        read_net(path)
    assert str(info.value).startswith(str(path))


def test_read_net_validates(tmp_path):
    net = make_feeder()
    net.line.at[1, "max_i_ka"] = np.nan
    path = tmp_path / "bad.json"
    pp.to_json(net, str(path))
    with pytest.raises(FeederValidationError) as info:
        read_net(path)
    assert info.value.source == str(path)
    assert info.value.problems == ["line 1 'L2': max_i_ka must be > 0 (got nan)"]
