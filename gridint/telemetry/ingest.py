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
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from gridint.config import Settings, get_settings
from gridint.errors import StoreError
from gridint.store.db import write_transaction
from gridint.store.models import DerDevice, Telemetry, User

__all__ = ["FIELDS", "IngestResult", "parse_csv", "ingest", "register_device", "list_devices",
           "query", "status", "night_mask", "to_csv"]

logger = logging.getLogger(__name__)

#: point fields, in CSV column order
FIELDS = ("device", "time", "p_kw", "soc_percent", "v_pu")
#: roles that may send for any device
_ANY_DEVICE = ("operator", "admin")
_CHUNK = 500  # rows per INSERT statement (5 columns: far below SQLite's variable limit)


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


def register_device(session: Session, owner: User, *, name: str, feeder: str, bus: str, kind: str,
                    rating_kw: float, energy_kwh: float | None = None) -> DerDevice:
    """Register a device of ``owner``.

    Raises
    ------
    StoreError
        ``kind`` not pv/storage, ``rating_kw`` not positive, storage without ``energy_kwh``.
    StateConflict
        The name is taken.
    """
    from gridint.errors import StateConflict
    from gridint.store import repo

    if kind not in ("pv", "storage"):
        raise StoreError(f"kind: {kind!r}, allowed pv or storage")
    if not rating_kw > 0:
        raise StoreError(f"rating_kw: {rating_kw} must be > 0")
    if kind == "storage" and not (energy_kwh and energy_kwh > 0):
        raise StoreError("energy_kwh: a storage device needs its energy > 0 [kWh]")
    with write_transaction(session):
        if session.scalar(select(DerDevice.id).where(DerDevice.name == name)) is not None:
            raise StateConflict(f"device {name!r} already registered")
        dev = DerDevice(name=name, feeder=feeder, bus=bus, kind=kind, rating_kw=float(rating_kw),
                        energy_kwh=None if kind == "pv" else float(energy_kwh), owner_id=owner.id)
        session.add(dev)
        session.flush()
        repo.audit(session, owner, "register", "der_device", dev.id,
                   {"name": name, "feeder": feeder, "bus": bus, "kind": kind})
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


def query(session: Session, *, device: str | None = None, feeder: str | None = None,
          start: dt.datetime | None = None, end: dt.datetime | None = None,
          owner_id: int | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Measurements ``start <= time < end`` of a device or a feeder, by device then time.

    Uses the (device_id, time) primary key; a feeder's devices come from its index.
    """
    q = (select(DerDevice.name, Telemetry.time, Telemetry.p_kw, Telemetry.soc_percent, Telemetry.v_pu)
         .join(DerDevice, DerDevice.id == Telemetry.device_id)
         .order_by(Telemetry.device_id, Telemetry.time))
    if device is not None:
        q = q.where(DerDevice.name == device)
    if feeder is not None:
        q = q.where(DerDevice.feeder == feeder)
    if owner_id is not None:
        q = q.where(DerDevice.owner_id == owner_id)
    if start is not None:
        q = q.where(Telemetry.time >= start)
    if end is not None:
        q = q.where(Telemetry.time < end)
    if limit is not None:
        q = q.limit(limit)
    return [{"device": r[0], "time": r[1], "p_kw": r[2], "soc_percent": r[3], "v_pu": r[4]}
            for r in session.execute(q)]


def status(session: Session, feeder: str, *, now: dt.datetime | None = None,
           silent_intervals: int | None = None, owner_id: int | None = None,
           settings: Settings | None = None) -> dict[str, Any]:
    """Monitoring view of a feeder: devices silent or out of the voltage band.

    A device is *silent* when it has sent nothing for ``silent_intervals`` intervals of
    ``telemetry_interval_min`` before ``now`` (a device that never sent is silent); *out
    of limits* when its latest ``v_pu`` is above ``vm_max_pu`` or below ``vm_min_pu``
    (GB/T 12325).

    Returns
    -------
    dict
        ``{feeder, now, silent_since, devices_total, silent, out_of_limits, devices: [
        {device, kind, bus, time, p_kw, soc_percent, v_pu, silent, out_of_limits,
        reasons}]}`` (only flagged devices listed).
    """
    s = settings or get_settings()
    now = now or dt.datetime.now(dt.timezone.utc)
    if now.tzinfo is None:
        raise StoreError("now: a time zone is required")
    n = silent_intervals or s.telemetry_silent_intervals
    since = now - dt.timedelta(minutes=n * s.telemetry_interval_min)
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
        reasons = []
        silent = r is None or r.time < since
        if silent:
            reasons.append("no data since " + (r.time.isoformat() if r else "registration")
                           + f" ({n} intervals of {s.telemetry_interval_min} min)")
        v = r.v_pu if r is not None else None
        out = v is not None and not s.vm_min_pu <= v <= s.vm_max_pu
        if out:
            reasons.append(f"v_pu {v:.3f} outside {s.vm_min_pu:g}..{s.vm_max_pu:g}")
        if silent or out:
            listed.append({"device": d.name, "kind": d.kind, "bus": d.bus,
                           "time": r.time if r else None, "p_kw": r.p_kw if r else None,
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
