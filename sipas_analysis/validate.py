"""Checks of a survey wave and the problem report the field team gets back.

:func:`sipas_analysis.waves.read_wave` runs every check below while it builds the canonical table;
this module holds the checks, the problem list (:class:`ProblemLog`), the report files and the
``sipas validate`` command. The report is complete: every check runs, nothing stops at the first
problem, and every problem names the file, the column (source header), the row numbers as in the
source file (header = row 1 for csv/xlsx; record number for sav/dta) and the offending values.

Policy: error, warning, info
----------------------------
``error``
    The data cannot be used as it is. When the fault lies in identifiable rows, those rows are
    **excluded** (moved to ``exclusions`` with the reason): missing or duplicate respondent id
    (the first occurrence of an id is kept, later ones excluded), missing / unknown / ambiguous
    commune, commune outside the wave's boundary vintage, missing / non-numeric / non-positive
    weight, missing stratum or PSU, invalid fpc, an answer outside the instrument's valid codes,
    an item answered although its filter question says the service was not used, a PSU found in
    several strata (rows outside the PSU's main stratum). File- or design-level errors exclude no
    rows: a mapped column missing from the file, a mapped header present twice, a stratum left
    without any respondent (empty stratum), a weight column not configured
    (``weight_not_configured``), a file of the other boundary vintage (``wrong_vintage``: more
    than 20% of the rows), absurd weights (``extreme_weight``), fewer respondents than
    ``checks.min_respondents`` (``too_few_respondents``), an item nobody answered
    (``item_all_missing``), SPSS/Stata value labels that reverse or relabel the instrument's scale
    (``scale_labels_mismatch``). ``sipas validate`` exits 1 when there is any error; ``sipas run``
    performs the same checks first and stops (exit 1, nothing computed) on file- and design-level
    errors (:func:`blocking_errors`), while rows with row-level errors are excluded.
``warning``
    Worth a look, the row is kept: extra (unmapped) columns, a demographic value outside its codes
    (sex, urban/rural, age 18–110, age band — set to NA), a continuous answer outside its natural
    scale (kept), a commune name contradicting the commune
    code column, a commune abolished before fieldwork, a stratum with a single PSU, fieldwork dates
    that do not fit the boundary vintage, a design with fewer than 10 degrees of freedom, PSUs
    spanning several communes (``design.nest_psu: false``), commune codes valid in both vintages
    in a file holding codes of the other vintage.
``info``
    Recorded for completeness: missing-answer codes (98/99 …) and blanks recoded to NA with their
    counts, commune names written differently from the official name (resolved), personal
    columns dropped, blank lines skipped, instrument items the wave does not map.

Personal data: personal columns are dropped before any check runs, so no value of theirs can
appear in a message; only their headers are listed.

Command line
------------
``sipas validate WAVE_CONFIG_OR_FILE [--out DIR]`` prints a summary (Vietnamese and English
headings: row accounting, counts by severity and check, the first messages), writes
``<config>_problems.csv`` and ``<config>_problems.xlsx`` ("Đọc trước", problems, excluded rows,
summary, counts by check)
and ``<config>_exclusions.csv`` into ``DIR`` (default ``reports/validation``), atomically, and
exits 1 when there is an error, 0 otherwise; unusable input (bad config, unreadable file) exits 2
with a message and no traceback. Given a bare data file instead of a config, the command looks for
the one wave config whose ``file`` is that data file, next to it and then in ``waves/``, and
validates against it (saying which); with none it explains what a config must contain (exit 2).
The raw data file is only read, never written.

Examples
--------
>>> from sipas_analysis.waves import validate_wave          # doctest: +SKIP
>>> problems = validate_wave("waves/sipas-2024.yaml")       # doctest: +SKIP
>>> problems.groupby(["severity", "check"])["count"].sum()  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sipas_analysis.coerce import fold, to_number, to_text
from sipas_analysis.disclosure import mask_personal
from sipas_analysis.outputs import atomic_path, write_csv
from sipas_analysis.report import workbook

__all__ = [
    "PROBLEM_COLUMNS",
    "SEVERITIES",
    "ProblemLog",
    "write_report",
    "summary_text",
]

SEVERITIES = ("error", "warning", "info")
SEVERITY_VI = {"error": "lỗi", "warning": "cảnh báo", "info": "thông tin"}
PROBLEM_COLUMNS = (
    "severity",
    "check",
    "file",
    "column",
    "rows",
    "values",
    "message_vi",
    "message_en",
    "count",
)

#: Short reasons written into the exclusions table, per check.
REASONS = {
    "missing_id": ("thiếu mã phiếu", "missing respondent id"),
    "duplicate_id": ("mã phiếu trùng", "duplicate respondent id"),
    "missing_commune": ("thiếu xã/phường", "missing commune"),
    "unknown_commune": ("xã/phường không xác định", "unknown commune"),
    "ambiguous_commune": ("tên xã/phường không rõ (trùng tên)", "ambiguous commune name"),
    "commune_outside_vintage": (
        "xã/phường không thuộc danh mục địa giới của đợt",
        "commune outside the wave's boundary vintage",
    ),
    "missing_weight": ("thiếu trọng số", "missing weight"),
    "invalid_weight": ("trọng số không phải số", "weight is not a number"),
    "nonpositive_weight": ("trọng số không dương (≤ 0)", "non-positive weight (≤ 0)"),
    "nonfinite_weight": (
        "trọng số không hữu hạn (inf/nan)",
        "weight is not finite (inf or nan)",
    ),
    "missing_stratum": ("thiếu tầng", "missing stratum"),
    "missing_psu": ("thiếu mã đơn vị mẫu (PSU)", "missing PSU"),
    "invalid_fpc": ("hệ số hiệu chỉnh tổng thể (fpc) không hợp lệ", "invalid fpc"),
    "invalid_code": ("mã trả lời không hợp lệ", "answer code outside the valid codes"),
    "filter_violation": (
        "trả lời câu không áp dụng (câu lọc: chưa sử dụng dịch vụ)",
        "answered an item its filter question rules out",
    ),
    "psu_crosses_strata": ("PSU nằm ở nhiều tầng", "PSU found in several strata"),
}


def _rows_text(rows: Sequence[int], limit: int = 30) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" … (+{len(rows) - limit})" if len(rows) > limit else "")


def _values_text(values: Sequence[object], limit: int = 15) -> str:
    shown = ", ".join(repr(v) if isinstance(v, str) else str(v) for v in values[:limit])
    return shown + (f" … (+{len(values) - limit})" if len(values) > limit else "")


@dataclass
class _Problem:
    severity: str
    check: str
    column: str | None
    positions: np.ndarray | None
    rows: tuple[int, ...]
    values: tuple[str, ...]
    text_vi: str
    text_en: str
    count: int


class ProblemLog:
    """Collects problems and excluded rows while a wave is checked.

    Parameters
    ----------
    file : str
        The data file's name, as shown in messages.
    source_row : ndarray of int
        Row number in the source file of each data row (by position).
    header_row : int or None
        Row number of the header (1 for csv/xlsx; None for sav/dta), used for column problems.
    """

    def __init__(self, file: str, source_row: np.ndarray, header_row: int | None = 1) -> None:
        self.file = file
        self.source_row = np.asarray(source_row, dtype="int64")
        self.header_row = header_row
        self._problems: list[_Problem] = []
        self._excluded: list[tuple[np.ndarray, str]] = []

    # -- recording ---------------------------------------------------------------------------

    def add(
        self,
        severity: str,
        check: str,
        column: str | None,
        text_vi: str,
        text_en: str,
        *,
        positions: Iterable[int] | np.ndarray | None = None,
        rows: Sequence[int] | None = None,
        values: Iterable[object] = (),
        exclude: bool = False,
        count: int | None = None,
    ) -> None:
        """Record one problem; ``exclude=True`` (errors only) moves its rows to the exclusions."""
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        pos = (
            None
            if positions is None
            else np.asarray(
                list(positions) if not isinstance(positions, np.ndarray) else positions,
                dtype="int64",
            )
        )
        if pos is not None:
            rows_t = tuple(int(r) for r in self.source_row[pos])
        else:
            rows_t = tuple(int(r) for r in (rows or ()))
        vals = tuple(mask_personal(str(v)) for v in values)
        text_vi, text_en = mask_personal(text_vi), mask_personal(text_en)
        if count is None:
            count = len(rows_t) if rows_t else max(len(vals), 1)
        self._problems.append(
            _Problem(severity, check, column, pos, rows_t, vals, text_vi, text_en, int(count))
        )
        if exclude:
            if severity != "error" or pos is None:
                raise ValueError("only errors with row positions exclude rows")
            self._excluded.append((pos, check))

    def exclude(self, positions: np.ndarray, check: str) -> None:
        """Exclude rows (by position) for a check already recorded as an error."""
        self._excluded.append((np.asarray(positions, dtype="int64"), check))

    def excluded_mask(self, n: int) -> np.ndarray:
        """Boolean mask (by position) of the rows excluded so far."""
        mask = np.zeros(n, dtype=bool)
        for pos, _ in self._excluded:
            mask[pos] = True
        return mask

    # -- results -----------------------------------------------------------------------------

    def problems_frame(self) -> pd.DataFrame:
        """The tidy problem list: one row per problem, errors first.

        Returns
        -------
        pandas.DataFrame
            ``severity, check, file, column, rows (tuple of source row numbers), values (tuple of
            str), message_vi, message_en, count``.
        """
        records = []
        for p in self._problems:
            where_vi, where_en = [], []
            if p.column:
                where_vi.append(f"cột «{p.column}»")
                where_en.append(f"column '{p.column}'")
            if p.rows:
                where_vi.append(f"dòng {_rows_text(p.rows)}")
                where_en.append(f"rows {_rows_text(p.rows)}")
            vi = f"{self.file} — {', '.join(where_vi)}: " if where_vi else f"{self.file}: "
            en = f"{self.file} — {', '.join(where_en)}: " if where_en else f"{self.file}: "
            vi, en = vi + p.text_vi, en + p.text_en
            if p.values:
                vi += f" Giá trị: {_values_text(p.values)}."
                en += f" Values: {_values_text(p.values)}."
            records.append(
                {
                    "severity": p.severity,
                    "check": p.check,
                    "file": self.file,
                    "column": p.column,
                    "rows": p.rows,
                    "values": p.values,
                    "message_vi": vi,
                    "message_en": en,
                    "count": p.count,
                }
            )
        frame = pd.DataFrame(records, columns=list(PROBLEM_COLUMNS))
        frame["count"] = frame["count"].astype("int64")
        rank = frame["severity"].map({s: i for i, s in enumerate(SEVERITIES)})
        order = np.argsort(rank.to_numpy(), kind="stable")
        return frame.iloc[order].reset_index(drop=True)

    def exclusions_frame(self, respondent_id: pd.Series) -> pd.DataFrame:
        """Excluded rows with their reasons.

        Returns
        -------
        pandas.DataFrame
            ``source_row, respondent_id, checks, reason_vi, reason_en``, one row per excluded row,
            in source order; several reasons are joined with "; ".
        """
        cols = ["source_row", "respondent_id", "checks", "reason_vi", "reason_en"]
        if not self._excluded:
            return pd.DataFrame(
                {c: pd.Series(dtype="int64" if c == "source_row" else object) for c in cols}
            )
        parts = [pd.DataFrame({"pos": pos, "check": check}) for pos, check in self._excluded]
        long = pd.concat(parts, ignore_index=True).drop_duplicates()
        long["reason_vi"] = long["check"].map(lambda c: REASONS.get(c, (c, c))[0])
        long["reason_en"] = long["check"].map(lambda c: REASONS.get(c, (c, c))[1])
        grouped = long.groupby("pos", sort=True).agg(
            checks=("check", "; ".join),
            reason_vi=("reason_vi", "; ".join),
            reason_en=("reason_en", "; ".join),
        )
        pos = grouped.index.to_numpy()
        ids = respondent_id.reset_index(drop=True)
        return pd.DataFrame(
            {
                "source_row": self.source_row[pos].astype("int64"),
                "respondent_id": ids.iloc[pos].astype(object).to_numpy(),
                "checks": grouped["checks"].to_numpy(),
                "reason_vi": grouped["reason_vi"].to_numpy(),
                "reason_en": grouped["reason_en"].to_numpy(),
            }
        )


def _positions(mask: pd.Series | np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def _distinct(values: pd.Series) -> list[str]:
    return sorted({str(v) for v in values.dropna()}, key=lambda v: (len(v), v))


def _by_value(values: pd.Series, mask: pd.Series | np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Positions grouped by distinct (text) value, for rows in ``mask``."""
    pos = _positions(mask)
    if not len(pos):
        return []
    sub = pd.Series(values.to_numpy()[pos]).astype(object).where(lambda s: s.notna(), "")
    groups = pd.Series(pos).groupby(sub.astype(str).to_numpy(), sort=True)
    return [(str(k), g.to_numpy()) for k, g in groups]


