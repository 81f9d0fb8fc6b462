"""Request (``*Create``) and response (``*Public``) bodies of the API.

Input bodies are strict (no type coercion: ``"20"`` is not a number) and forbid unknown
fields; the ranges that depend on the settings are checked by
:func:`gridint.interconnection.parse_request`, which names the field at fault.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gridint.interconnection.model import CATEGORIES, MODES

Category = Literal[CATEGORIES]  # type: ignore[valid-type]
Mode = Literal[MODES]  # type: ignore[valid-type]
Role = Literal["installer", "engineer", "operator", "admin"]

_STRICT = ConfigDict(extra="forbid", strict=True)
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,99}$"


class RequestCreate(BaseModel):
    """A connection request (pre-check and submission alike; kW at the AC side)."""

    model_config = _STRICT

    feeder: str = Field(min_length=1, max_length=100, description="catalog feeder name")
    bus: str = Field(min_length=1, max_length=100,
                     description="bus name, or a distribution transformer name (its LV bus)")
    category: Category = Field(description="customer category (NEA 2025)")
    mode: Mode = Field(description="connection mode")
    ac_kw: float = Field(gt=0, allow_inf_nan=False, description="inverter AC rating [kW]")
    dc_kwp: float | None = Field(None, gt=0, allow_inf_nan=False,
                                 description="module DC rating [kWp] (default ac_kw)")
    battery_kw: float = Field(0.0, ge=0, allow_inf_nan=False, description="battery rating [kW]")
    battery_kwh: float = Field(0.0, ge=0, allow_inf_nan=False, description="battery energy [kWh]")
    power_factor: float = Field(1.0, gt=0, le=1, allow_inf_nan=False,
                                description="inverter power factor (0.95..1)")
    volt_var: bool = Field(False, description="IEEE 1547 Cat. B volt-var curve on")
    applicant: str | None = Field(None, min_length=1, max_length=100)

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class ReasonPublic(BaseModel):
    """Why: rule id, the limit, the value found, the binding element and time (ISO 8601)."""

    rule: str
    limit: float | str | list | dict | None = None
    value: float | str | list | dict | None = None
    element: str | None = None
    time: str | None = None


class CounterOfferPublic(BaseModel):
    """An AC-verified alternative (``max_kw``, ``export_limit_kw``, ``battery``, ...)."""

    kind: str
    value: float | str | list | dict | None
    unit: str | None


class AnswerPublic(BaseModel):
    """The rules engine's answer."""

    decision: str | None
    voltage_level: str | None = None
    max_kw_now: float | None = None
    reasons: list[ReasonPublic] = []
    counter_offers: list[CounterOfferPublic] = []
    conditions: dict[str, Any] = {}


class PrecheckPublic(AnswerPublic):
    feeder: str
    bus: str
    requested_kw: float


class RequestPublic(AnswerPublic):
    """A stored request: the answer of its latest decision, its place and lifecycle."""

    id: int
    status: str
    queue_position: int | None
    submitted_at: dt.datetime
    decision_id: int | None
    feeder: str
    bus: str
    category: str
    mode: str
    ac_kw: float
    dc_kwp: float
    battery_kw: float
    battery_kwh: float
    power_factor: float
    volt_var: bool
    applicant: str | None
    owner: str | None
    approved_kw: float | None
    connected_kw: float | None
    decided_at: dt.datetime | None
    accept_by: dt.datetime | None
    accepted_at: dt.datetime | None
    connected_at: dt.datetime | None
    withdrawn_at: dt.datetime | None
    expired_at: dt.datetime | None
    rejected_at: dt.datetime | None


class StudyCreate(BaseModel):
    """An engineer's manual study result."""

    model_config = _STRICT

    result: Literal["approved", "approved_with_conditions", "rejected"]
    approved_kw: float | None = Field(None, gt=0, allow_inf_nan=False,
                                      description="approve less than requested [kW]")
    conditions: dict[str, float | str | bool] = Field(default_factory=dict, max_length=20)
    note: str = Field("", max_length=2000)


class ConnectedCreate(BaseModel):
    """Mark connected, with the kW actually connected (default: the approved kW)."""

    model_config = _STRICT

    connected_kw: float | None = Field(None, gt=0, allow_inf_nan=False)


