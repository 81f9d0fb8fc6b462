"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let inflight = null, seq = 0;

  function body() {
    const b = { feeder: $("feeder").value, bus: $("bus").value, category: $("category").value, mode: $("mode").value,
                ac_kw: parseFloat($("ac_kw").value) };
    const bkw = parseFloat($("battery_kw").value), bkwh = parseFloat($("battery_kwh").value);
    if (bkw > 0) b.battery_kw = bkw;
    if (bkwh > 0) b.battery_kwh = bkwh;
    return b;
  }

  async function buses() {
    const sel = $("bus");
    sel.innerHTML = "<option value=''>loading…</option>";
    const r = await GI.api("/feeders/" + encodeURIComponent($("feeder").value) + "/map?capacity=false");
    if (!r.ok) { sel.innerHTML = "<option value=''>" + GI.esc(GI.errorText(r)) + "</option>"; return; }
    const lv = new Set(r.data.transformers.map((t) => t.lv_bus));
    const opts = r.data.transformers.map((t) => `<option value="${GI.esc(t.name)}">${GI.esc(t.name)} · 台区 0.4 kV, ${GI.fmt(t.rated_kva, 0)} kVA</option>`)
      .concat(r.data.buses.filter((b) => !lv.has(b.name) && !b.neighbour).map((b) => `<option value="${GI.esc(b.name)}">${GI.esc(b.name)} · ${b.vn_kv} kV bus</option>`));
    sel.innerHTML = opts.join("");
    precheck();
  }

  async function precheck() {
    const out = $("precheck-result");
    const b = body();
    $("submit").disabled = true;
    if (!b.bus || !(b.ac_kw > 0)) { out.innerHTML = "<p class='muted'>Pick a bus and a kW above 0.</p>"; return; }
    const my = ++seq;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    out.innerHTML = "<p class='muted'>checking…</p>";
    let r;
    try { r = await GI.api("/precheck", { method: "POST", body: b, signal: inflight.signal }); } catch (e) { return; }
    if (my !== seq) return;
    if (!r.ok) { out.innerHTML = "<p class='error'>" + GI.esc(GI.errorText(r)) + "</p>"; return; }
    const d = r.data;
    out.innerHTML = `<p id="precheck-decision" data-decision="${GI.esc(d.decision)}">${GI.decisionBadge(d.decision)}
      ${d.voltage_level ? " at " + GI.esc(d.voltage_level) : ""}</p>
      <p>Largest kW that fits now: <b id="max-kw">${GI.fmt(d.max_kw_now, 1)}</b> kW (requested ${GI.fmt(d.requested_kw, 1)} kW)</p>
      <h3 style="font-size:1em">Reasons</h3>${GI.reasonsList(d.reasons)}
      ${d.counter_offers && d.counter_offers.length ? "<h3 style='font-size:1em'>Counter-offers</h3>" + GI.offersList(d.counter_offers) : ""}`;
    $("submit").disabled = d.decision === "invalid";
  }
  const later = GI.debounce(precheck, 350);

  $("feeder").addEventListener("change", buses);
  ["bus", "category", "mode"].forEach((id) => $(id).addEventListener("change", precheck));
  ["ac_kw", "battery_kw", "battery_kwh"].forEach((id) => $(id).addEventListener("input", later));

  $("precheck-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("submit").disabled = true;
    const out = $("submit-result");
    out.innerHTML = "<p class='muted'>submitting…</p>";
    const r = await GI.api("/requests", { method: "POST", body: body(),
                                         headers: { "Idempotency-Key": "web-" + Date.now() + "-" + Math.random().toString(36).slice(2) } });
    if (!r.ok) { out.innerHTML = "<p class='error'>" + GI.esc(GI.errorText(r)) + "</p>"; $("submit").disabled = false; return; }
    out.innerHTML = `<p id="submitted" data-request="${r.data.id}">Request #${r.data.id} filed: ${GI.decisionBadge(r.data.decision)} — status ${GI.esc(r.data.status)}${r.data.queue_position ? ", place " + r.data.queue_position + " in the queue" : ""}.</p>`;
    mine();
    $("submit").disabled = false;
  });

  function history(x) {
    return [["submitted", x.submitted_at], ["decided", x.decided_at], ["accepted", x.accepted_at], ["connected", x.connected_at],
            ["withdrawn", x.withdrawn_at], ["expired", x.expired_at], ["rejected", x.rejected_at]]
      .filter((h) => h[1]).map((h) => `${h[0]} ${GI.esc(GI.time(h[1]))}`).join("<br>") +
      (x.accept_by && !x.accepted_at && x.status === "decided" ? `<br><span class="muted">accept by ${GI.esc(GI.time(x.accept_by))}</span>` : "");
  }

  async function mine() {
    const tbody = document.querySelector("#my-requests tbody");
    const r = await GI.api("/requests?limit=500");
    if (!r.ok) { tbody.innerHTML = `<tr><td colspan="7" class="error">${GI.esc(GI.errorText(r))}</td></tr>`; return; }
    if (!r.data.length) { tbody.innerHTML = "<tr><td colspan='7' class='muted'>none yet</td></tr>"; return; }
    const open = ["submitted", "queued", "decided", "accepted"];
    tbody.innerHTML = r.data.slice().reverse().map((x) => `<tr data-request="${x.id}"><td>${x.id}</td>
      <td>${GI.esc(x.feeder)}<br><span class="muted">${GI.esc(x.bus)}</span></td><td class="num">${GI.fmt(x.ac_kw, 1)}</td>
      <td class="status">${GI.esc(x.status)}${x.queue_position ? " (#" + x.queue_position + ")" : ""}</td>
      <td>${GI.decisionBadge(x.decision)}${x.approved_kw ? "<br>" + GI.fmt(x.approved_kw, 1) + " kW approved" : ""}</td>
      <td>${history(x)}</td>
      <td>${open.includes(x.status) ? `<button class="secondary withdraw" data-id="${x.id}" type="button">Withdraw</button>` : ""}</td></tr>`).join("");
    tbody.querySelectorAll("button.withdraw").forEach((b) => b.addEventListener("click", async () => {
      if (!confirm("Withdraw request #" + b.dataset.id + "?")) return;
      b.disabled = true;
      const w = await GI.api("/requests/" + b.dataset.id + "/withdraw", { method: "POST" });
      if (!w.ok) alert(GI.errorText(w));
      mine();
    }));
  }

  buses();
  mine();
})();
