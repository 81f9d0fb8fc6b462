"""City-scale studies: every feeder of a synthetic city, on Dask.

:func:`run_city` lays out a seeded city of synthetic Xiangtan feeders
(:mod:`gridint.grid.city`: five counties / districts, substations, urban /
rural / industrial templates), and studies each feeder where it is built -- on
a Dask worker (``dask.distributed``): an in-process ``LocalCluster`` of
``city_workers`` processes x 1 thread by default (numba limited to
``city_numba_threads`` per worker), or an existing cluster when
``GRIDINT_DASK_SCHEDULER`` (Settings ``dask_scheduler``) names its scheduler.
``use_dask=False`` runs the same per-feeder function in this process (the
reference for the tests).

Per feeder (:func:`study_feeder`, never raises: a failure is recorded in the
``error`` column):

* hosting capacity, :func:`gridint.hosting.feeder_hosting_capacity` on the
  feeder's profile year (``steps="screening"`` by default, or ``"year"``): the
  feeder's simultaneous capacity (new PV shared in proportion to the load), its
  binding constraint and DL/T 2041 zone. Nodal values are asked only for the
  transformers' LV busbars (the 台区 zones): the feeder value does not depend on
  that choice, and it saves a third of the time;
* the roof potential of its customers (:func:`gridint.grid.city.roof_potential_kw`);
* supply reliability, :func:`gridint.reliability.reliability_study` (analytical):
  SAIFI, SAIDI, ENS, MAIFI, RS-1.

Then, on the client (:func:`place_scenario`): the city's rooftop-PV scenario
(``city_scenario_pv_mw``, 800 MW) is placed across the studied feeders in
proportion to their roof potential; the part of each feeder's share that fits
is ``min(share, hosting capacity)``, the rest (``excess_kw``) needs
reinforcement or storage -- by the constraint that binds: ``voltage`` and
``reverse_power`` excess can be met by storage / reactive power, ``thermal``
excess needs reinforcement. Summaries per county and per substation
(:func:`summarise`) add up the feeders' kW and give customer-weighted
reliability against the 99.89 % target (:func:`gridint.reliability.combine_feeders`).

Results: :meth:`CityStudy.write` writes ``feeders.parquet`` (one row per
feeder), ``counties.parquet``, ``substations.parquet`` and ``summary.json``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import GridintError

__all__ = ["FEEDER_COLUMNS", "CityStudy", "study_feeder", "run_city", "place_scenario", "summarise",
           "format_city"]

logger = logging.getLogger(__name__)

STEP_MODES = ("screening", "year")

#: Columns of the per-feeder table (Parquet ``feeders.parquet``), in order.
FEEDER_COLUMNS = (
    "county", "substation", "feeder", "kind", "template", "archetype", "buses", "transformers", "customers",
    "length_km", "peak_load_kw", "existing_pv_kw", "roof_potential_kw", "hc_kw", "hc_binding",
    "hc_binding_element", "zone", "red_transformers", "scenario_share_kw", "fits_kw", "excess_kw", "saifi",
    "saidi_h", "maifi", "ens_mwh_per_year", "rs1_percent", "meets_target", "steps", "n_power_flows",
    "build_s", "hc_s", "reliability_s", "runtime_s", "worker", "error",
)
_SUM_COLUMNS = ("customers", "peak_load_kw", "existing_pv_kw", "roof_potential_kw", "hc_kw",
                "scenario_share_kw", "fits_kw", "excess_kw")


# ----------------------------------------------------------------------------------
# one feeder
# ----------------------------------------------------------------------------------
def _limit_numba_threads(n: int) -> int | None:
    """Limit numba's threads in this thread (thread-local in numba); return the previous value."""
    try:
        import numba

        old = numba.get_num_threads()
        numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))
        return old
    except Exception:  # noqa: BLE001 - numba missing or disabled: nothing to limit
        return None


