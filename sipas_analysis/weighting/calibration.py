"""Calibrating weights to known totals: post-stratification (:func:`poststratify`) and raking to
several margins (:func:`rake`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.weighting.cells import (
    MarginKey,
    _as_key,
    _cell_keys,
    _match_cells,
    _population_table,
    _weights,
)

__all__ = ["poststratify", "rake"]


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
