"""GET /api/v1/dispatch/{feeder}/{date}: the stored storage dispatch plan of a day, made and
stored on demand when there is none (operator / engineer roles)."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query

from api.deps import SessionDep, require_role
from api.routers._views import catalog_entry, feeder, key_lock
from gridint.store.models import User
from gridint.store.plans import latest_dispatch_plan_row, save_dispatch_plan

router = APIRouter(prefix="/dispatch", tags=["dispatch"])

Viewer = Annotated[User, Depends(require_role("operator", "engineer", "admin"))]


def _answer(row, computed: bool) -> dict:
    return {"feeder": row.feeder, "date": row.plan_date.isoformat(),
            "kind": (row.plan or {}).get("kind", "day-ahead"), "version": row.version,
            "stored_at": row.created_at.isoformat(), "computed": computed, "plan": row.plan}


@router.get("/{feeder_name}/{date}")
def get_plan(feeder_name: Annotated[str, Path(max_length=100)], date: dt.date,
             session: SessionDep, user: Viewer,
             kind: Annotated[Literal["day-ahead", "intraday"], Query()] = "day-ahead",
             compute: Annotated[bool, Query(description="make and store a day-ahead plan "
                                                          "when none is stored")] = True) -> dict:
    """The newest stored plan of (feeder, date, kind): ``{feeder, date, kind, version,
    stored_at, computed, plan}`` with ``plan`` the record of
    ``gridint.dispatch.DispatchPlan.to_dict()`` (p_kw positive = charging).

    Without a stored day-ahead plan one is made (``gridint.dispatch.plan_day``, AC-verified,
    a few seconds) and stored as version 1; ``compute=false`` answers 404 instead.
    """
    catalog_entry(feeder_name)
    row = latest_dispatch_plan_row(session, feeder_name, date, kind)
    if row is not None:
        return _answer(row, False)
    if kind != "day-ahead" or not compute:
        raise HTTPException(404, f"no stored {kind} plan for {feeder_name} on {date.isoformat()}")
    with key_lock(("dispatch", feeder_name, date.isoformat())):
        session.rollback()  # see plans stored while waiting for the lock
        row = latest_dispatch_plan_row(session, feeder_name, date, kind)
        if row is not None:
            return _answer(row, False)
        from gridint.dispatch import plan_day

        record = plan_day(feeder(feeder_name), date.isoformat()).to_dict()
        save_dispatch_plan(record, session=session, created_by=user)
        row = latest_dispatch_plan_row(session, feeder_name, date, kind)
        return _answer(row, True)
