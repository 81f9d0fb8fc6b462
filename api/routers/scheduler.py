"""GET /api/v1/scheduler/jobs: the scheduled jobs, last / next run and last failure."""
from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api.deps import require_role
from gridint.store.models import User

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/scheduler", tags=["scheduler"])

Viewer = Annotated[User, Depends(require_role("operator", "engineer", "admin"))]


@router.get("/jobs")
def jobs(request: Request, _user: Viewer) -> dict:
    """``{enabled, running, jobs: [{id, name, next_run_time, last_run_time, last_error}]}``
    (times ISO 8601 in Settings.timezone). Read from the job store of the database when
    this process runs no scheduler; ``jobs`` is empty when no job was ever stored."""
    from gridint import scheduler as sched

    settings = request.app.state.settings
    running = sched.running_scheduler()
    try:
        out = sched.job_status(running, database_url=settings.database_url)
        error = None
    except Exception as exc:  # noqa: BLE001 - no job store table yet: no jobs
        logger.info("scheduler job status unavailable: %s", exc)
        out, error = [], "no jobs stored yet: the scheduler has not run on this database"
    return {"enabled": bool(settings.scheduler_enabled), "running": running is not None,
            "jobs": out, "error": error}
