"""The one call where the indices are computed: the variance model, then the Fay–Herriot estimates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from sipas_analysis.small_domains.model import model_estimates
from sipas_analysis.small_domains.options import DEFAULT_VARIANCE_RULE
from sipas_analysis.small_domains.variance import apply_variance_model
from sipas_analysis.small_domains.variants import design_variants

__all__ = [
    "modelled_indices",
]


def modelled_indices(
    respondents: pd.DataFrame,
    indices: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    rule: str = DEFAULT_VARIANCE_RULE,
    variant_indices: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """The estimates of ``indices(respondents)`` with the commune variance model and FH estimates.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one wave. Not modified.
    indices : callable
        ``indices(respondents) -> estimates table``, e.g. ``lambda d: sipas_indices(d)``.
    rule : {"pooled_villages", "design"}
    variant_indices : callable, optional
        The same indices without subgroups, for the auxiliary designs (whose subgroup rows are
        not used); default ``indices``.

    Returns
    -------
    pandas.DataFrame
        :func:`apply_variance_model` of the indices and their :func:`design_variants`, with
        ``weight_total`` (the sum of the weights of the unit's respondents: the population the
        unit stands for) on the commune, area and whole-area rows and the model-based commune
        estimates (:func:`model_estimates`).
    """
    variants = design_variants(respondents, variant_indices or indices)
    out = apply_variance_model(indices(respondents), variants, rule=rule)
    return model_estimates(_with_weight_totals(out, respondents))


def _with_weight_totals(estimates: pd.DataFrame, respondents: pd.DataFrame) -> pd.DataFrame:
    w = pd.to_numeric(respondents["weight"], errors="coerce")
    parts = [pd.DataFrame({"level": "total", "unit_code": ["total"], "weight_total": [w.sum()]})]
    for level, col in (("commune", "commune_code"), ("area", "area_code")):
        if col in respondents.columns:
            g = w.groupby(respondents[col].astype("string")).sum()
            parts.append(
                pd.DataFrame(
                    {"level": level, "unit_code": g.index.astype(str), "weight_total": g.values}
                )
            )
    totals = pd.concat(parts, ignore_index=True)
    key = estimates[["level", "unit_code"]].astype(str)
    merged = key.merge(totals, on=["level", "unit_code"], how="left")
    out = estimates.copy()
    out["weight_total"] = merged["weight_total"].to_numpy(dtype=float)
    if "subgroup" in out.columns:
        out.loc[out["subgroup"].fillna("").astype(str) != "", "weight_total"] = np.nan
    return out
