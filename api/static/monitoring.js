// DER monitoring panel (issue 10): counts, flagged devices, latest storage SoC of one feeder.
// Reads /telemetry/status and /telemetry/latest; refreshes every data-refresh-s seconds while
// the page is open (and at once when a hidden tab comes back after that long).
"use strict";
(function () {
  const root = document.getElementById("monitoring");
  if (!root) return;
  const feeder = root.dataset.feeder, tz = root.dataset.timezone;
  const intervalMin = Number(root.dataset.intervalMin), refreshS = Number(root.dataset.refreshS) || 60;
  const enc = encodeURIComponent, $ = (id) => document.getElementById(id);
  const nInput = $("silent-n");
  const ISO = /\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)/g;
  const dtf = new Intl.DateTimeFormat("en-GB", { timeZone: tz, year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  let controller = null, lastRun = 0;

  // "YYYY-MM-DD HH:MM" (seconds too if asked) in the configured time zone (Asia/Shanghai)
  function local(iso, seconds) {
    if (!iso) return "";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return String(iso);
    const p = {};
    dtf.formatToParts(d).forEach((x) => { p[x.type] = x.value; });
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}` + (seconds ? ":" + p.second : "");
  }
  function span(minutes) {
    if (minutes < 60) return `${Math.round(minutes)} min`;
    if (minutes < 48 * 60) { const h = Math.floor(minutes / 60), m = Math.round(minutes % 60); return m ? `${h} h ${m} min` : `${h} h`; }
    return `${Math.round(minutes / 1440)} d`;
  }
  function ago(iso, nowIso) {
    if (!iso) return "";
    const m = (new Date(nowIso) - new Date(iso)) / 60000;
    return m < 1 ? "just now" : span(m) + " ago";
  }
  const N = () => { const n = Number(nInput.value); return Number.isInteger(n) && n >= 1 && n <= 10000 ? n : null; };
  const vpu = (v) => v === null || v === undefined ? "–" : Number(v).toFixed(3);
  const every = (s) => s === 60 ? "minute" : span(s / 60);
  const cell = (label, html, cls) => `<td data-label="${GI.esc(label)}"${cls ? ` class="${cls}"` : ""}>${html}</td>`;
  const seen = (iso, now) => iso ? `<span>${GI.esc(local(iso))}<br><span class="muted">${GI.esc(ago(iso, now))}</span></span>` : "<span class='muted'>never</span>";

  function flaggedRow(d, now) {
    const badges = (d.silent ? "<span class='flag flag-silent'>silent</span>" : "") +
      (d.out_of_limits ? "<span class='flag flag-out'>out of limits</span>" : "");
    const reasons = d.reasons.map((r) => "<li>" + GI.esc(r.replace(ISO, (t) => local(t) + " " + tz)) + "</li>").join("");
    return `<tr data-device="${GI.esc(d.device)}">` +
      cell("Device", `<b>${GI.esc(d.device)}</b>`, "dev") + cell("Kind", GI.esc(d.kind)) + cell("Bus", GI.esc(d.bus), "bus") +
      cell("Last seen", seen(d.time, now)) + cell("P kW", GI.fmt(d.p_kw, 1), "num") +
      cell("SoC %", d.kind === "storage" ? GI.fmt(d.soc_percent, 0) : "<span class='muted'>n/a</span>", "num") +
      cell("V pu", vpu(d.v_pu), "num" + (d.out_of_limits ? " fail" : "")) +
      cell("Reasons", `<div class="flags">${badges}</div><ul class="reasons">${reasons}</ul>`, "reasons-cell") + "</tr>";
  }

  function storageRow(d, st) {
    const stale = !d.time || new Date(d.time) < new Date(st.silent_since);
    const soc = d.soc_percent;
    const bar = soc === null || soc === undefined ? "<span class='muted'>no SoC measured</span>" :
      `<span><span class="socbar" role="img" aria-label="state of charge ${GI.fmt(soc, 0)} %"><span style="width:${Math.max(0, Math.min(100, soc))}%"></span></span>` +
      `<b class="soc-value">${GI.fmt(soc, 0)} %</b></span>`;
    return `<tr data-device="${GI.esc(d.device)}"${stale ? " class='stale'" : ""}>` +
      cell("Device", `<b>${GI.esc(d.device)}</b>`, "dev") + cell("Bus", GI.esc(d.bus), "bus") + cell("SoC", bar, "soc") +
      cell("P kW", d.p_kw === null ? "–" : (d.p_kw > 0 ? "+" : "") + GI.fmt(d.p_kw, 1), "num") +
      cell("Energy kWh", GI.fmt(d.energy_kwh, 0), "num") +
      cell("Measured", `<span>${seen(d.time, st.now)}${stale && d.time ? " <span class='flag flag-silent'>stale</span>" : ""}</span>`) + "</tr>";
  }

  function render(st, latest) {
    const empty = st.devices_total === 0;
    $("mon-empty").hidden = !empty;
    $("mon-body").hidden = empty;
    $("mon-counts").hidden = empty;
    $("mon-total").textContent = st.devices_total;
    $("mon-reporting").textContent = st.devices_total - st.silent;
    $("mon-silent").textContent = st.silent;
    $("mon-out").textContent = st.out_of_limits;
    $("mon-silent-tile").classList.toggle("alert", st.silent > 0);
    $("mon-out-tile").classList.toggle("alert", st.out_of_limits > 0);
    const flagged = document.querySelector("#mon-flagged tbody");
    flagged.innerHTML = st.devices.length ? st.devices.map((d) => flaggedRow(d, st.now)).join("") :
      `<tr class="placeholder"><td colspan="8" class="pass">✔ all ${st.devices_total} devices reporting and within the voltage band</td></tr>`;
    const storage = latest.filter((d) => d.kind === "storage");
    document.querySelector("#mon-storage tbody").innerHTML = storage.length ? storage.map((d) => storageRow(d, st)).join("") :
      "<tr class='placeholder'><td colspan='6' class='muted'>no storage registered on this feeder</td></tr>";
  }

  async function refresh() {
    const n = N();
    if (n === null) { $("mon-error").textContent = "N: a whole number 1–10,000"; return; }
    $("mon-error").textContent = "";
    $("silent-window").textContent = span(n * intervalMin);
    if (controller) controller.abort();
    controller = new AbortController();
    const signal = controller.signal;
    lastRun = Date.now();
    let st, lt;
    try {
      [st, lt] = await Promise.all([
        GI.api(`/telemetry/status?feeder=${enc(feeder)}&silent_intervals=${n}`, { signal }),
        GI.api(`/telemetry/latest?feeder=${enc(feeder)}`, { signal })]);
    } catch (e) {
      if (e.name === "AbortError") return;
      $("mon-error").textContent = "server not reachable; trying again every " + every(refreshS);
      return;
    }
    if (!st.ok || !lt.ok) { $("mon-error").textContent = GI.errorText(st.ok ? lt : st); return; }
    render(st.data, lt.data);
    root.dataset.loaded = String(Number(root.dataset.loaded || 0) + 1);
    $("mon-updated").textContent = `updated ${local(st.data.now, true)} ${tz} · refreshes every ${every(refreshS)}`;
  }

  nInput.addEventListener("input", GI.debounce(() => {
    const n = N();
    if (n !== null) {
      const u = new URL(location.href);
      u.searchParams.set("silent_intervals", n);
      history.replaceState(null, "", u);
    }
    refresh();
  }, 400));
  nInput.addEventListener("keydown", (e) => { if (e.key === "Enter") { e.preventDefault(); refresh(); } });
  $("mon-refresh").addEventListener("click", refresh);
  setInterval(() => { if (!document.hidden) refresh(); }, refreshS * 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && Date.now() - lastRun >= refreshS * 1000) refresh();
  });
  refresh();
})();