# ---------------------------------------------------------------------------------------------
# The checks (called by sipas_analysis.waves.read_wave)
# ---------------------------------------------------------------------------------------------


def check_personal_dropped(log: ProblemLog, headers: list[str]) -> None:
    """Info: personal columns dropped at load (headers only, never values)."""
    if headers:
        log.add(
            "info",
            "personal_columns_dropped",
            None,
            f"đã bỏ {len(headers)} cột thông tin cá nhân khi đọc (không đưa vào bất kỳ kết quả "
            "nào).",
            f"{len(headers)} personal column(s) dropped at load (never output).",
            values=headers,
            count=len(headers),
        )


def check_blank_rows(log: ProblemLog, rows: list[int]) -> None:
    """Info: blank lines skipped (not respondents, not counted as rows read)."""
    if rows:
        log.add(
            "info",
            "blank_rows",
            None,
            "dòng trống bị bỏ qua (không tính là phiếu).",
            "blank rows skipped (not counted as respondents).",
            rows=rows,
        )


def check_columns(
    log: ProblemLog,
    missing: dict[str, str],
    duplicated: dict[str, str],
    extra: list[str],
    n_unnamed: int,
    absent_personal: list[str],
    *,
    suggestions: dict[str, list[str]] | None = None,
    lenient: dict[str, tuple[str, str]] | None = None,
) -> None:
    """Missing mapped columns (error, with the nearest headers of the file), duplicated mapped
    headers (error), extra columns (warning), columns found by a lenient rule (info)."""
    header = [log.header_row] if log.header_row else None
    suggestions = suggestions or {}
    for key, col in missing.items():
        near = suggestions.get(key) or []
        hint_vi = " Có phải: " + "; ".join(f"«{h}»" for h in near) + " ?" if near else ""
        hint_en = (" Did you mean: " + "; ".join(f"'{h}'" for h in near) + "?") if near else ""
        log.add(
            "error",
            "missing_column",
            col,
            f"thiếu cột này trong tệp (cấu hình: {key}); kiểm tra tiêu đề cột.{hint_vi}",
            f"this column is missing from the file (config key {key}); check the header.{hint_en}",
            rows=header,
            count=1,
        )
    for key, (found, how) in (lenient or {}).items():
        log.add(
            "info",
            "column_matched",
            found,
            f"cột của cấu hình {key} được nhận theo {how.split(' / ')[0]}.",
            f"config key {key} matched this column by {how.split(' / ')[-1]}.",
            rows=header,
            count=1,
        )
    for key, col in duplicated.items():
        log.add(
            "error",
            "duplicate_column",
            col,
            f"tiêu đề cột xuất hiện nhiều lần (cấu hình: {key}); đã dùng cột đầu tiên.",
            f"header appears more than once (config key {key}); the first one was used.",
            rows=header,
            count=1,
        )
    for col in extra:
        log.add(
            "warning",
            "extra_column",
            col,
            "cột không có trong cấu hình của đợt khảo sát: bị bỏ qua.",
            "column not in the wave config: ignored.",
            rows=header,
            count=1,
        )
    if n_unnamed:
        log.add(
            "warning",
            "extra_column",
            None,
            f"{n_unnamed} cột có dữ liệu nhưng không có tiêu đề: bị bỏ qua.",
            f"{n_unnamed} column(s) with data but no header: ignored.",
            rows=header,
            count=n_unnamed,
        )
    if absent_personal:
        log.add(
            "info",
            "personal_columns_absent",
            None,
            "các cột cá nhân khai trong cấu hình không có trong tệp.",
            "personal columns named in the config are not in the file.",
            values=absent_personal,
            count=len(absent_personal),
        )


