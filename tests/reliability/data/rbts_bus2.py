"""RBTS Bus 2 distribution system encoded in gridint's reliability schema (pandapower net).

Source of every number
----------------------
[A91]  R. N. Allan, R. Billinton, I. Sjarief, L. Goel, K. S. So, "A reliability test
       system for educational purposes - basic distribution system data and results",
       IEEE Trans. Power Systems 6(2), 813-820, 1991: Bus 2, feeders F1-F4, 22 load
       points, 11 kV.
[P1]   The same data encoded by peer code (GPL, numbers only used here, no code):
       github.com/JorgenBratvold/Extended-RELRAD,
       ``Extended_RELRAD/compatible_systems/RBTS_Bus_2/Bus_2_Case_A.xlsx`` (sheets Buses,
       Lines) and ``RELRAD_software/Test_Systems_Verified/BUS 2 Case E.xlsx`` (sheets
       Line Data, Load Point Data, Backup Feeders, Component Data), by J. Bratvold and
       S. M. Aaberg (RELRAD-software, github.com/SondreAaberg/RELRAD-software).

* Feeder sections and lengths ([A91] feeder data table, the same in [P1] "Lines"):
  type 1 = 0.60 km: sections 2, 6, 10, 14, 17, 21, 25, 28, 30, 34;
  type 2 = 0.75 km: 1, 4, 7, 9, 12, 16, 19, 22, 24, 27, 29, 32, 35;
  type 3 = 0.80 km: 3, 5, 8, 11, 13, 15, 18, 20, 23, 26, 31, 33, 36.
* Topology ([A91] Fig. "Distribution system for RBTS Bus 2"; [P1] From_Bus/To_Bus):
  main sections F1 1-4-7-10, F2 12-14, F3 16-18-21-24, F4 26-29-32-34; every load point
  at the end of a lateral section (LP1: 2, LP2: 3, LP3: 5, LP4: 6, LP5: 8, LP6: 9, LP7: 11,
  LP8: 13, LP9: 15, LP10: 17, LP11: 19, LP12: 20, LP13: 22, LP14: 23, LP15: 25, LP16: 27,
  LP17: 28, LP18: 30, LP19: 31, LP20: 33, LP21: 35, LP22: 36); LP8 and LP9 are 11 kV
  customers without an 11/0.415 kV transformer ([P1] transformer rate 0 on 13 and 15).
* Protection and switching ([A91] base case; [P1] Breaker_Direction /
  Disconnector_Direction): breakers at the feeder heads, a fuse at the head of each
  lateral, a disconnector at the upstream end of each main section after the first,
  normally-open points between the ends of F1 and F2 and of F3 and F4 ([P1] Backup
  Feeders BS1 = B6-B8, BS2 = B12-B16). Breakers, fuses, busbars and the 33/11 kV supply
  are perfectly reliable (RELRAD base case).
* Reliability data ([A91] component data; [P1] Failure_Rate, Repair_Time,
  Switching_Time, Transformer_*): 11 kV lines 0.065 f/(km yr), repair 5 h; 11/0.415 kV
  transformers 0.015 f/yr, repair 200 h (base case) or replacement by a spare 10 h;
  switching time 1 h.
* Customers and loads ([A91] customer data; [P1] "Load Point Data"): average / peak
  load [MW] and customers per load point:
  LP1-3, 10, 11 residential 0.535 / 0.8668, 210; LP12, 17-19 residential 0.450 / 0.7291,
  200; LP8 small user 1.000 / 1.6279, 1; LP9 small user 1.150 / 1.8721, 1; LP4, 5, 13, 14,
  20, 21 government / institutions 0.566 / 0.9167, 1; LP6, 7, 15, 16, 22 commercial
  0.454 / 0.7500, 10. Totals 12.291 MW average, 20.0 MW peak, 1908 customers.

Electrical impedances are not part of the reliability test system; plausible 11 kV
overhead-line and 11/0.415 kV transformer values are used so that the net also solves
in a power flow.

Published system indices ([A91], Bus 2; as quoted by [P1]: ``reference_values`` in
``RELRAD_software/Main.py`` for the transformer-replacement case) are in
:data:`PUBLISHED`; load-point indices of an independent RELRAD implementation ([P1],
RELRAD-software results files) are in :data:`PEER_LOAD_POINTS`.
"""

from __future__ import annotations

import copy
import functools

import pandapower as pp

