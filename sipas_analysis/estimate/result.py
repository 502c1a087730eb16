"""The result object :class:`Estimates`: the tidy table with the linearisation scores of every
cell, differences between domains and linear combinations with their standard errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse, special

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate.intervals import _tq

__all__ = ["Estimates"]


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
        >>> from sipas_analysis.estimate import estimate_domains
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
        >>> from sipas_analysis.estimate import estimate_domains
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
