"""Benchmark: day-ahead storage dispatch, 96 steps x 20 storage units, AC-verified.

What is measured, in one run on this machine
--------------------------------------------
Two feeders with 20 batteries each and a day with PV problems:

* SimBench ``1-MV-rural--0-sw`` (97 buses, 20 kV): the rooftop PV (``lv_RES``
  sgens) four times its 2016 rating, 20 batteries at the 20 buses with the most
  PV (power = half the PV AC rating there, 2 h, SoC 50 %), date 06-21, loads
  from the SimBench profile of that day, PV from gridint's day-ahead forecast
  (P10 / P50 / P90 on the Xiangtan typical year).
* ``xt-county-rural`` (83 buses, 10 kV): the over-voltage day of the tests
  (2024-03-22, substation bus at 1.045 pu, PV at the battery busbars x 1.5) with
  its 8 batteries plus 12 customer batteries at the other PV busbars (20).

For each: gridint's plan (robust over P10/P50/P90: sensitivities by the batch
engine, LP iterations in HiGHS kept warm, AC checks of all three scenarios),
best of ``--repeats`` runs with inputs and compiled net at hand, and once end to
end (``plan_day``: feeder inputs, forecast, compile, plan). Peers in the same run:

1. **same algorithm, cold LPs**: every LP solved from scratch with
   :func:`scipy.optimize.linprog` (``method="highs"``) instead of the warm
   ``highspy`` model;
2. **naive full LP**: every (scenario, step, monitored quantity, limit) row in
   the LP from the start instead of the active set (one cold linprog per AC
   iteration) -- the textbook formulation; its plan is compared with gridint's;
3. **pandapower runpp verification**: the plan's P50 day re-solved step by step
   with pandapower's Newton-Raphson (``tolerance_mva=1e-9``): time, and the
   largest voltage difference to gridint's AC check.

``python -m sims.bench_dispatch [--repeats N] [--out]``; ``--out`` writes the
section ``## Storage dispatch (sims/bench_dispatch.py)`` of ``sims/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as dt
import json
import logging
import time
import warnings

import numpy as np

from sims._results import RESULTS_MD, machine_and_commit, write_section

logger = logging.getLogger(__name__)

SECTION = "## Storage dispatch (sims/bench_dispatch.py)"
TARGET_S = 3.0
N_UNITS = 20


def simbench_case():
    """SimBench MV rural with PV x4 and 20 batteries (profiles built before the batteries)."""
    import pandapower as pp

    from gridint.grid.catalog import load_feeder
    from gridint.solar.fleet import pv_systems

    f = load_feeder("1-MV-rural--0-sw")
    net = f.net
    sy = pv_systems(net)
    net.sgen.loc[sy.index, "p_mw"] *= 4.0
    net.sgen.loc[sy.index, "sn_mva"] *= 4.0
    f.__dict__.pop("profiles", None)
    f.profiles  # noqa: B018 - SimBench profiles from the enlarged ratings, before storage rows exist
    pv_bus = net.sgen.loc[sy.index].groupby("bus")["p_mw"].sum().sort_values(ascending=False, kind="stable")
    for i, b in enumerate(pv_bus.index[:N_UNITS]):
        p = max(0.05, round(0.5 * float(pv_bus[b]), 2))
        pp.create_storage(net, int(b), 0.0, 2.0 * p, sn_mva=p, max_p_mw=p, min_p_mw=-p, soc_percent=50.0,
                          name=f"ESS-{i + 1:02d}", owner="utility", critical_kw=round(100.0 * p, 1),
                          reserve_h=2.0, island_capable=False)
    return f, "2024-06-21", ("SimBench 1-MV-rural--0-sw, lv_RES PV x4 (SimBench profile loads), "
                             "20 batteries at the 20 PV-richest buses (P = 0.5 x local PV, 2 h)")


def xiangtan_case():
    """xt-county-rural over-voltage day with 12 more customer batteries (20 in all)."""
    import pandapower as pp

    from gridint.grid.catalog import load_feeder

    f = load_feeder("xt-county-rural")
    net = f.net
    net.ext_grid.loc[net.ext_grid["role"] == "substation", "vm_pu"] = 1.045
    more = net.sgen["bus"].isin(net.storage["bus"])
    for col in ("p_mw", "sn_mva", "kwp"):
        net.sgen.loc[more, col] *= 1.5
    pv_bus = net.sgen.groupby("bus")["p_mw"].sum().sort_values(ascending=False, kind="stable")
    free = [b for b in pv_bus.index if b not in set(net.storage["bus"])]
    for b in free[:N_UNITS - len(net.storage)]:
        p = max(0.005, round(0.4 * float(pv_bus[b]), 3))
        name = str(net.bus.at[b, "name"]).removeprefix(f"{net.name}-").removesuffix("-LV")
        pp.create_storage(net, int(b), 0.0, 2.0 * p, sn_mva=p, max_p_mw=p, min_p_mw=-p, soc_percent=50.0,
                          name=f"{name}-ESS-C2", owner="customer", critical_kw=round(50.0 * p, 1),
                          reserve_h=2.0, island_capable=False)
    f.__dict__.pop("profiles", None)
    return f, "2024-03-22", ("xt-county-rural, substation 1.045 pu, PV x1.5 at the battery busbars, "
                             "8 generator batteries + 12 customer batteries")


@contextlib.contextmanager
def _settings(**kw):
    from gridint.config import get_settings

    s = get_settings()
    old = {k: getattr(s, k) for k in kw}
    try:
        for k, v in kw.items():
            setattr(s, k, v)
        yield
    finally:
        for k, v in old.items():
            setattr(s, k, v)


@contextlib.contextmanager
def _cold_lp():
    import gridint.dispatch.lp as lpm

    orig = lpm._highspy
    lpm._highspy = lambda: None
    try:
        yield
    finally:
        lpm._highspy = orig


def _best(fn, repeats):
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _runpp_check(feeder, plan, steps):
    import pandapower as pp

    values = plan.element_values()
    work = copy.deepcopy(feeder.net)
    bus_index = plan._res_after.compiled.bus_index
    worst = 0.0
    t0 = time.perf_counter()
    for k in steps:
        for key, df in values.items():
            table, col = key.split("_", 1)
            work[table].loc[df.columns, col] = df.iloc[k].to_numpy()
        pp.runpp(work, init="auto", tolerance_mva=1e-9, calculate_voltage_angles=True, max_iteration=30,
                 numba=False, lightsim2grid=False)
        vm = work.res_bus.vm_pu.reindex(bus_index).to_numpy()
        worst = max(worst, float(np.nanmax(np.abs(vm - plan._res_after.vm_pu[k]))))
    return time.perf_counter() - t0, worst


def study(builder, repeats: int, naive: bool) -> dict:
    from gridint.dispatch import day_inputs, dispatch, plan_day
    from gridint.powerflow import compile_net, element_injections, run_batch

    feeder, date, label = builder()
    # end to end once (inputs incl. forecast, compile, plan)
    t0 = time.perf_counter()
    plan_e2e = plan_day(feeder, date)
    e2e_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    inputs = day_inputs(feeder, date)
    inputs_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    compiled = compile_net(feeder.net, name=feeder.name)
    compile_s = time.perf_counter() - t0
    warm_s, plan = _best(lambda: dispatch(feeder, inputs, compiled=compiled), repeats)
    with _cold_lp():
        cold_s, plan_cold = _best(lambda: dispatch(feeder, inputs, compiled=compiled), max(1, repeats // 2))
    out = {
        "label": label, "feeder": feeder.name, "date": date, "n_bus": int(len(feeder.net.bus)),
        "n_units": int(len(plan.units)), "n_pv": int(len(plan.curtail_kw.columns)),
        "plan": plan.summary() | {"iterations": plan.iterations, "lp": plan.lp, "timings": plan.timings,
                                  "scenarios": {k: {"without": v["without_plan"]["violations"],
                                                    "with": v["with_plan"]["violations"],
                                                    "contingent_curtailment_kwh": v["contingent_curtailment_kwh"]}
                                                for k, v in plan.scenarios.items()},
                                  "before_kind": plan.before["violations_by_kind"],
                                  "energy_charged_kwh": float(np.clip(plan.p_kw, 0, None).sum() * 0.25)},
        "warm_s": warm_s, "cold_s": cold_s, "cold_objective": plan_cold.lp["objective"],
        "compile_s": compile_s, "inputs_s": inputs_s, "e2e_s": e2e_s,
        "e2e_violations_after": plan_e2e.after["violations"],
    }
    if naive:
        with _settings(dispatch_active_band_pu=10.0, dispatch_active_band_percent=1e6), _cold_lp():
            t0 = time.perf_counter()
            try:
                plan_n = dispatch(feeder, inputs, compiled=compiled)
                out["naive"] = {"s": time.perf_counter() - t0, "rows": plan_n.lp["network_rows"],
                                "n_vars": plan_n.lp["n_vars"], "nnz": plan_n.lp["nnz"],
                                "iterations": plan_n.iterations,
                                "violations_after": plan_n.after["violations"],
                                "curtailment_kwh": plan_n.curtailment_kwh,
                                "objective": plan_n.lp["objective"],
                                "max_dp_kw": float(np.abs(plan_n.p_kw - plan.p_kw).max())}
            except MemoryError as exc:  # pragma: no cover
                out["naive"] = {"error": str(exc)}
    steps = list(range(96))
    pp_s, pp_dvm = _runpp_check(feeder, plan, steps)
    p, q = element_injections(compiled, **plan.element_values())
    batch_s, res = _best(lambda: run_batch(compiled, p, q), repeats)
    out["runpp"] = {"steps": len(steps), "s": pp_s, "max_dvm_pu": pp_dvm, "batch_s": batch_s,
                    "batch_vs_plan_dvm_pu": float(np.nanmax(np.abs(res.vm_pu - plan._res_after.vm_pu)))}
    return out


def _fmt(r: dict) -> str:
    p = r["plan"]
    t = p["timings"]
    lines = [f"### {r['feeder']}: {r['label']} ({r['n_bus']} buses, {r['n_units']} batteries, "
             f"{r['n_pv']} PV systems, {r['date']})", ""]
    sc = p["scenarios"]
    lines += [
        "| | P50 before | P50 after | P10 without / with plan | P90 without / with plan |",
        "|---|---:|---:|---:|---:|",
        f"| violations (step x element) | {p['violations_before']} | {p['violations_after']} | "
        f"{sc.get('p10', {}).get('without', '-')} / {sc.get('p10', {}).get('with', '-')} | "
        f"{sc.get('p90', {}).get('without', '-')} / {sc.get('p90', {}).get('with', '-')} |",
        f"| max voltage [pu] | {p['vmax_pu_before']:.4f} | {p['vmax_pu_after']:.4f} | | |",
        "",
        f"Before: {p['before_kind']}. Plan: {p['iterations']} AC iteration(s), "
        f"{p['lp']['network_rows']:,} network rows of {p['lp']['n_rows']:,} LP rows, {p['lp']['n_vars']:,} "
        f"variables, {p['lp']['nnz']:,} non-zeros, {p['lp']['power_flows']:,} AC power flows; "
        f"{p['energy_charged_kwh']:,.0f} kWh charged, P50 curtailment {p['curtailment_kwh']:,.1f} kWh "
        f"(contingent P90 curtailment {sc.get('p90', {}).get('contingent_curtailment_kwh', 0):,.1f} kWh), "
        f"reserve kept: {p['reserve_ok']}.",
        "",
        "| what | wall time [s] | vs gridint |",
        "|---|---:|---:|",
        f"| **gridint plan**: sensitivities + LP iterations (warm highspy) + AC checks of P10/P50/P90, "
        f"best of the repeats | **{r['warm_s']:.3f}** | 1.00x |",
        f"| ... of which sensitivities / LP / AC checks | {t['sensitivity_s']:.3f} / {t['lp_s']:.3f} / "
        f"{t['ac_check_s']:.3f} | |",
        f"| gridint plan + `compile_net` | {r['warm_s'] + r['compile_s']:.3f} | "
        f"{(r['warm_s'] + r['compile_s']) / r['warm_s']:.2f}x |",
        f"| `plan_day` end to end once (profiles, day-ahead forecast P10/P50/P90, compile, plan) | "
        f"{r['e2e_s']:.3f} | {r['e2e_s'] / r['warm_s']:.2f}x |",
        f"| peer: same algorithm, every LP cold in scipy `linprog(method='highs')` | {r['cold_s']:.3f} | "
        f"{r['cold_s'] / r['warm_s']:.2f}x |",
    ]
    n = r.get("naive")
    if n and "s" in n:
        lines.append(f"| peer: naive full LP (all {n['rows']:,} rows from the start, cold linprog) | "
                     f"{n['s']:.3f} | {n['s'] / r['warm_s']:.2f}x |")
    rp = r["runpp"]
    lines.append(f"| peer: pandapower `runpp` verification of the P50 plan, {rp['steps']} steps | "
                 f"{rp['s']:.3f} | {rp['s'] / r['warm_s']:.2f}x |")
    lines += ["", f"Target <= {TARGET_S:g} s for the AC-verified plan: **{'PASS' if r['warm_s'] <= TARGET_S else 'FAIL'}** "
              f"({r['warm_s']:.3f} s; with `compile_net` {r['warm_s'] + r['compile_s']:.3f} s).",
              f"gridint's AC check vs pandapower `runpp` on the {rp['steps']} planned P50 steps: largest "
              f"|dV| = {rp['max_dvm_pu']:.1e} pu; one AC check of 96 steps takes gridint "
              f"{rp['batch_s'] * 1000:.1f} ms vs {rp['s']:.2f} s for runpp."]
    if n and "s" in n:
        lines.append(f"Naive full LP: {n['n_vars']:,} variables, {n['nnz']:,} non-zeros, {n['iterations']} AC "
                     f"iteration(s), {n['violations_after']} violations after, curtailment "
                     f"{n['curtailment_kwh']:.1f} kWh, objective {n['objective']:,.1f} vs gridint's "
                     f"{p['lp']['objective']:,.1f} (cold LP path: {r['cold_objective']:,.1f}); largest "
                     f"battery power difference {n['max_dp_kw']:.1f} kW (LP optima need not be unique).")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5, help="best of N for the timed plan (default 5)")
    ap.add_argument("--no-naive", action="store_true", help="skip the naive full-LP peer")
    ap.add_argument("--out", nargs="?", const=str(RESULTS_MD), default=None,
                    help=f"write/replace the section in this markdown file (default {RESULTS_MD})")
    ap.add_argument("--json", default=None, help="also dump the figures to this JSON file")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore")
    t_start = time.perf_counter()
    load0 = _loadavg()
    cpu, ram_gb, commit = machine_and_commit("gridint/dispatch")
    results = []
    for builder in (simbench_case, xiangtan_case):
        r = study(builder, args.repeats, not args.no_naive)
        print(json.dumps({k: v for k, v in r.items() if k != "plan"}, default=str))
        results.append(r)
    import numba
    import pandapower
    import scipy

    head = (f"Run {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')} with "
            f"`python -m sims.bench_dispatch --repeats {args.repeats}` (whole run "
            f"{(time.perf_counter() - t_start) / 60:.1f} min). Machine: {cpu}, {ram_gb:.1f} GB RAM, "
            f"{numba.get_num_threads()} numba threads; shared with other jobs (load average at start / end "
            f"{load0} / {_loadavg()}), so absolute times carry that noise; the peers ran in the same "
            f"process right after gridint. gridint {commit}; pandapower {pandapower.__version__}, "
            f"scipy {scipy.__version__}, highspy {_hs_version()}.")
    text = "\n\n".join([SECTION, head,
                        "Each plan: 96 quarter-hours, every battery, PV curtailment as the last resort, "
                        "one battery schedule that keeps P10, P50 and P90 within GB/T 12325 voltage, "
                        "thermal and DL/T 2041 reverse-power limits (contingent curtailment per scenario), "
                        "verified by AC power flow of all three scenarios."]
                       + [_fmt(r) for r in results])
    print("\n" + text)
    if args.out:
        from pathlib import Path

        write_section(SECTION, text, Path(args.out))
        print(f"wrote {args.out}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, default=str, indent=1)
    return 0


def _hs_version() -> str:
    try:
        from importlib.metadata import version

        return version("highspy")
    except Exception:  # noqa: BLE001
        return "?"


def _loadavg() -> str:
    try:
        return ", ".join(f"{x:.1f}" for x in __import__("os").getloadavg())
    except OSError:  # pragma: no cover
        return "?"


if __name__ == "__main__":
    raise SystemExit(main())