def study_feeder(spec: Mapping, steps: str = "screening", numba_threads: int | None = None,
                 archetype=None) -> dict:
    """Build and study one city feeder; one result row. Never raises.

    Parameters
    ----------
    spec : Mapping
        A row of :func:`gridint.grid.city.city_layout` (as a dict).
    steps : {'screening', 'year'}
        Studied steps of the hosting capacity.
    numba_threads : int, optional
        numba threads for this call (default Settings ``city_numba_threads``); the
        previous setting is restored afterwards.
    archetype : gridint.grid.city.Archetype, optional
        The spec's archetype (a Dask task's result); default built here (cached).

    Returns
    -------
    dict
        The :data:`FEEDER_COLUMNS` except the scenario columns (added by
        :func:`place_scenario`). On failure ``error`` holds ``"<Type>: <message>"``
        and the study columns are NaN / None.
    """
    s = get_settings()
    t0 = time.perf_counter()
    row: dict = {k: spec.get(k) for k in ("county", "substation", "feeder", "kind", "template", "archetype")}
    row.update(worker=f"{os.uname().nodename}:{os.getpid()}", steps=steps, error=None)
    old = _limit_numba_threads(s.city_numba_threads if numba_threads is None else numba_threads)
    try:
        from gridint.grid.catalog import feeder_summary
        from gridint.grid.city import city_feeder, roof_potential_kw
        from gridint.hosting import feeder_hosting_capacity
        from gridint.reliability import reliability_study

        if steps not in STEP_MODES:
            raise GridintError(f"steps must be one of {', '.join(STEP_MODES)}, got {steps!r}")
        feeder = city_feeder(spec, archetype=archetype)
        net = feeder.net
        summ = feeder_summary(feeder)
        roof = roof_potential_kw(net, str(spec.get("kind", "")))
        row.update(buses=summ["n_buses"], transformers=summ["n_transformers"],
                   customers=int(net.load["customers"].sum()), length_km=summ["length_km"],
                   peak_load_kw=summ["peak_load_kw"], existing_pv_kw=summ["pv_kw"],
                   roof_potential_kw=round(roof["potential_kw"], 1))
        t1 = time.perf_counter()
        row["build_s"] = t1 - t0
        lv_buses = [str(net.bus.at[int(b), "name"]) for b in net.trafo["lv_bus"]]
        hc = feeder_hosting_capacity(feeder, steps=steps, buses=lv_buses)
        t2 = time.perf_counter()
        row.update(hc_kw=round(float(hc.feeder_hc_kw), 1), zone=hc.zone, n_power_flows=int(hc.n_power_flows),
                   hc_binding=None if hc.feeder_binding is None else hc.feeder_binding.constraint,
                   hc_binding_element=None if hc.feeder_binding is None else hc.feeder_binding.element,
                   red_transformers=sum(1 for t in hc.transformers if t["zone"] == "red"), hc_s=t2 - t1)
        rel = reliability_study(net, "analytical")["system"]
        row.update({k: rel[k] for k in ("saifi", "saidi_h", "maifi", "ens_mwh_per_year", "rs1_percent",
                                        "meets_target")})
        row["reliability_s"] = time.perf_counter() - t2
    except Exception as exc:  # noqa: BLE001 - a failing feeder is recorded, never fatal
        row["error"] = f"{type(exc).__name__}: {exc}"
        logger.warning("%s failed: %s", row.get("feeder"), row["error"])
        logger.debug("%s", traceback.format_exc())
    finally:
        if old is not None:
            _limit_numba_threads(old)
    row["runtime_s"] = time.perf_counter() - t0
    return row


# ----------------------------------------------------------------------------------
# scenario and summaries
# ----------------------------------------------------------------------------------
_INT_COLUMNS = ("archetype", "buses", "transformers", "customers", "red_transformers", "n_power_flows")
_STR_COLUMNS = ("county", "substation", "feeder", "kind", "template", "hc_binding", "hc_binding_element", "zone",
                "steps", "worker", "error")


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    """One schema whatever failed: nullable integers / booleans, floats, strings."""
    out = df.copy()
    for c in out.columns:
        if c in _INT_COLUMNS:
            out[c] = pd.to_numeric(out[c]).astype("Int64")
        elif c == "meets_target":
            out[c] = out[c].astype("boolean")
        elif c in _STR_COLUMNS:
            out[c] = out[c].astype(object).where(out[c].notna(), None)
        else:
            out[c] = pd.to_numeric(out[c]).astype(float)
    return out


