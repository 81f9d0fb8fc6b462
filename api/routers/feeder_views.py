"""Views of a feeder for the web pages: map (buses, branches, zones, hosting capacity),
quarterly publication download (CSV / GeoJSON) and reliability summary."""
from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, PlainTextResponse

from api.deps import require_role
from api.routers._views import cached, catalog_entry, feeder
from gridint.store.models import User

router = APIRouter(prefix="/feeders", tags=["feeders"])

FeederName = Annotated[str, Path(max_length=100)]
Staff = Annotated[User, Depends(require_role("engineer", "operator", "admin"))]


def _geo(value) -> tuple[float, float] | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        lon, lat = json.loads(value)["coordinates"][:2]
        return float(lon), float(lat)
    except (ValueError, KeyError, TypeError):
        return None


def _topology(name: str) -> dict:
    net = feeder(name).net
    buses = []
    for idx, row in net.bus.iterrows():
        geo = _geo(row.get("geo")) if "geo" in net.bus else None
        buses.append({"index": int(idx), "name": str(row["name"]), "vn_kv": float(row["vn_kv"]),
                      "lon": geo[0] if geo else None, "lat": geo[1] if geo else None,
                      "neighbour": str(row.get("zone", "")).endswith("-neighbour")})
    names = {b["index"]: b["name"] for b in buses}
    edges = []
    for _, ln in net.line.iterrows():
        edges.append({"name": str(ln["name"]), "kind": "line", "from": names[int(ln.from_bus)],
                      "to": names[int(ln.to_bus)], "closed": bool(ln.in_service)})
    for _, tr in net.trafo.iterrows():
        edges.append({"name": str(tr["name"]), "kind": "trafo", "from": names[int(tr.hv_bus)],
                      "to": names[int(tr.lv_bus)], "closed": bool(tr.in_service)})
    for _, sw in net.switch.iterrows():
        if sw.et == "b":  # bus-bus switch (the normally-open tie)
            edges.append({"name": str(sw["name"]), "kind": "tie", "from": names[int(sw.bus)],
                          "to": names[int(sw.element)], "closed": bool(sw.closed)})
    transformers = [{"name": str(tr["name"]), "lv_bus": names[int(tr.lv_bus)],
                     "rated_kva": float(tr.sn_mva) * 1000.0} for _, tr in net.trafo.iterrows()]
    return {"buses": buses, "edges": edges, "transformers": transformers}


def _capacity(name: str) -> dict:
    from gridint.hosting import feeder_capacity

    return feeder_capacity(name)


@router.get("/{name}/map")
def feeder_map(name: FeederName,
               capacity: Annotated[bool, Query(description="add hosting capacity, zone and "
                                                           "binding constraint per bus")] = True
               ) -> dict:
    """Buses with coordinates (lon, lat), branches (line / trafo / tie), transformers (台区)
    and, with ``capacity``, per bus ``hc_kw``, ``zone`` and ``binding`` (the transformer's
    for its LV bus). The same open data as ``/capacity``: no sign-in needed."""
    catalog_entry(name)
    topo = cached(("topology", name), lambda: _topology(name))
    out = {"feeder": name, **topo, "buses": [dict(b) for b in topo["buses"]]}
    if not capacity:
        return out
    cap = _capacity(name)
    by_bus = {b["name"]: b for b in cap["buses"]}
    by_lv = {t["lv_bus"]: t for t in cap["transformers"] if t.get("lv_bus")}
    for b in out["buses"]:
        src = by_lv.get(b["name"]) or by_bus.get(b["name"])
        b["transformer"] = by_lv[b["name"]]["name"] if b["name"] in by_lv else None
        if src is not None:
            b.update(hc_kw=src.get("hc_kw"), zone=src.get("zone"), binding=src.get("binding"))
            if b["transformer"] and b["name"] in by_bus:  # bus hosting capacity of the LV bus
                b["bus_hc_kw"] = by_bus[b["name"]].get("hc_kw")
    out.update({key: cap.get(key) for key in ("feeder_hc_kw", "feeder_binding", "zone",
                                              "reverse_load_rate", "limits", "period", "substation")})
    out["transformers"] = cap["transformers"]
    return out


@router.get("/{name}/publication.csv", response_class=PlainTextResponse)
def publication_csv(name: FeederName,
                    quarter: Annotated[str | None, Query(pattern=r"^\d{4}Q[1-4]$")] = None):
    """The quarterly open-capacity publication of the feeder as CSV (open data)."""
    from gridint.hosting.publish import publication_header, result_csv

    catalog_entry(name)
    text = result_csv([_capacity(name)], publication_header(quarter))
    return PlainTextResponse(text, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{name}-open-capacity.csv"'})


@router.get("/{name}/publication.geojson")
def publication_geojson(name: FeederName,
                        quarter: Annotated[str | None, Query(pattern=r"^\d{4}Q[1-4]$")] = None):
    """The quarterly open-capacity publication of the feeder as GeoJSON (open data)."""
    from gridint.hosting.publish import publication_header, result_geojson

    catalog_entry(name)
    body = result_geojson([_capacity(name)], publication_header(quarter))
    return JSONResponse(body, media_type="application/geo+json", headers={
        "Content-Disposition": f'attachment; filename="{name}-open-capacity.geojson"'})


@router.get("/{name}/reliability")
def reliability(name: FeederName, _user: Staff,
                top: Annotated[int, Query(ge=1, le=100)] = 10) -> dict:
    """Analytical supply reliability of the feeder (``gridint.reliability``; cached):
    SAIFI, SAIDI, RS-1 against the target (99.89 %), the components that cost most."""
    from gridint.reliability.study import reliability_study

    catalog_entry(name)
    r = cached(("reliability", name), lambda: reliability_study(feeder(name), "analytical"))
    return {"feeder": r["feeder"], "method": r["method"],
            "target_rs1_percent": r["target_rs1_percent"], "system": r["system"],
            "components": r["components"][:top], "load_points": r["load_points"],
            "notes": r.get("notes", []), "defaults_used": r.get("defaults_used", [])}
