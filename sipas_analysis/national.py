"""Benchmarks: the province's results set against the official PAPI and SIPAS series.

* :func:`papi_benchmarks` — Long An's published PAPI (2011–2024: dimensions D1–D8 and the total),
  with the national minimum, median and best province, the rank and PAPI's quartile group
  (nhóm đạt điểm cao nhất / trung bình cao / trung bình thấp / thấp nhất), flagged when the
  province sits within one rank of a group cut. Every rank names its basis (``rank_basis``:
  PAPI ranks provinces by the *unweighted* total, or by the dimension score) and, where the
  official workbook publishes standard errors, carries a 95% joint rank confidence set
  (``rank_low`` – ``rank_high``).
* :func:`national_from_official` — the same national figures recomputed from the official
  workbooks (:func:`sipas_analysis.official.read_papi_workbooks`), with the best province named
  and the rank confidence set from the published SEs.
* :func:`sipas_benchmarks` — the published SIPAS figures (national and the province's, 2018–2024).
* :func:`benchmark_values` — one long table of comparison values (national median, national
  SIPAS) by survey, year and index code, used by :mod:`sipas_analysis.findings`.

Labels and code mappings are data: ``national_benchmarks.yaml`` next to this module.

Examples
--------
>>> t = papi_benchmarks()
>>> r = t[(t.year == 2019) & (t.index_code == "papi")].iloc[0]
>>> float(r.province_value), int(r["rank"]), r.quartile_group_vi
(41.7018, 54, 'Nhóm đạt điểm thấp nhất')
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.instruments import load_instrument

__all__ = [
    "QUARTILE_RULES",
    "PAPI_BENCHMARK_COLUMNS",
    "RANK_ALPHA",
    "rank_basis",
    "quartile_cuts",
    "quartile_groups",
    "papi_benchmarks",
    "national_from_official",
    "sipas_benchmarks",
    "benchmark_values",
]

_DATA_FILE = Path(__file__).resolve().parent / "national_benchmarks.yaml"

#: Named quartile-group rules (the official cut rule is not published).
QUARTILE_RULES = ("balanced", "round")

#: Columns of the PAPI benchmarks table (the contract), in order; extras follow them.
PAPI_BENCHMARK_COLUMNS = [
    "year",
    "index_code",
    "label_vi",
    "province_value",
    "national_median",
    "national_max",
    "quartile_group_vi",
]
_PAPI_EXTRA = [
    "national_min",
    "rank",
    "rank_low",
    "rank_high",
    "rank_basis",
    "n_provinces",
    "quartile_group",
    "near_cut",
    "quartile_rule",
    "instrument",
    "best_province",
    "source",
]


#: 1 - confidence level of the joint rank confidence sets of provinces.
RANK_ALPHA = 0.05


@functools.lru_cache(maxsize=1)
def _data() -> dict:
    with open(_DATA_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def quartile_cuts(n_provinces: int, rule: str = "balanced") -> tuple[int, int, int]:
    """Last rank of groups 1, 2 and 3 among ``n_provinces`` ranked provinces.

    Parameters
    ----------
    n_provinces : int
        Provinces with a score (the rank's denominator), at least 4.
    rule : {"balanced", "round"}
        ``"balanced"`` (default): every group gets :math:`\\lfloor n/4 \\rfloor` provinces and
        the remainder :math:`r = n \\bmod 4` goes one each to the lowest group, then the highest,
        then the upper-middle group. It reproduces both published group sizes (16/16/15/16 of 63,
        15/15/15/16 of 61) and Long An's published groups (best 2011–2015 and 2017; lowest in
        2019, 2022, 2023). ``"round"``: cuts at :math:`\\lfloor kn/4 + 1/2 \\rfloor`,
        k = 1, 2, 3 (16/16/15/16 of 63 but 15/16/15/15 of 61).

    Returns
    -------
    (int, int, int)
        Cumulative cut ranks :math:`c_1 < c_2 < c_3`; group g holds ranks
        :math:`c_{g-1}+1 .. c_g` (:math:`c_0 = 0`, :math:`c_4 = n`).

    Raises
    ------
    SipasError
        Unknown rule or fewer than 4 provinces.

    Examples
    --------
    >>> quartile_cuts(63), quartile_cuts(61), quartile_cuts(61, "round")
    ((16, 32, 47), (15, 30, 45), (15, 31, 46))
    """
    n = int(n_provinces)
    if n < 4:
        raise SipasError(f"quartile groups need at least 4 ranked provinces, not {n}")
    if rule == "balanced":
        base, r = divmod(n, 4)
        sizes = [base] * 4
        for g in (3, 0, 1)[:r]:
            sizes[g] += 1
        c = np.cumsum(sizes)
        return int(c[0]), int(c[1]), int(c[2])
    if rule == "round":
        c1, c2, c3 = (int(np.floor(k * n / 4 + 0.5)) for k in (1, 2, 3))
        return c1, c2, c3
    raise SipasError(f"quartile rule must be one of {QUARTILE_RULES}, not {rule!r}")


def quartile_groups(
    ranks: Sequence[float] | pd.Series,
    n_provinces: Sequence[float] | pd.Series,
    rule: str = "balanced",
) -> pd.DataFrame:
    """PAPI quartile group of each rank (1 = nhóm đạt điểm cao nhất ... 4 = thấp nhất).

    Parameters
    ----------
    ranks : sequence
        Rank among provinces with a score (1 = best); NA gives no group.
    n_provinces : sequence
        Number of provinces ranked, per rank.
    rule : {"balanced", "round"}
        See :func:`quartile_cuts`.

    Returns
    -------
    pandas.DataFrame
        ``quartile_group`` (Int64 1–4), ``quartile_group_vi``, ``near_cut`` (bool: the rank is
        the last of its group or the first of the next, :math:`r \\in \\{c_k, c_k + 1\\}`, so one
        rank up or down would change the group) and ``quartile_rule``.

    Raises
    ------
    InputError
        A rank outside 1..n.

    Examples
    --------
    >>> quartile_groups([3, 46, 45], [63, 61, 61])[["quartile_group", "near_cut"]].values.tolist()
    [[1, False], [4, True], [3, True]]
    """
    labels = _data()["quartile_groups_vi"]
    r = pd.to_numeric(pd.Series(list(ranks)), errors="coerce")
    n = pd.to_numeric(pd.Series(list(n_provinces)), errors="coerce")
    bad = r.notna() & (n.isna() | (r < 1) | (r > n))
    if bad.any():
        raise InputError(
            "rank outside 1..n_provinces / thứ hạng ngoài khoảng",
            column="rank",
            values=r[bad].tolist(),
        )
    group, near = [], []
    for rv, nv in zip(r, n, strict=True):
        if pd.isna(rv):
            group.append(pd.NA)
            near.append(False)
            continue
        cuts = quartile_cuts(int(nv), rule)
        g = 1 + sum(int(rv) > c for c in cuts)
        group.append(g)
        near.append(any(int(rv) in (c, c + 1) for c in cuts))
    out = pd.DataFrame({"quartile_group": pd.array(group, dtype="Int64"), "near_cut": near})
    out["quartile_group_vi"] = [
        labels[int(g)] if pd.notna(g) else "" for g in out["quartile_group"]
    ]
    out["quartile_rule"] = rule
    return out[["quartile_group", "quartile_group_vi", "near_cut", "quartile_rule"]]


@functools.lru_cache(maxsize=32)
def _dimension_labels(year: int) -> dict[str, str]:
    name = "papi-2018" if year >= 2018 else "papi-2011"
    nodes = load_instrument(name).nodes_at("dimension", year=year)
    return dict(zip(nodes["code"], nodes["label_vi"], strict=True))


def _papi_label(year: int, code: str) -> str:
    d = _data()
    if code == d["papi_total_code"]:
        return d["papi_total_label_vi"]
    return _dimension_labels(int(year)).get(code, code)


def rank_basis(index_code: str) -> str:
    """The score a PAPI provincial rank is a rank of.

    Parameters
    ----------
    index_code : str
        ``papi`` (the total) or a dimension code ``d1`` … ``d8``.

    Returns
    -------
    str
        ``"papi_unweighted_total"`` for the total: PAPI ranks provinces by the unweighted sum of
        the dimensions (8–80), not by the weighted total (docs/methodology.md, section 3);
        ``"papi_dimension_<code>"`` for a dimension.

    Examples
    --------
    >>> rank_basis("papi"), rank_basis("d4")
    ('papi_unweighted_total', 'papi_dimension_d4')
    """
    code = str(index_code).lower()
    if code in (_data()["papi_total_code"], "total"):
        return "papi_unweighted_total"
    return f"papi_dimension_{code}"


def _rank_set(values: np.ndarray, se: np.ndarray, own: int | None) -> tuple[object, object]:
    """Joint 95% rank confidence set (rank_low, rank_high) of position ``own`` (NA if no SEs)."""
    if own is None or not np.all(np.isfinite(se)):
        return pd.NA, pd.NA
    from sipas_analysis.small_area import rank_confidence_sets

    sets = rank_confidence_sets(values, se, alpha=RANK_ALPHA, joint=True, descending=True)
    return int(sets["rank_low"].iloc[own]), int(sets["rank_high"].iloc[own])


def national_from_official(official: pd.DataFrame, province_code: int = 80) -> pd.DataFrame:
    """National figures per year and dimension/total, recomputed from the official workbooks.

    Parameters
    ----------
    official : pandas.DataFrame
        Tidy table of :func:`sipas_analysis.official.read_papi_workbooks` (``year,
        province_code, province_name, level, code, value``).
    province_code : int, default 80 (Long An)
        The province whose value and rank are returned.

    Returns
    -------
    pandas.DataFrame
        ``year, index_code`` (d1 … d8, ``papi`` for the total), ``province_value,
        province_se, rank, rank_low, rank_high, rank_basis, n_provinces, national_min,
        national_median, national_max, best_province_code, best_province``.

    Notes
    -----
    Over the provinces with a value (blank = fewer than 15 answers, no score, no rank):
    :math:`\\text{rank}_p = 1 + \\#\\{q : v_q > v_p\\}` (ties share the best rank), median
    the middle value (mean of the two middle values for an even count), best = the maximum.
    ``rank_basis`` names the score ranked (:func:`rank_basis`: the unweighted total for
    ``papi``).

    ``rank_low`` – ``rank_high`` is the province's set in the joint 95% rank confidence sets of
    Klein, Wright and Wieczorek (2020)
    (:func:`sipas_analysis.small_area.rank_confidence_sets`, Bonferroni over the
    :math:`K(K-1)/2` pairs of the K ranked provinces): with the published standard errors
    :math:`s`, province q is counted above p when
    :math:`v_q - v_p > z_{1-\\alpha/(K(K-1))}\\sqrt{s_p^2 + s_q^2}`, and
    :math:`\\text{rank\\_low}_p = 1 + \\#\\{q \\text{ above } p\\}`,
    :math:`\\text{rank\\_high}_p = K - \\#\\{q \\text{ below } p\\}`; all provinces' true
    ranks lie in their sets at once with probability at least 95%. The published SEs are used,
    not the published bounds, which are :math:`v \\pm 1.645 s` (a 90% interval, as the official
    2019 workbook computes them). The set is NA when a ranked province has no published SE (the 2011–2017 files;
    dimension SEs are the square roots of the published variances).

    Examples
    --------
    >>> t = pd.DataFrame({"year": 2019, "province_code": [80, 1, 2], "province_name":
    ...                   ["Long An", "Hà Nội", "Hà Giang"], "level": "total",
    ...                   "code": "total", "value": [41.7, 43.0, 40.0]})
    >>> national_from_official(t)[["rank", "national_median", "best_province"]].values.tolist()
    [[2, 41.7, 'Hà Nội']]
    """
    need = ["year", "province_code", "level", "code", "value"]
    miss = [c for c in need if c not in official.columns]
    if miss:
        raise InputError(f"the official table lacks column(s) {miss}", column=miss[0])
    total_code = _data()["papi_total_code"]
    t = official[official["level"].isin(["dimension", "total"])].copy()
    t["index_code"] = np.where(t["level"] == "total", total_code, t["code"].astype(str))
    t = t[t["value"].notna()]
    if "province_name" not in t.columns:
        t["province_name"] = t["province_code"].astype(str)
    if "se" not in t.columns:
        t["se"] = np.nan
    rows = []
    for (year, code), g in t.groupby(["year", "index_code"], sort=True):
        v = g["value"].to_numpy(dtype=float)
        se = g["se"].to_numpy(dtype=float)
        best = g.iloc[int(np.argmax(v))]
        pos = np.flatnonzero(g["province_code"].to_numpy() == province_code)
        own = int(pos[0]) if pos.size else None
        pv = float(v[own]) if own is not None else np.nan
        rank = int(1 + np.sum(v > pv)) if own is not None else pd.NA
        low, high = _rank_set(v, se, own)
        rows.append(
            {
                "year": int(year),
                "index_code": code,
                "province_value": pv,
                "province_se": float(se[own]) if own is not None else np.nan,
                "rank": rank,
                "rank_low": low,
                "rank_high": high,
                "rank_basis": rank_basis(code),
                "n_provinces": int(v.size),
                "national_min": float(v.min()),
                "national_median": float(np.median(v)),
                "national_max": float(v.max()),
                "best_province_code": int(best["province_code"]),
                "best_province": str(best["province_name"]),
            }
        )
    out = pd.DataFrame(rows)
    if not out.empty:
        for c in ("rank", "rank_low", "rank_high"):
            out[c] = out[c].astype("Int64")
    return out


def papi_benchmarks(
    published: pd.DataFrame | None = None,
    *,
    rule: str = "balanced",
    official: pd.DataFrame | None = None,
    province_code: int = 80,
) -> pd.DataFrame:
    """The PAPI benchmarks table: province value, national median and best, quartile group.

    Parameters
    ----------
    published : pandas.DataFrame, optional
        The province's published series as read by
        :func:`sipas_analysis.official.read_published_papi` (default: Long An 2011–2024 from
        ``data/reference/longan_papi_dimensions_2011_2024.csv``).
    rule : {"balanced", "round"}
        Quartile-group rule (:func:`quartile_cuts`).
    official : pandas.DataFrame, optional
        Tidy official workbook table (:func:`sipas_analysis.official.read_papi_workbooks`):
        when given, ``best_province`` names the best province of each year and index it covers
        and ``rank_low`` / ``rank_high`` give the rank confidence set from its published SEs
        (:func:`national_from_official`).
    province_code : int, default 80
        Province of ``official`` (only used with ``official``).

    Returns
    -------
    pandas.DataFrame
        :data:`PAPI_BENCHMARK_COLUMNS` (``year, index_code`` (d1 … d8, ``papi``), ``label_vi,
        province_value, national_median, national_max`` (the best province's score),
        ``quartile_group_vi``) then ``national_min, rank, rank_low, rank_high, rank_basis,
        n_provinces, quartile_group, near_cut, quartile_rule, instrument, best_province,
        source``. ``rank`` is the published rank; ``rank_basis`` the score it ranks
        (``papi_unweighted_total`` for ``papi``: PAPI ranks the unweighted total, never the
        weighted one; ``papi_dimension_<code>`` for a dimension); ``rank_low`` – ``rank_high``
        the 95% joint rank confidence set from the published SEs (NA without ``official`` or
        where the workbook publishes no SE).

    Notes
    -----
    The quartile group is taken from the rank among the provinces with a score (published
    ``n_provinces``): the official cut rule is unknown, the rule used is named in
    ``quartile_rule`` and ``near_cut`` marks a province within one rank of a cut, whose group
    may differ under another rule. The published series breaks in 2016 and 2018 (see
    :mod:`sipas_analysis.trends`); ``instrument`` tells the 6-dimension (papi-2011) and
    8-dimension (papi-2018) years apart.

    Examples
    --------
    >>> t = papi_benchmarks()
    >>> t[(t.year == 2023) & (t.index_code == "papi")][["rank", "near_cut"]].values.tolist()
    [[46, True]]
    """
    if published is None:
        from sipas_analysis.official import read_published_papi

        published = read_published_papi()
    need = ["year", "code", "value", "rank", "n_provinces", "national_median", "national_max"]
    miss = [c for c in need if c not in published.columns]
    if miss:
        raise InputError(f"the published PAPI table lacks column(s) {miss}", column=miss[0])
    d = _data()
    p = published.reset_index(drop=True)
    codes = p["code"].astype(str).str.lower().replace({"total": d["papi_total_code"]})
    years = p["year"].astype(int)
    out = pd.DataFrame(
        {
            "year": years,
            "index_code": codes,
            "label_vi": [_papi_label(y, c) for y, c in zip(years, codes, strict=True)],
            "province_value": p["value"].astype(float),
            "national_median": p["national_median"].astype(float),
            "national_max": p["national_max"].astype(float),
        }
    )
    q = quartile_groups(p["rank"], p["n_provinces"], rule)
    out["quartile_group_vi"] = q["quartile_group_vi"]
    out["national_min"] = p["national_min"].astype(float) if "national_min" in p else np.nan
    out["rank"] = p["rank"].astype("Int64")
    out["rank_low"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["rank_high"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["rank_basis"] = [rank_basis(c) for c in codes]
    out["n_provinces"] = p["n_provinces"].astype("Int64")
    out["quartile_group"] = q["quartile_group"]
    out["near_cut"] = q["near_cut"]
    out["quartile_rule"] = rule
    out["instrument"] = np.where(years >= 2018, "papi-2018", "papi-2011")
    out["best_province"] = ""
    if official is not None:
        nat = national_from_official(official, province_code).set_index(["year", "index_code"])
        key = pd.MultiIndex.from_arrays([out["year"], out["index_code"]])
        out["best_province"] = nat["best_province"].reindex(key).fillna("").to_numpy()
        for c in ("rank_low", "rank_high"):
            out[c] = pd.array(nat[c].reindex(key).to_numpy(), dtype="Int64")
    out["source"] = p["source"] if "source" in p else ""
    return (
        out[PAPI_BENCHMARK_COLUMNS + _PAPI_EXTRA]
        .sort_values(["year", "index_code"])
        .reset_index(drop=True)
    )


def sipas_benchmarks(
    published: pd.DataFrame | None = None, *, province_code: int = 80
) -> pd.DataFrame:
    """Published SIPAS figures: the province's value beside the national value, by year.

    Parameters
    ----------
    published : pandas.DataFrame, optional
        As read by :func:`sipas_analysis.official.read_published_sipas` (default: the bundled
        ``data/reference/published_sipas.csv``).
    province_code : int, default 80 (Long An)

    Returns
    -------
    pandas.DataFrame
        ``year, index_code`` (``sipas``, ``chinh_sach``, ``dich_vu`` or an element code),
        ``label_vi, province_value, national_value, rank, n_provinces, instrument, source``;
        one row per (year, index) published nationally or for the province.

    Notes
    -----
    SIPAS publishes the national value (an average over provinces), not a median or the best
    province: the national value is the benchmark. 2017–2021 (sipas-2017) and 2022+
    (sipas-2022) are different surveys: compare within one instrument only.

    Examples
    --------
    >>> t = sipas_benchmarks()
    >>> s = t[(t.year == 2024) & (t.index_code == "sipas")]
    >>> s[["province_value", "national_value"]].values.tolist()
    [[82.71, 83.94]]
    """
    if published is None:
        from sipas_analysis.official import read_published_sipas

        published = read_published_sipas()
    d = _data()
    mapping = d["sipas_published_codes"]
    p = published.copy()
    unknown = sorted(set(p["index"]) - set(mapping))
    if unknown:
        raise InputError(
            "published SIPAS index without a code mapping in national_benchmarks.yaml",
            column="index",
            values=unknown,
        )
    p["index_code"] = p["index"].map(mapping)
    is_prov = p["province_code"].astype("Int64") == province_code
    nat = p[p["scope"] == "national"].set_index(["year", "index_code"])
    prov = p[is_prov.fillna(False)].set_index(["year", "index_code"])
    keys = nat.index.union(prov.index)
    out = pd.DataFrame(index=keys).reset_index()
    out["label_vi"] = out["index_code"].map(d["sipas_labels_vi"]).fillna(out["index_code"])
    out["province_value"] = prov["value_pct"].reindex(keys).to_numpy(dtype=float)
    out["national_value"] = nat["value_pct"].reindex(keys).to_numpy(dtype=float)
    out["rank"] = pd.array(prov["rank"].reindex(keys).to_numpy(), dtype="Int64")
    n_prov = prov["n_provinces"].reindex(keys).fillna(nat["n_provinces"].reindex(keys))
    out["n_provinces"] = pd.array(n_prov.to_numpy(), dtype="Int64")
    meth = prov["methodology"].reindex(keys).fillna(nat["methodology"].reindex(keys))
    out["instrument"] = meth.to_numpy()
    src = prov["source"].reindex(keys).fillna(nat["source"].reindex(keys))
    out["source"] = src.to_numpy()
    out["year"] = out["year"].astype(int)
    return out.sort_values(["year", "index_code"]).reset_index(drop=True)


def benchmark_values(
    papi: pd.DataFrame | None = None,
    sipas: pd.DataFrame | None = None,
    targets: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One long table of comparison values for the weak-point analysis.

    Parameters
    ----------
    papi : pandas.DataFrame, optional
        :func:`papi_benchmarks` output (default: computed from the bundled series).
    sipas : pandas.DataFrame, optional
        :func:`sipas_benchmarks` output (default: computed from the bundled figures).
    targets : pandas.DataFrame, optional
        The province's own targets: ``survey, index_code, target`` and optionally ``year``
        (NA = every year) and ``unit_code`` (NA = every unit).

    Returns
    -------
    pandas.DataFrame
        ``survey, year`` (Int64, NA for targets without a year), ``unit_code`` (NA = any unit),
        ``index_code, benchmark, benchmark_kind`` (``national_median`` | ``national`` |
        ``target``), ``benchmark_label``.

    Examples
    --------
    >>> b = benchmark_values()
    >>> b[(b.survey == "papi") & (b.year == 2024) & (b.index_code == "papi")].benchmark.tolist()
    [43.48]
    """
    d = _data()["benchmark_labels_vi"]
    papi = papi_benchmarks() if papi is None else papi
    sipas = sipas_benchmarks() if sipas is None else sipas
    frames = [
        pd.DataFrame(
            {
                "survey": "papi",
                "year": papi["year"].astype("Int64"),
                "unit_code": pd.NA,
                "index_code": papi["index_code"],
                "benchmark": papi["national_median"].astype(float),
                "benchmark_kind": "national_median",
                "benchmark_label": [d["papi_national_median"].format(year=y) for y in papi["year"]],
            }
        )
    ]
    s = sipas[sipas["national_value"].notna()]
    frames.append(
        pd.DataFrame(
            {
                "survey": "sipas",
                "year": s["year"].astype("Int64"),
                "unit_code": pd.NA,
                "index_code": s["index_code"],
                "benchmark": s["national_value"].astype(float),
                "benchmark_kind": "national",
                "benchmark_label": [d["sipas_national"].format(year=y) for y in s["year"]],
            }
        )
    )
    if targets is not None:
        need = ["survey", "index_code", "target"]
        miss = [c for c in need if c not in targets.columns]
        if miss:
            raise InputError(f"the targets table lacks column(s) {miss}", column=miss[0])
        tv = pd.to_numeric(targets["target"], errors="coerce")
        if tv.isna().any():
            raise InputError(
                "targets must be numbers",
                column="target",
                rows=(np.flatnonzero(tv.isna().to_numpy()) + 2).tolist(),
            )
        frames.append(
            pd.DataFrame(
                {
                    "survey": targets["survey"].astype(str),
                    "year": (
                        targets["year"].astype("Int64")
                        if "year" in targets
                        else pd.array([pd.NA] * len(targets), dtype="Int64")
                    ),
                    "unit_code": (
                        targets["unit_code"].astype("string") if "unit_code" in targets else pd.NA
                    ),
                    "index_code": targets["index_code"].astype(str),
                    "benchmark": tv.astype(float),
                    "benchmark_kind": "target",
                    "benchmark_label": d["target"],
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    out["unit_code"] = out["unit_code"].astype("string")
    return out
