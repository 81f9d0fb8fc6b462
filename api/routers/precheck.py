"""POST /api/v1/precheck: anonymous instant pre-check; stores nothing."""
from __future__ import annotations

from fastapi import APIRouter

from api.deps import EvaluatorDep, SessionDep
from api.schemas import PrecheckPublic, RequestCreate
from gridint.store import workflow

router = APIRouter(tags=["precheck"])


@router.post("/precheck", response_model=PrecheckPublic)
def precheck(body: RequestCreate, session: SessionDep, evaluator: EvaluatorDep) -> dict:
    """The decision a submission would get now (same engine, same queue ahead), with its
    reasons, the largest kW that fits now and counter-offers. Nothing is stored."""
    return workflow.precheck(session, body.body(), evaluator=evaluator)

