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
    return parser


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
