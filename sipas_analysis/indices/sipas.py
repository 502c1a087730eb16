"""SIPAS indices of one wave: items, elements, parts, overall, perception and expectation.

From the canonical respondent table of a wave (:func:`sipas_analysis.waves.read_wave`) and its
instrument (:mod:`sipas_analysis.instruments`) this module builds the long estimates table
(``survey, wave, instrument, level, unit_code, unit_name, area_code, boundary_vintage, subgroup,
index_level, index_code, label_vi, estimate, se, ci_low, ci_high, ci_level, n, flag`` + extras) at
commune, area, whole-survey-area and subgroup level. Every standard error and interval comes from
the design-based engine (:mod:`sipas_analysis.estimate`): items in one vectorised pass over the full
design (domain estimation, rows are never filtered), composites (element = mean of items, part =
mean of elements, overall = mean of parts or elements) by linearisation with the covariance
between items (:func:`~sipas_analysis.estimate.composite_mean`).

Rules whose official form is not published (docs/methodology.md §2, column "status": inferred / unknown) are
named options of :class:`SipasOptions`, with the default documented there. The definition of
"satisfied" (top box) is read from the instrument, never written here.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from sipas_analysis import geography
from sipas_analysis.design import CALIBRATION_PREFIX, DESIGN_WEIGHT_COLUMN, LONELY_PSU_RULES
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate import (
    CI_METHODS,
    DF_RULES,
    MIN_N,
    SMALL_N,
    Estimates,
    composite_mean,
    estimate_levels,
    inherit_flags,
)
from sipas_analysis.instruments import Instrument, load_instrument

__all__ = [
    "ESTIMATE_COLUMNS",
    "LEVEL_COLUMNS",
    "SUBGROUP_COLUMNS",
    "TOTAL_NAME",
    "IndexWarning",
    "SipasOptions",
    "sipas_indices",
]

#: Columns of the estimates table (the shared contract), in order; extras follow them.
ESTIMATE_COLUMNS = [
    "survey",
    "wave",
    "instrument",
    "level",
    "unit_code",
    "unit_name",
    "area_code",
    "boundary_vintage",
    "subgroup",
    "index_level",
    "index_code",
    "label_vi",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "ci_level",
    "n",
    "flag",
]
#: Extra columns after the contract: the item's role, its parent node (None at the top), the
#: statistic, the interval method, degrees of freedom, PSUs with a valid answer and the engine's
#: detailed flags.
EXTRA_COLUMNS = ["role", "parent_code", "statistic", "ci_method", "df", "n_psu", "flag_detail"]
#: Geographic levels and the canonical column that defines their units.
LEVEL_COLUMNS: dict[str, str | None] = {
    "commune": "commune_code",
    "area": "area_code",
    "total": None,
}
#: Subgroup columns of the canonical respondent table.
SUBGROUP_COLUMNS = ("sex", "age_band", "urban_rural")
#: Name of the whole-survey-area unit (estimates contract).
TOTAL_NAME = "Toàn vùng khảo sát"
OVERALL_CODE = "sipas"
OVERALL_LABEL = "Chỉ số hài lòng SIPAS (tổng hợp)"

ITEM_STATISTICS = ("top2", "mean_score_0_100")
ELEMENT_RULES = ("mean_of_items", "respondent_mean")
OVERALL_RULES = ("mean_of_parts", "mean_of_elements")
_DESIGN_COLUMNS = ("weight", "stratum", "psu")


class IndexWarning(UserWarning):
    """Something in the data makes an index incomplete (items missing, answers filtered out)."""


@dataclass(frozen=True)
class SipasOptions:
    """Choices behind the SIPAS indices; each unpublished rule is a named option.

    Attributes
    ----------
    item_statistic : {"top2", "mean_score_0_100"}
        Item (criterion) index. ``"top2"`` (default, [inferred] from releases: "X% hài lòng và rất
        hài lòng"): weighted share of valid answers in the scale's ``top_box`` (read from the
        instrument; 4 or 5 on ``likert5``), in percent. ``"mean_score_0_100"``: weighted mean of
        the answers rescaled to 0–100, :math:`100\\,(x-a)/(b-a)` on the natural scale [a, b].
    element_rule : {"mean_of_items", "respondent_mean"}
        Element index ([unknown]). ``"mean_of_items"`` (default): the unweighted mean of the
        element's item indices in the domain. ``"respondent_mean"``: each respondent's mean over
        the element's items he or she answered, then the weighted mean over respondents with at
        least one valid answer (conditional items then weigh by who answers them).
    overall_rule : {"mean_of_parts", "mean_of_elements"}
        Overall SIPAS ([unknown]). ``"mean_of_parts"`` (default): for instruments with parts
        (``sipas-2022``: policy ``chinh_sach`` and service ``dich_vu``) each part is the mean of
        its elements and SIPAS the mean of the parts; without parts (``sipas-2017``) the mean of
        the elements. ``"mean_of_elements"``: SIPAS is the mean of all elements (parts are still
        reported as the mean of their elements).
    apply_filters : bool
        Default True: an answer to a conditional item (``filter`` in the instrument) given by a
        respondent whose filter answer says it does not apply is set to missing (counted in an
        :class:`IndexWarning`); a missing filter answer keeps the item's answer.
    include_perception, include_expectation : bool
        Add perception indices (weighted share of the positive answer, the item's ``top_box``)
        and expectation indices (share "rất nhiều"/"nhiều", the scale's ``top_box``). Default
        True.
    lonely_psu : str
        Rule for strata with one PSU (``"adjust"`` default, R's conservative choice; see
        :func:`sipas_analysis.design.survey_design`).
    ci_level : float
        Confidence level (0.95).
    ci_method : {"logit", "korn-graubard"}
        Interval for shares (logit default; stays inside [0, 100]).
    df : {"design", "domain"}
        Degrees of freedom of intervals (design default).
    small_n, min_n : int
        ``flag = "small_n"`` when n < small_n (30), ``"suppressed"`` when n < min_n (10): the row
        is kept, but its estimate must not be shown.
    """

    item_statistic: str = "top2"
    element_rule: str = "mean_of_items"
    overall_rule: str = "mean_of_parts"
    apply_filters: bool = True
    include_perception: bool = True
    include_expectation: bool = True
    lonely_psu: str = "adjust"
    ci_level: float = 0.95
    ci_method: str = "logit"
    df: str = "design"
    small_n: int = SMALL_N
    min_n: int = MIN_N

    def __post_init__(self) -> None:
        _choice("item_statistic", self.item_statistic, ITEM_STATISTICS)
        _choice("element_rule", self.element_rule, ELEMENT_RULES)
        _choice("overall_rule", self.overall_rule, OVERALL_RULES)
        _choice("lonely_psu", self.lonely_psu, LONELY_PSU_RULES)
        _choice("ci_method", self.ci_method, CI_METHODS)
        _choice("df", self.df, DF_RULES)
        if not 0 < self.ci_level < 1:
            raise SipasError(f"ci_level must lie strictly between 0 and 1, not {self.ci_level!r}")
        if not 0 < self.min_n <= self.small_n:
            raise SipasError("options need 0 < min_n <= small_n")

    def as_dict(self) -> dict:
        """The options as a plain dict (for a run manifest)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


def _choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise SipasError(f"option {name} must be one of {', '.join(allowed)}; got {value!r}")


# --------------------------------------------------------------------------------------------
# shared helpers (also used by indices.papi)
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Meta:
    survey: str
    wave: str
    instrument: str
    vintage: str
    year: int | None


def _single_value(df: pd.DataFrame, col: str, default: str | None = None) -> str:
    if col not in df.columns:
        if default is not None:
            return default
        raise InputError("the respondent table has no such column", column=col)
    values = pd.unique(df[col].dropna().astype(str))
    if len(values) == 0 and default is not None:
        return default
    if len(values) != 1:
        raise InputError(
            "the respondent table must hold exactly one value (one wave at a time)",
            column=col,
            values=list(values),
        )
    return str(values[0])


def _wave_year(wave: str) -> int | None:
    m = re.match(r"\s*(\d{4})", str(wave))
    return int(m.group(1)) if m else None


def _resolve_instrument(instrument: Instrument | str | None, df: pd.DataFrame) -> Instrument:
    if isinstance(instrument, Instrument):
        return instrument
    if instrument is None:
        if "instrument" not in df.columns:
            raise InputError(
                "no instrument given (instrument=) and no 'instrument' column in the table",
                column="instrument",
            )
        instrument = _single_value(df, "instrument")
    return load_instrument(instrument)


def _meta(df: pd.DataFrame, inst: Instrument, year: int | None) -> _Meta:
    wave = _single_value(df, "wave", default=str(year) if year is not None else None)
    vintage = _single_value(df, "boundary_vintage", default="pre2025")
    if "instrument" in df.columns:
        used = _single_value(df, "instrument")
        if used != inst.name:
            raise InputError(
                f"the respondents were collected with instrument {used!r}, not {inst.name!r}",
                column="instrument",
                values=[used],
            )
    y = year if year is not None else _wave_year(wave)
    return _Meta(inst.survey, wave, inst.name, vintage, y)


def _level_spec(
    levels: Sequence[str], subgroups: Sequence[str], subgroup_within: Sequence[str]
) -> dict[str, str | list[str] | None]:
    spec: dict[str, str | list[str] | None] = {}
    for lv in levels:
        if lv not in LEVEL_COLUMNS:
            raise SipasError(f"unknown level {lv!r}; expected some of {list(LEVEL_COLUMNS)}")
        spec[lv] = LEVEL_COLUMNS[lv]
    for within in subgroup_within:
        if within not in LEVEL_COLUMNS:
            raise SipasError(f"unknown subgroup_within {within!r}; expected {list(LEVEL_COLUMNS)}")
    for sg in subgroups:
        for within in subgroup_within:
            col = LEVEL_COLUMNS[within]
            spec[f"subgroup|{within}|{sg}"] = [sg] if col is None else [col, sg]
    return spec


def _check_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{what}: column(s) {', '.join(map(repr, missing))} not in the respondent table",
            column=missing[0],
        )


def _base_frame(df: pd.DataFrame, spec: Mapping[str, object]) -> pd.DataFrame:
    """A new frame with the design and domain columns (the input is never modified).

    The columns of a calibration (``weight_design`` and the ``calib__*`` margins, see
    :mod:`sipas_analysis.design`) are kept too, so that the SEs allow for it.
    """
    dom_cols = []
    for v in spec.values():
        if v is None:
            continue
        for c in [v] if isinstance(v, str) else v:
            if c not in dom_cols:
                dom_cols.append(c)
    design = list(_DESIGN_COLUMNS) + (["fpc"] if "fpc" in df.columns else [])
    _check_columns(df, design + dom_cols, "design and domains")
    calib = [
        c for c in df.columns if c == DESIGN_WEIGHT_COLUMN or str(c).startswith(CALIBRATION_PREFIX)
    ]
    keep = design + dom_cols + (["source_row"] if "source_row" in df.columns else [])
    keep += [c for c in calib if c not in keep]
    return df[keep].copy()


def _rows_of(df: pd.DataFrame, mask: np.ndarray) -> list[int]:
    pos = np.flatnonzero(mask)
    if "source_row" in df.columns:
        return [int(v) for v in df["source_row"].to_numpy()[pos]]
    return [int(p) + 2 for p in pos]


def _answers(df: pd.DataFrame, item: pd.Series, valid: Sequence | None) -> np.ndarray:
    """The item's answers as float (NaN = missing); codes outside ``valid`` are an InputError."""
    s = df[item["code"]]
    if pd.api.types.is_numeric_dtype(s.dtype) and not isinstance(s.dtype, pd.CategoricalDtype):
        num = s.to_numpy(dtype=float, na_value=np.nan)
    else:
        conv = pd.to_numeric(s.astype(object), errors="coerce")
        bad = conv.isna().to_numpy() & s.notna().to_numpy()
        if bad.any():
            raise InputError(
                "answers must be numeric codes",
                column=item["code"],
                rows=_rows_of(df, bad),
                values=pd.unique(s[bad].astype(object)).tolist(),
            )
        num = conv.to_numpy(dtype=float, na_value=np.nan)
    missing = tuple(item.get("missing_codes") or ())
    if missing:
        num = np.where(np.isin(num, missing), np.nan, num)
    if valid:
        out = ~np.isnan(num) & ~np.isin(num, list(valid))
        if out.any():
            raise InputError(
                f"answer codes outside the scale {sorted(valid)}",
                column=item["code"],
                rows=_rows_of(df, out),
                values=sorted(pd.unique(num[out]).tolist()),
            )
    return num


def _apply_filter(
    df: pd.DataFrame, item: pd.Series, x: np.ndarray, apply: bool, dropped: dict[str, int]
) -> np.ndarray:
    fi = item.get("filter_item")
    if not apply or fi is None or (isinstance(fi, float) and np.isnan(fi)):
        return x
    if fi not in df.columns:
        return x
    fv = pd.to_numeric(df[fi], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    # a missing filter answer (không biết / blank) does not prove the item does not apply
    applies = np.isnan(fv) | np.isin(fv, list(item["filter_values"] or ()))
    out = ~np.isnan(x) & ~applies
    if out.any():
        dropped[item["code"]] = int(out.sum())
    return np.where(applies, x, np.nan)


def _share(x: np.ndarray, top: Sequence) -> np.ndarray:
    """1.0 where the answer is in the top box, 0.0 where not, NaN where missing."""
    return np.where(np.isnan(x), np.nan, np.isin(x, list(top)).astype(float))


def _warn_filtered(dropped: Mapping[str, int]) -> None:
    if dropped:
        text = ", ".join(f"{k} ({v})" for k, v in dropped.items())
        warnings.warn(
            "answers of respondents to whom a conditional item does not apply were set to "
            f"missing (filter rule of the instrument): {text}",
            IndexWarning,
            stacklevel=3,
        )


def _valid_in_year(frame: pd.DataFrame, year: int | None) -> pd.DataFrame:
    if year is None or frame.empty:
        return frame
    lo = frame["valid_from"].astype("Float64").fillna(-np.inf).astype(float)
    hi = frame["valid_to"].astype("Float64").fillna(np.inf).astype(float)
    return frame.loc[(lo <= year) & (year <= hi)]


def _format_value(v: object) -> str:
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _name_maps(df: pd.DataFrame, vintage: str) -> tuple[dict, dict, dict]:
    """commune code -> name, commune code -> area code, area code -> name."""
    c_name: dict[int, str] = {}
    c_area: dict[int, int] = {}
    if "commune_code" in df.columns:
        sub = df[[c for c in ("commune_code", "commune_name", "area_code") if c in df.columns]]
        sub = sub.dropna(subset=["commune_code"]).drop_duplicates("commune_code")
        for r in sub.itertuples(index=False):
            code = int(r.commune_code)
            if hasattr(r, "commune_name") and isinstance(r.commune_name, str):
                c_name[code] = r.commune_name
            if hasattr(r, "area_code") and not pd.isna(r.area_code):
                c_area[code] = int(r.area_code)
    try:
        geo = geography.communes(vintage)
    except SipasError:
        geo = None
    if geo is not None:
        for r in geo.itertuples(index=False):
            c_name[int(r.commune_code)] = r.commune_name
            c_area[int(r.commune_code)] = int(r.area_code)
    a_name = {int(r.area_code): r.area_name for r in geography.areas().itertuples(index=False)}
    return c_name, c_area, a_name


def _units(table: pd.DataFrame, df: pd.DataFrame, vintage: str) -> pd.DataFrame:
    """level, unit_code, unit_name, area_code, subgroup for each engine row."""
    c_name, c_area, a_name = _name_maps(df, vintage)
    out = {"level": [], "unit_code": [], "unit_name": [], "area_code": [], "subgroup": []}
    for rec in table.to_dict("records"):
        key = rec["level"]
        parts = key.split("|")
        base = parts[1] if parts[0] == "subgroup" else parts[0]
        sub = ""
        if parts[0] == "subgroup":
            sub = f"{parts[2]}={_format_value(rec[parts[2]])}"
        if base == "commune":
            code = int(rec["commune_code"])
            out["unit_code"].append(str(code))
            out["unit_name"].append(c_name.get(code, str(code)))
            out["area_code"].append(c_area.get(code, pd.NA))
        elif base == "area":
            code = int(rec["area_code"])
            out["unit_code"].append(str(code))
            out["unit_name"].append(a_name.get(code, str(code)))
            out["area_code"].append(code)
        else:
            out["unit_code"].append("total")
            out["unit_name"].append(TOTAL_NAME)
            out["area_code"].append(pd.NA)
        out["level"].append("subgroup" if parts[0] == "subgroup" else base)
        out["subgroup"].append(sub)
    units = pd.DataFrame(out)
    units["area_code"] = units["area_code"].astype("Int64")
    return units


def _schema_flag(n: np.ndarray, small_n: int, min_n: int) -> np.ndarray:
    n = np.asarray(n)
    return np.where(n < min_n, "suppressed", np.where(n < small_n, "small_n", "ok"))


def _to_rows(
    est_table: pd.DataFrame,
    df: pd.DataFrame,
    meta: _Meta,
    *,
    index_level: str,
    labels: Mapping[str, str],
    roles: Mapping[str, str],
    parents: Mapping[str, str | None],
    statistic: str,
    small_n: int,
    min_n: int,
) -> pd.DataFrame:
    """Engine rows -> rows of the estimates table."""
    t = est_table.reset_index(drop=True)
    units = _units(t, df, meta.vintage)
    codes = t["index_code"].astype(str)
    out = pd.DataFrame(
        {
            "survey": meta.survey,
            "wave": meta.wave,
            "instrument": meta.instrument,
            "level": units["level"],
            "unit_code": units["unit_code"],
            "unit_name": units["unit_name"],
            "area_code": units["area_code"],
            "boundary_vintage": meta.vintage,
            "subgroup": units["subgroup"],
            "index_level": index_level,
            "index_code": codes,
            "label_vi": codes.map(lambda c: labels.get(c, c)),
            "estimate": t["estimate"].to_numpy(dtype=float),
            "se": t["se"].to_numpy(dtype=float),
            "ci_low": t["ci_low"].to_numpy(dtype=float),
            "ci_high": t["ci_high"].to_numpy(dtype=float),
            "ci_level": t["ci_level"].to_numpy(dtype=float),
            "n": t["n"].to_numpy(dtype=np.int64),
            "flag": _schema_flag(t["n"].to_numpy(), small_n, min_n),
            "role": codes.map(lambda c: roles.get(c, "")),
            "parent_code": codes.map(lambda c: parents.get(c) or None),
            "statistic": statistic,
            "ci_method": t["ci_method"].astype(str).to_numpy(),
            "df": t["df"].to_numpy(dtype=float),
            "n_psu": t["n_psu"].to_numpy(dtype=np.int64),
            "flag_detail": t["flag"].astype(str).to_numpy(),
        }
    )
    return out


_LEVEL_ORDER = {"total": 0, "area": 1, "commune": 2, "subgroup": 3}


def _sort(table: pd.DataFrame, index_order: Sequence[str]) -> pd.DataFrame:
    order = {c: i for i, c in enumerate(index_order)}
    key = pd.DataFrame(
        {
            "lv": table["level"].map(_LEVEL_ORDER).fillna(9),
            "area": table["area_code"].astype("Float64").fillna(-1.0).astype(float),
            "unit": table["unit_code"],
            "sub": table["subgroup"],
            "idx": table["index_code"].map(order).fillna(len(order)),
        }
    )
    pos = key.sort_values(["lv", "area", "unit", "sub", "idx"], kind="stable").index
    return table.loc[pos].reset_index(drop=True)


def _engine_kwargs(opts) -> dict:
    return {
        "weight": "weight",
        "strata": "stratum",
        "psu": "psu",
        "lonely_psu": opts.lonely_psu,
        "ci_level": opts.ci_level,
        "ci_method": opts.ci_method,
        "df": opts.df,
        "small_n": opts.small_n,
        "min_n": opts.min_n,
    }


def _domain_keys(t: pd.DataFrame, dom_cols: Sequence[str]) -> list[tuple]:
    cols = ["level", *dom_cols]
    frame = t[cols].astype(object).where(t[cols].notna(), "<NA>")
    return list(frame.itertuples(index=False, name=None))


def _inherit_member_flags(
    parents: pd.DataFrame,
    children: pd.DataFrame,
    members: Mapping[str, Sequence[str]],
    dom_cols: Sequence[str],
    *,
    empty_as: str | None = "partial",
) -> pd.DataFrame:
    """``parents`` with the flags of their member rows of ``children`` merged into ``flag``.

    Parameters
    ----------
    parents, children : pandas.DataFrame
        Engine tables (``level``, the domain columns, ``index_code``, ``flag``) of the same
        levels and domains: composites and the rows they are built on.
    members : dict
        Composite code -> codes of its members in ``children``.
    dom_cols : sequence of str
        Domain columns of the engine tables.
    empty_as : str or None
        What a member's ``empty`` becomes (see :func:`~sipas_analysis.estimate.inherit_flags`).

    Returns
    -------
    pandas.DataFrame
        A copy of ``parents`` whose ``flag`` holds its own flags and every member's, per domain.
    """
    p = parents.reset_index(drop=True)
    c = children.reset_index(drop=True)
    pos = {
        (k, code): i
        for i, (k, code) in enumerate(zip(_domain_keys(p, dom_cols), p["index_code"], strict=True))
    }
    parents_of: dict[str, list[str]] = {}
    for comp, mem in members.items():
        for m in mem:
            parents_of.setdefault(str(m), []).append(str(comp))
    child_rows, parent_rows = [], []
    for j, (k, code) in enumerate(zip(_domain_keys(c, dom_cols), c["index_code"], strict=True)):
        for comp in parents_of.get(str(code), ()):
            i = pos.get((k, comp))
            if i is not None:
                child_rows.append(j)
                parent_rows.append(i)
    out = p.copy()
    member_flags = c["flag"].to_numpy()[np.asarray(child_rows, dtype=np.int64)]
    out["flag"] = inherit_flags(p["flag"].to_numpy(), member_flags, parent_rows, empty_as=empty_as)
    return out


def _quiet_composite(est: Estimates, groups: Mapping[str, Sequence[str]]) -> Estimates:
    """composite_mean; its single-PSU DesignWarning is already shown for the items."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*single PSU.*")
        return composite_mean(est, groups)


# --------------------------------------------------------------------------------------------
# SIPAS
# --------------------------------------------------------------------------------------------
def _scale_range(inst: Instrument, item: pd.Series) -> tuple[float, float]:
    a, b = item.get("scale_min"), item.get("scale_max")
    scale = inst.scales[item["scale"]]
    a = scale.scale_min if a is None or pd.isna(a) else a
    b = scale.scale_max if b is None or pd.isna(b) else b
    return float(a), float(b)


def sipas_indices(
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    *,
    levels: Sequence[str] = ("commune", "area", "total"),
    subgroups: Sequence[str] = SUBGROUP_COLUMNS,
    subgroup_within: Sequence[str] = ("total",),
    options: SipasOptions | None = None,
) -> pd.DataFrame:
    """SIPAS indices of one wave with design-based SEs and CIs, as the long estimates table.

    Parameters
    ----------
    respondents : pandas.DataFrame
        The canonical respondent table of ONE wave (``waves.read_wave(...).respondents``): design
        columns ``weight, stratum, psu`` (``fpc`` optional), domain columns ``commune_code,
        area_code`` and the subgroup columns, and one column per instrument item (answer codes,
        NA = no valid answer). Not modified.
    instrument : Instrument or str, optional
        The instrument (or its name); default: the table's ``instrument`` column.
    levels : sequence of {"commune", "area", "total"}
        Geographic levels to estimate.
    subgroups : sequence of str
        Subgroup columns (default ``sex, age_band, urban_rural``), each a level ``"subgroup"``
        with ``subgroup = "<column>=<value>"``.
    subgroup_within : sequence of {"total", "area", "commune"}
        Units the subgroups are crossed with (default the whole survey area only).
    options : SipasOptions, optional
        The rules (see :class:`SipasOptions` for the defaults).

    Returns
    -------
    pandas.DataFrame
        One row per (unit, subgroup, index): the estimates-table columns
        (:data:`ESTIMATE_COLUMNS`) then ``role`` (satisfaction / perception / expectation),
        ``parent_code``, ``statistic``, ``ci_method``, ``df``, ``n_psu``, ``flag_detail`` (the
        engine's flags, e.g. ``single_psu``, ``partial``; an element, part or the overall index
        carries its own and every flag of the items it is built on, an item's ``empty``
        becoming ``partial``). ``index_level`` is ``item``,
        ``element``, ``part`` or ``overall`` (index code ``"sipas"``); values in percent (0–100).
        ``flag`` is ``suppressed`` when n < 10 (estimate kept in the table but never to be shown),
        ``small_n`` when n < 30, else ``ok``.

    Raises
    ------
    InputError
        Missing columns, several waves in one table, non-numeric answers or codes outside the
        item's scale (file rows named through ``source_row``).
    SipasError
        Bad options or levels; no satisfaction item of the instrument in the table.

    Warns
    -----
    IndexWarning
        Items of the instrument missing from the table; answers dropped by a filter rule.

    Notes
    -----
    For item :math:`k` with answer :math:`x_{ik}` and valid-answer indicator :math:`v_{ik}`, in
    domain :math:`d` (a commune, area, the whole area or a subgroup: domain estimation on the
    full design):

    .. math:: \\hat p_{kd} = 100\\,\\frac{\\sum_i w_i 1_d(i) v_{ik} 1[x_{ik} \\in T_k]}
              {\\sum_i w_i 1_d(i) v_{ik}}

    with :math:`T_k` the item's top box from the instrument (``mean_score_0_100``: replace the
    indicator by :math:`100(x_{ik}-a)/(b-a)`). Element :math:`E = \\frac1{K}\\sum_{k\\in E}\\hat
    p_k`, part :math:`P = \\frac1{J}\\sum_{E\\in P} E`, overall
    :math:`SIPAS = \\frac12(P_{policy}+P_{service})` (``mean_of_parts``; ``sipas-2017`` has no
    parts: the mean of its 5 elements) or the mean of all elements. Variances by Taylor linearisation of the composite over the joint influence
    values of all items, :math:`\\hat V(L\\hat p) = L\\,\\hat\\Sigma\\,L^T` (R ``svycontrast``),
    never as if items were independent. Perception: share of the item's positive answer
    (``top_box``); expectation: share "rất nhiều" or "nhiều".

    Examples
    --------
    >>> import pandas as pd
    >>> from sipas_analysis.instruments import load_instrument
    >>> inst = load_instrument("sipas-2017")
    >>> codes = inst.satisfaction_items()["code"].tolist()
    >>> rows = []
    >>> for i in range(40):
    ...     r = {"respondent_id": str(i), "wave": "2021", "boundary_vintage": "pre2025",
    ...          "commune_code": 27694 if i < 20 else 27697, "area_code": 794,
    ...          "stratum": "794", "psu": f"v{i // 5}", "weight": 1.0 + (i % 3),
    ...          "sex": 1 + i % 2, "age_band": "30-44", "urban_rural": 1, "co_pakn": 1}
    ...     r.update({c: 1 + (i * 7 + j) % 5 for j, c in enumerate(codes)})
    ...     rows.append(r)
    >>> wave = pd.DataFrame(rows)
    >>> est = sipas_indices(wave, inst, levels=["total"], subgroups=[])
    >>> ov = est[est.index_level == "overall"].iloc[0]
    >>> el = est[est.index_level == "element"]
    >>> bool(abs(ov.estimate - el.estimate.mean()) < 1e-9), ov.unit_name
    (True, 'Toàn vùng khảo sát')
    """
    opts = options or SipasOptions()
    if not isinstance(respondents, pd.DataFrame):
        raise SipasError("respondents must be a pandas DataFrame (the canonical respondent table)")
    inst = _resolve_instrument(instrument, respondents)
    if inst.survey != "sipas":
        raise SipasError(f"instrument {inst.name} is a {inst.survey} instrument, not SIPAS")
    meta = _meta(respondents, inst, None)
    spec = _level_spec(levels, subgroups, subgroup_within)
    if not spec:
        raise SipasError("no level to estimate")
    base = _base_frame(respondents, spec)

    nodes = _valid_in_year(inst.nodes, meta.year)
    items = _valid_in_year(inst.items, meta.year)
    node_parent = dict(zip(nodes["code"], nodes["parent"], strict=True))
    labels = dict(zip(nodes["code"], nodes["label_vi"], strict=True))
    labels.update(zip(inst.items["code"], inst.items["label_vi"], strict=True))
    labels[OVERALL_CODE] = OVERALL_LABEL
    roles = dict(zip(inst.items["code"], inst.items["role"], strict=True))
    parents: dict[str, str | None] = dict(
        zip(inst.items["code"], inst.items["parent"], strict=True)
    )

    sat = items[items["role"] == "satisfaction"]
    absent = [c for c in sat["code"] if c not in respondents.columns]
    sat = sat[sat["code"].isin(respondents.columns)]
    if sat.empty:
        raise SipasError(
            f"none of the {inst.name} satisfaction items is a column of the respondent table"
        )
    if absent:
        warnings.warn(
            f"{len(absent)} satisfaction item(s) of {inst.name} valid in {meta.year} are not in "
            f"the data and are left out of their element: {', '.join(absent)}",
            IndexWarning,
            stacklevel=2,
        )
    elements = [
        e for e in nodes.loc[nodes["level"] == "element", "code"] if e in set(sat["parent"])
    ]
    members = {e: sat.loc[sat["parent"] == e, "code"].tolist() for e in elements}
    parts_all = nodes.loc[nodes["level"] == "part", "code"].tolist()
    part_members = {
        p: [e for e in elements if node_parent.get(e) == p]
        for p in parts_all
        if any(node_parent.get(e) == p for e in elements)
    }
    for e in elements:
        parents[e] = node_parent.get(e)
        roles[e] = "satisfaction"
    for p in part_members:
        parents[p] = None
        roles[p] = "satisfaction"
    roles[OVERALL_CODE] = "satisfaction"

    dropped: dict[str, int] = {}
    cols: dict[str, np.ndarray] = {}
    for _, it in sat.iterrows():
        x = _answers(respondents, it, it["valid_codes"])
        x = _apply_filter(respondents, it, x, opts.apply_filters, dropped)
        if opts.item_statistic == "top2":
            top = it["top_box"]
            if not top:
                raise SipasError(f"instrument {inst.name}: item {it['code']} has no top_box")
            y = _share(x, top)
        else:
            a, b = _scale_range(inst, it)
            y = 100.0 * (x - a) / (b - a)
        cols[it["code"]] = y
    other = items[
        ((items["role"] == "perception") & opts.include_perception)
        | ((items["role"] == "expectation") & opts.include_expectation)
    ]
    other = other[other["code"].isin(respondents.columns)]
    other_cols: dict[str, np.ndarray] = {}
    for _, it in other.iterrows():
        if not it["top_box"]:
            continue
        x = _answers(respondents, it, it["valid_codes"])
        x = _apply_filter(respondents, it, x, opts.apply_filters, dropped)
        other_cols[it["code"]] = _share(x, it["top_box"])
    _warn_filtered(dropped)

    kw = _engine_kwargs(opts)
    stat_engine = "prop" if opts.item_statistic == "top2" else "mean"
    data = pd.concat([base, pd.DataFrame(cols, index=base.index)], axis=1)
    item_est = estimate_levels(data, list(cols), spec, statistic=stat_engine, positive=(1.0,), **kw)
    if opts.element_rule == "mean_of_items":
        elem_est = _quiet_composite(item_est, members)
    else:
        scores = {}
        scale = 100.0 if opts.item_statistic == "top2" else 1.0  # 0/1 indicators -> percent
        for e, its in members.items():
            block = data[its]
            scores[e] = scale * block.mean(axis=1, skipna=True).where(block.notna().any(axis=1))
        sdata = pd.concat([base, pd.DataFrame(scores, index=base.index)], axis=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*single PSU.*")
            elem_est = estimate_levels(sdata, list(scores), spec, statistic="mean", **kw)
        # an element estimated from respondent means still carries its items' flags
        elem_est.table = _inherit_member_flags(
            elem_est.table, item_est.table, members, item_est.domain_columns
        )
    part_est = _quiet_composite(elem_est, part_members) if part_members else None
    if opts.overall_rule == "mean_of_parts" and part_est is not None:
        overall_est = _quiet_composite(part_est, {OVERALL_CODE: list(part_members)})
    else:
        overall_est = _quiet_composite(elem_est, {OVERALL_CODE: elements})

    common = {
        "labels": labels,
        "roles": roles,
        "parents": parents,
        "statistic": opts.item_statistic,
        "small_n": opts.small_n,
        "min_n": opts.min_n,
    }
    pieces = [
        _to_rows(overall_est.table, respondents, meta, index_level="overall", **common),
    ]
    if part_est is not None:
        pieces.append(_to_rows(part_est.table, respondents, meta, index_level="part", **common))
    pieces.append(_to_rows(elem_est.table, respondents, meta, index_level="element", **common))
    pieces.append(_to_rows(item_est.table, respondents, meta, index_level="item", **common))
    if other_cols:
        odata = pd.concat([base, pd.DataFrame(other_cols, index=base.index)], axis=1)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*single PSU.*")
            oest = estimate_levels(
                odata, list(other_cols), spec, statistic="prop", positive=(1.0,), **kw
            )
        common_o = dict(common, statistic="top2")
        pieces.append(_to_rows(oest.table, respondents, meta, index_level="item", **common_o))
    table = pd.concat(pieces, ignore_index=True)
    order = [OVERALL_CODE, *part_members]
    for e in elements:
        order += [e]
    for e in elements:
        order += members[e]
    order += list(other_cols)
    table = _sort(table, order)
    return table[ESTIMATE_COLUMNS + EXTRA_COLUMNS]


def answer_distribution(
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    *,
    levels: Sequence[str] = ("total", "area"),
    weight: str = "weight",
) -> pd.DataFrame:
    """Weighted share of every answer code of the satisfaction items, for diverging bar charts.

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one wave. Not modified.
    instrument : Instrument or str, optional
        Default: the table's ``instrument`` column.
    levels : sequence of {"total", "area", "commune"}
        Units to tabulate.
    weight : str
        Weight column.

    Returns
    -------
    pandas.DataFrame
        ``level, unit_code, index_code, label_vi, parent_code, answer_code, answer_label_vi,
        share, n`` — ``share`` in percent of the weighted valid answers of the item in the unit
        (sums to 100 per item and unit); ``n`` the unweighted valid answers.

    Notes
    -----
    :math:`share_k = 100 \\cdot \\sum_i w_i 1[y_i = k] / \\sum_i w_i 1[y_i \\text{ valid}]`, a
    descriptive table for charts (no standard error; estimates with SEs come from
    :func:`sipas_indices`). Missing codes (98/99) are already NA in the canonical table.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"instrument": "sipas-2017", "area_code": [800, 800],
    ...                    "commune_code": [27865, 27865], "weight": [1.0, 3.0],
    ...                    "tiep_can_1": pd.array([5, 2], dtype="Int64")})
    >>> t = answer_distribution(df, levels=("total",))
    >>> t.loc[t.answer_code == 2, "share"].item()
    75.0
    """
    inst = _resolve_instrument(instrument, respondents)
    items = inst.satisfaction_items()
    items = items[items["code"].isin(respondents.columns)]
    unit_cols = {"total": None, "area": "area_code", "commune": "commune_code"}
    w = respondents[weight].to_numpy(dtype=float)
    frames = []
    for item in items.itertuples():
        labels = inst.value_labels(item.code)
        codes = [int(c) for c in item.valid_codes]
        y = respondents[item.code]
        valid = y.notna().to_numpy()
        for level in levels:
            col = unit_cols[level]
            unit = (
                pd.Series("total", index=respondents.index)
                if col is None
                else respondents[col].astype("string")
            )
            base = pd.DataFrame({"unit": unit[valid], "y": y[valid].astype(int), "w": w[valid]})
            tot = base.groupby("unit")["w"].sum()
            cnt = base.groupby("unit").size()
            by = base.groupby(["unit", "y"])["w"].sum()
            grid = pd.MultiIndex.from_product([tot.index, codes], names=["unit", "y"])
            share = by.reindex(grid, fill_value=0.0) / tot.reindex(grid.get_level_values(0)).values
            frames.append(
                pd.DataFrame(
                    {
                        "level": level,
                        "unit_code": grid.get_level_values(0).astype(str),
                        "index_code": item.code,
                        "label_vi": item.label_vi,
                        "parent_code": item.parent,
                        "answer_code": grid.get_level_values(1).astype(int),
                        "answer_label_vi": [
                            labels.get(k, str(k)) for k in grid.get_level_values(1)
                        ],
                        "share": 100.0 * share.to_numpy(),
                        "n": cnt.reindex(grid.get_level_values(0)).to_numpy(),
                    }
                )
            )
    if not frames:
        return pd.DataFrame(
            columns=["level", "unit_code", "index_code", "label_vi", "parent_code",
                     "answer_code", "answer_label_vi", "share", "n"]
        )  # fmt: skip
    return pd.concat(frames, ignore_index=True)
