"""Repositories: small functions that read and write records through a Session.

They neither commit nor open transactions (the caller does, see
:func:`gridint.store.db.write_transaction`), and they know nothing of HTTP.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridint.errors import RecordNotFound, StateConflict
from gridint.interconnection.model import QueuedPV
from gridint.store.models import (
    RESERVING_STATUSES,
    ROLES,
    AuditLog,
    ConnectionRequest,
    DecisionRecord,
    DispatchPlan,
    IdempotencyKey,
    Reinforcement,
    User,
    utcnow,
)

__all__ = [
    "hash_token", "create_user", "user_by_token", "user_by_name", "list_users", "audit",
    "audit_entries", "get_request", "list_requests", "queue_ahead", "queued_requests",
    "queue_position", "add_decision", "latest_decision", "get_decision", "decisions_of",
    "idempotency_get", "idempotency_put", "add_reinforcement", "list_reinforcements",
    "add_dispatch_plan", "latest_dispatch_plan",
]


# --- users ------------------------------------------------------------------------------------

def hash_token(token: str) -> str:
    """Hex SHA-256 of a bearer token (what the store keeps instead of the token)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_user(session: Session, name: str, role: str) -> tuple[User, str]:
    """Add a user with a new random token.

    Parameters
    ----------
    session : Session
    name : str
        Unique user name.
    role : str
        One of ``installer``, ``engineer``, ``operator``, ``admin``.

    Returns
    -------
    user : User
    token : str
        The bearer token; shown once, only its SHA-256 is stored.

    Raises
    ------
    StateConflict
        If the name is taken.
    ValueError
        For an unknown role.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}; got {role!r}")
    if user_by_name(session, name) is not None:
        raise StateConflict(f"user {name!r} exists already")
    token = "gi_" + secrets.token_urlsafe(32)
    user = User(name=name, role=role, token_sha256=hash_token(token), active=True)
    session.add(user)
    session.flush()
    return user, token


def user_by_token(session: Session, token: str) -> User | None:
    """The active user holding ``token``, or None."""
    return session.scalar(select(User).where(User.token_sha256 == hash_token(token),
                                             User.active.is_(True)))


def user_by_name(session: Session, name: str) -> User | None:
    return session.scalar(select(User).where(User.name == name))


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.id)))


# --- audit ------------------------------------------------------------------------------------

def audit(session: Session, actor: User | None, action: str, entity: str, entity_id: int | None,
          detail: dict[str, Any] | None = None) -> AuditLog:
    """Append one entry to the audit log."""
    entry = AuditLog(actor_id=actor.id if actor is not None else None, action=action, entity=entity,
                     entity_id=entity_id, detail=detail or {}, at=utcnow())
    session.add(entry)
    return entry


def audit_entries(session: Session, entity: str | None = None,
                  entity_id: int | None = None) -> list[AuditLog]:
    q = select(AuditLog).order_by(AuditLog.id)
    if entity is not None:
        q = q.where(AuditLog.entity == entity)
    if entity_id is not None:
        q = q.where(AuditLog.entity_id == entity_id)
    return list(session.scalars(q))


# --- requests and the queue -------------------------------------------------------------------

def get_request(session: Session, request_id: int, *, fresh: bool = False) -> ConnectionRequest:
    """A request by id.

    Parameters
    ----------
    fresh : bool
        Re-read the row even if the session holds it (after taking a lock).

    Raises
    ------
    RecordNotFound
    """
    opts = {"populate_existing": True} if fresh else {}
    req = session.get(ConnectionRequest, request_id, **opts)
    if req is None:
        raise RecordNotFound(f"connection request {request_id} not found")
    return req


def list_requests(session: Session, *, owner_id: int | None = None, feeder: str | None = None,
                  status: str | None = None, limit: int = 100, offset: int = 0
                  ) -> list[ConnectionRequest]:
    """Requests in submission order, optionally of one owner / feeder / status."""
    q = select(ConnectionRequest)
    if owner_id is not None:
        q = q.where(ConnectionRequest.owner_id == owner_id)
    if feeder is not None:
        q = q.where(ConnectionRequest.feeder == feeder)
    if status is not None:
        q = q.where(ConnectionRequest.status == status)
    q = q.order_by(ConnectionRequest.submitted_at, ConnectionRequest.id).limit(limit).offset(offset)
    return list(session.scalars(q))


def queue_ahead(session: Session, feeder: str, *, exclude_id: int | None = None) -> list[QueuedPV]:
    """PV that holds capacity on ``feeder``, in submission order.

    Approved and not yet connected (``decided`` with an approval, ``accepted``) count with
    ``approved_kw`` and status ``approved`` (C2 of DESIGN.md); connected requests with
    ``connected_kw`` and status ``connected`` (PV connected since the feeder file was made).
    """
    q = (select(ConnectionRequest)
         .where(ConnectionRequest.feeder == feeder,
                ConnectionRequest.status.in_(RESERVING_STATUSES + ("connected",)),
                ConnectionRequest.decision.in_(("approved", "approved_with_conditions")))
         .order_by(ConnectionRequest.submitted_at, ConnectionRequest.id))
    out = []
    for r in session.scalars(q):
        if r.id == exclude_id:
            continue
        if r.status == "connected":
            out.append(QueuedPV(bus=r.bus, ac_kw=float(r.connected_kw), status="connected",
                                request_id=r.id))
        else:
            out.append(QueuedPV(bus=r.bus, ac_kw=float(r.approved_kw), status="approved",
                                request_id=r.id))
    return out


def queued_requests(session: Session, feeder: str) -> list[ConnectionRequest]:
    """Requests waiting for capacity on ``feeder``, first come first served."""
    return list(session.scalars(
        select(ConnectionRequest)
        .where(ConnectionRequest.feeder == feeder, ConnectionRequest.status == "queued")
        .order_by(ConnectionRequest.submitted_at, ConnectionRequest.id)))


def queue_position(session: Session, req: ConnectionRequest) -> int | None:
    """1-based place of a queued request in its feeder's queue (None if not queued)."""
    if req.status != "queued":
        return None
    earlier = session.scalar(
        select(func.count()).select_from(ConnectionRequest)
        .where(ConnectionRequest.feeder == req.feeder, ConnectionRequest.status == "queued",
               (ConnectionRequest.submitted_at < req.submitted_at)
               | ((ConnectionRequest.submitted_at == req.submitted_at)
                  & (ConnectionRequest.id < req.id))))
    return int(earlier) + 1


