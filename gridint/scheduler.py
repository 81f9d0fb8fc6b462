"""Scheduled jobs of gridint: APScheduler 3.x with a SQLAlchemy job store.

Jobs (times in ``Settings.timezone``, Asia/Shanghai by default):

==================================  ===========================================  ==============================
id                                  what                                         when (Settings)
==================================  ===========================================  ==============================
``dispatch-day-ahead``              :func:`run_day_ahead`: day-ahead storage      daily at ``scheduler_day_ahead_hour``
                                    plan of every catalog feeder with storage     : ``scheduler_day_ahead_minute``
                                    for the next day                              (17:00)
``dispatch-intraday``               :func:`run_intraday`: re-dispatch from the    every ``scheduler_intraday_minutes``
                                    current quarter-hour to midnight              (15) on the quarter-hour
``open-capacity-publication``       :func:`run_publication`: quarterly open       1 Jan / Apr / Jul / Oct at
                                    capacity (``gridint.hosting.publish``)        ``scheduler_publication_hour``
``telemetry-maintenance``           :func:`run_telemetry_maintenance`: telemetry  daily at ``scheduler_telemetry_hour``
                                    partitions ahead, hourly roll-up of the last  : ``scheduler_telemetry_minute``
                                    days, raw-data retention                      (01:30)
==================================  ===========================================  ==============================

Jobs are stored in the project database (``Settings.database_url``, table
``apscheduler_jobs``) by textual reference (``"gridint.scheduler:run_day_ahead"``),
so they survive a restart of the process. Every run, failure and misfire is
logged and recorded in the table ``gridint_job_runs`` of the same database;
:func:`job_status` reads it back (last / next run, last error). A run later
than ``scheduler_misfire_grace_s`` is skipped and recorded as a misfire; runs
that piled up are coalesced into one.

The API starts the scheduler in its lifespan with :func:`start_scheduler`
(nothing happens when ``Settings.scheduler_enabled`` is false) and stops it with
:func:`shutdown_scheduler`.

Plans made by the jobs are handed to ``gridint.store.save_dispatch_plan(record)``
when the store provides it (and the intraday job reads the day's plan with
``gridint.store.latest_dispatch_plan(feeder, date, kind)``); without a store
they are kept in this process only (logged).
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import datetime, timezone

import pandas as pd

from gridint.config import get_settings
from gridint.errors import DispatchError, FeederError, GridintError

__all__ = [
    "JOB_DAY_AHEAD",
    "JOB_INTRADAY",
    "JOB_PUBLICATION",
    "create_scheduler",
    "add_default_jobs",
    "start_scheduler",
    "shutdown_scheduler",
    "job_status",
    "running_scheduler",
    "feeders_with_storage",
    "run_day_ahead",
    "run_intraday",
    "run_publication",
    "quarter_label",
    "JOB_TELEMETRY",
    "run_telemetry_maintenance",
]

logger = logging.getLogger(__name__)

JOB_DAY_AHEAD = "dispatch-day-ahead"
JOB_INTRADAY = "dispatch-intraday"
JOB_PUBLICATION = "open-capacity-publication"
RUNS_TABLE = "gridint_job_runs"

_lock = threading.Lock()
_running = None           # the scheduler started by start_scheduler()
_FEEDERS: dict = {}       # catalog feeders loaded by the jobs (profiles cached on them)
_PLANS: dict = {}         # (feeder, date, kind) -> latest plan record, when there is no store


# --------------------------------------------------------------------------- run log

def _runs_table():
    import sqlalchemy as sa

    meta = sa.MetaData()
    return sa.Table(
        RUNS_TABLE, meta,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.String(191), nullable=False, index=True),
        sa.Column("event", sa.String(16), nullable=False),      # executed | error | missed
        sa.Column("scheduled_run_time", sa.DateTime(timezone=True)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("result", sa.Text),
    )


_ENGINES: dict = {}


def _engine(url: str):
    import sqlalchemy as sa

    if url not in _ENGINES:
        eng = sa.create_engine(url, future=True)
        if eng.dialect.name == "sqlite":
            @sa.event.listens_for(eng, "connect")
            def _wal(dbapi_conn, _):  # pragma: no cover - trivial
                dbapi_conn.execute("PRAGMA journal_mode=WAL")
        _runs_table().metadata.create_all(eng)
        _ENGINES[url] = eng
    return _ENGINES[url]


def _record(url: str, job_id: str, event: str, scheduled, error: str | None = None, result=None) -> None:
    """Append one run-log row; never raises (a failing log must not stop the scheduler)."""
    try:
        table = _runs_table()
        text = None if result is None else json.dumps(result, default=str)[:20000]
        with _engine(url).begin() as conn:
            conn.execute(table.insert().values(
                job_id=job_id, event=event, scheduled_run_time=scheduled,
                recorded_at=datetime.now(timezone.utc), error=error, result=text))
    except Exception:  # pragma: no cover - logged, not fatal
        logger.exception("cannot record %s of job %s in %s", event, job_id, RUNS_TABLE)


def _listener(url: str, grace_s: int):
    def on_event(ev) -> None:
        from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED

        scheduled = getattr(ev, "scheduled_run_time", None)
        if ev.code == EVENT_JOB_MISSED:
            msg = (f"misfire: the run scheduled for {scheduled} was missed by more than "
                   f"{grace_s} s (process down or busy) and skipped")
            logger.warning("job %s: %s", ev.job_id, msg)
            _record(url, ev.job_id, "missed", scheduled, error=msg)
        elif ev.code == EVENT_JOB_ERROR:
            msg = f"{type(ev.exception).__name__}: {ev.exception}"
            logger.error("job %s failed (run scheduled for %s): %s", ev.job_id, scheduled, msg)
            _record(url, ev.job_id, "error", scheduled, error=msg)
        else:
            logger.info("job %s ran (scheduled for %s)", ev.job_id, scheduled)
            _record(url, ev.job_id, "executed", scheduled, result=getattr(ev, "retval", None))
    return on_event


# --------------------------------------------------------------------------- scheduler

def create_scheduler(database_url: str | None = None, *, default_jobs: bool = True):
    """A BackgroundScheduler on the SQLAlchemy job store of the project database (not started).

    Parameters
    ----------
    database_url : str, optional
        SQLAlchemy URL; default ``Settings.database_url``.
    default_jobs : bool
        Add (or replace) the three gridint jobs (:func:`add_default_jobs`).

    Returns
    -------
    apscheduler.schedulers.background.BackgroundScheduler
        With a listener that logs and records every run, failure and misfire.
    """
    from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    s = get_settings()
    url = database_url or s.database_url
    _engine(url)  # creates the run-log table
    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=_engine(url))},
        executors={"default": ThreadPoolExecutor(2)},
        job_defaults={"coalesce": True, "max_instances": 1,
                      "misfire_grace_time": s.scheduler_misfire_grace_s},
        timezone=s.timezone)
    sched.add_listener(_listener(url, s.scheduler_misfire_grace_s),
                       EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED)
    sched.gridint_database_url = url
    if default_jobs:
        add_default_jobs(sched)
    return sched


def add_default_jobs(scheduler) -> None:
    """Add or replace the day-ahead, intraday, publication and telemetry-maintenance jobs
    (textual references)."""
    from apscheduler.triggers.cron import CronTrigger

    s = get_settings()
    tz = s.timezone
    scheduler.add_job(
        f"{__name__}:run_day_ahead", CronTrigger(hour=s.scheduler_day_ahead_hour,
                                                 minute=s.scheduler_day_ahead_minute, timezone=tz),
        id=JOB_DAY_AHEAD, name="day-ahead storage dispatch plans for tomorrow", replace_existing=True)
    scheduler.add_job(
        f"{__name__}:run_intraday", CronTrigger(minute=f"*/{s.scheduler_intraday_minutes}", timezone=tz),
        id=JOB_INTRADAY, name="intraday storage re-dispatch", replace_existing=True)
    scheduler.add_job(
        f"{__name__}:run_publication", CronTrigger(month="1,4,7,10", day=1, hour=s.scheduler_publication_hour,
                                                   timezone=tz),
        id=JOB_PUBLICATION, name="quarterly open-capacity publication", replace_existing=True)
    _add_telemetry_job(scheduler)


def start_scheduler(database_url: str | None = None):
    """Start the process-wide scheduler (API lifespan); None when ``scheduler_enabled`` is false."""
    global _running
    if not get_settings().scheduler_enabled:
        logger.info("scheduler disabled (GRIDINT_SCHEDULER_ENABLED=false)")
        return None
    with _lock:
        if _running is None:
            _running = create_scheduler(database_url)
            _running.start()
            logger.info("scheduler started with jobs %s", [j.id for j in _running.get_jobs()])
        return _running


def running_scheduler():
    """The scheduler started in this process by :func:`start_scheduler`, or None."""
    return _running


def shutdown_scheduler(wait: bool = True) -> None:
    """Stop the scheduler started by :func:`start_scheduler` (jobs stay in the database)."""
    global _running
    with _lock:
        if _running is not None:
            _running.shutdown(wait=wait)
            _running = None


def _iso(t) -> str | None:
    if t is None:
        return None
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    return ts.tz_convert(get_settings().timezone).isoformat()


def job_status(scheduler=None, database_url: str | None = None) -> list[dict]:
    """Last and next run of every stored job, with the last error.

    Parameters
    ----------
    scheduler : BaseScheduler, optional
        A scheduler (running or not); default: the job store of ``database_url``.
    database_url : str, optional
        Default the scheduler's, else ``Settings.database_url``.

    Returns
    -------
    list of dict
        ``{id, name, next_run_time, last_run_time, last_error}`` per job (times ISO 8601
        in Settings.timezone or None). ``last_run_time`` is when the latest run
        (successful or failed) was recorded; ``last_error`` the error of the latest
        recorded event when that was a failure or a misfire, else None.
    """
    import sqlalchemy as sa

    url = database_url or getattr(scheduler, "gridint_database_url", None) or get_settings().database_url
    if scheduler is not None:
        jobs = scheduler.get_jobs()
    else:
        from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

        jobs = SQLAlchemyJobStore(engine=_engine(url)).get_all_jobs()
    table = _runs_table()
    out = []
    with _engine(url).connect() as conn:
        for job in jobs:
            last = conn.execute(sa.select(table).where(table.c.job_id == job.id)
                                .order_by(table.c.id.desc()).limit(1)).mappings().first()
            ran = conn.execute(sa.select(table.c.recorded_at).where(
                (table.c.job_id == job.id) & table.c.event.in_(["executed", "error"]))
                .order_by(table.c.id.desc()).limit(1)).scalar()
            out.append({
                "id": job.id,
                "name": job.name,
                "next_run_time": _iso(getattr(job, "next_run_time", None)),
                "last_run_time": _iso(ran),
                "last_error": None if last is None or last["event"] == "executed" else last["error"],
            })
    return out


# --------------------------------------------------------------------------- jobs

def feeders_with_storage() -> list[str]:
    """Catalog feeders whose net has in-service storage rows (loads each feeder once)."""
    from gridint.grid.catalog import read_catalog

    names = []
    for name in read_catalog():
        try:
            net = _feeder(name).net
        except GridintError as exc:
            logger.warning("catalog feeder %s cannot be loaded: %s", name, exc)
            continue
        st = net.get("storage")
        if st is not None and len(st) and st["in_service"].astype(bool).any():
            names.append(name)
    return names


def _feeder(name: str):
    from gridint.grid.catalog import load_feeder

    if name not in _FEEDERS:
        _FEEDERS[name] = load_feeder(name)
    return _FEEDERS[name]


def _store():
    try:
        import gridint.store as store  # noqa: PLC0415 - optional, built by the API side
    except ImportError:
        return None
    return store


def _save(record: dict) -> None:
    store = _store()
    if store is not None and hasattr(store, "save_dispatch_plan"):
        store.save_dispatch_plan(record)
    else:
        logger.info("no gridint.store.save_dispatch_plan: %s %s plan for %s kept in this process only",
                    record["feeder"], record["kind"], record["date"])
    _PLANS[(record["feeder"], record["date"], record["kind"])] = record


def _day_plan(feeder: str, date: str) -> dict | None:
    store = _store()
    if store is not None and hasattr(store, "latest_dispatch_plan"):
        rec = store.latest_dispatch_plan(feeder, date, "day-ahead")
        if rec is not None:
            return rec
    return _PLANS.get((feeder, date, "day-ahead"))


def _measurements(name: str, net, now) -> dict:
    """Telemetry for the intraday run of a feeder ({} without a store or on a store error:
    the run then uses the plan's SoC and the modelled PV history, logged)."""
    store = _store()
    if store is None:
        return {}
    try:
        from gridint.store.db import shared_sessionmaker
        from gridint.telemetry.loop import feeder_measurements

        with shared_sessionmaker()() as session:
            return feeder_measurements(session, name, net, now)
    except GridintError as exc:
        logger.warning("%s: telemetry not used (%s)", name, exc)
    except Exception:  # noqa: BLE001 - a store outage must not stop re-dispatch
        logger.exception("%s: telemetry could not be read; re-dispatch without it", name)
    return {}


def _run_all(names, fn) -> dict:
    done, skipped, failed = {}, {}, {}
    for name in names:
        try:
            done[name] = fn(name)
        except (DispatchError, FeederError) as exc:
            # data a plan cannot use (no storage, a storage row without energy rating):
            # recorded in the result and logged, not a failure of the run
            skipped[name] = str(exc)
            logger.warning("%s: not dispatchable: %s", name, exc)
        except Exception as exc:  # noqa: BLE001 - one feeder must not stop the others
            failed[name] = f"{type(exc).__name__}: {exc}"
            logger.exception("%s: dispatch failed", name)
    out = {"planned": done, "skipped": skipped, "failed": failed}
    if failed:
        raise DispatchError(f"dispatch failed for {', '.join(failed)}: "
                            + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return out


def run_day_ahead(date=None, feeders=None) -> dict:
    """Job: day-ahead plan of every catalog feeder with storage (default: for tomorrow).

    Returns
    -------
    dict
        ``planned`` (feeder -> violations before/after, curtailment, solve time),
        ``skipped`` (feeder -> reason: unusable storage data). Raises
        :class:`~gridint.errors.DispatchError` after trying every feeder when one
        failed unexpectedly, so that the run is recorded as failed.
    """
    from gridint.dispatch import plan_day

    tz = get_settings().timezone
    day = (pd.Timestamp.now(tz=tz).normalize() + pd.Timedelta(days=1)) if date is None else pd.Timestamp(date)
    day_s = day.date().isoformat()

    def one(name):
        plan = plan_day(_feeder(name), day_s)
        rec = plan.to_dict()
        _save(rec)
        return {k: rec[k] for k in ("violations_before", "violations_after", "curtailment_kwh",
                                    "reserve_ok", "solve_s")}

    return _run_all(feeders_with_storage() if feeders is None else feeders, one)


def run_intraday(now=None, feeders=None) -> dict:
    """Job: intraday re-dispatch of every catalog feeder with storage from the current quarter-hour.

    Closes the loop with the store's telemetry (:func:`gridint.telemetry.loop.feeder_measurements`):
    the measured SoC of the batteries (units without a fresh value start from the
    day-ahead plan's SoC at this time) and the measured PV of the feeder's reporting
    devices as the intraday forecast's history (the weather model without any). Keeps
    the day-ahead plan's end-of-day SoC; see :func:`gridint.dispatch.redispatch`.
    """
    from gridint.dispatch import redispatch

    tz = get_settings().timezone
    now = pd.Timestamp.now(tz=tz) if now is None else pd.Timestamp(now)
    now = now.tz_localize(tz) if now.tzinfo is None else now.tz_convert(tz)

    def one(name):
        feeder = _feeder(name)
        meas = _measurements(name, feeder.net, now)
        plan = redispatch(feeder, now, day_plan=_day_plan(name, now.date().isoformat()),
                          measured_soc=meas.get("measured_soc"),
                          measured_pv_pu=meas.get("measured_pv_pu"))
        rec = plan.to_dict()
        rec["telemetry"] = meas.get("info")
        _save(rec)
        out = {k: rec[k] for k in ("n_steps", "violations_after", "curtailment_kwh", "solve_s")}
        out["telemetry"] = meas.get("info")
        return out

    return _run_all(feeders_with_storage() if feeders is None else feeders, one)


def quarter_label(when=None) -> str:
    """``YYYYQn`` of the quarter containing ``when`` (default now, Settings.timezone)."""
    tz = get_settings().timezone
    ts = pd.Timestamp.now(tz=tz) if when is None else pd.Timestamp(when)
    return f"{ts.year}Q{(ts.month - 1) // 3 + 1}"


def run_publication(quarter: str | None = None) -> dict:
    """Job: quarterly open-capacity publication via ``gridint.hosting.publish(quarter)``.

    Returns
    -------
    dict
        ``{quarter, published, result}``; ``published`` is False (and a warning is
        logged) while ``gridint.hosting.publish`` does not exist.
    """
    import gridint.hosting as hosting

    quarter = quarter or quarter_label()
    publish = getattr(hosting, "publish", None)
    if publish is None:
        logger.warning("open-capacity publication for %s: gridint.hosting.publish is not available", quarter)
        return {"quarter": quarter, "published": False, "result": None}
    result = publish(quarter)
    logger.info("open capacity published for %s", quarter)
    return {"quarter": quarter, "published": True, "result": result}


# --------------------------------------------------------------------------- telemetry (issue 10)

JOB_TELEMETRY = "telemetry-maintenance"
_STORE_ENGINES: dict = {}


def _add_telemetry_job(scheduler) -> None:
    from apscheduler.triggers.cron import CronTrigger

    s = get_settings()
    scheduler.add_job(
        f"{__name__}:run_telemetry_maintenance",
        CronTrigger(hour=s.scheduler_telemetry_hour, minute=s.scheduler_telemetry_minute,
                    timezone=s.timezone),
        id=JOB_TELEMETRY, name="telemetry partitions, hourly roll-up and retention",
        replace_existing=True)


def run_telemetry_maintenance(now=None, database_url: str | None = None) -> dict:
    """Job: telemetry upkeep (see :mod:`gridint.telemetry.retention`).

    1. :func:`~gridint.telemetry.ensure_partitions` for the current month and
       ``telemetry_partition_months_ahead`` more (PostgreSQL; nothing on SQLite);
    2. :func:`~gridint.telemetry.retention.rollup` of the last ``telemetry_rollup_lookback_days``
       days (late data re-rolls its hour);
    3. :func:`~gridint.telemetry.apply_retention`: raw rows older than
       ``telemetry_raw_days`` rolled up and trimmed (PostgreSQL: whole months dropped).

    Parameters
    ----------
    now : datetime or str, optional
        Default now; a naive time is read in ``Settings.timezone``.
    database_url : str, optional
        Default ``Settings.database_url`` (the store must be migrated).

    Returns
    -------
    dict
        ``{partitions_created, hours_rolled, retention}`` (``retention``: the dict of
        :func:`~gridint.telemetry.apply_retention`).
    """
    from datetime import timedelta

    from gridint.store import make_engine, make_sessionmaker
    from gridint.telemetry import apply_retention, ensure_partitions, rollup

    s = get_settings()
    url = database_url or s.database_url
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    now = (now.tz_localize(s.timezone) if now.tzinfo is None else now).tz_convert("UTC").to_pydatetime()
    if url not in _STORE_ENGINES:
        _STORE_ENGINES[url] = make_engine(url)
    with make_sessionmaker(_STORE_ENGINES[url])() as session:
        created = ensure_partitions(session, now, months_ahead=s.telemetry_partition_months_ahead)
        hours = rollup(session, now - timedelta(days=s.telemetry_rollup_lookback_days), now)
        retention = apply_retention(session, now)
    logger.info("telemetry maintenance: %d partitions created, %d hours rolled, retention %s",
                len(created), hours, retention)
    return {"partitions_created": created, "hours_rolled": hours, "retention": retention}
