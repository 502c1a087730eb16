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
ranks come with bootstrap rank intervals (:func:`commune_ranks`), never a bare rank. Cells with
n < 30 are flagged, cells with n < 10 never yield a finding. Standard errors of small domains get a
floor (:func:`se_floor_table`): with two to four villages per commune, the clustered variance
estimate is unstable and often far too small, so no SE below the one that treats respondents as
independent is used (:func:`floors_from_indices` does the same for any index function, e.g.
PAPI). One call per survey: :func:`sipas_weak_points`, :func:`papi_weak_points`. The plain-language
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
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy import sparse, stats

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate import (
    Estimates,
    composite_mean,
    estimate_levels,
    proportion_ci,
)
from sipas_analysis.instruments import Instrument, load_instrument
from sipas_analysis.replicates import rank_intervals, rao_wu_bootstrap
from sipas_analysis.report.format import fmt_number
from sipas_analysis.trends import trend_table

__all__ = [
    "FINDING_COLUMNS",
    "IPA_COLUMNS",
    "REASON_CODES",
    "benjamini_hochberg",
    "sipas_layers",
    "unit_contrasts",
    "se_floor_table",
    "floors_from_indices",
    "apply_se_floor",
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
_MIN_N = 10


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
    equal to ``scipy.stats.false_discovery_control(p, method="bh")``. Under independence or
    positive dependence the expected share of false discoveries among the rejections is at
    most :math:`q\\, m_0/m`.

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
        pv = p[ok]
        order = np.argsort(pv, kind="stable")
        ranked = pv[order] * m / np.arange(1, m + 1)
        ranked = np.minimum.accumulate(ranked[::-1])[::-1]
        a = np.empty(m)
        a[order] = np.minimum(ranked, 1.0)
        adj[ok] = a
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


def sipas_layers(
    instrument: Instrument | str, columns: Sequence[str] | None = None
) -> tuple[list[str], list[tuple[str, dict[str, list[str]]]], tuple[float, ...]]:
    """Satisfaction items and the composite layers of a SIPAS instrument (default rules).

    Parameters
    ----------
    instrument : Instrument or str
    columns : sequence of str, optional
        Columns of the respondent table: items not among them are left out.

    Returns
    -------
    (items, layers, top_box)
        ``items``: satisfaction item codes; ``layers``: ``[("element", {element: items}),
        ("part", {part: elements}), ("overall", {"sipas": parts})]`` (no part layer and
        overall = mean of elements for an instrument without parts, e.g. ``sipas-2017``);
        ``top_box``: the satisfied codes of the scale.

    Notes
    -----
    The layers follow the defaults of :class:`sipas_analysis.indices.SipasOptions`: element =
    mean of its items, part = mean of its elements, SIPAS = mean of the parts.

    Examples
    --------
    >>> items, layers, top = sipas_layers("sipas-2017")
    >>> len(items), [name for name, _ in layers], top
    (22, ['element', 'overall'], (4, 5))
    """
    inst = load_instrument(instrument) if isinstance(instrument, str) else instrument
    sat = inst.satisfaction_items()
    if columns is not None:
        sat = sat[sat["code"].isin(list(columns))]
    if sat.empty:
        raise SipasError(f"no satisfaction item of {inst.name} in the table")
    items = sat["code"].tolist()
    elements: dict[str, list[str]] = {}
    for code, parent in zip(sat["code"], sat["parent"], strict=True):
        elements.setdefault(str(parent), []).append(code)
    nodes = inst.nodes.set_index("code")
    parts: dict[str, list[str]] = {}
    for e in elements:
        par = nodes.at[e, "parent"] if e in nodes.index else None
        if par is not None and pd.notna(par) and nodes.at[par, "level"] == "part":
            parts.setdefault(str(par), []).append(e)
    layers: list[tuple[str, dict[str, list[str]]]] = [("element", elements)]
    if parts and set(e for v in parts.values() for e in v) == set(elements):
        layers.append(("part", parts))
        layers.append(("overall", {"sipas": list(parts)}))
    else:
        layers.append(("overall", {"sipas": list(elements)}))
    top = inst.scales[str(sat["scale"].iloc[0])].top_box
    return items, layers, tuple(top)


def _hierarchy(
    df: pd.DataFrame,
    items: list[str],
    layers: list[tuple[str, dict[str, list[str]]]],
    levels: Mapping[str, str | None],
    top_box: Sequence[float],
    design: Mapping[str, object],
) -> list[tuple[str, Estimates]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = estimate_levels(df, items, dict(levels), statistic="top2", top_box=top_box, **design)
        out = [("item", est)]
        cur = est
        for name, groups in layers:
            cur = composite_mean(cur, groups)
            out.append((name, cur))
    return out


def _design(weight, strata, psu, lonely_psu) -> dict:
    return {"weight": weight, "strata": strata, "psu": psu, "lonely_psu": lonely_psu}


def unit_contrasts(
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    *,
    level: str = "commune",
    weight: str = "weight",
    strata: str | None = "stratum",
    psu: str | None = "psu",
    lonely_psu: str = "adjust",
    floor: bool = True,
    variance: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Each commune against the rest of its area (or each area against the rest), every index.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one SIPAS wave (``commune_code``, ``area_code``, the
        design columns and the satisfaction items). Not modified.
    instrument : Instrument or str, optional
        Default: the table's ``instrument`` column.
    level : {"commune", "area"}
        ``"commune"``: commune vs the other communes of its area; ``"area"``: area vs the other
        areas of the survey area.
    weight, strata, psu, lonely_psu
        The design (see :func:`sipas_analysis.design.survey_design`).
    floor : bool, default True
        Use :math:`\\max(se_{design}, se_{resp})` where :math:`se_{resp}` treats respondents as
        the sampling units (see Notes). Ignored for the cells that ``variance`` covers.
    variance : pandas.DataFrame, optional
        The wave's estimates table with the pooled variance model
        (:func:`sipas_analysis.small_domains.apply_variance_model`: ``deff_model`` and ``df`` of
        the commune cells). Commune contrasts then use
        :math:`se = \\sqrt{d_c}\\, se_{resp}(\\hat\\theta_u-\\hat\\theta_r)` with the model's
        degrees of freedom, the design effect :math:`d_c` of the commune's cell.

    Returns
    -------
    pandas.DataFrame
        ``level, unit_code, parent_code, index_level, index_code, estimate_unit,
        estimate_rest, difference, se_design, se_respondent, se, p_value, n_unit``; one row per
        unit and index (items, elements, parts, overall).

    Notes
    -----
    Both the unit :math:`u` and the rest :math:`r` of its parent are domains of the **same**
    full design (never filtered): the index hierarchy is estimated for every unit and every
    "rest" domain in one call (:func:`sipas_analysis.estimate.estimate_levels`), composites by
    :func:`sipas_analysis.estimate.composite_mean`, and the contrast by
    :meth:`Estimates.linear_combination` with :math:`L = e_u - e_r`:

    .. math:: \\widehat V(\\hat\\theta_u - \\hat\\theta_r) = \\hat V_u + \\hat V_r
              - 2\\widehat{Cov}_{ur},

    the covariance coming from the shared strata (not independent samples). With two to four
    villages in a commune the clustered variance rests on one to three degrees of freedom and
    is often far too small; the same contrast is recomputed with respondents as the units
    (weights and strata kept, clustering ignored) and the larger SE is used. The p-value is
    two-sided, :math:`2\\,(1 - F_{t,\\nu}(|d|/se))` with the design's degrees of freedom.

    Examples
    --------
    >>> c = unit_contrasts(wave_2024)  # doctest: +SKIP
    >>> c[c.index_code == "sipas"].nsmallest(1, "difference")  # doctest: +SKIP
    """
    if level not in ("commune", "area"):
        raise SipasError(f"level must be 'commune' or 'area', not {level!r}")
    inst = _instrument(instrument, respondents)
    items, layers, top = sipas_layers(inst, respondents.columns)
    need = ["commune_code", "area_code", weight] + [c for c in (strata, psu) if c]
    miss = [c for c in need if c not in respondents.columns]
    if miss:
        raise InputError(f"the respondent table lacks column(s) {miss}", column=miss[0])
    df = respondents.copy()
    unit_col = "commune_code" if level == "commune" else "area_code"
    df = df[df[unit_col].notna()].reset_index(drop=True)
    units = pd.Series(df[unit_col].astype("int64").unique()).sort_values().tolist()
    parent_of = (
        df.groupby("commune_code")["area_code"].first().astype("int64").to_dict()
        if level == "commune"
        else dict.fromkeys(units, "total")
    )
    levels: dict[str, str | None] = {"unit": unit_col}
    uc = df[unit_col].astype("int64").to_numpy()
    ac = df["area_code"].astype("int64").to_numpy()
    # The "rest" domains. For communes, round r holds the r-th commune of every area: the rests
    # of communes of different areas are disjoint, so one level per round carries them all (as
    # many levels as the largest area has communes). Areas: one level per area.
    extra: dict[str, pd.arrays.IntegerArray] = {}
    rest_of: dict[int, tuple[str, int]] = {}  # unit -> (level name, domain value)
    if level == "commune":
        by_area: dict[int, list[int]] = {}
        for u in units:
            by_area.setdefault(int(parent_of[u]), []).append(u)
        n_rounds = max(len(v) for v in by_area.values())
        for r in range(n_rounds):
            col = np.full(len(df), -1, dtype=np.int64)
            for a, us in by_area.items():
                if r < len(us):
                    rest = (ac == a) & (uc != us[r])
                    if rest.any():
                        col[rest] = a
                        rest_of[us[r]] = (f"rest_{r}", a)
            extra[f"_rest_{r}"] = pd.array(np.where(col >= 0, col, pd.NA), dtype="Int64")
            levels[f"rest_{r}"] = f"_rest_{r}"
    else:
        for u in units:
            rest = uc != u
            if rest.any():
                extra[f"_rest_{u}"] = pd.array(np.where(rest, 1, pd.NA), dtype="Int64")
                levels[f"rest_{u}"] = f"_rest_{u}"
                rest_of[u] = (f"rest_{u}", 1)
    df = pd.concat([df, pd.DataFrame(extra, index=df.index)], axis=1)
    runs = {
        "design": _hierarchy(
            df, items, layers, levels, top, _design(weight, strata, psu, lonely_psu)
        )
    }
    if floor or variance is not None:
        runs["resp"] = _hierarchy(
            df, items, layers, levels, top, _design(weight, strata, None, lonely_psu)
        )
    frames = []
    for (lname, est), (_, est_r) in zip(
        runs["design"], runs.get("resp", runs["design"]), strict=True
    ):
        t = est.table
        lev_arr = t["level"].to_numpy()
        code_arr = t["index_code"].to_numpy()
        pos: dict[tuple, int] = {}
        unit_vals = t[unit_col].to_numpy()
        for i in np.flatnonzero(lev_arr == "unit"):
            pos[("unit", int(unit_vals[i]), code_arr[i])] = i
        for lev_name, col in levels.items():
            if lev_name == "unit":
                continue
            vals = t[col].to_numpy()
            for i in np.flatnonzero(lev_arr == lev_name):
                pos[(lev_name, int(vals[i]), code_arr[i])] = i
        recs = []
        for u in units:
            if u not in rest_of:
                continue
            lev_name, dom = rest_of[u]
            for code in dict.fromkeys(code_arr):
                ra = pos.get(("unit", u, code))
                rb = pos.get((lev_name, dom, code))
                if ra is not None and rb is not None:
                    recs.append((u, code, ra, rb))
        m = pd.DataFrame(recs, columns=["unit", "index_code", "_ra", "_rb"])
        k = len(t)
        idx = np.arange(len(m))
        L = sparse.csr_matrix(
            (
                np.r_[np.ones(len(m)), -np.ones(len(m))],
                (np.r_[idx, idx], np.r_[m["_ra"].to_numpy(), m["_rb"].to_numpy()]),
            ),
            shape=(len(m), k),
        )
        res = est.linear_combination(L)
        res_r = est_r.linear_combination(L)
        theta = t["estimate"].to_numpy(dtype=float)
        se_d = res["se"].to_numpy(dtype=float)
        se_r = res_r["se"].to_numpy(dtype=float) if "resp" in runs else np.full(len(m), np.nan)
        se = np.fmax(se_d, se_r) if floor else se_d
        dfv = res["df"].to_numpy(dtype=float)
        if variance is not None and level == "commune" and len(m):
            model = _model_lookup(variance, m["unit"].astype(str), m["index_code"])
            has = np.isfinite(model["deff_model"].to_numpy(dtype=float))
            se = np.where(has, np.sqrt(model["deff_model"].to_numpy(dtype=float)) * se_r, se)
            dfv = np.where(has, model["df"].to_numpy(dtype=float), dfv)
        d = res["estimate"].to_numpy(dtype=float)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = 2 * stats.t.sf(np.abs(d / se), dfv)
        frames.append(
            pd.DataFrame(
                {
                    "level": level,
                    "unit_code": m["unit"].astype(str).to_numpy(),
                    "parent_code": [str(parent_of[u]) for u in m["unit"]],
                    "index_level": lname,
                    "index_code": m["index_code"].to_numpy(),
                    "estimate_unit": theta[m["_ra"].to_numpy()],
                    "estimate_rest": theta[m["_rb"].to_numpy()],
                    "difference": d,
                    "se_design": se_d,
                    "se_respondent": se_r,
                    "se": se,
                    "p_value": p,
                    "n_unit": t["n"].to_numpy()[m["_ra"].to_numpy()],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _model_lookup(variance: pd.DataFrame, unit: pd.Series, code: pd.Series) -> pd.DataFrame:
    """``deff_model`` and ``df`` of the commune cells (unit, index) of an estimates table."""
    v = variance
    if "deff_model" not in v.columns:
        raise InputError("the estimates carry no variance model (deff_model)", column="deff_model")
    v = v[
        (v["level"] == "commune")
        & (v.get("subgroup", pd.Series("", index=v.index)).fillna("") == "")
    ]
    v = v.assign(unit_code=v["unit_code"].astype(str)).drop_duplicates(["unit_code", "index_code"])
    key = pd.DataFrame({"unit_code": unit.to_numpy(), "index_code": code.to_numpy()})
    return key.merge(
        v[["unit_code", "index_code", "deff_model", "df"]],
        on=["unit_code", "index_code"],
        how="left",
    )


def se_floor_table(
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    *,
    weight: str = "weight",
    strata: str | None = "stratum",
    lonely_psu: str = "adjust",
) -> pd.DataFrame:
    """Standard errors with respondents as the sampling units: a floor for small domains.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one SIPAS wave. Not modified.
    instrument : Instrument or str, optional
    weight, strata, lonely_psu
        Design columns and rule (PSUs are not used: every respondent is a unit).

    Returns
    -------
    pandas.DataFrame
        ``wave`` (if the table has one), ``level`` (commune/area/total), ``unit_code``,
        ``index_code``, ``se_floor`` for items, elements, parts and the overall index.

    Notes
    -----
    :math:`se_{resp}` is the linearisation SE of the same ratio (or composite) with each
    respondent its own PSU (R: ``svydesign(ids=~1, strata=~stratum, weights=~w)``). It keeps
    the unequal weights and the correlation of items within a respondent, and ignores the
    clustering in villages, so it is the SE the estimate would have if villages were not alike.
    :func:`apply_se_floor` uses :math:`\\max(se_{design}, se_{resp})`.

    Examples
    --------
    >>> f = se_floor_table(wave_2024)  # doctest: +SKIP
    """
    inst = _instrument(instrument, respondents)
    items, layers, top = sipas_layers(inst, respondents.columns)
    levels = {"commune": "commune_code", "area": "area_code", "total": None}
    runs = _hierarchy(
        respondents, items, layers, levels, top, _design(weight, strata, None, lonely_psu)
    )
    frames = []
    for _, est in runs:
        t = est.table
        unit = np.where(
            t["level"] == "commune",
            t["commune_code"].astype("string"),
            np.where(t["level"] == "area", t["area_code"].astype("string"), "total"),
        )
        frames.append(
            pd.DataFrame(
                {
                    "level": t["level"].to_numpy(),
                    "unit_code": unit,
                    "index_code": t["index_code"].to_numpy(),
                    "se_floor": t["se"].to_numpy(dtype=float),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    if "wave" in respondents.columns and respondents["wave"].nunique() == 1:
        out.insert(0, "wave", str(respondents["wave"].iloc[0]))
    return out


def floors_from_indices(
    respondents: pd.DataFrame,
    indices: Callable[[pd.DataFrame], pd.DataFrame],
    *,
    psu: str = "psu",
    id_column: str = "respondent_id",
) -> pd.DataFrame:
    """SE floors of any index function: the same indices with every respondent its own PSU.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one wave. Not modified.
    indices : callable
        ``indices(respondents) -> estimates table``, e.g.
        :func:`sipas_analysis.indices.papi_indices`.
    psu, id_column : str
        The PSU column is replaced by the respondent id before calling ``indices``.

    Returns
    -------
    pandas.DataFrame
        ``wave, level, unit_code, index_code, se_floor`` (no subgroups), for
        :func:`apply_se_floor`.

    Notes
    -----
    As :func:`se_floor_table`: the SE with respondents as the sampling units (weights and
    strata kept), used as a lower bound of the clustered SE of small domains.

    Examples
    --------
    >>> from sipas_analysis.indices import papi_indices  # doctest: +SKIP
    >>> f = floors_from_indices(papi_2024, papi_indices)  # doctest: +SKIP
    """
    for col in (psu, id_column):
        if col not in respondents.columns:
            raise InputError(f"column {col!r} not in the respondent table", column=col)
    flat = respondents.assign(**{psu: respondents[id_column].astype(str)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = indices(flat)
    if "subgroup" in est.columns:
        est = est[est["subgroup"].fillna("") == ""]
    out = pd.DataFrame(
        {
            "wave": est["wave"].astype(str).to_numpy(),
            "level": est["level"].to_numpy(),
            "unit_code": est["unit_code"].astype(str).to_numpy(),
            "index_code": est["index_code"].to_numpy(),
            "se_floor": est["se"].to_numpy(dtype=float),
        }
    )
    return out.drop_duplicates(["wave", "level", "unit_code", "index_code"])


def apply_se_floor(estimates: pd.DataFrame, floors: pd.DataFrame) -> pd.DataFrame:
    """Estimates with ``se = max(se, se_floor)`` and the interval recomputed where the floor binds.

    Where the floor binds, the interval uses the floor's own degrees of freedom (``n - 1``
    respondents, when the table has ``n``), since the SE is then the respondent-level one; where it
    does not bind, the design-based SE keeps its degrees of freedom (the ``df`` column).

    Parameters
    ----------
    estimates : pandas.DataFrame
        Estimates table (contract columns). Not modified.
    floors : pandas.DataFrame
        :func:`se_floor_table` output (with ``wave`` to match several waves).

    Returns
    -------
    pandas.DataFrame
        A copy with ``se_design`` (the original SE), ``se_floored`` (bool), ``se`` and, for
        floored percent rows (SIPAS), the logit interval recomputed with the floored SE on the
        design degrees of freedom (``df`` column, else the normal quantile).

    Examples
    --------
    >>> e = pd.DataFrame({"wave": "2024", "level": "commune", "unit_code": "1",
    ...                   "subgroup": "", "index_code": "q", "estimate": [80.0], "se": [0.5],
    ...                   "ci_low": [79.0], "ci_high": [81.0], "ci_level": 0.95})
    >>> f = pd.DataFrame({"wave": "2024", "level": "commune", "unit_code": "1",
    ...                   "index_code": "q", "se_floor": [4.0]})
    >>> r = apply_se_floor(e, f).iloc[0]
    >>> float(r.se), bool(r.se_floored), bool(r.ci_low < 73 and r.ci_high > 86)
    (4.0, True, True)
    """
    keys = [c for c in ("wave", "level", "unit_code", "index_code") if c in floors.columns]
    out = estimates.copy()
    out["_ord"] = np.arange(len(out))
    fl = floors.copy()
    for c in keys:
        fl[c] = fl[c].astype(str)
    left = out[keys].astype(str)
    if "subgroup" in out.columns:
        sub = out["subgroup"].fillna("").astype(str) == ""
    else:
        sub = pd.Series(True, index=out.index)
    merged = left.assign(_ord=out["_ord"]).merge(fl[keys + ["se_floor"]], on=keys, how="left")
    merged = merged.drop_duplicates("_ord").sort_values("_ord")
    floor = np.where(sub.to_numpy(), merged["se_floor"].to_numpy(dtype=float), np.nan)
    se = out["se"].to_numpy(dtype=float)
    binds = np.isfinite(floor) & (np.isnan(se) | (floor > se))
    out["se_design"] = se
    out["se_floored"] = binds
    out["se"] = np.where(binds, floor, se)
    if binds.any() and "ci_low" in out.columns:
        level = (
            out["ci_level"].to_numpy(dtype=float) if "ci_level" in out else np.full(len(out), 0.95)
        )
        dfv = out["df"].to_numpy(dtype=float) if "df" in out else np.full(len(out), np.inf)
        if "n" in out.columns:
            # A floored SE is the respondent-level SE: its degrees of freedom are those of that
            # estimator (n - 1 respondents), not the one to three of a commune's few villages.
            n_resp = out["n"].to_numpy(dtype=float)
            dfv = np.where(binds, np.fmax(dfv, np.fmax(n_resp - 1, 1)), dfv)
            if "df" in out.columns:
                out["df"] = dfv
        est = out["estimate"].to_numpy(dtype=float)
        pct = (est >= 0) & (est <= 100)
        if "survey" in out.columns:
            pct &= (out["survey"] == "sipas").to_numpy()
        lo = out["ci_low"].to_numpy(dtype=float).copy()
        hi = out["ci_high"].to_numpy(dtype=float).copy()
        for lev in np.unique(level[binds]):
            sel = binds & (level == lev)
            s_pct = sel & pct
            if s_pct.any():
                pl, ph = proportion_ci(
                    est[s_pct] / 100, out["se"].to_numpy()[s_pct] / 100, dfv[s_pct], float(lev)
                )
                lo[s_pct] = np.where(np.isnan(pl), lo[s_pct], pl * 100)
                hi[s_pct] = np.where(np.isnan(ph), hi[s_pct], ph * 100)
            s_pts = sel & ~pct
            if s_pts.any():
                tq = stats.t.ppf(1 - (1 - lev) / 2, dfv[s_pts])
                lo[s_pts] = est[s_pts] - tq * out["se"].to_numpy()[s_pts]
                hi[s_pts] = est[s_pts] + tq * out["se"].to_numpy()[s_pts]
        out["ci_low"], out["ci_high"] = lo, hi
    return out.drop(columns="_ord")


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
    items, _, top = sipas_layers(inst, respondents.columns)
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
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    *,
    index_codes: Sequence[str] | None = None,
    weight: str = "weight",
    strata: str | None = "stratum",
    psu: str | None = "psu",
    n_replicates: int = 200,
    seed: int = 20251127,
    level: float = 0.95,
) -> pd.DataFrame:
    """Rank of every commune (1 = best) with a bootstrap 95% interval of the rank.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one SIPAS wave. Not modified.
    instrument : Instrument or str, optional
    index_codes : sequence of str, optional
        Indices to rank on (default: the overall ``sipas``, the parts and the elements).
    weight, strata, psu
        Design columns.
    n_replicates : int, default 200
        Rao–Wu bootstrap replicates (:func:`sipas_analysis.replicates.rao_wu_bootstrap`,
        ``lonely_psu="certainty"``).
    seed : int
        Seed of the bootstrap: the same seed gives the same intervals.
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame
        ``unit_code, index_code, rank_basis, rank, rank_low, rank_high, n_units, n``.

    Notes
    -----
    Ranks are taken on a respondent-level score, the respondent's share of satisfied answers
    (×100) among the index's items answered, averaged with the weights in each commune
    (:func:`sipas_analysis.replicates.rank_intervals`): the rank basis ``rank_basis`` is close
    to, but not the same as, the mean-of-items index of the estimates table. The interval is
    the 2.5 % and 97.5 % quantiles of the commune's rank over the replicates.

    Examples
    --------
    >>> r = commune_ranks(wave_2024)  # doctest: +SKIP
    """
    inst = _instrument(instrument, respondents)
    items, layers, top = sipas_layers(inst, respondents.columns)
    members: dict[str, list[str]] = {}
    elem = dict(layers[0][1])
    members.update(elem)
    for _name, groups in layers[1:]:
        for code, subs in groups.items():
            members[code] = [i for s in subs for i in members.get(s, [s])]
    codes = (
        list(index_codes)
        if index_codes is not None
        else ["sipas"] + [c for name, g in layers[:-1][::-1] for c in g]
    )
    unknown = [c for c in codes if c not in members]
    if unknown:
        raise SipasError(f"unknown index code(s) to rank on: {unknown}")
    df = respondents[respondents["commune_code"].notna()].reset_index(drop=True)
    y = _top2_matrix(df, items, top)
    pos = {c: i for i, c in enumerate(items)}
    rw = rao_wu_bootstrap(df, weight, strata, psu, n_replicates, seed, lonely_psu="certainty")
    frames = []
    for code in codes:
        cols = [pos[i] for i in members[code]]
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            score = 100 * np.nanmean(y[:, cols], axis=1)
        tmp = pd.DataFrame(
            {"_score": score, "_unit": df["commune_code"].astype("int64"), "_w": df[weight]}
        )
        r = rank_intervals(tmp, "_score", "_unit", "_w", rw, level=level)
        frames.append(
            pd.DataFrame(
                {
                    "unit_code": r["_unit"].astype(str),
                    "index_code": code,
                    "rank_basis": r["estimate"],
                    "rank": r["rank"],
                    "rank_low": r["rank_low"],
                    "rank_high": r["rank_high"],
                    "n_units": int(r["rank"].notna().sum()),
                    "n": r["n"],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


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
        ``trends`` is not given). SEs should already carry the small-domain floor
        (:func:`apply_se_floor`).
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
    level — e.g. every commune-vs-rest contrast of the tested index levels (both signs) is
    one family, every commune change since the last wave another. A reason holds when the
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
    shown &= ~(pd.to_numeric(est["n"], errors="coerce") < _MIN_N).fillna(False)
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
        rej, qv = _family_bh(c, ["level"], q)
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
    rej, qv = _family_bh(t, ["level"], q)
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
                "area_code": c.get("area_code", pd.NA),
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
    n_replicates: int = 200,
    seed: int = 20251127,
    weight: str = "weight",
    strata: str | None = "stratum",
    psu: str | None = "psu",
    lonely_psu: str = "adjust",
    report_waves: Sequence[str] | None = None,
    make_trends: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """Everything the weak-point analysis of one SIPAS wave needs, in one call.

    Parameters
    ----------
    waves : dict
        Wave -> canonical respondent table, for ``wave`` and the earlier waves in
        ``estimates`` (their SE floors are computed from them).
    estimates : pandas.DataFrame
        Estimates table of these waves (:func:`sipas_analysis.indices.sipas_indices`).
    wave : str
        The wave whose weak points are listed.
    benchmarks : pandas.DataFrame, optional
        :func:`sipas_analysis.benchmarks.benchmark_values` output.
    q, n_replicates, seed, weight, strata, psu, lonely_psu
        See :func:`weak_points`, :func:`commune_ranks`, :func:`unit_contrasts`.
    report_waves : sequence of str, optional
        Waves whose weak points are listed (default ``[wave]``); each needs its respondent table.
    make_trends : callable, optional
        ``make_trends(floored_estimates) -> trends table`` (default: :func:`trend_table` on the
        rows without subgroup), e.g. to add changes computed on a re-expressed geography.

    Returns
    -------
    dict of DataFrame
        ``findings``, ``trends`` (on floored SEs), ``contrasts`` (commune and area),
        ``importance_performance``, ``ranks`` (these three with a ``wave`` column),
        ``estimates`` (floored).

    Examples
    --------
    >>> out = sipas_weak_points({"2023": w23, "2024": w24}, est, "2024")  # doctest: +SKIP
    """
    report = [str(w) for w in (report_waves or [wave])]
    by_wave = {str(k): df for k, df in waves.items()}
    missing = [w for w in report if w not in by_wave]
    if missing:
        raise InputError(f"no respondent table for wave(s) {missing}", values=missing)
    design = {"weight": weight, "strata": strata, "lonely_psu": lonely_psu}
    est = estimates[estimates["survey"] == "sipas"]
    if make_trends is None:
        trends = trend_table(est[est["subgroup"].fillna("") == ""] if "subgroup" in est else est)
    else:
        trends = make_trends(est)
    parts: dict[str, list[pd.DataFrame]] = {"findings": [], "contrasts": [], "ipa": [], "ranks": []}
    for w in report:
        resp = by_wave[w]
        est_w = est[est["wave"].astype(str) == w]
        model = est_w if "deff_model" in est_w.columns else None
        contrasts = pd.concat(
            [
                unit_contrasts(resp, level="commune", psu=psu, variance=model, **design),
                unit_contrasts(resp, level="area", psu=psu, **design),
            ],
            ignore_index=True,
        )
        ipa = importance_performance(resp, estimates=est[est["wave"].astype(str) == w])
        ranks = commune_ranks(
            resp, weight=weight, strata=strata, psu=psu, n_replicates=n_replicates, seed=seed
        )
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
        "estimates": est,
    }


def papi_weak_points(
    waves: Mapping[str, pd.DataFrame],
    estimates: pd.DataFrame,
    wave: str,
    *,
    benchmarks: pd.DataFrame | None = None,
    q: float = 0.05,
    indices: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
    report_waves: Sequence[str] | None = None,
    make_trends: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """The weak-point analysis of one PAPI-style wave: floored SEs, trends, findings.

    Parameters
    ----------
    waves : dict
        Wave -> canonical respondent table (the wave and the earlier waves of ``estimates``).
    estimates : pandas.DataFrame
        PAPI estimates of these waves (:func:`sipas_analysis.indices.papi_indices`).
    wave : str
    benchmarks : pandas.DataFrame, optional
        :func:`sipas_analysis.benchmarks.benchmark_values` (national medians, targets).
    q : float, default 0.05
    indices : callable, optional
        Index function for the SE floors (default :func:`sipas_analysis.indices.papi_indices`).
    report_waves, make_trends
        As in :func:`sipas_weak_points`.

    Returns
    -------
    dict of DataFrame
        ``findings``, ``trends``, ``estimates`` (floored).

    Notes
    -----
    PAPI selects two communes per area, so "commune vs the rest of its area" would compare with
    one other commune: no contrasts; the reasons are the lowest sub-dimensions and dimensions, a
    significant decline since the last comparable wave (BH), and the national median / targets.

    Examples
    --------
    >>> out = papi_weak_points({"2023": p23, "2024": p24}, est, "2024")  # doctest: +SKIP
    """
    if indices is None:
        from sipas_analysis.indices import papi_indices as indices
    report = [str(w) for w in (report_waves or [wave])]
    missing = [w for w in report if w not in {str(k) for k in waves}]
    if missing:
        raise InputError(f"no respondent table for wave(s) {missing}", values=missing)
    est = estimates[estimates["survey"] == "papi"]
    if make_trends is None:
        base = est[est["subgroup"].fillna("") == ""] if "subgroup" in est.columns else est
        trends = trend_table(base)
    else:
        trends = make_trends(est)
    findings = pd.concat(
        [
            weak_points(est, wave=w, survey="papi", trends=trends, benchmarks=benchmarks, q=q)
            for w in report
        ],
        ignore_index=True,
    )
    return {"findings": findings, "trends": trends, "estimates": est}
