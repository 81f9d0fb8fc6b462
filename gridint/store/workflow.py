"""Connection-request workflow on the store: pre-check, submission with atomic capacity
reservation, lifecycle actions, first-come-first-served queue re-evaluation, replay.

Capacity reservation
--------------------
A submission is decided inside one write transaction serialised per feeder
(:func:`gridint.store.db.write_transaction`): the request is filed (its ``submitted_at``
and id are assigned under the lock), the rules engine is called with the PV ahead of it
(approved-not-connected and connected requests on the same feeder, in submission order)
and the decision is stored, all before the next submission on that feeder may read the
queue. Decisions are therefore exactly those of handling the requests one at a time in
the order of ``(submitted_at, id)``: no two approvals can share the same capacity.

When capacity appears on a feeder (a withdrawal, an engineer's rejection of an approved
request, a recorded reinforcement, a connection smaller than approved, an expired
approval) the queued requests of that feeder are re-evaluated in the same transaction,
first come first served; every request that fits now is approved (an eligible request
that fits is never refused).

The rules engine is any callable ``evaluator(req, ahead=[QueuedPV, ...]) -> Decision``;
by default :func:`gridint.interconnection.evaluate`, looked up at call time.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import inspect
import json
import logging
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridint.config import get_settings
from gridint.errors import IdempotencyConflict, RecordNotFound, StateConflict
from gridint.interconnection import model as im
from gridint.store import repo
from gridint.store.db import write_transaction
from gridint.store.models import (
    OPEN_STATUSES,
    RESERVING_STATUSES,
    ConnectionRequest,
    User,
    utcnow,
)

__all__ = [
    "Evaluator", "Idempotency", "Outcome", "default_evaluator", "feeder_sha256", "check_location",
    "precheck", "submit", "withdraw", "accept", "record_study", "mark_connected",
    "record_reinforcement", "reevaluate_queue", "expire_overdue", "visible_request",
    "request_public", "replay_decision",
]

logger = logging.getLogger(__name__)

Evaluator = Callable[..., im.Decision]
APPROVALS = ("approved", "approved_with_conditions")


def default_evaluator(req: im.ConnectionRequest, *, ahead: Sequence[im.QueuedPV] = (),
                      **options) -> im.Decision:
    """The rules engine, :func:`gridint.interconnection.evaluate` (looked up on each call);
    ``options`` (e.g. ``counter_offers=False``) are passed on."""
    import gridint.interconnection as interconnection

    return interconnection.evaluate(req, ahead=ahead, **options)


def _takes_counter_offers(evaluator: Evaluator) -> bool:
    if evaluator is default_evaluator:
        import gridint.interconnection as interconnection

        evaluator = interconnection.evaluate
    try:
        params = inspect.signature(evaluator).parameters
    except (TypeError, ValueError):
        return False
    return "counter_offers" in params


@dataclass(frozen=True)
class Idempotency:
    """An ``Idempotency-Key`` with the request it came with.

    ``scope`` names the action (e.g. ``POST /api/v1/requests``); ``body`` the request body.
    """

    user_id: int
    key: str
    scope: str
    body: Any

    @property
    def fingerprint(self) -> str:
        text = json.dumps({"scope": self.scope, "body": self.body}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Outcome:
    """Result of a write: the response body, its status code, and whether it is a replay
    of the stored response of an earlier request with the same Idempotency-Key."""

    body: dict
    status_code: int = 200
    replayed: bool = False


# --- feeders ------------------------------------------------------------------------------------

def _sha256_files(paths: tuple[tuple[str, int, int], ...]) -> str:
    return _sha256_files_cached(paths)


@functools.lru_cache(maxsize=64)
def _sha256_files_cached(paths: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for path, _mtime, _size in paths:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


@functools.lru_cache(maxsize=8)
def _catalog_cached(path: str, _mtime_ns: int, _size: int) -> dict:
    from gridint.grid.catalog import read_catalog

    return read_catalog(path)


def _catalog() -> dict:
    """The feeder catalog, re-read only when its file changes."""
    path = Path(get_settings().feeders_dir) / "catalog.toml"
    try:
        st = path.stat()
    except OSError:
        from gridint.grid.catalog import read_catalog

        return read_catalog()  # raises the catalog's own error
    return _catalog_cached(str(path), st.st_mtime_ns, st.st_size)


def feeder_sha256(name: str) -> str | None:
    """Version of a catalog feeder: SHA-256 of its pandapower JSON file followed by its
    profile file (for feeders of the pandapower / SimBench packages: of the catalog record
    and the package version). None for a name not in the catalog.
    """
    entry = _catalog().get(name)
    if entry is None:
        return None
    folder = Path(get_settings().feeders_dir)
    if entry.loader == "file":
        files = [folder / entry.file]
        if entry.profiles not in ("none", "simbench"):
            files.append(folder / entry.profiles)
        stats = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.is_file())
        return _sha256_files(stats)
    from importlib.metadata import PackageNotFoundError, version

    try:
        pkg = version(entry.loader)
    except PackageNotFoundError:
        pkg = "?"
    record = json.dumps({**entry.__dict__, "package_version": pkg}, sort_keys=True, default=str)
    return hashlib.sha256(record.encode("utf-8")).hexdigest()


_PLACES: dict[tuple[str, str | None], frozenset[str]] = {}
_PLACES_LOCK = threading.Lock()


def _place_names(name: str, sha: str | None) -> frozenset[str]:
    """Bus and transformer names of a feeder, loaded once per feeder version (concurrent
    callers wait for the one load instead of loading the feeder each)."""
    key = (name, sha)
    names = _PLACES.get(key)
    if names is not None:
        return names
    with _PLACES_LOCK:
        if key not in _PLACES:
            from gridint.grid.catalog import load_feeder

            net = load_feeder(name).net
            found = set(net.bus["name"].dropna().astype(str))
            if len(net.trafo):
                found |= set(net.trafo["name"].dropna().astype(str))
            _PLACES[key] = frozenset(found)
        return _PLACES[key]


def check_location(req: im.ConnectionRequest) -> None:
    """The request's feeder is in the catalog and its bus (or transformer) is on it.

    Raises
    ------
    RequestInvalid
        Field ``feeder`` or ``bus``.
    """
    names = list(_catalog())
    if req.feeder not in names:
        raise im.RequestInvalid("feeder", f"unknown feeder; one of {', '.join(names)}")
    if req.bus not in _place_names(req.feeder, feeder_sha256(req.feeder)):
        raise im.RequestInvalid("bus", f"no bus or transformer of that name on feeder {req.feeder}")


# --- helpers ------------------------------------------------------------------------------------

def _settings_snapshot() -> dict:
    return get_settings().model_dump(mode="json", exclude={"database_url"})


def _version() -> str:
    from gridint import __version__

    return __version__


def _spec(req: ConnectionRequest) -> im.ConnectionRequest:
    return im.ConnectionRequest(**req.request_fields())


def _iso(t: dt.datetime | None) -> str | None:
    if t is None:
        return None
    return t.astimezone(ZoneInfo(get_settings().timezone)).isoformat()


def _invalid(decision: im.Decision) -> im.RequestInvalid:
    """The engine's ``invalid`` answer as an error naming the field (reason rule
    ``validity.<field>``, or a reason whose element/rule is a request field)."""
    fields = set(im.ConnectionRequest.__dataclass_fields__)
    for r in decision.reasons:
        rule_field = r.rule.split(".", 1)[1] if r.rule.startswith("validity.") else None
        for name in (rule_field, r.element, r.rule):
            if name in fields:
                text = f"{r.value}" if r.value is not None else "not allowed"
                if r.limit is not None:
                    text += f" (allowed: {r.limit})"
                return im.RequestInvalid(name, text)
    r = decision.reasons[0] if decision.reasons else im.Reason("validity")
    return im.RequestInvalid("body", f"rule {r.rule}: {r.value if r.value is not None else 'invalid'}"
                             + (f" ({r.element})" if r.element else ""))


def _decide(req: ConnectionRequest, evaluator: Evaluator, ahead: list[im.QueuedPV], *,
            counter_offers: bool = True) -> tuple[im.Decision, dict]:
    spec = _spec(req)
    if not counter_offers and _takes_counter_offers(evaluator):
        decision = evaluator(spec, ahead=ahead, counter_offers=False)
    else:
        decision = evaluator(spec, ahead=ahead)
    inputs = {"request": spec.to_dict(), "ahead": [a.__dict__.copy() for a in ahead]}
    return decision, inputs


def _apply(session: Session, req: ConnectionRequest, decision: im.Decision, inputs: dict, *,
           kind: str, actor: User | None, now: dt.datetime) -> None:
    """Store a decision and move the request to the status it implies."""
    result = _jsonable(decision.to_dict())
    repo.add_decision(session, req, kind=kind, inputs=inputs, result=result,
                      feeder_sha256=feeder_sha256(req.feeder), settings=_settings_snapshot(),
                      gridint_version=_version(), decided_by=actor, at=now)
    req.decision = decision.decision
    if decision.decision in APPROVALS:
        req.status, req.approved_kw = "decided", float(req.ac_kw)
        req.decided_at = now
        req.accept_by = now + dt.timedelta(days=get_settings().request_accept_days)
    elif decision.decision == "queued":
        req.status = "queued"
    else:  # referred (manual study), or invalid found on re-evaluation: an engineer decides
        req.status, req.decided_at = "decided", now
    repo.audit(session, actor, f"decision_{kind}", "request", req.id,
               {"decision": decision.decision, "max_kw_now": decision.max_kw_now})


def _jsonable(obj: Any) -> Any:
    """JSON round trip (tuples become lists, NaN/inf become None)."""
    def clean(o):
        if isinstance(o, float) and not math.isfinite(o):
            return None
        if isinstance(o, dict):
            return {str(k): clean(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [clean(v) for v in o]
        return o

    return json.loads(json.dumps(clean(obj), default=str))


def _run_write(session: Session, feeder: str | None, idem: Idempotency | None,
               action: Callable[[], Outcome]) -> Outcome:
    """Run ``action`` in a serialised write transaction, honouring an Idempotency-Key."""
    try:
        with write_transaction(session, feeder):
            if idem is not None:
                hit = repo.idempotency_get(session, idem.user_id, idem.key)
                if hit is not None:
                    if hit.request_sha256 != idem.fingerprint:
                        raise IdempotencyConflict(
                            "Idempotency-Key was used before with a different request")
                    return Outcome(hit.response, hit.status_code, replayed=True)
            out = action()
            if idem is not None:
                repo.idempotency_put(session, idem.user_id, idem.key, idem.scope, idem.fingerprint,
                                     out.status_code, out.body)
            return out
    except IntegrityError as exc:  # same key filed concurrently through another feeder's lock
        if idem is not None and "idempotency" in str(exc.orig).lower():
            raise IdempotencyConflict("Idempotency-Key is being used by a concurrent request") from None
        raise


# --- read side ----------------------------------------------------------------------------------

def visible_request(session: Session, user: User, request_id: int) -> ConnectionRequest:
    """A request the user may see: installers see only their own (others: not found).

    Raises
    ------
    RecordNotFound
    """
    req = repo.get_request(session, request_id)
    if user.role == "installer" and req.owner_id != user.id:
        raise RecordNotFound(f"connection request {request_id} not found")
    return req


def request_public(session: Session, req: ConnectionRequest) -> dict:
    """A stored request as the API shows it: the answer of its latest decision plus
    ``id, status, queue_position, submitted_at``, the request fields and the lifecycle."""
    rec = repo.latest_decision(session, req.id)
    answer = rec.result if rec is not None else {
        "decision": None, "voltage_level": None, "max_kw_now": None, "reasons": [],
        "counter_offers": [], "conditions": {}}
    owner = session.get(User, req.owner_id)
    return {
        "id": req.id, "status": req.status, "queue_position": repo.queue_position(session, req),
        "submitted_at": _iso(req.submitted_at),
        **{k: answer.get(k) for k in ("decision", "voltage_level", "max_kw_now", "reasons",
                                      "counter_offers", "conditions")},
        "decision_id": rec.id if rec is not None else None,
        **req.request_fields(),
        "owner": owner.name if owner is not None else None,
        "approved_kw": req.approved_kw, "connected_kw": req.connected_kw,
        **{k: _iso(getattr(req, k)) for k in ("decided_at", "accept_by", "accepted_at",
                                              "connected_at", "withdrawn_at", "expired_at",
                                              "rejected_at")},
    }


def precheck(session: Session | None, body: Mapping[str, Any], *,
             evaluator: Evaluator | None = None) -> dict:
    """Instant pre-check: the decision a submission would get now; stores nothing.

    Parameters
    ----------
    session : Session or None
        Reads the queue ahead (approved-not-connected and connected PV on the feeder);
        None: the feeder file as it is, no queue.
    body : mapping
        Request body (DESIGN.md "Connection request body").

    Returns
    -------
    dict
        ``feeder, bus, requested_kw, decision, voltage_level, max_kw_now, reasons,
        counter_offers, conditions``.

    Raises
    ------
    RequestInvalid
        A field is missing, out of range, or names an unknown feeder / bus.
    """
    spec = im.parse_request(body)
    check_location(spec)
    ahead = []
    if session is not None:
        ahead = repo.queue_ahead(session, spec.feeder)
        if session.in_transaction():
            session.rollback()  # read only
    decision = (evaluator or default_evaluator)(spec, ahead=ahead)
    return {"feeder": spec.feeder, "bus": spec.bus, "requested_kw": spec.ac_kw,
            **_jsonable(decision.to_dict())}


# --- write side ---------------------------------------------------------------------------------

def submit(session: Session, user: User, body: Mapping[str, Any], *,
           evaluator: Evaluator | None = None, idempotency: Idempotency | None = None) -> Outcome:
    """File a connection request and decide it, reserving capacity atomically.

    Parameters
    ----------
    session : Session
    user : User
        The applicant's account (owner of the request).
    body : mapping
        Request body (DESIGN.md "Connection request body").
    evaluator : callable, optional
        Rules engine (default :func:`gridint.interconnection.evaluate`).
    idempotency : Idempotency, optional
        A retried submission with the same key and body returns the stored response.

    Returns
    -------
    Outcome
        ``body`` = :func:`request_public` of the new request, status code 201.

    Raises
    ------
    RequestInvalid
        Bad field, unknown feeder / bus, or the engine found the request invalid
        (nothing is stored then).
    IdempotencyConflict
        The key was used before with another body.
    """
    spec = im.parse_request(body)
    check_location(spec)
    evaluator = evaluator or default_evaluator

    def action() -> Outcome:
        now = utcnow()
        req = ConnectionRequest(owner_id=user.id, status="submitted", submitted_at=now,
                                **spec.to_dict())
        session.add(req)
        session.flush()
        decision, inputs = _decide(req, evaluator, repo.queue_ahead(session, spec.feeder,
                                                                    exclude_id=req.id))
        if decision.decision == "invalid":
            raise _invalid(decision)
        repo.audit(session, user, "submit", "request", req.id, {"feeder": spec.feeder,
                                                                "bus": spec.bus,
                                                                "ac_kw": spec.ac_kw})
        _apply(session, req, decision, inputs, kind="automatic", actor=user, now=now)
        session.flush()
        return Outcome(request_public(session, req), 201)

    return _run_write(session, spec.feeder, idempotency, action)


def _feeder_of(session: Session, user: User, request_id: int) -> str:
    feeder = visible_request(session, user, request_id).feeder
    if session.in_transaction():
        session.commit()
    return feeder


def withdraw(session: Session, user: User, request_id: int, *, evaluator: Evaluator | None = None,
             idempotency: Idempotency | None = None) -> Outcome:
    """Withdraw an open request (the applicant, an engineer or an admin); capacity it held
    goes to the queue.

    Raises
    ------
    RecordNotFound, StateConflict
    """
    feeder = _feeder_of(session, user, request_id)

    def action() -> Outcome:
        req = repo.get_request(session, request_id, fresh=True)
        if req.status not in OPEN_STATUSES:
            raise StateConflict(f"request {request_id} is {req.status}; only "
                                f"{', '.join(OPEN_STATUSES)} requests can be withdrawn")
        held = req.status in RESERVING_STATUSES and req.decision in APPROVALS
        now = utcnow()
        req.status, req.withdrawn_at = "withdrawn", now
        repo.audit(session, user, "withdraw", "request", req.id, {"held_kw": req.approved_kw if held else 0})
        if held:
            reevaluate_queue(session, feeder, evaluator=evaluator, actor=user, now=now)
        session.flush()
        return Outcome(request_public(session, req), 200)

    return _run_write(session, feeder, idempotency, action)


def accept(session: Session, user: User, request_id: int, *,
           idempotency: Idempotency | None = None) -> Outcome:
    """The applicant accepts an approval (before ``accept_by``).

    Raises
    ------
    RecordNotFound, StateConflict
    """
    feeder = _feeder_of(session, user, request_id)

    def action() -> Outcome:
        req = repo.get_request(session, request_id, fresh=True)
        if req.status != "decided" or req.decision not in APPROVALS:
            raise StateConflict(f"request {request_id} is {req.status} ({req.decision}); only an "
                                "approval can be accepted")
        now = utcnow()
        if req.accept_by is not None and now > req.accept_by:
            raise StateConflict(f"the approval expired at {_iso(req.accept_by)}")
        req.status, req.accepted_at = "accepted", now
        repo.audit(session, user, "accept", "request", req.id, {})
        session.flush()
        return Outcome(request_public(session, req), 200)

    return _run_write(session, feeder, idempotency, action)


def record_study(session: Session, user: User, request_id: int, *, result: str,
                 approved_kw: float | None = None, conditions: Mapping | None = None,
                 note: str = "", evaluator: Evaluator | None = None,
                 idempotency: Idempotency | None = None) -> Outcome:
    """An engineer's manual study result: ``approved``, ``approved_with_conditions`` or
    ``rejected``. Rejecting an approved request frees its capacity for the queue.

    Parameters
    ----------
    approved_kw : float, optional [kW]
        Approve less than requested (default: the requested ``ac_kw``).

    Raises
    ------
    RecordNotFound, StateConflict, RequestInvalid
    """
    if result not in APPROVALS + ("rejected",):
        raise im.RequestInvalid("result", "must be approved, approved_with_conditions or rejected")
    feeder = _feeder_of(session, user, request_id)

    def action() -> Outcome:
        req = repo.get_request(session, request_id, fresh=True)
        if req.status not in ("queued", "decided"):
            raise StateConflict(f"request {request_id} is {req.status}; a study result can be "
                                "recorded for queued or decided requests")
        if approved_kw is not None and not 0 < approved_kw <= req.ac_kw:
            raise im.RequestInvalid("approved_kw", f"{approved_kw:g} outside (0, {req.ac_kw:g}] kW "
                                    "(the requested ac_kw)")
        held = req.status in RESERVING_STATUSES and req.decision in APPROVALS
        held_kw = float(req.approved_kw or 0.0) if held else 0.0
        now = utcnow()
        kw = float(approved_kw if approved_kw is not None else req.ac_kw)
        answer = {"decision": result, "voltage_level": None,
                  "max_kw_now": kw if result != "rejected" else None,
                  "reasons": [{"rule": "manual_study", "limit": None, "value": note or None,
                               "element": None, "time": None}],
                  "counter_offers": [], "conditions": _jsonable(dict(conditions or {}))}
        prev = repo.latest_decision(session, req.id)
        if prev is not None:
            answer["voltage_level"] = prev.result.get("voltage_level")
        repo.add_decision(session, req, kind="study", inputs={"request": req.request_fields(),
                                                              "note": note},
                          result=answer, feeder_sha256=feeder_sha256(req.feeder),
                          settings=_settings_snapshot(), gridint_version=_version(),
                          decided_by=user, at=now)
        req.decision = result
        if result == "rejected":
            req.status, req.rejected_at, req.approved_kw = "rejected", now, None
        else:
            req.status, req.decided_at, req.approved_kw = "decided", now, kw
            req.accept_by = now + dt.timedelta(days=get_settings().request_accept_days)
        repo.audit(session, user, "study", "request", req.id, {"result": result, "approved_kw": kw})
        if held and (result == "rejected" or kw < held_kw):
            reevaluate_queue(session, feeder, evaluator=evaluator, actor=user, now=now)
        session.flush()
        return Outcome(request_public(session, req), 200)

    return _run_write(session, feeder, idempotency, action)


def mark_connected(session: Session, user: User, request_id: int, *,
                   connected_kw: float | None = None, evaluator: Evaluator | None = None,
                   idempotency: Idempotency | None = None) -> Outcome:
    """An engineer marks an approved request connected, with the kW actually connected
    (default: the approved kW). Connecting less frees the difference for the queue.

    Raises
    ------
    RecordNotFound, StateConflict, RequestInvalid
    """
    feeder = _feeder_of(session, user, request_id)

    def action() -> Outcome:
        req = repo.get_request(session, request_id, fresh=True)
        if req.status not in RESERVING_STATUSES or req.decision not in APPROVALS:
            raise StateConflict(f"request {request_id} is {req.status} ({req.decision}); only "
                                "approved requests can be connected")
        kw = float(connected_kw if connected_kw is not None else req.approved_kw)
        if not 0 < kw <= req.approved_kw:
            raise im.RequestInvalid("connected_kw", f"{kw:g} outside (0, {req.approved_kw:g}] kW "
                                    "(the approved kW)")
        now = utcnow()
        less = kw < req.approved_kw
        req.status, req.connected_at, req.connected_kw = "connected", now, kw
        repo.audit(session, user, "connect", "request", req.id, {"connected_kw": kw,
                                                                 "approved_kw": req.approved_kw})
        if less:
            reevaluate_queue(session, feeder, evaluator=evaluator, actor=user, now=now)
        session.flush()
        return Outcome(request_public(session, req), 200)

    return _run_write(session, feeder, idempotency, action)


def record_reinforcement(session: Session, user: User, feeder: str, *, element: str,
                         description: str, capacity_kw: float | None = None,
                         evaluator: Evaluator | None = None,
                         idempotency: Idempotency | None = None) -> Outcome:
    """Record a grid reinforcement of ``feeder`` and re-evaluate its queue.

    The feeder model (file) is expected to show the reinforcement; the record keeps the
    feeder version it was made against.

    Raises
    ------
    RequestInvalid
        Unknown feeder.
    """
    if feeder not in _catalog():
        raise RecordNotFound(f"feeder {feeder!r} is not in the catalog")

    def action() -> Outcome:
        now = utcnow()
        rec = repo.add_reinforcement(session, feeder=feeder, element=element,
                                     description=description, capacity_kw=capacity_kw,
                                     feeder_sha256=feeder_sha256(feeder), recorded_by=user)
        repo.audit(session, user, "reinforcement", "reinforcement", rec.id,
                   {"feeder": feeder, "element": element, "capacity_kw": capacity_kw})
        approved = reevaluate_queue(session, feeder, evaluator=evaluator, actor=user, now=now)
        return Outcome(reinforcement_public(rec) | {"reevaluated_approved": approved}, 201)

    return _run_write(session, feeder, idempotency, action)


def reinforcement_public(rec) -> dict:
    return {"id": rec.id, "feeder": rec.feeder, "element": rec.element,
            "description": rec.description, "capacity_kw": rec.capacity_kw,
            "feeder_sha256": rec.feeder_sha256, "recorded_at": _iso(rec.recorded_at)}


def reevaluate_queue(session: Session, feeder: str, *, evaluator: Evaluator | None = None,
                     actor: User | None = None, now: dt.datetime | None = None) -> list[int]:
    """Re-evaluate the queued requests of ``feeder`` in order (call inside the feeder's
    write transaction). Each request that fits now is approved and holds its capacity
    before the next one is evaluated. A request that still does not fit keeps its stored
    answer (counter-offers are not recomputed); its queue position is always live.

    Returns
    -------
    list of int
        Ids of the requests approved (or referred) by this pass, in queue order.
    """
    evaluator = evaluator or default_evaluator
    now = now or utcnow()
    changed = []
    for req in repo.queued_requests(session, feeder):
        # counter-offers only matter for a request that stays queued, which keeps its
        # stored answer: skip computing them (the engine's costliest part)
        decision, inputs = _decide(req, evaluator, repo.queue_ahead(session, feeder,
                                                                    exclude_id=req.id),
                                   counter_offers=False)
        if decision.decision == "queued":
            continue
        _apply(session, req, decision, inputs, kind="reevaluation", actor=actor, now=now)
        session.flush()
        changed.append(req.id)
    if changed:
        logger.info("feeder %s: queue re-evaluated, %d request(s) decided", feeder, len(changed))
    return changed


def expire_overdue(session: Session, *, now: dt.datetime | None = None,
                   evaluator: Evaluator | None = None) -> list[int]:
    """Expire approvals not accepted by their ``accept_by`` and hand the capacity to the
    queue (a scheduler job).

    Returns
    -------
    list of int
        Ids of the expired requests.
    """
    from sqlalchemy import select

    now = now or utcnow()
    feeders = sorted(set(session.scalars(
        select(ConnectionRequest.feeder).where(ConnectionRequest.status == "decided",
                                               ConnectionRequest.accept_by < now))))
    if session.in_transaction():
        session.commit()
    expired = []
    for feeder in feeders:
        with write_transaction(session, feeder):
            rows = list(session.scalars(
                select(ConnectionRequest).where(ConnectionRequest.feeder == feeder,
                                                ConnectionRequest.status == "decided",
                                                ConnectionRequest.accept_by < now)
                .execution_options(populate_existing=True)))
            for req in rows:
                req.status, req.expired_at = "expired", now
                repo.audit(session, None, "expire", "request", req.id,
                           {"accept_by": _iso(req.accept_by)})
                expired.append(req.id)
            session.flush()
            if rows:
                reevaluate_queue(session, feeder, evaluator=evaluator, now=now)
    return expired


# --- replay -------------------------------------------------------------------------------------

@contextlib.contextmanager
def _settings_as(snapshot: Mapping[str, Any]) -> Iterator[list[str]]:
    """Run with the settings of ``snapshot`` (fields that differ from now are overridden
    through their GRIDINT_ environment variables). Not thread-safe: for the CLI."""
    current = _settings_snapshot()
    differ = sorted(k for k, v in snapshot.items() if k in current and current[k] != v)
    saved = {}
    try:
        for k in differ:
            env = f"GRIDINT_{k.upper()}"
            saved[env] = os.environ.get(env)
            v = snapshot[k]
            os.environ[env] = v if isinstance(v, str) else json.dumps(v)
        if differ:
            get_settings.cache_clear()
        yield differ
    finally:
        for env, old in saved.items():
            if old is None:
                os.environ.pop(env, None)
            else:
                os.environ[env] = old
        if differ:
            get_settings.cache_clear()


def _same(a: Any, b: Any, rel: float = 1e-9) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) \
                and not isinstance(a, bool) and not isinstance(b, bool):
            return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)
        return False
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y, rel) for x, y in zip(a, b))
    return a == b


def replay_decision(session: Session, decision_id: int, *,
                    evaluator: Evaluator | None = None) -> dict:
    """Re-run the rules engine on a stored decision's inputs, with its settings.

    Returns
    -------
    dict
        ``decision_id, request_id, kind, reproduced, stored, replayed,
        feeder_sha256_then, feeder_sha256_now, feeder_changed, gridint_version_then,
        gridint_version_now, settings_overridden``. A ``study`` decision (an engineer's)
        has nothing to re-run: ``reproduced`` is None.

    Raises
    ------
    RecordNotFound
    """
    rec = repo.get_decision(session, decision_id)
    req_row = repo.get_request(session, rec.request_id)
    now_sha = feeder_sha256(req_row.feeder)
    out = {"decision_id": rec.id, "request_id": rec.request_id, "kind": rec.kind,
           "stored": rec.result, "feeder_sha256_then": rec.feeder_sha256,
           "feeder_sha256_now": now_sha, "feeder_changed": rec.feeder_sha256 != now_sha,
           "gridint_version_then": rec.gridint_version, "gridint_version_now": _version()}
    if rec.kind == "study":
        return out | {"reproduced": None, "replayed": None, "settings_overridden": []}
    spec = im.ConnectionRequest(**rec.inputs["request"])
    ahead = [im.QueuedPV(**a) for a in rec.inputs.get("ahead", [])]
    with _settings_as(rec.settings) as differ:
        replayed = _jsonable((evaluator or default_evaluator)(spec, ahead=ahead).to_dict())
    return out | {"replayed": replayed, "reproduced": _same(rec.result, replayed),
                  "settings_overridden": differ}
