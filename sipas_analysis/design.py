"""The survey design: weights, strata, PSUs nested in strata, finite population correction.

A :class:`SurveyDesign` holds what the variance of any estimator needs and nothing else: the design
weight of every respondent, the stratum and the primary sampling unit (PSU, e.g. the village) each
respondent belongs to, an optional finite population correction, and the rule for strata that hold
a single PSU ("lonely PSU", as R's ``options(survey.lonely.psu=)``).

Its core service is :meth:`SurveyDesign.domain_scores`, which turns respondent-level influence
values (linearised estimators) into centred, scaled PSU totals ``U`` such that the Taylor
linearisation covariance of all estimates is ``U.T @ U``. The estimation engine
(:mod:`sipas_analysis.estimate`) builds every (item x domain) cell on top of it in one vectorised
pass.

The formulas reproduce R ``survey`` (Lumley) ``svydesign(ids=~psu, strata=~stratum, weights=~w,
nest=TRUE, fpc=)`` with ``svyrecvar`` (one-stage, "ultimate cluster" variance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from sipas_analysis.errors import InputError, SipasError

LONELY_PSU_RULES = ("fail", "adjust", "average", "certainty", "remove")


class DesignWarning(UserWarning):
    """A design-based quantity cannot be estimated as asked (e.g. a domain inside one PSU)."""


def _source_rows(df: pd.DataFrame, mask: np.ndarray) -> list[int]:
    """Row numbers as in the source file: ``source_row`` if present, else position + 2 (header 1)."""
    positions = np.flatnonzero(mask)
    if "source_row" in df.columns:
        return [int(v) for v in df["source_row"].to_numpy()[positions]]
    return [int(p) + 2 for p in positions]


def _require_columns(df: pd.DataFrame, columns: list[str | None]) -> None:
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise InputError(
            f"column(s) not found: {', '.join(map(repr, missing))}; "
            f"available: {', '.join(map(str, df.columns))}",
            column=missing[0],
        )


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

    def domain_scores(self, z: np.ndarray, domain: np.ndarray, n_domains: int) -> sparse.csc_matrix:
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
        """
        z = np.asarray(z, dtype=float)
        if z.ndim == 1:
            z = z[:, None]
        n, k = z.shape
        if n != self.n or domain.shape[0] != n:
            raise SipasError(f"influence matrix has {n} rows, the design {self.n}")
        c, centred, multiplier = self._stratum_scale()
        keep = domain >= 0
        psu = self.psu[keep]
        dom = domain[keep].astype(np.int64)
        zk = z[keep]
        n_cols = n_domains * k
        shape = (self.n_psu, n_cols)
        if zk.shape[0] == 0:
            return sparse.csc_matrix(shape)
        # PSU x domain totals ("pairs")
        key = psu.astype(np.int64) * n_domains + dom
        pair_key, pair_inv = np.unique(key, return_inverse=True)
        n_pairs = pair_key.shape[0]
        agg = sparse.csr_matrix(
            (np.ones(pair_inv.shape[0]), (pair_inv, np.arange(pair_inv.shape[0]))),
            shape=(n_pairs, pair_inv.shape[0]),
        )
        t_pair = agg @ zk  # (n_pairs, k)
        pair_psu = pair_key // n_domains
        pair_dom = pair_key % n_domains
        pair_h = self.psu_stratum[pair_psu]
        # stratum x domain sums
        gkey = pair_h.astype(np.int64) * n_domains + pair_dom
        g_key, g_inv = np.unique(gkey, return_inverse=True)
        n_groups = g_key.shape[0]
        s_group = np.zeros((n_groups, k))
        np.add.at(s_group, g_inv, t_pair)
        g_h = g_key // n_domains
        g_dom = g_key % n_domains
        n_h = self.n_psu_stratum[g_h].astype(float)
        centre = np.where(centred[g_h], 1.0, 0.0)[:, None] * s_group / n_h[:, None]
        sqrt_c = np.sqrt(c * multiplier)
        # (a) every PSU of the stratum gets -centre
        order = np.argsort(self.psu_stratum, kind="stable")
        start = np.concatenate([[0], np.cumsum(self.n_psu_stratum)[:-1]])
        rep = self.n_psu_stratum[g_h]
        total = int(rep.sum())
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
        u.eliminate_zeros()
        return u

    def variance(self, z: np.ndarray) -> np.ndarray:
        """Linearisation covariance matrix of estimators with influence values ``z`` (n x k).

        Examples
        --------
        >>> import numpy as np, pandas as pd
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


def _lonely_message(strata: list) -> str:
    shown = ", ".join(repr(s) for s in strata[:20])
    return (
        f"{len(strata)} stratum/strata have a single PSU (lonely PSU): {shown}. The variance cannot "
        "be estimated there. Choose a rule: lonely_psu='adjust' (centre at the population mean), "
        "'average' (average of the other strata) or 'certainty' (PSU taken with certainty) — "
        "as R options(survey.lonely.psu=...); or merge the stratum with a neighbour. / "
        "Tầng chỉ có một PSU: hãy chọn quy tắc lonely_psu hoặc gộp tầng."
    )


def survey_design(
    df: pd.DataFrame,
    weight: str | None = "weight",
    strata: str | None = "stratum",
    psu: str | None = "psu",
    fpc: str | None = None,
    lonely_psu: str = "fail",
    *,
    file: str | None = None,
) -> SurveyDesign:
    """Build a stratified cluster design from a respondent table.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per respondent (e.g. the canonical respondent table). Not modified.
    weight : str or None
        Design weight column (> 0, finite). ``None``: equal weights 1.
    strata : str or None
        Stratum column. ``None``: one stratum.
    psu : str or None
        PSU column; labels are nested in strata (the same label in two strata is two PSUs, as
        ``nest=TRUE`` in R). ``None``: every respondent is its own PSU.
    fpc : str or None
        Finite population correction column, constant within a stratum: either the population
        number of PSUs :math:`N_h` (values > 1) or the sampling fraction :math:`n_h/N_h` (all
        values <= 1), as in R ``svydesign(fpc=)``.
    lonely_psu : {"fail", "adjust", "average", "certainty", "remove"}
        Rule for a stratum with a single PSU (R ``options(survey.lonely.psu=)``). "fail" (default)
        raises :class:`~sipas_analysis.errors.SipasError` naming the strata; "adjust" centres the
        lonely PSU at the population mean (0 for influence values) instead of the stratum mean;
        "average" replaces its contribution by the average of the other strata (the variance is
        multiplied by :math:`H/H_{ok}`); "certainty"/"remove" give it no contribution.
    file : str, optional
        File name to cite in error messages.

    Returns
    -------
    SurveyDesign

    Raises
    ------
    InputError
        Unknown columns; missing, non-numeric, non-positive or infinite weights; missing strata or
        PSU labels; an fpc that varies within a stratum or is smaller than the sample.
    SipasError
        A singleton stratum with ``lonely_psu="fail"``.

    Notes
    -----
    Degrees of freedom: ``df = (number of PSUs) - (number of strata)`` (R ``degf``). The variance
    of an estimator with influence values :math:`z_i` is
    :math:`\\sum_h (1-f_h)\\frac{n_h}{n_h-1}\\sum_j (z_{hj}-\\bar z_h)^2`, with :math:`z_{hj}` the
    PSU totals and :math:`f_h = n_h/N_h`; see :meth:`SurveyDesign.domain_scores`.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"stratum": ["a", "a", "b", "b", "b"], "psu": [1, 2, 1, 2, 3],
    ...                   "weight": [1.0, 2.0, 1.5, 1.0, 3.0]})
    >>> des = survey_design(d)
    >>> des.n_psu, des.n_strata, des.df
    (5, 2, 3)
    """
    if lonely_psu not in LONELY_PSU_RULES:
        raise SipasError(f"lonely_psu must be one of {LONELY_PSU_RULES}, not {lonely_psu!r}")
    _require_columns(df, [weight, strata, psu, fpc])
    n = len(df)
    if n == 0:
        raise InputError("the respondent table is empty", file=file)
    # weights
    if weight is None:
        w = np.ones(n)
    else:
        wcol = df[weight]
        wnum = pd.to_numeric(wcol, errors="coerce").astype(float).to_numpy()
        bad = ~np.isfinite(wnum) | (wnum <= 0)
        if bad.any():
            raise InputError(
                "design weights must be positive finite numbers",
                file=file,
                column=weight,
                rows=_source_rows(df, bad),
                values=pd.unique(wcol[bad].astype(object)).tolist(),
            )
        w = wnum
    # strata
    if strata is None:
        s_codes = np.zeros(n, dtype=np.int64)
        s_labels = np.array(["all"], dtype=object)
    else:
        scol = df[strata]
        bad = scol.isna().to_numpy()
        if bad.any():
            raise InputError(
                "missing stratum", file=file, column=strata, rows=_source_rows(df, bad)
            )
        s_codes, s_labels = pd.factorize(scol, sort=True)
        s_labels = np.asarray(s_labels, dtype=object)
    # PSUs nested in strata
    if psu is None:
        p_raw = np.arange(n)
    else:
        pcol = df[psu]
        bad = pcol.isna().to_numpy()
        if bad.any():
            raise InputError("missing PSU label", file=file, column=psu, rows=_source_rows(df, bad))
        p_raw, _ = pd.factorize(pcol, sort=True)
    pair = s_codes.astype(np.int64) * (int(p_raw.max()) + 1) + p_raw
    p_codes, p_uniques = pd.factorize(pair, sort=True)
    p_codes = p_codes.astype(np.int64)
    n_psu = len(p_uniques)
    psu_stratum = np.zeros(n_psu, dtype=np.int64)
    psu_stratum[p_codes] = s_codes
    n_h = np.bincount(psu_stratum, minlength=len(s_labels)).astype(np.int64)
    if psu is None:
        psu_labels = np.array([str(i) for i in range(n_psu)], dtype=object)
    else:
        first = np.zeros(n_psu, dtype=np.int64)
        first[p_codes[::-1]] = np.arange(n)[::-1]
        pl = df[psu].to_numpy()[first]
        psu_labels = np.array(
            [f"{s_labels[h]}/{lab}" for h, lab in zip(psu_stratum, pl, strict=True)], dtype=object
        )
    # fpc
    fpc_factor = np.ones(len(s_labels))
    if fpc is not None:
        fcol = pd.to_numeric(df[fpc], errors="coerce").astype(float).to_numpy()
        bad = ~np.isfinite(fcol) | (fcol <= 0)
        if bad.any():
            raise InputError(
                "fpc must be a positive number",
                file=file,
                column=fpc,
                rows=_source_rows(df, bad),
                values=pd.unique(df[fpc][bad].astype(object)).tolist(),
            )
        fmin = np.full(len(s_labels), np.inf)
        fmax = np.full(len(s_labels), -np.inf)
        np.minimum.at(fmin, s_codes, fcol)
        np.maximum.at(fmax, s_codes, fcol)
        varying = np.flatnonzero(fmin != fmax)
        if varying.size:
            rows = np.isin(s_codes, varying)
            raise InputError(
                "fpc varies within a stratum",
                file=file,
                column=fpc,
                rows=_source_rows(df, rows),
                values=list(s_labels[varying]),
            )
        if np.all(fcol <= 1):
            pop = n_h / fmin  # sampling fraction -> population PSUs
        else:
            pop = fmin
        small = np.flatnonzero(pop < n_h - 1e-9)
        if small.size:
            raise InputError(
                "fpc (population PSUs) smaller than the number of sampled PSUs in stratum(s)",
                file=file,
                column=fpc,
                values=list(s_labels[small]),
            )
        fpc_factor = np.where(np.isinf(pop), 1.0, (pop - n_h) / pop)
    if lonely_psu == "fail" and (n_h == 1).any():
        raise SipasError(_lonely_message(list(s_labels[n_h == 1])))
    return SurveyDesign(
        weights=w,
        stratum=s_codes.astype(np.int64),
        psu=p_codes,
        psu_stratum=psu_stratum,
        n_psu_stratum=n_h,
        fpc_factor=fpc_factor,
        lonely_psu=lonely_psu,
        strata_labels=s_labels,
        psu_labels=psu_labels,
        row_index=df.index,
    )


#: Design degrees of freedom below which ``sipas validate`` warns (intervals then lean on very few
#: PSUs: with df 2, a t quantile of 4.3 instead of 2.0).
LOW_DF = 10


def design_summary(
    stratum: pd.Series, psu: pd.Series, commune: pd.Series | None = None
) -> dict[str, object]:
    """Counts that describe a sample design: strata, PSUs, PSUs per commune, design df.

    Parameters
    ----------
    stratum, psu : Series
        Stratum and PSU label of each respondent (rows with a missing label are ignored). PSU
        labels are nested in strata, as :func:`survey_design` does.
    commune : Series, optional
        Commune of each respondent, for the PSUs per commune and the PSUs found in several
        communes.

    Returns
    -------
    dict
        ``n_respondents, n_strata, n_psu, df`` (PSUs minus strata, R's ``degf``),
        ``singleton_strata`` (labels of strata with one PSU), and with ``commune``:
        ``psu_per_commune`` (``min, median, max``), ``psu_multi_commune`` (PSU labels found in
        several communes).

    Examples
    --------
    >>> s = pd.Series(["1"] * 6)
    >>> p = pd.Series(["a", "a", "b", "b", "c", "c"])
    >>> c = pd.Series([1, 1, 1, 2, 2, 2])
    >>> d = design_summary(s, p, c)
    >>> d["n_psu"], d["df"], d["psu_multi_commune"]
    (3, 2, ['b'])
    """
    frame = pd.DataFrame({"s": stratum.to_numpy(), "p": psu.to_numpy()})
    if commune is not None:
        frame["c"] = commune.to_numpy()
    frame = frame.dropna(subset=["s", "p"])
    frame["s"] = frame["s"].astype(str)
    frame["p"] = frame["s"] + "\x1f" + frame["p"].astype(str)
    per_stratum = frame.groupby("s")["p"].nunique()
    out: dict[str, object] = {
        "n_respondents": int(len(frame)),
        "n_strata": int(per_stratum.size),
        "n_psu": int(frame["p"].nunique()),
        "df": int(frame["p"].nunique() - per_stratum.size),
        "singleton_strata": sorted(per_stratum[per_stratum == 1].index.tolist()),
    }
    if commune is not None:
        known = frame.dropna(subset=["c"])
        per_commune = known.groupby("c")["p"].nunique()
        spans = known.groupby("p")["c"].nunique()
        out["n_communes"] = int(per_commune.size)
        out["psu_per_commune"] = (
            {
                "min": int(per_commune.min()),
                "median": float(per_commune.median()),
                "max": int(per_commune.max()),
            }
            if per_commune.size
            else {"min": 0, "median": 0.0, "max": 0}
        )
        out["psu_multi_commune"] = sorted(p.split("\x1f", 1)[1] for p in spans[spans > 1].index)
    return out
