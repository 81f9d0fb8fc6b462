"""Rules engine: validity, connection voltage level, AC-verified technical fit.

Must connect when eligible (应接必接): a request that is valid, at the right
voltage level, and fits the feeder together with the queue ahead of it is
approved -- never refused. Rules, each with its source in the settings:

1. ``validity`` -- category/mode combination (NEA 2025 rules,
   ``allowed_modes``), general C&I size (``general_ci_max_kw``), known feeder
   and bus;
2. ``voltage_level`` -- connection voltage by AC size (Q/GDW 1480, GB/T 50865:
   <= 8 kW 220 V single-phase, 8-400 kW 380 V, 400 kW-6 MW 10 kV, above:
   referred to a manual study) and whether the bus has that level;
3. ``technical`` -- the request with the queue ahead of it (C2) respects
   voltage (GB/T 12325), thermal and reverse-power (DL/T 2041) limits at every
   studied step: the hosting-capacity engine, AC-confirmed on every step of
   the feeder's year.

Decisions: ``approved``; ``approved_with_conditions`` (fits only with the
inverter setting the grid company may require under GB/T 29319 -- PF 0.95
absorbing or volt-var -- or with the export limit / battery the request
states); ``queued`` (eligible, no capacity now: counter-offers given);
``referred`` (needs a manual study); ``invalid`` (field and reason).

Export modelled: ``full_export`` and ``surplus_export`` inject the whole PV
output (surplus export can be all of it on a day without on-site load: the
conservative case); ``full_self_consumption`` exports nothing (an
anti-reverse-power relay is a condition of connection).

Counter-offers (all AC-verified on every step; none offered that fails): the
largest kW that fits now; the export limit that makes the full rating fit; the
smallest battery (kW, with ``counter_offer_battery_hours`` of energy) that
makes it fit with the peak-shaving dispatch rule
(:func:`gridint.hosting.engine.peak_shave_kw`); the inverter settings that
make it fit.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
from collections import OrderedDict
from typing import Sequence

import numpy as np

from gridint.config import get_settings
from gridint.errors import CatalogError, FeederError, GridintError
from gridint.hosting.engine import Binding, Site, _Study, check_sites, solve_sites
from gridint.interconnection.model import (
    ConnectionRequest,
    CounterOffer,
    Decision,
    QueuedPV,
    Reason,
)

logger = logging.getLogger(__name__)

__all__ = ["evaluate", "voltage_level", "feeder_version", "clear_cache"]

_LOCK = threading.RLock()
_FEEDERS: dict[str, "_FeederContext"] = {}
_STUDIES_PER_FEEDER = 4


def voltage_level(ac_kw: float) -> str:
    """Connection voltage for an AC rating (Q/GDW 1480, GB/T 50865).

    Returns
    -------
    str
        ``"220 V"`` (single-phase), ``"380 V"``, ``"10 kV"`` or ``"35 kV"``.
    """
    s = get_settings()
    if ac_kw <= s.connect_single_phase_max_kw:
        return "220 V"
    if ac_kw <= s.connect_lv_max_kw:
        return "380 V"
    if ac_kw <= s.connect_mv_max_kw:
        return "10 kV"
    return "35 kV"


class _FeederContext:
    """A catalog feeder ready for decisions: compiled net, year injections, PV shape,
    and the base studies for the last few queue states (LRU)."""

    def __init__(self, name: str):
        from gridint.grid.catalog import load_feeder, read_catalog
        from gridint.hosting.study import _feeder_buses, _prepare

        catalog = read_catalog()
        if name not in catalog:
            raise CatalogError(f"unknown feeder {name!r}")
        self.feeder = load_feeder(name)
        self.version = feeder_version(self.feeder)
        steps = "year" if self.feeder.has_profiles else "snapshot"
        self.c, p, q, self.shape, self.tindex, self.mode = _prepare(self.feeder, steps)
        self.p, self.q = np.atleast_2d(p), np.atleast_2d(q)  # a snapshot is one step
        cols = _feeder_buses(self.feeder.net, self.c, self.feeder.voltage_kv)
        self.bus_col = {str(self.c.bus_names[i]): int(i) for i in cols}
        net = self.feeder.net
        self.trafo_lv = {str(n): str(self.c.bus_names[self.c.bus_position(int(b))])
                         for n, b in zip(net.trafo.name, net.trafo.lv_bus)}
        self.studies: OrderedDict = OrderedDict()
        self.hc_cache: dict = {}

    def column(self, bus: str) -> int | None:
        bus = self.trafo_lv.get(bus, bus)
        return self.bus_col.get(bus)

    def hc(self, study: _Study, site: Site, kw: dict):
        """AC-confirmed hosting capacity of a site in a queue state (cached)."""
        key = (id(study), site.key())
        with _LOCK:
            hit = self.hc_cache.get(key)
        if hit is not None:
            return hit
        res = solve_sites(study, [site], max_kw=get_settings().hosting_max_kw, **kw)[0]
        with _LOCK:
            if len(self.hc_cache) > 4096:
                self.hc_cache.clear()
            self.hc_cache[key] = res
        return res

    def study(self, ahead: Sequence[QueuedPV]) -> _Study:
        key = tuple(sorted((str(a.bus), round(float(a.ac_kw), 6)) for a in ahead))
        with _LOCK:
            if key in self.studies:
                self.studies.move_to_end(key)
                return self.studies[key]
        p = self.p
        if ahead:
            p = self.p.copy()
            for a in ahead:
                col = self.column(str(a.bus))
                if col is None:
                    raise GridintError(f"queue entry at unknown bus {a.bus!r}")
                p[:, col] += float(a.ac_kw) / 1000.0 * self.shape
        study = _Study(self.c, p, self.q, self.shape, self.tindex)
        with _LOCK:
            self.studies[key] = study
            while len(self.studies) > _STUDIES_PER_FEEDER:
                _, old = self.studies.popitem(last=False)
                self.hc_cache = {k: v for k, v in self.hc_cache.items() if k[0] != id(old)}
        return study


def feeder_version(feeder) -> str:
    """sha256 (first 16 hex) of the feeder's model: the pandapower JSON of the net."""
    import pandapower as pp

    text = pp.to_json(feeder.net)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _context(name: str) -> _FeederContext:
    with _LOCK:
        ctx = _FEEDERS.get(name)
    if ctx is None:
        ctx = _FeederContext(name)
        with _LOCK:
            ctx = _FEEDERS.setdefault(name, ctx)
    return ctx


