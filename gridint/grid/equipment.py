"""Chinese standard 10 kV / 0.4 kV equipment as pandapower standard types.

The tables below are the equipment a Hunan distribution company actually buys:
bare ACSR overhead conductors (LGJ, JL/G1A), 8.7/15 kV three-core XLPE armoured
copper cables (YJV22) and 10/0.4 kV distribution transformers (oil-immersed S13-M,
cast-resin dry-type SCB13), all Dyn11 with a +/-2 x 2.5 % off-circuit tap changer
on the 10 kV side.

Derivations (all per phase, positive sequence, 50 Hz):

* Overhead lines: ``r_ohm_per_km`` is the 20 degC DC resistance of GB/T 1179-2017
  (JL/G1A, same values as the older LGJ tables). Reactance and capacitance follow the
  textbook 50 Hz formulas with a geometric mean phase spacing ``Dm = 1.5 m`` (10 kV
  cross-arm, horizontal spacing about 1.2 m, Dm = 1.26 x spacing)::

      x = 0.1445 lg(Dm / r) + 0.0157   [ohm/km]   (mu_r = 1)
      c = 24.1 / lg(Dm / r)            [nF/km]

  ``max_i_ka`` is the continuous rating at +40 degC ambient (Hunan summer design
  condition) obtained from the +25 degC table of the Electrical Engineering Design
  Manual / DL/T 5220-2005 (conductor +70 degC, wind 0.5 m/s) with the correction
  factor sqrt((70 - 40) / (70 - 25)) = 0.816; the +25 degC value is kept in the
  std type as ``max_i_ka_25c``.
* Cables: ``r_ohm_per_km`` is the 20 degC DC resistance of class-2 copper conductors
  (GB/T 3956-2008, as required by GB/T 12706.2-2020). Insulation 4.5 mm XLPE
  (8.7/15 kV, GB/T 12706.2), 0.8 mm semi-conducting screens; the three cores touch
  (trefoil) so the axis spacing is the core diameter::

      x = 0.0628 ln(s / (0.779 r_c))          [ohm/km]
      c = 2 pi eps0 eps_r / ln(D_i / d_i)     eps_r = 2.5  [nF/km]

  ``max_i_ka``: direct burial, soil 25 degC, 1.2 K m/W, one circuit (manufacturer
  tables for YJV22-8.7/15 three-core copper, consistent with GB 50217-2018 App. C).
* Transformers: ``vkr_percent = P_k / S_n x 100`` from the load loss at reference
  temperature (75 degC oil, 120 degC cast resin), ``pfe_kw`` = no-load loss,
  ``i0_percent`` = no-load current, ``vk_percent`` = short-circuit impedance.
  Oil: GB/T 6451-2015 (impedance 4.0 % up to 500 kVA, 4.5 % 630-1600 kVA, 5.0 %
  2000-2500 kVA; load losses of the Dyn11 column) with S13 no-load losses (about
  30 % below S11; meets GB 20052-2020 grade 3). Dry type: GB/T 10228-2015 /
  GB 20052-2020 grade 3 SCB13 catalogue values (4 % up to 500 kVA, 6 % from
  630 kVA). Values are typical catalogue data (+/-10 %); a real study should read
  the nameplates.
* Vector group Dyn11: pandapower counts the phase shift as clock number x 30 deg
  (its own Dyn5 types use 150), so Dyn11 is ``shift_degree = 330`` (the LV side
  leads the HV side by 30 deg). ``vector_group`` is stored as ``"Dyn"`` because
  pandapower's zero-sequence model expects the letters only.
* Tap changer: 10 +/- 2 x 2.5 % / 0.4 kV off-circuit, on the HV winding. A
  negative ``tap_pos`` lowers the HV winding voltage and therefore *raises* the LV
  voltage (pandapower ``tap_side="hv"``): rural transformers at the end of long
  lines sit on tap -1 or -2.

Note the LV rating: Chinese 10/0.4 kV transformers have a 400 V no-load LV voltage
for a 380 V nominal system; LV buses here use ``vn_kv = 0.4`` (pandapower's
convention) so per-unit LV voltages are on a 400 V base.

References
----------
GB/T 1179-2017   Round wire concentric lay overhead electrical stranded conductors.
DL/T 5220-2005   Code for design of 10 kV and under overhead distribution lines.
GB/T 12706.2-2020  Power cables with extruded insulation, rated 6 kV to 30 kV.
GB/T 3956-2008   Conductors of insulated cables (IEC 60228).
GB 50217-2018    Standard for design of cables of electric power engineering.
GB/T 6451-2015   Specification and technical requirements for oil-immersed power
                 transformers.
GB/T 10228-2015  Specification and technical requirements for dry-type power
                 transformers.
GB 20052-2020    Minimum allowable values of energy efficiency and energy efficiency
                 grades for power transformers.
"""