def place_scenario(feeders: pd.DataFrame, total_mw: float | None = None) -> pd.DataFrame:
    """Place the city's new rooftop PV across the feeders by roof potential.

    Parameters
    ----------
    feeders : DataFrame
        Per-feeder rows (:func:`study_feeder`); rows with an ``error`` get no share.
    total_mw : float, optional
        New PV of the scenario [MW]; default Settings ``city_scenario_pv_mw`` (800).

    Returns
    -------
    DataFrame
        A copy with ``scenario_share_kw`` (share of the scenario, in proportion to
        ``roof_potential_kw``; the studied feeders' shares sum to ``total_mw``),
        ``fits_kw = min(share, hc_kw)`` and ``excess_kw = share - fits_kw`` (needs
        reinforcement or storage). Failed feeders: NaN.

    Raises
    ------
    GridintError
        No studied feeder with a roof potential.
    """
    total_kw = 1000.0 * float(get_settings().city_scenario_pv_mw if total_mw is None else total_mw)
    df = feeders.copy()
    ok = df["error"].isna() & df["roof_potential_kw"].notna() & df["hc_kw"].notna()
    pot = df.loc[ok, "roof_potential_kw"].astype(float)
    if total_kw > 0 and pot.sum() <= 0:
        raise GridintError("no studied feeder has a roof potential to place the scenario on")
    share = pd.Series(np.nan, index=df.index)
    share[ok] = total_kw * pot / pot.sum() if pot.sum() > 0 else 0.0
    df["scenario_share_kw"] = share
    df["fits_kw"] = np.minimum(share, df["hc_kw"].astype(float)).where(ok)
    df["excess_kw"] = (share - df["fits_kw"]).where(ok)
    return df


def _reliability(g: pd.DataFrame) -> dict:
    from gridint.reliability import combine_feeders

    ok = g[g["error"].isna() & g["saidi_h"].notna()]
    if not len(ok) or ok["customers"].sum() <= 0:
        return {"saifi": math.nan, "saidi_h": math.nan, "rs1_percent": math.nan, "meets_target": None}
    res = [{"feeder": r.feeder, "system": {"customers": int(r.customers), "saifi": float(r.saifi),
                                           "saidi_h": float(r.saidi_h), "maifi": float(r.maifi),
                                           "ens_mwh_per_year": float(r.ens_mwh_per_year)}}
           for r in ok.itertuples()]
    c = combine_feeders(res)
    return {k: c[k] for k in ("saifi", "saidi_h", "rs1_percent", "meets_target")}


