"""Compile a pandapower net into the compact arrays of the batch engine.

The network model is pandapower's own: the net is converted once with
pandapower's internal converter (``_pd2ppc``), which applies every modelling
rule of ``pandapower.runpp`` -- open and bus-bus switches (fused buses, auxiliary
buses behind open line switches), out-of-service elements, transformer T-model
with tap position and phase shift, parallel lines, shunts, ext_grid set-points.
The bus admittance matrix and the branch admittances come from pandapower's
``makeYbus`` primitives. gridint then keeps only arrays: the sparse LU factors
of the PQ-bus block of Ybus, branch admittances and the maps from pandapower
element tables to solver buses. So there is one network model, pandapower's,
and the batch engine cannot drift from it.

Supported in-service elements: bus, line, trafo, switch, ext_grid, load
(constant power), sgen, storage, shunt, ward, impedance. Anything else in service
(gen, trafo3w, xward, motor, dcline, SVC/TCSC/SSC/VSC, voltage-dependent loads) is
refused with :class:`gridint.errors.FeederError` rather than solved wrongly.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from gridint.errors import FeederError

__all__ = ["CompiledNet", "compile_net", "SUPPORTED_TABLES"]

logger = logging.getLogger(__name__)

# Element tables the engine models exactly (pandapower semantics).
SUPPORTED_TABLES = (
    "bus", "line", "trafo", "switch", "ext_grid", "load", "sgen", "storage",
    "shunt", "ward", "impedance",
)
# Tables that would change the solution if in service but are not modelled.
_UNSUPPORTED_TABLES = (
    "gen", "trafo3w", "xward", "motor", "dcline", "svc", "tcsc", "ssc", "vsc",
    "asymmetric_load", "asymmetric_sgen", "line_dc", "bus_dc", "source_dc",
    "load_dc", "b2b_vsc",
)
# pypower column indices (pandapower.pypower.idx_bus / idx_brch / idx_gen)
_BUS_TYPE, _PD, _QD, _VA, _BASE_KV = 1, 2, 3, 8, 9
_REF, _PV, _NONE = 3, 2, 4
_F_BUS, _T_BUS = 0, 1
_GEN_BUS, _VG, _GEN_STATUS = 0, 5, 7


@dataclass(frozen=True)
class CompiledNet:
    """Compact, picklable arrays of one network topology.

    Solver buses are pandapower's internal (``ppci``) buses: fused bus-bus
    switch groups and auxiliary buses of open line switches are single
    solver buses; out-of-service and unsupplied buses are dropped.

    Attributes
    ----------
    name : str
        Network name.
    base_mva : float
        System base [MVA] (``net.sn_mva``).
    bus_index : ndarray of int
        pandapower bus indices, the column order of every per-bus array.
    bus_names : ndarray of str
        Bus names (index as text where a name is missing).
    bus_vn_kv : ndarray
        Nominal voltage per pandapower bus [kV].
    bus_solver : ndarray of int
        Solver bus of each pandapower bus, -1 if out of service / unsupplied.
    n_solver : int
        Number of solver buses.
    ref : ndarray of int
        Solver buses with fixed voltage (ext_grid).
    pq : ndarray of int
        Solver buses with specified power (all others).
    v_ref : ndarray of complex
        Fixed voltage of the ``ref`` buses [pu].
    w_pq : ndarray of complex
        No-load voltage of the ``pq`` buses: ``-Y_LL^-1 Y_LS v_ref`` [pu].
    lu_* : ndarrays
        CSR arrays of the unit-lower ``L`` and upper ``U`` factors of the PQ
        block ``Y_LL`` (``Pr Y_LL Pc = L U``), U's diagonal kept as its inverse.
        With symmetric pivoting (the usual case) ``pq`` is stored in factor
        order and ``lu_perm_r`` / ``lu_perm_c`` are empty.
    br_f, br_t : ndarray of int
        From / to solver bus of every in-service branch.
    br_yff, br_yft, br_ytf, br_ytt : ndarray of complex
        Branch admittance primitives [pu] (pandapower ``branch_vectors``).
    br_kv_f, br_kv_t : ndarray
        Base voltage of the from / to bus of each branch [kV].
    line_index, trafo_index : ndarray of int
        pandapower indices of lines and transformers, result column order.
    line_branch, trafo_branch : ndarray of int
        Branch of each line / trafo, -1 when out of service (results are 0).
    line_i_max_ka : ndarray
        ``max_i_ka * df * parallel`` per line [kA].
    trafo_vn_hv_kv, trafo_vn_lv_kv, trafo_sn_mva, trafo_rating_factor : ndarray
        Ratings for pandapower's current-based transformer loading
        (``rating_factor = parallel * df``).
    elements : dict
        Per element table (load, sgen, storage, ward): pandapower element
        index, bus position (row in ``bus_index``), in-service flag, scaling and
        the sign that turns the element's ``p_mw`` into a bus injection.
    """

    name: str
    base_mva: float
    bus_index: np.ndarray
    bus_names: np.ndarray
    bus_vn_kv: np.ndarray
    bus_solver: np.ndarray
    n_solver: int
    ref: np.ndarray
    pq: np.ndarray
    v_ref: np.ndarray
    w_pq: np.ndarray
    lu_l_indptr: np.ndarray
    lu_l_indices: np.ndarray
    lu_l_data: np.ndarray
    lu_u_indptr: np.ndarray
    lu_u_indices: np.ndarray
    lu_u_data: np.ndarray
    lu_u_diag_inv: np.ndarray
    lu_perm_r: np.ndarray
    lu_perm_c: np.ndarray
    br_f: np.ndarray
    br_t: np.ndarray
    br_yff: np.ndarray
    br_yft: np.ndarray
    br_ytf: np.ndarray
    br_ytt: np.ndarray
    br_kv_f: np.ndarray
    br_kv_t: np.ndarray
    line_index: np.ndarray
    line_names: np.ndarray
    line_branch: np.ndarray
    line_i_max_ka: np.ndarray
    trafo_index: np.ndarray
    trafo_names: np.ndarray
    trafo_branch: np.ndarray
    trafo_vn_hv_kv: np.ndarray
    trafo_vn_lv_kv: np.ndarray
    trafo_sn_mva: np.ndarray
    trafo_rating_factor: np.ndarray
    y_ll_offdiag_nnz: int = 0
    elements: dict = field(default_factory=dict)

    @property
    def bus_pq(self) -> np.ndarray:
        """Position in ``pq`` of each pandapower bus's solver bus, -1 if none."""
        pos = np.full(self.n_solver, -1, dtype=np.int64)
        pos[self.pq] = np.arange(len(self.pq))
        return np.where(self.bus_solver >= 0, pos[np.maximum(self.bus_solver, 0)], -1)

    @property
    def n_bus(self) -> int:
        """Number of pandapower buses (columns of per-bus arrays)."""
        return len(self.bus_index)

    @property
    def fill_in(self) -> int:
        """Off-diagonal non-zeros of L and U beyond those of ``Y_LL`` (0 if radial)."""
        return int(len(self.lu_l_data) + len(self.lu_u_data) - self.y_ll_offdiag_nnz)

    def bus_position(self, bus: int) -> int:
        """Column of pandapower bus index ``bus`` in per-bus arrays."""
        pos = np.flatnonzero(self.bus_index == bus)
        if len(pos) == 0:
            raise FeederError(f"bus {bus} is not in network {self.name!r}")
        return int(pos[0])


