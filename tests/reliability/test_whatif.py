"""What-ifs and the greedy upgrade ranking, checked against hand-derived RBTS results."""

from __future__ import annotations

import pytest

from gridint.config import get_settings
from gridint.errors import ReliabilityError
from gridint.reliability import reliability_study
from gridint.reliability.whatif import (
    Upgrade,
    add_fuses,
    add_storage,
    add_tie,
    automate_switches,
    candidate_upgrades,
    fuse_candidates,
    rank_upgrades,
)
from tests.reliability import rbts_reference as ref
from tests.reliability.data import rbts_bus2 as R


def _saidi(net):
    return reliability_study(net)["system"]["saidi_h"]


def test_automation_equals_seconds_switching():
    """Automating every breaker / disconnector / tie of RBTS = switching time of 30 s everywhere but the fuses."""
    net = automate_switches(R.rbts_bus2())
    t_h = get_settings().reliability_whatif_automated_switch_time_s / 3600
    assert set(net.switch.loc[net.switch["type"] != "fuse", "switch_time_h"]) == {t_h}
    assert set(net.switch.loc[net.switch["type"] == "fuse", "switch_time_h"]) == {1.0}
    res = reliability_study(net)
    want = ref.system(ref.load_point_indices(switch_time_h=t_h))  # fuses never restore anyone in RBTS
    assert res["system"]["saidi_h"] == pytest.approx(want["saidi_h"], rel=1e-12)
    assert res["system"]["saifi"] == pytest.approx(want["saifi"], rel=1e-12)
    assert res["system"]["maifi"] > 0
    with pytest.raises(ReliabilityError, match="switch"):
        automate_switches(R.rbts_bus2(), [999])


def test_add_tie_restores_like_the_rbts_normally_open_point():
    """A new tie at the end of F1 (alternate supply) gives F1 the base-case (tied) indices."""
    no_alt = R.rbts_bus2(alternate_supply=False)
    end_f1 = int(no_alt.bus.index[no_alt.bus["name"] == "F1-N10"][0])
    res = reliability_study(add_tie(no_alt, end_f1, switch_time_h=1.0))
    want = ref.load_point_indices()
    for d in res["load_points"]:
        lp = int(d["name"][2:])
        if lp <= 7:
            assert d["unavailability_h_per_year"] == pytest.approx(want[lp][1], rel=1e-12)
    assert no_alt.switch["closed"].all()  # input unchanged


def test_add_fuses_restores_the_base_case():
    no_fuse = R.rbts_bus2(lateral_fuses=False)
    cands = fuse_candidates(no_fuse)
    assert sorted(no_fuse.line.loc[cands, "name"], key=lambda n: int(n[1:])) == [f"L{k}" for k in sorted(R.LATERALS)]
    assert fuse_candidates(R.rbts_bus2()) == []
    assert _saidi(add_fuses(no_fuse)) == pytest.approx(_saidi(R.rbts_bus2()), rel=1e-12)


def test_add_storage_validates():
    net = R.rbts_bus2()
    with pytest.raises(ReliabilityError, match="bus"):
        add_storage(net, 10_000, 100, 100)
    with pytest.raises(ReliabilityError, match="must be > 0"):
        add_storage(net, 1, 0, 100)
    s = add_storage(net, 1, 100, 200)
    assert bool(s.storage["island_capable"].iloc[0]) and len(net.storage) == 0


def test_greedy_ranking():
    """RBTS without disconnectors: the best single upgrade is applied first, SAIDI falls at every step."""
    net = R.rbts_bus2(disconnects=False)
    cands = [
        Upgrade("disconnectors F1", "switch", lambda n: _with_disconnects(n, "F1")),
        Upgrade("disconnectors F3", "switch", lambda n: _with_disconnects(n, "F3")),
        Upgrade("automate all", "automate", automate_switches),
        Upgrade("nothing", "none", lambda n: n),
    ]
    base = _saidi(net)
    single = {c.label: base - _saidi(c.apply(net)) for c in cands}
    out = rank_upgrades(net, cands, target_rs1_percent=99.999, max_steps=3)
    assert out["base"]["saidi_h"] == pytest.approx(base)
    assert [d["upgrade"] for d in out["ranking"]] == sorted(single, key=lambda k: -single[k])
    assert out["steps"][0]["upgrade"] == max(single, key=single.get)
    saidis = [base] + [d["saidi_h"] for d in out["steps"]]
    assert all(b < a for a, b in zip(saidis, saidis[1:]))
    assert "nothing" not in [d["upgrade"] for d in out["steps"]]
    assert out["meets_target"] is False and len(out["steps"]) == 3
    # an easy target stops after the first step
    easy = rank_upgrades(net, cands, target_rs1_percent=99.0, max_steps=3)
    assert len(easy["steps"]) == 1 and easy["meets_target"]


def _with_disconnects(net, feeder):
    import copy

    import pandapower as pp

    out = copy.deepcopy(net)
    prev = out.bus.index[out.bus["name"] == "SUB"][0]
    for sec in R.MAINS[feeder]:
        li = int(out.line.index[out.line["name"] == f"L{sec}"][0])
        if sec != R.MAINS[feeder][0]:
            pp.create_switch(out, prev, li, "l", closed=True, type="DS", name=f"DS-L{sec}", switch_time_h=1.0)
        prev = int(out.line.at[li, "to_bus"])
    return out


def test_default_candidates_on_rbts_without_fuses():
    net = R.rbts_bus2(lateral_fuses=False, alternate_supply=False)
    assert sorted(net.line.loc[fuse_candidates(net), "name"], key=lambda n: int(n[1:])) == \
        [f"L{k}" for k in sorted(R.LATERALS)]
    cands = candidate_upgrades(net, storage=(500.0, 1000.0), max_fuses=30)
    kinds = {c.kind for c in cands}
    assert kinds == {"automate", "fuse", "tie", "storage"}
    assert sum(c.kind == "fuse" for c in cands) == 22
    assert sum(c.kind == "fuse" for c in candidate_upgrades(net)) == 10
    for c in cands[:3] + [c for c in cands if c.kind in ("tie", "storage")][:2]:
        assert _saidi(c.apply(net)) <= _saidi(net) + 1e-12
