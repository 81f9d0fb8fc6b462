"""The feeder catalog: one place that names every feeder gridint knows.

``feeders/catalog.toml`` lists each feeder with its loader (pandapower's
network library, the SimBench package, or a pandapower JSON file in
``feeders/``), its profiles and provenance. :func:`load_feeder` accepts a
catalog name or the path of any pandapower JSON file; files are validated
with :func:`gridint.grid.validate.validate_net`.
"""

from __future__ import annotations

import logging
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import CatalogError, FeederError, ProfileError
from gridint.grid.profiles import ElementProfiles

__all__ = ["CatalogEntry", "Feeder", "read_catalog", "load_feeder", "feeder_summary"]

logger = logging.getLogger(__name__)

_LOADERS = ("pandapower", "simbench", "file")
_REQUIRED = ("name", "description", "voltage_kv", "loader", "source", "profiles")


@dataclass(frozen=True)
class CatalogEntry:
    """One ``[[feeder]]`` record of the catalog."""

    name: str
    description: str
    voltage_kv: float
    loader: str
    source: str
    profiles: str
    substation: str = ""
    reference: str = ""
    file: str = ""
    args: dict = field(default_factory=dict)


@dataclass
class Feeder:
    """A feeder model with its provenance and (lazily loaded) profiles.

    Attributes
    ----------
    name : str
    net : pandapowerNet
    description, source, substation : str
    voltage_kv : float
        Nominal feeder voltage [kV] (highest bus voltage of a user file).
    profiles_ref : str
        ``none``, ``simbench`` or a class-shape file path.
    """

    name: str
    net: object
    description: str = ""
    source: str = ""
    substation: str = ""
    voltage_kv: float = float("nan")
    profiles_ref: str = "none"

    @property
    def has_profiles(self) -> bool:
        """True when a profile year is available."""
        return self.profiles_ref != "none"

    @cached_property
    def profiles(self) -> ElementProfiles:
        """The feeder's profile year (loaded on first use).

        Raises
        ------
        ProfileError
            If the feeder has no profiles.
        """
        from gridint.grid.profiles import profiles_from_classes, profiles_from_simbench, read_shapes

        if self.profiles_ref == "none":
            raise ProfileError(f"feeder {self.name!r} has no profile year; "
                               "use a snapshot of its own loads and sgens")
        if self.profiles_ref == "simbench":
            return profiles_from_simbench(self.net, source=f"simbench:{self.name}")
        from gridint.solar.fleet import fleet_profiles

        path = Path(self.profiles_ref)
        # loads from the class shapes; rooftop PV from the one PV model (pvlib fleet
        # model on the default weather year), not from the file's 'pv' class shape
        return fleet_profiles(self.net, profiles_from_classes(self.net, read_shapes(path),
                                                             source=str(path)))


def _catalog_path() -> Path:
    return Path(get_settings().feeders_dir) / "catalog.toml"


