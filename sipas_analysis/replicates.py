"""Bootstrap replicate weights (Rao–Wu rescaling) for statistics that are not linear.

Taylor linearisation (:mod:`sipas_analysis.estimate`) covers means, proportions and their linear
combinations. Ranks of communes, medians, or any index recomputed through non-smooth steps need
replicate weights instead: the statistic is recomputed with each set of replicate weights and the
spread of the replicate values gives its standard error and intervals.

* :func:`rao_wu_bootstrap` — the Rao–Wu (1988) rescaled bootstrap with :math:`m_h = n_h - 1`
  PSUs drawn per stratum, as R ``survey``'s ``as.svrepdesign(type = "subbootstrap")``.
* :func:`replicate_estimates` — estimate, bootstrap SE and replicate values of any statistic.
* :func:`rank_intervals` — rank of every domain (e.g. commune) on a weighted mean or share, with a
  percentile interval of its replicate ranks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.stats import rankdata

from sipas_analysis.errors import InputError, SipasError

__all__ = ["ReplicateResult", "rao_wu_bootstrap", "replicate_estimates", "rank_intervals"]

_LONELY = ("fail", "certainty")


def _rows(df: pd.DataFrame, mask: np.ndarray) -> list[int]:
    """Row numbers as in the source file: ``source_row`` if present, else position + 2 (header 1)."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    if "source_row" in df.columns:
        return [int(v) for v in df["source_row"].to_numpy()[positions]]
    return [int(p) + 2 for p in positions]


def _check_columns(df: pd.DataFrame, columns: Sequence[str | None]) -> None:
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise InputError(
            f"column(s) not found: {', '.join(map(repr, missing))}",
            column=missing[0],
            values=missing,
        )


def _weights(df: pd.DataFrame, weight: str) -> np.ndarray:
    w = pd.to_numeric(df[weight], errors="coerce").astype("float64").to_numpy()
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise InputError(
            "weights must be non-negative numbers",
            column=weight,
            rows=_rows(df, bad),
            values=list(pd.unique(df[weight].to_numpy()[bad]))[:10],
        )
    return w


