"""The survey design: weights, strata, PSUs nested in strata, finite population correction.

A :class:`SurveyDesign` holds what the variance of any estimator needs and nothing else: the design
weight of every respondent, the stratum and the primary sampling unit (PSU, e.g. the village) each
respondent belongs to, an optional finite population correction, and the rule for strata that hold
a single PSU ("lonely PSU", as R's ``options(survey.lonely.psu=)``).

Its core service is :meth:`SurveyDesign.domain_scores`, which turns respondent-level influence
values (linearised estimators) into centred, scaled PSU totals ``U`` such that the Taylor
linearisation covariance of all estimates is ``U.T @ U``. The estimation engine
(:mod:`sipas_analysis.estimate`) builds every (item x domain) cell on top of it in one vectorised
pass.

The formulas reproduce R ``survey`` (Lumley) ``svydesign(ids=~psu, strata=~stratum, weights=~w,
nest=TRUE, fpc=)`` with ``svyrecvar`` (one-stage, "ultimate cluster" variance).

Calibrated weights
------------------
When the weights have been raked or post-stratified (:mod:`sipas_analysis.weighting`), the
calibration travels *with the respondent table*, in columns the design recognises, so that every
estimate computed from that table (also after ``DataFrame.assign`` of other strata or PSUs, as
:func:`sipas_analysis.small_domains.design_variants` does) allows for it:

* ``weight`` (or the weight column given) holds the calibrated weights :math:`w_i = g_i d_i`;
* :data:`DESIGN_WEIGHT_COLUMN` (``weight_design``) holds the design weights :math:`d_i`;
* every column whose name starts with :data:`CALIBRATION_PREFIX` (``calib__``) is one
  calibration variable (a margin: its categories become indicator columns of the calibration
  model matrix :math:`X`; a post-stratification is one such column, the cross-classified cells).

:func:`survey_design` then builds a :class:`Calibration`, and :meth:`SurveyDesign.domain_scores`
replaces the influence values by their residuals from the weighted regression on :math:`X`, as
R ``survey:::svyrecvar`` does for designs from ``calibrate()`` (and ``postStratify()``).

The package, by stage: :mod:`~sipas_analysis.design.options` (rules, column names, warning),
:mod:`~sipas_analysis.design.calibration` (calibrated weights in the variance),
:mod:`~sipas_analysis.design.core` (:class:`SurveyDesign`), :mod:`~sipas_analysis.design.build`
(:func:`survey_design`) and :mod:`~sipas_analysis.design.summary` (:func:`design_summary`).
"""

from __future__ import annotations

from sipas_analysis.design.build import survey_design
from sipas_analysis.design.calibration import Calibration, calibration_model
from sipas_analysis.design.core import SurveyDesign
from sipas_analysis.design.options import (
    CALIBRATION_PREFIX,
    DESIGN_WEIGHT_COLUMN,
    LONELY_PSU_RULES,
    DesignWarning,
)
from sipas_analysis.design.summary import LOW_DF, design_summary

__all__ = [
    "CALIBRATION_PREFIX",
    "DESIGN_WEIGHT_COLUMN",
    "LONELY_PSU_RULES",
    "LOW_DF",
    "Calibration",
    "DesignWarning",
    "SurveyDesign",
    "calibration_model",
    "design_summary",
    "survey_design",
]
