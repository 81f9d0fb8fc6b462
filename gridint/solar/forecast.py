"""PV fleet forecasts: day-ahead and intraday, P10/P50/P90, baselines, backtest.

What is forecast
----------------
The AC power [kW] of a feeder's PV fleet (every in-service PV sgen, see
:func:`gridint.solar.fleet.pv_systems`) at 15-minute resolution, time-zone
aware (labels are the start of each quarter-hour, as in the weather files).

* **Day-ahead**: issued on day D-1 at ``issue_hour`` local time, for the 96
  quarter-hours of day D. The default, :data:`DAY_AHEAD_ISSUE_HOUR` = 12:00
  (lead times 12 h to 36 h), is an assumption: the deadline for the next day's
  forecast is set by the dispatch centre, so it is a parameter
  (``issue_time`` of :func:`forecast_feeder`, ``issue_hour`` elsewhere). Only
  measurements before the issue time are used.
* **Intraday**: rolling, issued every quarter-hour at time ``t0`` with the
  latest measurement labelled ``t0 - 15 min``; horizons 15 min to 4 h
  (:data:`INTRADAY_STEPS` = 16 steps, labels ``t0`` .. ``t0 + 3 h 45``); the
  horizon of a step is its label minus the label of the latest measurement.

Until real telemetry arrives (a later issue), "measured" fleet power is the
fleet model of :mod:`gridint.solar.fleet` run on the weather of
:mod:`gridint.solar.weather` (the default typical Xiangtan year, or a user's
weather): :func:`fleet_truth`.

Methods (everything in clear-sky-index space, ``k = P / P_clearsky``, with
``P_clearsky`` the fleet's clear-sky AC power from
:func:`gridint.solar.fleet.clearsky_fleet_ac_kw`)
-------------------------------------------------------------------------------
Baselines, needing no forecast weather:

* persistence - day-ahead: the value at the same time of day on the latest
  day measured at issue time (D-1 before the issue hour, D-2 after it);
  intraday: the latest measured value;
* smart persistence (clear-sky-index persistence) - day-ahead: the fleet's
  clear-sky index of the 24 h before the issue time times the clear-sky power
  of the target step; intraday: the latest measured clear-sky index (the
  24-h index when the sun was not up at the latest measurement);
* climatology - mean power per month and quarter-hour of the day over the
  training days.

The calibrated forecast (:func:`calibrate`, :func:`day_ahead_k`,
:func:`intraday_k`):

* day-ahead: the climatological clear-sky index of the month and time of day,
  scaled by the damped anomaly of the last 24 h:
  ``k = k_clim(m, tod) * (1 + a * (k_24h / K_clim(m) - 1))``, ``a`` fitted
  by least squares on the training days (``a = 1``: anomaly persistence,
  ``a = 0``: climatology);
* intraday: the latest measured clear-sky index blended towards the
  climatological one with the horizon, ``k = w_h k_now + (1 - w_h) k_clim``,
  one least-squares weight per horizon step;
* with a forecast weather file (:func:`gridint.solar.weather.read_forecast_weather`):
  the fleet model run on the forecast weather is the day-ahead P50 (intraday:
  its clear-sky index takes the place of climatology in the blend).

Probabilistic forecast: P10 / P50 / P90 (levels from
``Settings.forecast_quantiles``) = the P50 plus empirical quantiles of the
clear-sky-index errors ``k_obs - k_fc`` on the training days, in bins of
horizon (day-ahead, and each intraday step), forecast clear-sky index and
clear-sky power (share of the AC capacity, a proxy of sun elevation); bins
with fewer than :data:`MIN_BIN_COUNT` errors fall back to coarser ones. The
errors are out-of-sample (each fold of training days is forecast by a model
fitted on the other folds), so the intervals are as wide as on unseen days.
Quantiles are sorted (never cross), zero where the clear-sky power is zero
(night) and clipped to [0, AC capacity]. With a forecast weather file the
same error quantiles are used around its P50 (conservative for a weather
forecast better than the no-weather method, until enough of its own past
errors exist to calibrate on).

References
----------
.. [1] Solar Forecast Arbiter, reference forecasts (persistence, clear-sky
   index persistence) and metrics, https://solarforecastarbiter.org/.
.. [2] R. Marquez and C. F. M. Coimbra, "Proposed metric for evaluation of
   solar forecasting models", J. Sol. Energy Eng. 135, 011016, 2013 (smart
   persistence as the reference).
.. [3] D. Yang, "Making reference solar forecasts with climatology, persistence,
   and their optimal convex combination", Solar Energy 193, 981-985, 2019
   (persistence blended with climatology, weight fitted per horizon).
.. [4] T. Hong et al., "Probabilistic energy forecasting: Global Energy
   Forecasting Competition 2014 and beyond", Int. J. Forecasting 32, 896-913,
   2016 (quantile forecasts from empirical error distributions, pinball loss).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from gridint.config import get_settings
from gridint.errors import FeederError, GridintError, WeatherError
from gridint.solar import metrics

__all__ = [
    "DAY_AHEAD_ISSUE_HOUR", "INTRADAY_STEPS", "INTRADAY_ISSUE_HOUR", "HORIZONS",
    "ForecastModel", "fleet_truth", "clear_sky_index",
    "persistence_day_ahead", "persistence_intraday",
    "smart_persistence_day_ahead", "smart_persistence_intraday", "climatology",
    "calibrate", "day_ahead_k", "intraday_k", "quantile_forecast",
    "holdout_mask", "backtest", "backtest_feeder", "forecast_feeder", "parse_day",
]

logger = logging.getLogger(__name__)

#: Default issue hour of the day-ahead forecast on day D-1 [h, local time].
DAY_AHEAD_ISSUE_HOUR = 12
#: Default issue hour of an intraday forecast for a given date [h, local time].
INTRADAY_ISSUE_HOUR = 10
#: Intraday horizons: 1 .. 16 quarter-hours (15 min .. 4 h).
INTRADAY_STEPS = 16
HORIZONS = ("day-ahead", "intraday")

STEP = pd.Timedelta(minutes=15)
STEPS_PER_DAY = 96
#: Clear-sky index range kept (cloud enhancement rarely lifts a fleet above 1.3).
K_MAX = 1.5
#: Bin edges of the forecast clear-sky index for the error quantiles.
K_BIN_EDGES = (0.3, 0.5, 0.7, 0.9)
#: Bin edges of clear-sky power / AC capacity (low sun, mid, high sun).
CS_BIN_EDGES = (0.1, 0.3)
#: Fewest errors a bin needs before its own quantiles are used.
MIN_BIN_COUNT = 50
#: Clear-sky power below this share of the AC capacity gives no usable index.
MIN_CS_SHARE = 0.02


# --------------------------------------------------------------------------- truth
def fleet_truth(systems: pd.DataFrame, weather: pd.DataFrame | None = None, loc=None) -> pd.DataFrame:
    """Fleet AC power on a weather period and the fleet's clear-sky AC power.

    The stand-in for measured fleet power until telemetry arrives: the fleet
    model (:func:`gridint.solar.fleet.fleet_ac_kw`) run on ``weather``.

    Parameters
    ----------
    systems : pandas.DataFrame
        PV systems, :func:`gridint.solar.fleet.pv_systems`.
    weather : pandas.DataFrame, optional
        Weather with ``WEATHER_COLUMNS`` on a 15-min tz-aware index; default
        the typical Xiangtan year (:func:`gridint.solar.weather.default_weather`).
    loc : pvlib.location.Location, optional
        Site (default Xiangtan).

    Returns
    -------
    pandas.DataFrame
        Columns ``measured_kw`` and ``clearsky_kw`` [kW AC], index of ``weather``.
    """
    from gridint.solar.fleet import clearsky_fleet_ac_kw, fleet_ac_kw
    from gridint.solar.weather import default_weather

    if weather is None:
        weather = default_weather()
    measured = _total(fleet_ac_kw(systems, weather, loc=loc))
    clearsky = _total(clearsky_fleet_ac_kw(systems, weather.index, loc=loc))
    return pd.DataFrame({"measured_kw": measured.reindex(weather.index).to_numpy(float),
                         "clearsky_kw": clearsky.reindex(weather.index).to_numpy(float)},
                        index=weather.index)


def _total(power) -> pd.Series:
    """Fleet total of a steps x systems frame (or a Series as it is)."""
    if isinstance(power, pd.DataFrame):
        return power.sum(axis=1, min_count=1)
    return pd.Series(power)


def clear_sky_index(measured: pd.Series, clearsky: pd.Series, capacity_kw: float | None = None) -> pd.Series:
    """Clear-sky index ``k = P / P_clearsky`` of a fleet.

    Parameters
    ----------
    measured, clearsky : pandas.Series
        Fleet power and clear-sky fleet power [kW], same index.
    capacity_kw : float, optional
        AC capacity [kW]; steps with clear-sky power below
        ``MIN_CS_SHARE * capacity_kw`` (sunrise, sunset) get NaN. Without it
        only steps with zero clear-sky power do.

    Returns
    -------
    pandas.Series
        Clear-sky index [-], clipped to [0, ``K_MAX``], NaN at night.
    """
    floor = 0.0 if capacity_kw is None else MIN_CS_SHARE * capacity_kw
    cs = clearsky.to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(cs > max(floor, 0.0), measured.to_numpy(float) / cs, np.nan)
    return pd.Series(np.clip(k, 0.0, K_MAX), index=measured.index, name="k")


# --------------------------------------------------------------------------- helpers
def _tod_index(index: pd.DatetimeIndex) -> np.ndarray:
    """Quarter-hour of the day, 0 .. 95."""
    minutes = index.hour * 60 + index.minute
    if np.any(minutes % 15) or np.any(index.second) or np.any(index.microsecond):
        raise GridintError("timestamps must fall on quarter-hours (hh:00, :15, :30, :45)")
    return np.asarray(minutes // 15, dtype=int)


def _at(series: pd.Series, labels: pd.DatetimeIndex) -> np.ndarray:
    """Values of ``series`` at ``labels`` (NaN where absent)."""
    return series.reindex(labels).to_numpy(float)


def _issue_times(index: pd.DatetimeIndex, issue_hour: float) -> pd.DatetimeIndex:
    """Day-ahead issue time of every target step: D-1 at ``issue_hour``."""
    return index.normalize() - pd.Timedelta(days=1) + pd.Timedelta(hours=issue_hour)


def _trailing_ratio(measured: pd.Series, clearsky: pd.Series, at: pd.DatetimeIndex,
                    span_steps: int, capacity_kw: float | None) -> np.ndarray:
    """Clear-sky index of the ``span_steps`` quarter-hours before each ``at``.

    Ratio of sums of the labels ``at - span .. at - 15 min``; NaN when a value
    is missing or the clear-sky energy is too small to give an index.
    """
    span = f"{15 * span_steps}min"
    m = measured.rolling(span, min_periods=span_steps).sum()
    c = clearsky.rolling(span, min_periods=span_steps).sum()
    n = measured.rolling(span, min_periods=1).count()
    last = at - STEP
    sm, sc, cnt = _at(m, last), _at(c, last), _at(n, last)
    floor = (MIN_CS_SHARE * capacity_kw if capacity_kw else 0.0) * span_steps
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where((sc > max(floor, 1e-9)) & (cnt == span_steps), sm / sc, np.nan)
    return np.clip(k, 0.0, K_MAX)


# --------------------------------------------------------------------------- baselines
def persistence_day_ahead(measured: pd.Series, index: pd.DatetimeIndex,
                          issue_hour: float = DAY_AHEAD_ISSUE_HOUR) -> pd.Series:
    """Day-ahead persistence: same time of day on the latest day measured at issue.

    A step of day D at time of day ``tod`` takes the measurement of D-1 at
    ``tod`` when ``tod`` is before the issue hour (that value exists when the
    forecast is issued at D-1 ``issue_hour``), else the one of D-2.

    Parameters
    ----------
    measured : pandas.Series
        Measured fleet power [kW] on a 15-min index.
    index : pandas.DatetimeIndex
        Target steps.
    issue_hour : float
        Issue time on D-1 [h, local].

    Returns
    -------
    pandas.Series
        Forecast [kW] on ``index``.
    """
    tod = index - index.normalize()
    lag = np.where(tod < pd.Timedelta(hours=issue_hour), 1, 2)
    src = index - pd.to_timedelta(lag, unit="D")
    return pd.Series(_at(measured, src), index=index, name="persistence_kw")


def persistence_intraday(measured: pd.Series, index: pd.DatetimeIndex, horizon_steps: int) -> pd.Series:
    """Intraday persistence: the latest measured value, ``horizon_steps`` steps back.

    Parameters
    ----------
    measured : pandas.Series
        Measured fleet power [kW].
    index : pandas.DatetimeIndex
        Target steps.
    horizon_steps : int
        Horizon [quarter-hours]: 1 = 15 min ahead of the latest measurement.

    Returns
    -------
    pandas.Series
        Forecast [kW].
    """
    return pd.Series(_at(measured, index - horizon_steps * STEP), index=index, name="persistence_kw")


def smart_persistence_day_ahead(measured: pd.Series, clearsky: pd.Series, index: pd.DatetimeIndex,
                                issue_hour: float = DAY_AHEAD_ISSUE_HOUR,
                                capacity_kw: float | None = None) -> pd.Series:
    """Day-ahead smart persistence: the previous 24 h's clear-sky index x clear-sky power.

    Parameters
    ----------
    measured, clearsky : pandas.Series
        Measured and clear-sky fleet power [kW] (``clearsky`` must cover ``index``).
    index : pandas.DatetimeIndex
        Target steps (day D).
    issue_hour : float
        Issue time on D-1 [h, local]; the index is taken over the 24 h before it.
    capacity_kw : float, optional
        AC capacity [kW], clips the forecast.

    Returns
    -------
    pandas.Series
        Forecast [kW].
    """
    k24 = _trailing_ratio(measured, clearsky, _issue_times(index, issue_hour), STEPS_PER_DAY, capacity_kw)
    p = np.nan_to_num(k24, nan=1.0) * _at(clearsky, index)
    return pd.Series(np.clip(p, 0.0, capacity_kw or np.inf), index=index, name="smart_persistence_kw")


def _k_now(measured, clearsky, index, horizon_steps, window_steps, capacity_kw):
    """Latest clear-sky index before each forecast (24-h index when the sun was down)."""
    issue = index - (horizon_steps - 1) * STEP
    k = _trailing_ratio(measured, clearsky, issue, window_steps, capacity_kw)
    k24 = _trailing_ratio(measured, clearsky, issue, STEPS_PER_DAY, capacity_kw)
    return np.where(np.isfinite(k), k, k24)


def smart_persistence_intraday(measured: pd.Series, clearsky: pd.Series, index: pd.DatetimeIndex,
                               horizon_steps: int, capacity_kw: float | None = None,
                               window_steps: int = 1) -> pd.Series:
    """Intraday smart persistence: the latest clear-sky index x clear-sky power.

    Parameters
    ----------
    measured, clearsky : pandas.Series
        Measured and clear-sky fleet power [kW].
    index : pandas.DatetimeIndex
        Target steps.
    horizon_steps : int
        Horizon [quarter-hours] (1 = 15 min).
    capacity_kw : float, optional
        AC capacity [kW]: clips the forecast; clear-sky power below 2 % of it
        gives no index (the 24-h index is used instead).
    window_steps : int
        Quarter-hours averaged into the latest index (ratio of sums).

    Returns
    -------
    pandas.Series
        Forecast [kW].
    """
    k = _k_now(measured, clearsky, index, horizon_steps, window_steps, capacity_kw)
    p = np.nan_to_num(k, nan=1.0) * _at(clearsky, index)
    return pd.Series(np.clip(p, 0.0, capacity_kw or np.inf), index=index, name="smart_persistence_kw")


def climatology(measured: pd.Series, index: pd.DatetimeIndex, train: pd.Series | np.ndarray | None = None) -> pd.Series:
    """Climatology: mean power per month and quarter-hour of the day.

    Parameters
    ----------
    measured : pandas.Series
        Past fleet power [kW].
    index : pandas.DatetimeIndex
        Target steps.
    train : boolean array-like, optional
        Steps of ``measured`` to average (default all finite ones).

    Returns
    -------
    pandas.Series
        Forecast [kW]; NaN for a month without data.
    """
    table = _month_tod_mean(measured, train)
    return pd.Series(table[index.month - 1, _tod_index(index)], index=index, name="climatology_kw")


def _month_tod_sum(values: pd.Series, use: np.ndarray):
    idx = values.index
    cell = (idx.month.to_numpy() - 1) * STEPS_PER_DAY + _tod_index(idx)
    v = values.to_numpy(float)
    ok = use & np.isfinite(v)
    s = np.bincount(cell[ok], weights=v[ok], minlength=12 * STEPS_PER_DAY)
    n = np.bincount(cell[ok], minlength=12 * STEPS_PER_DAY)
    return s.reshape(12, STEPS_PER_DAY), n.reshape(12, STEPS_PER_DAY)


def _month_tod_mean(values: pd.Series, train) -> np.ndarray:
    use = np.ones(len(values), bool) if train is None else np.asarray(train, bool)
    s, n = _month_tod_sum(values, use)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, s / n, np.nan)


# --------------------------------------------------------------------------- calibrated model
@dataclass
class ForecastModel:
    """Calibration of the forecasts of one fleet (see :func:`calibrate`).

    Attributes
    ----------
    capacity_kw : float
        Fleet AC capacity [kW] (clip of every forecast).
    k_clim : ndarray, shape (12, 96)
        Climatological clear-sky index per month and quarter-hour [-].
    k_clim_day : ndarray, shape (12,)
        Climatological daily clear-sky index per month [-].
    day_ahead_damping : float
        Weight ``a`` of the 24-h anomaly in the day-ahead forecast [-].
    intraday_weights : ndarray, shape (16,)
        Weight ``w_h`` of the latest index per intraday horizon [-].
    quantiles : tuple of float
        Quantile levels of the probabilistic forecast (e.g. 0.1, 0.5, 0.9).
    error_quantiles : ndarray, shape (17, 5, 3, n_quantiles)
        Quantiles of ``k_obs - k_fc`` per horizon class (0 = day-ahead,
        h = 1..16 intraday), forecast-index bin and clear-sky-power bin [-].
    issue_hour : float
        Day-ahead issue hour on D-1 [h, local].
    window_steps : int
        Quarter-hours in the latest measured clear-sky index.
    n_train_days : int
        Days the calibration used.
    """

    capacity_kw: float
    k_clim: np.ndarray
    k_clim_day: np.ndarray
    day_ahead_damping: float
    intraday_weights: np.ndarray
    quantiles: tuple
    error_quantiles: np.ndarray
    issue_hour: float = DAY_AHEAD_ISSUE_HOUR
    window_steps: int = 1
    n_train_days: int = 0
    bin_counts: np.ndarray = field(default=None, repr=False)


def _lsq_weight(x: np.ndarray, y: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y)
    sxx = float(np.sum(x[ok] ** 2))
    return float(np.clip(np.sum(x[ok] * y[ok]) / sxx, 0.0, 1.0)) if sxx > 0 else 0.0


def _da_k(kc: np.ndarray, k24: np.ndarray, k_day_m: np.ndarray, damping: float) -> np.ndarray:
    """``k_clim * (1 + a * (k_24h / K_clim - 1))`` (climatology where ``k_24h`` is unknown)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        anomaly = np.nan_to_num(k24 / k_day_m - 1.0, nan=0.0, posinf=0.0, neginf=0.0)
    return np.clip(kc * (1.0 + damping * anomaly), 0.0, K_MAX)