def check_ids(log: ProblemLog, ids: pd.Series, column: str, present: bool) -> None:
    """Missing ids and duplicate ids (first occurrence kept, later ones excluded)."""
    if not present:
        return
    missing = ids.isna().to_numpy()
    if missing.any():
        log.add(
            "error",
            "missing_id",
            column,
            "thiếu mã phiếu: dòng bị loại.",
            "missing respondent id: rows excluded.",
            positions=_positions(missing),
            exclude=True,
        )
    dup_all = ids.duplicated(keep=False).to_numpy() & ~missing
    if dup_all.any():
        later = ids.duplicated(keep="first").to_numpy() & ~missing
        for value, pos in _by_value(ids, dup_all):
            drop = pos[later[pos]]
            log.add(
                "error",
                "duplicate_id",
                column,
                f"mã phiếu trùng ({len(pos)} dòng): giữ dòng đầu, loại các dòng sau.",
                f"duplicate respondent id ({len(pos)} rows): first row kept, later rows excluded.",
                positions=pos,
                values=[value],
                count=len(drop),
            )
            log.exclude(drop, "duplicate_id")


def check_ids_from_rows(log: ProblemLog) -> None:
    """Info: ``columns.respondent_id: null``, ids are the source row numbers, no duplicate check."""
    log.add(
        "info",
        "ids_from_rows",
        None,
        "không có cột mã phiếu (respondent_id: null): mã phiếu là số dòng trong tệp; không kiểm "
        "tra phiếu trùng.",
        "no respondent id column (respondent_id: null): the id is the row number in the file; "
        "duplicate ids are not checked.",
    )


def check_communes(
    log: ProblemLog,
    status: pd.Series,
    values: pd.Series,
    column: str,
    vintage: str,
    other: str,
    table: pd.DataFrame | None,
) -> None:
    """Missing / unknown / ambiguous communes and communes of the other vintage (errors)."""
    texts = {
        "missing": (
            "missing_commune",
            "thiếu xã/phường: dòng bị loại.",
            "missing commune: rows excluded.",
        ),
        "unknown": (
            "unknown_commune",
            f"xã/phường không có trong danh mục {vintage} của 4 địa bàn khảo sát: dòng bị loại.",
            f"commune not found among the {vintage} communes of the survey areas: rows excluded.",
        ),
        "ambiguous": (
            "ambiguous_commune",
            "tên xã/phường trùng với nhiều đơn vị (ghi rõ loại: Phường/Xã/Thị trấn, hoặc dùng "
            "mã GSO): dòng bị loại.",
            "commune name matches several communes (write the type or use the GSO code): rows "
            "excluded.",
        ),
        "outside_vintage": (
            "commune_outside_vintage",
            f"xã/phường thuộc danh mục địa giới {other}, không phải {vintage} của đợt khảo sát "
            "này: dòng bị loại.",
            f"commune belongs to the {other} boundaries, not the wave's {vintage} boundaries: "
            "rows excluded.",
        ),
    }
    for state, (check, vi, en) in texts.items():
        mask = (status == state).to_numpy()
        if not mask.any():
            continue
        if state == "missing":
            log.add("error", check, column, vi, en, positions=_positions(mask), exclude=True)
            continue
        for value, pos in _by_value(values, mask):
            log.add("error", check, column, vi, en, positions=pos, values=[value], exclude=True)
    if table is not None:
        ok = (status == "ok").to_numpy()
        # Names resolved although written differently from the official name (info).
        from sipas_analysis.geography import normalize_name  # noqa: PLC0415

        pos = _positions(ok)
        if len(pos):
            frame = pd.DataFrame({"raw": values.to_numpy()[pos], "pos": pos})
            uniq = frame["raw"].drop_duplicates()
            official = set(table["commune_name"])
            odd = [v for v in uniq if v not in official]
            if odd:
                sub = frame[frame["raw"].isin(odd)]
                normal = [f"{v} → {normalize_name(v)}" for v in sorted(odd)]
                log.add(
                    "info",
                    "commune_spelling",
                    column,
                    "tên xã/phường viết khác tên chính thức (đã nhận diện, ví dụ Hoà/Hòa, chữ "
                    "thường, thiếu tiền tố).",
                    "commune names written differently from the official name (resolved, e.g. "
                    "Hoà/Hòa, case, missing prefix).",
                    positions=sub["pos"].to_numpy(),
                    values=normal,
                )


def check_name_code_mismatch(
    log: ProblemLog, codes: pd.Series, name_codes: pd.Series, names: pd.Series, column: str
) -> None:
    """Warning: a commune name that resolves to another commune than the code column says."""
    mask = (codes.notna() & name_codes.notna() & (codes != name_codes)).fillna(False).to_numpy()
    if mask.any():
        log.add(
            "warning",
            "commune_name_code_mismatch",
            column,
            "tên xã/phường không khớp với mã xã (đã dùng mã).",
            "commune name does not match the commune code column (the code was used).",
            positions=_positions(mask),
            values=_distinct(names[mask]),
        )


def check_abolished(log, codes: pd.Series, table: pd.DataFrame, cfg, column: str, names) -> None:
    """Warning: a commune abolished before the wave's fieldwork started (e.g. Phường 2, Tân An)."""
    if "status" not in table or cfg.fieldwork_start is None:
        return
    gone = table[table["status"] == "abolished"]
    for code, note in zip(gone.index, gone.get("status_note", gone["status"]), strict=True):
        m = re.search(r"(\d{4}-\d{2}-\d{2})", str(note))
        if not m or dt.date.fromisoformat(m.group(1)) > cfg.fieldwork_start:
            continue
        mask = (codes == code).fillna(False).to_numpy()
        if mask.any():
            log.add(
                "warning",
                "commune_abolished",
                column,
                f"xã/phường {table.loc[code, 'commune_name']} ({code}) đã giải thể từ "
                f"{m.group(1)}, trước đợt khảo sát.",
                f"commune {table.loc[code, 'commune_name']} ({code}) was abolished on "
                f"{m.group(1)}, before fieldwork.",
                positions=_positions(mask),
            )


def check_missing_value(log: ProblemLog, series: pd.Series, column: str, check: str) -> None:
    """Error: a design variable (stratum, PSU) is blank: rows excluded."""
    mask = series.isna().to_numpy()
    if mask.any():
        vi, en = REASONS[check]
        log.add(
            "error",
            check,
            column,
            f"{vi}: dòng bị loại.",
            f"{en}: rows excluded.",
            positions=_positions(mask),
            exclude=True,
        )


def check_weights(
    log: ProblemLog, weight: pd.Series, bad: pd.Series, text: pd.Series, column: str
) -> None:
    """Errors: missing, non-numeric, non-finite (inf, nan) and non-positive weights: rows excluded.

    A text cell such as "inf" or "nan" reads as a number that is not finite: it is reported as
    ``nonfinite_weight``, apart from zero and negative weights (``nonpositive_weight``).
    """
    missing = text.isna().to_numpy()
    bad = bad.to_numpy()
    values = weight.to_numpy(dtype="float64", na_value=np.nan)
    nonfinite = ~missing & ~bad & ~np.isfinite(values)
    nonpos = ~missing & ~bad & ~nonfinite & (np.nan_to_num(values, nan=1.0) <= 0)
    for check, mask in (
        ("missing_weight", missing),
        ("invalid_weight", bad),
        ("nonfinite_weight", nonfinite),
        ("nonpositive_weight", nonpos),
    ):
        if mask.any():
            vi, en = REASONS[check]
            log.add(
                "error",
                check,
                column,
                f"{vi}: dòng bị loại.",
                f"{en}: rows excluded.",
                positions=_positions(mask),
                values=_distinct(text[mask]),
                exclude=True,
            )


