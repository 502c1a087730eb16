"""Official published results: PAPI provincial workbooks and published SIPAS / PAPI figures.

The PAPI team (UNDP Viet Nam, CECODES, VFF-CT, RTA) publishes provincial results as Excel workbooks
on papi.org.vn whose layout changes almost every year. This module reads all of them into ONE tidy
table, one row per (year, province, level, code):

``year, province_code, province_name, level, code, label_vi, label_en, scale, scale_min, scale_max,
value, se, ci_low_published, ci_high_published, n, source_file, source_sheet``

``level`` is ``indicator`` / ``subdimension`` / ``dimension`` / ``total`` (unweighted PAPI) /
``total_weighted``; ``code`` follows the project's instrument codes (``d1`` … ``d8``, ``d1_1`` …,
``total``, ``total_weighted``; indicators ``d1_1_i1`` … numbered in the order of the official
Vietnamese table; an indicator found only in an English table, which does not group indicators by
sub-dimension, gets ``d<k>_en_<label slug>``, e.g. ``d5_en_took_part_in_land_title_procedures``;
English rows whose values equal a Vietnamese row's get that row's code).

Layouts recognised (detected from the cells, not from the file name):

* ``scores_by_row`` — provinces in rows, one column per dimension / sub-dimension headed
  ``"1: …"`` / ``"1.1: …"`` (the 2011–2017 ``PAPI_YYYY_vie.xlsx`` files with their per-dimension
  sheets, the 2018/2019 English files);
* ``compiled`` — the compiled 2011–2019 file: one sheet per year, columns ``tinhid``,
  ``tentinh_eng``, ``tentinh_vie`` and named (un-numbered) dimension / sub-dimension columns;
* ``table_by_column`` — provinces in columns, Vietnamese or English row labels, a ``Thang điểm``
  (scale) column, totals with SE and bounds, dimension variances and N (2018 and 2019 indicator
  files, and their one-province sheets);
* ``table_by_row`` — the same table transposed (provinces in rows).

Known traps handled: the 2011–2017 files' D2/D3 sub-dimension headers carry the 2018 names over the
old values (labels are taken from ``official_papi_structure.csv``, next to this module, by year);
``KCDL`` (không có dữ liệu) and blank cells are NaN, never 0; province id columns that are not GSO
codes (some sheets number provinces alphabetically) are detected and ignored — provinces are always
resolved by name through ``official_provinces.csv`` (the 63 pre-2025 provinces, GSO codes; names from
the GSO administrative-unit list and the PAPI compiled file); merged header cells are filled.

Published SIPAS figures (``published_sipas.csv``) and Long An's published PAPI series
(``longan_papi_dimensions_2011_2024.csv``) are read and validated by :func:`read_published_sipas`
and :func:`read_published_papi`.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError

__all__ = [
    "COLUMNS",
    "LEVELS",
    "provinces",
    "resolve_province",
    "read_papi_workbook",
    "read_papi_workbooks",
    "read_published_sipas",
    "read_published_papi",
]

COLUMNS = [
    "year",
    "province_code",
    "province_name",
    "level",
    "code",
    "label_vi",
    "label_en",
    "scale",
    "scale_min",
    "scale_max",
    "value",
    "se",
    "ci_low_published",
    "ci_high_published",
    "n",
    "source_file",
    "source_sheet",
]
LEVELS = ("total_weighted", "total", "dimension", "subdimension", "indicator")

_HERE = Path(__file__).resolve().parent
_PROVINCES_CSV = _HERE / "official_provinces.csv"
_STRUCTURE_CSV = _HERE / "official_papi_structure.csv"

# Text that means "no data" in a numeric cell of a PAPI workbook.
_MISSING_TEXT = {"", "kcdl", "-", "--", "n/a", "na", "nan", ".", "..", "...", "không có dữ liệu"}
# Row / column names of summary lines (not provinces) found in the workbooks.
_SUMMARY_NAMES = {
    "diemcaonhat",
    "diemthapnhat",
    "highest",
    "lowest",
    "median",
    "trungvi",
    "trungbinh",
    "average",
    "mean",
    "toanquoc",
    "national",
    "canuoc",
    "vietnam",
}
# Tolerance when the same figure appears on two sheets / files (published to 4 decimals at least).
_MERGE_TOL = 1e-4


# --------------------------------------------------------------------------------------------
# Names and provinces
# --------------------------------------------------------------------------------------------


def _nfc(text: object) -> str:
    """NFC-normalise and collapse whitespace."""
    return unicodedata.normalize("NFC", " ".join(str(text).split()))


def _ascii_key(text: object) -> str:
    """Lower-case ASCII key without tone marks, spaces or punctuation ("Hoà Bình" -> "hoabinh")."""
    s = unicodedata.normalize("NFD", str(text).lower().replace("đ", "d").replace("Đ", "d"))
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
    return re.sub(r"[^a-z0-9]", "", s)


def _province_key(name: object) -> str:
    """Matching key for a province name: ASCII, prefixes ("TP.", "Thành phố", "Tỉnh") removed."""
    s = _nfc(name)
    s = re.sub(
        r"^\s*(tp\.?|thành phố|thanh pho|tỉnh|tinh|city of|province of)\s+", "", s, flags=re.I
    )
    s = re.sub(r"\s+(city|province)\s*$", "", s, flags=re.I)
    return _ascii_key(s)


@functools.lru_cache(maxsize=1)
def _provinces_table() -> pd.DataFrame:
    df = pd.read_csv(_PROVINCES_CSV, dtype={"province_code": "Int64"}, keep_default_na=False)
    df["province_name"] = df["province_name"].map(_nfc)
    return df


def provinces() -> pd.DataFrame:
    """The 63 provinces of Viet Nam before the 2025 mergers, with GSO codes and name variants.

    Returns
    -------
    DataFrame
        ``province_code`` (Int64, GSO), ``province_name`` (Vietnamese, NFC), ``province_type``
        (Tỉnh / Thành phố), ``name_en`` (as in the PAPI files), ``aliases`` (``|``-separated).

    Examples
    --------
    >>> p = provinces()
    >>> len(p), int(p.loc[p.province_name == "Long An", "province_code"].iloc[0])
    (63, 80)
    """
    return _provinces_table().copy()


@functools.lru_cache(maxsize=1)
def _province_lookup() -> dict[str, int]:
    lookup: dict[str, int] = {}
    for row in _provinces_table().itertuples():
        names = [row.province_name, row.name_en, *[a for a in row.aliases.split("|") if a]]
        for name in names:
            key = _province_key(name)
            if key in lookup and lookup[key] != int(row.province_code):
                raise RuntimeError(f"province key {key!r} is ambiguous in {_PROVINCES_CSV.name}")
            lookup[key] = int(row.province_code)
    return lookup


def resolve_province(name: object) -> int | None:
    """GSO code of a province given any of its usual spellings, or None.

    Matching ignores case, tone marks (so "Hòa"/"Hoà" and NFD text match), spacing, hyphens and
    prefixes such as "TP.", "Thành phố", "Tỉnh", "City".

    Examples
    --------
    >>> resolve_province("TP. Hồ Chí Minh"), resolve_province("Ho Chi Minh City")
    (79, 79)
    >>> resolve_province("Hoà Bình"), resolve_province("Long An "), resolve_province("Highest")
    (17, 80, None)
    """
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return None
    return _province_lookup().get(_province_key(name))


def _province_names() -> dict[int, str]:
    t = _provinces_table()
    return dict(zip(t["province_code"].astype(int), t["province_name"], strict=True))


# --------------------------------------------------------------------------------------------
# PAPI structure (labels of dimensions and sub-dimensions by year)
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _structure_table() -> pd.DataFrame:
    df = pd.read_csv(_STRUCTURE_CSV, keep_default_na=False)
    for col in ("label_vi", "label_en", "aliases"):
        df[col] = df[col].map(_nfc)
    return df


@functools.lru_cache(maxsize=64)
def _structure(year: int) -> pd.DataFrame:
    """Dimension / sub-dimension / total rows that apply to ``year`` (latest known for later years)."""
    t = _structure_table()
    use = min(int(year), int(t["last_year"].max()))
    return t[(t["first_year"] <= use) & (t["last_year"] >= use)]


@functools.lru_cache(maxsize=1024)
def _n_subdimensions(year: int, dim: int) -> int:
    s = _structure(year)
    return int(((s["level"] == "subdimension") & s["code"].str.match(rf"^d{dim}_\d+$")).sum())


@functools.lru_cache(maxsize=4096)
def _labels(year: int, code: str) -> tuple[str | None, str | None]:
    s = _structure(year)
    hit = s[s["code"] == code]
    if hit.empty:
        return None, None
    return hit["label_vi"].iloc[0], hit["label_en"].iloc[0]


@functools.lru_cache(maxsize=4096)
def _code_by_label(year: int, label: str) -> str | None:
    """Code of a dimension / sub-dimension / total from its (un-numbered) published label."""
    key = _ascii_key(label)
    for row in _structure(year).itertuples():
        names = [row.label_vi, row.label_en, *[a for a in row.aliases.split("|") if a]]
        if any(_ascii_key(n) == key for n in names):
            return row.code
    return None


# --------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------


class _BadCell(Exception):
    def __init__(self, value: object) -> None:
        self.value = value


def _num(value: object) -> float:
    """A numeric cell as float; blank / KCDL / dash -> NaN; other text raises _BadCell."""
    if value is None:
        return np.nan
    if isinstance(value, bool):
        raise _BadCell(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    text = _nfc(value)
    if text.lower() in _MISSING_TEXT:
        return np.nan
    if text.startswith("="):  # a formula without a cached value
        return np.nan
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise _BadCell(value) from None


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _col_letter(idx: int) -> str:
    """0-based column index -> Excel letters."""
    letters = ""
    idx += 1
    while idx:
        idx, rem = divmod(idx - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass
class _Sheet:
    file: str
    name: str
    grid: list[list[object]]

    def cell(self, r: int, c: int) -> object:
        if r < len(self.grid) and c < len(self.grid[r]):
            return self.grid[r][c]
        return None

    def error(self, message: str, r: int | None = None, c: int | None = None, value=None):
        where = f"sheet {self.name!r}"
        if r is not None and c is not None:
            where += f", cell {_col_letter(c)}{r + 1}"
        elif r is not None:
            where += f", row {r + 1}"
        return InputError(
            f"{where}: {message}",
            file=self.file,
            values=None if value is None else [value],
        )


def _load_sheets(path: Path) -> list[_Sheet]:
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, data_only=True)
    except FileNotFoundError:
        raise InputError("file not found / không tìm thấy tệp", file=str(path)) from None
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputError(
            "not a readable .xlsx workbook / không đọc được tệp Excel .xlsx "
            f"({type(exc).__name__}); expected an official PAPI result workbook",
            file=str(path),
        ) from None
    except Exception as exc:  # openpyxl's InvalidFileException and friends
        raise InputError(
            f"not a readable .xlsx workbook / không đọc được tệp Excel ({type(exc).__name__})",
            file=str(path),
        ) from None
    sheets = []
    for ws in wb.worksheets:
        grid = [list(row) for row in ws.iter_rows(values_only=True)]
        for rng in ws.merged_cells.ranges:  # merged cells: copy the top-left value into the range
            top = ws.cell(rng.min_row, rng.min_col).value
            for r in range(rng.min_row - 1, rng.max_row):
                for c in range(rng.min_col - 1, rng.max_col):
                    if r < len(grid) and c < len(grid[r]) and grid[r][c] is None:
                        grid[r][c] = top
        sheets.append(_Sheet(str(path), ws.title, grid))
    return sheets


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


@dataclass
class _Rec:
    year: int
    province_code: int
    level: str
    code: str
    value: float = np.nan
    label_vi: str | None = None
    label_en: str | None = None
    scale: str | None = None
    scale_min: float = np.nan
    scale_max: float = np.nan
    se: float = np.nan
    ci_low_published: float = np.nan
    ci_high_published: float = np.nan
    n: float = np.nan
    source_file: str = ""
    source_sheet: str = ""
    extra: dict = field(default_factory=dict)


_YEAR_RE = re.compile(r"(?<!\d)(20[0-4]\d)(?!\d)")


def _years_in(text: str) -> list[int]:
    return sorted({int(y) for y in _YEAR_RE.findall(text)})


def _pick_year(sheet: _Sheet, content_year: int | None, year: int | None) -> int:
    """Year: explicit > content > file name (one year) > sheet title > error."""
    if year is not None:
        return int(year)
    if content_year is not None:
        return content_year
    in_file = _years_in(Path(sheet.file).stem)
    if len(in_file) == 1:
        return in_file[0]
    in_title = _years_in(sheet.name)
    if len(in_title) == 1:
        return in_title[0]
    raise sheet.error(
        "cannot tell which year this PAPI table is for (no year in its labels, file name or "
        "sheet name); pass year= / không xác định được năm của bảng PAPI"
    )


_HEADER_CODE_RE = re.compile(r"^\s*(\d+)\s*(?:\.\s*(\d+))?\s*:\s*(.*)$")


def _header_code(text: object) -> tuple[str, str] | None:
    """("d1_2", label) from a "1.2: label" header, ("d1", label) from "1: label"."""
    if not isinstance(text, str):
        return None
    m = _HEADER_CODE_RE.match(_nfc(text))
    if not m:
        return None
    code = f"d{int(m.group(1))}" + (f"_{int(m.group(2))}" if m.group(2) else "")
    return code, m.group(3).strip()


def _level_of(code: str) -> str:
    if code in ("total", "total_weighted"):
        return code
    if re.fullmatch(r"d\d+", code):
        return "dimension"
    if re.fullmatch(r"d\d+_\d+", code):
        return "subdimension"
    return "indicator"


def _check_ids(sheet: _Sheet, ids: list[object], codes: list[int | None]) -> bool:
    """True if an id column holds GSO province codes (agrees with the names on every row)."""
    pairs = [(i, c) for i, c in zip(ids, codes, strict=True) if c is not None and i is not None]
    if not pairs:
        return False
    try:
        return all(int(_num(i)) == c for i, c in pairs)
    except (ValueError, _BadCell):
        return False


def _resolve_names(
    sheet: _Sheet, names: list[object], ids: list[object] | None, positions: list[tuple[int, int]]
) -> list[int | None]:
    """Province codes for a list of name cells; None for blank / summary lines; error if unknown."""
    codes = [resolve_province(n) if not _is_blank(n) else None for n in names]
    ids_ok = ids is not None and _check_ids(sheet, ids, codes)
    out: list[int | None] = []
    seen: dict[int, tuple[int, int]] = {}
    valid_codes = set(_province_names())
    for k, (name, code) in enumerate(zip(names, codes, strict=True)):
        r, c = positions[k]
        if code is None and ids_ok and ids is not None:
            try:
                cand = int(_num(ids[k]))
            except (ValueError, _BadCell):
                cand = None
            code = cand if cand in valid_codes else None
        if code is None:
            if not _is_blank(name) and _province_key(name) not in _SUMMARY_NAMES:
                raise sheet.error(
                    "unknown province name / tên tỉnh không nhận ra (expected one of the 63 "
                    "provinces, see official_provinces.csv)",
                    r,
                    c,
                    name,
                )
            out.append(None)
            continue
        if code in seen:
            raise sheet.error(f"province appears twice (also at row/col {seen[code]})", r, c, name)
        seen[code] = (r + 1, c + 1)
        out.append(code)
    return out


# --------------------------------------------------------------------------------------------
# Layout: scores by row (per-year 2011-2017 files, English 2018/2019 files)
# --------------------------------------------------------------------------------------------

_NAME_HEADERS = {
    "tentinh",
    "province",
    "provinces",
    "tinhthanhpho",
    "tinhthanhphotructhuoctrunguong",
    "tentinhthanhpho",
}
_ID_HEADERS = {"tinhid", "matinh", "id"}


def _is_scores_by_row(sheet: _Sheet) -> bool:
    header = sheet.grid[0] if sheet.grid else []
    keys = [_ascii_key(h) if isinstance(h, str) else "" for h in header]
    has_name = any(k in _NAME_HEADERS for k in keys)
    n_coded = sum(1 for h in header if _header_code(h))
    return has_name and n_coded >= 2


def _parse_scores_by_row(sheet: _Sheet, year: int | None) -> list[_Rec]:
    header = sheet.grid[0]
    keys = [_ascii_key(h) if isinstance(h, str) else "" for h in header]
    name_col = next(i for i, k in enumerate(keys) if k in _NAME_HEADERS)
    id_col = next((i for i, k in enumerate(keys) if k in _ID_HEADERS), None)
    cols: list[tuple[int, str, str]] = []
    for c, h in enumerate(header):
        hc = _header_code(h)
        if hc:
            cols.append((c, hc[0], hc[1]))
        elif isinstance(h, str) and _ascii_key(h) in ("unweightedpapiscore", "unweightedpapi"):
            cols.append((c, "total", _nfc(h)))
    y = _pick_year(sheet, None, year)
    max_dim = max(int(re.match(r"d(\d+)", code).group(1)) for _, code, _ in cols if code != "total")
    if (y <= 2017 and max_dim > 6) or (y >= 2018 and max_dim < 7 and len(cols) > 8):
        raise sheet.error(
            f"the table has dimensions up to D{max_dim}, which does not fit year {y} "
            "(6 dimensions 2011–2017, 8 from 2018); pass the right year="
        )
    rows = range(1, len(sheet.grid))
    names = [sheet.cell(r, name_col) for r in rows]
    ids = [sheet.cell(r, id_col) for r in rows] if id_col is not None else None
    codes = _resolve_names(sheet, names, ids, [(r, name_col) for r in rows])
    recs: list[_Rec] = []
    for r, pcode in zip(rows, codes, strict=True):
        if pcode is None:
            continue
        for c, code, label in cols:
            try:
                value = _num(sheet.cell(r, c))
            except _BadCell as bad:
                raise sheet.error("expected a number / cần một số", r, c, bad.value) from None
            vi, en = _labels(y, code)
            if vi is None and y <= 2017 and code != "total":
                raise sheet.error(
                    f"column {code} is not part of the PAPI structure of {y}", 0, c, header[c]
                )
            if vi is None:  # code not in the structure table: keep the published label
                vi, en = (None, label) if label.isascii() else (label, None)
            recs.append(_Rec(y, pcode, _level_of(code), code, value, label_vi=vi, label_en=en))
    return recs


# --------------------------------------------------------------------------------------------
# Layout: compiled 2011-2019 file (tinhid / tentinh_eng / tentinh_vie)
# --------------------------------------------------------------------------------------------


def _is_compiled(sheet: _Sheet) -> bool:
    return (
        len(sheet.grid) > 2
        and _ascii_key(sheet.cell(0, 0)) == "tinhid"
        and _ascii_key(sheet.cell(0, 1)) == "tentinheng"
    )


def _parse_compiled(sheet: _Sheet, year: int | None) -> list[_Rec]:
    y = year
    if y is None:
        in_title = _years_in(sheet.name)
        if len(in_title) != 1:
            raise sheet.error("compiled PAPI sheet without a year in its name; pass year=")
        y = in_title[0]
    en_header = sheet.grid[0]
    vi_header = sheet.grid[1] if _ascii_key(sheet.cell(1, 0)) == "tinhid" else None
    first_data = 2 if vi_header is not None else 1
    cols: list[tuple[int, str]] = []
    for c in range(3, len(en_header)):
        labels = [en_header[c], vi_header[c] if vi_header is not None else None]
        labels = [lab for lab in labels if not _is_blank(lab)]
        if not labels:
            continue
        code = next((cd for cd in (_code_by_label(y, lab) for lab in labels) if cd), None)
        if code is None:
            raise sheet.error(
                f"column header not recognised as a PAPI {y} dimension or sub-dimension "
                "(see official_papi_structure.csv)",
                0,
                c,
                labels[0],
            )
        cols.append((c, code))
    rows = range(first_data, len(sheet.grid))
    names = [
        sheet.cell(r, 2) if not _is_blank(sheet.cell(r, 2)) else sheet.cell(r, 1) for r in rows
    ]
    ids = [sheet.cell(r, 0) for r in rows]
    codes = _resolve_names(sheet, names, ids, [(r, 2) for r in rows])
    recs = []
    for r, pcode in zip(rows, codes, strict=True):
        if pcode is None:
            continue
        for c, code in cols:
            try:
                value = _num(sheet.cell(r, c))
            except _BadCell as bad:
                raise sheet.error("expected a number / cần một số", r, c, bad.value) from None
            vi, en = _labels(y, code)
            recs.append(_Rec(y, pcode, _level_of(code), code, value, label_vi=vi, label_en=en))
    return recs


# --------------------------------------------------------------------------------------------
# Layout: full table (rows = indicators, columns = provinces) and its transpose
# --------------------------------------------------------------------------------------------

_TABLE_CORNER = {
    "matinh",
    "tinhid",
    "tentinhthanhpho",
    "tinhthanhpho",
    "tinhthanhphotructhuoctrunguong",
}


def _looks_like_table_label(text: object) -> bool:
    k = _ascii_key(text) if isinstance(text, str) else ""
    return k.startswith(("chisopapi", "chisonoidung", "papi95ci", "weightedpapi", "unweighted"))


def _is_table_by_column(sheet: _Sheet) -> bool:
    if len(sheet.grid) < 4 or _ascii_key(sheet.cell(0, 0)) not in _TABLE_CORNER:
        return False
    return any(_looks_like_table_label(sheet.cell(r, 0)) for r in range(1, min(6, len(sheet.grid))))


def _is_table_by_row(sheet: _Sheet) -> bool:
    if len(sheet.grid) < 2:
        return False
    header = sheet.grid[0]
    has_name = any(_ascii_key(h) in _TABLE_CORNER if isinstance(h, str) else False for h in header)
    return has_name and any(_looks_like_table_label(h) for h in header[:6])


@dataclass
class _Table:
    """Rows = labels, columns = provinces (whatever the sheet's orientation)."""

    labels: list[str]
    scales: list[str | None]
    values: list[list[object]]  # [row][province]
    provinces: list[int | None]
    cell_of: object  # function (row_idx, prov_idx) -> (r, c) in the sheet


def _table_from_columns(sheet: _Sheet) -> _Table:
    has_ids = _ascii_key(sheet.cell(0, 0)) in ("matinh", "tinhid")
    name_row = 1 if has_ids else 0
    first = name_row + 1
    ncol = max(len(r) for r in sheet.grid)
    scale_col = 1 if _ascii_key(sheet.cell(0, 1)) in ("thangdiem", "") else None
    pcols = [c for c in range(2 if scale_col is not None else 1, ncol)]
    names = [sheet.cell(name_row, c) for c in pcols]
    ids = [sheet.cell(0, c) for c in pcols] if has_ids else None
    pcodes = _resolve_names(sheet, names, ids, [(name_row, c) for c in pcols])
    labels, scales, values, rows = [], [], [], []
    for r in range(first, len(sheet.grid)):
        label = sheet.cell(r, 0)
        if _is_blank(label):
            continue
        labels.append(_nfc(label))
        sc = sheet.cell(r, scale_col) if scale_col is not None else None
        scales.append(None if _is_blank(sc) else _nfc(sc))
        values.append([sheet.cell(r, c) for c in pcols])
        rows.append(r)
    return _Table(labels, scales, values, pcodes, lambda i, j: (rows[i], pcols[j]))


def _table_from_rows(sheet: _Sheet) -> _Table:
    header = sheet.grid[0]
    keys = [_ascii_key(h) if isinstance(h, str) else "" for h in header]
    name_col = next(i for i, k in enumerate(keys) if k in _TABLE_CORNER and k not in _ID_HEADERS)
    id_col = 0 if name_col > 0 else None
    prow = [r for r in range(1, len(sheet.grid)) if not _is_blank(sheet.cell(r, name_col))]
    names = [sheet.cell(r, name_col) for r in prow]
    ids = [sheet.cell(r, id_col) for r in prow] if id_col is not None else None
    pcodes = _resolve_names(sheet, names, ids, [(r, name_col) for r in prow])
    labels, values, cols = [], [], []
    for c in range(name_col + 1, len(header)):
        if _is_blank(header[c]):
            continue
        labels.append(_nfc(header[c]))
        values.append([sheet.cell(r, c) for r in prow])
        cols.append(c)
    return _Table(labels, [None] * len(labels), values, pcodes, lambda i, j: (prow[j], cols[i]))


_RE_DIM_VI = re.compile(r"^chỉ số nội dung (\d+)\s*:", re.I)
_RE_DIM_EN = re.compile(r"^dimension (\d+)\s*:", re.I)
_RE_VAR = re.compile(r"^(?:phương sai|variance)\s*\((?:chỉ số nội dung|dimension)\s*(\d+)\)", re.I)
_RE_OBS = re.compile(
    r"^(?:observations|số quan sát)\s*\((?:chỉ số nội dung|dimension)\s*(\d+)\)", re.I
)
_RE_SUB = re.compile(r"^(\d+)\.(\d+)\s*:\s*(.*)$")


def _total_role(label: str) -> tuple[str, str] | None:
    """(code, role) for total / SE / bound rows; role in value, se, ci_low, ci_high."""
    low = label.lower()
    en = _ascii_key(label)
    en_map = {
        "weightedpapiscore": ("total_weighted", "value"),
        "papistandarderror": ("total_weighted", "se"),
        "papi95cilow": ("total_weighted", "ci_low"),
        "papi95cihigh": ("total_weighted", "ci_high"),
        "unweightedpapiscore": ("total", "value"),
        "unweightedstandarderror": ("total", "se"),
        "unweighted95cilow": ("total", "ci_low"),
        "unweighted95cihigh": ("total", "ci_high"),
    }
    if en in en_map:
        return en_map[en]
    if not low.startswith("chỉ số papi"):
        return None
    code = (
        "total"
        if "không có trọng số" in low
        else ("total_weighted" if "có trọng số" in low else "total")
    )
    if "tối thiểu" in low:
        return code, "ci_low"
    if "tối đa" in low:
        return code, "ci_high"
    if "sai số" in low:
        return code, "se"
    return code, "value"


def _slug(label: str, width: int = 60) -> str:
    """Stable ASCII code part from a label ("Built house (%)" -> "built_house")."""
    s = unicodedata.normalize("NFD", label.lower().replace("đ", "d"))
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
    s = re.sub(r"[^a-z0-9]+", "_", s).strip("_")
    return s[:width].rstrip("_") or "x"


_SCALE_RE = re.compile(r"^\s*(-?[\d.,]+)\s*(%?)\s*[-–]\s*(-?[\d.,]+)\s*(%?)")


def _parse_scale(scale: str | None, values: Iterable[float]) -> tuple[float, float]:
    """(min, max) of a published scale, in the units of the values.

    "0%-100%" rows are published as fractions (0–1) except a few in percent: the unit is taken
    from the values (any value above 1 means percent).
    """
    if not scale:
        return np.nan, np.nan
    m = _SCALE_RE.match(scale)
    if not m:
        return np.nan, np.nan
    lo = float(m.group(1).replace(",", ""))
    hi = float(m.group(3).replace(",", ""))
    if m.group(2) or m.group(4):
        vals = [v for v in values if not math.isnan(v)]
        if not vals or max(vals) <= 1.0 + 1e-9:
            lo, hi = lo / 100.0, hi / 100.0
    return lo, hi


def _parse_table(sheet: _Sheet, table: _Table, year: int | None, english: bool) -> list[_Rec]:
    # numeric matrix
    nums: list[list[float]] = []
    for i, row in enumerate(table.values):
        out = []
        for j, v in enumerate(row):
            if table.provinces[j] is None:
                out.append(np.nan)
                continue
            try:
                out.append(_num(v))
            except _BadCell as bad:
                r, c = table.cell_of(i, j)
                raise sheet.error("expected a number / cần một số", r, c, bad.value) from None
        nums.append(out)
    content_year = None
    for lab in table.labels:
        if _total_role(lab) and _years_in(lab):
            content_year = _years_in(lab)[0]
            break
    y = _pick_year(sheet, content_year, year)

    # classify rows
    kinds: list[tuple[str, str, str]] = []  # (kind, code, role)
    dim = 0
    sub_code: str | None = None
    i = 0
    counters: dict[str, int] = {}
    pending_subs = 0
    labels = table.labels
    while i < len(labels):
        lab = labels[i]
        has_values = any(not math.isnan(v) for v in nums[i])
        nxt = labels[i + 1] if i + 1 < len(labels) else ""
        tr = _total_role(lab)
        m_var = _RE_VAR.match(lab)
        m_obs = _RE_OBS.match(lab)
        m_dim = _RE_DIM_VI.match(lab) or _RE_DIM_EN.match(lab)
        m_sub = _RE_SUB.match(lab)
        nxt_var = _RE_VAR.match(nxt)
        if tr:
            kinds.append(("total", tr[0], tr[1]))
        elif m_var:
            kinds.append(("dimension", f"d{int(m_var.group(1))}", "variance"))
        elif m_obs:
            kinds.append(("dimension", f"d{int(m_obs.group(1))}", "n"))
        elif m_dim or (nxt_var and not m_sub):
            dim = int(m_dim.group(1)) if m_dim else int(nxt_var.group(1))
            sub_code = None
            kinds.append(("dimension", f"d{dim}", "value"))
            pending_subs = 0 if not english else _n_subdimensions(y, dim)
        elif m_sub:
            dim = int(m_sub.group(1))
            sub_code = f"d{dim}_{int(m_sub.group(2))}"
            kinds.append(("subdimension", sub_code, "value"))
        elif english and pending_subs and dim:
            k = _n_subdimensions(y, dim) - pending_subs + 1
            sub_code = None
            kinds.append(("subdimension", f"d{dim}_{k}", "value"))
            pending_subs -= 1
        elif not has_values and not table.scales[i]:  # notes; keep blank indicators
            kinds.append(("skip", "", ""))
        else:
            if sub_code is not None:
                counters[sub_code] = counters.get(sub_code, 0) + 1
                code = f"{sub_code}_i{counters[sub_code]}"
            else:  # English table without sub-dimension grouping: code from the label
                base = f"d{dim}" if dim else "papi"
                code = f"{base}_en_{_slug(lab)}"
                counters[code] = counters.get(code, 0) + 1
                if counters[code] > 1:
                    code = f"{code}_{counters[code]}"
            kinds.append(("indicator", code, "value"))
        i += 1

    # English tables: check that the positional sub-dimensions add up to their dimension
    if english:
        _check_positional_subdims(sheet, y, kinds, nums, table)

    recs: dict[tuple[int, str], _Rec] = {}
    for i, (kind, code, role) in enumerate(kinds):
        if kind == "skip":
            continue
        level = _level_of(code)
        for j, pcode in enumerate(table.provinces):
            if pcode is None:
                continue
            v = nums[i][j]
            rec = recs.get((pcode, code))
            if rec is None:
                rec = recs[(pcode, code)] = _Rec(y, pcode, level, code)
            if role == "value":
                rec.value = v
                if level == "indicator":
                    if english:
                        rec.label_en = labels[i]
                    else:
                        rec.label_vi = labels[i]
                    rec.scale = table.scales[i]
                    rec.scale_min, rec.scale_max = _parse_scale(table.scales[i], nums[i])
                    rec.extra["row"] = i
                else:
                    rec.scale = table.scales[i]
                    rec.scale_min, rec.scale_max = _parse_scale(table.scales[i], nums[i])
            elif role == "se":
                rec.se = v
            elif role == "variance":
                rec.se = math.sqrt(v) if not math.isnan(v) and v >= 0 else np.nan
            elif role == "ci_low":
                rec.ci_low_published = v
            elif role == "ci_high":
                rec.ci_high_published = v
            elif role == "n":
                rec.n = v
    for rec in recs.values():
        if rec.level != "indicator":
            vi, en = _labels(y, rec.code)
            rec.label_vi, rec.label_en = vi, en
    # records that only carried SE / bounds without a value row are still kept (value NaN)
    return list(recs.values())


def _check_positional_subdims(sheet, y, kinds, nums, table) -> None:
    dims = {
        code: i for i, (k, code, role) in enumerate(kinds) if k == "dimension" and role == "value"
    }
    for dcode, di in dims.items():
        subs = [
            i
            for i, (k, code, _r) in enumerate(kinds)
            if k == "subdimension" and code.startswith(dcode + "_")
        ]
        if not subs:
            continue
        total = np.nansum([nums[i] for i in subs], axis=0)
        dv = np.asarray(nums[di])
        ok = (
            np.isnan(dv)
            | (np.abs(total - dv) < 1e-3)
            | np.any(np.isnan([nums[i] for i in subs]), axis=0)
        )
        if not ok.all():
            j = int(np.where(~ok)[0][0])
            r, c = table.cell_of(di, j)
            raise sheet.error(
                f"the {len(subs)} columns after dimension {dcode} were read as its sub-dimensions "
                f"but do not add up to it (layout of {y} not as expected)",
                r,
                c,
            )


# --------------------------------------------------------------------------------------------
# Workbook level
# --------------------------------------------------------------------------------------------

_LAYOUTS = "scores_by_row (header 'Tên tỉnh'/'Province' + '1: …', '1.1: …' columns), compiled ('tinhid', 'tentinh_eng', 'tentinh_vie'), table_by_column ('Mã tỉnh'/'Tên tỉnh/thành phố' + 'Thang điểm', rows 'Chỉ số PAPI …', 'Chỉ số nội dung 1: …'), table_by_row (the same, transposed)"


def _detect(sheet: _Sheet) -> str | None:
    if not sheet.grid:
        return None
    if _is_compiled(sheet):
        return "compiled"
    if _is_table_by_column(sheet):
        return "table_by_column"
    if _is_table_by_row(sheet):
        return "table_by_row"
    if _is_scores_by_row(sheet):
        return "scores_by_row"
    return None


def _is_english_table(table: _Table) -> bool:
    return not any(
        lab.lower().startswith(("chỉ số nội dung", "chỉ số papi")) for lab in table.labels
    )


def _parse_sheet(sheet: _Sheet, layout: str, year: int | None) -> list[_Rec]:
    if layout == "compiled":
        recs = _parse_compiled(sheet, year)
    elif layout == "scores_by_row":
        recs = _parse_scores_by_row(sheet, year)
    else:
        table = (
            _table_from_columns(sheet) if layout == "table_by_column" else _table_from_rows(sheet)
        )
        recs = _parse_table(sheet, table, year, english=_is_english_table(table))
    file_name = Path(sheet.file).name
    for rec in recs:
        rec.source_file = file_name
        rec.source_sheet = sheet.name
    return recs


def _match_english_indicators(recs: list[_Rec]) -> None:
    """Give English-only indicator records the code of the Vietnamese row with the same values."""
    vi_vec: dict[tuple[int, str], dict[int, float]] = {}
    en_vec: dict[tuple[int, str], dict[int, float]] = {}
    for r in recs:
        if r.level != "indicator":
            continue
        target = en_vec if "_en_" in r.code else vi_vec
        target.setdefault((r.year, r.code), {})[r.province_code] = r.value
    if not en_vec or not vi_vec:
        return
    rename: dict[tuple[int, str], str] = {}
    used: set[tuple[int, str]] = set()
    for (y, ecode), ev in en_vec.items():
        dim = ecode.split("_")[0]
        hits = []
        for (vy, vcode), vv in vi_vec.items():
            if vy != y or not vcode.startswith(dim + "_") or (vy, vcode) in used:
                continue
            common = set(ev) & set(vv)
            if len(common) < 3:
                continue
            same = all(
                (math.isnan(ev[p]) and math.isnan(vv[p]))
                or (not math.isnan(ev[p]) and not math.isnan(vv[p]) and abs(ev[p] - vv[p]) < 1e-7)
                for p in common
            )
            if same and sum(not math.isnan(ev[p]) for p in common) >= 3:
                hits.append(vcode)
        if len(hits) == 1:
            rename[(y, ecode)] = hits[0]
            used.add((y, hits[0]))
    for r in recs:
        new = rename.get((r.year, r.code))
        if new is not None and r.level == "indicator":
            r.code = new


def _merge(recs: list[_Rec], what: str) -> list[_Rec]:
    """One record per (year, province, code): first value wins, gaps filled, conflicts raise."""
    merged: dict[tuple[int, int, str], _Rec] = {}
    fields = [
        "label_vi",
        "label_en",
        "scale",
        "scale_min",
        "scale_max",
        "se",
        "ci_low_published",
        "ci_high_published",
        "n",
    ]
    for r in recs:
        key = (r.year, r.province_code, r.code)
        m = merged.get(key)
        if m is None:
            merged[key] = r
            continue
        if math.isnan(m.value) and not math.isnan(r.value):
            m.value, m.source_file, m.source_sheet = r.value, r.source_file, r.source_sheet
        elif (
            not math.isnan(m.value)
            and not math.isnan(r.value)
            and abs(m.value - r.value) > _MERGE_TOL
        ):
            raise InputError(
                f"{what}: PAPI {r.year} {r.code} for province {r.province_code} differs between "
                f"{m.source_file} [{m.source_sheet}] and {r.source_file} [{r.source_sheet}] / "
                "hai bảng cho giá trị khác nhau",
                file=r.source_file,
                values=[m.value, r.value],
            )
        for f in fields:
            mv, rv = getattr(m, f), getattr(r, f)
            if (mv is None or (isinstance(mv, float) and math.isnan(mv))) and not (
                rv is None or (isinstance(rv, float) and math.isnan(rv))
            ):
                setattr(m, f, rv)
    return list(merged.values())


def _blank_aggregates(recs: list[_Rec]) -> None:
    """A province missing a dimension has no total (official rule).

    The compiled file computes its total with an Excel formula that turns blank dimensions into 0
    (Bắc Giang 2014 shows a total of 0): such totals are set to NaN.
    """
    missing = {
        (r.year, r.province_code) for r in recs if r.level == "dimension" and math.isnan(r.value)
    }
    for r in recs:
        if r.level in ("total", "total_weighted") and (r.year, r.province_code) in missing:
            r.value = np.nan


def _sort_key(code: str) -> tuple:
    if code == "total_weighted":
        return (0,)
    if code == "total":
        return (1,)
    m = re.fullmatch(r"d(\d+)(?:_(\d+))?(?:_i(\d+))?", code)
    if m:
        d, s, i = (int(g) if g else 0 for g in m.groups())
        return (2, d, s, i, "")
    m = re.fullmatch(r"d(\d+)_en_(.*)", code)
    if m:
        return (2, int(m.group(1)), 99, 0, m.group(2))
    return (3, 0, 0, 0, code)


def _to_frame(recs: list[_Rec]) -> pd.DataFrame:
    names = _province_names()
    df = pd.DataFrame(
        {
            "year": [r.year for r in recs],
            "province_code": [r.province_code for r in recs],
            "province_name": [names[r.province_code] for r in recs],
            "level": [r.level for r in recs],
            "code": [r.code for r in recs],
            "label_vi": [r.label_vi for r in recs],
            "label_en": [r.label_en for r in recs],
            "scale": [r.scale for r in recs],
            "scale_min": [r.scale_min for r in recs],
            "scale_max": [r.scale_max for r in recs],
            "value": [r.value for r in recs],
            "se": [r.se for r in recs],
            "ci_low_published": [r.ci_low_published for r in recs],
            "ci_high_published": [r.ci_high_published for r in recs],
            "n": [r.n for r in recs],
            "source_file": [r.source_file for r in recs],
            "source_sheet": [r.source_sheet for r in recs],
        },
        columns=COLUMNS,
    )
    if df.empty:
        return _empty_frame()
    df["_k"] = df["code"].map(_sort_key)
    df = df.sort_values(["year", "province_code", "_k"], kind="stable").drop(columns="_k")
    return _typed(df.reset_index(drop=True))


def _empty_frame() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in COLUMNS}))


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in ("year", "province_code"):
        df[c] = df[c].astype("Int64")
    df["n"] = pd.to_numeric(df["n"]).round().astype("Int64")
    for c in ("scale_min", "scale_max", "value", "se", "ci_low_published", "ci_high_published"):
        df[c] = pd.to_numeric(df[c]).astype(float)
    for c in (
        "province_name",
        "level",
        "code",
        "label_vi",
        "label_en",
        "scale",
        "source_file",
        "source_sheet",
    ):
        df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def read_papi_workbook(path: str | PathLike[str], *, year: int | None = None) -> pd.DataFrame:
    """Read one official PAPI provincial result workbook into the tidy table.

    Parameters
    ----------
    path : str or path-like
        An ``.xlsx`` workbook as published on papi.org.vn (any of the layouts listed in the
        module docstring; the layout is detected from the cells of each sheet).
    year : int, optional
        Force the survey year. By default it is taken from the table's labels
        ("Chỉ số PAPI 2018 …"), else from the file name if it holds exactly one year, else from
        the sheet name.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`, one row per (year, province, code). Sheets of a workbook that
        repeat the same figures (per-dimension sheets, one-province sheets, English copies) are
        merged: the first sheet's value is kept, labels, SE, bounds and N are filled from the
        others. Sheets with no PAPI layout (notes, charts) are skipped and listed in
        ``result.attrs["skipped_sheets"]``.

    Raises
    ------
    InputError
        If the file is not a readable workbook, no sheet has a known PAPI layout (message names
        the file, its sheets and the layouts expected), a province name is unknown, a numeric
        cell holds text, or two sheets disagree on a figure.

    Notes
    -----
    Values are as published (no rescaling, no rounding). ``se`` is the published standard error
    (totals) or the square root of the published variance ("Phương sai", dimensions):
    ``se = sqrt(var)``. ``ci_low_published`` / ``ci_high_published`` are PAPI's "95%" bounds,
    which are in fact ``value ± 1.645·se`` (a 90% interval). ``scale_min`` / ``scale_max`` are
    parsed from the published "Thang điểm" text in the units of ``value`` (percent scales whose
    values are fractions become 0–1). "KCDL" and blank cells (fewer than 15 answers) are NaN,
    and a province missing a dimension has no total (NaN), as officially: the compiled file's
    Excel formula otherwise shows 0 for such a province.

    Examples
    --------
    A sheet in the layout of the 2011–2014 files, with Long An's published 2011 scores
    (``data/reference/longan_papi_subdimensions_2011_2019.csv``):

    >>> import tempfile, openpyxl
    >>> from pathlib import Path
    >>> wb = openpyxl.Workbook()
    >>> ws = wb.active
    >>> ws.title = "Điểm thành phần 1"
    >>> ws.append(["Tên tỉnh ", "1: Tham gia của người dân ở cấp cơ sở", "1.1: Tri thức công dân",
    ...            "1.2: Cơ hội tham gia", "1.3: Chất lượng bầu cử", "1.4: Đóng góp tự nguyện"])
    >>> ws.append(["Long An", 5.7696, 1.3631, 2.0237, 1.3115, 1.0714])
    >>> f = Path(tempfile.mkdtemp()) / "PAPI_2011_vie.xlsx"
    >>> wb.save(f)
    >>> t = read_papi_workbook(f)
    >>> t.loc[t.code == "d1", ["year", "province_code", "value"]].values.tolist()
    [[2011, 80, 5.7696]]
    """
    path = Path(path)
    sheets = _load_sheets(path)
    recs: list[_Rec] = []
    recognised = []
    for sheet in sheets:
        layout = _detect(sheet)
        if layout is None:
            continue
        recognised.append(sheet.name)
        recs.extend(_parse_sheet(sheet, layout, year))
    if not recognised:
        raise InputError(
            "no sheet has a known PAPI result layout / không phải bảng kết quả PAPI. Sheets: "
            + ", ".join(repr(s.name) for s in sheets)
            + f". Expected one of: {_LAYOUTS}",
            file=str(path),
        )
    _match_english_indicators(recs)
    merged = _merge(recs, path.name)
    _blank_aggregates(merged)
    out = _to_frame(merged)
    out.attrs["skipped_sheets"] = [s.name for s in sheets if s.name not in recognised]
    return out


