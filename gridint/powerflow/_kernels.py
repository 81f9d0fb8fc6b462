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


@njit(cache=True, error_model="numpy")
def _lu_solve(b, l_ptr, l_idx, l_dat, u_ptr, u_idx, u_dat, u_dinv, perm_r, perm_c,
              work, out):
    """Solve ``A x = b`` with ``Pr A Pc = L U`` (L unit lower, U upper).

    Empty ``perm_r`` / ``perm_c`` mean the buses are already in factor order
    (the compiler reorders them when the pivoting is symmetric).
    """
    n = b.shape[0]
    permuted = perm_r.shape[0] > 0
    if permuted:
        for i in range(n):
            work[perm_r[i]] = b[i]
    else:
        for i in range(n):
            work[i] = b[i]
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
    if permuted:
        for i in range(n):
            out[i] = work[perm_c[i]]
    else:
        for i in range(n):
            out[i] = work[i]


@njit(cache=True, error_model="numpy")
def _solve_step(s_pu, w, v, l_ptr, l_idx, l_dat, u_ptr, u_idx, u_dat, u_dinv,
                perm_r, perm_c, tol_pu, max_iter, vm_lo, vm_hi, cur, work, x):
    """Iterate one step in place on ``v``; return (converged, iterations)."""
    n = s_pu.shape[0]
    for it in range(1, max_iter + 1):
        # t = S / V(k): conj(t) is the injected current, t V(k+1) the computed power
        for i in range(n):
            vr = v[i].real
            vi = v[i].imag
            inv = 1.0 / (vr * vr + vi * vi)
            sr = s_pu[i].real
            si = s_pu[i].imag
            # t = S / V = S conj(V) / |V|^2
            tr = (sr * vr + si * vi) * inv
            ti = (si * vr - sr * vi) * inv
            cur[i] = complex(tr, ti)
            x[i] = complex(tr, -ti)
        _lu_solve(x, l_ptr, l_idx, l_dat, u_ptr, u_idx, u_dat, u_dinv,
                  perm_r, perm_c, work, x)
        mis = 0.0
        ok = True
        for i in range(n):
            vn = w[i] + x[i]
            d = s_pu[i] - cur[i] * vn  # mismatch of the new iterate
            a = max(abs(d.real), abs(d.imag))
            if a > mis:
                mis = a
            v[i] = vn
            vm2 = vn.real * vn.real + vn.imag * vn.imag
            if not (vm2 >= vm_lo * vm_lo and vm2 <= vm_hi * vm_hi):  # also catches NaN
                ok = False
        if not ok:
            return False, it
        if mis < tol_pu:
            return True, it
    return False, max_iter


@njit(cache=True, error_model="numpy")
def _gather_injections(p_row, q_row, bus_pq, inv_base, s):
    """Sum per-bus injections [MW, Mvar] onto PQ solver buses [pu]."""
    for i in range(s.shape[0]):
        s[i] = 0.0
    for j in range(bus_pq.shape[0]):
        i = bus_pq[j]
        if i >= 0:
            s[i] += complex(p_row[j] * inv_base, q_row[j] * inv_base)


@njit(cache=True, error_model="numpy")
def _branch_step(v, br_f, br_t, yff, yft, ytf, ytt, i_scale_f, i_scale_t, base_mva,
                 line_br, line_inv_imax, trafo_br, trafo_kv_hv, trafo_kv_lv,
                 trafo_inv_rating, i_f, i_t, line_out, trafo_out, tp_out, tq_out):
    """Branch results of one solved step; returns the active losses [MW].

    ``i_scale`` = base_mva / (sqrt(3) kV_base) turns |I| [pu] into kA; this is
    pandapower's |S| / (sqrt(3) |V| kV) with |S| = |V| |I| base_mva.
    """
    loss = 0.0
    for b in range(br_f.shape[0]):
        vf = v[br_f[b]]
        vt = v[br_t[b]]
        cf = yff[b] * vf + yft[b] * vt
        ct = ytf[b] * vf + ytt[b] * vt
        i_f[b] = np.sqrt(cf.real * cf.real + cf.imag * cf.imag) * i_scale_f[b]
        i_t[b] = np.sqrt(ct.real * ct.real + ct.imag * ct.imag) * i_scale_t[b]
        loss += (vf * np.conj(cf) + vt * np.conj(ct)).real
    for j in range(line_br.shape[0]):
        b = line_br[j]
        line_out[j] = 0.0 if b < 0 else max(i_f[b], i_t[b]) * line_inv_imax[j]
    for j in range(trafo_br.shape[0]):
        b = trafo_br[j]
        if b < 0:
            trafo_out[j] = 0.0
            tp_out[j] = 0.0
            tq_out[j] = 0.0
            continue
        trafo_out[j] = max(i_f[b] * trafo_kv_hv[j], i_t[b] * trafo_kv_lv[j]) * trafo_inv_rating[j]
        vf = v[br_f[b]]
        sf = vf * np.conj(yff[b] * vf + yft[b] * v[br_t[b]]) * base_mva
        tp_out[j] = sf.real
        tq_out[j] = sf.imag
    return loss * base_mva


@njit(parallel=True, cache=True, error_model="numpy")
def solve_batch(p_mw, q_mvar, bus_pq, bus_solver, inv_base, w, pq, ref, v_ref,
                l_ptr, l_idx, l_dat, u_ptr, u_idx, u_dat, u_dinv, perm_r, perm_c,
                tol_pu, max_iter, vm_lo, vm_hi, chunk,
                br_f, br_t, yff, yft, ytf, ytt, i_scale_f, i_scale_t, base_mva,
                line_br, line_inv_imax, trafo_br, trafo_kv_hv, trafo_kv_lv,
                trafo_inv_rating,
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
        i_f = np.empty(n_br)
        i_t = np.empty(n_br)
        vm_full = np.empty(n_solver)
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
            for i in range(n_solver):
                vm_full[i] = np.sqrt(v_full[i].real * v_full[i].real
                                     + v_full[i].imag * v_full[i].imag)
            for j in range(bus_solver.shape[0]):
                i = bus_solver[j]
                if i < 0:
                    vm_out[k, j] = np.nan
                    va_out[k, j] = np.nan
                else:
                    vm_out[k, j] = vm_full[i]
                    va_out[k, j] = np.arctan2(v_full[i].imag, v_full[i].real) * RAD2DEG
            loss_out[k] = _branch_step(
                v_full, br_f, br_t, yff, yft, ytf, ytt, i_scale_f, i_scale_t,
                base_mva, line_br, line_inv_imax, trafo_br, trafo_kv_hv, trafo_kv_lv,
                trafo_inv_rating, i_f, i_t, line_out[k], trafo_out[k],
                tp_out[k], tq_out[k])


@njit(parallel=True, cache=True, error_model="numpy")
def scatter_elements(vals, bus_pos, factor, out):
    """``out[k, bus_pos[e]] += factor[e] * vals[k, e]`` for every step and element.

    Elements with ``bus_pos < 0`` are skipped. Returns the number of non-finite
    values seen (the caller refuses the input when it is not zero).
    """
    n_steps, n_elem = vals.shape
    bad = 0
    for k in prange(n_steps):
        for e in range(n_elem):
            x = vals[k, e]
            if not np.isfinite(x):
                bad += 1
            elif bus_pos[e] >= 0:
                out[k, bus_pos[e]] += factor[e] * x
    return bad
