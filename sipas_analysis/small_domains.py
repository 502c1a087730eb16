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
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate.intervals import _clopper_pearson

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
_KEYS = ["wave", "level", "unit_code", "index_code"]
#: Columns of the model-based commune estimates (Fay–Herriot), beside the direct ones.
MODEL_COLUMNS = ["estimate_model", "se_model", "ci_low_model", "ci_high_model", "shrinkage"]
#: Fewest communes of a wave and index for the Fay–Herriot model.
MIN_AREAS_MODEL = 5
#: Estimator of the model's area variance: adjusted REML (Yoshimori and Lahiri 2014), never 0,
#: so that no commune is replaced by its area's synthetic value alone.
FH_METHOD = "AREML-YL"


def comparison_scale(estimate: np.ndarray, percent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scale on which commune figures are compared, and its derivative.

    Percent indices (``percent`` true) go to :math:`\\operatorname{logit}(p/100)`, whose
    derivative is :math:`100/(p(100-p))`; other indices stay as they are (derivative 1). At 0
    or 100 % both are NaN. Village effects add up on this scale (:func:`apply_variance_model`),
    so a difference of two figures divided by its delta-method SE there is close to symmetric
    even for communes of two or three villages; on the percent scale a commune's few villages
    give a long lower tail.

    >>> v, d = comparison_scale(np.array([50.0, 80.0, 100.0, 7.0]), np.array([True, True, True, False]))
    >>> [round(float(x), 4) for x in v[:2]], [round(float(x), 4) for x in d[:2]], bool(np.isnan(v[2]))
    ([0.0, 1.3863], [0.04, 0.0625], True)
    """
    x = np.asarray(estimate, dtype=float)
    pct = np.asarray(percent, dtype=bool)
    inside = (x > 0) & (x < 100)
    with np.errstate(invalid="ignore", divide="ignore"):
        val = np.where(pct, np.where(inside, np.log(x / (100 - x)), np.nan), x)
        der = np.where(pct, np.where(inside, 100 / (x * (100 - x)), np.nan), 1.0)
    return val, der


def null_level_variance(
    estimate: np.ndarray,
    variance: np.ndarray,
    variance_within: np.ndarray,
    level: np.ndarray,
    percent: np.ndarray,
) -> np.ndarray:
    """A cell's variance (percent scale) had its true value been ``level``: for tests of equality.

    A commune's variance under the model is :math:`A + B`: :math:`A` the spread of answers
    within its villages (``variance_within``, ``se_village`` squared), :math:`B` the village part,
    constant on the logit scale (:math:`B\\,g'(\\hat p)^2 = \\hat\\sigma^2_b h`). Both were taken at
    the commune's own estimate :math:`\\hat p`. A commune that drew a poor village has a low
    :math:`\\hat p` and, on the logit scale, a smaller :math:`A` (:math:`A g'^2 \\propto
    1/\\{\\hat p(1-\\hat p)\\}`): a Wald test then calls it "below the rest" too often. Under the
    null hypothesis of a test of equality every side has the parent's level :math:`p_0`, so, as
    in a score test, the variance is taken there:

    .. math:: V_0 = A \\frac{p_0(100-p_0)}{\\hat p(100-\\hat p)} + \\frac{B\\,g'(\\hat p)^2}{g'(p_0)^2}

    (the within part rescaled as a binomial variance, the village part moved from the logit
    scale at :math:`p_0`). Cells without ``variance_within`` (NaN) are rescaled whole; points
    (``percent`` false), or an estimate or level at 0 or 100 %, keep ``variance``.

    >>> v0 = null_level_variance(np.array([65.0]), np.array([16.0]), np.array([9.0]),
    ...                          np.array([80.0]), np.array([True]))
    >>> round(float(v0[0]), 3)   # 9 * 1600/2275 + 7 * (1600/2275)**2
    9.792
    """
    x = np.asarray(estimate, dtype=float)
    v = np.asarray(variance, dtype=float)
    a = np.asarray(variance_within, dtype=float)
    a = np.where(np.isfinite(a), np.fmin(a, v), v)
    _, d_x = comparison_scale(x, percent)
    _, d_0 = comparison_scale(level, percent)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = d_x / d_0  # = p0(100-p0) / (p(100-p)) for percents, 1 for points
        v0 = a * r + (v - a) * r**2
    return np.where(np.isfinite(v0), v0, v)


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


def design_variants(
    respondents: pd.DataFrame,
    indices: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    unit: str = "commune_code",
    psu: str = "psu",
    strata: str = "stratum",
    id_column: str = "respondent_id",
) -> pd.DataFrame:
    """SEs of the indices under the three auxiliary designs of the variance model.

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
        One row per (wave, level, unit, index) without subgroup: ``se_within`` (commune =
        stratum, village = PSU: villages sampled within the commune), ``se_respondent``
        (commune = stratum, respondents as the units), ``se_village`` (village = stratum,
        respondents as the units: the spread within villages only), ``n_psu_within`` (villages
        with a valid answer), and per unit ``n_unit`` (respondents), ``n_kish`` (their Kish
        effective number), ``village_h`` (:math:`h = \\sum_j (W_j/W)^2` over its villages) and
        ``village_c`` (:math:`c = \\frac{m}{m-1}(h - 2\\sum_j a_j^3 + h^2)`, :math:`a_j = W_j/W`:
        what the villages-within-commune estimator expects of a village effect's variance).

    Notes
    -----
    With the commune as a stratum, the variance of a commune figure is the one of villages
    sampled within the commune, :math:`\\frac{m}{m-1}\\sum_j (z_j-\\bar z)^2` over its :math:`m`
    villages. With the area as the stratum (the usual design of the survey files) the factor is
    that of the area's many villages, about 1 instead of :math:`m/(m-1)` = 1.5 for three
    villages: the direct SE of a commune is too small on average as well as unstable.
    """
    for col in (unit, psu, id_column):
        if col not in respondents.columns:
            raise InputError(f"column {col!r} not in the respondent table", column=col)
    code = respondents[unit]
    commune = code.astype("string").fillna("__none__")
    if strata in respondents.columns:
        # rows without a commune keep their own stratum (they only enter area/total cells)
        commune = commune.where(code.notna(), "s:" + respondents[strata].astype("string"))
    village = commune + "|" + respondents[psu].astype("string").fillna("NA")
    rid = respondents[id_column].astype("string")
    frames = []
    for name, st, ps in (
        ("within", commune, village),
        ("respondent", commune, commune + "|" + rid),
        ("village", village, village + "|" + rid),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = indices(respondents.assign(**{strata: st, psu: ps}))
        if "subgroup" in est.columns:
            est = est[est["subgroup"].fillna("") == ""]
        frame = pd.DataFrame(
            {
                "wave": est["wave"].astype(str).to_numpy(),
                "level": est["level"].to_numpy(),
                "unit_code": est["unit_code"].astype(str).to_numpy(),
                "index_code": est["index_code"].to_numpy(),
                f"se_{name}": est["se"].to_numpy(dtype=float),
            }
        )
        if name == "within":
            frame["n_psu_within"] = est["n_psu"].to_numpy()
        frames.append(frame.drop_duplicates(_KEYS))
    out = frames[0].merge(frames[1], on=_KEYS, how="outer").merge(frames[2], on=_KEYS, how="outer")
    return out.merge(
        _village_shares(respondents, unit, village), on=["level", "unit_code"], how="left"
    )


def _village_shares(respondents: pd.DataFrame, unit: str, village: pd.Series) -> pd.DataFrame:
    """Per commune (area, whole area): respondents, Kish effective number, :math:`\\sum_j (W_j/W)^2`."""
    w = pd.to_numeric(respondents["weight"], errors="coerce").fillna(0.0)
    levels = [("commune", respondents[unit].astype("string"))]
    if "area_code" in respondents.columns:
        levels.append(("area", respondents["area_code"].astype("string")))
    levels.append(("total", pd.Series("total", index=respondents.index, dtype="string")))
    parts = []
    for level, key in levels:
        frame = pd.DataFrame({"_u": key, "_v": village, "_w": w, "_w2": w**2}).dropna(subset=["_u"])
        g = frame.groupby("_u")
        wt = g["_w"].sum()
        per_v = frame.groupby(["_u", "_v"])["_w"].sum()
        a = per_v / wt.reindex(per_v.index.get_level_values(0)).to_numpy()
        h = (a**2).groupby(level=0).sum()
        a3 = (a**3).groupby(level=0).sum()
        m = a.groupby(level=0).size()
        with np.errstate(invalid="ignore", divide="ignore"):
            # E of the villages-within-commune estimator of a village effect's variance, per
            # unit of sigma2_b: m/(m-1) (h - 2 sum a^3 + h^2); = h when villages weigh alike
            c = (m / (m - 1) * (h - 2 * a3 + h**2)).where(m > 1)
        parts.append(
            pd.DataFrame(
                {
                    "level": level,
                    "unit_code": wt.index.astype(str),
                    "n_unit": g.size().reindex(wt.index).to_numpy(dtype=float),
                    "n_kish": (wt**2 / g["_w2"].sum()).to_numpy(dtype=float),
                    "village_h": h.reindex(wt.index).to_numpy(dtype=float),
                    "village_c": c.reindex(wt.index).to_numpy(dtype=float),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def pooled_village_variance(cells: pd.DataFrame) -> pd.DataFrame:
    """The between-village variance per wave and index, pooled across the communes.

    Parameters
    ----------
    cells : pandas.DataFrame
        Commune cells with ``wave, survey, index_code, n, se_within, se_village, n_psu_within,
        village_h`` (:func:`design_variants` merged with the estimates) and optionally
        ``scale``, the squared derivative of the scale on which village effects add up (for a
        percent index :math:`\\{100/(\\hat p(100-\\hat p))\\}^2`, the logit scale; 1 or absent:
        the index's own scale). Cells with a non-finite scale (0 or 100 %) are left out.

    Returns
    -------
    pandas.DataFrame
        ``wave, survey, index_code, sigma2_b, df_model, n_communes_model, icc``.

    Notes
    -----
    Under the one-way model with village effects :math:`u_j \\sim (0, \\sigma^2_b)`, the
    villages-within-commune variance estimates the whole variance of the commune figure and the
    within-village one its within part. With villages of unequal weight the former is biased
    down: it expects :math:`c_c` rather than :math:`h_c` times a village effect's variance
    (``village_c`` of :func:`design_variants`), so it is scaled by :math:`h_c/c_c`; then
    :math:`E(\\hat V_{within,c} h_c/c_c - \\hat V_{wv,c}) \\approx \\sigma^2_b h_c`. Over the
    communes with two or more villages and at least :data:`MIN_N_POOL` answers,

    .. math:: \\hat\\sigma^2_b = \\max\\Big(0, \\frac{\\sum_c (\\hat V_{within,c} h_c/c_c -
              \\hat V_{wv,c})}{\\sum_c h_c}\\Big),

    with degrees of freedom (``df_model``) from the spread of the communes' contributions
    :math:`y_c = \\hat V_{within,c} h_c/c_c - \\hat V_{wv,c}`: :math:`\\nu = 2\\hat\\sigma^4_b /
    \\hat V(\\hat\\sigma^2_b)` with the sandwich :math:`\\hat V = \\frac{K}{K-1}\\sum_c (y_c -
    h_c\\hat\\sigma^2_b)^2 / (\\sum_c h_c)^2` over the :math:`K` communes, between 1 and the
    normal-theory :math:`\\sum_c (m_c - 1)`. With two or three villages a commune's contribution
    has a long right tail, more so as the village share grows, and the normal-theory number
    overstates what :math:`\\hat\\sigma^2_b` knows (simulation: ``benchmarks/sim_commune_inference.py``). ``icc`` =
    :math:`\\hat\\sigma^2_b / (\\hat\\sigma^2_b + \\bar s^2_w)`, :math:`\\bar s^2_w` the median
    within-village variance of one answer (:math:`\\hat V_{wv,c}\\, n^*_c`): for information.
    """
    need = ["wave", "survey", "index_code", "n", "se_within", "se_village", "n_psu_within",
            "village_h"]  # fmt: skip
    miss = [c for c in need if c not in cells.columns]
    if miss:
        raise InputError(f"the commune cells lack column(s) {miss}", column=miss[0])
    n = cells["n"].to_numpy(dtype=float)
    m = cells["n_psu_within"].to_numpy(dtype=float)
    vw = cells["se_within"].to_numpy(dtype=float) ** 2
    vv = cells["se_village"].to_numpy(dtype=float) ** 2
    h = cells["village_h"].to_numpy(dtype=float)
    c = cells["village_c"].to_numpy(dtype=float) if "village_c" in cells else h
    c = np.where(np.isfinite(c) & (c > 0), c, h)
    n_kish = cells["n_kish"].to_numpy(dtype=float) if "n_kish" in cells else n
    scale = cells["scale"].to_numpy(dtype=float) if "scale" in cells else np.ones(len(cells))
    use = (n >= MIN_N_POOL) & (m >= 2) & np.isfinite(vw) & np.isfinite(vv) & np.isfinite(h)
    use &= np.isfinite(scale) & (scale > 0)
    vw, vv = vw * scale, vv * scale
    frame = pd.DataFrame(
        {
            "wave": cells["wave"].astype(str).to_numpy(),
            "survey": cells["survey"].to_numpy(),
            "index_code": cells["index_code"].to_numpy(),
            "_num": np.where(use, vw * h / c - vv, 0.0),
            "_den": np.where(use, h, 0.0),
            "_df": np.where(use, m - 1, 0.0),
            "_k": use.astype(int),
            "_s2w": np.where(use, vv * np.where(np.isfinite(n_kish), n_kish, n), np.nan),
        }
    )
    g = frame.groupby(["wave", "survey", "index_code"], sort=False, as_index=False).agg(
        _num=("_num", "sum"), _den=("_den", "sum"), _df=("_df", "sum"), _k=("_k", "sum"),
        _s2w=("_s2w", "median"),
    )  # fmt: skip
    with np.errstate(invalid="ignore", divide="ignore"):
        s2b = np.where(g["_den"] > 0, np.fmax(g["_num"] / g["_den"], 0.0), 0.0)
        icc = np.where(s2b + g["_s2w"] > 0, s2b / (s2b + g["_s2w"]), 0.0)
    # degrees of freedom of sigma2_b from the spread of the communes' own contributions
    # (2 sigma^4 / its sandwich variance), never above the normal-theory sum of (m - 1)
    s2b_cell = (
        frame[["wave", "survey", "index_code"]]
        .merge(g[["wave", "survey", "index_code"]].assign(_s2b=s2b), how="left")["_s2b"]
        .to_numpy(dtype=float)
    )
    frame["_r2"] = np.where(frame["_den"] > 0, (frame["_num"] - frame["_den"] * s2b_cell) ** 2, 0.0)
    r2 = frame.groupby(["wave", "survey", "index_code"], sort=False)["_r2"].sum().to_numpy()
    k = g["_k"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        var_s2b = r2 / g["_den"].to_numpy(dtype=float) ** 2 * k / (k - 1)
        df_emp = 2 * s2b**2 / var_s2b
    df_model = np.clip(np.nan_to_num(df_emp, nan=1.0, posinf=np.inf), 1.0, g["_df"].to_numpy(float))
    return pd.DataFrame(
        {
            "wave": g["wave"],
            "survey": g["survey"],
            "index_code": g["index_code"],
            "sigma2_b": s2b,
            "df_model": df_model,
            "n_communes_model": g["_k"].astype(int),
            "icc": icc,
        }
    )


def apply_variance_model(
    estimates: pd.DataFrame,
    variants: pd.DataFrame,
    *,
    rule: str = DEFAULT_VARIANCE_RULE,
    percent_surveys: tuple[str, ...] = PERCENT_SURVEYS,
) -> pd.DataFrame:
    """Estimates whose commune cells carry the pooled village variance and its interval.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Estimates table of one or more waves (contract columns with ``n, df``). Not modified.
    variants : pandas.DataFrame
        :func:`design_variants` output for the same waves.
    rule : {"pooled_villages", "design"}
        ``"design"`` keeps the direct SE (the model's columns are added all the same).
    percent_surveys : tuple of str
        Surveys whose values are percentages (intervals kept in 0–100); others get t intervals.

    Returns
    -------
    pandas.DataFrame
        A copy with ``se_design`` (the direct design-based SE), ``se_respondent``,
        ``se_village``, ``sigma2_b``, ``icc``, ``deff_model`` (model variance over the
        respondent-level one) and ``variance_rule``. Under ``pooled_villages``, commune rows
        without subgroup get ``se``, ``df``, ``ci_low``, ``ci_high`` and ``ci_method`` from the
        model; area and whole-area rows get them where the model SE exceeds the direct one (a
        floor). Subgroup rows keep their design-based values.

    Raises
    ------
    SipasError
        Unknown rule.

    Notes
    -----
    :math:`\\hat V_c = A_c + B_c` with :math:`A_c = \\hat V_{wv,c}` and :math:`B_c =
    \\hat\\sigma^2_b h_c / s_c` (:func:`pooled_village_variance`), :math:`s_c` the squared
    derivative of the comparison scale at the estimate (:func:`comparison_scale`: logit for
    percents, :math:`s_c = \\{100/(\\hat p_c(100-\\hat p_c))\\}^2`; 1 for points), so that
    :math:`s_c \\hat V_c` is the variance of :math:`\\operatorname{logit}\\hat p_c`. Degrees of
    freedom by Satterthwaite (1946): :math:`\\nu_c = (A_c + B_c)^2 / \\{A_c^2/(n^*_c - m_c) +
    B_c^2/\\nu_{model}\\}`, :math:`n^*_c` the Kish effective number of answers. Percent cells
    (items and composites) get the logit interval with the t quantile on :math:`\\nu_c`
    (R ``svyciprop(method="logit")`` with that variance and df), its centre moved by the
    second-order term of the village part (:func:`logit_interval_centred`): it is the interval
    of the model's own scale. Yes/no items (:data:`BINARY_STATISTICS`) get the Jeffreys interval
    on the effective number instead (:func:`jeffreys_interval_centred`), with the same shift. Each commune enters the pooled variance at its area's estimate
    (:func:`_pooling_level`). Where the estimate is 0 or 100 % or no answer differs
    (:math:`\\hat V_c = 0`), the Clopper–Pearson interval on the Kish number of answers divided
    by the design effect of a village sample (:math:`1 + (\\bar m_c - 1)\\,icc`), so that no
    interval has zero width. A commune whose answers sit in one village still gets the village
    part (:math:`h_c = 1`). The simulation that compares the logit scale with the percent scale
    (coverage by commune level, false "below the rest" flags on null waves):
    ``benchmarks/sim_commune_inference.py``.
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
    cols = ["se_within", "se_respondent", "se_village", "n_psu_within", "village_h", "village_c",
            "n_kish", "n_unit"]  # fmt: skip
    for c in cols:
        if c not in var.columns:
            var[c] = np.nan
    merged = key.merge(var[_KEYS + cols], on=_KEYS, how="left")
    if len(merged) != len(out):  # pragma: no cover - duplicate keys in variants
        raise SipasError("the variance variants hold a cell twice")
    sub = (
        out["subgroup"].fillna("").astype(str).to_numpy() == ""
        if "subgroup" in out.columns
        else np.ones(len(out), dtype=bool)
    )
    commune = (out["level"] == "commune").to_numpy() & sub
    larger = out["level"].isin(["area", "total"]).to_numpy() & sub
    modelled = commune | larger
    n = out["n"].to_numpy(dtype=float)
    m = merged["n_psu_within"].to_numpy(dtype=float)
    h = merged["village_h"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = n / merged["n_unit"].to_numpy(dtype=float)
        n_kish = np.where(np.isfinite(share), merged["n_kish"].to_numpy(dtype=float) * share, n)
    vr = merged["se_respondent"].to_numpy(dtype=float) ** 2
    vv = merged["se_village"].to_numpy(dtype=float) ** 2
    out["se_respondent"] = np.where(modelled, np.sqrt(vr), np.nan)
    out["se_village"] = np.where(modelled, np.sqrt(vv), np.nan)
    est = out["estimate"].to_numpy(dtype=float)
    # percent indices: village effects add up on the logit scale, scale = (d logit(p/100)/dp)^2
    is_pct = out["survey"].isin(percent_surveys).to_numpy()
    scale = comparison_scale(est, is_pct)[1] ** 2
    cells = out.loc[commune, ["wave", "survey", "index_code", "n"]].assign(
        wave=lambda d: d["wave"].astype(str),
        scale=comparison_scale(_pooling_level(out, commune), is_pct[commune])[1] ** 2,
        se_within=merged["se_within"].to_numpy(dtype=float)[commune],
        se_village=np.sqrt(vv[commune]),
        n_psu_within=m[commune],
        village_h=h[commune],
        village_c=merged["village_c"].to_numpy(dtype=float)[commune],
        n_kish=n_kish[commune],
    )
    pooled = pooled_village_variance(cells)
    par = (
        out[["wave", "survey", "index_code"]]
        .astype(str)
        .merge(pooled.astype({"wave": str}), on=["wave", "survey", "index_code"], how="left")
    )
    s2b = np.where(modelled, par["sigma2_b"].to_numpy(dtype=float), np.nan)
    icc = np.where(modelled, par["icc"].to_numpy(dtype=float), np.nan)
    # B on the index's own scale: sigma2_b (logit scale for percents) / scale; 0 at 0 or 100 %
    A, B = vv, np.where(np.isfinite(scale), s2b * h / scale, 0.0)
    V = A + B
    with np.errstate(invalid="ignore", divide="ignore"):
        deff = np.where(vr > 0, V / vr, np.nan)
        mbar = np.where(m >= 1, n / m, n)
    deff_village = 1 + (np.fmax(mbar, 1) - 1) * np.nan_to_num(icc)
    out["sigma2_b"], out["icc"], out["deff_model"] = s2b, icc, deff
    if rule == "design" or not commune.any():
        return out
    se = out["se"].to_numpy(dtype=float).copy()
    model_se = np.sqrt(V)
    sel = np.isfinite(model_se) & (commune | (larger & ~(se >= model_se)))
    se[sel] = model_se[sel]
    dfm = np.fmax(par["df_model"].to_numpy(dtype=float), 1.0)
    # the within-village part of a yes/no share is binomial, a function of the share itself:
    # it carries no estimation error of its own (infinite df); only B does (dfm)
    binary = _binary_cells(out) & is_pct
    df_a = np.where(binary, np.inf, np.fmax(n_kish - np.where(m >= 1, m, 1), 1.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        df_s = V**2 / (A**2 / df_a + B**2 / dfm)
    df_s = np.where(
        binary,
        np.where(B > 0, df_s, np.inf),
        np.where(np.isfinite(df_s) & (df_s > 0), np.fmin(df_s, np.fmax(n - 1, 1)), 1.0),
    )
    dfv = out["df"].to_numpy(dtype=float).copy() if "df" in out else np.full(len(out), np.inf)
    dfv[sel] = df_s[sel]
    out["se"], out["df"] = se, dfv
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
            sb = np.sqrt(np.fmax(B[s_pct], 0)) / 100
            pl, ph = logit_interval_centred(p, se[s_pct] / 100, dfv[s_pct], float(lev), sb)
            jb = binary[s_pct]
            if jb.any():
                pl[jb], ph[jb] = jeffreys_interval_centred(
                    p[jb], se[s_pct][jb] / 100, dfv[s_pct][jb], float(lev), sb[jb]
                )
            # 0 or 100 %, or no spread in the answers: Clopper-Pearson on n* / deff answers
            bad = np.isnan(pl) | np.isnan(ph)
            if bad.any():
                n_cp = np.fmax(n_kish[s_pct][bad] / deff_village[s_pct][bad], 1)
                cl, ch = _clopper_pearson(np.clip(p[bad], 0, 1), n_cp, lev)
                pl[bad], ph[bad] = cl, ch
            lo[s_pct], hi[s_pct] = pl * 100, ph * 100
            method[s_pct] = np.where(
                bad, "clopper-pearson-model", np.where(jb, "jeffreys-model", "logit-model")
            )
        s_pts = sel & ~pct & (level == lev)
        if s_pts.any():
            tq = stats.t.ppf(1 - (1 - lev) / 2, dfv[s_pts])
            lo[s_pts] = est[s_pts] - tq * se[s_pts]
            hi[s_pts] = est[s_pts] + tq * se[s_pts]
            method[s_pts] = "t-model"
    out["ci_low"], out["ci_high"], out["ci_method"] = lo, hi, method
    return out


def _village_shift(p: np.ndarray, se_villages: np.ndarray, half_width: np.ndarray) -> np.ndarray:
    """Second-order logit shift of a commune's share from averaging a few villages.

    :math:`\\tfrac12 g''(\\hat p)\\, \\widehat{se}_b^2` with :math:`g'' = (2p-1)/\\{p^2(1-p)^2\\}`,
    capped at a quarter of the logit half-width so that the interval keeps the estimate. The one
    definition used by :func:`logit_interval_centred` and :func:`jeffreys_interval_centred`
    (``se_villages`` already bounded by the total SE; call inside ``np.errstate``).
    """
    g1 = 1 / (p * (1 - p))
    return np.clip(0.5 * (2 * p - 1) * g1**2 * se_villages**2, -half_width / 4, half_width / 4)


def logit_interval_centred(
    p: np.ndarray, se: np.ndarray, df: np.ndarray, level: float, se_villages: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Logit interval of a commune's share, its centre corrected for averaging a few villages.

    .. math:: \\operatorname{expit}\\Big\\{\\operatorname{logit}\\hat p - \\tfrac12 g''(\\hat p)\\,
              \\widehat{se}_b^2 \\pm t_{\\nu,1-\\alpha/2}\\, g'(\\hat p)\\,\\widehat{se}\\Big\\},
              \\quad g' = \\frac{1}{p(1-p)},\\ g'' = \\frac{2p-1}{p^2(1-p)^2} ,

    :math:`\\widehat{se}_b^2` the village part of the variance (:math:`B` of
    :func:`apply_variance_model`). A commune's share is the average of its two to four villages'
    shares, and the logit is convex above 50 % and concave below, so
    :math:`E\\{\\operatorname{logit}\\hat p\\} \\approx \\operatorname{logit} p + \\tfrac12
    g''(p)\\, B` (second-order delta method): where the village part dominates, the plain logit
    interval (R ``svyciprop(method="logit")``) sits too high above 50 % and the truth falls below
    it more often than above (simulation, 19 communes × 3 villages, village share 0.25: 5.4 %
    against 1.9 % for the overall index). The within-village part keeps the plain logit
    interval's centre (its behaviour for respondents sampled within villages is the usual one).
    The shift is capped at a quarter of the half-width, so the interval always contains the
    estimate. Proportions on the 0-1 scale; NaN at 0, 1 or se 0.

    >>> lo, hi = logit_interval_centred(np.array([0.8]), np.array([0.08]), np.array([30.0]), 0.95,
    ...                                 np.array([0.06]))
    >>> [round(float(x), 4) for x in (lo[0], hi[0])]
    [0.58, 0.9141]
    """
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    sb = np.fmin(np.nan_to_num(np.asarray(se_villages, dtype=float)), se)
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (p > 0) & (p < 1) & (se > 0)
        hw = stats.t.ppf(1 - (1 - level) / 2, df) * se / (p * (1 - p))
        c = np.log(p / (1 - p)) - _village_shift(p, sb, hw)
        lo = np.where(ok, 1 / (1 + np.exp(-(c - hw))), np.nan)
        hi = np.where(ok, 1 / (1 + np.exp(-(c + hw))), np.nan)
    return lo, hi


def jeffreys_interval_centred(
    p: np.ndarray, se: np.ndarray, df: np.ndarray, level: float, se_villages: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys interval of a commune's yes/no share on its effective number of answers.

    .. math:: \\big[B_{\\alpha/2}(x^* + \\tfrac12,\\ n^* - x^* + \\tfrac12),\\
              B_{1-\\alpha/2}(x^* + \\tfrac12,\\ n^* - x^* + \\tfrac12)\\big],
              \\quad n^* = \\frac{\\hat p(1-\\hat p)}{\\widehat{se}^2}
              \\Big(\\frac{z_{1-\\alpha/2}}{t_{\\nu,1-\\alpha/2}}\\Big)^2,\\ x^* = \\hat p\\, n^* ,

    :math:`B_q` the beta quantile, :math:`\\widehat{se}` the model SE (within-village and village
    parts) and :math:`\\nu` its degrees of freedom (the Korn–Graubard adjustment of the effective
    number); on the logit scale both ends are then moved by the second-order term of the village
    part, as in :func:`logit_interval_centred` (capped at a quarter of the half-width).

    Why not the logit interval, as for the composites: an item's share in a commune rests on about
    twenty answers to one yes/no question. There the logit (Wald) interval is conservative: its
    variance :math:`1/\\{n\\hat p(1-\\hat p)\\}` is convex in :math:`\\hat p`, so it is too large
    on average (Jensen), and by the binomial law alone it covers 96–98 % at 12–30 answers (Brown,
    Cai and DasGupta 2001), while the Jeffreys interval keeps close to 95 % on average. On an
    effective number from a model of the variance it is among the intervals Franco, Little, Louis
    and Slud (2019) recommend for survey proportions. Simulation: ``benchmarks/
    sim_commune_inference.py`` (the figures are in ``docs/methodology.md``). Proportions on the
    0–1 scale; NaN at 0, 1 or se 0 (the caller's Clopper–Pearson fallback).

    References: Brown, L. D., Cai, T. T. and DasGupta, A. (2001). Interval estimation for a
    binomial proportion. *Statistical Science* 16, 101–133. Franco, C., Little, R. J. A., Louis,
    T. A. and Slud, E. V. (2019). Comparative study of confidence intervals for proportions in
    complex sample surveys. *Journal of Survey Statistics and Methodology* 7, 334–364.

    >>> lo, hi = jeffreys_interval_centred(np.array([0.8]), np.array([0.08]), np.array([np.inf]),
    ...                                    0.95, np.array([0.0]))
    >>> [round(float(x), 4) for x in (lo[0], hi[0])]
    [0.6158, 0.9193]
    """
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    sb = np.fmin(np.nan_to_num(np.asarray(se_villages, dtype=float)), se)
    a2 = (1 - level) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (p > 0) & (p < 1) & (se > 0)
        adj = (stats.norm.ppf(1 - a2) / stats.t.ppf(1 - a2, np.asarray(df, dtype=float))) ** 2
        n_eff = np.where(ok, p * (1 - p) / se**2 * adj, 1.0)
        x = p * n_eff
        lo = stats.beta.ppf(a2, x + 0.5, n_eff - x + 0.5)
        hi = stats.beta.ppf(1 - a2, x + 0.5, n_eff - x + 0.5)
        lg_lo, lg_hi = np.log(lo / (1 - lo)), np.log(hi / (1 - hi))
        shift = _village_shift(p, sb, (lg_hi - lg_lo) / 2)
        lo = np.where(ok, 1 / (1 + np.exp(-(lg_lo - shift))), np.nan)
        hi = np.where(ok, 1 / (1 + np.exp(-(lg_hi - shift))), np.nan)
    return lo, hi


def _binary_cells(out: pd.DataFrame) -> np.ndarray:
    """Rows that are the share of one yes/no answer: items with a :data:`BINARY_STATISTICS`."""
    if "statistic" not in out.columns or "index_level" not in out.columns:
        return np.zeros(len(out), dtype=bool)
    return (out["index_level"] == "item").to_numpy() & out["statistic"].isin(
        BINARY_STATISTICS
    ).to_numpy()


def _pooling_level(out: pd.DataFrame, commune: np.ndarray) -> np.ndarray:
    """Level at which a commune cell enters the pooled village variance: its area's estimate.

    The commune's own estimate would do on average, but it moves with the villages drawn: a
    commune that drew a poor village has a low estimate, a large spread between its villages and,
    for percents above 50 %, a small logit derivative, so the cells with the most village
    variance would weigh least and :math:`\\hat\\sigma^2_b` would be biased down. The area's
    estimate of the same index (wave, survey) does not move with one commune's villages; a
    commune whose area has no estimate keeps its own.
    """
    own = out["estimate"].to_numpy(dtype=float)[commune]
    if "area_code" not in out.columns:
        return own
    area = out[(out["level"] == "area")]
    if "subgroup" in area.columns:
        area = area[area["subgroup"].fillna("").astype(str) == ""]
    k = ["wave", "survey", "unit_code", "index_code"]
    look = area[k + ["estimate"]].astype({c: str for c in k}).drop_duplicates(k)
    look = look.rename(columns={"unit_code": "area_code", "estimate": "_area_est"})
    c = out.loc[commune, ["wave", "survey", "area_code", "index_code"]].astype(str)
    lev = c.merge(look, on=["wave", "survey", "area_code", "index_code"], how="left")["_area_est"]
    lev = lev.to_numpy(dtype=float)
    return np.where(np.isfinite(lev) & (lev > 0) & (lev < 100), lev, own)


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
