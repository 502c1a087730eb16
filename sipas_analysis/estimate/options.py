"""The options and limits of the estimation engine: statistics, default codes, interval methods,
degrees-of-freedom rules, the small-cell limits and the memory limits of the score matrices."""

from __future__ import annotations

__all__ = [
    "CHUNK_VALUES",
    "CI_METHODS",
    "DEFAULT_POSITIVE",
    "DEFAULT_TOP_BOX",
    "DF_RULES",
    "EXACT_SCORE_VALUES",
    "SMALL_N",
    "STATISTICS",
]


#: Statistics the engine computes.
STATISTICS = ("top2", "prop", "mean")
#: Default top-box codes of a 5-point satisfaction scale: 4 "Hài lòng", 5 "Rất hài lòng".
DEFAULT_TOP_BOX = (4, 5)
#: Default "positive" code for ``statistic="prop"`` (1 = "Có"/yes, or 1 of a 0/1 item).
DEFAULT_POSITIVE = (1,)
CI_METHODS = ("logit", "korn-graubard")
DF_RULES = ("design", "domain")
SMALL_N = 30
# MIN_N (fewest respondents of a published cell) is defined with the publication rules, in
# sipas_analysis.disclosure, and exported by sipas_analysis.estimate too.
#: Largest score matrix (stored values) kept in the PSU layout, with every covariance; above it
#: each domain keeps its own compact block (:meth:`~sipas_analysis.design.SurveyDesign.scores`).
EXACT_SCORE_VALUES = 1_000_000
#: Values per temporary array of the engine (item columns are processed in passes).
CHUNK_VALUES = 2_000_000

_PERCENT = {"top2": True, "prop": True, "mean": False}
