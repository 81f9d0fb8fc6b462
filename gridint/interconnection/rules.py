"""Rules engine: validity, connection voltage level, AC-verified technical fit.

(Work in progress: technical fit and counter-offers arrive with issue 6.)
"""
from __future__ import annotations

from typing import Sequence

from gridint.interconnection.model import ConnectionRequest, Decision, QueuedPV, Reason


def evaluate(req: ConnectionRequest, *, ahead: Sequence[QueuedPV] = ()) -> Decision:
    """Decide a connection request given the PV ahead of it in the queue.

    Parameters
    ----------
    req : ConnectionRequest
    ahead : sequence of QueuedPV
        Approved-not-connected and newly connected PV on the same feeder, in queue order.

    Returns
    -------
    Decision
    """
    return Decision("referred", None, None, (Reason("not_implemented"),))
