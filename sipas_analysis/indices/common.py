"""What the SIPAS and PAPI indices share: the columns of the estimates table, the levels and
subgroups, and the helpers both use (the wave's metadata, the domains of each level, answers and
filters, the engine's options, the rows of the tidy table, the flags of composites)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas_analysis import geography
from sipas_analysis.design import CALIBRATION_PREFIX, DESIGN_WEIGHT_COLUMN
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate import (
    Estimates,
    composite_mean,
    inherit_flags,
)
from sipas_analysis.instruments import Instrument, load_instrument

__all__ = [
    "ELEMENT_RULES",
    "ESTIMATE_COLUMNS",
    "EXTRA_COLUMNS",
    "ITEM_STATISTICS",
    "IndexWarning",
    "LEVEL_COLUMNS",
    "OVERALL_CODE",
    "OVERALL_LABEL",
    "OVERALL_RULES",
    "SUBGROUP_COLUMNS",
    "TOTAL_NAME",
    "check_choice",
    "resolve_instrument",
    "wave_meta",
    "level_spec",
    "base_frame",
    "item_answers",
    "apply_filter",
    "top_share",
    "warn_filtered",
    "valid_in_year",
    "to_rows",
    "sort_table",
    "engine_kwargs",
    "inherit_member_flags",
    "quiet_composite",
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


def check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
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


def resolve_instrument(instrument: Instrument | str | None, df: pd.DataFrame) -> Instrument:
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


def wave_meta(df: pd.DataFrame, inst: Instrument, year: int | None) -> _Meta:
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


def level_spec(
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


def base_frame(df: pd.DataFrame, spec: Mapping[str, object]) -> pd.DataFrame:
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


def item_answers(df: pd.DataFrame, item: pd.Series, valid: Sequence | None) -> np.ndarray:
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


def apply_filter(
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


def top_share(x: np.ndarray, top: Sequence) -> np.ndarray:
    """1.0 where the answer is in the top box, 0.0 where not, NaN where missing."""
    return np.where(np.isnan(x), np.nan, np.isin(x, list(top)).astype(float))


def warn_filtered(dropped: Mapping[str, int]) -> None:
    if dropped:
        text = ", ".join(f"{k} ({v})" for k, v in dropped.items())
        warnings.warn(
            "answers of respondents to whom a conditional item does not apply were set to "
            f"missing (filter rule of the instrument): {text}",
            IndexWarning,
            stacklevel=3,
        )


def valid_in_year(frame: pd.DataFrame, year: int | None) -> pd.DataFrame:
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
        codes = [int(c) for c in sub["commune_code"].to_numpy()]
        if "commune_name" in sub.columns:
            c_name.update(
                (c, v)
                for c, v in zip(codes, sub["commune_name"].to_numpy(), strict=True)
                if isinstance(v, str)
            )
        if "area_code" in sub.columns:
            c_area.update(
                (c, int(v))
                for c, v in zip(codes, sub["area_code"].to_numpy(), strict=True)
                if not pd.isna(v)
            )
    try:
        geo = geography.communes(vintage)
    except SipasError:
        geo = None
    if geo is not None:
        codes = [int(c) for c in geo["commune_code"].to_numpy()]
        c_name.update(zip(codes, geo["commune_name"].to_numpy(), strict=True))
        c_area.update(zip(codes, (int(a) for a in geo["area_code"].to_numpy()), strict=True))
    areas = geography.areas()
    a_name = dict(
        zip((int(a) for a in areas["area_code"].to_numpy()), areas["area_name"], strict=True)
    )
    return c_name, c_area, a_name


def _units(table: pd.DataFrame, df: pd.DataFrame, vintage: str) -> pd.DataFrame:
    """level, unit_code, unit_name, area_code, subgroup for each engine row.

    The engine's ``level`` key is ``commune``, ``area``, ``total`` or ``subgroup|BASE|COLUMN``;
    the rows of one key are handled together.
    """
    c_name, c_area, a_name = _name_maps(df, vintage)
    n = len(table)
    out = {
        "level": np.empty(n, dtype=object),
        "unit_code": np.empty(n, dtype=object),
        "unit_name": np.empty(n, dtype=object),
        "area_code": np.full(n, pd.NA, dtype=object),
        "subgroup": np.full(n, "", dtype=object),
    }
    keys = table["level"].astype(str).to_numpy()
    for key in pd.unique(keys):
        rows = np.flatnonzero(keys == key)
        parts = key.split("|")
        base = parts[1] if parts[0] == "subgroup" else parts[0]
        if parts[0] == "subgroup":
            values = table[parts[2]].to_numpy()[rows]
            out["subgroup"][rows] = [f"{parts[2]}={_format_value(v)}" for v in values]
        if base in ("commune", "area"):
            codes = [int(c) for c in table[f"{base}_code"].to_numpy()[rows]]
            out["unit_code"][rows] = [str(c) for c in codes]
            if base == "commune":
                out["unit_name"][rows] = [c_name.get(c, str(c)) for c in codes]
                out["area_code"][rows] = [c_area.get(c, pd.NA) for c in codes]
            else:
                out["unit_name"][rows] = [a_name.get(c, str(c)) for c in codes]
                out["area_code"][rows] = codes
        else:
            out["unit_code"][rows] = "total"
            out["unit_name"][rows] = TOTAL_NAME
        out["level"][rows] = "subgroup" if parts[0] == "subgroup" else base
    units = pd.DataFrame(out)
    units["area_code"] = units["area_code"].astype("Int64")
    return units


def _schema_flag(n: np.ndarray, small_n: int, min_n: int) -> np.ndarray:
    n = np.asarray(n)
    return np.where(n < min_n, "suppressed", np.where(n < small_n, "small_n", "ok"))


def to_rows(
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


def sort_table(table: pd.DataFrame, index_order: Sequence[str]) -> pd.DataFrame:
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


def engine_kwargs(opts) -> dict:
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


def inherit_member_flags(
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


def quiet_composite(est: Estimates, groups: Mapping[str, Sequence[str]]) -> Estimates:
    """composite_mean; its single-PSU DesignWarning is already shown for the items."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*single PSU.*")
        return composite_mean(est, groups)


# --------------------------------------------------------------------------------------------
