"use strict";
(async function () {
  const name = document.getElementById("feeder").dataset.feeder;
  const r = await GI.api("/feeders/" + encodeURIComponent(name) + "/map");
  const summary = document.getElementById("summary");
  if (!r.ok) { summary.innerHTML = "<div class='error'>" + GI.esc(GI.errorText(r)) + "</div>"; return; }
  const m = r.data;
  const fb = m.feeder_binding || {};
  summary.innerHTML = `<div>Feeder zone<b>${GI.zoneBadge(m.zone)}</b></div>
    <div>Open capacity<b>${GI.fmt(m.feeder_hc_kw, 0)} kW</b></div>
    <div>Reverse load rate<b>${GI.fmt(m.reverse_load_rate, 3)}</b></div>
    <div>Binding<b>${GI.esc(fb.constraint || "–")}</b>${GI.esc(fb.element || "")}</div>`;

  const at = {};
  m.buses.forEach((b) => { if (b.lon !== null) at[b.name] = b; });
  // branches: one trace of line segments per kind (a null breaks the line)
  const traces = [];
  const kinds = { line: { colour: "#555", dash: "solid", label: "line" }, trafo: { colour: "#999", dash: "dot", label: "transformer" },
                  tie: { colour: "#555", dash: "dash", label: "tie (normally open)" } };
  Object.keys(kinds).forEach((k) => {
    const x = [], y = [];
    m.edges.filter((e) => e.kind === k && at[e.from] && at[e.to]).forEach((e) => {
      x.push(at[e.from].lon, at[e.to].lon, null); y.push(at[e.from].lat, at[e.to].lat, null);
    });
    if (x.length) traces.push({ type: "scatter", mode: "lines", x, y, name: kinds[k].label, hoverinfo: "skip",
                                line: { color: kinds[k].colour, dash: kinds[k].dash, width: k === "line" ? 2.5 : 1.5 } });
  });
  const hover = (b) => {
    const lines = [`<b>${b.transformer ? b.transformer + " (台区) " : ""}${b.name}</b>`, `${b.vn_kv} kV`];
    if (b.hc_kw !== undefined) lines.push(`hosting capacity ${GI.fmt(b.hc_kw, 1)} kW`, `zone ${b.zone}`);
    if (b.binding) lines.push(`binding: ${b.binding.constraint} at ${b.binding.element}`,
      `${GI.fmt(b.binding.value, 3)} vs limit ${GI.fmt(b.binding.limit, 3)}`, GI.time(b.binding.time));
    return lines.join("<br>");
  };
  ["green", "yellow", "red", null].forEach((z) => {
    const bs = Object.values(at).filter((b) => (z ? b.zone === z : !GI.ZONES[b.zone]));
    if (!bs.length) return;
    const style = z ? GI.ZONES[z] : { colour: "#888", label: "no capacity figure (neighbour / substation)", symbol: "circle-open" };
    traces.push({ type: "scatter", mode: "markers+text", name: style.label, x: bs.map((b) => b.lon), y: bs.map((b) => b.lat),
      text: bs.map((b) => b.transformer || b.name.replace(name + "-", "")), textposition: "top center", textfont: { size: 10 },
      hovertext: bs.map(hover), hoverinfo: "text", customdata: bs.map((b) => b.name),
      marker: { color: style.colour, symbol: style.symbol, size: bs.map((b) => (b.transformer ? 13 : 11)), line: { color: "#000", width: 1 } } });
  });
  Plotly.newPlot("map", traces, {
    margin: { l: 50, r: 10, t: 10, b: 40 }, hovermode: "closest", legend: { orientation: "h", y: -0.12 },
    xaxis: { title: "longitude [°]", zeroline: false }, yaxis: { title: "latitude [°]", zeroline: false, scaleanchor: "x", scaleratio: 1.13 },
  }, GI.plotConfig);

  document.querySelector("#trafo-table tbody").innerHTML = (m.transformers || []).map((t) =>
    `<tr><td>${GI.esc(t.name)}</td><td class="num">${GI.fmt(t.rated_kva, 0)}</td><td class="num">${GI.fmt(t.pv_kw, 1)}</td><td class="num">${GI.fmt(t.hc_kw, 1)}</td><td>${GI.zoneBadge(t.zone)}</td></tr>`).join("");
  document.querySelector("#binding-table tbody").innerHTML = m.buses.filter((b) => b.hc_kw !== undefined).map((b) => {
    const g = b.binding || {};
    return `<tr data-bus="${GI.esc(b.name)}"><td>${GI.esc(b.transformer ? b.transformer + " · " : "")}${GI.esc(b.name)}</td><td class="num">${GI.fmt(b.hc_kw, 1)}</td>
      <td>${GI.zoneBadge(b.zone)}</td><td>${GI.esc(g.constraint || "none within the search range")}</td><td class="hide-narrow">${GI.esc(g.element || "")}</td>
      <td class="hide-narrow">${GI.esc(GI.time(g.time))}</td><td class="num">${g.value !== undefined ? GI.fmt(g.value, 3) + " / " + GI.fmt(g.limit, 3) : ""}</td></tr>`;
  }).join("");
})();
