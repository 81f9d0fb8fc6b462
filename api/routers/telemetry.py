"""DER telemetry (issue 10): devices, measurement batches (JSON or CSV), queries, status, latest."""
from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from sqlalchemy import func, select

from api.deps import SessionDep, require_role
from api.schemas import (
    DeviceCreate,
    DeviceLatest,
    DevicePublic,
    TelemetryHourlyPoint,
    TelemetryIngested,
    TelemetryPoint,
    TelemetryStatus,
)
from gridint import telemetry
from gridint.telemetry.report import iso_local
from gridint.errors import DeviceInvalid, StoreError
from gridint.store import repo
from gridint.store.models import DerDevice, Telemetry, User

router = APIRouter(tags=["telemetry"])

Sender = Annotated[User, Depends(require_role("installer", "operator", "admin"))]
Reader = Annotated[User, Depends(require_role("installer", "engineer", "operator", "admin"))]
Name = Annotated[str | None, Query(max_length=100)]


def _owner_filter(user: User) -> int | None:
    return user.id if user.role == "installer" else None


def _aware(value: dt.datetime | None, name: str) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        raise HTTPException(422, [{"field": name, "reason": "ISO 8601 time with a time zone offset "
                                                            "required (e.g. +08:00 or Z)"}])
    return value


def _public(session, d: DerDevice) -> dict:
    owner = session.get(User, d.owner_id)
    return {"name": d.name, "feeder": d.feeder, "bus": d.bus, "kind": d.kind,
            "rating_kw": d.rating_kw, "energy_kwh": d.energy_kwh,
            "owner": owner.name if owner else "?"}


@router.post("/devices", response_model=DevicePublic, status_code=201)
def register(body: DeviceCreate, session: SessionDep, user: Sender) -> dict:
    """Register a PV or storage system: an installer for itself, an operator/admin for anyone.
    ``feeder`` must be a catalog feeder and ``bus`` one of its buses (or a transformer name:
    its LV bus, stored as the bus name); 422 names the field and a few allowed values."""
    owner = user
    if body.owner is not None and body.owner != user.name:
        if user.role == "installer":
            raise HTTPException(403, "an installer registers devices for itself only")
        owner = repo.user_by_name(session, body.owner)
        if owner is None:
            raise HTTPException(422, [{"field": "owner", "reason": f"no user {body.owner!r}"}])
    try:
        dev = telemetry.register_device(session, owner, name=body.name, feeder=body.feeder,
                                        bus=body.bus, kind=body.kind, rating_kw=body.rating_kw,
                                        energy_kwh=body.energy_kwh, actor=user)
    except DeviceInvalid as exc:  # not in the grid model: name the field, list allowed values
        raise HTTPException(422, [{"field": exc.field, "reason": str(exc)}]) from None
    return _public(session, dev)


@router.get("/devices", response_model=list[DevicePublic])
def devices(session: SessionDep, user: Reader, feeder: Name = None) -> list[dict]:
    """Devices by name: an installer's own; all for the other roles."""
    return [_public(session, d) for d in
            telemetry.list_devices(session, owner_id=_owner_filter(user), feeder=feeder)]


async def _body(request: Request) -> tuple[str, bytes]:
    return request.headers.get("content-type", "application/json"), await request.body()


@router.post("/telemetry", response_model=TelemetryIngested, openapi_extra={"requestBody": {
    "required": True, "content": {
        "application/json": {"schema": {"type": "object", "properties": {"points": {
            "type": "array", "items": {"type": "object"}}}}},
        "text/csv": {"schema": {"type": "string"}}}}})
def ingest(request: Request, session: SessionDep, user: Sender,
           raw: Annotated[tuple[str, bytes], Depends(_body)]) -> dict:
    """Store a batch of measurements (JSON ``{"points": [{device, time, p_kw, soc_percent?,
    v_pu?}]}`` or ``text/csv`` with a header row). Bad points are rejected with their index
    and reason; the rest is stored. Re-sent points are counted as duplicates, not stored twice."""
    settings = request.app.state.settings
    ctype, data = raw
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPException(422, [{"field": "body", "reason": "not UTF-8"}]) from None
    if ctype.split(";")[0].strip().lower() == "text/csv":
        try:
            points = telemetry.parse_csv(text)
        except StoreError as exc:
            raise HTTPException(422, [{"field": "body", "reason": str(exc)}]) from None
    else:
        try:
            doc = json.loads(text)
        except ValueError:
            raise HTTPException(422, [{"field": "body", "reason": "not JSON (send application/json "
                                                                  "or text/csv)"}]) from None
        points = doc.get("points") if isinstance(doc, dict) else None
        if not isinstance(points, list) or set(doc) != {"points"}:
            raise HTTPException(422, [{"field": "points",
                                       "reason": 'body must be {"points": [...]} and nothing else'}])
    if len(points) > settings.telemetry_max_points:
        raise HTTPException(413, [{"field": "points", "reason": f"{len(points)} points, at most "
                                   f"telemetry_max_points={settings.telemetry_max_points}"}])
    return telemetry.ingest(session, user, points, settings).to_dict()


