"""Authentication and roles: 401 without a token, 403 for a wrong role, 404 for another
installer's request; users and tokens."""
from __future__ import annotations

from tests.api.conftest import req_body


def test_health_and_openapi(api_sqlite):
    c = api_sqlite.client
    r = c.get("/api/v1/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    paths = c.get("/openapi.json").json()["paths"]
    for p in ("/api/v1/health", "/api/v1/precheck", "/api/v1/requests", "/api/v1/requests/{request_id}",
              "/api/v1/requests/{request_id}/withdraw", "/api/v1/requests/{request_id}/study",
              "/api/v1/requests/{request_id}/connected", "/api/v1/feeders",
              "/api/v1/feeders/{name}/capacity", "/api/v1/feeders/{name}/reinforcements"):
        assert p in paths, p


def test_401_without_or_with_a_bad_token(api_sqlite):
    c = api_sqlite.client
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"},
                    {"Authorization": "Bearer "}):
        r = c.get("/api/v1/requests", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers.get("www-authenticate") == "Bearer"
        assert c.post("/api/v1/requests", json=req_body(), headers=headers).status_code == 401


def test_roles(api):
    c, a = api.client, api.auth
    assert c.post("/api/v1/requests", json=req_body(), headers=a("oscar")).status_code == 403
    assert c.post("/api/v1/requests", json=req_body(), headers=a("eve")).status_code == 403
    r = c.post("/api/v1/requests", json=req_body(), headers=a("alice"))
    assert r.status_code == 201
    rid = r.json()["id"]
    study = {"result": "approved"}
    assert c.post(f"/api/v1/requests/{rid}/study", json=study, headers=a("alice")).status_code == 403
    assert c.post(f"/api/v1/requests/{rid}/connected", json={}, headers=a("oscar")).status_code == 403
    assert c.post("/api/v1/feeders/xt-county-rural/reinforcements",
                  json={"element": "T01", "description": "x"}, headers=a("alice")).status_code == 403
    assert c.post("/api/v1/users", json={"name": "zed", "role": "admin"},
                  headers=a("eve")).status_code == 403


def test_installer_sees_only_own_requests(api):
    c, a = api.client, api.auth
    mine = c.post("/api/v1/requests", json=req_body(), headers=a("alice")).json()["id"]
    theirs = c.post("/api/v1/requests", json=req_body(5), headers=a("bob")).json()["id"]
    assert c.get(f"/api/v1/requests/{theirs}", headers=a("alice")).status_code == 404
    assert c.get(f"/api/v1/requests/{mine}", headers=a("alice")).status_code == 200
    assert c.post(f"/api/v1/requests/{theirs}/withdraw", headers=a("alice")).status_code == 404
    assert [r["id"] for r in c.get("/api/v1/requests", headers=a("alice")).json()] == [mine]
    for who in ("eve", "oscar", "root"):
        assert [r["id"] for r in c.get("/api/v1/requests", headers=a(who)).json()] == [mine, theirs]
    assert c.get("/api/v1/requests/999999", headers=a("eve")).status_code == 404


def test_admin_adds_users_and_the_token_works(api_sqlite):
    c, a = api_sqlite.client, api_sqlite.auth
    r = c.post("/api/v1/users", json={"name": "carol", "role": "installer"}, headers=a("root"))
    assert r.status_code == 201
    token = r.json()["token"]
    me = c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"name": "carol", "role": "installer"}
    again = c.post("/api/v1/users", json={"name": "carol", "role": "installer"}, headers=a("root"))
    assert again.status_code == 409
