"""Multiple comparisons: Benjamini–Hochberg and the test families of the findings table.

:func:`benjamini_hochberg` is the step-up procedure; :func:`family_bh` runs it in each family
(rows grouped by keys) and :func:`tested_bh` is the family structure of the findings: one family
per geographic level for the areas, and the communes in two stages (the overall index first, at
:data:`COMMUNE_Q_SHARE` of q, then the other indices of the communes selected there). Every
q-value they report compares with q itself (the communes' are scaled to it).
:func:`trend_q_values` gives the trends table its ``q_value``: one family per unit and wave of
the changes a brief may report in a sentence.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sipas_analysis.errors import SipasError

__all__ = [
    "COMMUNE_Q_SHARE",
    "TOP_LEVELS",
    "TREND_FAMILY_LEVELS",
    "benjamini_hochberg",
    "family_bh",
    "tested_bh",
    "trend_families",
    "trend_q_values",
]


def benjamini_hochberg(p_values: Sequence[float], q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini–Hochberg step-up procedure: which hypotheses to reject at FDR ``q``.

    Parameters
    ----------
    p_values : sequence of float
        p-values of one family of tests; NaN = no test (never rejected, not counted in m).
    q : float, default 0.05
        False discovery rate to control.

    Returns
    -------
    (ndarray of bool, ndarray of float)
        ``reject`` and the BH-adjusted p-values ("q-values"), in the input order (NaN stays NaN).

    Raises
    ------
    SipasError
        ``q`` outside (0, 1) or a p-value outside [0, 1].

    Notes
    -----
    With the m finite p-values sorted :math:`p_{(1)} \\le \\dots \\le p_{(m)}`, reject
    :math:`H_{(1)}, \\dots, H_{(k)}` for the largest k with :math:`p_{(k)} \\le k q / m`. The
    adjusted value is :math:`\\tilde p_{(i)} = \\min_{j \\ge i} \\min(1, m p_{(j)} / j)`, and
    :math:`H_{(i)}` is rejected iff :math:`\\tilde p_{(i)} \\le q` (Benjamini & Hochberg 1995);
    computed by ``scipy.stats.false_discovery_control(p, method="bh")`` on the finite p-values.
    Under independence or positive dependence the expected share of false discoveries among the
    rejections is at most :math:`q\\, m_0/m`.

    References
    ----------
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate: a practical and
    powerful approach to multiple testing. JRSS B 57, 289–300.

    Examples
    --------
    >>> r, adj = benjamini_hochberg([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205])
    >>> r.tolist()
    [True, True, False, False, False, False, False, False]
    """
    if not 0 < q < 1:
        raise SipasError(f"q must lie between 0 and 1, not {q!r}")
    p = np.asarray(p_values, dtype=float)
    ok = np.isfinite(p)
    if ((p[ok] < 0) | (p[ok] > 1)).any():
        raise SipasError("p-values must lie in [0, 1]")
    adj = np.full(p.shape, np.nan)
    m = int(ok.sum())
    if m:
        adj[ok] = stats.false_discovery_control(p[ok], method="bh")
    reject = np.where(ok, adj <= q, False)
    return reject.astype(bool), adj


