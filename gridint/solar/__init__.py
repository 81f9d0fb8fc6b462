"""PV weather, fleet model, forecasts and forecast metrics (built on pvlib).

Modules
-------
weather
    Default Xiangtan weather year, month-day mapping of any calendar date, readers
    for user weather files (pvlib iotools formats and the gridint CSV).
fleet
    Rooftop PV systems of a feeder (one per PV sgen), AC power per system / bus with
    pvlib, vectorised by orientation group; ``pv_injections`` feeds the power flow.
validation
    The PV model against measured data (NREL SERF East, shipped by pvanalytics).
forecast
    Day-ahead and intraday P10/P50/P90 fleet forecasts, baselines, backtest.
metrics
    Forecast metrics (Solar Forecast Arbiter definitions).

Importing this package has no side effects (pvlib is imported on first use).
"""

from __future__ import annotations

from gridint.solar.weather import (
    WEATHER_COLUMNS,
    XIANGTAN,
    default_weather,
    generate_weather_year,
    location,
    read_forecast_weather,
    read_weather,
    weather_for_period,
    write_weather,
)

__all__ = [
    "WEATHER_COLUMNS",
    "XIANGTAN",
    "default_weather",
    "generate_weather_year",
    "location",
    "read_forecast_weather",
    "read_weather",
    "weather_for_period",
    "write_weather",
]
