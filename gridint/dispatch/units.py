"""Storage units of a feeder: pandapower ``storage`` rows plus documented columns.

Sign: storage ``p_kw`` / ``p_mw`` positive = charging (consumption), as in
pandapower; a bus injection (generation positive) is ``-p``.

Columns read from ``net.storage`` (one row per battery; in-service rows only)
-----------------------------------------------------------------------------
================== ========================================================== =========================
column             meaning                                                    when missing / NaN
================== ========================================================== =========================
``max_e_mwh``      energy rating (usable nameplate) [MWh]                     error (required, > 0)
``max_p_mw``       charging power limit [MW] (> 0)                            ``sn_mva``
``min_p_mw``       minus the discharging power limit [MW] (< 0)               ``-sn_mva``
``sn_mva``         inverter rating [MVA]                                      error if no limit above
``soc_percent``    initial state of charge [%] (pandapower's column)          Settings.storage_soc_initial_percent
``soc_min_percent`` lower end of the SoC window [%]                           ``min_e_mwh`` / ``max_e_mwh``, else Settings
``soc_max_percent`` upper end of the SoC window [%]                           Settings.storage_soc_max_percent
``eff_charge``     charging efficiency (AC -> stored) [-]                     Settings.storage_eff_charge
``eff_discharge``  discharging efficiency (stored -> AC) [-]                  Settings.storage_eff_discharge
``critical_kw``    critical load the unit backs up in island mode [kW]        Settings.storage_critical_share x peak load at its bus
``reserve_h``      hours of critical load kept in reserve [h]                 Settings.storage_reserve_h
``owner``          ``utility`` or ``customer``                                ``utility``
``island_capable`` can form an island (grid-forming inverter, transfer switch) False
================== ========================================================== =========================

Reserve energy (stored side) ``reserve_kwh = reserve_h * critical_kw / eff_discharge``:
the dispatch keeps the SoC at or above ``max(soc_min, reserve)`` at every step.
``scaling`` applies as in pandapower: the plan's power is the real power, the
element's ``p_mw`` is ``p / scaling``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import FeederError

__all__ = ["StorageUnits", "storage_units", "OWNERS"]

logger = logging.getLogger(__name__)

OWNERS = ("utility", "customer")


@dataclass(frozen=True)
class StorageUnits:
    """Dispatchable storage units (arrays in ``net.storage`` row order, in-service only).

    Attributes
    ----------
    index : ndarray of int
        pandapower storage index.
    names : ndarray of str
    bus : ndarray of int
        pandapower bus index.
    e_kwh : ndarray
        Energy rating [kWh].
    p_charge_kw, p_discharge_kw : ndarray
        Power limits [kW] (both positive).
    eff_charge, eff_discharge : ndarray
        Efficiencies [-].
    soc_min_percent, soc_max_percent, soc_init_percent : ndarray
        SoC window and initial SoC [%].
    critical_kw, reserve_h : ndarray
        Critical load [kW] and hours of it kept in reserve [h].
    owner : ndarray of str
    island_capable : ndarray of bool
    scaling : ndarray
        pandapower ``scaling`` of the rows.
    """

    index: np.ndarray
    names: np.ndarray
    bus: np.ndarray
    e_kwh: np.ndarray
    p_charge_kw: np.ndarray
    p_discharge_kw: np.ndarray
    eff_charge: np.ndarray
    eff_discharge: np.ndarray
    soc_min_percent: np.ndarray
    soc_max_percent: np.ndarray
    soc_init_percent: np.ndarray
    critical_kw: np.ndarray
    reserve_h: np.ndarray
    owner: np.ndarray
    island_capable: np.ndarray
    scaling: np.ndarray

    def __len__(self) -> int:
        return len(self.index)

    @property
    def reserve_kwh(self) -> np.ndarray:
        """Energy kept for the critical load, stored side [kWh]."""
        return self.reserve_h * self.critical_kw / self.eff_discharge

    @property
    def floor_kwh(self) -> np.ndarray:
        """Lowest planned energy content: ``max(soc_min, reserve)`` [kWh]."""
        return np.maximum(self.soc_min_percent / 100.0 * self.e_kwh, self.reserve_kwh)

    def with_soc(self, soc_percent) -> "StorageUnits":
        """A copy with another initial SoC [%] (array, or dict name -> value).

        Raises
        ------
        FeederError
            Unknown unit name or a value outside [0, 100].
        """
        soc = self.soc_init_percent.copy()
        if isinstance(soc_percent, dict):
            pos = {n: k for k, n in enumerate(self.names)}
            for name, v in soc_percent.items():
                if name not in pos:
                    raise FeederError(f"initial SoC given for unknown storage unit {name!r}; "
                                      f"units: {', '.join(self.names)}")
                soc[pos[name]] = float(v)
        else:
            arr = np.asarray(soc_percent, dtype=float).reshape(-1)
            if arr.shape != soc.shape:
                raise FeederError(f"initial SoC needs {len(soc)} values (one per unit); got {arr.shape[0]}")
            soc = arr
        bad = ~(np.isfinite(soc) & (soc >= 0.0) & (soc <= 100.0))
        if bad.any():
            k = int(np.argmax(bad))
            raise FeederError(f"storage {self.names[k]!r}: initial soc_percent = {float(soc[k]):g} outside [0, 100]")
        return StorageUnits(**{**self.__dict__, "soc_init_percent": soc})

    def records(self) -> list[dict]:
        """One dict per unit (user units: kW, kWh, %)."""
        return [{
            "name": str(self.names[k]), "storage_index": int(self.index[k]), "bus": int(self.bus[k]),
            "e_kwh": float(self.e_kwh[k]), "p_charge_kw": float(self.p_charge_kw[k]),
            "p_discharge_kw": float(self.p_discharge_kw[k]),
            "eff_charge": float(self.eff_charge[k]), "eff_discharge": float(self.eff_discharge[k]),
            "soc_min_percent": float(self.soc_min_percent[k]),
            "soc_max_percent": float(self.soc_max_percent[k]),
            "soc_init_percent": float(self.soc_init_percent[k]),
            "critical_kw": float(self.critical_kw[k]), "reserve_h": float(self.reserve_h[k]),
            "reserve_kwh": float(self.reserve_kwh[k]), "owner": str(self.owner[k]),
            "island_capable": bool(self.island_capable[k]),
        } for k in range(len(self))]


def _col(df: pd.DataFrame, name: str, default) -> np.ndarray:
    """Numeric column with NaN / missing replaced by ``default`` (scalar or array)."""
    base = np.broadcast_to(np.asarray(default, dtype=float), (len(df),)).copy()
    if name not in df:
        return base
    vals = pd.to_numeric(df[name], errors="coerce").to_numpy(dtype=float)
    return np.where(np.isfinite(vals), vals, base)


def _check(names, col: str, vals: np.ndarray, ok: np.ndarray, allowed: str) -> None:
    if not ok.all():
        k = int(np.argmin(ok))
        raise FeederError(f"storage {names[k]!r}: {col} = {float(vals[k]):g} outside the allowed range {allowed}")


def storage_units(net) -> StorageUnits:
    """The in-service storage units of a net, validated, with documented defaults.

    Parameters
    ----------
    net : pandapowerNet

    Returns
    -------
    StorageUnits
        Possibly empty.

    Raises
    ------
    FeederError
        A column is out of range; the message names the unit, the column and
        the allowed range.
    """
    s = get_settings()
    st = net.get("storage") if hasattr(net, "get") else None
    if not isinstance(st, pd.DataFrame) or not len(st):
        return _empty()
    live = st["in_service"].astype(bool).to_numpy() if "in_service" in st else np.ones(len(st), bool)
    st = st[live]
    if not len(st):
        return _empty()
    names = np.array([str(n) if isinstance(n, str) and n else f"storage {i}"
                      for i, n in zip(st.index, st["name"] if "name" in st else [None] * len(st))],
                     dtype=object)
    if len(set(names)) != len(names):
        dup = pd.Series(names).value_counts()
        raise FeederError(f"storage names must be unique; repeated: {list(dup[dup > 1].index)}")
    e_mwh = _col(st, "max_e_mwh", np.nan)
    _check(names, "max_e_mwh", e_mwh, np.isfinite(e_mwh) & (e_mwh > 0), "(0, inf) MWh (energy rating)")
    sn = _col(st, "sn_mva", np.nan)
    p_ch = _col(st, "max_p_mw", sn)
    p_dis = -_col(st, "min_p_mw", -sn)
    _check(names, "max_p_mw (or sn_mva)", p_ch, np.isfinite(p_ch) & (p_ch > 0), "(0, inf) MW (charging limit)")
    _check(names, "min_p_mw (or -sn_mva)", -p_dis, np.isfinite(p_dis) & (p_dis > 0),
           "(-inf, 0) MW (minus the discharging limit)")
    eff_c = _col(st, "eff_charge", s.storage_eff_charge)
    eff_d = _col(st, "eff_discharge", s.storage_eff_discharge)
    for col, v in (("eff_charge", eff_c), ("eff_discharge", eff_d)):
        _check(names, col, v, (v > 0) & (v <= 1), "(0, 1]")
    min_e = _col(st, "min_e_mwh", 0.0)
    soc_min_default = np.where(min_e > 0, 100.0 * min_e / e_mwh, s.storage_soc_min_percent)
    soc_min = _col(st, "soc_min_percent", soc_min_default)
    soc_max = _col(st, "soc_max_percent", s.storage_soc_max_percent)
    _check(names, "soc_min_percent", soc_min, (soc_min >= 0) & (soc_min < 100), "[0, 100)")
    _check(names, "soc_max_percent", soc_max, (soc_max > soc_min) & (soc_max <= 100),
           "(soc_min_percent, 100]")
    soc0 = _col(st, "soc_percent", s.storage_soc_initial_percent)
    _check(names, "soc_percent", soc0, (soc0 >= 0) & (soc0 <= 100), "[0, 100]")
    bus = st["bus"].to_numpy(dtype=np.int64)
    if len(net.load):
        ld = net.load[net.load["in_service"].astype(bool)]
        load_kw = (ld["p_mw"] * ld["scaling"]).groupby(ld["bus"]).sum() * 1000.0
    else:
        load_kw = pd.Series(dtype=float)
    crit_default = s.storage_critical_share * load_kw.reindex(bus).fillna(0.0).to_numpy(dtype=float)
    crit = _col(st, "critical_kw", crit_default)
    _check(names, "critical_kw", crit, crit >= 0, "[0, inf) kW")
    res_h = _col(st, "reserve_h", s.storage_reserve_h)
    _check(names, "reserve_h", res_h, res_h >= 0, "[0, inf) h")
    owner = (st["owner"].fillna("utility").astype(str).str.lower().to_numpy(dtype=object)
             if "owner" in st else np.full(len(st), "utility", dtype=object))
    bad = [o for o in owner if o not in OWNERS]
    if bad:
        k = int(np.flatnonzero(np.isin(owner, bad))[0])
        raise FeederError(f"storage {names[k]!r}: owner = {owner[k]!r}; allowed: {', '.join(OWNERS)}")
    island = (st["island_capable"].fillna(False).astype(bool).to_numpy()
              if "island_capable" in st else np.zeros(len(st), dtype=bool))
    scaling = _col(st, "scaling", 1.0)
    _check(names, "scaling", scaling, scaling > 0, "(0, inf) (0 means out of service)")
    units = StorageUnits(
        index=st.index.to_numpy(dtype=np.int64), names=names, bus=bus,
        e_kwh=e_mwh * 1000.0, p_charge_kw=p_ch * 1000.0, p_discharge_kw=p_dis * 1000.0,
        eff_charge=eff_c, eff_discharge=eff_d, soc_min_percent=soc_min, soc_max_percent=soc_max,
        soc_init_percent=soc0, critical_kw=crit, reserve_h=res_h, owner=owner,
        island_capable=island, scaling=scaling)
    short = units.reserve_kwh > units.soc_max_percent / 100.0 * units.e_kwh
    for k in np.flatnonzero(short):
        logger.warning("storage %r: reserve %.1f kWh exceeds the usable energy %.1f kWh",
                       names[k], units.reserve_kwh[k], units.soc_max_percent[k] / 100.0 * units.e_kwh[k])
    return units


def _empty() -> StorageUnits:
    f = np.empty(0)
    return StorageUnits(index=np.empty(0, np.int64), names=np.empty(0, object), bus=np.empty(0, np.int64),
                        e_kwh=f, p_charge_kw=f, p_discharge_kw=f, eff_charge=f, eff_discharge=f,
                        soc_min_percent=f, soc_max_percent=f, soc_init_percent=f, critical_kw=f,
                        reserve_h=f, owner=np.empty(0, object), island_capable=np.empty(0, bool),
                        scaling=f)
