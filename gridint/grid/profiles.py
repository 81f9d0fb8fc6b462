"""Element time series of a feeder: load, PV and storage per quarter-hour.

An :class:`ElementProfiles` holds absolute values in pandapower units for the
elements of one net, keyed like the keywords of
:func:`gridint.powerflow.element_injections` (``load_p_mw``, ``load_q_mvar``,
``sgen_p_mw``, ``sgen_q_mvar``, ``storage_p_mw``; storage positive = charging).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gridint.errors import ProfileError

__all__ = [
    "ElementProfiles",
    "profiles_from_classes",
    "profiles_from_simbench",
    "locate_time",
    "profile_positions",
]

logger = logging.getLogger(__name__)

_KEYS = ("load_p_mw", "load_q_mvar", "sgen_p_mw", "sgen_q_mvar", "storage_p_mw", "storage_q_mvar")


@dataclass
class ElementProfiles:
    """Absolute element values per step.

    Attributes
    ----------
    time_index : DatetimeIndex
        Time-zone aware step labels (start of each interval).
    values : dict of str -> DataFrame
        ``<table>_<column>`` -> (steps x element index) [MW] or [Mvar].
    source : str
        Where the profiles came from.
    """

    time_index: pd.DatetimeIndex
    values: dict[str, pd.DataFrame] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        if self.time_index.tz is None:
            raise ProfileError("profile time index must be time-zone aware")
        for key, df in self.values.items():
            if key not in _KEYS:
                raise ProfileError(f"unknown profile key {key!r}; allowed: {', '.join(_KEYS)}")
            if len(df) != len(self.time_index):
                raise ProfileError(f"profile {key} has {len(df)} rows for "
                                   f"{len(self.time_index)} time steps")

    def __len__(self) -> int:
        return len(self.time_index)

    def take(self, steps) -> "ElementProfiles":
        """Profiles of the selected step positions only.

        Parameters
        ----------
        steps : array of int or slice
        """
        idx = np.arange(len(self))[steps]
        return ElementProfiles(self.time_index[idx],
                               {k: v.iloc[idx] for k, v in self.values.items()},
                               self.source)

    def as_kwargs(self) -> dict[str, pd.DataFrame]:
        """Keyword arguments for :func:`gridint.powerflow.element_injections`."""
        return dict(self.values)


def profiles_from_classes(net, shapes: pd.DataFrame, source: str = "") -> ElementProfiles:
    """Absolute profiles from normalised class shapes and each element's class.

    Every load and sgen names its class in a ``profile`` column; its value per
    step is its own ``p_mw`` / ``q_mvar`` (the annual peak, resp. AC rating)
    times the class shape (constant power factor).

    Parameters
    ----------
    net : pandapowerNet
        With a ``profile`` column on ``load`` (and ``sgen`` if any).
    shapes : DataFrame
        Time-zone aware index, one column per class, per unit of peak / rating.
    source : str, optional

    Returns
    -------
    ElementProfiles

    Raises
    ------
    ProfileError
        If an element names a class that ``shapes`` does not have.
    """
    values = {}
    for table in ("load", "sgen"):
        df = net[table]
        if not len(df):
            continue
        if "profile" not in df:
            raise ProfileError(f"{table} table has no 'profile' column naming its class")
        missing = sorted(set(df["profile"].astype(str)) - set(shapes.columns))
        if missing:
            raise ProfileError(f"{table} profile class(es) {missing} not in the profile file "
                               f"(has {list(shapes.columns)})")
        shape = shapes[df["profile"].astype(str).to_numpy()].to_numpy(dtype=float)
        for col in ("p_mw", "q_mvar"):
            values[f"{table}_{col}"] = pd.DataFrame(
                shape * df[col].to_numpy(dtype=float)[None, :], index=shapes.index,
                columns=df.index)
    return ElementProfiles(pd.DatetimeIndex(shapes.index), values, source)


def profiles_from_simbench(net, source: str = "simbench") -> ElementProfiles:
    """Quarter-hour profiles of 2016 shipped with a SimBench net.

    SimBench time stamps are local standard time (UTC+01:00) without
    daylight saving, 35,136 steps.
    """
    import simbench

    try:
        abs_values = simbench.get_absolute_values(net, profiles_instead_of_study_cases=True)
    except Exception as exc:
        raise ProfileError(f"SimBench profiles of {net.name!r} cannot be built: {exc}") from exc
    n = len(next(iter(abs_values.values())))
    index = pd.date_range("2016-01-01 00:00", periods=n, freq="15min", tz="Etc/GMT-1")
    values = {}
    for (table, col), df in abs_values.items():
        key = f"{table}_{col}"
        if key in _KEYS and len(net[table]):
            frame = df.copy()
            frame.index = index
            values[key] = frame
    return ElementProfiles(index, values, source)


def profile_positions(time_index: pd.DatetimeIndex, when: pd.DatetimeIndex) -> np.ndarray:
    """Positions of the profile steps containing each of ``when`` (vectorised).

    A time of another year is mapped by month, day and time of day in the
    profile's own time zone (29 February falls back to 28 February when the
    profile year is not a leap year), so a typical year serves any date.

    Parameters
    ----------
    time_index : DatetimeIndex
        Regular, time-zone aware profile index.
    when : DatetimeIndex
        Time-zone aware, or naive meaning the profile's time zone.

    Returns
    -------
    ndarray of int

    Raises
    ------
    ProfileError
        A time falls outside the profile period.
    """
    tz = time_index.tz
    when = pd.DatetimeIndex(when)
    ts = when.tz_localize(tz) if when.tz is None else when.tz_convert(tz)
    year = time_index[0].year
    day = ts.day.to_numpy()
    if not pd.Timestamp(year=year, month=1, day=1).is_leap_year:
        day = np.where((ts.month == 2) & (day == 29), 28, day)
    wall = ts.tz_localize(None)
    local = pd.DatetimeIndex(pd.to_datetime(pd.DataFrame({
        "year": np.full(len(ts), year), "month": ts.month, "day": day})))
    local = (local + (wall - wall.normalize())).tz_localize(
        tz, ambiguous="NaT", nonexistent="shift_forward")
    same_year = np.asarray(ts.year == year)
    ns = np.where(same_year, ts.asi8, local.asi8)
    mapped = pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC").tz_convert(tz)
    pos = time_index.searchsorted(mapped, side="right") - 1
    step = time_index[-1] - time_index[-2]
    bad = (pos < 0) | (mapped >= time_index[-1] + step) | pd.isna(mapped)
    if bad.any():
        k = int(np.argmax(bad))
        raise ProfileError(f"time {when[k]} is outside the profile period "
                           f"{time_index[0].isoformat()} .. {time_index[-1].isoformat()}")
    return np.asarray(pos, dtype=np.int64)


def locate_time(time_index: pd.DatetimeIndex, when) -> int:
    """Position of the profile step containing one time (see :func:`profile_positions`).

    Parameters
    ----------
    time_index : DatetimeIndex
        Regular, time-zone aware profile index.
    when : Timestamp or str
        Time-zone aware, or naive meaning the profile's time zone.

    Returns
    -------
    int
    """
    return int(profile_positions(time_index, pd.DatetimeIndex([pd.Timestamp(when)]))[0])


def read_shapes(path: Path) -> pd.DataFrame:
    """Class shapes file via :func:`gridint.grid.loadshapes.read_class_profiles`."""
    from gridint.grid.loadshapes import read_class_profiles

    return read_class_profiles(path)
