"""DER telemetry ingestion: parse, validate and store measurement batches; query; monitoring status.

A batch is a list of points ``{device, time, p_kw, soc_percent?, v_pu?}`` (JSON, or CSV
with a header row of those names). Every point is checked on its own; bad points are
rejected with a reason and their index while the rest of the batch is stored. Points are
inserted with ``INSERT ... ON CONFLICT (device_id, time) DO NOTHING`` (SQLite dialect
insert, executemany; PostgreSQL one ``INSERT ... SELECT FROM unnest(arrays)`` per batch), so a re-sent batch stores nothing twice; out-of-order and
late points are just rows.

Checks (limits from :class:`gridint.config.Settings`, ``telemetry_*``):

- unknown device; device of another owner (installers send for their own devices only);
- time missing, not ISO 8601, or without a time zone (``2025-06-01T12:00:00`` is refused,
  ``...+08:00`` or ``...Z`` accepted);
- PV: ``p_kw < 0`` or ``> telemetry_p_max_ratio x rating_kw``; ``p_kw`` above
  ``telemetry_night_p_fraction x rating_kw`` while the sun (pvlib, at the configured site)
  is below ``telemetry_night_elevation_deg``;
- storage: ``|p_kw| > telemetry_p_max_ratio x rating_kw``;
- ``soc_percent`` outside 0..100; ``v_pu`` outside ``telemetry_v_min_pu..telemetry_v_max_pu``.

Devices and the grid model
--------------------------
:func:`register_device` checks a device against its feeder's model (:func:`check_site`):
``feeder`` must be a catalog feeder (:func:`gridint.grid.catalog.read_catalog`) and ``bus`` a
connection bus of it, i.e. a bus name of the feeder itself, in service, not in the neighbour
zone behind the normally-open tie (zone ``<feeder>-neighbour``), not an ``ext_grid`` bus and
not above the feeder's nominal voltage (the same buses the hosting capacity studies, see
``gridint.hosting.study._feeder_buses``). A distribution transformer name is accepted for its
LV bus, as in connection requests; the bus name is what is stored. A storage device whose name
is a storage row of the net must be registered at that row's bus. The bus names of a feeder
are cached per catalog folder and feeder (:func:`feeder_sites`, :func:`clear_site_cache`).

Mapping rule (devices -> net elements, used by the closed loop)
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
- a **storage** device maps to the net's storage row with the same name, else to the single
  storage row at its bus; no row there, or several, leaves it unmapped
  (``gridint.telemetry.loop.storage_device_map``). Registration makes the first half
  unambiguous: a device named like a storage row is at that row's bus;
- a **PV** device is a reference system: the feeder's reporting PV devices are a sample of
  its fleet, upscaled by output per kW (``gridint.telemetry.loop.upscale_pv``); a PV
  device's name need not match any sgen of the net, its bus only has to be a connection bus.

Times
-----
Stored in UTC; :func:`query` and :func:`status` return time-zone-aware datetimes in
``Settings.timezone`` (Asia/Shanghai) unless ``tz`` says otherwise, so the API shows ISO 8601
with a ``+08:00`` offset and the CLI local time (:mod:`gridint.telemetry.report`).
"""
from __future__ import annotations

import csv
import datetime as dt
import difflib
import io
import json
import logging
import math
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridint.config import Settings, get_settings
from gridint.errors import DeviceInvalid, StoreError
from gridint.store.db import write_transaction
from gridint.store.models import DerDevice, Telemetry, User

__all__ = ["FIELDS", "IngestResult", "parse_csv", "read_points", "ingest", "ingest_all",
           "register_device", "list_devices", "device_by_name", "query", "status", "night_mask", "to_csv",
           "FeederSites", "feeder_sites", "check_feeder", "check_site", "clear_site_cache",
           "sites_of_net", "DEVICE_NAME", "RATING_KW_MAX", "ENERGY_KWH_MAX"]

logger = logging.getLogger(__name__)

