"""The real rules engine (gridint.interconnection.evaluate) plugged into the API unchanged:
a submission reserves AC-verified capacity, the next one sees it in the queue ahead (C2),
a stored decision replays to the same answer, and a withdrawal hands the capacity on."""
from __future__ import annotations

from fastapi.testclient import TestClient

from api import create_app
from gridint.store import repo, workflow
from tests.api.conftest import add_users, settings_for

FEEDER, BUS = "xt-jingkai-industrial", "xt-jingkai-industrial-N03"  # 10 kV bus


def test_real_engine_end_to_end(tmp_path):
    app = create_app(settings_for(f"sqlite:///{tmp_path / 'real.db'}"))  # default evaluator
    body = {"feeder": FEEDER, "bus": BUS, "category": "general_ci", "mode": "surplus_export",
            "ac_kw": 500.0}
    with TestClient(app) as c:
        tokens = add_users(app)
        h = {"Authorization": f"Bearer {tokens['alice']}"}
        pre = c.post("/api/v1/precheck", json=body).json()
        assert pre["decision"] == "approved", pre
        hc_kw = pre["max_kw_now"]
        kw = round(0.6 * hc_kw, 1)  # two of these do not fit together
        assert 400.0 < kw <= 6000.0, hc_kw  # a 10 kV connection
        first = c.post("/api/v1/requests", json={**body, "ac_kw": kw}, headers=h).json()
        assert first["decision"] == "approved" and first["voltage_level"] == pre["voltage_level"]
        second = c.post("/api/v1/requests", json={**body, "ac_kw": kw}, headers=h).json()
        assert (second["status"], second["decision"]) == ("queued", "queued"), second
        assert abs(second["max_kw_now"] - (hc_kw - kw)) <= 0.05 * hc_kw  # C2 = C1 - queue ahead
        bad = c.post("/api/v1/requests", json={**body, "category": "large_ci"}, headers=h)
        assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "mode"
        with app.state.sessions() as s:
            assert len(repo.list_requests(s)) == 2
            for rid in (first["id"], second["id"]):
                r = workflow.replay_decision(s, repo.latest_decision(s, rid).id)
                assert r["reproduced"] is True and r["feeder_changed"] is False
        c.post(f"/api/v1/requests/{first['id']}/withdraw", headers=h)
        now = c.get(f"/api/v1/requests/{second['id']}", headers=h).json()
        assert now["status"] == "decided" and now["decision"] == "approved", now
