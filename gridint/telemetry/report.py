"""Text and file output of ``gridint telemetry ...``, and the types of its flags.

Times are stored in UTC and shown in local time of ``Settings.timezone`` (Asia/Shanghai by
default): :func:`local_time` for tables (``2025-06-01 12:00``, the zone named in the header),
:func:`iso_local` for JSON and CSV (ISO 8601 with the offset, ``2025-06-01T12:00:00+08:00``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
from typing import Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from gridint.config import get_settings

__all__ = ["local_time", "iso_local", "jsonable", "device_records", "format_devices",
           "format_registered", "format_ingest", "format_status", "export_csv", "arg_time",
           "arg_number", "user_for"]


def _zone(tz: str | None) -> ZoneInfo:
    return ZoneInfo(tz or get_settings().timezone)


def _aware(t: dt.datetime | str) -> dt.datetime:
    if isinstance(t, str):
        t = dt.datetime.fromisoformat(t)
    if t.tzinfo is None:  # the store hands out aware times; naive here means UTC
        t = t.replace(tzinfo=dt.timezone.utc)
    return t


def local_time(t: dt.datetime | str | None, tz: str | None = None,
               fmt: str = "%Y-%m-%d %H:%M") -> str:
    """``t`` as local wall-clock time in ``tz`` (default ``Settings.timezone``); ``-`` for None.

    Parameters
    ----------
    t : datetime or ISO 8601 str or None
        An aware time (a naive one is taken as UTC).
    tz : str, optional
        IANA zone name.
    fmt : str
        ``strftime`` format (default minutes, no offset).
    """
    if t is None:
        return "-"
    return _aware(t).astimezone(_zone(tz)).strftime(fmt)


def iso_local(t: dt.datetime | str | None, tz: str | None = None) -> str | None:
    """``t`` as ISO 8601 with the offset of ``tz`` (default ``Settings.timezone``)."""
    if t is None:
        return None
    return _aware(t).astimezone(_zone(tz)).isoformat()


def jsonable(obj: Any, tz: str | None = None) -> Any:
    """``obj`` with every datetime replaced by :func:`iso_local` (for ``json.dumps``)."""
    if isinstance(obj, dt.datetime):
        return iso_local(obj, tz)
    if isinstance(obj, dict):
        return {k: jsonable(v, tz) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v, tz) for v in obj]
    return obj


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], right: Iterable[int] = ()) -> list[str]:
    right = set(right)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:>{w}}}" if i in right else f"{{:<{w}}}" for i, w in enumerate(widths))
    return ["  " + fmt.format(*head).rstrip()] + ["  " + fmt.format(*r).rstrip() for r in rows]


def _num(v: float | None, spec: str) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def device_records(session, devices: Sequence[Any]) -> list[dict[str, Any]]:
    """Devices as ``{name, feeder, bus, kind, rating_kw, energy_kwh, owner}`` (the API's shape)."""
    from sqlalchemy import select

    from gridint.store.models import User

    ids = {d.owner_id for d in devices}
    owners = dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) \
        if ids else {}
    return [{"name": d.name, "feeder": d.feeder, "bus": d.bus, "kind": d.kind,
             "rating_kw": d.rating_kw, "energy_kwh": d.energy_kwh,
             "owner": owners.get(d.owner_id, "?")} for d in devices]


def format_devices(rows: Sequence[dict[str, Any]]) -> str:
    """Table of :func:`device_records`."""
    if not rows:
        return "no devices registered"
    body = [(r["name"], r["kind"], r["feeder"], r["bus"], _num(r["rating_kw"], ",.1f"),
             _num(r["energy_kwh"], ",.1f"), r["owner"]) for r in rows]
    lines = _table(("device", "kind", "feeder", "bus", "kW", "kWh", "owner"), body, right=(4, 5))
    return "\n".join([f"{len(rows)} device(s)"] + lines)


def format_registered(rec: dict[str, Any]) -> str:
    """One line for a newly registered device."""
    energy = f", {rec['energy_kwh']:g} kWh" if rec.get("energy_kwh") else ""
    return (f"registered {rec['name']}: {rec['kind']} {rec['rating_kw']:g} kW{energy} at bus "
            f"{rec['bus']} of {rec['feeder']}, owner {rec['owner']}")


