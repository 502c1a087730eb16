"""Commune figures that keep their promises: a village variance pooled across the communes.

A commune is surveyed in two to four villages. Its direct design-based standard error rests on one
to three degrees of freedom: it is often far too small, sometimes zero, and an interval or a test
built on it does not keep its error rate. Treating the respondents as independent ignores that
people of one village answer alike. This module applies, **once, where the indices are computed**
(:func:`sipas_analysis.pipeline.indices_for`), a variance-components model whose village part is
pooled across the communes of a wave:

.. math:: \\hat V_c = \\hat V_{wv,c} + \\hat\\sigma^2_b\\, h_c ,
          \\qquad h_c = \\sum_{j \\in c} (W_j / W_c)^2 ,

where :math:`\\hat V_{wv,c}` is the commune's variance from the spread of answers *within* its
villages (many degrees of freedom: its own data, its own level of satisfaction),
:math:`\\hat\\sigma^2_b` the variance *between* villages, one value per wave and index estimated
from all communes together, and :math:`h_c` the sum of the squared weight shares of the commune's
villages (1/m for m villages of equal weight). For percent indices (SIPAS) the village effects
add up on the logit scale: the formula holds for :math:`\\operatorname{logit}(\\hat p_c)`, with
:math:`\\hat V_{wv,c}` carried there by the delta method, so that a village of a commune near 50 %
moves it more points than one of a commune near 90 %, and the interval and the tests are built
on that scale (:func:`comparison_scale`). On the percent scale the few villages of a commune give
its figure a long lower tail (one poor village pulls it down further than a good one lifts it);
on the logit scale it is close to symmetric. PAPI points stay on their own scale.

1. :func:`design_variants` recomputes the indices under three auxiliary designs that keep the
   weights and differ in their strata and PSUs: villages sampled within each commune (commune =
   stratum, village = PSU), respondents within each commune, and respondents within each
   village (village = stratum).
2. :func:`pooled_village_variance` estimates :math:`\\hat\\sigma^2_b` per wave and index by the
   method of moments, with its degrees of freedom, and the implied intraclass correlation.
3. :func:`apply_variance_model` gives every commune cell :math:`\\hat V_c`, Satterthwaite degrees
   of freedom and an interval that stays in 0–100 % (logit, t for PAPI points). The direct design-based SE stays beside it (``se_design``).
   For the areas and the whole survey area the same model is a floor under the direct SE.

The rule is a named option (:data:`VARIANCE_RULES`, recorded in the run manifest). Simulation of
its coverage and of the error rates of the tests built on it: ``benchmarks/sim_commune_inference.py``.
Plain language: ``docs/methodology.md``, section "Xã".

References
----------
Kish, L. (1965). *Survey Sampling*, §5.4 and §9.4 (variance components of cluster samples).
Searle, S. R., Casella, G. and McCulloch, C. E. (1992). *Variance Components*, ch. 3 (ANOVA
estimators). Satterthwaite, F. E. (1946). An approximate distribution of estimates of variance
components. *Biometrics Bulletin* 2. Korn, E. L. and Graubard, B. I. (1998). Confidence intervals
for proportions with small expected number of positive counts estimated from survey data.
*Survey Methodology* 24 (the Clopper–Pearson interval on an effective number). Rao, J. N. K. and Molina, I. (2015). *Small Area Estimation*, 2nd ed.,
§6.1 (smoothed sampling variances), ch. 6 (Fay–Herriot).

Examples
--------
>>> import pandas as pd
>>> est = pd.DataFrame({"wave": "2024", "survey": "sipas", "level": "commune",
...     "unit_code": ["1", "2"], "subgroup": "", "index_level": "item", "index_code": "q",
...     "estimate": [80.0, 70.0], "se": [1.0, 0.0], "ci_low": [78.0, 70.0],
...     "ci_high": [82.0, 70.0], "ci_level": 0.95, "n": [30, 30], "df": [100.0, 100.0]})
>>> var = pd.DataFrame({"wave": "2024", "level": "commune", "unit_code": ["1", "2"],
...     "index_code": "q", "se_within": [9.0, 10.0], "se_respondent": [7.0, 8.0],
...     "se_village": [6.0, 7.0], "n_psu_within": [3, 3], "village_h": [1 / 3, 1 / 3]})
>>> out = apply_variance_model(est, var)
>>> bool((out["se"] > out["se_village"]).all()), bool((out["ci_high"] > out["ci_low"]).all())
(True, True)

The package, by step: :mod:`~sipas_analysis.small_domains.options` (rules and limits),
:mod:`~sipas_analysis.small_domains.variants` (the auxiliary designs),
:mod:`~sipas_analysis.small_domains.variance` (the pooled village variance, the model of every
cell), :mod:`~sipas_analysis.small_domains.intervals` (commune intervals),
:mod:`~sipas_analysis.small_domains.model` (Fay–Herriot) and
:mod:`~sipas_analysis.small_domains.modelled` (all of them in one call).
"""

from __future__ import annotations

from sipas_analysis.small_domains.intervals import jeffreys_interval_centred, logit_interval_centred
from sipas_analysis.small_domains.model import model_estimates
from sipas_analysis.small_domains.modelled import modelled_indices
from sipas_analysis.small_domains.options import (
    BINARY_STATISTICS,
    DEFAULT_VARIANCE_RULE,
    MODEL_COLUMNS,
    PERCENT_SURVEYS,
    VARIANCE_RULES,
)
from sipas_analysis.small_domains.variance import (
    apply_variance_model,
    comparison_scale,
    null_level_variance,
    pooled_village_variance,
)
from sipas_analysis.small_domains.variants import design_variants

__all__ = [
    "PERCENT_SURVEYS",
    "VARIANCE_RULES",
    "DEFAULT_VARIANCE_RULE",
    "MODEL_COLUMNS",
    "modelled_indices",
    "design_variants",
    "pooled_village_variance",
    "apply_variance_model",
    "model_estimates",
    "comparison_scale",
    "null_level_variance",
    "logit_interval_centred",
    "jeffreys_interval_centred",
    "BINARY_STATISTICS",
]
