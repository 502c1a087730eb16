"""Weighting: post-stratification and raking of survey weights to population margins.

Design weights (inverse inclusion probabilities) are adjusted so that the weighted sample
reproduces known population totals, e.g. the 2019 census by commune and urban/rural, or
user-supplied sex × age-band tables. The functions follow R ``survey`` (Lumley):

* :func:`poststratify` — ``postStratify()``: one adjustment factor per cell of a full
  cross-classification.
* :func:`rake` — ``rake()``: iterative proportional fitting over several margins.
* :func:`calibrated_mean` — the estimate and linearised SE of a mean or proportion (whole sample or
  by domain) on a calibrated design, computed the way R ``survey`` does it: the influence values
  are replaced by their residuals from the calibration cells before the stratified between-PSU
  variance is taken.
* :func:`weighting_diagnostics` — Kish weighting efficiency, design effect due to weighting and the
  spread of the adjustment factors.
* :func:`census_margins` — population margins from the 2019 census figures per commune.
* :func:`calibrate_wave` — the run's calibration of a wave (config key ``calibration:``): the
  calibrated weights, the design weights in ``weight_design`` and the margins in ``calib__*``
  columns, which :mod:`sipas_analysis.design` reads so that every SE allows for the calibration.
* :func:`weighting_summary` — Kish efficiency before/after and the range of the g-weights
  (validation report, run manifest).

Every function returns new data and never modifies its input.

The package, by stage: :mod:`~sipas_analysis.weighting.cells` (shared helpers),
:mod:`~sipas_analysis.weighting.calibration` (post-stratification and raking),
:mod:`~sipas_analysis.weighting.variance` (means on calibrated designs),
:mod:`~sipas_analysis.weighting.diagnostics`, :mod:`~sipas_analysis.weighting.census` (census
margins) and :mod:`~sipas_analysis.weighting.wave` (the calibration of a wave in a run).
"""

from __future__ import annotations

from sipas_analysis.weighting.calibration import poststratify, rake
from sipas_analysis.weighting.census import census_margins
from sipas_analysis.weighting.diagnostics import weighting_diagnostics
from sipas_analysis.weighting.variance import calibrated_mean
from sipas_analysis.weighting.wave import calibrate_wave, weighting_summary

__all__ = [
    "poststratify",
    "rake",
    "calibrated_mean",
    "weighting_diagnostics",
    "census_margins",
    "calibrate_wave",
    "weighting_summary",
]