def read_catalog(path: str | Path | None = None) -> dict[str, CatalogEntry]:
    """Read and validate the feeder catalog.

    Parameters
    ----------
    path : path, optional
        Default ``<feeders_dir>/catalog.toml``.

    Returns
    -------
    dict of str -> CatalogEntry, in file order

    Raises
    ------
    CatalogError
        Missing file, TOML syntax, missing fields, unknown loader, duplicates.
    """
    path = Path(path) if path is not None else _catalog_path()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CatalogError(f"feeder catalog not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"{path}: {exc}") from None
    entries: dict[str, CatalogEntry] = {}
    for i, rec in enumerate(raw.get("feeder", [])):
        missing = [k for k in _REQUIRED if k not in rec]
        if missing:
            raise CatalogError(f"{path}: feeder #{i + 1} misses field(s) {missing}")
        if rec["loader"] not in _LOADERS:
            raise CatalogError(f"{path}: feeder {rec['name']!r}: loader must be one of "
                               f"{_LOADERS}; got {rec['loader']!r}")
        if rec["name"] in entries:
            raise CatalogError(f"{path}: feeder name {rec['name']!r} appears twice")
        unknown = set(rec) - set(CatalogEntry.__dataclass_fields__)
        if unknown:
            raise CatalogError(f"{path}: feeder {rec['name']!r}: unknown field(s) {sorted(unknown)}")
        entries[rec["name"]] = CatalogEntry(**rec)
    if not entries:
        raise CatalogError(f"{path}: no [[feeder]] entries")
    return entries


def _load_entry(entry: CatalogEntry, folder: Path):
    if entry.loader == "pandapower":
        import pandapower.networks as pn

        func = getattr(pn, entry.reference, None)
        if func is None:
            raise CatalogError(f"pandapower.networks has no {entry.reference!r}")
        net = func(**entry.args)
    elif entry.loader == "simbench":
        import simbench

        net = simbench.get_simbench_net(entry.reference)
    else:
        from gridint.grid.validate import read_net

        net = read_net(folder / entry.file)
    net.name = entry.name
    return net


def load_feeder(name_or_path: str | Path, catalog: str | Path | None = None) -> Feeder:
    """Load a feeder by catalog name or from a pandapower JSON file.

    Parameters
    ----------
    name_or_path : str or path
        A catalog name (``gridint feeders`` lists them) or a path to a
        pandapower JSON file. A user file is validated; its profiles are
        ``none`` (snapshot studies only).
    catalog : path, optional
        Catalog file (default ``<feeders_dir>/catalog.toml``).

    Returns
    -------
    Feeder

    Raises
    ------
    CatalogError
        Unknown name that is also not an existing file.
    FeederError, FeederValidationError
        Unreadable or invalid file.
    """
    entries = read_catalog(catalog)
    folder = Path(catalog).parent if catalog is not None else Path(get_settings().feeders_dir)
    key = str(name_or_path)
    if key in entries:
        entry = entries[key]
        net = _load_entry(entry, folder)
        profiles = entry.profiles
        if profiles not in ("none", "simbench"):
            profiles = str(folder / profiles)
        return Feeder(name=entry.name, net=net, description=entry.description,
                      source=entry.source, substation=entry.substation,
                      voltage_kv=float(entry.voltage_kv), profiles_ref=profiles)
    path = Path(key)
    if path.suffix.lower() == ".json" or path.exists():
        from gridint.grid.validate import read_net

        net = read_net(path)
        name = path.stem
        net.name = name
        vn = net.bus.vn_kv[net.bus.in_service.astype(bool)] if len(net.bus) else pd.Series([np.nan])
        return Feeder(name=name, net=net, description=f"user file {path}",
                      source=str(path.resolve()), voltage_kv=float(vn.max()),
                      profiles_ref="none")
    raise CatalogError(f"unknown feeder {key!r}: not a catalog name "
                       f"({', '.join(entries)}) and not a .json file")


def feeder_summary(feeder: Feeder) -> dict:
    """Catalog figures of one feeder (units in names).

    Returns
    -------
    dict
        ``name, voltage_kv, n_buses, n_transformers, length_km, peak_load_kw,
        pv_kw, source``. ``peak_load_kw`` is the coincident peak of the profile
        year where there is one, else the sum of the file's loads.
    """
    net = feeder.net
    live = lambda df: df[df.in_service.astype(bool)] if len(df) else df  # noqa: E731
    load = live(net.load)
    peak_kw = float((load.p_mw * load.scaling).sum() * 1e3) if len(load) else 0.0
    if feeder.has_profiles:
        try:
            prof = feeder.profiles.values.get("load_p_mw")
            if prof is not None:
                cols = prof.columns.intersection(load.index)
                scale = load.scaling.reindex(cols).to_numpy()
                peak_kw = float((prof[cols].to_numpy() * scale).sum(axis=1).max() * 1e3)
        except ProfileError as exc:  # pragma: no cover - reported, not fatal
            logger.warning("%s: %s", feeder.name, exc)
    sgen = live(net.sgen)
    pv = sgen[sgen["type"].astype(str).str.upper().str.contains("PV")] if "type" in sgen else sgen
    lines = live(net.line)
    if "section" in lines:  # a synthetic feeder's tie line belongs to the neighbour
        lines = lines[lines["section"].astype(str) != "tie"]
    return {
        "name": feeder.name,
        "voltage_kv": round(float(feeder.voltage_kv), 3),
        "n_buses": int(net.bus.in_service.astype(bool).sum()),
        "n_transformers": int(net.trafo.in_service.astype(bool).sum()),
        "length_km": round(float(lines.length_km.sum()) if len(lines) else 0.0, 3),
        "peak_load_kw": round(peak_kw, 1),
        "pv_kw": round(float((pv.p_mw * pv.scaling).sum() * 1e3) if len(pv) else 0.0, 1),
        "source": feeder.source,
    }


def list_feeders(catalog: str | Path | None = None) -> list[dict]:
    """:func:`feeder_summary` of every catalog feeder, in catalog order."""
    entries = read_catalog(catalog)
    out = []
    for name in entries:
        try:
            out.append(feeder_summary(load_feeder(name, catalog)))
        except (FeederError, CatalogError) as exc:
            raise CatalogError(f"catalog feeder {name!r} cannot be loaded: {exc}") from exc
    return out