from __future__ import annotations

import math
from types import MappingProxyType
from typing import Mapping

__all__ = [
    "OVERHEAD_LINE_TYPES",
    "CABLE_TYPES",
    "LINE_TYPES",
    "TRAFO_TYPES",
    "TRAFO_FAMILIES",
    "DYN11_SHIFT_DEGREE",
    "line_family",
    "trafo_type_name",
    "trafo_family",
    "register_std_types",
]

#: pandapower phase shift for vector group Dyn11 [deg] (clock number 11 x 30 deg).
DYN11_SHIFT_DEGREE = 330.0

_DM_OH_MM = 1500.0  # geometric mean phase spacing of a 10 kV overhead line [mm]
_ALPHA_AL = 0.00403  # temperature coefficient of resistance, aluminium [1/K]
_ALPHA_CU = 0.00393  # temperature coefficient of resistance, copper [1/K]
_RATING_40C_FACTOR = math.sqrt((70.0 - 40.0) / (70.0 - 25.0))  # 0.816

# name: (outer diameter [mm], r20 [ohm/km] GB/T 1179-2017, ampacity at 25 degC [A])
_LGJ_DATA: dict[str, tuple[float, float, float]] = {
    "LGJ-50/8": (9.60, 0.5946, 220.0),
    "LGJ-70/10": (11.40, 0.4217, 275.0),
    "LGJ-95/15": (13.61, 0.3058, 335.0),
    "LGJ-120/20": (15.07, 0.2496, 380.0),
    "LGJ-150/25": (17.10, 0.1939, 445.0),
    "LGJ-185/25": (18.90, 0.1542, 515.0),
    "LGJ-240/30": (21.60, 0.1181, 610.0),
}

# name: (cross-section [mm2], conductor diameter [mm], r20 [ohm/km] GB/T 3956,
#        buried ampacity [A])
_YJV22_DATA: dict[str, tuple[int, float, float, float]] = {
    "YJV22-8.7/15-3x70": (70, 9.9, 0.268, 215.0),
    "YJV22-8.7/15-3x120": (120, 12.9, 0.153, 290.0),
    "YJV22-8.7/15-3x185": (185, 16.0, 0.0991, 365.0),
    "YJV22-8.7/15-3x240": (240, 18.4, 0.0754, 420.0),
    "YJV22-8.7/15-3x300": (300, 20.6, 0.0601, 470.0),
}
_XLPE_INSULATION_MM = 4.5  # GB/T 12706.2, 8.7/15 kV
_SEMICON_MM = 0.8  # conductor and insulation screens
_XLPE_EPS_R = 2.5
_EPS0_NF_PER_KM = 8.854e-12 * 1e9 * 1e3  # F/m -> nF/km