def summarise(feeders: pd.DataFrame, by: str | list[str] | None) -> pd.DataFrame:
    """Sums and customer-weighted reliability per group (county, substation or the city).

    Parameters
    ----------
    feeders : DataFrame
        Output of :func:`place_scenario`.
    by : str, list of str or None
        Grouping columns (``"county"``, ``["county", "substation"]``); None = one
        row for the whole city.

    Returns
    -------
    DataFrame
        Per group: ``feeders``, ``failed``, sums of ``customers``, ``peak_load_kw``,
        ``existing_pv_kw``, ``roof_potential_kw``, ``hc_kw``, ``scenario_share_kw``,
        ``fits_kw``, ``excess_kw``; ``fits_percent`` (of the share),
        ``feeders_with_excess``, excess by binding constraint
        (``excess_voltage_kw``, ``excess_thermal_kw``, ``excess_reverse_power_kw``:
        storage / reactive power help the first and the last, the thermal one needs
        reinforcement), ``red_feeders``; customer-weighted ``saifi``, ``saidi_h``,
        ``rs1_percent``, ``meets_target`` (RS-1 >= target), ``feeders_below_target``.
    """
    target = get_settings().reliability_target_rs1_percent
    keys = [by] if isinstance(by, str) else list(by or [])
    groups = feeders.groupby(keys, sort=False) if keys else [((), feeders)]
    rows = []
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        ok = g["error"].isna()
        r = dict(zip(keys, key))
        r["feeders"] = int(len(g))
        r["failed"] = int((~ok).sum())
        for col in _SUM_COLUMNS:
            r[col] = float(g.loc[ok, col].astype(float).sum())
        r["customers"] = int(r["customers"])
        r["fits_percent"] = 100.0 * r["fits_kw"] / r["scenario_share_kw"] if r["scenario_share_kw"] > 0 else math.nan
        exc = g.loc[ok, "excess_kw"].astype(float)
        r["feeders_with_excess"] = int((exc > 0.5).sum())
        for c in ("voltage", "thermal", "reverse_power"):
            r[f"excess_{c}_kw"] = float(exc[g.loc[ok, "hc_binding"] == c].sum())
        r["red_feeders"] = int((g.loc[ok, "zone"] == "red").sum())
        r.update(_reliability(g))
        r["feeders_below_target"] = int((g.loc[ok, "rs1_percent"].astype(float) < target - 1e-12).sum())
        rows.append(r)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------
# the run
# ----------------------------------------------------------------------------------
@dataclass
class CityStudy:
    """Result of :func:`run_city`.

    Attributes
    ----------
    feeders : DataFrame
        One row per feeder, :data:`FEEDER_COLUMNS`, in layout order.
    counties, substations : DataFrame
        :func:`summarise` per county and per (county, substation).
    city : dict
        :func:`summarise` of the whole city (one row as a dict).
    meta : dict
        ``n_feeders, seed, steps, workers, scheduler, scenario_pv_mw, wall_s,
        feeders_per_min, failed``.
    """

    feeders: pd.DataFrame
    counties: pd.DataFrame
    substations: pd.DataFrame
    city: dict
    meta: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: ``meta``, ``city``, ``counties`` (list of dicts)."""
        return _jsonable({"meta": self.meta, "city": self.city,
                          "counties": self.counties.to_dict(orient="records")})

    def write(self, out_dir: str | Path) -> dict[str, Path]:
        """Write ``feeders.parquet``, ``counties.parquet``, ``substations.parquet`` and
        ``summary.json`` into ``out_dir`` (created); return the paths."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"feeders": out / "feeders.parquet", "counties": out / "counties.parquet",
                 "substations": out / "substations.parquet", "summary": out / "summary.json"}
        self.feeders.to_parquet(paths["feeders"], index=False)
        self.counties.to_parquet(paths["counties"], index=False)
        self.substations.to_parquet(paths["substations"], index=False)
        paths["summary"].write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")
        return paths


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.bool_, bool)):
        return bool(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else round(float(x), 6)
    return x


def _worker_env(numba_threads: int) -> dict:
    n = str(int(numba_threads))
    return {"NUMBA_NUM_THREADS": n, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}


def _client(workers: int, scheduler: str | None):
    """(client, cluster or None): an existing scheduler, or a LocalCluster of processes."""
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s"), None
        except (OSError, TimeoutError) as exc:
            raise GridintError(f"GRIDINT_DASK_SCHEDULER={scheduler!r}: cannot connect ({exc})") from None
    s = get_settings()
    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                           dashboard_address="127.0.0.1:0", env=_worker_env(s.city_numba_threads),
                           silence_logs=logging.ERROR)
    return Client(cluster), cluster


