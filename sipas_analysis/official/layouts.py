"""The layouts of the official PAPI workbooks: scores by row, the compiled 2011-2019 file, and the
full table (indicators x provinces) in either direction."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from sipas_analysis.official.cells import (
    _BadCell,
    _header_code,
    _is_blank,
    _level_of,
    _num,
    _pick_year,
    _Rec,
    _resolve_names,
    _Sheet,
    _years_in,
)
from sipas_analysis.official.codes import (
    _ascii_key,
    _code_by_label,
    _labels,
    _n_subdimensions,
    _nfc,
)

__all__: list[str] = []


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
