"""One settings object for every limit, threshold and default of gridint.

Each limit names the standard it comes from. Values can be overridden with
environment variables prefixed ``GRIDINT_`` (e.g. ``GRIDINT_VM_MAX_PU=1.05``);
validation rejects values outside their physically meaningful range with an
error that names the field.

References
----------
GB/T 12325-2008  Power quality - Deviation of supply voltage.
DL/T 2041-2019   Technical guide for distributed PV access to distribution network
                 (reverse load rate, open-capacity zones).
Q/GDW 1480-2015, GB/T 50865-2013  Connection voltage of distributed generation.
GB/T 29319-2012  Technical requirements for connecting PV to distribution network.
IEEE 1547-2018   Category B volt-var default curve.
DL/T 836-2016, IEEE 1366-2022  Reliability indices, sustained-interruption threshold.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gridint.errors import ConfigError

__all__ = ["Settings", "get_settings", "project_root"]


def project_root() -> Path:
    """Directory holding ``feeders/`` and ``weather/`` (the repository root).

    Returns
    -------
    pathlib.Path
    """
    return Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    """Limits and defaults; every field cites its source."""

    model_config = SettingsConfigDict(env_prefix="GRIDINT_", extra="ignore")

    # --- voltage band, GB/T 12325-2008 §4.1/4.2 -----------------------------------
    # 10 kV and 380 V three-phase supply: deviation within +/-7 % of nominal.
    vm_max_pu: float = Field(1.07, gt=1.0, le=1.2)
    vm_min_pu: float = Field(0.93, ge=0.8, lt=1.0)
    # 220 V single-phase supply: +7 % / -10 % of nominal.
    vm_max_single_phase_pu: float = Field(1.07, gt=1.0, le=1.2)
    vm_min_single_phase_pu: float = Field(0.90, ge=0.8, lt=1.0)

    # --- thermal limits: equipment rating (GB/T 1094.7 transformers, GB/T 12706 cables)
    line_loading_max_percent: float = Field(100.0, gt=0.0, le=200.0)
    trafo_loading_max_percent: float = Field(100.0, gt=0.0, le=200.0)

    # --- reverse power, DL/T 2041-2019: reverse load rate beta ---------------------
    reverse_load_rate_max: float = Field(0.8, gt=0.0, le=1.0)

    # --- power-flow engine (numerical, not a standard) ----------------------------
    # Same tolerance as the pandapower reference runs: max |S mismatch| [MVA].
    pf_tolerance_mva: float = Field(1e-9, gt=0.0, le=1e-3)
    pf_max_iteration: int = Field(100, ge=1, le=10_000)
    # A step whose voltages leave this band is diverging: flagged, never reported.
    pf_vm_sanity_min_pu: float = Field(0.5, gt=0.0, lt=1.0)
    pf_vm_sanity_max_pu: float = Field(1.5, gt=1.0)

    # --- feeder-file plausibility (data sanity, not grid code) ---------------------
    # ext_grid set-point outside this band is almost surely a unit error.
    feeder_ext_grid_vm_min_pu: float = Field(0.8, gt=0.0, lt=1.0)
    feeder_ext_grid_vm_max_pu: float = Field(1.2, gt=1.0, le=2.0)
    # Relative vn_kv difference above which a line / bus-bus switch joins two levels.
    feeder_same_level_max_rel: float = Field(0.01, ge=0.0, le=0.5)
    # Trafo rated voltage vs bus vn_kv: warn above (10.5 kV on 10 kV and 0.4 kV on
    # 0.38 kV are normal Chinese practice, GB/T 6451 ratings: 5 %), fatal above.
    feeder_trafo_vn_warn_rel: float = Field(0.06, ge=0.0, le=0.5)
    feeder_trafo_vn_fatal_rel: float = Field(0.10, ge=0.0, le=0.5)

    # --- time ---------------------------------------------------------------------
    timezone: str = "Asia/Shanghai"
    step_minutes: int = Field(15, ge=1, le=60)

    # --- PV site and fleet defaults (gridint.solar) -----------------------------------
    # Default site: Xiangtan, Hunan (city centre, WGS84; elevation of the Xiang river
    # plain, about 54 m a.s.l.).
    site_latitude_deg: float = Field(27.83, ge=-90.0, le=90.0)
    site_longitude_deg: float = Field(112.94, ge=-180.0, le=180.0)
    site_altitude_m: float = Field(54.0, ge=-500.0, le=9000.0)
    # Roof geometry: typical Hunan practice - pitched residential roofs (flush-mounted
    # on 20-30 deg tiles), flat factory roofs with low-tilt racks or flush on 5-10 deg
    # steel sheds; south-facing +/- 30 deg.  Documented assumptions, not a standard.
    pv_tilt_residential_deg: float = Field(25.0, ge=0.0, le=90.0)
    pv_tilt_spread_residential_deg: float = Field(5.0, ge=0.0, le=45.0)
    pv_tilt_industrial_deg: float = Field(8.0, ge=0.0, le=90.0)
    pv_azimuth_deg: float = Field(180.0, ge=0.0, lt=360.0)
    pv_azimuth_spread_deg: float = Field(30.0, ge=0.0, le=180.0)
    # System losses [%]: PVWatts v5 default total 14.08 % = 1 - prod(1 - l_i) over soiling 2,
    # shading 3, snow 0, mismatch 2, wiring 2, connections 0.5, LID 1.5, nameplate 1,
    # age 0, availability 3 % (Dobos 2014, PVWatts Version 5 Manual, NREL/TP-6A20-62641,
    # "System losses"; pvlib.pvsystem.pvwatts_losses gives the same total).
    pv_losses_percent: float = Field(14.08, ge=0.0, lt=100.0)
    # Nominal inverter efficiency: PVWatts v5 eta_inv_nom = 0.96 (NREL/TP-6A20-62641,
    # inverter model; pvlib.inverter.pvwatts default).
    pv_inverter_efficiency: float = Field(0.96, gt=0.0, le=1.0)
    # Power temperature coefficient gamma_pdc [1/degC]: PVWatts "standard" (crystalline
    # silicon) module. The v5 manual (NREL/TP-6A20-62641, module types) lists -0.47 %/degC
    # for the modules of 2014; PVWatts Version 8 updated "standard" to -0.37 %/degC for
    # current mono-Si modules - the value used here.
    pv_gamma_pdc_per_c: float = Field(-0.0037, ge=-0.01, le=0.0)
    # Probabilistic forecast quantiles (P10/P50/P90; Solar Forecast Arbiter convention).
    forecast_quantiles: tuple[float, ...] = (0.1, 0.5, 0.9)

    # --- hosting capacity (issue 5) ------------------------------------------------
    # A limit beyond its value binds new PV only where the PV makes it worse by more than
    # this fraction of the limit (numerical noise of the 1e-9 MVA power flow is ~1e-10).
    hosting_worsening_tolerance: float = Field(1e-6, ge=0.0, le=0.01)
    # Confirmation on every step: a step is re-solved with the AC engine when a linear
    # estimate (change per kW seen on the screened steps, increment x (1 + rel), + abs)
    # reaches the limit. Test: equal to solving every step (tests/hosting).
    hosting_confirm_margin_rel: float = Field(0.25, ge=0.0, le=10.0)
    hosting_confirm_margin_abs: float = Field(0.003, ge=0.0, le=0.5)
    # Screened steps per site (bracketing set before the confirmation on every step).
    hosting_screen_steps: int = Field(96, ge=8, le=10_000)
    # Zones, DL/T 2041-2019 style (DESIGN.md): reverse load rate <= green_max green,
    # <= yellow_max yellow, above (or any voltage/thermal limit broken) red.
    zone_green_max: float = Field(0.0, ge=-1.0, le=1.0)
    zone_yellow_max: float = Field(0.8, ge=0.0, le=2.0)
    # Mitigation what-ifs: export limit as a fraction of the AC rating (Australian
    # "export-limited" connections; State Grid 'partial export' offers), and the
    # battery per kW of PV for the default what-if (kW/kW, hours).
    whatif_export_limit_fraction: float = Field(0.5, gt=0.0, le=1.0)
    whatif_battery_kw_per_kw: float = Field(0.3, gt=0.0, le=2.0)
    whatif_battery_hours: float = Field(2.0, gt=0.0, le=12.0)
    # IEEE 1547-2018 Category B default volt-var curve (Table 8): V [pu] -> Q [% of rating],
    # positive = injecting; DESIGN.md.
    volt_var_v_pu: tuple[float, ...] = (0.92, 0.98, 1.02, 1.08)
    volt_var_q_percent: tuple[float, ...] = (44.0, 0.0, 0.0, -44.0)
    volt_var_max_iterations: int = Field(30, ge=1, le=200)
    # Stochastic placement (EPRI DRIVE style): deployments and their seed.
    stochastic_deployments: int = Field(50, ge=1, le=10_000)
    stochastic_seed: int = 20231
    # Absolute cap of one hosting capacity search [kW] (beyond: reported as capped).
    hosting_max_kw: float = Field(100_000.0, gt=0.0)

    # --- connection requests (issue 6) ---------------------------------------------
    # Largest AC rating accepted in a request body [kW]: 20 MW, the top of the 35 kV class of
    # Q/GDW 1480 / GB/T 50865 (anything above is not distributed PV).
    request_ac_kw_max: float = Field(20_000.0, gt=0.0)
    # Plausible DC/AC ratio of a PV system (NB/T 10394 / PVsyst practice: 1.0-1.8 common).
    request_dc_ac_ratio_min: float = Field(0.5, gt=0.0)
    request_dc_ac_ratio_max: float = Field(2.0, gt=0.0)
    # Inverter power factor range: GB/T 29319 (0.95 leading .. 0.95 lagging).
    inverter_pf_min: float = Field(0.95, gt=0.0, le=1.0)
    # Connection voltage by AC capacity (Q/GDW 1480-2015 5.2, GB/T 50865-2013 6.1):
    # <= 8 kW 220 V single-phase; 8-400 kW 380 V; 400 kW-6 MW 10 kV; 6-20 MW 35 kV
    # (outside a 10 kV feeder study: referred to a manual study).
    connect_single_phase_max_kw: float = Field(8.0, gt=0.0)
    connect_lv_max_kw: float = Field(400.0, gt=0.0)
    connect_mv_max_kw: float = Field(6000.0, gt=0.0)
    # Categories and their allowed modes (NEA distributed-PV management rules, 2025,
    # art. 4-5; DESIGN.md): general C&I <= 6 MW at <= 10 kV.
    allowed_modes: dict[str, tuple[str, ...]] = {
        "residential_natural_person": ("full_export", "full_self_consumption", "surplus_export"),
        "residential_non_natural_person": ("full_export", "full_self_consumption",
                                           "surplus_export"),
        "general_ci": ("full_self_consumption", "surplus_export"),
        "large_ci": ("full_self_consumption",),
    }
    general_ci_max_kw: float = Field(6000.0, gt=0.0)
    # Battery counter-offer: energy per kW of battery power [h] (2 h: the usual
    # "new energy + storage" ratio of Hunan's 2023 provincial rules, 10-20 % x 2 h).
    counter_offer_battery_hours: float = Field(2.0, gt=0.0, le=12.0)
    # Counter-offer search grid (values tried per stacked AC check) and refinements.
    counter_offer_grid: int = Field(16, ge=4, le=128)

    # --- data ---------------------------------------------------------------------
    feeders_dir: Path = Field(default_factory=lambda: project_root() / "feeders")
    default_feeder: str = "xt-county-rural"
    # Database: SQLite file by default (WAL, foreign keys on); PostgreSQL via
    # GRIDINT_DATABASE_URL=postgresql+psycopg://user@host/db.
    database_url: str = "sqlite:///gridint.db"
    # Start the APScheduler jobs in the API lifespan (tests switch it off).
    scheduler_enabled: bool = True

    # --- supply reliability (issue 8) ----------------------------------------------
    # Sustained interruption: longer than 3 min (DL/T 836.1-2016, 供电系统用户供电可靠性
    # 评价规程); shorter ones are momentary (MAIFI). IEEE 1366-2022 uses 5 min.
    reliability_sustained_threshold_min: float = Field(3.0, ge=0.0, le=60.0)
    # Target supply reliability RS-1 [%] (city carbon-peak plan, 2025: 99.89 % <=> SAIDI
    # <= 9.64 h per customer-year).
    reliability_target_rs1_percent: float = Field(99.89, gt=0.0, lt=100.0)
    # Defaults where a feeder file has no reliability data (each use is stated in the output).
    # Overhead 11/10 kV line: 0.065 permanent faults/(km yr), repair 5 h (RBTS, Allan et al.,
    # IEEE Trans. PWRS 6(2), 1991, Table "component reliability data").
    reliability_line_fault_rate_overhead_per_km_year: float = Field(0.065, ge=0.0, le=10.0)
    reliability_line_repair_overhead_h: float = Field(5.0, gt=0.0, le=8760.0)
    # 10 kV XLPE cable: 0.04 faults/(km yr), repair 10 h (CEC urban cable statistics
    # ~0.03-0.05 /(km yr); Roos & Lindahl, "Distribution system component failure rates and
    # repair times - an overview", NORDAC 2004: 0.01-0.07 /(km yr), repair 5-24 h).
    reliability_line_fault_rate_cable_per_km_year: float = Field(0.04, ge=0.0, le=10.0)
    reliability_line_repair_cable_h: float = Field(10.0, gt=0.0, le=8760.0)
    # Distribution transformer 10(11)/0.4 kV: 0.015 failures/yr, replaced by a spare in 10 h
    # (RBTS 1991: repair 200 h or replacement 10 h; replacement is Chinese 台区 practice).
    reliability_trafo_fault_rate_per_year: float = Field(0.015, ge=0.0, le=10.0)
    reliability_trafo_repair_h: float = Field(10.0, gt=0.0, le=8760.0)
    # Busbars and breakers are perfectly reliable unless given (RELRAD convention).
    reliability_bus_fault_rate_per_year: float = Field(0.0, ge=0.0, le=10.0)
    reliability_bus_repair_h: float = Field(2.0, gt=0.0, le=8760.0)
    # Isolation / restoration time of a switch without ``switch_time_h``: manual 1 h (RBTS
    # 1991); automated (``automated`` True) 0.05 h (feeder-automation FTU/DTU, minutes).
    reliability_switch_time_manual_h: float = Field(1.0, ge=0.0, le=8760.0)
    reliability_switch_time_automated_h: float = Field(0.05, ge=0.0, le=8760.0)
    # What-if "automate switches": fully automated feeder automation (FA) restores in
    # seconds (Q/GDW 10370-2016 distribution automation: fault isolation < 1 min).
    reliability_whatif_automated_switch_time_s: float = Field(30.0, ge=0.0, le=3600.0)
    # Storage islanding: the grid-forming inverter and its PCC breaker form the island this
    # long after the fault [s]; usable depth and one-way efficiency; SoC when neither the
    # storage table (soc_percent) nor a profile gives one.
    reliability_island_transfer_s: float = Field(10.0, ge=0.0, le=3600.0)
    reliability_storage_min_soc_percent: float = Field(10.0, ge=0.0, lt=100.0)
    reliability_storage_efficiency: float = Field(0.95, gt=0.0, le=1.0)
    reliability_storage_soc_default_percent: float = Field(50.0, ge=0.0, le=100.0)
    # Monte Carlo defaults: simulated years, seed, repair-time distribution and the
    # lognormal shape (sigma of ln r; 0.5-1.0 typical of measured repair times).
    reliability_mc_years: int = Field(1000, ge=1, le=10_000_000)
    reliability_mc_seed: int = Field(20240601, ge=0)
    reliability_mc_repair_distribution: str = Field("exponential", pattern="^(exponential|lognormal|fixed)$")
    reliability_mc_lognormal_sigma: float = Field(0.8, gt=0.0, le=3.0)

    # --- storage dispatch and scheduler (issue 7) ------------------------------------
    # Defaults of a storage row that lacks the column (gridint.dispatch.units).
    # LFP battery systems: round-trip AC efficiency about 0.86-0.90 (PNNL, Energy Storage
    # Grand Challenge Cost and Performance Assessment 2022) -> 0.95 each way (0.9025).
    storage_eff_charge: float = Field(0.95, gt=0.0, le=1.0)
    storage_eff_discharge: float = Field(0.95, gt=0.0, le=1.0)
    # SoC window of LFP systems: the 10-90 % operating window LFP manufacturers
    # recommend for cycle life (assumption; per unit in soc_min/max_percent).
    storage_soc_min_percent: float = Field(10.0, ge=0.0, lt=100.0)
    storage_soc_max_percent: float = Field(90.0, gt=0.0, le=100.0)
    # Initial SoC when neither a measurement nor soc_percent is given [%].
    storage_soc_initial_percent: float = Field(50.0, ge=0.0, le=100.0)
    # Reserve: hours of critical load kept for islanded supply in outages (assumption,
    # no standard fixes it; per unit in reserve_h) and the critical share of the peak
    # load at the unit's bus when a unit has no critical_kw (assumption).
    storage_reserve_h: float = Field(2.0, ge=0.0, le=48.0)
    storage_critical_share: float = Field(0.2, ge=0.0, le=1.0)
    # Objective weights of the dispatch LP, normalised to 1 = one kWh of network or
    # battery losses. Priorities (DESIGN.md / issue 7): limit violations first, then the
    # critical-load reserve, then PV curtailment (the last resort, two orders above losses),
    # then losses and cycling. Cycling: LFP degradation ~0.1 CNY per kWh throughput vs.
    # ~0.45 CNY/kWh energy (Hunan coal benchmark price) -> 0.2 per kWh charged or discharged.
    dispatch_weight_violation_per_percent_h: float = Field(1.0e6, gt=0.0)
    dispatch_weight_reserve_per_kwh_h: float = Field(1.0e4, gt=0.0)
    dispatch_weight_curtailment_per_kwh: float = Field(100.0, gt=0.0)
    dispatch_weight_losses_per_kwh: float = Field(1.0, ge=0.0)
    dispatch_weight_cycling_per_kwh: float = Field(0.2, ge=0.0)
    # Linearise -> solve -> AC check (numerical settings, not standards): the LP keeps this
    # margin inside the voltage band [pu] and the thermal / reverse-power limits [%];
    # a (step, element) enters the LP when within the band of a limit; finite-difference
    # injection for the sensitivities [kW]; at most this many AC iterations.
    dispatch_vm_margin_pu: float = Field(0.002, ge=0.0, le=0.05)
    dispatch_loading_margin_percent: float = Field(1.0, ge=0.0, le=20.0)
    dispatch_active_band_pu: float = Field(0.01, ge=0.0, le=0.2)
    dispatch_active_band_percent: float = Field(10.0, ge=0.0, le=100.0)
    dispatch_sensitivity_kw: float = Field(10.0, gt=0.0, le=1000.0)
    dispatch_max_iterations: int = Field(8, ge=1, le=100)
    # Robust plan: one battery schedule for the P10, P50 and P90 PV scenarios, curtailment
    # per scenario as recourse. Scenario weights from Swanson's 30-40-30 rule (three-point
    # approximation of a distribution by its P10/P50/P90, Hurst et al., AAPG Bull. 84(12)
    # 2000): P10 and P90 weigh 0.3 / 0.4 = 0.75 of the P50.
    dispatch_robust: bool = True
    dispatch_scenario_weight: float = Field(0.75, ge=0.0, le=10.0)
    # Scheduler (APScheduler 3.x, SQLAlchemy job store on database_url): day-ahead plans at
    # 17:00 local for the next day (issue 7), intraday re-dispatch every 15 min (the
    # forecast step), open-capacity publication on the first day of each quarter;
    # a run more than misfire_grace_s late is skipped and recorded as a misfire.
    scheduler_day_ahead_hour: int = Field(17, ge=0, le=23)
    scheduler_day_ahead_minute: int = Field(0, ge=0, le=59)
    scheduler_intraday_minutes: int = Field(15, ge=1, le=60)
    scheduler_publication_hour: int = Field(2, ge=0, le=23)
    scheduler_misfire_grace_s: int = Field(300, ge=1)

    # --- store and API (issue 6) ---------------------------------------------------
    # How long a writer waits for the SQLite database lock (BEGIN IMMEDIATE) [s]; submissions
    # on one feeder are serialised, so this bounds the queue of waiting writers (engineering choice).
    database_busy_timeout_s: float = Field(60.0, gt=0.0, le=3600.0)
    # Connection pool of one process (SQLAlchemy QueuePool): size and overflow (engineering choice).
    database_pool_size: int = Field(10, ge=1, le=1000)
    database_max_overflow: int = Field(30, ge=0, le=1000)
    # Largest API request body accepted [bytes]; larger bodies get 413 Content Too Large
    # (RFC 9110 §15.5.14). 64 KiB is far above any connection request (< 1 KiB).
    api_max_body_bytes: int = Field(65_536, ge=1_024, le=100_000_000)
    # Longest Idempotency-Key header accepted [characters] (IETF draft-ietf-httpapi-idempotency-key-header).
    api_idempotency_key_max_len: int = Field(200, ge=8, le=1_000)
    # Days an applicant has to accept an approval before it expires and frees its capacity
    # (project default; the NEA 2025 rules leave the deadline to the grid company).
    request_accept_days: int = Field(30, ge=1, le=3650)

    # --- telemetry (issue 10) ------------------------------------------------------
    # Most points in one POST /api/v1/telemetry batch (engineering choice: 10,000 points
    # = a day of 15-min data for ~100 systems, ~1 MB of JSON).
    telemetry_max_points: int = Field(10_000, ge=1, le=1_000_000)
    # Largest telemetry request body [bytes] (RFC 9110 §15.5.14: 413 above it); the other
    # endpoints keep api_max_body_bytes.
    telemetry_max_body_bytes: int = Field(2_000_000, ge=1_024, le=100_000_000)
    # Plausibility of measured power: |p_kw| above this multiple of the inverter AC rating
    # is non-physical (inverters cap AC output at rating; 20 % margin for metering error
    # and short overload, engineering choice after IEC 61683 / GB/T 37408 inverter ratings).
    telemetry_p_max_ratio: float = Field(1.2, gt=1.0, le=3.0)
    # Night: solar elevation (pvlib, at the site) below this [deg] and PV power above this
    # fraction of the rating is non-physical (standby consumption is negative or ~0).
    telemetry_night_elevation_deg: float = Field(-1.0, ge=-18.0, le=5.0)
    telemetry_night_p_fraction: float = Field(0.01, ge=0.0, le=0.5)
    # Plausible voltage at the point of connection [pu] (measurement sanity, far outside
    # GB/T 12325 limits: a reading outside is a meter fault, not a grid state).
    telemetry_v_min_pu: float = Field(0.5, ge=0.0, lt=1.0)
    telemetry_v_max_pu: float = Field(1.5, gt=1.0, le=3.0)
    # Measurement interval [min] (DL/T 1040 / State Grid DER monitoring: 15-min data).
    telemetry_interval_min: int = Field(15, ge=1, le=60)
    # A device is silent after this many intervals without data (monitoring view default).
    telemetry_silent_intervals: int = Field(4, ge=1, le=10_000)
    # Most points one GET /api/v1/telemetry query returns.
    telemetry_query_max_points: int = Field(100_000, ge=1, le=10_000_000)
    # Closing the loop: a quarter-hour of measured PV counts for the feeder's fleet only when
    # the reporting devices hold at least this share of the registered PV rating (below it
    # the sample is too thin to upscale; engineering choice, the forecast then falls back
    # to the 24-h index / climatology).
    telemetry_upscale_min_share: float = Field(0.3, gt=0.0, le=1.0)
    # A measured SoC older than this [min] is not used by the intraday re-dispatch (two
    # 15-min intervals: one late batch tolerated; older values -> the plan's SoC).
    telemetry_soc_max_age_min: int = Field(30, ge=1, le=1_440)
    # History of measured PV read for the intraday forecast [h] (the 24-h clear-sky index
    # needs the day before the issue time).
    telemetry_history_h: int = Field(48, ge=1, le=24 * 14)

    # --- city-scale studies (issue 10) ---------------------------------------------
    # Address of an existing Dask scheduler (tcp://host:8786); None = an in-process
    # LocalCluster (DESIGN.md "Distributed"). Env: GRIDINT_DASK_SCHEDULER.
    dask_scheduler: str | None = None
    # The synthetic city (gridint.grid.city): feeders, seed, studied steps of the hosting
    # capacity (screening: measured in sims/bench_city.py to fit 1,000 feeders in 15 min on
    # 2 cores), local workers (processes x 1 thread) and numba threads per worker.
    city_feeders: int = Field(1000, ge=1, le=1_000_000)
    city_seed: int = Field(2025, ge=0)
    city_steps: str = Field("screening", pattern="^(screening|year)$")
    city_workers: int = Field(2, ge=1, le=1024)
    city_numba_threads: int = Field(1, ge=1, le=256)
    # Fully generated (tuned) archetype feeders per template; city feeders are seeded
    # variations of them (gridint.grid.city docstring). Variation factors of each 台区's
    # load and of the feeder's existing PV [-] (downward only: the tuned limits hold).
    city_archetypes_per_template: int = Field(8, ge=1, le=1000)
    city_load_scale_range: tuple[float, float] = (0.75, 1.0)
    city_pv_scale_range: tuple[float, float] = (0.5, 1.0)
    # City carbon-peak plan (Hunan, 2023): about 800 MW of new rooftop PV over five
    # counties/districts by 2025, and rooftop PV on 50 % of new public buildings and factories.
    city_scenario_pv_mw: float = Field(800.0, ge=0.0, le=1e6)
    city_ci_roof_share: float = Field(0.5, ge=0.0, le=1.0)
    # Roof potential [kW AC] (study assumptions, stated in sims/RESULTS.md): per residential
    # customer in apartment blocks (urban / industrial feeders: a shared flat roof of
    # ~5-10 m2 per household at ~100 W/m2, half of it usable) and in self-built rural houses
    # (whole-county programmes install 10-30 kWp on a share of the houses: ~4 kW per
    # customer on average); per kW of peak load of public buildings / shops and of factories
    # (large flat roofs: a factory roof holds about its own peak load in PV).
    city_roof_kw_per_customer_urban: float = Field(0.5, ge=0.0, le=100.0)
    city_roof_kw_per_customer_rural: float = Field(4.0, ge=0.0, le=100.0)
    city_roof_kw_per_kw_commercial: float = Field(0.4, ge=0.0, le=100.0)
    city_roof_kw_per_kw_industrial: float = Field(1.0, ge=0.0, le=100.0)

    # --- telemetry roll-up, partitions and retention (issue 10) ----------------------
    # Raw quarter-hour telemetry is kept this many days, then only its hourly roll-up
    # (table telemetry_hourly). No standard fixes it; 90 days = one quarter: the
    # open-capacity publication is quarterly (DL/T 2041 / NEA distributed-PV rules, job
    # open-capacity-publication), so a study of the quarter just published, a season of
    # forecast-error or dispatch review, and a settlement / complaint window (typically a
    # billing month plus appeal) all still find 15-min data; older questions (energy
    # yield, statistics, trends) are answered by hourly energy and extremes.
    telemetry_raw_days: int = Field(90, ge=1, le=36_500)
    # Hourly roll-up rows kept [days]; None = forever (~60 GB a year for 100,000
    # systems on PostgreSQL, sims/RESULTS.md).
    telemetry_hourly_days: int | None = Field(None, ge=1, le=365_000)
    # The daily maintenance job re-rolls this many past days (late data re-rolls its hour);
    # hours older than that are re-rolled once more just before their raw rows are trimmed.
    telemetry_rollup_lookback_days: int = Field(3, ge=1, le=366)
    # PostgreSQL: roll-ups run in chunks of this many hours (one transaction each).
    telemetry_rollup_chunk_h: int = Field(24, ge=1, le=24 * 31)
    # PostgreSQL: monthly partitions of telemetry created ahead of the current month.
    telemetry_partition_months_ahead: int = Field(2, ge=0, le=24)
    # PostgreSQL: longest wait for the table locks of partition DDL [s] (a waiting
    # ACCESS EXCLUSIVE lock queues the inserts behind it; on timeout the step is retried
    # by the next run).
    telemetry_partition_lock_timeout_s: float = Field(10.0, gt=0.0, le=3600.0)
    # Daily maintenance job time (Settings.timezone): partitions, roll-up, retention at
    # 01:30, after the day's data is in and away from the 17:00 day-ahead planning.
    scheduler_telemetry_hour: int = Field(1, ge=0, le=23)
    scheduler_telemetry_minute: int = Field(30, ge=0, le=59)

    @model_validator(mode="after")
    def _check_city(self) -> "Settings":
        for name in ("city_load_scale_range", "city_pv_scale_range"):
            lo, hi = getattr(self, name)
            if not 0.0 < lo <= hi <= 1.0:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high <= 1")
        return self

    @model_validator(mode="after")
    def _check_bands(self) -> "Settings":
        if self.vm_min_pu >= self.vm_max_pu:
            raise ValueError("vm_min_pu must be below vm_max_pu")
        if self.pf_vm_sanity_min_pu >= self.vm_min_single_phase_pu:
            raise ValueError("pf_vm_sanity_min_pu must be below every voltage limit")
        q = self.forecast_quantiles
        if not q or any(not 0.0 < x < 1.0 for x in q) or list(q) != sorted(set(q)):
            raise ValueError("forecast_quantiles must be increasing values in (0, 1)")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, validated once and cached.

    Raises
    ------
    ConfigError
        If an environment override is out of range; the message names the field.
    """
    try:
        return Settings()
    except ValidationError as exc:  # pragma: no cover - exercised via tests
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"]) or "settings"
            lines.append(f"GRIDINT_{field.upper()}: {err['msg']}")
        raise ConfigError("; ".join(lines)) from None
