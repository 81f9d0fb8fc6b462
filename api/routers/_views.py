"""Per-process caches behind the web views: catalog feeders, reliability studies,
forecasts (each computed once per feeder / day, under a lock per key)."""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable

from gridint.errors import RecordNotFound
from gridint.grid.catalog import read_catalog

_locks: dict[Any, threading.Lock] = {}
_guard = threading.Lock()
_cache: OrderedDict = OrderedDict()
_MAX = 64


def catalog_entry(name: str):
    entry = read_catalog().get(name)
    if entry is None:
        raise RecordNotFound(f"feeder {name!r} is not in the catalog")
    return entry


def cached(key: tuple, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per ``key`` (LRU of the last 64), one computation at a time per key."""
    with _guard:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        with _guard:
            if key in _cache:
                return _cache[key]
        value = compute()
        with _guard:
            _cache[key] = value
            while len(_cache) > _MAX:
                _cache.popitem(last=False)
        return value


def feeder(name: str):
    """The catalog feeder (loaded once per process; callers must not modify it)."""
    from gridint.grid.catalog import load_feeder

    catalog_entry(name)
    return cached(("feeder", name), lambda: load_feeder(name))


def key_lock(key: tuple) -> threading.Lock:
    with _guard:
        return _locks.setdefault(("lock",) + key, threading.Lock())
