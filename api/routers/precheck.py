"""POST /api/v1/precheck: anonymous instant pre-check; stores nothing."""
from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.schemas import PrecheckPublic, RequestCreate
from gridint.store import workflow

router = APIRouter(tags=["precheck"])


def _precheck(sessions, body: dict, evaluator) -> dict:
    with sessions() as session:
        return workflow.precheck(session, body, evaluator=evaluator)


@router.post("/precheck", response_model=PrecheckPublic)
async def precheck(body: RequestCreate, request: Request) -> JSONResponse:
    """The decision a submission would get now (same engine, same queue ahead), with its
    reasons, the largest kW that fits now and counter-offers. Nothing is stored.

    The hot path of the API: one worker-thread hop for the database read and the rules
    engine, the answer sent as the engine's JSON (its shape is ``PrecheckPublic``).
    """
    state = request.app.state
    answer = await run_in_threadpool(_precheck, state.sessions, body.body(), state.evaluator)
    return JSONResponse(answer)
