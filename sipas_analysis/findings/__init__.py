"""Weak points (điểm yếu): one tidy findings table that holds up to scrutiny.

A finding is a (unit, index) cell of a wave that pulls the score down, with its value, CI, the
benchmark it is set against, the reason(s) it is flagged — Vietnamese sentences plus machine codes —
a priority and a recommendation ("đề xuất tập trung"). Reasons:

=====================  ===================================================================
code                   rule
=====================  ===================================================================
``lowest_ranked``      among the lowest items / elements / sub-dimensions of an area or the
                       whole survey area (descriptive)
``below_rest``         a commune significantly below the rest of its area (an area below the
                       rest of the survey area): domain contrast on the full design
``decline``            a significant decline since the last comparable wave
``below_benchmark``    below the national median (PAPI) / national value (SIPAS), the whole CI
                       below it (``below_benchmark_ns``: the estimate only)
``below_target``       below the province's own target (optional table)
``ipa_priority``       importance–performance: high importance, low performance
=====================  ===================================================================

Significance is controlled for multiple comparisons with Benjamini–Hochberg
(:func:`benjamini_hochberg`, q = 0.05) within families of tests (:func:`weak_points`). Commune
ranks come with joint rank confidence sets (:func:`commune_ranks`), never a bare rank. Cells with
n < 30 are flagged, cells with n < 10 never yield a finding. This stage only **reads** the
estimates table: the commune variances (the pooled variance model) and the model-based commune
estimates are computed once, with the indices (:mod:`sipas_analysis.small_domains`), and the
contrasts with the rest of an area are built from those cells (:func:`rest_contrasts`). One call
per survey: :func:`sipas_weak_points`, :func:`papi_weak_points`. The plain-language
rules are in ``docs/findings_rules.md``; the phrases in
``findings_phrases.yaml`` next to this package.

The package, by rule family:

=========================================  ===================================================
module                                     holds
=========================================  ===================================================
:mod:`~sipas_analysis.findings.phrases`    the phrases file, the number format of the reasons
:mod:`~sipas_analysis.findings.fdr`        Benjamini–Hochberg and the test families
:mod:`~sipas_analysis.findings.contrasts`  units against the rest of their parent
:mod:`~sipas_analysis.findings.importance` importance–performance of the items
:mod:`~sipas_analysis.findings.ranks`      commune ranks with rank confidence sets
:mod:`~sipas_analysis.findings.reasons`    the reasons, one function per rule family
:mod:`~sipas_analysis.findings.table`      the findings table: columns, rows, priorities
:mod:`~sipas_analysis.findings.surveys`    one call per survey (SIPAS, PAPI)
=========================================  ===================================================

Examples
--------
>>> reject, q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
>>> reject.tolist(), [float(round(v, 4)) for v in q]
([True, False, False, False], [0.04, 0.0533, 0.0533, 0.2])
"""

from __future__ import annotations

from sipas_analysis.findings.contrasts import rest_contrasts
from sipas_analysis.findings.fdr import (
    COMMUNE_Q_SHARE,
    TOP_LEVELS,
    benjamini_hochberg,
    trend_q_values,
)
from sipas_analysis.findings.importance import IPA_COLUMNS, importance_performance
from sipas_analysis.findings.ranks import commune_ranks
from sipas_analysis.findings.reasons import REASON_CODES
from sipas_analysis.findings.surveys import papi_weak_points, sipas_weak_points
from sipas_analysis.findings.table import (
    DEFAULT_N_LOWEST,
    FINDING_COLUMNS,
    TESTED_LEVELS,
    weak_points,
)

__all__ = [
    "COMMUNE_Q_SHARE",
    "DEFAULT_N_LOWEST",
    "FINDING_COLUMNS",
    "IPA_COLUMNS",
    "REASON_CODES",
    "TESTED_LEVELS",
    "TOP_LEVELS",
    "benjamini_hochberg",
    "trend_q_values",
    "rest_contrasts",
    "papi_weak_points",
    "importance_performance",
    "commune_ranks",
    "weak_points",
    "sipas_weak_points",
]
