"""Connection requests: submit, list, read, withdraw, accept; engineer actions."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Response

from api.deps import EvaluatorDep, IdempotencyDep, SessionDep, require_role
from api.schemas import ConnectedCreate, RequestCreate, RequestPublic, StudyCreate
from gridint.store import repo, workflow
from gridint.store.models import STATUSES, User
from gridint.store.workflow import Outcome

router = APIRouter(prefix="/requests", tags=["requests"])

Installer = Annotated[User, Depends(require_role("installer", "admin"))]
Engineer = Annotated[User, Depends(require_role("engineer", "admin"))]
Applicant = Annotated[User, Depends(require_role("installer", "engineer", "admin"))]
Reader = Annotated[User, Depends(require_role("installer", "engineer", "operator", "admin"))]
RequestId = Annotated[int, Path(ge=1, le=2**31 - 1, description="request id")]


def _answer(out: Outcome, response: Response) -> dict:
    response.status_code = out.status_code
    if out.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return out.body


@router.post("", response_model=RequestPublic, status_code=201)
def submit(body: RequestCreate, session: SessionDep, user: Installer, evaluator: EvaluatorDep,
           idem: IdempotencyDep, response: Response) -> dict:
    """File a request: decided at once against the feeder and the queue ahead of it;
    approved capacity is reserved atomically (first come, first served per feeder)."""
    data = body.body()
    out = workflow.submit(session, user, data, evaluator=evaluator, idempotency=idem(data))
    return _answer(out, response)


@router.get("", response_model=list[RequestPublic])
def list_requests(session: SessionDep, user: Reader,
                  feeder: Annotated[str | None, Query(max_length=100)] = None,
                  status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
                  limit: Annotated[int, Query(ge=1, le=500)] = 100,
                  offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> list[dict]:
    """Requests in submission order: an installer's own; all for the other roles."""
    owner = user.id if user.role == "installer" else None
    rows = repo.list_requests(session, owner_id=owner, feeder=feeder, status=status, limit=limit,
                              offset=offset)
    return [workflow.request_public(session, r) for r in rows]


@router.get("/{request_id}", response_model=RequestPublic)
def get_request(request_id: RequestId, session: SessionDep, user: Reader) -> dict:
    """One request (an installer reading another's gets 404)."""
    return workflow.request_public(session, workflow.visible_request(session, user, request_id))


@router.post("/{request_id}/withdraw", response_model=RequestPublic)
def withdraw(request_id: RequestId, session: SessionDep, user: Applicant, evaluator: EvaluatorDep,
             idem: IdempotencyDep, response: Response) -> dict:
    """Withdraw; capacity it held goes to the queue, re-evaluated in order."""
    out = workflow.withdraw(session, user, request_id, evaluator=evaluator,
                            idempotency=idem({"id": request_id}))
    return _answer(out, response)


@router.post("/{request_id}/accept", response_model=RequestPublic)
def accept(request_id: RequestId, session: SessionDep, user: Installer, idem: IdempotencyDep,
           response: Response) -> dict:
    """The applicant accepts an approval before ``accept_by``."""
    out = workflow.accept(session, user, request_id, idempotency=idem({"id": request_id}))
    return _answer(out, response)


@router.post("/{request_id}/study", response_model=RequestPublic)
def study(request_id: RequestId, body: StudyCreate, session: SessionDep, user: Engineer,
          evaluator: EvaluatorDep, idem: IdempotencyDep, response: Response) -> dict:
    """Record a manual study result (approve, approve with conditions, reject)."""
    data = body.model_dump()
    out = workflow.record_study(session, user, request_id, result=body.result,
                                approved_kw=body.approved_kw, conditions=body.conditions,
                                note=body.note, evaluator=evaluator,
                                idempotency=idem({"id": request_id, **data}))
    return _answer(out, response)


@router.post("/{request_id}/connected", response_model=RequestPublic)
def connected(request_id: RequestId, body: ConnectedCreate, session: SessionDep, user: Engineer,
              evaluator: EvaluatorDep, idem: IdempotencyDep, response: Response) -> dict:
    """Mark connected with the kW connected; less than approved frees the rest."""
    out = workflow.mark_connected(session, user, request_id, connected_kw=body.connected_kw,
                                  evaluator=evaluator,
                                  idempotency=idem({"id": request_id, **body.model_dump()}))
    return _answer(out, response)
