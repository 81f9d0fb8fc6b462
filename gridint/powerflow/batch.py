"""Public batch AC power-flow API.

>>> from gridint.powerflow import compile_net, run_batch, net_injections
>>> compiled = compile_net(net)                       # once per topology
>>> p_inj_mw, q_inj_mvar = net_injections(compiled)   # the file's own loads/sgens
>>> res = run_batch(compiled, p_inj_mw[None], q_inj_mvar[None])

Sign convention: bus injections are positive for generation (power flowing
into the network); element tables keep pandapower's signs (load and storage
``p_mw`` positive = consumption / charging, sgen positive = generation).
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import PowerFlowError
from gridint.powerflow import _kernels
from gridint.powerflow.compile import CompiledNet

__all__ = ["BatchResult", "run_batch", "net_injections", "element_injections"]

logger = logging.getLogger(__name__)

_CHUNK_STEPS = 96  # one day of quarter-hours: warm-start run length


@dataclass
class BatchResult:
    """Results of a batch power flow; arrays are (steps x elements).

    Non-converged steps have ``converged[k] = False`` and NaN in every array
    of that step (never plausible-looking numbers).

    Attributes
    ----------
    vm_pu, va_degree : ndarray (steps, n_bus)
        Bus voltage magnitude [pu] and angle [degree], columns ``bus_index``;
        NaN for out-of-service or unsupplied buses.
    line_loading_percent : ndarray (steps, n_line)
        pandapower's line loading [%], 0 for out-of-service lines.
    trafo_loading_percent : ndarray (steps, n_trafo)
        pandapower's current-based transformer loading [%].
    trafo_p_hv_mw, trafo_q_hv_mvar : ndarray (steps, n_trafo)
        Power into the transformer at its HV side [MW], [Mvar]; negative P is
        reverse flow (towards the HV grid).
    losses_mw : ndarray (steps,)
        Active losses of all branches [MW].
    converged : ndarray of bool (steps,)
    iterations : ndarray of int (steps,)
    runtime_s : float
        Wall time of the solve [s] (compilation of kernels excluded once warm).
    """

    compiled: CompiledNet
    vm_pu: np.ndarray
    va_degree: np.ndarray
    line_loading_percent: np.ndarray
    trafo_loading_percent: np.ndarray
    trafo_p_hv_mw: np.ndarray
    trafo_q_hv_mvar: np.ndarray
    losses_mw: np.ndarray
    converged: np.ndarray
    iterations: np.ndarray
    runtime_s: float
    time_index: pd.DatetimeIndex | None = None

    @property
    def n_steps(self) -> int:
        """Number of steps."""
        return len(self.converged)

    @property
    def nbytes(self) -> int:
        """Memory held by the result arrays [bytes]."""
        return int(sum(a.nbytes for a in (
            self.vm_pu, self.va_degree, self.line_loading_percent,
            self.trafo_loading_percent, self.trafo_p_hv_mw, self.trafo_q_hv_mvar,
            self.losses_mw, self.converged, self.iterations)))

    def take(self, steps) -> "BatchResult":
        """The result restricted to some steps (positions or a boolean mask)."""
        idx = np.arange(self.n_steps)[steps]
        return BatchResult(
            compiled=self.compiled, vm_pu=self.vm_pu[idx], va_degree=self.va_degree[idx],
            line_loading_percent=self.line_loading_percent[idx],
            trafo_loading_percent=self.trafo_loading_percent[idx],
            trafo_p_hv_mw=self.trafo_p_hv_mw[idx], trafo_q_hv_mvar=self.trafo_q_hv_mvar[idx],
            losses_mw=self.losses_mw[idx], converged=self.converged[idx],
            iterations=self.iterations[idx], runtime_s=self.runtime_s,
            time_index=None if self.time_index is None else self.time_index[idx])

    def vm_frame(self) -> pd.DataFrame:
        """Bus voltages as a DataFrame (index: time or step, columns: bus index)."""
        return pd.DataFrame(self.vm_pu, index=self.time_index,
                            columns=pd.Index(self.compiled.bus_index, name="bus"))


def _as_2d(name: str, a, n_cols: int) -> np.ndarray:
    arr = np.asarray(a, dtype=float)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != n_cols:
        raise PowerFlowError(f"{name} must have shape (steps, {n_cols}); got {np.shape(a)}")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise PowerFlowError(f"{name} has a non-finite value at step {bad[0]}, column {bad[1]}")
    return arr


def _solver_injections(compiled: CompiledNet, p_inj_mw: np.ndarray,
                       q_inj_mvar: np.ndarray) -> np.ndarray:
    """Sum per-bus injections onto solver PQ buses, in per unit."""
    s_solver = np.zeros((p_inj_mw.shape[0], compiled.n_solver), dtype=np.complex128)
    live = compiled.bus_solver >= 0
    cols = compiled.bus_solver[live]
    s_bus = (p_inj_mw[:, live] + 1j * q_inj_mvar[:, live]) / compiled.base_mva
    # several pandapower buses may be one solver bus (closed bus-bus switch)
    order = np.argsort(cols, kind="stable")
    uniq, first = np.unique(cols[order], return_index=True)
    s_solver[:, uniq] = np.add.reduceat(s_bus[:, order], first, axis=1)
    return np.ascontiguousarray(s_solver[:, compiled.pq])


def run_batch(compiled: CompiledNet, p_inj_mw, q_inj_mvar, *,
              time_index: pd.DatetimeIndex | None = None,
              tolerance_mva: float | None = None, max_iteration: int | None = None,
              backend: str = "numba") -> BatchResult:
    """Solve many AC power flows of one topology in one call.

    Parameters
    ----------
    compiled : CompiledNet
        From :func:`gridint.powerflow.compile_net`.
    p_inj_mw, q_inj_mvar : array (steps, n_bus) [MW], [Mvar]
        Net injection per pandapower bus (columns in ``compiled.bus_index``
        order), generation positive. Storage charging is a negative injection.
    time_index : DatetimeIndex, optional
        Labels of the steps, kept on the result.
    tolerance_mva : float, optional
        Max active/reactive mismatch per bus [MVA]; default from settings
        (1e-9, the value used against pandapower).
    max_iteration : int, optional
        Per step; default from settings.
    backend : {"numba", "numpy"}
        ``numpy`` is a vectorised SciPy reference path (same method, all steps
        at once) for checking the kernels and for platforms without numba.

    Returns
    -------
    BatchResult

    Raises
    ------
    PowerFlowError
        On inputs of the wrong shape or with NaN/inf. A step that does not
        converge never raises: it is flagged in ``BatchResult.converged``.
    """
    settings = get_settings()
    tol = settings.pf_tolerance_mva if tolerance_mva is None else float(tolerance_mva)
    max_it = settings.pf_max_iteration if max_iteration is None else int(max_iteration)
    if not tol > 0:
        raise PowerFlowError(f"tolerance_mva must be > 0; got {tolerance_mva}")
    if max_it < 1:
        raise PowerFlowError(f"max_iteration must be >= 1; got {max_iteration}")
    p = _as_2d("p_inj_mw", p_inj_mw, compiled.n_bus)
    q = _as_2d("q_inj_mvar", q_inj_mvar, compiled.n_bus)
    if p.shape != q.shape:
        raise PowerFlowError(f"p_inj_mw {p.shape} and q_inj_mvar {q.shape} differ in shape")
    if time_index is not None and len(time_index) != p.shape[0]:
        raise PowerFlowError(f"time_index has {len(time_index)} entries for {p.shape[0]} steps")

    t0 = time.perf_counter()
    n_steps = p.shape[0]
    tol_pu = tol / compiled.base_mva
    vm_lo, vm_hi = settings.pf_vm_sanity_min_pu, settings.pf_vm_sanity_max_pu
    if backend == "numba":
        out = _run_numba(compiled, p, q, tol_pu, max_it, vm_lo, vm_hi)
    elif backend == "numpy":
        out = _run_numpy(compiled, p, q, tol_pu, max_it, vm_lo, vm_hi)
    else:
        raise PowerFlowError(f"backend must be 'numba' or 'numpy'; got {backend!r}")
    runtime = time.perf_counter() - t0
    conv = out["converged"]
    n_bad = int(n_steps - conv.sum())
    if n_bad:
        logger.warning("%s: %d of %d steps did not converge", compiled.name, n_bad, n_steps)
    return BatchResult(compiled=compiled, runtime_s=runtime, time_index=time_index, **out)


def _empty_outputs(c: CompiledNet, n_steps: int) -> dict:
    n_line, n_trafo = len(c.line_index), len(c.trafo_index)
    return {
        "vm_pu": np.empty((n_steps, c.n_bus)),
        "va_degree": np.empty((n_steps, c.n_bus)),
        "line_loading_percent": np.empty((n_steps, n_line)),
        "trafo_loading_percent": np.empty((n_steps, n_trafo)),
        "trafo_p_hv_mw": np.empty((n_steps, n_trafo)),
        "trafo_q_hv_mvar": np.empty((n_steps, n_trafo)),
        "losses_mw": np.empty(n_steps),
        "converged": np.zeros(n_steps, dtype=np.bool_),
        "iterations": np.zeros(n_steps, dtype=np.int32),
    }


def _run_numba(c: CompiledNet, p, q, tol_pu, max_it, vm_lo, vm_hi) -> dict:
    out = _empty_outputs(c, p.shape[0])
    _kernels.solve_batch(
        np.ascontiguousarray(p), np.ascontiguousarray(q), c.bus_pq, c.bus_solver,
        1.0 / c.base_mva, c.w_pq, c.pq, c.ref, c.v_ref,
        c.lu_l_indptr, c.lu_l_indices, c.lu_l_data, c.lu_u_indptr,
        c.lu_u_indices, c.lu_u_data, c.lu_u_diag_inv, c.lu_perm_r, c.lu_perm_c,
        tol_pu, max_it, vm_lo, vm_hi, _CHUNK_STEPS,
        c.br_f, c.br_t, c.br_yff, c.br_yft, c.br_ytf, c.br_ytt,
        c.base_mva / (np.sqrt(3) * c.br_kv_f), c.base_mva / (np.sqrt(3) * c.br_kv_t),
        c.base_mva, c.line_branch, 100.0 / c.line_i_max_ka, c.trafo_branch,
        c.trafo_vn_hv_kv, c.trafo_vn_lv_kv,
        np.sqrt(3) * 100.0 / (c.trafo_sn_mva * c.trafo_rating_factor),
        out["vm_pu"], out["va_degree"], out["line_loading_percent"],
        out["trafo_loading_percent"], out["trafo_p_hv_mw"], out["trafo_q_hv_mvar"],
        out["losses_mw"], out["converged"], out["iterations"])
    return out


def _lu_solve_many(c: CompiledNet, rhs: np.ndarray) -> np.ndarray:
    """Vectorised triangular solves for rhs (n, m) with the stored factors."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve_triangular

    n = len(c.pq)
    l_mat = sp.csr_matrix((c.lu_l_data, c.lu_l_indices, c.lu_l_indptr), shape=(n, n)) \
        + sp.identity(n, dtype=np.complex128, format="csr")
    u_mat = sp.csr_matrix((c.lu_u_data, c.lu_u_indices, c.lu_u_indptr), shape=(n, n)) \
        + sp.diags(1.0 / c.lu_u_diag_inv, format="csr")
    b = rhs.copy()
    if len(c.lu_perm_r):
        b[c.lu_perm_r] = rhs
    y = spsolve_triangular(l_mat, b, lower=True, unit_diagonal=True)
    z = spsolve_triangular(u_mat, y, lower=False)
    return z[c.lu_perm_c] if len(c.lu_perm_c) else z


