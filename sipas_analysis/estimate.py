"""Design-based estimation: every (item x domain) cell in one vectorised pass, with honest CIs.

Means, proportions and the top-2-box share of 5-point items for any number of items and domains
(commune, area, the whole survey area, subgroups), with Taylor-linearisation standard errors over
the full design (rows are never filtered to a domain), design effects, degrees of freedom and
confidence intervals that stay on the scale. The numbers reproduce R ``survey``
(``svymean``/``svyby``/``svyciprop``/``svycontrast``); ``tests/r/`` holds the R reference.

The result, :class:`Estimates`, keeps the linearisation scores of every cell, so that composites
(SIPAS element and overall = means of item indices), differences between domains and any linear
combination get the correct standard error (:func:`composite_mean`, :meth:`Estimates.difference`,
:meth:`Estimates.linear_combination`). Differences between independent waves:
:func:`difference_independent`.

Scale: proportions and top-2-box shares are returned in **percent (0-100)**, as SIPAS is
published; means are on the scale of the answer codes.

Command line: ``sipas estimate --data FILE --items q1,q2 --statistic top2 --by commune_code ...``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import sparse, special

from sipas_analysis.design import DesignWarning, SurveyDesign, _require_columns, survey_design
from sipas_analysis.disclosure import MIN_N
from sipas_analysis.errors import InputError, SipasError

__all__ = [
    "CI_METHODS",
    "DEFAULT_POSITIVE",
    "DEFAULT_TOP_BOX",
    "DF_RULES",
    "FLAG_ORDER",
    "MIN_N",
    "SMALL_N",
    "STATISTICS",
    "Estimates",
    "composite_mean",
    "difference_independent",
    "estimate_domains",
    "estimate_levels",
    "flag_tokens",
    "inherit_flags",
    "proportion_ci",
    "read_respondent_file",
]

#: Statistics the engine computes.
STATISTICS = ("top2", "prop", "mean")
#: Default top-box codes of a 5-point satisfaction scale: 4 "Hài lòng", 5 "Rất hài lòng".
DEFAULT_TOP_BOX = (4, 5)
#: Default "positive" code for ``statistic="prop"`` (1 = "Có"/yes, or 1 of a 0/1 item).
DEFAULT_POSITIVE = (1,)
CI_METHODS = ("logit", "korn-graubard")
DF_RULES = ("design", "domain")
SMALL_N = 30
# MIN_N (fewest respondents of a published cell) is defined with the publication rules, in
# sipas_analysis.disclosure, and exported here too.
#: Largest score matrix (stored values) kept in the PSU layout, with every covariance; above it
#: each domain keeps its own compact block (:meth:`~sipas_analysis.design.SurveyDesign.scores`).
EXACT_SCORE_VALUES = 1_000_000
#: Values per temporary array of the engine (item columns are processed in passes).
CHUNK_VALUES = 2_000_000

_PERCENT = {"top2": True, "prop": True, "mean": False}


# --------------------------------------------------------------------------------------------
# domains
# --------------------------------------------------------------------------------------------
def _as_cols(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _domain_codes(
    df: pd.DataFrame, cols: list[str], domain_values: Mapping[str, Sequence] | None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Domain code per row (-1 = in no domain) and the table of domains (one row per code)."""
    n = len(df)
    if not cols:
        return np.zeros(n, dtype=np.int64), pd.DataFrame(index=range(1))
    sub = df[cols]
    na = sub.isna().any(axis=1).to_numpy()
    full_lists = []
    for c in cols:
        if domain_values is not None and c in domain_values:
            full_lists.append(list(domain_values[c]))
        elif isinstance(sub[c].dtype, pd.CategoricalDtype):
            full_lists.append(list(sub[c].cat.categories))
        else:
            full_lists.append(None)
    if all(v is not None for v in full_lists):
        mi = pd.MultiIndex.from_product(full_lists, names=cols)
        domains = mi.to_frame(index=False)
        for c in cols:
            if not isinstance(sub[c].dtype, pd.CategoricalDtype):
                try:
                    domains[c] = domains[c].astype(sub[c].dtype)
                except (TypeError, ValueError):
                    pass
    else:
        observed = sub[~na].drop_duplicates()
        for c, values in zip(cols, full_lists, strict=True):
            if values is not None:
                observed = observed[observed[c].isin(values)]
        domains = observed.sort_values(cols).reset_index(drop=True)
    for c in cols:  # nullable dtypes so that stacked levels keep integer codes
        if pd.api.types.is_integer_dtype(domains[c].dtype) and not isinstance(
            domains[c].dtype, pd.CategoricalDtype
        ):
            domains[c] = domains[c].astype("Int64")
    keys = pd.MultiIndex.from_frame(domains[cols].astype(object))
    codes = keys.get_indexer(pd.MultiIndex.from_frame(sub.astype(object)))
    codes = np.asarray(codes, dtype=np.int64)
    codes[na] = -1
    if na.any():
        warnings.warn(
            f"{int(na.sum())} respondents have no value in {cols}; they stay in the design but "
            "belong to no domain of this level",
            DesignWarning,
            stacklevel=3,
        )
    outside = (codes < 0) & ~na
    if outside.any():
        warnings.warn(
            f"{int(outside.sum())} respondents have {cols} values outside the listed domains; "
            "they stay in the design but in no domain",
            DesignWarning,
            stacklevel=3,
        )
    return codes, domains


