"""Draft a wave config from a field file as it is: ``sipas init-wave``.

A new wave arrives as a file the project has never seen: long Vietnamese question headers worded
slightly differently from the instrument, a title row above the header, commune names in mixed
spellings, village labels that recur in every commune, no stratum and no PSU code. Mapping it by
hand is most of the work of a new wave. :func:`draft_config` reads the file, finds the header row,
and proposes the whole config (same format as ``waves/*.yaml``, see :mod:`sipas_analysis.waves`):

* **items** — matched to columns by question number ("Câu 9.12", "C9_12", "q9_12"), then by
  accent- and punctuation-insensitive similarity of the header to the instrument's wording
  (:class:`difflib.SequenceMatcher` on the folded text, a cut header compared with the same
  length of wording), then by the variable labels of SPSS/Stata files. A number match whose wording
  clearly differs, two columns with one number, or two columns equally similar are *ambiguous*;
  the values of a matched column must be the item's codes (or missing codes);
* **columns** — commune (the names or codes that resolve in a boundary vintage, through
  :func:`sipas_analysis.geography.resolve_communes`), village, weight (positive numbers), sex,
  age, urban/rural and respondent id, by header patterns and content (no column of unique
  values → ``respondent_id: null``: the row number in the file is the id);
* **boundary vintage** — when not given, the vintage in which most rows' commune names match
  exactly (type prefix included; a bare name counts half);
* **design** — the weight column; no PSU code in the file → the PSU is the commune × village
  combination: ``psu:`` the village column, nested within the resolved commune
  (``nest_psu: true``), so that a village whose commune name is spelled in several ways stays
  one PSU; a stratum column if there is one;
* **value labels** — the codes of sex, urban/rural and age-band columns: written in
  ``value_labels:`` when sure (codes stated in the header, "Giới tính (1=Nam, 2=Nữ)"; sex or
  urban/rural coded 1/2 as the questionnaire codes them), else proposed in comments (age bands
  1–5 without a codebook: the questionnaire's bands do not nest in 18-29/30-44/45-59/60+);
* **personal columns** — headers recognised by :func:`sipas_analysis.waves.is_personal_header`
  and text columns whose values look like people's names.

The draft is commented: every guess says how it was made; unmatched and ambiguous items are
written as comments with their candidates. ``sipas init-wave`` prints the table item → column →
how matched and exits 0 when every index item (the instrument's satisfaction items for SIPAS,
indicators for PAPI) is matched and nothing is ambiguous, 1 otherwise (the draft is still written),
and 2 when the file is unusable (a bilingual message, no traceback).

Command line::

    sipas init-wave data/raw/sipas_2026.xlsx --instrument sipas-2022 --wave 2026 \\
        --out waves/sipas-2026.yaml

Examples
--------
>>> from sipas_analysis.init_wave import draft_config                      # doctest: +SKIP
>>> draft = draft_config("data/raw/sipas_2026.xlsx", "sipas-2022", "2026",
...                      out="waves/sipas-2026.yaml")                      # doctest: +SKIP
>>> draft.exit_code, draft.vintage                                         # doctest: +SKIP
(0, '2025')
"""

from __future__ import annotations

import csv
import difflib
import io
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from sipas_analysis import geography, waves
from sipas_analysis.coerce import fold, to_number, to_text
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.instruments import INDEX_ROLE

__all__ = [
    "Draft",
    "ItemMatch",
    "draft_config",
    "question_number",
    "read_columns",
    "header_codes",
    "similarity",
]

#: Similarity (0–1) from which a header is taken as an item's wording.
MATCH_THRESHOLD = 0.80
#: Lead the best candidate needs over the second to be taken without doubt.
MATCH_MARGIN = 0.05
#: Below this, a number match whose header carries wording is ambiguous (wording differs).
WORDING_CONFLICT = 0.40
#: A header at least this long may be a cut one (240-character cells, 256-byte SPSS labels): it is
#: also compared with the same length of the instrument's wording.
CUT_HEADER_MIN = 40
#: Candidates at least this similar are shown for an unmatched item.
SHOW_CANDIDATE = 0.6
#: Rows looked at to find the header row.
HEADER_SCAN_ROWS = 30