def rao_wu_bootstrap(
    df: pd.DataFrame,
    weight: str,
    strata: str | None,
    psu: str | None,
    n_replicates: int = 500,
    seed: int | np.random.Generator | None = 1988,
    *,
    lonely_psu: str = "fail",
) -> np.ndarray:
    """Rao–Wu rescaled bootstrap replicate weights (``m_h = n_h − 1``).

    Parameters
    ----------
    df : DataFrame
        Respondent table (the whole sample).
    weight : str
        Column with the (design or calibrated) weights, non-negative.
    strata : str or None
        Stratum column; ``None`` = one stratum.
    psu : str or None
        PSU column (PSUs are nested in strata: the same label in two strata is two PSUs);
        ``None`` = every respondent is a PSU.
    n_replicates : int, default 500
        Number of replicates :math:`R`.
    seed : int, Generator or None, default 1988
        Seed for :func:`numpy.random.default_rng`; the same seed gives the same weights.
    lonely_psu : {"fail", "certainty"}, default "fail"
        A stratum with a single PSU cannot be resampled. ``"fail"`` raises an error naming the
        strata; ``"certainty"`` keeps such a PSU with its full weight in every replicate, so it adds
        no variance (R's ``subbootweights`` has no rule and gives missing weights there).

    Returns
    -------
    ndarray of float, shape (n_rows, n_replicates)
        Replicate weights, rows in the order of ``df``.

    Raises
    ------
    InputError
        Missing columns, missing stratum/PSU labels, negative or missing weights.
    SipasError
        A stratum with one PSU and ``lonely_psu="fail"``; fewer than 2 replicates.

    Notes
    -----
    In stratum :math:`h` with :math:`n_h` PSUs, each replicate :math:`r` draws
    :math:`m_h = n_h - 1` PSUs by simple random sampling with replacement; with
    :math:`t_{hi}^{(r)}` the number of times PSU :math:`i` was drawn the replicate weight is

    .. math:: w_{hik}^{(r)} = w_{hik} \\, \\frac{n_h}{n_h - 1} \\, t_{hi}^{(r)},

    the Rao & Wu (1988) rescaling, which for :math:`m_h = n_h - 1` reduces to this simple form
    (Rao, Wu & Yue 1992). It is R ``survey``'s ``subbootweights()`` /
    ``as.svrepdesign(type = "subbootstrap")``. PSUs not drawn get weight exactly 0; weights stay
    non-negative. The variance of a statistic :math:`\\theta` is

    .. math:: v = \\frac{1}{R - 1} \\sum_{r=1}^{R} (\\theta_r - \\bar\\theta)^2,

    centred at the mean of the replicates, as R (``scale = 1/(R−1)``, ``rscales = 1`` and the
    default ``options(survey.replicates.mse = FALSE)``); see :func:`replicate_estimates`.

    References
    ----------
    Rao, J. N. K. and Wu, C. F. J. (1988). Resampling inference with complex survey data. JASA
    83, 231–241. Rao, J. N. K., Wu, C. F. J. and Yue, K. (1992). Some recent work on resampling
    methods for complex surveys. Survey Methodology 18, 209–217.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"h": ["a"] * 4 + ["b"] * 4, "psu": list("11223344"), "w": [2.0] * 8})
    >>> rw = rao_wu_bootstrap(df, "w", "h", "psu", n_replicates=3, seed=1)
    >>> rw.shape
    (8, 3)
    >>> sorted(set(rw.ravel().tolist()))  # 0 (not drawn) or 2 * 2/1 * 1 (drawn once)
    [0.0, 4.0]
    """
    if n_replicates < 2:
        raise SipasError("rao_wu_bootstrap: n_replicates must be at least 2")
    if lonely_psu not in _LONELY:
        raise SipasError(f"lonely_psu must be one of {_LONELY}, not {lonely_psu!r}")
    _check_columns(df, [weight, strata, psu])
    w = _weights(df, weight)
    n = len(df)
    for col in (strata, psu):
        if col is not None:
            na = df[col].isna().to_numpy()
            if na.any():
                raise InputError(
                    "design variable has missing values", column=col, rows=_rows(df, na)
                )
    if strata is None:
        s_row = np.zeros(n, dtype=np.int64)
        s_labels: list = ["(one stratum)"]
    else:
        s_row, uniq = pd.factorize(df[strata].astype(str))
        s_labels = list(uniq)
    if psu is None:
        p_row = np.arange(n, dtype=np.int64)
    else:
        pairs = pd.Series(list(zip(s_row, df[psu].astype(str).to_numpy(), strict=True)))
        p_row, _ = pd.factorize(pairs)
    p_row = np.asarray(p_row, dtype=np.int64)
    # Renumber PSUs so that the PSUs of one stratum are consecutive: psu id = offset_h + j.
    n_psu = int(p_row.max()) + 1 if n else 0
    psu_stratum = np.zeros(n_psu, dtype=np.int64)
    psu_stratum[p_row] = s_row
    order = np.argsort(psu_stratum, kind="stable")
    new_id = np.empty(n_psu, dtype=np.int64)
    new_id[order] = np.arange(n_psu)
    p_row = new_id[p_row]
    psu_stratum = psu_stratum[order]
    n_h = np.bincount(psu_stratum, minlength=len(s_labels))
    offset = np.concatenate([[0], np.cumsum(n_h)[:-1]])

    lonely = n_h == 1
    if lonely.any() and lonely_psu == "fail":
        bad = [s_labels[i] for i in np.flatnonzero(lonely)]
        raise SipasError(
            f"stratum {bad[0]!r} has only one PSU"
            + (f" (and {len(bad) - 1} more strata)" if len(bad) > 1 else "")
            + ": it cannot be resampled by the bootstrap; merge it with a neighbouring stratum "
            "or use lonely_psu='certainty'"
        )

    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    # Draw m_h = n_h - 1 PSUs with replacement in every stratum and replicate, all at once.
    draw_stratum = np.repeat(np.arange(len(n_h)), np.maximum(n_h - 1, 0))
    high = n_h[draw_stratum]
    picks = offset[draw_stratum][None, :] + rng.integers(
        0, high[None, :], size=(n_replicates, len(draw_stratum))
    )
    flat = picks + (np.arange(n_replicates) * n_psu)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n_replicates * n_psu).reshape(n_replicates, n_psu)
    scale = np.where(n_h > 1, n_h / np.maximum(n_h - 1, 1), 1.0)[psu_stratum]
    factor = counts * scale[None, :]
    if lonely.any():  # certainty: the lonely PSU keeps its weight in every replicate
        factor[:, lonely[psu_stratum]] = 1.0
    return w[:, None] * factor.T[p_row, :]


