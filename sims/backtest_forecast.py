"""Backtest of gridint's PV forecasts over the default typical Xiangtan year.

What is measured
----------------
For each Xiangtan feeder's PV fleet:

1. "measured" fleet AC power = the fleet model (``gridint.solar.fleet``) on the
   default typical year (``gridint.solar.weather.default_weather``), the stand-in
   for telemetry until real data arrive;
2. the forecasts are calibrated on the training days (every day except every 4th
   one; the first two days have no history and are skipped) and scored on the
   held-out days (every 4th day, 91 days), daytime steps only (clear-sky power
   > 0): the calibrated forecast (P50 and P10/P90) and the baselines smart
   persistence, persistence and climatology, for day-ahead (issued D-1 12:00)
   and intraday horizons 15 min, 1 h, 2 h, 4 h (rolling, every quarter-hour);
3. metrics of ``gridint.solar.metrics`` (Solar Forecast Arbiter definitions):
   MAE, RMSE, nRMSE (by AC capacity), MBE, skill vs smart persistence (RMSE),
   mean pinball loss over P10/P50/P90, P10-P90 coverage (target 80 % +/- 5);
4. the day-ahead forecast from the stand-in forecast weather file
   ``weather/xiangtan_forecast_sample.csv`` (1-7 July) against the same week.

Run ``python -m sims.backtest_forecast`` (about 10 s); ``--out`` writes/replaces
the section ``## PV forecasts backtest`` of ``sims/RESULTS.md`` (default) and
leaves every other section as it is.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
RESULTS_MD = REPO / "sims" / "RESULTS.md"
SECTION = "## PV forecasts backtest"
FEEDERS = ("xt-county-rural", "xt-yuetang-urban", "xt-jingkai-industrial")
HORIZONS = ("day-ahead", "intraday 15 min", "intraday 1 h", "intraday 2 h", "intraday 4 h")
METHODS = ("calibrated", "smart persistence", "persistence", "climatology")
COVERAGE_TARGET = (75.0, 85.0)


def machine_info() -> dict:
    """CPU, cores, RAM, versions and date of this run."""
    import pvlib

    from sims._results import machine_and_commit

    cpu, ram_gb, commit = machine_and_commit("gridint/solar")
    return {"date": dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="seconds"),
            "cpu": cpu, "cores": os.cpu_count(), "ram_gb": ram_gb,
            "commit": commit,
            "python": platform.python_version(), "numpy": np.__version__, "pandas": pd.__version__,
            "pvlib": pvlib.__version__}


def forecast_weather_week(feeder: str, truth: pd.DataFrame, cap: float) -> dict:
    """Day-ahead P50 from the stand-in forecast weather file, 1-7 July, against the truth."""
    from gridint.config import project_root
    from gridint.solar import forecast as fc
    from gridint.solar import metrics
    from gridint.solar.weather import FORECAST_SAMPLE_FILE, read_forecast_weather

    path = project_root() / "weather" / FORECAST_SAMPLE_FILE
    fw = read_forecast_weather(path)
    days = sorted({t.normalize() for t in fw.index})
    rows = []
    for d in days:
        out = fc.forecast_feeder(feeder, d.strftime("%Y-%m-%d"), forecast_weather=fw)
        idx = pd.DatetimeIndex(pd.to_datetime(out["timestamps"]))
        rows.append(pd.DataFrame({"p10": out["pv_kw_p10"], "p50": out["pv_kw_p50"], "p90": out["pv_kw_p90"]},
                                 index=idx))
    f = pd.concat(rows)
    f.index = f.index.tz_convert(truth.index.tz)
    y = truth["measured_kw"].reindex(f.index)
    cs = truth["clearsky_kw"].reindex(f.index)
    smart = fc.smart_persistence_day_ahead(truth["measured_kw"], truth["clearsky_kw"], f.index, capacity_kw=cap)
    day = cs > 0
    y, f, smart = y[day], f[day], smart[day]
    return {"first": days[0].date().isoformat(), "last": days[-1].date().isoformat(), "n_days": len(days),
            "n_points": int(day.sum()), "mae_kw": metrics.mae(y, f["p50"]), "rmse_kw": metrics.rmse(y, f["p50"]),
            "nrmse_percent": metrics.nrmse(y, f["p50"], cap), "mbe_kw": metrics.mbe(y, f["p50"]),
            "skill": metrics.skill_score(y, f["p50"], smart),
            "smart_rmse_kw": metrics.rmse(y, smart),
            "pinball_kw": float(np.mean([metrics.pinball_loss(y, f[c], t)
                                         for c, t in (("p10", 0.1), ("p50", 0.5), ("p90", 0.9))])),
            "coverage_percent": metrics.interval_coverage(y, f["p10"], f["p90"])}


def run(feeders=FEEDERS, holdout_every: int = 4) -> dict:
    """Backtest every feeder; returns figures for :func:`render`."""
    from gridint.grid.catalog import load_feeder
    from gridint.solar import forecast as fc
    from gridint.solar.fleet import pv_systems

    out = {"feeders": [], "machine": machine_info()}
    t_all = time.perf_counter()
    for name in feeders:
        t0 = time.perf_counter()
        feeder = load_feeder(name)
        systems = pv_systems(feeder.net)
        truth = fc.fleet_truth(systems)
        t_truth = time.perf_counter() - t0
        cap = float(systems["ac_kw"].sum())
        res, model = fc.backtest(truth["measured_kw"], truth["clearsky_kw"], cap, holdout_every)
        days = truth.index.normalize().unique()
        held = fc.holdout_mask(days, holdout_every)
        held[:2] = False
        entry = {"name": name, "n_systems": len(systems), "kwp": float(systems["kwp"].sum()), "ac_kw": cap,
                 "energy_mwh": float(truth["measured_kw"].sum()) / 4000.0, "results": res, "model": model,
                 "n_days": len(days), "n_held": int(held.sum()), "t_truth_s": t_truth,
                 "t_backtest_s": time.perf_counter() - t0 - t_truth}
        if name == feeders[0]:
            entry["nwp_week"] = forecast_weather_week(name, truth, cap)
        out["feeders"].append(entry)
        logger.info("%s: %.1f s", name, time.perf_counter() - t0)
    out["runtime_s"] = time.perf_counter() - t_all
    return out


def _f(v, fmt="{:,.1f}") -> str:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else fmt.format(v)


def render(fig: dict) -> str:
    """Markdown of the section."""
    m = fig["machine"]
    first = fig["feeders"][0]
    lines = [SECTION, "",
             f"Run {m['date']} with `python -m sims.backtest_forecast` (whole run {fig['runtime_s']:.1f} s). "
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']:.1f} GB RAM; gridint {m['commit']}; "
             f"Python {m['python']}, numpy {m['numpy']}, pandas {m['pandas']}, pvlib {m['pvlib']}.", "",
             "Set-up. \"Measured\" fleet AC power is the PV fleet model (`gridint.solar.fleet`) on the default "
             "typical Xiangtan year (`weather/xiangtan_typical_15min.csv.gz`): a stand-in for telemetry, so these "
             "figures judge the forecasting method against the variability of that synthetic year, not against "
             "real clouds. Every 4th day is held out "
             f"({first['n_held']} days); the calibration (climatological clear-sky index per month and "
             "quarter-hour, day-ahead anomaly damping, intraday blending weights, error quantiles from "
             "out-of-sample folds) uses the other days; the first two days (no history) are skipped. Scores: "
             "held-out days, daytime steps (clear-sky power > 0), fleet totals. Day-ahead is issued on D-1 at "
             "12:00 for the 96 quarter-hours of D; intraday is rolling (every quarter-hour, latest measurement "
             "= the quarter-hour before the issue time). nRMSE is by the fleet's AC capacity; skill = "
             "1 - RMSE / RMSE(smart persistence); pinball = mean of the P10, P50, P90 pinball losses; "
             "coverage = share of measurements inside P10-P90 (target 80 % +/- 5 points).", ""]
    e = first
    lines += [f"### {e['name']} ({e['n_systems']} PV systems, {e['kwp']:,.0f} kWp, {e['ac_kw']:,.0f} kW AC, "
              f"{e['energy_mwh']:,.0f} MWh in the year)", "",
              "| horizon | method | MAE [kW] | RMSE [kW] | nRMSE [%] | MBE [kW] | skill vs smart persistence "
              "| pinball [kW] | P10-P90 coverage [%] |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    res = e["results"]
    for h in HORIZONS:
        for meth in METHODS:
            r = res[(res.horizon == h) & (res.method == meth)].iloc[0]
            bold = "**" if meth == "calibrated" else ""
            lines.append(f"| {h} | {bold}{meth}{bold} | {_f(r.mae_kw)} | {_f(r.rmse_kw)} | "
                         f"{_f(r.nrmse_percent, '{:.2f}')} | {_f(r.mbe_kw)} | "
                         f"{_f(r.skill_vs_smart_persistence, '{:+.3f}')} | {_f(r.pinball_kw, '{:.2f}')} | "
                         f"{_f(r.coverage_percent)} |")
    mod = e["model"]
    w = mod.intraday_weights
    lines += ["", f"Calibration: day-ahead anomaly damping a = {mod.day_ahead_damping:.3f} "
                  f"(k = k_clim (1 + a (k_24h / K_clim - 1))); intraday weight of the latest clear-sky index "
                  f"w = {w[0]:.2f} (15 min), {w[3]:.2f} (1 h), {w[7]:.2f} (2 h), {w[15]:.2f} (4 h); "
                  f"{mod.n_train_days} training days.", ""]
    lines += ["### All Xiangtan feeders: calibrated forecast on held-out days", "",
              "| feeder | kWp | horizon | nRMSE [%] | skill vs smart persistence | P10-P90 coverage [%] "
              "| coverage target 80 +/- 5 |",
              "|---|---:|---|---:|---:|---:|---|"]
    verdict = True
    for e in fig["feeders"]:
        res = e["results"]
        for h in HORIZONS:
            r = res[(res.horizon == h) & (res.method == "calibrated")].iloc[0]
            ok = COVERAGE_TARGET[0] <= r.coverage_percent <= COVERAGE_TARGET[1]
            verdict &= ok
            lines.append(f"| {e['name']} | {e['kwp']:,.0f} | {h} | {r.nrmse_percent:.2f} | "
                         f"{r.skill_vs_smart_persistence:+.3f} | {r.coverage_percent:.1f} | "
                         f"{'PASS' if ok else 'FAIL'} |")
    lines += ["", f"P10-P90 coverage on held-out days within 80 % +/- 5 points for every feeder and horizon: "
                  f"**{'PASS' if verdict else 'FAIL'}**.", ""]
    nw = fig["feeders"][0].get("nwp_week")
    if nw:
        lines += [f"Forecast weather file (`weather/xiangtan_forecast_sample.csv`: stand-in day-ahead weather "
                  f"forecast, issued D-1 12:00, {nw['first']} to {nw['last']}; {fig['feeders'][0]['name']}, "
                  f"{nw['n_points']} daytime steps): P50 = fleet model on the forecast weather: MAE "
                  f"{nw['mae_kw']:,.1f} kW, RMSE {nw['rmse_kw']:,.1f} kW, nRMSE {nw['nrmse_percent']:.2f} %, "
                  f"MBE {nw['mbe_kw']:+,.1f} kW, skill vs smart persistence {nw['skill']:+.3f} (smart persistence "
                  f"RMSE {nw['smart_rmse_kw']:,.1f} kW), pinball {nw['pinball_kw']:.2f} kW, P10-P90 coverage "
                  f"{nw['coverage_percent']:.1f} %. Its intervals use the error quantiles of the calibrated "
                  "no-weather method, so for a better weather forecast they are wide (conservative); one week "
                  "is too short to calibrate on.", ""]
    return "\n".join(lines)


def write_section(text: str, path: Path = RESULTS_MD) -> None:
    """Replace (or append) this script's section of ``sims/RESULTS.md``, keeping the others."""
    from sims._results import write_section as _write

    _write(SECTION, text, path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", nargs="?", const=str(RESULTS_MD), default=str(RESULTS_MD),
                    help=f"markdown file whose section is written/replaced (default {RESULTS_MD}); "
                         "'-' prints it only")
    ap.add_argument("--feeders", nargs="+", default=list(FEEDERS))
    ap.add_argument("--holdout-every", type=int, default=4)
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    text = render(run(tuple(args.feeders), args.holdout_every))
    print(text)
    if args.out != "-":
        write_section(text, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