_QNUM = re.compile(r"^(?:cau|c|q|question)?\s?(\d{1,2})(?:\s(\d{1,2}))?(?=\s|$)")
_PATTERNS = {
    "commune": r"\b(xa|phuong|thi tran|xa phuong|commune|don vi hanh chinh|ten xa|ma xa)\b",
    "village": r"\b(ap|thon|khu pho|to dan pho|village|xom|ban|khom|khu dan cu)\b",
    "weight": r"^(w|wt|wgt)$|\b(trong so|quyen so|weight|he so)\b",
    "sex": r"\b(gioi tinh|gioi|sex|gender|phai)\b",
    "age": r"\b(tuoi|age|do tuoi|nhom tuoi)\b",
    "urban_rural": r"\b(khu vuc|thanh thi|nong thon|urban|rural)\b",
    "respondent_id": r"\b(ma ?phieu|so ?phieu|ma so phieu|phieu|id|ma ho|ma nguoi|stt|so thu tu)\b",
    "strata": r"\b(tang|strata|stratum)\b",
    "psu": r"\b(psu|ma ap|ma thon|cum|cluster|ma dia ban|dia ban mau)\b",
    "fpc": r"\b(fpc)\b",
}
_NAME_WORD = re.compile(r"^[^\W\d_]+$")


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
    encoding = waves._detect_encoding(data)
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
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure: an unreadable workbook
        raise _unusable(
            path.name,
            f"không mở được tệp Excel ({type(exc).__name__})",
            f"cannot open the Excel workbook ({type(exc).__name__}: {exc})",
        ) from None
    try:
        if sheet is not None:
            if sheet not in wb.sheetnames:
                raise _unusable(
                    path.name,
                    f"không có trang tính {sheet!r} (có: {', '.join(wb.sheetnames)})",
                    f"no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})",
                )
            names = [sheet]
        else:
            names = list(wb.sheetnames)
        sheets = {}
        for name in names:
            rows = [list(r) for r in wb[name].iter_rows(values_only=True)]
            filled = sum(1 for r in rows for v in r if _cell_text(v))
            sheets[name] = (filled, rows)
    finally:
        wb.close()
    name = max(sheets, key=lambda s: sheets[s][0])
    if sheets[name][0] == 0:
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
    fmt = fmt or waves._SUFFIX_FORMAT.get(path.suffix.lower())
    if fmt not in waves.FORMATS:
        raise _unusable(
            path.name,
            f"định dạng không hỗ trợ (dùng {', '.join(waves.FORMATS)})",
            f"unsupported file format (use {', '.join(waves.FORMATS)})",
        )
    if fmt == "csv":
        return _read_csv(path)
    if fmt == "xlsx":
        return _read_xlsx(path, sheet)
    return _read_stat(path, fmt)


# ---------------------------------------------------------------------------------------------
# Matching items
# ---------------------------------------------------------------------------------------------


def question_number(text: object) -> tuple[str | None, str]:
    """Question number at the start of a header, and the wording after it.

    Examples
    --------
    >>> question_number("Câu 9.12. Chính sách về an sinh xã hội phù hợp")
    ('9.12', 'chinh sach ve an sinh xa hoi phu hop')
    >>> question_number("C9_12"), question_number("q10_1")[0], question_number("Tuổi")[0]
    (('9.12', ''), '10.1', None)
    """
    folded = fold(text)
    m = _QNUM.match(folded)
    if not m:
        return None, folded
    number = m.group(1) + (f".{m.group(2)}" if m.group(2) else "")
    return number, folded[m.end() :].strip()


def similarity(header: str, wording: str) -> float:
    """Similarity (0–1) of two folded texts; a long header is also compared as a cut prefix.

    Examples
    --------
    >>> round(similarity("chinh sach ve an sinh xa hoi phu hop gom", "chinh sach ve an sinh xa "
    ...                  "hoi phu hop gom cac quy dinh ve bao hiem xa hoi"), 2)   # a cut header
    0.98
    """
    if not header or not wording:
        return 0.0
    sm = difflib.SequenceMatcher(None, header, wording, autojunk=False)
    best = sm.ratio() if sm.real_quick_ratio() > 0.3 else 0.0
    if len(header) >= CUT_HEADER_MIN and len(header) < len(wording):
        sm2 = difflib.SequenceMatcher(None, header, wording[: len(header) + 2], autojunk=False)
        if sm2.real_quick_ratio() > best:
            best = max(best, sm2.ratio())
    return float(best)


@dataclass
class ItemMatch:
    """How one instrument item was matched to a column of the file.

    ``status``: ``matched``, ``ambiguous``, ``unmatched``. ``column`` is the header (or variable
    name) to write in the config; ``how`` says how it was found; ``candidates`` lists
    ``(header, score)`` of the other plausible columns.
    """

    code: str
    role: str
    question: str | None
    status: str
    column: str | None = None
    how: str = ""
    candidates: list[tuple[str, float]] = field(default_factory=list)
    position: int | None = None


def _codes_ok(col: _Column, valid: tuple, missing: set[int]) -> tuple[bool, str]:
    """Are the column's values the item's codes (or missing codes)?"""
    num, _bad = to_number(col.values)
    text = to_text(col.values)
    present = text.notna()
    if not present.any():
        return True, "empty column"
    allowed = {float(v) for v in valid} | {float(m) for m in missing}
    ok = num.isin(list(allowed))
    share = float(ok[present].mean())
    if share >= 0.95:
        return True, ""
    bad = sorted({str(v) for v in text[present & ~ok]})[:5]
    return False, f"values outside the item's codes ({', '.join(bad)})"


def _labels_differ(col: _Column, inst, code: str) -> str | None:
    """SPSS/Stata value labels that contradict the instrument's labels of the same codes."""
    if not col.value_labels:
        return None
    try:
        ours = inst.value_labels(code)
    except SipasError:
        return None
    diffs = []
    for k, lab in col.value_labels.items():
        try:
            key = int(float(k))
        except (TypeError, ValueError):
            continue
        if key in ours and similarity(fold(lab), fold(ours[key])) < 0.6:
            diffs.append(f"{key}={lab!r} (instrument: {ours[key]!r})")
    return "; ".join(diffs[:3]) if diffs else None


