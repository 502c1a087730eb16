"""What a leader acts on: the standing, the directive scorecard, the communes, in a few tables.

Read-only rules over the run's tables (``estimates``, ``trends``, ``findings``, ``ranks``,
``benchmarks``, ``sipas_published``, ``importance_performance``): nothing here estimates
anything, every value is a value of those tables, selected and sorted.

* :func:`standing` — the province among the provinces in the latest official year (SIPAS rank;
  PAPI rank, quartile group, the dimensions in the bottom group, national median).
* :func:`directive_scorecard` — the directive's tasks (``data/reference/directive_tasks.yaml``):
  value, interval, change, target and ``dat`` / ``chua_dat`` / ``chua_co_chi_tieu``.
  A target is met when the estimate reaches it (the point estimate, as the target is worded).
* :func:`commune_league` — the communes of a wave on their geography with the direct and the
  model-based estimate, the rank and its 95% rank confidence set, the change since the last
  comparable wave.
* :func:`split_findings` — significant weak points (a test or a target: ``below_rest``,
  ``decline``, ``below_benchmark``, ``below_target``) apart from the descriptive "cần theo dõi"
  tier (lowest ranked, below a benchmark within the interval, importance–performance).
* :func:`bright_spots` — significant improvements since the last comparable wave.
* :func:`persistent_weaknesses` — an element that is the lowest of its unit in at least three
  waves of the same questionnaire.
* :func:`part_quadrants` — importance–performance quadrants within each part (policy, service),
  cut at the part's medians.
* :func:`owners_for` — the unit that can act on an index, after the 2025 reorganisation.

Examples
--------
>>> from sipas_analysis import highlights
>>> [t["code"] for t in highlights.directive_tasks()["tasks"]][:3]
['mot_cua', 'ho_so', 'dung_hen']
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sipas_analysis.errors import SipasError
from sipas_analysis.paths import REFERENCE_DIR

__all__ = [
    "DIRECTIVE_FILE",
    "SIGNIFICANT_CODES",
    "WATCH_CODES",
    "BANDS",
    "NEAR_POINTS",
    "band_labels",
    "heatmap_references",
    "reference_bands",
    "bright_spots",
    "commune_league",
    "directive_scorecard",
    "directive_tasks",
    "in_lower_half",
    "owners_for",
    "part_quadrants",
    "persistent_weaknesses",
    "said_significant",
    "said_significant_rows",
    "split_findings",
    "standing",
    "unit_changes",
    "value_is",
    "no_subgroups",
]

DIRECTIVE_FILE = REFERENCE_DIR / "directive_tasks.yaml"

#: Reason codes that rest on a test or a target: a finding with one of them is significant.
SIGNIFICANT_CODES = ("below_rest", "decline", "below_benchmark", "below_target")
#: Descriptive reason codes: a finding with only these belongs to the "cần theo dõi" tier.
WATCH_CODES = ("lowest_ranked", "below_benchmark_ns", "ipa_priority")
#: Index levels whose improvements count as bright spots (composites: fewer false alarms).
BRIGHT_LEVELS = ("overall", "part", "element")
#: Waves an element must be the lowest in to be a persistent weakness.
PERSISTENT_MIN_WAVES = 3
#: First wave of the 2025 geography: areas (huyện) no longer have authority after 1/7/2025.
REORG_WAVE = "2025"


def value_is(series: pd.Series, value: object) -> pd.Series:
    """``series == value`` compared as text (codes and waves may be read back as int or str)."""
    text = str(value)
    if series.dtype == object and pd.api.types.infer_dtype(series, skipna=False) == "string":
        # every value already text: compare without converting the column (3x faster)
        return pd.Series(series.to_numpy() == text, index=series.index, name=series.name)
    return series.astype(str) == text


def no_subgroups(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of a results table that are not subgroup rows (``subgroup`` blank or absent)."""
    if "subgroup" not in df.columns:
        return df
    return df[df["subgroup"].fillna("").astype(str) == ""]