def check_fpc(
    log: ProblemLog, fpc: pd.Series, bad: pd.Series, text: pd.Series, column: str
) -> None:
    """Error: fpc missing, not a number or not positive: rows excluded."""
    mask = (text.isna() | bad | ~(fpc > 0)).fillna(True).to_numpy()
    if mask.any():
        log.add(
            "error",
            "invalid_fpc",
            column,
            "hệ số hiệu chỉnh tổng thể (fpc) trống, không phải số hoặc không dương: dòng bị loại.",
            "finite population correction blank, not a number or not positive: rows excluded.",
            positions=_positions(mask),
            values=_distinct(text[mask]),
            exclude=True,
        )


def check_demographic(
    log: ProblemLog, column: str, bad: pd.Series, text: pd.Series, valid: str
) -> None:
    """Warning: a demographic value outside its codes (set to NA, row kept)."""
    mask = bad.to_numpy()
    if mask.any():
        log.add(
            "warning",
            "invalid_demographic",
            column,
            f"giá trị ngoài mã hợp lệ ({valid}): để trống, dòng vẫn giữ.",
            f"value outside the valid codes ({valid}): set to missing, row kept.",
            positions=_positions(mask),
            values=_distinct(text[mask]),
        )


def check_item_codes(
    log: ProblemLog,
    item: str,
    column: str,
    series: pd.Series,
    valid: tuple,
    missing: tuple[int, ...],
    scale: tuple[float | None, float | None] = (None, None),
    continuous: bool = False,
) -> tuple[pd.Series, dict[str, int]]:
    """Answer codes of one item: invalid codes (error, rows excluded); missing codes -> NA (info).

    Parameters
    ----------
    log : ProblemLog
    item, column : str
        Item code and its source header.
    series : Series
        The column as read.
    valid : tuple
        Valid answer codes (empty: any integer inside ``scale``).
    missing : tuple of int
        Codes meaning "don't know / no answer": recoded to NA and counted.
    scale : (float, float)
        Natural scale [a, b] (used when ``valid`` is empty).
    continuous : bool
        A measured amount: any number is valid; outside ``scale`` is a warning (row kept).

    Returns
    -------
    (Series, dict)
        The answers (Int64; Float64 for a continuous item; NA for blanks, missing codes and
        invalid codes) and the counts of missing codes and blanks, ``{"98": n, "blank": k}``.
    """
    values, notnum_s = to_number(series.reset_index(drop=True))
    notnum = notnum_s.to_numpy()
    arr = values.to_numpy()
    blank = np.isnan(arr) & ~notnum
    is_missing = (
        np.isin(arr, np.asarray(missing, dtype="float64"))
        if missing
        else np.zeros(len(arr), dtype=bool)
    )
    integral = np.isfinite(arr) & (arr == np.round(arr))
    if valid:
        in_valid = np.isin(arr, np.asarray(valid, dtype="float64"))
    else:
        lo, hi = scale
        in_valid = np.isfinite(arr)
        if lo is not None and not pd.isna(lo):
            in_valid &= arr >= float(lo)
        if hi is not None and not pd.isna(hi):
            in_valid &= arr <= float(hi)
        if continuous:
            outside = np.isfinite(arr) & ~in_valid & ~is_missing
            if outside.any():
                log.add(
                    "warning",
                    "outside_scale",
                    column,
                    f"câu {item}: giá trị ngoài thang đo tự nhiên {scale[0]:g}–{scale[1]:g} "
                    "(giữ nguyên, cần kiểm tra).",
                    f"item {item}: values outside the natural scale {scale[0]:g}–{scale[1]:g} "
                    "(kept; please check).",
                    positions=_positions(outside),
                    values=_distinct(to_text(pd.Series(arr[outside]))),
                )
            in_valid = np.isfinite(arr)
        else:
            in_valid &= integral
    invalid = notnum | (~blank & ~is_missing & ~in_valid)
    if invalid.any():
        raw = series.reset_index(drop=True)[invalid]
        shown = to_text(raw)
        valid_txt = ", ".join(str(v) for v in valid) if valid else f"{scale[0]:g}–{scale[1]:g}"
        log.add(
            "error",
            "invalid_code",
            column,
            f"mã trả lời ngoài các mã hợp lệ ({valid_txt}; thiếu: "
            f"{', '.join(str(m) for m in missing) or '—'}) của câu {item}: dòng bị loại.",
            f"answer codes outside the valid codes ({valid_txt}; missing: "
            f"{', '.join(str(m) for m in missing) or '-'}) of item {item}: rows excluded.",
            positions=_positions(invalid),
            values=_distinct(shown),
            exclude=True,
        )
    counts: dict[str, int] = {}
    if is_missing.any():
        codes, freq = np.unique(arr[is_missing], return_counts=True)
        counts.update({str(int(c)): int(k) for c, k in zip(codes, freq, strict=True)})
        detail = ", ".join(f"{c}: {k}" for c, k in counts.items())
        log.add(
            "info",
            "missing_code",
            column,
            f"câu {item}: mã không biết / không trả lời đã chuyển thành trống ({detail}).",
            f"item {item}: don't know / no answer codes recoded to missing ({detail}).",
            positions=_positions(is_missing),
            values=list(counts),
            count=int(is_missing.sum()),
        )
    if blank.any():
        counts["blank"] = int(blank.sum())
    good = ~blank & ~is_missing & ~invalid
    out = pd.Series(pd.array(np.where(good, arr, np.nan), dtype="Float64"))
    if not continuous:
        out = out.round().astype("Int64")
    return out, counts


def check_unmapped_items(log: ProblemLog, items: list[str], instrument: str) -> None:
    """Info: instrument items the wave config does not map (their columns are all NA)."""
    if items:
        log.add(
            "info",
            "unmapped_items",
            None,
            f"{len(items)} câu của bộ công cụ {instrument} không có trong tệp cấu hình (để trống).",
            f"{len(items)} item(s) of instrument {instrument} not mapped by the config (left NA).",
            values=items,
            count=len(items),
        )


def check_filters(
    log: ProblemLog, items: pd.DataFrame, answers: dict[str, pd.Series], headers: dict[str, str]
) -> None:
    """Error: an item answered although its filter question says it does not apply.

    Notes
    -----
    An item with ``filter_item = f`` and ``filter_values = V`` applies when the answer to ``f`` is
    in ``V``. A valid answer to the item while ``f`` has a valid answer outside ``V`` is a
    violation (the record contradicts itself): the row is excluded. A missing filter answer is not
    a violation.
    """
    if "filter_item" not in items:
        return
    by_filter: dict[tuple[str, tuple], list[str]] = {}
    for row in items.itertuples(index=False):
        f = getattr(row, "filter_item", None)
        if f is None or (isinstance(f, float) and np.isnan(f)) or row.code not in headers:
            continue
        if str(f) not in headers:
            continue
        by_filter.setdefault((str(f), tuple(row.filter_values or ())), []).append(str(row.code))
    for (f, values), codes in by_filter.items():
        fval = answers[f]
        not_applies = (fval.notna() & ~fval.isin(list(values))).fillna(False).to_numpy()
        if not not_applies.any():
            continue
        for code in codes:
            mask = not_applies & answers[code].notna().to_numpy()
            if mask.any():
                log.add(
                    "error",
                    "filter_violation",
                    headers[code],
                    f"câu {code} có trả lời dù câu lọc «{headers[f]}» ({f}) cho biết không áp "
                    f"dụng (chỉ hỏi khi {f} ∈ {list(values)}): dòng bị loại.",
                    f"item {code} answered although the filter question '{headers[f]}' ({f}) "
                    f"rules it out (asked only if {f} in {list(values)}): rows excluded.",
                    positions=_positions(mask),
                    values=[f"{f}={v}" for v in _distinct(fval[mask].astype(str))],
                    exclude=True,
                )


