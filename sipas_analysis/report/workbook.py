"""The Excel workbooks people open: ``ket_qua.xlsx`` of a run and the field team's problem report.

One writer (:func:`write_workbook`, XlsxWriter) serves both. Every workbook starts with a sheet
"Đọc trước" that lists what each sheet holds, the meaning of every column, every code and flag, the
rules, the sources, the run date, the package version and the checksums of the inputs. Every
column has a Vietnamese header; codes are shown as their Vietnamese labels; numbers carry a number
format (``0.0`` for percent points, ``0.00`` for PAPI points, ``0.000`` for p- and q-values, so a
Vietnamese Excel shows 81,5); widths are fitted, the header is frozen and filtered; sheet names
keep their diacritics; commune and area names stand beside their codes. Headers, meanings, formats
and labels are data: ``workbook.yaml`` beside this module, read by
:mod:`sipas_analysis.report.labels` (the notebooks' display tables,
:mod:`sipas_analysis.report.display`, use the same).

Text is always written as a string cell (``write_string``, or its shared string in the rendered
rows; never ``write``), so no text becomes a formula. A missing value is an empty cell; the
suppression of cells with fewer than 10 answers happens before the tables reach the writer (the
values arrive empty).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sipas_analysis.outputs import atomic_path
from sipas_analysis.report.labels import (
    header,
    is_missing,
    label,
    label_codes,
    spec,
    subgroup_label,
)

__all__ = [
    "Column",
    "Sheet",
    "sheet_name",
    "table_sheet",
    "points_for",
    "Names",
    "summary_sheet",
    "result_sheets",
    "run_facts",
    "write_results",
    "write_problems",
    "Readme",
    "format_code",
    "write_workbook",
]

README_SHEET = "Đọc trước"
#: Excel's limits: sheet names, characters of a cell.
SHEET_NAME_MAX = 31
CELL_TEXT_MAX = 32767
#: Rows of an Excel sheet (the header takes one); a longer table goes on in sheets "… (2)", "… (3)".
SHEET_ROWS_MAX = 1_048_576
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
#: Width (characters) of a column holding long text; the text wraps inside it.
WIDE_TEXT = 60
#: Sample of rows measured to fit a column's width (the rest is assumed alike).
_WIDTH_SAMPLE = 3000


# ---------------------------------------------------------------------------------------------
# Sheets
# ---------------------------------------------------------------------------------------------


@dataclass
class Column:
    """One column of a sheet: key in the frame, header, meaning, number format kind, code list."""

    key: str
    header: str
    about: str
    fmt: str | None = None
    labels: str | None = None


@dataclass
class Sheet:
    """A sheet: its name, what it holds and its table (raw codes; labels applied when written).

    ``points`` is the number format of the ``points`` columns, per row ("pct" or "papi").
    """

    name: str
    about: str
    frame: pd.DataFrame
    columns: list[Column]
    points: np.ndarray | str = "papi"
    freeze_cols: int = 0


def _column(key: str, **override: Any) -> Column:
    meta = spec()["columns"].get(key, {})
    return Column(
        key=key,
        header=override.get("header", meta.get("header", key)),
        about=override.get("about", meta.get("about", "")),
        fmt=override.get("fmt", meta.get("format")),
        labels=override.get("labels", meta.get("labels")),
    )


def sheet_name(template: str, **fields: str) -> str:
    """A sheet name from a template of ``workbook.yaml``: Excel-safe, at most 31 characters."""
    name = _SHEET_FORBIDDEN.sub("-", template.format(**fields))
    return name[:SHEET_NAME_MAX]


def points_for(frame: pd.DataFrame, default: str) -> np.ndarray | str:
    """Per-row format of the ``points`` columns: SIPAS shares in percent points, else PAPI."""
    if "statistic" in frame.columns:
        return np.where(frame["statistic"].astype(str).to_numpy() == "top2", "pct", "papi")
    if "survey" in frame.columns:
        return np.where(frame["survey"].astype(str).to_numpy() == "sipas", "pct", "papi")
    return default


def table_sheet(key: str, frame: pd.DataFrame, *, default_points: str = "papi", **fields) -> Sheet:
    """The sheet of a table as ``workbook.yaml`` lists it (columns it has, in the listed order)."""
    entry = spec()["sheets"].get(key, {"name": key, "about": key})
    listed = entry.get("columns") or list(frame.columns)
    keys = [c for c in listed if c in frame.columns]
    return Sheet(
        name=sheet_name(entry["name"], **fields),
        about=entry["about"].format(**fields),
        frame=frame,
        columns=[_column(c) for c in keys],
        points=points_for(frame, default_points),
        freeze_cols=_freeze_after(keys),
    )


def _freeze_after(keys: Sequence[str]) -> int:
    """Columns kept in view when scrolling right: up to the unit's or the index's name."""
    for name in ("unit_name", "label_vi"):
        if name in keys[:8]:
            return keys.index(name) + 1
    return 0


# ---------------------------------------------------------------------------------------------
# Names beside codes
# ---------------------------------------------------------------------------------------------


@dataclass
class Names:
    """Names of units, areas and indices, looked up from the estimates of the run."""

    units: dict[object, str] = field(default_factory=dict)
    unit_area: dict[object, str] = field(default_factory=dict)
    areas: dict[str, str] = field(default_factory=dict)
    indices: dict[tuple[str, str, str], str] = field(default_factory=dict)
    indices_any: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_estimates(cls, estimates: pd.DataFrame | None) -> Names:
        from sipas_analysis import geography

        names = cls()
        areas = geography.areas()
        names.areas = dict(zip(areas["area_code"].astype(str), areas["area_name"], strict=True))
        if estimates is None or estimates.empty:
            return names
        # commune codes are reused across boundary vintages: names are looked up by wave first
        units = estimates[["wave", "unit_code", "unit_name", "area_code"]].drop_duplicates(
            ["wave", "unit_code"]
        )
        for w, u, name, a in units.itertuples(index=False, name=None):
            names.units[(str(w), str(u))] = name
            names.units.setdefault(str(u), name)
            if not is_missing(a) and str(a) != "":
                names.unit_area[(str(w), str(u))] = str(a)
                names.unit_area.setdefault(str(u), str(a))
        idx = estimates[["survey", "wave", "index_code", "label_vi"]].drop_duplicates(
            ["survey", "wave", "index_code"]
        )
        names.indices = {
            (str(s), str(w), str(c)): lab for s, w, c, lab in idx.itertuples(index=False, name=None)
        }
        names.indices_any = dict(zip(idx["index_code"].astype(str), idx["label_vi"], strict=False))
        return names

    def add_to(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame with ``unit_name``, ``area_code``/``area_name``, ``label_vi`` and
        ``parent_name`` added beside their codes when it has the codes and not the names."""
        out = frame
        if out.empty:
            return out
        out = out.copy()
        if "unit_code" in out.columns and "unit_name" not in out.columns:
            out["unit_name"] = self._by_unit(out, self.units)
        if "unit_code" in out.columns and "area_code" not in out.columns and self.unit_area:
            out["area_code"] = self._by_unit(out, self.unit_area)
        if "area_code" in out.columns and "area_name" not in out.columns:
            codes = out["area_code"].astype(object)
            out["area_name"] = codes.map(
                lambda c: self.areas.get(str(c).removesuffix(".0")) if not is_missing(c) else None
            )
        for code_col, name_col in (("index_code", "label_vi"), ("parent_code", "parent_name")):
            if code_col in out.columns and name_col not in out.columns:
                out[name_col] = self._index_names(out, code_col)
        return out

    @staticmethod
    def _by_unit(frame: pd.DataFrame, table: dict[object, str]) -> list[str | None]:
        codes = frame["unit_code"].astype(str)
        if "wave" not in frame.columns:
            return [table.get(c) for c in codes]
        return [
            table.get((w, c), table.get(c))
            for w, c in zip(frame["wave"].astype(str), codes, strict=True)
        ]

    def _index_names(self, frame: pd.DataFrame, code_col: str) -> list[object]:
        survey = frame["survey"].astype(str) if "survey" in frame.columns else None
        wave = frame["wave"].astype(str) if "wave" in frame.columns else None
        codes = frame[code_col].astype(str)
        if survey is None or wave is None:
            return [self.indices_any.get(c) for c in codes]
        return [
            self.indices.get((s, w, c), self.indices_any.get(c))
            for s, w, c in zip(survey, wave, codes, strict=True)
        ]


