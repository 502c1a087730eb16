"""Design-based estimation: every (item x domain) cell in one vectorised pass, with honest CIs.

Means, proportions and the top-2-box share of 5-point items for any number of items and domains
(commune, area, the whole survey area, subgroups), with Taylor-linearisation standard errors over
the full design (rows are never filtered to a domain), design effects, degrees of freedom and
confidence intervals that stay on the scale. The numbers reproduce R ``survey``
(``svymean``/``svyby``/``svyciprop``/``svycontrast``); ``tests/r/`` holds the R reference.

The result, :class:`Estimates`, keeps the linearisation scores of every cell, so that composites
(SIPAS element and overall = means of item indices), differences between domains and any linear
combination get the correct standard error (:func:`composite_mean`, :meth:`Estimates.difference`,
:meth:`Estimates.linear_combination`). Differences between independent waves:
:func:`difference_independent`.

Scale: proportions and top-2-box shares are returned in **percent (0-100)**, as SIPAS is
published; means are on the scale of the answer codes.

The package, by stage: :mod:`~sipas_analysis.estimate.options` (statistics, methods, limits),
:mod:`~sipas_analysis.estimate.domains` (domain codes and item matrix),
:mod:`~sipas_analysis.estimate.intervals` (confidence intervals),
:mod:`~sipas_analysis.estimate.result` (:class:`Estimates`),
:mod:`~sipas_analysis.estimate.flags` (the flags of a cell), :mod:`~sipas_analysis.estimate.engine`
(the one vectorised pass), :mod:`~sipas_analysis.estimate.composite` (composites and
differences) and :mod:`~sipas_analysis.estimate.files` (reading a respondent file).

Command line: ``sipas estimate --data FILE --items q1,q2 --statistic top2 --by commune_code ...``
(:mod:`sipas_analysis.commands.estimate`).
"""

from __future__ import annotations

from sipas_analysis.disclosure import MIN_N
from sipas_analysis.estimate.composite import composite_mean, difference_independent
from sipas_analysis.estimate.engine import estimate_domains, estimate_levels
from sipas_analysis.estimate.files import read_respondent_file
from sipas_analysis.estimate.flags import FLAG_ORDER, flag_tokens, inherit_flags
from sipas_analysis.estimate.intervals import proportion_ci
from sipas_analysis.estimate.options import (
    CI_METHODS,
    DEFAULT_POSITIVE,
    DEFAULT_TOP_BOX,
    DF_RULES,
    SMALL_N,
    STATISTICS,
)
from sipas_analysis.estimate.result import Estimates

__all__ = [
    "CI_METHODS",
    "DEFAULT_POSITIVE",
    "DEFAULT_TOP_BOX",
    "DF_RULES",
    "FLAG_ORDER",
    "MIN_N",
    "SMALL_N",
    "STATISTICS",
    "Estimates",
    "composite_mean",
    "difference_independent",
    "estimate_domains",
    "estimate_levels",
    "flag_tokens",
    "inherit_flags",
    "proportion_ci",
    "read_respondent_file",
]