def check_design(
    log: ProblemLog,
    stratum: pd.Series,
    psu: pd.Series,
    strata_column: str,
    psu_column: str,
    has_strata: bool,
) -> None:
    """PSUs in several strata (error, minority rows excluded), empty strata (error), strata with
    a single PSU (warning).

    Notes
    -----
    A PSU found in several strata is assigned to the stratum holding most of its rows (ties: the
    stratum of its first row); its rows in other strata are excluded. A stratum present in the file
    whose rows are all excluded is empty: the design cannot represent it (error).
    """
    n = len(stratum)
    before = log.excluded_mask(n)
    frame = pd.DataFrame({"s": stratum.to_numpy(), "p": psu.to_numpy(), "pos": np.arange(n)})
    usable = frame[~before & frame["s"].notna().to_numpy() & frame["p"].notna().to_numpy()]
    if has_strata and len(usable):
        nstrata = usable.groupby("p")["s"].nunique()
        crossing = nstrata[nstrata > 1].index
        if len(crossing):
            sub = usable[usable["p"].isin(crossing)]
            counts = sub.groupby(["p", "s"], sort=False).agg(
                k=("pos", "size"), first=("pos", "min")
            )
            counts = counts.reset_index().sort_values(
                ["p", "k", "first"], ascending=[True, False, True]
            )
            main = counts.drop_duplicates("p").set_index("p")["s"]
            for p, group in sub.groupby("p", sort=True):
                strata = sorted(group["s"].astype(str).unique())
                wrong = group.loc[group["s"] != main[p], "pos"].to_numpy()
                log.add(
                    "error",
                    "psu_crosses_strata",
                    psu_column,
                    f"PSU {p} nằm ở nhiều tầng ({', '.join(strata)}; cột tầng «{strata_column}»): "
                    f"giữ tầng {main[p]}, loại các dòng ở tầng khác.",
                    f"PSU {p} appears in several strata ({', '.join(strata)}; strata column "
                    f"'{strata_column}'): kept stratum {main[p]}, rows in other strata excluded.",
                    positions=group["pos"].to_numpy(),
                    values=[f"{p}: {s}" for s in strata],
                    count=len(wrong),
                )
                log.exclude(wrong, "psu_crosses_strata")
    after = log.excluded_mask(n)
    seen = frame[frame["s"].notna()]
    kept = frame[~after & frame["s"].notna().to_numpy()]
    if has_strata:
        empty = sorted(set(seen["s"]) - set(kept["s"]), key=str)
        for s in empty:
            pos = seen.loc[seen["s"] == s, "pos"].to_numpy()
            log.add(
                "error",
                "empty_stratum",
                strata_column,
                f"tầng {s} không còn phiếu hợp lệ nào (mọi dòng của tầng bị loại): không ước "
                "lượng được cho tầng này.",
                f"stratum {s} has no valid respondent left (all its rows were excluded): it "
                "cannot be estimated.",
                positions=pos,
                values=[s],
                count=1,
            )
    if has_strata and len(kept):
        npsu = kept[kept["p"].notna()].groupby("s")["p"].nunique()
        for s in npsu[npsu == 1].index:
            pos = kept.loc[kept["s"] == s, "pos"].to_numpy()
            log.add(
                "warning",
                "singleton_stratum",
                strata_column,
                f"tầng {s} chỉ có 1 PSU: phương sai cần quy tắc riêng (lonely PSU).",
                f"stratum {s} has a single PSU: variance needs a lonely-PSU rule.",
                positions=pos,
                values=[s],
                count=1,
            )


def check_vintage_dates(log: ProblemLog, cfg) -> None:
    """Warning: fieldwork dates that do not fit the boundary vintage (change on 2025-07-01)."""
    change = dt.date(2025, 7, 1)
    start, end = cfg.fieldwork_start, cfg.fieldwork_end
    if cfg.boundary_vintage == "pre2025" and start and start >= change:
        log.add(
            "warning",
            "vintage_dates",
            None,
            f"đợt khảo sát bắt đầu {start} (sau 01/07/2025) nhưng dùng địa giới pre2025.",
            f"fieldwork starts {start} (after 2025-07-01) but the wave uses pre2025 boundaries.",
        )
    if cfg.boundary_vintage == "2025" and end and end < change:
        log.add(
            "warning",
            "vintage_dates",
            None,
            f"đợt khảo sát kết thúc {end} (trước 01/07/2025) nhưng dùng địa giới 2025.",
            f"fieldwork ends {end} (before 2025-07-01) but the wave uses 2025 boundaries.",
        )


# ---------------------------------------------------------------------------------------------
# Reading, design and file-level checks (errors here exclude no rows: they stop `sipas run`)
# ---------------------------------------------------------------------------------------------

#: The checks whose errors exclude the rows concerned (row-level); every other error is about the
#: file or the design as a whole and stops ``sipas run`` (see :func:`blocking_errors`).
ROW_CHECKS = frozenset(REASONS)


def blocking_errors(problems: pd.DataFrame) -> pd.DataFrame:
    """The errors that stop ``sipas run``: file- and design-level errors.

    Parameters
    ----------
    problems : DataFrame
        A problem list (:meth:`ProblemLog.problems_frame`).

    Returns
    -------
    DataFrame
        The rows of ``problems`` with severity ``error`` whose check is not a row-level check
        (:data:`ROW_CHECKS`: rows with such errors are excluded and the rest of the wave is
        usable). A missing column, a missing weight column, a file of the other boundary
        vintage, absurd weights, too few respondents, an item nobody answered, a reversed answer
        scale, an empty stratum: the wave cannot be estimated as it is.
    """
    mask = (problems["severity"] == "error") & ~problems["check"].isin(ROW_CHECKS)
    return problems[mask]


def check_rows_above_header(
    log: ProblemLog, rows: list[int], header_row: int | None, sheet: str | None
) -> None:
    """Info: title or blank rows above the header row (skipped, not respondents)."""
    where_vi = f" (trang tính «{sheet}»)" if sheet else ""
    where_en = f" (sheet '{sheet}')" if sheet else ""
    if rows:
        log.add(
            "info",
            "rows_above_header",
            None,
            f"dòng tiêu đề cột là dòng {header_row}{where_vi}; các dòng phía trên (tiêu đề "
            "bảng, dòng trống) bị bỏ qua, không tính là phiếu.",
            f"the column header is row {header_row}{where_en}; the rows above it (title, blank "
            "rows) are skipped, not counted as respondents.",
            rows=rows,
        )


def check_label_spellings(log: ProblemLog, column: str, merged: dict[str, list[str]]) -> None:
    """Info: PSU labels written in several ways (case, spacing, tone marks) taken as one."""
    shown = [f"{k!r} ← " + ", ".join(repr(v) for v in vs if v != k) for k, vs in merged.items()]
    log.add(
        "info",
        "psu_label_spelling",
        column,
        f"{len(merged)} mã PSU được viết nhiều cách (chữ hoa/thường, dấu): gộp thành một "
        f"(ví dụ {shown[0]}).",
        f"{len(merged)} PSU label(s) written in several ways (case, spacing, tone marks): taken "
        f"as one (e.g. {shown[0]}).",
        values=shown,
        count=len(merged),
    )


def check_derived_strata(log: ProblemLog, how: str) -> None:
    """Info: strata derived from the commune's area or the commune (``design.strata: area``)."""
    vi = "khu vực (huyện cũ)" if how == "area" else "xã/phường"
    en = "area (old district)" if how == "area" else "commune"
    log.add(
        "info",
        "strata_derived",
        None,
        f"tầng lấy theo {vi} của mỗi phiếu (design.strata: {how}).",
        f"strata derived from each respondent's {en} (design.strata: {how}).",
    )


