"""Request workflow on the store: FIFO decisions, queue re-evaluation when capacity
appears, idempotency, replay, users, dispatch plans (SQLite and PostgreSQL)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from gridint.config import get_settings
from gridint.errors import IdempotencyConflict, RecordNotFound, StateConflict
from gridint.interconnection.model import RequestInvalid
from gridint.store import repo, workflow, write_transaction
from gridint.store.models import AuditLog, ConnectionRequest, DecisionRecord, User
from tests.store.fakes import CapacityEvaluator

FEEDER, BUS = "xt-county-rural", "T01"


def body(kw, **kw_more):
    return {"feeder": FEEDER, "bus": BUS, "category": "residential_natural_person",
            "mode": "surplus_export", "ac_kw": kw, **kw_more}


@pytest.fixture
def env(sessions):
    ev = CapacityEvaluator(limit_kw=50.0)
    with sessions() as s, write_transaction(s):
        alice, _ = repo.create_user(s, "alice", "installer")
        eng, _ = repo.create_user(s, "eve", "engineer")
    return sessions, ev, alice, eng


def _submit(env, kw, **more):
    sessions, ev, alice, _ = env
    with sessions() as s:
        return workflow.submit(s, alice, body(kw, **more), evaluator=ev).body


def _state(sessions, rid):
    with sessions() as s:
        r = repo.get_request(s, rid)
        return r.status, r.decision, repo.queue_position(s, r)


def test_users_keep_only_the_token_hash(sessions):
    with sessions() as s, write_transaction(s):
        user, token = repo.create_user(s, "op1", "operator")
    with sessions() as s:
        stored = s.get(User, user.id)
        assert token not in (stored.token_sha256, stored.name)
        assert stored.token_sha256 == repo.hash_token(token) and len(stored.token_sha256) == 64
        assert repo.user_by_token(s, token).name == "op1"
        assert repo.user_by_token(s, token + "x") is None
        with pytest.raises(StateConflict):
            repo.create_user(s, "op1", "operator")
        with pytest.raises(ValueError, match="role"):
            repo.create_user(s, "op2", "superuser")


def test_fifo_and_an_eligible_request_that_fits_is_never_refused(env):
    a, b, c = _submit(env, 20), _submit(env, 20), _submit(env, 20)
    assert [x["decision"] for x in (a, b, c)] == ["approved", "approved", "queued"]
    assert c["status"] == "queued" and c["queue_position"] == 1
    assert c["counter_offers"] == [{"kind": "max_kw", "value": 10.0, "unit": "kW"}]
    d = _submit(env, 5)  # later but fits: approved, not held behind c
    e = _submit(env, 10)
    assert d["decision"] == "approved" and e["decision"] == "queued" and e["queue_position"] == 2
    assert a["submitted_at"] < b["submitted_at"] < c["submitted_at"] < d["submitted_at"]
    sessions = env[0]
    with sessions() as s:
        ahead = repo.queue_ahead(s, FEEDER)
        assert [(q.request_id, q.ac_kw) for q in ahead] == [(a["id"], 20), (b["id"], 20), (d["id"], 5)]
        rec = repo.latest_decision(s, e["id"])
        assert [x["request_id"] for x in rec.inputs["ahead"]] == [a["id"], b["id"], d["id"]]
        assert rec.feeder_sha256 == workflow.feeder_sha256(FEEDER) and len(rec.feeder_sha256) == 64
        assert "database_url" not in rec.settings and rec.settings["vm_max_pu"] == 1.07


@pytest.mark.parametrize("how", ["withdraw", "reject", "connect_less", "reinforce", "expire"])
def test_queue_re_evaluated_in_order_when_capacity_appears(env, how):
    sessions, ev, alice, eng = env
    a, b = _submit(env, 30), _submit(env, 15)            # 45 of 50 kW held
    q1, q2, q3 = _submit(env, 20), _submit(env, 10), _submit(env, 4)
    assert [x["decision"] for x in (q1, q2, q3)] == ["queued", "queued", "approved"]  # 49 kW
    with sessions() as s:
        if how == "withdraw":
            workflow.withdraw(s, alice, a["id"], evaluator=ev)          # frees 30 -> 19 held
        elif how == "reject":
            workflow.record_study(s, eng, a["id"], result="rejected", note="protection",
                                  evaluator=ev)
        elif how == "connect_less":
            workflow.accept(s, alice, a["id"])
            workflow.mark_connected(s, eng, a["id"], connected_kw=0.5, evaluator=ev)
        elif how == "reinforce":
            ev.limit_kw = 80.0
            workflow.record_reinforcement(s, eng, FEEDER, element="T01", description="630 kVA",
                                          capacity_kw=30.0, evaluator=ev)
        else:
            workflow.expire_overdue(s, now=dt.datetime.now(dt.timezone.utc)
                                    + dt.timedelta(days=get_settings().request_accept_days + 1),
                                    evaluator=ev)
    # q1 (20) fits first; q2 (10) then only if room remains: FIFO, each holding before the next
    assert _state(sessions, q1["id"])[:2] == ("decided", "approved")
    if how == "expire":  # everything approved expired: 0 held, q1 + q2 = 30 fit
        assert _state(sessions, a["id"])[0] == "expired"
        assert _state(sessions, q2["id"])[:2] == ("decided", "approved")
    else:
        held = {"withdraw": 19.0, "reject": 19.0, "connect_less": 19.5, "reinforce": 49.0}[how]
        limit = ev.limit_kw
        fits_q2 = held + 20 + 10 <= limit
        assert _state(sessions, q2["id"]) == (("decided", "approved", None) if fits_q2
                                              else ("queued", "queued", 1))
    with sessions() as s:
        kinds = [r.kind for r in repo.decisions_of(s, q1["id"])]
        assert kinds == ["automatic", "reevaluation"]
        total = sum(q.ac_kw for q in repo.queue_ahead(s, FEEDER))
        assert total <= ev.limit_kw + 1e-9


def test_lifecycle_guards_and_audit(env):
    sessions, ev, alice, eng = env
    a = _submit(env, 10)
    with sessions() as s:
        workflow.accept(s, alice, a["id"])
        with pytest.raises(StateConflict):
            workflow.accept(s, alice, a["id"])
        with pytest.raises(RequestInvalid, match="connected_kw"):
            workflow.mark_connected(s, eng, a["id"], connected_kw=11.0, evaluator=ev)
        out = workflow.mark_connected(s, eng, a["id"], evaluator=ev).body
        assert out["status"] == "connected" and out["connected_kw"] == 10.0
        with pytest.raises(StateConflict):
            workflow.withdraw(s, alice, a["id"], evaluator=ev)
        with pytest.raises(RecordNotFound):
            workflow.withdraw(s, alice, 12345, evaluator=ev)
        actions = [e.action for e in repo.audit_entries(s, "request", a["id"])]
        assert actions == ["submit", "decision_automatic", "accept", "connect"]
    # connected PV counts as connected (C1) for the next request
    with sessions() as s:
        assert [(q.status, q.ac_kw) for q in repo.queue_ahead(s, FEEDER)] == [("connected", 10.0)]


def test_installer_sees_only_own(env):
    sessions, ev, alice, eng = env
    a = _submit(env, 10)
    with sessions() as s, write_transaction(s):
        bob, _ = repo.create_user(s, "bob", "installer")
    with sessions() as s:
        with pytest.raises(RecordNotFound):
            workflow.visible_request(s, bob, a["id"])
        with pytest.raises(RecordNotFound):
            workflow.withdraw(s, bob, a["id"], evaluator=ev)
        assert workflow.visible_request(s, eng, a["id"]).id == a["id"]


def test_invalid_requests_store_nothing(env):
    sessions, ev, alice, _ = env
    bad = [(body(10, category="large_ci", mode="full_export"), "mode"),
           (body(10, feeder="no-such-feeder"), "feeder"),
           (body(10, bus="NO-SUCH-BUS"), "bus"),
           (body(-1), "ac_kw"),
           (body(10, battery_kw=5), "battery_kwh")]
    for b, field in bad:
        with sessions() as s, pytest.raises(RequestInvalid) as err:
            workflow.submit(s, alice, b, evaluator=ev)
        assert err.value.field == field
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ConnectionRequest)) == 0
        assert s.scalar(select(func.count()).select_from(DecisionRecord)) == 0
        assert s.scalar(select(func.count()).select_from(AuditLog)) == 0


def test_idempotency_key(env):
    sessions, ev, alice, _ = env
    key = workflow.Idempotency(alice.id, "k-1", "POST /api/v1/requests", body(10))
    with sessions() as s:
        first = workflow.submit(s, alice, body(10), evaluator=ev, idempotency=key)
        again = workflow.submit(s, alice, body(10), evaluator=ev, idempotency=key)
        assert (first.replayed, again.replayed) == (False, True)
        assert again.body == first.body and again.status_code == 201
        other = workflow.Idempotency(alice.id, "k-1", "POST /api/v1/requests", body(11))
        with pytest.raises(IdempotencyConflict):
            workflow.submit(s, alice, body(11), evaluator=ev, idempotency=other)
        assert s.scalar(select(func.count()).select_from(ConnectionRequest)) == 1


def test_replay_reproduces_and_detects_change(env):
    sessions, ev, _, _ = env
    _submit(env, 30)
    q = _submit(env, 30)
    with sessions() as s:
        rec = repo.latest_decision(s, q["id"])
        r = workflow.replay_decision(s, rec.id, evaluator=ev)
        assert r["reproduced"] is True and r["feeder_changed"] is False
        assert r["replayed"] == r["stored"] and r["settings_overridden"] == []
        ev.limit_kw = 100.0  # a different engine answer must show
        r = workflow.replay_decision(s, rec.id, evaluator=ev)
        assert r["reproduced"] is False and r["replayed"]["decision"] == "approved"
        with pytest.raises(RecordNotFound):
            workflow.replay_decision(s, 9999, evaluator=ev)


def test_replay_runs_with_the_stored_settings(env, monkeypatch):
    sessions, ev, _, _ = env
    seen = []

    def engine(req, *, ahead=()):
        seen.append(get_settings().vm_max_pu)
        return ev(req, ahead=ahead)

    with sessions() as s:
        out = workflow.submit(s, env[2], body(10), evaluator=engine).body
    monkeypatch.setenv("GRIDINT_VM_MAX_PU", "1.05")
    get_settings.cache_clear()
    try:
        with sessions() as s:
            r = workflow.replay_decision(s, out["decision_id"], evaluator=engine)
        assert r["settings_overridden"] == ["vm_max_pu"] and r["reproduced"] is True
        assert seen == [1.07, 1.07] and get_settings().vm_max_pu == 1.05
    finally:
        monkeypatch.delenv("GRIDINT_VM_MAX_PU")
        get_settings.cache_clear()


def test_dispatch_plans_are_versioned(sessions):
    day = dt.date(2025, 7, 1)
    with sessions() as s:
        with write_transaction(s, FEEDER):
            v1 = repo.add_dispatch_plan(s, FEEDER, day, {"p_kw": [1, 2]})
        with write_transaction(s, FEEDER):
            v2 = repo.add_dispatch_plan(s, FEEDER, day, {"p_kw": [3, 4]})
        assert (v1.version, v2.version) == (1, 2)
        assert repo.latest_dispatch_plan(s, FEEDER, day).plan == {"p_kw": [3, 4]}
        assert repo.latest_dispatch_plan(s, FEEDER, day + dt.timedelta(days=1)) is None


def test_engine_invalid_names_the_field():
    from gridint.interconnection.model import Decision, Reason

    err = workflow._invalid(Decision("invalid", "380V", None, (
        Reason("validity.mode", value="large_ci may use full_self_consumption"),)))
    assert (err.field, err.reason) == ("mode", "large_ci may use full_self_consumption")
    err = workflow._invalid(Decision("invalid", None, None, (Reason("capacity", element="bus"),)))
    assert err.field == "bus"
    assert workflow._invalid(Decision("invalid", None, None, ())).field == "body"
