"""Trends across survey waves: changes with honest SEs, comparability breaks never bridged.

Two jobs:

* :func:`trend_table` — from the estimates table of several waves, the change of every index and
  unit between consecutive waves (and from a base wave), with the SE of independent samples
  :math:`\\sqrt{se_1^2 + se_2^2}` (:func:`sipas_analysis.estimate.difference_independent`), CI,
  p-value and a significance flag. Across a comparability break (SIPAS 2017 → 2022 instrument,
  PAPI 2016 and 2018, the July 2025 commune boundaries) the row is kept with ``comparable=False``
  and no change is estimated. The breaks are data: ``comparability_breaks.yaml`` next to this file.
* :func:`to_2025_geography` — re-express the respondents of a pre-2025 wave on the 19 new
  communes through the crosswalk, so that pre-2025 waves can be estimated on the 2025 geography
  and trends run across the change.

Examples
--------
>>> import pandas as pd
>>> est = pd.DataFrame({"survey": "sipas", "wave": ["2023", "2024"],
...                     "instrument": "sipas-2022", "level": "total", "unit_code": "total",
...                     "unit_name": "Toàn vùng khảo sát", "boundary_vintage": "pre2025",
...                     "subgroup": "", "index_level": "overall", "index_code": "sipas",
...                     "label_vi": "SIPAS", "estimate": [75.0, 80.0], "se": [3.0, 4.0],
...                     "ci_level": 0.95, "n": 500, "flag": "ok"})
>>> t = trend_table(est)
>>> t[["wave_from", "wave_to", "change", "se_change", "comparable"]].to_numpy().tolist()
[['2023', '2024', 5.0, 5.0, True]]
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sipas_analysis import geography
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate import difference_independent

__all__ = [
    "TREND_COLUMNS",
    "load_breaks",
    "comparability",
    "trend_table",
    "to_2025_geography",
    "wave_year",
]

_BREAKS_FILE = Path(__file__).resolve().parent / "comparability_breaks.yaml"

#: Columns of the trends table (the contract), in order; extra columns follow them.
TREND_COLUMNS = [
    "survey",
    "unit_code",
    "unit_name",
    "level",
    "index_code",
    "label_vi",
    "wave_from",
    "wave_to",
    "estimate_from",
    "estimate_to",
    "change",
    "se_change",
    "ci_low",
    "ci_high",
    "p_value",
    "significant",
    "comparable",
]
_EXTRA = [
    "subgroup",
    "index_level",
    "comparison",
    "instrument_from",
    "instrument_to",
    "boundary_vintage",
    "flag_from",
    "flag_to",
    "n_from",
    "n_to",
    "ci_level",
    "break_reason_vi",
]
_REQUIRED = [
    "survey",
    "wave",
    "instrument",
    "level",
    "unit_code",
    "boundary_vintage",
    "index_code",
    "estimate",
    "se",
]
_KEY = ["survey", "level", "unit_code", "subgroup", "index_code"]


@functools.lru_cache(maxsize=4)
def _read_breaks(path: str) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def load_breaks(path: str | Path | None = None) -> dict:
    """Read the comparability breaks (default: ``comparability_breaks.yaml`` beside this module).

    Returns
    -------
    dict
        ``instrument_series`` (instrument -> series), ``year_breaks`` (list of
        ``{survey, year, indices, reason_vi}``), ``instrument_reason_vi``,
        ``geography_reason_vi``.

    Raises
    ------
    SipasError
        The file lacks one of these keys.

    Examples
    --------
    >>> sorted(load_breaks()["instrument_series"])[:2]
    ['papi-2011', 'papi-2018']
    """
    data = _read_breaks(str(path or _BREAKS_FILE))
    for key in ("instrument_series", "year_breaks", "instrument_reason_vi", "geography_reason_vi"):
        if key not in data:
            raise SipasError(f"{path or _BREAKS_FILE}: missing key {key!r}")
    return data


def wave_year(wave: object) -> int:
    """The year of a wave label (its first four characters: ``"2024"``, ``"2024b"`` -> 2024)."""
    text = str(wave)
    digits = "".join(ch for ch in text[:4] if ch.isdigit())
    if len(digits) != 4:
        raise InputError("a wave must start with its 4-digit year", column="wave", values=[wave])
    return int(digits)


def _affects(spec: object, index_code: str) -> bool:
    if spec == "all" or spec is None:
        return True
    code = str(index_code)
    return any(code == p or code.startswith(f"{p}_") for p in spec)


def comparability(
    survey: str,
    index_code: str,
    wave_from: str,
    wave_to: str,
    instrument_from: str,
    instrument_to: str,
    vintage_from: str,
    vintage_to: str,
    breaks: Mapping | None = None,
) -> tuple[bool, str]:
    """Whether two waves' results of one index may be compared, and if not, why.

    Parameters
    ----------
    survey : {"sipas", "papi"}
    index_code : str
    wave_from, wave_to : str
        Waves (their first four characters are the survey year).
    instrument_from, instrument_to : str
        Instruments of the two waves.
    vintage_from, vintage_to : str
        Boundary vintages of the two results ("pre2025" / "2025").
    breaks : dict, optional
        As returned by :func:`load_breaks` (default: the bundled file).

    Returns
    -------
    (bool, str)
        ``(True, "")`` or ``(False, reason in Vietnamese)`` (several reasons joined by "; ").

    Notes
    -----
    Not comparable when (a) the instruments belong to different series, (b) a year break of the
    survey affecting the index lies in :math:`(y_{from}, y_{to}]`, or (c) the boundary vintages
    differ (any level: the 2025 communes cover slightly different territory, so areas and the
    whole survey area are compared only after re-expression, :func:`to_2025_geography`).

    Examples
    --------
    >>> comparability("papi", "d1", "2017", "2018", "papi-2011", "papi-2018", "pre2025",
    ...               "pre2025")[0]
    False
    >>> comparability("sipas", "sipas", "2023", "2024", "sipas-2022", "sipas-2022", "pre2025",
    ...               "pre2025")
    (True, '')
    """
    b = breaks if breaks is not None else load_breaks()
    reasons = []
    series = b["instrument_series"]
    s_from = series.get(instrument_from, instrument_from)
    s_to = series.get(instrument_to, instrument_to)
    if s_from != s_to:
        reasons.append(
            b["instrument_reason_vi"].format(
                instrument_from=instrument_from, instrument_to=instrument_to
            )
        )
    y0, y1 = sorted((wave_year(wave_from), wave_year(wave_to)))
    for brk in b["year_breaks"]:
        if brk["survey"] == survey and y0 < int(brk["year"]) <= y1:
            if _affects(brk.get("indices", "all"), index_code):
                reasons.append(brk["reason_vi"])
    if str(vintage_from) != str(vintage_to):
        reasons.append(
            b["geography_reason_vi"].format(vintage_from=vintage_from, vintage_to=vintage_to)
        )
    return (not reasons, "; ".join(dict.fromkeys(reasons)))


def _suppressed(flag: pd.Series) -> np.ndarray:
    f = flag.astype("string").fillna("")
    return (f.str.contains("suppressed") | f.str.contains("empty")).to_numpy(dtype=bool)


def trend_table(
    estimates: pd.DataFrame,
    *,
    base_wave: str | None = None,
    consecutive: bool = True,
    alpha: float = 0.05,
    breaks: Mapping | None = None,
) -> pd.DataFrame:
    """Changes of every index and unit between waves, with SE, CI, p-value and comparability.

    Parameters
    ----------
    estimates : pandas.DataFrame
        The estimates table (contract columns; at least ``survey, wave, instrument, level,
        unit_code, boundary_vintage, index_code, estimate, se``; ``subgroup``, ``unit_name``,
        ``label_vi``, ``index_level``, ``n``, ``flag``, ``ci_level`` and ``df`` are used when
        present). Several waves, one or both surveys. Not modified.
    base_wave : str, optional
        Also compare every later wave with this wave (rows with ``comparison == "base"``).
    consecutive : bool, default True
        Compare each wave with the previous wave in which the unit and index exist
        (``comparison == "consecutive"``).
    alpha : float, default 0.05
        Significance level of the flag (two-sided, not adjusted for multiple comparisons: the
        weak-point analysis, :mod:`sipas_analysis.findings`, applies Benjamini–Hochberg).
    breaks : dict, optional
        Comparability breaks (default :func:`load_breaks`).

    Returns
    -------
    pandas.DataFrame
        :data:`TREND_COLUMNS` then ``subgroup, index_level, comparison, instrument_from,
        instrument_to, boundary_vintage, flag_from, flag_to, n_from, n_to, ci_level,
        break_reason_vi``. One row per (unit, subgroup, index, pair of waves). ``change =
        estimate_to - estimate_from``.

    Raises
    ------
    InputError
        Missing columns, or two rows for the same (survey, wave, level, unit, subgroup, index,
        boundary vintage).

    Notes
    -----
    Waves are independent samples, so

    .. math:: \\widehat{se}(\\hat\\theta_2-\\hat\\theta_1) = \\sqrt{se_1^2+se_2^2},\\qquad
              z = (\\hat\\theta_2-\\hat\\theta_1)/\\widehat{se},

    with the interval :math:`\\pm t_{\\nu,1-\\alpha/2}\\,\\widehat{se}` (Welch–Satterthwaite
    :math:`\\nu` when the table has a ``df`` column, the normal quantile otherwise) and the
    two-sided p-value from the same distribution.
    ``significant = comparable and p < alpha`` and neither end suppressed.

    Never bridged: across a break (:func:`comparability`) the row keeps both estimates but
    ``change``, ``se_change``, the interval and ``p_value`` are NaN and ``significant`` is False.
    A suppressed end (n < 10, flag ``suppressed``/``empty``) has its estimate blanked and no
    change either. When a wave has results on two boundary vintages (a pre-2025 wave
    re-expressed on 2025 communes), each later result is paired with the earlier result of the
    same vintage when there is one.

    Examples
    --------
    >>> import pandas as pd
    >>> est = pd.DataFrame({"survey": "sipas", "wave": ["2021", "2022"],
    ...                     "instrument": ["sipas-2017", "sipas-2022"], "level": "total",
    ...                     "unit_code": "total", "boundary_vintage": "pre2025",
    ...                     "index_code": "sipas", "estimate": [84.0, 80.0], "se": [1.0, 1.0]})
    >>> r = trend_table(est).iloc[0]
    >>> bool(r.comparable), bool(r.significant), bool(np.isnan(r.change))
    (False, False, True)
    """
    missing = [c for c in _REQUIRED if c not in estimates.columns]
    if missing:
        raise InputError(
            f"the estimates table lacks column(s) {missing}", column=missing[0], values=missing
        )
    if not 0 < alpha < 1:
        raise SipasError(f"alpha must lie between 0 and 1, not {alpha!r}")
    b = breaks if breaks is not None else load_breaks()
    est = estimates.copy()
    for col, default in (
        ("subgroup", ""),
        ("unit_name", ""),
        ("label_vi", ""),
        ("index_level", ""),
        ("flag", "ok"),
        ("n", np.nan),
        ("ci_level", 0.95),
    ):
        if col not in est.columns:
            est[col] = default
    est["subgroup"] = est["subgroup"].fillna("").astype(str)
    est["wave"] = est["wave"].astype(str)
    est["unit_code"] = est["unit_code"].astype(str)
    est["_year"] = est["wave"].map(wave_year)
    dup = est.duplicated([*_KEY, "wave", "boundary_vintage"], keep=False)
    if dup.any():
        first = est.loc[dup, [*_KEY, "wave", "boundary_vintage"]].iloc[0].to_dict()
        raise InputError(
            "the estimates table has several rows for one (survey, wave, level, unit, subgroup, "
            f"index, boundary_vintage): {first}",
            rows=(np.flatnonzero(dup.to_numpy()) + 2).tolist(),
        )
    supp = _suppressed(est["flag"])
    est.loc[supp, ["estimate", "se"]] = np.nan
    est["_supp"] = supp
    est = est.reset_index(drop=True)

    gid = est.groupby(_KEY, sort=False, dropna=False).ngroup().to_numpy()
    est["_gid"] = gid
    est["_idx"] = np.arange(len(est))
    slim = est[["_gid", "_year", "_idx", "wave", "boundary_vintage"]]
    found = []
    if consecutive:
        yrs = slim[["_gid", "_year"]].drop_duplicates().sort_values(["_gid", "_year"])
        yrs["_from_year"] = yrs.groupby("_gid")["_year"].shift(1)
        to = slim.merge(yrs, on=["_gid", "_year"]).dropna(subset=["_from_year"])
        to["_from_year"] = to["_from_year"].astype("int64")
        found.append((to, "consecutive", None))
    if base_wave is not None:
        yb = wave_year(base_wave)
        to = slim[slim["_year"] > yb].assign(_from_year=yb)
        found.append((to, "base", str(base_wave)))
    parts = []
    for to, kind, wave_pref in found:
        fr = slim.rename(
            columns={
                "_year": "_from_year",
                "_idx": "_i_from",
                "wave": "_wave_from",
                "boundary_vintage": "_v_from",
            }
        )
        m = to.merge(fr, on=["_gid", "_from_year"])
        if m.empty:
            continue
        m["_pref_v"] = (m["_v_from"] != m["boundary_vintage"]).astype(int)
        m["_pref_w"] = 0 if wave_pref is None else (m["_wave_from"] != wave_pref).astype(int)
        m = m.sort_values(["_idx", "_pref_w", "_pref_v", "_i_from"], kind="stable")
        m = m.drop_duplicates("_idx")
        parts.append(pd.DataFrame({"i_from": m["_i_from"], "i_to": m["_idx"], "kind": kind}))
    if not parts:
        return pd.DataFrame(columns=TREND_COLUMNS + _EXTRA)
    pr = pd.concat(parts, ignore_index=True).sort_values(["i_to", "kind"], ascending=[True, False])
    pairs = list(zip(pr["i_from"], pr["i_to"], pr["kind"], strict=True))
    i_from = pr["i_from"].to_numpy()
    i_to = pr["i_to"].to_numpy()
    a = est.loc[i_to].reset_index(drop=True)
    f = est.loc[i_from].reset_index(drop=True)
    comp, reason = [], []
    for ra, rf in zip(a.itertuples(index=False), f.itertuples(index=False), strict=True):
        ok, why = comparability(
            ra.survey,
            ra.index_code,
            rf.wave,
            ra.wave,
            rf.instrument,
            ra.instrument,
            rf.boundary_vintage,
            ra.boundary_vintage,
            b,
        )
        comp.append(ok)
        reason.append(why)
    comp = np.array(comp, dtype=bool)
    cols = ["estimate", "se"] + (["df"] if "df" in est.columns else [])
    ta = a[cols].assign(_pair=np.arange(len(a)))
    tf = f[cols].assign(_pair=np.arange(len(a)))
    level = float(a["ci_level"].iloc[0]) if pd.notna(a["ci_level"].iloc[0]) else 0.95
    d = difference_independent(ta, tf, on=["_pair"], ci_level=level).sort_values("_pair")
    usable = comp & ~a["_supp"].to_numpy() & ~f["_supp"].to_numpy()
    out = pd.DataFrame(
        {
            "survey": a["survey"],
            "unit_code": a["unit_code"],
            "unit_name": a["unit_name"],
            "level": a["level"],
            "index_code": a["index_code"],
            "label_vi": a["label_vi"],
            "wave_from": f["wave"],
            "wave_to": a["wave"],
            "estimate_from": f["estimate"],
            "estimate_to": a["estimate"],
        }
    )
    for src, dst in (
        ("estimate", "change"),
        ("se", "se_change"),
        ("ci_low", "ci_low"),
        ("ci_high", "ci_high"),
        ("p_value", "p_value"),
    ):
        out[dst] = np.where(usable, d[src].to_numpy(dtype=float), np.nan)
    p = out["p_value"].to_numpy(dtype=float)
    out["significant"] = usable & np.isfinite(p) & (p < alpha)
    out["comparable"] = comp
    out["subgroup"] = a["subgroup"]
    out["index_level"] = a["index_level"]
    out["comparison"] = [p[2] for p in pairs]
    out["instrument_from"] = f["instrument"]
    out["instrument_to"] = a["instrument"]
    out["boundary_vintage"] = a["boundary_vintage"]
    out["flag_from"] = f["flag"]
    out["flag_to"] = a["flag"]
    out["n_from"] = f["n"]
    out["n_to"] = a["n"]
    out["ci_level"] = level
    out["break_reason_vi"] = reason
    return out[TREND_COLUMNS + _EXTRA].reset_index(drop=True)


def to_2025_geography(
    respondents: pd.DataFrame,
    *,
    commune: str = "commune_code",
    weight: str = "weight",
    vintage: str | None = "boundary_vintage",
) -> pd.DataFrame:
    """Re-express respondents of a pre-2025 wave on the 19 new (2025) communes.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table (:func:`sipas_analysis.waves.read_wave`) with old (pre-2025)
        commune codes. Not modified.
    commune : str, default "commune_code"
        Column with the pre-2025 GSO commune code.
    weight : str, default "weight"
        Column with the survey weight.
    vintage : str or None, default "boundary_vintage"
        Column with each row's boundary vintage, if present: rows already on ``"2025"`` are kept
        as they are.

    Returns
    -------
    pandas.DataFrame
        A new table, same columns, where ``commune`` holds the 2025 commune code and
        ``commune_name``, ``area_code``, ``area_name`` (when present) and ``boundary_vintage`` are
        those of the new commune; plus ``old_commune_code`` and ``crosswalk_share``. Strata, PSUs
        and every other column are unchanged.

    Raises
    ------
    InputError
        A commune code that is not a pre-2025 commune of the survey areas (rows named), or a
        missing/invalid weight.

    Notes
    -----
    Every old commune maps to one new commune (share 1) except Xã Đức Hòa Thượng (27967), split
    between Xã Đức Lập (27964) and Xã Mỹ Hạnh (27976) with population shares
    :math:`s_k` (:func:`sipas_analysis.geography.crosswalk`, :math:`\\sum_k s_k = 1`). Each
    respondent of the split commune appears once per new commune with weight
    :math:`w_i s_k`, so for every new commune :math:`c`

    .. math:: \\hat N_c = \\sum_{i \\to c} w_i s_{i c}, \\qquad
              \\sum_c \\hat N_c = \\sum_i w_i \\sum_k s_{ik} = \\sum_i w_i ,

    the total weighted count (and, since no new commune crosses an area boundary, every area's
    weighted count) is kept. Variance caveat: the split commune's respondents are not located in
    either part; the method assumes each part resembles the whole old commune, and the two copies
    of a respondent sit in the same PSU, so design-based SEs for the whole survey area are
    unaffected but those of Xã Đức Lập and Xã Mỹ Hạnh rest on respondents shared between them
    (their covariance is positive; unweighted ``n`` counts these respondents in both).

    Examples
    --------
    >>> import pandas as pd
    >>> r = pd.DataFrame({"commune_code": [27694, 27967], "weight": [10.0, 8.0]})
    >>> out = to_2025_geography(r)
    >>> out[["commune_code", "old_commune_code", "weight"]].to_numpy().tolist()
    [[27694.0, 27694.0, 10.0], [27964.0, 27967.0, 4.0], [27976.0, 27967.0, 4.0]]
    >>> float(out["weight"].sum()) == float(r["weight"].sum())
    True
    """
    for col in (commune, weight):
        if col not in respondents.columns:
            raise InputError(f"column {col!r} not in the respondent table", column=col)
    df = respondents.copy()
    df["_pos"] = np.arange(len(df))
    if vintage is not None and vintage in df.columns:
        done = df[vintage].astype(str) == "2025"
    else:
        done = pd.Series(False, index=df.index)
    todo = df[~done]
    cw = geography.crosswalk()[["old_code", "new_code", "share"]]
    codes = pd.to_numeric(todo[commune], errors="coerce")
    unknown = codes.isna() | ~codes.isin(cw["old_code"])
    if unknown.any():
        pos = todo.loc[unknown, "_pos"].to_numpy()
        rows = (
            todo.loc[unknown, "source_row"].tolist()
            if "source_row" in todo.columns
            else (pos + 2).tolist()
        )
        raise InputError(
            "commune code is not a pre-2025 commune of the survey areas / mã xã không có trong "
            "bảng chuyển đổi địa giới",
            column=commune,
            rows=rows,
            values=pd.unique(todo.loc[unknown, commune].astype(object)).tolist(),
        )
    w = pd.to_numeric(todo[weight], errors="coerce")
    if (w.isna() | (w < 0)).any():
        bad = w.isna() | (w < 0)
        raise InputError(
            "weights must be non-negative numbers",
            column=weight,
            rows=(todo.loc[bad, "_pos"].to_numpy() + 2).tolist(),
        )
    todo = todo.assign(_old=codes.astype("int64").to_numpy())
    m = todo.merge(cw, left_on="_old", right_on="old_code", how="left", sort=False)
    m = m.sort_values(["_pos", "new_code"], kind="stable")
    m[weight] = pd.to_numeric(m[weight]) * m["share"]
    m["old_commune_code"] = m["_old"]
    m["crosswalk_share"] = m["share"]
    m[commune] = m["new_code"].astype(respondents[commune].dtype, errors="ignore")
    new = geography.communes("2025").set_index("commune_code")
    for col in ("commune_name", "area_code", "area_name"):
        if col in m.columns:
            mapped = m["new_code"].map(new[col])
            m[col] = mapped.astype(respondents[col].dtype, errors="ignore")
    if vintage is not None:
        m[vintage if vintage else "boundary_vintage"] = "2025"
    keep = [*respondents.columns, "old_commune_code", "crosswalk_share", "_pos"]
    if vintage is not None and vintage not in keep:
        keep.insert(len(respondents.columns), vintage)
    m = m[keep]
    if done.any():
        d = df[done].assign(old_commune_code=np.nan, crosswalk_share=1.0)
        m = pd.concat([m, d[keep]], ignore_index=True).sort_values("_pos", kind="stable")
    return m.drop(columns="_pos").reset_index(drop=True)
