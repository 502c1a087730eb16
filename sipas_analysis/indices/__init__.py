"""SIPAS and PAPI indices of a survey wave, and PAPI recomputed from official indicator means.

``sipas_indices`` and ``papi_indices`` turn the canonical respondent table of one wave into the
long estimates table (one row per unit, subgroup and index, with design-based SE and CI);
``papi_from_indicator_means`` applies the PAPI aggregation to published provincial indicator means.
"""

from sipas_analysis.indices.papi import (
    PapiOptions,
    papi_aggregate,
    papi_from_indicator_means,
    papi_indices,
    papi_interval_conventions,
    papi_reproduction_check,
    subdimension_score,
)
from sipas_analysis.indices.sipas import (
    ESTIMATE_COLUMNS,
    IndexWarning,
    SipasOptions,
    answer_distribution,
    sipas_indices,
)

__all__ = [
    "ESTIMATE_COLUMNS",
    "IndexWarning",
    "PapiOptions",
    "SipasOptions",
    "answer_distribution",
    "papi_aggregate",
    "papi_from_indicator_means",
    "papi_indices",
    "papi_interval_conventions",
    "papi_reproduction_check",
    "sipas_indices",
    "subdimension_score",
]