def _item_matrix(df: pd.DataFrame, items: Sequence[str], file: str | None) -> np.ndarray:
    out = np.empty((len(df), len(items)))
    for j, c in enumerate(items):
        s = df[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna().to_numpy() & s.notna().to_numpy()
        if bad.any():
            pos = np.flatnonzero(bad)
            rows = (
                df["source_row"].to_numpy()[pos].tolist()
                if "source_row" in df.columns
                else (pos + 2).tolist()
            )
            raise InputError(
                "item answers must be numeric codes",
                file=file,
                column=c,
                rows=rows,
                values=pd.unique(s[bad].astype(object)).tolist(),
            )
        out[:, j] = num.to_numpy(dtype=float, na_value=np.nan)
    return out


def _indicator(n_domains: int, codes: np.ndarray) -> sparse.csr_matrix:
    keep = np.flatnonzero(codes >= 0)
    return sparse.csr_matrix(
        (np.ones(keep.size), (codes[keep], keep)), shape=(n_domains, codes.shape[0])
    )


# --------------------------------------------------------------------------------------------
# confidence intervals
# --------------------------------------------------------------------------------------------
def _tq(level: float, df: np.ndarray) -> np.ndarray:
    df = np.asarray(df, dtype=float)
    uniq, inv = np.unique(df, return_inverse=True)
    return special.stdtrit(uniq, 1 - (1 - level) / 2)[inv].reshape(df.shape)


def _clopper_pearson(p: np.ndarray, n_eff: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    """Clopper-Pearson interval for ``x = p*n_eff`` successes out of ``n_eff`` (0-1 scale)."""
    a = (1 - level) / 2
    x = p * n_eff
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(p <= 0, 0.0, special.betaincinv(x, n_eff - x + 1, a))
        hi = np.where(p >= 1, 1.0, special.betaincinv(x + 1, n_eff - x, 1 - a))
    return lo, hi


def proportion_ci(
    p: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    level: float = 0.95,
    method: str = "logit",
    n: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence interval of a proportion on the 0-1 scale (logit or Korn-Graubard).

    Parameters
    ----------
    p, se : array_like
        Estimates and standard errors on the 0-1 scale.
    df : array_like
        Degrees of freedom of the t quantile.
    level : float
        Confidence level.
    method : {"logit", "korn-graubard"}
        Interval type.
    n : array_like, optional
        Unweighted sample size (Korn-Graubard only).

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper bounds; NaN where ``p`` is 0 or 1 or ``se`` is not positive (the caller
        gives those cells their documented fallback).

    Notes
    -----
    Logit (R ``svyciprop(method="logit")``):
    :math:`\\operatorname{expit}\\{\\operatorname{logit}\\hat p \\pm t_{df,1-\\alpha/2}\\,
    \\widehat{se}/(\\hat p(1-\\hat p))\\}`.

    Korn-Graubard (R ``svyciprop(method="beta")``): effective sample size
    :math:`n^* = \\hat p(1-\\hat p)/\\widehat{V}\\,(t_{n-1,\\alpha/2}/t_{df,\\alpha/2})^2`, bounds
    :math:`B^{-1}_{\\alpha/2}(n^*\\hat p,\\, n^*(1-\\hat p)+1)` and
    :math:`B^{-1}_{1-\\alpha/2}(n^*\\hat p+1,\\, n^*(1-\\hat p))`.

    Examples
    --------
    >>> lo, hi = proportion_ci(np.array([0.8]), np.array([0.05]), np.array([20]))
    >>> bool(0 < lo[0] < 0.8 < hi[0] < 1)
    True
    """
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    df = np.asarray(df, dtype=float)
    ok = (p > 0) & (p < 1) & (se > 0) & np.isfinite(se) & (df > 0)
    lo = np.full(p.shape, np.nan)
    hi = np.full(p.shape, np.nan)
    if not ok.any():
        return lo, hi
    pp, ss, dd = p[ok], se[ok], df[ok]
    if method == "logit":
        t = _tq(level, dd)
        eta = np.log(pp / (1 - pp))
        half = t * ss / (pp * (1 - pp))
        lo[ok] = special.expit(eta - half)  # 1 / (1 + exp(-x)) without overflow
        hi[ok] = special.expit(eta + half)
    elif method == "korn-graubard":
        if n is None:
            raise SipasError("Korn-Graubard interval needs n")
        a = 1 - level
        nn = np.asarray(n, dtype=float)[ok]
        with np.errstate(invalid="ignore", divide="ignore"):
            neff = (
                pp
                * (1 - pp)
                / ss**2
                * (special.stdtrit(nn - 1, a / 2) / special.stdtrit(dd, a / 2)) ** 2
            )
            lo[ok] = special.betaincinv(neff * pp, neff * (1 - pp) + 1, a / 2)
            hi[ok] = special.betaincinv(neff * pp + 1, neff * (1 - pp), 1 - a / 2)
    else:
        raise SipasError(f"ci_method must be one of {CI_METHODS}, not {method!r}")
    return lo, hi


# --------------------------------------------------------------------------------------------
# the result object
# --------------------------------------------------------------------------------------------
@dataclass
class Estimates:
    """Tidy estimates plus the linearisation scores needed for composites and contrasts.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per (domain, item, statistic) cell: domain columns, ``index_code``,
        ``statistic``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``ci_level``, ``ci_method``,
        ``n``, ``n_psu``, ``sum_w``, ``df``, ``deff``, ``flag`` (``level`` too when several
        domain levels were estimated together).
    scores : scipy.sparse.csc_matrix, shape (P, K)
        Centred, scaled PSU totals of each row's influence values (on the table's scale):
        ``scores.T @ scores`` is the covariance matrix of ``table.estimate``.
    design_df : int
        Degrees of freedom of the whole design (PSUs minus strata).
    ci_level : float
    df_rule : {"design", "domain"}
    domain_columns : list of str
    """

    table: pd.DataFrame
    scores: sparse.csc_matrix
    design_df: int
    ci_level: float
    df_rule: str
    domain_columns: list[str]
    _valid: np.ndarray = field(repr=False)
    _items: list[str] = field(repr=False)
    _members: dict[str, tuple[str, ...]] = field(repr=False)
    _level_codes: dict[str, np.ndarray] = field(repr=False)
    _row_level: np.ndarray = field(repr=False)
    _row_domain: np.ndarray = field(repr=False)
    _psu: np.ndarray = field(repr=False)
    _stratum: np.ndarray = field(repr=False)
    _blocks: np.ndarray | None = field(default=None, repr=False)

    def covariance(self, rows: Sequence[int] | None = None) -> np.ndarray:
        """Covariance matrix of the estimates in ``rows`` (positions in :attr:`table`).

        Notes
        -----
        :math:`\\widehat{Cov}(\\hat\\theta_k, \\hat\\theta_l) = \\sum_h c_h \\sum_j
        (z_{hjk}-\\bar z_{hk})(z_{hjl}-\\bar z_{hl})`, computed from the influence values, never
        assumed: nonzero between two domains that share PSUs, and possibly through the stratum
        means :math:`\\bar z_{hk}` when a domain crosses strata. Two domains each inside one
        stratum with no shared PSU have zero covariance (their influence totals sum to zero
        within the stratum).
        """
        k = len(self.table)
        rows = np.arange(k) if rows is None else np.asarray(rows, dtype=np.int64)
        pick = sparse.csr_matrix((np.ones(rows.size), (np.zeros(rows.size), rows)), shape=(1, k))
        _check_blocks(self._blocks, pick)
        u = self.scores[:, rows]
        return (u.T @ u).toarray()

    def rows(self, **conditions) -> np.ndarray:
        """Positions of the table rows whose columns equal the given values.

        Examples
        --------
        >>> import pandas as pd
        >>> d = pd.DataFrame({"stratum": [1] * 6 + [2] * 6, "psu": [1, 1, 2, 2, 3, 3] * 2,
        ...                   "weight": [1.0, 2, 1, 2, 1, 2, 3, 1, 3, 1, 3, 1],
        ...                   "commune": ["a", "b"] * 6,
        ...                   "q1": pd.array([5, 4, 3, 1, 5, 2, 4, 2, 5, 5, 3, 4], "Int64"),
        ...                   "q2": pd.array([4, 4, 5, 2, 3, 5, 4, 1, 2, 5, 4, 4], "Int64")})
        >>> est = estimate_domains(d, ["q1", "q2"], by="commune")
        >>> est.rows(commune="b", index_code="q2")
        array([3])
        """
        mask = np.ones(len(self.table), dtype=bool)
        for col, value in conditions.items():
            if col not in self.table.columns:
                raise InputError(f"no column {col!r} in the estimates", column=col)
            mask &= (self.table[col] == value).fillna(False).to_numpy()
        return np.flatnonzero(mask)

    def _df_for(self, rows_used: np.ndarray) -> float:
        if self.df_rule == "design" or rows_used.size == 0:
            return float(max(self.design_df, 1))
        return float(max(np.nanmin(self.table["df"].to_numpy()[rows_used]), 1))

    def linear_combination(
        self,
        coefficients: np.ndarray | sparse.spmatrix | Mapping[str, Mapping[int, float]],
        labels: Sequence[str] | None = None,
        *,
        df: float | None = None,
    ) -> pd.DataFrame:
        """Estimate, SE and t interval of linear combinations :math:`L\\hat\\theta`.

        Parameters
        ----------
        coefficients : (m, K) array or sparse matrix, or dict
            Rows of :math:`L` over the :attr:`table` rows, or ``{label: {row_position: coef}}``.
        labels : sequence of str, optional
            Names of the m combinations (default ``"c0", "c1", ...``).
        df : float, optional
            Degrees of freedom (default: design df, or the smallest df of the cells used when
            ``df_rule="domain"``).

        Returns
        -------
        pandas.DataFrame
            ``contrast, estimate, se, ci_low, ci_high, ci_level, df, t, p_value``.

        Notes
        -----
        :math:`\\widehat{V}(L\\hat\\theta) = L\\,U^TU\\,L^T` with :math:`U` the scores (as R
        ``svycontrast`` on ``svyby(..., covmat=TRUE)``); interval
        :math:`L\\hat\\theta \\pm t_{df,1-\\alpha/2}\\,\\widehat{se}`.

        Examples
        --------
        >>> import pandas as pd
        >>> d = pd.DataFrame({"stratum": [1] * 6 + [2] * 6, "psu": [1, 1, 2, 2, 3, 3] * 2,
        ...                   "weight": [1.0, 2, 1, 2, 1, 2, 3, 1, 3, 1, 3, 1],
        ...                   "commune": ["a", "b"] * 6,
        ...                   "q1": pd.array([5, 4, 3, 1, 5, 2, 4, 2, 5, 5, 3, 4], "Int64"),
        ...                   "q2": pd.array([4, 4, 5, 2, 3, 5, 4, 1, 2, 5, 4, 4], "Int64")})
        >>> est = estimate_domains(d, ["q1", "q2"], by="commune")
        >>> lc = est.linear_combination({"q1: a - b": {0: 1.0, 2: -1.0}})
        >>> lc[["contrast", "estimate"]].round(2)
            contrast  estimate
        0  q1: a - b     22.22
        """
        L, labels = self._as_matrix(coefficients, labels)
        est, se, used = self._combine(L)
        out = pd.DataFrame({"contrast": labels, "estimate": est, "se": se})
        dfs = np.array([df if df is not None else self._df_for(u) for u in used], dtype=float)
        t = _tq(self.ci_level, dfs)
        out["ci_low"] = est - t * se
        out["ci_high"] = est + t * se
        out["ci_level"] = self.ci_level
        out["df"] = dfs
        with np.errstate(invalid="ignore", divide="ignore"):
            out["t"] = est / se
        out["p_value"] = 2 * special.stdtr(dfs, -np.abs(out["t"].to_numpy()))
        return out

    contrast = linear_combination

    def _as_matrix(self, coefficients, labels):
        k = len(self.table)
        if isinstance(coefficients, Mapping):
            labels = list(coefficients)
            r, c, v = [], [], []
            for i, (_, spec) in enumerate(coefficients.items()):
                for pos, coef in spec.items():
                    if not 0 <= int(pos) < k:
                        raise SipasError(f"row position {pos} outside the table (0..{k - 1})")
                    r.append(i)
                    c.append(int(pos))
                    v.append(float(coef))
            L = sparse.csr_matrix((v, (r, c)), shape=(len(labels), k))
        else:
            L = sparse.csr_matrix(coefficients)
            if L.shape[1] != k:
                raise SipasError(f"coefficient matrix has {L.shape[1]} columns, the table {k} rows")
            if labels is None:
                labels = [f"c{i}" for i in range(L.shape[0])]
        return L, list(labels)

    def _combine(self, L: sparse.csr_matrix):
        theta = self.table["estimate"].to_numpy(dtype=float)
        Lc = L.tocsr()
        _check_blocks(self._blocks, Lc)
        used = [Lc.indices[Lc.indptr[i] : Lc.indptr[i + 1]] for i in range(Lc.shape[0])]
        theta0 = np.where(np.isnan(theta), 0.0, theta)
        est = Lc @ theta0
        nan_used = Lc @ np.isnan(theta).astype(float)
        est = np.where(np.asarray(nan_used) != 0, np.nan, est)
        lu = self.scores @ Lc.T  # (P, m)
        var = np.asarray(lu.multiply(lu).sum(axis=0)).ravel()
        se = np.sqrt(var)
        se = np.where(np.isnan(est), np.nan, se)
        return np.asarray(est, dtype=float), se, used

    def difference(self, a: Mapping[str, object], b: Mapping[str, object]) -> pd.DataFrame:
        """Difference between two domains, for every item and statistic they share.

        Parameters
        ----------
        a, b : dict
            Domain column values, e.g. ``{"commune_code": 27694}`` (add ``level`` if several
            levels were estimated).

        Returns
        -------
        pandas.DataFrame
            ``index_code, statistic, domain_a, domain_b, estimate_a, estimate_b, estimate
            (= a - b), se, ci_low, ci_high, ci_level, df, t, p_value``.

        Notes
        -----
        :math:`\\widehat V(\\hat\\theta_a-\\hat\\theta_b) = \\hat V_a + \\hat V_b -
        2\\widehat{Cov}_{ab}`, the covariance computed from the influence functions of both
        domains over the full design (e.g. a commune and its area, or two subgroups sharing PSUs).
        """
        ta = self.table.iloc[self.rows(**a)]
        tb = self.table.iloc[self.rows(**b)]
        if ta.empty or tb.empty:
            raise InputError(f"domain not found in the estimates: {a if ta.empty else b}")
        key = ["index_code", "statistic"]
        m = (
            ta[key]
            .assign(_ra=ta.index.to_numpy())
            .merge(tb[key].assign(_rb=tb.index.to_numpy()), on=key)
        )
        k = len(self.table)
        idx = np.arange(len(m))
        L = sparse.csr_matrix(
            (
                np.r_[np.ones(len(m)), -np.ones(len(m))],
                (np.r_[idx, idx], np.r_[m["_ra"].to_numpy(), m["_rb"].to_numpy()]),
            ),
            shape=(len(m), k),
        )
        res = self.linear_combination(L, labels=[f"{i}" for i in idx])
        theta = self.table["estimate"].to_numpy()
        out = m[key].reset_index(drop=True)
        out["domain_a"] = _fmt_domain(a)
        out["domain_b"] = _fmt_domain(b)
        out["estimate_a"] = theta[m["_ra"].to_numpy()]
        out["estimate_b"] = theta[m["_rb"].to_numpy()]
        for c in ["estimate", "se", "ci_low", "ci_high", "ci_level", "df", "t", "p_value"]:
            out[c] = res[c].to_numpy()
        return out


def _fmt_domain(d: Mapping[str, object]) -> str:
    return ", ".join(f"{k}={v}" for k, v in d.items())


# --------------------------------------------------------------------------------------------
# the engine
# --------------------------------------------------------------------------------------------
def _flags(parts: list[tuple[np.ndarray, str]], size: int) -> np.ndarray:
    out = np.full(size, "", dtype=object)
    for mask, name in parts:
        mask = np.asarray(mask, dtype=bool).ravel()
        out = np.where(mask, np.where(out == "", name, out + ";" + name), out)
    return np.where(out == "", "ok", out)


#: Order in which flags are listed on composites (own and inherited flags merged).
FLAG_ORDER = (
    "empty",
    "suppressed",
    "small_n",
    "single_psu",
    "degenerate",
    "zero_variance",
    "low_df",
    "partial",
    "incomplete",
)


def flag_tokens(flag: object) -> list[str]:
    """The flags in a ``;``-joined flag string (``ok``, blank and NA give none).

    Parameters
    ----------
    flag : str or NA
        A ``flag`` value of an estimates table, e.g. ``"small_n;partial"``.

    Returns
    -------
    list of str

    Examples
    --------
    >>> flag_tokens("small_n;partial"), flag_tokens("ok")
    (['small_n', 'partial'], [])
    """
    if flag is None or (isinstance(flag, float) and np.isnan(flag)) or flag is pd.NA:
        return []
    return [f for f in str(flag).split(";") if f and f != "ok"]


def inherit_flags(
    own: Sequence[object],
    member_flags: Sequence[object],
    parent_of_member: Sequence[int],
    *,
    empty_as: str | None = "partial",
) -> np.ndarray:
    """Each composite's own flags merged with the union of its members' flags.

    Parameters
    ----------
    own : sequence of str, shape (m,)
        Flags of the m composites (``ok`` or ``;``-joined names).
    member_flags : sequence of str, shape (r,)
        Flags of the r member rows.
    parent_of_member : sequence of int, shape (r,)
        Position (0 .. m-1) of the composite each member row belongs to; -1 = none.
    empty_as : str or None
        What a member's ``empty`` (no valid answer in the domain) becomes on the composite:
        ``"partial"`` (default: the composite is the mean of fewer members), None to drop it.
        It is never passed on as ``empty``, since the composite has an estimate. A composite
        that is itself ``empty`` gets no ``partial`` from it.

    Returns
    -------
    numpy.ndarray of str, shape (m,)
        ``;``-joined flags in :data:`FLAG_ORDER` (other names after, alphabetically), ``ok``
        when none.

    Notes
    -----
    A member's ``small_n`` or ``suppressed`` is kept on the composite: it says the composite
    rests on an item with few answers. Whether the composite itself may be shown is decided by
    its own ``n`` (the ``flag`` column of the estimates table).

    Examples
    --------
    >>> inherit_flags(["ok", "small_n"], ["partial", "low_df", "empty"], [0, 0, 1]).tolist()
    ['low_df;partial', 'small_n;partial']
    """
    own_t = [set(flag_tokens(f)) for f in own]
    for f, k in zip(member_flags, parent_of_member, strict=True):
        k = int(k)
        if k < 0:
            continue
        for tok in flag_tokens(f):
            if tok == "empty":
                if empty_as is None or "empty" in own_t[k]:
                    continue
                tok = empty_as
            own_t[k].add(tok)
    rank = {name: i for i, name in enumerate(FLAG_ORDER)}
    out = np.empty(len(own_t), dtype=object)
    for i, toks in enumerate(own_t):
        ordered = sorted(toks, key=lambda t: (rank.get(t, len(rank)), t))
        out[i] = ";".join(ordered) if ordered else "ok"
    return out


def _estimate(
    df: pd.DataFrame,
    items: Sequence[str],
    levels: Mapping[str | None, str | Sequence[str] | None],
    design: SurveyDesign | None,
    statistic: str | Sequence[str],
    top_box: Sequence[float],
    positive: Sequence[float],
    weight: str | None,
    strata: str | None,
    psu: str | None,
    fpc: str | None,
    lonely_psu: str,
    ci_level: float,
    ci_method: str,
    df_rule: str,
    domain_values: Mapping[str, Sequence] | None,
    small_n: int,
    min_n: int,
    file: str | None,
) -> Estimates:
    stats_list = [statistic] if isinstance(statistic, str) else list(statistic)
    for s in stats_list:
        if s not in STATISTICS:
            raise SipasError(f"statistic must be one of {STATISTICS}, not {s!r}")
    if ci_method not in CI_METHODS:
        raise SipasError(f"ci_method must be one of {CI_METHODS}, not {ci_method!r}")
    if df_rule not in DF_RULES:
        raise SipasError(f"df must be one of {DF_RULES}, not {df_rule!r}")
    if not 0 < ci_level < 1:
        raise SipasError(f"ci_level must lie strictly between 0 and 1, not {ci_level!r}")
    items = [items] if isinstance(items, str) else list(items)
    if not items:
        raise SipasError("no items to estimate")
    if len(set(items)) != len(items):
        raise SipasError("items are listed twice")
    all_by = [c for spec in levels.values() for c in _as_cols(spec)]
    _require_columns(df, list(items) + all_by)
    if design is None:
        design = survey_design(df, weight, strata, psu, fpc, lonely_psu, file=file)
    elif design.n != len(df) or not design.row_index.equals(df.index):
        raise SipasError("the design was built from another table (rows differ)")
    X = _item_matrix(df, items, file)
    n, p = X.shape
    valid = ~np.isnan(X)
    w = design.weights
    w2 = w**2
    alpha_level = ci_level
    # item columns per pass: the n x p temporaries of one cell statistic stay a few MB
    chunks = [slice(a, min(a + _chunk_width(n), p)) for a in range(0, p, _chunk_width(n))]

    tables, score_blocks = [], []
    row_level, row_domain = [], []
    level_codes: dict[str, np.ndarray] = {}
    domain_cols_all: list[str] = []
    single_total = 0
    skipped_levels: list[str] = []
    for level_name, spec in levels.items():
        cols = _as_cols(spec)
        codes, domains = _domain_codes(df, cols, domain_values)
        D = len(domains)
        if D == 0:  # no row has a value in the level's columns (e.g. every age band unusable)
            skipped_levels.append(f"{level_name} ({', '.join(cols)})")
            continue
        for c in cols:
            if c not in domain_cols_all:
                domain_cols_all.append(c)
        level_codes[str(level_name)] = codes
        ind = _indicator(D, codes)
        inl = codes >= 0
        # PSUs and strata with valid answers in each cell
        pk = design.psu[inl].astype(np.int64) * D + codes[inl]
        pkey, pinv = np.unique(pk, return_inverse=True)
        agg = sparse.csr_matrix(
            (np.ones(pinv.size), (pinv, np.arange(pinv.size))), shape=(pkey.size, pinv.size)
        )
        valid_in = valid if inl.all() else valid[inl]
        sum_w, sum_w2, n_cell = np.empty((D, p)), np.empty((D, p)), np.empty((D, p))
        pair_has = np.empty((pkey.size, p))
        for sl in chunks:
            vc = valid[:, sl]
            sum_w[:, sl] = ind @ (w[:, None] * vc)
            sum_w2[:, sl] = ind @ (w2[:, None] * vc)
            n_cell[:, sl] = ind @ vc.astype(float)
            pair_has[:, sl] = (np.asarray(agg @ valid_in[:, sl].astype(float)) > 0).astype(float)
        del valid_in
        pair_dom = pkey % D
        pair_psu = pkey // D
        dagg = sparse.csr_matrix(
            (np.ones(pkey.size), (pair_dom, np.arange(pkey.size))), shape=(D, pkey.size)
        )
        n_psu_cell = np.asarray(dagg @ pair_has)
        sk = design.psu_stratum[pair_psu].astype(np.int64) * D + pair_dom
        skey, sinv = np.unique(sk, return_inverse=True)
        sagg = sparse.csr_matrix(
            (np.ones(sinv.size), (sinv, np.arange(sinv.size))), shape=(skey.size, sinv.size)
        )
        strat_has = (np.asarray(sagg @ pair_has) > 0).astype(float)
        del pair_has
        s_dom = skey % D
        sdagg = sparse.csr_matrix(
            (np.ones(skey.size), (s_dom, np.arange(skey.size))), shape=(D, skey.size)
        )
        n_strata_cell = np.asarray(sdagg @ strat_has)
        rowd = np.clip(codes, 0, None)
        for stat in stats_list:
            R = np.empty((D, p))
            ssq = np.empty((D, p))
            # PSU x domain totals of the influence values, pass by pass (the n x p matrix of
            # influence values itself only when the design needs it: calibrated weights)
            whole_z = design.calibration is not None
            z = np.empty((n, p)) if whole_z else None
            t_pair = None if whole_z else np.empty((pkey.size, p))
            for sl in chunks:
                Xc, vc = X[:, sl], valid[:, sl]
                if stat == "top2":
                    Y = np.isin(Xc, np.asarray(top_box, dtype=float)).astype(float)
                elif stat == "prop":
                    Y = np.isin(Xc, np.asarray(positive, dtype=float)).astype(float)
                else:
                    Y = np.where(vc, Xc, 0.0)
                wv = w[:, None] * vc
                tot_y = np.asarray(ind @ (wv * Y))
                with np.errstate(invalid="ignore", divide="ignore"):
                    Rc = tot_y / sum_w[:, sl]
                R[:, sl] = Rc
                R_row = np.where(inl[:, None], Rc[rowd], 0.0)
                W_row = np.where(inl[:, None], sum_w[:, sl][rowd], 1.0)
                resid = np.where(vc & inl[:, None], Y - R_row, 0.0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    zc = np.where(W_row > 0, wv * resid / W_row, 0.0)
                zc = np.nan_to_num(zc, nan=0.0)
                if whole_z:
                    z[:, sl] = zc
                else:
                    t_pair[:, sl] = agg @ (zc if inl.all() else zc[inl])
                ssq[:, sl] = np.asarray(ind @ (wv * resid**2))
                del Y, wv, R_row, W_row, resid, zc
            present = valid & inl[:, None] if design.lonely_psu == "average" else None
            scores_l = design.scores(
                z,
                codes,
                D,
                present=present,
                max_entries=EXACT_SCORE_VALUES,
                pair_totals=None if whole_z else (pkey, t_pair),
            )
            del z, t_pair, present
            U = scores_l.matrix
            var = scores_l.variance.reshape(D, p)
            scale = 100.0 if _PERCENT[stat] else 1.0
            est = R
            se = np.sqrt(var)
            with np.errstate(invalid="ignore", divide="ignore"):
                s2 = ssq / sum_w * n_cell / (n_cell - 1)
                deff = np.where(n_cell > 1, var / (s2 / n_cell), np.nan)
                # constant cells (every valid answer equal): residuals are rounding noise only
                constant = (n_cell > 0) & (ssq / sum_w <= 1e-24 * (1.0 + R**2))
            se = np.where(constant, 0.0, se)
            deff = np.where(constant, np.nan, deff)
            # degrees of freedom
            if df_rule == "design":
                df_raw = np.full((D, p), float(design.df))
            else:
                df_raw = n_psu_cell - n_strata_cell
            low_df = (df_raw < 1) & (n_cell > 0)
            dfv = np.maximum(df_raw, 1.0)
            empty = n_cell == 0
            single = (n_psu_cell == 1) & ~empty
            single_total += int(single.sum())
            se = np.where(single | empty, np.nan, se)
            deff = np.where(single | empty, np.nan, deff)  # no design variance: no design effect
            flags_extra = []
            if _PERCENT[stat]:
                with np.errstate(invalid="ignore", divide="ignore"):
                    kish = sum_w**2 / sum_w2
                lo, hi = proportion_ci(
                    est.ravel(), se.ravel(), dfv.ravel(), alpha_level, ci_method, n_cell.ravel()
                )
                lo, hi = lo.reshape(D, p), hi.reshape(D, p)
                fallback = np.isnan(lo) & ~empty
                degenerate = fallback & ~single & ((est <= 0) | (est >= 1))
                zero_var = fallback & ~single & ~degenerate
                if fallback.any():
                    lo[fallback], hi[fallback] = _clopper_pearson(
                        est[fallback], kish[fallback], ci_level
                    )
                lo = np.where(empty, 0.0, lo)
                hi = np.where(empty, 1.0, hi)
                flags_extra = [(degenerate, "degenerate"), (zero_var, "zero_variance")]
                method = np.where(fallback, "clopper-pearson-kish", ci_method)
                method = np.where(empty, "none", method)
            else:
                t = _tq(ci_level, dfv)
                lo = est - t * se
                hi = est + t * se
                method = np.where(np.isnan(se), "none", "t")
                flags_extra = [((se == 0) & ~single & ~empty, "zero_variance")]
            flag = _flags(
                [
                    (empty, "empty"),
                    ((n_cell < min_n) & ~empty, "suppressed"),
                    ((n_cell >= min_n) & (n_cell < small_n), "small_n"),
                    (single, "single_psu"),
                    *flags_extra,
                    (low_df, "low_df"),
                ],
                D * p,
            ).reshape(D, p)
            block = pd.DataFrame(
                {
                    "index_code": np.tile(np.asarray(items, dtype=object), D),
                    "statistic": stat,
                    "estimate": (est * scale).ravel(),
                    "se": (se * scale).ravel(),
                    "ci_low": (lo * scale).ravel(),
                    "ci_high": (hi * scale).ravel(),
                    "ci_level": ci_level,
                    "ci_method": np.broadcast_to(method, (D, p)).ravel(),
                    "n": n_cell.ravel().astype(np.int64),
                    "n_psu": n_psu_cell.ravel().astype(np.int64),
                    "sum_w": sum_w.ravel(),
                    "df": dfv.ravel(),
                    "deff": deff.ravel(),
                    "flag": flag.ravel(),
                }
            )
            dom_part = domains.loc[np.repeat(np.arange(D), p)].reset_index(drop=True)
            block = pd.concat([dom_part, block], axis=1)
            if len(levels) > 1 or level_name is not None:
                block.insert(0, "level", level_name)
            tables.append(block)
            score_blocks.append((U * scale, scores_l.compact, p))
            row_level.append(np.full(D * p, str(level_name), dtype=object))
            row_domain.append(np.repeat(np.arange(D), p))
    if single_total:
        warnings.warn(
            f"{single_total} estimate cell(s) lie inside a single PSU: no design-based variance "
            "exists there (se = NaN, flag 'single_psu'; the interval is a Clopper-Pearson "
            "interval on the Kish effective sample size for proportions, none for means).",
            DesignWarning,
            stacklevel=3,
        )
    if skipped_levels:
        warnings.warn(
            f"level(s) skipped, no respondent has a value in their column(s): "
            f"{'; '.join(skipped_levels)}.",
            DesignWarning,
            stacklevel=3,
        )
    if not tables:
        raise SipasError(
            "Không ước lượng được: không cấp nào có dữ liệu / nothing to estimate: no level has "
            f"a respondent with a value ({'; '.join(skipped_levels)})."
        )
    table = pd.concat(tables, ignore_index=True)
    lead = (["level"] if "level" in table.columns else []) + domain_cols_all
    rest = [c for c in table.columns if c not in lead]
    table = table[lead + rest]
    scores, blocks = _stack_scores(score_blocks, design.n_psu)
    return Estimates(
        table=table,
        scores=scores,
        design_df=design.df,
        ci_level=ci_level,
        df_rule=df_rule,
        domain_columns=domain_cols_all,
        _valid=valid,
        _items=list(items),
        _members={it: (it,) for it in items},
        _level_codes=level_codes,
        _row_level=np.concatenate(row_level),
        _row_domain=np.concatenate(row_domain),
        _psu=design.psu,
        _stratum=design.stratum,
        _blocks=blocks,
    )


def _chunk_width(n: int) -> int:
    """Item columns per pass of the engine: about :data:`CHUNK_VALUES` values per temporary."""
    return max(1, CHUNK_VALUES // max(n, 1))


def _stack_scores(
    parts: list[tuple[sparse.spmatrix, bool, int]], n_psu: int
) -> tuple[sparse.csc_matrix, np.ndarray | None]:
    """The scores of every (level, statistic) side by side, and the block of each column.

    ``parts`` holds ``(matrix, compact, k)`` per (level, statistic). PSU-layout matrices share
    the first ``n_psu`` rows (block -1: their covariances with each other are kept); each
    domain of a compact matrix (``k`` columns) is its own block with its own rows below them.
    Blocks are None when every part has the PSU layout.
    """
    if not any(compact for _, compact, _ in parts):
        return sparse.hstack([m for m, _, _ in parts], format="csc"), None
    rows, cols, vals, blocks = [], [], [], []
    row_off, col_off, next_block = n_psu, 0, 0
    for m, compact, k in parts:
        coo = m.tocoo()
        rows.append(coo.row + (row_off if compact else 0))
        cols.append(coo.col + col_off)
        vals.append(coo.data)
        if compact:
            n_dom = m.shape[1] // max(k, 1)
            blocks.append(next_block + np.repeat(np.arange(n_dom), k))
            next_block += n_dom
            row_off += m.shape[0]
        else:
            blocks.append(np.full(m.shape[1], -1, dtype=np.int64))
        col_off += m.shape[1]
    u = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(row_off, col_off),
    )
    return u, np.concatenate(blocks).astype(np.int64)


def _check_blocks(blocks: np.ndarray | None, L: sparse.csr_matrix) -> None:
    """Refuse combinations across domains whose covariance the compact scores do not keep."""
    if blocks is None or L.nnz == 0:
        return
    b = blocks[L.indices]
    starts = L.indptr[:-1]
    nonempty = np.diff(L.indptr) > 0
    lo = np.minimum.reduceat(b, starts[nonempty]) if nonempty.any() else b[:0]
    hi = np.maximum.reduceat(b, starts[nonempty]) if nonempty.any() else b[:0]
    if ((lo != hi) & (hi >= 0)).any():
        raise SipasError(
            "Không tính được hiệp phương sai giữa các miền / covariance between domains not "
            "available: with this many PSUs the scores keep only the covariances within each "
            "domain (compact layout, see SurveyDesign.scores); combine estimates of one domain, "
            "or estimate the domains to compare in a separate call."
        )


def estimate_domains(
    data: pd.DataFrame,
    items: Sequence[str],
    by: str | Sequence[str] | None = None,
    *,
    design: SurveyDesign | None = None,
    statistic: str | Sequence[str] = "top2",
    top_box: Sequence[float] = DEFAULT_TOP_BOX,
    positive: Sequence[float] = DEFAULT_POSITIVE,
    weight: str | None = "weight",
    strata: str | None = "stratum",
    psu: str | None = "psu",
    fpc: str | None = None,
    lonely_psu: str = "fail",
    ci_level: float = 0.95,
    ci_method: str = "logit",
    df: str = "design",
    domain_values: Mapping[str, Sequence] | None = None,
    small_n: int = SMALL_N,
    min_n: int = MIN_N,
    file: str | None = None,
) -> Estimates:
    """Design-based estimates of many items in many domains, in one vectorised pass.

    Parameters
    ----------
    data : pandas.DataFrame
        Respondent table (e.g. the canonical table of a wave). Not modified.
    items : sequence of str
        Item columns (numeric answer codes; NA = no valid answer, excluded per item).
    by : str, sequence of str or None
        Domain column(s) (crossed when several, e.g. ``["area_code", "sex"]``); ``None`` = the
        whole survey area. Rows with NA in a domain column belong to no domain.
    design : SurveyDesign, optional
        A design built from ``df`` (e.g. with adjusted weights); else built from ``weight``,
        ``strata``, ``psu``, ``fpc`` and ``lonely_psu`` (see
        :func:`~sipas_analysis.design.survey_design`).
    statistic : {"top2", "prop", "mean"} or a list of them
        "top2": share of valid answers in ``top_box``; "prop": share in ``positive``; "mean": mean
        of the codes. Shares are returned in percent (0-100), means on the code scale.
    top_box : sequence of numbers
        Codes counted as satisfied, from the instrument's scale definition. Default ``(4, 5)``:
        "Hài lòng" and "Rất hài lòng" on the 5-point SIPAS scale.
    positive : sequence of numbers
        Codes counted by ``statistic="prop"`` (default ``(1,)``).
    ci_level : float
        Confidence level (default 0.95).
    ci_method : {"logit", "korn-graubard"}
        Interval for shares: R ``svyciprop(method="logit")`` (default) or ``method="beta"``.
    df : {"design", "domain"}
        Degrees of freedom of intervals: of the whole design (PSUs - strata; default, as SAS and
        Stata for domains, R ``svyciprop(..., df=degf(design))``) or of the domain's own PSUs
        with valid answers minus their strata (R's default on a ``subset()`` design).
    domain_values : dict, optional
        Full list of values per domain column, so that domains without respondents appear as
        ``empty`` rows (categorical columns use their categories).
    small_n, min_n : int
        Cells with ``n < small_n`` are flagged ``small_n``, with ``n < min_n`` ``suppressed``.
    file : str, optional
        Name of the source file for error messages.

    Returns
    -------
    Estimates
        ``.table``: one row per (domain, item, statistic). ``flag`` is ``ok`` or a
        ``;``-joined list of: ``empty`` (n = 0), ``suppressed``, ``small_n``, ``single_psu``,
        ``degenerate`` (0 % or 100 %), ``zero_variance``, ``low_df`` (df < 1, set to 1).

    Raises
    ------
    InputError
        Unknown columns, non-numeric answers, bad weights (see ``survey_design``).
    SipasError
        Bad options; a singleton stratum with ``lonely_psu="fail"``.

    Warns
    -----
    DesignWarning
        When cells lie inside a single PSU (no design-based variance).

    Notes
    -----
    For domain :math:`d` and item :math:`y` with valid-answer indicator :math:`v_i`, the ratio
    estimator and its influence values over the **full** sample are

    .. math:: \\hat R = \\frac{\\sum_i w_i 1_d(i) v_i y_i}{\\sum_i w_i 1_d(i) v_i},\\qquad
              z_i = \\frac{w_i 1_d(i) v_i (y_i - \\hat R)}{\\sum_k w_k 1_d(k) v_k},

    (:math:`y_i = 1[\\text{answer} \\in` top box] for shares), and
    :math:`\\hat V(\\hat R) = \\sum_h (1-f_h)\\frac{n_h}{n_h-1}\\sum_j (z_{hj}-\\bar z_h)^2` with
    :math:`z_{hj}` the PSU totals (R ``svyby(~y, ~d, design, svymean, na.rm=TRUE)``).
    ``deff`` is :math:`\\hat V / (s^2_w/n)` with
    :math:`s^2_w = \\frac{n}{n-1}\\sum w(y-\\hat R)^2/\\sum w` (R ``deff="replace"``).

    Intervals for shares: logit or Korn-Graubard (:func:`proportion_ci`), never outside
    [0, 100]. Fallbacks, flagged: a 0 % or 100 % cell (se = 0) and a cell inside one PSU
    (se = NaN) get the Clopper-Pearson interval for :math:`\\hat p\\, n_{eff}` successes out of
    the Kish effective size :math:`n_{eff} = (\\sum w)^2/\\sum w^2` (so 0 % gives
    :math:`[0,\\ 1-(\\alpha/2)^{1/n_{eff}}]`); an empty cell gets estimate NaN and [0, 100].
    Means: :math:`\\hat R \\pm t_{df}\\,\\widehat{se}` (NaN interval when se is NaN).

    Degrees of freedom: the default ``df="design"`` follows SAS/Stata (and the project brief)
    but is optimistic for domains holding few PSUs: in a simulation with communes of 3 sampled
    villages, 95 % logit intervals covered the truth 76 % of the time with the design df and 93 %
    with ``df="domain"``; with about 25 villages per commune both are close to 95 %. Prefer
    ``df="domain"`` when communes hold only a few PSUs (look at ``n_psu``).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"stratum": [1] * 6 + [2] * 6, "psu": [1, 1, 2, 2, 3, 3] * 2,
    ...                   "weight": [1.0, 2, 1, 2, 1, 2, 3, 1, 3, 1, 3, 1],
    ...                   "commune": ["a", "b"] * 6,
    ...                   "q1": pd.array([5, 4, 3, 1, 5, None, 4, 2, 5, 5, 3, 4], "Int64")})
    >>> est = estimate_domains(d, ["q1"], by="commune")
    >>> est.table[["commune", "index_code", "estimate", "n"]].round(2)
      commune index_code  estimate  n
    0       a         q1     66.67  6
    1       b         q1     57.14  5
    """
    return _estimate(
        data,
        items,
        {None: by},
        design,
        statistic,
        top_box,
        positive,
        weight,
        strata,
        psu,
        fpc,
        lonely_psu,
        ci_level,
        ci_method,
        df,
        domain_values,
        small_n,
        min_n,
        file,
    )


def estimate_levels(
    data: pd.DataFrame,
    items: Sequence[str],
    levels: Mapping[str, str | Sequence[str] | None],
    **kwargs,
) -> Estimates:
    """Estimates for several domain levels at once, with covariances across levels.

    Parameters
    ----------
    data, items
        As :func:`estimate_domains`.
    levels : dict
        Level name -> domain column(s) or None, e.g.
        ``{"commune": "commune_code", "area": "area_code", "total": None}``.
    **kwargs
        Any keyword of :func:`estimate_domains` except ``by``.

    Returns
    -------
    Estimates
        The table has a ``level`` column and the union of the domain columns (NA where a column
        is not a domain of the level). A commune can be contrasted with its area
        (:meth:`Estimates.difference` / :meth:`Estimates.linear_combination`).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"stratum": [1] * 6 + [2] * 6, "psu": [1, 1, 2, 2, 3, 3] * 2,
    ...                   "weight": [1.0, 2, 1, 2, 1, 2, 3, 1, 3, 1, 3, 1],
    ...                   "commune": ["a", "b"] * 6,
    ...                   "q1": pd.array([5, 4, 3, 1, 5, 2, 4, 2, 5, 5, 3, 4], "Int64"),
    ...                   "q2": pd.array([4, 4, 5, 2, 3, 5, 4, 1, 2, 5, 4, 4], "Int64")})
    >>> est = estimate_levels(d, ["q1"], {"commune": "commune", "total": None})
    >>> est.table[["level", "commune", "estimate", "n"]].round(2)
         level commune  estimate   n
    0  commune       a     66.67   6
    1  commune       b     44.44   6
    2    total     NaN     57.14  12
    >>> diff = est.difference({"level": "commune", "commune": "a"},
    ...                       {"level": "commune", "commune": "b"})
    >>> round(float(diff["estimate"].iloc[0]), 2)
    22.22
    """
    if "by" in kwargs:
        raise SipasError("estimate_levels takes levels=, not by=")
    opts = {
        "design": None,
        "statistic": "top2",
        "top_box": DEFAULT_TOP_BOX,
        "positive": DEFAULT_POSITIVE,
        "weight": "weight",
        "strata": "stratum",
        "psu": "psu",
        "fpc": None,
        "lonely_psu": "fail",
        "ci_level": 0.95,
        "ci_method": "logit",
        "df": "design",
        "domain_values": None,
        "small_n": SMALL_N,
        "min_n": MIN_N,
        "file": None,
    }
    unknown = set(kwargs) - set(opts)
    if unknown:
        raise SipasError(f"unknown option(s): {sorted(unknown)}")
    opts.update(kwargs)
    df_rule = opts.pop("df")
    return _estimate(data, items, dict(levels), df_rule=df_rule, **opts)


# --------------------------------------------------------------------------------------------
# composites and differences
# --------------------------------------------------------------------------------------------
def composite_mean(
    est: Estimates,
    groups: Mapping[str, Sequence[str]],
) -> Estimates:
    """Mean of item estimates per domain (SIPAS element / overall), with the correct SE.

    Parameters
    ----------
    est : Estimates
        Item estimates (or composites: composites of composites work, e.g. overall = mean of
        elements).
    groups : dict
        Composite code -> list of ``index_code`` values it averages.

    Returns
    -------
    Estimates
        One row per (level, domain, statistic, composite); ``n`` = respondents with at least one
        valid answer among the composite's items, ``n_items`` = items with an estimate in the
        domain. Items without any valid answer in a domain are left out of that domain's mean
        (flag ``partial``). ``flag`` holds the composite's own flags (``suppressed`` /
        ``small_n`` by its own ``n``, ``single_psu``, ``degenerate``, ``partial``) and every flag
        of its members (:func:`inherit_flags`; a member's ``empty`` becomes ``partial``), so a
        flag of an item reaches every composite built on it. The result keeps its scores, so it
        can be averaged or contrasted again.

    Notes
    -----
    :math:`\\hat C = \\frac1K\\sum_k \\hat\\theta_k`,
    :math:`\\widehat V(\\hat C) = \\frac1{K^2}\\sum_{k,l}\\widehat{Cov}(\\hat\\theta_k,
    \\hat\\theta_l)` from the linearisation scores (R ``svycontrast`` on the joint covariance).
    Interval: for shares the logit interval of :math:`\\hat C/100` with the same df rule as the
    items (the smallest item df when ``df="domain"``); for means a t interval. Where no logit
    interval exists (se 0, every member at 0 % or 100 %; se NaN, a single PSU) the interval is
    the mean of the members' bounds (``ci_method = "mean-of-member-bounds"``), each member's
    own fallback being a Clopper-Pearson interval on its Kish effective size: an interval of
    positive width, wider than the composite's would be if the members were not perfectly
    correlated.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"stratum": [1] * 6 + [2] * 6, "psu": [1, 1, 2, 2, 3, 3] * 2,
    ...                   "weight": [1.0, 2, 1, 2, 1, 2, 3, 1, 3, 1, 3, 1],
    ...                   "commune": ["a", "b"] * 6,
    ...                   "q1": pd.array([5, 4, 3, 1, 5, 2, 4, 2, 5, 5, 3, 4], "Int64"),
    ...                   "q2": pd.array([4, 4, 5, 2, 3, 5, 4, 1, 2, 5, 4, 4], "Int64")})
    >>> est = estimate_domains(d, ["q1", "q2"], by="commune")
    >>> elem = composite_mean(est, {"element": ["q1", "q2"]})
    >>> elem.table[["commune", "index_code", "estimate", "n_items"]].round(2)
      commune index_code  estimate  n_items
    0       a    element     66.67        2
    1       b    element     55.56        2
    """
    t = est.table
    base = ["level"] if "level" in t.columns else []
    keys = base + est.domain_columns + ["statistic"]
    key_frame = t[keys].astype(object).where(t[keys].notna(), "<NA>")
    gid, _ = pd.factorize(pd.MultiIndex.from_frame(key_frame))
    n_keys = gid.max() + 1 if len(gid) else 0
    theta = t["estimate"].to_numpy(dtype=float)
    index_code = t["index_code"].to_numpy()
    df_items = t["df"].to_numpy(dtype=float)
    item_pos = {it: i for i, it in enumerate(est._items)}
    names, firsts, n_avail, n_mem, n_any, n_psu, dfs = [], [], [], [], [], [], []
    member_rows: list[np.ndarray] = []
    member_parent: list[np.ndarray] = []
    members_new: dict[str, tuple[str, ...]] = {}
    L_r, L_c, L_v = [], [], []
    m = 0
    known = set(index_code)
    for gname, members in groups.items():
        members = list(members)
        unknown = [c for c in members if c not in known]
        if unknown:
            raise InputError(f"composite {gname!r}: unknown index codes {unknown}")
        base_items = tuple(sorted({b for c in members for b in est._members.get(c, (c,))}))
        members_new[gname] = base_items
        sel = np.flatnonzero(np.isin(index_code, members))
        gsel = gid[sel]
        keys_g, first_pos = np.unique(gsel, return_index=True)
        out_of = np.full(n_keys, -1, dtype=np.int64)
        out_of[keys_g] = m + np.arange(keys_g.size)
        avail = ~np.isnan(theta[sel])
        member_rows.append(sel)
        member_parent.append(out_of[gsel])
        count = np.bincount(gsel[avail], minlength=n_keys)
        L_r.append(out_of[gsel[avail]])
        L_c.append(sel[avail])
        L_v.append(1.0 / count[gsel[avail]])
        names += [gname] * keys_g.size
        firsts.append(sel[first_pos])
        n_avail.append(count[keys_g])
        n_mem.append(np.full(keys_g.size, len(members)))
        dmin = np.full(n_keys, np.inf)
        np.minimum.at(dmin, gsel[avail], df_items[sel[avail]])
        dfs.append(np.where(np.isfinite(dmin[keys_g]), dmin[keys_g], np.nan))
        # respondents and PSUs with any valid answer among the base items, per domain
        cols = [item_pos[b] for b in base_items if b in item_pos]
        any_valid = est._valid[:, cols].any(axis=1)
        first_rows = sel[first_pos]
        lev_of = est._row_level[first_rows]
        dom_of = est._row_domain[first_rows]
        na = np.zeros(keys_g.size, dtype=np.int64)
        npsu = np.zeros(keys_g.size, dtype=np.int64)
        for lev in np.unique(lev_of):
            codes = est._level_codes[lev]
            ok = any_valid & (codes >= 0)
            n_dom = int(codes.max()) + 1 if codes.size else 0
            cnt = np.bincount(codes[ok], minlength=n_dom)
            pairs = np.unique(est._psu[ok].astype(np.int64) * max(n_dom, 1) + codes[ok])
            pcnt = np.bincount(pairs % max(n_dom, 1), minlength=n_dom)
            here = lev_of == lev
            na[here] = cnt[dom_of[here]]
            npsu[here] = pcnt[dom_of[here]]
        n_any.append(na)
        n_psu.append(npsu)
        m += keys_g.size
    L = sparse.csr_matrix(
        (np.concatenate(L_v), (np.concatenate(L_r), np.concatenate(L_c))), shape=(m, len(t))
    )
    est_c, se_c, _ = est._combine(L)
    first = np.concatenate(firsts)
    table = t.iloc[first][keys].reset_index(drop=True)
    table.insert(len(keys) - 1, "index_code", names)
    stat = table["statistic"].to_numpy()
    n_items_avail = np.concatenate(n_avail)
    n_members = np.concatenate(n_mem)
    n_any = np.concatenate(n_any)
    n_psu = np.concatenate(n_psu)
    if est.df_rule == "design":
        dfv = np.full(m, float(max(est.design_df, 1)))
    else:
        dfv = np.concatenate(dfs)
    empty = n_items_avail == 0
    single = (n_psu == 1) & ~empty
    se_c = np.where(single | empty, np.nan, se_c)
    percent = np.array([_PERCENT.get(s, False) for s in stat])
    lo = np.full(m, np.nan)
    hi = np.full(m, np.nan)
    tq = _tq(est.ci_level, np.nan_to_num(dfv, nan=1.0))
    method = np.where(percent, "logit", "t").astype(object)
    if percent.any():
        pl, ph = proportion_ci(
            est_c[percent] / 100, se_c[percent] / 100, dfv[percent], est.ci_level, "logit"
        )
        lo[percent], hi[percent] = pl * 100, ph * 100
        # no logit interval (se 0: every member 0 % or 100 %; se NaN: a single PSU): the mean
        # of the members' own bounds (their Clopper-Pearson fallbacks), never a zero width
        fb = percent & np.isnan(lo) & ~empty
        if fb.any():
            lo_m, hi_m = _mean_member_bounds(t, L, fb)
            lo[fb], hi[fb] = lo_m, hi_m
            method[fb] = "mean-of-member-bounds"
        lo[percent & empty] = 0.0
        hi[percent & empty] = 100.0
    mean_rows = ~percent
    lo[mean_rows] = est_c[mean_rows] - tq[mean_rows] * se_c[mean_rows]
    hi[mean_rows] = est_c[mean_rows] + tq[mean_rows] * se_c[mean_rows]
    degenerate = percent & ~empty & ~single & ((est_c <= 0) | (est_c >= 100) | (se_c == 0))
    flag = _flags(
        [
            (empty, "empty"),
            ((n_any < MIN_N) & ~empty, "suppressed"),
            ((n_any >= MIN_N) & (n_any < SMALL_N), "small_n"),
            (single, "single_psu"),
            (degenerate, "degenerate"),
            ((n_items_avail < n_members) & ~empty, "partial"),
        ],
        m,
    )
    rows_m = np.concatenate(member_rows) if member_rows else np.zeros(0, dtype=np.int64)
    parent_m = np.concatenate(member_parent) if member_parent else np.zeros(0, dtype=np.int64)
    flag = inherit_flags(flag, t["flag"].to_numpy()[rows_m], parent_m)
    if single.any():
        warnings.warn(
            f"{int(single.sum())} composite cell(s) lie inside a single PSU: se = NaN",
            DesignWarning,
            stacklevel=2,
        )
    table["estimate"] = est_c
    table["se"] = se_c
    table["ci_low"] = lo
    table["ci_high"] = hi
    table["ci_level"] = est.ci_level
    table["ci_method"] = method
    table["n"] = n_any
    table["n_psu"] = n_psu
    table["n_items"] = n_items_avail
    table["df"] = dfv
    table["flag"] = flag
    return Estimates(
        table=table,
        scores=(est.scores @ L.T).tocsc(),
        design_df=est.design_df,
        ci_level=est.ci_level,
        df_rule=est.df_rule,
        domain_columns=est.domain_columns,
        _valid=est._valid,
        _items=est._items,
        _members={**est._members, **members_new},
        _level_codes=est._level_codes,
        _row_level=est._row_level[first],
        _row_domain=est._row_domain[first],
        _psu=est._psu,
        _stratum=est._stratum,
        _blocks=None if est._blocks is None else est._blocks[first],
    )


def _mean_member_bounds(
    t: pd.DataFrame, L: sparse.csr_matrix, rows: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of the members' ci_low / ci_high for the composite rows ``rows`` (bool mask)."""
    Lr = L[np.flatnonzero(rows)]
    lo = np.nan_to_num(t["ci_low"].to_numpy(dtype=float), nan=0.0)
    hi = np.nan_to_num(t["ci_high"].to_numpy(dtype=float), nan=100.0)
    return np.asarray(Lr @ lo).ravel(), np.asarray(Lr @ hi).ravel()