def _overhead_type(diameter_mm: float, r20: float, amp25: float, q_mm2: int) -> dict:
    radius_mm = diameter_mm / 2.0
    lg = math.log10(_DM_OH_MM / radius_mm)
    return {
        "r_ohm_per_km": r20,
        "x_ohm_per_km": round(0.1445 * lg + 0.0157, 4),
        "c_nf_per_km": round(24.1 / lg, 2),
        "max_i_ka": round(amp25 * _RATING_40C_FACTOR / 1000.0, 3),
        "max_i_ka_25c": amp25 / 1000.0,
        "type": "ol",
        "q_mm2": q_mm2,
        "alpha": _ALPHA_AL,
        "voltage_rating": "MV",
        "diameter_mm": diameter_mm,
    }


def _cable_type(q_mm2: int, d_cond_mm: float, r20: float, amp: float) -> dict:
    d_inner = d_cond_mm + 2 * _SEMICON_MM  # over conductor screen
    d_outer = d_inner + 2 * _XLPE_INSULATION_MM  # over insulation
    core_spacing = d_outer + 2 * _SEMICON_MM + 0.4  # screens + copper tape, trefoil
    x = 2 * math.pi * 50 * 2e-4 * math.log(core_spacing / (0.779 * d_cond_mm / 2))
    c = 2 * math.pi * _EPS0_NF_PER_KM * _XLPE_EPS_R / math.log(d_outer / d_inner)
    return {
        "r_ohm_per_km": r20,
        "x_ohm_per_km": round(x, 4),
        "c_nf_per_km": round(c, 1),
        "max_i_ka": amp / 1000.0,
        "type": "cs",
        "q_mm2": q_mm2,
        "alpha": _ALPHA_CU,
        "voltage_rating": "MV",
    }


#: Overhead conductor std types, smallest first [pandapower line std-type dicts].
OVERHEAD_LINE_TYPES: Mapping[str, Mapping] = MappingProxyType(
    {
        name: MappingProxyType(_overhead_type(d, r, a, int(name.split("-")[1].split("/")[0])))
        for name, (d, r, a) in _LGJ_DATA.items()
    }
)

#: 10 kV cable std types, smallest first [pandapower line std-type dicts].
CABLE_TYPES: Mapping[str, Mapping] = MappingProxyType(
    {name: MappingProxyType(_cable_type(*vals)) for name, vals in _YJV22_DATA.items()}
)

#: All line std types of gridint.
LINE_TYPES: Mapping[str, Mapping] = MappingProxyType({**OVERHEAD_LINE_TYPES, **CABLE_TYPES})

# kVA: (no-load loss P0 [kW], load loss Pk [kW], no-load current i0 [%], uk [%])
_S13_DATA: dict[int, tuple[float, float, float, float]] = {
    50: (0.100, 0.910, 0.80, 4.0),
    100: (0.150, 1.580, 0.70, 4.0),
    200: (0.240, 2.730, 0.60, 4.0),
    400: (0.410, 4.520, 0.50, 4.0),
    630: (0.570, 6.200, 0.40, 4.5),
    800: (0.700, 7.500, 0.40, 4.5),
    1250: (0.970, 12.000, 0.30, 4.5),
    1600: (1.170, 14.500, 0.30, 4.5),
    2000: (1.360, 18.300, 0.30, 5.0),
}
_SCB13_DATA: dict[int, tuple[float, float, float, float]] = {
    400: (0.720, 3.650, 0.80, 4.0),
    630: (0.970, 5.360, 0.70, 6.0),
    800: (1.120, 6.260, 0.70, 6.0),
    1250: (1.570, 8.720, 0.60, 6.0),
    1600: (1.840, 10.550, 0.60, 6.0),
    2000: (2.280, 13.000, 0.50, 6.0),
}

#: Transformer families and their type-name pattern.
TRAFO_FAMILIES: Mapping[str, str] = MappingProxyType({"S13-M": "S13-M-{kva}/10", "SCB13": "SCB13-{kva}/10"})


