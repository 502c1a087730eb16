"""The options and limits of the commune variance model and the Fay–Herriot estimates."""

from __future__ import annotations

__all__ = [
    "PERCENT_SURVEYS",
    "VARIANCE_RULES",
    "DEFAULT_VARIANCE_RULE",
    "BINARY_STATISTICS",
    "MIN_N_POOL",
    "KEYS",
    "MODEL_COLUMNS",
    "MIN_AREAS_MODEL",
    "FH_METHOD",
]

#: Surveys whose indices are percentages (0–100): their village effects add up on the logit scale.
PERCENT_SURVEYS = ("sipas",)
#: Variance rules for commune cells: ``pooled_villages`` (default, this module) or ``design``
#: (the direct design-based SE, unchanged: for comparison only).
VARIANCE_RULES = ("pooled_villages", "design")
DEFAULT_VARIANCE_RULE = "pooled_villages"
#: Statistics of an item cell that is the share of one yes/no answer (binomial): its commune
#: interval is the Jeffreys interval on the effective number (:func:`jeffreys_interval_centred`).
BINARY_STATISTICS = ("top2", "proportion")
#: Communes with fewer valid answers do not enter the pooled estimate (their cells are
#: suppressed anyway).
MIN_N_POOL = 10
KEYS = ["wave", "level", "unit_code", "index_code"]
#: Columns of the model-based commune estimates (Fay–Herriot), beside the direct ones.
MODEL_COLUMNS = ["estimate_model", "se_model", "ci_low_model", "ci_high_model", "shrinkage"]
#: Fewest communes of a wave and index for the Fay–Herriot model.
MIN_AREAS_MODEL = 5
#: Estimator of the model's area variance: adjusted REML (Yoshimori and Lahiri 2014), never 0,
#: so that no commune is replaced by its area's synthetic value alone.
FH_METHOD = "AREML-YL"
