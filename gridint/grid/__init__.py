"""Feeder models: the catalog, loading and validation, profiles, synthetic feeders."""

from gridint.grid.catalog import Feeder, feeder_summary, list_feeders, load_feeder, read_catalog

__all__ = ["Feeder", "feeder_summary", "list_feeders", "load_feeder", "read_catalog"]