def _match_items(table: _Table, inst) -> list[ItemMatch]:
    items = inst.items.reset_index(drop=True)
    miss_default = {int(m) for m in (98, 99)}
    cols = table.columns
    keys = []
    for c in cols:
        hn, ht = question_number(c.header)
        ln, lt = question_number(c.label) if c.label else (None, "")
        keys.append((hn, ht, ln, lt))
    used: set[int] = set()
    out: dict[str, ItemMatch] = {}
    wordings = {str(r.code): fold(r.label_vi) for r in items.itertuples(index=False)}

    def text_sim(j: int, code: str) -> tuple[float, str]:
        _hn, ht, _ln, lt = keys[j]
        full_h = fold(cols[j].header)
        s_h = max(similarity(ht, wordings[code]), similarity(full_h, wordings[code]))
        s_l = similarity(lt, wordings[code]) if lt else 0.0
        return (s_h, "header") if s_h >= s_l else (s_l, "variable label")

    # 1. Question numbers.
    for r in items.itertuples(index=False):
        code = str(r.code)
        q, _rest = question_number(r.question) if r.question else (None, "")
        if not q:
            continue
        hits = [j for j, k in enumerate(keys) if k[0] == q or k[2] == q]
        if not hits:
            continue
        where = "header" if any(keys[j][0] == q for j in hits) else "variable label"
        if len(hits) == 1:
            j = hits[0]
            text = keys[j][1] if keys[j][0] == q else keys[j][3]
            wording_from = where
            if not text and keys[j][3]:
                text = keys[j][3]  # a short variable name: its label carries the wording
                wording_from = "variable label"
            sim, _ = text_sim(j, code)
            if (
                r.confidence != "reconstructed"
                and len(text) >= 15
                and similarity(text, wordings[code]) < WORDING_CONFLICT
                and sim < WORDING_CONFLICT
            ):
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "ambiguous",
                    None,
                    f"question number {q} ({where}) but the wording differs (similarity {sim:.2f})",
                    [(cols[j].header, sim)],
                    None,
                )
                continue
            how = f"question number {q} ({where})"
            if text:
                how += f", wording similarity {sim:.2f}"
                how += f" ({wording_from})" if wording_from != where else ""
            out[code] = ItemMatch(code, r.role, r.question, "matched", cols[j].header, how, [], j)
            used.add(j)
        else:
            scored = sorted(((text_sim(j, code)[0], j) for j in hits), reverse=True)
            (s1, j1), (s2, _j2) = scored[0], scored[1]
            cands = [(cols[j].header, s) for s, j in scored]
            if s1 - s2 >= 0.1:
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "matched",
                    cols[j1].header,
                    f"question number {q} ({len(hits)} columns), wording similarity {s1:.2f}",
                    cands[1:],
                    j1,
                )
                used.add(j1)
            else:
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "ambiguous",
                    None,
                    f"question number {q} in {len(hits)} columns",
                    cands,
                )

    # 2. Wording, then variable labels: best pairs first, one column per item.
    rest = [r for r in items.itertuples(index=False) if str(r.code) not in out]
    pairs = []
    for r in rest:
        code = str(r.code)
        for j in range(len(cols)):
            if j in used:
                continue
            s, where = text_sim(j, code)
            if s >= 0.4:
                pairs.append((s, code, j, where))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    by_item: dict[str, list[tuple[float, int, str]]] = {}
    for s, code, j, where in pairs:
        by_item.setdefault(code, []).append((s, j, where))
    taken: dict[str, tuple[float, int, str]] = {}
    for s, code, j, where in pairs:
        if s < MATCH_THRESHOLD or code in taken or j in used:
            continue
        taken[code] = (s, j, where)
        used.add(j)
    for r in rest:
        code = str(r.code)
        cands = by_item.get(code, [])
        shown = [(cols[j].header, s) for s, j, _w in cands[:3] if s >= SHOW_CANDIDATE]
        if code in taken:
            s, j, where = taken[code]
            others = [c for c in cands if c[1] != j]
            second = others[0][0] if others else 0.0
            if s - second < MATCH_MARGIN:
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "ambiguous",
                    None,
                    f"two columns about as similar ({s:.2f} / {second:.2f}, {where})",
                    shown,
                )
                used.discard(j)
            else:
                out[code] = ItemMatch(
                    code,
                    r.role,
                    r.question,
                    "matched",
                    cols[j].header,
                    f"wording similarity {s:.2f} ({where})",
                    [(cols[jj].header, ss) for ss, jj, _w in others[:2]],
                    j,
                )
        else:
            out[code] = ItemMatch(code, r.role, r.question, "unmatched", None, "", shown)

    # 3. Values: the column must hold the item's codes; file value labels must agree.
    for r in items.itertuples(index=False):
        m = out[str(r.code)]
        if m.status != "matched" or m.position is None:
            continue
        col = cols[m.position]
        miss = miss_default | {int(x) for x in (r.missing_codes or ())}
        if r.answer_type == "continuous":
            continue
        ok, why = _codes_ok(col, tuple(r.valid_codes or ()), miss)
        differ = _labels_differ(col, inst, str(r.code))
        if not ok or differ:
            m.status = "ambiguous"
            m.candidates = [(col.header, 1.0)]
            m.how += "; " + (why if not ok else f"the file's value labels differ: {differ}")
            used.discard(m.position)
            m.position = None
            m.column = None
    return [out[str(c)] for c in items["code"]]


# ---------------------------------------------------------------------------------------------
# Commune, village, weight, sex, age, id, personal columns
# ---------------------------------------------------------------------------------------------


@dataclass
class _Role:
    key: str
    column: str | None
    how: str
    position: int | None = None


def _pattern(col: _Column, role: str) -> bool:
    texts = [fold(col.header)] + ([fold(col.label)] if col.label else [])
    return any(re.search(_PATTERNS[role], t) for t in texts)


def _texts(col: _Column) -> pd.Series:
    series = col.values
    if col.value_labels:
        labelled = series.map(lambda v: col.value_labels.get(v, None))
        series = labelled.where(labelled.notna(), series)
    return to_text(series)


