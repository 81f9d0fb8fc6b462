"""Private numba kernels of the hosting-capacity engine."""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def candidate_mask(r0, r0_max, u, x_kw, d, d_max, margin_rel, margin_abs, skip):
    """Steps where a linear estimate says a site's new PV might break a limit.

    Parameters
    ----------
    r0 : float64 (steps, m)
        Base value / limit of every monitored quantity (> 1 is beyond the limit).
    r0_max : float64 (steps,)
        Row maxima of ``r0``.
    u : float64 (sites, steps)
        New-PV injection per kW of rating at each step [kW/kW].
    x_kw : float64 (sites,)
        Rating to check per site [kW].
    d : float64 (sites, m)
        Upper bound of each quantity's change per kW injected [1/kW].
    d_max : float64 (sites,)
        Row maxima of ``d``.
    margin_rel, margin_abs : float
        The increment is inflated by ``1 + margin_rel`` and ``margin_abs`` added.
    skip : bool (sites, steps)
        Steps already checked with the AC engine.

    Returns
    -------
    bool (sites, steps)
    """
    n_sites, n_steps = u.shape
    m = r0.shape[1]
    out = np.zeros((n_sites, n_steps), dtype=np.bool_)
    for s in prange(n_sites):
        for t in range(n_steps):
            if skip[s, t]:
                continue
            a = x_kw[s] * u[s, t] * (1.0 + margin_rel)
            if a <= 0.0:
                continue
            if r0_max[t] + a * d_max[s] + margin_abs <= 1.0:
                continue
            for j in range(m):
                if r0[t, j] + a * d[s, j] + margin_abs > 1.0:
                    out[s, t] = True
                    break
    return out
