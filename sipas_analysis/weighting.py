"""Weighting: post-stratification and raking of survey weights to population margins.

Design weights (inverse inclusion probabilities) are adjusted so that the weighted sample
reproduces known population totals, e.g. the 2019 census by commune and urban/rural, or
user-supplied sex × age-band tables. The functions follow R ``survey`` (Lumley):

* :func:`poststratify` — ``postStratify()``: one adjustment factor per cell of a full
  cross-classification.
* :func:`rake` — ``rake()``: iterative proportional fitting over several margins.
* :func:`calibrated_mean` — the estimate and linearised SE of a mean or proportion (whole sample or
  by domain) on a calibrated design, computed the way R ``survey`` does it: the influence values
  are replaced by their residuals from the calibration cells before the stratified between-PSU
  variance is taken.
* :func:`weighting_diagnostics` — Kish weighting efficiency, design effect due to weighting and the
  spread of the adjustment factors.
* :func:`census_margins` — population margins from the 2019 census figures per commune.
* :func:`calibrate_wave` — the run's calibration of a wave (config key ``calibration:``): the
  calibrated weights, the design weights in ``weight_design`` and the margins in ``calib__*``
  columns, which :mod:`sipas_analysis.design` reads so that every SE allows for the calibration.
* :func:`weighting_summary` — Kish efficiency before/after and the range of the g-weights
  (validation report, run manifest).

Every function returns new data and never modifies its input.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from sipas_analysis.errors import InputError, SipasError

__all__ = [
    "poststratify",
    "rake",
    "calibrated_mean",
    "weighting_diagnostics",
    "census_margins",
    "calibrate_wave",
    "weighting_summary",
]

MarginKey = str | tuple[str, ...]

_LONELY_RULES = ("fail", "certainty", "remove", "adjust", "average")


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------
def _rows(df: pd.DataFrame, mask: np.ndarray) -> list[int]:
    """Row numbers as in the source file: ``source_row`` if present, else position + 2 (header 1)."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    if "source_row" in df.columns:
        return [int(v) for v in df["source_row"].to_numpy()[positions]]
    return [int(p) + 2 for p in positions]


def _norm_value(v: object) -> object:
    """Normalise a cell label so that 1, 1.0, np.int64(1) match and strings match strings."""
    if isinstance(v, bool | np.bool_):
        return int(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return int(f) if f.is_integer() else f
    return str(v)


def _check_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{what}: column(s) not in the data: {', '.join(map(str, missing))}",
            column=str(missing[0]),
            values=missing,
        )


def _weights(df: pd.DataFrame, weight: str) -> np.ndarray:
    """The weight column as float64, checked: present, numeric, finite and > 0."""
    _check_columns(df, [weight], "weight")
    w = pd.to_numeric(df[weight], errors="coerce").astype("float64").to_numpy()
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise InputError(
            "weights must be positive numbers (missing, zero or negative weights found)",
            column=weight,
            rows=_rows(df, bad),
            values=list(pd.unique(df[weight].to_numpy()[bad]))[:10],
        )
    return w


def _cell_keys(df: pd.DataFrame, cells: Sequence[str], what: str) -> list[tuple]:
    """One normalised key tuple per row for the cell columns; missing labels are an error."""
    _check_columns(df, cells, what)
    cols = []
    for c in cells:
        s = df[c]
        na = s.isna().to_numpy()
        if na.any():
            raise InputError(
                f"{what}: missing values in a cell variable",
                column=c,
                rows=_rows(df, na),
            )
        uniq = pd.unique(s.to_numpy(dtype=object))
        mapping = {u: _norm_value(u) for u in uniq}
        cols.append([mapping[v] for v in s.to_numpy(dtype=object)])
    return list(zip(*cols, strict=True))


def _cell_label(cells: Sequence[str], key: tuple) -> str:
    return ", ".join(f"{c}={v!r}" for c, v in zip(cells, key, strict=True))