def read_papi_workbooks(
    paths: Sequence[str | PathLike[str]], *, deduplicate: bool = True
) -> pd.DataFrame:
    """Read several PAPI workbooks into one tidy table.

    Parameters
    ----------
    paths : sequence of str or path-like
        Workbooks, e.g. the compiled 2011–2019 file plus the 2019 indicator file.
    deduplicate : bool, default True
        Keep one row per (year, province, code): the first file listed wins; missing labels, SE,
        bounds and N are filled from later files. With False, rows of every file are kept.

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`.

    Raises
    ------
    InputError
        As :func:`read_papi_workbook`; also when two files disagree on a figure by more than
        1e-4 (``deduplicate=True``).

    Examples
    --------
    >>> read_papi_workbooks([]).columns.tolist() == COLUMNS
    True
    """
    frames = [read_papi_workbook(p) for p in paths]
    if not frames:
        return _empty_frame()
    if not deduplicate or len(frames) == 1:
        return _typed(pd.concat(frames, ignore_index=True))
    recs: list[_Rec] = []
    for df in frames:
        for row in df.itertuples(index=False):
            recs.append(
                _Rec(
                    int(row.year),
                    int(row.province_code),
                    row.level,
                    row.code,
                    row.value,
                    label_vi=row.label_vi,
                    label_en=row.label_en,
                    scale=row.scale,
                    scale_min=row.scale_min,
                    scale_max=row.scale_max,
                    se=row.se,
                    ci_low_published=row.ci_low_published,
                    ci_high_published=row.ci_high_published,
                    n=np.nan if pd.isna(row.n) else float(row.n),
                    source_file=row.source_file,
                    source_sheet=row.source_sheet,
                )
            )
    _match_english_indicators(recs)
    return _to_frame(_merge(recs, "workbooks"))


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