def _label_keys(text: pd.Series) -> pd.Series:
    """Labels compared as the loader compares PSU labels: case, spacing and tone marks folded."""
    return text.map(lambda v: None if v is None else geography.normalize_name(v).casefold())


def _looks_like_names(col: _Column) -> str | None:
    text = _texts(col).dropna()
    if len(text) < 5 or text.nunique() < 0.5 * len(text):
        return None
    words = text.str.split()
    ok = words.map(
        lambda w: 2 <= len(w) <= 5 and all(_NAME_WORD.match(x) and x[0].isupper() for x in w)
    )
    share = float(ok.mean())
    if share < 0.9:
        return None
    return (
        f"by content: {share:.0%} of its {len(text)} values look like people's names "
        f"({text.nunique()} distinct)"
    )


def _exact_scores(names: pd.Series) -> dict[str, float]:
    """Rows whose commune name matches a vintage exactly (1) or only without the type (0.5)."""
    counts = names.dropna().value_counts()
    out = {}
    for vintage in geography.VINTAGES:
        table = geography.communes(vintage)
        full = {geography.match_key(n) for n in table["commune_name"]}
        bare = {geography.match_key(n, with_type=False) for n in table["commune_name"]}
        score = 0.0
        for name, k in counts.items():
            if geography.match_key(name) in full:
                score += k
            elif geography.match_key(name, with_type=False) in bare:
                score += 0.5 * k
        out[vintage] = score
    return out


def _find_roles(table: _Table, item_pos: set[int], vintage: str | None, n: int):
    cols = table.columns
    roles: dict[str, _Role] = {}
    notes: list[str] = []
    doubts: list[str] = []
    personal: list[_Role] = []
    for c in cols:
        if waves.is_personal_header(c.header) or (c.label and waves.is_personal_header(c.label)):
            personal.append(_Role("personal", c.header, "header pattern (personal data)", c.pos))
        elif c.pos not in item_pos and (why := _looks_like_names(c)):
            personal.append(_Role("personal", c.header, why, c.pos))
    skip = {p.position for p in personal}
    free = [c for c in cols if c.pos not in skip]

    # Commune names: the column whose values resolve in a vintage for most rows.
    best = None
    for c in free:
        if c.pos in item_pos:
            continue
        text = _texts(c)
        if text.notna().sum() == 0 or to_number(text)[0].notna().mean() > 0.5:
            continue
        counts = text.dropna().value_counts()
        rates = {}
        for v in geography.VINTAGES:
            res = geography.resolve_communes(list(counts.index), v)
            rates[v] = float(counts.to_numpy()[(res["status"] == "ok").to_numpy()].sum()) / n
        top = max(rates.values())
        score = top + (0.2 if _pattern(c, "commune") else 0.0)
        if top >= 0.5 and (best is None or score > best[0]):
            best = (score, c, rates)
    commune_names = None
    if best:
        _s, c, rates = best
        commune_names = _texts(c)
        shown = ", ".join(f"{v}: {rates[v]:.0%}" for v in geography.VINTAGES)
        roles["commune"] = _Role(
            "commune",
            c.header,
            f"content: names resolve to communes ({shown} of rows)"
            + ("; header pattern" if _pattern(c, "commune") else ""),
            c.pos,
        )
    # Commune codes: a numeric column of GSO codes.
    code_scores = {}
    for c in free:
        if c.pos in item_pos or c.value_labels:
            continue
        num = to_number(c.values)[0]
        if num.notna().mean() < 0.9:
            continue
        shares = {
            v: float(num.isin(geography.communes(v)["commune_code"]).mean())
            for v in geography.VINTAGES
        }
        if max(shares.values()) >= 0.9:
            roles["commune_code"] = _Role(
                "commune_code",
                c.header,
                "content: GSO commune codes ("
                + ", ".join(f"{v}: {shares[v]:.0%}" for v in geography.VINTAGES)
                + " of rows)",
                c.pos,
            )
            code_scores = shares
            break

    # Vintage.
    guessed = None
    code_doubt = False
    if commune_names is not None:
        scores = _exact_scores(commune_names)
        guessed = max(scores, key=scores.get) if max(scores.values()) > 0 else None
        basis = ", ".join(f"{v}: {scores[v]:g}" for v in geography.VINTAGES)
        basis = f"commune names matching exactly (bare name = ½ row) — {basis}"
    elif code_scores:
        codes = to_number(cols[roles["commune_code"].position].values)[0]
        cover = {}  # share of the vintage's communes present in the file
        for v in geography.VINTAGES:
            known = geography.communes(v)["commune_code"]
            cover[v] = codes[codes.isin(known)].nunique() / len(known)
        guessed = max(code_scores, key=lambda v: (code_scores[v], cover[v]))
        basis = "commune codes: " + ", ".join(
            f"{v}: {code_scores[v]:.0%} of rows, {cover[v]:.0%} of its communes"
            for v in code_scores
        )
        if len({code_scores[v] for v in code_scores}) == 1 and vintage is None:
            code_doubt = True
    if vintage is None:
        vintage_how = f"guessed from {basis}" if guessed else "not found: set it by hand"
        vintage = guessed
        if code_doubt:
            vintage_how = f"KIỂM TRA / CHECK: {vintage_how}"
            doubts.append(
                "mã xã có ở cả hai địa giới: xác nhận bằng --vintage / the commune codes exist "
                f"in both boundary vintages (guessed {guessed} from coverage): confirm with "
                "--vintage"
            )
    else:
        vintage_how = "given on the command line"
        if guessed and guessed != vintage:
            vintage_how += f" (the commune names fit {guessed} better: {basis})"
            notes.append(
                f"địa giới {vintage} được chỉ định nhưng tên xã khớp {guessed} hơn / vintage "
                f"{vintage} given but the commune names fit {guessed} better ({basis})"
            )

    taken = {r.position for r in roles.values()} | skip

    def pick(role: str, test) -> None:
        for c in free:
            if c.pos in taken or (c.pos in item_pos and role not in ("sex", "age", "urban_rural")):
                continue
            if _pattern(c, role):
                why = test(c)
                if why:
                    roles[role] = _Role(role, c.header, f"header pattern; {why}", c.pos)
                    taken.add(c.pos)
                    return

    def village_test(c):
        text = _texts(c)
        k = _label_keys(text).nunique()  # "Ấp 1" = "ấp 1", as the loader takes them
        if k == 0 or k > max(5, n / 5) or to_number(text)[0].notna().mean() > 0.5:
            return None
        return f"content: {k} distinct labels"

    def weight_test(c):
        num, bad = to_number(c.values)
        if num.notna().mean() < 0.9 or bad.any():
            return None
        ok = np.isfinite(num.dropna()) & (num.dropna() > 0)
        if not ok.all():
            return None
        return f"content: positive numbers {num.min():g}–{num.max():g}"

    def coded_test(valid_text: dict[str, int]):
        def test(c):
            text = _texts(c).dropna()
            if text.empty:
                return None
            num = to_number(text)[0]
            mapped = text.str.lower().map(valid_text)
            codes = num.where(num.notna(), mapped)
            vals = set(codes.dropna().astype(int))
            if codes.notna().mean() >= 0.95 and vals <= {1, 2, 98, 99}:
                return f"content: codes {sorted(vals)}"
            return None

        return test

    def age_test(c):
        num = to_number(c.values)[0].dropna()
        if num.empty or not (num == num.round()).all():
            return None
        real = num[~num.isin([98, 99])]
        if real.between(18, 110).mean() >= 0.95 and real.nunique() > 8:
            return f"content: ages {int(real.min())}–{int(real.max())}"
        if real.isin([1, 2, 3, 4, 5, 6]).all():
            return "coded"
        return None

    pick("village", village_test)
    pick("weight", weight_test)
    pick("sex", coded_test({"nam": 1, "nữ": 2, "nu": 2}))
    pick("urban_rural", coded_test({"thành thị": 1, "nông thôn": 2, "đô thị": 1}))
    pick("age", age_test)
    pick("strata", lambda c: f"content: {_texts(c).nunique()} values")
    pick("psu", lambda c: f"content: {_texts(c).nunique()} values")

    # Respondent id: unique values, header pattern preferred ("Mã phiếu" before "STT").
    ids = []
    for c in free:
        if c.pos in taken or c.pos in item_pos:
            continue
        text = _texts(c)
        if text.notna().all() and text.nunique() == n:
            folded = fold(c.header)
            rank = 0 if re.search(r"\b(ma|so) ?phieu\b|\bid\b", folded) else 1
            rank += 0 if _pattern(c, "respondent_id") else 2
            ids.append((rank, c))
    if ids:
        ids.sort(key=lambda t: (t[0], t[1].pos))
        rank, c = ids[0]
        how = "unique values" + ("; header pattern" if rank < 2 else "")
        roles["respondent_id"] = _Role("respondent_id", c.header, how, c.pos)
        taken.add(c.pos)
    return roles, personal, vintage, vintage_how, notes, doubts