# ---------------------------------------------------------------------------------------------
# The run's workbook (ket_qua.xlsx)
# ---------------------------------------------------------------------------------------------

#: Order of the tables after the summary sheets (estimates come last: they are the longest).
RESULT_ORDER = (
    "findings",
    "trends",
    "ranks",
    "importance_performance",
    "answers",
    "sipas_published",
    "benchmarks",
    "estimates",
    "accounting",
    "exclusions",
    "problems",
)


def _waves(estimates: pd.DataFrame) -> list[tuple[str, str]]:
    """(survey, wave) pairs, SIPAS first, latest wave first."""
    pairs = estimates[["survey", "wave"]].drop_duplicates().astype(str)
    order = {"sipas": 0, "papi": 1}
    return sorted(
        map(tuple, pairs.to_numpy()),
        key=lambda p: (order.get(p[0], 9), -int(p[1]) if p[1].isdigit() else 0),
    )


def summary_sheet(estimates: pd.DataFrame, survey: str, wave: str, names: Names) -> Sheet | None:
    """ "Tổng hợp <khảo sát> <đợt>": one row per unit (total, each area and its communes, sorted by
    area), for the overall index and each element (SIPAS) or dimension (PAPI): estimate, 95%
    interval and flag."""
    est = estimates[
        (estimates["survey"].astype(str) == survey)
        & (estimates["wave"].astype(str) == wave)
        & (estimates["subgroup"].fillna("").astype(str) == "")
        & estimates["level"].isin(["total", "area", "commune"])
    ]
    levels = ("overall", "element") if survey == "sipas" else ("total", "dimension")
    est = est[est["index_level"].isin(levels)]
    if survey == "papi":
        est = est[est["index_code"] != "papi_weighted"]
    if est.empty:
        return None
    indices = est.drop_duplicates("index_code")[["index_code", "label_vi", "index_level"]]
    indices = pd.concat(
        [indices[indices["index_level"] == levels[0]], indices[indices["index_level"] != levels[0]]]
    )
    units = est.drop_duplicates("unit_code")[["level", "unit_code", "unit_name", "area_code"]]
    units = units.assign(area_code=units["area_code"].astype(object))
    area_of_unit = np.where(
        units["level"] == "area", units["unit_code"].astype(str), units["area_code"].astype(str)
    )
    units = units.assign(
        _area=np.where(units["level"] == "total", "", area_of_unit),
        _rank=units["level"].map({"total": 0, "area": 1, "commune": 2}),
    ).sort_values(["_area", "_rank", "unit_name"], kind="stable")
    units["area_code"] = units["_area"].replace("", None)
    units = names.add_to(units.drop(columns=["_area", "_rank"]))
    frame = units[["level", "area_code", "area_name", "unit_code", "unit_name"]].reset_index(
        drop=True
    )
    first = est[est["index_code"] == indices["index_code"].iloc[0]].set_index("unit_code")
    frame["n"] = frame["unit_code"].map(first["n"])
    columns = [_column(c) for c in ("level", "area_code", "area_name", "unit_code", "unit_name")]
    columns.append(_column("n", about=f"Số người trả lời hợp lệ cho {indices['label_vi'].iloc[0]}"))
    unit = "%" if survey == "sipas" else "điểm"
    for code, lab in zip(indices["index_code"], indices["label_vi"], strict=True):
        cell = est[est["index_code"] == code].set_index("unit_code")
        for part, col_key, head in (
            ("estimate", "estimate", f"{lab} ({unit})"),
            ("ci_low", "ci_low", f"{lab}: cận dưới KTC 95%"),
            ("ci_high", "ci_high", f"{lab}: cận trên KTC 95%"),
            ("flag", "flag", f"{lab}: ghi chú"),
        ):
            key = f"{code}.{part}"
            frame[key] = frame["unit_code"].map(cell[part])
            meaning = {
                "estimate": f"Ước lượng của '{lab}' (mã {code})",
                "ci_low": f"Cận dưới khoảng tin cậy 95% của '{lab}'",
                "ci_high": f"Cận trên khoảng tin cậy 95% của '{lab}'",
                "flag": f"Độ tin cậy của ô '{lab}'",
            }[part]
            columns.append(replace(_column(col_key, header=head, about=meaning), key=key))
    entry = spec()["sheets"]["summary"]
    fields = {"survey": survey.upper(), "wave": wave}
    return Sheet(
        name=sheet_name(entry["name"], **fields),
        about=entry["about"].format(**fields),
        frame=frame,
        columns=columns,
        points="pct" if survey == "sipas" else "papi",
        freeze_cols=5,
    )


