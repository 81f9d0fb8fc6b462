"""Synthetic DER telemetry of a feeder: the PV model and the storage plans as a meter would send them.

Used by the simulator (``sims/telemetry_sim.py``), the demo (``gridint serve --demo``)
and the tests. Devices (:func:`device_bodies`): the feeder's PV systems
(:func:`gridint.solar.fleet.pv_systems`, AC rating), its storage units (named like the
net's storage rows, so the intraday loop maps them) and a customer battery at every
``battery_every``-th PV system. Points (:func:`simulate`), every 15 min:

- PV: clear-sky AC power (pvlib, :func:`gridint.solar.fleet.clearsky_fleet_ac_kw`) x a
  cloud factor per day and system x (1 + 2 % noise), clipped at the rating; voltage at the
  point of connection rising with the output (the last three systems, at the feeder
  end, above 1.07 pu around noon);
- storage units: the stored plan's power and SoC where a plan record covers the step
  (``plans``: feeder plan records of :meth:`gridint.dispatch.DispatchPlan.to_dict`),
  else charge at 50 % of rating 10-14 h and discharge at 60 % 18-22 h with the SoC
  integrated (95 % one-way efficiency) from the unit's initial SoC;
- faults (``faults=True``): two PV meters stuck at 60 % of rating day and night (their
  night points are rejected), one inverter reporting 10 % of rating at night, one device
  silent from ``silent_from``; ``gap_fraction`` of the points lost at random.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["API_FIELDS", "device_bodies", "simulate", "api_body"]

logger = logging.getLogger(__name__)

#: fields of a device registration (``POST /api/v1/devices``)
API_FIELDS = ("name", "feeder", "bus", "kind", "rating_kw", "energy_kwh", "owner")


def api_body(body: dict[str, Any]) -> dict[str, Any]:
    """The registration fields of a :func:`device_bodies` entry (drops the simulator's keys)."""
    return {k: body[k] for k in API_FIELDS if k in body}


def device_bodies(feeder, n_max: int | None = None, battery_every: int = 10,
                  storage_units: bool = True) -> list[dict[str, Any]]:
    """Device registrations (``POST /api/v1/devices`` bodies) for a feeder.

    Parameters
    ----------
    feeder : gridint.grid.Feeder
    n_max : int, optional
        At most this many PV systems.
    battery_every : int
        A customer battery (50 % of the inverter rating, 2 h) at every n-th PV system
        (0: none).
    storage_units : bool
        Register the net's storage units with an energy rating (name = the storage row).

    Returns
    -------
    list of dict
        ``{name, feeder, bus, kind, rating_kw[, energy_kwh]}`` plus the simulator's keys
        ``sgen`` (PV) / ``soc_percent`` (storage units); :func:`api_body` drops them.
    """
    from gridint.solar.fleet import pv_systems
    from gridint.telemetry.ingestion import sites_of_net

    names = feeder.net.bus["name"].astype(str)
    allowed = set(sites_of_net(feeder.name, feeder.net, feeder.voltage_kv).buses)  # what registration accepts
    systems = pv_systems(feeder.net)
    systems = systems[[names.loc[b] in allowed for b in systems["bus"]]]
    if n_max is not None:
        systems = systems.head(n_max)
    out = []
    for k, (sgen, row) in enumerate(systems.iterrows()):
        bus = names.loc[row["bus"]]
        out.append({"name": f"{feeder.name}-pv{sgen}", "feeder": feeder.name, "bus": bus, "kind": "pv",
                    "rating_kw": round(float(row["ac_kw"]), 3), "sgen": int(sgen)})
        if battery_every and k % battery_every == 0:
            kw = round(0.5 * float(row["ac_kw"]), 3)
            out.append({"name": f"{feeder.name}-bat{sgen}", "feeder": feeder.name, "bus": bus,
                        "kind": "storage", "rating_kw": kw, "energy_kwh": 2.0 * kw})
    st = feeder.net.get("storage")
    if storage_units and st is not None and len(st):
        from gridint.dispatch.units import storage_units as units_of

        try:
            units = units_of(feeder.net)
        except Exception as exc:  # noqa: BLE001 - e.g. a unit without energy rating
            logger.info("%s: storage units not registered (%s)", feeder.name, exc)
            return out
        for k, name in enumerate(units.names):
            if names.loc[units.bus[k]] not in allowed:
                continue
            out.append({"name": str(name), "feeder": feeder.name, "bus": names.loc[units.bus[k]],
                        "kind": "storage", "rating_kw": round(float(units.p_charge_kw[k]), 3),
                        "energy_kwh": round(float(units.e_kwh[k]), 3),
                        "soc_percent": float(units.soc_init_percent[k])})
    return out


def _plan_series(plans: list[dict] | None, name: str, index: pd.DatetimeIndex):
    """(p_kw, soc_percent) of unit ``name`` on ``index`` from plan records (NaN where none)."""
    p = pd.Series(np.nan, index=index)
    soc = pd.Series(np.nan, index=index)
    for rec in plans or ():
        unit = next((u for u in rec.get("units", ()) if u.get("name") == name), None)
        if unit is None:
            continue
        t = pd.DatetimeIndex(pd.to_datetime(rec["timestamps"])).tz_convert(index.tz)
        p.update(pd.Series(unit["p_kw"], index=t))
        soc.update(pd.Series(unit["soc_percent"], index=t))
    return p.to_numpy(float), soc.to_numpy(float)


def simulate(feeder, bodies: list[dict], index: pd.DatetimeIndex, *, seed: int = 1,
             faults: bool = True, gap_fraction: float = 0.03, silent_from: pd.Timestamp | None = None,
             plans: list[dict] | None = None) -> list[dict[str, Any]]:
    """Telemetry points of ``bodies`` on ``index`` (see the module docstring).

    Parameters
    ----------
    feeder : gridint.grid.Feeder
    bodies : list of dict
        From :func:`device_bodies`.
    index : pandas.DatetimeIndex
        Quarter-hours (time-zone aware).
    seed : int
    faults : bool
        Stuck meters, a night generator and a silent device.
    gap_fraction : float
        Share of points lost [-].
    silent_from : pandas.Timestamp, optional
        When the silent device stops sending (default: 10:00 of the last day).
    plans : list of dict, optional
        Dispatch plan records the storage units follow.

    Returns
    -------
    list of dict
        Points ``{device, time (ISO 8601 with offset), p_kw, soc_percent?, v_pu}``.
    """
    from gridint.solar.fleet import clearsky_fleet_ac_kw, pv_systems

    if index.tz is None:
        raise ValueError("index: time-zone-aware quarter-hours are required")
    rng = np.random.default_rng(seed)
    pv = [b for b in bodies if b["kind"] == "pv"]
    systems = pv_systems(feeder.net).loc[[b["sgen"] for b in pv]]
    ac = clearsky_fleet_ac_kw(systems, index).to_numpy()            # steps x systems [kW]
    day = (index.normalize() - index[0].normalize()).days.to_numpy()
    cloud = rng.uniform(0.35, 1.0, size=(day.max() + 1, ac.shape[1]))[day]
    rating = systems["ac_kw"].to_numpy(float)
    p = np.clip(ac * cloud * (1 + 0.02 * rng.standard_normal(ac.shape)), 0.0, rating)
    v = 1.0 + 0.05 * p / rating + 0.005 * rng.standard_normal(ac.shape)
    v[:, -3:] += 0.03 + 0.05 * p[:, -3:] / rating[-3:]              # feeder end: > 1.07 pu at noon
    stamps = [t.isoformat() for t in index]
    hours = (index.hour + index.minute / 60.0).to_numpy()
    names = [b["name"] for b in pv]
    stuck = set(names[1:3]) if faults else set()
    night_gen = names[3] if faults and len(names) > 3 else None
    silent = names[4] if faults and len(names) > 4 else None
    if silent_from is None:
        silent_from = index[-1].normalize() + pd.Timedelta(hours=10)
    quiet = index >= silent_from
    points: list[dict[str, Any]] = []
    for j, name in enumerate(names):
        pj = p[:, j].copy()
        if name in stuck:
            pj[:] = round(0.6 * rating[j], 2)
        if name == night_gen:
            pj[(hours < 5) | (hours > 20)] = 0.1 * rating[j]
        for i, t in enumerate(stamps):
            if name == silent and quiet[i]:
                continue
            points.append({"device": name, "time": t, "p_kw": round(float(pj[i]), 3),
                           "v_pu": round(float(v[i, j]), 4)})
    for b in bodies:
        if b["kind"] != "storage":
            continue
        kw, kwh = float(b["rating_kw"]), float(b["energy_kwh"])
        soc = float(b.get("soc_percent", 20.0))
        plan_p, plan_soc = _plan_series(plans, b["name"], index)
        for i, t in enumerate(stamps):
            if np.isfinite(plan_p[i]):
                pk = float(np.clip(plan_p[i] * (1 + 0.01 * rng.standard_normal()), -kw, kw))
                soc = float(plan_soc[i])
            else:
                h = hours[i]
                pk = 0.5 * kw if 10 <= h < 14 else (-0.6 * kw if 18 <= h < 22 else 0.0)
                new = soc + pk * 0.25 / kwh * 100.0 * (0.95 if pk > 0 else 1 / 0.95)
                if not 0.0 <= new <= 100.0:
                    pk, new = 0.0, soc
                soc = new
            points.append({"device": b["name"], "time": t, "p_kw": round(pk, 3),
                           "soc_percent": round(soc, 2),
                           "v_pu": round(1.0 + 0.005 * rng.standard_normal(), 4)})
    keep = rng.uniform(size=len(points)) > gap_fraction
    return [pt for pt, k in zip(points, keep) if k]
