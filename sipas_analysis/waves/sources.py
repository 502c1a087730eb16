"""Reading the source file (csv, xlsx, sav, dta), never writing to it, and finding the config's
headers among its columns (exact, SPSS-cut label, prefix, question number)."""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sipas_analysis.coerce import fold as _fold
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.waves.columns import header_key, nfc
from sipas_analysis.waves.config import WaveConfig, design_headers
from sipas_analysis.xlsx import read_sheets

__all__ = [
    "Source",
    "detect_encoding",
    "wanted_headers",
    "read_source",
    "question_number",
    "HeaderIndex",
    "match_columns",
]

# ---------------------------------------------------------------------------------------------
# Reading the source file
# ---------------------------------------------------------------------------------------------


@dataclass
class Source:
    frame: pd.DataFrame  # columns 0..k-1 (positions), one row per non-blank data row
    headers: list[str]  # NFC headers, position-aligned with frame columns
    labels: list[str | None]  # variable labels (sav/dta)
    source_row: np.ndarray  # int64, row numbers as in the file
    blank_rows: list[int]
    value_labels: dict[int, dict]  # column position -> {code: label}
    declared_missing: dict[int, set]  # column position -> user-missing codes (sav)
    header_row: int | None  # row number of the header in csv/xlsx, None for sav/dta
    encoding: str | None = None
    rows_above_header: list[int] = field(default_factory=list)  # title / blank rows skipped
    sheet: str | None = None