def _run_numpy(c: CompiledNet, p, q, tol_pu, max_it, vm_lo, vm_hi) -> dict:
    """Same method as the kernel, vectorised over steps with SciPy (flat no-load start)."""
    s_pq = _solver_injections(c, p, q)
    n_steps, n = s_pq.shape
    out = _empty_outputs(c, n_steps)
    conv, iters = out["converged"], out["iterations"]
    v = np.tile(c.w_pq, (n_steps, 1))
    active = np.ones(n_steps, dtype=bool) if n else np.zeros(n_steps, dtype=bool)
    conv[:] = n == 0
    for it in range(1, max_it + 1):
        idx = np.flatnonzero(active)
        if not len(idx):
            break
        s = s_pq[idx]
        x = _lu_solve_many(c, np.conj(s / v[idx]).T.copy()).T
        vn = c.w_pq[None, :] + x
        d = s - s * vn / v[idx]
        mis = np.maximum(np.abs(d.real), np.abs(d.imag)).max(axis=1)
        v[idx] = vn
        vm = np.abs(vn)
        bad = ~np.all((vm >= vm_lo) & (vm <= vm_hi), axis=1)
        done = (mis < tol_pu) & ~bad
        iters[idx] = it
        conv[idx[done]] = True
        active[idx[done | bad]] = False
    v_full = np.empty((n_steps, c.n_solver), dtype=np.complex128)
    v_full[:, c.pq] = v
    v_full[:, c.ref] = c.v_ref
    v_full[~conv] = np.nan
    live = c.bus_solver >= 0
    out["vm_pu"][:] = np.nan
    out["va_degree"][:] = np.nan
    out["vm_pu"][:, live] = np.abs(v_full[:, c.bus_solver[live]])
    out["va_degree"][:, live] = np.angle(v_full[:, c.bus_solver[live]], deg=True)
    vf, vt = v_full[:, c.br_f], v_full[:, c.br_t]
    sf = vf * np.conj(c.br_yff * vf + c.br_yft * vt) * c.base_mva
    st = vt * np.conj(c.br_ytf * vf + c.br_ytt * vt) * c.base_mva
    out["losses_mw"][:] = (sf.real + st.real).sum(axis=1)
    i_f = np.abs(sf) / (np.abs(vf) * c.br_kv_f * np.sqrt(3))
    i_t = np.abs(st) / (np.abs(vt) * c.br_kv_t * np.sqrt(3))
    for name, br in (("line", c.line_branch), ("trafo", c.trafo_branch)):
        on = br >= 0
        b = br[on]
        if name == "line":
            ld = np.zeros((n_steps, len(br)))
            ld[:, on] = np.maximum(i_f[:, b], i_t[:, b]) / c.line_i_max_ka[on] * 100.0
            out["line_loading_percent"][:] = ld
        else:
            ld = np.zeros((n_steps, len(br)))
            ld[:, on] = (np.maximum(i_f[:, b] * c.trafo_vn_hv_kv[on], i_t[:, b] * c.trafo_vn_lv_kv[on])
                         * np.sqrt(3) / c.trafo_sn_mva[on] * 100.0 / c.trafo_rating_factor[on])
            out["trafo_loading_percent"][:] = ld
            tp = np.zeros((n_steps, len(br)))
            tq = np.zeros((n_steps, len(br)))
            tp[:, on] = sf[:, b].real
            tq[:, on] = sf[:, b].imag
            out["trafo_p_hv_mw"][:] = tp
            out["trafo_q_hv_mvar"][:] = tq
    for key in ("line_loading_percent", "trafo_loading_percent", "trafo_p_hv_mw",
                "trafo_q_hv_mvar", "losses_mw"):
        out[key][~conv] = np.nan
    return out