def clear_cache() -> None:
    """Forget the cached feeders (after a feeder file or a reinforcement changes)."""
    with _LOCK:
        _FEEDERS.clear()


def _invalid(field: str, reason: str, level: str | None = None, **kw) -> Decision:
    return Decision("invalid", level, None, (Reason(f"validity.{field}", value=reason, **kw),))


def _binding_reason(b: Binding | None, rule: str = "technical") -> Reason:
    if b is None:
        return Reason(rule)
    return Reason(f"{rule}.{b.constraint}", limit=_num(b.limit), value=_num(b.value),
                  element=b.element, time=b.time)


def _num(x):
    return None if x is None or not math.isfinite(x) else round(float(x), 6)


def evaluate(req: ConnectionRequest, *, ahead: Sequence[QueuedPV] = (),
             counter_offers: bool = True) -> Decision:
    """Decide a connection request given the PV ahead of it in the queue.

    Parameters
    ----------
    req : ConnectionRequest
    ahead : sequence of QueuedPV
        Approved-not-connected and newly connected PV on the same feeder, in
        queue order (all of it is in the grid when this request would connect).
    counter_offers : bool
        Compute counter-offers when the request does not fit.

    Returns
    -------
    Decision
        With ``reasons`` (rule, limit, value, element, time) and, when it does
        not fit, ``counter_offers`` (kind, value, unit).
    """
    s = get_settings()
    level = voltage_level(req.ac_kw)
    # 1. validity -----------------------------------------------------------------
    allowed = s.allowed_modes.get(req.category, ())
    if req.mode not in allowed:
        return _invalid("mode", f"{req.category} may use {', '.join(allowed)} "
                        f"(NEA distributed-PV rules 2025)", level, limit=", ".join(allowed))
    if req.category == "general_ci" and req.ac_kw > s.general_ci_max_kw:
        return _invalid("ac_kw", f"general C&I is at most {s.general_ci_max_kw:g} kW; "
                        "larger plants are large_ci", level, limit=s.general_ci_max_kw)
    if level == "35 kV":
        return Decision("referred", level, None, (Reason(
            "voltage_level", limit=s.connect_mv_max_kw, value=req.ac_kw,
            element=None, time=None),))
    try:
        ctx = _context(req.feeder)
    except (CatalogError, FeederError) as exc:
        return _invalid("feeder", str(exc), level)
    col = ctx.column(req.bus)
    if col is None:
        return _invalid("bus", f"no bus or transformer {req.bus!r} on {req.feeder}", level)
    # 2. voltage level --------------------------------------------------------------
    bus_kv = float(ctx.c.bus_vn_kv[col])
    lv = bus_kv < 1.0
    if (level in ("220 V", "380 V")) != lv:
        need = "a 0.4 kV bus" if level in ("220 V", "380 V") else "a 10 kV bus"
        return _invalid("bus", f"{req.ac_kw:g} kW connects at {level}: needs {need}; "
                        f"{req.bus} is {bus_kv:g} kV (Q/GDW 1480)", level,
                        limit=level, element=str(ctx.c.bus_names[col]))
    reasons = [Reason("validity", value="ok"),
               Reason("voltage_level", limit=level, value=f"{bus_kv:g} kV",
                      element=str(ctx.c.bus_names[col]))]
    # 3. technical fit ----------------------------------------------------------------
    try:
        study = ctx.study(ahead)
    except GridintError as exc:
        return Decision("referred", level, None, tuple(reasons) + (
            Reason("technical.base_case", value=str(exc)),))
    name = str(ctx.c.bus_names[col])
    one = np.array([col])
    w = np.array([1.0])
    tan = math.tan(math.acos(max(min(req.power_factor, 1.0), 1e-3)))
    export0 = 0.0 if req.mode == "full_self_consumption" else None
    as_requested = Site(name, one, w, q_per_p=-tan, volt_var=req.volt_var,
                        export_limit_fraction=export0, battery_kw=req.battery_kw,
                        battery_kwh=req.battery_kwh)
    plain = Site(name, one, w, export_limit_fraction=export0)
    kw = dict(n_screen=s.hosting_screen_steps, confirm=(study.n_steps > 1))
    special = req.power_factor < 1.0 or req.volt_var or req.battery_kw > 0
    hc = ctx.hc(study, as_requested, kw)
    max_kw_now = round(min(hc.hc_kw, s.hosting_max_kw), 1)
    # Within the AC-confirmed capacity the request fits (voltage rise, reverse flow and
    # branch currents grow monotonically / convexly with the injection: feasible at 0
    # and at hc means feasible between); just above it, within the bracket's
    # resolution, the answer is decided by an explicit AC check.
    fits = req.ac_kw <= hc.hc_kw
    binding = None
    if not fits:
        fits, binding = check_sites(study, [(as_requested, req.ac_kw)], **kw)[0]
    if fits:
        reasons.append(Reason("technical", limit=max_kw_now, value=req.ac_kw,
                              element=name))
        if special:
            hc_plain = ctx.hc(study, plain, kw)
            if req.ac_kw > hc_plain.hc_kw:
                conditions = {k: v for k, v in (("power_factor", req.power_factor),
                                                ("volt_var", req.volt_var),
                                                ("battery_kw", req.battery_kw),
                                                ("battery_kwh", req.battery_kwh)) if v}
                reasons.append(_binding_reason(hc_plain.binding, "technical.without_conditions"))
                return Decision("approved_with_conditions", level, max_kw_now, tuple(reasons),
                                conditions=conditions)
        conditions = {"anti_reverse_power_relay": True} if export0 == 0.0 else {}
        decision = "approved_with_conditions" if conditions else "approved"
        return Decision(decision, level, max_kw_now, tuple(reasons), conditions=conditions)
    reasons.append(Reason("technical.capacity", limit=max_kw_now, value=req.ac_kw, element=name))
    reasons.append(_binding_reason(binding))
    # inverter settings the grid company may require (GB/T 29319): PF, volt-var
    pf_min = s.inverter_pf_min
    tan_min = math.tan(math.acos(pf_min))
    imposable = []
    if req.power_factor > pf_min:
        imposable.append(({"power_factor": pf_min},
                          Site(name, one, w, q_per_p=-tan_min, volt_var=req.volt_var,
                               battery_kw=req.battery_kw, battery_kwh=req.battery_kwh)))
    if not req.volt_var:
        imposable.append(({"volt_var": True},
                          Site(name, one, w, q_per_p=-tan, volt_var=True,
                               battery_kw=req.battery_kw, battery_kwh=req.battery_kwh)))
    for cond, site in imposable:
        if req.ac_kw <= ctx.hc(study, site, kw).hc_kw:
            reasons.append(Reason("technical.with_inverter_setting", value=str(cond),
                                  element=name))
            return Decision("approved_with_conditions", level, max_kw_now, tuple(reasons),
                            conditions=cond)
    offers: list[CounterOffer] = []
    if counter_offers:
        offers = _counter_offers(ctx, study, req, name, one, w, tan, max_kw_now, kw)
    return Decision("queued", level, max_kw_now, tuple(reasons), tuple(offers))