@router.get("/telemetry", response_model=list[TelemetryPoint])
def measurements(request: Request, session: SessionDep, user: Reader, device: Name = None,
                 feeder: Name = None, start: dt.datetime | None = None,
                 end: dt.datetime | None = None) -> list[dict]:
    """Measurements of a device or a feeder in ``[start, end)`` (ISO 8601 with offset)."""
    if device is None and feeder is None:
        raise HTTPException(422, [{"field": "device", "reason": "give device or feeder"}])
    limit = request.app.state.settings.telemetry_query_max_points
    return telemetry.query(session, device=device, feeder=feeder, start=_aware(start, "start"),
                           end=_aware(end, "end"), owner_id=_owner_filter(user), limit=limit)


@router.get("/telemetry/hourly", response_model=list[TelemetryHourlyPoint])
def hourly(request: Request, session: SessionDep, user: Reader, device: Name = None,
           feeder: Name = None, start: dt.datetime | None = None,
           end: dt.datetime | None = None) -> list[dict]:
    """Hourly roll-up of a device or a feeder in ``[start, end)``: what is kept after the
    raw quarter-hours' retention (``telemetry_raw_days``)."""
    if device is None and feeder is None:
        raise HTTPException(422, [{"field": "device", "reason": "give device or feeder"}])
    settings = request.app.state.settings
    return telemetry.query_hourly(session, device=device, feeder=feeder, start=_aware(start, "start"),
                                  end=_aware(end, "end"), owner_id=_owner_filter(user),
                                  limit=settings.telemetry_query_max_points, tz=settings.timezone)


@router.get("/telemetry/status", response_model=TelemetryStatus)
def monitoring(request: Request, session: SessionDep, user: Reader,
               feeder: Annotated[str, Query(min_length=1, max_length=100)],
               silent_intervals: Annotated[int | None, Query(ge=1, le=10_000)] = None,
               now: dt.datetime | None = None) -> dict:
    """Connected devices of a feeder that are silent (no data for ``silent_intervals``
    15-min intervals) or out of the voltage band (latest v_pu vs vm_min_pu..vm_max_pu)."""
    return telemetry.status(session, feeder, now=_aware(now, "now"),
                            silent_intervals=silent_intervals, owner_id=_owner_filter(user),
                            settings=request.app.state.settings)


@router.get("/telemetry/latest", response_model=list[DeviceLatest])
def latest(session: SessionDep, user: Reader, request: Request,
           feeder: Annotated[str, Query(min_length=1, max_length=100)],
           now: dt.datetime | None = None) -> list[dict]:
    """Every device of a feeder (an installer's own) with its latest measurement at or
    before ``now`` (default: the present), by device name; measured fields are null for a
    device that never sent. Storage ``p_kw`` positive = charging; times in Settings.timezone."""
    now = _aware(now, "now") or dt.datetime.now(dt.timezone.utc)
    # max(time) per device through the (device_id, time) key, then the rows at those times
    last = (select(Telemetry.device_id, func.max(Telemetry.time).label("t"))
            .join(DerDevice, DerDevice.id == Telemetry.device_id)
            .where(DerDevice.feeder == feeder, Telemetry.time <= now)
            .group_by(Telemetry.device_id).subquery())
    q = (select(DerDevice, Telemetry)
         .outerjoin(last, last.c.device_id == DerDevice.id)
         .outerjoin(Telemetry, (Telemetry.device_id == last.c.device_id)
                    & (Telemetry.time == last.c.t))
         .where(DerDevice.feeder == feeder).order_by(DerDevice.name))
    if (owner := _owner_filter(user)) is not None:
        q = q.where(DerDevice.owner_id == owner)
    return [{"device": d.name, "kind": d.kind, "bus": d.bus, "rating_kw": d.rating_kw,
             "energy_kwh": d.energy_kwh,
             "time": iso_local(t.time, request.app.state.settings.timezone) if t else None,
             "p_kw": t.p_kw if t else None, "soc_percent": t.soc_percent if t else None,
             "v_pu": t.v_pu if t else None} for d, t in session.execute(q)]
