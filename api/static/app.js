// gridint web pages: shared helpers (token, API calls, zones, formatting). No framework.
"use strict";
const GI = {
  ZONES: {
    green: { colour: "#009E73", label: "green: open", symbol: "circle" },
    yellow: { colour: "#E69F00", label: "yellow: limited", symbol: "diamond" },
    red: { colour: "#D55E00", label: "red: no capacity", symbol: "x" },
  },
  token() {
    const m = document.cookie.match(/(?:^|;\s*)gridint_token=([^;]*)/);
    return localStorage.getItem("gridint_token") || (m ? decodeURIComponent(m[1]) : "");
  },
  remember(token) {
    localStorage.setItem("gridint_token", token);
    document.cookie = "gridint_token=" + encodeURIComponent(token) + "; path=/; SameSite=Strict";
  },
  signOut() {
    localStorage.removeItem("gridint_token");
    document.cookie = "gridint_token=; path=/; max-age=0; SameSite=Strict";
    location.href = "/login";
  },
  async api(path, opts = {}) {
    const headers = Object.assign({ Accept: "application/json" }, opts.headers || {});
    const token = GI.token();
    if (token) headers.Authorization = "Bearer " + token;
    let body = opts.body;
    if (body !== undefined && typeof body !== "string") {
      body = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const resp = await fetch("/api/v1" + path, { method: opts.method || "GET", headers, body, signal: opts.signal });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    return { ok: resp.ok, status: resp.status, data };
  },
  esc(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  },
  fmt(x, digits = 1) {
    return x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toLocaleString("en", { maximumFractionDigits: digits, minimumFractionDigits: 0 });
  },
  zoneBadge(z) {
    const k = GI.ZONES[z] ? z : "unknown";
    const label = GI.ZONES[z] ? GI.ZONES[z].label : (z || "unknown");
    return `<span class="zone zone-${k}" data-zone="${GI.esc(z || "")}">${GI.esc(label)}</span>`;
  },
  decisionBadge(d) {
    return d ? `<span class="decision decision-${GI.esc(d)}">${GI.esc(d.replace(/_/g, " "))}</span>` : "–";
  },
  reason(r) {
    const bits = [r.rule];
    if (r.value !== null && r.value !== undefined) bits.push("value " + (typeof r.value === "number" ? GI.fmt(r.value, 3) : JSON.stringify(r.value)));
    if (r.limit !== null && r.limit !== undefined) bits.push("limit " + (typeof r.limit === "number" ? GI.fmt(r.limit, 3) : JSON.stringify(r.limit)));
    if (r.element) bits.push("at " + r.element);
    if (r.time) bits.push(r.time.replace("T", " ").slice(0, 16));
    return bits.join(", ");
  },
  reasonsList(rs) {
    return rs && rs.length ? "<ul class='reasons'>" + rs.map((r) => "<li>" + GI.esc(GI.reason(r)) + "</li>").join("") + "</ul>" : "";
  },
  offersList(cs) {
    return cs && cs.length ? "<ul class='reasons'>" + cs.map((c) => "<li>" + GI.esc(c.kind.replace(/_/g, " ")) + ": " +
      GI.esc(typeof c.value === "number" ? GI.fmt(c.value, 1) : JSON.stringify(c.value)) + " " + GI.esc(c.unit || "") + "</li>").join("") + "</ul>" : "";
  },
  time(t) { return t ? String(t).replace("T", " ").slice(0, 16) : ""; },
  debounce(fn, ms) {
    let timer = null;
    return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
  },
  errorText(r) {
    const d = r.data && r.data.detail;
    if (Array.isArray(d)) return d.map((e) => (e.field ? e.field + ": " : "") + e.reason).join("; ");
    return d ? String(d) : "HTTP " + r.status;
  },
  plotConfig: { responsive: true, displaylogo: false },
};
document.addEventListener("DOMContentLoaded", () => {
  const out = document.getElementById("signout");
  if (out) out.addEventListener("click", (e) => { e.preventDefault(); GI.signOut(); });
});