def _smallest_fitting(study, make, values, kw) -> float | None:
    """Smallest of ``values`` for which ``make(value) -> (site, x)`` fits (one stacked,
    AC-confirmed check of all of them)."""
    values = sorted(set(float(v) for v in values))
    ok = check_sites(study, [make(v) for v in values], **kw)
    good = [v for v, (g, _) in zip(values, ok) if g]
    return min(good) if good else None


def _counter_offers(ctx, study, req: ConnectionRequest, name, one, w, tan, max_kw_now, kw
                    ) -> list[CounterOffer]:
    """Counter-offers, each AC-verified for this request on every step (module doc)."""
    s = get_settings()
    offers = []
    if max_kw_now >= 1.0:
        offers.append(CounterOffer("max_kw", max_kw_now, "kW"))
    ac = req.ac_kw
    # export limit: the flat daytime export that fits (fits any rating), then the largest
    # of a few values above it that still fits this rating
    e_flat = ctx.hc(study, Site(name, one, w, q_per_p=-tan, volt_var=req.volt_var, flat=True),
                    kw).hc_kw
    if e_flat >= 1.0:
        cands = [e_flat * f for f in (1.0, 1.05, 1.1, 1.2, 1.35) if e_flat * f < ac]
        if cands:
            ok = check_sites(study, [(Site(name, one, w, q_per_p=-tan, volt_var=req.volt_var,
                                           export_limit_fraction=e / ac), ac) for e in cands],
                             **kw)
            good = [e for e, (g, _) in zip(cands, ok) if g]
            if good:
                offers.append(CounterOffer("export_limit_kw", math.floor(max(good) * 10) / 10,
                                           "kW"))
    # smallest battery (kW with battery_hours of energy) with the peak-shaving rule
    hours = s.counter_offer_battery_hours
    b0 = max(1.0, ac * float(study.shape.max()) - max(e_flat, 0.0))
    grid = [b for b in (b0 * f for f in (0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0)) if b < ac] + [ac]
    bkw = _smallest_fitting(
        study, lambda v: (Site(name, one, w, q_per_p=-tan, volt_var=req.volt_var,
                               battery_kw=math.ceil(v), battery_kwh=math.ceil(v) * hours), ac),
        grid, kw)
    if bkw is not None:
        bkw = float(math.ceil(bkw))
        offers.append(CounterOffer("battery", {"battery_kw": bkw, "battery_kwh": bkw * hours,
                                               "rule": "charge from the daily PV peak above a "
                                                       "level, up to battery_kw"}, "kW/kWh"))
    # inverter settings: the largest kW that fits with PF 0.95 absorbing + volt-var
    tan_min = math.tan(math.acos(s.inverter_pf_min))
    with_inv = ctx.hc(study, Site(name, one, w, q_per_p=-tan_min, volt_var=True), kw)
    if with_inv.hc_kw > max_kw_now + 1.0:
        offers.append(CounterOffer("max_kw_with_pf_and_volt_var", round(with_inv.hc_kw, 1), "kW"))
    return offers