def _check_supported(net) -> None:
    problems = []
    for table in _UNSUPPORTED_TABLES:
        df = net.get(table) if hasattr(net, "get") else None
        if isinstance(df, pd.DataFrame) and len(df):
            n_in = int(df["in_service"].astype(bool).sum()) if "in_service" in df else len(df)
            if n_in:
                problems.append(f"{n_in} in-service {table} element(s)")
    if len(net.load):
        zip_cols = [c for c in ("const_z_p_percent", "const_i_p_percent",
                                "const_z_q_percent", "const_i_q_percent", "const_z_percent",
                                "const_i_percent") if c in net.load]
        if zip_cols:
            live = net.load[net.load.in_service.astype(bool)]
            bad = live.index[(live[zip_cols].fillna(0).abs() > 0).any(axis=1)]
            if len(bad):
                problems.append(
                    f"voltage-dependent loads (const_z/const_i percent != 0) at load "
                    f"{list(bad[:5])}{'...' if len(bad) > 5 else ''}")
    if problems:
        raise FeederError(
            f"network {net.name or ''!r} has elements the batch engine does not model: "
            + "; ".join(problems)
            + f". Supported tables: {', '.join(SUPPORTED_TABLES)}")
    if not len(net.ext_grid) or not net.ext_grid.in_service.astype(bool).any():
        raise FeederError("network has no in-service ext_grid: a feeder needs a supply point")


