"""Feeder-level power-flow studies: snapshot, one profile step, or a profile year.

These functions glue a :class:`gridint.grid.Feeder` to the batch engine and
reduce the result to the stable, unit-named summary that the CLI and API
print (``vmin_pu``, ``vmin_bus``, ``losses_kw`` / ``energy_losses_kwh``, ...).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from gridint.errors import PowerFlowError
from gridint.powerflow.batch import BatchResult, element_injections, run_batch
from gridint.powerflow.compile import compile_net

__all__ = ["run_feeder", "summarize"]

logger = logging.getLogger(__name__)


def run_feeder(feeder, *, year: bool = False, when=None) -> tuple[BatchResult, dict]:
    """Run the batch power flow of a feeder.

    Parameters
    ----------
    feeder : gridint.grid.Feeder
    year : bool
        Every step of the feeder's profile year.
    when : str or Timestamp, optional
        One profile step (ISO 8601; a naive time is in the profile's time zone;
        another year is mapped by month-day). Neither ``year`` nor ``when``: a
        snapshot of the file's own loads and sgens.

    Returns
    -------
    result : BatchResult
    summary : dict
        See :func:`summarize`.

    Raises
    ------
    ProfileError
        ``year``/``when`` on a feeder without profiles, or a time outside them.
    FeederError
        The net holds elements the engine does not model.
    """
    from gridint.grid.profiles import locate_time

    if year and when is not None:
        raise PowerFlowError("choose either a profile year or one time, not both")
    t0 = time.perf_counter()
    compiled = compile_net(feeder.net, name=feeder.name)
    compile_s = time.perf_counter() - t0
    mode = "snapshot"
    time_index = None
    if year or when is not None:
        prof = feeder.profiles
        if when is not None:
            try:
                ts = pd.Timestamp(when)
            except (ValueError, TypeError) as exc:
                raise PowerFlowError(f"--time must be ISO 8601 (e.g. 2024-07-15T12:00+08:00); "
                                     f"got {when!r}: {exc}") from None
            if ts is pd.NaT:
                raise PowerFlowError(f"--time must be ISO 8601; got {when!r}")
            prof = prof.take([locate_time(prof.time_index, ts)])
            mode = "time"
        else:
            mode = "year"
        time_index = prof.time_index
        p, q = element_injections(compiled, **prof.as_kwargs())
    else:
        p, q = element_injections(compiled)
    res = run_batch(compiled, p, q, time_index=time_index)
    summary = summarize(res, mode=mode, feeder_name=feeder.name)
    summary["compile_s"] = round(compile_s, 4)
    return res, summary


def _argext(a: np.ndarray, fn) -> tuple[int, int] | None:
    if a.size == 0 or np.all(np.isnan(a)):
        return None
    flat = fn(np.where(np.isnan(a), np.nan, a))
    return np.unravel_index(int(flat), a.shape)


def summarize(res: BatchResult, *, mode: str = "year", feeder_name: str | None = None) -> dict:
    """Stable, unit-named summary of a batch result.

    Keys: ``feeder, mode, n_steps, converged_steps, vmin_pu, vmin_bus,
    vmin_time, vmax_pu, vmax_bus, vmax_time, max_line_loading_percent,
    max_line, max_line_time, max_trafo_loading_percent, max_trafo,
    max_trafo_time, runtime_s`` and ``losses_kw`` (snapshot / one time) or
    ``energy_losses_kwh`` (year). A snapshot or single time adds
    ``buses: [{name, vm_pu, va_degree}]``. Times are ISO 8601 with offset, or
    null for a snapshot. Only converged steps enter the extremes.
    """
    c = res.compiled
    conv = res.converged
    t = res.time_index

    def when(k):
        return None if t is None else t[k].isoformat()

    def pick(arr, fn, names):
        sub = arr[conv]
        idx = _argext(sub, fn)
        if idx is None:
            return None, None, None
        k = np.flatnonzero(conv)[idx[0]]
        return float(sub[idx]), str(names[idx[1]]), when(k)

    vmin, vmin_bus, vmin_t = pick(res.vm_pu, np.nanargmin, c.bus_names)
    vmax, vmax_bus, vmax_t = pick(res.vm_pu, np.nanargmax, c.bus_names)
    lmax, lname, lt = pick(res.line_loading_percent, np.nanargmax, c.line_names)
    tmax, tname, tt = pick(res.trafo_loading_percent, np.nanargmax, c.trafo_names)
    out = {
        "feeder": feeder_name or c.name,
        "mode": mode,
        "n_steps": int(res.n_steps),
        "converged_steps": int(conv.sum()),
        "vmin_pu": vmin, "vmin_bus": vmin_bus, "vmin_time": vmin_t,
        "vmax_pu": vmax, "vmax_bus": vmax_bus, "vmax_time": vmax_t,
        "max_line_loading_percent": lmax, "max_line": lname, "max_line_time": lt,
        "max_trafo_loading_percent": tmax, "max_trafo": tname, "max_trafo_time": tt,
    }
    if mode == "year":
        step_h = 0.25
        if t is not None and len(t) > 1:
            step_h = (t[1] - t[0]).total_seconds() / 3600.0
        out["energy_losses_kwh"] = float(np.sum(res.losses_mw[conv]) * step_h * 1e3)
        out["time_start"] = when(0)
        out["time_end"] = when(res.n_steps - 1)
    else:
        out["time"] = when(0) if t is not None else None
        out["losses_kw"] = float(res.losses_mw[0] * 1e3) if conv[0] else None
        out["buses"] = [
            {"name": str(n), "vm_pu": None if np.isnan(vm) else float(vm),
             "va_degree": None if np.isnan(va) else float(va)}
            for n, vm, va in zip(c.bus_names, res.vm_pu[0], res.va_degree[0])
        ]
    out["runtime_s"] = round(float(res.runtime_s), 4)
    return out
