"""Load a pandapower feeder file and check it before any study uses it.

pandapower accepts many models that cannot give meaningful results: a line rated
``max_i_ka = NaN`` (loading becomes NaN, never a violation), a line between a
10 kV and a 0.4 kV bus, a transformer whose rated voltages do not match its buses,
loads in an island without supply (pandapower quietly sets the island out of
service and reports NaN), tap positions outside the tap range. gridint studies
(hosting capacity, connection decisions, reliability) would turn such a model into
wrong answers without any error, so every feeder passes :func:`validate_net` first.

Public functions
----------------
read_net
    Read a pandapower JSON file, with one clear :class:`~gridint.errors.FeederError`
    naming the file for every way reading can fail, then validate it.
validate_net
    Check a pandapower net; raise :class:`~gridint.errors.FeederValidationError`
    listing *every* fatal problem, return (and log) the non-fatal warnings.

Every problem line names the table, the element index and name, the field and the
allowed range, e.g. ``line 12 'L12': max_i_ka must be > 0 (got nan)``.

Conventions of the checked tables are pandapower's: ``p_mw`` positive is
consumption for loads and for storage (storage ``p_mw`` positive = charging) and
generation for sgens and gens.
"""

from __future__ import annotations

import io
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gridint.errors import FeederError, FeederValidationError

if TYPE_CHECKING:  # pragma: no cover - typing only
    from pandapower.auxiliary import pandapowerNet

__all__ = ["read_net", "validate_net"]

logger = logging.getLogger(__name__)

# --- plausibility thresholds of the feeder check ----------------------------------
# These are data-sanity bounds (is the model physically meaningful at all?), not
# grid-code limits; the operating limits (GB/T 12325 voltage band, thermal limits)
# live in gridint.config.Settings.
# The bounds themselves live in gridint.config.Settings (feeder_* fields):
# ext_grid set-point band [pu], same-level tolerance for lines / bus-bus switches,
# transformer rated-voltage warning and fatal tolerances. Read once per call.


def _th():
    """The settings object holding the feeder_* plausibility bounds."""
    from gridint.config import get_settings

    return get_settings()


# Relative slack on the thresholds so that 11 kV vs 10 kV is exactly 10 %.
_EPS = 1e-9
# Longest bus list printed in an island message.
_MAX_LISTED_BUSES = 20

# Branch tables and the columns holding their (AC) bus references.
_BRANCH_BUS_COLUMNS: dict[str, tuple[str, ...]] = {
    "line": ("from_bus", "to_bus"),
    "trafo": ("hv_bus", "lv_bus"),
    "trafo3w": ("hv_bus", "mv_bus", "lv_bus"),
    "impedance": ("from_bus", "to_bus"),
    "tcsc": ("from_bus", "to_bus"),
    "dcline": ("from_bus", "to_bus"),
}
# Single-bus element tables (column ``bus``).
_BUS_ELEMENT_TABLES: tuple[str, ...] = (
    "ext_grid",
    "load",
    "sgen",
    "storage",
    "gen",
    "shunt",
    "ward",
    "xward",
    "motor",
    "asymmetric_load",
    "asymmetric_sgen",
    "svc",
    "ssc",
)
# Elements that need supply, grouped as they are counted in island messages.
_SUPPLIED_GROUPS: dict[str, tuple[str, ...]] = {
    "load": ("load", "asymmetric_load", "motor", "ward", "xward"),
    "sgen": ("sgen", "asymmetric_sgen"),
    "storage unit": ("storage",),
    "gen": ("gen",),
}
# Switch element types and the table their ``element`` refers to.
_SWITCH_TARGET: dict[str, str] = {"b": "bus", "l": "line", "t": "trafo", "t3": "trafo3w"}
# Tap changer types pandapower 3 knows (pandapower.pp_types.TapChangerWithTabularType).
_TAP_CHANGER_TYPES: tuple[str, ...] = ("Ratio", "Symmetrical", "Ideal", "Tabular")


# =====================================================================================
# public API
# =====================================================================================


def read_net(path: str | os.PathLike) -> pandapowerNet:
    """Read a pandapower JSON feeder file and validate it.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`pandapower.to_json` (any extension).

    Returns
    -------
    pandapowerNet
        The network, already checked with :func:`validate_net` (its warnings are
        logged with this module's logger).

    Raises
    ------
    gridint.errors.FeederError
        If the file is missing, is not a regular file, is empty, is not JSON, or
        is JSON that pandapower cannot turn into a net; the message names the file.
    gridint.errors.FeederValidationError
        (a ``FeederError`` too) If the net loads but fails validation;
        ``problems`` lists every finding.
    """
    try:
        file = Path(path)
    except TypeError:
        raise FeederError(
            f"feeder path must be a str or os.PathLike (got {type(path).__name__})"
        ) from None
    src = str(file)
    if not file.exists():
        raise FeederError(f"{src}: feeder file not found")
    if not file.is_file():
        raise FeederError(f"{src}: not a file (a pandapower JSON file is expected)")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise FeederError(f"{src}: cannot read feeder file ({exc.strerror})") from exc
    if not data.strip():
        raise FeederError(f"{src}: feeder file is empty")
    hint = "gridint reads pandapower JSON files written by pandapower.to_json"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FeederError(f"{src}: not a JSON file (binary content); {hint}") from None
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise FeederError(
            f"{src}: not a JSON file ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            f"{hint}"
        ) from None

    import pandapower  # heavy import, deferred until a feeder is actually read
    from pandapower.auxiliary import pandapowerNet

    try:
        net = pandapower.from_json(io.StringIO(text))
    except Exception as exc:  # pandapower raises many types (UserWarning, KeyError, ...)
        raise FeederError(
            f"{src}: JSON is not a pandapower net ({type(exc).__name__}: {exc}); {hint}"
        ) from exc
    if not isinstance(net, pandapowerNet):
        raise FeederError(
            f"{src}: JSON is not a pandapower net (it holds a {type(net).__name__}); {hint}"
        )
    logger.debug("read %s: %d buses", src, len(net.bus))
    validate_net(net, source=src)
    return net


