"""Exception hierarchy of gridint.

Every error raised on purpose by the library derives from :class:`GridintError`,
so callers (CLI, API) can catch one base class and show the message as it is:
messages name the offending field or element and the allowed range.
"""

from __future__ import annotations

__all__ = [
    "GridintError",
    "ConfigError",
    "CatalogError",
    "FeederError",
    "FeederValidationError",
    "ProfileError",
    "WeatherError",
    "PowerFlowError",
    "PowerFlowNotConverged",
    "RuleViolation",
    "ReliabilityError",
    "DispatchError",
    "StoreError",
    "RecordNotFound",
    "StateConflict",
    "IdempotencyConflict",
]


class GridintError(Exception):
    """Base class of all gridint errors."""


class ConfigError(GridintError):
    """A setting has a value outside its allowed range."""


class CatalogError(GridintError):
    """The feeder catalog is malformed, or a feeder name is not in it."""


class FeederError(GridintError):
    """A feeder model cannot be loaded or used (bad file, unsupported element)."""


class FeederValidationError(FeederError):
    """A feeder model failed validation; ``problems`` lists every finding.

    Parameters
    ----------
    problems : list of str
        One human-readable line per problem, each naming the table, element
        and field concerned.
    source : str, optional
        Feeder name or file the problems were found in.
    """

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.problems) == 1:
            msg = f"{where}{self.problems[0]}"
        else:
            msg = f"{where}{len(self.problems)} problems: " + "; ".join(self.problems)
        super().__init__(msg)


class ProfileError(GridintError):
    """Time-series profiles are missing, misaligned or out of range."""


class WeatherError(GridintError):
    """Weather data cannot be read or used (format, units, gaps, time zone, range).

    Messages name the file, the field (column) and the allowed range.
    """


class PowerFlowError(GridintError):
    """The power-flow engine was given inputs it cannot solve (shape, NaN, ...)."""


class PowerFlowNotConverged(PowerFlowError):
    """A single power flow did not converge.

    Batch runs never raise this; they flag the step in ``BatchResult.converged``.
    """


class RuleViolation(GridintError):
    """A connection request or plan breaks a configured rule."""


class ReliabilityError(GridintError):
    """Reliability input data are invalid or a reliability study cannot be run.

    Messages name the table and column (e.g. ``line.fault_rate_per_km_year``), the
    offending elements and the allowed range.
    """


class DispatchError(GridintError):
    """A storage dispatch cannot be planned (no storage, inputs that do not fit the net)."""


class StoreError(GridintError):
    """A store operation cannot be carried out (record missing, state does not allow it)."""


class RecordNotFound(StoreError):
    """A stored record does not exist (or is not visible to the caller)."""


class StateConflict(StoreError):
    """The record's state does not allow the action (e.g. withdrawing a connected request)."""


class IdempotencyConflict(StateConflict):
    """An Idempotency-Key was reused with a different request."""


class DeviceInvalid(StoreError):
    """A DER device registration field does not fit the grid model (issue 10).

    Attributes
    ----------
    field : str
        The registration field at fault (``name``, ``feeder``, ``bus``, ``kind``, ...).
    reason : str
        What is wrong and a few allowed values.
    """

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")
