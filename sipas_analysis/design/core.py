"""The design core: :class:`SurveyDesign` (weights, strata, PSUs, fpc, lonely-PSU rule) and its
:meth:`~SurveyDesign.domain_scores`, the scaled PSU totals of which the Taylor covariance is
``U.T @ U``; :class:`DomainScores`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from sipas_analysis.design.calibration import Calibration
from sipas_analysis.design.options import _PASS_VALUES, _lonely_message
from sipas_analysis.errors import SipasError

__all__ = ["DomainScores", "SurveyDesign"]


@dataclass(frozen=True)
class DomainScores:
    """Linearisation scores of ``D*k`` estimators, from :meth:`SurveyDesign.scores`.

    Attributes
    ----------
    matrix : scipy.sparse.csc_matrix, shape (rows, D*k)
        ``matrix.T @ matrix`` is the covariance matrix of the estimators (PSU layout: rows are
        the PSUs), or its blocks within each domain (compact layout: columns
        ``d*k .. d*k+k-1`` of domain ``d`` have their own rows).
    variance : ndarray of float, shape (D*k,)
        Variance of each estimator (the diagonal of that covariance).
    compact : bool
        Whether the compact layout was used: covariances between domains are then not kept.
    """

    matrix: sparse.csc_matrix
    variance: np.ndarray
    compact: bool


def _column_sum_squares(u: sparse.spmatrix) -> np.ndarray:
    return np.asarray(u.multiply(u).sum(axis=0)).ravel()


@dataclass(frozen=True)
class SurveyDesign:
    """A stratified cluster sample design (one-stage "ultimate cluster" variance).

    Build it with :func:`survey_design`. All arrays are aligned with the rows of the respondent
    table the design was built from.

    Attributes
    ----------
    weights : ndarray of float, shape (n,)
        Design weights :math:`w_i > 0`.
    stratum : ndarray of int, shape (n,)
        Stratum code ``0..H-1`` of each respondent.
    psu : ndarray of int, shape (n,)
        Global PSU code ``0..P-1`` (PSU labels are nested in strata).
    psu_stratum : ndarray of int, shape (P,)
        Stratum of each PSU.
    n_psu_stratum : ndarray of int, shape (H,)
        Number of sampled PSUs :math:`n_h` per stratum.
    fpc_factor : ndarray of float, shape (H,)
        :math:`1 - n_h/N_h` (1 without finite population correction).
    lonely_psu : str
        Rule for strata with a single PSU.
    strata_labels, psu_labels : ndarray
        Original labels (``psu_labels`` as ``(stratum, psu)`` strings).
    row_index : pandas.Index
        Index of the table the design was built from (to check alignment).
    calibration : Calibration or None
        The calibration model when the weights are calibrated (see the module docstring); the
        influence values are then residualised before the variance.
    """

    weights: np.ndarray
    stratum: np.ndarray
    psu: np.ndarray
    psu_stratum: np.ndarray
    n_psu_stratum: np.ndarray
    fpc_factor: np.ndarray
    lonely_psu: str
    strata_labels: np.ndarray
    psu_labels: np.ndarray
    row_index: pd.Index = field(repr=False)
    calibration: Calibration | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of respondents."""
        return int(self.weights.shape[0])

    @property
    def n_strata(self) -> int:
        """Number of strata :math:`H`."""
        return int(self.n_psu_stratum.shape[0])

    @property
    def n_psu(self) -> int:
        """Number of PSUs :math:`P = \\sum_h n_h`."""
        return int(self.psu_stratum.shape[0])

    @property
    def df(self) -> int:
        """Design degrees of freedom: number of PSUs minus number of strata (R ``degf``)."""
        return self.n_psu - self.n_strata

    @property
    def singleton_strata(self) -> list:
        """Labels of the strata holding a single PSU."""
        return list(self.strata_labels[self.n_psu_stratum == 1])

    def _stratum_scale(self) -> tuple[np.ndarray, np.ndarray, float]:
        """Per-stratum variance factor ``c_h``, centring switch, and the overall multiplier.

        Returns
        -------
        c : ndarray, shape (H,)
            :math:`c_h = (1-f_h)\\, n_h/(n_h-1)` for :math:`n_h>1`; for a singleton stratum
            ``(1-f_h)`` under "adjust" and 0 under "certainty"/"remove"/"average".
        centred : ndarray of bool, shape (H,)
            Whether PSU totals are centred at the stratum mean (False only for singleton strata
            under "adjust": centred at the population mean of the influence values, which is 0).
        multiplier : float
            :math:`H / H_{ok}` under "average" (strata without a singleton over all strata), else 1.
        """
        n_h = self.n_psu_stratum.astype(float)
        single = self.n_psu_stratum == 1
        c = np.where(single, self.fpc_factor, self.fpc_factor * n_h / np.maximum(n_h - 1.0, 1.0))
        centred = ~single
        multiplier = 1.0
        if single.any():
            if self.lonely_psu == "adjust":
                pass
            elif self.lonely_psu in ("certainty", "remove"):
                c = np.where(single, 0.0, c)
            elif self.lonely_psu == "average":
                c = np.where(single, 0.0, c)
                n_ok = int((~single).sum())
                multiplier = self.n_strata / n_ok if n_ok else np.nan
            else:  # "fail": caught at construction, kept for safety
                raise SipasError(_lonely_message(self.singleton_strata))
        c = np.where(self.fpc_factor < 1e-7, 0.0, c)
        return c, centred, multiplier

    def domain_scores(
        self,
        z: np.ndarray,
        domain: np.ndarray,
        n_domains: int,
        present: np.ndarray | None = None,
    ) -> sparse.csc_matrix:
        """Centred, scaled PSU totals of influence values, one column per (domain, variable).

        Parameters
        ----------
        z : ndarray, shape (n, k)
            Influence values of ``k`` estimators for each respondent (0 outside the estimator's
            domain and for nonrespondents to its item).
        domain : ndarray of int, shape (n,)
            Domain code ``0..n_domains-1`` of each respondent, ``-1`` for none. Respondent ``i``
            contributes ``z[i, j]`` to column ``domain[i] * k + j`` only.
        n_domains : int
            Number of domains ``D``.
        present : ndarray of bool, shape (n, k), optional
            Respondents that belong to each estimator (a valid answer to its item); used only to
            count the strata of a domain under ``lonely_psu="average"``. Default: every row with
            ``domain >= 0``.

        Returns
        -------
        scipy.sparse.csc_matrix, shape (P, D*k)
            ``U`` with ``U.T @ U`` the covariance matrix of the ``D*k`` estimates.

        Notes
        -----
        With :math:`t_{hj} = \\sum_{i \\in (h,j)} z_i` the total of PSU :math:`j` of stratum
        :math:`h` and :math:`\\bar t_h` its stratum mean,

        .. math:: U_{hj} = \\sqrt{c_h}\\,(t_{hj} - \\bar t_h), \\qquad
                  \\hat V = \\sum_h c_h \\sum_j (t_{hj}-\\bar t_h)(t_{hj}-\\bar t_h)^T,
                  \\quad c_h = (1-f_h)\\frac{n_h}{n_h-1},

        the "ultimate cluster" estimator of R ``survey::svyrecvar``. Lonely PSUs: see
        :func:`survey_design`. Domain estimation never drops rows: PSUs of a stratum with no
        member of the domain have :math:`t_{hj}=0` and still enter the stratum mean.

        Under ``lonely_psu="average"`` the variance of a domain estimate is multiplied by
        :math:`H_d / H_{d,ok}`, with :math:`H_d` the strata holding a member of the domain (with
        a valid answer) and :math:`H_{d,ok}` those of them with more than one PSU: R's
        ``survey:::onestage`` counts ``nstrat``/``nokstrat`` over the strata of the design it is
        given, and ``svyby``/``svymean(na.rm=TRUE)`` give it the domain's subset. A calibrated
        design keeps every row in R (``[.survey.design2`` on a calibrated design), so there the
        factor is :math:`H/H_{ok}` over all strata.

        Calibrated weights (:attr:`calibration` set): the influence values of each column are
        first replaced by their calibration residuals :math:`e = f \\odot (I-QQ^T)(z \\oslash f)`
        (see :class:`Calibration`). The residuals of a domain are not zero outside the domain, so
        the PSU totals are dense: :math:`T = A(f\\odot S) - (A(f\\odot Q))(Q^T S)` with
        :math:`S` the domain-spread matrix of :math:`z \\oslash f` and :math:`A` the PSU
        aggregation, never forming the :math:`n \\times Dk` residual matrix.
        """
        return self.scores(z, domain, n_domains, present).matrix

    def scores(
        self,
        z: np.ndarray,
        domain: np.ndarray,
        n_domains: int,
        present: np.ndarray | None = None,
        *,
        max_entries: int | None = None,
        pair_totals: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> DomainScores:
        """:meth:`domain_scores` in the layout that fits in memory, with the variances.

        Parameters
        ----------
        z, domain, n_domains, present
            As :meth:`domain_scores`.
        max_entries : int, optional
            When given, the compact layout is used if the PSU layout would hold more than this
            many values (counted before the sparse sum). Default: always the PSU layout.
        pair_totals : (ndarray, ndarray), optional
            Without calibration: the keys ``psu * n_domains + domain`` (sorted, unique) of the
            PSU x domain pairs with a member and the totals of ``z`` over each pair's rows
            (shape (pairs, k)), computed by the caller in passes over the columns; ``z`` may
            then be None and is not read.

        Returns
        -------
        DomainScores
            ``matrix`` (PSU layout: :meth:`domain_scores`; compact layout: one block of rows per
            domain), ``variance`` (the diagonal of ``matrix.T @ matrix``, the same in both
            layouts) and ``compact``.

        Notes
        -----
        In the PSU layout every PSU of a stratum carries the centre :math:`-\\bar t_h` of every
        domain with a member in the stratum, so it holds :math:`\\sum_{(h,d)} n_h \\cdot k` values:
        with respondents as PSUs (a design without villages, or the auxiliary designs of
        :func:`~sipas_analysis.small_domains.design_variants`) that is the number of
        respondents times the number of domains crossing the strata times ``k``. The compact
        layout gives each domain :math:`d` its own rows: one row
        :math:`\\sqrt{c_h}(t_{hj}-\\bar t_h)` per PSU :math:`j` with a member of :math:`d`, and one
        row :math:`\\sqrt{c_h\\,(n_h-m_{hd})}\\,(-\\bar t_h)` per stratum for its
        :math:`n_h-m_{hd}` PSUs without a member, which all carry the same :math:`-\\bar t_h`:
        the same within-domain covariance :math:`\\sum_h c_h\\sum_j (t_{hj}-\\bar t_h)
        (t_{hj}-\\bar t_h)^T`. A block with more than ``k`` rows is replaced by the ``k x k``
        triangular factor :math:`R` of its QR decomposition (:math:`R^TR = M^TM`). Covariances
        between different domains are not kept in the compact layout.
        """
        if pair_totals is not None and self.calibration is None:
            n, k = self.n, pair_totals[1].shape[1]
        else:
            pair_totals = None
            z = np.asarray(z, dtype=float)
            if z.ndim == 1:
                z = z[:, None]
            n, k = z.shape
        if n != self.n or domain.shape[0] != n:
            raise SipasError(f"influence matrix has {n} rows, the design {self.n}")
        c, centred, multiplier = self._stratum_scale()
        if self.calibration is not None:
            u = self._calibrated_scores(z, domain, n_domains, c, centred, multiplier)
            return DomainScores(u, _column_sum_squares(u), compact=False)
        col_scale = self._average_scale(domain, n_domains, k, present)
        multiplier = 1.0
        keep = domain >= 0
        all_kept = bool(keep.all())
        psu = self.psu if all_kept else self.psu[keep]
        dom = (domain if all_kept else domain[keep]).astype(np.int64)
        n_cols = n_domains * k
        shape = (self.n_psu, n_cols)
        if psu.shape[0] == 0:
            return DomainScores(sparse.csc_matrix(shape), np.zeros(n_cols), compact=False)
        # PSU x domain totals ("pairs")
        if pair_totals is not None:
            pair_key, t_pair = pair_totals
        else:
            key = psu.astype(np.int64) * n_domains + dom
            pair_key, pair_inv = np.unique(key, return_inverse=True)
            agg = sparse.csr_matrix(
                (np.ones(pair_inv.shape[0]), (pair_inv, np.arange(pair_inv.shape[0]))),
                shape=(pair_key.shape[0], pair_inv.shape[0]),
            )
            t_pair = agg @ (z if all_kept else z[keep])  # (n_pairs, k)
            del agg
        n_pairs = pair_key.shape[0]
        pair_psu = pair_key // n_domains
        pair_dom = pair_key % n_domains
        pair_h = self.psu_stratum[pair_psu]
        # stratum x domain sums
        gkey = pair_h.astype(np.int64) * n_domains + pair_dom
        g_key, g_inv = np.unique(gkey, return_inverse=True)
        n_groups = g_key.shape[0]
        gagg = sparse.csr_matrix(
            (np.ones(n_pairs), (g_inv, np.arange(n_pairs))), shape=(n_groups, n_pairs)
        )
        s_group = np.asarray(gagg @ t_pair)
        g_h = g_key // n_domains
        g_dom = g_key % n_domains
        n_h = self.n_psu_stratum[g_h].astype(float)
        centre = np.where(centred[g_h], 1.0, 0.0)[:, None] * s_group / n_h[:, None]
        sqrt_c = np.sqrt(c * multiplier)
        rep = self.n_psu_stratum[g_h]
        total = int(rep.sum())
        if max_entries is not None and (total + n_pairs) * k > max_entries:
            parts = (t_pair, pair_dom, pair_h, g_inv, g_h, g_dom, rep, centre, sqrt_c)
            return self._compact_scores(*parts, k, n_domains, col_scale)
        # (a) every PSU of the stratum gets -centre
        order = np.argsort(self.psu_stratum, kind="stable")
        start = np.concatenate([[0], np.cumsum(self.n_psu_stratum)[:-1]])
        within = np.arange(total) - np.repeat(np.cumsum(rep) - rep, rep)
        rows_a = order[np.repeat(start[g_h], rep) + within]
        vals_a = -np.repeat(centre * sqrt_c[g_h][:, None], rep, axis=0)
        cols_a = np.repeat(g_dom, rep)
        # (b) the PSU's own total
        rows_b = pair_psu
        vals_b = t_pair * sqrt_c[pair_h][:, None]
        cols_b = pair_dom
        rows = np.concatenate([rows_a, rows_b])
        vals = np.concatenate([vals_a, vals_b])
        dcols = np.concatenate([cols_a, cols_b]).astype(np.int64)
        rows_k = np.repeat(rows, k)
        cols_k = (dcols[:, None] * k + np.arange(k)[None, :]).ravel()
        u = sparse.coo_matrix((vals.ravel(), (rows_k, cols_k)), shape=shape).tocsc()
        u.sum_duplicates()
        if col_scale is not None:
            u = (u @ sparse.diags(np.sqrt(col_scale))).tocsc()
        u.eliminate_zeros()
        return DomainScores(u, _column_sum_squares(u), compact=False)

    def _compact_scores(
        self,
        t_pair: np.ndarray,
        pair_dom: np.ndarray,
        pair_h: np.ndarray,
        g_inv: np.ndarray,
        g_h: np.ndarray,
        g_dom: np.ndarray,
        rep: np.ndarray,
        centre: np.ndarray,
        sqrt_c: np.ndarray,
        k: int,
        n_domains: int,
        col_scale: np.ndarray | None,
    ) -> DomainScores:
        """The compact layout of :meth:`scores`: per domain, its PSUs' rows and one row per
        stratum for the PSUs without a member (QR factor when that is smaller)."""
        others = rep - np.bincount(g_inv, minlength=g_h.shape[0])  # PSUs without a member
        p_order = np.argsort(pair_dom, kind="stable")
        p_bounds = np.searchsorted(pair_dom[p_order], np.arange(n_domains + 1))
        g_order = np.argsort(g_dom, kind="stable")
        g_bounds = np.searchsorted(g_dom[g_order], np.arange(n_domains + 1))
        variance = np.zeros(n_domains * k)
        r_parts, c_parts, v_parts = [], [], []
        offset = 0
        step = max(k, _PASS_VALUES // max(k, 1))  # rows per pass: temporaries stay small
        for d in range(n_domains):
            pi = p_order[p_bounds[d] : p_bounds[d + 1]]
            if pi.size == 0:
                continue
            gi = g_order[g_bounds[d] : g_bounds[d + 1]]
            gi = gi[(others[gi] > 0) & (centre[gi] != 0).any(axis=1)]
            pieces = [pi[a : a + step] for a in range(0, pi.size, step)] + [None]
            scale_d = None if col_scale is None else np.sqrt(col_scale[d * k : (d + 1) * k])
            block = None
            for idx in pieces:
                if idx is None:  # the PSUs without a member, one row per stratum
                    if not gi.size:
                        continue
                    m = -centre[gi] * (sqrt_c[g_h[gi]] * np.sqrt(others[gi]))[:, None]
                else:
                    m = t_pair[idx] - centre[g_inv[idx]]
                    m *= sqrt_c[pair_h[idx]][:, None]
                if scale_d is not None:
                    m *= scale_d[None, :]
                variance[d * k : (d + 1) * k] += np.einsum("ij,ij->j", m, m)
                block = m if block is None else np.concatenate([block, m])
                if block.shape[0] > k:
                    block = np.linalg.qr(block, mode="r")
            rr, cc = np.nonzero(block)
            r_parts.append(rr + offset)
            c_parts.append(cc + d * k)
            v_parts.append(block[rr, cc])
            offset += block.shape[0]
        if r_parts:
            rows, cols, vals = map(np.concatenate, (r_parts, c_parts, v_parts))
        else:
            rows = cols = np.zeros(0, dtype=np.int64)
            vals = np.zeros(0)
        u = sparse.csc_matrix((vals, (rows, cols)), shape=(max(offset, 1), n_domains * k))
        return DomainScores(u, variance, compact=True)

    def _average_scale(
        self, domain: np.ndarray, n_domains: int, k: int, present: np.ndarray | None
    ) -> np.ndarray | None:
        """Per-column factor :math:`H_d/H_{d,ok}` under "average" (None when it does not apply)."""
        single = self.n_psu_stratum == 1
        if self.lonely_psu != "average" or not single.any():
            return None
        keep = domain >= 0
        if present is None:
            pres = np.broadcast_to(keep[:, None], (self.n, k))
        else:
            pres = np.asarray(present, dtype=bool).reshape(self.n, k) & keep[:, None]
        rows, js = np.nonzero(pres)
        cols = domain[rows].astype(np.int64) * k + js
        n_cols = n_domains * k
        key = np.unique(self.stratum[rows].astype(np.int64) * n_cols + cols)
        col_of = key % n_cols
        h_of = key // n_cols
        n_strat = np.bincount(col_of, minlength=n_cols).astype(float)
        n_ok = np.bincount(col_of, weights=(~single[h_of]).astype(float), minlength=n_cols)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(n_strat > 0, n_strat / n_ok, 1.0)
        return scale

    def _calibrated_scores(
        self,
        z: np.ndarray,
        domain: np.ndarray,
        n_domains: int,
        c: np.ndarray,
        centred: np.ndarray,
        multiplier: float,
    ) -> sparse.csc_matrix:
        """:meth:`domain_scores` for calibrated weights (residualised influence values)."""
        cal = self.calibration
        n, k = z.shape
        n_cols = n_domains * k
        keep = np.flatnonzero(domain >= 0)
        f = cal.factor
        cols = (domain[keep].astype(np.int64)[:, None] * k + np.arange(k)[None, :]).ravel()
        rows = np.repeat(keep, k)
        s_vals = (z[keep] / f[keep, None]).ravel()
        spread = sparse.csr_matrix((s_vals, (rows, cols)), shape=(n, n_cols))
        agg = sparse.csr_matrix(
            (np.ones(n), (self.psu, np.arange(n))), shape=(self.n_psu, n), dtype=float
        )
        q = cal.basis
        qts = np.asarray((spread.T @ q).T) if q.shape[1] else np.zeros((0, n_cols))
        t = np.asarray((agg @ sparse.diags(f) @ spread).todense())
        if q.shape[1]:
            t = t - np.asarray(agg @ (f[:, None] * q)) @ qts
        # centre at the stratum mean (all PSUs of the stratum) and scale
        s_ind = sparse.csr_matrix(
            (np.ones(self.n_psu), (self.psu_stratum, np.arange(self.n_psu))),
            shape=(self.n_strata, self.n_psu),
        )
        mean = np.asarray(s_ind @ t) / self.n_psu_stratum[:, None]
        mean = mean * centred[:, None]
        u = (t - mean[self.psu_stratum]) * np.sqrt(c * multiplier)[self.psu_stratum][:, None]
        out = sparse.csc_matrix(u)
        out.eliminate_zeros()
        return out

    def variance(self, z: np.ndarray) -> np.ndarray:
        """Linearisation covariance matrix of estimators with influence values ``z`` (n x k).

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from sipas_analysis.design import survey_design
        >>> d = pd.DataFrame({"stratum": [1, 1, 1, 1], "psu": [1, 1, 2, 2], "weight": 1.0})
        >>> des = survey_design(d)
        >>> des.variance(np.array([1.0, 1.0, -1.0, -1.0]))  # PSU totals 2, -2: 2/1 * (4 + 4)
        array([[16.]])
        """
        z = np.asarray(z, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        u = self.domain_scores(z, np.zeros(self.n, dtype=np.int64), 1)
        return (u.T @ u).toarray()
