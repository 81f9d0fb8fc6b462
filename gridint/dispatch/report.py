"""Plain-text report of a dispatch plan (what ``gridint dispatch`` prints)."""

from __future__ import annotations

import numpy as np

__all__ = ["format_plan"]


def _v(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def format_plan(plan) -> str:
    """Readable summary of a :class:`gridint.dispatch.DispatchPlan`.

    Returns
    -------
    str
        Several lines: AC check before / after (P50), every unit (owner,
        power range, energy, SoC), curtailment per PV system, P10 / P90
        scenarios, residual violations, timings.
    """
    d = plan.summary()
    b, a = plan.before, plan.after
    out = [f"{d['feeder']}: {plan.kind} storage dispatch for {d['date']} ({d['n_steps']} x 15 min)",
           f"  PV / loads        {plan.source}",
           f"  {'':18}{'before':>10}{'after':>10}",
           f"  {'max voltage [pu]':18}{_v(b['vmax_pu']):>10}{_v(a['vmax_pu']):>10}",
           f"  {'min voltage [pu]':18}{_v(b['vmin_pu']):>10}{_v(a['vmin_pu']):>10}",
           f"  {'violations':18}{b['violations']:>10}{a['violations']:>10}   "
           f"(voltage {a['violations_by_kind']['voltage']}, thermal {a['violations_by_kind']['thermal']}, "
           f"reverse power {a['violations_by_kind']['reverse_power']} after)",
           f"  {'losses [kWh]':18}{b['energy_losses_kwh']:>10.1f}{a['energy_losses_kwh']:>10.1f}"]
    out.append(f"  {'unit':<26}{'owner':<9}{'min kW':>8}{'max kW':>8}{'in kWh':>9}{'out kWh':>9}"
               f"{'SoC %':>14}")
    h = plan.dt_h
    for k, name in enumerate(plan.units.names):
        p = plan.p_kw[:, k]
        soc = plan.soc_percent[:, k]
        out.append(f"  {str(name):<26}{plan.units.owner[k]:<9}{p.min():>8.1f}{p.max():>8.1f}"
                   f"{np.clip(p, 0, None).sum() * h:>9.1f}{np.clip(-p, 0, None).sum() * h:>9.1f}"
                   f"{plan.units.soc_init_percent[k]:>6.1f} -> {soc[-1]:<5.1f}")
    out.append(f"  reserve kept      {'yes' if d['reserve_ok'] else 'NO'}"
               + "".join(f"; {r['name']}: {r['reason']}" for r in plan.reserve_short))
    curt = plan.curtail_kw
    total = d["curtailment_kwh"]
    out.append(f"  curtailment       {total:.1f} kWh" + (" (none needed)" if total == 0 else ""))
    for g in curt.columns:
        x = curt[g].to_numpy()
        if x.max() > 1e-6:
            out.append(f"    {plan.pv_names.get(g, g):<24}{x.sum() * h:>9.1f} kWh, up to {x.max():.1f} kW")
    for key, sc in plan.scenarios.items():
        w, wo = sc["with_plan"], sc["without_plan"]
        extra = (f", contingent curtailment {sc['contingent_curtailment_kwh']:.1f} kWh"
                 if sc.get("contingent_curtailment_kwh") else "")
        out.append(f"  {key.upper()} PV ({sc['pv_kwh']:,.0f} kWh) violations {wo['violations']} -> {w['violations']},"
                   f" max voltage {_v(wo['vmax_pu'])} -> {_v(w['vmax_pu'])}{extra}")
    for r in plan.residual[:10]:
        out.append(f"  residual: {r['time']} {r['kind']} {r['element'] or ''} {r['value']} "
                   f"(limit {r['limit']}): {r['reason']}")
    if len(plan.residual) > 10:
        out.append(f"  ... {len(plan.residual) - 10} more residual violations")
    tm = plan.timings
    out.append(f"  solve             {d['solve_s']:.3f} s ({plan.iterations} AC iteration(s), "
               f"{plan.lp.get('power_flows', 0):,} power flows, LP {tm.get('lp_s', 0):.3f} s); "
               f"inputs {tm.get('inputs_s', 0):.2f} s, compile {tm.get('compile_s', 0):.2f} s")
    return "\n".join(out)
