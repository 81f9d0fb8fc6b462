"""Forecast error metrics, as the Solar Forecast Arbiter defines them.

Pure functions: observations and forecasts in (pandas Series or array-likes of
the same unit, e.g. [kW]), a float out. Every function is NaN-aware: a time
step counts only where the observation and every forecast input are finite;
with no such step the result is NaN. Two or more pandas Series are aligned on
their index (inner join); plain arrays must have equal lengths and are paired
by position. Sign convention: error = forecast - observation, so a positive
mean bias error means the forecast is too high.

References
----------
.. [1] Solar Forecast Arbiter, "Metrics" (deterministic: MAE, MBE, RMSE,
   normalised RMSE, forecast skill; probabilistic: quantile score / pinball
   loss, prediction-interval coverage),
   https://solarforecastarbiter.org/metrics/ and the ``solarforecastarbiter``
   package, ``metrics/deterministic.py`` and ``metrics/probabilistic.py``.
.. [2] R. Koenker and G. Bassett, "Regression quantiles", Econometrica 46 (1),
   33-50, 1978 (the pinball / check loss).
.. [3] D. Yang et al., "Verification of deterministic solar forecasts",
   Solar Energy 210, 20-37, 2020 (skill score against a reference such as
   smart persistence).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["mae", "mbe", "rmse", "nrmse", "skill_score", "pinball_loss", "interval_coverage"]


def _paired(*values) -> list[np.ndarray]:
    """Align the inputs and keep the steps where every one of them is finite."""
    if len(values) > 1 and all(isinstance(v, pd.Series) for v in values):
        frame = pd.concat(list(values), axis=1, join="inner", keys=range(len(values)))
        arrays = [frame[i].to_numpy(dtype=float) for i in range(len(values))]
    else:
        arrays = [np.asarray(v, dtype=float).ravel() for v in values]
        n = {a.size for a in arrays}
        if len(n) > 1:
            raise ValueError(f"inputs have different lengths {sorted(n)}; "
                             "pass pandas Series to align them on their index")
    ok = np.logical_and.reduce([np.isfinite(a) for a in arrays])
    return [a[ok] for a in arrays]


def _mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if x.size else float("nan")


def mae(observed, forecast) -> float:
    """Mean absolute error.

    .. math:: \\mathrm{MAE} = \\frac{1}{n} \\sum_i |F_i - O_i|

    Parameters
    ----------
    observed, forecast : pandas.Series or array-like
        Observations and forecasts, same unit (e.g. [kW]).

    Returns
    -------
    float
        MAE in the unit of the inputs (e.g. [kW]); NaN without valid pairs.
    """
    o, f = _paired(observed, forecast)
    return _mean(np.abs(f - o))


def mbe(observed, forecast) -> float:
    """Mean bias error (forecast minus observation).

    .. math:: \\mathrm{MBE} = \\frac{1}{n} \\sum_i (F_i - O_i)

    Parameters
    ----------
    observed, forecast : pandas.Series or array-like
        Observations and forecasts, same unit (e.g. [kW]).

    Returns
    -------
    float
        MBE in the unit of the inputs; positive = the forecast is too high.
    """
    o, f = _paired(observed, forecast)
    return _mean(f - o)


def rmse(observed, forecast) -> float:
    """Root mean square error.

    .. math:: \\mathrm{RMSE} = \\sqrt{\\frac{1}{n} \\sum_i (F_i - O_i)^2}

    Parameters
    ----------
    observed, forecast : pandas.Series or array-like
        Observations and forecasts, same unit (e.g. [kW]).

    Returns
    -------
    float
        RMSE in the unit of the inputs.
    """
    o, f = _paired(observed, forecast)
    return float(np.sqrt(_mean((f - o) ** 2)))


def nrmse(observed, forecast, capacity: float) -> float:
    """RMSE normalised by a capacity, in percent.

    .. math:: \\mathrm{nRMSE} = 100\\,\\% \\cdot \\mathrm{RMSE} / C

    Parameters
    ----------
    observed, forecast : pandas.Series or array-like
        Observations and forecasts [kW].
    capacity : float
        Normalisation [kW], e.g. the AC rating of the fleet (or [kWp] for DC).

    Returns
    -------
    float
        nRMSE [%].

    Raises
    ------
    ValueError
        If ``capacity`` is not a positive finite number.
    """
    if not (np.isfinite(capacity) and capacity > 0):
        raise ValueError(f"capacity must be a positive number, got {capacity!r}")
    return 100.0 * rmse(observed, forecast) / float(capacity)


def skill_score(observed, forecast, reference) -> float:
    """Forecast skill against a reference forecast, on RMSE.

    .. math:: s = 1 - \\mathrm{RMSE}_f / \\mathrm{RMSE}_{ref}

    Only steps where the observation and both forecasts are finite count, so
    both RMSEs are taken on the same steps.

    Parameters
    ----------
    observed, forecast, reference : pandas.Series or array-like
        Observations, the forecast judged and the reference forecast (e.g.
        smart persistence), same unit.

    Returns
    -------
    float
        Skill [-]: 1 is perfect, 0 as good as the reference, negative worse;
        NaN when the reference is perfect (RMSE 0) or no valid step exists.
    """
    o, f, r = _paired(observed, forecast, reference)
    ref = float(np.sqrt(_mean((r - o) ** 2)))
    if not np.isfinite(ref) or ref == 0.0:
        return float("nan")
    return 1.0 - float(np.sqrt(_mean((f - o) ** 2))) / ref


def _pinball(o: np.ndarray, q: np.ndarray, tau: float) -> float:
    d = o - q
    return _mean(np.maximum(tau * d, (tau - 1.0) * d))


def pinball_loss(observed, q_forecast, tau):
    """Mean pinball (quantile) loss of a quantile forecast.

    .. math:: L_\\tau = \\frac{1}{n} \\sum_i \\max\\big(\\tau (O_i - Q_i),\\,
              (\\tau - 1)(O_i - Q_i)\\big)

    (the Solar Forecast Arbiter "quantile score"; for :math:`\\tau = 0.5` it
    is half the MAE).

    Parameters
    ----------
    observed : pandas.Series or array-like
        Observations (e.g. [kW]).
    q_forecast : pandas.Series, array-like or pandas.DataFrame
        Forecast of the ``tau`` quantile, same unit; or a DataFrame with one
        column per quantile level.
    tau : float or sequence of float
        Quantile level(s) in (0, 1); a sequence, one per DataFrame column.

    Returns
    -------
    float or pandas.Series
        Mean loss in the unit of the inputs; with a DataFrame a Series indexed
        by ``tau``.

    Raises
    ------
    ValueError
        If a ``tau`` is outside (0, 1) or the number of levels does not match
        the columns.
    """
    if isinstance(q_forecast, pd.DataFrame):
        taus = [float(t) for t in np.atleast_1d(tau)]
        if len(taus) != q_forecast.shape[1]:
            raise ValueError(f"{len(taus)} quantile levels for {q_forecast.shape[1]} columns")
        return pd.Series([pinball_loss(observed, q_forecast.iloc[:, j], t) for j, t in enumerate(taus)],
                         index=pd.Index(taus, name="tau"), name="pinball_loss")
    tau = float(tau)
    if not 0.0 < tau < 1.0:
        raise ValueError(f"tau must be in (0, 1), got {tau}")
    o, q = _paired(observed, q_forecast)
    return _pinball(o, q, tau)


def interval_coverage(observed, lower, upper) -> float:
    """Share of observations inside a prediction interval, in percent.

    An observation is covered when ``lower <= observed <= upper`` (both ends
    inclusive, so a night step forecast as [0, 0] with observation 0 counts
    as covered; filter night steps out beforehand to judge daytime skill).

    Parameters
    ----------
    observed, lower, upper : pandas.Series or array-like
        Observations and the interval bounds (e.g. P10 and P90) [kW].

    Returns
    -------
    float
        Coverage [%]; a calibrated P10-P90 interval covers 80 %.
    """
    o, lo, hi = _paired(observed, lower, upper)
    if not o.size:
        return float("nan")
    return 100.0 * float(np.mean((o >= lo) & (o <= hi)))