def _id_k(k_now: np.ndarray, k_base: np.ndarray, w) -> np.ndarray:
    """``w * k_now + (1 - w) * k_base`` (``k_base`` where ``k_now`` is unknown)."""
    k_now = np.where(np.isfinite(k_now), k_now, k_base)
    return np.clip(w * k_now + (1.0 - w) * k_base, 0.0, K_MAX)


def day_ahead_k(model: ForecastModel, measured: pd.Series, clearsky: pd.Series,
                index: pd.DatetimeIndex) -> np.ndarray:
    """Day-ahead clear-sky-index forecast of the calibrated method.

    ``k = k_clim(m, tod) * (1 + a * (k_24h / K_clim(m) - 1))`` with ``k_24h``
    the fleet's clear-sky index over the 24 h before the issue time (D-1 at
    ``model.issue_hour``); climatology alone when ``k_24h`` is unknown.

    Parameters
    ----------
    model : ForecastModel
    measured, clearsky : pandas.Series
        Measured (only values before the issue time are read) and clear-sky
        fleet power [kW].
    index : pandas.DatetimeIndex
        Target steps.

    Returns
    -------
    numpy.ndarray
        Forecast clear-sky index [-] per target step.
    """
    m = index.month.to_numpy() - 1
    k24 = _trailing_ratio(measured, clearsky, _issue_times(index, model.issue_hour),
                          STEPS_PER_DAY, model.capacity_kw)
    return _da_k(model.k_clim[m, _tod_index(index)], k24, model.k_clim_day[m], model.day_ahead_damping)