def family_bh(df: pd.DataFrame, keys: list[str], q: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`benjamini_hochberg` on ``df["p_value"]`` within each group of ``keys``.

    Returns ``reject`` and the q-values in the row order of ``df``.
    """
    reject = np.zeros(len(df), dtype=bool)
    qv = np.full(len(df), np.nan)
    if df.empty:
        return reject, qv
    pos = np.arange(len(df))
    for _, idx in df.assign(_pos=pos).groupby(keys, dropna=False)["_pos"]:
        r, a = benjamini_hochberg(df["p_value"].to_numpy(dtype=float)[idx.to_numpy()], q)
        reject[idx.to_numpy()] = r
        qv[idx.to_numpy()] = a
    return reject, qv


#: Index levels that open the commune families: the overall index (SIPAS) or the total (PAPI).
TOP_LEVELS = ("overall", "total")
#: Share of the false discovery rate given to the commune families. The commune test statistic
#: has heavier tails than its t reference: the village variance under it is estimated from two to
#: four villages per commune, and a commune's few villages are not normal. On 60 null
#: field-style waves (19 communes x 3 villages, :mod:`sipas_analysis.field_sample`) 0.70 % of the
#: commune tests passed |t| = 3 against 0.41 % expected; at the full q, 3.3 % of the waves had a
#: false "below the rest" commune and 2 of the 8 waves of ``benchmarks/field_runs.py``, at half
#: q 1.7 % and 1 of 8. Halving q keeps the chance of a false commune flag per wave well under q.
COMMUNE_Q_SHARE = 0.5


def tested_bh(df: pd.DataFrame, q: float) -> tuple[np.ndarray, np.ndarray]:
    """BH per geographic level; communes in two stages (overall first, then its parts).

    Areas: one family per level, as :func:`family_bh`. Communes (Benjamini and Bogomolov
    2014) at :math:`q' = q \\cdot` :data:`COMMUNE_Q_SHARE`: stage 1 is one BH family of the
    communes' overall index (SIPAS; PAPI total); for each of the :math:`R` communes selected out
    of :math:`m`, its other tested indices (parts, elements) form a family tested by BH at
    :math:`q'R/m`. The communes' q-values are scaled (stage 2 by :math:`m/R`, both stages by
    ``1 / COMMUNE_Q_SHARE``, at most 1) so that every q-value, of an area or of a commune,
    compares with ``q`` itself: a row is rejected exactly when its q-value is at most ``q``. A
    commune not selected gets no rejection and no q-value for its parts. Under the complete null
    the chance of any commune flag is that of stage 1, at most :math:`q'` for symmetric errors.

    When ``df`` has ``survey`` and ``index_code``, stage 1 holds one headline index per commune:
    the one named as the survey (``sipas``, ``papi``); another index of the top level (the
    weighted PAPI total) is tested in stage 2 with the commune's parts.

    Examples
    --------
    >>> df = pd.DataFrame({"level": "commune", "survey": "papi",
    ...                    "unit_code": ["a", "a", "a", "b", "b"],
    ...                    "index_code": ["papi", "papi_weighted", "d1", "papi", "papi_weighted"],
    ...                    "index_level": ["total", "total", "dimension", "total", "total"],
    ...                    "p_value": [0.001, 0.002, 0.01, 0.5, 0.4]})
    >>> reject, qv = tested_bh(df, 0.05)
    >>> reject.tolist(), qv.round(3).tolist()
    ([True, True, True, False, False], [0.004, 0.016, 0.04, 1.0, nan])
    """
    reject = np.zeros(len(df), dtype=bool)
    qv = np.full(len(df), np.nan)
    if df.empty:
        return reject, qv
    lev = df["level"].astype(str).to_numpy()
    other = lev != "commune"
    if other.any():
        r, a = family_bh(df[other], ["level"], q)
        reject[other], qv[other] = r, a
    com = np.flatnonzero(~other)
    if com.size == 0:
        return reject, qv
    c = df.iloc[com]
    top = c["index_level"].isin(TOP_LEVELS).to_numpy()
    if "survey" in c.columns and "index_code" in c.columns:
        own = top & (c["index_code"].astype(str) == c["survey"].astype(str)).to_numpy()
        if own.any():
            top = own
    if not top.any():  # no overall index tested: one family, as before
        r, a = family_bh(c, ["level"], q)
        reject[com], qv[com] = r, a
        return reject, qv
    q = q * COMMUNE_Q_SHARE
    p_top = c["p_value"].to_numpy(dtype=float)[top]
    r1, a1 = benjamini_hochberg(p_top, q)
    reject[com[top]], qv[com[top]] = r1, np.fmin(a1 / COMMUNE_Q_SHARE, 1.0)
    m = int(np.isfinite(p_top).sum())
    chosen = set(c["unit_code"].astype(str).to_numpy()[top][r1])
    if not chosen or m == 0:
        return reject, qv
    level_q = q * len(chosen) / m
    units = c["unit_code"].astype(str).to_numpy()
    for u in chosen:
        sel = np.flatnonzero((units == u) & ~top)
        if sel.size == 0:
            continue
        r2, a2 = benjamini_hochberg(c["p_value"].to_numpy(dtype=float)[sel], level_q)
        reject[com[sel]] = r2
        qv[com[sel]] = np.fmin(a2 * m / len(chosen) / COMMUNE_Q_SHARE, 1.0)
    return reject, qv


#: Index levels of the changes a brief reports one by one (the composites below the headline
#: index: SIPAS parts and elements, PAPI dimensions and sub-dimensions). The headline changes
#: (:data:`TOP_LEVELS`) of an area or the whole area (one per unit and survey) have no family.
TREND_FAMILY_LEVELS = ("element", "part", "dimension", "subdimension")
#: The levels of the criteria (SIPAS questions, PAPI indicators): their changes form a family of
#: their own per unit, survey and wave (the commune sheet lists the criteria that moved most, out
#: of all of them).
TREND_ITEM_LEVELS = ("item", "indicator")


def trend_families(trends: pd.DataFrame) -> pd.Series:
    """The kind of test family of each change of a trends table ("" outside every family).

    Only changes between consecutive waves, comparable, without subgroup belong to one:

    * ``"unit"``: an area's or the whole area's changes of composite indices at a level of
      :data:`TREND_FAMILY_LEVELS` (SIPAS and PAPI together, either geography): the changes a
      brief reports one by one;
    * ``"communes"``: the communes' changes of the headline index (:data:`TOP_LEVELS`) and of
      the composites: the briefs' commune tables list the headline changes side by side, a
      commune sheet its composites;
    * ``"item"``: the changes of the criteria (:data:`TREND_ITEM_LEVELS`) of a unit.

    The headline change of an area or of the whole area is outside every family (one test per
    unit and survey).
    """
    out = pd.Series("", index=trends.index, dtype=object)
    if trends.empty:
        return out
    level = trends["index_level"].astype(str)
    member = (trends["comparison"].astype(str) == "consecutive") & trends["comparable"].fillna(
        False
    ).astype(bool)
    if "subgroup" in trends.columns:
        member &= trends["subgroup"].fillna("").astype(str) == ""
    commune = trends["level"].astype(str) == "commune"
    composite = level.isin(TREND_FAMILY_LEVELS)
    out[member & composite & ~commune] = "unit"
    out[member & commune & (composite | level.isin(TOP_LEVELS))] = "communes"
    out[member & level.isin(TREND_ITEM_LEVELS)] = "item"
    return out


def trend_q_values(trends: pd.DataFrame) -> np.ndarray:
    """The ``q_value`` of every row of a trends table (NaN outside the families).

    The families (:func:`trend_families`), each into one wave (``wave_to``):

    * ``"unit"``: one Benjamini–Hochberg family per area (whole area);
    * ``"item"``: one family per unit and survey;
    * ``"communes"``: per survey and geography, the two stages of :func:`tested_bh` (as the
      weak points): the headline changes of all the communes at
      :math:`q \\cdot` :data:`COMMUNE_Q_SHARE`, then the composites of each commune selected
      there. A commune not selected has no q-value for its composites (none is significant).

    A change without p-value (a suppressed end) counts in its family as p = 1 and gets no
    q-value. Every q-value compares with 0.05 (the communes' are scaled to it,
    :func:`tested_bh`). A page calls a change significant when it is significant and, in a
    family, its q-value is at most 0.05 (:func:`sipas_analysis.highlights.said_significant`; the briefs'
    sentences: :func:`sipas_analysis.report.text.key_findings`). Pass the trends of both
    surveys at once.

    Examples
    --------
    >>> t = pd.DataFrame({"survey": "sipas", "wave_to": "2025", "level": "area",
    ...                   "unit_code": "794", "subgroup": "", "comparison": "consecutive",
    ...                   "comparable": True,
    ...                   "index_level": ["element", "element", "element", "overall", "item"],
    ...                   "p_value": [0.01, 0.04, np.nan, 0.01, 0.01]})
    >>> trend_q_values(t).round(3).tolist()
    [0.03, 0.06, nan, nan, 0.01]
    """
    q = np.full(len(trends), np.nan)
    kind = trend_families(trends).to_numpy()
    rows = np.flatnonzero(kind != "")
    if rows.size == 0:
        return q
    fam = trends.iloc[rows]
    p = pd.to_numeric(fam["p_value"], errors="coerce")
    geography = fam["geography"] if "geography" in fam.columns else pd.Series("", index=fam.index)
    fam = pd.DataFrame(
        {
            "kind": kind[rows],
            "wave_to": fam["wave_to"].astype(str).to_numpy(),
            "survey": fam["survey"].astype(str).to_numpy(),
            "geography": geography.fillna("").astype(str).to_numpy(),
            "level": fam["level"].astype(str).to_numpy(),
            "index_level": fam["index_level"].astype(str).to_numpy(),
            "index_code": (
                fam["index_code"] if "index_code" in fam.columns else pd.Series("", index=fam.index)
            )
            .astype(str)
            .to_numpy(),
            "unit_code": fam["unit_code"].astype(str).to_numpy(),
            "p_value": p.fillna(1.0).to_numpy(dtype=float),  # counted, conservatively
        }
    )
    qv = np.full(len(fam), np.nan)
    unit = np.flatnonzero(fam["kind"].to_numpy() == "unit")
    qv[unit] = family_bh(fam.iloc[unit], ["wave_to", "unit_code"], 0.05)[1]
    item = np.flatnonzero(fam["kind"].to_numpy() == "item")
    qv[item] = family_bh(fam.iloc[item], ["wave_to", "unit_code", "survey"], 0.05)[1]
    com = fam[fam["kind"] == "communes"]
    for idx in com.groupby(["wave_to", "survey", "geography"]).indices.values():
        at = com.index.to_numpy()[idx]
        qv[at] = tested_bh(fam.iloc[at].reset_index(drop=True), 0.05)[1]
    q[rows] = np.where(p.notna().to_numpy(), qv, np.nan)
    return q
