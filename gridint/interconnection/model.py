"""Connection request, queue entry and decision records (pure data, no I/O).

Field names and values follow DESIGN.md, "Connection request body" and "Answer".
kW are at the inverter AC side; ``battery_kw`` positive = charging convention does not
apply here: it is a rating [kW].
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from gridint.errors import GridintError

#: customer categories (NEA distributed-PV management rules, 2025)
CATEGORIES = ("residential_natural_person", "residential_non_natural_person", "general_ci", "large_ci")
#: connection modes: 全额上网 / 全部自发自用 / 自发自用余电上网
MODES = ("full_export", "full_self_consumption", "surplus_export")
#: decision values of the rules engine
DECISIONS = ("approved", "approved_with_conditions", "queued", "referred", "invalid")


class RequestInvalid(GridintError):
    """A connection request field is missing or out of range.

    Attributes
    ----------
    field : str
        The request field at fault.
    reason : str
        What is wrong and what is allowed.
    """

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


@dataclass(frozen=True)
class ConnectionRequest:
    """One PV (+ optional storage) connection request.

    Parameters
    ----------
    feeder : str
        Catalog feeder name.
    bus : str
        Bus name, or a distribution transformer name (means its LV bus).
    category, mode : str
        One of :data:`CATEGORIES` / :data:`MODES`.
    ac_kw : float [kW]
        Inverter AC rating, > 0.
    dc_kwp : float [kWp]
        Module DC rating (defaults to ``ac_kw``).
    battery_kw : float [kW], battery_kwh : float [kWh]
        Behind-the-meter storage ratings (0 = none).
    power_factor : float
        Inverter power factor, 0.95..1 (absorbing reactive power when < 1).
    volt_var : bool
        IEEE 1547 Category B volt-var curve enabled.
    applicant : str or None
        Who asks (stored, not used by the rules).
    """

    feeder: str
    bus: str
    category: str
    mode: str
    ac_kw: float
    dc_kwp: float
    battery_kw: float = 0.0
    battery_kwh: float = 0.0
    power_factor: float = 1.0
    volt_var: bool = False
    applicant: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class QueuedPV:
    """PV ahead of a request in the queue, or connected since the feeder file was made.

    Parameters
    ----------
    bus : str
        Bus (or transformer) name as in the request.
    ac_kw : float [kW]
        AC rating.
    status : str
        ``"approved"`` (approved, not yet connected: counts in C2) or ``"connected"``
        (counts in C1).
    request_id : int or None
        Store id, for reasons that point at it.
    """

    bus: str
    ac_kw: float
    status: str = "approved"
    request_id: int | None = None


@dataclass(frozen=True)
class Reason:
    """Why: rule id, the limit, the value found, binding element and time step (ISO 8601)."""

    rule: str
    limit: float | str | None = None
    value: float | str | None = None
    element: str | None = None
    time: str | None = None


@dataclass(frozen=True)
class CounterOffer:
    """An AC-verified alternative: ``kind`` in ``max_kw``, ``export_limit_kw``,
    ``battery``, ``power_factor``, ``volt_var``; ``value`` with its ``unit``."""

    kind: str
    value: float | str | dict
    unit: str


@dataclass(frozen=True)
class Decision:
    """Answer of the rules engine (DESIGN.md "Answer")."""

    decision: str
    voltage_level: str | None
    max_kw_now: float | None
    reasons: tuple[Reason, ...] = ()
    counter_offers: tuple[CounterOffer, ...] = ()
    conditions: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "voltage_level": self.voltage_level,
            "max_kw_now": self.max_kw_now,
            "reasons": [asdict(r) for r in self.reasons],
            "counter_offers": [asdict(c) for c in self.counter_offers],
            "conditions": dict(self.conditions),
        }


def _number(data: Mapping, name: str, *, lo: float, hi: float, default=None,
            lo_open: bool = False) -> float:
    raw = data.get(name, default)
    if raw is None:
        raise RequestInvalid(name, "required")
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        raise RequestInvalid(name, f"must be a number, got {type(raw).__name__}")
    v = float(raw)
    if not math.isfinite(v):
        raise RequestInvalid(name, "must be finite")
    if (v <= lo if lo_open else v < lo) or v > hi:
        bracket = "(" if lo_open else "["
        raise RequestInvalid(name, f"{v:g} outside the allowed range {bracket}{lo:g}, {hi:g}]")
    return v


def _text(data: Mapping, name: str, *, max_len: int = 100, required: bool = True) -> str | None:
    raw = data.get(name)
    if raw is None:
        if required:
            raise RequestInvalid(name, "required")
        return None
    if not isinstance(raw, str) or not raw.strip():
        raise RequestInvalid(name, "must be a non-empty string")
    if len(raw) > max_len:
        raise RequestInvalid(name, f"longer than {max_len} characters")
    return raw.strip()


def parse_request(data: Mapping[str, Any]) -> ConnectionRequest:
    """Validate a request body and return a :class:`ConnectionRequest`.

    Only field syntax and ranges are checked here (rule ``validity`` of the engine checks
    the category/mode combination, the voltage level and the feeder/bus).

    Raises
    ------
    RequestInvalid
        Naming the first field at fault and the allowed range.
    """
    from gridint.config import get_settings

    s = get_settings()
    if not isinstance(data, Mapping):
        raise RequestInvalid("body", "must be a JSON object")
    known = {"feeder", "bus", "category", "mode", "ac_kw", "dc_kwp", "battery_kw", "battery_kwh",
             "power_factor", "volt_var", "applicant"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise RequestInvalid(unknown[0], "unknown field")
    feeder = _text(data, "feeder")
    bus = _text(data, "bus")
    category = _text(data, "category")
    if category not in CATEGORIES:
        raise RequestInvalid("category", f"must be one of {', '.join(CATEGORIES)}")
    mode = _text(data, "mode")
    if mode not in MODES:
        raise RequestInvalid("mode", f"must be one of {', '.join(MODES)}")
    ac_kw = _number(data, "ac_kw", lo=0.0, hi=s.request_ac_kw_max, lo_open=True)
    dc_kwp = _number(data, "dc_kwp", lo=0.0, hi=s.request_dc_ac_ratio_max * ac_kw, lo_open=True,
                     default=ac_kw)
    if dc_kwp < ac_kw * s.request_dc_ac_ratio_min:
        raise RequestInvalid("dc_kwp", f"{dc_kwp:g} below {s.request_dc_ac_ratio_min:g} x ac_kw")
    battery_kw = _number(data, "battery_kw", lo=0.0, hi=s.request_ac_kw_max, default=0.0)
    battery_kwh = _number(data, "battery_kwh", lo=0.0, hi=24.0 * s.request_ac_kw_max, default=0.0)
    if (battery_kw > 0) != (battery_kwh > 0):
        raise RequestInvalid("battery_kwh", "battery_kw and battery_kwh must both be given (> 0) or both 0")
    pf = _number(data, "power_factor", lo=s.inverter_pf_min, hi=1.0, default=1.0)
    vv = data.get("volt_var", False)
    if not isinstance(vv, bool):
        raise RequestInvalid("volt_var", "must be true or false")
    applicant = _text(data, "applicant", required=False)
    return ConnectionRequest(feeder=feeder, bus=bus, category=category, mode=mode, ac_kw=ac_kw,
                             dc_kwp=dc_kwp, battery_kw=battery_kw, battery_kwh=battery_kwh,
                             power_factor=pf, volt_var=vv, applicant=applicant)
