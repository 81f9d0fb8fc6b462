"""SQLAlchemy 2.0 models of the store.

Tables
------
users                 who may call the API: name, role, sha256 of the token (never the token)
feeder_locks          one row per feeder: the lock that serialises capacity reservation
connection_requests   a PV (+ storage) connection request and its lifecycle timestamps
decisions             every decision: inputs, answer, feeder version, settings, gridint version
audit_log             append-only trail of every change (database triggers refuse UPDATE/DELETE)
idempotency_keys      POST responses by (user, Idempotency-Key), so a retry is not filed twice
reinforcements        grid reinforcements recorded by an engineer
dispatch_plans        storage dispatch plans per feeder and day, versioned
der_devices           connected PV / storage systems that send telemetry (issue 10)
telemetry             measurements per device and time (issue 10): primary key (device_id, time);
                      on PostgreSQL range-partitioned by month on time (migration 0003)
telemetry_hourly      hourly roll-up of telemetry per device (issue 10): primary key (device_id, hour)

Times are timezone-aware UTC in Python (:class:`UTCDateTime`); the API shows them in the
configured time zone. kW are at the inverter AC side.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from gridint.errors import StoreError

__all__ = [
    "ROLES", "STATUSES", "RESERVING_STATUSES", "OPEN_STATUSES", "Base", "User", "FeederLock",
    "ConnectionRequest", "DecisionRecord", "AuditLog", "IdempotencyKey", "Reinforcement",
    "DispatchPlan", "UTCDateTime", "utcnow", "DER_KINDS", "DerDevice", "Telemetry",
    "TelemetryHourly",
]

#: API roles
ROLES = ("installer", "engineer", "operator", "admin")
#: request lifecycle: submitted -> decided (or queued) -> accepted -> connected; withdrawn,
#: expired (approval not accepted in time), rejected (by an engineer's study) end it early
STATUSES = ("submitted", "queued", "decided", "accepted", "connected", "withdrawn", "expired",
            "rejected")
#: statuses whose approved kW hold feeder capacity (approved, not yet connected)
RESERVING_STATUSES = ("decided", "accepted")
#: statuses from which a request may still be withdrawn
OPEN_STATUSES = ("submitted", "queued", "decided", "accepted")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    """Now, timezone-aware UTC."""
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware datetime stored as UTC (SQLite keeps no offset: naive UTC there)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise StoreError("datetime without a time zone given to the store")
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


#: JSON, JSONB on PostgreSQL
JSONType = JSON().with_variant(postgresql.JSONB(), "postgresql")


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=name)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dt.datetime: UTCDateTime(), dict[str, Any]: JSONType,
                           list[Any]: JSONType}


class User(Base):
    """An API user. ``token_sha256`` is the hex SHA-256 of the bearer token."""

    __tablename__ = "users"
    __table_args__ = (_one_of("role", ROLES, "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FeederLock(Base):
    """One row per feeder; ``SELECT ... FOR UPDATE`` on it serialises reservations (PostgreSQL)."""

    __tablename__ = "feeder_locks"

    feeder: Mapped[str] = mapped_column(String(100), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConnectionRequest(Base):
    """A connection request as filed, with its lifecycle.

    ``approved_kw`` [kW] is the capacity it holds while approved and not connected
    (statuses :data:`RESERVING_STATUSES`); ``connected_kw`` [kW] what was connected.
    ``decision`` is the current decision value (the latest :class:`DecisionRecord`).
    """

    __tablename__ = "connection_requests"
    __table_args__ = (
        _one_of("status", STATUSES, "status"),
        CheckConstraint("ac_kw > 0", name="ac_kw_positive"),
        Index("ix_connection_requests_feeder_status", "feeder", "status", "submitted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    feeder: Mapped[str] = mapped_column(String(100))
    bus: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(40))
    ac_kw: Mapped[float] = mapped_column(Float)
    dc_kwp: Mapped[float] = mapped_column(Float)
    battery_kw: Mapped[float] = mapped_column(Float, default=0.0)
    battery_kwh: Mapped[float] = mapped_column(Float, default=0.0)
    power_factor: Mapped[float] = mapped_column(Float, default=1.0)
    volt_var: Mapped[bool] = mapped_column(Boolean, default=False)
    applicant: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), default="submitted")
    decision: Mapped[str | None] = mapped_column(String(30))
    approved_kw: Mapped[float | None] = mapped_column(Float)
    connected_kw: Mapped[float | None] = mapped_column(Float)
    submitted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[dt.datetime | None]
    accept_by: Mapped[dt.datetime | None]
    accepted_at: Mapped[dt.datetime | None]
    connected_at: Mapped[dt.datetime | None]
    withdrawn_at: Mapped[dt.datetime | None]
    expired_at: Mapped[dt.datetime | None]
    rejected_at: Mapped[dt.datetime | None]

    #: request fields as in :class:`gridint.interconnection.ConnectionRequest`
    FIELDS = ("feeder", "bus", "category", "mode", "ac_kw", "dc_kwp", "battery_kw", "battery_kwh",
              "power_factor", "volt_var", "applicant")

    def request_fields(self) -> dict[str, Any]:
        """The request as filed (the fields of the rules engine's ConnectionRequest)."""
        return {f: getattr(self, f) for f in self.FIELDS}


class DecisionRecord(Base):
    """One decision on a request, with all it takes to replay it.

    ``kind``: ``automatic`` (on submission), ``reevaluation`` (queue re-evaluated when
    capacity appeared), ``study`` (an engineer's manual study result), ``expiry``.
    ``inputs``: ``{"request": {...}, "ahead": [{bus, ac_kw, status, request_id}, ...]}``;
    ``result``: the engine's ``Decision.to_dict()``.
    """

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("connection_requests.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    decision: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    inputs: Mapped[dict[str, Any]]
    result: Mapped[dict[str, Any]]
    feeder_sha256: Mapped[str | None] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]]
    gridint_version: Mapped[str] = mapped_column(String(40))