def validate_net(net: pandapowerNet, source: str | None = None) -> list[str]:
    """Check that a pandapower net is a usable feeder model.

    Only in-service elements make a model unusable; the same defect on an
    out-of-service element is reported as a warning. Unknown references are fatal
    on any element (pandapower's power flow fails on them with an ``IndexError``
    even when the element is out of service).

    Fatal checks

    1. Structure: a non-empty ``bus`` table and at least one in-service ``ext_grid``
       at an in-service bus; unique table indices.
    2. References: every bus reference of lines, transformers (2- and 3-winding),
       impedances, dclines, tcsc and single-bus elements (load, sgen, storage,
       shunt, ext_grid, gen, ward, xward, motor, asymmetric_load/sgen, svc, ssc)
       exists; switches: ``bus`` exists, ``et`` is 'b'/'l'/'t'/'t3', ``element``
       exists in the bus/line/trafo/trafo3w table and, for branch switches, the
       switch bus is one of the branch's buses.
    3. Ratings and parameters (NaN counts as missing): bus ``vn_kv`` > 0; line
       ``length_km`` > 0, ``r_ohm_per_km``, ``x_ohm_per_km``, ``c_nf_per_km`` >= 0
       (r and x not both 0), ``max_i_ka`` > 0, ``parallel`` integer >= 1, ``df`` in
       (0, 1]; trafo ``sn_mva``, ``vn_hv_kv``, ``vn_lv_kv``, ``vk_percent`` > 0,
       0 <= ``vkr_percent`` < ``vk_percent``, ``pfe_kw``, ``i0_percent`` >= 0,
       ``parallel`` >= 1; where a tap changer is defined (``tap_changer_type``
       set, the only case pandapower 3 applies a tap) a known type, ``tap_side``
       naming a winding, ``tap_pos``/``tap_neutral`` given, a non-zero step and
       ``tap_min`` <= ``tap_pos`` <= ``tap_max`` (when the range is given); the
       same for trafo3w per winding; load/sgen/storage ``p_mw``, ``q_mvar`` finite,
       ``scaling`` finite >= 0 (storage ``p_mw`` positive = charging); ext_grid
       ``vm_pu`` in [0.8, 1.2] and ``va_degree`` finite.
    4. Voltage levels: a line or a bus-bus switch joining buses whose ``vn_kv``
       differ by more than 1 %; a transformer rated voltage more than 10 % away
       from its bus ``vn_kv`` (1-10 %: warning).
    5. Islands: a connected group of in-service buses (in-service lines,
       transformers and impedances, closed bus-bus switches; an open line or
       transformer switch removes that branch) holding in-service loads, sgens,
       storage or gens but no in-service ext_grid.

    Warnings: islands without any such element, in-service elements at
    out-of-service buses, out-of-service elements with bad data, transformer
    voltage mismatch of 1-10 %, tap positions pandapower ignores (``tap_side`` and
    ``tap_pos`` without ``tap_changer_type``), tap changers without a range, bus
    names that are missing or duplicated.

    Parameters
    ----------
    net : pandapowerNet
        The network to check; it is not modified.
    source : str, optional
        Feeder name or file, used in the error and log messages.

    Returns
    -------
    list of str
        Non-fatal findings, one line each (also logged as warnings).

    Raises
    ------
    gridint.errors.FeederValidationError
        With ``problems`` listing every fatal finding (not only the first).
    """
    from pandapower.auxiliary import pandapowerNet

    if not isinstance(net, pandapowerNet):
        raise FeederValidationError(
            [f"not a pandapower net (got {type(net).__name__})"], source
        )
    findings = _Findings()
    bus = _table(net, "bus")
    if bus is None or bus.empty:
        findings.add("bus table is missing or empty: a feeder needs buses", fatal=True)
    else:
        ctx = _Context.build(net, bus, findings)
        _check_unique_indices(ctx)
        _check_supply_point(ctx)
        _check_bus_references(ctx)
        _check_switches(ctx)
        _check_parameters(ctx)
        _check_cross_fields(ctx)
        _check_taps(ctx, "trafo", ("hv", "lv"))
        _check_taps(ctx, "trafo3w", ("hv", "mv", "lv"))
        _check_line_levels(ctx)
        _check_trafo_levels(ctx)
        _check_islands(ctx)
        _check_bus_names(ctx)

    prefix = f"{source}: " if source else ""
    for warning in findings.warnings:
        logger.warning("%s%s", prefix, warning)
    if findings.problems:
        raise FeederValidationError(findings.problems, source)
    logger.debug("%svalid feeder (%d warnings)", prefix, len(findings.warnings))
    return list(findings.warnings)