#: point fields, in CSV column order
FIELDS = ("device", "time", "p_kw", "soc_percent", "v_pu")
#: roles that may send for any device
_ANY_DEVICE = ("operator", "admin")
_CHUNK = 500  # rows per INSERT statement (5 columns: far below SQLite's variable limit)
#: device names: what the API accepts (letters, digits, ``_ . @ -``; 1..100 characters)
DEVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$")
#: largest inverter AC rating [kW] and storage energy [kWh] of one device (plausibility
#: bounds of the API schema: a 10 kV connection is at most 6 MW, Q/GDW 1480)
RATING_KW_MAX = 1e6
ENERGY_KWH_MAX = 1e7


@dataclass
class IngestResult:
    """Outcome of one batch: points stored, points already stored, rejected points."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "duplicates": self.duplicates, "rejected": self.rejected}


def parse_csv(text: str) -> list[dict[str, Any]]:
    """Points from CSV text with a header row (columns :data:`FIELDS`; soc_percent, v_pu optional).

    Raises
    ------
    StoreError
        No header, a missing required column, or an unknown column.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise StoreError("CSV telemetry: no header row (columns device,time,p_kw[,soc_percent][,v_pu])")
    missing = [c for c in ("device", "time", "p_kw") if c not in header]
    unknown = [c for c in header if c not in FIELDS]
    if missing or unknown:
        raise StoreError(f"CSV telemetry: header must name device,time,p_kw[,soc_percent][,v_pu]; "
                         f"missing {missing}, unknown {unknown}")
    reader.fieldnames = header
    points = []
    for row in reader:
        points.append({k: (v.strip() if isinstance(v, str) else v) for k, v in row.items()
                       if k is not None and v not in (None, "")})
    return points


