"""End to end in Chromium: installer pre-check and submission, the engineer's queue and map,
the operator's plan, roles kept apart (403 pages, installers see only their own requests).

The scenario steps share one server and one request, so they run in one test
(:func:`test_end_to_end`; pytest-xdist may send the tests of a module to different workers)."""
from __future__ import annotations

import pytest

from tests.web.conftest import FEEDER, shot

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

#: shared between the steps of the end-to-end scenario
STATE: dict = {}


def test_sign_in_lands_on_role_page_and_other_pages_are_403(server, browser, sign_in):
    base, _ = server
    page = sign_in("alice")
    assert page.url.endswith("/installer")
    assert "alice (installer)" in page.inner_text("#who")
    resp = page.goto("/engineer")
    assert resp.status == 403
    assert "not for role installer" in page.inner_text("#error-detail")
    assert page.goto("/operator").status == 403
    # a wrong token is refused on the sign-in page; no cookie: pages send you to sign in
    ctx = browser.new_context(base_url=base)
    p = ctx.new_page()
    p.goto("/engineer")
    assert "/login" in p.url
    p.fill("#token", "gi_not-a-token")
    p.click("#login-button")
    p.wait_for_selector("#login-error:not(:empty)")
    assert "not valid" in p.inner_text("#login-error")
    ctx.close()


def step_installer_prechecks_submits_and_sees_the_decision(sign_in):
    page = sign_in("alice")
    page.wait_for_selector("#bus option[value='T01']", state="attached")
    page.select_option("#bus", "T01")
    page.fill("#ac_kw", "30")  # typed: the debounced pre-check answers
    page.wait_for_selector("#precheck-decision[data-decision='approved']")
    assert "technical" in page.inner_text("#precheck-result")
    float(page.inner_text("#max-kw").replace(",", ""))  # a number
    page.click("#submit")
    page.wait_for_selector("#submitted")
    rid = page.get_attribute("#submitted", "data-request")
    assert "approved" in page.inner_text("#submitted")
    page.wait_for_selector(f"#my-requests tr[data-request='{rid}']")
    row = page.inner_text(f"#my-requests tr[data-request='{rid}']")
    assert "decided" in row and "submitted" in row
    STATE["request_id"] = rid
    shot(page, "installer-1280x800")
    # a request too large for a 0.4 kV transformer: the answer says why, as you type
    page.fill("#ac_kw", "3000")
    page.wait_for_selector("#precheck-decision[data-decision='invalid']")
    assert "10 kV" in page.inner_text("#precheck-result")


def test_installer_page_at_phone_width(sign_in):
    page = sign_in("alice", width=390, height=844)
    page.wait_for_selector("#bus option[value='T01']", state="attached")
    page.wait_for_function("() => !document.querySelector('#my-requests tbody').innerText.includes('loading')")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no sideways scroll
    shot(page, "installer-phone")


def step_engineer_sees_the_request_in_the_queue_and_the_map(sign_in):
    rid = STATE["request_id"]
    page = sign_in("eve")
    assert page.url.endswith("/engineer")
    page.wait_for_selector(f"#queue-table tr[data-request='{rid}']")
    row = page.inner_text(f"#queue-table tr[data-request='{rid}']")
    assert "alice" in row and "approved" in row and "technical" in row
    page.wait_for_selector("#rs1")
    assert "99.89" in page.inner_text("#reliability")
    page.wait_for_selector(f"tr[data-feeder='{FEEDER}'] .zone[data-zone]")
    shot(page, "engineer-1280x800")

    page.goto(f"/engineer/feeders/{FEEDER}")
    page.wait_for_function("() => { const d = document.getElementById('map'); return d && d.data && d.data.length > 0; }")
    traces = page.evaluate("""() => document.getElementById('map').data.map(t => ({
        mode: t.mode, n: (t.x || []).filter(v => v !== null).length,
        colour: t.marker ? t.marker.color : null, name: t.name}))""")
    buses = [t for t in traces if t["mode"].startswith("markers")]
    zoned = [t for t in buses if t["colour"] in ("#009E73", "#E69F00", "#D55E00")]
    assert sum(t["n"] for t in zoned) >= 12  # every feeder bus drawn, coloured by its zone
    assert any(t["mode"] == "lines" and t["n"] > 0 for t in traces)  # branches
    assert page.locator("svg .scatterlayer .point").count() >= 12  # rendered, not only data
    page.wait_for_selector("#binding-table tr[data-bus]")
    assert page.locator("#binding-table tr[data-bus]").count() >= 12
    href = page.get_attribute("#dl-csv", "href")
    resp = page.request.get(href)
    assert resp.ok and "binding_constraint" in resp.text()
    shot(page, "engineer-feeder-map-1280x800")


def step_operator_sees_forecast_plan_and_jobs(sign_in):
    page = sign_in("oscar")
    assert page.url.endswith("/operator")
    page.goto(f"/operator?feeder={FEEDER}&date=2024-07-15")
    page.wait_for_function("() => { const d = document.getElementById('plan-plot'); return d && d.data && d.data.length > 0; }")
    plan = page.evaluate("() => document.getElementById('plan-plot').data.map(t => (t.y || []).length)")
    assert plan and all(n == 96 for n in plan)  # power and SoC of each battery, 96 quarter-hours
    page.wait_for_function("() => { const d = document.getElementById('forecast-plot'); return d && d.data && d.data.length === 3; }")
    page.wait_for_function("() => { const d = document.getElementById('envelope-plot'); return d && d.data && d.data.length >= 4; }")
    page.wait_for_selector("#jobs-note:not(:empty)")
    assert "disabled" in page.inner_text("#jobs-note")
    assert "→" in page.inner_text("#violations")
    shot(page, "operator-1280x800")


def step_second_installer_cannot_see_the_first_ones_request(sign_in):
    rid = STATE["request_id"]
    page = sign_in("bob")
    page.wait_for_selector("#my-requests tbody tr td")
    page.wait_for_function("() => !document.querySelector('#my-requests tbody').innerText.includes('loading')")
    assert page.locator(f"#my-requests tr[data-request='{rid}']").count() == 0
    status = page.evaluate(f"""async () => (await fetch('/api/v1/requests/{rid}',
        {{headers: {{Authorization: 'Bearer ' + GI.token()}}}})).status""")
    assert status == 404
    assert page.goto("/engineer").status == 403


def step_installer_withdraws(sign_in):
    rid = STATE["request_id"]
    page = sign_in("alice")
    page.wait_for_selector(f"#my-requests tr[data-request='{rid}'] button.withdraw")
    page.on("dialog", lambda d: d.accept())
    page.click(f"#my-requests tr[data-request='{rid}'] button.withdraw")
    page.wait_for_function(f"""() => {{ const r = document.querySelector("#my-requests tr[data-request='{rid}'] .status");
        return r && r.innerText.includes('withdrawn'); }}""")
    assert "withdrawn" in page.inner_text(f"#my-requests tr[data-request='{rid}']")


def test_end_to_end(sign_in):
    """Installer files a request, the engineer sees it and the map, the operator the plan,
    a second installer cannot see it, the first withdraws it."""
    STATE.clear()
    step_installer_prechecks_submits_and_sees_the_decision(sign_in)
    step_engineer_sees_the_request_in_the_queue_and_the_map(sign_in)
    step_operator_sees_forecast_plan_and_jobs(sign_in)
    step_second_installer_cannot_see_the_first_ones_request(sign_in)
    step_installer_withdraws(sign_in)
