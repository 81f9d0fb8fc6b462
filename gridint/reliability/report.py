"""Plain-text rendering of reliability results (used by ``gridint reliability``)."""

from __future__ import annotations

__all__ = ["format_study", "format_upgrades"]


def format_study(r: dict, top: int = 10) -> str:
    """Readable summary of :func:`gridint.reliability.reliability_study` output."""
    s = r["system"]
    lines = []
    head = f"{r['feeder']}: supply reliability, {r['method']}"
    if r["method"] == "monte-carlo":
        head += f" ({s['years']:,} years, seed {s['seed']}, {s['repair_distribution']} repair times)"
    lines.append(head)
    verdict = "meets" if s["meets_target"] else "MISSES"
    lines.append(f"  RS-1              {s['rs1_percent']:.4f} %  ({verdict} the {r['target_rs1_percent']:g} % target)")
    lines.append(f"  SAIFI             {s['saifi']:.4f} interruptions / customer-year")
    lines.append(f"  SAIDI             {s['saidi_h']:.4f} h / customer-year")
    if r["method"] == "monte-carlo":
        lines.append(f"  SAIDI P10/P50/P90 {s['saidi_h_p10']:.3f} / {s['saidi_h_p50']:.3f} / {s['saidi_h_p90']:.3f} h "
                     f"(mean +/- {s['saidi_h_stderr']:.3f} standard error)")
    lines.append(f"  CAIDI             {s['caidi_h']:.3f} h")
    lines.append(f"  ASAI              {s['asai']:.6f}")
    lines.append(f"  ENS               {s['ens_mwh_per_year']:.3f} MWh / year")
    lines.append(f"  MAIFI             {s['maifi']:.4f} momentary (<= {r['sustained_threshold_min']:g} min) / "
                 "customer-year")
    lines.append(f"  customers         {s['customers']:,}")
    lp = sorted(r["load_points"], key=lambda d: -d["unavailability_h_per_year"] * d["customers"])[:top]
    if lp:
        lines.append(f"  {'load point':<24} {'lambda /yr':>10} {'r h':>8} {'U h/yr':>8} {'customers':>9} "
                     f"{'ENS MWh/yr':>10}")
        for d in lp:
            lines.append(f"  {d['name']:<24} {d['failure_rate_per_year']:>10.4f} {d['outage_h']:>8.2f} "
                         f"{d['unavailability_h_per_year']:>8.3f} {d['customers']:>9,} {d['ens_mwh_per_year']:>10.3f}")
    comps = r["components"][:top]
    if comps:
        lines.append(f"  {'component (by SAIDI)':<24} {'table':<6} {'lambda /yr':>10} {'SAIDI h':>8} {'share':>6}  "
                     "cleared by")
        for c in comps:
            lines.append(f"  {c['name']:<24} {c['table']:<6} {c['failure_rate_per_year']:>10.4f} {c['saidi_h']:>8.4f} "
                         f"{c['share_percent']:>5.1f}%  {c['cleared_by']}")
    for d in r["defaults_used"]:
        lines.append(f"  default used: {d}")
    for n in r["notes"]:
        lines.append(f"  note: {n}")
    return "\n".join(lines)


def format_upgrades(u: dict, top: int = 10) -> str:
    """Readable summary of :func:`gridint.reliability.whatif.rank_upgrades` output."""
    lines = [f"  upgrades ranked by SAIDI gained alone (target RS-1 {u['target_rs1_percent']:g} %):"]
    for d in u["ranking"][:top]:
        lines.append(f"    {d['upgrade']:<48} -{d['saidi_gain_h']:.4f} h  -> RS-1 {d['rs1_percent']:.4f} %")
    if u["steps"]:
        lines.append("  greedy sequence:")
        for k, d in enumerate(u["steps"], 1):
            lines.append(f"    {k}. {d['upgrade']:<45} SAIDI {d['saidi_h']:.4f} h  RS-1 {d['rs1_percent']:.4f} %"
                         + ("  target met" if d["meets_target"] else ""))
    lines.append(f"  target {'met' if u['meets_target'] else 'not met'} after {len(u['steps'])} upgrade(s) "
                 f"({u['evaluations']} evaluations)")
    return "\n".join(lines)
