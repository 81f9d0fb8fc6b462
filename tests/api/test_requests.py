"""The request workflow through HTTP: precheck stores nothing, submission, queue,
withdrawal re-evaluates, engineer actions, idempotent retries, capacity 501."""
from __future__ import annotations

from sqlalchemy import func, select

from gridint.store.models import AuditLog, ConnectionRequest
from tests.api.conftest import req_body


def _count(api, model):
    with api.sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_precheck_is_anonymous_and_stores_nothing(api):
    c = api.client
    r = c.post("/api/v1/precheck", json=req_body(20))
    assert r.status_code == 200
    got = r.json()
    assert {"feeder", "bus", "requested_kw", "decision", "voltage_level", "max_kw_now", "reasons",
            "counter_offers"} <= set(got)
    assert got["decision"] == "approved" and got["requested_kw"] == 20.0
    assert _count(api, ConnectionRequest) == 0 and _count(api, AuditLog) == 0
    # the queue ahead counts: after 45 kW approved, 20 kW no longer fits
    c.post("/api/v1/requests", json=req_body(45), headers=api.auth("alice"))
    got = c.post("/api/v1/precheck", json=req_body(20)).json()
    assert got["decision"] == "queued" and got["max_kw_now"] == 5.0
    assert got["counter_offers"] == [{"kind": "max_kw", "value": 5.0, "unit": "kW"}]


def test_lifecycle_over_http(api):
    c, a = api.client, api.auth
    first = c.post("/api/v1/requests", json=req_body(40), headers=a("alice")).json()
    queued = c.post("/api/v1/requests", json=req_body(30), headers=a("bob")).json()
    assert (first["status"], first["decision"]) == ("decided", "approved")
    assert (queued["status"], queued["queue_position"]) == ("queued", 1)
    assert queued["submitted_at"].endswith("+08:00")  # Asia/Shanghai, ISO 8601 with offset
    r = c.post(f"/api/v1/requests/{first['id']}/withdraw", headers=a("alice"))
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    now = c.get(f"/api/v1/requests/{queued['id']}", headers=a("bob")).json()
    assert (now["status"], now["decision"], now["queue_position"]) == ("decided", "approved", None)
    assert c.post(f"/api/v1/requests/{queued['id']}/accept", headers=a("bob")).status_code == 200
    r = c.post(f"/api/v1/requests/{queued['id']}/connected", json={"connected_kw": 25.0},
               headers=a("eve"))
    assert r.status_code == 200 and r.json()["connected_kw"] == 25.0
    assert c.post(f"/api/v1/requests/{first['id']}/withdraw", headers=a("alice")).status_code == 409


def test_study_and_reinforcement(api):
    c, a = api.client, api.auth
    big = c.post("/api/v1/requests", json=req_body(45), headers=a("alice")).json()
    waiting = c.post("/api/v1/requests", json=req_body(20), headers=a("bob")).json()
    r = c.post(f"/api/v1/requests/{big['id']}/study",
               json={"result": "approved_with_conditions", "approved_kw": 25.0,
                     "conditions": {"export_limit_kw": 25.0}, "note": "export limited"},
               headers=a("eve"))
    assert r.status_code == 200
    assert r.json()["decision"] == "approved_with_conditions" and r.json()["approved_kw"] == 25.0
    # 20 kW freed: the waiting request is approved in the same transaction
    assert c.get(f"/api/v1/requests/{waiting['id']}", headers=a("bob")).json()["status"] == "decided"
    third = c.post("/api/v1/requests", json=req_body(20), headers=a("bob")).json()
    assert third["status"] == "queued"
    api.evaluator.limit_kw = 100.0
    r = c.post("/api/v1/feeders/xt-county-rural/reinforcements",
               json={"element": "T01", "description": "400 -> 630 kVA", "capacity_kw": 50.0},
               headers=a("eve"))
    assert r.status_code == 201 and r.json()["reevaluated_approved"] == [third["id"]]
    lst = c.get("/api/v1/feeders/xt-county-rural/reinforcements", headers=a("oscar")).json()
    assert [x["element"] for x in lst] == ["T01"]


def test_idempotent_retry_is_not_filed_twice(api):
    c, a = api.client, api.auth
    h = a("alice", **{"Idempotency-Key": "retry-1"})
    r1 = c.post("/api/v1/requests", json=req_body(10), headers=h)
    r2 = c.post("/api/v1/requests", json=req_body(10), headers=h)
    assert r1.status_code == r2.status_code == 201
    assert r2.json() == r1.json() and r2.headers.get("idempotent-replayed") == "true"
    assert _count(api, ConnectionRequest) == 1
    r3 = c.post("/api/v1/requests", json=req_body(11), headers=h)
    assert r3.status_code == 409
    # keys are per user: bob's same key is his own
    assert c.post("/api/v1/requests", json=req_body(10),
                  headers=a("bob", **{"Idempotency-Key": "retry-1"})).status_code == 201
    assert _count(api, ConnectionRequest) == 2


def test_feeders(api_sqlite, monkeypatch):
    c = api_sqlite.client
    names = [f["name"] for f in c.get("/api/v1/feeders").json()]
    assert "xt-county-rural" in names and "xt-yuetang-urban" in names
    assert c.get("/api/v1/feeders/nope/capacity").status_code == 404
    import gridint.hosting as hosting

    if not hasattr(hosting, "feeder_capacity"):
        r = c.get("/api/v1/feeders/xt-county-rural/capacity")
        assert r.status_code == 501 and "feeder_capacity" in r.json()["detail"]
    monkeypatch.setattr(hosting, "feeder_capacity", lambda name: {"feeder": name, "hc_kw": 1.5},
                        raising=False)
    r = c.get("/api/v1/feeders/xt-county-rural/capacity")
    assert r.status_code == 200 and r.json() == {"feeder": "xt-county-rural", "hc_kw": 1.5}


def test_sql_and_html_in_free_text_are_stored_verbatim(api_sqlite):
    c, a = api_sqlite.client, api_sqlite.auth
    text = "<script>alert(1)</script>'; DROP TABLE users; --"
    r = c.post("/api/v1/requests", json=req_body(5, applicant=text[:100]), headers=a("alice"))
    assert r.status_code == 201 and r.json()["applicant"] == text[:100]
    assert c.get("/api/v1/users/me", headers=a("alice")).status_code == 200
