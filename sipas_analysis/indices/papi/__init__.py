"""PAPI indices: from respondent data (with design-based SE/CI) and from official indicator means.

The PAPI aggregation (docs/methodology.md, section 3):

1. indicator rescaled on its natural scale [a, b]: :math:`z = (x-a)/(b-a)`, :math:`z = 1-z` for
   a negative indicator;
2. sub-dimension :math:`S = 1/K + (9/K)\\,\\bar z` with K the number of sub-dimensions of its
   dimension in that year (1/K … 10/K);
3. dimension :math:`D = \\sum S` (1–10); 4. PAPI :math:`= \\sum D` (8–80); 5. weighted PAPI
   :math:`= \\sum w_d D_d` with the published dimension weights (instrument data, 2019).

:func:`papi_indices` computes them from a wave's respondent table (conditional items scored over
the respondents they apply to, at respondent level, then averaged; every SE from the engine,
sums by linearisation with the covariance). :func:`papi_from_indicator_means` applies the same
formula to published provincial indicator means (``official.read_papi_workbook``),
:func:`papi_aggregate` sums sub-dimensions into dimensions and totals, and
:func:`papi_interval_conventions` shows an estimate with a true 95% interval and with PAPI's
published "95%" convention (± 1.645·SE, in fact a 90% interval).

Reproduction of the official 2019 provincial sub-dimensions from the published indicator means
(:func:`papi_reproduction_check`, tested for all 63 provinces): exactly linear in the published
means are 1.1, 3.2, 3.3, 4.1, 4.3, 7.2, 7.3, 8.1 and 8.2. With the instrument's scales, directions
and weights, formula (2) reproduces 3.2, 4.1, 4.3, 7.2, 7.3, 8.1, 8.2 (3.2, 8.1 and 8.2 were
published with 1/K rounded to 0.33: :math:`0.33\\,(1 + 9\\bar z)`, option
``rounded_one_over_k``), and 1.1 if its first indicator is scored on [0, 2]
(``item_overrides``). 3.3 is linear but not of form (2) (published :math:`0.22 + 0.99(x_1+x_2)`).
The other sub-dimensions are not linear in the published means (aggregated at respondent level
over conditional items, or other unpublished rules); 6.3 and 6.4 come closest (free linear fit
residual about 1e-3).

The package, by stage: :mod:`~sipas_analysis.indices.papi.options` (conventions and the
sub-dimension formula), :mod:`~sipas_analysis.indices.papi.structure` (scales, directions,
weights), :mod:`~sipas_analysis.indices.papi.respondents` (from respondent data),
:mod:`~sipas_analysis.indices.papi.published` (from published indicator means) and
:mod:`~sipas_analysis.indices.papi.intervals` (interval conventions, reproduction check).
"""

from __future__ import annotations

from sipas_analysis.indices.papi.intervals import papi_interval_conventions, papi_reproduction_check
from sipas_analysis.indices.papi.options import PAPI_Z, PapiOptions, subdimension_score
from sipas_analysis.indices.papi.published import papi_aggregate, papi_from_indicator_means
from sipas_analysis.indices.papi.respondents import papi_indices

__all__ = [
    "PAPI_Z",
    "PapiOptions",
    "subdimension_score",
    "papi_indices",
    "papi_aggregate",
    "papi_from_indicator_means",
    "papi_interval_conventions",
    "papi_reproduction_check",
]
