"use strict";
(function () {
  const root = document.getElementById("operator");
  const feeder = root.dataset.feeder, date = root.dataset.date;
  const enc = encodeURIComponent;
  // Okabe-Ito palette (colour-blind safe), dashes tell series apart too
  const PAL = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
  const layout = (more) => Object.assign({ margin: { l: 60, r: 60, t: 10, b: 40 }, hovermode: "x unified",
    legend: { orientation: "h", y: -0.18 }, xaxis: { type: "date" } }, more);
  const err = (id, r) => { document.getElementById(id).innerHTML = "<p class='error'>" + GI.esc(GI.errorText(r)) + "</p>"; };

  async function forecast() {
    const r = await GI.api(`/forecast/${enc(feeder)}?date=${enc(date)}`);
    if (!r.ok) return err("forecast-plot", r);
    const f = r.data, t = f.timestamps.map((s) => s.slice(0, 19));
    Plotly.newPlot("forecast-plot", [
      { x: t, y: f.pv_kw_p10, name: "P10", mode: "lines", line: { color: "#56B4E9", width: 1 } },
      { x: t, y: f.pv_kw_p90, name: "P10–P90 band (P90 edge)", mode: "lines", fill: "tonexty", fillcolor: "rgba(86,180,233,0.3)", line: { color: "#56B4E9", width: 1 } },
      { x: t, y: f.pv_kw_p50, name: `P50 (${GI.fmt(f.energy_kwh_p50, 0)} kWh)`, mode: "lines", line: { color: "#0072B2", width: 3 } },
    ], layout({ yaxis: { title: "PV kW (fleet " + GI.fmt(f.capacity_kwp, 0) + " kWp)", rangemode: "tozero" } }), GI.plotConfig);
  }

  async function plan() {
    const sum = document.getElementById("plan-summary");
    const r = await GI.api(`/dispatch/${enc(feeder)}/${enc(date)}`);
    if (!r.ok) { sum.innerHTML = "<div class='error'>" + GI.esc(GI.errorText(r)) + "</div>"; return; }
    const p = r.data.plan, t = p.timestamps.map((s) => s.slice(0, 19));
    sum.innerHTML = `<div>Version<b>${r.data.version}</b>${r.data.computed ? "made now" : "stored " + GI.esc(GI.time(r.data.stored_at))}</div>
      <div>Violations before → after<b id="violations">${p.violations_before} → ${p.violations_after}</b></div>
      <div>V max before → after<b>${GI.fmt(p.vmax_pu_before, 4)} → ${GI.fmt(p.vmax_pu_after, 4)} pu</b></div>
      <div>Curtailment<b>${GI.fmt(p.curtailment_kwh, 1)} kWh</b></div>
      <div>Outage reserve<b class="${p.reserve_ok ? "pass" : "fail"}">${p.reserve_ok ? "✔ kept" : "✘ short"}</b></div>`;
    const traces = [];
    p.units.forEach((u, k) => {
      const c = PAL[k % PAL.length];
      traces.push({ x: t, y: u.p_kw, name: u.name + " kW (+ charge)", type: "scatter", mode: "lines", line: { color: c, width: 2, shape: "hv" } });
      traces.push({ x: t, y: u.soc_percent, name: u.name + " SoC %", yaxis: "y2", mode: "lines", line: { color: c, width: 2, dash: "dot" } });
    });
    Plotly.newPlot("plan-plot", traces, layout({ yaxis: { title: "power kW (+ = charging)" },
      yaxis2: { title: "SoC %", overlaying: "y", side: "right", range: [0, 100] } }), GI.plotConfig);
    const e = p.envelope || {};
    const lim = (p.before && p.before.limits) || {};
    const vmax = 1.07, vmin = 0.93;
    Plotly.newPlot("envelope-plot", [
      { x: t, y: e.vmax_pu_before, name: "V max before", mode: "lines", line: { color: "#D55E00", dash: "dash" } },
      { x: t, y: e.vmax_pu_after, name: "V max with plan", mode: "lines", line: { color: "#D55E00", width: 3 } },
      { x: t, y: e.vmin_pu_before, name: "V min before", mode: "lines", line: { color: "#0072B2", dash: "dash" } },
      { x: t, y: e.vmin_pu_after, name: "V min with plan", mode: "lines", line: { color: "#0072B2", width: 3 } },
      { x: [t[0], t[t.length - 1]], y: [vmax, vmax], name: "GB/T 12325 limits", mode: "lines", line: { color: "#000", width: 1, dash: "dot" } },
      { x: [t[0], t[t.length - 1]], y: [vmin, vmin], showlegend: false, mode: "lines", line: { color: "#000", width: 1, dash: "dot" } },
    ], layout({ yaxis: { title: "bus voltage pu" } }), GI.plotConfig);
  }

  async function jobs() {
    const tbody = document.querySelector("#jobs-table tbody");
    const r = await GI.api("/scheduler/jobs");
    if (!r.ok) { tbody.innerHTML = `<tr><td colspan="4" class="error">${GI.esc(GI.errorText(r))}</td></tr>`; return; }
    document.getElementById("jobs-note").textContent = r.data.running ? "scheduler running in this server" :
      (r.data.enabled ? "scheduler enabled but not running in this process" : "scheduler disabled (GRIDINT_SCHEDULER_ENABLED=false): jobs as stored");
    tbody.innerHTML = r.data.jobs.length ? r.data.jobs.map((j) => `<tr><td>${GI.esc(j.name)}<br><span class="muted">${GI.esc(j.id)}</span></td>
      <td>${GI.esc(GI.time(j.last_run_time) || "never")}</td><td>${GI.esc(GI.time(j.next_run_time) || "–")}</td>
      <td class="${j.last_error ? "error" : ""}">${GI.esc(j.last_error || "none")}</td></tr>`).join("")
      : "<tr><td colspan='4' class='muted'>no jobs stored</td></tr>";
  }

  forecast(); plan(); jobs();
})();
