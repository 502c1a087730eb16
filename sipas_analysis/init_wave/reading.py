"""Reading a field file for drafting (csv, xlsx, sav, dta): the header row among title rows, and
every column with its header, labels and values (:func:`read_columns`)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError
from sipas_analysis.init_wave.rules import HEADER_SCAN_ROWS
from sipas_analysis.waves import columns as wave_columns
from sipas_analysis.waves import sources as wave_sources

__all__ = ["read_columns"]


# ---------------------------------------------------------------------------------------------
# Reading the file for drafting
# ---------------------------------------------------------------------------------------------


@dataclass
class _Column:
    pos: int
    header: str  # header text (csv/xlsx) or variable name (sav/dta)
    label: str | None  # variable label (sav/dta)
    values: pd.Series  # raw cells of the data rows
    value_labels: dict = field(default_factory=dict)

    @property
    def shown(self) -> str:
        return self.header if len(self.header) <= 60 else self.header[:59] + "…"


@dataclass
class _Table:
    columns: list[_Column]
    fmt: str
    header_row: int | None
    sheet: str | None = None
    encoding: str | None = None
    n_rows: int = 0
    notes: list[str] = field(default_factory=list)


def _unusable(label: str, vi: str, en: str) -> InputError:
    return InputError(f"{vi} / {en}", file=label)


def _cell_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    return " ".join(unicodedata.normalize("NFC", str(value)).split())


def _header_text(value: object) -> str:
    """A header as written (NFC, trimmed; inner spaces kept: the loader compares them folded)."""
    return _cell_text(value) and unicodedata.normalize("NFC", str(value)).strip()


def _is_number(text: str) -> bool:
    return bool(re.fullmatch(r"[+-]?\d+([.,]\d+)?", text))


def _find_header(rows: list[list[object]], label: str) -> int:
    """Index of the header row: the first row of mostly text cells, as wide as the widest."""
    scan = rows[:HEADER_SCAN_ROWS]
    counts = []
    for row in scan:
        texts = [_cell_text(v) for v in row]
        counts.append(sum(1 for t in texts if t and not _is_number(t)))
    best = max(counts, default=0)
    if best < 2:
        raise _unusable(
            label,
            f"không tìm thấy dòng tiêu đề cột trong {HEADER_SCAN_ROWS} dòng đầu",
            f"no header row (a row of column names) in the first {HEADER_SCAN_ROWS} rows",
        )
    for i, k in enumerate(counts):
        if k >= max(2, 0.6 * best):
            return i
    return int(np.argmax(counts))  # pragma: no cover - the loop always returns


def _rows_to_table(rows: list[list[object]], label: str, fmt: str, offset: int = 0) -> _Table:
    """Header row found, blank rows dropped, one column per header cell (row numbers 1-based)."""
    if not any(any(_cell_text(v) for v in r) for r in rows):
        raise _unusable(label, "tệp không có dữ liệu", "the file holds no data")
    h = _find_header(rows, label)
    width = max(len(r) for r in rows)
    grid = [list(r) + [None] * (width - len(r)) for r in rows]
    headers = [_header_text(v) for v in grid[h]]
    data = [r for r in grid[h + 1 :] if any(_cell_text(v) for v in r)]
    if not data:
        raise _unusable(
            label,
            "tệp chỉ có dòng tiêu đề, không có phiếu nào",
            "the file has a header row but no respondent rows",
        )
    while headers and not headers[-1] and all(_cell_text(r[len(headers) - 1]) == "" for r in data):
        headers.pop()
    cols = [
        _Column(j, headers[j], None, pd.Series([r[j] for r in data], dtype=object))
        for j in range(len(headers))
    ]
    return _Table(cols, fmt, header_row=h + 1 + offset, n_rows=len(data))


def _read_csv(path: Path) -> _Table:
    data = path.read_bytes()
    encoding = wave_sources.detect_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:  # pragma: no cover - cp1258 decodes any byte
        raise _unusable(path.name, "không đọc được mã ký tự", "undecodable text") from None
    lines = text.splitlines()
    sample = [ln for ln in lines[:60] if ln.strip()]
    if not sample:
        raise _unusable(path.name, "tệp CSV trống", "the CSV file is empty")
    sep = max(
        [",", ";", "\t"], key=lambda s: sorted(ln.count(s) for ln in sample)[len(sample) // 2]
    )
    rows = list(csv.reader(io.StringIO(text), delimiter=sep))
    table = _rows_to_table(rows, path.name, "csv")
    table.encoding = encoding
    return table


def _read_xlsx(path: Path, sheet: str | None) -> _Table:
    from sipas_analysis.xlsx import read_sheets

    _names, grids = read_sheets(path, path.name, sheet, fill_merged=False)
    sheets = {
        name: (sum(1 for r in rows for v in r if _cell_text(v)), rows)
        for name, rows in grids.items()
    }
    name = max(sheets, key=lambda s: sheets[s][0]) if sheets else None
    if name is None or sheets[name][0] == 0:
        raise _unusable(path.name, "tệp Excel không có dữ liệu", "the workbook holds no data")
    table = _rows_to_table(sheets[name][1], path.name, "xlsx")
    table.sheet = name
    others = [s for s in sheets if s != name and sheets[s][0] > 0]
    if others:
        table.notes.append(
            f"trang tính «{name}» có nhiều dữ liệu nhất (khác: {', '.join(others)}) / sheet "
            f"'{name}' holds the most data (others: {', '.join(others)})"
        )
    return table


def _read_stat(path: Path, fmt: str) -> _Table:
    import pyreadstat

    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    try:
        frame, meta = reader(str(path), user_missing=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure: an unreadable file
        raise _unusable(
            path.name,
            f"không đọc được tệp {fmt}",
            f"cannot read the {fmt} file ({type(exc).__name__}: {exc})",
        ) from None
    if frame.shape[1] == 0 or len(frame) == 0:
        raise _unusable(path.name, "tệp không có phiếu nào", "the file has no respondent rows")
    cols = []
    for j, name in enumerate(frame.columns):
        lab = meta.column_names_to_labels.get(name)
        cols.append(
            _Column(
                j,
                _cell_text(name),
                _cell_text(lab) or None,
                frame[name].astype(object),
                dict(meta.variable_value_labels.get(name, {})),
            )
        )
    return _Table(cols, fmt, header_row=None, n_rows=len(frame))


def read_columns(path: str | Path, fmt: str | None = None, sheet: str | None = None) -> _Table:
    """Read a data file for drafting: header row found, columns with their cells and labels.

    Parameters
    ----------
    path : str or Path
        A .csv, .xlsx, .sav or .dta file (never written to).
    fmt : str, optional
        Default: from the suffix (as :mod:`sipas_analysis.waves` does).
    sheet : str, optional
        xlsx: the sheet; default the sheet holding the most data.

    Returns
    -------
    _Table
        ``columns`` (position, header, label, raw cells, value labels), ``header_row`` (1-based
        row of the header in the file; None for sav/dta), ``sheet``, ``encoding``, ``n_rows``.

    Raises
    ------
    InputError
        The file is missing, of an unknown format, unreadable, or has no header or no data.
    """
    path = Path(path)
    if not path.is_file():
        raise _unusable(path.name, "không tìm thấy tệp", "file not found")
    fmt = fmt or wave_columns.SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt not in wave_columns.FORMATS:
        raise _unusable(
            path.name,
            f"định dạng không hỗ trợ (dùng {', '.join(wave_columns.FORMATS)})",
            f"unsupported file format (use {', '.join(wave_columns.FORMATS)})",
        )
    if fmt == "csv":
        return _read_csv(path)
    if fmt == "xlsx":
        return _read_xlsx(path, sheet)
    return _read_stat(path, fmt)


# ---------------------------------------------------------------------------------------------