class ReplicateResult(NamedTuple):
    """Result of :func:`replicate_estimates`: unpacks as ``estimate, se, replicates``."""

    estimate: float | pd.Series
    se: float | pd.Series
    replicates: np.ndarray | pd.DataFrame


def _replicate_se(thetas: np.ndarray, full: np.ndarray, mse: bool) -> np.ndarray:
    """SE from replicate values (R × k), NaN replicates left out per column."""
    ok = np.isfinite(thetas)
    n_ok = ok.sum(axis=0)
    centre = full if mse else np.nanmean(np.where(ok, thetas, np.nan), axis=0)
    dev2 = np.where(ok, (thetas - centre[None, :]) ** 2, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(dev2.sum(axis=0) / (n_ok - 1))


def replicate_estimates(
    df: pd.DataFrame,
    replicate_weights: np.ndarray,
    statistic: Callable[[pd.DataFrame, np.ndarray], float | pd.Series],
    *,
    weight: str,
    mse: bool = False,
) -> ReplicateResult:
    """Estimate, bootstrap SE and replicate values of any statistic.

    Parameters
    ----------
    df : DataFrame
        Respondent table, rows in the order used for ``replicate_weights``.
    replicate_weights : ndarray, shape (n_rows, R)
        From :func:`rao_wu_bootstrap`.
    statistic : callable
        ``statistic(df, weights) -> float or Series``; called once with the full-sample weights
        and once per replicate. A Series must have the same index every time.
    weight : str
        Column with the full-sample weights.
    mse : bool, default False
        Centre the replicates at the full-sample estimate instead of their mean (R's
        ``options(survey.replicates.mse = TRUE)``).

    Returns
    -------
    ReplicateResult
        ``(estimate, se, replicates)``: scalars and a 1-D array of length R for a scalar
        statistic; Series and an R × k DataFrame for a Series statistic.

    Raises
    ------
    InputError
        When ``replicate_weights`` does not have one row per row of ``df``.

    Notes
    -----
    .. math:: \\mathrm{SE} = \\sqrt{\\frac{1}{R' - 1} \\sum_r (\\theta_r - c)^2},

    with :math:`c = \\bar\\theta` (mean of the replicates; default, as R) or :math:`c = \\hat\\theta`
    (``mse=True``), and :math:`R'` the number of replicates where the statistic is defined: a
    replicate giving NaN (e.g. a domain none of whose PSUs was drawn) is left out for that
    component, where R would drop the whole replicate.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"h": ["a"] * 6 + ["b"] * 6, "psu": list("112233445566"),
    ...                    "w": 1.0, "y": [1, 2, 2, 3, 3, 4, 5, 5, 6, 6, 7, 9]})
    >>> rw = rao_wu_bootstrap(df, "w", "h", "psu", n_replicates=200, seed=3)
    >>> def wmean(d, w):
    ...     return float(np.sum(w * d["y"]) / np.sum(w))
    >>> est, se, reps = replicate_estimates(df, rw, wmean, weight="w")
    >>> round(est, 4), reps.shape
    (4.4167, (200,))
    """
    rw = np.asarray(replicate_weights, dtype="float64")
    if rw.ndim != 2 or rw.shape[0] != len(df):
        raise InputError(
            f"replicate_weights must have shape (n_rows={len(df)}, R), not {rw.shape}",
        )
    _check_columns(df, [weight])
    full = statistic(df, _weights(df, weight))
    values = [statistic(df, rw[:, r]) for r in range(rw.shape[1])]
    if isinstance(full, pd.Series):
        reps = pd.DataFrame([v.reindex(full.index) for v in values]).astype("float64")
        reps.index = pd.RangeIndex(rw.shape[1], name="replicate")
        se = _replicate_se(reps.to_numpy(), full.to_numpy(dtype="float64"), mse)
        return ReplicateResult(full, pd.Series(se, index=full.index, name="se"), reps)
    arr = np.asarray(values, dtype="float64")
    se = _replicate_se(arr[:, None], np.array([float(full)]), mse)[0]
    return ReplicateResult(float(full), float(se), arr)


def rank_intervals(
    df: pd.DataFrame,
    value: str,
    domain: str,
    weights: str,
    replicate_weights: np.ndarray,
    *,
    satisfied_codes: Sequence[int] | None = None,
    ascending: bool = False,
    level: float = 0.95,
    mse: bool = False,
) -> pd.DataFrame:
    """Rank every domain on a weighted mean (or share), with a bootstrap interval of the rank.

    Parameters
    ----------
    df : DataFrame
        Respondent table, the whole sample (rows in the order used for ``replicate_weights``).
    value : str
        Numeric column (e.g. an item, or a respondent-level index). Missing values are left out.
    domain : str
        Domain column, e.g. ``"commune_code"``. Rows with a missing domain are left out.
    weights : str
        Column with the full-sample weights.
    replicate_weights : ndarray, shape (n_rows, R)
        From :func:`rao_wu_bootstrap`.
    satisfied_codes : sequence of int, optional
        If given, the statistic is the weighted share (in percent, 0–100) of valid answers in these
        codes (e.g. the top-2-box share with the codes of the instrument definition), instead of the
        weighted mean of ``value``.
    ascending : bool, default False
        ``False``: rank 1 = highest value (best score); ``True``: rank 1 = lowest.
    level : float, default 0.95
        Coverage of the rank interval.
    mse : bool, default False
        Passed on to the SE of the estimate (see :func:`replicate_estimates`).

    Returns
    -------
    DataFrame
        One row per domain, sorted by rank: ``domain``, ``estimate``, ``se`` (bootstrap),
        ``rank``, ``rank_low``, ``rank_high``, ``n`` (valid respondents), ``n_replicates``
        (replicates in which the domain had a weighted total > 0).

    Raises
    ------
    InputError
        Missing columns, bad weights, replicate weights of the wrong shape.

    Notes
    -----
    For domain :math:`d` the statistic is :math:`\\hat\\theta_d = \\sum_i w_i d_i y_i /
    \\sum_i w_i d_i` over valid answers (:math:`y_i = 100 \\cdot 1[\\text{answer} \\in S]` with
    ``satisfied_codes``). It is recomputed with each replicate's weights; ranks are taken over the
    domains in each replicate (ties get the lowest rank, ``method="min"``), and the rank interval
    is the :math:`(1-\\text{level})/2` and :math:`(1+\\text{level})/2` quantiles of the replicate
    ranks (``numpy.quantile(..., method="inverted_cdf")``, so the bounds are ranks seen in some
    replicate). A domain with zero weight in a replicate (none of its PSUs drawn — common for a
    commune of one or two villages) has no replicate value there: its own replicate rank is not
    counted, and to rank the other domains it is held at its full-sample estimate, so that every
    replicate ranks on the same 1..D scale. ``n_replicates`` tells how many replicates a domain's
    SE and interval rest on; few PSUs per domain make any bootstrap interval unreliable. The point rank is the rank of the full-sample estimate; a
    percentile interval need not contain it when the replicate distribution is very skewed, and
    this is shown as is, not forced.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"commune": np.repeat(["A", "B", "C"], 40),
    ...                    "psu": np.repeat(np.arange(12), 10), "w": 1.0})
    >>> df["y"] = rng.normal(0, 1, 120) + np.repeat([5.0, 0.0, -5.0], 40)
    >>> rw = rao_wu_bootstrap(df, "w", None, "psu", n_replicates=100, seed=1)
    >>> r = rank_intervals(df, "y", "commune", "w", rw)
    >>> r[["commune", "rank", "rank_low", "rank_high"]].to_numpy().tolist()
    [['A', 1, 1, 1], ['B', 2, 2, 2], ['C', 3, 3, 3]]
    """
    if not 0 < level < 1:
        raise SipasError(f"level must be between 0 and 1, not {level}")
    _check_columns(df, [value, domain, weights])
    rw = np.asarray(replicate_weights, dtype="float64")
    if rw.ndim != 2 or rw.shape[0] != len(df):
        raise InputError(f"replicate_weights must have shape (n_rows={len(df)}, R), not {rw.shape}")
    w = _weights(df, weights)
    y = pd.to_numeric(df[value], errors="coerce").astype("float64").to_numpy()
    valid = np.isfinite(y)
    if satisfied_codes is not None:
        y = np.where(np.isin(y, np.asarray(list(satisfied_codes), dtype="float64")), 100.0, 0.0)
    y = np.where(valid, y, 0.0)
    dom_na = df[domain].isna().to_numpy()
    codes, labels = pd.factorize(df[domain], sort=True)
    keep = valid & ~dom_na & (codes >= 0)
    rows = np.flatnonzero(keep)
    n_dom = len(labels)
    g = sparse.csr_matrix(
        (np.ones(len(rows)), (codes[rows], rows)), shape=(n_dom, len(df)), dtype="float64"
    )
    all_w = np.column_stack([w, rw])  # column 0 = full sample
    den = np.asarray(g @ all_w)
    num = np.asarray(g @ (all_w * y[:, None]))
    with np.errstate(invalid="ignore", divide="ignore"):
        theta = np.where(den > 0, num / den, np.nan)  # (D, 1 + R)
    sign = 1.0 if ascending else -1.0
    undefined = ~np.isfinite(theta)
    # A domain undefined in a replicate is held at its full-sample value to rank the others, so
    # that every replicate ranks on the same 1..D scale; its own rank there is not counted.
    held = np.where(undefined, theta[:, [0]], theta)
    ranks = rankdata(sign * held, method="min", axis=0, nan_policy="omit").astype("float64")
    ranks[undefined] = np.nan
    full_rank = ranks[:, 0]
    rep_ranks = ranks[:, 1:]
    alpha = (1.0 - level) / 2.0
    lo = np.full(n_dom, np.nan)
    hi = np.full(n_dom, np.nan)
    for d in range(n_dom):
        r = rep_ranks[d][np.isfinite(rep_ranks[d])]
        if len(r):
            lo[d], hi[d] = np.quantile(r, [alpha, 1.0 - alpha], method="inverted_cdf")
    se = _replicate_se(theta[:, 1:].T, theta[:, 0], mse)
    out = pd.DataFrame(
        {
            domain: labels,
            "estimate": theta[:, 0],
            "se": se,
            "rank": pd.array(np.where(np.isfinite(full_rank), full_rank, np.nan)).astype("Int64"),
            "rank_low": pd.array(lo).astype("Int64"),
            "rank_high": pd.array(hi).astype("Int64"),
            "n": np.bincount(codes[rows], minlength=n_dom).astype("int64"),
            "n_replicates": np.isfinite(theta[:, 1:]).sum(axis=1).astype("int64"),
        }
    )
    return out.sort_values(["rank", domain], na_position="last").reset_index(drop=True)