def check_psu_communes(
    log: ProblemLog, psu: pd.Series, commune: pd.Series, column: str, nest: bool
) -> pd.Series:
    """PSU labels found in several communes: nested within commune (info) or a warning.

    Field files often number villages within their commune ("Ấp 1", "Ấp 2" in every commune).
    Taken as they are, such labels pool the villages of all communes into a handful of PSUs.
    With ``nest`` (``design.nest_psu: true``, the default) a recurring label is made unique within
    its commune, as R's ``svydesign(nest=TRUE)`` does within strata; without it each PSU found in
    several communes is a warning.

    Returns
    -------
    Series
        The PSU labels, ``"<commune code>:<label>"`` when nested.
    """
    frame = pd.DataFrame({"p": psu.to_numpy(), "c": commune.to_numpy()}).dropna()
    if frame.empty:
        return psu
    spans = frame.groupby("p")["c"].nunique()
    recurring = spans[spans > 1]
    if recurring.empty:
        return psu
    shown = [f"{p} ({k} xã / communes)" for p, k in recurring.sort_values(ascending=False).items()]
    mask = psu.isin(recurring.index).to_numpy() & commune.notna().to_numpy()
    if nest:
        log.add(
            "info",
            "psu_nested_in_commune",
            column,
            f"{len(recurring)} mã PSU lặp lại ở nhiều xã (ví dụ «{recurring.index[0]}»): mỗi "
            "xã có PSU riêng (lồng PSU trong xã, như nest=TRUE của R).",
            f"{len(recurring)} PSU label(s) recur in several communes (e.g. "
            f"'{recurring.index[0]}'): made unique within commune (PSUs nested in communes, as "
            "R's nest=TRUE).",
            values=shown,
            count=len(recurring),
        )
        code = commune.astype(object).where(commune.notna(), None).map(str)
        return pd.Series(
            np.where(psu.notna(), code + ":" + psu.astype(str), None),
            index=psu.index,
            dtype=object,
        )
    log.add(
        "warning",
        "psu_spans_communes",
        column,
        f"{len(recurring)} PSU nằm ở nhiều xã (design.nest_psu: false): các ấp cùng tên ở các xã "
        "khác nhau bị gộp thành một PSU.",
        f"{len(recurring)} PSU(s) span several communes (design.nest_psu: false): villages of "
        "the same name in different communes are pooled into one PSU.",
        positions=_positions(mask),
        values=shown,
        count=len(recurring),
    )
    return psu


def apply_certainty(
    log: ProblemLog,
    stratum: pd.Series,
    psu: pd.Series,
    ids: pd.Series,
    units: tuple[str, ...],
    column: str,
) -> tuple[pd.Series, pd.Series]:
    """Certainty PSUs (``design.certainty``): each becomes its own stratum, its respondents the
    sampling units (a PSU taken with probability 1 adds no first-stage variance).

    Returns
    -------
    (Series, Series)
        The stratum and PSU labels with the certainty units rewritten.
    """
    stratum, psu = stratum.copy(), psu.copy()
    bare = psu.astype(str).str.split(":", n=1).str[-1]
    absent = []
    for unit in units:
        mask = ((psu.astype(str) == unit) | (bare == unit)).to_numpy() & psu.notna().to_numpy()
        if not mask.any():
            absent.append(unit)
            continue
        stratum[mask] = f"certainty {unit}"
        psu[mask] = ids[mask].astype(str).to_numpy()
    found = [u for u in units if u not in absent]
    if found:
        log.add(
            "info",
            "certainty_units",
            column,
            f"{len(found)} PSU chọn chắc chắn (design.certainty): mỗi PSU là một tầng riêng.",
            f"{len(found)} certainty PSU(s) (design.certainty): each is its own stratum.",
            values=found,
            count=len(found),
        )
    if absent:
        log.add(
            "warning",
            "certainty_units",
            column,
            "PSU chọn chắc chắn trong cấu hình không có trong tệp.",
            "certainty PSUs named in the config are not in the file.",
            values=absent,
            count=len(absent),
        )
    return stratum, psu


def check_weight_not_configured(log: ProblemLog) -> None:
    """Error: the config names no weight column and does not say ``weight: null`` on purpose."""
    log.add(
        "error",
        "weight_not_configured",
        None,
        "cấu hình không khai báo cột trọng số (design.weight): ghi tiêu đề cột trọng số, hoặc "
        "`weight: null` nếu mẫu tự gia quyền (mọi trọng số = 1).",
        "the config names no weight column (design.weight): give the weight column's header, "
        "or write `weight: null` for a self-weighting sample (every weight 1).",
    )


def check_weight_limits(
    log: ProblemLog,
    weight: pd.Series,
    text: pd.Series | None,
    column: str,
    kept: np.ndarray,
    limits: dict[str, float],
) -> None:
    """Errors: weights whose total overflows, one weight carrying too large a share of the total,
    or a max/min ratio above the limit (``checks.max_weight_share``, ``checks.max_weight_ratio``).

    Notes
    -----
    Among the kept rows with a finite positive weight :math:`w_i`: the share
    :math:`\\max_i w_i / \\sum_i w_i` must not exceed ``max_weight_share`` (default 0.10) and
    :math:`\\max_i w_i / \\min_i w_i` must not exceed ``max_weight_ratio`` (default 1000). The
    bundled waves stay below 0.01 and 50.
    """
    if text is None:
        return
    values = weight.to_numpy(dtype="float64", na_value=np.nan)
    ok = kept & np.isfinite(values) & (values > 0)
    if ok.sum() < 2:
        return
    w = values[ok]
    pos = np.flatnonzero(ok)
    shown = text.to_numpy()
    with np.errstate(over="ignore"):
        total = float(np.sum(w))
    if not np.isfinite(total):
        log.add(
            "error",
            "extreme_weight",
            column,
            "tổng trọng số vượt quá giới hạn số thực (trọng số quá lớn, ví dụ 1e308): kiểm tra "
            "cột trọng số.",
            "the weights are so large that their total overflows (e.g. 1e308): check the weight "
            "column.",
            positions=pos[np.argsort(-w)[:10]],
            values=_distinct(pd.Series(shown[pos[np.argsort(-w)[:10]]])),
            count=int(ok.sum()),
        )
        return
    share_limit = float(limits["max_weight_share"])
    ratio_limit = float(limits["max_weight_ratio"])
    share = w / total
    heavy = share > share_limit
    if heavy.any():
        log.add(
            "error",
            "extreme_weight",
            column,
            f"trọng số chiếm hơn {share_limit:.0%} tổng trọng số (lớn nhất {share.max():.1%}; "
            "giới hạn checks.max_weight_share): kiểm tra các dòng này.",
            f"weight(s) above {share_limit:.0%} of the total weight (largest "
            f"{share.max():.1%}; limit checks.max_weight_share): check these rows.",
            positions=pos[heavy],
            values=_distinct(pd.Series(shown[pos[heavy]])),
        )
    ratio = w.max() / w.min()
    if ratio > ratio_limit:
        ends = np.concatenate([np.flatnonzero(w == w.max())[:5], np.flatnonzero(w == w.min())[:5]])
        log.add(
            "error",
            "extreme_weight",
            column,
            f"tỉ số trọng số lớn nhất / nhỏ nhất là {ratio:.3g}, vượt giới hạn {ratio_limit:g} "
            "(checks.max_weight_ratio).",
            f"the largest / smallest weight ratio is {ratio:.3g}, above the limit "
            f"{ratio_limit:g} (checks.max_weight_ratio).",
            positions=pos[ends],
            values=[f"max {w.max():.6g}", f"min {w.min():.6g}"],
            count=len(ends),
        )


def check_respondent_count(log: ProblemLog, kept: int, read: int, minimum: int) -> None:
    """Error: fewer usable respondents than ``checks.min_respondents`` (default 30)."""
    if kept >= minimum:
        return
    log.add(
        "error",
        "too_few_respondents",
        None,
        f"chỉ có {kept} phiếu dùng được ({read} dòng dữ liệu đọc được), ít hơn mức tối thiểu "
        f"{minimum} (checks.min_respondents): không ước lượng được.",
        f"only {kept} usable respondent(s) ({read} data row(s) read), fewer than the minimum "
        f"{minimum} (checks.min_respondents): nothing can be estimated.",
        values=[str(kept)],
    )


def check_items_answered(
    log: ProblemLog,
    answers: dict[str, pd.Series],
    headers: dict[str, str],
    raw_text: dict[str, pd.Series],
    kept: np.ndarray,
) -> None:
    """Error: a mapped item without one valid answer among the kept rows (blank or 98/99 for
    everyone: the column is empty, or the wrong column was mapped)."""
    if not kept.any():
        return
    for code, column in headers.items():
        valid = answers[code].to_numpy(dtype="float64", na_value=np.nan)[kept]
        if np.isfinite(valid).any():
            continue
        seen = raw_text[code][kept].value_counts(dropna=False)
        values = [f"{'trống / blank' if pd.isna(v) else v}: {k}" for v, k in seen.items()]
        log.add(
            "error",
            "item_all_missing",
            column,
            f"câu {code}: không phiếu nào có câu trả lời hợp lệ (chỉ trống hoặc mã không biết / "
            "không trả lời): kiểm tra cột.",
            f"item {code}: no respondent has a valid answer (only blanks or don't know / no "
            "answer codes): check the column.",
            values=values[:10],
            count=int(kept.sum()),
        )