def _run_dask(specs: list[dict], steps: str, workers: int, scheduler: str | None,
              progress: Callable[[str, int, int], None] | None) -> tuple[list[dict], int]:
    """Rows in ``specs`` order and the number of workers that served them."""
    from distributed import as_completed

    from gridint.grid.city import build_archetype

    dlog = logging.getLogger("distributed")  # Dask's own INFO chatter, unless we debug
    old_level = dlog.level
    if not logger.isEnabledFor(logging.DEBUG):
        dlog.setLevel(logging.WARNING)
    client, cluster = None, None
    try:
        client, cluster = _client(workers, scheduler)
        n_workers = len(client.nthreads())
        # archetypes: built once in the cluster (tasks), handed to the feeders that need them
        from gridint.grid.synthetic import TEMPLATES

        arch = {}
        for sp in specs:
            k = (str(sp["template"]), int(sp["archetype_seed"]))
            if k[0] in TEMPLATES and k not in arch:
                arch[k] = client.submit(build_archetype, k[0], k[1], key=f"archetype-{k[0]}-{k[1]}", pure=False)
        token = uuid.uuid4().hex[:8]  # runs sharing a cluster never share feeder tasks
        futures = [client.submit(study_feeder, sp, steps, None,
                                 arch.get((str(sp["template"]), int(sp["archetype_seed"]))),
                                 key=f"study_feeder-{steps}-{sp['feeder']}-{i}-{token}", pure=False)
                   for i, sp in enumerate(specs)]
        index = {f.key: i for i, f in enumerate(futures)}
        rows: list[dict | None] = [None] * len(specs)
        for done, fut in enumerate(as_completed(futures), start=1):
            i = index[fut.key]
            try:
                rows[i] = fut.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker etc.: recorded per feeder
                sp = specs[i]
                rows[i] = {**{k: sp.get(k) for k in ("county", "substation", "feeder", "kind", "template",
                                                      "archetype")},
                           "steps": steps, "error": f"{type(exc).__name__}: {exc}"}
            fut.release()
            if progress:
                progress("feeders", done, len(specs))
        for f in arch.values():
            f.release()
        return rows, n_workers  # type: ignore[return-value]
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
        dlog.setLevel(old_level)


def run_city(n_feeders: int | None = None, seed: int | None = None, *, steps: str | None = None,
             workers: int | None = None, scheduler: str | None = None, use_dask: bool = True,
             layout: pd.DataFrame | None = None, scenario_mw: float | None = None,
             progress: Callable[[str, int, int], None] | None = None) -> CityStudy:
    """Hosting capacity, the rooftop-PV scenario and reliability of every feeder of a city.

    Parameters
    ----------
    n_feeders, seed : int, optional
        City size and seed (Settings ``city_feeders`` 1000, ``city_seed``); ignored
        with ``layout``.
    steps : {'screening', 'year'}, optional
        Hosting-capacity steps (Settings ``city_steps``).
    workers : int, optional
        Local Dask workers, 1 thread each (Settings ``city_workers``).
    scheduler : str, optional
        Address of an existing Dask scheduler (default Settings ``dask_scheduler``,
        env ``GRIDINT_DASK_SCHEDULER``); its workers must be able to import gridint
        and read the feeder profile file.
    use_dask : bool
        False: study the feeders one after another in this process.
    layout : DataFrame, optional
        A city table of :func:`gridint.grid.city.city_layout` (e.g. a subset).
    scenario_mw : float, optional
        New rooftop PV to place [MW] (Settings ``city_scenario_pv_mw``, 800).
    progress : callable(stage, done, total), optional

    Returns
    -------
    CityStudy

    Raises
    ------
    GridintError
        Bad arguments or no reachable scheduler. Failing feeders do not raise.
    """
    from gridint.grid.city import city_layout

    s = get_settings()
    steps = s.city_steps if steps is None else steps
    if steps not in STEP_MODES:
        raise GridintError(f"steps must be one of {', '.join(STEP_MODES)}, got {steps!r}")
    workers = int(s.city_workers if workers is None else workers)
    if workers < 1:
        raise GridintError(f"workers must be >= 1, got {workers}")
    scheduler = s.dask_scheduler if scheduler is None else scheduler
    seed = int(s.city_seed if seed is None else seed)
    if layout is None:
        layout = city_layout(int(s.city_feeders if n_feeders is None else n_feeders), seed)
    specs = [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
             for r in layout.to_dict(orient="records")]
    t0 = time.perf_counter()
    if use_dask:
        rows, n_used = _run_dask(specs, steps, workers, scheduler, progress)
    else:
        rows, n_used = [], 0
        for k, sp in enumerate(specs, start=1):
            rows.append(study_feeder(sp, steps))
            if progress:
                progress("feeders", k, len(specs))
    wall = time.perf_counter() - t0
    df = pd.DataFrame(rows)
    for col in FEEDER_COLUMNS:
        if col not in df:
            df[col] = None
    df = place_scenario(df[list(FEEDER_COLUMNS)], scenario_mw)
    df = _typed(df)
    counties = summarise(df, "county")
    substations = summarise(df, ["county", "substation"])
    city = summarise(df, None).iloc[0].to_dict()
    meta = {"n_feeders": len(df), "seed": seed, "steps": steps,
            "workers": n_used,
            "scheduler": scheduler or ("LocalCluster" if use_dask else "in-process"),
            "scenario_pv_mw": float(s.city_scenario_pv_mw if scenario_mw is None else scenario_mw),
            "wall_s": wall, "feeders_per_min": 60.0 * len(df) / wall if wall > 0 else math.nan,
            "failed": int(df["error"].notna().sum())}
    logger.info("city: %d feeders in %.1f s (%.1f /min), %d failed", len(df), wall, meta["feeders_per_min"],
                meta["failed"])
    return CityStudy(df, counties, substations, city, meta)