def intraday_k(model: ForecastModel, measured: pd.Series, clearsky: pd.Series,
               index: pd.DatetimeIndex, horizon_steps, k_base: np.ndarray | None = None) -> np.ndarray:
    """Intraday clear-sky-index forecast of the calibrated method.

    ``k = w_h * k_now + (1 - w_h) * k_base`` with ``k_now`` the latest measured
    clear-sky index (``horizon_steps`` before the target; the 24-h index when
    the sun was not up) and ``k_base`` the climatological index (or the
    forecast-weather index).

    Parameters
    ----------
    model : ForecastModel
    measured, clearsky : pandas.Series
        Fleet power and clear-sky fleet power [kW].
    index : pandas.DatetimeIndex
        Target steps.
    horizon_steps : int or array of int
        Horizon of each target step [quarter-hours], 1 .. 16.
    k_base : ndarray, optional
        Index to blend towards (default climatology).

    Returns
    -------
    numpy.ndarray
        Forecast clear-sky index [-].
    """
    h = np.broadcast_to(np.asarray(horizon_steps, dtype=int), (len(index),))
    if np.any((h < 1) | (h > INTRADAY_STEPS)):
        raise GridintError(f"intraday horizons are 1..{INTRADAY_STEPS} quarter-hours")
    if k_base is None:
        k_base = model.k_clim[index.month.to_numpy() - 1, _tod_index(index)]
    k_now = np.empty(len(index))
    for hv in np.unique(h):
        sel = h == hv
        k_now[sel] = _k_now(measured, clearsky, index[sel], int(hv), model.window_steps, model.capacity_kw)
    return _id_k(k_now, np.asarray(k_base, float), model.intraday_weights[h - 1])