class ReinforcementCreate(BaseModel):
    model_config = _STRICT

    element: str = Field(min_length=1, max_length=100, description="reinforced line/transformer")
    description: str = Field(min_length=1, max_length=2000)
    capacity_kw: float | None = Field(None, gt=0, allow_inf_nan=False,
                                      description="capacity added, as stated by the engineer [kW]")


class ReinforcementPublic(BaseModel):
    id: int
    feeder: str
    element: str
    description: str
    capacity_kw: float | None
    feeder_sha256: str | None
    recorded_at: dt.datetime
    reevaluated_approved: list[int] = []


class UserCreate(BaseModel):
    model_config = _STRICT

    name: str = Field(pattern=_NAME)
    role: Role


class UserPublic(BaseModel):
    name: str
    role: Role


class UserCreated(UserPublic):
    token: str = Field(description="bearer token, shown once (only its SHA-256 is stored)")


class FeederPublic(BaseModel):
    name: str
    description: str
    voltage_kv: float
    substation: str
    source: str
    has_profiles: bool


class HealthPublic(BaseModel):
    status: Literal["ok"]
    database: str
    version: str


# --- telemetry (issue 10) ---------------------------------------------------------

class DeviceCreate(BaseModel):
    """A PV or storage system that will send telemetry (kW at the inverter AC side)."""

    model_config = _STRICT

    name: str = Field(pattern=_NAME, description="device name, unique (e.g. the inverter serial)")
    feeder: str = Field(min_length=1, max_length=100, description="catalog feeder name")
    bus: str = Field(min_length=1, max_length=100, description="bus of the point of connection")
    kind: Literal["pv", "storage"]
    rating_kw: float = Field(gt=0, le=1e6, allow_inf_nan=False, description="AC rating [kW]")
    energy_kwh: float | None = Field(None, gt=0, le=1e7, allow_inf_nan=False,
                                     description="usable energy [kWh] (storage)")
    owner: str | None = Field(None, pattern=_NAME,
                              description="owner's user name (operator/admin only; default you)")


class DevicePublic(BaseModel):
    name: str
    feeder: str
    bus: str
    kind: Literal["pv", "storage"]
    rating_kw: float
    energy_kwh: float | None
    owner: str


class TelemetryRejected(BaseModel):
    index: int = Field(description="position of the point in the batch (0-based; CSV: data row)")
    reason: str


class TelemetryIngested(BaseModel):
    accepted: int = Field(description="points newly stored")
    duplicates: int = Field(description="valid points already stored (a re-sent batch)")
    rejected: list[TelemetryRejected]


class TelemetryPoint(BaseModel):
    device: str
    time: dt.datetime
    p_kw: float = Field(description="PV AC power, or storage power (positive = charging) [kW]")
    soc_percent: float | None = None
    v_pu: float | None = None


class TelemetryHourlyPoint(BaseModel):
    """One hour of a device from the roll-up (``telemetry_hourly``)."""

    device: str
    hour: dt.datetime
    n_points: int = Field(description="quarter-hours measured in the hour")
    p_kw_mean: float = Field(description="mean power [kW] (storage positive = charging)")
    p_kw_min: float
    p_kw_max: float
    e_kwh: float = Field(description="energy of the measured points [kWh]")
    soc_percent_last: float | None = None
    v_pu_min: float | None = None
    v_pu_max: float | None = None


class DeviceStatus(TelemetryPoint):
    time: dt.datetime | None = None
    p_kw: float | None = None
    kind: str
    bus: str
    silent: bool
    out_of_limits: bool
    reasons: list[str]


class DeviceLatest(BaseModel):
    """A device of a feeder with its latest measurement (all None if it never sent)."""

    device: str
    kind: Literal["pv", "storage"]
    bus: str
    rating_kw: float
    energy_kwh: float | None
    time: dt.datetime | None = None
    p_kw: float | None = Field(None, description="PV AC power, or storage power "
                                                 "(positive = charging) [kW]")
    soc_percent: float | None = None
    v_pu: float | None = None


class TelemetryStatus(BaseModel):
    feeder: str
    now: dt.datetime
    silent_since: dt.datetime
    devices_total: int
    silent: int
    out_of_limits: int
    devices: list[DeviceStatus]