# ---------------------------------------------------------------------------------------------
# The draft
# ---------------------------------------------------------------------------------------------


@dataclass
class Draft:
    """A drafted wave config.

    Attributes
    ----------
    text : str
        The commented YAML.
    items : list of ItemMatch
        One per instrument item, in the instrument's order.
    roles : dict
        Canonical column (``commune``, ``village``, ``weight``, ``sex``, ``age``, ``respondent_id``
        …) -> (header, how found).
    personal : list of (header, how)
        Columns listed under ``personal_columns``.
    vintage : str or None
    header_row : int or None
    exit_code : int
        0 every index item matched and nothing ambiguous; 1 otherwise.
    problems : list of str
        Why the exit code is 1 (bilingual lines).
    """

    text: str
    items: list[ItemMatch]
    roles: dict[str, tuple[str, str]]
    personal: list[tuple[str, str]]
    vintage: str | None
    header_row: int | None
    exit_code: int
    problems: list[str] = field(default_factory=list)

    def table(self) -> str:
        """The item → column → how matched table, as printed by ``sipas init-wave``."""
        lines = [f"{'câu / item':<22} {'trạng thái / status':<10} {'cột / column':<62} cách / how"]
        for m in self.items:
            col = m.column or ("; ".join(f"{h[:28]} ({s:.2f})" for h, s in m.candidates[:2]) or "—")
            col = col if len(col) <= 60 else col[:59] + "…"
            lines.append(f"{m.code:<22} {m.status:<10} {col:<62} {m.how}")
        return "\n".join(lines)


def _q(value: object) -> str:
    """A YAML scalar on one line."""
    text = yaml.safe_dump(value, allow_unicode=True, width=10**6, default_flow_style=True)
    text = text.strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text.removesuffix("...").strip()


