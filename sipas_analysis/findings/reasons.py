"""The reasons a cell is a weak point, one function per rule family.

Each function returns reason records ``{"_key": (level, unit_code, index_code), "code", "text",
"q"[, "bm", "bm_label"]}`` for the cells shown in the findings table (``cell``: the wave's shown
estimates indexed by level, unit and index); :func:`sipas_analysis.findings.table.weak_points`
gathers them into one row per cell. ``code`` is one of :data:`REASON_CODES`, ``text`` the
Vietnamese sentence of ``findings_phrases.yaml`` with its numbers rounded
(:mod:`sipas_analysis.findings.phrases`), ``q`` the BH q-value of a tested reason, ``bm`` and
``bm_label`` the value the cell is set against.

======================  ===================================  =================================
family                  function                             code(s)
======================  ===================================  =================================
lowest of their kind    :func:`lowest_ranked_reasons`        ``lowest_ranked``
below the rest          :func:`below_rest_reasons`           ``below_rest``
change                  :func:`decline_reasons`              ``decline``
national figure/target  :func:`benchmark_reasons`            ``below_benchmark(_ns)``,
                                                             ``below_target``
importance–performance  :func:`ipa_reasons`                  ``ipa_priority``
======================  ===================================  =================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sipas_analysis.findings.fdr import tested_bh
from sipas_analysis.findings.phrases import fmt_num, fmt_q, load_phrases, lower_first

__all__ = [
    "REASON_CODES",
    "below_rest_reasons",
    "benchmark_reasons",
    "decline_reasons",
    "ipa_reasons",
    "lowest_ranked_reasons",
]

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


def lowest_ranked_reasons(est: pd.DataFrame, n_lowest: Mapping[str, int]) -> list[dict]:
    """``lowest_ranked``: the lowest items / elements / sub-dimensions of each area and of the
    whole survey area (``n_lowest`` per index level; descriptive, no test)."""
    ph = load_phrases()
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
    return rows


def below_rest_reasons(
    contrasts: pd.DataFrame | None,
    est: pd.DataFrame,
    cell: pd.DataFrame,
    *,
    wave: str,
    q: float,
    tested_levels: Sequence[str],
) -> tuple[list[dict], dict[tuple, float]]:
    """``below_rest``: a unit significantly below the rest of its parent.

    ``contrasts`` are :func:`sipas_analysis.findings.contrasts.rest_contrasts` rows of the wave;
    those of ``tested_levels`` are tested in the families of
    :func:`sipas_analysis.findings.fdr.tested_bh`, and a reason holds when the test is rejected
    at FDR ``q`` and the difference is negative. Returns the reasons and the difference of each
    flagged cell (key -> difference).
    """
    reasons: list[dict] = []
    diff_map: dict[tuple, float] = {}
    if contrasts is None or contrasts.empty:
        return reasons, diff_map
    ph = load_phrases()
    c = contrasts[contrasts["index_level"].isin(list(tested_levels))].copy()
    c["unit_code"] = c["unit_code"].astype(str)
    c["wave"] = str(wave)
    rej, qv = tested_bh(c, q)
    c["rej_"], c["qv_"] = rej, qv
    area_names = (
        est[est["level"] == "area"].drop_duplicates("unit_code").set_index("unit_code")["unit_name"]
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
                    estimate=fmt_num(r.estimate_unit),
                    other=fmt_num(r.estimate_rest),
                    diff=fmt_num(r.difference),
                    q=fmt_q(r.qv_),
                ),
                "q": r.qv_,
                "bm": r.estimate_rest,
                "bm_label": rest_label[:1].upper() + rest_label[1:],
            }
        )
        diff_map[key] = r.difference
    return reasons, diff_map


def decline_reasons(
    trends: pd.DataFrame,
    cell: pd.DataFrame,
    *,
    survey: str,
    wave: str,
    q: float,
    tested_levels: Sequence[str],
) -> list[dict]:
    """``decline``: a significant decline since the last comparable wave.

    The consecutive, comparable changes of ``trends`` into ``wave`` (rows without subgroup, of
    ``tested_levels``) are tested in the families of :func:`sipas_analysis.findings.fdr.tested_bh`;
    a reason holds when the test is rejected at FDR ``q`` and the change is negative.
    """
    ph = load_phrases()
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
    rej, qv = tested_bh(t, q)
    t["rej_"], t["qv_"] = rej, qv
    reasons: list[dict] = []
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
                    other=fmt_num(r.estimate_from),
                    estimate=fmt_num(r.estimate_to),
                    diff=fmt_num(r.change),
                    q=fmt_q(r.qv_),
                ),
                "q": r.qv_,
                "bm": r.estimate_from,
                "bm_label": ph["benchmark_labels_vi"]["previous_wave"].format(wave=r.wave_from),
            }
        )
    return reasons


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


def benchmark_reasons(
    benchmarks: pd.DataFrame | None, cell: pd.DataFrame, *, survey: str, year: int
) -> list[dict]:
    """``below_benchmark`` / ``below_benchmark_ns`` / ``below_target``: below the national
    figure (whole area and areas; the whole CI below it, or the estimate only) or below the
    province's target (for a named unit at any level); descriptive, no test."""
    reasons: list[dict] = []
    if benchmarks is None or benchmarks.empty:
        return reasons
    ph = load_phrases()
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
                        benchmark_label=lower_first(str(b["benchmark_label"])),
                        estimate=fmt_num(r["estimate"]),
                        other=fmt_num(value),
                    ),
                    "q": np.nan,
                    "bm": value,
                    "bm_label": b["benchmark_label"],
                }
            )
    return reasons


def ipa_reasons(ipa: pd.DataFrame | None, cell: pd.DataFrame) -> list[dict]:
    """``ipa_priority``: an item in the priority quadrant of the importance–performance table
    (:func:`sipas_analysis.findings.importance.importance_performance`; whole survey area)."""
    reasons: list[dict] = []
    if ipa is None or ipa.empty or "quadrant_code" not in ipa.columns:
        return reasons
    ph = load_phrases()
    for r in ipa[ipa["quadrant_code"] == "uu_tien"].itertuples(index=False):
        key = ("total", "total", r.index_code)
        if key not in cell.index:
            continue
        reasons.append(
            {
                "_key": key,
                "code": "ipa_priority",
                "text": ph["reasons"]["ipa_priority"]["vi"].format(
                    importance=fmt_num(r.importance, 2)
                ),
                "q": np.nan,
            }
        )
    return reasons