def element_injections(compiled: CompiledNet, **element_values) -> tuple[np.ndarray, np.ndarray]:
    """Per-bus injections from element values, pandapower signs and scaling.

    Parameters
    ----------
    compiled : CompiledNet
    **element_values : array (steps, n_elements) or DataFrame
        Keyword ``<table>_<column>``: ``load_p_mw``, ``load_q_mvar``,
        ``sgen_p_mw``, ``sgen_q_mvar``, ``storage_p_mw`` (positive = charging),
        ``storage_q_mvar``. DataFrames are aligned on element index columns;
        arrays must have one column per element in table order. Elements or
        tables not given keep the net's own values. ``scaling`` and
        ``in_service`` of the net apply, as in pandapower.

    Returns
    -------
    p_inj_mw, q_inj_mvar : ndarray (steps, n_bus)
        Generation-positive injections per bus [MW], [Mvar].
    """
    allowed = {f"{t}_{c}" for t in ("load", "sgen", "storage", "ward") for c in ("p_mw", "q_mvar")}
    unknown = set(element_values) - allowed
    if unknown:
        raise PowerFlowError(f"unknown element values {sorted(unknown)}; allowed: {sorted(allowed)}")
    # a table without elements takes no values (e.g. an empty storage profile)
    element_values = {k: v for k, v in element_values.items()
                      if not (k.rsplit("_", 2)[0] not in compiled.elements and np.size(v) == 0)}
    n_steps = None
    for key, val in element_values.items():
        shape = np.shape(val)
        steps = shape[0] if len(shape) == 2 else 1
        if n_steps is not None and steps != n_steps:
            raise PowerFlowError(f"{key} has {steps} steps, others have {n_steps}")
        n_steps = steps
    n_steps = n_steps or 1
    if "ward_p_mw" in element_values or "ward_q_mvar" in element_values:
        raise PowerFlowError("ward values are fixed by the net (ps_mw, qs_mvar)")
    p = np.zeros((n_steps, compiled.n_bus))
    q = np.zeros((n_steps, compiled.n_bus))
    for table, m in compiled.elements.items():
        # pandapower's sign, scaling and in_service, per element
        factor = m["sign"] * m["scaling"] * m["in_service"]
        for col, out in (("p_mw", p), ("q_mvar", q)):
            key = f"{table}_{col}"
            arr = _element_array(key, element_values.get(key), m, col, n_steps)
            if _kernels.scatter_elements(arr, m["bus_pos"], factor, out):
                _check_finite(key, arr, m["index"])  # names the first bad value
    return p, q