#: "1=Nam, 2=Nữ", "1: Thành thị; 2: Nông thôn", "1=18-29 2=30-44" written in a header.
_HEADER_CODE = re.compile(
    r"(?<![\w.])(\d{1,2})\s*[=:]\s*([^,;()=]+?)\s*(?=[,;)]|\s+\d{1,2}\s*[=:]|$)"
)
#: Canonical column of a coded role, and the instrument item whose codes it shares.
_CODED_ROLES = (
    ("sex", "sex", "gioi_tinh"),
    ("urban_rural", "urban_rural", "khu_vuc"),
    ("age", "age_band", "nhom_tuoi"),
)


def header_codes(header: str) -> dict[int, str]:
    """Codes written in a header: "Giới tính (1=Nam, 2=Nữ)" -> {1: "Nam", 2: "Nữ"}.

    Examples
    --------
    >>> header_codes("Giới tính (1=Nam, 2=Nữ)")
    {1: 'Nam', 2: 'Nữ'}
    >>> header_codes("C9.1 - Thủ tục được niêm yết công khai")
    {}
    """
    found = {int(k): " ".join(v.split()) for k, v in _HEADER_CODE.findall(str(header))}
    return found if len(found) >= 2 else {}


@dataclass
class _Labels:
    """What the draft says about the codes of one coded column."""

    column: str  # canonical column: sex, urban_rural, age_band
    header: str
    labels: dict[int, str]  # code -> label as found (file, header or questionnaire)
    canonical: dict[int, object]  # code -> canonical label (Nam, 18-29 …) or None
    source: str
    active: bool  # written in value_labels: (else commented out)
    why: str


def _canonical_label(column: str, label: str) -> str | None:
    """The canonical word of a label ("nữ" -> "Nữ", "Đô thị" -> "Thành thị", "18–29" -> "18-29")."""
    code = waves._canonical_code(column, label)
    if code is None or column == "age_band":
        return code
    return waves._LABEL_CHOICES[column][int(code) - 1]


def _value_label_plan(inst, roles, items, table: _Table, missing: set[int]) -> list[_Labels]:
    """The codes of the coded columns (sex, urban/rural, age band): mapped when sure.

    A mapping is written in ``value_labels:`` when every code found in the column has a
    canonical label and the labels come from the header ("Giới tính (1=Nam, 2=Nữ)") or, for sex
    and urban/rural coded 1/2, from the questionnaire. Labels of a .sav/.dta file are used by the
    loader itself (a comment only). Otherwise — codes 1–5 of an age band without a codebook, whose
    questionnaire bands do not nest in 18-29/30-44/45-59/60+ — the proposal is commented out.
    """
    out: list[_Labels] = []
    by_header = {c.header: c for c in table.columns}
    done = set()
    for role, canon, item in _CODED_ROLES:
        r = roles.get(role)
        m = next((x for x in items if x.code == item and x.status == "matched"), None)
        if r is not None and role == "age" and not r.how.endswith("coded"):
            continue  # real ages: no codes
        header = r.column if r is not None else (m.column if m else None)
        col = by_header.get(header) if header else None
        if col is None or header in done:
            continue
        done.add(header)
        num = to_number(col.values)[0]
        if num.notna().sum() < 0.5 * to_text(col.values).notna().sum():
            continue  # words (Nam / Nữ): read as they are
        present = sorted(int(v) for v in num.dropna().unique() if v == int(v) and v not in missing)
        if col.value_labels:
            labels = {int(float(k)): str(v) for k, v in col.value_labels.items()}
            source, from_file = "the file's value labels", True
        elif header_codes(header):
            labels, source, from_file = header_codes(header), "written in the header", False
        else:
            try:
                labels = {k: v for k, v in inst.value_labels(item).items() if k not in missing}
            except SipasError:
                continue
            source = f"the questionnaire's codes (item {item}); no codebook in the file"
            from_file = False
        labels = {k: v for k, v in labels.items() if k not in missing}
        canonical = {k: _canonical_label(canon, v) for k, v in labels.items()}
        unlabelled = [k for k in present if canonical.get(k) is None]
        shown = ", ".join(map(str, present))
        if from_file:
            out.append(
                _Labels(
                    canon,
                    header,
                    labels,
                    canonical,
                    source,
                    False,
                    "the loader reads the file's value labels itself",
                )
            )
        elif not unlabelled and present and (source.startswith("written") or canon != "age_band"):
            out.append(
                _Labels(
                    canon, header, labels, canonical, source, True, f"codes in the file: {shown}"
                )
            )
        else:
            if canon == "age_band":
                why = (
                    f"KIỂM TRA / CHECK: codes {shown}; the questionnaire's bands do not nest in "
                    "18-29/30-44/45-59/60+: write each code's band from the codebook, set "
                    f"columns.age_band: {_q(header)}, then uncomment"
                )
            else:
                choices = ", ".join(waves._LABEL_CHOICES[canon])
                why = (
                    f"KIỂM TRA / CHECK: codes {shown}, no label for "
                    f"{', '.join(map(str, unlabelled)) or 'them'}: write each code's label "
                    f"({choices}), then uncomment"
                )
            out.append(_Labels(canon, header, labels, canonical, source, False, why))
    return out


def _band_proposal(column: str, label: str) -> str:
    """A commented proposal for a label without a canonical word ("Trên 60 tuổi" -> "60+")."""
    if column != "age_band":
        return label
    over = re.match(r"^(?:trên|từ|>=?)\s*(\d{2})", waves._nfc(label).strip().lower())
    return f"{over.group(1)}+" if over else waves._band_name(label)