def format_ingest(result: dict[str, Any], n_points: int | None = None, n_reasons: int = 5) -> str:
    """Counts of an ingested batch and the first ``n_reasons`` rejections."""
    rej = result["rejected"]
    total = f" of {n_points:,} point(s)" if n_points is not None else ""
    lines = [f"accepted {result['accepted']:,}, duplicates {result['duplicates']:,}, "
             f"rejected {len(rej):,}{total}"]
    lines += [f"  point {r['index']}: {r['reason']}" for r in rej[:n_reasons]]
    if len(rej) > n_reasons:
        lines.append(f"  ... and {len(rej) - n_reasons:,} more rejected (--json lists all)")
    return "\n".join(lines)


def format_status(st: dict[str, Any], tz: str | None = None) -> str:
    """Readable monitoring view of :func:`gridint.telemetry.ingestion.status`: silent and
    out-of-limit devices, times in local time."""
    zone = tz or get_settings().timezone
    lines = [f"{st['feeder']} at {local_time(st['now'], tz)} ({zone}): {st['devices_total']} "
             f"device(s), {st['silent']} silent, {st['out_of_limits']} out of limits",
             f"  silent = no data since {local_time(st['silent_since'], tz)}"]
    if not st["devices"]:
        lines.append("  every device reports and is within limits")
        return "\n".join(lines)
    body = []
    for d in st["devices"]:
        flags = (["silent"] if d["silent"] else []) + \
            [r for r in d["reasons"] if not r.startswith("no data since")]
        body.append((d["device"], d["kind"], d["bus"], local_time(d["time"], tz),
                     _num(d["p_kw"], ",.1f"), _num(d["soc_percent"], ".0f"), _num(d["v_pu"], ".3f"),
                     "; ".join(flags)))
    lines += _table(("device", "kind", "bus", "last data", "p kW", "SoC %", "v pu", "flags"), body,
                    right=(4, 5, 6))
    return "\n".join(lines)


def export_csv(points: Iterable[dict[str, Any]], tz: str | None = None) -> str:
    """CSV of measurements (columns device,time,p_kw,soc_percent,v_pu; time ISO 8601 in ``tz``
    with its offset): what ``gridint telemetry ingest`` and ``POST /api/v1/telemetry`` read."""
    from gridint.telemetry.ingestion import to_csv

    return to_csv({**p, "time": iso_local(p["time"], tz)} for p in points)


# --- flag types (argparse) ----------------------------------------------------------------

def arg_time(text: str) -> dt.datetime:
    """argparse type: an ISO 8601 time with a time zone offset."""
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not ISO 8601 (e.g. 2025-06-01T12:00+08:00)") from None
    if t.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone: give an offset such as +08:00 or Z")
    return t


def arg_number(lo: float, hi: float, unit: str = "", integer: bool = False,
               lo_open: bool = False) -> Callable[[str], float]:
    """argparse type: a number in ``lo..hi`` (``(lo, hi]`` when ``lo_open``)."""
    def num(v: float) -> str:
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:g}"

    span = f"{'(' if lo_open else '['}{num(lo)}, {num(hi)}]" + (f" {unit}" if unit else "")
    kind = "an integer" if integer else "a number"

    def parse(text: str) -> float:
        try:
            v = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {kind} in {span}, got {text!r}") from None
        if not (math.isfinite(v) and (lo < v if lo_open else lo <= v) and v <= hi):
            raise argparse.ArgumentTypeError(f"must be {kind} in {span}, got {text}")
        return v

    return parse


# --- look-ups of the commands -------------------------------------------------------------

def user_for(session, name: str, flag: str, roles: Sequence[str] | None = None):
    """The user named ``name`` (a command's ``--owner`` / ``--as``), of one of ``roles``.

    Raises
    ------
    StoreError
        No such user, or a role that may not act here.
    """
    from gridint.errors import StoreError
    from gridint.store import repo

    user = repo.user_by_name(session, name)
    if user is None:
        raise StoreError(f"{flag}: no user {name[:100]!r} (add one with: gridint user add NAME --role ROLE)")
    if roles is not None and user.role not in roles:
        raise StoreError(f"{flag}: user {name!r} has role {user.role}; allowed {', '.join(roles)}")
    return user
