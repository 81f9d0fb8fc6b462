"""GET /api/v1/health: 200 when the database answers."""
from __future__ import annotations

from fastapi import APIRouter, HTTPException
from sqlalchemy import text

import gridint
from api.deps import SessionDep
from api.schemas import HealthPublic

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic)
def health(session: SessionDep) -> dict:
    try:
        session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any database failure means unhealthy
        raise HTTPException(503, f"database does not answer: {type(exc).__name__}") from None
    return {"status": "ok", "database": session.get_bind().dialect.name,
            "version": gridint.__version__}
