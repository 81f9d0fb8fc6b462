"""Storage dispatch plans in the store, per feeder, day, kind and version.

The scheduler (:mod:`gridint.scheduler`) hands every plan it makes to
:func:`save_dispatch_plan` and reads the day's plan back with
:func:`latest_dispatch_plan`; the API does the same with its own session. A plan is the
JSON record of :meth:`gridint.dispatch.DispatchPlan.to_dict` (``feeder``, ``date``,
``kind``, ...); each plan of a (feeder, day) is stored as the next version
(:func:`gridint.store.repo.add_dispatch_plan`), the kind inside the record.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from gridint.store.db import shared_sessionmaker, write_transaction
from gridint.store.models import DispatchPlan, User
from gridint.store.repo import add_dispatch_plan

__all__ = ["save_dispatch_plan", "latest_dispatch_plan", "latest_dispatch_plan_row"]


def _date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ValueError(f"plan date: YYYY-MM-DD expected, got {value!r}") from None


def save_dispatch_plan(record: dict, *, session: Session | None = None,
                       database_url: str | None = None, created_by: User | None = None) -> dict:
    """Store a dispatch plan record as the next version of its feeder and day.

    Parameters
    ----------
    record : dict
        ``DispatchPlan.to_dict()``: needs ``feeder`` and ``date`` (YYYY-MM-DD); ``kind``
        (``day-ahead`` / ``intraday``) defaults to ``day-ahead``.
    session : Session, optional
        Write with this session (its own serialised write transaction); default a session
        on ``database_url``.
    database_url : str, optional
        Default ``Settings.database_url``.
    created_by : User, optional

    Returns
    -------
    dict
        ``{id, feeder, date, kind, version}`` of the stored row.
    """
    if not isinstance(record, dict) or "feeder" not in record or "date" not in record:
        raise ValueError("dispatch plan record: a dict with 'feeder' and 'date' is required")
    plan = dict(record)
    plan.setdefault("kind", "day-ahead")
    day = _date(plan["date"])

    def write(s: Session) -> dict:
        with write_transaction(s):
            row = add_dispatch_plan(s, str(plan["feeder"]), day, plan, created_by=created_by)
            return {"id": row.id, "feeder": row.feeder, "date": day.isoformat(),
                    "kind": plan["kind"], "version": row.version}

    if session is not None:
        return write(session)
    with shared_sessionmaker(database_url)() as s:
        return write(s)


def latest_dispatch_plan_row(session: Session, feeder: str, date, kind: str | None = "day-ahead"
                             ) -> DispatchPlan | None:
    """The newest stored row of (feeder, day) whose plan is of ``kind`` (any kind if None)."""
    rows = session.scalars(select(DispatchPlan)
                           .where(DispatchPlan.feeder == feeder, DispatchPlan.plan_date == _date(date))
                           .order_by(DispatchPlan.version.desc()))
    for row in rows:
        if kind is None or (row.plan or {}).get("kind", "day-ahead") == kind:
            return row
    return None


def latest_dispatch_plan(feeder: str, date, kind: str | None = "day-ahead", *,
                         session: Session | None = None, database_url: str | None = None
                         ) -> dict | None:
    """The newest stored plan record of (feeder, day, kind), or None.

    Parameters
    ----------
    feeder : str
    date : str or datetime.date
        The planned day (YYYY-MM-DD).
    kind : str or None
        ``day-ahead`` (default), ``intraday``, or None for the newest of any kind.
    session, database_url
        As in :func:`save_dispatch_plan`.

    Returns
    -------
    dict or None
        The record as saved (``DispatchPlan.to_dict()``).
    """
    if session is not None:
        row = latest_dispatch_plan_row(session, feeder, date, kind)
        return None if row is None else dict(row.plan)
    with shared_sessionmaker(database_url)() as s:
        row = latest_dispatch_plan_row(s, feeder, date, kind)
        return None if row is None else dict(row.plan)