def _to_ppc(net):
    """pandapower's internal model of ``net`` (ppc and ppci), as runpp builds it.

    Runs on a deep copy so the caller's net gets no hidden state.
    """
    from pandapower.pd2ppc import _pd2ppc
    from pandapower.run import _init_runpp_options

    work = copy.deepcopy(net)
    _init_runpp_options(
        work, algorithm="nr", calculate_voltage_angles=True, init="flat",
        max_iteration="auto", tolerance_mva=1e-9, trafo_model="t",
        trafo_loading="current", enforce_q_lims=False, enforce_p_lims=False,
        check_connectivity=True, voltage_depend_loads=False,
        consider_line_temperature=False, passed_parameters={})
    ppc, ppci = _pd2ppc(work)
    return work, ppc, ppci


def _csr_arrays(m: sp.spmatrix):
    m = sp.csr_matrix(m)
    m.sort_indices()
    return (m.indptr.astype(np.int64), m.indices.astype(np.int64),
            m.data.astype(np.complex128))


def compile_net(net, name: str | None = None) -> CompiledNet:
    """Compile a pandapower net for repeated batch power flows.

    Parameters
    ----------
    net : pandapowerNet
        The network; it is not modified.
    name : str, optional
        Name used in results and errors (default ``net.name``).

    Returns
    -------
    CompiledNet

    Raises
    ------
    FeederError
        If the net holds in-service elements the engine does not model, has no
        supply, or pandapower cannot convert it.
    """
    from pandapower.pypower.makeYbus import branch_vectors, makeYbus

    name = name or (net.name if isinstance(getattr(net, "name", None), str) else "") or "net"
    _check_supported(net)
    try:
        work, ppc, ppci = _to_ppc(net)
    except Exception as exc:  # pandapower raises many types on bad input
        raise FeederError(f"{name}: pandapower cannot convert the network: {exc}") from exc

    bus = ppci["bus"]
    branch = ppci["branch"]
    base_mva = float(ppci["baseMVA"])
    n_solver = bus.shape[0]
    if not np.allclose(ppc["bus"][:n_solver, [_BUS_TYPE, _BASE_KV]],
                       bus[:, [_BUS_TYPE, _BASE_KV]]):
        raise FeederError(f"{name}: unexpected pandapower internal bus ordering")
    bus_types = bus[:, _BUS_TYPE].real.astype(int)
    if np.any(bus_types == _PV):
        raise FeederError(f"{name}: voltage-controlled (PV) buses are not supported")

    # map pandapower buses -> solver buses
    lookup = work._pd2ppc_lookups["bus"]
    bus_index = net.bus.index.to_numpy(dtype=np.int64)
    ppc_of_bus = lookup[bus_index]
    bus_solver = np.where((ppc_of_bus >= 0) & (ppc_of_bus < n_solver), ppc_of_bus, -1)
    bus_solver = bus_solver.astype(np.int64)
    if "in_service" in net.bus:
        bus_solver[~net.bus.in_service.astype(bool).to_numpy()] = -1

    ref = np.flatnonzero(bus_types == _REF).astype(np.int64)
    pq = np.flatnonzero(bus_types != _REF).astype(np.int64)
    if len(ref) == 0:
        raise FeederError(f"{name}: no bus is supplied by an in-service ext_grid")
    gen = ppci["gen"]
    gen_on = gen[:, _GEN_STATUS].real > 0
    vm_ref = np.ones(n_solver)
    vm_ref[gen[gen_on, _GEN_BUS].real.astype(int)] = gen[gen_on, _VG].real
    v_ref = (vm_ref[ref] * np.exp(1j * np.deg2rad(bus[ref, _VA].real))).astype(np.complex128)

    ybus, _, _ = makeYbus(base_mva, bus, branch)
    ybus = sp.csc_matrix(ybus)
    y_ll = ybus[pq][:, pq].tocsc()
    y_ls = ybus[pq][:, ref]
    try:
        lu = spla.splu(y_ll, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options={"SymmetricMode": True})
    except RuntimeError as exc:
        raise FeederError(f"{name}: admittance matrix is singular ({exc}); "
                          "check for buses connected only through zero impedance") from exc
    w_pq = lu.solve(-(y_ls @ v_ref)).astype(np.complex128)

    l_mat = sp.csr_matrix(lu.L)
    u_mat = sp.csr_matrix(lu.U)
    # strip L's unit diagonal, keep U's diagonal as its inverse
    l_mat = sp.tril(l_mat, k=-1, format="csr")
    u_diag = u_mat.diagonal()
    if np.any(u_diag == 0):
        raise FeederError(f"{name}: admittance matrix is singular")
    u_off = sp.triu(u_mat, k=1, format="csr")
    l_ptr, l_idx, l_dat = _csr_arrays(l_mat)
    u_ptr, u_idx, u_dat = _csr_arrays(u_off)
    perm_r = np.asarray(lu.perm_r, dtype=np.int64)
    perm_c = np.asarray(lu.perm_c, dtype=np.int64)
    if np.array_equal(perm_r, perm_c):
        # symmetric pivoting: put the PQ buses in factor order once, so the
        # kernels need no permutation (new position of PQ bus j is perm[j])
        order = np.empty_like(pq)
        order[perm_r] = np.arange(len(pq))
        pq, w_pq = pq[order], w_pq[order]
        perm_r = perm_c = np.empty(0, dtype=np.int64)

    # branches: in-service ones only (ppci holds exactly those)
    ytt, yff, yft, ytf = branch_vectors(branch, branch.shape[0])
    br_f = branch[:, _F_BUS].real.astype(np.int64)
    br_t = branch[:, _T_BUS].real.astype(np.int64)
    branch_is = np.asarray(ppci["internal"]["branch_is"], dtype=bool)
    ppci_of_ppc_branch = np.full(len(branch_is), -1, dtype=np.int64)
    ppci_of_ppc_branch[branch_is] = np.arange(int(branch_is.sum()))
    if int(branch_is.sum()) != branch.shape[0]:
        raise FeederError(f"{name}: unexpected pandapower internal branch ordering")

    def _branches_of(table):
        rng = work._pd2ppc_lookups["branch"].get(table)
        n = len(net[table])
        if rng is None:
            return np.full(n, -1, dtype=np.int64)
        f, t = rng
        return ppci_of_ppc_branch[f:t]

    line = net.line
    line_branch = _branches_of("line")
    line_i_max = (line.max_i_ka * line.df * line.parallel).to_numpy(dtype=float)
    trafo = net.trafo
    trafo_branch = _branches_of("trafo")

    elements = _element_maps(net, bus_index)
    names = net.bus["name"] if "name" in net.bus else pd.Series(index=net.bus.index, dtype=object)
    bus_names = np.array([str(n) if isinstance(n, str) and n else str(i)
                          for i, n in zip(net.bus.index, names)], dtype=object)

    def _names(df):
        col = df["name"] if "name" in df else pd.Series(index=df.index, dtype=object)
        return np.array([str(n) if isinstance(n, str) and n else str(i)
                         for i, n in zip(df.index, col)], dtype=object)

    compiled = CompiledNet(
        name=name, base_mva=base_mva, bus_index=bus_index, bus_names=bus_names,
        bus_vn_kv=net.bus.vn_kv.to_numpy(dtype=float), bus_solver=bus_solver,
        n_solver=n_solver, ref=ref, pq=pq, v_ref=v_ref, w_pq=w_pq,
        lu_l_indptr=l_ptr, lu_l_indices=l_idx, lu_l_data=l_dat,
        lu_u_indptr=u_ptr, lu_u_indices=u_idx, lu_u_data=u_dat,
        lu_u_diag_inv=(1.0 / u_diag).astype(np.complex128),
        lu_perm_r=perm_r, lu_perm_c=perm_c,
        br_f=br_f, br_t=br_t,
        br_yff=np.asarray(yff, dtype=np.complex128), br_yft=np.asarray(yft, dtype=np.complex128),
        br_ytf=np.asarray(ytf, dtype=np.complex128), br_ytt=np.asarray(ytt, dtype=np.complex128),
        br_kv_f=bus[br_f, _BASE_KV].real.astype(float), br_kv_t=bus[br_t, _BASE_KV].real.astype(float),
        line_index=line.index.to_numpy(dtype=np.int64), line_names=_names(line),
        line_branch=line_branch, line_i_max_ka=line_i_max,
        trafo_index=trafo.index.to_numpy(dtype=np.int64), trafo_names=_names(trafo),
        trafo_branch=trafo_branch,
        trafo_vn_hv_kv=trafo.vn_hv_kv.to_numpy(dtype=float),
        trafo_vn_lv_kv=trafo.vn_lv_kv.to_numpy(dtype=float),
        trafo_sn_mva=trafo.sn_mva.to_numpy(dtype=float),
        trafo_rating_factor=(trafo.parallel * trafo.df).to_numpy(dtype=float),
        y_ll_offdiag_nnz=int(y_ll.nnz - np.count_nonzero(y_ll.diagonal())),
        elements=elements,
    )
    logger.debug("compiled %s: %d buses, %d solver buses, %d branches, LU fill-in %d",
                 name, len(bus_index), n_solver, len(br_f), compiled.fill_in)
    return compiled