class AuditLog(Base):
    """Append-only trail: who did what to which record, when (UPDATE/DELETE refused)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]]


class IdempotencyKey(Base):
    """The stored response of a POST made with an ``Idempotency-Key`` header."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(200))
    request_sha256: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Reinforcement(Base):
    """A grid reinforcement recorded by an engineer (new capacity: the queue is re-evaluated)."""

    __tablename__ = "reinforcements"

    id: Mapped[int] = mapped_column(primary_key=True)
    feeder: Mapped[str] = mapped_column(String(100), index=True)
    element: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text)
    capacity_kw: Mapped[float | None] = mapped_column(Float)
    feeder_sha256: Mapped[str | None] = mapped_column(String(64))
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DispatchPlan(Base):
    """A storage dispatch plan of one feeder and day; each new plan of the day a new version."""

    __tablename__ = "dispatch_plans"
    __table_args__ = (UniqueConstraint("feeder", "plan_date", "version",
                                       name="uq_dispatch_plans_feeder_date_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    feeder: Mapped[str] = mapped_column(String(100))
    plan_date: Mapped[dt.date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    plan: Mapped[dict[str, Any]]


#: kinds of telemetry devices
DER_KINDS = ("pv", "storage")


class DerDevice(Base):
    """A connected PV or storage system sending telemetry.

    ``rating_kw`` [kW] inverter AC rating; ``energy_kwh`` [kWh] usable storage energy
    (storage only). ``feeder`` is indexed: a feeder's telemetry is found through its
    devices and the (device_id, time) primary key of :class:`Telemetry`.
    """

    __tablename__ = "der_devices"
    __table_args__ = (
        _one_of("kind", DER_KINDS, "kind"),
        CheckConstraint("rating_kw > 0", name="rating_kw_positive"),
        Index("ix_der_devices_feeder_bus", "feeder", "bus"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    feeder: Mapped[str] = mapped_column(String(100))
    bus: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    rating_kw: Mapped[float] = mapped_column(Float)
    energy_kwh: Mapped[float | None] = mapped_column(Float)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Telemetry(Base):
    """One measurement of one device (interval-beginning label, UTC).

    ``p_kw`` [kW]: PV AC power, or storage power (positive = charging);
    ``soc_percent`` [%] storage state of charge; ``v_pu`` [pu] voltage at the point of
    connection. The primary key (device_id, time) makes re-sent points idempotent
    (``INSERT ... ON CONFLICT DO NOTHING``) and is the device+time index; feeder+time
    queries go through ``ix_der_devices_feeder_bus`` to the device ids, then this key (no
    feeder column repeated in 3.5e9 rows). On PostgreSQL the table is declared
    ``PARTITION BY RANGE (time)`` (migration 0003): one partition per UTC month
    ``telemetry_partitions.pYYYY_MM`` (each with a BRIN index on ``time``) and a DEFAULT
    partition ``telemetry_partitions.p_default``; partitions are created ahead and
    dropped after the roll-up by :mod:`gridint.telemetry.retention`. SQLite keeps one table.
    """

    __tablename__ = "telemetry"

    device_id: Mapped[int] = mapped_column(ForeignKey("der_devices.id"), primary_key=True)
    time: Mapped[dt.datetime] = mapped_column(primary_key=True)
    p_kw: Mapped[float] = mapped_column(Float)
    soc_percent: Mapped[float | None] = mapped_column(Float)
    v_pu: Mapped[float | None] = mapped_column(Float)


class TelemetryHourly(Base):
    """Hourly roll-up of :class:`Telemetry` of one device (interval-beginning hour, UTC).

    ``n_points`` measurements in the hour; ``p_kw_mean``, ``p_kw_min``, ``p_kw_max`` [kW]
    of them (PV AC power; storage: positive = charging); ``e_kwh`` [kWh] = sum of
    ``p_kw`` x measurement interval (``Settings.telemetry_interval_min``) over the
    measured intervals (same sign convention: storage positive = energy charged; gaps
    count nothing - ``n_points`` shows how complete the hour is); ``soc_percent_last`` [%]
    the latest non-null SoC of the hour; ``v_pu_min``, ``v_pu_max`` [pu] voltage extremes.
    Written by :func:`gridint.telemetry.retention.rollup` (idempotent upsert).
    """

    __tablename__ = "telemetry_hourly"

    # n_points before hour: two 4-byte integers side by side, no alignment padding
    # before the 8-byte columns on PostgreSQL (8 bytes a row)
    device_id: Mapped[int] = mapped_column(ForeignKey("der_devices.id"), primary_key=True)
    n_points: Mapped[int] = mapped_column(Integer)
    hour: Mapped[dt.datetime] = mapped_column(primary_key=True)
    p_kw_mean: Mapped[float] = mapped_column(Float)
    p_kw_min: Mapped[float] = mapped_column(Float)
    p_kw_max: Mapped[float] = mapped_column(Float)
    e_kwh: Mapped[float] = mapped_column(Float)
    soc_percent_last: Mapped[float | None] = mapped_column(Float)
    v_pu_min: Mapped[float | None] = mapped_column(Float)
    v_pu_max: Mapped[float | None] = mapped_column(Float)


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _audit_is_append_only(mapper, connection, target):  # noqa: ARG001 - event signature
    raise StoreError("audit_log is append-only")
