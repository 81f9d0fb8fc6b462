"""Forecast metrics against hand-computed values and literal textbook formulas.

scikit-learn is not installed here, so the independent references are the
Solar Forecast Arbiter definitions written out literally (loops, indicator
form of the quantile score) and numbers worked out by hand below.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gridint.solar.metrics import (interval_coverage, mae, mbe, nrmse, pinball_loss, rmse,
                                   skill_score)

# Hand example: errors F - O = (1, -1, 2, 0)
OBS = [2.0, 4.0, 1.0, 3.0]
FX = [3.0, 3.0, 3.0, 3.0]


def test_deterministic_metrics_by_hand():
    assert mae(OBS, FX) == pytest.approx((1 + 1 + 2 + 0) / 4)          # 1.0
    assert mbe(OBS, FX) == pytest.approx((1 - 1 + 2 + 0) / 4)          # 0.5
    assert rmse(OBS, FX) == pytest.approx(math.sqrt((1 + 1 + 4 + 0) / 4))  # sqrt(1.5)
    assert nrmse(OBS, FX, capacity=10.0) == pytest.approx(100 * math.sqrt(1.5) / 10)


def test_bias_sign_is_forecast_minus_observation():
    assert mbe([1.0, 1.0], [2.0, 2.0]) == pytest.approx(1.0)   # too high -> positive


def test_skill_score_by_hand():
    ref = [2.0, 2.0, 2.0, 2.0]          # errors (0, -2, 1, -1): RMSE sqrt(6/4)
    fx = [2.5, 4.0, 1.0, 3.0]           # errors (0.5, 0, 0, 0): RMSE sqrt(0.25/4)
    assert skill_score(OBS, fx, ref) == pytest.approx(1 - math.sqrt(0.25 / 4) / math.sqrt(6 / 4))
    assert skill_score(OBS, ref, ref) == pytest.approx(0.0)
    assert skill_score(OBS, OBS, ref) == pytest.approx(1.0)
    assert math.isnan(skill_score(OBS, fx, OBS))           # perfect reference: undefined


def test_pinball_loss_by_hand():
    # y = 10, q = 8 (under-forecast by 2): tau * 2;  q = 13 (over by 3): (1 - tau) * 3
    assert pinball_loss([10.0], [8.0], 0.9) == pytest.approx(1.8)
    assert pinball_loss([10.0], [13.0], 0.9) == pytest.approx(0.3)
    assert pinball_loss([10.0, 10.0], [8.0, 13.0], 0.1) == pytest.approx((0.2 + 2.7) / 2)
    # tau = 0.5 is half the absolute error
    assert pinball_loss(OBS, FX, 0.5) == pytest.approx(mae(OBS, FX) / 2)


def _pinball_literal(y, q, tau):
    """Solar Forecast Arbiter quantile score: mean of (1{y < q} - tau) * (q - y)."""
    total = 0.0
    for yi, qi in zip(y, q):
        indicator = 1.0 if yi < qi else 0.0
        total += (indicator - tau) * (qi - yi)
    return total / len(y)


@pytest.mark.parametrize("tau", [0.05, 0.1, 0.5, 0.9, 0.975])
def test_pinball_loss_matches_the_literal_definition(tau):
    rng = np.random.default_rng(7)
    y = rng.gamma(2.0, 50.0, 500)
    q = y + rng.normal(0, 40, 500)
    assert pinball_loss(y, q, tau) == pytest.approx(_pinball_literal(y, q, tau), rel=1e-12)


def test_pinball_loss_is_minimised_by_the_empirical_quantile():
    """The defining property of the check loss (Koenker & Bassett 1978)."""
    y = np.random.default_rng(3).normal(0, 1, 2001)
    grid = np.linspace(-3, 3, 601)
    for tau in (0.1, 0.5, 0.9):
        best = grid[np.argmin([pinball_loss(y, np.full(y.size, g), tau) for g in grid])]
        assert best == pytest.approx(np.quantile(y, tau), abs=0.02)


def test_pinball_loss_on_a_frame_of_quantiles():
    y = pd.Series([10.0, 10.0])
    q = pd.DataFrame({"p10": [8.0, 8.0], "p90": [13.0, 13.0]})
    out = pinball_loss(y, q, [0.1, 0.9])
    assert list(out.index) == [0.1, 0.9]
    assert out[0.1] == pytest.approx(pinball_loss(y, q["p10"], 0.1))
    assert out[0.9] == pytest.approx(0.3)           # over-forecast by 3: (1 - 0.9) * 3
    with pytest.raises(ValueError):
        pinball_loss(y, q, [0.5])
    with pytest.raises(ValueError):
        pinball_loss(y, q["p10"], 1.0)


def test_interval_coverage_by_hand_and_literal():
    obs = [1.0, 2.0, 3.0, 4.0, 5.0]
    lo = [0.0, 2.0, 3.5, 0.0, 6.0]     # in (0..), in (edge), out, in, out
    hi = [2.0, 3.0, 4.0, 4.0, 7.0]     # 4.0 on the upper edge counts
    assert interval_coverage(obs, lo, hi) == pytest.approx(60.0)
    rng = np.random.default_rng(11)
    y = rng.normal(0, 1, 10_000)
    lo, hi = np.full(y.size, -1.2815515655446004), np.full(y.size, 1.2815515655446004)
    literal = 100.0 * sum(1 for v in y if -1.2815515655446004 <= v <= 1.2815515655446004) / y.size
    assert interval_coverage(y, lo, hi) == pytest.approx(literal)
    assert interval_coverage(y, lo, hi) == pytest.approx(80.0, abs=1.5)   # N(0,1) P10..P90


def test_nan_pairs_are_skipped():
    obs = [2.0, np.nan, 1.0, 3.0, 4.0]
    fx = [3.0, 1.0, 3.0, 3.0, np.nan]
    assert mae(obs, fx) == pytest.approx((1 + 2 + 0) / 3)
    assert rmse(obs, fx) == pytest.approx(math.sqrt(5 / 3))
    assert interval_coverage(obs, [0, 0, 0, 0, 0], [2.5, np.nan, 0.5, 9, 9]) == pytest.approx(75.0)
    assert math.isnan(mae([np.nan], [1.0]))
    assert math.isnan(interval_coverage([np.nan], [0.0], [1.0]))


def test_series_are_aligned_on_their_index():
    t = pd.date_range("2024-06-01 10:00", periods=4, freq="15min", tz="Asia/Shanghai")
    obs = pd.Series([2.0, 4.0, 1.0, 3.0], index=t)
    fx = pd.Series([3.0, 3.0, 3.0], index=t[1:])           # first step missing
    assert mae(obs, fx) == pytest.approx((1 + 2 + 0) / 3)
    assert mae(obs, fx[::-1]) == pytest.approx(mae(obs, fx))  # order does not matter
    with pytest.raises(ValueError):
        mae([1.0, 2.0], [1.0])


def test_nrmse_needs_a_positive_capacity():
    with pytest.raises(ValueError):
        nrmse(OBS, FX, 0.0)
