"""Open-capacity publication: every catalog feeder, grouped by substation.

The grid company publishes, every quarter, how much distributed PV each
substation, feeder and distribution transformer (台区) can still take, with
DL/T 2041-2019 green / yellow / red zones. :func:`publish` runs
:func:`gridint.hosting.study.feeder_hosting_capacity` on every catalog feeder
and writes CSV + JSON + GeoJSON files that carry the date, the method and the
limits used.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import logging
import re
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from gridint.config import get_settings
from gridint.errors import GridintError
from gridint.hosting.study import FeederHostingCapacity, feeder_hosting_capacity, worst_zone, zone_of

logger = logging.getLogger(__name__)

__all__ = ["METHOD", "parse_quarter", "publish", "publication_header", "result_csv", "result_geojson",
           "substation_summary"]

METHOD = (
    "Nodal hosting capacity = largest additional PV AC power at a bus (unity power factor, "
    "output per kW of the default rooftop system on the Xiangtan typical weather year, every "
    "15-minute step of the feeder's profile year) with no new violation of: bus voltage above "
    "the GB/T 12325 upper limit, line/transformer loading above 100 %, transformer reverse "
    "load rate above beta (DL/T 2041-2019). Bracketed and confirmed with the AC power flow "
    "(gridint batch engine, equal to pandapower runpp). Transformer (tai qu) capacity: PV on "
    "its LV side shared by load. Feeder capacity: simultaneous allocation proportional to "
    "load. Substation: sum of its feeders (substation transformer not modelled). Zones: "
    "reverse load rate <= 0 green, <= 80 % yellow, above or any limit broken red; a child is "
    "never greener than its parent. C1 = capacity - PV connected since the model; "
    "C2 = C1 - approved, not yet connected PV.")


def parse_quarter(text: str | None, today: dt.date | None = None) -> tuple[str, dt.date]:
    """``'2025Q3'`` -> (label, first day of the quarter); None -> the current quarter.

    Raises
    ------
    GridintError
        Not ``YYYYQn`` with n in 1..4.
    """
    if text is None:
        today = today or dt.date.today()
        q = (today.month - 1) // 3 + 1
        return f"{today.year}Q{q}", dt.date(today.year, 3 * q - 2, 1)
    m = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", str(text))
    if not m:
        raise GridintError(f"--quarter must look like 2025Q3 (year, Q, 1-4), got {text!r}")
    year, q = int(m.group(1)), int(m.group(2))
    if not 2000 <= year <= 2100:
        raise GridintError(f"--quarter year {year} outside 2000..2100")
    return f"{year}Q{q}", dt.date(year, 3 * q - 2, 1)


def publication_header(quarter: str | None = None) -> dict:
    """The metadata every publication file carries: date, quarter, method, limits with
    their standards, gridint version."""
    from gridint import __version__

    s = get_settings()
    return {
        "published": dt.date.today().isoformat(),
        "quarter": quarter,
        "method": METHOD,
        "limits": {"vm_max_pu": s.vm_max_pu, "vm_min_pu": s.vm_min_pu,
                   "line_loading_max_percent": s.line_loading_max_percent,
                   "trafo_loading_max_percent": s.trafo_loading_max_percent,
                   "reverse_load_rate_max": s.reverse_load_rate_max,
                   "zone_green_max": s.zone_green_max, "zone_yellow_max": s.zone_yellow_max},
        "gridint_version": __version__,
    }


CSV_FIELDS = ("substation", "feeder", "level", "name", "rated_kva", "pv_kw", "hc_kw", "c1_kw",
              "c2_kw", "reverse_load_rate", "zone", "binding_constraint", "binding_element",
              "binding_time")


def _csv_rows(r: dict) -> list[dict]:
    rows = [{"substation": r.get("substation", ""), "feeder": r["feeder"], "level": "feeder",
             "name": r["feeder"], "rated_kva": None, "pv_kw": None, "hc_kw": r["feeder_hc_kw"],
             "c1_kw": r.get("feeder_c1_kw"), "c2_kw": r.get("feeder_c2_kw"),
             "reverse_load_rate": r["reverse_load_rate"], "zone": r["zone"],
             **_binding_cols(r.get("feeder_binding"))}]
    for t in r["transformers"]:
        rows.append({"substation": r.get("substation", ""), "feeder": r["feeder"],
                     "level": "transformer", "name": t["name"], "rated_kva": t["rated_kva"],
                     "pv_kw": t["pv_kw"], "hc_kw": t["hc_kw"], "c1_kw": t["c1_kw"],
                     "c2_kw": t["c2_kw"], "reverse_load_rate": t["reverse_load_rate"],
                     "zone": t["zone"], **_binding_cols(t.get("binding"))})
    for b in r["buses"]:
        rows.append({"substation": r.get("substation", ""), "feeder": r["feeder"], "level": "bus",
                     "name": b["name"], "rated_kva": None, "pv_kw": None, "hc_kw": b["hc_kw"],
                     "c1_kw": None, "c2_kw": None, "reverse_load_rate": None, "zone": b["zone"],
                     **_binding_cols(b.get("binding"))})
    return rows


def _binding_cols(b: dict | None) -> dict:
    b = b or {}
    return {"binding_constraint": b.get("constraint"), "binding_element": b.get("element"),
            "binding_time": b.get("time")}


def result_csv(results: Sequence[dict], header: dict | None = None) -> str:
    """CSV text: one row per feeder, transformer and bus; ``#`` lines carry the header."""
    header = header or publication_header()
    buf = io.StringIO()
    for key in ("published", "quarter", "gridint_version"):
        buf.write(f"# {key}: {header.get(key)}\n")
    buf.write(f"# method: {header['method']}\n")
    buf.write(f"# limits: {json.dumps(header['limits'])}\n")
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\n")
    w.writeheader()
    for r in results:
        for row in _csv_rows(r):
            w.writerow(row)
    return buf.getvalue()


