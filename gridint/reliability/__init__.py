"""Supply reliability: analytical (RELRAD-style) and sequential Monte Carlo.

Public API
----------
:func:`reliability_study`
    Indices of one feeder (SAIFI, SAIDI, CAIDI, ASAI, RS-1, ENS, MAIFI), load points,
    components ranked by SAIDI contribution, analytical or Monte Carlo.
:func:`combine_feeders`
    Customer-weighted indices of several feeders (a city) against the target.
:func:`build_model`, :func:`restoration_table`
    The pieces: the net read into arrays, and the effect of a fault in each zone.
:mod:`gridint.reliability.whatif`
    Automate switches, add a tie, add fuses, add storage; greedy upgrade ranking.

Inputs are the reliability columns of DESIGN.md ("Reliability input schema");
missing values fall back to the documented defaults of :mod:`gridint.config`
(listed in the result under ``defaults_used``).
"""

from gridint.reliability.analytical import RestorationTable, restoration_table
from gridint.reliability.study import METHODS, combine_feeders, prepare, reliability_study, system_indices
from gridint.reliability.topology import ReliabilityModel, build_model

__all__ = [
    "METHODS",
    "ReliabilityModel",
    "RestorationTable",
    "build_model",
    "combine_feeders",
    "prepare",
    "reliability_study",
    "restoration_table",
    "system_indices",
]
