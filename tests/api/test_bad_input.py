"""More than 200 malformed or hostile requests: never a 5xx, every 422 names the field,
oversized bodies get 413, and the store is unchanged (SQLite and PostgreSQL)."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from gridint.store.models import Base
from tests.api.conftest import req_body

HOSTILE_TEXT = ["' OR 1=1 --", "x'; DROP TABLE users; --", "<script>alert(1)</script>",
                "<img src=x onerror=alert(1)>", "../../etc/passwd", "\x00", "Ｔ０１", "%00%27",
                "${jndi:ldap://x}", "{{7*7}}"]
WRONG_FOR_TEXT = [None, 1, 1.5, True, [], {}, "", "   ", "x" * 101, ["T01"], {"$ne": ""}]
WRONG_FOR_NUMBER = ["10", "ten", True, False, [], {}, [10], {"value": 10}, -1, -1e-9, -1e308,
                    1e308, 1e9, 20_000.5, "NaN", "1e400"]


def _request_bodies() -> list:
    """Connection-request bodies that must all be refused (field-level and structural)."""
    out = []
    for f in ("feeder", "bus"):
        out += [req_body(**{f: v}) for v in WRONG_FOR_TEXT + HOSTILE_TEXT]
    for f in ("category", "mode"):
        out += [req_body(**{f: v}) for v in [None, 1, "", "RESIDENTIAL", "full export"]
                + HOSTILE_TEXT[:4]]
    out += [req_body(ac_kw=v) for v in WRONG_FOR_NUMBER + [0, None]]
    out += [req_body(dc_kwp=v) for v in ["10", True, [], 0, -5, 1e9, 1.0]]   # 1.0 < 0.5 x 10? no: ratio
    out += [req_body(battery_kw=v, battery_kwh=10) for v in ["5", -1, 1e308, True]]
    out += [req_body(battery_kw=5), req_body(battery_kwh=5), req_body(battery_kw=5, battery_kwh=-1)]
    out += [req_body(power_factor=v) for v in [0.5, 0.9, 1.01, -1, 0, "1", True]]
    out += [req_body(volt_var=v) for v in ["yes", 1, 0, None, "true", []]]
    out += [req_body(applicant=v) for v in [1, [], {}, "", "x" * 101]]
    for f in ("feeder", "bus", "category", "mode", "ac_kw"):
        b = req_body()
        del b[f]
        out.append(b)
    out += [req_body(admin=True), req_body(id=5), req_body(status="connected"),
            req_body(owner_id=1), req_body(category="large_ci", mode="full_export"),
            [], [req_body()], "string", 42, None, {}]
    return out


RAW = [b"", b"null", b"{", b'{"feeder":', b"\xff\xfe\x00", b'{"ac_kw": NaN}',
       b'{"ac_kw": Infinity}', b'{"ac_kw": 1e400}', b"[" * 5000 + b"]" * 5000,
       b'{"a":' * 3000 + b"1" + b"}" * 3000,
       json.dumps(req_body()).encode()[:-1] + b', "ac_kw": -1}',  # duplicate key, last wins
       b"feeder=xt-county-rural&bus=T01"]


def _snapshot(api) -> dict:
    with api.sessions() as s:
        out = {}
        for name, table in Base.metadata.tables.items():
            out[name] = s.scalar(select(func.count()).select_from(table))
        rows = s.execute(select(Base.metadata.tables["connection_requests"])).all()
        out["requests"] = sorted(tuple(str(v) for v in r) for r in rows)
        return out


def _check(r, label: str, counts: dict) -> None:
    assert r.status_code < 500, f"{label}: {r.status_code} {r.text[:200]}"
    if r.status_code == 200 and "precheck" in label:  # the engine's answer can be `invalid`
        assert r.json()["decision"] == "invalid" and r.json()["reasons"], label
        counts["200 invalid"] = counts.get("200 invalid", 0) + 1
        return
    assert 400 <= r.status_code < 500, f"{label}: accepted with {r.status_code}"
    counts[r.status_code] = counts.get(r.status_code, 0) + 1
    if r.status_code == 422:
        detail = r.json()["detail"]
        assert isinstance(detail, list) and detail and all(d.get("field") for d in detail), label


def test_hostile_inputs(api):
    c, a = api.client, api.auth
    ok = c.post("/api/v1/requests", json=req_body(10), headers=a("alice")).json()["id"]
    before = _snapshot(api)
    counts: dict = {}
    n = 0
    bodies = _request_bodies()
    for path, headers in (("/api/v1/precheck", {}), ("/api/v1/requests", a("alice"))):
        for i, b in enumerate(bodies):
            _check(c.post(path, json=b, headers=headers), f"{path} body #{i} {b!r:.120}", counts)
            n += 1
        for i, raw in enumerate(RAW):
            r = c.post(path, content=raw, headers={**headers, "Content-Type": "application/json"})
            _check(r, f"{path} raw #{i}", counts)
            n += 1
        # oversized: declared, and streamed (chunked, no Content-Length)
        big = req_body(applicant="x" * 70_000)
        r = c.post(path, json=big, headers=headers)
        assert r.status_code == 413, r.status_code
        r = c.post(path, content=(b"x" * 10_000 for _ in range(10)),
                   headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 413, r.status_code
        r = c.post(path, content=b"{" + b" " * 2_000_000 + b"}",
                   headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 413
        n += 3
        counts[413] = counts.get(413, 0) + 3
    eng = a("eve")
    others = [
        (f"/api/v1/requests/{ok}/study", eng, [
            {}, {"result": "maybe"}, {"result": "approved", "approved_kw": -1},
            {"result": "approved", "approved_kw": "5"}, {"result": "approved", "approved_kw": 1e9},
            {"result": "approved", "conditions": [1]}, {"result": "approved", "conditions": {"a": {"b": 1}}},
            {"result": "approved", "note": "x" * 3000}, {"result": None}, {"result": 1},
            {"result": "approved", "extra": 1}]),
        (f"/api/v1/requests/{ok}/connected", eng, [
            {"connected_kw": -1}, {"connected_kw": "5"}, {"connected_kw": 0}, {"connected_kw": 1e9},
            {"connected_kw": True}, {"other": 1}, []]),
        ("/api/v1/feeders/xt-county-rural/reinforcements", eng, [
            {}, {"element": "T01"}, {"element": "", "description": "x"},
            {"element": "x" * 101, "description": "x"}, {"element": "T01", "description": "x",
                                                         "capacity_kw": -5},
            {"element": 1, "description": "x"}, {"element": "T01", "description": "x" * 2001}]),
        ("/api/v1/feeders/nope/reinforcements", eng, [{"element": "T01", "description": "x"}]),
        ("/api/v1/users", a("root"), [
            {}, {"name": "a b", "role": "installer"}, {"name": "x'; DROP TABLE users; --",
                                                       "role": "installer"},
            {"name": "zed", "role": "root"}, {"name": "<b>zed</b>", "role": "admin"},
            {"name": "x" * 101, "role": "admin"}, {"name": 5, "role": "admin"},
            {"name": "alice", "role": "installer"}]),
        ("/api/v1/requests/999999/withdraw", a("alice"), [None]),
        ("/api/v1/requests/0/withdraw", a("alice"), [None]),
    ]
    for path, headers, items in others:
        for b in items:
            _check(c.post(path, json=b, headers=headers), f"{path} {b!r:.80}", counts)
            n += 1
    gets = ["/api/v1/requests/abc", "/api/v1/requests/-1", "/api/v1/requests/0",
            "/api/v1/requests/99999999999999999999", "/api/v1/requests/1.5",
            "/api/v1/requests?limit=0", "/api/v1/requests?limit=100000", "/api/v1/requests?offset=-1",
            "/api/v1/requests?status=bogus", "/api/v1/requests?feeder=" + "x" * 200,
            "/api/v1/requests/%27%20OR%201=1", "/api/v1/feeders/..%2F..%2Fetc%2Fpasswd/capacity",
            "/api/v1/feeders/%3Cscript%3E/capacity"]
    for g in gets:
        _check(c.get(g, headers=a("eve")), g, counts)
        n += 1
    for key in ("k" * 500, " "):
        r = c.post("/api/v1/requests", json=req_body(), headers=a("alice", **{"Idempotency-Key": key}))
        _check(r, f"idempotency key {key[:10]!r}", counts)
        n += 1
    assert n >= 200, n
    assert _snapshot(api) == before
    print(f"\nbad-input test: {n} requests, status counts {dict(sorted(counts.items(), key=str))}, no 5xx, "
          "store unchanged")
