"""Connection requests under "must connect when eligible" (应接必接): rules, decisions.

This package is the contract between the rules engine and the store / API:

>>> from gridint.interconnection import parse_request, evaluate
>>> req = parse_request({"feeder": "xt-county-rural", "bus": "T12-LV", "category":
...                      "residential_natural_person", "mode": "surplus_export", "ac_kw": 20})
>>> decision = evaluate(req, ahead=[])          # queue ahead of it: approved, not connected
>>> decision.to_dict()["decision"]              # approved | approved_with_conditions |
...                                              # queued | referred | invalid

``evaluate`` never touches a database: the caller passes the PV ahead of the request in the
first-come-first-served queue (approved but not yet connected, and connected since the feeder
file was made) and stores the answer.
"""
from gridint.interconnection.model import (
    CATEGORIES,
    DECISIONS,
    MODES,
    ConnectionRequest,
    CounterOffer,
    Decision,
    QueuedPV,
    Reason,
    RequestInvalid,
    parse_request,
)
from gridint.interconnection.rules import evaluate

__all__ = [
    "CATEGORIES", "DECISIONS", "MODES", "ConnectionRequest", "CounterOffer", "Decision",
    "QueuedPV", "Reason", "RequestInvalid", "evaluate", "parse_request",
]