# =====================================================================================
# helpers
# =====================================================================================


@dataclass
class _Findings:
    """Fatal problems and warnings, in the order found."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def add(self, message: str, fatal: bool) -> None:
        (self.problems if fatal else self.warnings).append(message)


def _table(net: Any, name: str) -> pd.DataFrame | None:
    """``net[name]`` if it is a DataFrame, else None."""
    tab = net.get(name) if hasattr(net, "get") else None
    return tab if isinstance(tab, pd.DataFrame) else None


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # array-like cell
        return False


def _fmt(value: Any) -> str:
    """Short text of a cell value for messages (``nan`` for missing floats)."""
    if value is None:
        return "None"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return "nan" if np.isnan(value) else f"{float(value):g}"
    if isinstance(value, str):
        return repr(value)
    if _is_missing(value):
        return "nan"
    return repr(value)


def _kv(value: float) -> str:
    return f"{value:g} kV"


def _label(table: str, index: Any, name: Any = None) -> str:
    """``table index 'name'`` (name left out when missing)."""
    if _is_missing(name) or (isinstance(name, str) and not name.strip()):
        return f"{table} {index}"
    return f"{table} {index} '{name}'"


def _names(df: pd.DataFrame) -> pd.Series:
    if "name" in df.columns:
        return df["name"]
    return pd.Series([None] * len(df), index=df.index, dtype=object)


def _numeric(df: pd.DataFrame, column: str) -> np.ndarray:
    """Column as float array; anything non-numeric becomes NaN."""
    return pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _in_service(df: pd.DataFrame) -> np.ndarray:
    """Boolean in-service mask; a missing column or cell counts as in service
    (pandapower casts NaN to True as well)."""
    if "in_service" not in df.columns:
        return np.ones(len(df), dtype=bool)
    col = df["in_service"].astype(object)
    return col.where(col.notna(), True).astype(bool).to_numpy()


def _percent(rel: float) -> str:
    return f"{rel * 100:.1f} %"


@dataclass
class _Context:
    """The net plus bus look-ups shared by the checks."""

    net: Any
    findings: _Findings
    bus: pd.DataFrame
    bus_vn_kv: pd.Series
    bus_in_service: pd.Series
    bus_name: pd.Series

    @classmethod
    def build(cls, net: Any, bus: pd.DataFrame, findings: _Findings) -> _Context:
        if "vn_kv" in bus.columns:
            vn = pd.Series(_numeric(bus, "vn_kv"), index=bus.index)
        else:
            vn = pd.Series(np.nan, index=bus.index)
        if not bus.index.is_unique:  # look-ups need a unique index
            keep = ~bus.index.duplicated()
            bus = bus[keep]
            vn = vn[keep]
        return cls(
            net=net,
            findings=findings,
            bus=bus,
            bus_vn_kv=vn,
            bus_in_service=pd.Series(_in_service(bus), index=bus.index),
            bus_name=_names(bus),
        )

    def table(self, name: str) -> pd.DataFrame | None:
        tab = _table(self.net, name)
        return None if tab is None or tab.empty else tab

    def bus_exists(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Which references name an existing bus."""
        numeric = pd.to_numeric(pd.Series(values), errors="coerce")
        integral = numeric.notna() & (numeric == np.floor(numeric))
        return (integral & numeric.isin(self.bus.index)).to_numpy()

    def bus_ref(self, bus: Any) -> str:
        """``5 'B5'`` for message lists."""
        name = self.bus_name.get(bus)
        if _is_missing(name) or (isinstance(name, str) and not name.strip()):
            return f"{bus}"
        return f"{bus} '{name}'"

    def vn(self, bus: Any) -> float:
        """Bus ``vn_kv`` (NaN when not positive/finite)."""
        v = float(self.bus_vn_kv.get(bus, np.nan))
        return v if np.isfinite(v) and v > 0 else np.nan

    def add(self, message: str, fatal: bool) -> None:
        self.findings.add(message, fatal)