# ----------------------------------------------------------------------------------
# text
# ----------------------------------------------------------------------------------
def format_city(study: CityStudy) -> str:
    """The county table and the city total as text (``gridint city``)."""
    m = study.meta
    target = get_settings().reliability_target_rs1_percent
    where = m["scheduler"] + (f", {m['workers']} workers" if m["workers"] else "")
    lines = [f"City study: {m['n_feeders']:,} feeders (seed {m['seed']}, steps {m['steps']}, {where}): "
             f"{m['wall_s']:.1f} s, {m['feeders_per_min']:.1f} feeders/min, {m['failed']} failed",
             f"Scenario: {m['scenario_pv_mw']:,.0f} MW of new rooftop PV placed by roof potential; "
             f"RS-1 target {target:g} %",
             f"{'county':<16}{'feeders':>8}{'customers':>11}{'HC MW':>9}{'share MW':>10}{'fits MW':>9}"
             f"{'fits %':>8}{'excess MW':>10}{'needing':>8}{'volt':>7}{'therm':>7}{'rev':>6}"
             f"{'SAIDI h':>9}{'RS-1 %':>10}  target"]

    def line(name: str, r: Mapping) -> str:
        meets = r.get("meets_target")
        return (f"{name:<16}{r['feeders']:>8,}{r['customers']:>11,}{r['hc_kw'] / 1e3:>9,.1f}"
                f"{r['scenario_share_kw'] / 1e3:>10,.1f}{r['fits_kw'] / 1e3:>9,.1f}{r['fits_percent']:>8.1f}"
                f"{r['excess_kw'] / 1e3:>10,.1f}{r['feeders_with_excess']:>8,}"
                f"{r['excess_voltage_kw'] / 1e3:>7,.1f}{r['excess_thermal_kw'] / 1e3:>7,.1f}"
                f"{r['excess_reverse_power_kw'] / 1e3:>6,.1f}{r['saidi_h']:>9.2f}{r['rs1_percent']:>10.4f}  "
                f"{'meets' if meets else 'misses'}")

    for r in study.counties.to_dict(orient="records"):
        lines.append(line(str(r["county"]), r))
    lines.append(line("city", study.city))
    lines.append("needing: feeders whose share does not fit (reinforcement or storage needed); excess MW by the "
                 "constraint that binds: volt(age), therm(al), rev(erse power)")
    if m["failed"]:
        bad = study.feeders[study.feeders["error"].notna()]
        lines.append(f"failed feeders ({len(bad)}): " + "; ".join(
            f"{r.feeder}: {r.error}" for r in bad.head(5).itertuples()))
    return "\n".join(lines)
