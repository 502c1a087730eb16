"""The published SIPAS and PAPI figures kept in ``data/reference/`` (:func:`read_published_sipas`,
:func:`read_published_papi`), read and checked."""

from __future__ import annotations

import re
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError
from sipas_analysis.official.codes import _nfc, _province_names, resolve_province

__all__ = ["read_published_papi", "read_published_sipas"]


# --------------------------------------------------------------------------------------------
# Published SIPAS and PAPI figures (CSV kept in data/reference/)
# --------------------------------------------------------------------------------------------

_SIPAS_COLUMNS = [
    "year",
    "scope",
    "index",
    "value_pct",
    "rank",
    "n_provinces",
    "methodology",
    "source",
]
_SIPAS_INDEX_RE = re.compile(r"^(SIPAS|policy_satisfaction|service_satisfaction|element:[a-z_]+)$")
_SIPAS_METHOD_RE = re.compile(r"^sipas-\d{4}$")


def _read_reference_csv(path: Path, required: Sequence[str]) -> pd.DataFrame:
    if not path.exists():
        raise InputError("file not found / không tìm thấy tệp", file=str(path))
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV ({type(exc).__name__})", file=str(path)) from None
    df.columns = [c.strip() for c in df.columns]
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            "missing columns / thiếu cột: " + ", ".join(missing), file=str(path), values=missing
        )
    return df.apply(lambda s: s.str.strip())


def _int_column(df: pd.DataFrame, col: str, path: Path, *, required: bool, lo: int, hi: int):
    raw = df[col]
    num = pd.to_numeric(raw.where(raw != ""), errors="coerce")
    bad = (raw != "") & (num.isna() | (num % 1 != 0) | (num < lo) | (num > hi))
    if required:
        bad |= raw == ""
    if bad.any():
        raise InputError(
            f"expected a whole number in {lo}–{hi}" + ("" if not required else " (required)"),
            file=str(path),
            column=col,
            rows=[i + 2 for i in np.flatnonzero(bad)],
            values=raw[bad].tolist(),
        )
    return num.astype("Int64")


def _float_column(df: pd.DataFrame, col: str, path: Path, lo: float, hi: float, required=True):
    raw = df[col]
    num = pd.to_numeric(raw.where(raw != ""), errors="coerce")
    bad = (raw != "") & (num.isna() | (num < lo) | (num > hi))
    if required:
        bad |= raw == ""
    if bad.any():
        raise InputError(
            f"expected a number in {lo:g}–{hi:g} / giá trị ngoài khoảng",
            file=str(path),
            column=col,
            rows=[i + 2 for i in np.flatnonzero(bad)],
            values=raw[bad].tolist(),
        )
    return num.astype(float)


def _check_duplicates(df: pd.DataFrame, keys: list[str], path: Path) -> None:
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        raise InputError(
            "duplicate rows for " + ", ".join(keys) + " / dòng trùng",
            file=str(path),
            column=", ".join(keys),
            rows=[i + 2 for i in np.flatnonzero(dup)],
            values=df.loc[dup, keys].astype(str).agg(" ".join, axis=1).tolist(),
        )


