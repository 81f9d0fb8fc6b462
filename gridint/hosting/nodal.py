"""Nodal hosting capacity of single buses (the exact core, one bus at a time).

Nodal hosting capacity of a bus (DESIGN.md, "Hosting capacity: what one number
means"): the largest additional PV AC power [kW] at that bus, injected at unity
power factor, with everything else on the feeder as it is, such that at every
studied step no bus voltage exceeds ``vm_max_pu`` (GB/T 12325), no line or
transformer exceeds its loading limit, and no transformer's reverse load rate
``-P_hv / S_rated`` exceeds ``beta`` (DL/T 2041-2019). Pre-existing
under-voltage limits nothing. The answer is bracketed with the AC batch engine
(:mod:`gridint.hosting.engine`), so it is the AC answer to within the
resolution, and the binding constraint (type, element, time) is the one that
breaks just above it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridint.errors import GridintError
from gridint.hosting.engine import Binding, Site, _Study, solve_sites
from gridint.powerflow.compile import CompiledNet

__all__ = ["NodalHostingCapacity", "bus_site", "nodal_hosting_capacity"]


@dataclass(frozen=True)
class NodalHostingCapacity:
    """Hosting capacity of one bus [kW] and what binds just above it."""

    bus: str
    hc_kw: float
    binding: Binding | None
    n_steps: int
    n_power_flows: int


def bus_site(compiled: CompiledNet, bus: int, **behaviour) -> Site:
    """A single-bus :class:`Site` for pandapower bus index ``bus``.

    Raises
    ------
    GridintError
        Unknown, out-of-service or unsupplied bus.
    """
    col = compiled.bus_position(bus)
    if compiled.bus_solver[col] < 0:
        raise GridintError(f"bus {bus} is out of service or unsupplied")
    return Site(str(compiled.bus_names[col]), np.array([col]), np.array([1.0]), **behaviour)


def nodal_hosting_capacity(compiled: CompiledNet, p_inj_mw: np.ndarray, q_inj_mvar: np.ndarray,
                           bus: int, *, shape: np.ndarray | None = None,
                           time_index: pd.DatetimeIndex | None = None,
                           resolution_kw: float = 1.0, rel_resolution: float = 0.005,
                           start_kw: float = 100.0, max_kw: float = 100_000.0,
                           screen_steps: int | None = 96) -> NodalHostingCapacity:
    """Exact nodal hosting capacity of one bus over the given steps.

    Parameters
    ----------
    compiled : CompiledNet
    p_inj_mw, q_inj_mvar : array (steps, n_bus) [MW], [Mvar]
        The feeder as it is (generation-positive bus injections per step).
    bus : int
        pandapower bus index where the new PV connects.
    shape : array (steps,), optional
        New PV output per kW of AC rating at each step (1.0 = rated); default
        1.0 at every step (snapshot).
    time_index : DatetimeIndex, optional
        Step labels for the binding time.
    resolution_kw, rel_resolution : float
        The result is the feasible end of a bracket narrower than
        ``max(resolution_kw, rel_resolution * hc)``.
    start_kw, max_kw : float
        First trial and the cap [kW]; a bus that takes ``max_kw`` reports it
        with ``binding`` None.
    screen_steps : int or None
        With more than twice this many steps, bracket on screened steps and
        confirm on every step (same answer, far fewer power flows). None:
        bracket on every step.

    Returns
    -------
    NodalHostingCapacity

    Raises
    ------
    GridintError
        Wrong shapes, an unknown bus, or a base case that does not converge.
    """
    study = _Study(compiled, p_inj_mw, q_inj_mvar, shape, time_index)
    site = bus_site(compiled, bus)
    (res,) = solve_sites(study, [site], resolution_kw=resolution_kw, rel_resolution=rel_resolution,
                         start_kw=start_kw, max_kw=max_kw, n_screen=screen_steps)
    return NodalHostingCapacity(res.name, res.hc_kw, res.binding, study.n_steps, study.n_pf)