def _trafo_type(kva: int, p0_kw: float, pk_kw: float, i0: float, uk: float) -> dict:
    return {
        "sn_mva": kva / 1000.0,
        "vn_hv_kv": 10.0,
        "vn_lv_kv": 0.4,
        "vk_percent": uk,
        "vkr_percent": round(pk_kw / kva * 100.0, 4),
        "pfe_kw": p0_kw,
        "i0_percent": i0,
        "shift_degree": DYN11_SHIFT_DEGREE,
        "vector_group": "Dyn",
        "tap_side": "hv",
        "tap_neutral": 0,
        "tap_min": -2,
        "tap_max": 2,
        "tap_step_percent": 2.5,
        "tap_step_degree": 0.0,
        "tap_changer_type": "Ratio",
        # zero sequence (Dyn: magnetising path closed by the delta), for 3-ph / SC use
        "vk0_percent": uk,
        "vkr0_percent": round(pk_kw / kva * 100.0, 4),
        "mag0_percent": 100.0,
        "mag0_rx": 0.0,
        "si0_hv_partial": 0.9,
    }


def _build_trafo_types() -> dict[str, Mapping]:
    out: dict[str, Mapping] = {}
    for family, data in (("S13-M", _S13_DATA), ("SCB13", _SCB13_DATA)):
        for kva, vals in data.items():
            out[TRAFO_FAMILIES[family].format(kva=kva)] = MappingProxyType(_trafo_type(kva, *vals))
    return out


#: 10/0.4 kV distribution transformer std types [pandapower trafo std-type dicts].
TRAFO_TYPES: Mapping[str, Mapping] = MappingProxyType(_build_trafo_types())


def line_family(std_type: str) -> str:
    """Conductor family of a gridint line std type.

    Parameters
    ----------
    std_type : str
        Name such as ``"LGJ-120/20"`` or ``"YJV22-8.7/15-3x240"``.

    Returns
    -------
    str
        ``"LGJ"`` (bare overhead ACSR) or ``"YJV22"`` (10 kV XLPE cable).

    Raises
    ------
    KeyError
        If the name is not a gridint line type.
    """
    if std_type in OVERHEAD_LINE_TYPES:
        return "LGJ"
    if std_type in CABLE_TYPES:
        return "YJV22"
    raise KeyError(f"unknown gridint line type {std_type!r}; known: {sorted(LINE_TYPES)}")


def trafo_type_name(family: str, kva: int) -> str:
    """Std-type name of a distribution transformer.

    Parameters
    ----------
    family : str
        ``"S13-M"`` (oil) or ``"SCB13"`` (dry type).
    kva : int
        Rated power [kVA].

    Returns
    -------
    str
        e.g. ``"S13-M-400/10"``.

    Raises
    ------
    KeyError
        If the family or the rating is not tabulated.
    """
    if family not in TRAFO_FAMILIES:
        raise KeyError(f"unknown transformer family {family!r}; known: {sorted(TRAFO_FAMILIES)}")
    name = TRAFO_FAMILIES[family].format(kva=int(kva))
    if name not in TRAFO_TYPES:
        sizes = sorted(int(TRAFO_TYPES[n]["sn_mva"] * 1000) for n in TRAFO_TYPES if n.startswith(family + "-"))
        raise KeyError(f"no {family} transformer of {kva} kVA; available sizes [kVA]: {sizes}")
    return name


def trafo_family(std_type: str) -> str:
    """Family (``"S13-M"`` or ``"SCB13"``) of a gridint transformer std type."""
    for family in TRAFO_FAMILIES:
        if std_type.startswith(family + "-") and std_type in TRAFO_TYPES:
            return family
    raise KeyError(f"unknown gridint transformer type {std_type!r}")


def register_std_types(net) -> None:
    """Add every gridint line and transformer std type to a pandapower net.

    Parameters
    ----------
    net : pandapower.pandapowerNet
        Network to extend (modified in place); existing types of the same name are
        overwritten.
    """
    import pandapower as pp  # local import: keep module import light

    pp.create_std_types(net, {k: dict(v) for k, v in LINE_TYPES.items()}, element="line")
    pp.create_std_types(net, {k: dict(v) for k, v in TRAFO_TYPES.items()}, element="trafo")
