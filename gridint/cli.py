"""The ``gridint`` command.

Every command takes a catalog name or a pandapower JSON file and ``--json``
for machine output. Errors print one line ``gridint: error: ...`` on stderr
and exit with status 2 (bad input) or 1 (study failed, e.g. no convergence).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from gridint.errors import GridintError

__all__ = ["main"]

logger = logging.getLogger(__name__)


def _fmt_time(t: str | None) -> str:
    return "" if t is None else f" at {t}"


def _print_feeders(rows: list[dict]) -> None:
    head = ("name", "kV", "buses", "trafos", "km", "peak kW", "PV kW", "source")
    table = [(r["name"], f"{r['voltage_kv']:g}", str(r["n_buses"]), str(r["n_transformers"]),
              f"{r['length_km']:.1f}", f"{r['peak_load_kw']:,.0f}", f"{r['pv_kw']:,.0f}",
              r["source"].split(";")[0].split(" (")[0]) for r in rows]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" if i in (0, 7) else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(fmt.format(*head))
    for row in table:
        print(fmt.format(*row))


def _print_powerflow(s: dict) -> None:
    mode = {"snapshot": "snapshot of the file's loads and sgens",
            "time": f"profile step {s.get('time')}",
            "year": f"profile year {s.get('time_start')} .. {s.get('time_end')}"}[s["mode"]]
    print(f"{s['feeder']}: {mode}")
    print(f"  steps converged   {s['converged_steps']:,} / {s['n_steps']:,}")
    if s["vmin_pu"] is not None:
        print(f"  min voltage       {s['vmin_pu']:.4f} pu at bus {s['vmin_bus']}{_fmt_time(s['vmin_time'])}")
        print(f"  max voltage       {s['vmax_pu']:.4f} pu at bus {s['vmax_bus']}{_fmt_time(s['vmax_time'])}")
    if s.get("max_line_loading_percent") is not None:
        print(f"  worst line        {s['max_line_loading_percent']:.1f} % ({s['max_line']})"
              f"{_fmt_time(s['max_line_time'])}")
    if s.get("max_trafo_loading_percent") is not None:
        print(f"  worst transformer {s['max_trafo_loading_percent']:.1f} % ({s['max_trafo']})"
              f"{_fmt_time(s['max_trafo_time'])}")
    if "energy_losses_kwh" in s:
        print(f"  energy losses     {s['energy_losses_kwh']:,.0f} kWh")
    elif s.get("losses_kw") is not None:
        print(f"  losses            {s['losses_kw']:,.2f} kW")
    print(f"  runtime           {s['runtime_s']:.3f} s solve, {s['compile_s']:.3f} s compile")


def _cmd_feeders(args) -> int:
    from gridint.grid.catalog import list_feeders

    rows = list_feeders()
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        _print_feeders(rows)
    return 0


def _cmd_powerflow(args) -> int:
    from gridint.grid.catalog import load_feeder
    from gridint.powerflow.study import run_feeder

    feeder = load_feeder(args.feeder)
    _, summary = run_feeder(feeder, year=args.year, when=args.time)
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_powerflow(summary)
    if summary["converged_steps"] == 0:
        print("gridint: error: the power flow did not converge", file=sys.stderr)
        return 1
    return 0


def _kw(v: float) -> str:
    return f"{v:,.1f}"


def _print_forecast(f: dict) -> None:
    import numpy as np

    ts = f["timestamps"]
    p10, p50, p90 = (np.asarray(f[k], dtype=float) for k in ("pv_kw_p10", "pv_kw_p50", "pv_kw_p90"))
    hours = 0.25 * f["interval_min"] / 15
    if f["horizon"] == "day-ahead":
        print(f"{f['feeder']}: day-ahead PV forecast for {ts[0][:10]} (issued {f['issue_time']})")
    else:
        print(f"{f['feeder']}: intraday PV forecast {ts[0][11:16]} .. {ts[-1][11:16]} on {ts[0][:10]} "
              f"(issued {f['issue_time']}, horizons 15 min .. {len(ts) * f['interval_min'] // 60} h)")
    i_peak = int(np.argmax(p50)) if p50.size else 0
    print(f"  fleet             {f['capacity_kwp']:,.1f} kWp")
    print(f"  energy P50        {f['energy_kwh_p50']:,.1f} kWh (sum of P10 {p10.sum() * hours:,.1f}, "
          f"of P90 {p90.sum() * hours:,.1f} kWh)")
    if p50.size:
        print(f"  peak P50          {_kw(p50[i_peak])} kW at {ts[i_peak][11:16]}")
    if f["horizon"] == "day-ahead":  # hourly means of the quarter-hours with sun
        per = 60 // f["interval_min"]
        n = len(ts) // per
        rows = [(ts[i * per][11:16], p10[i * per:(i + 1) * per].mean(), p50[i * per:(i + 1) * per].mean(),
                 p90[i * per:(i + 1) * per].mean()) for i in range(n) if p90[i * per:(i + 1) * per].max() > 0]
        head = "hour"
    else:
        rows = list(zip((t[11:16] for t in ts), p10, p50, p90))
        head = "time"
    print(f"  {head:<5}  {'P10 kW':>9}  {'P50 kW':>9}  {'P90 kW':>9}")
    for t, a, b, c in rows:
        print(f"  {t:<5}  {_kw(a):>9}  {_kw(b):>9}  {_kw(c):>9}")
    if "buses" in f:
        print(f"  {'bus':<24}  {'P50 kWh':>10}  {'peak P50 kW':>11}")
        for b in f["buses"]:
            v = np.asarray(b["pv_kw_p50"], dtype=float)
            print(f"  {b['name']:<24}  {v.sum() * hours:>10,.1f}  {v.max():>11,.1f}")


def _print_validation(v: dict) -> None:
    print("PV fleet model against measured data (NREL SERF east, pvanalytics)")
    for key, value in v.items():
        if isinstance(value, float):
            print(f"  {key:<22}{value:,.4g}")
        elif isinstance(value, (int, str)):
            print(f"  {key:<22}{value}")
        else:
            print(f"  {key:<22}{json.dumps(value, default=str)}")


def _cmd_forecast(args) -> int:
    from pathlib import Path

    if args.validate:
        from gridint.solar.validation import serf_validation

        result = serf_validation()
        if args.json:
            print(json.dumps(result, indent=2, default=str))
        else:
            _print_validation(result)
        return 0
    if not args.feeder:
        raise GridintError("forecast needs a FEEDER (catalog name or pandapower JSON file), or --validate")
    from gridint.errors import WeatherError
    from gridint.grid.catalog import load_feeder
    from gridint.solar.forecast import forecast_feeder

    if args.weather is not None and not Path(args.weather).is_file():
        raise WeatherError(f"--weather {args.weather}: no such file")
    feeder = load_feeder(args.feeder)
    result = forecast_feeder(feeder, args.date, horizon=args.horizon, forecast_weather=args.weather,
                             per_bus=args.per_bus, issue_time=args.issue_time)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_forecast(result)
    return 0


def _progress_bar(enabled: bool):
    """A one-line progress bar on stderr (None when disabled)."""
    if not enabled:
        return None

    def show(stage: str, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\r{stage:<12} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return show


def _print_hosting(d: dict) -> None:
    print(f"Hosting capacity of {d['feeder']} ({d['steps']}, {d['n_steps']:,} steps, "
          f"{d['runtime_s']:.2f} s, {d['n_power_flows']:,} power flows)")
    fb = d["feeder_binding"] or {}
    print(f"  feeder (simultaneous, allocation by {d['allocation']}): {d['feeder_hc_kw']:,.0f} kW"
          f"  zone {d['zone']}  binds: {fb.get('constraint', '-')} {fb.get('element', '')} "
          f"{_fmt_time(fb.get('time'))}")
    print(f"  {'transformer':<12}{'kVA':>7}{'PV kW':>8}{'rev.rate':>9}  {'zone':<7}"
          f"{'HC kW':>8}{'C1 kW':>8}{'C2 kW':>8}  binding")
    for t in d["transformers"]:
        b = t["binding"] or {}
        rate = "-" if t["reverse_load_rate"] is None else f"{t['reverse_load_rate']:.2f}"
        print(f"  {t['name']:<12}{t['rated_kva']:>7.0f}{t['pv_kw']:>8.0f}{rate:>9}  "
              f"{t['zone']:<7}{t['hc_kw']:>8.1f}{t['c1_kw']:>8.1f}{t['c2_kw']:>8.1f}  "
              f"{b.get('constraint', '-')} {b.get('element', '')} {_fmt_time(b.get('time'))}")
    mv = [b for b in d["buses"] if b["vn_kv"] > 1.0]
    if mv:
        low = sorted(mv, key=lambda b: b["hc_kw"])[:5]
        print("  lowest 10 kV buses: " + ", ".join(f"{b['name']} {b['hc_kw']:,.0f} kW" for b in low))
    wi = [b for b in d["buses"] if b.get("whatif")]
    if wi:
        print(f"  {'what-if [kW]':<28}{'unity PF':>10}{'PF 0.95':>10}{'volt-var':>10}"
              f"{'export lim':>11}{'battery':>10}")
        for b in wi:
            w = b["whatif"]
            print(f"  {b['name']:<28}{b['hc_kw']:>10,.0f}{w['pf_absorbing']['hc_kw']:>10,.0f}"
                  f"{w['volt_var']['hc_kw']:>10,.0f}{w['export_limit']['hc_kw']:>11,.0f}"
                  f"{w['battery']['hc_kw']:>10,.0f}")
    st = d.get("stochastic")
    if st:
        print(f"  stochastic ({st['n_deployments']} deployments, seed {st['seed']}): first violation "
              f"min {st['min_kw']:,.0f} / median {st['median_kw']:,.0f} / max {st['max_kw']:,.0f} kW")


def _cmd_hosting(args) -> int:
    import gridint.hosting as hosting
    from gridint.hosting.publish import result_csv, result_geojson

    bar = _progress_bar(args.progress if args.progress is not None else sys.stderr.isatty())
    res = hosting.feeder_hosting_capacity(args.feeder, steps=args.steps,
                                          allocation=args.allocation, buses=args.bus,
                                          stochastic=args.stochastic, whatif=args.whatif,
                                          progress=bar)
    d = res.to_dict()
    if args.csv:
        Path(args.csv).write_text(result_csv([d]), encoding="utf-8")
    if args.geojson:
        Path(args.geojson).write_text(json.dumps(result_geojson([d])),
                                      encoding="utf-8")
    if args.json:
        print(json.dumps(d, indent=1))
    else:
        _print_hosting(d)
    return 0


def _cmd_publish(args) -> int:
    import gridint.hosting as hosting

    bar = _progress_bar(args.progress if args.progress is not None else sys.stderr.isatty())
    out = hosting.publish(args.quarter, args.out, feeders=args.feeder or None, progress=bar)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    print(f"Open-capacity publication {out['quarter']}")
    for s in out["substations"]:
        print(f"  {s['substation']:<28} {s['hc_kw']:>10,.0f} kW  C2 {s['c2_kw']:>10,.0f} kW  "
              f"zone {s['zone']}  ({', '.join(s['feeders'])})")
    for kind, path in out["files"].items():
        print(f"  {kind:<8} {path}")
    return 0


def _cmd_serve(args) -> int:
    import uvicorn

    if args.demo:
        from gridint.config import get_settings
        from gridint.store.demo import DEMO_FEEDER, demo_telemetry, demo_users

        users = demo_users(get_settings().database_url, args.host)
        tele = demo_telemetry(get_settings().database_url)
        print(f"demo telemetry: {tele['devices']} DERs of {DEMO_FEEDER}, {tele['accepted']} new points "
              f"of the last 24 h ({tele['rejected']} rejected as faulty)")
        print(f"gridint web pages: http://{args.host}:{args.port}/  (sign in with a token below)")
        for name, (role, token) in users.items():
            print(f"  {role:<10} {name:<15} {token}")
        sys.stdout.flush()

    if args.workers > 1:  # worker processes import the app themselves; migrate once first
        from gridint.store import init_db

        init_db().dispose()
        uvicorn.run("api.app:create_app", factory=True, host=args.host, port=args.port,
                    workers=args.workers, log_level="info")
        return 0
    from api import create_app  # the API is imported here only: the library never imports it

    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="info")
    return 0


def _cmd_user_add(args) -> int:
    from gridint.store import init_db, make_sessionmaker, repo, write_transaction

    with make_sessionmaker(init_db())() as session, write_transaction(session):
        user, token = repo.create_user(session, args.name, args.role)
        repo.audit(session, None, "user_add", "user", user.id, {"name": user.name, "role": user.role,
                                                                "by": "cli"})
    out = {"name": user.name, "role": user.role, "token": token}
    print(json.dumps(out, indent=2) if args.json else
          f"user {out['name']} ({out['role']}) added; token (shown once):\n{token}")
    return 0


def _cmd_precheck(args) -> int:
    from gridint.store import workflow
    from gridint.store.text import format_answer

    body = {"feeder": args.feeder, "bus": args.bus, "ac_kw": args.kw, "category": args.category,
            "mode": args.mode}
    if args.queue:
        from gridint.store import init_db, make_sessionmaker

        with make_sessionmaker(init_db())() as session:
            answer = workflow.precheck(session, body)
    else:
        answer = workflow.precheck(None, body)
    print(json.dumps(answer, indent=2) if args.json else format_answer(answer))
    return 0


def _cmd_decision_replay(args) -> int:
    from gridint.store import init_db, make_sessionmaker, workflow
    from gridint.store.text import format_replay

    with make_sessionmaker(init_db())() as session:
        result = workflow.replay_decision(session, args.id)
    print(json.dumps(result, indent=2) if args.json else format_replay(result))
    return 0 if result["reproduced"] is not False else 1


def _cmd_reliability(args) -> int:
    from gridint.grid.catalog import load_feeder
    from gridint.reliability import reliability_study
    from gridint.reliability.report import format_study, format_upgrades

    feeder = load_feeder(args.feeder)
    r = reliability_study(feeder, args.method, years=args.years, seed=args.seed,
                          check_tie_capacity=args.check_ties)
    u = None
    if args.upgrades:
        from gridint.reliability.whatif import rank_upgrades

        u = rank_upgrades(feeder, max_steps=args.upgrades)
        u.pop("net")
        r["upgrades"] = u
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        print(format_study(r))
        if u is not None:
            print(format_upgrades(u))
    return 0


def _cmd_dispatch(args) -> int:
    from gridint.dispatch import plan_day
    from gridint.dispatch.report import format_plan

    plan = plan_day(args.feeder, args.date)
    if args.plot:
        from gridint.dispatch.plot import plot_plan

        plot_plan(plan, args.plot)
    print(json.dumps(plan.summary(), indent=2) if args.json else format_plan(plan))
    return 0


def _cmd_city(args) -> int:
    from gridint.studies import format_city, run_city

    bar = _progress_bar(args.progress if args.progress is not None else sys.stderr.isatty())
    study = run_city(args.feeders, args.seed, steps=args.steps, workers=args.workers or None,
                     use_dask=args.workers != 0, progress=bar)
    paths = study.write(args.out)
    if args.json:
        print(json.dumps({**study.to_dict(), "files": {k: str(v) for k, v in paths.items()}}, indent=1))
    else:
        print(format_city(study))
        print(f"results: {', '.join(str(v) for v in paths.values())}")
    return 0


def _tel_session():
    from gridint.store import init_db, make_sessionmaker

    return make_sessionmaker(init_db())()


def _tel_arg(name: str, *a):
    """Lazy argparse type from gridint.telemetry.report (no store imports for other commands)."""
    def parse(text: str):
        from gridint.telemetry import report

        fn = getattr(report, name)
        return (fn(*a) if a else fn)(text)
    return parse


def _cmd_tel_devices(args) -> int:
    from gridint.telemetry.ingestion import check_feeder, list_devices
    from gridint.telemetry.report import device_records, format_devices

    if args.feeder is not None:
        check_feeder(args.feeder)
    with _tel_session() as s:
        rows = device_records(s, list_devices(s, feeder=args.feeder))
    print(json.dumps(rows, indent=2) if args.json else format_devices(rows))
    return 0


def _cmd_tel_register(args) -> int:
    from gridint.telemetry.ingestion import register_device
    from gridint.telemetry.report import device_records, format_registered, user_for

    with _tel_session() as s:
        dev = register_device(s, user_for(s, args.owner, "--owner"), name=args.name,
                              feeder=args.feeder, bus=args.bus, kind=args.kind,
                              rating_kw=args.rating_kw, energy_kwh=args.energy_kwh, actor=None)
        rec = device_records(s, [dev])[0]
    print(json.dumps(rec, indent=2) if args.json else format_registered(rec))
    return 0


def _cmd_tel_ingest(args) -> int:
    from gridint.telemetry.ingestion import ingest_all, read_points
    from gridint.telemetry.report import format_ingest, user_for

    points = read_points(args.file)
    with _tel_session() as s:
        sender = user_for(s, args.sender, "--as", roles=("installer", "operator", "admin"))
        out = ingest_all(s, sender, points).to_dict()
    print(json.dumps(out, indent=2) if args.json else format_ingest(out, len(points)))
    return 1 if out["rejected"] else 0


def _cmd_tel_status(args) -> int:
    from gridint.telemetry.ingestion import check_feeder, status
    from gridint.telemetry.report import format_status, jsonable

    check_feeder(args.feeder)
    with _tel_session() as s:
        st = status(s, args.feeder, now=args.now, silent_intervals=args.silent_intervals)
    print(json.dumps(jsonable(st), indent=2) if args.json else format_status(st))
    return 0


def _cmd_tel_export(args) -> int:
    from gridint.telemetry.ingestion import check_feeder, device_by_name, query
    from gridint.telemetry.report import export_csv

    if args.end <= args.start:
        raise GridintError(f"--end: {args.end.isoformat()} must be after --start "
                           f"{args.start.isoformat()}")
    if args.feeder is not None:
        check_feeder(args.feeder)
    with _tel_session() as s:
        if args.device is not None:
            device_by_name(s, args.device)
        points = query(s, device=args.device, feeder=args.feeder, start=args.start, end=args.end)
    text = export_csv(points)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"{len(points):,} point(s) written to {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Argument parser of the ``gridint`` command."""
    parser = argparse.ArgumentParser(
        prog="gridint",
        description="Connect rooftop PV and storage to distribution grids: "
                    "feeders, power flow, hosting capacity, connection requests.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("feeders", help="list the feeder catalog")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_feeders)

    p = sub.add_parser("powerflow", help="AC power flow: snapshot, one time step, or a year")
    p.add_argument("feeder", metavar="FEEDER|FILE", help="catalog name or pandapower JSON file")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--year", action="store_true",
                   help="every quarter-hour of the feeder's profile year")
    g.add_argument("--time", metavar="ISO8601",
                   help="one profile step, e.g. 2024-07-15T12:00+08:00 (other years map by month-day)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_powerflow)

    p = sub.add_parser("forecast", help="PV forecast of a feeder's fleet (P10/P50/P90, 15 min)",
                       description="PV forecast of a feeder's fleet: day-ahead (the 96 quarter-hours of "
                                   "--date, issued the day before at 12:00) or intraday (15 min .. 4 h "
                                   "after the latest measurement). --validate prints the fleet model "
                                   "against measured data instead.")
    p.add_argument("feeder", nargs="?", metavar="FEEDER|FILE", help="catalog name or pandapower JSON file")
    p.add_argument("--date", metavar="YYYY-MM-DD",
                   help="day to forecast (default: tomorrow in Asia/Shanghai; intraday: today)")
    p.add_argument("--horizon", choices=("day-ahead", "intraday"), default="day-ahead")
    p.add_argument("--issue-time", metavar="HH:MM|ISO8601",
                   help="issue time (default: day-ahead 12:00 the day before; intraday now, "
                        "or 10:00 on --date)")
    p.add_argument("--weather", metavar="FILE",
                   help="forecast weather CSV (time,ghi,dni,dhi,temp_air,wind_speed,issue_time): "
                        "the fleet model on it is the P50")
    p.add_argument("--per-bus", action="store_true", help="also the P50 of every bus with PV")
    p.add_argument("--validate", action="store_true",
                   help="print the fleet model's errors on measured PV data (NREL SERF)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_forecast)

    p = sub.add_parser("hosting-capacity", help="PV hosting capacity of every bus, transformer "
                       "and the feeder, with zones",
                       description="Largest additional PV [kW] per bus / distribution transformer "
                                   "/ feeder with no new voltage, thermal or reverse-power "
                                   "violation at any studied step (AC-confirmed).")
    p.add_argument("feeder", metavar="FEEDER|FILE", help="catalog name or pandapower JSON file")
    p.add_argument("--steps", choices=("year", "screening", "snapshot"),
                   help="studied steps (default: year with profiles, else snapshot)")
    p.add_argument("--allocation", choices=("load", "pv", "equal"), default="load",
                   help="feeder capacity: share new PV by load (default), installed PV or equally")
    p.add_argument("--bus", action="append", metavar="NAME",
                   help="only this bus for nodal values (repeatable)")
    p.add_argument("--stochastic", type=_nonneg_int, default=0, metavar="N",
                   help="Monte Carlo PV deployments (min/median/max feeder capacity)")
    p.add_argument("--whatif", action="store_true",
                   help="also each bus with PF 0.95, volt-var, export limit and a battery")
    p.add_argument("--csv", metavar="OUT", help="write the table as CSV")
    p.add_argument("--geojson", metavar="OUT", help="write buses as GeoJSON points")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_hosting)

    p = sub.add_parser("publish", help="quarterly open-capacity publication of catalog feeders",
                       description="Hosting capacity of every catalog feeder grouped by "
                                   "substation, as CSV + JSON + GeoJSON with date, method, limits.")
    p.add_argument("--quarter", metavar="YYYYQn", help="e.g. 2025Q3 (default: current quarter)")
    p.add_argument("--out", metavar="DIR", default="publication", help="output folder")
    p.add_argument("--feeder", action="append", metavar="NAME",
                   help="only this catalog feeder (repeatable)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_publish)

    p = sub.add_parser("reliability", help="supply reliability (SAIFI, SAIDI, RS-1 vs the 99.89 %% target)",
                       description="Supply reliability of a feeder from its reliability columns: analytical "
                                   "(RELRAD-style) or sequential Monte Carlo; load points, components ranked "
                                   "by SAIDI, and optionally a greedy ranking of upgrades.")
    p.add_argument("feeder", metavar="FEEDER|FILE", help="catalog name or pandapower JSON file")
    p.add_argument("--method", choices=("analytical", "monte-carlo"), default="analytical")
    p.add_argument("--years", type=int, help="Monte Carlo: simulated years (default from the settings)")
    p.add_argument("--seed", type=int, help="Monte Carlo: seed (default from the settings)")
    p.add_argument("--check-ties", action="store_true", help="AC power-flow check of every tie transfer")
    p.add_argument("--upgrades", type=int, nargs="?", const=5, default=0, metavar="N",
                   help="greedy ranking of upgrades (automation, fuses, ties), at most N steps (default 5)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_reliability)

    p = sub.add_parser("dispatch", help="day-ahead storage dispatch plan, AC-verified",
                       description="Day-ahead plan of every battery on a feeder (96 quarter-hours, "
                                   "LP + AC power flow) that keeps voltages, loadings and reverse power "
                                   "within limits, curtails PV only as the last resort and keeps the "
                                   "critical-load reserve; checked against the P10/P90 PV forecast.")
    p.add_argument("feeder", metavar="FEEDER|FILE", help="catalog name or pandapower JSON file with storage")
    p.add_argument("--date", metavar="YYYY-MM-DD", help="day to plan (default: tomorrow in Asia/Shanghai)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--plot", metavar="OUT.png", help="save the before/after voltage envelope as PNG")
    p.set_defaults(func=_cmd_dispatch)

    p = sub.add_parser("serve", help="run the REST API (uvicorn)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--demo", action="store_true",
                   help="create demo users (installer, engineer, operator) with fresh tokens and "
                        "print them with the address; only on the local default SQLite database "
                        "and a loopback host")
    p.set_defaults(func=_cmd_serve)

    p = sub.add_parser("user", help="API users")
    usub = p.add_subparsers(dest="user_command", metavar="ACTION")
    usub.required = True
    q = usub.add_parser("add", help="add a user and print its token (shown once)")
    q.add_argument("name")
    q.add_argument("--role", required=True, choices=("installer", "engineer", "operator", "admin"))
    q.add_argument("--json", action="store_true", help="machine-readable output {name, role, token}")
    q.set_defaults(func=_cmd_user_add)

    from gridint.interconnection.model import CATEGORIES, MODES

    p = sub.add_parser("precheck", help="instant connection pre-check of N kW PV at a bus")
    p.add_argument("feeder", metavar="FEEDER", help="catalog feeder name")
    p.add_argument("--bus", required=True, help="bus or distribution transformer name")
    p.add_argument("--kw", type=float, required=True, help="inverter AC rating [kW]")
    p.add_argument("--category", choices=CATEGORIES, default="residential_natural_person")
    p.add_argument("--mode", choices=MODES, default="surplus_export")
    p.add_argument("--queue", action="store_true",
                   help="include the approved-not-connected queue of the database (GRIDINT_DATABASE_URL)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_precheck)

    p = sub.add_parser("decision", help="stored connection decisions")
    dsub = p.add_subparsers(dest="decision_command", metavar="ACTION")
    dsub.required = True
    q = dsub.add_parser("replay", help="re-run the rules engine on a stored decision's inputs")
    q.add_argument("id", type=int, help="decision id")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_cmd_decision_replay)

    p = sub.add_parser("city", help="city-scale study: hosting capacity, the 800 MW rooftop-PV scenario and "
                       "reliability of every feeder of a synthetic city (Dask)",
                       description="A seeded city of synthetic Xiangtan feeders (five counties/districts), studied "
                                   "on Dask: a local cluster, or the one GRIDINT_DASK_SCHEDULER names. Writes "
                                   "Parquet (per feeder, county, substation) and prints the county summary.")
    p.add_argument("--feeders", type=int, metavar="N", help="number of feeders (default from the settings: 1000)")
    p.add_argument("--seed", type=int, metavar="S", help="city seed (default from the settings)")
    p.add_argument("--steps", choices=("screening", "year"), help="hosting-capacity steps (default screening)")
    p.add_argument("--workers", type=_nonneg_int, metavar="W",
                   help="local Dask worker processes (default 2); 0 = no Dask, one after another here")
    p.add_argument("--out", metavar="DIR", default="city-study", help="output folder (default city-study)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_city)

    p = sub.add_parser("telemetry", help="DER telemetry: devices, measurement files, monitoring, export",
                       description="Connected PV and storage systems and their measurements in the "
                                   "database (GRIDINT_DATABASE_URL); times shown in Settings.timezone.")
    tsub = p.add_subparsers(dest="telemetry_command", metavar="ACTION")
    tsub.required = True
    q = tsub.add_parser("devices", help="list registered devices")
    q.add_argument("--feeder", metavar="F", help="only devices of this catalog feeder")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_cmd_tel_devices)
    q = tsub.add_parser("register", help="register a PV or storage system at a bus of a catalog feeder")
    q.add_argument("name", help="unique device name (letters, digits, _ . @ -)")
    q.add_argument("--feeder", required=True, metavar="F", help="catalog feeder name")
    q.add_argument("--bus", required=True, metavar="B", help="bus name (or a transformer name: its LV bus)")
    q.add_argument("--kind", required=True, choices=("pv", "storage"))
    q.add_argument("--rating-kw", required=True, metavar="X", help="inverter AC rating [kW]",
                   type=_tel_arg("arg_number", 0, 1e6, "kW", False, True))
    q.add_argument("--energy-kwh", metavar="Y", help="usable energy [kWh] (storage: required)",
                   type=_tel_arg("arg_number", 0, 1e7, "kWh", False, True))
    q.add_argument("--owner", required=True, metavar="USER", help="owner's user name")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_cmd_tel_register)
    q = tsub.add_parser("ingest", help="store a measurement file (exit 1 if any point is rejected)")
    q.add_argument("file", metavar="FILE.csv|FILE.json",
                   help='CSV with header device,time,p_kw[,soc_percent][,v_pu], or JSON {"points": [...]}')
    q.add_argument("--as", dest="sender", required=True, metavar="USER",
                   help="sender (installer: own devices; operator/admin: any)")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_cmd_tel_ingest)
    q = tsub.add_parser("status", help="silent and out-of-limit devices of a feeder")
    q.add_argument("feeder", metavar="FEEDER", help="catalog feeder name")
    q.add_argument("--silent-intervals", metavar="N", type=_tel_arg("arg_number", 1, 10_000, "", True),
                   help="silent after N intervals without data (default from the settings)")
    q.add_argument("--now", metavar="ISO8601", type=_tel_arg("arg_time"),
                   help="monitoring time, e.g. 2025-06-01T12:30+08:00 (default now)")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=_cmd_tel_status)
    q = tsub.add_parser("export", help="measurements of a device or a feeder in [start, end) as CSV")
    g = q.add_mutually_exclusive_group(required=True)
    g.add_argument("--device", metavar="D")
    g.add_argument("--feeder", metavar="F", help="catalog feeder name")
    q.add_argument("--start", required=True, metavar="ISO8601", type=_tel_arg("arg_time"))
    q.add_argument("--end", required=True, metavar="ISO8601", type=_tel_arg("arg_time"))
    q.add_argument("--out", metavar="FILE.csv", help="write here (default stdout)")
    q.set_defaults(func=_cmd_tel_export)
    return parser


def _nonneg_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if not 0 <= v <= 10_000:
        raise argparse.ArgumentTypeError(f"must be in 0..10000, got {v}")
    return v


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gridint`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except GridintError as exc:
        print(f"gridint: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