def result_geojson(results: Sequence[dict], header: dict | None = None) -> dict:
    """GeoJSON FeatureCollection: one Point per bus with coordinates (lon, lat),
    its hosting capacity, zone and binding constraint, and the transformer row
    for LV busbars."""
    header = header or publication_header()
    feats = []
    for r in results:
        by_lv = {t["lv_bus"]: t for t in r["transformers"] if t.get("lv_bus")}
        for b in r["buses"]:
            if b.get("lon") is None:
                continue
            props = {"feeder": r["feeder"], "substation": r.get("substation", ""),
                     "bus": b["name"], "vn_kv": b["vn_kv"], "hc_kw": b["hc_kw"],
                     "zone": b["zone"], **_binding_cols(b.get("binding"))}
            t = by_lv.get(b["name"])
            if t:
                props.update({"transformer": t["name"], "rated_kva": t["rated_kva"],
                              "pv_kw": t["pv_kw"], "c1_kw": t["c1_kw"], "c2_kw": t["c2_kw"],
                              "reverse_load_rate": t["reverse_load_rate"]})
            feats.append({"type": "Feature",
                          "geometry": {"type": "Point", "coordinates": [b["lon"], b["lat"]]},
                          "properties": props})
    return {"type": "FeatureCollection", "metadata": header, "features": feats}