def check_scale_labels(
    log: ProblemLog, item: str, column: str, file_labels: dict, instrument_labels: dict
) -> None:
    """Error: the value labels of an item in an SPSS/Stata file contradict the instrument's scale.

    Notes
    -----
    For each code of the instrument's scale that the file labels too, the file's label is
    compared with the instrument's (accents, case and punctuation ignored; a close wording passes).
    The scale is *reversed or reordered* when a code carries the label the instrument gives to
    another code (1 = "Rất hài lòng"), and *relabelled* when most codes carry a label unlike the
    instrument's. Either is an error: the answers would be read the wrong way round.
    """
    import difflib

    def same(a: str, b: str) -> bool:
        return a == b or difflib.SequenceMatcher(None, a, b).ratio() >= 0.85

    inst = {int(k): fold(v) for k, v in instrument_labels.items()}
    found = {
        int(float(k)): (fold(v), v)
        for k, v in file_labels.items()
        if float(k).is_integer() and int(float(k)) in inst
    }
    if not found:
        return
    moved = [
        c
        for c, (f, _) in found.items()
        if not same(f, inst[c]) and any(same(f, inst[d]) for d in inst if d != c)
    ]
    unlike = [c for c, (f, _) in found.items() if not same(f, inst[c])]
    if not moved and len(unlike) * 2 <= len(found):
        return
    file_txt = [f"{c}={found[c][1]}" for c in sorted(found)]
    inst_txt = ", ".join(f"{c}={instrument_labels[c]}" for c in sorted(found))
    kind_vi = "bị đảo ngược / sắp xếp lại" if moved else "mang nhãn khác"
    kind_en = "reversed or reordered" if moved else "relabelled"
    log.add(
        "error",
        "scale_labels_mismatch",
        column,
        f"câu {item}: nhãn giá trị trong tệp {kind_vi} so với thang đo của bộ công cụ "
        f"({inst_txt}): kiểm tra mã hóa.",
        f"item {item}: the file's value labels are {kind_en} against the instrument's scale "
        f"({inst_txt}): check the coding.",
        values=file_txt,
        count=1,
    )


def check_optional_columns(log: ProblemLog, columns: dict[str, tuple[bool, bool]]) -> None:
    """Info: optional columns (sex, age, urban/rural) absent or without a usable value: their
    subgroups are skipped in the estimates."""
    names = {"sex": "giới tính / sex", "age_band": "tuổi / age", "urban_rural": "khu vực / urban"}
    skipped = [names[c] for c, (present, usable) in columns.items() if not (present and usable)]
    if skipped:
        log.add(
            "info",
            "subgroups_skipped",
            None,
            "không có cột hoặc không có giá trị dùng được: bỏ qua nhóm "
            f"{', '.join(s.split(' / ')[0] for s in skipped)} trong ước lượng.",
            "no column or no usable value: the subgroups by "
            f"{', '.join(s.split(' / ')[1] for s in skipped)} are skipped in the estimates.",
            values=skipped,
            count=len(skipped),
        )


def check_codes_in_both_vintages(
    log: ProblemLog,
    status: pd.Series,
    both: np.ndarray,
    values: pd.Series,
    column: str,
    vintage: str,
) -> None:
    """Warning: the file holds codes of the other vintage, and codes valid in both vintages were
    read in the config's vintage (every new commune reuses an old constituent's code)."""
    if not ((status == "outside_vintage").any() and both.any()):
        return
    log.add(
        "warning",
        "code_in_both_vintages",
        column,
        f"tệp có mã xã của địa giới khác; các mã này có trong cả hai danh mục và được hiểu theo "
        f"địa giới {vintage} của cấu hình: kiểm tra boundary_vintage.",
        f"the file holds commune codes of the other vintage; these codes exist in both vintages "
        f"and were read in the config's {vintage} boundaries: check boundary_vintage.",
        positions=_positions(both),
        values=_distinct(values[both]),
    )


#: Share of the rows with a commune that, once outside the wave's vintage, makes the whole file
#: suspect (a file of the other vintage rather than a few stray rows).
VINTAGE_SHARE = 0.2


def check_vintage_share(
    log: ProblemLog, status: pd.Series, column: str, vintage: str, other: str
) -> None:
    """Error (file-level): many rows name communes of the other boundary vintage."""
    named = (status != "missing").to_numpy()
    outside = (status == "outside_vintage").to_numpy()
    if not named.any() or outside.sum() <= VINTAGE_SHARE * named.sum():
        return
    log.add(
        "error",
        "wrong_vintage",
        column,
        f"{int(outside.sum())} / {int(named.sum())} dòng có xã/phường thuộc địa giới {other}: "
        f"tệp có vẻ thuộc địa giới {other}, không phải {vintage} (boundary_vintage của cấu "
        "hình).",
        f"{int(outside.sum())} of {int(named.sum())} rows name communes of the {other} "
        f"boundaries: the file looks like a {other} file, not {vintage} (the config's "
        "boundary_vintage).",
        values=[str(other)],
        count=int(outside.sum()),
    )


def check_design_summary(
    log: ProblemLog,
    stratum: pd.Series,
    psu: pd.Series,
    commune: pd.Series,
    kept: np.ndarray,
    has_strata: bool,
    has_psu: bool,
) -> dict:
    """The design summary of the kept rows, and a warning when the design df is below 10.

    Returns
    -------
    dict
        :func:`sipas_analysis.design.design_summary` of the kept rows (empty without rows).
    """
    from sipas_analysis.design import LOW_DF, design_summary  # noqa: PLC0415

    if not kept.any():
        return {}
    summary = design_summary(stratum[kept], psu[kept], commune[kept])
    if has_psu or has_strata:
        if summary["df"] < LOW_DF:
            log.add(
                "warning",
                "low_design_df",
                None,
                f"bậc tự do của thiết kế chỉ là {summary['df']} ({summary['n_psu']} PSU, "
                f"{summary['n_strata']} tầng; dưới {LOW_DF}): khoảng tin cậy rất rộng; kiểm tra "
                "cột PSU/tầng.",
                f"the design has only {summary['df']} degrees of freedom ({summary['n_psu']} "
                f"PSUs, {summary['n_strata']} strata; below {LOW_DF}): intervals are very wide; "
                "check the PSU and strata columns.",
                values=[str(summary["df"])],
            )
    return summary


# ---------------------------------------------------------------------------------------------
# Public API, report files, command line
# ---------------------------------------------------------------------------------------------


_EXCEL_CELL_LIMIT = 32000