def read_points(path: str | Path) -> list[Any]:
    """Points of a batch file: ``.csv`` (header row, see :func:`parse_csv`) or ``.json``
    (``{"points": [...]}`` as the API takes it, or a bare list of points).

    Raises
    ------
    StoreError
        Missing or unreadable file, another suffix, bad CSV header, JSON of another shape.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".json"):
        raise StoreError(f"FILE: {path.name!r} must end in .csv or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StoreError(f"FILE: {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"FILE: {path} unreadable ({exc})") from None
    if suffix == ".csv":
        return parse_csv(text)
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise StoreError(f"FILE: {path.name} is not JSON ({exc})") from None
    points = doc.get("points") if isinstance(doc, dict) and set(doc) == {"points"} else doc
    if not isinstance(points, list):
        raise StoreError(f'FILE: {path.name} must hold {{"points": [...]}} or a list of points')
    return points


def _number(value: Any, name: str, required: bool) -> float | None:
    if value is None:
        if required:
            raise ValueError(f"{name} missing")
        return None
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value[:30]!r}") from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number")
    return float(value)


def _time(value: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise ValueError("time must be an ISO 8601 string with a time zone offset")
    try:
        t = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"time {value[:40]!r} is not ISO 8601") from None
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(f"time {value[:40]!r} has no time zone (give an offset such as +08:00 or Z)")
    return t.astimezone(dt.timezone.utc)


def night_mask(times_utc: Sequence[dt.datetime], settings: Settings | None = None) -> np.ndarray:
    """True where the sun at the configured site is below ``telemetry_night_elevation_deg``.

    Parameters
    ----------
    times_utc : sequence of datetime
        Time-zone aware instants.
    settings : Settings, optional

    Returns
    -------
    ndarray of bool
    """
    import pvlib

    s = settings or get_settings()
    if not len(times_utc):
        return np.zeros(0, dtype=bool)
    idx = pd.DatetimeIndex(pd.to_datetime(list(times_utc), utc=True))
    sp = pvlib.solarposition.get_solarposition(idx, s.site_latitude_deg, s.site_longitude_deg,
                                               altitude=s.site_altitude_m)
    return sp["elevation"].to_numpy() < s.telemetry_night_elevation_deg


def _check(point: Any, devices: dict[str, DerDevice], user: User,
           s: Settings) -> tuple[dict[str, Any], DerDevice]:
    """One point -> (row, device); ValueError with the reason otherwise."""
    if not isinstance(point, dict):
        raise ValueError("point must be an object {device, time, p_kw, soc_percent?, v_pu?}")
    extra = set(point) - set(FIELDS)
    if extra:
        raise ValueError(f"unknown field(s) {sorted(extra)}")
    name = point.get("device")
    if not isinstance(name, str) or not name:
        raise ValueError("device missing")
    dev = devices.get(name)
    if dev is None:
        raise ValueError(f"unknown device {name[:100]!r}")
    if user.role not in _ANY_DEVICE and dev.owner_id != user.id:
        raise ValueError(f"device {name!r} is not yours")
    t = _time(point.get("time"))
    p = _number(point.get("p_kw"), "p_kw", True)
    soc = _number(point.get("soc_percent"), "soc_percent", False)
    v = _number(point.get("v_pu"), "v_pu", False)
    limit = s.telemetry_p_max_ratio * dev.rating_kw
    if dev.kind == "pv":
        if p < 0:
            raise ValueError(f"p_kw {p:g} < 0 for PV")
        if p > limit:
            raise ValueError(f"p_kw {p:g} above {s.telemetry_p_max_ratio:g} x rating "
                             f"{dev.rating_kw:g} kW")
        if soc is not None:
            raise ValueError("soc_percent given for a PV device")
    elif abs(p) > limit:
        raise ValueError(f"|p_kw| {abs(p):g} above {s.telemetry_p_max_ratio:g} x rating "
                         f"{dev.rating_kw:g} kW")
    if soc is not None and not 0.0 <= soc <= 100.0:
        raise ValueError(f"soc_percent {soc:g} outside 0..100")
    if v is not None and not s.telemetry_v_min_pu <= v <= s.telemetry_v_max_pu:
        raise ValueError(f"v_pu {v:g} outside {s.telemetry_v_min_pu:g}..{s.telemetry_v_max_pu:g}")
    return {"device_id": dev.id, "time": t, "p_kw": p, "soc_percent": soc, "v_pu": v}, dev


_PG_UNNEST = text(
    "INSERT INTO telemetry (device_id, time, p_kw, soc_percent, v_pu) "
    "SELECT * FROM unnest(CAST(:device_id AS integer[]), CAST(:time AS timestamptz[]), "
    "CAST(:p_kw AS double precision[]), CAST(:soc_percent AS double precision[]), "
    "CAST(:v_pu AS double precision[])) "
    "ON CONFLICT (device_id, time) DO NOTHING RETURNING device_id")


def _insert(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert ``rows``, skipping (device_id, time) already stored; returns rows inserted."""
    if session.get_bind().dialect.name == "postgresql":
        # one statement, five array parameters: no per-row SQL text to build or parse
        cols = {k: [r[k] for r in rows] for k in ("device_id", "time", "p_kw", "soc_percent", "v_pu")}
        return len(session.execute(_PG_UNNEST, cols).all())
    from sqlalchemy.dialects.sqlite import insert

    table = Telemetry.__table__
    stmt = insert(table).on_conflict_do_nothing(
        index_elements=["device_id", "time"]).returning(table.c.device_id)
    # executemany: SQLAlchemy's "insertmanyvalues" batches the rows into multi-row INSERTs
    # with one cached statement; RETURNING gives back only the rows inserted
    inserted = 0
    for i in range(0, len(rows), _CHUNK * 10):
        inserted += len(session.execute(stmt, rows[i:i + _CHUNK * 10]).all())
    return inserted


