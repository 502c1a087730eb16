"""Composites and differences: means of item indices with their correct standard errors
(:func:`composite_mean`) and differences between independent waves
(:func:`difference_independent`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse, special

from sipas_analysis.design import DesignWarning
from sipas_analysis.disclosure import MIN_N
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate.flags import _flags, inherit_flags
from sipas_analysis.estimate.intervals import _tq, proportion_ci
from sipas_analysis.estimate.options import _PERCENT, SMALL_N
from sipas_analysis.estimate.result import Estimates

__all__ = ["composite_mean", "difference_independent"]


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
    >>> from sipas_analysis.estimate import estimate_domains
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