def _bins(k_fc: np.ndarray, cs_share: np.ndarray):
    return (np.digitize(np.nan_to_num(k_fc, nan=0.0), K_BIN_EDGES),
            np.digitize(np.nan_to_num(cs_share, nan=0.0), CS_BIN_EDGES))


def _error_table(errors: np.ndarray, kb: np.ndarray, cb: np.ndarray, taus) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles of the errors per (index bin, clear-sky bin); thin bins fall back."""
    nk, nc = len(K_BIN_EDGES) + 1, len(CS_BIN_EDGES) + 1
    table = np.zeros((nk, nc, len(taus)))
    counts = np.zeros((nk, nc), int)
    pooled = np.quantile(errors, taus) if errors.size else np.zeros(len(taus))
    for i in range(nk):
        row = kb == i
        row_q = np.quantile(errors[row], taus) if row.sum() >= MIN_BIN_COUNT else pooled
        for j in range(nc):
            sel = row & (cb == j)
            counts[i, j] = sel.sum()
            table[i, j] = np.quantile(errors[sel], taus) if counts[i, j] >= MIN_BIN_COUNT else row_q
    return table, counts


def _clim_tables(measured: pd.Series, clearsky: pd.Series, use: np.ndarray):
    """Climatological clear-sky index per (month, quarter-hour) and per month (ratio of sums)."""
    sm, _ = _month_tod_sum(measured, use)
    sc, _ = _month_tod_sum(clearsky, use)
    with np.errstate(divide="ignore", invalid="ignore"):
        k_clim = np.clip(np.where(sc > 0, sm / sc, np.nan), 0.0, K_MAX)
        k_day = sm.sum(axis=1) / sc.sum(axis=1)
    # months without training data: the mean over the months that have it
    fill = np.nanmean(k_day) if np.isfinite(k_day).any() else 1.0
    k_day = np.where(np.isfinite(k_day), k_day, fill)
    k_clim = np.where(np.isfinite(k_clim), k_clim, k_day[:, None])
    return k_clim, k_day


def _fit_point(measured, clearsky, capacity_kw, use, month, tod, k24, k_now):
    """Point-forecast parameters fitted on the steps ``use`` (least squares on power)."""
    y = measured.to_numpy(float)
    cs = clearsky.to_numpy(float)
    k_clim, k_day = _clim_tables(measured, clearsky, use & np.isfinite(y) & (cs > 0))
    kc = k_clim[month, tod]
    base = cs * kc
    day = use & (cs > MIN_CS_SHARE * capacity_kw) & np.isfinite(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(day, base * (k24 / k_day[month] - 1.0), np.nan)
    damping = _lsq_weight(x, y - base)
    weights = np.array([_lsq_weight(np.where(day, cs * (np.where(np.isfinite(kn), kn, kc) - kc), np.nan),
                                    y - base) for kn in k_now])
    return k_clim, k_day, damping, weights


def calibrate(measured: pd.Series, clearsky: pd.Series, capacity_kw: float, train=None,
              issue_hour: float = DAY_AHEAD_ISSUE_HOUR, window_steps: int = 1,
              quantiles=None, n_folds: int = 5) -> ForecastModel:
    """Calibrate the forecasts of a fleet on past measured power.

    Fits, on the training steps only: the climatological clear-sky index per
    month and quarter-hour (ratio of sums), the damping of the day-ahead 24-h
    anomaly and the intraday blending weight per horizon (least squares on
    power). The error quantiles per horizon, forecast-index bin and
    clear-sky-power bin come from out-of-sample errors: the training days are
    split into ``n_folds`` folds (day number modulo ``n_folds``) and each
    fold's errors are those of the forecast fitted on the other folds, so the
    intervals are as wide as on days the calibration has not seen.

    Parameters
    ----------
    measured, clearsky : pandas.Series
        Measured and clear-sky fleet power [kW] on a regular 15-min index
        (typically a year).
    capacity_kw : float
        Fleet AC capacity [kW].
    train : boolean array-like, optional
        Steps used for fitting (default: every step). Forecasts may still read
        measurements outside it (history is history); only the fitting is
        restricted.
    issue_hour : float
        Day-ahead issue hour on D-1 [h, local].
    window_steps : int
        Quarter-hours in the latest measured index of the intraday forecast.
    quantiles : sequence of float, optional
        Levels (default ``Settings.forecast_quantiles``).
    n_folds : int
        Folds of the out-of-sample errors (1 = in-sample errors).

    Returns
    -------
    ForecastModel
    """
    if not (np.isfinite(capacity_kw) and capacity_kw > 0):
        raise GridintError(f"fleet AC capacity must be positive, got {capacity_kw!r} kW")
    taus = tuple(float(q) for q in (quantiles or get_settings().forecast_quantiles))
    index = measured.index
    use = np.ones(len(index), bool) if train is None else np.asarray(train, bool)
    cs = clearsky.to_numpy(float)
    month = index.month.to_numpy() - 1
    tod = _tod_index(index)
    k24 = _trailing_ratio(measured, clearsky, _issue_times(index, issue_hour), STEPS_PER_DAY, capacity_kw)
    k_now = [_k_now(measured, clearsky, index, h, window_steps, capacity_kw)
             for h in range(1, INTRADAY_STEPS + 1)]
    k_clim, k_day, damping, weights = _fit_point(measured, clearsky, capacity_kw, use, month, tod, k24, k_now)

    # out-of-sample clear-sky-index errors, fold by fold
    k_obs = clear_sky_index(measured, clearsky).to_numpy(float)
    days = (index.normalize() - index[0].normalize()).days.to_numpy()
    fold = days % max(int(n_folds), 1)
    errs = {c: [] for c in range(INTRADAY_STEPS + 1)}
    for f in np.unique(fold[use]):
        fit_on = use & (fold != f) if n_folds > 1 else use
        kcl, kdy, a, w = _fit_point(measured, clearsky, capacity_kw, fit_on, month, tod, k24, k_now)
        sel = use & (fold == f) & (cs > 0) & np.isfinite(k_obs)
        kc = kcl[month[sel], tod[sel]]
        fcs = {0: _da_k(kc, k24[sel], kdy[month[sel]], a)}
        for h in range(1, INTRADAY_STEPS + 1):
            fcs[h] = _id_k(k_now[h - 1][sel], kc, w[h - 1])
        for c, k_fc in fcs.items():
            errs[c].append((k_obs[sel] - k_fc, k_fc, cs[sel] / capacity_kw))

    shape = (INTRADAY_STEPS + 1, len(K_BIN_EDGES) + 1, len(CS_BIN_EDGES) + 1)
    table = np.zeros(shape + (len(taus),))
    counts = np.zeros(shape, int)
    for c, parts in errs.items():
        e, k_fc, share = (np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(3))
        kb, cb = _bins(k_fc, share)
        table[c], counts[c] = _error_table(e, kb, cb, taus)
    model = ForecastModel(capacity_kw=float(capacity_kw), k_clim=k_clim, k_clim_day=k_day,
                          day_ahead_damping=damping, intraday_weights=weights, quantiles=taus,
                          error_quantiles=table, issue_hour=issue_hour, window_steps=window_steps,
                          n_train_days=int(len(np.unique(days[use]))), bin_counts=counts)
    logger.info("calibrated on %d days: day-ahead damping %.3f, intraday weights %.2f .. %.2f",
                model.n_train_days, damping, weights[0], weights[-1])
    return model


def quantile_forecast(model: ForecastModel, p50_kw, clearsky_kw, horizon_class) -> pd.DataFrame:
    """Probabilistic forecast around a point forecast.

    Parameters
    ----------
    model : ForecastModel
    p50_kw : pandas.Series or array-like
        Point forecast of the fleet [kW] (the P50).
    clearsky_kw : array-like
        Clear-sky fleet power on the same steps [kW].
    horizon_class : int or array of int
        0 = day-ahead, h = 1..16 = intraday horizon in quarter-hours.

    Returns
    -------
    pandas.DataFrame
        Columns ``p10_kw, p50_kw, p90_kw`` (the levels of ``model.quantiles``;
        the middle level is the point forecast itself) [kW]: sorted per step
        (never crossing), clipped to [0, AC capacity], zero at night.
    """
    index = p50_kw.index if isinstance(p50_kw, pd.Series) else None
    p50 = np.asarray(p50_kw, dtype=float)
    cs = np.asarray(clearsky_kw, dtype=float)
    cls = np.broadcast_to(np.asarray(horizon_class, dtype=int), p50.shape)
    night = ~(cs > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        k_fc = np.where(night, 0.0, p50 / cs)
    kb, cb = _bins(k_fc, cs / model.capacity_kw)
    err = model.error_quantiles[cls, kb, cb]                 # (n, n_q)
    q = (k_fc[:, None] + err) * np.where(night, 0.0, cs)[:, None]
    mid = int(np.argmin(np.abs(np.asarray(model.quantiles) - 0.5)))
    q[:, mid] = np.nan_to_num(p50)
    q = np.sort(np.clip(q, 0.0, model.capacity_kw), axis=1)
    q[night] = 0.0
    names = [f"p{round(100 * t):d}_kw" for t in model.quantiles]
    return pd.DataFrame(q, index=index, columns=names)


# --------------------------------------------------------------------------- backtest
def holdout_mask(index: pd.DatetimeIndex, every: int = 4) -> np.ndarray:
    """Held-out days: every ``every``-th day of ``index`` (the 4th, 8th, ...).

    Returns
    -------
    numpy.ndarray of bool
        True on the steps of held-out days.
    """
    days = (index.normalize() - index[0].normalize()).days.to_numpy()
    return (days % every) == every - 1


def _metric_row(horizon, method, y, f, ref, cap, q=None, taus=None) -> dict:
    row = {"horizon": horizon, "method": method, "n_points": int(np.isfinite(y + f).sum()),
           "mae_kw": metrics.mae(y, f), "rmse_kw": metrics.rmse(y, f),
           "nrmse_percent": metrics.nrmse(y, f, cap), "mbe_kw": metrics.mbe(y, f),
           "skill_vs_smart_persistence": metrics.skill_score(y, f, ref),
           "pinball_kw": np.nan, "coverage_percent": np.nan}
    if q is not None:
        row["pinball_kw"] = float(np.mean([metrics.pinball_loss(y, q[:, j], t) for j, t in enumerate(taus)]))
        row["coverage_percent"] = metrics.interval_coverage(y, q[:, 0], q[:, -1])
    return row


def backtest(measured: pd.Series, clearsky: pd.Series, capacity_kw: float, holdout_every: int = 4,
             issue_hour: float = DAY_AHEAD_ISSUE_HOUR, intraday_horizons=(1, 4, 8, 16),
             window_steps: int = 1, model: ForecastModel | None = None):
    """Backtest the forecasts on held-out days of a measured year.

    Calibrates on the training days (all but every ``holdout_every``-th day;
    the first two days, which have no history, are neither trained on nor
    scored) and scores every method on the held-out days, daytime steps only
    (clear-sky power > 0; night is zero in every method and would only dilute
    the errors).

    Parameters
    ----------
    measured, clearsky : pandas.Series
        Measured and clear-sky fleet power [kW] (e.g. :func:`fleet_truth`).
    capacity_kw : float
        Fleet AC capacity [kW] (normalises nRMSE).
    holdout_every : int
        Every n-th day is held out.
    issue_hour : float
        Day-ahead issue hour on D-1 [h, local].
    intraday_horizons : sequence of int
        Intraday horizons scored [quarter-hours].
    window_steps : int
        Quarter-hours in the latest measured clear-sky index.
    model : ForecastModel, optional
        Use this calibration instead of fitting one on the training days.

    Returns
    -------
    results : pandas.DataFrame
        One row per horizon (``day-ahead``, ``intraday 15 min`` ...) and method
        (``calibrated``, ``smart persistence``, ``persistence``,
        ``climatology``): ``n_points, mae_kw, rmse_kw, nrmse_percent, mbe_kw,
        skill_vs_smart_persistence`` and, for the calibrated probabilistic
        forecast, ``pinball_kw`` (mean over the quantile levels) and
        ``coverage_percent`` (P10-P90).
    model : ForecastModel
        The calibration used.
    """
    index = measured.index
    held = holdout_mask(index, holdout_every)
    days = (index.normalize() - index[0].normalize()).days.to_numpy()
    warm = days >= 2
    if model is None:
        model = calibrate(measured, clearsky, capacity_kw, train=~held & warm, issue_hour=issue_hour,
                          window_steps=window_steps)
    cs = clearsky.to_numpy(float)
    score = held & warm & (cs > 0) & np.isfinite(measured.to_numpy(float))
    idx = index[score]
    y = measured.to_numpy(float)[score]
    cs_s = cs[score]
    clim = climatology(measured, idx, train=~held & warm).to_numpy(float)
    rows = []

    def block(label, point_k, hclass, smart, pers):
        p50 = np.clip(point_k * cs_s, 0.0, capacity_kw)
        q = quantile_forecast(model, p50, cs_s, hclass).to_numpy()
        rows.append(_metric_row(label, "calibrated", y, p50, smart, capacity_kw, q, model.quantiles))
        rows.append(_metric_row(label, "smart persistence", y, smart, smart, capacity_kw))
        rows.append(_metric_row(label, "persistence", y, pers, smart, capacity_kw))
        rows.append(_metric_row(label, "climatology", y, clim, smart, capacity_kw))

    block("day-ahead", day_ahead_k(model, measured, clearsky, idx), 0,
          smart_persistence_day_ahead(measured, clearsky, idx, issue_hour, capacity_kw).to_numpy(float),
          persistence_day_ahead(measured, idx, issue_hour).to_numpy(float))
    for h in intraday_horizons:
        block(f"intraday {_horizon_label(h)}", intraday_k(model, measured, clearsky, idx, h), h,
              smart_persistence_intraday(measured, clearsky, idx, h, capacity_kw, window_steps).to_numpy(float),
              persistence_intraday(measured, idx, h).to_numpy(float))
    return pd.DataFrame(rows), model


def _horizon_label(h: int) -> str:
    minutes = 15 * h
    return f"{minutes} min" if minutes < 60 else f"{minutes / 60:g} h"


def backtest_feeder(feeder, weather: pd.DataFrame | None = None, holdout_every: int = 4,
                    issue_hour: float = DAY_AHEAD_ISSUE_HOUR):
    """:func:`backtest` of a feeder's PV fleet on a weather year (default: the typical year).

    Parameters
    ----------
    feeder : gridint.grid.Feeder or str
        Feeder or catalog name / pandapower file.
    weather : pandas.DataFrame, optional
        Weather year (default :func:`gridint.solar.weather.default_weather`).
    holdout_every, issue_hour
        See :func:`backtest`.

    Returns
    -------
    results : pandas.DataFrame
    model : ForecastModel
    info : dict
        ``feeder, n_systems, capacity_kwp, capacity_kw_ac, n_days, n_holdout_days``.
    """
    feeder = _as_feeder(feeder)
    systems = _systems(feeder)
    truth = fleet_truth(systems, weather)
    cap = float(systems["ac_kw"].sum())
    res, model = backtest(truth["measured_kw"], truth["clearsky_kw"], cap, holdout_every, issue_hour)
    days = truth.index.normalize().unique()
    info = {"feeder": feeder.name, "n_systems": len(systems), "capacity_kwp": float(systems["kwp"].sum()),
            "capacity_kw_ac": cap, "n_days": len(days),
            "n_holdout_days": int(np.sum(holdout_mask(days, holdout_every)[2:]))}
    return res, model, info


# --------------------------------------------------------------------------- one feeder, one day
def _as_feeder(feeder):
    if isinstance(feeder, (str, Path)):
        from gridint.grid.catalog import load_feeder

        return load_feeder(feeder)
    return feeder


def _systems(feeder) -> pd.DataFrame:
    from gridint.solar.fleet import pv_systems

    systems = pv_systems(feeder.net)
    if systems is None or len(systems) == 0:
        raise FeederError(f"feeder {feeder.name!r} has no in-service PV (sgen); nothing to forecast")
    return systems


_MODEL_CACHE: dict = {}


def _feeder_model(systems: pd.DataFrame, issue_hour: float) -> ForecastModel:
    """Calibration on the typical year for this fleet (cached in-process)."""
    key = (int(pd.util.hash_pandas_object(systems, index=True).sum()), float(issue_hour),
           tuple(get_settings().forecast_quantiles))
    if key not in _MODEL_CACHE:
        truth = fleet_truth(systems)
        while len(_MODEL_CACHE) >= 4:   # a few fleets per process
            _MODEL_CACHE.pop(next(iter(_MODEL_CACHE)))
        _MODEL_CACHE[key] = calibrate(truth["measured_kw"], truth["clearsky_kw"],
                                      float(systems["ac_kw"].sum()), issue_hour=issue_hour)
    return _MODEL_CACHE[key]


def parse_day(date, tz: str) -> pd.Timestamp:
    """Midnight (local, ``tz``) of a date given as YYYY-MM-DD, date or Timestamp;
    None means tomorrow.

    Raises
    ------
    GridintError
        A string that is not a calendar date.
    """
    if date is None:
        return pd.Timestamp.now(tz=tz).normalize() + pd.Timedelta(days=1)
    if isinstance(date, str):
        try:
            d = dt.date.fromisoformat(date.strip())
        except ValueError:
            raise GridintError(f"date {date!r} is not a calendar date YYYY-MM-DD") from None
        return pd.Timestamp(d).tz_localize(tz)
    ts = pd.Timestamp(date)
    ts = ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)
    return ts.normalize()


def _parse_issue_time(issue_time, day: pd.Timestamp, tz: str) -> pd.Timestamp:
    """An issue time given as ISO 8601 or ``HH:MM`` (on ``day``), floored to the quarter-hour."""
    if isinstance(issue_time, str):
        s = issue_time.strip()
        try:
            if len(s) <= 5 and ":" in s:
                hh, mm = (int(v) for v in s.split(":"))
                ts = day + pd.Timedelta(hours=hh, minutes=mm)
            else:
                ts = pd.Timestamp(s)
        except ValueError:
            raise GridintError(f"issue time {issue_time!r} is neither HH:MM nor ISO 8601") from None
    else:
        ts = pd.Timestamp(issue_time)
    ts = ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)
    return ts.floor("15min")


def _read_forecast_weather(forecast_weather) -> pd.DataFrame:
    from gridint.solar.weather import read_forecast_weather

    if isinstance(forecast_weather, (str, Path)):
        return read_forecast_weather(forecast_weather)
    if not isinstance(forecast_weather, pd.DataFrame):
        raise WeatherError("forecast weather must be a file path or a DataFrame from read_forecast_weather")
    return forecast_weather


def _forecast_issue(fw: pd.DataFrame, target: pd.DatetimeIndex, bound: pd.Timestamp, strict: bool,
                    source: str) -> tuple[pd.Timestamp, pd.DataFrame]:
    """The latest issue of a forecast weather frame before ``bound`` that covers ``target``.

    Parameters
    ----------
    fw : pandas.DataFrame
        :func:`gridint.solar.weather.read_forecast_weather` output.
    target : pandas.DatetimeIndex
        Steps the forecast must cover.
    bound : pandas.Timestamp
        Latest acceptable issue time (excluded when ``strict``).
    strict : bool
    source : str
        File name for messages.

    Returns
    -------
    issue_time : pandas.Timestamp
    weather : pandas.DataFrame
        ``WEATHER_COLUMNS`` of that issue on ``target``.

    Raises
    ------
    WeatherError
        If no such issue exists (the message names what the file covers).
    """
    from gridint.solar.weather import WEATHER_COLUMNS

    missing = [c for c in ("issue_time", *WEATHER_COLUMNS) if c not in fw.columns]
    if missing:
        raise WeatherError(f"{source}: forecast weather lacks column(s) {', '.join(missing)}")
    if not isinstance(fw.index, pd.DatetimeIndex) or fw.index.tz is None or len(fw) == 0:
        raise WeatherError(f"{source}: forecast weather needs rows on a tz-aware time index")
    issues = pd.DatetimeIndex(pd.to_datetime(fw["issue_time"]))
    for it in sorted(issues.dropna().unique(), reverse=True):
        if it > bound or (strict and it == bound):
            continue
        sub = fw[issues == it]
        sub = sub[~sub.index.duplicated(keep="last")]
        vals = sub[list(WEATHER_COLUMNS)].reindex(target.tz_convert(fw.index.tz))
        if not vals.isna().any().any():
            vals.index = target
            return pd.Timestamp(it), vals
    tz = target.tz
    n = issues.dropna().nunique()
    first, last = fw.index.min().tz_convert(tz), (fw.index.max() + STEP).tz_convert(tz)
    raise WeatherError(
        f"{source}: no forecast issued {'before' if strict else 'by'} {bound.isoformat()} covers "
        f"{target[0].isoformat()} to {(target[-1] + STEP).isoformat()}; the file covers "
        f"{first.isoformat()} to {last.isoformat()} in {n} issue(s), issued "
        f"{issues.min().tz_convert(tz).isoformat()} to {issues.max().tz_convert(tz).isoformat()}")


def _measured_history(measured_pu: pd.Series, full: pd.DatetimeIndex, issue: pd.Timestamp,
                      ac_kw: float) -> pd.Series:
    """Fleet power [kW] on ``full`` from measured output per kW; nothing from ``issue`` on."""
    if not isinstance(measured_pu, pd.Series) or not isinstance(measured_pu.index, pd.DatetimeIndex) \
            or measured_pu.index.tz is None:
        raise GridintError("measured_pu: a pandas Series on a time-zone-aware DatetimeIndex is required")
    pu = pd.to_numeric(measured_pu, errors="coerce").astype(float)
    if np.any(pu.to_numpy() < 0) or np.any(pu.to_numpy() > 1.5):
        raise GridintError("measured_pu: output per kW must lie in 0 .. 1.5 [kW/kW]")
    pu = pu.tz_convert(full.tz).groupby(pu.index.tz_convert(full.tz).floor("15min")).mean()
    out = pu.reindex(full) * ac_kw
    out[out.index >= issue] = np.nan
    return out


def _bus_names(net, buses) -> list[str]:
    names = []
    for b in buses:
        n = net.bus.at[b, "name"] if "name" in net.bus.columns and b in net.bus.index else None
        names.append(str(n) if isinstance(n, str) and n else str(b))
    return names


def _r(values) -> list[float]:
    return [round(float(v), 3) for v in values]


def forecast_feeder(feeder, date=None, horizon: str = "day-ahead", weather=None, forecast_weather=None,
                    per_bus: bool = False, issue_time=None, measured_pu: pd.Series | None = None) -> dict:
    """PV forecast of a feeder's fleet for one day (day-ahead) or the next 4 h (intraday).

    Parameters
    ----------
    feeder : gridint.grid.Feeder or str
        Feeder, or a catalog name / pandapower JSON file.
    date : str (YYYY-MM-DD), datetime.date or pandas.Timestamp, optional
        Day forecast (day-ahead) or day of the issue time (intraday); default
        tomorrow in ``Settings.timezone`` (Asia/Shanghai), for intraday today.
    horizon : {"day-ahead", "intraday"}
        Day-ahead: the 96 quarter-hours of ``date``, issued on the day before
        at :data:`DAY_AHEAD_ISSUE_HOUR`. Intraday: the 16 quarter-hours from
        the issue time (15 min to 4 h after the latest measurement).
    weather : pandas.DataFrame or path, optional
        Weather behind the "measured" fleet power (history before the issue
        time); default the typical Xiangtan year mapped by month-day. The
        calibration always uses the typical year (the site's climate).
    forecast_weather : pandas.DataFrame or path, optional
        Forecast weather (:func:`gridint.solar.weather.read_forecast_weather`):
        the fleet model on it is the P50 (day-ahead), or the index the latest
        measurement is blended towards (intraday); its ``issue_time`` is the
        forecast's issue time (day-ahead).
    per_bus : bool
        Add the P50 per bus.
    issue_time : str or pandas.Timestamp, optional
        Issue time (ISO 8601, or ``HH:MM`` on ``date`` for intraday). Default:
        day-ahead D-1 12:00; intraday now (when ``date`` is today or not
        given) or ``date`` at :data:`INTRADAY_ISSUE_HOUR`:00.
    measured_pu : pandas.Series, optional
        Measured fleet output per kW of AC rating [kW/kW] on quarter-hours (tz-aware,
        labelled by interval start), e.g. upscaled from telemetry by
        :func:`gridint.telemetry.loop.measured_pv_pu`. Replaces the fleet model on
        ``weather`` as the history before the issue time; steps without a value are
        unknown (the latest clear-sky index then falls back to the 24-h one, then to
        climatology).

    Returns
    -------
    dict
        ``feeder, issue_time, horizon, interval_min (15), n_steps, timestamps
        (ISO 8601 with offset), pv_kw_p10, pv_kw_p50, pv_kw_p90`` (fleet AC
        totals [kW], lists), ``energy_kwh_p50`` [kWh], ``capacity_kwp`` [kWp DC]
        ``history`` (``"weather model"`` or ``"measured"``), ``measured_steps`` (quarter-hours
        of measured history in the two days before the issue time) and with ``per_bus``
        ``buses: [{name, pv_kw_p50}]``.

    Raises
    ------
    FeederError
        If the feeder has no PV.
    WeatherError
        If a weather file cannot be read or does not cover the period.
    GridintError
        On a bad date, horizon or issue time.
    """
    from gridint.solar.fleet import bus_pv_kw, clearsky_fleet_ac_kw, fleet_ac_kw
    from gridint.solar.weather import read_weather, weather_for_period

    if horizon not in HORIZONS:
        raise GridintError(f"horizon {horizon!r} is not one of {', '.join(HORIZONS)}")
    settings = get_settings()
    tz = settings.timezone
    feeder = _as_feeder(feeder)
    systems = _systems(feeder)
    if isinstance(weather, (str, Path)):
        weather = read_weather(weather)
    fw = fw_source = None
    if forecast_weather is not None:
        fw_source = str(forecast_weather) if isinstance(forecast_weather, (str, Path)) else "forecast weather"
        fw = _read_forecast_weather(forecast_weather)

    if horizon == "day-ahead":
        day = parse_day(date, tz)
        target = pd.date_range(day, day + pd.Timedelta(days=1), freq=STEP, inclusive="left")
        hclass = np.zeros(len(target), int)
        issue = (_parse_issue_time(issue_time, day, tz) if issue_time is not None
                 else day - pd.Timedelta(days=1) + pd.Timedelta(hours=DAY_AHEAD_ISSUE_HOUR))
        if issue >= day:
            raise GridintError(f"a day-ahead forecast for {day.date()} must be issued before that day "
                               f"(issue time {issue.isoformat()})")
        if fw is not None:  # the latest weather forecast issued before day D (or by issue_time)
            if issue_time is not None:
                issue, fw_target = _forecast_issue(fw, target, issue, False, fw_source)
            else:
                issue, fw_target = _forecast_issue(fw, target, day, True, fw_source)
            issue = issue.tz_convert(tz)
    else:
        now = pd.Timestamp.now(tz=tz)
        day = now.normalize() if date is None else parse_day(date, tz)
        if issue_time is not None:
            issue = _parse_issue_time(issue_time, day, tz)
        elif day == now.normalize():
            issue = now.floor("15min")
        else:
            issue = day + pd.Timedelta(hours=INTRADAY_ISSUE_HOUR)
        target = pd.date_range(issue, periods=INTRADAY_STEPS, freq=STEP)
        hclass = np.arange(1, INTRADAY_STEPS + 1)
        if fw is not None:
            _, fw_target = _forecast_issue(fw, target, issue, False, fw_source)

    issue_hour = DAY_AHEAD_ISSUE_HOUR
    if horizon == "day-ahead":  # hours after midnight of D-1 (negative: issued on D-2 or earlier)
        issue_hour = (issue - (day - pd.Timedelta(days=1))) / pd.Timedelta(hours=1)
    model = _feeder_model(systems, issue_hour)

    # "measured" history: two days before the issue time (24-h index, latest values)
    start = (issue - pd.Timedelta(days=2)).floor("D")
    full = pd.date_range(start, target[-1] + STEP, freq=STEP, inclusive="left")
    if measured_pu is None:
        history = weather_for_period(start, issue, weather)
        measured = _total(fleet_ac_kw(systems, history)).reindex(full)
    else:
        measured = _measured_history(measured_pu, full, issue, float(systems["ac_kw"].sum()))
    n_measured = int(measured[measured.index < issue].notna().sum())
    cs_sys = clearsky_fleet_ac_kw(systems, full)
    clearsky = _total(cs_sys)
    cs_sys = cs_sys.loc[target]
    cs = _at(clearsky, target)
    ac = systems["ac_kw"].reindex(cs_sys.columns).to_numpy(float)

    k_fw = p_sys = None
    if fw is not None:
        p_fw = fleet_ac_kw(systems, fw_target)
        with np.errstate(divide="ignore", invalid="ignore"):
            k_fw = np.where(cs > 0, _total(p_fw).to_numpy(float) / cs, 0.0)
        if horizon == "day-ahead":
            p_sys = p_fw
    if p_sys is None:
        if horizon == "day-ahead":
            k = day_ahead_k(model, measured, clearsky, target)
        else:
            k = intraday_k(model, measured, clearsky, target, hclass, k_base=k_fw)
        p_sys = pd.DataFrame(np.clip(cs_sys.to_numpy(float) * k[:, None], 0.0, ac[None, :]),
                             index=target, columns=cs_sys.columns)
    p_sys = p_sys.mul((cs > 0).astype(float), axis=0)        # night is zero
    p50 = _total(p_sys).to_numpy(float)
    q = quantile_forecast(model, np.nan_to_num(p50), cs, hclass).to_numpy()
    mid = int(np.argmin(np.abs(np.asarray(model.quantiles) - 0.5)))
    p10, p50, p90 = _r(q[:, 0]), _r(q[:, mid]), _r(q[:, -1])
    out = {
        "feeder": feeder.name,
        "issue_time": issue.isoformat(),
        "horizon": horizon,
        "interval_min": 15,
        "n_steps": len(target),
        "timestamps": [t.isoformat() for t in target],
        "pv_kw_p10": p10,
        "pv_kw_p50": p50,
        "pv_kw_p90": p90,
        "energy_kwh_p50": round(sum(p50) * STEP / pd.Timedelta(hours=1), 3),
        "capacity_kwp": round(float(systems["kwp"].sum()), 3),
        "history": "weather model" if measured_pu is None else "measured",
        "measured_steps": n_measured,
    }
    if per_bus:
        per = bus_pv_kw(systems, p_sys)
        out["buses"] = [{"name": n, "pv_kw_p50": _r(per[b].to_numpy(float))}
                        for n, b in zip(_bus_names(feeder.net, per.columns), per.columns)]
    return out
