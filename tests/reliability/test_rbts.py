"""Analytical method against the published RBTS Bus 2 results [A91] and independent references.

References (see tests/reliability/data/rbts_bus2.py for every source):
* published system indices of Bus 2 (transformers repaired 200 h; replaced 10 h);
* load-point indices of RELRAD-software (an independent RELRAD implementation) for the
  base, replacement and no-lateral-fuse cases;
* a hand calculation of the RELRAD rules (tests/reliability/rbts_reference.py) for the
  variants: no fuses, no disconnectors, no alternate supply, other switching times.
"""

from __future__ import annotations

import itertools

import pytest

from gridint.reliability import reliability_study
from tests.reliability import rbts_reference as ref
from tests.reliability.data import rbts_bus2 as R

CASES = {"base": {}, "replacement": dict(trafo_repair_h=R.TRAFO_REPLACEMENT_H),
         "no_fuses": dict(lateral_fuses=False)}


@pytest.fixture(scope="module")
def results():
    return {case: reliability_study(R.rbts_bus2(**kw)) for case, kw in CASES.items()}


def _by_lp(res):
    return {int(d["name"][2:]): d for d in res["load_points"]}


@pytest.mark.parametrize("case", ["base", "replacement"])
def test_published_system_indices_within_1_percent(results, case):
    got = results[case]["system"]
    for key, want in R.PUBLISHED[case].items():
        assert got[key] == pytest.approx(want, rel=0.01), (case, key, got[key], want)
    assert got["customers"] == 1908
    assert got["asai"] == pytest.approx(1 - got["saidi_h"] / 8760)
    assert got["rs1_percent"] == pytest.approx(100 * got["asai"])
    assert got["caidi_h"] == pytest.approx(got["saidi_h"] / got["saifi"])
    assert got["maifi"] == 0.0


@pytest.mark.parametrize("case", list(CASES))
def test_load_points_match_relrad_software(results, case):
    lps = _by_lp(results[case])
    assert sorted(lps) == list(range(1, 23))
    for lp, (lam, u) in R.PEER_LOAD_POINTS[case].items():
        d = lps[lp]
        assert d["failure_rate_per_year"] == pytest.approx(lam, rel=1e-9), (case, lp)
        assert d["unavailability_h_per_year"] == pytest.approx(u, rel=1e-9), (case, lp)
        assert d["outage_h"] == pytest.approx(u / lam, rel=1e-9)
        assert d["ens_mwh_per_year"] == pytest.approx(u * R.LOAD_POINTS[lp][1], rel=1e-9)
        assert d["customers"] == R.LOAD_POINTS[lp][3]


def test_no_fuse_system_matches_relrad_software(results):
    got = results["no_fuses"]["system"]
    for key, want in R.PEER_SYSTEM_NO_FUSES.items():
        assert got[key] == pytest.approx(want, rel=1e-9)


VARIANTS = list(itertools.product([True, False], [True, False], [True, False], [200.0, 10.0]))


@pytest.mark.parametrize("fuses,disconnects,alternate,trafo_h", VARIANTS)
def test_variants_match_hand_calculation(fuses, disconnects, alternate, trafo_h):
    kw = dict(trafo_repair_h=trafo_h, lateral_fuses=fuses, disconnects=disconnects, alternate_supply=alternate)
    res = reliability_study(R.rbts_bus2(**kw))
    want = ref.load_point_indices(**kw)
    lps = _by_lp(res)
    for lp, (lam, u, mom) in want.items():
        assert lps[lp]["failure_rate_per_year"] == pytest.approx(lam, rel=1e-12, abs=1e-12)
        assert lps[lp]["unavailability_h_per_year"] == pytest.approx(u, rel=1e-12, abs=1e-12)
        assert lps[lp]["momentary_per_year"] == pytest.approx(mom, abs=1e-12)
    sysref = ref.system(want)
    for key in sysref:
        assert res["system"][key] == pytest.approx(sysref[key], rel=1e-12)


@pytest.mark.parametrize("switch_h", [0.5, 2.0, 6.0, 0.04])
def test_switching_time_variants(switch_h):
    """Other switching times; 6 h exceeds the 5 h line repair (capped), 0.04 h is momentary."""
    res = reliability_study(R.rbts_bus2(switch_time_h=switch_h))
    want = ref.load_point_indices(switch_time_h=switch_h)
    lps = _by_lp(res)
    for lp, (lam, u, mom) in want.items():
        assert lps[lp]["failure_rate_per_year"] == pytest.approx(lam, abs=1e-12)
        assert lps[lp]["unavailability_h_per_year"] == pytest.approx(u, abs=1e-12)
        assert lps[lp]["momentary_per_year"] == pytest.approx(mom, abs=1e-12)
    if switch_h < 0.05:
        assert res["system"]["maifi"] > 0.1
        assert res["system"]["saifi"] < 0.248 / 2


def test_hand_reference_reproduces_published_base():
    """The hand calculation itself agrees with [A91] (so it is a fair reference)."""
    got = ref.system(ref.load_point_indices())
    assert got["saifi"] == pytest.approx(0.248, rel=0.01)
    assert got["saidi_h"] == pytest.approx(3.61, rel=0.01)
    assert got["ens_mwh_per_year"] == pytest.approx(37.745, rel=0.001)


def test_component_ranking_sums_to_saidi(results):
    res = results["base"]
    comps = res["components"]
    assert sum(c["saidi_h"] for c in comps) == pytest.approx(res["system"]["saidi_h"], rel=1e-12)
    assert sum(c["saifi"] for c in comps) == pytest.approx(res["system"]["saifi"], rel=1e-12)
    assert [c["saidi_h"] for c in comps] == sorted((c["saidi_h"] for c in comps), reverse=True)
    # with 200 h transformer repairs the 210-customer transformers dominate
    assert comps[0]["table"] == "trafo" and comps[0]["name"] in ("T1", "T2", "T3", "T10", "T11")
    lat = next(c for c in comps if c["name"] == "L2")
    assert lat["cleared_by"] == "FU-L2"
    main = next(c for c in comps if c["name"] == "L4")
    assert main["cleared_by"] == "CB-F1" and main["restored_via"] == ["NO-F1-F2"]