# sign that turns an element's p_mw / q_mvar into a bus injection (generation +)
_ELEMENT_SIGN = {"load": -1.0, "sgen": 1.0, "storage": -1.0, "ward": -1.0}
_ELEMENT_PQ = {"load": ("p_mw", "q_mvar"), "sgen": ("p_mw", "q_mvar"),
               "storage": ("p_mw", "q_mvar"), "ward": ("ps_mw", "qs_mvar")}


def _element_maps(net, bus_index: np.ndarray) -> dict:
    pos_of_bus = pd.Series(np.arange(len(bus_index)), index=bus_index)
    out = {}
    for table, sign in _ELEMENT_SIGN.items():
        df = net.get(table)
        if not isinstance(df, pd.DataFrame) or not len(df):
            continue
        p_col, q_col = _ELEMENT_PQ[table]
        scaling = (df["scaling"].to_numpy(dtype=float) if "scaling" in df
                   else np.ones(len(df)))
        out[table] = {
            "index": df.index.to_numpy(dtype=np.int64),
            "bus_pos": pos_of_bus.reindex(df.bus.to_numpy()).fillna(-1).to_numpy(dtype=np.int64),
            "in_service": df.in_service.to_numpy(dtype=bool),
            "scaling": scaling,
            "sign": sign,
            "p_mw": df[p_col].to_numpy(dtype=float),
            "q_mvar": df[q_col].to_numpy(dtype=float),
        }
    return out
