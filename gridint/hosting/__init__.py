"""Hosting capacity and open capacity: per bus, transformer, feeder and substation.

>>> from gridint.hosting import feeder_hosting_capacity
>>> study = feeder_hosting_capacity("xt-county-rural")          # every bus, a year
>>> study.to_dict()["feeder_hc_kw"]
"""
from gridint.hosting.engine import Binding, Site, SiteResult, peak_shave_kw, solve_sites
from gridint.hosting.nodal import NodalHostingCapacity, bus_site, nodal_hosting_capacity

__all__ = ["Binding", "NodalHostingCapacity", "Site", "SiteResult", "bus_site",
           "nodal_hosting_capacity", "peak_shave_kw", "solve_sites"]
from gridint.hosting.publish import parse_quarter, publish, substation_summary
from gridint.hosting.study import (
    FeederHostingCapacity,
    default_pv_shape,
    feeder_hosting_capacity,
    worst_zone,
    zone_of,
)

__all__ += ["FeederHostingCapacity", "default_pv_shape", "feeder_capacity",
            "feeder_hosting_capacity", "parse_quarter", "publish", "substation_summary",
            "worst_zone", "zone_of"]

_CAPACITY_CACHE: dict = {}


def feeder_capacity(name: str, *, steps: str | None = None) -> dict:
    """Open capacity of a catalog feeder as a JSON-ready dict (cached per feeder file).

    The API's ``GET /api/v1/feeders/{name}/capacity``: the result of
    :func:`feeder_hosting_capacity` (``to_dict``) for the catalog feeder, kept in
    memory until the feeder file or the settings change.
    """
    from gridint.grid.catalog import read_catalog

    from gridint.config import get_settings
    from gridint.errors import CatalogError

    catalog = read_catalog()
    if name not in catalog:
        raise CatalogError(f"unknown feeder {name!r}; catalog feeders: {', '.join(catalog)}")
    entry = catalog[name]
    key = (name, steps, repr(entry), hash(get_settings().model_dump_json()))
    if key not in _CAPACITY_CACHE:
        _CAPACITY_CACHE[key] = feeder_hosting_capacity(name, steps=steps).to_dict()
    return _CAPACITY_CACHE[key]