def _population_table(
    population: pd.DataFrame | pd.Series,
    cells: Sequence[str],
    total: str | None,
    what: str,
) -> dict[tuple, float]:
    """Population totals as {normalised cell key: total}; checks duplicates and values."""
    if isinstance(population, pd.Series):
        s = population
        frame = s.rename("__total__").reset_index()
        if len(frame.columns) - 1 != len(cells):
            raise InputError(
                f"{what}: the population Series must be indexed by {list(cells)}",
                values=list(frame.columns[:-1]),
            )
        frame.columns = [*cells, "__total__"]
        total = "__total__"
    elif isinstance(population, pd.DataFrame):
        frame = population
        _check_columns(frame, cells, f"{what} (population table)")
        if total is None:
            rest = [c for c in frame.columns if c not in cells]
            if len(rest) != 1:
                raise InputError(
                    f"{what}: the population table must have the cell columns {list(cells)} and "
                    f"exactly one total column (found {rest}); name it with total=",
                    values=rest,
                )
            total = rest[0]
        _check_columns(frame, [total], f"{what} (population table)")
    else:
        raise InputError(f"{what}: population must be a DataFrame or a Series")
    keys = _cell_keys(frame, cells, f"{what} (population table)")
    vals = pd.to_numeric(frame[total], errors="coerce").astype("float64").to_numpy()
    table: dict[tuple, float] = {}
    for k, v in zip(keys, vals, strict=True):
        if k in table:
            raise InputError(
                f"{what}: population cell {_cell_label(cells, k)} appears more than once",
                column=str(total),
                values=[k],
            )
        if not (np.isfinite(v) and v > 0):
            raise InputError(
                f"{what}: population total of cell {_cell_label(cells, k)} is missing or not "
                f"positive ({v}); a cell the sample uses must have a positive population total",
                column=str(total),
                values=[v],
            )
        table[k] = float(v)
    return table


