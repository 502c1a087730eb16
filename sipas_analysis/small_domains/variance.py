"""The between-village variance pooled across the communes and the variance model of every cell."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate.intervals import _clopper_pearson
from sipas_analysis.small_domains.intervals import jeffreys_interval_centred, logit_interval_centred
from sipas_analysis.small_domains.options import (
    BINARY_STATISTICS,
    DEFAULT_VARIANCE_RULE,
    KEYS,
    MIN_N_POOL,
    PERCENT_SURVEYS,
    VARIANCE_RULES,
)

__all__ = [
    "comparison_scale",
    "null_level_variance",
    "pooled_village_variance",
    "apply_variance_model",
]


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
    key = out[KEYS].astype(str)
    var = variants.copy()
    for c in KEYS:
        var[c] = var[c].astype(str)
    cols = ["se_within", "se_respondent", "se_village", "n_psu_within", "village_h", "village_c",
            "n_kish", "n_unit"]  # fmt: skip
    for c in cols:
        if c not in var.columns:
            var[c] = np.nan
    merged = key.merge(var[KEYS + cols], on=KEYS, how="left")
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
