"""Network-aware storage dispatch: day-ahead and intraday plans, AC-verified.

Public API: :func:`plan_day`, :func:`redispatch`, :func:`dispatch`,
:func:`day_inputs`, :class:`DispatchPlan`, :class:`DayInputs`,
:func:`storage_units`, :class:`StorageUnits`.

Sign: storage ``p_kw`` positive = charging (consumption).
"""

from gridint.dispatch.plan import (
    CLI_FIELDS,
    DayInputs,
    DispatchPlan,
    day_inputs,
    dispatch,
    plan_day,
    redispatch,
)
from gridint.dispatch.units import StorageUnits, storage_units

__all__ = [
    "CLI_FIELDS",
    "DayInputs",
    "DispatchPlan",
    "StorageUnits",
    "day_inputs",
    "dispatch",
    "plan_day",
    "redispatch",
    "storage_units",
]