def _value_label_block(plan: list[_Labels]) -> list[str]:
    """``value_labels:`` lines: the sure mappings written, the others commented out."""
    if not plan:
        return []
    active = [p for p in plan if p.active]
    L = [
        "# Mã của các cột mã hoá / codes of the coded columns: the sure ones mapped, the others "
        "proposed in comments"
    ]
    L.append("value_labels:" if active else "# value_labels:")
    for p in active:
        body = ", ".join(f"{k}: {_q(p.canonical[k])}" for k in sorted(p.labels) if p.canonical[k])
        L.append(f"  {p.column}: {{{body}}}   # {_q(p.header)}: {p.source}; {p.why}")
    for p in plan:
        if p.active:
            continue
        L.append(f"#   {p.column}:   # {_q(p.header)}: {p.source}; {p.why}")
        for k in sorted(p.labels):
            canon = p.canonical[k]
            proposal = canon if canon is not None else _band_proposal(p.column, p.labels[k])

            L.append(f"#     {k}: {_q(proposal)}   # {p.labels[k]}")
    return L


def draft_config(
    data_file: str | Path,
    instrument: str,
    wave: str,
    vintage: str | None = None,
    out: str | Path | None = None,
    sheet: str | None = None,
) -> Draft:
    """Draft the wave config of a data file (see the module docstring).

    Parameters
    ----------
    data_file : str or Path
        The field file (.xlsx, .csv, .sav, .dta); read, never written.
    instrument : str
        Instrument name (``sipas-2022``, …).
    wave : str
        Wave label, e.g. ``"2026"``.
    vintage : {"pre2025", "2025"}, optional
        Boundary vintage; default guessed from the commune names.
    out : str or Path, optional
        Where the config will be written: ``file:`` is made relative to its folder. Default: the
        current folder.
    sheet : str, optional
        xlsx sheet; default the sheet holding the most data.

    Returns
    -------
    Draft

    Raises
    ------
    SipasError
        Unusable input: the file cannot be read or has no header or data, unknown instrument or
        vintage.
    """
    data_file = Path(data_file)
    if vintage is not None and vintage not in geography.VINTAGES:
        raise SipasError(
            f"địa giới không hợp lệ {vintage!r} (dùng {', '.join(geography.VINTAGES)}) / unknown "
            f"boundary vintage {vintage!r} (use {', '.join(geography.VINTAGES)})"
        )
    inst = waves._load_instrument(None, instrument)
    table = read_columns(data_file, sheet=sheet)
    n = table.n_rows
    items = _match_items(table, inst)
    item_pos = {m.position for m in items if m.position is not None}
    found = _find_roles(table, item_pos, vintage, n)
    roles, personal, vintage, vintage_how, notes, doubts = found
    # Personal columns never carry items.
    personal_headers = {p.column for p in personal}
    for m in items:
        if m.column in personal_headers:
            m.status, m.how, m.column, m.position = "ambiguous", "personal column", None, None

    index_role = INDEX_ROLE.get(inst.survey, "satisfaction")
    problems = list(doubts)
    bad = [m for m in items if m.status == "ambiguous"]
    missing = [m for m in items if m.status == "unmatched" and m.role == index_role]
    if bad:
        problems.append(
            f"{len(bad)} câu không chắc chắn / ambiguous item(s): " + ", ".join(m.code for m in bad)
        )
    if missing:
        problems.append(
            f"{len(missing)} câu chỉ số không tìm thấy / index item(s) not found: "
            + ", ".join(m.code for m in missing)
        )
    if "respondent_id" not in roles:
        notes.append(
            "không có cột mã phiếu (giá trị không trùng) / no respondent id column (unique "
            "values): respondent_id: null, the row number in the file is the id"
        )
    if "commune" not in roles and "commune_code" not in roles:
        problems.append(
            "không tìm thấy cột xã/phường / no commune column found (names or GSO codes)"
        )
    if vintage is None:
        problems.append("không xác định được địa giới / boundary vintage unknown: use --vintage")
    if "weight" not in roles:
        notes.append(
            "không tìm thấy cột trọng số / no weight column found: weight: null means every "
            "respondent weighs 1 (write the column if the file has one)"
        )

    out_path = Path(out) if out is not None else Path.cwd() / f"{inst.survey}-{wave}.yaml"
    rel = Path(os.path.relpath(data_file.resolve(), out_path.resolve().parent)).as_posix()
    text = _render(
        data_file,
        rel,
        inst,
        str(wave),
        vintage,
        vintage_how,
        table,
        items,
        roles,
        personal,
        notes,
        problems,
    )
    return Draft(
        text=text,
        items=items,
        roles={k: (r.column, r.how) for k, r in roles.items()},
        personal=[(p.column, p.how) for p in personal],
        vintage=vintage,
        header_row=table.header_row,
        exit_code=1 if problems else 0,
        problems=problems,
    )