def substation_summary(results: Sequence[FeederHostingCapacity]) -> list[dict]:
    """Group feeder results by substation; apply the substation zone to its children.

    The substation's own reverse load rate is the largest simultaneous reverse
    flow of its feeders over the sum of their head ratings (steps aligned when
    the feeders share a profile year, else the largest feeder rate).
    """
    groups: dict[str, list[FeederHostingCapacity]] = {}
    for r in results:
        groups.setdefault(r.substation or r.feeder, []).append(r)
    out = []
    for name, rs in groups.items():
        rates = [r.reverse_load_rate for r in rs if np.isfinite(r.reverse_load_rate)]
        heads = [r.head_p_mw for r in rs]
        if all(h is not None for h in heads) and len({len(h) for h in heads}) == 1:
            p = np.sum(heads, axis=0)
            mva = sum(r.head_rating_mva for r in rs)
            rate = float((-p).max() / mva) if mva > 0 else float("nan")
        else:
            rate = max(rates) if rates else float("nan")
        # the substation's own limits (its transformer, busbar voltage) are not modelled:
        # its zone comes from the reverse load rate alone
        zone = zone_of(rate)
        for r in rs:
            _apply_parent_zone(r, zone)
        out.append({"substation": name, "feeders": [r.feeder for r in rs],
                    "hc_kw": round(sum(r.feeder_hc_kw for r in rs), 1),
                    "c1_kw": round(sum(r.feeder_c1_kw for r in rs), 1),
                    "c2_kw": round(sum(r.feeder_c2_kw for r in rs), 1),
                    "reverse_load_rate": None if not np.isfinite(rate) else round(rate, 4),
                    "zone": zone})
    return out


def _apply_parent_zone(r: FeederHostingCapacity, parent: str) -> None:
    r.zone = worst_zone(r.zone, parent)
    for t in r.transformers:
        t["zone"] = worst_zone(t["zone"], r.zone)
    for b in r.buses:
        b["zone"] = worst_zone(b["zone"], r.zone)


def publish(quarter: str | None = None, out_dir: str | Path | None = None, *,
            feeders: Sequence[str] | None = None, queue: dict | None = None,
            progress: Callable[[str, int, int], None] | None = None) -> dict:
    """Write the open-capacity publication of the catalog feeders.

    Parameters
    ----------
    quarter : str, optional
        ``YYYYQn``; default the current quarter. Labels the files; every feeder is
        studied over its whole profile year (all seasons: the conservative answer).
    out_dir : path, optional
        Folder for ``open_capacity_<quarter>.{csv,json,geojson}``; default
        ``./publication``.
    feeders : sequence of str, optional
        Catalog names; default every catalog feeder.
    queue : dict, optional
        feeder name -> list of QueuedPV (for C1 / C2).
    progress : callable(stage, done, total), optional

    Returns
    -------
    dict
        ``quarter, files: {csv, json, geojson}, substations: [...], feeders: [...]``.
    """
    from gridint.grid.catalog import read_catalog

    label, _ = parse_quarter(quarter)
    catalog = read_catalog()
    names = list(feeders) if feeders is not None else list(catalog)
    unknown = [n for n in names if n not in catalog]
    if unknown:
        raise GridintError(f"unknown catalog feeder(s): {', '.join(unknown)}")
    out = Path(out_dir) if out_dir is not None else Path("publication")
    results = []
    for k, name in enumerate(names):
        logger.info("publication %s: %s (%d/%d)", label, name, k + 1, len(names))
        results.append(feeder_hosting_capacity(name, queue=(queue or {}).get(name, ())))
        if progress:
            progress("feeders", k + 1, len(names))
    subs = substation_summary(results)
    header = publication_header(label)
    dicts = [r.to_dict() for r in results]
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"open_capacity_{label}"
    files = {"csv": stem.with_suffix(".csv"), "json": stem.with_suffix(".json"),
             "geojson": stem.with_suffix(".geojson")}
    payload = {**header, "substations": [
        {**s, "feeders": [d for d in dicts if d["feeder"] in s["feeders"]]} for s in subs]}
    _atomic_write(files["json"], json.dumps(payload, indent=1, default=_jsonable))
    _atomic_write(files["csv"], result_csv(dicts, header))
    _atomic_write(files["geojson"], json.dumps(result_geojson(dicts, header), default=_jsonable))
    return {"quarter": label, "files": {k: str(v) for k, v in files.items()},
            "substations": subs,
            "feeders": [{"feeder": d["feeder"], "substation": d["substation"],
                         "feeder_hc_kw": d["feeder_hc_kw"], "zone": d["zone"],
                         "n_steps": d["n_steps"], "runtime_s": d["runtime_s"]} for d in dicts]}


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and rename: a failed run leaves the old file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