def ingest(session: Session, user: User, points: Sequence[Any],
           settings: Settings | None = None) -> IngestResult:
    """Validate and store a batch of points.

    Parameters
    ----------
    session : Session
    user : User
        The sender: installers send for their own devices, operators and admins for any.
    points : sequence
        Point dicts (see the module docstring); values may be strings (CSV).
    settings : Settings, optional

    Returns
    -------
    IngestResult
        ``accepted`` points newly stored, ``duplicates`` valid points already stored
        (or repeated within the batch), ``rejected`` ``[{index, reason}]``.

    Raises
    ------
    StoreError
        More than ``telemetry_max_points`` points.
    """
    s = settings or get_settings()
    if len(points) > s.telemetry_max_points:
        raise StoreError(f"points: {len(points)} in one batch, at most telemetry_max_points="
                         f"{s.telemetry_max_points}")
    names = {p.get("device") for p in points if isinstance(p, dict)}
    names = [n for n in names if isinstance(n, str)]
    devices: dict[str, DerDevice] = {}
    for i in range(0, len(names), _CHUNK):
        for d in session.scalars(select(DerDevice).where(DerDevice.name.in_(names[i:i + _CHUNK]))):
            devices[d.name] = d
    out = IngestResult()
    ok: list[tuple[int, dict[str, Any]]] = []
    pv_rows: list[int] = []
    for i, point in enumerate(points):
        try:
            row, dev = _check(point, devices, user, s)
        except ValueError as exc:
            out.rejected.append({"index": i, "reason": str(exc)})
            continue
        if dev.kind == "pv" and row["p_kw"] > s.telemetry_night_p_fraction * dev.rating_kw:
            pv_rows.append(len(ok))
        ok.append((i, row))
    if pv_rows:  # night generation: one vectorised solar-position call per batch
        night = night_mask([ok[k][1]["time"] for k in pv_rows], s)
        bad = {pv_rows[k] for k in np.flatnonzero(night)}
        for k in sorted(bad):
            i, row = ok[k]
            out.rejected.append({"index": i, "reason": f"p_kw {row['p_kw']:g} at night (sun below "
                                                        f"{s.telemetry_night_elevation_deg:g} deg)"})
        ok = [x for k, x in enumerate(ok) if k not in bad]
        out.rejected.sort(key=lambda r: r["index"])
    rows = [row for _, row in ok]
    if rows:
        with write_transaction(session):
            out.accepted = _insert(session, rows)
    out.duplicates = len(rows) - out.accepted
    logger.info("telemetry from %s: %d accepted, %d duplicates, %d rejected", user.name,
                out.accepted, out.duplicates, len(out.rejected))
    return out


def ingest_all(session: Session, user: User, points: Sequence[Any],
               settings: Settings | None = None) -> IngestResult:
    """:func:`ingest` in batches of ``telemetry_max_points`` (a file of any size; the API
    keeps the one-batch limit). Rejected indexes refer to ``points``."""
    s = settings or get_settings()
    out = IngestResult()
    n = s.telemetry_max_points
    for i in range(0, len(points), n):
        part = ingest(session, user, points[i:i + n], s)
        out.accepted += part.accepted
        out.duplicates += part.duplicates
        out.rejected += [{**r, "index": r["index"] + i} for r in part.rejected]
    return out


# --- devices and the grid model -----------------------------------------------------------

@dataclass(frozen=True)
class FeederSites:
    """Where devices of one feeder may connect.

    Attributes
    ----------
    feeder : str
    buses : tuple of str
        Connection buses (net order): the feeder's own buses, in service, not behind the
        open tie, not ext_grid, not above the feeder voltage.
    excluded : dict of str -> str
        Other bus names of the net and why a device cannot connect there.
    trafo_lv : dict of str -> str
        Distribution transformer name -> its LV bus (a connection bus).
    storage_buses : dict of str -> tuple of str
        Storage row name -> bus name(s) of the rows of that name.
    """

    feeder: str
    buses: tuple[str, ...]
    excluded: dict[str, str]
    trafo_lv: dict[str, str]
    storage_buses: dict[str, tuple[str, ...]]


