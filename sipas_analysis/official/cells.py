"""Reading the cells of a PAPI workbook: numbers and blanks, sheets, records, the year of a sheet,
header codes and the province names of its rows or columns."""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sipas_analysis.errors import InputError
from sipas_analysis.official.codes import (
    _MISSING_TEXT,
    _SUMMARY_NAMES,
    _nfc,
    _province_key,
    _province_names,
    resolve_province,
)

__all__: list[str] = []


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
