"""DER monitoring panel (issue 10) in Chromium: counts, flagged devices with reasons and
local times, the N-silent-intervals control, the latest storage SoC, the minute refresh,
phone width, the deliberate empty state, and who may see it."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.web.conftest import FEEDER, shot

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

TZ = ZoneInfo("Asia/Shanghai")
EMPTY_FEEDER = "xt-yuetang-urban"


def _fill(server) -> dict:
    """Three devices on FEEDER: a PV at 1.09 pu, a charging battery, a PV silent for 3 h.
    PV power 0 kW, so the points are valid at any hour (night check)."""
    base, tokens = server
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    t = {"recent": now - dt.timedelta(minutes=10), "earlier": now - dt.timedelta(minutes=25),
         "old": now - dt.timedelta(hours=3)}
    h = {"Authorization": f"Bearer {tokens['oscar']}"}
    with httpx.Client(base_url=base + "/api/v1", headers=h, timeout=30) as c:
        # real 0.4 kV bus names of the catalog feeder, from the server (as the installer page
        # gets them; loading the feeder in this process would cost seconds)
        topo = c.get(f"/feeders/{FEEDER}/map", params={"capacity": "false"}).json()
        buses = [b["name"] for b in topo["buses"] if b["name"].endswith("-LV")][:3]
        assert len(buses) == 3, topo["buses"]
        for body in ({"name": "mon-pv-high", "bus": buses[0], "kind": "pv", "rating_kw": 30.0},
                     {"name": "mon-bat", "bus": buses[1], "kind": "storage", "rating_kw": 50.0,
                      "energy_kwh": 100.0},
                     {"name": "mon-pv-quiet", "bus": buses[2], "kind": "pv", "rating_kw": 20.0}):
            r = c.post("/devices", json={"feeder": FEEDER, **body})
            assert r.status_code == 201, r.text
        r = c.post("/telemetry", json={"points": [
            {"device": "mon-pv-high", "time": t["recent"].isoformat(), "p_kw": 0.0, "v_pu": 1.09},
            {"device": "mon-bat", "time": t["earlier"].isoformat(), "p_kw": 10.0, "soc_percent": 58.0,
             "v_pu": 1.01},
            {"device": "mon-bat", "time": t["recent"].isoformat(), "p_kw": 12.0, "soc_percent": 62.0,
             "v_pu": 1.01},
            {"device": "mon-pv-quiet", "time": t["old"].isoformat(), "p_kw": 0.0, "v_pu": 1.0}]})
        assert r.status_code == 200 and r.json()["accepted"] == 4, r.text
    return {"buses": buses, "times": t, "client": (base, h)}


def _counts(page) -> tuple[str, ...]:
    return tuple(page.inner_text(f"#mon-{k}") for k in ("total", "reporting", "silent", "out"))


def _wait_loaded(page, at_least: int = 1) -> None:
    page.wait_for_function(f"() => Number(document.getElementById('monitoring').dataset.loaded || 0) >= {at_least}")


def test_monitoring_panel(server, browser, sign_in):
    data = _fill(server)
    buses, t = data["buses"], data["times"]

    page = sign_in("oscar", next="/monitoring")
    # the forecast and the storage plan of the operator page are test_pages' business: not
    # computed here (seconds of CPU), their cards say so
    for path in ("**/api/v1/forecast/**", "**/api/v1/dispatch/**"):
        page.route(path, lambda route: route.fulfill(status=503, json={"detail": "not computed in this test"}))
    page.clock.install()  # fake timers (time still flows): the minute refresh without waiting a minute
    page.goto(f"/operator?feeder={FEEDER}")
    _wait_loaded(page)
    assert _counts(page) == ("3", "2", "1", "1")  # registered, reporting, silent, out of limits
    rows = page.locator("#mon-flagged tbody tr[data-device]")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.device)")) == ["mon-pv-high", "mon-pv-quiet"]
    high = page.inner_text("#mon-flagged tr[data-device='mon-pv-high']")
    assert "out of limits" in high and "v_pu 1.090 outside 0.93..1.07" in high and buses[0] in high
    assert "1.090" in high and t["recent"].astimezone(TZ).strftime("%Y-%m-%d %H:%M") in high
    quiet = page.inner_text("#mon-flagged tr[data-device='mon-pv-quiet']")
    old_local = t["old"].astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    assert "silent" in quiet and "no data since " + old_local + " Asia/Shanghai" in quiet
    assert "3 h ago" in quiet and "(4 intervals of 15 min)" in quiet
    assert "Last seen (Asia/Shanghai)" in page.inner_text("#mon-flagged thead")
    bat = page.inner_text("#mon-storage tr[data-device='mon-bat']")  # latest SoC, not the earlier one
    assert "62 %" in bat and "+12" in bat and "100" in bat and buses[1] in bat
    assert page.locator("#mon-storage tbody tr[data-device]").count() == 1  # storage only
    shot(page, "monitoring-operator-1280x800", "#monitoring")

    # N silent intervals: 20 x 15 min = 5 h, the 3-h-old device counts as reporting again
    page.fill("#silent-n", "20")
    page.wait_for_function("() => document.getElementById('mon-silent').innerText === '0'")
    assert _counts(page) == ("3", "3", "0", "1") and "silent_intervals=20" in page.url
    assert "5 h" in page.inner_text("#silent-window")
    page.fill("#silent-n", "4")
    page.wait_for_function("() => document.getElementById('mon-silent').innerText === '1'")

    # the quiet device reports; a minute later the page shows it without a reload
    base, h = data["client"]
    fresh = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)
    r = httpx.post(base + "/api/v1/telemetry", headers=h, timeout=30, json={"points": [
        {"device": "mon-pv-quiet", "time": fresh.isoformat(), "p_kw": 0.0, "v_pu": 1.0}]})
    assert r.json()["accepted"] == 1
    loaded = int(page.get_attribute("#monitoring", "data-loaded"))
    page.clock.fast_forward(61_000)
    _wait_loaded(page, loaded + 1)
    page.wait_for_function("() => document.getElementById('mon-silent').innerText === '0'")
    assert page.locator("#mon-flagged tbody tr[data-device]").count() == 1

    # phone width: stacked rows, no sideways scroll
    phone = sign_in("oscar", width=390, height=844,
                    next=f"/monitoring?feeder={FEEDER}&silent_intervals=8")
    _wait_loaded(phone)
    assert phone.input_value("#silent-n") == "8" and "2 h" in phone.inner_text("#silent-window")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    assert phone.locator("#mon-flagged tr[data-device='mon-pv-high']").is_visible()
    shot(phone, "monitoring-phone")

    # an engineer reaches the monitoring page; a feeder without devices says so
    eng = sign_in("eve", next=f"/monitoring?feeder={EMPTY_FEEDER}")
    _wait_loaded(eng)
    assert eng.locator("#mon-empty").is_visible() and not eng.locator("#mon-body").is_visible()
    assert "No devices registered on this feeder" in eng.inner_text("#mon-empty")
    assert not eng.locator("#mon-counts").is_visible()  # no row of zeros
    shot(eng, "monitoring-empty-1280x800")
    inst = sign_in("alice", next="/monitoring")
    assert inst.goto("/monitoring").status == 403
    assert "not for role installer" in inst.inner_text("#error-detail")