def _element_array(key: str, vals, m: dict, col: str, n_steps: int) -> np.ndarray:
    """(steps x n_elements) float array of one element column, validated."""
    n_elem = len(m["index"])
    if vals is None:
        return np.broadcast_to(m[col], (n_steps, n_elem))
    if isinstance(vals, pd.DataFrame):
        extra = vals.columns.difference(pd.Index(m["index"]))
        if len(extra):
            raise PowerFlowError(f"{key} has columns that are not elements of the table: "
                                 f"{list(extra[:5])}")
        if len(vals.columns) == n_elem and np.array_equal(vals.columns.to_numpy(), m["index"]):
            return vals.to_numpy(dtype=float)  # checked for NaN by the scatter kernel
        else:  # align on the element index; elements not given keep the net's value
            given = vals.to_numpy(dtype=float)
            _check_finite(key, given, vals.columns.to_numpy())
            arr = np.array(np.broadcast_to(m[col], (n_steps, n_elem)), dtype=float)
            arr[:, pd.Index(m["index"]).get_indexer(vals.columns)] = given
    else:
        arr = np.asarray(vals, dtype=float)
        if arr.ndim == 1:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != n_elem:
            raise PowerFlowError(f"{key} must have {n_elem} columns (one per element); "
                                 f"got shape {np.shape(vals)}")
    return arr


def _check_finite(key: str, arr: np.ndarray, labels: np.ndarray) -> None:
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise PowerFlowError(f"{key} has a non-finite value at step {bad[0]}, "
                             f"element {labels[bad[1]]}")


def net_injections(compiled: CompiledNet) -> tuple[np.ndarray, np.ndarray]:
    """The net's own snapshot injections per bus [MW], [Mvar] (one step, 1-D)."""
    p, q = element_injections(compiled)
    return p[0], q[0]


def numba_threads() -> int:
    """Threads numba uses for ``prange`` (``NUMBA_NUM_THREADS``)."""
    try:
        import numba

        return int(numba.get_num_threads())
    except Exception:  # pragma: no cover
        return int(os.environ.get("NUMBA_NUM_THREADS", 1))
