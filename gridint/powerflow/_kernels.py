"""Private numba kernels of the batch AC power flow.

The solver is the implicit Z-bus Gauss (current-injection fixed point) method:
with the slack voltages fixed, the PQ-bus voltages satisfy

    Y_LL V_L = conj(S_L / V_L) - Y_LS V_S,

so each iteration is one sparse forward/back substitution with the LU factors
of ``Y_LL`` computed once per topology:

    V_L(k+1) = w + Y_LL^-1 conj(S_L / V_L(k)),   w = -Y_LL^-1 Y_LS V_S.

On a radial feeder this is the backward/forward sweep written in matrix form
(the factors of a tree have no fill-in); on a meshed network it stays exact
because it uses the full admittance matrix. The power mismatch of iterate
``k+1`` is known without another matrix product: the current used in the
solve was ``conj(S/V(k))``, so the computed injection is ``S V(k+1)/V(k)``.
Steps are independent and run in parallel (``prange``) in fixed chunks; within
a chunk each step starts from the previous converged step (warm start), so the
result does not depend on the number of threads.

Every kernel has a plain-Python twin in behaviour under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

SQRT3 = np.sqrt(3.0)
RAD2DEG = 180.0 / np.pi


@njit(cache=True)
def _lu_solve(b, l_ptr, l_idx, l_dat, u_ptr, u_idx, u_dat, u_dinv, perm_r, perm_c,
              work, out):
    """Solve ``A x = b`` with ``Pr A Pc = L U`` (L unit lower, U upper)."""
    n = b.shape[0]
    for i in range(n):
        work[perm_r[i]] = b[i]
    # forward: L y = Pr b (unit diagonal)
    for i in range(n):
        s = work[i]
        for k in range(l_ptr[i], l_ptr[i + 1]):
            s -= l_dat[k] * work[l_idx[k]]
        work[i] = s
    # backward: U z = y
    for i in range(n - 1, -1, -1):
        s = work[i]
        for k in range(u_ptr[i], u_ptr[i + 1]):
            s -= u_dat[k] * work[u_idx[k]]
        work[i] = s * u_dinv[i]
    # x = Pc z
    for i in range(n):
        out[i] = work[perm_c[i]]


@njit(cache=True)
def _solve_step(s_pu, w, v, l_ptr, l_idx, l_dat, u_ptr, u_idx, u_dat, u_dinv,
                perm_r, perm_c, tol_pu, max_iter, vm_lo, vm_hi, cur, work, x):
    """Iterate one step in place on ``v``; return (converged, iterations)."""
    n = s_pu.shape[0]
    for it in range(1, max_iter + 1):
        for i in range(n):
            cur[i] = np.conj(s_pu[i] / v[i])
        _lu_solve(cur, l_ptr, l_idx, l_dat, u_ptr, u_idx, u_dat, u_dinv,
                  perm_r, perm_c, work, x)
        mis = 0.0
        ok = True
        for i in range(n):
            vn = w[i] + x[i]
            # mismatch of the new iterate: S - S V_new / V_old
            d = s_pu[i] - s_pu[i] * vn / v[i]
            a = abs(d.real)
            b = abs(d.imag)
            if a > mis:
                mis = a
            if b > mis:
                mis = b
            v[i] = vn
            vm = abs(vn)
            if not (vm >= vm_lo and vm <= vm_hi):  # also catches NaN
                ok = False
        if not ok:
            return False, it
        if mis < tol_pu:
            return True, it
    return False, max_iter


@njit(cache=True)
def _gather_injections(p_row, q_row, bus_pq, inv_base, s):
    """Sum per-bus injections [MW, Mvar] onto PQ solver buses [pu]."""
    for i in range(s.shape[0]):
        s[i] = 0.0
    for j in range(bus_pq.shape[0]):
        i = bus_pq[j]
        if i >= 0:
            s[i] += complex(p_row[j] * inv_base, q_row[j] * inv_base)


@njit(cache=True)
def _branch_step(v, br_f, br_t, yff, yft, ytf, ytt, kv_f, kv_t, base_mva,
                 line_br, line_imax_ka, trafo_br, trafo_kv_hv, trafo_kv_lv,
                 trafo_sn_mva, trafo_rf, sf, st, line_out, trafo_out, tp_out, tq_out):
    """Branch flows of one solved step; returns the active losses [MW]."""
    loss = 0.0
    for b in range(br_f.shape[0]):
        vf = v[br_f[b]]
        vt = v[br_t[b]]
        i_f = yff[b] * vf + yft[b] * vt
        i_t = ytf[b] * vf + ytt[b] * vt
        sf[b] = vf * np.conj(i_f) * base_mva
        st[b] = vt * np.conj(i_t) * base_mva
        loss += sf[b].real + st[b].real
    for j in range(line_br.shape[0]):
        b = line_br[j]
        if b < 0:
            line_out[j] = 0.0
            continue
        i_f = abs(sf[b]) / (abs(v[br_f[b]]) * kv_f[b] * SQRT3)
        i_t = abs(st[b]) / (abs(v[br_t[b]]) * kv_t[b] * SQRT3)
        line_out[j] = max(i_f, i_t) / line_imax_ka[j] * 100.0
    for j in range(trafo_br.shape[0]):
        b = trafo_br[j]
        if b < 0:
            trafo_out[j] = 0.0
            tp_out[j] = 0.0
            tq_out[j] = 0.0
            continue
        i_hv = abs(sf[b]) / (abs(v[br_f[b]]) * kv_f[b] * SQRT3)
        i_lv = abs(st[b]) / (abs(v[br_t[b]]) * kv_t[b] * SQRT3)
        ld = max(i_hv * trafo_kv_hv[j], i_lv * trafo_kv_lv[j]) * SQRT3
        trafo_out[j] = ld / trafo_sn_mva[j] * 100.0 / trafo_rf[j]
        tp_out[j] = sf[b].real
        tq_out[j] = sf[b].imag
    return loss


@njit(parallel=True, cache=True)
def solve_batch(p_mw, q_mvar, bus_pq, bus_solver, inv_base, w, pq, ref, v_ref,
                l_ptr, l_idx, l_dat, u_ptr, u_idx, u_dat, u_dinv, perm_r, perm_c,
                tol_pu, max_iter, vm_lo, vm_hi, chunk,
                br_f, br_t, yff, yft, ytf, ytt, kv_f, kv_t, base_mva,
                line_br, line_imax_ka, trafo_br, trafo_kv_hv, trafo_kv_lv,
                trafo_sn_mva, trafo_rf,
                vm_out, va_out, line_out, trafo_out, tp_out, tq_out, loss_out,
                conv_out, iter_out):
    """Solve and reduce every step of ``p_mw``/``q_mvar`` (steps x pandapower buses).

    Per step: gather injections onto PQ solver buses, iterate, then write bus
    voltages (pandapower bus order; NaN for dead buses) and branch results.
    A step that does not converge gets NaN everywhere.
    """
    n_steps = p_mw.shape[0]
    n = w.shape[0]
    n_solver = pq.shape[0] + ref.shape[0]
    n_br = br_f.shape[0]
    n_chunks = (n_steps + chunk - 1) // chunk
    for c in prange(n_chunks):
        v = w.copy()
        s = np.empty(n, dtype=np.complex128)
        cur = np.empty(n, dtype=np.complex128)
        work = np.empty(n, dtype=np.complex128)
        x = np.empty(n, dtype=np.complex128)
        v_full = np.empty(n_solver, dtype=np.complex128)
        for i in range(ref.shape[0]):
            v_full[ref[i]] = v_ref[i]
        sf = np.empty(n_br, dtype=np.complex128)
        st = np.empty(n_br, dtype=np.complex128)
        start = c * chunk
        stop = min(start + chunk, n_steps)
        for k in range(start, stop):
            _gather_injections(p_mw[k], q_mvar[k], bus_pq, inv_base, s)
            if n > 0:
                ok, it = _solve_step(s, w, v, l_ptr, l_idx, l_dat, u_ptr, u_idx,
                                     u_dat, u_dinv, perm_r, perm_c, tol_pu, max_iter,
                                     vm_lo, vm_hi, cur, work, x)
            else:
                ok, it = True, 0
            conv_out[k] = ok
            iter_out[k] = it
            if not ok:
                for i in range(n):
                    v[i] = w[i]  # restart the next step from no-load voltages
                vm_out[k, :] = np.nan
                va_out[k, :] = np.nan
                line_out[k, :] = np.nan
                trafo_out[k, :] = np.nan
                tp_out[k, :] = np.nan
                tq_out[k, :] = np.nan
                loss_out[k] = np.nan
                continue
            for i in range(n):
                v_full[pq[i]] = v[i]
            for j in range(bus_solver.shape[0]):
                i = bus_solver[j]
                if i < 0:
                    vm_out[k, j] = np.nan
                    va_out[k, j] = np.nan
                else:
                    vm_out[k, j] = abs(v_full[i])
                    va_out[k, j] = np.angle(v_full[i]) * RAD2DEG
            loss_out[k] = _branch_step(
                v_full, br_f, br_t, yff, yft, ytf, ytt, kv_f, kv_t, base_mva,
                line_br, line_imax_ka, trafo_br, trafo_kv_hv, trafo_kv_lv,
                trafo_sn_mva, trafo_rf, sf, st, line_out[k], trafo_out[k],
                tp_out[k], tq_out[k])
