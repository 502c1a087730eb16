"""The findings (weak points) table of one wave: its columns, reasons gathered, priorities.

:func:`weak_points` collects the reasons of every shown cell of the wave
(:mod:`sipas_analysis.findings.reasons`), gives each cell one row with its benchmark, its score
(the reason weights of ``findings_phrases.yaml``), its rank confidence set (communes) and a
recommendation ("đề xuất tập trung"), and orders the rows by priority.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sipas_analysis.disclosure import MIN_N
from sipas_analysis.errors import InputError
from sipas_analysis.findings.phrases import load_phrases
from sipas_analysis.findings.reasons import (
    REASON_CODES,
    below_rest_reasons,
    benchmark_reasons,
    decline_reasons,
    ipa_reasons,
    lowest_ranked_reasons,
)
from sipas_analysis.trends import trend_table

__all__ = ["DEFAULT_N_LOWEST", "FINDING_COLUMNS", "TESTED_LEVELS", "weak_points"]

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
#: Index levels tested for significance by default (composites: fewer, more powerful tests).
TESTED_LEVELS = ("element", "part", "overall", "subdimension", "dimension", "total")
#: How many lowest cells per (unit, index level) are reported as ``lowest_ranked``.
DEFAULT_N_LOWEST = {"item": 3, "element": 1, "subdimension": 3, "dimension": 1}
#: Cells with fewer answers get "cỡ mẫu nhỏ" among their reasons.
_SMALL_N = 30


def _parent_code(code: str, parent_map: Mapping[str, str]) -> str | None:
    if code in parent_map and isinstance(parent_map[code], str):
        return parent_map[code]
    return None


def _recommendation(row: Mapping, parent_map: Mapping[str, str]) -> str:
    ph = load_phrases()
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
        :func:`~sipas_analysis.findings.contrasts.rest_contrasts` output(s) of the wave (commune and/or area level).
    benchmarks : pandas.DataFrame, optional
        :func:`sipas_analysis.national.benchmark_values` output (national figures and the
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
    (:func:`~sipas_analysis.findings.fdr.tested_bh`): their overall index first (one family over the communes), then the
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
    ph = load_phrases()
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
    reasons.extend(lowest_ranked_reasons(est, n_lowest))
    # 2. unit significantly below the rest of its parent
    below_rest, diff_map = below_rest_reasons(
        contrasts, est, cell, wave=wave, q=q, tested_levels=tested_levels
    )
    reasons.extend(below_rest)
    # 3. significant decline since the last comparable wave
    if trends is None:
        trends = trend_table(est_all[est_all["subgroup"].fillna("") == ""])
    reasons.extend(
        decline_reasons(trends, cell, survey=survey, wave=wave, q=q, tested_levels=tested_levels)
    )
    # 4. below the national figure or the province's target (whole area and areas; targets
    #    for a named unit at any level)
    reasons.extend(benchmark_reasons(benchmarks, cell, survey=survey, year=year))
    # 5. importance-performance priority (whole survey area)
    reasons.extend(ipa_reasons(ipa, cell))

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