def _int_bus(value: Any) -> Any:
    """Bus reference as a plain int where possible (for dict/graph look-ups)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return value
    return int(f) if np.isfinite(f) and f == np.floor(f) else value


# =====================================================================================
# 1. structure
# =====================================================================================


def _check_unique_indices(ctx: _Context) -> None:
    tables = {"bus", "switch", *_BRANCH_BUS_COLUMNS, *_BUS_ELEMENT_TABLES}
    for name in sorted(tables):
        df = ctx.table(name)
        if df is None or df.index.is_unique:
            continue
        dup = sorted({_fmt(i) for i in df.index[df.index.duplicated()]})
        ctx.add(f"{name}: index is not unique (duplicated: {', '.join(dup)})", fatal=True)


def _check_supply_point(ctx: _Context) -> None:
    eg = ctx.table("ext_grid")
    msg = "no in-service ext_grid: a feeder needs a supply point"
    if eg is None or "bus" not in eg.columns:
        ctx.add(msg, fatal=True)
        return
    active = _in_service(eg)
    if not active.any():
        ctx.add(msg, fatal=True)
        return
    exists = ctx.bus_exists(eg["bus"])
    buses = eg["bus"].to_numpy()
    on_live_bus = [
        ok and bool(ctx.bus_in_service.get(_int_bus(b), False))
        for ok, b in zip(exists & active, buses, strict=True)
    ]
    if not any(on_live_bus):
        ctx.add(
            "no in-service ext_grid at an existing in-service bus: a feeder needs a supply point",
            fatal=True,
        )


# =====================================================================================
# 2. references
# =====================================================================================


def _check_bus_references(ctx: _Context) -> None:
    columns = {**_BRANCH_BUS_COLUMNS, **{t: ("bus",) for t in _BUS_ELEMENT_TABLES}}
    for table, cols in columns.items():
        df = ctx.table(table)
        if df is None:
            continue
        active = _in_service(df)
        names = _names(df)
        for col in cols:
            if col not in df.columns:
                ctx.add(f"{table}: column {col} is missing (bus reference)", fatal=True)
                continue
            exists = ctx.bus_exists(df[col])
            for pos in np.flatnonzero(~exists):
                ctx.add(
                    f"{_label(table, df.index[pos], names.iat[pos])}: {col} "
                    f"{_fmt(df[col].iat[pos])} does not exist in the bus table",
                    fatal=True,
                )
            # in service, but at an out-of-service bus: pandapower drops the element
            for pos in np.flatnonzero(exists & active):
                bus = _int_bus(df[col].iat[pos])
                if not ctx.bus_in_service[bus]:
                    ctx.add(
                        f"{_label(table, df.index[pos], names.iat[pos])}: in service but its "
                        f"{col} {ctx.bus_ref(bus)} is out of service (pandapower treats the "
                        f"{table} as out of service)",
                        fatal=False,
                    )


def _check_switches(ctx: _Context) -> None:
    sw = ctx.table("switch")
    if sw is None:
        return
    missing = [c for c in ("bus", "element", "et") if c not in sw.columns]
    if missing:
        ctx.add(f"switch: column(s) {', '.join(missing)} missing", fatal=True)
        return
    bus_ok = ctx.bus_exists(sw["bus"])
    names = _names(sw)
    for pos, (idx, bus, element, et) in enumerate(
        zip(sw.index, sw["bus"], sw["element"], sw["et"], strict=True)
    ):
        label = _label("switch", idx, names.iat[pos])
        if not bus_ok[pos]:
            ctx.add(f"{label}: bus {_fmt(bus)} does not exist in the bus table", fatal=True)
        if et not in _SWITCH_TARGET:
            ctx.add(
                f"{label}: et must be one of 'b', 'l', 't', 't3' (got {_fmt(et)})", fatal=True
            )
            continue
        target = _SWITCH_TARGET[et]
        if et == "b":
            if not ctx.bus_exists([element])[0]:
                ctx.add(
                    f"{label}: element {_fmt(element)} (et='b') does not exist in the bus table",
                    fatal=True,
                )
            elif bus_ok[pos] and _int_bus(bus) == _int_bus(element):
                ctx.add(f"{label}: bus-bus switch connects bus {bus} to itself", fatal=False)
            elif bus_ok[pos]:
                _check_switch_level(ctx, label, _int_bus(bus), _int_bus(element))
            continue
        tab = ctx.table(target)
        elem = _int_bus(element)
        if tab is None or elem not in tab.index:
            ctx.add(
                f"{label}: element {_fmt(element)} (et={et!r}) does not exist in the "
                f"{target} table",
                fatal=True,
            )
            continue
        if not bus_ok[pos]:
            continue
        terminals = [c for c in _BRANCH_BUS_COLUMNS[target] if c in tab.columns]
        row = tab.loc[elem]
        if isinstance(row, pd.DataFrame):  # duplicated index, reported elsewhere
            row = row.iloc[0]
        term_buses = [_int_bus(row[c]) for c in terminals]
        if _int_bus(bus) not in term_buses:
            ends = ", ".join(f"{c} {_fmt(row[c])}" for c in terminals)
            ctx.add(
                f"{label}: bus {_fmt(bus)} is not a terminal of "
                f"{_label(target, elem, row.get('name'))} ({ends}); a {target} switch "
                f"must sit at one of its buses",
                fatal=True,
            )


def _check_switch_level(ctx: _Context, label: str, bus_a: Any, bus_b: Any) -> None:
    va, vb = ctx.vn(bus_a), ctx.vn(bus_b)
    if np.isnan(va) or np.isnan(vb):
        return  # reported by the bus vn_kv check
    rel = abs(va - vb) / max(va, vb)
    if rel > _th().feeder_same_level_max_rel + _EPS:
        ctx.add(
            f"{label}: bus-bus switch connects {_kv(va)} bus {ctx.bus_ref(bus_a)} to "
            f"{_kv(vb)} bus {ctx.bus_ref(bus_b)} (vn_kv differs by {_percent(rel)}, "
            f"allowed <= {_percent(_th().feeder_same_level_max_rel)}); use a transformer",
            fatal=True,
        )


# =====================================================================================
# 3. ratings and parameters
# =====================================================================================


@dataclass(frozen=True)
class _Rule:
    """``column`` must satisfy ``ok`` (vectorised); ``requirement`` is the text."""

    column: str
    requirement_text: str | Callable[[], str]
    ok: Callable[[np.ndarray], np.ndarray]
    required: bool = True

    @property
    def requirement(self) -> str:
        """The allowed range as text (read from the settings where it is configurable)."""
        text = self.requirement_text
        return text() if callable(text) else text


def _gt0(col: str, required: bool = True) -> _Rule:
    return _Rule(col, "> 0", lambda v: np.isfinite(v) & (v > 0), required)


def _ge0(col: str, required: bool = True) -> _Rule:
    return _Rule(col, ">= 0", lambda v: np.isfinite(v) & (v >= 0), required)


def _finite(col: str, required: bool = True) -> _Rule:
    return _Rule(col, "finite", np.isfinite, required)


def _parallel(col: str = "parallel") -> _Rule:
    return _Rule(col, "an integer >= 1", lambda v: np.isfinite(v) & (v >= 1) & (v == np.floor(v)))


def _derating(col: str = "df", required: bool = True) -> _Rule:
    return _Rule(col, "in (0, 1]", lambda v: np.isfinite(v) & (v > 0) & (v <= 1), required)


def _scaling() -> _Rule:
    return _Rule("scaling", "finite and >= 0", lambda v: np.isfinite(v) & (v >= 0))


_INJECTION_RULES = (_finite("p_mw"), _finite("q_mvar"), _scaling())

_PARAMETER_RULES: dict[str, tuple[_Rule, ...]] = {
    "bus": (_gt0("vn_kv"),),
    "line": (
        _gt0("length_km"),
        _ge0("r_ohm_per_km"),
        _ge0("x_ohm_per_km"),
        _ge0("c_nf_per_km"),
        _ge0("g_us_per_km", required=False),
        _gt0("max_i_ka"),
        _parallel(),
        _derating(),
    ),
    "trafo": (
        _gt0("sn_mva"),
        _gt0("vn_hv_kv"),
        _gt0("vn_lv_kv"),
        _gt0("vk_percent"),
        _ge0("vkr_percent"),
        _ge0("pfe_kw"),
        _ge0("i0_percent"),
        _finite("shift_degree"),
        _parallel(),
        _derating(required=False),
    ),
    "trafo3w": (
        *(_gt0(f"sn_{w}_mva") for w in ("hv", "mv", "lv")),
        *(_gt0(f"vn_{w}_kv") for w in ("hv", "mv", "lv")),
        *(_gt0(f"vk_{w}_percent") for w in ("hv", "mv", "lv")),
        *(_ge0(f"vkr_{w}_percent") for w in ("hv", "mv", "lv")),
        _ge0("pfe_kw"),
        _ge0("i0_percent"),
        _finite("shift_mv_degree"),
        _finite("shift_lv_degree"),
    ),
    # storage p_mw positive = charging (consumption), pandapower convention
    "load": _INJECTION_RULES,
    "sgen": _INJECTION_RULES,
    "storage": _INJECTION_RULES,
    "gen": (_finite("p_mw"), _finite("vm_pu"), _scaling()),
    "ext_grid": (
        _Rule(
            "vm_pu",
            lambda: f"in [{_th().feeder_ext_grid_vm_min_pu:g}, {_th().feeder_ext_grid_vm_max_pu:g}]",
            lambda v: np.isfinite(v) & (v >= _th().feeder_ext_grid_vm_min_pu)
            & (v <= _th().feeder_ext_grid_vm_max_pu),
        ),
        _finite("va_degree"),
    ),
}


def _report_rows(
    ctx: _Context,
    table: str,
    df: pd.DataFrame,
    bad: np.ndarray,
    active: np.ndarray,
    describe: Callable[[int], str],
) -> None:
    """One line per bad row: fatal when in service, else a warning."""
    names = _names(df)
    for pos in np.flatnonzero(bad):
        label = _label(table, df.index[pos], names.iat[pos])
        if active[pos]:
            ctx.add(f"{label}: {describe(pos)}", fatal=True)
        else:
            ctx.add(f"{label} (out of service): {describe(pos)}", fatal=False)


def _check_parameters(ctx: _Context) -> None:
    for table, rules in _PARAMETER_RULES.items():
        df = ctx.table(table)
        if df is None:
            continue
        active = _in_service(df)
        for rule in rules:
            if rule.column not in df.columns:
                if rule.required:
                    ctx.add(
                        f"{table}: column {rule.column} is missing (must be {rule.requirement})",
                        fatal=bool(active.any()),
                    )
                continue
            with np.errstate(invalid="ignore"):
                bad = ~rule.ok(_numeric(df, rule.column))
            raw = df[rule.column]
            _report_rows(
                ctx,
                table,
                df,
                bad,
                active,
                lambda pos, r=rule, raw=raw: f"{r.column} must be {r.requirement} "
                f"(got {_fmt(raw.iat[pos])})",
            )


def _check_cross_fields(ctx: _Context) -> None:
    """Rules that relate two fields of the same element."""
    line = ctx.table("line")
    if line is not None and {"r_ohm_per_km", "x_ohm_per_km"} <= set(line.columns):
        r, x = _numeric(line, "r_ohm_per_km"), _numeric(line, "x_ohm_per_km")
        _report_rows(
            ctx,
            "line",
            line,
            (r == 0) & (x == 0),
            _in_service(line),
            lambda pos: "r_ohm_per_km and x_ohm_per_km must not both be 0 (zero impedance; "
            "model it as a bus-bus switch)",
        )
    for table, windings in (("trafo", ("",)), ("trafo3w", ("_hv", "_mv", "_lv"))):
        df = ctx.table(table)
        if df is None:
            continue
        for w in windings:
            vk_col, vkr_col = f"vk{w}_percent", f"vkr{w}_percent"
            if not {vk_col, vkr_col} <= set(df.columns):
                continue
            vk, vkr = _numeric(df, vk_col), _numeric(df, vkr_col)
            with np.errstate(invalid="ignore"):
                bad = np.isfinite(vk) & np.isfinite(vkr) & (vk > 0) & (vkr >= 0) & (vkr >= vk)
            _report_rows(
                ctx,
                table,
                df,
                bad,
                _in_service(df),
                lambda pos, vk=vk, vkr=vkr, a=vk_col, b=vkr_col: f"{b} must be in "
                f"[0, {a}) = [0, {vk[pos]:g}) (got {vkr[pos]:g})",
            )


def _check_taps(ctx: _Context, table: str, sides: tuple[str, ...]) -> None:
    """Tap changer data of ``trafo``/``trafo3w``.

    pandapower 3 applies a tap only when ``tap_changer_type`` is set (``tap_side``
    alone is ignored, silently); so a tap changer counts as *defined* when
    ``tap_changer_type`` is set. Then ``tap_side`` must name a winding,
    ``tap_pos`` and ``tap_neutral`` must be given (pandapower silently treats a
    NaN position as neutral), a step must be given (except ``'Tabular'``), and
    ``tap_min`` <= ``tap_pos`` <= ``tap_max`` when the range is given (pandapower
    computes any position, e.g. 10 steps on a +/-2 tap changer).
    """
    df = ctx.table(table)
    if df is None or "tap_changer_type" not in df.columns:
        return

    def given(col: str) -> np.ndarray:
        if col not in df.columns:
            return np.zeros(len(df), dtype=bool)
        s = df[col]
        return (s.notna() & (s.astype(str).str.strip() != "")).to_numpy()

    def num(col: str) -> np.ndarray:
        return _numeric(df, col) if col in df.columns else np.full(len(df), np.nan)

    active = _in_service(df)
    ctype = df["tap_changer_type"]
    defined = given("tap_changer_type")
    side_set = given("tap_side")
    side_raw = df["tap_side"] if "tap_side" in df.columns else pd.Series(None, index=df.index)
    tap_pos, neutral = num("tap_pos"), num("tap_neutral")
    lo, hi = num("tap_min"), num("tap_max")

    # set but ignored by pandapower: tap_side without tap_changer_type
    names = _names(df)
    ignored = side_set & ~defined & active & np.isfinite(tap_pos) & (tap_pos != neutral)
    for pos in np.flatnonzero(ignored):
        ctx.add(
            f"{_label(table, df.index[pos], names.iat[pos])}: tap_pos {tap_pos[pos]:g} is "
            f"ignored by pandapower because tap_changer_type is missing (set one of "
            f"{', '.join(repr(t) for t in _TAP_CHANGER_TYPES)})",
            fatal=False,
        )
    if not defined.any():
        return

    known = ctype.isin(_TAP_CHANGER_TYPES).to_numpy()
    _report_rows(
        ctx, table, df, defined & ~known, active,
        lambda pos: f"tap_changer_type must be one of "
        f"{', '.join(repr(t) for t in _TAP_CHANGER_TYPES)} (got {_fmt(ctype.iat[pos])})",
    )
    defined &= known
    allowed = ", ".join(repr(s) for s in sides)
    _report_rows(
        ctx, table, df, defined & ~side_raw.isin(sides).to_numpy(), active,
        lambda pos: f"tap_side must be one of {allowed} when a tap changer is defined "
        f"(got {_fmt(side_raw.iat[pos])})",
    )
    for col, values in (("tap_pos", tap_pos), ("tap_neutral", neutral)):
        _report_rows(
            ctx, table, df, defined & ~np.isfinite(values), active,
            lambda pos, c=col: f"{c} must be finite when a tap changer is defined "
            f"(tap_changer_type {_fmt(ctype.iat[pos])}) "
            f"(got {_fmt(df[c].iat[pos]) if c in df.columns else 'no column'})",
        )
    step_p, step_d = num("tap_step_percent"), num("tap_step_degree")
    with np.errstate(invalid="ignore"):
        has_step = (np.isfinite(step_p) & (step_p != 0)) | (np.isfinite(step_d) & (step_d != 0))
    stepped = defined & (ctype != "Tabular").to_numpy()
    _report_rows(
        ctx, table, df, stepped & ~has_step, active,
        lambda pos: "tap_step_percent (or tap_step_degree) must be finite and non-zero when "
        f"a tap changer is defined (got tap_step_percent {_fmt(step_p[pos])}, "
        f"tap_step_degree {_fmt(step_d[pos])})",
    )
    ranged = defined & np.isfinite(lo) & np.isfinite(hi)
    _report_rows(
        ctx, table, df, ranged & (lo > hi), active,
        lambda pos: f"tap_min must be <= tap_max (got tap_min {lo[pos]:g}, tap_max {hi[pos]:g})",
    )
    with np.errstate(invalid="ignore"):
        out = ranged & (lo <= hi) & np.isfinite(tap_pos) & ((tap_pos < lo) | (tap_pos > hi))
    _report_rows(
        ctx, table, df, out, active,
        lambda pos: f"tap_pos must be within [tap_min, tap_max] = [{lo[pos]:g}, {hi[pos]:g}] "
        f"(got {tap_pos[pos]:g})",
    )
    for pos in np.flatnonzero(defined & active & ~(np.isfinite(lo) & np.isfinite(hi))):
        ctx.add(
            f"{_label(table, df.index[pos], names.iat[pos])}: tap range unknown (tap_min "
            f"{_fmt(lo[pos])}, tap_max {_fmt(hi[pos])}); tap_pos is not checked",
            fatal=False,
        )


# =====================================================================================
# 4. voltage levels
# =====================================================================================


def _check_line_levels(ctx: _Context) -> None:
    line = ctx.table("line")
    if line is None or not {"from_bus", "to_bus"} <= set(line.columns):
        return
    active = _in_service(line)
    names = _names(line)
    ok = ctx.bus_exists(line["from_bus"]) & ctx.bus_exists(line["to_bus"])
    for pos in np.flatnonzero(ok):
        fb, tb = _int_bus(line["from_bus"].iat[pos]), _int_bus(line["to_bus"].iat[pos])
        vf, vt = ctx.vn(fb), ctx.vn(tb)
        if np.isnan(vf) or np.isnan(vt):
            continue
        rel = abs(vf - vt) / max(vf, vt)
        if rel <= _th().feeder_same_level_max_rel + _EPS:
            continue
        label = _label("line", line.index[pos], names.iat[pos])
        if not active[pos]:
            label += " (out of service)"
        ctx.add(
            f"{label}: line connects {_kv(vf)} to {_kv(vt)} buses (from_bus "
            f"{ctx.bus_ref(fb)}, to_bus {ctx.bus_ref(tb)}; vn_kv differs by {_percent(rel)}, "
            f"allowed <= {_percent(_th().feeder_same_level_max_rel)}); use a transformer",
            fatal=bool(active[pos]),
        )


def _check_trafo_levels(ctx: _Context) -> None:
    for table, windings in (("trafo", ("hv", "lv")), ("trafo3w", ("hv", "mv", "lv"))):
        df = ctx.table(table)
        if df is None:
            continue
        cols = [(f"{w}_bus", f"vn_{w}_kv") for w in windings]
        if not all(b in df.columns and v in df.columns for b, v in cols):
            continue
        active = _in_service(df)
        names = _names(df)
        refs_ok = np.logical_and.reduce([ctx.bus_exists(df[b]) for b, _ in cols])
        for pos in np.flatnonzero(refs_ok):
            label = _label(table, df.index[pos], names.iat[pos])
            if not active[pos]:
                label += " (out of service)"
            rated = {w: float(pd.to_numeric(df[v].iat[pos], errors="coerce"))
                     for w, (_, v) in zip(windings, cols, strict=True)}
            buses = {w: _int_bus(df[b].iat[pos]) for w, (b, _) in zip(windings, cols, strict=True)}
            bus_vn = {w: ctx.vn(buses[w]) for w in windings}
            swapped = table == "trafo" and _close(rated["hv"], bus_vn["lv"]) and _close(
                rated["lv"], bus_vn["hv"]
            )
            for w, (bcol, vcol) in zip(windings, cols, strict=True):
                vt, vb = rated[w], bus_vn[w]
                if not (np.isfinite(vt) and vt > 0) or np.isnan(vb):
                    continue  # reported by the parameter checks
                rel = abs(vt - vb) / vb
                if rel <= _th().feeder_trafo_vn_warn_rel + _EPS:
                    continue
                fatal = rel > _th().feeder_trafo_vn_fatal_rel + _EPS
                msg = (
                    f"{label}: {vcol} {_kv(vt)} differs from {bcol} {ctx.bus_ref(buses[w])} "
                    f"vn_kv {_kv(vb)} by {_percent(rel)} (allowed <= "
                    f"{_percent(_th().feeder_trafo_vn_fatal_rel if fatal else _th().feeder_trafo_vn_warn_rel)})"
                )
                if swapped:
                    msg += "; hv_bus and lv_bus look swapped"
                elif not fatal:
                    msg += "; pandapower uses it as an off-nominal ratio"
                ctx.add(msg, fatal=fatal and bool(active[pos]))


def _close(a: float, b: float) -> bool:
    return bool(np.isfinite(a) and np.isfinite(b) and b > 0
                and abs(a - b) / b <= _th().feeder_trafo_vn_warn_rel + _EPS)


# =====================================================================================
# 5. islands
# =====================================================================================


def _check_islands(ctx: _Context) -> None:
    """Connected groups of in-service buses with consumers/generators but no supply."""
    eg = ctx.table("ext_grid")
    if eg is None or "bus" not in eg.columns or not _in_service(eg).any():
        return  # "no in-service ext_grid" already says it all
    graph = _bus_graph(ctx)
    if graph is None:
        return
    live = set(ctx.bus.index[ctx.bus_in_service.to_numpy()])
    # create_nxgraph adds phantom nodes for unknown bus references and then only
    # adds the missing real buses when it counts fewer nodes than buses, so a
    # phantom can hide an unconnected bus: normalise the node set both ways.
    graph.remove_nodes_from([n for n in list(graph.nodes) if n not in live])
    graph.add_nodes_from(live)

    import networkx as nx

    supplied_buses = set(_element_buses(ctx, ("ext_grid",))) & live
    if not supplied_buses:
        return  # "no in-service ext_grid at an existing in-service bus" says it all
    counts: dict[str, dict[Any, int]] = {}
    for group, tables in _SUPPLIED_GROUPS.items():
        per_bus: dict[Any, int] = {}
        for b in _element_buses(ctx, tables):
            per_bus[b] = per_bus.get(b, 0) + 1
        counts[group] = per_bus

    empty_buses: list[Any] = []
    for component in sorted(nx.connected_components(graph), key=min):
        if component & supplied_buses:
            continue
        n = {g: sum(per_bus.get(b, 0) for b in component) for g, per_bus in counts.items()}
        if not any(n.values()):
            empty_buses.extend(component)
            continue
        parts = [_plural(n["load"], "load"), _plural(n["sgen"], "sgen")]
        parts += [_plural(n[g], g) for g in ("storage unit", "gen") if n[g]]
        ctx.add(
            f"island without supply: buses {_bus_list(ctx, component)} ({', '.join(parts)}); "
            "no in-service ext_grid reaches them through in-service lines/transformers and "
            "closed switches",
            fatal=True,
        )
    if empty_buses:
        ctx.add(
            f"{_plural(len(empty_buses), 'in-service bus', 'in-service buses')} without supply "
            f"and without loads or generators (pandapower sets them out of service): "
            f"{_bus_list(ctx, empty_buses)}",
            fatal=False,
        )


def _bus_graph(ctx: _Context) -> Any:
    """pandapower's topology graph: in-service buses and branches, switches respected.

    ``create_nxgraph(respect_switches=True)`` removes a line/trafo with an open
    switch at either end, a trafo3w side with an open switch, keeps only closed
    bus-bus switches as edges and drops out-of-service buses. DC elements
    (dcline, vsc, line_dc) are left out: they do not carry the slack across.
    """
    from pandapower.topology import create_nxgraph

    net = ctx.net

    def has(name: str) -> bool:
        return ctx.table(name) is not None

    try:
        return create_nxgraph(
            net,
            respect_switches=True,
            include_lines=has("line"),
            include_impedances=has("impedance"),
            include_dclines=False,
            include_trafos=has("trafo"),
            include_trafo3ws=has("trafo3w"),
            include_tcsc=has("tcsc"),
            include_vsc=False,
            include_line_dc=False,
            include_switches=has("switch"),
            multi=True,
        )
    except Exception as exc:  # malformed columns that the checks above reported
        ctx.add(
            f"topology: cannot build the bus graph to look for islands "
            f"({type(exc).__name__}: {exc})",
            fatal=True,
        )
        return None


def _element_buses(ctx: _Context, tables: Iterable[str]) -> list[Any]:
    """Buses of the in-service elements of ``tables`` (valid references only)."""
    out: list[Any] = []
    for table in tables:
        df = ctx.table(table)
        if df is None or "bus" not in df.columns:
            continue
        keep = _in_service(df) & ctx.bus_exists(df["bus"])
        out.extend(_int_bus(b) for b in df["bus"].to_numpy()[keep])
    return out


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _bus_list(ctx: _Context, buses: Iterable[Any]) -> str:
    ordered = sorted(buses, key=lambda b: (str(type(b)), b))
    shown = ", ".join(ctx.bus_ref(b) for b in ordered[:_MAX_LISTED_BUSES])
    if len(ordered) > _MAX_LISTED_BUSES:
        shown += f", ... {len(ordered) - _MAX_LISTED_BUSES} more"
    return f"[{shown}]"


# =====================================================================================
# 6. bus names
# =====================================================================================


def _check_bus_names(ctx: _Context) -> None:
    names = ctx.bus_name
    missing = names.isna() | (names.astype(str).str.strip() == "")
    if missing.any():
        idx = list(ctx.bus.index[missing.to_numpy()])
        listed = ", ".join(str(i) for i in idx[:_MAX_LISTED_BUSES])
        if len(idx) > _MAX_LISTED_BUSES:
            listed += f", ... {len(idx) - _MAX_LISTED_BUSES} more"
        ctx.add(
            f"bus: {_plural(len(idx), 'bus', 'buses')} without a name ([{listed}]); "
            "results will name them by index",
            fatal=False,
        )
    named = names[~missing]
    dup = named[named.duplicated(keep=False)]
    for name, group in dup.groupby(dup.astype(str), sort=True):
        ctx.add(
            f"bus: name '{name}' is used by buses {list(group.index)}; results that name "
            "buses are ambiguous",
            fatal=False,
        )
