"""A stand-in rules engine for store/API tests: a fixed feeder limit in kW.

It approves a request while the PV ahead of it (approved-not-connected and connected)
plus the request stays within ``limit_kw``, queues it otherwise, and finds
``large_ci`` with ``full_export`` invalid (NEA 2025: large C&I is self-consumption only).
The real engine plugs in unchanged (same call, same Decision).
"""
from __future__ import annotations

import threading
import time

from gridint.interconnection.model import CounterOffer, Decision, Reason


class CapacityEvaluator:
    def __init__(self, limit_kw: float, delay_s: float = 0.0):
        self.limit_kw = limit_kw
        self.delay_s = delay_s
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, req, *, ahead=()):
        with self._lock:
            self.calls += 1
        if self.delay_s:
            time.sleep(self.delay_s)  # widen the window a missing lock would show in
        if req.category == "large_ci" and req.mode != "full_self_consumption":
            return Decision("invalid", None, None,
                            (Reason("category_mode", limit="full_self_consumption", value=req.mode,
                                    element="mode"),))
        used = sum(a.ac_kw for a in ahead)
        free = self.limit_kw - used
        level = "220V" if req.ac_kw <= 8 else "380V" if req.ac_kw <= 400 else "10kV"
        if req.ac_kw <= free + 1e-9:
            return Decision("approved", level, free,
                            (Reason("capacity", limit=self.limit_kw, value=used + req.ac_kw,
                                    element=req.feeder),))
        return Decision("queued", level, max(free, 0.0),
                        (Reason("capacity", limit=self.limit_kw, value=used + req.ac_kw,
                                element=req.feeder),),
                        (CounterOffer("max_kw", max(free, 0.0), "kW"),))


def replay_fifo(rows, limit_kw: float) -> list[str]:
    """Decisions of handling ``rows`` one at a time in their order (approved / queued)."""
    used, out = 0.0, []
    for r in rows:
        if r.ac_kw <= limit_kw - used + 1e-9:
            used += r.ac_kw
            out.append("approved")
        else:
            out.append("queued")
    return out
