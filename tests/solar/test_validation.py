"""The PV model against measured AC power nobody here made (NREL SERF East, pvanalytics)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pvlib
import pytest

from gridint.errors import WeatherError
from gridint.solar import validation


@pytest.fixture(scope="module")
def result():
    return validation.serf_validation(return_series=True)


def test_serf_east_metrics_within_bounds(result):
    """Daytime 15-min AC power, Jul-Oct 2016: nRMSE < 15 % of capacity, |MBE| < 10 % of mean.

    Model from metadata and published defaults only (nothing fitted to the
    measurements); the figures are reported in sims/RESULTS.md.
    """
    r = result
    assert r["n_points"] > 4500
    assert r["nrmse_percent"] < 15.0
    assert abs(r["mbe_percent"]) < 10.0
    assert r["correlation"] > 0.8
    # the model without the satellite's cloud errors: PSM3-clear steps
    assert r["clear_nrmse_percent"] < 10.0 and abs(r["clear_mbe_percent"]) < 5.0
    # metrics consistent with their definitions (model - measured on daytime steps)
    day = r["daytime"].to_numpy()
    err = (r["modelled_kw"] - r["measured_kw"]).to_numpy()[day]
    assert r["rmse_kw"] == pytest.approx(np.sqrt(np.mean(err**2)), abs=1e-4)
    assert r["mbe_kw"] == pytest.approx(err.mean(), abs=1e-4)
    assert r["nrmse_percent"] == pytest.approx(100 * r["rmse_kw"] / 6.0, abs=0.01)
    # night: the model is zero (the meter shows the inverter's tare of a few W)
    night = (r["modelled_kw"] == 0) & (r["measured_kw"].abs() < 0.01)
    assert night.sum() > 3000


def test_serf_metadata_is_the_published_one():
    sm55 = pvlib.pvsystem.retrieve_sam("SandiaMod")["Siemens_Solar_SM55___1997_"]
    assert validation.SERF_EAST["gamma_pdc_per_c"] == pytest.approx(
        sm55["Bvmpo"] / sm55["Vmpo"] + sm55["Aimp"], rel=1e-12)
    assert (validation.SERF_EAST["tilt_deg"], validation.SERF_EAST["azimuth_deg"]) == (45.0, 158.0)


def test_psm3_values_are_instantaneous_at_their_stamps():
    """Justifies label='instant': PSM3's clear sky is pvlib's clear sky at the stamp."""
    _, psm3 = validation.read_serf_east()
    loc = pvlib.location.Location(39.742, -105.1727, "Etc/GMT+7", 1777.2)
    at = loc.get_clearsky(psm3.index)["ghi"].to_numpy()
    later = loc.get_clearsky(psm3.index + pd.Timedelta(minutes=7.5))["ghi"].to_numpy()
    ref = psm3["ghi_clear"].to_numpy()
    assert np.corrcoef(at, ref)[0, 1] > np.corrcoef(later, ref)[0, 1] > 0.99


def test_serf_weather_closure_and_clear_steps():
    _, psm3 = validation.read_serf_east()
    w = validation.serf_weather(psm3.iloc[:2000])
    loc = pvlib.location.Location(39.742, -105.1727, "Etc/GMT+7", 1777.2)
    z = loc.get_solarposition(w.index, temperature=w["temp_air"].to_numpy())["zenith"]
    clear = ((psm3["ghi"] == psm3["ghi_clear"]) & (psm3["ghi"] > 0)).iloc[:2000].to_numpy()
    # cloudy steps: DISC DNI, DHI by closure (the clear ones keep PSM3's own components)
    closure = w["dni"] * np.cos(np.radians(z)).clip(lower=0) + w["dhi"]
    cloudy = (z < 85).to_numpy() & ~clear
    np.testing.assert_allclose(closure[cloudy], w["ghi"][cloudy], atol=1e-6)
    np.testing.assert_array_equal(w["dni"][clear], psm3["dni_clear"].iloc[:2000][clear])
    assert (w[["ghi", "dni", "dhi"]].to_numpy() >= 0).all()


def test_missing_data_file_is_a_clear_error(tmp_path):
    with pytest.raises(WeatherError, match="serf_east_15min_ac_power.csv"):
        validation.read_serf_east(tmp_path)