def read_published_sipas(path: str | PathLike[str] | None = None) -> pd.DataFrame:
    """Read and check the table of published SIPAS figures.

    Parameters
    ----------
    path : str or path-like, optional
        CSV with columns ``year, scope, index, value_pct, rank, n_provinces, methodology,
        source`` (one row per published figure; an analyst adds rows as new results come out).
        Default: ``data/reference/published_sipas.csv``.

    Returns
    -------
    DataFrame
        ``year`` (Int64), ``scope`` ("national" or a province), ``province_code`` (Int64, NA for
        national), ``province_name``, ``index`` ("SIPAS", "policy_satisfaction",
        "service_satisfaction", "element:<code>"), ``value_pct`` (0–100), ``rank``,
        ``n_provinces`` (Int64), ``methodology`` (instrument, e.g. "sipas-2022"), ``source``.

    Raises
    ------
    InputError
        Missing columns, a year outside 2010–2100, a value outside 0–100, an unknown scope or
        index, a rank above the number of provinces, an empty source, or duplicate
        (year, scope, index) rows — naming the column and the file's row numbers (header = 1).

    Notes
    -----
    SIPAS figures are shares in percent: the published index is the share of respondents
    "hài lòng" or "rất hài lòng". The 2022 redesign breaks the series (``methodology``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "p.csv"
    >>> _ = d.write_text("year,scope,index,value_pct,rank,n_provinces,methodology,source\\n"
    ...                  "2023,Long An,SIPAS,78.66,57,63,sipas-2022,baolongan.vn\\n", encoding="utf-8")
    >>> row = read_published_sipas(d).iloc[0]
    >>> int(row["year"]), int(row["province_code"]), float(row["value_pct"])
    (2023, 80, 78.66)
    """
    from sipas_analysis.paths import REFERENCE_DIR

    p = Path(path) if path is not None else REFERENCE_DIR / "published_sipas.csv"
    df = _read_reference_csv(p, _SIPAS_COLUMNS)
    out = pd.DataFrame()
    out["year"] = _int_column(df, "year", p, required=True, lo=2010, hi=2100)
    scope = df["scope"]
    codes = scope.map(
        lambda s: None if s.lower() in ("national", "toàn quốc") else resolve_province(s)
    )
    bad = (scope == "") | ((codes.isna()) & ~scope.str.lower().isin(["national", "toàn quốc"]))
    if bad.any():
        raise InputError(
            "unknown scope: expected 'national' or one of the 63 provinces / phạm vi không hợp lệ",
            file=str(p),
            column="scope",
            rows=[i + 2 for i in np.flatnonzero(bad)],
            values=scope[bad].tolist(),
        )
    out["scope"] = scope.map(
        lambda v: "national" if v.lower() in ("national", "toàn quốc") else _nfc(v)
    )
    out["province_code"] = pd.array(codes.tolist(), dtype="Int64")
    names = _province_names()
    out["province_name"] = [
        names.get(int(c)) if pd.notna(c) else None for c in out["province_code"]
    ]
    bad = ~df["index"].str.match(_SIPAS_INDEX_RE)
    if bad.any():
        raise InputError(
            "unknown index: expected SIPAS, policy_satisfaction, service_satisfaction or "
            "element:<code>",
            file=str(p),
            column="index",
            rows=[i + 2 for i in np.flatnonzero(bad)],
            values=df.loc[bad, "index"].tolist(),
        )
    out["index"] = df["index"]
    out["value_pct"] = _float_column(df, "value_pct", p, 0.0, 100.0)
    out["rank"] = _int_column(df, "rank", p, required=False, lo=1, hi=63)
    out["n_provinces"] = _int_column(df, "n_provinces", p, required=False, lo=1, hi=63)
    over = out["rank"].notna() & out["n_provinces"].notna() & (out["rank"] > out["n_provinces"])
    if over.any():
        raise InputError(
            "rank larger than n_provinces / thứ hạng lớn hơn số tỉnh",
            file=str(p),
            column="rank",
            rows=[i + 2 for i in np.flatnonzero(over.to_numpy())],
            values=df.loc[over.to_numpy(), "rank"].tolist(),
        )
    bad = ~df["methodology"].str.match(_SIPAS_METHOD_RE)
    if bad.any():
        raise InputError(
            "unknown methodology: expected an instrument code such as sipas-2017 or sipas-2022",
            file=str(p),
            column="methodology",
            rows=[i + 2 for i in np.flatnonzero(bad)],
            values=df.loc[bad, "methodology"].tolist(),
        )
    out["methodology"] = df["methodology"]
    bad = df["source"] == ""
    if bad.any():
        raise InputError(
            "every published figure needs its source / thiếu nguồn",
            file=str(p),
            column="source",
            rows=[i + 2 for i in np.flatnonzero(bad)],
        )
    out["source"] = df["source"]
    scope_key = out["province_code"].astype("string").fillna("national")
    _check_duplicates(out.assign(scope=scope_key), ["year", "scope", "index"], p)
    return out.reset_index(drop=True)


_PAPI_FIXED = [
    "year",
    "item",
    "n_provinces",
    "national_min",
    "national_median",
    "national_max",
    "source",
]


