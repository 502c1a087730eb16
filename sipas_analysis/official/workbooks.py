"""Reading whole PAPI workbooks: layout detection, merging the figures of several sheets and files,
the tidy table (:func:`read_papi_workbook`, :func:`read_papi_workbooks`)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from os import PathLike
from pathlib import Path

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError
from sipas_analysis.official.cells import _load_sheets, _Rec, _Sheet
from sipas_analysis.official.codes import _MERGE_TOL, COLUMNS, _province_names
from sipas_analysis.official.layouts import (
    _is_compiled,
    _is_scores_by_row,
    _is_table_by_column,
    _is_table_by_row,
    _parse_compiled,
    _parse_scores_by_row,
    _parse_table,
    _Table,
    _table_from_columns,
    _table_from_rows,
)

__all__ = ["read_papi_workbook", "read_papi_workbooks"]


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
