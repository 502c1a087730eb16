"""The checks of the file and of the design as a whole (their errors exclude no rows: they stop
``sipas run``, :func:`blocking_errors`): title rows, label spellings, strata and PSUs, weights,
respondent count, unanswered items, scale labels, boundary vintage and the design summary."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas_analysis.coerce import fold
from sipas_analysis.validate.problems import REASONS, ProblemLog, _distinct, _positions

__all__ = [
    "ROW_CHECKS",
    "VINTAGE_SHARE",
    "apply_certainty",
    "blocking_errors",
    "check_codes_in_both_vintages",
    "check_derived_strata",
    "check_design_summary",
    "check_items_answered",
    "check_label_spellings",
    "check_optional_columns",
    "check_psu_communes",
    "check_respondent_count",
    "check_rows_above_header",
    "check_scale_labels",
    "check_vintage_share",
    "check_weight_limits",
    "check_weight_not_configured",
]


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