#: Section lengths [km] by section number ([A91] feeder data; [P1] "Length [km]").
LENGTH_KM = {
    **{k: 0.60 for k in (2, 6, 10, 14, 17, 21, 25, 28, 30, 34)},
    **{k: 0.75 for k in (1, 4, 7, 9, 12, 16, 19, 22, 24, 27, 29, 32, 35)},
    **{k: 0.80 for k in (3, 5, 8, 11, 13, 15, 18, 20, 23, 26, 31, 33, 36)},
}
#: Main sections of each feeder, from the substation outwards.
MAINS = {"F1": (1, 4, 7, 10), "F2": (12, 14), "F3": (16, 18, 21, 24), "F4": (26, 29, 32, 34)}
#: Laterals: section -> (main section it branches from the far end of, load point).
LATERALS = {
    2: (1, 1), 3: (1, 2), 5: (4, 3), 6: (4, 4), 8: (7, 5), 9: (7, 6), 11: (10, 7),
    13: (12, 8), 15: (14, 9),
    17: (16, 10), 19: (18, 11), 20: (18, 12), 22: (21, 13), 23: (21, 14), 25: (24, 15),
    27: (26, 16), 28: (26, 17), 30: (29, 18), 31: (29, 19), 33: (32, 20), 35: (34, 21), 36: (34, 22),
}
#: Load points: (category, average MW, peak MW, customers) ([A91] customer data).
_RES1 = ("residential", 0.535, 0.8668, 210)
_RES2 = ("residential", 0.450, 0.7291, 200)
_GOV = ("govt/inst", 0.566, 0.9167, 1)
_COM = ("commercial", 0.454, 0.7500, 10)
LOAD_POINTS = {
    1: _RES1, 2: _RES1, 3: _RES1, 10: _RES1, 11: _RES1,
    12: _RES2, 17: _RES2, 18: _RES2, 19: _RES2,
    8: ("small user", 1.000, 1.6279, 1), 9: ("small user", 1.150, 1.8721, 1),
    4: _GOV, 5: _GOV, 13: _GOV, 14: _GOV, 20: _GOV, 21: _GOV,
    6: _COM, 7: _COM, 15: _COM, 16: _COM, 22: _COM,
}
#: Load points without an 11/0.415 kV transformer ([P1]: transformer rate 0).
NO_TRAFO = (8, 9)
#: Normally-open points between feeder ends ([A91] figure; [P1] Backup Feeders).
TIES = (("F1", "F2"), ("F3", "F4"))

LINE_FAULT_RATE_PER_KM_YEAR = 0.065  # [A91] component data
LINE_REPAIR_H = 5.0  # [A91]
TRAFO_FAULT_RATE_PER_YEAR = 0.015  # [A91]
TRAFO_REPAIR_H = 200.0  # [A91] repair
TRAFO_REPLACEMENT_H = 10.0  # [A91] replacement by a spare
SWITCH_TIME_H = 1.0  # [A91]

#: Published Bus 2 system indices [A91]. ``base``: transformers repaired (200 h);
#: ``replacement``: transformers replaced (10 h). ENS [MWh/yr], SAIFI [1/yr], SAIDI and
#: CAIDI [h]. The replacement values are those [P1] compares against
#: (``reference_values=[0.248, 0.77, 3.08, 8.844]``); the base values are [A91]'s
#: 0.248 / 3.61 / 14.6 / 0.999588 / 37.745.
PUBLISHED = {
    "base": dict(saifi=0.248, saidi_h=3.61, caidi_h=14.6, asai=0.999588, ens_mwh_per_year=37.745),
    "replacement": dict(saifi=0.248, saidi_h=0.77, caidi_h=3.08, ens_mwh_per_year=8.844),
}