def result_sheets(tables: Mapping[str, pd.DataFrame]) -> list[Sheet]:
    """The sheets of ``ket_qua.xlsx``: a summary per wave, then every table (estimates per wave)."""
    estimates = tables.get("estimates")
    names = Names.from_estimates(estimates)
    sheets: list[Sheet] = []
    pairs = _waves(estimates) if estimates is not None and not estimates.empty else []
    for survey, wave in pairs:
        s = summary_sheet(estimates, survey, wave, names)
        if s is not None:
            sheets.append(s)
    known = [k for k in RESULT_ORDER if k in tables] + [k for k in tables if k not in RESULT_ORDER]
    for key in known:
        frame = tables[key]
        if key == "estimates":
            for survey, wave in pairs:
                part = frame[
                    (frame["survey"].astype(str) == survey) & (frame["wave"].astype(str) == wave)
                ]
                sheets.append(
                    table_sheet(
                        "estimates",
                        names.add_to(part.reset_index(drop=True)),
                        survey=survey.upper(),
                        wave=wave,
                    )
                )
            continue
        default = "pct" if key == "sipas_published" else "papi"
        sheets.append(table_sheet(key, names.add_to(frame), default_points=default))
    return sheets


def run_facts(manifest: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) lines about the run for "Đọc trước": date, version, options."""
    m = manifest or {}
    facts = [("Ngày chạy", dt.datetime.now().strftime("%d/%m/%Y %H:%M"))]
    if m.get("version"):
        facts.append(("Phiên bản sipas_analysis", str(m["version"])))
    if m.get("python"):
        facts.append(("Python / pandas", f"{m['python']} / {m.get('pandas', '')}"))
    if "seed" in m:
        facts.append(("Hạt giống ngẫu nhiên (seed)", str(m["seed"])))
    if m.get("options"):
        facts.append(
            ("Tùy chọn ước lượng", ", ".join(f"{k} = {v}" for k, v in m["options"].items()))
        )
    return facts


def _input_rows(manifest: Mapping[str, Any] | None) -> pd.DataFrame:
    rows = []
    for inp in (manifest or {}).get("inputs", []):
        r = inp.get("rows", {})
        rows.append(
            [
                inp.get("config", ""),
                inp.get("config_sha256", ""),
                inp.get("data_file", ""),
                inp.get("data_sha256", ""),
                f"{r.get('rows_read', '')} / {r.get('rows_kept', '')} / {r.get('rows_excluded', '')}",
            ]
        )
    return pd.DataFrame(
        rows,
        columns=[
            "Tệp cấu hình",
            "SHA-256 tệp cấu hình",
            "Tệp dữ liệu",
            "SHA-256 tệp dữ liệu",
            "Dòng đọc / giữ / loại",
        ],
    )


def write_results(
    tables: Mapping[str, pd.DataFrame], path: Path, manifest: Mapping[str, Any] | None = None
) -> Path:
    """Write ``ket_qua.xlsx``: "Đọc trước", a summary sheet per wave, every table.

    Parameters
    ----------
    tables : dict of DataFrame
        The run's tables, Excel-safe (lists as text) and with suppressed values already empty.
    path : Path
        The workbook to write (atomically).
    manifest : dict, optional
        The run's manifest: version, options, inputs with their SHA-256 checksums.
    """
    sources = []
    for key in ("benchmarks", "sipas_published"):
        if key in tables and "source" in tables[key].columns:
            sources += [s for s in tables[key]["source"].dropna().astype(str).unique() if s]
    readme = Readme(
        title="Kết quả khảo sát SIPAS và PAPI: đọc trước",
        facts=run_facts(manifest),
        inputs=_input_rows(manifest),
        rules=list(spec()["rules"]),
        sources=[*(f"Dữ liệu khảo sát: {p}" for p in _input_rows(manifest)["Tệp dữ liệu"])]
        + [f"Chỉ số chính thức: {s}" for s in sources],
    )
    return write_workbook(path, result_sheets(tables), readme)


# ---------------------------------------------------------------------------------------------
# The field team's problem report (<config>_problems.xlsx)
# ---------------------------------------------------------------------------------------------


def write_problems(
    path: Path,
    *,
    problems: pd.DataFrame,
    exclusions: pd.DataFrame,
    summary: Sequence[tuple[str, object]],
    wave_facts: Sequence[tuple[str, str]],
) -> Path:
    """Write the field team's workbook: "Đọc trước", problems, excluded rows, summary, by check.

    ``problems`` is the export frame of the problem list (rows and values as text, cut to Excel's
    cell size), ``summary`` the (item, value) lines of the row accounting and weights.
    """
    from sipas_analysis import __version__

    by_check = (
        problems.groupby(["severity", "check"], sort=False)["count"].sum().reset_index()
        if not problems.empty
        else pd.DataFrame(columns=["severity", "check", "count"])
    )
    summary_frame = pd.DataFrame(list(summary), columns=["item", "value"])
    sheets = [
        table_sheet("field_problems", problems),
        table_sheet("field_exclusions", exclusions),
        table_sheet("field_summary", summary_frame),
        table_sheet("field_by_check", by_check),
    ]
    readme = Readme(
        title="Báo cáo kiểm tra dữ liệu cho nhóm thực địa: đọc trước",
        facts=[
            ("Ngày kiểm tra", dt.datetime.now().strftime("%d/%m/%Y %H:%M")),
            ("Phiên bản sipas_analysis", __version__),
            *wave_facts,
        ],
        rules=[
            "Lỗi: dữ liệu không dùng được như hiện có; các dòng lỗi bị loại (trang 'Dòng bị loại').",
            "Cảnh báo: nên xem lại, dòng vẫn được giữ.",
            "Thông tin: ghi nhận cho đầy đủ (mã thiếu 98/99, tên viết khác, cột cá nhân đã bỏ).",
            "Số dòng tính như trong tệp gốc: dòng tiêu đề là dòng 1.",
            "Các cột thông tin cá nhân bị bỏ trước mọi kiểm tra: không giá trị nào của chúng xuất "
            "hiện trong báo cáo.",
        ],
    )
    return write_workbook(path, sheets, readme)


# ---------------------------------------------------------------------------------------------
# The writer
# ---------------------------------------------------------------------------------------------


@dataclass
class Readme:
    """Contents of the "Đọc trước" sheet besides the sheet and column lists."""

    title: str
    facts: Sequence[tuple[str, str]] = ()
    inputs: pd.DataFrame | None = None
    rules: Sequence[str] = ()
    sources: Sequence[str] = ()


def format_code(kind: str | None) -> str | None:
    """The Excel number format of a format kind of ``workbook.yaml``."""
    if kind is None:
        return None
    return spec()["formats"].get(kind, kind)


class _Formats:
    """XlsxWriter formats of a workbook, made once per number format."""

    def __init__(self, book) -> None:
        self.book = book
        self.header = book.add_format(
            {"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#DDEBF7", "border": 1}
        )
        self.title = book.add_format({"bold": True, "font_size": 14})
        self.section = book.add_format({"bold": True, "font_size": 12, "font_color": "#1F4E79"})
        self.bold = book.add_format({"bold": True, "valign": "top"})
        self.wrap = book.add_format({"text_wrap": True, "valign": "top"})
        self.top = book.add_format({"valign": "top"})
        self._numbers: dict[str, Any] = {}

    def number(self, code: str):
        if code not in self._numbers:
            self._numbers[code] = self.book.add_format({"num_format": code, "valign": "top"})
        return self._numbers[code]


def _text(v: object) -> str:
    s = v if isinstance(v, str) else str(v)
    return s if len(s) <= CELL_TEXT_MAX else s[: CELL_TEXT_MAX - 12] + " … (cắt bớt)"


def _write_cells(sheet, fm: _Formats, s: Sheet) -> list[float]:
    """Write the header and the cells of a sheet; return the fitted width of each column.

    The header goes through XlsxWriter's ``write_row``. The data cells are rendered here, column
    by column, as the XML XlsxWriter writes for ``write_number`` and ``write_string`` (the same
    ``<c>`` elements, number text ``%.16G``, strings in the workbook's shared-string table, the
    cell formats' indices), and handed to the sheet, which writes them when the workbook is
    closed (:func:`_bulk_rows`): about ten times faster than a call per cell for the 850,000
    cells of a run's workbook, with the same cells.
    """
    from xlsxwriter.utility import xl_col_to_name

    # as XlsxWriter's write_* calls do, rows beyond Excel's last row are left out (the Parquet
    # tables keep them)
    frame = s.frame.iloc[: sheet.xls_rowmax - 1]
    n = len(frame)
    widths = []
    sheet.write_row(0, 0, [c.header for c in s.columns], fm.header)
    strings = sheet.str_table
    shared = strings._get_shared_string_index  # what write_string does with a text
    cells: list[list[str]] = []  # per column, one XML element (or "") per data row
    used: dict[int, str] = {}

    def style(f) -> str:
        """The ``s`` attribute of a cell in format ``f``; a format gets its style index (and a
        place in styles.xml) when its first cell is rendered, as with ``write_number``."""
        if f is None:
            return ""
        if id(f) not in used:
            used[id(f)] = f' s="{f._get_xf_index()}"'
        return used[id(f)]

    def number_style(kind: str):
        return lambda: style(fm.number(format_code(kind)))

    for j, col in enumerate(s.columns):
        letters = xl_col_to_name(j)
        out = [""] * n
        raw = frame[col.key] if col.key in frame.columns else pd.Series([None] * n)
        values = label_codes(col.labels, raw) if col.labels else raw
        kind = col.fmt
        numeric = pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        )
        if numeric:
            arr = values.to_numpy(dtype=float, na_value=np.nan)
            if pd.api.types.is_integer_dtype(values.dtype) and kind != "thousands":
                kind = "int"  # whole numbers are counts, whatever the column's kind
            if kind is None:
                integral = bool(np.all(np.isnan(arr) | (arr == np.round(arr))))
                kind = "int" if integral else "ratio"
            finite = np.flatnonzero(np.isfinite(arr)).tolist()
            nums = arr.tolist()
            if kind == "points" and not isinstance(s.points, str):
                per_row = np.asarray(s.points)[:n] == "pct"
                st = [
                    style(fm.number(format_code(k))) if np.any(per_row[finite] == is_pct) else ""
                    for k, is_pct in (("pct", True), ("papi", False))
                ]
                for i in finite:
                    a = st[0] if per_row[i] else st[1]
                    out[i] = f'<c r="{letters}{i + 2}"{a}><v>{nums[i]:.16G}</v></c>'
            elif finite:
                a = style(fm.number(format_code(s.points if kind == "points" else kind)))
                for i in finite:
                    out[i] = f'<c r="{letters}{i + 2}"{a}><v>{nums[i]:.16G}</v></c>'
            widths.append(10.0)
        else:
            obj = values.astype(object).to_numpy()
            sample = [len(str(v)) for v in obj[:_WIDTH_SAMPLE] if not is_missing(v)]
            longest = max(sample, default=0)
            # long text wraps inside its column (the format must be on each cell)
            wrap = fm.wrap if longest >= WIDE_TEXT else None
            if pd.api.types.infer_dtype(obj, skipna=True) == "string":
                # text only (the usual case): each distinct text rendered once, in row order
                codes, uniques = pd.factorize(obj)
                repeats = np.bincount(codes[codes >= 0], minlength=len(uniques)).tolist()
                tail = []
                for u, times in zip(uniques, repeats, strict=True):
                    text = _text(u)
                    if text:
                        tail.append(f'{style(wrap)} t="s"><v>{shared(text)}</v></c>')
                        strings.count += times - 1  # the table counts every reference
                    else:
                        tail.append("")
                for i, c in enumerate(codes.tolist()):
                    if c >= 0 and tail[c]:
                        out[i] = f'<c r="{letters}{i + 2}"{tail[c]}'
            else:
                # "points" numbers in a text column take their row's format (SIPAS % or PAPI)
                formats = {
                    "pct": number_style("pct"),
                    "papi": number_style("papi"),
                    "int": number_style("int"),
                    "number": None if kind == "points" else number_style(kind or "ratio"),
                    "text": lambda wrap=wrap: style(wrap),
                }
                _mixed_cells(out, obj, letters, s.points, formats, shared)
            widths.append(float(min(max(longest, 6), WIDE_TEXT)) + 1)
        cells.append(out)
    _bulk_rows(sheet, cells)
    return widths


def _mixed_cells(out, obj, letters, points, formats, shared) -> None:
    """The cells of a column of mixed values, one by one: yes/no labelled, whole numbers as
    counts, other numbers in the column's format (or their row's, for "points"), text.

    ``formats`` maps "int", "number" (None: the row's "pct" or "papi"), "pct", "papi" and
    "text" to a function giving the cell's style attribute (called only for a cell written).
    """
    for i, v in enumerate(obj):
        if is_missing(v):
            continue
        if isinstance(v, bool):
            v = label("significant", v)
        if isinstance(v, int | np.integer):
            out[i] = f'<c r="{letters}{i + 2}"{formats["int"]()}><v>{int(v):.16G}</v></c>'
            continue
        if isinstance(v, float | np.floating):
            if np.isfinite(v):
                number = formats["number"]
                if number is None:
                    number = formats[points if isinstance(points, str) else points[i]]
                out[i] = f'<c r="{letters}{i + 2}"{number()}><v>{float(v):.16G}</v></c>'
            continue
        text = _text(v)
        if text != "":
            out[i] = f'<c r="{letters}{i + 2}"{formats["text"]()} t="s"><v>{shared(text)}</v></c>'


def _bulk_rows(sheet, cells: list[list[str]]) -> None:
    """Give ``sheet`` the rendered data rows (rows 2..n+1), written after its header at close.

    Rows without a cell are left out, as XlsxWriter does; the sheet's dimension is extended to
    the last row with a cell. Uses XlsxWriter's own writer of the sheet data (``_write_rows``,
    its file ``fh``), so the rows land inside ``<sheetData>`` after the header row
    (XlsxWriter is pinned in the lock files; ``test_workbook_cells_equal_those_written_cell_by_cell``
    reads the cells back with openpyxl: values, types, formats, empty rows, the dimension).
    """
    rows = []
    last = 0
    for i, parts in enumerate(zip(*cells, strict=True)):
        body = "".join(parts)
        if body:
            rows.append(f'<row r="{i + 2}">{body}</row>')
            last = i + 1
    if not rows:
        return
    sheet._check_dimensions(last, 0)
    header_rows = sheet._write_rows

    def write_rows() -> None:
        header_rows()
        for k in range(0, len(rows), 1000):
            sheet.fh.write("".join(rows[k : k + 1000]))

    sheet._write_rows = write_rows


def _header_width(text: str) -> float:
    words = text.split()
    return float(max([min(len(text), 16), *(len(w) for w in words)]) + 2)


def _wrapped_lines(text: str, width: float) -> int:
    """Lines a text takes when wrapped at word boundaries into a column of ``width`` characters."""
    lines, used = 1, 0
    room = max(int(width) - 1, 1)
    for word in text.split():
        need = len(word) if used == 0 else used + 1 + len(word)
        if need > room and used > 0:
            lines, used = lines + 1, len(word)
        else:
            used = need
    return lines


def _write_sheet(book, fm: _Formats, s: Sheet) -> None:
    sheet = book.add_worksheet(s.name)
    widths = _write_cells(sheet, fm, s)
    lines = 1
    for j, (col, w) in enumerate(zip(s.columns, widths, strict=True)):
        width = max(w, _header_width(col.header))
        sheet.set_column(j, j, width)
        lines = max(lines, _wrapped_lines(col.header, width))
    sheet.set_row(0, 13 * lines + 2)  # Excel does not grow a header row of wrapped text by itself
    sheet.freeze_panes(1, s.freeze_cols)
    sheet.autofilter(0, 0, max(len(s.frame), 1), max(len(s.columns) - 1, 0))


def _codes_used(sheets: Iterable[Sheet]) -> list[tuple[str, str, str]]:
    """(list, code, label) of every code list a sheet uses, and the subgroup codes."""
    used: dict[str, None] = {}
    subgroups: set[str] = set()
    for s in sheets:
        for c in s.columns:
            if c.labels == "subgroup" and c.key in s.frame.columns:
                subgroups |= {str(v) for v in s.frame[c.key].dropna().unique() if str(v)}
            elif c.labels:
                used[c.labels] = None
    rows = []
    names = {
        "yes_no": "Có / không",
        "flag": "Ghi chú độ tin cậy (mọi cột ghi chú)",
    }
    for name in used:
        for code, lab in spec()["labels"][name].items():
            rows.append(
                (names.get(name, header(name) if name in spec()["columns"] else name), code, lab)
            )
    for code in sorted(subgroups):
        rows.append((header("subgroup"), code, subgroup_label(code)))
    return rows


def _write_readme(book, fm: _Formats, readme: Readme, sheets: Sequence[Sheet]) -> None:
    ws = book.add_worksheet(README_SHEET)
    widths = (26, 40, 72, 26, 22)
    for j, w in enumerate(widths):
        ws.set_column(j, j, w)
    r = 0

    def put(*cells: object, fmt=None, first=None) -> None:
        """One row of text cells (wrapped, the row as high as its longest cell)."""
        nonlocal r
        lines = 1
        for j, v in enumerate(cells):
            if v is None or v == "":
                continue
            text = _text(v)
            cell_f = first if (j == 0 and first is not None) else fmt
            ws.write_string(r, j, text, cell_f)
            if cell_f is fm.wrap:
                lines = max(lines, *(_wrapped_lines(t, widths[j]) for t in text.split("\n")))
        if lines > 1:
            ws.set_row(r, 15 * lines)
        r += 1

    def section(title: str, headers: Sequence[str] | None = None) -> None:
        nonlocal r
        r += 1
        ws.write_string(r, 0, title, fm.section)
        r += 1
        if headers:
            ws.write_row(r, 0, list(headers), fm.header)
            r += 1

    ws.write_string(r, 0, readme.title, fm.title)
    r += 1
    section("Lần chạy")
    for key, value in readme.facts:
        put(key, value, fmt=fm.wrap, first=fm.bold)
    if readme.inputs is not None and not readme.inputs.empty:
        section(
            "Dữ liệu đầu vào và mã kiểm tra SHA-256",
            ["Tệp cấu hình", "Tệp dữ liệu", "Mã kiểm tra SHA-256", "Dòng đọc / giữ / loại"],
        )
        for row in readme.inputs.itertuples(index=False):
            put(
                row[0],
                row[2],
                f"cấu hình: {row[1]}\ndữ liệu: {row[3]}",
                row[4],
                fmt=fm.wrap,
            )
    if readme.rules:
        section("Quy tắc")
        for k, rule in enumerate(readme.rules, start=1):
            ws.write_string(r, 0, f"{k}.", fm.top)
            ws.merge_range(r, 1, r, 3, rule, fm.wrap)
            lines = _wrapped_lines(rule, sum(widths[1:4]))
            if lines > 1:
                ws.set_row(r, 15 * lines)
            r += 1
    if readme.sources:
        section("Nguồn")
        for src in readme.sources:
            put(src)
    section("Các trang", ["Trang", "Số dòng", "Nội dung"])
    put(README_SHEET, "", "Trang này: nội dung các trang, ý nghĩa các cột, danh mục mã, quy tắc")
    for s in sheets:
        ws.write_number(r, 1, len(s.frame), fm.number("#,##0"))
        put(s.name, "", s.about, fmt=fm.wrap)
    section("Các cột của từng trang", ["Trang", "Cột", "Ý nghĩa", "Định dạng số", "Danh mục mã"])
    for s in sheets:
        for c in s.columns:
            if c.fmt == "points":
                fmt = "0.0 (SIPAS, điểm %) / 0.00 (PAPI, điểm)"
            else:
                fmt = format_code(c.fmt) or ""
            put(
                s.name,
                c.header,
                c.about or c.header,
                fmt,
                "xem Danh mục mã" if c.labels else "",
                fmt=fm.wrap,
            )
    codes = _codes_used(sheets)
    if codes:
        section("Danh mục mã", ["Danh mục", "Mã (trong tệp Parquet)", "Nghĩa (trong bảng tính)"])
        for name, code, lab in codes:
            put(name, code, lab, fmt=fm.wrap)
    ws.activate()


def _split_long(sheets: Sequence[Sheet]) -> list[Sheet]:
    """Each sheet whose table is longer than an Excel sheet holds (:data:`SHEET_ROWS_MAX` less
    the header), cut into parts: the first keeps its name, the next are named "… (2)", "… (3)"
    (at most 31 characters) and every part's description says which part it is. No row is lost.
    """
    out: list[Sheet] = []
    per = SHEET_ROWS_MAX - 1
    for s in sheets:
        n = len(s.frame)
        if n <= per:
            out.append(s)
            continue
        parts = -(-n // per)
        for k in range(parts):
            rows = slice(k * per, min((k + 1) * per, n))
            tail = f" ({k + 1})" if k else ""
            points = s.points[rows] if isinstance(s.points, np.ndarray) else s.points
            out.append(
                replace(
                    s,
                    name=s.name[: SHEET_NAME_MAX - len(tail)] + tail,
                    about=f"{s.about} (phần {k + 1}/{parts}: dòng {rows.start + 1:,}–{rows.stop:,})".replace(
                        ",", "."
                    ),
                    frame=s.frame.iloc[rows],
                    points=points,
                )
            )
    return out


def write_workbook(path: str | Path, sheets: Sequence[Sheet], readme: Readme) -> Path:
    """Write a workbook: "Đọc trước" first, then the sheets, atomically (XlsxWriter).

    Sheet names must be unique; each is cut to 31 characters. A table longer than an Excel
    sheet goes on in the next sheets (:func:`_split_long`).
    """
    import xlsxwriter

    path = Path(path)
    sheets = _split_long(sheets)
    seen: set[str] = {README_SHEET.lower()}
    for s in sheets:
        if s.name.lower() in seen:
            raise ValueError(f"two sheets named {s.name!r}")
        seen.add(s.name.lower())
    with atomic_path(path) as tmp:
        book = xlsxwriter.Workbook(
            str(tmp), {"nan_inf_to_errors": False, "strings_to_formulas": False}
        )
        fm = _Formats(book)
        _write_readme(book, fm, readme, sheets)
        for s in sheets:
            _write_sheet(book, fm, s)
        book.close()
    return path
