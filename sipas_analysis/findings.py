"""Weak points (điểm yếu): one tidy findings table that holds up to scrutiny.

A finding is a (unit, index) cell of a wave that pulls the score down, with its value, CI, the
benchmark it is set against, the reason(s) it is flagged — Vietnamese sentences plus machine codes —
a priority and a recommendation ("đề xuất tập trung"). Reasons:

=====================  ===================================================================
code                   rule
=====================  ===================================================================
``lowest_ranked``      among the lowest items / elements / sub-dimensions of an area or the
                       whole survey area (descriptive)
``below_rest``         a commune significantly below the rest of its area (an area below the
                       rest of the survey area): domain contrast on the full design
``decline``            a significant decline since the last comparable wave
``below_benchmark``    below the national median (PAPI) / national value (SIPAS), the whole CI
                       below it (``below_benchmark_ns``: the estimate only)
``below_target``       below the province's own target (optional table)
``ipa_priority``       importance–performance: high importance, low performance
=====================  ===================================================================

Significance is controlled for multiple comparisons with Benjamini–Hochberg
(:func:`benjamini_hochberg`, q = 0.05) within families of tests (:func:`weak_points`). Commune
ranks come with joint rank confidence sets (:func:`commune_ranks`), never a bare rank. Cells with
n < 30 are flagged, cells with n < 10 never yield a finding. This stage only **reads** the
estimates table: the commune variances (the pooled variance model) and the model-based commune
estimates are computed once, with the indices (:mod:`sipas_analysis.small_domains`), and the
contrasts with the rest of an area are built from those cells (:func:`rest_contrasts`). One call
per survey: :func:`sipas_weak_points`, :func:`papi_weak_points`. The plain-language
rules are in ``docs/findings_rules.md``; the phrases in
``findings_phrases.yaml`` next to this module.

Examples
--------
>>> reject, q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
>>> reject.tolist(), [float(round(v, 4)) for v in q]
([True, False, False, False], [0.04, 0.0533, 0.0533, 0.2])
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from sipas_analysis import small_domains
from sipas_analysis.disclosure import MIN_N
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.instruments import Instrument, load_instrument
from sipas_analysis.report.format import fmt_number
from sipas_analysis.trends import trend_table

__all__ = [
    "FINDING_COLUMNS",
    "IPA_COLUMNS",
    "REASON_CODES",
    "benjamini_hochberg",
    "rest_contrasts",
    "papi_weak_points",
    "importance_performance",
    "commune_ranks",
    "weak_points",
    "sipas_weak_points",
]

_PHRASES_FILE = Path(__file__).resolve().parent / "findings_phrases.yaml"

#: Columns of the findings table (the contract), in order; extra columns follow them.
FINDING_COLUMNS = [
    "survey",
    "wave",
    "unit_code",
    "unit_name",
    "level",
    "index_code",
    "label_vi",
    "estimate",
    "ci_low",
    "ci_high",
    "benchmark",
    "benchmark_label",
    "reasons",
    "priority",
    "recommendation_vi",
]
_FINDING_EXTRA = [
    "reason_codes",
    "index_level",
    "area_code",
    "n",
    "flag",
    "q_value",
    "difference",
    "rank",
    "rank_low",
    "rank_high",
    "n_units",
    "score",
]
#: Columns of the importance–performance table (the contract), then extras.
IPA_COLUMNS = ["index_code", "label_vi", "importance", "performance", "quadrant"]
#: Machine-readable reason codes.
REASON_CODES = (
    "below_rest",
    "decline",
    "below_target",
    "below_benchmark",
    "below_benchmark_ns",
    "ipa_priority",
    "lowest_ranked",
)
#: Index levels tested for significance by default (composites: fewer, more powerful tests).
TESTED_LEVELS = ("element", "part", "overall", "subdimension", "dimension", "total")
#: How many lowest cells per (unit, index level) are reported as ``lowest_ranked``.
DEFAULT_N_LOWEST = {"item": 3, "element": 1, "subdimension": 3, "dimension": 1}
_SMALL_N = 30


@functools.lru_cache(maxsize=1)
def _phrases() -> dict:
    with open(_PHRASES_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _fmt(x: float, digits: int = 1) -> str:
    """Vietnamese number format for reason sentences (:func:`report.format.fmt_number`)."""
    if x is None or not np.isfinite(x):
        return "–"
    return fmt_number(x, digits)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _fmt_q(q: float) -> str:
    if not np.isfinite(q):
        return "–"
    return "q < 0,001" if q < 0.001 else "q = " + _fmt(q, 3)


# --------------------------------------------------------------------------------------------
# multiple comparisons
# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# the SIPAS index hierarchy recomputed on the full design
# --------------------------------------------------------------------------------------------
def _instrument(instrument: Instrument | str | None, df: pd.DataFrame) -> Instrument:
    if isinstance(instrument, Instrument):
        return instrument
    if instrument is None:
        if "instrument" not in df.columns or df["instrument"].nunique() != 1:
            raise InputError(
                "name the instrument (the table has no single 'instrument' value)",
                column="instrument",
            )
        instrument = str(df["instrument"].iloc[0])
    return load_instrument(instrument)


def rest_contrasts(estimates: pd.DataFrame, level: str = "commune") -> pd.DataFrame:
    """Each commune against the rest of its area (each area against the rest), from the estimates.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Estimates table of one wave with the variance model and ``weight_total``
        (:func:`sipas_analysis.small_domains.modelled_indices`, as every run computes it). Not
        modified.
    level : {"commune", "area"}

    Returns
    -------
    pandas.DataFrame
        ``level, unit_code, parent_code, index_level, index_code, estimate_unit,
        estimate_rest, difference, se, df, p_value, n_unit``; one row per unit and index with at
        least one other unit of the same parent.

    Notes
    -----
    The rest of parent :math:`A` without unit :math:`u` is the population-weighted mean of the
    other units, :math:`\\hat\\theta_{A\\setminus u} = \\sum_{v\\ne u} \\pi_v\\hat\\theta_v` with
    :math:`\\pi_v = \\hat N_v/\\sum_{v'\\ne u}\\hat N_{v'}` and :math:`\\hat N_v` the unit's weight
    total. Units are sampled independently (villages within communes, communes within areas),
    so

    .. math:: \\widehat V(\\hat\\theta_u-\\hat\\theta_{A\\setminus u}) = \\hat V_u +
              \\sum_{v\\ne u}\\pi_v^2 \\hat V_v ,

    with the variances of the estimates table (for communes the pooled variance model of
    :mod:`sipas_analysis.small_domains`). The p-value is two-sided from the t distribution with
    the smallest degrees of freedom of the cells involved, of the difference on the comparison
    scale of :func:`sipas_analysis.small_domains.comparison_scale` (``test_scale``: ``logit`` for
    percents, :math:`\\operatorname{logit}\\hat\\theta_u - \\operatorname{logit}\\hat\\theta_{A\\setminus u}`
    over its delta-method SE; ``linear`` for points and at 0 or 100 %). On the logit scale the
    variances are those the cells would have at the level of the whole parent, which the null
    hypothesis gives both sides (:func:`sipas_analysis.small_domains.null_level_variance`, as in
    a score test): a commune that drew a poor village is not called below the rest for the
    smaller logit variance its low estimate implies. On null field-style waves this took the
    share of waves with a false "below the rest" from 3.3 % to 1.7 % (60 waves). The reported
    ``se`` is the percent-scale SE above. Cells with fewer than 10 answers (suppressed) enter
    neither side.
    """
    if level not in ("commune", "area"):
        raise SipasError(f"level must be 'commune' or 'area', not {level!r}")
    need = [
        "survey",
        "level",
        "unit_code",
        "index_code",
        "estimate",
        "se",
        "df",
        "n",
        "weight_total",
    ]
    miss = [c for c in need if c not in estimates.columns]
    if miss:
        raise InputError(f"the estimates table lacks column(s) {miss}", column=miss[0])
    e = estimates[estimates["level"] == level]
    if "subgroup" in e.columns:
        e = e[e["subgroup"].fillna("").astype(str) == ""]
    e = e[
        (pd.to_numeric(e["n"], errors="coerce") >= MIN_N)
        & e["estimate"].notna()
        & e["se"].notna()
        & (e["weight_total"] > 0)
    ].copy()
    cols = ["level", "unit_code", "parent_code", "index_level", "index_code", "estimate_unit",
            "estimate_rest", "difference", "se", "df", "p_value", "test_scale",
            "n_unit"]  # fmt: skip
    if e.empty:
        return pd.DataFrame(columns=cols)
    e["unit_code"] = e["unit_code"].astype(str)
    e["_parent"] = e["area_code"].astype(str) if level == "commune" else "total"
    w = e["weight_total"].to_numpy(dtype=float)
    th = e["estimate"].to_numpy(dtype=float)
    v = e["se"].to_numpy(dtype=float) ** 2
    e["_w"], e["_wth"], e["_w2v"] = w, w * th, w**2 * v
    e["_df"] = e["df"].to_numpy(dtype=float)
    g = e.groupby(["_parent", "index_code"], sort=False)
    W = g["_w"].transform("sum").to_numpy(dtype=float)
    s_wth = g["_wth"].transform("sum").to_numpy(dtype=float)
    s_w2v = g["_w2v"].transform("sum").to_numpy(dtype=float)
    k = g["_w"].transform("size").to_numpy()
    df_min = g["_df"].transform("min").to_numpy(dtype=float)
    W_rest = W - w
    with np.errstate(invalid="ignore", divide="ignore"):
        rest = (s_wth - w * th) / W_rest
        v_rest = (s_w2v - w**2 * v) / W_rest**2
    d = th - rest
    se = np.sqrt(v + v_rest)
    dfv = np.fmax(df_min, 1.0)
    # the test on the comparison scale (logit for percents), where a few villages give no skew,
    # with every variance taken at the level the null hypothesis gives both sides: the parent's
    pct = e["survey"].isin(small_domains.PERCENT_SURVEYS).to_numpy()
    g_u, _ = small_domains.comparison_scale(th, pct)
    g_r, _ = small_domains.comparison_scale(rest, pct)
    a = e["se_village"].to_numpy(dtype=float) ** 2 if "se_village" in e else np.full(len(e), np.nan)
    v0 = small_domains.null_level_variance(th, v, a, s_wth / W, pct)
    e["_w2v0"] = w**2 * v0
    s_w2v0 = e.groupby(["_parent", "index_code"], sort=False)["_w2v0"].transform("sum").to_numpy()
    _, d_0 = small_domains.comparison_scale(s_wth / W, pct)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_lin = d / se
        t_cmp = (g_u - g_r) / (d_0 * np.sqrt(v0 + (s_w2v0 - w**2 * v0) / W_rest**2))
        on_cmp = np.isfinite(t_cmp)
        p = 2 * stats.t.sf(np.abs(np.where(on_cmp, t_cmp, t_lin)), dfv)
    out = pd.DataFrame(
        {
            "level": level,
            "unit_code": e["unit_code"].to_numpy(),
            "parent_code": e["_parent"].to_numpy(),
            "index_level": e["index_level"].to_numpy(),
            "index_code": e["index_code"].to_numpy(),
            "estimate_unit": th,
            "estimate_rest": rest,
            "difference": d,
            "se": se,
            "df": dfv,
            "p_value": p,
            "test_scale": np.where(on_cmp & pct, "logit", "linear"),
            "n_unit": e["n"].to_numpy(),
        }
    )
    return out[(k > 1) & (W_rest > 0)].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# importance–performance
# --------------------------------------------------------------------------------------------
def _top2_matrix(df: pd.DataFrame, items: list[str], top: Sequence[float]) -> np.ndarray:
    x = np.column_stack(
        [
            pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            for c in items
        ]
    )
    return np.where(np.isnan(x), np.nan, np.isin(x, np.asarray(top, dtype=float)).astype(float))


def _wcorr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y) & (w > 0)
    if ok.sum() < 3:
        return np.nan
    x, y, w = x[ok], y[ok], w[ok]
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cxy = np.average((x - mx) * (y - my), weights=w)
    vx, vy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
    if vx <= 0 or vy <= 0:
        return np.nan
    return float(cxy / np.sqrt(vx * vy))


def importance_performance(
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    *,
    estimates: pd.DataFrame | None = None,
    weight: str = "weight",
) -> pd.DataFrame:
    """Importance–performance of the satisfaction items of one wave (whole survey area).

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one SIPAS wave. Not modified.
    instrument : Instrument or str, optional
    estimates : pandas.DataFrame, optional
        Estimates table: when given, performance is the item's total-level estimate from it
        (so the numbers match the rest of the report); else the weighted top-2 share.
    weight : str

    Returns
    -------
    pandas.DataFrame
        ``index_code, label_vi, importance, performance, quadrant`` then ``quadrant_code, n``.

    Notes
    -----
    For item k with top-2 indicator :math:`y_{ik}` (1 = hài lòng/rất hài lòng) and the
    respondent's overall score without the item, :math:`s_{i,-k}` = mean of
    :math:`y_{ij}` over the other items j the respondent answered (the item is left out so that
    it is not correlated with itself), importance is the weighted Pearson correlation

    .. math:: r_k = \\frac{\\sum_i w_i (y_{ik}-\\bar y_k)(s_{i,-k}-\\bar s)}
              {\\sqrt{\\sum_i w_i (y_{ik}-\\bar y_k)^2 \\sum_i w_i (s_{i,-k}-\\bar s)^2}},

    and performance the weighted top-2 share (%). Quadrants are cut at the medians over items:
    ``uu_tien`` (importance ≥ median, performance < median: priority), ``duy_tri`` (high,
    high), ``theo_doi`` (low, low), ``giu_vung`` (low, high). The correlation is descriptive
    (no SE).

    Examples
    --------
    >>> ipa = importance_performance(wave_2024)  # doctest: +SKIP
    """
    inst = _instrument(instrument, respondents)
    sat = inst.satisfaction_items()
    sat = sat[sat["code"].isin(list(respondents.columns))]
    if sat.empty:
        raise SipasError(f"no satisfaction item of {inst.name} in the table")
    items = sat["code"].tolist()
    top = inst.scales[str(sat["scale"].iloc[0])].top_box
    y = _top2_matrix(respondents, items, top)
    w = pd.to_numeric(respondents[weight], errors="coerce").to_numpy(dtype=float)
    w = np.where(np.isfinite(w), w, 0.0)
    v = np.isfinite(y)
    tot = np.nansum(y, axis=1)
    cnt = v.sum(axis=1)
    imp, perf, n = [], [], []
    for k in range(len(items)):
        yk = y[:, k]
        rest_cnt = cnt - v[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(rest_cnt > 0, (tot - np.nan_to_num(yk)) / rest_cnt, np.nan)
        imp.append(_wcorr(yk, s, w))
        ok = np.isfinite(yk) & (w > 0)
        perf.append(100 * np.average(yk[ok], weights=w[ok]) if ok.any() else np.nan)
        n.append(int(ok.sum()))
    labels = inst.satisfaction_items().set_index("code")["label_vi"]
    out = pd.DataFrame(
        {
            "index_code": items,
            "label_vi": [labels.get(c, c) for c in items],
            "importance": imp,
            "performance": perf,
            "n": n,
        }
    )
    if estimates is not None:
        tot_rows = estimates[
            (estimates["level"] == "total")
            & (estimates.get("subgroup", pd.Series("", index=estimates.index)).fillna("") == "")
        ]
        pmap = tot_rows.drop_duplicates("index_code").set_index("index_code")["estimate"]
        out["performance"] = out["index_code"].map(pmap).fillna(out["performance"])
    mi = np.nanmedian(out["importance"])
    mp = np.nanmedian(out["performance"])
    hi_i = out["importance"] >= mi
    lo_p = out["performance"] < mp
    code = np.select(
        [hi_i & lo_p, hi_i & ~lo_p, ~hi_i & lo_p], ["uu_tien", "duy_tri", "theo_doi"], "giu_vung"
    )
    code = np.where(out["importance"].isna() | out["performance"].isna(), "", code)
    q = _phrases()["quadrants"]
    out["quadrant"] = [q.get(c, "") for c in code]
    out["quadrant_code"] = code
    return out[IPA_COLUMNS + ["quadrant_code", "n"]]


# --------------------------------------------------------------------------------------------
# commune ranks with bootstrap intervals
# --------------------------------------------------------------------------------------------
def commune_ranks(
    estimates: pd.DataFrame,
    *,
    index_levels: Sequence[str] = ("overall", "part", "element"),
    level: float = 0.95,
) -> pd.DataFrame:
    """Rank of every commune (1 = best) with a joint 95% rank confidence set, from the estimates.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Estimates table of one or more waves with the model-based commune estimates
        (:func:`sipas_analysis.small_domains.model_estimates`). Not modified.
    index_levels : sequence of str
        Index levels ranked (default: the overall index, the parts and the elements).
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``wave, survey, unit_code, index_code, rank_basis, rank, rank_low, rank_high, n_units,
        n``; ``rank_basis`` names what is ranked (``estimate_model``: the model-based estimate,
        or ``estimate`` where no model was fitted).

    Notes
    -----
    The communes with at least 10 answers are ranked on the model-based estimate
    (:mod:`sipas_analysis.small_domains`; it borrows strength across communes, so a commune of
    20 answers does not top or bottom the table by chance). The set of ranks of each commune is
    the one of Klein, Wright and Wieczorek (2020)
    (:func:`sipas_analysis.small_area.rank_confidence_sets`) on the direct estimates and their
    model SEs (independent across communes, and valid also for a commune far from the rest,
    where the model's MSE is not): all true ranks lie in their sets at once with probability at
    least ``level`` (Bonferroni over all pairs of communes). A set is widened, if need be, to
    hold the point rank. A commune without an estimate (too few answers) is left out of
    everyone's ranking and gets no rank.
    """
    from sipas_analysis.small_area import rank_confidence_sets

    need = ["wave", "survey", "level", "unit_code", "index_code", "index_level", "estimate", "se"]
    miss = [c for c in need if c not in estimates.columns]
    if miss:
        raise InputError(f"the estimates table lacks column(s) {miss}", column=miss[0])
    e = estimates[
        (estimates["level"] == "commune") & estimates["index_level"].isin(list(index_levels))
    ]
    if "subgroup" in e.columns:
        e = e[e["subgroup"].fillna("").astype(str) == ""]
    e = e[pd.to_numeric(e["n"], errors="coerce") >= MIN_N]
    if "role" in e.columns:
        e = e[~e["role"].fillna("").isin(["perception", "expectation"])]
    cols = ["wave", "survey", "unit_code", "index_code", "rank_basis", "rank", "rank_low",
            "rank_high", "n_units", "n"]  # fmt: skip
    frames = []
    for (wave, survey, code), g in e.groupby(["wave", "survey", "index_code"], sort=False):
        has_model = "estimate_model" in g.columns and g["estimate_model"].notna().all()
        basis = "estimate_model" if has_model else "estimate"
        # the set: pairwise comparisons of the direct estimates (independent, valid SEs)
        sets = rank_confidence_sets(
            g["estimate"].to_numpy(dtype=float), g["se"].to_numpy(dtype=float), alpha=1 - level
        )
        # the point rank: the model-based estimate (it shrinks the small communes)
        point = pd.Series(g[basis].to_numpy(dtype=float)).rank(ascending=False, method="min")
        low = np.fmin(sets["rank_low"].to_numpy(dtype=float), point.to_numpy())
        high = np.fmax(sets["rank_high"].to_numpy(dtype=float), point.to_numpy())
        frames.append(
            pd.DataFrame(
                {
                    "wave": str(wave),
                    "survey": survey,
                    "unit_code": g["unit_code"].astype(str).to_numpy(),
                    "index_code": code,
                    "rank_basis": basis,
                    "rank": point.to_numpy(),
                    "rank_low": low,
                    "rank_high": high,
                    "n_units": sets["n_ranked"].to_numpy(),
                    "n": g["n"].to_numpy(),
                }
            )
        )
    if not frames:
        return pd.DataFrame(columns=cols)
    out = pd.concat(frames, ignore_index=True)
    for c in ("rank", "rank_low", "rank_high"):
        out[c] = pd.array(out[c].tolist(), dtype="Int64")
    return out[cols]


# --------------------------------------------------------------------------------------------
# the findings table
# --------------------------------------------------------------------------------------------
def _family_bh(df: pd.DataFrame, keys: list[str], q: float) -> tuple[np.ndarray, np.ndarray]:
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


def _tested_bh(df: pd.DataFrame, q: float) -> tuple[np.ndarray, np.ndarray]:
    """BH per geographic level; communes in two stages (overall first, then its parts).

    Areas: one family per level, as :func:`_family_bh`. Communes (Benjamini and Bogomolov
    2014) at :math:`q' = q \\cdot` :data:`COMMUNE_Q_SHARE`: stage 1 is one BH family of the
    communes' overall index (SIPAS; PAPI total); for each of the :math:`R` communes selected out
    of :math:`m`, its other tested indices (parts, elements) form a family tested by BH at
    :math:`q'R/m`. Their reported q-values are scaled by :math:`m/R` so that every q-value
    compares with :math:`q'`. A commune not selected gets no
    rejection and no q-value for its parts. Under the complete null the chance of any commune
    flag is that of stage 1, at most :math:`q'` for symmetric errors.
    """
    reject = np.zeros(len(df), dtype=bool)
    qv = np.full(len(df), np.nan)
    if df.empty:
        return reject, qv
    lev = df["level"].astype(str).to_numpy()
    other = lev != "commune"
    if other.any():
        r, a = _family_bh(df[other], ["level"], q)
        reject[other], qv[other] = r, a
    com = np.flatnonzero(~other)
    if com.size == 0:
        return reject, qv
    c = df.iloc[com]
    top = c["index_level"].isin(TOP_LEVELS).to_numpy()
    if not top.any():  # no overall index tested: one family, as before
        r, a = _family_bh(c, ["level"], q)
        reject[com], qv[com] = r, a
        return reject, qv
    q = q * COMMUNE_Q_SHARE
    p_top = c["p_value"].to_numpy(dtype=float)[top]
    r1, a1 = benjamini_hochberg(p_top, q)
    reject[com[top]], qv[com[top]] = r1, a1
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
        qv[com[sel]] = np.fmin(a2 * m / len(chosen), 1.0)
    return reject, qv


def _parent_code(code: str, parent_map: Mapping[str, str]) -> str | None:
    if code in parent_map and isinstance(parent_map[code], str):
        return parent_map[code]
    return None


def _recommendation(row: Mapping, parent_map: Mapping[str, str]) -> str:
    ph = _phrases()
    recs = ph["recommendations_vi"]
    code = str(row["index_code"])
    text = recs.get(code)
    seen = 0
    while text is None and seen < 4:
        parent = _parent_code(code, parent_map)
        if parent is None:
            # PAPI sub-dimension d4_2 -> d4; SIPAS items dv_cong_chuc_3 -> cong_chuc
            base = code.rsplit("_", 1)[0] if "_" in code else None
            if base and base.startswith("dv_"):
                base = base[3:]
            parent = base
        if parent is None:
            break
        code = parent
        text = recs.get(code)
        seen += 1
    if text is None:
        text = recs["default"].format(label_vi=str(row.get("label_vi", "")).lower())
    if row["level"] in ("commune", "area"):
        text = ph["recommendation_prefix_vi"].format(unit_name=row["unit_name"]) + text
    return text


def _lowest(est: pd.DataFrame, n_lowest: Mapping[str, int]) -> pd.DataFrame:
    ph = _phrases()
    rows = []
    cand = est[est["level"].isin(["total", "area"]) & est["index_level"].isin(list(n_lowest))]
    if "role" in cand.columns:  # rank satisfaction (and PAPI) indices, not perception items
        cand = cand[~cand["role"].fillna("").isin(["perception", "expectation"])]
    for (_unit, lev), g in cand.groupby(["unit_code", "index_level"], sort=False):
        g = g[g["estimate"].notna()]
        if g.empty:
            continue
        val = g["estimate"].to_numpy(dtype=float)
        if lev == "subdimension":
            # compare sub-dimensions of dimensions with different K on a common 0-1 scale
            dim = g["index_code"].str.split("_").str[0]
            k = dim.map(dim.value_counts()).to_numpy(dtype=float)
            val = (val - 1 / k) / (9 / k)
        order = np.argsort(val, kind="stable")
        for j, i in enumerate(order[: int(n_lowest[lev])]):
            r = g.iloc[i]
            rows.append(
                {
                    "_key": (r["level"], str(r["unit_code"]), r["index_code"]),
                    "code": "lowest_ranked",
                    "text": ph["reasons"]["lowest_ranked"]["vi"].format(
                        position=j + 1,
                        count=len(g),
                        level_label=ph["level_labels_vi"].get(lev, lev),
                        unit_name=r["unit_name"],
                    ),
                    "q": np.nan,
                }
            )
    return pd.DataFrame(rows)


def _pick_benchmark(bm: pd.DataFrame, survey: str, year: int, code: str, unit: str):
    sel = bm[(bm["survey"] == survey) & (bm["index_code"] == code)]
    if sel.empty:
        return []
    out = []
    for kind, g in sel.groupby("benchmark_kind", sort=False):
        gu = g[g["unit_code"].isna() | (g["unit_code"].astype("string") == unit)]
        if gu.empty:
            continue
        yrs = gu["year"]
        exact = gu[yrs.isna() | (yrs == year)]
        if exact.empty:
            earlier = gu[yrs.notna() & (yrs < year)]
            if earlier.empty:
                continue
            exact = earlier[earlier["year"] == earlier["year"].max()]
        # a unit-specific target wins over a general one
        spec = exact[exact["unit_code"].notna()]
        out.append((kind, (spec if not spec.empty else exact).iloc[0]))
    return out


def _area_text(code: object) -> object:
    """An area code as the findings table holds it: text (``"800"``), empty for the whole area."""
    return pd.NA if code is None or pd.isna(code) else str(int(float(code)))


def weak_points(
    estimates: pd.DataFrame,
    *,
    wave: str,
    survey: str = "sipas",
    trends: pd.DataFrame | None = None,
    contrasts: pd.DataFrame | None = None,
    benchmarks: pd.DataFrame | None = None,
    ipa: pd.DataFrame | None = None,
    ranks: pd.DataFrame | None = None,
    q: float = 0.05,
    tested_levels: Sequence[str] = TESTED_LEVELS,
    n_lowest: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """The findings (weak points) table of one wave.

    Parameters
    ----------
    estimates : pandas.DataFrame
        Estimates table (contract columns) with the wave (and earlier waves, for the trends if
        ``trends`` is not given), as the run computes it (commune SEs from the variance model
        of :mod:`sipas_analysis.small_domains`).
    wave : str
        The wave whose weak points are listed.
    survey : {"sipas", "papi"}
    trends : pandas.DataFrame, optional
        :func:`sipas_analysis.trends.trend_table` output; default: computed from ``estimates``.
    contrasts : pandas.DataFrame, optional
        :func:`unit_contrasts` output(s) of the wave (commune and/or area level).
    benchmarks : pandas.DataFrame, optional
        :func:`sipas_analysis.benchmarks.benchmark_values` output (national figures and the
        province's targets).
    ipa : pandas.DataFrame, optional
        :func:`importance_performance` output of the wave.
    ranks : pandas.DataFrame, optional
        :func:`commune_ranks` output of the wave (shown with commune findings).
    q : float, default 0.05
        False discovery rate of the Benjamini–Hochberg procedure.
    tested_levels : sequence of str
        Index levels whose contrasts and changes are tested (default: composites — element,
        part, overall, sub-dimension, dimension, total).
    n_lowest : dict, optional
        Lowest cells reported per unit and index level (default :data:`DEFAULT_N_LOWEST`).

    Returns
    -------
    pandas.DataFrame
        :data:`FINDING_COLUMNS` then ``reason_codes`` ("; "-joined codes of
        :data:`REASON_CODES`), ``index_level, area_code, n, flag, q_value`` (smallest BH
        q-value of the statistical reasons), ``difference`` (vs the rest of the parent unit),
        ``rank, rank_low, rank_high, n_units`` (communes), ``score``. Sorted by ``priority``
        (1 = most urgent).

    Raises
    ------
    InputError
        Missing columns; no row of ``wave`` in ``estimates``.

    Notes
    -----
    Families for Benjamini–Hochberg: all tests of one reason in one wave at one geographic
    level — e.g. every area-vs-rest contrast of the tested index levels (both signs) is one
    family, every area change since the last wave another. Communes are tested in two stages
    (:func:`_tested_bh`): their overall index first (one family over the communes), then the
    parts and elements of the communes found there. A reason holds when the
    test is rejected at FDR ``q`` **and** the difference is negative. ``lowest_ranked``,
    benchmark and target comparisons are descriptive (no test). A cell with ``n < 10`` or flag
    ``suppressed`` never yields a finding; ``n < 30`` adds "cỡ mẫu nhỏ" to the reasons.

    ``score`` = sum of the reason weights in ``findings_phrases.yaml`` (below_rest, decline 3;
    below_target, below_benchmark, ipa_priority 2; lowest_ranked 1; below_benchmark_ns 0.5);
    ``priority`` ranks findings by score (higher first), then level (whole area, area,
    commune), then the smallest q-value, then the estimate.

    Examples
    --------
    >>> f = weak_points(est, wave="2024", contrasts=c)  # doctest: +SKIP
    """
    need = ["survey", "wave", "level", "unit_code", "index_code", "estimate", "se"]
    miss = [c for c in need if c not in estimates.columns]
    if miss:
        raise InputError(f"the estimates table lacks column(s) {miss}", column=miss[0])
    ph = _phrases()
    n_lowest = dict(DEFAULT_N_LOWEST if n_lowest is None else n_lowest)
    est_all = estimates[estimates["survey"] == survey].copy()
    est_all["wave"] = est_all["wave"].astype(str)
    est_all["unit_code"] = est_all["unit_code"].astype(str)
    for col, default in (("subgroup", ""), ("unit_name", ""), ("label_vi", ""), ("flag", "ok")):
        if col not in est_all.columns:
            est_all[col] = default
    if "n" not in est_all.columns:
        est_all["n"] = np.nan
    if "index_level" not in est_all.columns:
        est_all["index_level"] = ""
    est = est_all[(est_all["wave"] == str(wave)) & (est_all["subgroup"].fillna("") == "")]
    if est.empty:
        raise InputError(f"no {survey} estimates of wave {wave!r}", column="wave", values=[wave])
    flag = est["flag"].astype(str)
    shown = ~(flag.str.contains("suppressed") | flag.str.contains("empty"))
    shown &= ~(pd.to_numeric(est["n"], errors="coerce") < MIN_N).fillna(False)
    if "role" in est.columns:
        # expectation items measure wished-for improvement, not performance: never a weak point
        shown &= (est["role"].fillna("") != "expectation").to_numpy()
    est = est[shown]
    cell = est.set_index(["level", "unit_code", "index_code"])
    cell = cell[~cell.index.duplicated()]
    year = int(str(wave)[:4])
    reasons: list[dict] = []

    # 1. lowest-ranked items / elements / sub-dimensions (areas and the whole survey area)
    low = _lowest(est, n_lowest)
    if not low.empty:
        reasons.extend(low.to_dict("records"))

    # 2. unit significantly below the rest of its parent
    diff_map: dict[tuple, float] = {}
    if contrasts is not None and not contrasts.empty:
        c = contrasts[contrasts["index_level"].isin(list(tested_levels))].copy()
        c["unit_code"] = c["unit_code"].astype(str)
        c["wave"] = str(wave)
        rej, qv = _tested_bh(c, q)
        c["rej_"], c["qv_"] = rej, qv
        area_names = (
            est[est["level"] == "area"]
            .drop_duplicates("unit_code")
            .set_index("unit_code")["unit_name"]
        )
        for r in c[c["rej_"] & (c["difference"] < 0)].itertuples(index=False):
            key = (r.level, r.unit_code, r.index_code)
            if key not in cell.index:
                continue
            rest_label = ph["rest_labels_vi"][r.level].format(
                parent_name=area_names.get(str(r.parent_code), str(r.parent_code))
            )
            reasons.append(
                {
                    "_key": key,
                    "code": "below_rest",
                    "text": ph["reasons"]["below_rest"]["vi"].format(
                        rest_label=rest_label,
                        estimate=_fmt(r.estimate_unit),
                        other=_fmt(r.estimate_rest),
                        diff=_fmt(r.difference),
                        q=_fmt_q(r.qv_),
                    ),
                    "q": r.qv_,
                    "bm": r.estimate_rest,
                    "bm_label": rest_label[:1].upper() + rest_label[1:],
                }
            )
            diff_map[key] = r.difference

    # 3. significant decline since the last comparable wave
    if trends is None:
        trends = trend_table(est_all[est_all["subgroup"].fillna("") == ""])
    t = trends[
        (trends["survey"] == survey)
        & (trends["wave_to"].astype(str) == str(wave))
        & trends["comparable"].astype(bool)
        & trends["p_value"].notna()
    ]
    if "comparison" in t.columns:
        t = t[t["comparison"] == "consecutive"]
    if "subgroup" in t.columns:
        t = t[t["subgroup"].fillna("") == ""]
    if "index_level" in t.columns:
        t = t[t["index_level"].isin(list(tested_levels))]
    t = t.copy()
    rej, qv = _tested_bh(t, q)
    t["rej_"], t["qv_"] = rej, qv
    for r in t[t["rej_"] & (t["change"] < 0)].itertuples(index=False):
        key = (r.level, str(r.unit_code), r.index_code)
        if key not in cell.index:
            continue
        reasons.append(
            {
                "_key": key,
                "code": "decline",
                "text": ph["reasons"]["decline"]["vi"].format(
                    wave_from=r.wave_from,
                    other=_fmt(r.estimate_from),
                    estimate=_fmt(r.estimate_to),
                    diff=_fmt(r.change),
                    q=_fmt_q(r.qv_),
                ),
                "q": r.qv_,
                "bm": r.estimate_from,
                "bm_label": ph["benchmark_labels_vi"]["previous_wave"].format(wave=r.wave_from),
            }
        )

    # 4. below the national figure or the province's target (whole area and areas; targets
    #    for a named unit at any level)
    if benchmarks is not None and not benchmarks.empty:
        bm_s = benchmarks[benchmarks["survey"] == survey]
        targeted = set(bm_s.loc[bm_s["unit_code"].notna(), "unit_code"].astype(str))
        cand = cell[
            cell.index.get_level_values("index_code").isin(set(bm_s["index_code"]))
            & (
                cell.index.get_level_values("level").isin(["total", "area"])
                | cell.index.get_level_values("unit_code").isin(targeted)
            )
        ]
        for (lev, unit, code), r in cand.iterrows():
            for kind, b in _pick_benchmark(bm_s, survey, year, code, unit):
                if kind != "target" and lev not in ("total", "area"):
                    continue
                if kind == "target" and pd.isna(b["unit_code"]) and lev not in ("total", "area"):
                    continue
                value = float(b["benchmark"])
                if not r["estimate"] < value:
                    continue
                if kind == "target":
                    code_r = "below_target"
                else:
                    sig = np.isfinite(r.get("ci_high", np.nan)) and r["ci_high"] < value
                    code_r = "below_benchmark" if sig else "below_benchmark_ns"
                reasons.append(
                    {
                        "_key": (lev, unit, code),
                        "code": code_r,
                        "text": ph["reasons"][code_r]["vi"].format(
                            benchmark_label=_lower_first(str(b["benchmark_label"])),
                            estimate=_fmt(r["estimate"]),
                            other=_fmt(value),
                        ),
                        "q": np.nan,
                        "bm": value,
                        "bm_label": b["benchmark_label"],
                    }
                )

    # 5. importance-performance priority (whole survey area)
    if ipa is not None and not ipa.empty and "quadrant_code" in ipa.columns:
        for r in ipa[ipa["quadrant_code"] == "uu_tien"].itertuples(index=False):
            key = ("total", "total", r.index_code)
            if key not in cell.index:
                continue
            reasons.append(
                {
                    "_key": key,
                    "code": "ipa_priority",
                    "text": ph["reasons"]["ipa_priority"]["vi"].format(
                        importance=_fmt(r.importance, 2)
                    ),
                    "q": np.nan,
                }
            )

    columns = FINDING_COLUMNS + _FINDING_EXTRA
    if not reasons:
        return pd.DataFrame(columns=columns)
    rs = pd.DataFrame(reasons)
    order = {c: i for i, c in enumerate(REASON_CODES)}
    rs["_o"] = rs["code"].map(order)
    rs = rs.sort_values(["_o"], kind="stable")
    weights = {k: float(v["weight"]) for k, v in ph["reasons"].items()}
    rank_map = {}
    if ranks is not None and not ranks.empty:
        rk = ranks.copy()
        rk["unit_code"] = rk["unit_code"].astype(str)
        rank_map = {(r.unit_code, r.index_code): r for r in rk.itertuples(index=False)}
    parent_map = {}
    if "parent_code" in est.columns:
        parent_map = (
            est.dropna(subset=["parent_code"])
            .drop_duplicates("index_code")
            .set_index("index_code")["parent_code"]
            .astype(str)
            .to_dict()
        )
    rows = []
    for key, g in rs.groupby("_key", sort=False):
        lev, unit, code = key
        c = cell.loc[key]
        texts = list(dict.fromkeys(g["text"]))
        n = c.get("n", np.nan)
        if pd.notna(n) and n < _SMALL_N:
            texts.append(ph["small_n_vi"].format(n=int(n)))
        rk = rank_map.get((unit, code)) if lev == "commune" else None
        if rk is not None and pd.notna(rk.rank):
            texts.append(
                ph["rank_vi"].format(
                    rank=int(rk.rank),
                    n_units=int(rk.n_units),
                    rank_low=int(rk.rank_low),
                    rank_high=int(rk.rank_high),
                )
            )
        with_bm = g[g["bm"].notna()] if "bm" in g.columns else g.iloc[0:0]
        bm = float(with_bm["bm"].iloc[0]) if len(with_bm) else np.nan
        bm_label = str(with_bm["bm_label"].iloc[0]) if len(with_bm) else ""
        codes = list(dict.fromkeys(g["code"]))
        rows.append(
            {
                "survey": survey,
                "wave": str(wave),
                "unit_code": unit,
                "unit_name": c.get("unit_name", ""),
                "level": lev,
                "index_code": code,
                "label_vi": c.get("label_vi", ""),
                "estimate": float(c["estimate"]),
                "ci_low": float(c.get("ci_low", np.nan)),
                "ci_high": float(c.get("ci_high", np.nan)),
                "benchmark": bm,
                "benchmark_label": bm_label,
                "reasons": "; ".join(texts),
                "priority": 0,
                "recommendation_vi": "",
                "reason_codes": "; ".join(codes),
                "index_level": c.get("index_level", ""),
                "area_code": _area_text(c.get("area_code", pd.NA)),
                "n": n,
                "flag": c.get("flag", ""),
                "q_value": float(np.nanmin(g["q"])) if g["q"].notna().any() else np.nan,
                "difference": diff_map.get(key, np.nan),
                "rank": getattr(rk, "rank", pd.NA) if rk is not None else pd.NA,
                "rank_low": getattr(rk, "rank_low", pd.NA) if rk is not None else pd.NA,
                "rank_high": getattr(rk, "rank_high", pd.NA) if rk is not None else pd.NA,
                "n_units": getattr(rk, "n_units", pd.NA) if rk is not None else pd.NA,
                "score": float(sum(weights.get(x, 0.0) for x in codes)),
            }
        )
    out = pd.DataFrame(rows)
    out["recommendation_vi"] = [_recommendation(r, parent_map) for r in out.to_dict("records")]
    lev_order = out["level"].map({"total": 0, "area": 1, "commune": 2}).fillna(3)
    out = out.assign(_l=lev_order, _q=out["q_value"].fillna(1.0)).sort_values(
        ["score", "_l", "_q", "estimate"], ascending=[False, True, True, True], kind="stable"
    )
    out["priority"] = np.arange(1, len(out) + 1)
    for col in ("rank", "rank_low", "rank_high", "n_units"):
        out[col] = pd.array(out[col].tolist(), dtype="Int64")
    return out.drop(columns=["_l", "_q"])[columns].reset_index(drop=True)


def sipas_weak_points(
    waves: Mapping[str, pd.DataFrame],
    estimates: pd.DataFrame,
    wave: str,
    *,
    benchmarks: pd.DataFrame | None = None,
    q: float = 0.05,
    report_waves: Sequence[str] | None = None,
    trends: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Everything the weak-point analysis of one SIPAS wave needs, in one call.

    Parameters
    ----------
    waves : dict
        Wave -> canonical respondent table of each reported wave (for the importance–performance
        correlations, the only respondent-level step).
    estimates : pandas.DataFrame
        Estimates table of these waves as the run computes it
        (:func:`sipas_analysis.pipeline.indices_for`: the indices with the commune variance
        model and the model-based estimates of :mod:`sipas_analysis.small_domains`). Only read.
    wave : str
        The wave whose weak points are listed.
    benchmarks : pandas.DataFrame, optional
        :func:`sipas_analysis.benchmarks.benchmark_values` output.
    q : float, default 0.05
        False discovery rate (:func:`weak_points`).
    report_waves : sequence of str, optional
        Waves whose weak points are listed (default ``[wave]``); each needs its respondent table.
    trends : pandas.DataFrame, optional
        The trends table of these waves as the run computes it (with the changes re-expressed
        on the 2025 geography); default :func:`trend_table` on the rows without subgroup. Only
        read.

    Returns
    -------
    dict of DataFrame
        ``findings``, ``trends``, ``contrasts`` (commune and area, :func:`rest_contrasts`),
        ``importance_performance``, ``ranks`` (:func:`commune_ranks`; these three with a
        ``wave`` column). The inputs are not returned: the caller keeps its own.

    Examples
    --------
    >>> out = sipas_weak_points({"2023": w23, "2024": w24}, est, "2024")  # doctest: +SKIP
    """
    report = [str(w) for w in (report_waves or [wave])]
    by_wave = {str(k): df for k, df in waves.items()}
    missing = [w for w in report if w not in by_wave]
    if missing:
        raise InputError(f"no respondent table for wave(s) {missing}", values=missing)
    est = estimates[estimates["survey"] == "sipas"]
    if trends is None:
        trends = trend_table(est[est["subgroup"].fillna("") == ""] if "subgroup" in est else est)
    parts: dict[str, list[pd.DataFrame]] = {"findings": [], "contrasts": [], "ipa": [], "ranks": []}
    for w in report:
        resp = by_wave[w]
        est_w = est[est["wave"].astype(str) == w]
        contrasts = pd.concat(
            [rest_contrasts(est_w, "commune"), rest_contrasts(est_w, "area")], ignore_index=True
        )
        ipa = importance_performance(resp, estimates=est[est["wave"].astype(str) == w])
        ranks = commune_ranks(est_w)
        parts["findings"].append(
            weak_points(
                est,
                wave=w,
                survey="sipas",
                trends=trends,
                contrasts=contrasts,
                benchmarks=benchmarks,
                ipa=ipa,
                ranks=ranks,
                q=q,
            )
        )
        parts["contrasts"].append(contrasts.assign(wave=w))
        parts["ipa"].append(ipa.assign(wave=w))
        parts["ranks"].append(ranks.assign(wave=w))
    return {
        "findings": pd.concat(parts["findings"], ignore_index=True),
        "trends": trends,
        "contrasts": pd.concat(parts["contrasts"], ignore_index=True),
        "importance_performance": pd.concat(parts["ipa"], ignore_index=True),
        "ranks": pd.concat(parts["ranks"], ignore_index=True),
    }


def papi_weak_points(
    estimates: pd.DataFrame,
    wave: str,
    *,
    benchmarks: pd.DataFrame | None = None,
    q: float = 0.05,
    report_waves: Sequence[str] | None = None,
    trends: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """The weak-point analysis of one PAPI-style wave: trends and findings, from the estimates.

    Parameters
    ----------
    estimates : pandas.DataFrame
        PAPI estimates of these waves as the run computes them
        (:func:`sipas_analysis.pipeline.indices_for`). Only read.
    wave : str
    benchmarks : pandas.DataFrame, optional
        :func:`sipas_analysis.benchmarks.benchmark_values` (national medians, targets).
    q : float, default 0.05
    report_waves, trends
        As in :func:`sipas_weak_points`.

    Returns
    -------
    dict of DataFrame
        ``findings``, ``trends``.

    Notes
    -----
    PAPI selects two communes per area, so "commune vs the rest of its area" would compare with
    one other commune: no contrasts; the reasons are the lowest sub-dimensions and dimensions, a
    significant decline since the last comparable wave (BH), and the national median / targets.

    Examples
    --------
    >>> out = papi_weak_points(est, "2024")  # doctest: +SKIP
    """
    report = [str(w) for w in (report_waves or [wave])]
    have = set(estimates["wave"].astype(str))
    missing = [w for w in report if w not in have]
    if missing:
        raise InputError(f"no PAPI estimates of wave(s) {missing}", values=missing)
    est = estimates[estimates["survey"] == "papi"]
    if trends is None:
        base = est[est["subgroup"].fillna("") == ""] if "subgroup" in est.columns else est
        trends = trend_table(base)
    findings = pd.concat(
        [
            weak_points(est, wave=w, survey="papi", trends=trends, benchmarks=benchmarks, q=q)
            for w in report
        ],
        ignore_index=True,
    )
    return {"findings": findings, "trends": trends}