@functools.lru_cache(maxsize=4)
def _read_tasks(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except OSError as exc:
        raise SipasError(f"Directive file {path}: cannot be read ({exc}).") from exc
    units = data.get("units") or {}
    for task in data.get("tasks") or []:
        bad = [u for u in task.get("owners", []) if u not in units]
        if bad:
            raise SipasError(
                f"{path}: task {task.get('code')!r} names unknown unit(s) {bad} "
                f"(known: {', '.join(units)})."
            )
    return data


def directive_tasks(path: str | os.PathLike[str] | None = None) -> dict:
    """The directive file (tasks, indicators, units, sources) as a dict."""
    return _read_tasks(str(path or DIRECTIVE_FILE))


def _unit_names(keys: Sequence[str], tasks: Mapping) -> list[str]:
    return [tasks["units"][k]["name_vi"] for k in keys]


def owners_for(
    index_code: str,
    *,
    parents: Mapping[str, str] | None = None,
    level: str = "total",
    unit_name: str = "",
    wave: str = REORG_WAVE,
    tasks: Mapping | None = None,
) -> str:
    """Who acts on a weak point of ``index_code`` in a unit: a commune's People's Committee, and the
    units of ``owners_by_index`` (an item takes its element's, an element its part's).

    From the 2025 wave an area (old district) has no authority: its weak point goes to the
    communes and wards of the old district's territory.

    Examples
    --------
    >>> owners_for("cong_chuc", level="area", unit_name="Huyện Thạnh Hóa", wave="2025")
    'Ủy ban nhân dân các xã, phường trên địa bàn huyện Thạnh Hóa cũ; Sở Nội vụ'
    """
    tasks = tasks or directive_tasks()
    by_index = tasks.get("owners_by_index") or {}
    code, parents = str(index_code), parents or {}
    seen = set()
    while code not in by_index and code in parents and code not in seen:
        seen.add(code)
        code = parents[code]
    keys = list(by_index.get(code, ["ubnd_xa"]))
    names = _unit_names(keys, tasks)
    local = [n for k, n in zip(keys, names, strict=True) if k in ("ubnd_xa", "mot_cua_xa")]
    central = [n for k, n in zip(keys, names, strict=True) if k not in ("ubnd_xa", "mot_cua_xa")]
    lead: list[str] = []
    if level == "commune" and unit_name:
        lead = [f"Ủy ban nhân dân {_lower_type(unit_name)}"]
    elif level == "area" and unit_name:
        if str(wave) >= REORG_WAVE:
            lead = [f"Ủy ban nhân dân các xã, phường trên địa bàn {_lower_type(unit_name)} cũ"]
        else:
            lead = [f"Ủy ban nhân dân {_lower_type(unit_name)}"]
    elif local:
        lead = local
    return "; ".join(dict.fromkeys(lead + central)) or "; ".join(names)


_TYPES = ("Thành phố ", "Thị xã ", "Thị trấn ", "Huyện ", "Xã ", "Phường ", "Tỉnh ")


def _lower_type(name: str) -> str:
    for t in _TYPES:
        if name.startswith(t):
            return t.lower() + name[len(t) :]
    return name


# ---------------------------------------------------------------------------------- standing
def standing(tables: Mapping[str, pd.DataFrame]) -> dict:
    """The province among the provinces in the latest official year of each index.

    Returns
    -------
    dict
        ``sipas``: ``year, value, rank, n_provinces, national`` (or None);
        ``papi``: ``year, value, rank, n_provinces, group_vi, group, median, near_cut``,
        ``bottom`` (dimensions in the bottom quartile group: ``code, label, value, rank,
        median``) and ``top`` (top group), or None.
    """
    out: dict = {"sipas": None, "papi": None}
    sp = tables.get("sipas_published")
    if sp is not None and not sp.empty:
        rows = sp[value_is(sp["index_code"], "sipas") & sp["province_value"].notna()]
        if not rows.empty:
            r = rows.sort_values("year").iloc[-1]
            out["sipas"] = {
                "year": int(r["year"]),
                "value": float(r["province_value"]),
                "rank": None if pd.isna(r["rank"]) else int(r["rank"]),
                "n_provinces": None if pd.isna(r["n_provinces"]) else int(r["n_provinces"]),
                "national": None if pd.isna(r["national_value"]) else float(r["national_value"]),
            }
    bm = tables.get("benchmarks")
    if bm is not None and not bm.empty:
        tot = bm[value_is(bm["index_code"], "papi") & bm["province_value"].notna()]
        if not tot.empty:
            r = tot.sort_values("year").iloc[-1]
            year = int(r["year"])
            dims = bm[
                (bm["year"].astype(int) == year) & bm["index_code"].astype(str).str.match(r"^d\d$")
            ]

            def pick(group: int) -> list[dict]:
                sel = dims[dims["quartile_group"].astype("Int64") == group]
                return [
                    {
                        "code": str(d["index_code"]),
                        "label": str(d["label_vi"]),
                        "value": float(d["province_value"]),
                        "rank": int(d["rank"]),
                        "median": float(d["national_median"]),
                    }
                    for _, d in sel.sort_values("index_code").iterrows()
                ]

            out["papi"] = {
                "year": year,
                "value": float(r["province_value"]),
                "rank": int(r["rank"]),
                "n_provinces": int(r["n_provinces"]),
                "group": int(r["quartile_group"]),
                "group_vi": str(r["quartile_group_vi"]),
                "median": float(r["national_median"]),
                "near_cut": bool(r["near_cut"]),
                "bottom": pick(4),
                "top": pick(1),
            }
    return out


# --------------------------------------------------------------------------------- scorecard
def _target(
    targets: pd.DataFrame | None, survey: str, code: str, year: str, unit: str
) -> tuple[float | None, bool]:
    """(target, is_example) for a cell: a unit's own row first, then one for every unit."""
    if targets is None or targets.empty:
        return None, False
    t = targets[value_is(targets["survey"], survey) & value_is(targets["index_code"], code)]
    if "year" in t.columns:
        yr = pd.to_numeric(t["year"], errors="coerce")
        t = t[yr.isna() | (yr == int(str(year)[:4]))]
    if t.empty:
        return None, False
    if "unit_code" in t.columns:
        uc = t["unit_code"].astype("string")
        own = t[uc == str(unit)]
        t = own if not own.empty else t[uc.isna() | (uc == "")]
    if t.empty:
        return None, False
    r = t.iloc[0]
    example = False
    if "is_example" in t.columns:
        example = str(r["is_example"]).strip().lower() in ("true", "1", "yes", "x")
    return float(r["target"]), example


def unit_changes(
    trends: pd.DataFrame, survey: str, unit: str, wave: str, code: str | None = None
) -> pd.DataFrame:
    """A unit's comparable changes into ``wave`` from the trends table (no subgroup).

    Rows of ``survey``, ``unit`` and ``wave_to == wave`` (and ``index_code == code`` if given)
    that are ``comparable``; where some compare with the previous wave (``comparison ==
    "consecutive"``) only those. The one selection the scorecard and the commune sheets share.
    """
    t = trends[
        value_is(trends["survey"], survey)
        & value_is(trends["unit_code"], unit)
        & value_is(trends["wave_to"], wave)
        & trends["comparable"].fillna(False).astype(bool)
    ]
    if code is not None:
        t = t[value_is(t["index_code"], code)]
    if "subgroup" in t.columns:
        t = t[t["subgroup"].fillna("").astype(str) == ""]
    if "comparison" in t.columns and (t["comparison"] == "consecutive").any():
        t = t[t["comparison"] == "consecutive"]
    return t


def said_significant_rows(trends: pd.DataFrame) -> pd.Series:
    """Whether a page calls each change of a trends table significant: its own test
    (``significant``) and, when the change belongs to a test family
    (:func:`sipas_analysis.findings.fdr.trend_families`: a unit's sub-indices or criteria, the
    communes' changes), a Benjamini–Hochberg ``q_value`` of at most 0.05 (none: not
    significant; every q-value compares with 0.05, the communes' too,
    :func:`sipas_analysis.findings.fdr.tested_bh`). A change outside every family (the headline
    change of an area or of the whole area) rests on its own test. A trends table without
    ``q_value`` (a notebook's own :func:`sipas_analysis.trends.trend_table`) is read on the
    changes' own tests.

    Examples
    --------
    >>> t = pd.DataFrame({"significant": [True, True, True, False], "q_value": [0.2, 0.04, None, 0.01],
    ...                   "comparison": "consecutive", "comparable": True, "subgroup": "",
    ...                   "level": ["commune", "commune", "area", "commune"],
    ...                   "index_level": ["element", "element", "overall", "element"]})
    >>> said_significant_rows(t).tolist()
    [False, True, True, False]
    """
    from sipas_analysis.findings.fdr import trend_families

    own = trends["significant"].map(lambda v: bool(pd.notna(v) and v)).astype(bool)
    if "q_value" not in trends.columns:
        return own
    q = pd.to_numeric(trends["q_value"], errors="coerce")
    outside = trend_families(trends) == ""
    return own & (outside | (q <= 0.05))


def said_significant(change: Mapping | pd.Series) -> bool:
    """:func:`said_significant_rows` of one change (a mapping or a row of the trends table).

    Examples
    --------
    >>> row = {"significant": True, "q_value": 0.20, "comparison": "consecutive",
    ...        "comparable": True, "subgroup": "", "level": "commune", "index_level": "element"}
    >>> said_significant(row), said_significant({**row, "q_value": 0.01})
    (False, True)
    >>> said_significant({**row, "level": "area", "index_level": "overall", "q_value": None})
    True
    >>> said_significant({**row, "q_value": 0.03})  # a commune's q compares with 0.05 too
    True
    """
    if not bool(pd.notna(change.get("significant")) and change.get("significant")):
        return False
    return bool(said_significant_rows(pd.DataFrame([dict(change)])).iloc[0])


def _trend(trends: pd.DataFrame | None, survey: str, unit: str, code: str, wave: str) -> dict:
    if trends is None or trends.empty:
        return {}
    t = unit_changes(trends, survey, unit, wave, code)
    if t.empty:
        return {}
    r = t.sort_values("wave_from").iloc[-1]
    if "suppressed" in (str(r.get("flag_from", "ok")), str(r.get("flag_to", "ok"))):
        return {}
    return {
        "change": float(r["change"]),
        "wave_from": str(r["wave_from"]),
        "significant": said_significant(r) if pd.notna(r["significant"]) else None,
    }


def _status(value: float | None, target: float | None) -> str:
    if value is None:
        return "khong_co_so_lieu"
    if target is None:
        return "chua_co_chi_tieu"
    return "dat" if value >= target else "chua_dat"


def directive_scorecard(
    tables: Mapping[str, pd.DataFrame],
    unit_code: str,
    wave: str,
    *,
    targets: pd.DataFrame | None = None,
    papi_wave: str | None = None,
    tasks: Mapping | None = None,
) -> pd.DataFrame:
    """One line per (task, indicator) of the directive for a unit and SIPAS wave.

    Parameters
    ----------
    tables : mapping of DataFrame
        The run's tables.
    unit_code, wave : str
        The unit (area code, ``total`` or a commune code) and the SIPAS wave.
    targets : DataFrame, optional
        Targets (``survey, index_code, target`` and optionally ``year, unit_code, is_example``).
    papi_wave : str, optional
        Not used for official indicators (they take the latest official year).

    Returns
    -------
    DataFrame
        ``task_code, task_vi, survey, index_code, label_vi, label_short_vi, source`` (``survey`` |
        ``official``), ``year, value, ci_low, ci_high, flag, change, wave_from, significant,
        target, target_is_example, status`` (``dat``, ``chua_dat``, ``chua_co_chi_tieu``,
        ``khong_co_so_lieu``, ``khong_do``: no indicator), ``owners_vi``. A suppressed cell
        (n < 10) has no value.
    """
    tasks = tasks or directive_tasks()
    est = no_subgroups(tables["estimates"])
    shorts = short_labels(est)
    # the unit's cells of the wave and its changes into the wave, selected once for every line
    est = est[value_is(est["wave"], wave) & value_is(est["unit_code"], unit_code)]
    trends = tables.get("trends")
    if trends is not None and not trends.empty:
        trends = trends[
            value_is(trends["unit_code"], unit_code) & value_is(trends["wave_to"], wave)
        ]
    bm = tables.get("benchmarks")
    rows = []
    for task in tasks["tasks"]:
        owners = "; ".join(_unit_names(task.get("owners", []), tasks))
        base = {"task_code": task["code"], "task_vi": task["label_vi"], "owners_vi": owners}
        if not task.get("indicators"):
            rows.append(
                {**base, "status": "khong_do", "source": "", "survey": "", "index_code": ""}
            )
            continue
        for ind in task["indicators"]:
            survey, code, source = ind["survey"], ind["index_code"], ind.get("source", "survey")
            row = {**base, "survey": survey, "index_code": code, "source": source}
            value = None
            if source == "official":
                if bm is None or bm.empty:
                    continue
                b = bm[value_is(bm["index_code"], code) & bm["province_value"].notna()]
                if b.empty:
                    continue
                b = b.sort_values("year").iloc[-1]
                year = str(int(b["year"]))
                value = float(b["province_value"])
                row.update(
                    label_vi=str(b["label_vi"]),
                    label_short_vi=str(b["label_vi"]),
                    year=year,
                    value=value,
                    rank=int(b["rank"]),
                    n_provinces=int(b["n_provinces"]),
                    national_median=float(b["national_median"]),
                    flag="ok",
                )
                prev = bm[
                    value_is(bm["index_code"], code) & (bm["year"].astype(int) == int(year) - 1)
                ]
                if not prev.empty and pd.notna(prev["province_value"].iloc[0]):
                    row.update(
                        change=value - float(prev["province_value"].iloc[0]),
                        wave_from=str(int(year) - 1),
                    )
            else:
                e = est[value_is(est["survey"], survey) & value_is(est["index_code"], code)]
                if e.empty:
                    continue
                e = e.iloc[0]
                year = str(wave)
                row.update(
                    label_vi=str(e["label_vi"]),
                    label_short_vi=shorts.get(code, str(e["label_vi"])),
                    year=year,
                    flag=str(e["flag"]),
                )
                if str(e["flag"]) != "suppressed":
                    value = float(e["estimate"])
                    row.update(value=value, ci_low=e["ci_low"], ci_high=e["ci_high"])
                    row.update(_trend(trends, survey, unit_code, code, wave))
            target, example = _target(targets, survey, code, year, unit_code)
            row.update(target=target, target_is_example=example, status=_status(value, target))
            rows.append(row)
    cols = [
        "task_code", "task_vi", "survey", "index_code", "label_vi", "label_short_vi", "source",
        "year", "value", "ci_low", "ci_high", "flag", "change", "wave_from", "significant",
        "rank", "n_provinces", "national_median", "target", "target_is_example", "status",
        "owners_vi",
    ]  # fmt: skip
    return pd.DataFrame(rows).reindex(columns=cols)


# ------------------------------------------------------------------------------------ labels
def short_labels(estimates: pd.DataFrame) -> dict[str, str]:
    """``index_code -> label_short_vi`` from the instruments of the estimates table (where set)."""
    out: dict[str, str] = {}
    names = (
        estimates["instrument"].dropna().astype(str).unique() if "instrument" in estimates else []
    )
    for name in sorted(names):
        out.update(_short_of(name))
    return out


@functools.lru_cache(maxsize=8)
def _short_of(name: str) -> dict[str, str]:
    from sipas_analysis.instruments import load_instrument

    try:
        inst = load_instrument(name)
    except SipasError:
        return {}
    out = {}
    for frame in (inst.nodes, inst.items):
        if "label_short_vi" in frame.columns:
            for code, short in zip(frame["code"], frame["label_short_vi"], strict=True):
                if isinstance(short, str) and short.strip():
                    out[str(code)] = short.strip()
    return out


# ----------------------------------------------------------------------------------- communes
def commune_league(
    tables: Mapping[str, pd.DataFrame],
    wave: str,
    communes: Sequence[str] | None = None,
    *,
    index_code: str = "sipas",
) -> pd.DataFrame:
    """The communes of a SIPAS wave, lowest first, with direct and model-based estimates.

    Returns
    -------
    DataFrame
        ``unit_code, unit_name, area_code, estimate, ci_low, ci_high, estimate_model,
        ci_low_model, ci_high_model, n, flag, rank, rank_low, rank_high, n_units, change,
        wave_from, significant``; sorted by rank, worst (largest rank) first; suppressed
        communes carry no value and come last.
    """
    est = no_subgroups(tables["estimates"])
    c = est[
        value_is(est["survey"], "sipas")
        & value_is(est["wave"], wave)
        & (est["level"] == "commune")
        & value_is(est["index_code"], index_code)
    ].copy()
    if communes is not None:
        c = c[c["unit_code"].astype(str).isin([str(x) for x in communes])]
    c["unit_code"] = c["unit_code"].astype(str)
    for col in ("estimate_model", "ci_low_model", "ci_high_model"):
        if col not in c.columns:
            c[col] = np.nan
    ranks = tables.get("ranks")
    if ranks is not None and not ranks.empty:
        r = ranks[value_is(ranks["wave"], wave) & value_is(ranks["index_code"], index_code)].copy()
        if "survey" in r.columns:
            r = r[value_is(r["survey"], "sipas")]
        r["unit_code"] = r["unit_code"].astype(str)
        c = c.merge(
            r[["unit_code", "rank", "rank_low", "rank_high", "n_units"]], on="unit_code", how="left"
        )
    else:
        for col in ("rank", "rank_low", "rank_high", "n_units"):
            c[col] = pd.NA
    trends = tables.get("trends")
    ch = [_trend(trends, "sipas", u, index_code, wave) for u in c["unit_code"]]
    c["change"] = [d.get("change", np.nan) for d in ch]
    c["wave_from"] = [d.get("wave_from") for d in ch]
    c["significant"] = [d.get("significant") for d in ch]
    hidden = c["flag"].astype(str) == "suppressed"
    for col in ("estimate", "ci_low", "ci_high", "estimate_model", "ci_low_model", "ci_high_model",
                "change"):  # fmt: skip
        c.loc[hidden, col] = np.nan
    c["_hidden"] = hidden
    c["_r"] = pd.to_numeric(c["rank"], errors="coerce").fillna(-1)
    c = c.sort_values(["_hidden", "_r", "estimate"], ascending=[True, False, True], kind="stable")
    cols = [
        "unit_code", "unit_name", "area_code", "estimate", "ci_low", "ci_high", "estimate_model",
        "ci_low_model", "ci_high_model", "n", "flag", "rank", "rank_low", "rank_high", "n_units",
        "change", "wave_from", "significant",
    ]  # fmt: skip
    return c[cols].reset_index(drop=True)


def most_improved(league: pd.DataFrame) -> pd.Series | None:
    """The commune with the largest increase since its last comparable wave (None if none rose)."""
    up = league[league["change"].notna() & (league["change"] > 0)]
    return None if up.empty else up.sort_values("change", ascending=False).iloc[0]


def in_lower_half(commune: Mapping | pd.Series) -> bool:
    """Whether a league row ranks in the lower half of the communes surveyed (rank > n / 2).

    The verdict of a brief names a commune as a priority only then: the weakest commune of an
    area can still rank well among all the communes surveyed.

    >>> in_lower_half({"rank": 19, "n_units": 19}), in_lower_half({"rank": 7, "n_units": 19})
    (True, False)
    >>> in_lower_half({"rank": None, "n_units": 19})
    False
    """
    rank, n = commune.get("rank"), commune.get("n_units")
    if rank is None or n is None or pd.isna(rank) or pd.isna(n):
        return False
    return float(rank) > float(n) / 2


# ---------------------------------------------------------------------------------- findings
def split_findings(
    findings: pd.DataFrame | None, wave: str, units: Sequence[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(significant, watch): findings of a wave with a tested reason, and the descriptive rest."""
    if findings is None or findings.empty:
        empty = pd.DataFrame(columns=[] if findings is None else findings.columns)
        return empty, empty
    f = findings[value_is(findings["wave"], wave)]
    if units is not None:
        f = f[f["unit_code"].astype(str).isin([str(u) for u in units])]
    f = f[f["flag"].astype(str) != "suppressed"] if "flag" in f.columns else f
    codes = f["reason_codes"].fillna("").astype(str).str.split("; ")
    sig = codes.map(lambda cs: any(c in SIGNIFICANT_CODES for c in cs))
    f = f.sort_values("priority", kind="stable")
    return f[sig.reindex(f.index)], f[~sig.reindex(f.index)]


def bright_spots(
    tables: Mapping[str, pd.DataFrame], wave: str, units: Sequence[str]
) -> pd.DataFrame:
    """Significant (:func:`said_significant`), comparable improvements since the previous wave
    of composites of the units.

    Returns the trends rows (``unit_code, unit_name, level, index_code, label_vi, wave_from,
    change, ci_low, ci_high, estimate_to``), largest increase first.
    """
    t = tables.get("trends")
    if t is None or t.empty:
        return pd.DataFrame()
    sel = (
        value_is(t["survey"], "sipas")
        & value_is(t["wave_to"], wave)
        & t["unit_code"].astype(str).isin([str(u) for u in units])
        & t["comparable"].fillna(False).astype(bool)
        & t["index_level"].astype(str).isin(BRIGHT_LEVELS)
    )
    if "comparison" in t.columns:
        sel &= t["comparison"] == "consecutive"
    if "subgroup" in t.columns:
        sel &= t["subgroup"].fillna("").astype(str) == ""
    for col in ("flag_from", "flag_to"):
        if col in t.columns:
            sel &= t[col].astype(str) != "suppressed"
    family = t[sel]
    if family.empty:
        return family
    # significant as the pages say it (:func:`said_significant`): the trends table's families
    # (the communes' changes in two stages, an area's sub-indices together), so that one test
    # at 5% per change does not light up noise; a table without q-values gets them here
    if "q_value" not in family.columns:
        from sipas_analysis.findings.fdr import trend_q_values

        family = family.assign(q_value=trend_q_values(t)[sel.to_numpy()])
    said = said_significant_rows(family).to_numpy()
    keep = family[said & (family["change"] > 0).to_numpy()]
    return keep.sort_values("change", ascending=False, kind="stable").reset_index(drop=True)


def persistent_weaknesses(
    estimates: pd.DataFrame,
    units: Sequence[str],
    *,
    up_to: str | None = None,
    min_waves: int = PERSISTENT_MIN_WAVES,
) -> pd.DataFrame:
    """Elements that are the lowest of their unit in at least ``min_waves`` comparable waves.

    Comparable waves are the SIPAS waves of one questionnaire (``instrument``), up to ``up_to``.

    Returns
    -------
    DataFrame
        ``unit_code, unit_name, index_code, label_vi, instrument, waves`` (the waves it was the
        lowest, comma-joined), ``n_lowest, n_waves``.
    """
    est = no_subgroups(estimates)
    e = est[
        value_is(est["survey"], "sipas")
        & (est["index_level"] == "element")
        & est["unit_code"].astype(str).isin([str(u) for u in units])
        & (est["flag"].astype(str) != "suppressed")
    ]
    if up_to is not None:
        e = e[e["wave"].astype(str) <= str(up_to)]
    rows = []
    for (unit, inst), g in e.groupby([e["unit_code"].astype(str), "instrument"], sort=False):
        lows = g.loc[g.groupby("wave")["estimate"].idxmin()]
        n_waves = g["wave"].nunique()
        for code, h in lows.groupby("index_code"):
            if len(h) >= min_waves:
                last = h.sort_values("wave").iloc[-1]
                rows.append(
                    {
                        "unit_code": unit,
                        "unit_name": str(last["unit_name"]),
                        "index_code": str(code),
                        "label_vi": str(last["label_vi"]),
                        "instrument": str(inst),
                        "waves": ", ".join(sorted(h["wave"].astype(str))),
                        "n_lowest": len(h),
                        "n_waves": int(n_waves),
                    }
                )
    return pd.DataFrame(
        rows,
        columns=["unit_code", "unit_name", "index_code", "label_vi", "instrument", "waves",
                 "n_lowest", "n_waves"],
    )  # fmt: skip


def part_quadrants(ipa: pd.DataFrame, estimates: pd.DataFrame) -> pd.DataFrame:
    """Importance–performance quadrants within each part, cut at the part's medians.

    Adds ``part`` (the item's part: ``chinh_sach`` / ``dich_vu``) and ``quadrant_part``
    (``uu_tien`` high importance and low performance, ``duy_tri`` high / high, ``theo_doi``
    low / low, ``giu_vung`` low / high; "high" = at or above the part's median).
    """
    est = no_subgroups(estimates)
    parents = (
        est.dropna(subset=["parent_code"]).drop_duplicates("index_code")
        .set_index("index_code")["parent_code"].astype(str).to_dict()
    )  # fmt: skip
    levels = est.drop_duplicates("index_code").set_index("index_code")["index_level"].to_dict()

    def part_of(code: str) -> str:
        seen = set()
        while code in parents and levels.get(code) != "part" and code not in seen:
            seen.add(code)
            code = parents[code]
        return code if levels.get(code) == "part" else ""

    out = ipa.copy()
    out["part"] = [part_of(str(c)) for c in out["index_code"]]
    quad = []
    med = out.groupby("part")[["importance", "performance"]].transform("median")
    for imp, perf, mi, mp in zip(
        out["importance"], out["performance"], med["importance"], med["performance"], strict=True
    ):
        if imp >= mi:
            quad.append("uu_tien" if perf < mp else "duy_tri")
        else:
            quad.append("theo_doi" if perf < mp else "giu_vung")
    out["quadrant_part"] = quad
    return out


def read_targets(path: str | os.PathLike[str] | None) -> pd.DataFrame | None:
    """Read the province's own targets (CSV: ``survey, index_code, target[, year, unit_code,
    is_example]``); None without a file.

    Examples
    --------
    A file with the line ``sipas,sipas,85`` under its header sets an 85% target for the overall
    SIPAS of every unit and year.
    """
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise SipasError(f"Targets file not found: {path}")
    table = pd.read_csv(path, encoding="utf-8-sig", dtype={"unit_code": "string"})
    missing = [c for c in ("survey", "index_code", "target") if c not in table.columns]
    if missing:
        raise SipasError(f"{path}: the targets file lacks column(s) {', '.join(missing)}")
    table.attrs["source"] = path.name  # named in the notes under the charts
    return table


# ----------------------------------------------------------------------- reference bands
#: Half-width of the "near the reference" band, in percentage points (SIPAS) or points (PAPI).
NEAR_POINTS = 2.0

#: Band codes of :func:`reference_bands`, lowest first.
BANDS = ("below", "near", "above")


def reference_bands(
    values: Sequence[float] | np.ndarray | pd.Series,
    references: Sequence[float] | np.ndarray | pd.Series | float,
    near: float = NEAR_POINTS,
) -> np.ndarray:
    """The band of each value against its reference: -1 below, 0 near, 1 above (NaN if either
    is missing). The one band rule of the heatmap colours and of any text about them.

    A value is *near* when it lies within ``near`` points of its reference (both ends included),
    *below* when it is lower by more than ``near``, *above* when higher by more than ``near``.

    >>> reference_bands([79.9, 80.0, 82.0, 84.1, float("nan")], 82.0).tolist()
    [-1.0, 0.0, 0.0, 1.0, nan]
    """
    v = np.asarray(values, dtype=float)
    r = np.broadcast_to(np.asarray(references, dtype=float), v.shape)
    diff = np.round(v - r, 9)  # 84.0 - 82.0 is exactly "near", not above by a rounding error
    out = np.where(diff < -near, -1.0, np.where(diff > near, 1.0, 0.0))
    return np.where(np.isfinite(v) & np.isfinite(r), out, np.nan)


def band_labels(reference: str, near: float = NEAR_POINTS, unit: str = "điểm phần trăm") -> dict:
    """Vietnamese legend of the three bands (code -> text) against ``reference`` (e.g. "mốc").

    >>> band_labels("mốc so sánh")[-1]
    'Thấp hơn mốc so sánh hơn 2 điểm phần trăm'
    """
    n = f"{near:g}".replace(".", ",")
    return {
        -1: f"Thấp hơn {reference} hơn {n} {unit}",
        0: f"Gần {reference} (chênh lệch không quá {n} {unit})",
        1: f"Cao hơn {reference} hơn {n} {unit}",
    }


def heatmap_references(
    estimates: pd.DataFrame,
    wave: str,
    codes: Sequence[str],
    targets: pd.DataFrame | None = None,
    *,
    survey: str = "sipas",
    unit_code: str = "total",
) -> pd.DataFrame:
    """The reference of each index code: its target if the targets file has one, else the value
    of the whole survey area (``unit_code`` ``"total"``) in that wave.

    Returns
    -------
    DataFrame
        ``index_code, reference, source`` (``"target"``, ``"target_example"`` or ``"area"``);
        a code with neither has a missing reference.
    """
    est = no_subgroups(estimates)
    area = est[
        value_is(est["survey"], survey)
        & value_is(est["wave"], wave)
        & value_is(est["unit_code"], unit_code)
        & (est["flag"].astype(str) != "suppressed")
    ]
    area_value = area.drop_duplicates("index_code").set_index("index_code")["estimate"]
    rows = []
    for code in dict.fromkeys(str(c) for c in codes):
        t, example = _target(targets, survey, code, wave, unit_code)
        if t is not None:
            rows.append((code, t, "target_example" if example else "target"))
        else:
            v = area_value.get(code)
            rows.append((code, float(v) if v is not None and pd.notna(v) else np.nan, "area"))
    return pd.DataFrame(rows, columns=["index_code", "reference", "source"])