# --- decisions --------------------------------------------------------------------------------

def add_decision(session: Session, req: ConnectionRequest, *, kind: str, inputs: dict,
                 result: dict, feeder_sha256: str | None, settings: dict, gridint_version: str,
                 decided_by: User | None = None, at: dt.datetime | None = None) -> DecisionRecord:
    """Store one decision with everything needed to replay it."""
    rec = DecisionRecord(request_id=req.id, kind=kind, decision=result["decision"], inputs=inputs,
                         result=result, feeder_sha256=feeder_sha256, settings=settings,
                         gridint_version=gridint_version,
                         decided_by=decided_by.id if decided_by is not None else None,
                         created_at=at or utcnow())
    session.add(rec)
    session.flush()
    return rec


def latest_decision(session: Session, request_id: int) -> DecisionRecord | None:
    return session.scalar(select(DecisionRecord).where(DecisionRecord.request_id == request_id)
                          .order_by(DecisionRecord.id.desc()).limit(1))


def decisions_of(session: Session, request_id: int) -> list[DecisionRecord]:
    return list(session.scalars(select(DecisionRecord).where(DecisionRecord.request_id == request_id)
                                .order_by(DecisionRecord.id)))


def get_decision(session: Session, decision_id: int) -> DecisionRecord:
    """Raises RecordNotFound."""
    rec = session.get(DecisionRecord, decision_id)
    if rec is None:
        raise RecordNotFound(f"decision {decision_id} not found")
    return rec


# --- idempotency ------------------------------------------------------------------------------

def idempotency_get(session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                       IdempotencyKey.key == key))


def idempotency_put(session: Session, user_id: int, key: str, scope: str, request_sha256: str,
                    status_code: int, response: dict) -> IdempotencyKey:
    rec = IdempotencyKey(user_id=user_id, key=key, scope=scope, request_sha256=request_sha256,
                         status_code=status_code, response=response)
    session.add(rec)
    session.flush()
    return rec


# --- reinforcements and dispatch plans --------------------------------------------------------

def add_reinforcement(session: Session, *, feeder: str, element: str, description: str,
                      capacity_kw: float | None, feeder_sha256: str | None,
                      recorded_by: User) -> Reinforcement:
    rec = Reinforcement(feeder=feeder, element=element, description=description,
                        capacity_kw=capacity_kw, feeder_sha256=feeder_sha256,
                        recorded_by=recorded_by.id, recorded_at=utcnow())
    session.add(rec)
    session.flush()
    return rec


def list_reinforcements(session: Session, feeder: str | None = None) -> list[Reinforcement]:
    q = select(Reinforcement).order_by(Reinforcement.id)
    if feeder is not None:
        q = q.where(Reinforcement.feeder == feeder)
    return list(session.scalars(q))


def add_dispatch_plan(session: Session, feeder: str, plan_date: dt.date, plan: dict,
                      created_by: User | None = None) -> DispatchPlan:
    """Store a plan as the next version of (feeder, day); call inside a write transaction."""
    last = session.scalar(select(func.max(DispatchPlan.version))
                          .where(DispatchPlan.feeder == feeder, DispatchPlan.plan_date == plan_date))
    rec = DispatchPlan(feeder=feeder, plan_date=plan_date, version=(last or 0) + 1, plan=plan,
                       created_by=created_by.id if created_by is not None else None,
                       created_at=utcnow())
    session.add(rec)
    session.flush()
    return rec


def latest_dispatch_plan(session: Session, feeder: str, plan_date: dt.date) -> DispatchPlan | None:
    return session.scalar(select(DispatchPlan)
                          .where(DispatchPlan.feeder == feeder, DispatchPlan.plan_date == plan_date)
                          .order_by(DispatchPlan.version.desc()).limit(1))


def requests_by_ids(session: Session, ids: Sequence[int]) -> list[ConnectionRequest]:
    return list(session.scalars(select(ConnectionRequest).where(ConnectionRequest.id.in_(ids))
                                .order_by(ConnectionRequest.id)))