#: Load-point indices (lambda [1/yr], U [h/yr]) of RELRAD-software ([P1]):
#: ``base`` from ``RELRAD_software/RELRAD_software_results/RBTS_Bus_2_Case_A_results.xlsx``,
#: ``replacement`` from ``RELRAD_software/Verified_Results/RBTS_Bus_2/RELRAD_Results_Bus2_Case_E.xlsx``,
#: ``no_fuses`` (laterals without fuses, otherwise base) from ``.../RELRAD_Results_Bus2_Case_D.xlsx``.
PEER_LOAD_POINTS = {
    "base": {
        1: (0.23925, 3.57525), 2: (0.25225, 3.64025), 3: (0.25225, 3.64025), 4: (0.23925, 3.57525),
        5: (0.25225, 3.64025), 6: (0.249, 3.624), 7: (0.25225, 3.60125), 8: (0.13975, 0.54275),
        9: (0.13975, 0.50375), 10: (0.2425, 3.5785), 11: (0.25225, 3.64025), 12: (0.2555, 3.6565),
        13: (0.25225, 3.58825), 14: (0.2555, 3.6045), 15: (0.2425, 3.5785), 16: (0.25225, 3.64025),
        17: (0.2425, 3.5915), 18: (0.2425, 3.5785), 19: (0.2555, 3.6435), 20: (0.2555, 3.6435),
        21: (0.25225, 3.58825), 22: (0.2555, 3.6045),
    },
    "replacement": {
        1: (0.23925, 0.72525), 2: (0.25225, 0.79025), 3: (0.25225, 0.79025), 4: (0.23925, 0.72525),
        5: (0.25225, 0.79025), 6: (0.249, 0.774), 7: (0.25225, 0.75125), 8: (0.13975, 0.54275),
        9: (0.13975, 0.50375), 10: (0.2425, 0.7285), 11: (0.25225, 0.79025), 12: (0.2555, 0.8065),
        13: (0.25225, 0.73825), 14: (0.2555, 0.7545), 15: (0.2425, 0.7285), 16: (0.25225, 0.79025),
        17: (0.2425, 0.7415), 18: (0.2425, 0.7285), 19: (0.2555, 0.7935), 20: (0.2555, 0.7935),
        21: (0.25225, 0.73825), 22: (0.2555, 0.7545),
    },
    "no_fuses": {
        1: (0.625, 7.154), 2: (0.625, 7.154), 3: (0.625, 7.154), 4: (0.625, 7.154), 5: (0.625, 7.193),
        6: (0.625, 7.193), 7: (0.625, 3.974), 8: (0.19175, 0.59475), 9: (0.19175, 0.55575),
        10: (0.558, 3.894), 11: (0.558, 7.139), 12: (0.558, 7.139), 13: (0.558, 7.087), 14: (0.558, 7.087),
        15: (0.558, 3.894), 16: (0.625, 7.154), 17: (0.625, 7.154), 18: (0.625, 7.154), 19: (0.625, 7.154),
        20: (0.625, 4.013), 21: (0.625, 7.154), 22: (0.625, 7.154),
    },
}
#: System indices of the ``no_fuses`` case by [P1] (SAIFI, SAIDI [h], ENS [MWh/yr]).
PEER_SYSTEM_NO_FUSES = dict(saifi=0.6023529874, saidi_h=6.7498314990, ens_mwh_per_year=67.2860715)


def rbts_bus2(*, trafo_repair_h: float = TRAFO_REPAIR_H, lateral_fuses: bool = True, disconnects: bool = True,
              alternate_supply: bool = True, switch_time_h: float = SWITCH_TIME_H):
    """The RBTS Bus 2 net in gridint's reliability schema (a fresh copy; see :func:`_build`).

    Parameters
    ----------
    trafo_repair_h : float
        11/0.415 kV transformer outage [h]: 200 (repair, base case) or 10 (replacement).
    lateral_fuses : bool
        Fuses at the head of every lateral (base case True).
    disconnects : bool
        Disconnectors on the main sections (base case True).
    alternate_supply : bool
        Normally-open points F1-F2 and F3-F4 (base case True).
    switch_time_h : float
        Switching time of every disconnector, breaker, fuse and tie [h] (base 1 h).
    """
    net = copy.deepcopy(_base())
    drop = []
    if not lateral_fuses:
        drop += net.switch.index[net.switch["type"] == "fuse"].tolist()
    if not disconnects:
        drop += net.switch.index[(net.switch["type"] == "DS") & net.switch["closed"]].tolist()
    if not alternate_supply:
        drop += net.switch.index[~net.switch["closed"]].tolist()
    net.switch = net.switch.drop(index=drop)
    net.trafo["repair_h"] = float(trafo_repair_h)
    net.switch["switch_time_h"] = float(switch_time_h)
    return net


@functools.lru_cache(maxsize=1)
def _base():
    return _build()


