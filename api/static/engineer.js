"use strict";
(function () {
  const root = document.getElementById("engineer");
  const demo = root.dataset.demoFeeder;

  async function zone(row) {
    const name = row.dataset.feeder;
    const cell = row.querySelector(".zone-cell");
    cell.innerHTML = "<span class='muted'>computing…</span>";
    const r = await GI.api("/feeders/" + encodeURIComponent(name) + "/capacity");
    if (!r.ok) { cell.innerHTML = "<span class='error'>" + GI.esc(GI.errorText(r)) + "</span>"; return; }
    cell.innerHTML = GI.zoneBadge(r.data.zone);
    row.querySelector(".hc-cell").textContent = GI.fmt(r.data.feeder_hc_kw, 0);
  }
  document.querySelectorAll("#feeder-table tr[data-feeder]").forEach((row) => {
    const b = row.querySelector("button.compute");
    if (b) b.addEventListener("click", () => zone(row));
    else zone(row);
  });

  async function reliability() {
    const name = document.getElementById("rel-feeder").value;
    const box = document.getElementById("reliability");
    box.innerHTML = "<p class='muted'>computing…</p>";
    const r = await GI.api("/feeders/" + encodeURIComponent(name) + "/reliability");
    if (!r.ok) { box.innerHTML = "<p class='error'>" + GI.esc(GI.errorText(r)) + "</p>"; return; }
    const s = r.data.system, target = r.data.target_rs1_percent;
    const ok = s.rs1_percent >= target;
    box.innerHTML = `<div class="kpi">
      <div>RS-1<b id="rs1">${GI.fmt(s.rs1_percent, 4)} %</b><span class="${ok ? "pass" : "fail"}">${ok ? "✔ meets" : "✘ below"} target ${GI.fmt(target, 2)} %</span></div>
      <div>SAIFI<b>${GI.fmt(s.saifi, 3)}</b>/customer/year</div>
      <div>SAIDI<b>${GI.fmt(s.saidi_h, 3)} h</b>/customer/year</div>
      <div>ENS<b>${GI.fmt(s.ens_mwh_per_year, 2)}</b>MWh/year</div></div>
      <h3 style="font-size:1em">Components that cost most</h3>
      <table><thead><tr><th>Component</th><th class="num">λ /year</th><th class="num">SAIDI h</th><th class="num">share %</th></tr></thead><tbody>` +
      r.data.components.slice(0, 5).map((c) => `<tr><td>${GI.esc(c.name)} <span class="muted">${GI.esc(c.table)}</span></td><td class="num">${GI.fmt(c.failure_rate_per_year, 3)}</td><td class="num">${GI.fmt(c.saidi_h, 3)}</td><td class="num">${GI.fmt(c.share_percent, 1)}</td></tr>`).join("") +
      "</tbody></table>";
  }
  document.getElementById("rel-feeder").addEventListener("change", reliability);
  reliability();

  async function queue() {
    const f = document.getElementById("queue-feeder").value, st = document.getElementById("queue-status").value;
    const q = new URLSearchParams({ limit: "500" });
    if (f) q.set("feeder", f);
    if (st) q.set("status", st);
    const body = document.querySelector("#queue-table tbody");
    const r = await GI.api("/requests?" + q);
    if (!r.ok) { body.innerHTML = `<tr><td colspan="7" class="error">${GI.esc(GI.errorText(r))}</td></tr>`; return; }
    if (!r.data.length) { body.innerHTML = "<tr><td colspan='7' class='muted'>no requests</td></tr>"; return; }
    body.innerHTML = r.data.map((x) => `<tr data-request="${x.id}"><td>${x.id}</td><td>${GI.esc(x.owner)}</td>
      <td>${GI.esc(x.feeder)}<br><span class="muted">${GI.esc(x.bus)}</span></td><td class="num">${GI.fmt(x.ac_kw, 1)}</td>
      <td>${GI.esc(x.status)}${x.queue_position ? " (#" + x.queue_position + ")" : ""}</td>
      <td>${GI.decisionBadge(x.decision)}${x.max_kw_now !== null ? "<br><span class='muted'>max now " + GI.fmt(x.max_kw_now, 1) + " kW</span>" : ""}</td>
      <td>${GI.reasonsList(x.reasons)}</td></tr>`).join("");
  }
  document.getElementById("queue-refresh").addEventListener("click", queue);
  document.getElementById("queue-feeder").addEventListener("change", queue);
  document.getElementById("queue-status").addEventListener("change", queue);
  queue();
})();
