"""Slow, obvious reference for RBTS Bus 2: load-point indices written out by hand.

Independent of gridint's graph code: it applies the RELRAD rules directly to the
feeder structure of [A91] (a chain of main sections per feeder, one lateral per load
point) as one would on paper (Billinton & Allan 1996, ch. 7 tables):

* main section ``i`` faulted, load point attached at the far end of main section ``j``:
  with disconnectors, ``i == j`` waits for the repair (the load's lateral hangs on the
  faulted zone), ``i > j`` (downstream) is restored after the switching time,
  ``i < j`` (upstream) after the switching time if the feeder end has an alternate
  supply, else waits for the repair; without disconnectors every main fault waits;
* its own lateral and transformer: repair; other laterals / transformers: nothing
  with fuses, else the effect of a fault of the main section they hang on, with their
  own repair time;
* no restoration longer than the repair; an interruption of at most the threshold is
  momentary.
"""

from __future__ import annotations

from tests.reliability.data import rbts_bus2 as R


def load_point_indices(*, trafo_repair_h=R.TRAFO_REPAIR_H, lateral_fuses=True, disconnects=True,
                       alternate_supply=True, switch_time_h=R.SWITCH_TIME_H, threshold_h=0.05):
    """{lp: (lambda [1/yr], U [h/yr], momentary [1/yr])} for every RBTS Bus 2 load point."""
    lam_line = R.LINE_FAULT_RATE_PER_KM_YEAR
    out = {}
    for sec, (main, lp) in R.LATERALS.items():
        feeder = next(f for f, ms in R.MAINS.items() if main in ms)
        mains = R.MAINS[feeder]
        j = mains.index(main)

        def effect(i, rep):
            if not disconnects or i == j:
                return rep
            if i > j or alternate_supply:
                return min(switch_time_h, rep)
            return rep

        events = []  # (rate, duration)
        for i, m in enumerate(mains):
            events.append((lam_line * R.LENGTH_KM[m], effect(i, R.LINE_REPAIR_H)))
        for sec2, (main2, lp2) in R.LATERALS.items():
            if main2 not in mains:
                continue
            comps = [(lam_line * R.LENGTH_KM[sec2], R.LINE_REPAIR_H)]
            if lp2 not in R.NO_TRAFO:
                comps.append((R.TRAFO_FAULT_RATE_PER_YEAR, trafo_repair_h))
            for rate, rep in comps:
                if lp2 == lp:
                    events.append((rate, rep))
                elif not lateral_fuses:
                    events.append((rate, effect(mains.index(main2), rep)))
        lam = sum(r for r, d in events if d > threshold_h)
        u = sum(r * d for r, d in events if d > threshold_h)
        mom = sum(r for r, d in events if 0 < d <= threshold_h)
        out[lp] = (lam, u, mom)
    return out


def system(lp_indices: dict) -> dict:
    """SAIFI, SAIDI, ENS from load-point indices (customers and average loads of [A91])."""
    n = sum(R.LOAD_POINTS[lp][3] for lp in lp_indices)
    saifi = sum(R.LOAD_POINTS[lp][3] * v[0] for lp, v in lp_indices.items()) / n
    saidi = sum(R.LOAD_POINTS[lp][3] * v[1] for lp, v in lp_indices.items()) / n
    ens = sum(R.LOAD_POINTS[lp][1] * v[1] for lp, v in lp_indices.items())
    return dict(saifi=saifi, saidi_h=saidi, ens_mwh_per_year=ens)
