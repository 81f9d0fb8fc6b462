"""Hosting capacity of every bus of a ~100-bus feeder over a full year.

What is measured, in one run on this machine
--------------------------------------------
1. gridint: :func:`gridint.hosting.feeder_hosting_capacity` -- the nodal
   hosting capacity of every bus, every distribution transformer and the
   feeder's simultaneous allocation, over all 35,136 quarter-hours of the
   profile year (base run, screening, stacked AC bracketing, confirmation on
   every step), wall time best of ``--repeats``, on SimBench ``1-MV-rural--0-sw``
   (97 buses) and the Xiangtan ``xt-county-rural`` (83 buses).
2. Audit of every answer with the AC engine on *every* step of the year: at
   ``hc`` no step may have a new violation, at ``hc + max(1 kW, 1 %)`` some step
   must -- counted for every bus.
3. Peer, in the same run: a pandapower brute force -- bisection to 1 kW with
   ``pandapower.runpp`` on every trial step -- for ``--pp-buses`` buses on a
   subsample of ``--pp-steps`` steps (the steps that bind, plus the highest-PV
   ones). gridint's answer on the same steps is compared with it, and the
   brute force's cost is extrapolated to every bus and every step
   (runpp time x its bisection trials x steps x buses) for the speed ratio.

Run ``python -m sims.bench_hosting`` (a few minutes); ``--out`` writes the
section ``## Hosting capacity`` of ``sims/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import logging
import os
import platform
import time
import warnings

import numpy as np
import pandas as pd

from sims._results import _cpu_counters, _others_share, machine_and_commit, wait_for_idle, \
    write_section

SECTION = "## Hosting capacity"
FEEDERS = ("1-MV-rural--0-sw", "xt-county-rural")


def machine_info() -> dict:
    import numba
    import pandapower

    cpu, ram_gb, commit = machine_and_commit("gridint/hosting")
    return {"date": dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
            "commit": commit, "cpu": cpu, "cores": len(os.sched_getaffinity(0)),
            "ram_gb": ram_gb, "python": platform.python_version(),
            "pandapower": pandapower.__version__, "numba": numba.__version__}


def time_gridint(feeder, repeats: int):
    from gridint.hosting import feeder_hosting_capacity

    best, res = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = feeder_hosting_capacity(feeder)
        best = min(best, time.perf_counter() - t0)
    return best, res


def audit(feeder, res) -> dict:
    """Every bus at hc and just above, on every step of the year (AC)."""
    from gridint.hosting import Site
    from gridint.hosting.engine import _Study
    from gridint.hosting.study import _prepare

    c, p, q, shape, tindex, _ = _prepare(feeder, "year")
    study = _Study(c, p, q, shape, tindex)
    names = list(c.bus_names)
    steps = np.arange(study.n_steps)
    held = broke_above = 0
    t0 = time.perf_counter()
    for b in res.buses:
        site = Site(b["name"], np.array([names.index(b["name"])]), np.array([1.0]))
        hc = b["hc_kw"]
        r_at, r_above = study.run_trials([(site, max(hc - 0.05, 0.0), steps),
                                          (site, hc + max(1.0, 0.01 * hc), steps)])
        held += study.verdict(r_at, steps)[0]
        broke_above += not study.verdict(r_above, steps)[0]
    return {"n": len(res.buses), "held": held, "broke_above": broke_above,
            "steps": study.n_steps, "seconds": time.perf_counter() - t0}


def pp_brute_force(feeder, res, n_buses: int, n_steps: int) -> dict:
    """pandapower runpp bisection on a subsample of buses and steps vs gridint there."""
    import pandapower as pp

    from gridint.config import get_settings
    from gridint.hosting import nodal_hosting_capacity
    from gridint.hosting.study import _prepare

    s = get_settings()
    c, p, q, shape, tindex, _ = _prepare(feeder, "year")
    prof = feeder.profiles
    names = list(c.bus_names)
    bin_steps = {tindex.get_loc(pd.Timestamp(b["binding"]["time"]))
                 for b in res.buses if b["binding"] and b["binding"]["time"]}
    top = list(np.argsort(-shape, kind="stable")[: n_steps])
    steps = np.array(sorted(set(list(bin_steps)[: n_steps // 2]) | set(top)))[:n_steps]
    order = np.argsort([b["hc_kw"] for b in res.buses])
    picks = [res.buses[i] for i in order[np.linspace(0, len(order) - 1, n_buses).astype(int)]]
    net = feeder.net
    n_runpp = [0]
    t_runpp = [0.0]

    def violates(bus_id, x_kw, sub):
        for k in sub:
            n = copy.deepcopy(net)
            for key, df in prof.values.items():
                table, col = key.split("_", 1)
                n[table].loc[df.columns, col] = df.iloc[k].to_numpy()
            pp.create_sgen(n, bus_id, p_mw=x_kw / 1000.0 * shape[k])
            t0 = time.perf_counter()
            try:
                pp.runpp(n, tolerance_mva=1e-9)
            except pp.LoadflowNotConverged:
                return True
            finally:
                t_runpp[0] += time.perf_counter() - t0
                n_runpp[0] += 1
            if n.res_bus.vm_pu.max() > s.vm_max_pu:
                return True
            if len(n.line) and n.res_line.loading_percent.max() > s.line_loading_max_percent:
                return True
            if len(n.trafo):
                if n.res_trafo.loading_percent.max() > s.trafo_loading_max_percent:
                    return True
                if (-n.res_trafo.p_hv_mw / n.trafo.sn_mva).max() > s.reverse_load_rate_max:
                    return True
        return False

    rows = []
    n_trials = []
    for b in picks:
        bus_id = int(c.bus_index[names.index(b["name"])])
        ours = nodal_hosting_capacity(c, p[steps], q[steps], bus_id, shape=shape[steps],
                                      time_index=tindex[steps], screen_steps=None)
        lo, hi, trials = 0.0, max(ours.hc_kw, 10.0) * 2.0, 0
        while not violates(bus_id, hi, steps):
            lo, hi, trials = hi, hi * 2.0, trials + 1
        trials += 1
        while hi - lo > 1.0:
            mid = 0.5 * (lo + hi)
            trials += 1
            if violates(bus_id, mid, steps):
                hi = mid
            else:
                lo = mid
        n_trials.append(trials)
        rows.append({"bus": b["name"], "gridint_kw": ours.hc_kw, "pandapower_kw": lo,
                     "diff_kw": ours.hc_kw - lo})
    per_runpp = t_runpp[0] / max(n_runpp[0], 1)
    return {"rows": rows, "steps": len(steps), "runpp": n_runpp[0], "per_runpp_s": per_runpp,
            "trials_per_bus": float(np.mean(n_trials))}


def render(info, runs, cmd) -> str:
    lines = [SECTION, "",
             f"Run {info['date']} on {info['cpu']} ({info['cores']} cores, {info['ram_gb']:.0f} GB), "
             f"commit {info['commit']}, Python {info['python']}, pandapower {info['pandapower']}, "
             f"numba {info['numba']}; others' CPU share during the run "
             f"{info.get('others', float('nan')):.0%}. Command: `{cmd}`.", "",
             "Every bus of the feeder, a full profile year of quarter-hours, new PV with the "
             "default rooftop shape (`gridint.hosting.feeder_hosting_capacity`: nodal values of "
             "every bus + every distribution transformer + the feeder's simultaneous allocation).",
             "", "| feeder | buses | steps | gridint [s] | AC power flows | audit: hold at hc / "
             "break at hc+1 % (every step) | pandapower brute force, extrapolated [s] | ratio |",
             "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        a, pp_ = r["audit"], r["pp"]
        extrap = pp_["per_runpp_s"] * pp_["trials_per_bus"] * r["steps"] * r["buses"]
        lines.append(
            f"| {r['feeder']} | {r['buses']} | {r['steps']:,} | {r['gridint_s']:.2f} | "
            f"{r['n_pf']:,} | {a['held']}/{a['n']} / {a['broke_above']}/{a['n']} | "
            f"{extrap:,.0f} | {extrap / r['gridint_s']:,.0f}x |")
    lines += ["", "Agreement with the pandapower runpp brute force (bisection to 1 kW on the "
              "same subsample of steps: the steps where answers bind plus the highest-PV ones):",
              "", "| feeder | bus | steps | gridint [kW] | pandapower [kW] | difference [kW] |",
              "|---|---|---|---|---|---|"]
    for r in runs:
        for row in r["pp"]["rows"]:
            lines.append(f"| {r['feeder']} | {row['bus']} | {r['pp']['steps']} | "
                         f"{row['gridint_kw']:,.1f} | {row['pandapower_kw']:,.1f} | "
                         f"{row['diff_kw']:+.1f} |")
    lines += ["", "Brute-force extrapolation = measured seconds per `runpp` x mean bisection "
              "trials per bus x steps x buses (each trial runs every step until one breaks; "
              "counted as all steps, as a feasible trial must). "
              + "; ".join(f"{r['feeder']}: {r['pp']['per_runpp_s'] * 1e3:.1f} ms per runpp, "
                          f"{r['pp']['trials_per_bus']:.1f} trials per bus"
                          for r in runs) + ".", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--pp-buses", type=int, default=3)
    ap.add_argument("--pp-steps", type=int, default=12)
    ap.add_argument("--no-audit", action="store_true")
    ap.add_argument("--wait-idle", type=float, default=0.0,
                    help="wait up to this many seconds for an idle machine")
    ap.add_argument("--out", action="store_true", help="write the section of sims/RESULTS.md")
    args = ap.parse_args(argv)
    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)
    from gridint.grid.catalog import load_feeder
    from gridint.hosting import feeder_hosting_capacity

    if args.wait_idle > 0:
        wait_for_idle(args.wait_idle)
    info = machine_info()
    c0 = _cpu_counters()
    feeder_hosting_capacity("case33bw")  # compile the kernels once
    runs = []
    for name in FEEDERS:
        feeder = load_feeder(name)
        feeder.profiles  # profile year loaded once (not part of the study)
        print(f"{name}: gridint ...", flush=True)
        t, res = time_gridint(feeder, args.repeats)
        print(f"  {len(res.buses)} buses in {t:.2f} s", flush=True)
        run = {"feeder": name, "buses": len(res.buses), "steps": res.n_steps, "gridint_s": t,
               "n_pf": res.n_power_flows}
        if not args.no_audit:
            print("  audit on every step ...", flush=True)
            run["audit"] = audit(feeder, res)
        else:
            run["audit"] = {"n": 0, "held": 0, "broke_above": 0}
        print("  pandapower brute force on a subsample ...", flush=True)
        run["pp"] = pp_brute_force(feeder, res, args.pp_buses, args.pp_steps)
        runs.append(run)
    info["others"] = _others_share(c0, _cpu_counters())
    cmd = "python -m sims.bench_hosting" + (" --out" if args.out else "")
    text = render(info, runs, cmd)
    print(text)
    if args.out:
        write_section(SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
