"""Plain-text renderings of pre-check answers and decision replays (for the CLI)."""
from __future__ import annotations


def _reason(r: dict) -> str:
    parts = [r.get("rule") or "?"]
    if r.get("value") is not None:
        parts.append(f"value {r['value']}")
    if r.get("limit") is not None:
        parts.append(f"limit {r['limit']}")
    if r.get("element"):
        parts.append(f"at {r['element']}")
    if r.get("time"):
        parts.append(f"on {r['time']}")
    return ", ".join(parts)


def format_answer(a: dict) -> str:
    """A pre-check answer (or stored decision) as readable lines."""
    head = f"{a.get('feeder', '')} {a.get('bus', '')}: {a.get('requested_kw', '')} kW".strip()
    lines = [head, f"  decision          {a['decision']}"]
    if a.get("voltage_level"):
        lines.append(f"  voltage level     {a['voltage_level']}")
    if a.get("max_kw_now") is not None:
        lines.append(f"  max kW now        {a['max_kw_now']:,.1f}")
    for r in a.get("reasons") or []:
        lines.append(f"  reason            {_reason(r)}")
    for c in a.get("counter_offers") or []:
        lines.append(f"  counter-offer     {c['kind']}: {c['value']} {c['unit']}")
    for k, v in (a.get("conditions") or {}).items():
        lines.append(f"  condition         {k} = {v}")
    return "\n".join(lines)


def format_replay(r: dict) -> str:
    """A decision replay as readable lines."""
    if r["reproduced"] is None:
        verdict = "nothing to re-run (an engineer's study result)"
    else:
        verdict = "reproduced" if r["reproduced"] else "NOT reproduced"
    lines = [f"decision {r['decision_id']} of request {r['request_id']} ({r['kind']}): {verdict}",
             f"  stored            {r['stored'].get('decision')} (max kW now "
             f"{r['stored'].get('max_kw_now')})"]
    if r.get("replayed") is not None:
        lines.append(f"  replayed          {r['replayed'].get('decision')} (max kW now "
                     f"{r['replayed'].get('max_kw_now')})")
    lines.append(f"  feeder version    {'changed since' if r['feeder_changed'] else 'same as'} "
                 f"the decision ({(r['feeder_sha256_then'] or '?')[:12]})")
    lines.append(f"  gridint version   {r['gridint_version_then']} then, {r['gridint_version_now']} now")
    if r.get("settings_overridden"):
        lines.append(f"  settings as then  {', '.join(r['settings_overridden'])}")
    return "\n".join(lines)