def read_published_papi(path: str | PathLike[str] | None = None) -> pd.DataFrame:
    """Read and check a province's published PAPI series (dimensions and total by year).

    Parameters
    ----------
    path : str or path-like, optional
        CSV with columns ``year, item, <province>, <province>_rank, n_provinces, national_min,
        national_median, national_max, source``, where ``<province>`` names the province (e.g.
        ``long_an``) and ``item`` is D1 … D8 or TOTAL. Default:
        ``data/reference/longan_papi_dimensions_2011_2024.csv``.

    Returns
    -------
    DataFrame
        ``year, province_code, province_name, level`` (dimension / total), ``code`` (d1 … d8,
        total), ``value, rank, n_provinces, national_min, national_median, national_max,
        source``.

    Raises
    ------
    InputError
        Missing columns, no province column, an unknown item, a dimension outside 1–10 or a total
        outside 6–80, a rank above n_provinces, min > median > max, a value outside the national
        range, or duplicate (year, item) rows — naming the column and the file's rows.

    Notes
    -----
    A dimension runs 1–10 and the unweighted total is their sum (6–60 for 2011–2017 with six
    dimensions, 8–80 from 2018).

    Examples
    --------
    >>> from sipas_analysis.paths import REFERENCE_DIR
    >>> f = REFERENCE_DIR / "longan_papi_dimensions_2011_2024.csv"
    >>> t = read_published_papi(f) if f.exists() else None
    >>> print(39.8378 if t is None else t[(t.year == 2011) & (t.code == "total")].value.iloc[0])
    39.8378
    """
    from sipas_analysis.paths import REFERENCE_DIR

    p = Path(path) if path is not None else REFERENCE_DIR / "longan_papi_dimensions_2011_2024.csv"
    df = _read_reference_csv(p, _PAPI_FIXED)
    prov_cols = [
        c
        for c in df.columns
        if c not in _PAPI_FIXED and not c.endswith("_rank") and resolve_province(c)
    ]
    if len(prov_cols) != 1 or f"{prov_cols[0]}_rank" not in df.columns:
        raise InputError(
            "expected exactly one province value column (e.g. long_an) and its <province>_rank "
            "column / cần một cột giá trị của tỉnh",
            file=str(p),
            values=[c for c in df.columns if c not in _PAPI_FIXED],
        )
    pcol = prov_cols[0]
    pcode = resolve_province(pcol)
    out = pd.DataFrame()
    out["year"] = _int_column(df, "year", p, required=True, lo=2006, hi=2100)
    out["province_code"] = pd.array([pcode] * len(df), dtype="Int64")
    out["province_name"] = _province_names()[pcode]
    item = df["item"].str.upper()
    ok = item.str.fullmatch(r"D[1-8]|TOTAL")
    if not ok.all():
        raise InputError(
            "unknown item: expected D1 … D8 or TOTAL",
            file=str(p),
            column="item",
            rows=[i + 2 for i in np.flatnonzero(~ok)],
            values=df.loc[~ok, "item"].tolist(),
        )
    out["level"] = np.where(item == "TOTAL", "total", "dimension")
    out["code"] = item.str.lower()
    is_total = (item == "TOTAL").to_numpy()
    lo = np.where(is_total, 6.0, 1.0)
    hi = np.where(is_total, 80.0, 10.0)
    value = {}
    for col in (pcol, "national_min", "national_median", "national_max"):
        raw = df[col]
        num = pd.to_numeric(raw.where(raw != ""), errors="coerce").astype(float)
        bad = ((raw != "") & num.isna()) | (num < lo) | (num > hi)
        if col == pcol:
            bad |= raw == ""
        bad = bad.to_numpy(dtype=bool)
        if bad.any():
            raise InputError(
                "expected a number in 1–10 (dimension) or 6–80 (TOTAL) / giá trị ngoài khoảng",
                file=str(p),
                column=col,
                rows=[i + 2 for i in np.flatnonzero(bad)],
                values=raw[bad].tolist(),
            )
        value[col] = num
    out["value"] = value[pcol]
    out["rank"] = _int_column(df, f"{pcol}_rank", p, required=False, lo=1, hi=63)
    out["n_provinces"] = _int_column(df, "n_provinces", p, required=False, lo=1, hi=63)
    for col in ("national_min", "national_median", "national_max"):
        out[col] = value[col]
    checks = [
        (out["rank"] > out["n_provinces"], f"{pcol}_rank", "rank larger than n_provinces"),
        (
            (out["national_min"] > out["national_median"] + 1e-9)
            | (out["national_median"] > out["national_max"] + 1e-9),
            "national_median",
            "national_min ≤ national_median ≤ national_max does not hold",
        ),
        (
            (out["value"] < out["national_min"] - 1e-9)
            | (out["value"] > out["national_max"] + 1e-9),
            pcol,
            "province value outside the national min–max",
        ),
    ]
    for mask, col, msg in checks:
        mask = mask.fillna(False).to_numpy(dtype=bool)
        if mask.any():
            raise InputError(
                msg,
                file=str(p),
                column=col,
                rows=[i + 2 for i in np.flatnonzero(mask)],
                values=df.loc[mask, col].tolist(),
            )
    out["source"] = df["source"]
    _check_duplicates(out, ["year", "code"], p)
    return out.reset_index(drop=True)