def detect_encoding(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1258"
    return "utf-8"


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip()


_CHUNK = 1 << 22  # bytes read at a time when a CSV file is checked


def _csv_encoding(cfg: WaveConfig, label: str) -> str:
    """The encoding of a CSV file (the config's, else detected), checked over the whole file
    chunk by chunk (the file is never held in memory as a whole)."""
    with open(cfg.file, "rb") as fh:
        head = fh.read(_CHUNK)
        if cfg.encoding:
            encoding = cfg.encoding
        elif head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        else:
            encoding = "utf-8"
        if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        decoder = codecs.getincrementaldecoder(encoding)()
        offset, chunk = 0, head
        try:
            while chunk:
                decoder.decode(chunk)
                offset += len(chunk)
                chunk = fh.read(_CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            if cfg.encoding is None and encoding == "utf-8":
                return _csv_encoding_fallback(cfg, label)
            raise InputError(
                f"the file is not valid {encoding} text (byte {offset + exc.start}); set "
                "`encoding:` in the config to utf-8, utf-8-sig or cp1258 (Windows-1258).",
                file=label,
            ) from None
    return encoding


def _csv_encoding_fallback(cfg: WaveConfig, label: str) -> str:
    """Not UTF-8 and no ``encoding:`` given: Windows-1258, checked over the whole file."""
    import dataclasses

    return _csv_encoding(dataclasses.replace(cfg, encoding="cp1258"), label)


def _head_rows(table: pd.DataFrame, header_row: int | None) -> list[list[object]]:
    """The first rows of a CSV table as lists: those the header search looks at (up to the
    ``_HEADER_SCAN``-th non-blank row, or to ``header_row``)."""
    if header_row is not None:  # a header_row beyond the file gives fewer rows: reported
        return table.iloc[:header_row].values.tolist()
    blank = table.isna().all(axis=1).to_numpy()
    nonblank = np.flatnonzero(~blank)
    stop = int(nonblank[_HEADER_SCAN - 1]) + 1 if len(nonblank) >= _HEADER_SCAN else len(table)
    return table.iloc[:stop].values.tolist()


def _csv_table(cfg: WaveConfig, label: str) -> tuple[pd.DataFrame, str]:
    """The cells of a CSV file as one frame of text (columns ``0..width-1``, blanks as None,
    ragged rows padded), and the encoding used.

    Read in two passes: the widest row (Python's csv module, streaming), then the cells
    (pandas' C parser, every value as text): memory stays near the size of the cells themselves.
    """
    import csv

    encoding = _csv_encoding(cfg, label)
    with open(cfg.file, encoding=encoding, newline="") as fh:
        sample = fh.read(50000)
    # the separator is the one the header uses most: the widest of the first lines
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip(" ,;\t")]
    seps = [",", ";", "\t"]
    sep = max(seps, key=lambda c: max((ln.count(c) for ln in lines), default=0))
    width = 0
    try:
        with open(cfg.file, encoding=encoding, newline="") as fh:
            for row in csv.reader(fh, delimiter=sep):
                width = max(width, len(row))
    except csv.Error as exc:
        raise InputError(f"cannot read the CSV file: {exc}", file=label) from None
    if width == 0:
        return pd.DataFrame({0: pd.Series(dtype=object)}).iloc[:0], encoding
    try:
        table = pd.read_csv(
            cfg.file,
            sep=sep,
            header=None,
            names=range(width),
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding=encoding,
            engine="c",
            quotechar='"',
            doublequote=True,
            low_memory=False,
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise InputError(f"cannot read the CSV file: {exc}", file=label) from None
    for col in table.columns:
        codes, uniques = pd.factorize(table[col], use_na_sentinel=True)
        conv = np.array(
            [u if (isinstance(u, str) and u.strip()) else None for u in uniques] + [None],
            dtype=object,
        )
        table[col] = conv[codes]
    return table, encoding


def _xlsx_sheets(cfg: WaveConfig, label: str) -> dict[str, list[list[object]]]:
    """The cells of the candidate sheets of a workbook, merged cells filled with their value
    (:func:`sipas_analysis.xlsx.read_sheets`).

    The sheet named in the config, else every sheet holding data. The workbook is only read.
    """
    _names, grids = read_sheets(cfg.file, label, cfg.sheet)
    out = {
        name: grid
        for name, grid in grids.items()
        if cfg.sheet is not None or any(not _is_blank(v) for row in grid for v in row)
    }
    if not out:
        raise InputError("the workbook has no sheet with data.", file=label)
    return out


_HEADER_SCAN = 30  # non-blank rows searched for the header


def _find_header(
    rows: list[list[object]], wanted: list[str], header_row: int | None, label: str
) -> tuple[int, int]:
    """Index (0-based) of the header row and how many config headers it holds.

    The given ``header_row`` (1-based), else the row among the first non-blank rows that holds
    the most of the config's headers (title rows, notes and blank lines above it are skipped).
    """
    if header_row is not None:
        if header_row > len(rows):
            raise InputError(
                f"header_row {header_row} is beyond the last row of the file ({len(rows)}).",
                file=label,
            )
        cells = [_cell_header(v) for v in rows[header_row - 1]]
        return header_row - 1, HeaderIndex(cells, [None] * len(cells)).count(wanted)
    best, best_hits, seen = -1, 0, 0
    for i, row in enumerate(rows):
        if all(_is_blank(v) for v in row):
            continue
        seen += 1
        if seen > _HEADER_SCAN:
            break
        cells = [_cell_header(v) for v in row]
        hits = HeaderIndex(cells, [None] * len(cells)).count(wanted)
        if hits > best_hits:
            best, best_hits = i, hits
    return best, best_hits


def _no_header_error(rows: list[list[object]], label: str, sheet: str | None) -> InputError:
    first = next((r for r in rows if not all(_is_blank(v) for v in r)), None)
    shown = (
        ", ".join(repr(_cell_header(v)) for v in first if not _is_blank(v))[:300]
        if first
        else "(trống / empty)"
    )
    where = f" (sheet {sheet!r})" if sheet else ""
    return InputError(
        f"không tìm thấy dòng tiêu đề cột{where}: không dòng nào trong {_HEADER_SCAN} dòng đầu "
        "chứa tiêu đề nào của cấu hình / no usable header row found: none of the first "
        f"{_HEADER_SCAN} non-blank rows holds any column header of the config. First row: "
        f"{shown}. Sửa tiêu đề hoặc ghi `header_row:` / fix the headers or set `header_row:`.",
        file=label,
    )


def _cell_header(value: object) -> str:
    if _is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(nfc(value).split())


def wanted_headers(cfg: WaveConfig) -> dict[str, str]:
    """Config key -> header of every column the config maps (columns, design, items)."""
    wanted: dict[str, str] = {f"columns.{k}": v for k, v in cfg.columns.items() if v}
    wanted.update(design_headers(cfg.design))
    wanted.update({f"items.{k}": v for k, v in cfg.items.items()})
    return wanted


def read_source(cfg: WaveConfig) -> Source:
    label = cfg.file.name
    labels: list[str | None] = []
    value_labels: dict[int, dict] = {}
    declared: dict[int, set] = {}
    encoding = None
    above: list[int] = []
    sheet_used = None
    try:
        if cfg.format in ("csv", "xlsx"):
            wanted = list(wanted_headers(cfg).values())
            table = None
            if cfg.format == "csv":
                table, encoding = _csv_table(cfg, label)
                sheets = {None: _head_rows(table, cfg.header_row)}
            else:
                sheets = _xlsx_sheets(cfg, label)
            found = {
                name: _find_header(rows, wanted, cfg.header_row, label)
                for name, rows in sheets.items()
            }
            if all(not any(not _is_blank(v) for r in rows for v in r) for rows in sheets.values()):
                raise InputError("the file has no header row and no data.", file=label)
            best = max(found, key=lambda k: found[k][1])
            if found[best][1] == 0 and cfg.header_row is None:
                if len(sheets) > 1:
                    raise InputError(
                        "không trang tính nào chứa tiêu đề cột của cấu hình / no sheet holds the "
                        f"config's column headers; sheets: {', '.join(map(str, sheets))}. Ghi "
                        "`sheet:` / set `sheet:` in the config.",
                        file=label,
                    )
                raise _no_header_error(sheets[best], label, best)
            rows = sheets[best]
            sheet_used = best
            h = found[best][0]
            if table is not None:  # csv: the frame of every cell, read once
                width = table.shape[1]
                headers = [_cell_header(v) for v in table.iloc[h].tolist()]
                frame = table.iloc[h + 1 :].reset_index(drop=True)
                del table
            else:
                width = max(len(r) for r in rows)
                grid = [list(r) + [None] * (width - len(r)) for r in rows]
                headers = [_cell_header(v) for v in grid[h]]
                frame = pd.DataFrame(grid[h + 1 :], columns=range(width), dtype=object)
            above = list(range(1, h + 1))
            if frame.empty:
                frame = pd.DataFrame({c: pd.Series(dtype=object) for c in range(width)})
            source_row = np.arange(h + 2, h + 2 + len(frame), dtype="int64")
            header_row: int | None = h + 1
            labels = [None] * len(headers)
        else:
            import pyreadstat

            reader = pyreadstat.read_sav if cfg.format == "sav" else pyreadstat.read_dta
            frame, meta = reader(str(cfg.file), user_missing=True)
            headers = [nfc(h) for h in frame.columns]
            labels = [
                nfc(meta.column_names_to_labels[c]) if meta.column_names_to_labels.get(c) else None
                for c in frame.columns
            ]
            for pos, name in enumerate(frame.columns):
                if name in meta.variable_value_labels:
                    value_labels[pos] = {
                        k: nfc(v) for k, v in meta.variable_value_labels[name].items()
                    }
                ranges = (getattr(meta, "missing_ranges", None) or {}).get(name) or []
                codes = {r["lo"] for r in ranges if r.get("lo") == r.get("hi")}
                if codes:
                    declared[pos] = codes
            frame.columns = range(frame.shape[1])
            source_row = np.arange(1, len(frame) + 1, dtype="int64")
            header_row = None
    except SipasError:
        raise
    except ValueError as exc:
        raise InputError(f"cannot read the {cfg.format} file: {exc}", file=label) from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is an unreadable input file
        raise InputError(
            f"cannot read the {cfg.format} file ({type(exc).__name__}: {exc}).", file=label
        ) from None

    # Blank rows (every cell empty) are not records: reported as info, not counted as read.
    if len(frame):
        empty = frame.isna()
        obj_cols = [c for c in frame.columns if frame[c].dtype == object]
        for c in obj_cols:
            codes, uniques = pd.factorize(frame[c], use_na_sentinel=True)
            blank_u = np.array([str(u).strip() == "" for u in uniques] + [True], dtype=bool)
            empty[c] = blank_u[codes]
        blank = empty.all(axis=1).to_numpy()
    else:
        blank = np.zeros(0, dtype=bool)
    blank_rows = source_row[blank].tolist()
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        source_row = source_row[~blank]
    return Source(
        frame=frame,
        headers=headers,
        labels=labels,
        source_row=source_row,
        blank_rows=blank_rows,
        value_labels=value_labels,
        declared_missing=declared,
        header_row=header_row,
        encoding=encoding,
        rows_above_header=above,
        sheet=sheet_used,
    )


# ---------------------------------------------------------------------------------------------
# Finding the config's headers among the file's columns
# ---------------------------------------------------------------------------------------------

#: A question number at the start of a header: "Câu 9.12.", "C9_12", "q9_12", "A1.", "9.12".
_QNUM = re.compile(
    r"^\s*(?P<prefix>câu|cau|c|q)?[\s_.]*(?P<letter>[a-z]?)(?P<num>\d+(?:\s*[._]\s*\d+)*)"
    r"(?=$|[^\w]|_)",
    re.IGNORECASE,
)
_TRUNCATED_LABEL_BYTES = 200  # an SPSS label this long may have been cut at 256 bytes
_MIN_PREFIX = 6  # shortest config header accepted as a prefix of a file header


def question_number(header: object) -> str | None:
    """The question number a header starts with, normalised ("Câu 9.12. …" -> "9.12").

    Parameters
    ----------
    header : object
        A column header, variable name or label.

    Returns
    -------
    str or None
        ``"9.12"`` for "Câu 9.12. Chính sách …", "C9_12", "q9_12" and "9.12."; ``"a1"`` for
        "A1. Giới tính"; None when the header does not start with a question number (a bare
        number without a dot, such as "2024", is not one).

    Examples
    --------
    >>> [question_number(h) for h in ["Câu 9.12. Chính sách", "C9_12", "q9_12", "Tuổi", "2024"]]
    ['9.12', '9.12', '9.12', None, None]
    """
    m = _QNUM.match(unicodedata.normalize("NFC", str(header)))
    if not m:
        return None
    groups = re.split(r"\s*[._]\s*", m.group("num"))
    if not (m.group("prefix") or m.group("letter") or len(groups) > 1):
        return None
    return m.group("letter").lower() + ".".join(str(int(g)) for g in groups)


def _prefix_key(header: str) -> str:
    """Header key without a trailing ellipsis ("…" or "...") for prefix matching."""
    return header_key(header).rstrip(".… ").strip()


class HeaderIndex:
    """The file's headers (and SPSS/Stata labels) prepared for the config's lookups.

    A config header is found, in this order: (1) exactly (after NFC, case and spacing), as a
    header or a variable label; (2) as the start of a variable label cut at 256 bytes by SPSS;
    (3) as a unique prefix of a header or label (a trailing "…" ignored); (4) by its question
    number ("Câu 9.12" = "C9_12" = "q9_12"), when one column alone carries it.
    """

    def __init__(self, headers: list[str], labels: list[str | None], skip=()) -> None:
        self.headers = headers
        self.labels = labels
        self.skip = set(skip)
        self.texts = [(i, t) for i, t in enumerate(headers) if t and i not in self.skip] + [
            (i, t) for i, t in enumerate(labels) if t and i not in self.skip
        ]
        self.keys: dict[str, list[int]] = {}
        self.numbers: dict[str, set[int]] = {}
        for i, t in self.texts:
            self.keys.setdefault(header_key(t), []).append(i)
            num = question_number(t)
            if num:
                self.numbers.setdefault(num, set()).add(i)

    def exact(self, header: str) -> list[int]:
        hits = [i for i, h in enumerate(self.headers) if h == header and i not in self.skip]
        if not hits:
            hits = list(dict.fromkeys(self.keys.get(header_key(header), [])))
        return sorted(hits)

    def fuzzy(self, header: str) -> tuple[list[int], str]:
        key = header_key(header)
        cut = {
            i
            for i, lab in enumerate(self.labels)
            if lab
            and i not in self.skip
            and len(lab.encode("utf-8")) >= _TRUNCATED_LABEL_BYTES
            and key.startswith(header_key(lab))
        }
        if len(cut) == 1:
            return sorted(cut), "nhãn SPSS bị cắt / truncated SPSS label"
        pkey = _prefix_key(header)
        if len(pkey) >= _MIN_PREFIX:
            pre = {i for i, t in self.texts if header_key(t).startswith(pkey)}
            if len(pre) == 1:
                return sorted(pre), "phần đầu tiêu đề / header prefix"
        num = question_number(header)
        if num and len(self.numbers.get(num, ())) == 1:
            return sorted(self.numbers[num]), f"số câu hỏi / question number {num}"
        return [], ""

    def count(self, wanted: list[str]) -> int:
        return sum(1 for h in wanted if self.exact(h) or self.fuzzy(h)[0])

    def nearest(self, header: str, taken: set[int], n: int = 3) -> list[str]:
        import difflib

        pool: dict[str, str] = {}
        for i, t in self.texts:
            if i not in taken:
                pool.setdefault(_fold(t), self.headers[i] or t)
        close = difflib.get_close_matches(_fold(header), list(pool), n=n, cutoff=0.5)
        return list(dict.fromkeys(pool[c] for c in close))


def match_columns(
    src: Source, wanted: dict[str, str], skip: list[int]
) -> tuple[dict[str, int], dict[str, str], dict[str, str], dict[str, tuple[str, str]], dict]:
    """Locate every config header: exact matches first, then the lenient rules.

    Returns
    -------
    position, missing, duplicated, lenient, suggestions
        Config key -> column position; missing keys -> header; keys whose header is present
        twice -> header; keys found by a lenient rule -> (file header, how); missing keys -> the
        nearest headers of the file.
    """
    index = HeaderIndex(src.headers, src.labels, skip)
    position: dict[str, int] = {}
    duplicated: dict[str, str] = {}
    for key, header in wanted.items():
        hits = index.exact(header)
        if hits:
            position[key] = hits[0]
            if len(hits) > 1:
                duplicated[key] = header
    taken = set(position.values())
    found: dict[str, tuple[int, str]] = {}
    for key, header in wanted.items():
        if key in position:
            continue
        hits, how = index.fuzzy(header)
        hits = [i for i in hits if i not in taken]
        if len(hits) == 1:
            found[key] = (hits[0], how)
    claims: dict[int, list[str]] = {}
    for key, (pos, _) in found.items():
        claims.setdefault(pos, []).append(key)
    lenient: dict[str, tuple[str, str]] = {}
    for key, (pos, how) in found.items():
        if len(claims[pos]) == 1:
            position[key] = pos
            lenient[key] = (src.headers[pos] or src.labels[pos] or "", how)
    taken = set(position.values())
    missing = {k: h for k, h in wanted.items() if k not in position}
    suggestions = {k: index.nearest(h, taken) for k, h in missing.items()}
    return position, missing, duplicated, lenient, suggestions
