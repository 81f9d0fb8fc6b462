"""GET /api/v1/forecast/{feeder}?date=: the PV forecast of a feeder's fleet (P10/P50/P90)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request

from api.deps import SessionDep, require_role
from api.routers._views import cached, feeder
from gridint.store.models import User

router = APIRouter(prefix="/forecast", tags=["forecast"])

Viewer = Annotated[User, Depends(require_role("operator", "engineer", "admin"))]


def tomorrow(settings) -> dt.date:
    """Tomorrow in ``Settings.timezone``."""
    return (pd.Timestamp.now(tz=settings.timezone).normalize() + pd.Timedelta(days=1)).date()


@router.get("/{feeder_name}")
def forecast(feeder_name: Annotated[str, Path(max_length=100)], request: Request, _user: Viewer,
             session: SessionDep,
             date: Annotated[dt.date | None, Query(description="YYYY-MM-DD; default tomorrow "
                                                   "(day-ahead) or today (intraday)")] = None,
             horizon: Annotated[Literal["day-ahead", "intraday"], Query()] = "day-ahead") -> dict:
    """``gridint.solar.forecast.forecast_feeder``: ``timestamps``, ``pv_kw_p10/p50/p90``
    per quarter-hour [kW], ``energy_kwh_p50``, ``capacity_kwp``, ``issue_time``, ``history``.

    Intraday: issued at the current quarter-hour (today) or at 10:00 of ``date``; the
    history is the measured PV of the feeder's registered devices when they reported in
    the ``telemetry_history_h`` before the issue time (``history: "measured"``), else the
    weather model."""
    from gridint.solar.forecast import INTRADAY_ISSUE_HOUR, forecast_feeder
    from gridint.telemetry.loop import measured_pv_pu

    settings = request.app.state.settings
    f = feeder(feeder_name)
    if horizon == "day-ahead":
        day = date or tomorrow(settings)
        return cached(("forecast", feeder_name, day.isoformat(), horizon),
                      lambda: forecast_feeder(f, day.isoformat(), horizon=horizon))
    now = pd.Timestamp.now(tz=settings.timezone)
    day = pd.Timestamp(date or now.date()).tz_localize(settings.timezone)
    issue = now.floor("15min") if day == now.normalize() else day + pd.Timedelta(hours=INTRADAY_ISSUE_HOUR)
    pv, info = measured_pv_pu(session, feeder_name, issue - pd.Timedelta(hours=settings.telemetry_history_h),
                              issue, settings)
    measured = pv if pv.notna().any() else None
    key = ("forecast", feeder_name, issue.isoformat(), horizon, info["points"], info["latest"])
    return cached(key, lambda: forecast_feeder(f, day.date().isoformat(), horizon=horizon,
                                               issue_time=issue, measured_pu=measured))
