"""Measurements in operation: the latest telemetry closes the forecasting and dispatch loop.

Two quantities leave the store for the operational models:

- the **fleet PV output per kW** of a feeder (:func:`upscale_pv`, from the store
  :func:`measured_pv_pu`): the PV devices reporting on a feeder are a sample of its
  fleet; their output per kW of rating, ``sum(p_kw) / sum(rating_kw)`` over the devices
  that reported in a quarter-hour (ratio of sums: the sample's capacity-weighted mean),
  times the fleet's AC rating, is the fleet estimate the intraday forecast
  (:func:`gridint.solar.forecast.forecast_feeder`, ``measured_pu``) takes its latest
  clear-sky index from. A quarter-hour whose reporting devices hold less than
  ``Settings.telemetry_upscale_min_share`` of the registered PV rating gives no value
  (the forecast falls back to the 24-h index, then to climatology). Points are labelled
  by the start of their interval; 1-minute points are averaged into the quarter-hour.
- the **measured state of charge** of the feeder's batteries (:func:`measured_soc`):
  the latest SoC of each storage device, not older than
  ``Settings.telemetry_soc_max_age_min``, mapped to the net's storage rows by name, else
  to the only storage row at the device's bus. Units without a fresh measurement keep
  the SoC of the plan (see :func:`gridint.dispatch.redispatch`).

The scheduler's intraday job (:func:`gridint.scheduler.run_intraday`) reads both for
every feeder before re-dispatching.
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from gridint.config import Settings, get_settings
from gridint.errors import StoreError
from gridint.store.models import DerDevice, Telemetry

__all__ = ["upscale_pv", "measured_pv_pu", "measured_soc", "storage_device_map", "feeder_measurements"]

logger = logging.getLogger(__name__)

_STEP = pd.Timedelta(minutes=15)


def _utc(t, name: str) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    if ts.tzinfo is None:
        raise StoreError(f"{name}: a time zone is required (e.g. 2025-06-01T12:00+08:00)")
    return ts.tz_convert("UTC")


def upscale_pv(points: pd.DataFrame, rating_kw: pd.Series, index: pd.DatetimeIndex,
               min_share: float = 0.3) -> pd.Series:
    """Fleet PV output per kW of rating from a sample of reporting systems.

    Parameters
    ----------
    points : pandas.DataFrame
        Columns ``device``, ``time`` (tz-aware, start of the measured interval) and
        ``p_kw`` [kW]. Several points of a device in one quarter-hour (1-minute data)
        are averaged.
    rating_kw : pandas.Series
        AC rating [kW] of every registered PV device (index: device name); devices of
        ``points`` not in it are ignored.
    index : pandas.DatetimeIndex
        Quarter-hours wanted (tz-aware).
    min_share : float
        Least share [-] of the total registered rating that must have reported in a
        quarter-hour for it to get a value.

    Returns
    -------
    pandas.Series
        ``sum(p_kw) / sum(rating_kw)`` over the devices that reported [kW/kW] on
        ``index`` (same time zone), NaN where too few reported.
    """
    if index.tz is None:
        raise StoreError("index: a time-zone-aware quarter-hour index is required")
    out = pd.Series(np.nan, index=index, name="pv_pu")
    total = float(rating_kw.sum())
    if points.empty or total <= 0:
        return out
    df = points[points["device"].isin(rating_kw.index)]
    if df.empty:
        return out
    step = pd.DatetimeIndex(pd.to_datetime(df["time"], utc=True)).floor("15min").tz_convert(index.tz)
    mean = (pd.DataFrame({"device": df["device"].to_numpy(), "step": step, "p_kw": df["p_kw"].to_numpy(float)})
            .groupby(["step", "device"])["p_kw"].mean())
    rated = rating_kw.reindex(mean.index.get_level_values("device")).to_numpy(float)
    per = pd.DataFrame({"p_kw": mean.to_numpy(), "rating_kw": rated},
                       index=mean.index.get_level_values("step")).groupby(level=0).sum()
    ok = per["rating_kw"] >= min_share * total
    pu = (per["p_kw"] / per["rating_kw"]).where(ok)
    return pu.reindex(index).rename("pv_pu")


def measured_pv_pu(session: Session, feeder: str, start, end,
                   settings: Settings | None = None) -> tuple[pd.Series, dict[str, Any]]:
    """Measured PV output per kW of a feeder's registered PV devices, ``start <= t < end``.

    Parameters
    ----------
    session : Session
    feeder : str
        Feeder name of the devices.
    start, end : datetime or Timestamp
        Period (time-zone aware); the result is on its quarter-hours in
        ``Settings.timezone``.
    settings : Settings, optional

    Returns
    -------
    (pandas.Series, dict)
        Output per kW [kW/kW] (NaN where fewer than ``telemetry_upscale_min_share`` of the
        rating reported) and ``{devices, rating_kw, points, latest}`` of the sample.
    """
    s = settings or get_settings()
    t0, t1 = _utc(start, "start"), _utc(end, "end")
    index = pd.date_range(t0.ceil("15min"), t1, freq=_STEP, inclusive="left").tz_convert(s.timezone)
    devs = list(session.execute(select(DerDevice.id, DerDevice.name, DerDevice.rating_kw)
                                .where(DerDevice.feeder == feeder, DerDevice.kind == "pv")))
    info: dict[str, Any] = {"devices": len(devs), "rating_kw": float(sum(d[2] for d in devs)),
                            "points": 0, "latest": None}
    if not devs:
        return pd.Series(np.nan, index=index, name="pv_pu"), info
    rows = session.execute(
        select(DerDevice.name, Telemetry.time, Telemetry.p_kw)
        .join(DerDevice, DerDevice.id == Telemetry.device_id)
        .where(DerDevice.feeder == feeder, DerDevice.kind == "pv",
               Telemetry.time >= t0.to_pydatetime(), Telemetry.time < t1.to_pydatetime())).all()
    points = pd.DataFrame(rows, columns=["device", "time", "p_kw"])
    if len(points):
        points["time"] = pd.to_datetime(points["time"], utc=True)
        info["points"] = len(points)
        info["latest"] = points["time"].max().tz_convert(s.timezone).isoformat()
    rating = pd.Series({d[1]: float(d[2]) for d in devs})
    return upscale_pv(points, rating, index, s.telemetry_upscale_min_share), info


def storage_device_map(devices: list[tuple[str, str]], unit_names: list[str],
                       unit_buses: list[str]) -> dict[str, str]:
    """Storage device -> storage unit of the net.

    A device maps to the unit of the same name, else to the only unit at its bus
    (devices that match neither, or a bus with several units, are left out and logged).

    Parameters
    ----------
    devices : list of (device name, bus name)
    unit_names, unit_buses : list of str
        The net's storage rows: names and bus names.

    Returns
    -------
    dict
        device name -> unit name.
    """
    by_name = set(unit_names)
    at_bus: dict[str, list[str]] = {}
    for n, b in zip(unit_names, unit_buses):
        at_bus.setdefault(b, []).append(n)
    out = {}
    for name, bus in devices:
        if name in by_name:
            out[name] = name
        elif len(at_bus.get(bus, [])) == 1:
            out[name] = at_bus[bus][0]
        else:
            logger.info("storage device %s (bus %s) matches no single storage unit of the net", name, bus)
    return out


def measured_soc(session: Session, feeder_name: str, net, now,
                 settings: Settings | None = None) -> tuple[dict[str, float], dict[str, Any]]:
    """Latest measured SoC of each storage unit of a feeder.

    Parameters
    ----------
    session : Session
    feeder_name : str
        Feeder of the devices.
    net : pandapowerNet
        The feeder's net (storage rows with ``name`` and ``bus``).
    now : datetime or Timestamp
        Time-zone aware; points after it are ignored, points older than
        ``telemetry_soc_max_age_min`` before it too.
    settings : Settings, optional

    Returns
    -------
    (dict, dict)
        unit name -> SoC [%] (units with a fresh measurement only; when two devices map
        to one unit the latest point wins) and ``{devices, mapped, fresh, stale}``.
    """
    s = settings or get_settings()
    t1 = _utc(now, "now")
    t0 = t1 - pd.Timedelta(minutes=s.telemetry_soc_max_age_min)
    st = net.get("storage")
    if st is None or not len(st):
        return {}, {"devices": 0, "mapped": 0, "fresh": 0, "stale": []}
    bus_name = net.bus["name"].astype(str)
    names = [str(n) for n in st["name"]]
    devs = list(session.execute(select(DerDevice.id, DerDevice.name, DerDevice.bus)
                                .where(DerDevice.feeder == feeder_name, DerDevice.kind == "storage")))
    mapping = storage_device_map([(d[1], d[2]) for d in devs], names,
                                 [bus_name.loc[b] for b in st["bus"]])
    ids = {d[0]: d[1] for d in devs if d[1] in mapping}
    info: dict[str, Any] = {"devices": len(devs), "mapped": len(ids), "fresh": 0, "stale": []}
    if not ids:
        return {}, info
    latest = (select(Telemetry.device_id, func.max(Telemetry.time).label("t"))
              .where(Telemetry.device_id.in_(list(ids)), Telemetry.soc_percent.is_not(None),
                     Telemetry.time <= t1.to_pydatetime())
              .group_by(Telemetry.device_id).subquery())
    rows = session.execute(select(Telemetry.device_id, Telemetry.time, Telemetry.soc_percent).join(
        latest, (Telemetry.device_id == latest.c.device_id) & (Telemetry.time == latest.c.t))).all()
    soc: dict[str, tuple[pd.Timestamp, float]] = {}
    for dev_id, t, value in rows:
        t = _utc(pd.Timestamp(t).tz_localize("UTC") if pd.Timestamp(t).tzinfo is None else t, "time")
        unit = mapping[ids[dev_id]]
        if t < t0:
            info["stale"].append(ids[dev_id])
            continue
        if unit not in soc or t > soc[unit][0]:
            soc[unit] = (t, float(value))
    info["fresh"] = len(soc)
    return {u: v for u, (_, v) in soc.items()}, info


def feeder_measurements(session: Session, feeder_name: str, net, now,
                        settings: Settings | None = None) -> dict[str, Any]:
    """What the intraday re-dispatch of a feeder takes from telemetry at ``now``.

    Returns
    -------
    dict
        ``measured_soc`` (unit -> SoC [%], or None when no unit has a fresh value),
        ``measured_pv_pu`` (Series of the ``telemetry_history_h`` before ``now``, or None
        when no registered PV device reported in that time) and ``info``
        ``{pv: {...}, soc: {...}}`` for the run log.
    """
    s = settings or get_settings()
    t1 = _utc(now, "now")
    pv, pv_info = measured_pv_pu(session, feeder_name, t1 - pd.Timedelta(hours=s.telemetry_history_h),
                                 t1, s)
    soc, soc_info = measured_soc(session, feeder_name, net, t1, s)
    return {"measured_soc": soc or None,
            "measured_pv_pu": pv if pv.notna().any() else None,
            "info": {"pv": {**pv_info, "steps": int(pv.notna().sum())}, "soc": soc_info}}
