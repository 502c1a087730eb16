"""The PAPI conventions: codes and labels of the totals, aggregations, interval conventions,
:class:`PapiOptions` and the sub-dimension formula (:func:`subdimension_score`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from sipas_analysis.design import LONELY_PSU_RULES
from sipas_analysis.errors import SipasError
from sipas_analysis.estimate import DF_RULES, MIN_N, SMALL_N
from sipas_analysis.indices.common import (
    check_choice,
)

__all__ = [
    "AGGREGATIONS",
    "CI_CONVENTIONS",
    "CI_METHOD_PAPI",
    "PAPI_Z",
    "PapiOptions",
    "TOTAL_CODE",
    "TOTAL_LABEL",
    "WEIGHTED_CODE",
    "WEIGHTED_LABEL",
    "subdimension_score",
]


#: Multiplier of PAPI's published "95%" bounds: score ± 1.645·SE (a 90% interval).
PAPI_Z = 1.645
TOTAL_CODE = "papi"
WEIGHTED_CODE = "papi_weighted"
TOTAL_LABEL = "Chỉ số PAPI tổng hợp (không có trọng số)"
WEIGHTED_LABEL = "Chỉ số PAPI tổng hợp (có trọng số)"
AGGREGATIONS = ("respondent", "indicator_means")
CI_CONVENTIONS = ("t", "normal", "papi")
CI_METHOD_PAPI = "papi_1.645se"
_PAPI_NOTE = 'Khoảng "95%" theo cách PAPI công bố: ±1,645·SE (thực chất khoảng tin cậy 90%)'


@dataclass(frozen=True)
class PapiOptions:
    """Choices behind the PAPI indices; each unpublished rule is a named option.

    Attributes
    ----------
    aggregation : {"respondent", "indicator_means"}
        How a sub-dimension is formed from respondent data. ``"respondent"`` (default,
        docs/methodology.md, section 3; inferred): each respondent's weighted mean of the rescaled
        indicators he or she answered (conditional items count only where they apply), turned
        into :math:`S_i = 1/K + (9/K)\\bar z_i`, then the weighted mean over respondents with at
        least one answered indicator. ``"indicator_means"``: the weighted mean of each indicator
        first, then formula (2) on those means (what :func:`papi_from_indicator_means` does with
        published means).
    clip : bool
        Values outside the natural scale [a, b] (continuous indicators such as distance to
        school, whose published scale is the range of provincial medians) are clipped to [a, b]
        before rescaling (default True; the official rule is [unknown]). False: such values are
        an InputError.
    rounded_one_over_k : tuple of str
        Sub-dimensions scored as :math:`r(1 + 9\\bar z)` with :math:`r` = 1/K rounded to two
        decimals (0.33 for K = 3), as the 2019 publication did for ``d3_2``, ``d8_1``, ``d8_2``.
        Default empty: the exact formula.
    dimension_weights_year : int
        Year of the published dimension weights (instrument data) used for the weighted total
        (default 2019, the only published set). No weighted total when the instrument has none.
    ci : {"t", "normal", "papi"}
        Interval. ``"t"`` (default): the engine's :math:`\\pm t_{df}\\,SE` at ``ci_level``;
        ``"normal"``: :math:`\\pm z_{1-\\alpha/2}\\,SE`; ``"papi"``: PAPI's published "95%"
        convention :math:`\\pm 1.645\\,SE`, labelled ``ci_method = "papi_1.645se"`` with
        ``ci_level = 0.90`` (its true level).
    apply_filters : bool
        Answers to conditional indicators from respondents to whom the filter says they do not
        apply are set to missing (default True).
    include_indicators : bool
        Add indicator rows (weighted mean of the answers on their natural scale; shares as 0–1).
    lonely_psu, ci_level, df, small_n, min_n
        As in :class:`~sipas_analysis.indices.sipas.SipasOptions`.
    """

    aggregation: str = "respondent"
    clip: bool = True
    rounded_one_over_k: tuple[str, ...] = ()
    dimension_weights_year: int = 2019
    ci: str = "t"
    apply_filters: bool = True
    include_indicators: bool = True
    lonely_psu: str = "adjust"
    ci_level: float = 0.95
    df: str = "design"
    small_n: int = SMALL_N
    min_n: int = MIN_N
    ci_method: str = field(default="logit", repr=False)

    def __post_init__(self) -> None:
        check_choice("aggregation", self.aggregation, AGGREGATIONS)
        check_choice("ci", self.ci, CI_CONVENTIONS)
        check_choice("lonely_psu", self.lonely_psu, LONELY_PSU_RULES)
        check_choice("df", self.df, DF_RULES)
        if not 0 < self.ci_level < 1:
            raise SipasError(f"ci_level must lie strictly between 0 and 1, not {self.ci_level!r}")
        object.__setattr__(self, "rounded_one_over_k", tuple(self.rounded_one_over_k))

    def as_dict(self) -> dict:
        """The options as a plain dict (for a run manifest)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def subdimension_score(mean_z, k: int, *, rounded: bool = False):
    """PAPI sub-dimension score from the mean rescaled indicator.

    Parameters
    ----------
    mean_z : float or array_like
        Mean of the rescaled indicators, in [0, 1].
    k : int
        Number of sub-dimensions of the dimension in that year.
    rounded : bool
        Use 1/K rounded to two decimals, as published for some 2019 sub-dimensions.

    Returns
    -------
    float or ndarray
        :math:`S = 1/K + (9/K)\\,\\bar z` (1/K … 10/K); rounded: :math:`r + 9r\\bar z`,
        :math:`r = \\operatorname{round}(1/K, 2)`.

    Examples
    --------
    >>> round(subdimension_score(0.5, 4), 6)   # 0.25 + 2.25 * 0.5
    1.375
    >>> round(subdimension_score(0.5, 3, rounded=True), 6)   # 0.33 + 2.97 * 0.5
    1.815
    """
    if k < 1:
        raise SipasError(f"K (sub-dimensions in the dimension) must be >= 1, not {k}")
    r = round(1.0 / k, 2) if rounded else 1.0 / k
    if np.ndim(mean_z):
        return r + 9.0 * r * np.asarray(mean_z, dtype=float)
    return r + 9.0 * r * float(mean_z)