def _match_cells(
    df: pd.DataFrame,
    cells: Sequence[str],
    table: dict[tuple, float],
    w: np.ndarray,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Row -> cell codes and the population totals in code order; empty/missing cells raise."""
    keys = _cell_keys(df, cells, what)
    order = list(table)
    pos = {k: i for i, k in enumerate(order)}
    codes = np.fromiter((pos.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
    if (codes < 0).any():
        missing = sorted({k for k, c in zip(keys, codes, strict=True) if c < 0}, key=str)
        raise InputError(
            f"{what}: sample cell {_cell_label(cells, missing[0])} has no population total"
            + (f" (and {len(missing) - 1} more cells)" if len(missing) > 1 else ""),
            column=", ".join(cells),
            rows=_rows(df, codes < 0),
            values=missing,
        )
    sums = np.bincount(codes, weights=w, minlength=len(order))
    empty = [order[i] for i in np.flatnonzero(sums <= 0)]
    if empty:
        raise InputError(
            f"{what}: population cell {_cell_label(cells, empty[0])} has no respondents in the "
            "sample (empty cell); collapse it with a neighbouring cell"
            + (f" (and {len(empty) - 1} more empty cells)" if len(empty) > 1 else ""),
            column=", ".join(cells),
            values=empty,
        )
    targets = np.array([table[k] for k in order], dtype="float64")
    return codes, targets


def _as_key(key: MarginKey) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else tuple(key)


# ----------------------------------------------------------------------------------------------
# post-stratification
# ----------------------------------------------------------------------------------------------
def poststratify(
    df: pd.DataFrame,
    weight: str,
    cells: Sequence[str],
    population: pd.DataFrame | pd.Series,
    *,
    total: str | None = None,
) -> pd.Series:
    """Post-stratify weights to known population cell totals.

    Parameters
    ----------
    df : DataFrame
        Respondent table (one row per respondent).
    weight : str
        Column with the design weights (positive).
    cells : list of str
        Columns whose full cross-classification defines the post-strata, e.g.
        ``["sex", "age_band"]``.
    population : DataFrame or Series
        Population totals: a DataFrame with the ``cells`` columns and one total column, or a
        Series indexed by the cells (a MultiIndex for several cell columns).
    total : str, optional
        Name of the total column when ``population`` has more than one extra column.

    Returns
    -------
    Series
        New weights, aligned with ``df.index``, named ``"calibrated_weight"``.

    Raises
    ------
    InputError
        When a weight is missing or not positive; a cell variable is missing; a sample cell has no
        population total; a population cell has no respondents (naming the cell); a population
        total is missing, duplicated or not positive.

    Notes
    -----
    For post-stratum :math:`g` with population total :math:`N_g` and sample weighted total
    :math:`\\hat N_g = \\sum_{i \\in g} w_i`, every respondent of the cell gets

    .. math:: w_i^* = w_i \\, N_g / \\hat N_g ,

    so that :math:`\\sum_{i \\in g} w_i^* = N_g` exactly. This is R ``survey::postStratify()``;
    unlike R (which drops population cells absent from the sample only with ``partial=TRUE``),
    an empty cell is always an error here: collapse cells instead.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sex": [1, 1, 2, 2, 2], "w": [1.0, 3.0, 2.0, 2.0, 4.0]})
    >>> pop = pd.DataFrame({"sex": [1, 2], "total": [40.0, 60.0]})
    >>> poststratify(df, "w", ["sex"], pop).tolist()
    [10.0, 30.0, 15.0, 15.0, 30.0]
    """
    cells = list(cells)
    w = _weights(df, weight)
    table = _population_table(population, cells, total, "post-stratification")
    codes, targets = _match_cells(df, cells, table, w, "post-stratification")
    sums = np.bincount(codes, weights=w, minlength=len(targets))
    new = w * (targets / sums)[codes]
    return pd.Series(new, index=df.index, name="calibrated_weight")


# ----------------------------------------------------------------------------------------------
# raking
# ----------------------------------------------------------------------------------------------
def _margin_frame(value: pd.DataFrame | pd.Series, key: tuple[str, ...]) -> pd.DataFrame:
    if isinstance(value, pd.Series):
        frame = value.rename("__total__").reset_index()
        if len(frame.columns) - 1 != len(key):
            raise InputError(
                f"raking margin {key}: the Series must be indexed by {list(key)}",
                values=list(frame.columns[:-1]),
            )
        frame.columns = [*key, "__total__"]
        return frame
    if isinstance(value, pd.DataFrame):
        return value
    raise InputError(f"raking margin {key}: population totals must be a DataFrame or a Series")


def _prepare_margins(
    df: pd.DataFrame,
    margins: Mapping[MarginKey, pd.DataFrame | pd.Series],
    w: np.ndarray,
) -> list[tuple[tuple[str, ...], np.ndarray, np.ndarray]]:
    if not margins:
        raise InputError("raking needs at least one margin")
    out = []
    for raw_key, value in margins.items():
        key = _as_key(raw_key)
        name = "raking margin " + " × ".join(key)
        frame = _margin_frame(value, key)
        total = "__total__" if "__total__" in frame.columns else None
        table = _population_table(frame, key, total, name)
        codes, targets = _match_cells(df, key, table, w, name)
        out.append((key, codes, targets))
    sums = [float(t.sum()) for _, _, t in out]
    if max(sums) - min(sums) > 1e-9 * max(sums):
        detail = "; ".join(
            f"{' × '.join(k)}: {s:.10g}" for (k, _, _), s in zip(out, sums, strict=True)
        )
        raise InputError(
            "raking margins must add up to the same population total, but they differ ("
            + detail
            + "); rescale the margins to a common total"
        )
    return out


def _joint_codes(df: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    keys = _cell_keys(df, columns, "raking")
    codes, _ = pd.factorize(pd.Series(keys, dtype=object))
    return codes.astype(np.int64)


def rake(
    df: pd.DataFrame,
    weight: str,
    margins: Mapping[MarginKey, pd.DataFrame | pd.Series],
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
) -> pd.Series:
    """Rake weights to several population margins (iterative proportional fitting).

    Parameters
    ----------
    df : DataFrame
        Respondent table.
    weight : str
        Column with the design weights (positive).
    margins : dict
        One entry per margin. Key: a column name (``"sex"``) or a tuple of column names for a
        cross-classified margin (``("sex", "age_band")``). Value: the population totals, a
        DataFrame with the key column(s) and one total column, or a Series indexed by the
        category (a MultiIndex for a tuple key). All margins must add up to the same total.
    max_iter : int, default 100
        Maximum number of sweeps over all margins.
    tol : float, default 1e-10
        Convergence tolerance, relative to the sum of the input weights (see Notes).

    Returns
    -------
    Series
        New weights aligned with ``df.index``, named ``"calibrated_weight"``. ``.attrs`` holds
        ``iterations`` (the number of sweeps done).

    Raises
    ------
    InputError
        Bad weights or cell variables, a sample category missing from a margin, a margin category
        with no respondents (naming it), non-positive totals, margins with different totals.
    SipasError
        When raking has not converged after ``max_iter`` sweeps; the message names the margin
        furthest from its totals.

    Notes
    -----
    One sweep post-stratifies the current weights to each margin :math:`m` in turn:

    .. math:: w_i \\leftarrow w_i \\, N_{m,c} / \\sum_{j \\in c} w_j, \\qquad c = c_m(i).

    As in R ``survey::rake()``, after each sweep the table of weighted counts over the full
    cross-classification of all margin variables is compared with the table after the previous
    sweep (the first sweep with the input weights); raking has converged when the largest
    absolute change of a cell is below ``tol · Σ w`` (R's ``epsilon`` below 1, which R also
    multiplies by the sum of the sampling weights). The last margin in ``margins`` is reproduced
    exactly, the others to within the convergence tolerance. ``rake(..., tol=1e-12)`` equals
    ``rake(design, ..., control = list(maxit = 100, epsilon = 1e-12))`` in R. Unlike R, which only
    warns, failure to converge is an error.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"sex": [1, 1, 2, 2], "urban": [1, 2, 1, 2], "w": [1.0, 1.0, 1.0, 1.0]})
    >>> margins = {"sex": pd.Series({1: 50.0, 2: 50.0}), "urban": pd.Series({1: 30.0, 2: 70.0})}
    >>> rake(df, "w", margins).round(6).tolist()
    [15.0, 35.0, 15.0, 35.0]
    """
    if max_iter < 1:
        raise SipasError("rake: max_iter must be at least 1")
    if not tol > 0:
        raise SipasError("rake: tol must be positive")
    w0 = _weights(df, weight)
    prepared = _prepare_margins(df, margins, w0)
    all_columns = list(dict.fromkeys(c for key, _, _ in prepared for c in key))
    joint = _joint_codes(df, all_columns)
    n_joint = int(joint.max()) + 1 if len(joint) else 0
    epsilon = tol * float(w0.sum())

    w = w0.copy()
    old_table = np.bincount(joint, weights=w, minlength=n_joint)
    converged = False
    iterations = 0
    while iterations < max_iter:
        for _, codes, targets in prepared:
            sums = np.bincount(codes, weights=w, minlength=len(targets))
            w = w * (targets / sums)[codes]
        iterations += 1
        new_table = np.bincount(joint, weights=w, minlength=n_joint)
        delta = float(np.max(np.abs(old_table - new_table))) if n_joint else 0.0
        if delta < epsilon:
            converged = True
            break
        old_table = new_table
    if not converged:
        worst, worst_gap = None, -1.0
        for key, codes, targets in prepared:
            sums = np.bincount(codes, weights=w, minlength=len(targets))
            gap = float(np.max(np.abs(sums - targets) / targets))
            if gap > worst_gap:
                worst, worst_gap = key, gap
        raise SipasError(
            f"raking did not converge after {max_iter} sweeps: margin {' × '.join(worst)} is "
            f"still off its population totals by up to {worst_gap:.3g} (relative). Collapse "
            "sparse categories, check that the margins are consistent, or raise max_iter."
        )
    out = pd.Series(w, index=df.index, name="calibrated_weight")
    out.attrs["iterations"] = iterations
    return out


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


# ----------------------------------------------------------------------------------------------
# diagnostics
# ----------------------------------------------------------------------------------------------
def weighting_diagnostics(old: Sequence[float] | pd.Series, new: Sequence[float] | pd.Series):
    """Weighting efficiency and adjustment-factor spread before and after a weighting step.

    Parameters
    ----------
    old, new : array-like of float
        Weights before and after (same length, same order), e.g. the design weights and the
        output of :func:`rake`.

    Returns
    -------
    DataFrame
        Columns ``statistic`` and ``value``, rows: ``n``, ``sum_before``, ``sum_after``,
        ``efficiency_before``, ``efficiency_after``, ``deff_weighting_before``,
        ``deff_weighting_after``, ``factor_min``, ``factor_p05``, ``factor_p25``,
        ``factor_median``, ``factor_p75``, ``factor_p95``, ``factor_max``.

    Raises
    ------
    InputError
        Different lengths, or weights that are missing or not positive.

    Notes
    -----
    Kish's weighting efficiency of weights :math:`w_1..w_n` is

    .. math:: E = \\frac{(\\sum_i w_i)^2}{n \\sum_i w_i^2} = \\frac{1}{1 + CV_w^2},

    the share of the nominal sample size that remains as effective sample size
    :math:`n_{eff} = nE`. The design effect due to weighting is :math:`1/E = 1 + CV_w^2`.
    The adjustment factors are :math:`f_i = w_i^{new} / w_i^{old}`; quantiles use linear
    interpolation (NumPy's default).

    Examples
    --------
    >>> d = weighting_diagnostics([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 2.0, 2.0])
    >>> float(d.set_index("statistic").loc["efficiency_after", "value"])
    0.9
    """
    a = np.asarray(old, dtype="float64")
    b = np.asarray(new, dtype="float64")
    if a.shape != b.shape or a.ndim != 1:
        raise InputError(
            f"old and new weights must be 1-D and of the same length ({a.shape} vs {b.shape})"
        )
    for name, arr in (("old", a), ("new", b)):
        bad = ~np.isfinite(arr) | (arr <= 0)
        if bad.any():
            pos = [int(i) for i in np.flatnonzero(bad)]
            raise InputError(
                f"{name} weights must be positive numbers (0-based positions {pos[:10]})",
                values=list(arr[bad][:10]),
            )
    n = len(a)

    def eff(v: np.ndarray) -> float:
        return float(v.sum() ** 2 / (len(v) * np.sum(v**2)))

    f = b / a
    q = np.quantile(f, [0.05, 0.25, 0.5, 0.75, 0.95])
    stats = {
        "n": float(n),
        "sum_before": float(a.sum()),
        "sum_after": float(b.sum()),
        "efficiency_before": eff(a),
        "efficiency_after": eff(b),
        "deff_weighting_before": 1.0 / eff(a),
        "deff_weighting_after": 1.0 / eff(b),
        "factor_min": float(f.min()),
        "factor_p05": float(q[0]),
        "factor_p25": float(q[1]),
        "factor_median": float(q[2]),
        "factor_p75": float(q[3]),
        "factor_p95": float(q[4]),
        "factor_max": float(f.max()),
    }
    return pd.DataFrame({"statistic": list(stats), "value": list(stats.values())})


# ----------------------------------------------------------------------------------------------
# census margins
# ----------------------------------------------------------------------------------------------
_CENSUS_KEYS = {
    ("commune_code",),
    ("area_code",),
    ("urban_rural",),
    ("commune_code", "urban_rural"),
    ("area_code", "urban_rural"),
}


def census_margins(
    communes: pd.DataFrame,
    by: Sequence[MarginKey] = ("commune_code", "urban_rural"),
    *,
    supplied: Mapping[MarginKey, pd.DataFrame] | None = None,
) -> dict[MarginKey, pd.DataFrame]:
    """Population margins for :func:`rake` / :func:`poststratify` from the 2019 census.

    Parameters
    ----------
    communes : DataFrame
        One row per commune of the survey, as returned by ``geography.communes(vintage)``:
        ``commune_code``, ``area_code``, ``pop_2019_total``, ``pop_2019_urban``,
        ``pop_2019_rural``. Keep only the communes the sample covers: every category of a margin
        needs respondents.
    by : sequence of str or tuple of str, default ("commune_code", "urban_rural")
        The margins wanted. Built from the census: ``"commune_code"``, ``"area_code"``,
        ``"urban_rural"`` (1 thành thị, 2 nông thôn), ``("commune_code", "urban_rural")``,
        ``("area_code", "urban_rural")``. Any other margin (``"sex"``, ``"age_band"``,
        ``("sex", "age_band")``) must be given in ``supplied``.
    supplied : dict, optional
        User tables for margins the census reference does not hold: key as in ``by``, value a
        DataFrame with the key column(s) and either ``total`` (persons) or ``share`` (fractions
        summing to 1, scaled here to the communes' total 2019 population).

    Returns
    -------
    dict
        ``{key: DataFrame[key columns..., total]}`` in the order of ``by``; cells with zero
        population (e.g. the rural part of a ward) are left out.

    Raises
    ------
    InputError
        Missing census columns, a margin neither in the census nor supplied, a supplied table
        without ``total``/``share``, or shares that do not sum to 1.

    Notes
    -----
    Limitation: the reference data hold, per commune, only the 2019 census population — total,
    urban and rural — for all ages. Counts by sex × age band per commune are not published in
    the reference tables, so sex and age-band margins have to come from the user (e.g. the
    provincial census tables), via ``supplied``. The census counts are for the whole population,
    not adults 18+: raking to them fixes the *distribution* over communes and urban/rural, which is
    what matters for means and proportions, while weighted totals then refer to all ages.
    For a margin of categories :math:`c` the total is :math:`N_c = \\sum_{k \\in c} P_k` over
    communes :math:`k`; a share table becomes :math:`N_c = s_c \\sum_k P_k`.

    Examples
    --------
    >>> import pandas as pd
    >>> com = pd.DataFrame({"commune_code": [1, 2], "area_code": [794, 794],
    ...     "pop_2019_total": [100, 300], "pop_2019_urban": [100, 50],
    ...     "pop_2019_rural": [0, 250]})
    >>> m = census_margins(com, by=["urban_rural", ("sex",)],
    ...     supplied={("sex",): pd.DataFrame({"sex": [1, 2], "share": [0.49, 0.51]})})
    >>> m["urban_rural"]["total"].tolist(), m[("sex",)]["total"].tolist()
    ([150.0, 250.0], [196.0, 204.0])
    """
    supplied = dict(supplied or {})
    need = ["commune_code", "pop_2019_total", "pop_2019_urban", "pop_2019_rural"]
    if any(_as_key(k) in _CENSUS_KEYS and "area_code" in _as_key(k) for k in by):
        need.append("area_code")
    _check_columns(communes, need, "census_margins (communes table)")
    com = communes.copy()
    for c in ("pop_2019_total", "pop_2019_urban", "pop_2019_rural"):
        com[c] = pd.to_numeric(com[c], errors="coerce").astype("float64")
        bad = ~np.isfinite(com[c].to_numpy()) | (com[c].to_numpy() < 0)
        if bad.any():
            raise InputError(
                "census population missing or negative",
                column=c,
                rows=_rows(com, bad),
                values=list(com.loc[bad, "commune_code"]),
            )
    grand = float(com["pop_2019_total"].sum())

    long = pd.concat(
        [
            com.assign(urban_rural=1, total=com["pop_2019_urban"]),
            com.assign(urban_rural=2, total=com["pop_2019_rural"]),
        ],
        ignore_index=True,
    )
    out: dict[MarginKey, pd.DataFrame] = {}
    for raw in by:
        key = _as_key(raw)
        if raw in supplied or key in {_as_key(k) for k in supplied}:
            table = (
                supplied[raw]
                if raw in supplied
                else next(v for k, v in supplied.items() if _as_key(k) == key)
            )
            _check_columns(table, list(key), f"supplied margin {key}")
            if "total" in table.columns:
                frame = table[[*key, "total"]].copy()
                frame["total"] = pd.to_numeric(frame["total"], errors="coerce").astype("float64")
            elif "share" in table.columns:
                share = pd.to_numeric(table["share"], errors="coerce").astype("float64")
                if not math.isclose(float(share.sum()), 1.0, abs_tol=1e-6):
                    raise InputError(
                        f"supplied margin {key}: shares sum to {float(share.sum())}, not 1",
                        column="share",
                    )
                frame = table[list(key)].copy()
                frame["total"] = share.to_numpy() * grand
            else:
                raise InputError(
                    f"supplied margin {key} needs a 'total' or a 'share' column",
                    values=list(table.columns),
                )
        elif key in _CENSUS_KEYS:
            src = long if "urban_rural" in key else com.assign(total=com["pop_2019_total"])
            frame = src.groupby(list(key), as_index=False, sort=True)["total"].sum()
            frame = frame[frame["total"] > 0].reset_index(drop=True)
        else:
            raise InputError(
                f"margin {key} is not in the 2019 census reference data (it holds population per "
                "commune: total, urban, rural). Pass it in supplied= as a table with a 'total' "
                "or 'share' column.",
                values=[key],
            )
        out[raw] = frame.reset_index(drop=True)
    return out


# ----------------------------------------------------------------------------------------------
# calibration of a wave (the run)
# ----------------------------------------------------------------------------------------------
def _efficiency(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (len(w) * np.sum(w**2))) if len(w) else float("nan")


def weighting_summary(respondents: pd.DataFrame, weight: str = "weight") -> dict[str, object]:
    """Kish weighting efficiency of a respondent table's weights, before and after calibration.

    Parameters
    ----------
    respondents : DataFrame
        Canonical respondent table; when it was calibrated by :func:`calibrate_wave` it holds the
        design weights in ``weight_design`` and the margins in ``calib__*`` columns.
    weight : str, default "weight"
        The weight column used by the estimates.

    Returns
    -------
    dict
        ``calibrated`` (bool), ``n``, ``efficiency_design`` and, when calibrated,
        ``efficiency_calibrated``, ``g_min``, ``g_max`` and ``margins`` (the calibration
        columns).

    Notes
    -----
    Kish efficiency :math:`E = (\\sum_i w_i)^2 / (n \\sum_i w_i^2)` (effective sample size
    :math:`nE`); g-weights :math:`g_i = w_i / d_i` (calibrated over design weight).

    Examples
    --------
    >>> import pandas as pd
    >>> weighting_summary(pd.DataFrame({"weight": [1.0, 1.0, 2.0, 2.0]}))["efficiency_design"]
    0.9
    """
    from sipas_analysis.design import CALIBRATION_PREFIX, DESIGN_WEIGHT_COLUMN

    w = pd.to_numeric(respondents[weight], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    margins = [c for c in respondents.columns if str(c).startswith(CALIBRATION_PREFIX)]
    calibrated = bool(margins) and DESIGN_WEIGHT_COLUMN in respondents.columns
    d = (
        pd.to_numeric(respondents[DESIGN_WEIGHT_COLUMN], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        if calibrated
        else w
    )
    ok = np.isfinite(w) & np.isfinite(d) & (w > 0) & (d > 0)
    out: dict[str, object] = {
        "calibrated": calibrated,
        "n": int(ok.sum()),
        "efficiency_design": _efficiency(d[ok]),
    }
    if calibrated:
        g = w[ok] / d[ok]
        out.update(
            {
                "efficiency_calibrated": _efficiency(w[ok]),
                "g_min": float(g.min()) if g.size else float("nan"),
                "g_max": float(g.max()) if g.size else float("nan"),
                "margins": [str(c)[len(CALIBRATION_PREFIX) :] for c in margins],
            }
        )
    return out


def _read_margin_table(path, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype={c: str for c in columns}, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise InputError(
            f"không đọc được bảng biên {name!r} / cannot read the margin table {name!r}: {exc}",
            file=str(path),
        ) from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"bảng biên {name!r} thiếu cột / margin table {name!r} lacks column(s) "
            f"{', '.join(missing)} (it needs {', '.join(columns)} and total or share)",
            file=str(path),
            column=missing[0],
        )
    return table


def calibrate_wave(
    respondents: pd.DataFrame,
    calibration: Mapping[str, object],
    vintage: str,
    *,
    weight: str = "weight",
) -> pd.DataFrame:
    """Calibrate the weights of a wave to population margins, as a wave config declares.

    Parameters
    ----------
    respondents : DataFrame
        Canonical respondent table of one wave. Not modified.
    calibration : dict
        ``WaveConfig.calibration``: ``method`` (``"rake"`` or ``"poststratify"``), ``source``
        (``"census2019"``), ``margins`` (names of :data:`sipas_analysis.waves.CALIBRATION_MARGINS`)
        and ``tables`` (margin name -> csv path, for margins the census does not hold).
    vintage : str
        Boundary vintage of the wave (which commune list holds the 2019 census figures).
    weight : str, default "weight"

    Returns
    -------
    DataFrame
        A copy of ``respondents`` with ``weight`` replaced by the calibrated weights, the design
        weights in ``weight_design`` and one ``calib__<margin>`` column per margin (the category
        labels as text; for a cross-classified margin such as ``sex_age_band`` the joined cells).
        These columns carry the calibration to every estimate computed from the table (see
        :mod:`sipas_analysis.design`), also after ``DataFrame.assign`` of other strata or PSUs.

    Raises
    ------
    InputError
        A respondent without a category of a margin, a sample category the margin table lacks, a
        margin category without respondents, unreadable or malformed margin tables (bilingual
        messages).
    SipasError
        Raking that does not converge.

    Notes
    -----
    Census margins (``commune``, ``area``, ``urban_rural`` and their crosses) come from
    :func:`census_margins` over the communes the sample covers, so their totals are those
    communes' 2019 population (all ages). A supplied table with ``share`` is scaled to the same
    total; one with ``total`` must add up to it for raking. ``rake`` is :func:`rake`
    (iterative proportional fitting, tolerance :math:`10^{-12}`), ``poststratify`` is
    :func:`poststratify` on the cells of its one margin. The SEs then use the residuals of the
    design-weighted regression on the margins' indicators (R ``calibrate()``).
    """
    from sipas_analysis import geography
    from sipas_analysis.design import CALIBRATION_PREFIX, DESIGN_WEIGHT_COLUMN
    from sipas_analysis.waves import CALIBRATION_MARGINS

    method = str(calibration.get("method", "rake"))
    names = list(calibration["margins"])
    tables = dict(calibration.get("tables") or {})
    df = respondents.copy()
    if DESIGN_WEIGHT_COLUMN in df.columns:
        raise InputError(
            f"bảng đã hiệu chỉnh rồi / the table is already calibrated (column "
            f"{DESIGN_WEIGHT_COLUMN!r} present)",
            column=DESIGN_WEIGHT_COLUMN,
        )
    keys = {n: CALIBRATION_MARGINS[n][0] for n in names}
    for n, cols in keys.items():
        _check_columns(df, list(cols), f"calibration margin {n}")
        na = df[list(cols)].isna().any(axis=1).to_numpy()
        if na.any():
            raise InputError(
                f"{int(na.sum())} người trả lời thiếu {'/'.join(cols)}: không hiệu chỉnh được "
                f"theo biên {n!r} / {int(na.sum())} respondent(s) without {'/'.join(cols)}: "
                f"cannot calibrate to margin {n!r} (fill the value or drop the margin)",
                column=cols[0],
                rows=_rows(df, na),
            )
    # labels as text in every margin column used (census and supplied tables alike)
    work = df.copy()
    for cols in keys.values():
        for c in cols:
            work[c] = df[c].map(_norm_value).astype(str)
    com = geography.communes(vintage)
    codes = set(pd.to_numeric(df["commune_code"], errors="coerce").dropna().astype(int))
    com = com[com["commune_code"].astype(int).isin(codes)].copy()
    missing_codes = sorted(codes - set(com["commune_code"].astype(int)))
    if missing_codes:
        raise InputError(
            f"xã không có số liệu tổng điều tra 2019 / commune(s) without 2019 census figures: "
            f"{missing_codes[:10]}",
            column="commune_code",
            values=missing_codes,
        )
    for c in ("commune_code", "area_code"):
        com[c] = com[c].map(_norm_value).astype(str)
    supplied = {}
    for n in names:
        if n in tables:
            t = _read_margin_table(tables[n], keys[n], n)
            for c in keys[n]:
                t[c] = t[c].map(lambda v: _norm_value(_num(v))).astype(str)
            supplied[keys[n]] = t
    by = [keys[n] for n in names]
    margins = census_margins(com, by=by, supplied=supplied)
    for k, frame in margins.items():
        for c in k:
            frame[c] = frame[c].map(_norm_value).astype(str)
    if method == "poststratify":
        key = by[0]
        new = poststratify(work, weight, list(key), margins[key], total="total")
    else:
        new = rake(work, weight, dict(margins), max_iter=200, tol=1e-12)
    df[DESIGN_WEIGHT_COLUMN] = df[weight].astype("float64")
    df[weight] = new.to_numpy()
    for n, cols in keys.items():
        df[CALIBRATION_PREFIX + n] = work[list(cols)].agg(" × ".join, axis=1)
    return df


def _num(v: object) -> object:
    """A csv label as a number when it is one ("1" -> 1), else the text."""
    try:
        f = float(str(v))
    except ValueError:
        return str(v)
    return int(f) if f.is_integer() else f
