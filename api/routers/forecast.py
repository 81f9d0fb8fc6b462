"""GET /api/v1/forecast/{feeder}?date=: the PV forecast of a feeder's fleet (P10/P50/P90)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request

from api.deps import require_role
from api.routers._views import cached, feeder
from gridint.store.models import User

router = APIRouter(prefix="/forecast", tags=["forecast"])

Viewer = Annotated[User, Depends(require_role("operator", "engineer", "admin"))]


def tomorrow(settings) -> dt.date:
    """Tomorrow in ``Settings.timezone``."""
    return (pd.Timestamp.now(tz=settings.timezone).normalize() + pd.Timedelta(days=1)).date()


@router.get("/{feeder_name}")
def forecast(feeder_name: Annotated[str, Path(max_length=100)], request: Request, _user: Viewer,
             date: Annotated[dt.date | None, Query(description="YYYY-MM-DD; default tomorrow")] = None,
             horizon: Annotated[Literal["day-ahead", "intraday"], Query()] = "day-ahead") -> dict:
    """``gridint.solar.forecast.forecast_feeder``: ``timestamps``, ``pv_kw_p10/p50/p90``
    per quarter-hour [kW], ``energy_kwh_p50``, ``capacity_kwp``, ``issue_time``."""
    from gridint.solar.forecast import forecast_feeder

    day = date or tomorrow(request.app.state.settings)
    f = feeder(feeder_name)
    return cached(("forecast", feeder_name, day.isoformat(), horizon),
                  lambda: forecast_feeder(f, day.isoformat(), horizon=horizon))
