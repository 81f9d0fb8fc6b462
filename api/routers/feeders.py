"""Feeders: the catalog, hosting capacity, reinforcements."""
from __future__ import annotations

import dataclasses
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Response
from fastapi.encoders import jsonable_encoder

from api.deps import EvaluatorDep, IdempotencyDep, SessionDep, UserDep, require_role
from api.schemas import FeederPublic, ReinforcementCreate, ReinforcementPublic
from gridint.errors import RecordNotFound
from gridint.grid.catalog import read_catalog
from gridint.store import repo, workflow
from gridint.store.models import User

router = APIRouter(prefix="/feeders", tags=["feeders"])

FeederName = Annotated[str, Path(max_length=100)]
Engineer = Annotated[User, Depends(require_role("engineer", "admin"))]


def _entry(name: str):
    entry = read_catalog().get(name)
    if entry is None:
        raise RecordNotFound(f"feeder {name!r} is not in the catalog")
    return entry


@router.get("", response_model=list[FeederPublic])
def list_feeders() -> list[dict]:
    """The feeder catalog."""
    return [{"name": e.name, "description": e.description, "voltage_kv": e.voltage_kv,
             "substation": e.substation, "source": e.source, "has_profiles": e.profiles != "none"}
            for e in read_catalog().values()]


@router.get("/{name}/capacity")
def capacity(name: FeederName) -> dict:
    """Hosting / open capacity of the feeder (``gridint.hosting.feeder_capacity``)."""
    _entry(name)
    try:
        from gridint.hosting import feeder_capacity
    except ImportError:
        raise HTTPException(501, "hosting capacity per feeder is not available in this "
                                 "gridint version (gridint.hosting.feeder_capacity)") from None
    result = feeder_capacity(name)
    if hasattr(result, "to_dict") and not isinstance(result, dict):
        result = result.to_dict()
    elif dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = dataclasses.asdict(result)
    return jsonable_encoder(result)


@router.get("/{name}/reinforcements", response_model=list[ReinforcementPublic])
def reinforcements(name: FeederName, session: SessionDep, _user: UserDep) -> list[dict]:
    _entry(name)
    return [workflow.reinforcement_public(r) for r in repo.list_reinforcements(session, name)]


@router.post("/{name}/reinforcements", response_model=ReinforcementPublic, status_code=201)
def add_reinforcement(name: FeederName, body: ReinforcementCreate, session: SessionDep,
                      user: Engineer, evaluator: EvaluatorDep, idem: IdempotencyDep,
                      response: Response) -> dict:
    """Record a grid reinforcement; the feeder's queue is re-evaluated in order."""
    _entry(name)
    out = workflow.record_reinforcement(session, user, name, element=body.element,
                                        description=body.description,
                                        capacity_kw=body.capacity_kw, evaluator=evaluator,
                                        idempotency=idem({"feeder": name, **body.model_dump()}))
    response.status_code = out.status_code
    if out.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return out.body