def difference_independent(
    a: Estimates | pd.DataFrame,
    b: Estimates | pd.DataFrame,
    on: Sequence[str] | None = None,
    *,
    ci_level: float | None = None,
) -> pd.DataFrame:
    """Differences between estimates from independent samples (e.g. two waves): ``a - b``.

    Parameters
    ----------
    a, b : Estimates or DataFrame
        Tidy estimate tables with ``estimate``, ``se`` and ``df``.
    on : sequence of str, optional
        Key columns to match rows (default: every column both share among ``level``, domain
        columns, ``index_code``, ``statistic``, ``unit_code``).
    ci_level : float, optional
        Default: ``a``'s ``ci_level``.

    Returns
    -------
    pandas.DataFrame
        Keys, ``estimate_a, se_a, estimate_b, se_b, estimate, se, df, ci_low, ci_high, ci_level,
        t, p_value``.

    Notes
    -----
    Independent samples have zero covariance:
    :math:`\\widehat{se}(\\hat\\theta_a-\\hat\\theta_b) = \\sqrt{se_a^2 + se_b^2}`; degrees of
    freedom by Welch-Satterthwaite,
    :math:`\\nu = (v_a+v_b)^2/(v_a^2/\\nu_a + v_b^2/\\nu_b)`; interval
    :math:`\\pm t_{\\nu,1-\\alpha/2}\\,\\widehat{se}`.

    Examples
    --------
    >>> x = pd.DataFrame({"index_code": ["q1"], "estimate": [80.0], "se": [3.0], "df": [40]})
    >>> y = pd.DataFrame({"index_code": ["q1"], "estimate": [75.0], "se": [4.0], "df": [40]})
    >>> float(difference_independent(x, y)["se"].iloc[0])
    5.0
    """
    ta = a.table if isinstance(a, Estimates) else a
    tb = b.table if isinstance(b, Estimates) else b
    if on is None:
        cand = ["level", "unit_code", "index_code", "statistic"]
        if isinstance(a, Estimates):
            cand += a.domain_columns
        cand += [c for c in ta.columns if c.endswith("_code")]
        on = [c for c in dict.fromkeys(cand) if c in ta.columns and c in tb.columns]
    on = list(on)
    if not on:
        raise SipasError("no key columns to match the two tables on")
    for c in ["estimate", "se"]:
        if c not in ta.columns or c not in tb.columns:
            raise InputError(f"both tables need a {c!r} column", column=c)
    level = (
        ci_level if ci_level is not None else float(ta.get("ci_level", pd.Series([0.95])).iloc[0])
    )
    cols = on + ["estimate", "se"] + (["df"] if "df" in ta.columns and "df" in tb.columns else [])
    m = ta[cols].merge(tb[cols], on=on, suffixes=("_a", "_b"))
    va, vb = m["se_a"] ** 2, m["se_b"] ** 2
    out = m[on].copy()
    out["estimate_a"], out["se_a"] = m["estimate_a"], m["se_a"]
    out["estimate_b"], out["se_b"] = m["estimate_b"], m["se_b"]
    out["estimate"] = m["estimate_a"] - m["estimate_b"]
    out["se"] = np.sqrt(va + vb)
    if "df_a" in m.columns:
        with np.errstate(invalid="ignore", divide="ignore"):
            dfv = (va + vb) ** 2 / (va**2 / m["df_a"] + vb**2 / m["df_b"])
        dfv = dfv.where(np.isfinite(dfv), np.minimum(m["df_a"], m["df_b"]))
    else:
        dfv = pd.Series(np.inf, index=m.index)
    out["df"] = dfv.to_numpy(dtype=float)
    t = _tq(level, out["df"].to_numpy())
    out["ci_low"] = out["estimate"] - t * out["se"]
    out["ci_high"] = out["estimate"] + t * out["se"]
    out["ci_level"] = level
    with np.errstate(invalid="ignore", divide="ignore"):
        out["t"] = out["estimate"] / out["se"]
    out["p_value"] = 2 * special.stdtr(out["df"].to_numpy(), -np.abs(out["t"].to_numpy()))
    return out


# --------------------------------------------------------------------------------------------
# command line: sipas estimate
# --------------------------------------------------------------------------------------------
def read_respondent_file(path: str | Path, sheet: str | None = None) -> pd.DataFrame:
    """Read a respondent file: CSV (UTF-8), Excel (.xlsx), SPSS (.sav) or Stata (.dta).

    Raises
    ------
    InputError
        The file does not exist or its format is not supported.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found / không tìm thấy tệp", file=str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, encoding="utf-8-sig")
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return pd.read_excel(path, sheet_name=sheet or 0)
    if suffix == ".sav":
        import pyreadstat

        data, _ = pyreadstat.read_sav(str(path))
        return data
    if suffix == ".dta":
        import pyreadstat

        data, _ = pyreadstat.read_dta(str(path))
        return data
    raise InputError(
        f"unsupported file type {suffix!r} (use .csv, .xlsx, .sav or .dta)", file=str(path)
    )
