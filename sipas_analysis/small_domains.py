"""Commune figures that keep their promises: the pooled village-correlation variance model.

A commune is surveyed in two to four villages. Its direct design-based standard error rests on one
to three degrees of freedom: it is often far too small, sometimes zero, and an interval or a test
built on it does not keep its error rate. Treating the respondents as independent ignores that
people of one village answer alike. This module applies, **once, where the indices are computed**
(:func:`sipas_analysis.pipeline.indices_for`), a variance model pooled across the communes of a
wave:

1. :func:`design_variants` recomputes the indices under two auxiliary designs that differ only in
   their PSUs: villages sampled within each commune (the commune as a stratum, the village as the
   PSU) and respondents within each commune. Both keep the weights.
2. :func:`pooled_icc` estimates, per wave and index, one village intraclass correlation
   :math:`\\hat\\rho` from all communes together (a moment estimator on the ratio of the two
   variances, see Notes), with the degrees of freedom of the pooled estimate.
3. :func:`apply_variance_model` gives every commune cell the variance
   :math:`\\hat V_c = \\{1 + (\\bar m_c - 1)\\hat\\rho\\}\\,\\hat V_{resp,c}` and a Korn–Graubard
   interval on the effective sample size (a t interval for PAPI points) with the pooled degrees of
   freedom. The direct design-based SE stays beside it (``se_design``). For areas and the whole
   survey area the same model SE is a floor under the direct one.

The rule is a named option (:data:`VARIANCE_RULES`, recorded in the run manifest). Simulations of
its coverage and of the false-flag rate of the tests built on it: ``benchmarks/sim_commune_inference.py``.
Plain-language account: ``docs/methodology.md`` ("Xã: mô hình phương sai gộp").

References
----------
Kish, L. (1965). *Survey Sampling*, §5.4 (design effect of cluster samples, ``1 + (m-1)ρ``).
Wolter, K. M. (2007). *Introduction to Variance Estimation*, 2nd ed., ch. 7 (generalised variance
functions). Korn, E. L. and Graubard, B. I. (1998). Confidence intervals for proportions with
small expected number of positive counts estimated from survey data. *Survey Methodology* 24.
Rao, J. N. K. and Molina, I. (2015). *Small Area Estimation*, 2nd ed., §6.1 (smoothed sampling
variances for area-level models).

Examples
--------
>>> import pandas as pd
>>> est = pd.DataFrame({"wave": "2024", "survey": "sipas", "level": "commune",
...     "unit_code": ["1", "2"], "subgroup": "", "index_code": "q", "estimate": [80.0, 70.0],
...     "se": [1.0, 0.0], "ci_low": [78.0, 70.0], "ci_high": [82.0, 70.0], "ci_level": 0.95,
...     "n": [30, 30], "n_psu": [3, 3], "df": [100.0, 100.0]})
>>> var = pd.DataFrame({"wave": "2024", "level": "commune", "unit_code": ["1", "2"],
...     "index_code": "q", "se_within": [12.0, 13.0], "se_respondent": [7.0, 8.0],
...     "n_psu_within": [3, 3]})
>>> out = apply_variance_model(est, var)
>>> bool((out["se"] > out["se_respondent"]).all()), bool((out["ci_high"] > out["ci_low"]).all())
(True, True)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate import _clopper_pearson, proportion_ci

__all__ = [
    "VARIANCE_RULES",
    "modelled_indices",
    "DEFAULT_VARIANCE_RULE",
    "design_variants",
    "pooled_icc",
    "apply_variance_model",
]

#: Variance rules for commune cells: ``pooled_icc`` (default, this module) or ``design`` (the
#: direct design-based SE, unchanged: for comparison only).
VARIANCE_RULES = ("pooled_icc", "design")
DEFAULT_VARIANCE_RULE = "pooled_icc"
#: Communes with fewer valid answers do not enter the pooled estimate (their cells are
#: suppressed anyway).
MIN_N_POOL = 10
_KEYS = ["wave", "level", "unit_code", "index_code"]


def modelled_indices(
    respondents: pd.DataFrame,
    indices: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    rule: str = DEFAULT_VARIANCE_RULE,
) -> pd.DataFrame:
    """The estimates of ``indices(respondents)`` with the variance model applied to communes.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one wave. Not modified.
    indices : callable
        ``indices(respondents) -> estimates table``, e.g. ``lambda d: sipas_indices(d)``.
    rule : {"pooled_icc", "design"}

    Returns
    -------
    pandas.DataFrame
        :func:`apply_variance_model` of the indices and their :func:`design_variants`.
    """
    variants = design_variants(respondents, indices)
    return apply_variance_model(indices(respondents), variants, rule=rule)


def design_variants(
    respondents: pd.DataFrame,
    indices: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    unit: str = "commune_code",
    psu: str = "psu",
    strata: str = "stratum",
    id_column: str = "respondent_id",
) -> pd.DataFrame:
    """Commune SEs under the two auxiliary designs of the variance model.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one wave (PSU codes unique within commune). Not modified.
    indices : callable
        ``indices(respondents) -> estimates table`` (the run's index function).
    unit, psu, strata, id_column : str
        Commune, village (PSU), stratum and respondent-id columns.

    Returns
    -------
    pandas.DataFrame
        ``wave, level, unit_code, index_code, se_within, se_respondent, n_psu_within``: the SE
        with the commune as the stratum and its villages as the PSUs, the SE with the commune as
        the stratum and every respondent its own PSU, and the number of villages with a valid
        answer (every level, no subgroups).

    Notes
    -----
    With the commune as a stratum, the variance of a commune figure is the one of villages sampled
    within the commune, :math:`\\frac{m}{m-1}\\sum_j (z_j-\\bar z)^2` over its :math:`m`
    villages; with the area as the stratum (the usual design of the survey files) the factor is
    that of the area's villages, about 1 instead of :math:`m/(m-1)` = 1.5 for three villages, so
    the direct SE of a commune is too small on average as well as unstable.
    """
    for col in (unit, psu, id_column):
        if col not in respondents.columns:
            raise InputError(f"column {col!r} not in the respondent table", column=col)
    code = respondents[unit]
    stratum = code.astype("string").fillna("__none__")
    if strata in respondents.columns:
        # rows without a commune keep their own stratum (they only enter area/total cells)
        stratum = stratum.where(code.notna(), "s:" + respondents[strata].astype("string"))
    frames = {}
    for name, psu_values in (
        ("within", respondents[psu].astype("string")),
        ("respondent", respondents[id_column].astype("string")),
    ):
        variant = respondents.assign(
            **{strata: stratum, psu: stratum + "|" + psu_values.fillna("NA")}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = indices(variant)
        if "subgroup" in est.columns:
            est = est[est["subgroup"].fillna("") == ""]
        frames[name] = pd.DataFrame(
            {
                "wave": est["wave"].astype(str).to_numpy(),
                "level": est["level"].to_numpy(),
                "unit_code": est["unit_code"].astype(str).to_numpy(),
                "index_code": est["index_code"].to_numpy(),
                f"se_{name}": est["se"].to_numpy(dtype=float),
                **({"n_psu_within": est["n_psu"].to_numpy()} if name == "within" else {}),
            }
        ).drop_duplicates(_KEYS)
    return frames["within"].merge(frames["respondent"], on=_KEYS, how="outer")


def pooled_icc(cells: pd.DataFrame) -> pd.DataFrame:
    """One village intraclass correlation per wave and index, pooled across the communes.

    Parameters
    ----------
    cells : pandas.DataFrame
        Commune cells with ``wave, survey, index_code, n, se_within, se_respondent,
        n_psu_within`` (:func:`design_variants` merged with the estimates).

    Returns
    -------
    pandas.DataFrame
        ``wave, survey, index_code, icc, df_model, n_communes_model``.

    Notes
    -----
    Under a one-way random-effects model with village effects, a commune figure based on
    :math:`m_c` villages of about :math:`\\bar m_c = n_c/m_c` respondents each has
    :math:`E\\,\\hat V_{within,c} \\approx \\{1+(\\bar m_c-1)\\rho\\}\\,V_{resp,c}` (Kish 1965).
    Summing over the communes :math:`c` with two or more villages and at least
    :data:`MIN_N_POOL` answers:

    .. math:: \\hat\\rho = \\max\\Big(0,\\ \\frac{\\sum_c (\\hat V_{within,c}-\\hat V_{resp,c})}
              {\\sum_c (\\bar m_c - 1)\\,\\hat V_{resp,c}}\\Big),

    truncated at 1. Each :math:`\\hat V_{within,c}` has :math:`m_c-1` degrees of freedom; the
    pooled estimate has :math:`\\nu = \\sum_c (m_c - 1)` (``df_model``).
    """
    need = ["wave", "survey", "index_code", "n", "se_within", "se_respondent", "n_psu_within"]
    miss = [c for c in need if c not in cells.columns]
    if miss:
        raise InputError(f"the commune cells lack column(s) {miss}", column=miss[0])
    n = cells["n"].to_numpy(dtype=float)
    m = cells["n_psu_within"].to_numpy(dtype=float)
    vw = cells["se_within"].to_numpy(dtype=float) ** 2
    vr = cells["se_respondent"].to_numpy(dtype=float) ** 2
    use = (n >= MIN_N_POOL) & (m >= 2) & np.isfinite(vw) & np.isfinite(vr) & (vr > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mbar = n / m
    frame = pd.DataFrame(
        {
            "wave": cells["wave"].astype(str).to_numpy(),
            "survey": cells["survey"].to_numpy(),
            "index_code": cells["index_code"].to_numpy(),
            "_num": np.where(use, vw - vr, 0.0),
            "_den": np.where(use, (mbar - 1) * vr, 0.0),
            "_df": np.where(use, m - 1, 0.0),
            "_k": use.astype(int),
        }
    )
    g = frame.groupby(["wave", "survey", "index_code"], sort=False, as_index=False)[
        ["_num", "_den", "_df", "_k"]
    ].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        icc = np.where(g["_den"] > 0, g["_num"] / g["_den"], 0.0)
    return pd.DataFrame(
        {
            "wave": g["wave"],
            "survey": g["survey"],
            "index_code": g["index_code"],
            "icc": np.clip(icc, 0.0, 1.0),
            "df_model": g["_df"].astype(float),
            "n_communes_model": g["_k"].astype(int),
        }
    )


def apply_variance_model(
    estimates: pd.DataFrame,
    variants: pd.DataFrame,
    *,
    rule: str = DEFAULT_VARIANCE_RULE,
    percent_surveys: tuple[str, ...] = ("sipas",),
) -> pd.DataFrame:
    """Estimates whose commune cells carry the pooled-ICC variance and its interval.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Estimates table of one or more waves (contract columns with ``n, n_psu, df``). Not
        modified.
    variants : pandas.DataFrame
        :func:`design_variants` output for the same waves.
    rule : {"pooled_icc", "design"}
        ``"design"`` keeps the direct SE (the columns are added all the same).
    percent_surveys : tuple of str
        Surveys whose values are percentages (Korn–Graubard intervals); others get t intervals.

    Returns
    -------
    pandas.DataFrame
        A copy with ``se_design`` (the direct design-based SE), ``se_respondent``, ``icc``,
        ``deff_model`` and ``variance_rule`` added. Under ``pooled_icc``, commune rows without
        subgroup get ``se``, ``df`` (= ``df_model``), ``ci_low``, ``ci_high`` and ``ci_method``
        from the model; area and whole-area rows get them where the model SE is larger than the
        direct one (a floor: with two communes of two villages an area's direct SE is unstable
        too). Subgroup rows keep their design-based values.

    Raises
    ------
    SipasError
        Unknown rule.

    Notes
    -----
    :math:`\\hat V_c = d_c\\,\\hat V_{resp,c}` with :math:`d_c = 1+(\\bar m_c-1)\\hat\\rho`
    (:func:`pooled_icc`). Percent cells get the Korn–Graubard interval (R
    ``svyciprop(method="beta")``) with :math:`\\nu` = ``df_model``; where the estimate is 0 or
    100 % or every answer is alike (:math:`\\hat V_{resp}=0`), the Clopper–Pearson interval on
    :math:`n/d_c` answers, so that no interval has zero width. A commune whose answers sit in
    one village still gets a variance (:math:`\\bar m_c = n`).
    """
    if rule not in VARIANCE_RULES:
        raise SipasError(f"variance rule must be one of {VARIANCE_RULES}, not {rule!r}")
    out = estimates.copy()
    out["se_design"] = out["se"]
    out["variance_rule"] = rule
    key = out[_KEYS].astype(str)
    var = variants.copy()
    for c in _KEYS:
        var[c] = var[c].astype(str)
    merged = key.merge(
        var[_KEYS + ["se_within", "se_respondent", "n_psu_within"]], on=_KEYS, how="left"
    )
    if len(merged) != len(out):  # pragma: no cover - duplicate keys in variants
        raise SipasError("the variance variants hold a cell twice")
    sub = (
        out["subgroup"].fillna("").astype(str).to_numpy() == ""
        if "subgroup" in out.columns
        else np.ones(len(out), dtype=bool)
    )
    commune = (out["level"] == "commune").to_numpy() & sub
    larger = out["level"].isin(["area", "total"]).to_numpy() & sub
    out["se_respondent"] = np.where(
        commune | larger, merged["se_respondent"].to_numpy(dtype=float), np.nan
    )
    cells = out.loc[commune, ["wave", "survey", "index_code", "n"]].assign(
        wave=lambda d: d["wave"].astype(str),
        se_within=merged["se_within"].to_numpy(dtype=float)[commune],
        se_respondent=out["se_respondent"].to_numpy()[commune],
        n_psu_within=merged["n_psu_within"].to_numpy(dtype=float)[commune],
    )
    icc = pooled_icc(cells)
    par = (
        out[["wave", "survey", "index_code"]]
        .astype(str)
        .merge(icc.astype({"wave": str}), on=["wave", "survey", "index_code"], how="left")
    )
    rho = np.where(commune | larger, par["icc"].to_numpy(dtype=float), np.nan)
    n = out["n"].to_numpy(dtype=float)
    m = np.where(commune | larger, merged["n_psu_within"].to_numpy(dtype=float), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mbar = np.where(m >= 1, n / m, n)
    deff = 1 + (np.fmax(mbar, 1) - 1) * rho
    out["icc"] = rho
    out["deff_model"] = deff
    if rule == "design" or not commune.any():
        return out
    vr = out["se_respondent"].to_numpy(dtype=float) ** 2
    se = out["se"].to_numpy(dtype=float).copy()
    with np.errstate(invalid="ignore"):
        model_se = np.sqrt(deff * vr)
    # communes: the model replaces the direct SE; areas and the whole survey area (many
    # villages): the model is a floor under the direct SE
    sel = np.isfinite(model_se) & (commune | (larger & ~(se >= model_se)))
    se[sel] = model_se[sel]
    dfm = np.fmax(par["df_model"].to_numpy(dtype=float), 1.0)
    dfv = out["df"].to_numpy(dtype=float).copy() if "df" in out else np.full(len(out), np.inf)
    dfv[sel] = dfm[sel]
    out["se"], out["df"] = se, dfv
    est = out["estimate"].to_numpy(dtype=float)
    level = out["ci_level"].to_numpy(dtype=float) if "ci_level" in out else np.full(len(out), 0.95)
    lo = out["ci_low"].to_numpy(dtype=float).copy()
    hi = out["ci_high"].to_numpy(dtype=float).copy()
    method = (
        out["ci_method"].astype(object).to_numpy().copy()
        if "ci_method" in out
        else np.full(len(out), "", dtype=object)
    )
    pct = sel & out["survey"].isin(percent_surveys).to_numpy()
    for lev in np.unique(level[sel]):
        s_pct = pct & (level == lev)
        if s_pct.any():
            p = est[s_pct] / 100
            pl, ph = proportion_ci(
                p, se[s_pct] / 100, dfv[s_pct], float(lev), "korn-graubard", n[s_pct]
            )
            # 0 or 100 %, or no spread in the answers: Clopper-Pearson on n / d_c answers
            bad = np.isnan(pl) | np.isnan(ph)
            if bad.any():
                cl, ch = _clopper_pearson(
                    np.clip(p[bad], 0, 1), np.fmax(n[s_pct][bad] / deff[s_pct][bad], 1), lev
                )
                pl[bad], ph[bad] = cl, ch
            lo[s_pct], hi[s_pct] = pl * 100, ph * 100
            method[s_pct] = np.where(bad, "clopper-pearson-model", "korn-graubard-model")
        s_pts = sel & ~pct & (level == lev)
        if s_pts.any():
            tq = stats.t.ppf(1 - (1 - lev) / 2, dfv[s_pts])
            lo[s_pts] = est[s_pts] - tq * se[s_pts]
            hi[s_pts] = est[s_pts] + tq * se[s_pts]
            method[s_pts] = "t-model"
    out["ci_low"], out["ci_high"], out["ci_method"] = lo, hi, method
    return out