def _render(
    data_file, rel, inst, wave, vintage, vintage_how, table, items, roles, personal, notes, problems
) -> str:
    L: list[str] = []
    L += [
        f"# Bản nháp cấu hình đợt khảo sát / draft wave config for {data_file.name},",
        f"# written by `sipas init-wave` from the file as it is ({table.n_rows} rows, "
        f"{len(table.columns)} columns). Every guess says how it was made (comments).",
        "# Check it, then: sipas validate THIS_FILE.yaml. Paths are relative to this file.",
    ]
    for p in problems:
        L.append(f"# KIỂM TRA / CHECK: {p}")
    for note in notes + table.notes:
        L.append(f"# Ghi chú / note: {note}")
    L += [
        f"wave: {_q(wave)}",
        f"survey: {inst.survey}",
        f"instrument: {inst.name}",
        f"boundary_vintage: {_q(vintage)}   # {vintage_how}",
        "fieldwork:   # ngày khảo sát / fieldwork dates: fill in (YYYY-MM-DD)",
        "  start: null",
        "  end: null",
        f"file: {_q(rel)}",
        f"format: {table.fmt}",
    ]
    if table.sheet is not None:
        L.append(f"sheet: {_q(table.sheet)}   # the sheet holding the data")
    if table.encoding is not None:
        L.append(f"encoding: {table.encoding}   # detected")
    if table.header_row is not None and table.header_row != 1:
        L.append(
            f"header_row: {table.header_row}   # dòng tiêu đề cột / the header is row "
            f"{table.header_row} of the file (title rows above it)"
        )
    found = sorted(
        {
            int(v)
            for m in items
            if m.position is not None
            for v in to_number(table.columns[m.position].values)[0].dropna().unique()
            if v in (98, 99)
        }
    )
    plan = _value_label_plan(inst, roles, items, table, set(found or [98, 99]))
    band = next((p for p in plan if p.column == "age_band" and p.active), None)
    L.append(
        f"missing_codes: {_q(found or [98, 99])}   # "
        + (
            f"found in the item columns ({', '.join(map(str, found))})"
            if found
            else "the instrument's default (none found in the file)"
        )
    )
    if personal:
        L.append("personal_columns:   # dropped at load, never reach an output")
        for p in personal:
            L.append(f"- {_q(p.column)}   # {p.how}")
    else:
        L.append("personal_columns: []   # none recognised")

    def col_line(key: str, role: str | None = None, comment_missing: str = "not found") -> str:
        r = roles.get(role or key)
        if r is None:
            return f"  {key}: null   # {comment_missing}"
        return f"  {key}: {_q(r.column)}   # {r.how}"

    L.append("columns:")
    L.append(
        col_line(
            "respondent_id",
            comment_missing="no column of unique values: the id is the row number in the file "
            "(duplicates not checked); name the id column here if the file has one",
        )
    )
    L.append(col_line("commune", comment_missing="KIỂM TRA / CHECK: no column of commune names"))
    L.append(col_line("commune_code", comment_missing="no column of GSO codes"))
    L.append(col_line("village", comment_missing="no village column"))
    L.append(col_line("sex", comment_missing="no sex column"))
    age = roles.get("age")
    nhom = next((m for m in items if m.code == "nhom_tuoi" and m.status == "matched"), None)
    if band is not None:
        L.append(f"  age: null   # {_q(band.header)} holds coded bands")
        L.append(f"  age_band: {_q(band.header)}   # bands {band.source}: see value_labels")
    elif age is not None and age.how.endswith("coded"):
        L.append(
            "  age: null   # "
            + (
                f"{_q(age.column)} holds coded bands, mapped as item nhom_tuoi"
                if nhom and nhom.column == age.column
                else f"{_q(age.column)} holds codes 1–6 without a codebook: not used as age"
            )
        )
        L.append(
            "  age_band: null   # the form's bands do not nest in the canonical 18-29/30-44/…: "
            "see value_labels below"
        )
    else:
        L.append(col_line("age", comment_missing="no age column"))
        L.append("  age_band: null")
    L.append(col_line("urban_rural", comment_missing="no urban/rural column"))

    L.append("design:")
    L.append(col_line("weight", comment_missing="KIỂM TRA / CHECK: no weight column (weights = 1)"))
    L.append(col_line("strata", comment_missing="no stratum column: one stratum"))
    if "psu" in roles:
        L.append(col_line("psu"))
    elif "village" in roles and ("commune" in roles or "commune_code" in roles):
        ccol = (roles.get("commune") or roles["commune_code"]).column
        vcol = roles["village"].column
        vt = _label_keys(_texts(next(c for c in table.columns if c.header == vcol)))
        ct = _texts(next(c for c in table.columns if c.header == ccol))
        recur = pd.DataFrame({"v": vt, "c": ct}).dropna().groupby("v")["c"].nunique()
        k = int((recur > 1).sum())
        L.append(
            f"  psu: {_q(vcol)}   # no PSU code: PSU = commune × village — the village labels, "
            "nested within the resolved commune (nest_psu: true)"
            + (f"; {k} village labels recur in several communes" if k else "")
        )
        L.append("  nest_psu: true   # a village label is a PSU within its commune only")
    else:
        L.append("  psu: null   # no PSU code and no village column: respondents are the PSUs")
    L.append("  fpc: null")

    L += _value_label_block(plan)

    L.append("items:")
    for m in items:
        if m.status == "matched":
            L.append(f"  {m.code}: {_q(m.column)}   # {m.how}")
        elif m.status == "ambiguous":
            cands = "; ".join(f"{_q(h)} ({s:.2f})" for h, s in m.candidates[:3])
            L.append(f"  # {m.code}: ?   # KIỂM TRA / CHECK: {m.how}; candidates: {cands}")
        else:
            cands = "; ".join(f"{_q(h)} ({s:.2f})" for h, s in m.candidates[:3])
            L.append(
                f"  # {m.code}:   # không có trong tệp / not in the file"
                + (f"; nearest: {cands}" if cands else "")
            )
    used = {m.column for m in items if m.column} | {r.column for r in roles.values()}
    used |= {p.column for p in personal}
    extra = [c.header for c in table.columns if c.header and c.header not in used]
    if extra:
        L.append("# Cột không dùng / columns not used:")
        L += [f"#   {_q(h)}" for h in extra]
    return "\n".join(L) + "\n"
