"""Model-based commune estimates (Fay–Herriot) beside the direct ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sipas_analysis.small_domains.options import (
    FH_METHOD,
    MIN_AREAS_MODEL,
    MIN_N_POOL,
    MODEL_COLUMNS,
)

__all__ = [
    "model_estimates",
]


def model_estimates(estimates: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Model-based commune estimates (ước lượng mô hình) beside the direct ones: Fay–Herriot.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Estimates table with the variance model (:func:`apply_variance_model`). Not modified.
    alpha : float
        1 - confidence level of the model-based intervals.

    Returns
    -------
    pandas.DataFrame
        A copy with :data:`MODEL_COLUMNS` filled on the commune rows without subgroup that have
        at least 10 answers, for every wave and index with at least :data:`MIN_AREAS_MODEL`
        such communes (NaN elsewhere).

    Notes
    -----
    Per wave and index, the area-level model of Fay and Herriot (1979),
    :math:`y_c = x_c'\\beta + v_c + e_c` with :math:`v_c \\sim N(0, \\sigma_v^2)` and the sampling
    variance of :math:`e_c` known from the variance model, is fitted by adjusted REML
    (:func:`sipas_analysis.small_area.fay_herriot`, :data:`FH_METHOD`). :math:`x_c` holds one indicator per area
    when every area has at least three such communes (the commune is then drawn towards its
    own area), else an intercept. Percent indices are modelled on the arcsine-square-root scale
    (:func:`sipas_analysis.small_area.fay_herriot_proportions`) with the effective sample size
    :math:`n^*_c = \\hat p_c(1-\\hat p_c)/\\hat V_c` (``n / deff_model`` where the share is 0
    or 100 %), PAPI points on their own scale. ``shrinkage`` is :math:`\\gamma_c =
    \\hat\\sigma_v^2/(\\hat\\sigma_v^2 + D_c)`, the weight of the commune's own data (1: the
    direct estimate, 0: the area's model value). ``se_model`` is the root of the Prasad–Rao MSE.
    """
    from sipas_analysis import small_area

    out = estimates.reset_index(drop=True)
    cols = {c: np.full(len(out), np.nan) for c in MODEL_COLUMNS}
    sub = (
        out["subgroup"].fillna("").astype(str) == ""
        if "subgroup" in out.columns
        else pd.Series(True, index=out.index)
    )
    cand = out[
        (out["level"] == "commune")
        & sub
        & (pd.to_numeric(out["n"], errors="coerce") >= MIN_N_POOL)
        & out["estimate"].notna()
        & out["se"].notna()
    ]
    z = stats.norm.ppf(1 - alpha / 2)
    for (_, survey, _), g in cand.groupby(["wave", "survey", "index_code"], sort=False):
        if len(g) < MIN_AREAS_MODEL:
            continue
        area = g["area_code"].astype(str) if "area_code" in g.columns else pd.Series("", g.index)
        counts = area.value_counts()
        X = None
        if len(counts) > 1 and counts.min() >= 3 and len(g) - len(counts) >= 3:
            X = pd.get_dummies(area).to_numpy(dtype=float)
        est = g["estimate"].to_numpy(dtype=float)
        se = g["se"].to_numpy(dtype=float)
        try:
            if survey == "sipas":
                p = np.clip(est / 100, 0, 1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    n_eff = p * (1 - p) / (se / 100) ** 2
                deff = g["deff_model"].fillna(1.0).clip(lower=1.0).to_numpy(dtype=float)
                fallback = g["n"].to_numpy(dtype=float) / deff
                n_eff = np.where(np.isfinite(n_eff) & (n_eff > 0), n_eff, fallback)
                res = small_area.fay_herriot_proportions(
                    est, np.fmax(n_eff, 1.0), X, FH_METHOD, alpha=alpha, percent=True
                ).table
                vals = {
                    "estimate_model": res["estimate"],
                    "se_model": res["rmse"],
                    "ci_low_model": res["ci_low"],
                    "ci_high_model": res["ci_high"],
                    "shrinkage": res["gamma"],
                }
            else:
                if not (se > 0).all():
                    continue
                fit = small_area.fay_herriot(est, se**2, X, FH_METHOD)
                rmse = np.sqrt(fit.mse)
                vals = {
                    "estimate_model": fit.eblup,
                    "se_model": rmse,
                    "ci_low_model": fit.eblup - z * rmse,
                    "ci_high_model": fit.eblup + z * rmse,
                    "shrinkage": fit.gamma,
                }
        except (small_area.SmallAreaInputError, np.linalg.LinAlgError):
            continue  # no model for this index: the direct estimates stand alone
        rows = g.index.to_numpy()
        for c, v in vals.items():
            cols[c][rows] = np.asarray(v, dtype=float)
    return out.assign(**cols).set_axis(estimates.index)
