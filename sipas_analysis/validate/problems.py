"""The problem list of a wave: severities, columns, the reasons of excluded rows and
:class:`ProblemLog`, which every check writes into."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas_analysis.disclosure import mask_personal

__all__ = ["PROBLEM_COLUMNS", "ProblemLog", "REASONS", "SEVERITIES", "SEVERITY_VI"]


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