def _name(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def sites_of_net(feeder: str, net, voltage_kv: float = float("nan")) -> FeederSites:
    """:class:`FeederSites` of a pandapower net (pure; :func:`feeder_sites` caches it).

    Parameters
    ----------
    feeder : str
        Feeder name (its neighbour zone is ``<anything>-neighbour``).
    net : pandapowerNet
    voltage_kv : float
        Nominal feeder voltage [kV]; buses above 1.05 x this are upstream grid (NaN: no limit).
    """
    bus = net.bus
    ext = set(net.ext_grid.bus[net.ext_grid.in_service.astype(bool)].astype(int))
    zones = bus["zone"] if "zone" in bus else pd.Series(None, index=bus.index)
    limit = 1.05 * voltage_kv if math.isfinite(voltage_kv) and voltage_kv > 0 else math.inf
    buses: list[str] = []
    excluded: dict[str, str] = {}
    by_index: dict[int, str] = {}
    for idx, nm, vn, on, zone in zip(bus.index, bus["name"], bus["vn_kv"], bus["in_service"], zones):
        nm = _name(nm)
        if nm is None:
            continue
        by_index[int(idx)] = nm
        zone = _name(zone) or ""
        if not bool(on):
            why = "out of service"
        elif zone.endswith("-neighbour"):
            why = f"behind the normally-open tie (zone {zone})"
        elif int(idx) in ext:
            why = "the supply point (ext_grid)"
        elif float(vn) > limit:
            why = f"a {float(vn):g} kV bus above the feeder's {voltage_kv:g} kV"
        else:
            if nm not in buses:
                buses.append(nm)
            continue
        excluded.setdefault(nm, why)
    allowed = set(buses)
    for nm in allowed:
        excluded.pop(nm, None)
    trafo_lv = {}
    for nm, lv, on in zip(net.trafo["name"], net.trafo["lv_bus"], net.trafo["in_service"]):
        nm, lvn = _name(nm), by_index.get(int(lv))
        if nm is not None and bool(on) and lvn in allowed and nm not in allowed:
            trafo_lv[nm] = lvn
    storage: dict[str, list[str]] = {}
    for nm, b in zip(net.storage["name"], net.storage["bus"]):
        nm = _name(nm)
        if nm is not None and int(b) in by_index:
            storage.setdefault(nm, []).append(by_index[int(b)])
    return FeederSites(feeder, tuple(buses), excluded, trafo_lv,
                       {k: tuple(v) for k, v in storage.items()})


_SITES: dict[tuple[str, str], FeederSites] = {}
_SITES_LOCK = threading.Lock()


def _few(values: Sequence[str], n: int = 4) -> str:
    values = list(values)
    head = ", ".join(values[:n])
    return head + (f", ... ({len(values)} in all)" if len(values) > n else "")


def check_feeder(feeder: str) -> None:
    """Raise :class:`DeviceInvalid` (field ``feeder``) unless ``feeder`` is a catalog feeder."""
    from gridint.grid.catalog import read_catalog

    names = list(read_catalog())
    if feeder not in names:
        hint = difflib.get_close_matches(str(feeder), names, n=1)
        raise DeviceInvalid("feeder", f"{str(feeder)[:100]!r} is not a catalog feeder ("
                            + (f"did you mean {hint[0]!r}? " if hint else "")
                            + f"one of {', '.join(names)})")


def feeder_sites(feeder: str) -> FeederSites:
    """Connection buses of a catalog feeder, cached per catalog folder and feeder name
    (loading a feeder takes 0.3..5 s).

    Raises
    ------
    DeviceInvalid
        ``feeder`` is not a catalog feeder.
    """
    from gridint.grid.catalog import load_feeder

    check_feeder(feeder)
    key = (str(Path(get_settings().feeders_dir).resolve()), feeder)
    with _SITES_LOCK:
        hit = _SITES.get(key)
    if hit is None:
        f = load_feeder(feeder)
        hit = sites_of_net(feeder, f.net, f.voltage_kv)
        with _SITES_LOCK:
            hit = _SITES.setdefault(key, hit)
    return hit


def clear_site_cache() -> None:
    """Forget the cached feeder buses (after a feeder file changes)."""
    with _SITES_LOCK:
        _SITES.clear()


def _suggest(bus: str, buses: Sequence[str]) -> str:
    tail = [b for b in buses if b.endswith(bus) and len(bus) >= 2]
    hint = tail[:1] or difflib.get_close_matches(bus, list(buses), n=1, cutoff=0.75)
    return f"did you mean {hint[0]!r}? " if hint else ""


def check_site(feeder: str, bus: str, kind: str = "pv", name: str | None = None) -> str:
    """Check a device's place in the grid model; return the bus name to store.

    Parameters
    ----------
    feeder : str
        Catalog feeder name.
    bus : str
        Bus name of the feeder, or a distribution transformer name (its LV bus).
    kind : {"pv", "storage"}
    name : str, optional
        Device name; a storage device named like a storage row of the net must sit at its bus.

    Returns
    -------
    str
        The bus name.

    Raises
    ------
    DeviceInvalid
        Field ``feeder`` or ``bus``, with a few allowed values.
    """
    sites = feeder_sites(feeder)
    if bus not in sites.buses:
        if bus in sites.trafo_lv:
            bus = sites.trafo_lv[bus]
        else:
            shown = str(bus)[:100]
            tr = next(iter(sites.trafo_lv), None)
            alias = f"; or a transformer name such as {tr} for its LV bus" if tr else ""
            examples = f"e.g. {_few(sites.buses)}{alias}"
            if bus in sites.excluded:
                raise DeviceInvalid("bus", f"{shown!r} is {sites.excluded[bus]}, not a connection "
                                           f"bus of {feeder} ({examples})")
            raise DeviceInvalid("bus", f"{shown!r} is not a bus of {feeder} "
                                       f"({_suggest(str(bus), sites.buses)}{examples})")
    if kind == "storage" and name in sites.storage_buses and bus not in sites.storage_buses[name]:
        at = " or ".join(repr(b) for b in sites.storage_buses[name])
        raise DeviceInvalid("bus", f"storage {name!r} of {feeder} sits at bus {at}, not {bus!r}")
    return bus


def register_device(session: Session, owner: User, *, name: str, feeder: str, bus: str, kind: str,
                    rating_kw: float, energy_kwh: float | None = None,
                    actor: User | None | Literal["owner"] = "owner") -> DerDevice:
    """Register a device of ``owner``, checked against the grid model (:func:`check_site`).

    Parameters
    ----------
    session : Session
    owner : User
    name : str
        Unique device name (:data:`DEVICE_NAME`).
    feeder, bus : str
        Catalog feeder and one of its connection buses (or a transformer name: its LV bus).
    kind : {"pv", "storage"}
    rating_kw : float
        Inverter AC rating [kW], in (0, :data:`RATING_KW_MAX`].
    energy_kwh : float, optional
        Usable storage energy [kWh] (storage only), in (0, :data:`ENERGY_KWH_MAX`].
    actor : User or None
        Who registers, for the audit log (default the owner; None: a local command).

    Returns
    -------
    DerDevice
        With ``bus`` the bus name.

    Raises
    ------
    DeviceInvalid
        A field out of range or not in the grid model (``name``, ``kind``, ``rating_kw``,
        ``energy_kwh``, ``feeder``, ``bus``).
    StateConflict
        The name is taken.
    """
    from gridint.errors import StateConflict
    from gridint.store import repo

    if not isinstance(name, str) or not DEVICE_NAME.match(name):
        raise DeviceInvalid("name", f"{str(name)[:100]!r}: 1..100 letters, digits or _ . @ - "
                                    "(starting with a letter or digit)")
    if kind not in ("pv", "storage"):
        raise DeviceInvalid("kind", f"{kind!r}, allowed pv or storage")
    if not (isinstance(rating_kw, (int, float)) and 0 < rating_kw <= RATING_KW_MAX):
        raise DeviceInvalid("rating_kw", f"{rating_kw} must be in (0, {RATING_KW_MAX:,.0f}] kW")
    if kind == "storage" and energy_kwh is None:
        raise DeviceInvalid("energy_kwh", "a storage device needs its usable energy [kWh]")
    if energy_kwh is not None and not (isinstance(energy_kwh, (int, float))
                                       and 0 < energy_kwh <= ENERGY_KWH_MAX):
        raise DeviceInvalid("energy_kwh", f"{energy_kwh} must be in (0, {ENERGY_KWH_MAX:,.0f}] kWh")
    bus = check_site(feeder, bus, kind, name)
    with write_transaction(session):
        if session.scalar(select(DerDevice.id).where(DerDevice.name == name)) is not None:
            raise StateConflict(f"device {name!r} already registered")
        dev = DerDevice(name=name, feeder=feeder, bus=bus, kind=kind, rating_kw=float(rating_kw),
                        energy_kwh=None if kind == "pv" else float(energy_kwh), owner_id=owner.id)
        session.add(dev)
        session.flush()
        detail = {"name": name, "feeder": feeder, "bus": bus, "kind": kind, "owner": owner.name}
        if actor is None:
            detail["by"] = "cli"
        repo.audit(session, owner if isinstance(actor, str) else actor, "register", "der_device", dev.id,
                   detail)
    return dev


def list_devices(session: Session, *, owner_id: int | None = None,
                 feeder: str | None = None) -> list[DerDevice]:
    """Devices by name, optionally of one owner and/or feeder."""
    q = select(DerDevice).order_by(DerDevice.name)
    if owner_id is not None:
        q = q.where(DerDevice.owner_id == owner_id)
    if feeder is not None:
        q = q.where(DerDevice.feeder == feeder)
    return list(session.scalars(q))


def device_by_name(session: Session, name: str) -> DerDevice:
    """The device named ``name``.

    Raises
    ------
    RecordNotFound
        No such device.
    """
    from gridint.errors import RecordNotFound

    dev = session.scalar(select(DerDevice).where(DerDevice.name == name))
    if dev is None:
        raise RecordNotFound(f"device: no device {str(name)[:100]!r}")
    return dev


def query(session: Session, *, device: str | None = None, feeder: str | None = None,
          start: dt.datetime | None = None, end: dt.datetime | None = None,
          owner_id: int | None = None, limit: int | None = None,
          tz: str | None = None) -> list[dict[str, Any]]:
    """Measurements ``start <= time < end`` of a device or a feeder, by device then time.

    Uses the (device_id, time) primary key; a feeder's devices come from its index.
    ``time`` is aware, in ``tz`` (default ``Settings.timezone``).
    """
    q = (select(DerDevice.name, Telemetry.time, Telemetry.p_kw, Telemetry.soc_percent, Telemetry.v_pu)
         .join(DerDevice, DerDevice.id == Telemetry.device_id)
         .order_by(Telemetry.device_id, Telemetry.time))
    q = device_period_filter(q, Telemetry.time, device=device, feeder=feeder, owner_id=owner_id,
                             start=start, end=end, limit=limit)
    zone = _zone(tz)
    return [{"device": r[0], "time": r[1].astimezone(zone), "p_kw": r[2], "soc_percent": r[3],
             "v_pu": r[4]} for r in session.execute(q)]


def device_period_filter(q, time_col, *, device: str | None = None, feeder: str | None = None,
                         owner_id: int | None = None, start: dt.datetime | None = None,
                         end: dt.datetime | None = None, limit: int | None = None):
    """``q`` (a select joined with ``der_devices``) restricted to a device / feeder / owner
    and ``start <= time_col < end``, at most ``limit`` rows."""
    if device is not None:
        q = q.where(DerDevice.name == device)
    if feeder is not None:
        q = q.where(DerDevice.feeder == feeder)
    if owner_id is not None:
        q = q.where(DerDevice.owner_id == owner_id)
    if start is not None:
        q = q.where(time_col >= start)
    if end is not None:
        q = q.where(time_col < end)
    return q if limit is None else q.limit(limit)


def _zone(tz: str | None) -> ZoneInfo:
    return ZoneInfo(tz or get_settings().timezone)


def status(session: Session, feeder: str, *, now: dt.datetime | None = None,
           silent_intervals: int | None = None, owner_id: int | None = None,
           settings: Settings | None = None, tz: str | None = None) -> dict[str, Any]:
    """Monitoring view of a feeder: devices silent or out of the voltage band.

    A device is *silent* when it has sent nothing for ``silent_intervals`` intervals of
    ``telemetry_interval_min`` before ``now`` (a device that never sent is silent); *out
    of limits* when its latest ``v_pu`` is above ``vm_max_pu`` or below ``vm_min_pu``
    (GB/T 12325). Times are aware, in ``tz`` (default ``Settings.timezone``).

    Returns
    -------
    dict
        ``{feeder, now, silent_since, devices_total, silent, out_of_limits, devices: [
        {device, kind, bus, time, p_kw, soc_percent, v_pu, silent, out_of_limits,
        reasons}]}`` (only flagged devices listed).
    """
    s = settings or get_settings()
    zone = ZoneInfo(tz or s.timezone)
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise StoreError("now: a time zone is required")
    now = now.astimezone(zone)
    n = silent_intervals or s.telemetry_silent_intervals
    since = (now.astimezone(dt.timezone.utc)  # UTC arithmetic: exact across DST changes
             - dt.timedelta(minutes=n * s.telemetry_interval_min)).astimezone(zone)
    devs = list_devices(session, feeder=feeder, owner_id=owner_id)
    latest = (select(Telemetry.device_id, func.max(Telemetry.time).label("t"))
              .join(DerDevice, DerDevice.id == Telemetry.device_id)
              .where(DerDevice.feeder == feeder, Telemetry.time <= now)
              .group_by(Telemetry.device_id).subquery())
    rows = session.execute(select(Telemetry).join(
        latest, (Telemetry.device_id == latest.c.device_id) & (Telemetry.time == latest.c.t))).scalars()
    last = {r.device_id: r for r in rows}
    listed = []
    for d in devs:
        r = last.get(d.id)
        t = r.time.astimezone(zone) if r is not None else None
        reasons = []
        silent = r is None or r.time < since
        if silent:
            reasons.append("no data since " + (t.isoformat() if r else "registration")
                           + f" ({n} intervals of {s.telemetry_interval_min} min)")
        v = r.v_pu if r is not None else None
        out = v is not None and not s.vm_min_pu <= v <= s.vm_max_pu
        if out:
            reasons.append(f"v_pu {v:.3f} outside {s.vm_min_pu:g}..{s.vm_max_pu:g}")
        if silent or out:
            listed.append({"device": d.name, "kind": d.kind, "bus": d.bus,
                           "time": t, "p_kw": r.p_kw if r else None,
                           "soc_percent": r.soc_percent if r else None, "v_pu": v,
                           "silent": silent, "out_of_limits": out, "reasons": reasons})
    return {"feeder": feeder, "now": now, "silent_since": since, "devices_total": len(devs),
            "silent": sum(x["silent"] for x in listed),
            "out_of_limits": sum(x["out_of_limits"] for x in listed), "devices": listed}


def to_csv(points: Iterable[dict[str, Any]]) -> str:
    """CSV text of points (helper of the simulator and the tests)."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(FIELDS), lineterminator="\n")
    w.writeheader()
    for p in points:
        w.writerow({k: p.get(k, "") if p.get(k) is not None else "" for k in FIELDS})
    return buf.getvalue()
