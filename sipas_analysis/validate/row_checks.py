"""The checks of the rows and columns of a wave, called by :func:`sipas_analysis.waves.read_wave`
while it builds the canonical table: personal and blank rows, columns, ids, communes, weights,
fpc, demographics, answer codes, filters, the design variables and the fieldwork dates."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd

from sipas_analysis.coerce import to_number, to_text
from sipas_analysis.validate.problems import REASONS, ProblemLog, _by_value, _distinct, _positions

__all__ = [
    "check_abolished",
    "check_blank_rows",
    "check_columns",
    "check_communes",
    "check_demographic",
    "check_design",
    "check_filters",
    "check_fpc",
    "check_ids",
    "check_ids_from_rows",
    "check_item_codes",
    "check_missing_value",
    "check_name_code_mismatch",
    "check_personal_dropped",
    "check_unmapped_items",
    "check_vintage_dates",
    "check_weights",
]


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