def _build(*, trafo_repair_h: float = TRAFO_REPAIR_H, lateral_fuses: bool = True, disconnects: bool = True,
           alternate_supply: bool = True, switch_time_h: float = SWITCH_TIME_H):
    """The RBTS Bus 2 net in gridint's reliability schema.

    Parameters
    ----------
    trafo_repair_h : float
        11/0.415 kV transformer outage [h]: 200 (repair, base case) or 10 (replacement).
    lateral_fuses : bool
        Fuses at the head of every lateral (base case True).
    disconnects : bool
        Disconnectors on the main sections (base case True).
    alternate_supply : bool
        Normally-open points F1-F2 and F3-F4 (base case True).
    switch_time_h : float
        Switching time of every disconnector, breaker, fuse and tie [h] (base 1 h).

    Returns
    -------
    pandapowerNet
        Bus ``SUB`` (11 kV, ext_grid), main-feeder nodes ``F<k>-N<section>`` at the far
        end of each main section, lateral ends ``LP<n>-HV``, load buses ``LP<n>`` (0.415 kV,
        11 kV for LP8 and LP9). Lines are named ``L<section>``, transformers ``T<n>``,
        loads ``LP<n>``.
    """
    net = pp.create_empty_network(name="RBTS Bus 2", f_hz=50.0)
    # buses: SUB, the far node of every main section, lateral ends, 0.415 kV load buses
    names, vn = ["SUB"], [11.0]
    node = {}
    for feeder, mains in MAINS.items():
        for sec in mains:
            node[sec] = len(names)
            names.append(f"{feeder}-N{sec}"), vn.append(11.0)
    hv, lv = {}, {}
    for sec, (_, lp) in sorted(LATERALS.items()):
        hv[lp] = len(names)
        names.append(f"LP{lp}" if lp in NO_TRAFO else f"LP{lp}-HV"), vn.append(11.0)
    for lp in sorted(LOAD_POINTS):
        if lp in NO_TRAFO:
            lv[lp] = hv[lp]
        else:
            lv[lp] = len(names)
            names.append(f"LP{lp}"), vn.append(0.415)
    pp.create_buses(net, len(names), vn, name=names, type="b", index=list(range(len(names))))
    pp.create_ext_grid(net, 0, vm_pu=1.0, name="33/11 kV substation (perfectly reliable)")
    # lines: main sections, then laterals
    fb, tb, length, lname = [], [], [], []
    sw_bus, sw_line, sw_type, sw_name = [], [], [], []
    for feeder, mains in MAINS.items():
        prev = 0
        for j, sec in enumerate(mains):
            fb.append(prev), tb.append(node[sec]), length.append(LENGTH_KM[sec]), lname.append(f"L{sec}")
            if j == 0 or disconnects:
                sw_bus.append(prev), sw_line.append(len(fb) - 1)
                sw_type.append("CB" if j == 0 else "DS"), sw_name.append(f"CB-{feeder}" if j == 0 else f"DS-L{sec}")
            prev = node[sec]
    for sec, (main, lp) in sorted(LATERALS.items()):
        fb.append(node[main]), tb.append(hv[lp]), length.append(LENGTH_KM[sec]), lname.append(f"L{sec}")
        if lateral_fuses:
            sw_bus.append(node[main]), sw_line.append(len(fb) - 1), sw_type.append("fuse"), sw_name.append(f"FU-L{sec}")
    n = len(fb)
    pp.create_lines_from_parameters(
        net, fb, tb, length, r_ohm_per_km=0.3, x_ohm_per_km=0.35, c_nf_per_km=10.0, max_i_ka=0.4, type="ol",
        name=lname, fault_rate_per_km_year=[LINE_FAULT_RATE_PER_KM_YEAR] * n, repair_h=[LINE_REPAIR_H] * n,
        index=list(range(n)))
    # transformers 11/0.415 kV
    tlp = [lp for lp in sorted(LOAD_POINTS) if lp not in NO_TRAFO]
    pp.create_transformers_from_parameters(
        net, [hv[lp] for lp in tlp], [lv[lp] for lp in tlp], sn_mva=1.0, vn_hv_kv=11.0, vn_lv_kv=0.415,
        vkr_percent=1.0, vk_percent=5.0, pfe_kw=1.5, i0_percent=0.3, name=[f"T{lp}" for lp in tlp],
        fault_rate_per_year=[TRAFO_FAULT_RATE_PER_YEAR] * len(tlp), repair_h=[float(trafo_repair_h)] * len(tlp))
    # loads
    lps = sorted(LOAD_POINTS)
    peak = [LOAD_POINTS[lp][2] for lp in lps]
    pp.create_loads(net, [lv[lp] for lp in lps], peak, q_mvar=[0.2 * p for p in peak], name=[f"LP{lp}" for lp in lps],
                    customers=[LOAD_POINTS[lp][3] for lp in lps], p_avg_mw=[LOAD_POINTS[lp][1] for lp in lps],
                    category=[LOAD_POINTS[lp][0] for lp in lps])
    net.load["customers"] = net.load["customers"].astype("int64")
    # switches: breakers, disconnectors, fuses (line switches), normally-open points (bus-bus)
    et, elem, closed = ["l"] * len(sw_bus), list(sw_line), [True] * len(sw_bus)
    if alternate_supply:
        for a, b in TIES:
            sw_bus.append(node[MAINS[a][-1]]), elem.append(node[MAINS[b][-1]]), et.append("b"), closed.append(False)
            sw_type.append("DS"), sw_name.append(f"NO-{a}-{b}")
    pp.create_switches(net, sw_bus, elem, et, closed=closed, type=sw_type, name=sw_name,
                       switch_time_h=[float(switch_time_h)] * len(sw_bus))
    net.switch["closed"] = net.switch["closed"].astype(bool)
    return net