def _export_frame(problems: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    out = problems.copy()

    def clip(text: str) -> str:
        if limit is None or len(text) <= limit:
            return text
        cut = text[:limit].rsplit(",", 1)[0]
        return f"{cut} … (+{text[len(cut) :].count(',')})"

    out["rows"] = [clip(", ".join(str(r) for r in rows)) for rows in out["rows"]]
    out["values"] = [clip(" | ".join(str(v) for v in vals)) for vals in out["values"]]
    out.insert(1, "severity_vi", out["severity"].map(SEVERITY_VI))
    return out


def write_report(wave, out_dir: str | Path) -> dict[str, Path]:
    """Write the problem list (.csv and .xlsx) and the exclusions of a loaded wave, atomically.

    Parameters
    ----------
    wave : LoadedWave
        The result of :func:`sipas_analysis.waves.read_wave`.
    out_dir : str or Path
        Output folder (created if needed). Files are named after the wave config.

    Returns
    -------
    dict
        ``{"csv": path, "xlsx": path, "exclusions_csv": path}``.

    Notes
    -----
    The CSV is UTF-8 with BOM (Excel shows Vietnamese correctly); ``rows`` and ``values`` are
    written as text ("12, 57", "'Xã Mỹ Yên'"). The workbook
    (:func:`sipas_analysis.report.workbook.write_problems`) has the sheets ``Đọc trước`` (what each
    sheet and column holds), ``Vấn đề`` (problems), ``Dòng bị loại`` (excluded rows with reasons),
    ``Tổng hợp`` (row accounting, weights) and ``Theo loại kiểm tra`` (counts by check); cells
    longer than Excel allows are cut with a "(+N)" note.

    Examples
    --------
    >>> write_report(read_wave("waves/sipas-2024.yaml"), "reports/validation")  # doctest: +SKIP
    """
    import contextlib

    from sipas_analysis.disclosure import safe_table

    out_dir = Path(out_dir)
    stem = wave.config.config_path.stem
    paths = {
        "csv": out_dir / f"{stem}_problems.csv",
        "xlsx": out_dir / f"{stem}_problems.xlsx",
        "exclusions_csv": out_dir / f"{stem}_exclusions.csv",
    }
    acc = wave.accounting
    summary = [
        ("Số dòng đọc / rows read", acc["rows_read"]),
        ("Số dòng giữ / rows kept", acc["rows_kept"]),
        ("Số dòng loại / rows excluded", acc["rows_excluded"]),
        ("Dòng trống bỏ qua / blank rows skipped", acc.get("blank_rows", 0)),
        *weighting_rows((getattr(wave, "design_summary", None) or {}).get("weighting")),
    ]
    cfg = wave.config
    # Every text cell is made safe to publish (personal values masked, control characters
    # escaped, formulas neutralised: sipas_analysis.disclosure); the three files are replaced
    # together, only once all of them are written.
    exclusions = safe_table(wave.exclusions)
    with contextlib.ExitStack() as stack:
        tmp = {key: stack.enter_context(atomic_path(path)) for key, path in paths.items()}
        write_csv(safe_table(_export_frame(wave.problems)), tmp["csv"])
        write_csv(exclusions, tmp["exclusions_csv"])
        workbook.write_problems(
            tmp["xlsx"],
            problems=safe_table(_export_frame(wave.problems, _EXCEL_CELL_LIMIT)),
            exclusions=exclusions,
            summary=summary,
            wave_facts=[
                ("Tệp cấu hình", cfg.config_path.name),
                ("Tệp dữ liệu", cfg.file.name),
                ("Khảo sát, đợt", f"{cfg.survey.upper()} {cfg.wave} ({cfg.instrument})"),
                ("Địa giới", workbook.label("boundary_vintage", cfg.boundary_vintage)),
            ],
        )
    return paths


def summary_text(wave, max_messages: int = 15) -> str:
    """Readable summary of a validation, with Vietnamese and English headings.

    Parameters
    ----------
    wave : LoadedWave
    max_messages : int, default 15
        Detail lines shown (at most 3 per check; infos are counted, not listed).

    Returns
    -------
    str
    """
    p = wave.problems
    acc = wave.accounting
    lines = [
        f"KIỂM TRA DỮ LIỆU / VALIDATION: {wave.config.file.name} "
        f"(đợt / wave {wave.config.wave}, {wave.config.survey}, {wave.config.instrument}, "
        f"địa giới / boundaries {wave.config.boundary_vintage})",
        "",
        "Số dòng / Row accounting",
        f"  đọc / read      {acc['rows_read']:>8}",
        f"  giữ / kept      {acc['rows_kept']:>8}",
        f"  loại / excluded {acc['rows_excluded']:>8}",
    ]
    if acc.get("blank_rows"):
        lines.append(f"  (dòng trống bỏ qua / blank rows skipped: {acc['blank_rows']})")
    lines += design_text(getattr(wave, "design_summary", None) or {})
    lines += weighting_text((getattr(wave, "design_summary", None) or {}).get("weighting"))
    lines += ["", "Theo mức độ / By severity"]
    for sev in SEVERITIES:
        k = int((p["severity"] == sev).sum())
        lines.append(f"  {SEVERITY_VI[sev] + ' / ' + sev:<22} {k:>6} vấn đề / problems")
    lines += ["", "Theo loại kiểm tra / By check (số dòng hoặc lần / rows or occurrences)"]
    if p.empty:
        lines.append("  (không có / none)")
    for (sev, check), k in p.groupby(["severity", "check"], sort=False)["count"].sum().items():
        lines.append(f"  {sev:<8} {check:<28} {int(k):>7}")
    notable = p[p["severity"] != "info"]
    top = notable.groupby("check", sort=False).head(3).head(max_messages)
    if len(top):
        lines += ["", "Chi tiết / Details"]
        for row in top.itertuples():
            lines.append(f"  [{row.severity}] {row.message_vi}")
            lines.append(f"           {row.message_en}")
        more = len(notable) - len(top)
        if more > 0:
            lines.append(f"  … +{more} (xem tệp báo cáo / see the report file)")
    return "\n".join(lines)


def weighting_rows(weighting: dict | None) -> list[tuple[str, object]]:
    """(label, value) rows of the weighting efficiency for the report's summary sheet.

    Kish efficiency :math:`E = (\\sum w)^2/(n\\sum w^2)` of the design weights and, when the
    wave is calibrated, of the calibrated weights, with the range of the g-weights
    :math:`g_i = w_i/d_i` (see :func:`sipas_analysis.weighting.weighting_summary`).
    """
    if not weighting:
        return []
    rows: list[tuple[str, object]] = [
        (
            "Hiệu quả trọng số thiết kế (Kish) / design-weight efficiency (Kish)",
            round(float(weighting["efficiency_design"]), 4),
        )
    ]
    if weighting.get("calibrated"):
        rows += [
            (
                "Hiệu chỉnh trọng số / calibration",
                f"{weighting.get('method') or ''}: {', '.join(weighting.get('margins', []))}",
            ),
            (
                "Hiệu quả trọng số sau hiệu chỉnh (Kish) / efficiency after calibration (Kish)",
                round(float(weighting["efficiency_calibrated"]), 4),
            ),
            ("Hệ số g nhỏ nhất / smallest g-weight", round(float(weighting["g_min"]), 4)),
            ("Hệ số g lớn nhất / largest g-weight", round(float(weighting["g_max"]), 4)),
        ]
    return rows


def weighting_text(weighting: dict | None) -> list[str]:
    """Lines of the weighting efficiency (before/after calibration, g-weights) for the screen."""
    if not weighting:
        return []
    lines = ["", "Trọng số / Weights"]
    lines.append(
        f"  hiệu quả Kish / Kish efficiency (thiết kế / design)      "
        f"{weighting['efficiency_design']:>7.3f}"
    )
    if weighting.get("calibrated"):
        lines.append(
            f"  hiệu quả Kish / Kish efficiency (hiệu chỉnh / calibrated) "
            f"{weighting['efficiency_calibrated']:>6.3f}"
        )
        lines.append(
            f"  hiệu chỉnh / calibration: {weighting.get('method') or ''} theo / to "
            f"{', '.join(weighting.get('margins', []))}; hệ số g / g-weights "
            f"{weighting['g_min']:.3f}–{weighting['g_max']:.3f}"
        )
    else:
        lines.append("  không hiệu chỉnh / not calibrated")
    return lines


def design_text(summary: dict) -> list[str]:
    """Lines of the design summary (strata, PSUs, PSUs per commune, design df) for the screen."""
    if not summary:
        return []
    lines = [
        "",
        "Thiết kế mẫu / Sample design (phiếu giữ lại / kept rows)",
        f"  tầng / strata            {summary['n_strata']:>8}",
        f"  PSU                      {summary['n_psu']:>8}",
    ]
    ppc = summary.get("psu_per_commune")
    if ppc:
        lines.append(
            f"  PSU mỗi xã / per commune {ppc['median']:>8g}  (min {ppc['min']}, max "
            f"{ppc['max']}; {summary['n_communes']} xã / communes)"
        )
    lines.append(f"  bậc tự do / design df    {summary['df']:>8}")
    if summary.get("singleton_strata"):
        lines.append(
            f"  tầng 1 PSU / single-PSU strata: {', '.join(summary['singleton_strata'][:10])}"
        )
    if summary.get("psu_multi_commune"):
        lines.append(
            f"  PSU ở nhiều xã / PSUs in several communes: {len(summary['psu_multi_commune'])}"
        )
    return lines
