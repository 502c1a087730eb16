"""Means and their variance on calibrated designs (:func:`calibrated_mean`): the residuals of the
calibration model taken through the stratified, clustered design."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.weighting.calibration import _joint_codes
from sipas_analysis.weighting.cells import (
    _LONELY_RULES,
    MarginKey,
    _as_key,
    _check_columns,
    _rows,
    _weights,
)

__all__ = ["calibrated_mean"]


# ----------------------------------------------------------------------------------------------
# variance on calibrated designs
# ----------------------------------------------------------------------------------------------
def _indicator(codes: np.ndarray, n_groups: int) -> sparse.csr_matrix:
    n = len(codes)
    return sparse.csr_matrix(
        (np.ones(n), (codes, np.arange(n))), shape=(n_groups, n), dtype="float64"
    )


def _design_codes(
    df: pd.DataFrame, strata: str | None, psu: str | None
) -> tuple[np.ndarray, np.ndarray, list]:
    """Stratum code per row, PSU code per row (PSUs nested in strata) and stratum labels."""
    n = len(df)
    for col in (strata, psu):
        if col is not None:
            _check_columns(df, [col], "design")
            na = df[col].isna().to_numpy()
            if na.any():
                raise InputError(
                    "design variable has missing values", column=col, rows=_rows(df, na)
                )
    if strata is None:
        s_codes, s_labels = np.zeros(n, dtype=np.int64), ["(one stratum)"]
    else:
        s_codes, s_uniques = pd.factorize(df[strata].astype(str))
        s_labels = list(s_uniques)
    if psu is None:
        p_codes = np.arange(n, dtype=np.int64)
    else:
        p_codes, _ = pd.factorize(
            pd.Series(list(zip(s_codes, df[psu].astype(str).to_numpy(), strict=True)), dtype=object)
        )
    return np.asarray(s_codes, dtype=np.int64), np.asarray(p_codes, dtype=np.int64), s_labels


def _stratified_variance(
    z: np.ndarray,
    s_codes: np.ndarray,
    p_codes: np.ndarray,
    s_labels: list,
    lonely_psu: str,
) -> np.ndarray:
    """Diagonal of the with-replacement between-PSU variance of column totals of ``z``.

    v = Σ_h n_h/(n_h − 1) Σ_i (z_hi − z̄_h)², z_hi = PSU totals (R survey ``onestage``).
    """
    n_psu = int(p_codes.max()) + 1
    psu_tot = _indicator(p_codes, n_psu) @ z  # (P, k)
    psu_stratum = np.zeros(n_psu, dtype=np.int64)
    psu_stratum[p_codes] = s_codes
    n_strata = len(s_labels)
    n_h = np.bincount(psu_stratum, minlength=n_strata).astype("float64")
    lonely = n_h == 1
    if lonely.any() and lonely_psu == "fail":
        bad = [s_labels[i] for i in np.flatnonzero(lonely)]
        raise SipasError(
            f"stratum {bad[0]!r} has only one PSU"
            + (f" (and {len(bad) - 1} more strata)" if len(bad) > 1 else "")
            + ": no design-based variance; choose lonely_psu='certainty', 'adjust' or 'average'"
        )
    s_ind = _indicator(psu_stratum, n_strata)
    means = (s_ind @ psu_tot) / np.maximum(n_h, 1)[:, None]
    dev = psu_tot - means[psu_stratum]
    if lonely.any() and lonely_psu == "adjust":
        # R: a lonely PSU is centred at the grand mean, which is 0 for influence values.
        dev[lonely[psu_stratum]] = psu_tot[lonely[psu_stratum]]
    scale = np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1), 1.0)
    if lonely.any() and lonely_psu in ("certainty", "remove", "average"):
        scale = np.where(lonely, 0.0, scale)
    var = (s_ind @ (dev**2)).T @ scale
    if lonely.any() and lonely_psu == "average":
        ok = int((~lonely).sum())
        var = var * (n_strata / ok) if ok else var * np.nan
    return np.asarray(var).ravel()


def calibrated_mean(
    df: pd.DataFrame,
    variable: str,
    weight: str,
    *,
    strata: str | None = None,
    psu: str | None = None,
    poststrata: Sequence[str] | None = None,
    margins: Sequence[MarginKey] | None = None,
    by: str | Sequence[str] | None = None,
    lonely_psu: str = "fail",
) -> pd.DataFrame:
    """Weighted mean or proportion with a linearised SE that allows for calibration (as R survey).

    Parameters
    ----------
    df : DataFrame
        Respondent table, the whole sample (domains are never cut out before the variance).
    variable : str
        Numeric column; a 0/1 column gives a proportion. Missing values are left out as in R's
        ``svymean(..., na.rm = TRUE)`` (the design is kept whole).
    weight : str
        Column with the calibrated weights (output of :func:`poststratify` or :func:`rake`), or
        the design weights when neither ``poststrata`` nor ``margins`` is given.
    strata, psu : str, optional
        Stratum and PSU columns of the original design (PSUs nested in strata). ``None``: one
        stratum / every respondent is a PSU.
    poststrata : list of str, optional
        The cell columns used in :func:`poststratify`.
    margins : list of str or tuple of str, optional
        The margins used in :func:`rake` (the keys of its ``margins`` dict, in the same order).
    by : str or list of str, optional
        Domain column(s); one row per domain in the result. Rows with a missing domain belong to
        no domain.
    lonely_psu : {"fail", "certainty", "remove", "adjust", "average"}
        Rule for strata with a single PSU, as R's ``options(survey.lonely.psu)``.

    Returns
    -------
    DataFrame
        Columns ``by...`` (if any), ``estimate``, ``se`` (allowing for the calibration),
        ``se_uncalibrated`` (the same weights treated as plain design weights) and ``n``
        (respondents with a valid value in the domain).

    Raises
    ------
    InputError
        Missing columns, bad weights, missing design or cell variables.
    SipasError
        Both ``poststrata`` and ``margins`` given; a singleton stratum with ``lonely_psu="fail"``.

    Notes
    -----
    For a domain :math:`d` the ratio estimate is :math:`\\hat\\mu_d = \\sum_i w_i d_i y_i /
    \\sum_i w_i d_i` over valid answers, with influence values
    :math:`z_i = w_i d_i (y_i - \\hat\\mu_d) / \\sum_j w_j d_j`. Calibration is allowed for by
    replacing :math:`z_i` with residuals (R ``survey:::svyrecvar``):

    * post-stratification (cells :math:`g`): :math:`e_i = z_i - w_i \\sum_{j \\in g} z_j /
      \\sum_{j \\in g} w_j`;
    * raking: R's backfitting, 10 sweeps over the margins :math:`m` in order, each
      :math:`e_i \\leftarrow e_i - w_i \\, \\overline{(e/w)}_{c_m(i)}` with the *unweighted* mean of
      :math:`e/w` over the respondents of the margin category. R uses the weights reached after
      each margin's step of the last raking sweep; the final weights used here differ from those
      by less than the raking tolerance.

    The variance is then the with-replacement between-PSU variance of the residual totals,

    .. math:: v = \\sum_h \\frac{n_h}{n_h-1} \\sum_{i=1}^{n_h} (e_{hi} - \\bar e_h)^2,

    with :math:`e_{hi}` the sum of :math:`e` over PSU :math:`i` of stratum :math:`h`, and
    :math:`\\mathrm{SE} = \\sqrt v`. It reproduces ``SE(svymean(~y, design, na.rm = TRUE))`` and
    ``svyby(~y, ~domain, design, svymean, na.rm = TRUE)`` on designs from ``postStratify()`` and
    ``rake()`` (checked against R to 1e-9 relative in the tests).

    Examples
    --------
    >>> import pandas as pd
    >>> from sipas_analysis.weighting import poststratify
    >>> df = pd.DataFrame({
    ...     "stratum": ["a"] * 4 + ["b"] * 4, "psu": list("11223344"),
    ...     "sex": [1, 2, 1, 2, 1, 2, 2, 2], "y": [1, 0, 1, 1, 0, 1, 1, 0],
    ...     "w": [10.0, 12.0, 8.0, 9.0, 11.0, 10.0, 7.0, 13.0]})
    >>> pop = pd.DataFrame({"sex": [1, 2], "total": [45.0, 55.0]})
    >>> df = df.assign(wps=poststratify(df, "w", ["sex"], pop))
    >>> res = calibrated_mean(df, "y", "wps", strata="stratum", psu="psu", poststrata=["sex"])
    >>> round(float(res["estimate"].iloc[0]), 4)
    0.5597
    """
    if poststrata is not None and margins is not None:
        raise SipasError("calibrated_mean: give either poststrata or margins, not both")
    if lonely_psu not in _LONELY_RULES:
        raise SipasError(f"lonely_psu must be one of {_LONELY_RULES}, not {lonely_psu!r}")
    _check_columns(df, [variable], "calibrated_mean")
    w = _weights(df, weight)
    y = pd.to_numeric(df[variable], errors="coerce").astype("float64").to_numpy()
    valid = np.isfinite(y)
    y0 = np.where(valid, y, 0.0)
    s_codes, p_codes, s_labels = _design_codes(df, strata, psu)

    by_cols = [by] if isinstance(by, str) else list(by or [])
    if by_cols:
        _check_columns(df, by_cols, "calibrated_mean (domains)")
        dom = df[by_cols].reset_index(drop=True)
        dom_na = dom.isna().any(axis=1).to_numpy()
        labels = dom[~dom_na].drop_duplicates().sort_values(by_cols).reset_index(drop=True)
        pos = dom.merge(labels.reset_index(), how="left", on=by_cols)["index"]
        d_codes = np.where(dom_na, -1, pos.fillna(-1).to_numpy()).astype(np.int64)
        n_dom = len(labels)
    else:
        d_codes = np.zeros(len(df), dtype=np.int64)
        labels = None
        n_dom = 1

    in_dom = (d_codes >= 0) & valid
    rows = np.flatnonzero(in_dom)
    dcol = d_codes[rows]
    wd = np.zeros((len(df), n_dom))
    wd[rows, dcol] = w[rows]
    wsum = wd.sum(axis=0)
    est = (wd * y0[:, None]).sum(axis=0) / np.where(wsum > 0, wsum, np.nan)
    z = wd * (y0[:, None] - est[None, :]) / np.where(wsum > 0, wsum, np.nan)[None, :]
    z = np.nan_to_num(z)
    n_valid = np.bincount(dcol, minlength=n_dom)

    var_plain = _stratified_variance(z, s_codes, p_codes, s_labels, lonely_psu)
    e = z
    if poststrata is not None:
        codes = _joint_codes(df, list(poststrata))
        g = _indicator(codes, int(codes.max()) + 1)
        cell_w = np.asarray(g @ w).ravel()
        e = z - w[:, None] * ((g @ z) / cell_w[:, None])[codes]
    elif margins is not None:
        coded = []
        for key in margins:
            codes = _joint_codes(df, list(_as_key(key)))
            n_c = int(codes.max()) + 1
            coded.append((codes, _indicator(codes, n_c), np.bincount(codes, minlength=n_c)))
        e = z.copy()
        for _ in range(10):
            for codes, g, counts in coded:
                cell_mean = (g @ (e / w[:, None])) / counts[:, None]
                e = e - w[:, None] * cell_mean[codes]
    var_cal = (
        _stratified_variance(e, s_codes, p_codes, s_labels, lonely_psu)
        if (poststrata is not None or margins is not None)
        else var_plain
    )

    out = pd.DataFrame(
        {
            "estimate": est,
            "se": np.sqrt(var_cal),
            "se_uncalibrated": np.sqrt(var_plain),
            "n": n_valid.astype("int64"),
        }
    )
    if labels is not None:
        out = pd.concat([labels, out], axis=1)
    return out
