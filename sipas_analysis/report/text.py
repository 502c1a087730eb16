"""Generated key-finding sentences in plain Vietnamese, built from rows of the result tables.

Every number in a sentence comes from a row of the estimates, trends or findings table (see the
tables' columns in docs/tables.md) and is formatted by
:mod:`sipas_analysis.report.format` — no number is typed by hand and nothing is rounded here.

Disclosure rule: an estimate whose ``flag`` is ``"suppressed"`` (fewer than 10 valid answers) is
never printed, nor is its confidence interval or a change computed from it; the sentence says the
figure is not published. An estimate flagged ``"small_n"`` (fewer than 30) is printed with a caution.

Example of a generated sentence::

    Chỉ số SIPAS của huyện Thạnh Hóa năm 2024 đạt 78,4% (KTC 95%: 75,1–81,5%), giảm 3,2 điểm phần trăm so
    với năm 2023, thay đổi có ý nghĩa thống kê.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sipas_analysis.errors import SipasError
from sipas_analysis.report.format import (
    fmt_change_pct_points,
    fmt_change_points,
    fmt_ci,
    fmt_int,
    fmt_number,
    fmt_pct,
    fmt_points,
    is_missing,
)

__all__ = [
    "FLAGS",
    "SurveyFormat",
    "estimate_sentence",
    "finding_sentence",
    "index_subject",
    "key_findings",
    "survey_format",
    "trend_sentence",
]

FLAGS = ("ok", "small_n", "suppressed")
SUPPRESSED_TEXT = "không được công bố vì có dưới 10 người trả lời hợp lệ"

# How an index of a given level is introduced in a sentence.
_LEVEL_PREFIX = {
    ("sipas", "item"): "Tiêu chí",
    ("sipas", "element"): "Yếu tố",
    ("sipas", "part"): "Phần",
    ("papi", "indicator"): "Chỉ tiêu",
    ("papi", "subdimension"): "Nội dung thành phần",
    ("papi", "dimension"): "Lĩnh vực nội dung",
}


@dataclass(frozen=True)
class SurveyFormat:
    """How values of one survey are written: SIPAS in percent, PAPI in points."""

    value: Callable[[object], str]
    change: Callable[[object], str]
    decimals: int
    unit: str  # appended to CI bounds

    def fmt_value(self, x: object) -> str:
        """The value with its unit: ``"82,7%"`` or ``"41,70 điểm"``."""
        return self.value(x)

    def fmt_ci(self, low: object, high: object) -> str:
        """The interval: ``"75,1–81,5%"`` or ``"40,10–43,33"``."""
        return fmt_ci(low, high, decimals=self.decimals, unit=self.unit)

    def fmt_change(self, x: object) -> str:
        """The change in words: ``"tăng 2,1 điểm phần trăm"`` or ``"giảm 0,52 điểm"``."""
        return self.change(x)


def _points_with_unit(x: object) -> str:
    text = fmt_points(x)
    return text if is_missing(x) else f"{text} điểm"


_FORMATS = {
    "sipas": SurveyFormat(value=fmt_pct, change=fmt_change_pct_points, decimals=1, unit="%"),
    "papi": SurveyFormat(value=_points_with_unit, change=fmt_change_points, decimals=2, unit=""),
}


def survey_format(survey: str) -> SurveyFormat:
    """Return the display convention of ``survey`` ("sipas": percent, 1 decimal; "papi": points, 2).

    Raises
    ------
    SipasError
        For an unknown survey name.

    Examples
    --------
    >>> survey_format("sipas").fmt_value(82.6667)
    '82,7%'
    >>> survey_format("papi").fmt_value(41.7018)
    '41,70 điểm'
    """
    try:
        return _FORMATS[str(survey).lower()]
    except KeyError:
        raise SipasError(f"Unknown survey {survey!r}; expected 'sipas' or 'papi'.") from None


def _get(row: Mapping[str, Any] | pd.Series, key: str, default: Any = None) -> Any:
    try:
        value = row[key]
    except (KeyError, IndexError):
        return default
    return default if is_missing(value) and default is not None else value


def _require(row: Mapping[str, Any] | pd.Series, keys: Sequence[str], table: str) -> None:
    missing = [k for k in keys if k not in row]
    if missing:
        raise SipasError(f"{table} row lacks column(s) {missing}; got {list(row.keys())}.")


def _flag(row: Mapping[str, Any] | pd.Series, default: str | None = None) -> str:
    flag = _get(row, "flag", default)
    if flag is None:
        raise SipasError("estimates row lacks the column 'flag' (ok / small_n / suppressed).")
    flag = str(flag)
    if flag not in FLAGS:
        raise SipasError(f"Unknown flag {flag!r}; expected one of {FLAGS}.")
    return flag


def _upper_first(s: str) -> str:
    return s[:1].upper() + s[1:]


def index_subject(row: Mapping[str, Any] | pd.Series) -> str:
    """Name the index of a row as the subject of a sentence.

    ``index_code`` "sipas"/"papi" gives "Chỉ số SIPAS"/"Chỉ số PAPI"; an element gives
    ``Yếu tố “<label_vi>”``, a PAPI dimension ``Lĩnh vực nội dung “<label_vi>”``, and so on.

    Examples
    --------
    >>> index_subject({"survey": "sipas", "index_code": "sipas"})
    'Chỉ số SIPAS'
    >>> index_subject({"survey": "sipas", "index_level": "element", "index_code": "cong_chuc",
    ...                "label_vi": "Công chức trực tiếp giải quyết công việc"})
    'Yếu tố “Công chức trực tiếp giải quyết công việc”'
    """
    survey = str(_get(row, "survey", "")).lower()
    code = str(_get(row, "index_code", ""))
    if code in ("sipas", "papi"):
        return f"Chỉ số {code.upper()}"
    label = str(_get(row, "label_vi", "") or code)
    prefix = _LEVEL_PREFIX.get((survey, str(_get(row, "index_level", ""))))
    return f"{prefix} “{label}”" if prefix else _upper_first(label)


def _small_n_caution(row: Mapping[str, Any] | pd.Series) -> str:
    n = _get(row, "n", None)
    who = f"chỉ có {fmt_int(n)} người trả lời hợp lệ" if not is_missing(n) else "cỡ mẫu nhỏ"
    return f" Lưu ý: {who} (dưới 30), kết quả cần được diễn giải thận trọng."


def _change_clause(trend: Mapping[str, Any] | pd.Series, fmt: SurveyFormat) -> str:
    """``", giảm 3,2 điểm phần trăm so với năm 2023, thay đổi có ý nghĩa thống kê"`` or ``""``."""
    wave_from = _get(trend, "wave_from", None)
    if str(_get(trend, "flag_from", "ok")) == "suppressed" or wave_from is None:
        return ""
    if not bool(_get(trend, "comparable", True)):
        return (
            f", không so sánh trực tiếp được với năm {wave_from} do thay đổi bộ câu hỏi, "
            "phương pháp hoặc địa giới hành chính"
        )
    change = _get(trend, "change", None)
    if is_missing(change):
        return ""
    words = fmt.fmt_change(change)
    clause = f", {words} so với năm {wave_from}"
    significant = _get(trend, "significant", None)
    if significant is None or is_missing(significant):
        return clause
    if bool(significant):
        return clause + ", thay đổi có ý nghĩa thống kê"
    if words == "không đổi":
        return clause
    return clause + ", thay đổi không có ý nghĩa thống kê (có thể chỉ do sai số chọn mẫu)"


def estimate_sentence(
    estimate: Mapping[str, Any] | pd.Series,
    trend: Mapping[str, Any] | pd.Series | None = None,
) -> str:
    """One sentence stating an estimate with its confidence interval and, optionally, its change.

    Parameters
    ----------
    estimate : Mapping or pandas.Series
        A row of the estimates table: ``survey, wave, unit_name, index_code, label_vi,
        index_level, estimate, ci_low, ci_high, ci_level, n, flag``.
    trend : Mapping or pandas.Series, optional
        The matching row of the trends table (``wave_from, change, significant, comparable``;
        an optional ``flag_from`` equal to ``"suppressed"`` drops the change clause).

    Returns
    -------
    str
        E.g. ``"Chỉ số SIPAS của huyện Thạnh Hóa năm 2024 đạt 78,4% (KTC 95%: 75,1–81,5%), giảm
        3,2 điểm phần trăm so với năm 2023, thay đổi có ý nghĩa thống kê."``. For a suppressed estimate the
        sentence says it is not published and shows no number; ``small_n`` adds a caution.

    Raises
    ------
    SipasError
        If required columns are missing or the flag is unknown.

    Notes
    -----
    The change is ``estimate_to − estimate_from`` as computed by the trends module; it is only
    worded here ("tăng"/"giảm"/"không đổi" at the displayed precision).

    Examples
    --------
    >>> row = {"survey": "sipas", "wave": "2024", "unit_name": "Huyện Thạnh Hóa",
    ...        "index_code": "sipas", "estimate": 78.43, "ci_low": 75.07, "ci_high": 81.52,
    ...        "ci_level": 0.95, "n": 412, "flag": "ok"}
    >>> estimate_sentence(row, {"wave_from": "2023", "change": -3.21, "significant": True,
    ...                         "comparable": True})  # doctest: +NORMALIZE_WHITESPACE
    'Chỉ số SIPAS của huyện Thạnh Hóa năm 2024 đạt 78,4% (KTC 95%: 75,1–81,5%), giảm 3,2 điểm phần trăm
    so với năm 2023, thay đổi có ý nghĩa thống kê.'
    """
    _require(estimate, ["survey", "wave", "unit_name", "index_code", "estimate"], "estimates")
    flag = _flag(estimate)
    subject = (
        f"{index_subject(estimate)} của {name_in_sentence(estimate['unit_name'])} "
        f"năm {estimate['wave']}"
    )
    if flag == "suppressed":
        return f"{subject} {SUPPRESSED_TEXT}."
    fmt = survey_format(estimate["survey"])
    level = _get(estimate, "ci_level", 0.95)
    ci = fmt.fmt_ci(_get(estimate, "ci_low"), _get(estimate, "ci_high"))
    text = f"{subject} đạt {fmt.fmt_value(estimate['estimate'])}"
    if ci != "–":
        text += f" (KTC {fmt_number(float(level) * 100, 0)}%: {ci})"
    if trend is not None:
        text += _change_clause(trend, fmt)
    text += "."
    if flag == "small_n":
        text += _small_n_caution(estimate)
    return text


def trend_sentence(trend: Mapping[str, Any] | pd.Series) -> str:
    """One sentence on a change between two waves, without repeating the levels.

    Parameters
    ----------
    trend : Mapping or pandas.Series
        A row of the trends table (``survey, unit_name, index_code, label_vi, wave_from, wave_to,
        change, ci_low, ci_high, significant, comparable``; optional ``flag_from``/``flag_to``).

    Returns
    -------
    str
        E.g. ``"Từ năm 2023 đến năm 2024, yếu tố “Thủ tục hành chính” của Thành phố Tân An tăng
        4,0 điểm phần trăm (KTC 95%: 1,2–6,8 điểm phần trăm), thay đổi có ý nghĩa thống kê."``

    Raises
    ------
    SipasError
        If a wave's estimate is suppressed (``flag_from``/``flag_to``): such a change may not be
        printed, the caller must not ask for it.

    Examples
    --------
    >>> trend_sentence({"survey": "papi", "unit_name": "Toàn vùng khảo sát", "index_code": "papi",
    ...                 "wave_from": "2023", "wave_to": "2024", "change": 0.523,
    ...                 "significant": False, "comparable": True})  # doctest: +NORMALIZE_WHITESPACE
    'Từ năm 2023 đến năm 2024, chỉ số PAPI của toàn vùng khảo sát tăng 0,52 điểm, thay đổi
    không có ý nghĩa thống kê (có thể chỉ do sai số chọn mẫu).'
    """
    _require(trend, ["survey", "unit_name", "index_code", "wave_from", "wave_to"], "trends")
    for key in ("flag_from", "flag_to"):
        if str(_get(trend, key, "ok")) == "suppressed":
            raise SipasError(
                f"Trend of {trend['index_code']} for {trend['unit_name']} involves a suppressed "
                "estimate (n < 10) and may not be printed."
            )
    fmt = survey_format(trend["survey"])
    subject = index_subject(trend)
    subject = subject[:1].lower() + subject[1:]
    head = (
        f"Từ năm {trend['wave_from']} đến năm {trend['wave_to']}, {subject} của "
        f"{name_in_sentence(trend['unit_name'])}"
    )
    if not bool(_get(trend, "comparable", True)):
        return (
            f"{head} không so sánh trực tiếp được do thay đổi bộ câu hỏi, phương pháp "
            "hoặc địa giới hành chính."
        )
    change = _get(trend, "change", None)
    if is_missing(change):
        return f"{head}: không đủ số liệu để so sánh."
    words = fmt.fmt_change(change)
    text = f"{head} {words}"
    unit = " điểm phần trăm" if fmt.unit == "%" else " điểm"
    ci = fmt_ci(_get(trend, "ci_low"), _get(trend, "ci_high"), decimals=fmt.decimals, unit=unit)
    if ci != "–" and words != "không đổi":
        text += f" (KTC 95%: {ci})"
    significant = _get(trend, "significant", None)
    if significant is not None and not is_missing(significant):
        text += (
            ", thay đổi có ý nghĩa thống kê"
            if bool(significant)
            else ", thay đổi không có ý nghĩa thống kê (có thể chỉ do sai số chọn mẫu)"
        )
    return text + "."


def finding_sentence(finding: Mapping[str, Any] | pd.Series) -> str:
    """One sentence describing a weak point (a row of the findings table).

    Parameters
    ----------
    finding : Mapping or pandas.Series
        ``survey, wave, unit_name, index_code, label_vi, index_level (optional), estimate, ci_low,
        ci_high, benchmark, benchmark_label, reasons``; an optional ``flag``/``n`` (joined from the
        estimates table) is honoured: a suppressed finding raises, small_n adds a caution.

    Returns
    -------
    str
        E.g. ``"Yếu tố “Công chức trực tiếp giải quyết công việc” của Huyện Đức Hòa năm 2024 đạt
        71,2% (KTC 95%: 66,0–76,4%), thấp hơn trung bình toàn vùng (80,5%); lý do: thấp nhất
        trong 5 yếu tố."``

    Raises
    ------
    SipasError
        If the finding's estimate is suppressed (it must never be printed).

    Examples
    --------
    >>> finding_sentence({"survey": "sipas", "wave": "2024", "unit_name": "Huyện Đức Hòa",
    ...     "index_code": "tthc", "index_level": "element", "label_vi": "Thủ tục hành chính",
    ...     "estimate": 71.24, "ci_low": 66.0, "ci_high": 76.4, "benchmark": 80.5,
    ...     "benchmark_label": "trung bình toàn vùng", "reasons": "thấp nhất trong 5 yếu tố"})
    ...     # doctest: +NORMALIZE_WHITESPACE
    'Yếu tố “Thủ tục hành chính” của huyện Đức Hòa năm 2024 đạt 71,2% (KTC 95%: 66,0–76,4%),
    thấp hơn trung bình toàn vùng (80,5%); lý do: thấp nhất trong 5 yếu tố.'
    """
    _require(finding, ["survey", "wave", "unit_name", "index_code", "estimate"], "findings")
    flag = _flag(finding, default="ok")
    if flag == "suppressed":
        raise SipasError(
            f"Finding {finding['index_code']} for {finding['unit_name']} rests on a suppressed "
            "estimate (n < 10) and may not be printed."
        )
    fmt = survey_format(finding["survey"])
    text = (
        f"{index_subject(finding)} của {name_in_sentence(finding['unit_name'])} "
        f"năm {finding['wave']} đạt "
        f"{fmt.fmt_value(finding['estimate'])}"
    )
    ci = fmt.fmt_ci(_get(finding, "ci_low"), _get(finding, "ci_high"))
    if ci != "–":
        text += f" (KTC 95%: {ci})"
    benchmark = _get(finding, "benchmark", None)
    if not is_missing(benchmark):
        label = _in_sentence(str(_get(finding, "benchmark_label", "") or "mức so sánh"))
        shown, shown_bench = fmt.fmt_value(finding["estimate"]), fmt.fmt_value(benchmark)
        if shown == shown_bench:
            relation = "bằng"
        else:
            relation = "thấp hơn" if float(finding["estimate"]) < float(benchmark) else "cao hơn"
        text += f", {relation} {label} ({shown_bench})"
    reasons = str(_get(finding, "reasons", "") or "").strip()
    if reasons:
        text += f"; lý do: {lower_unit_types(reasons[:1].lower() + reasons[1:])}"
    text += "."
    if flag == "small_n":
        text += _small_n_caution(finding)
    return text


#: Unit types (Nghị định 30/2020/NĐ-CP: written in lower case inside a sentence).
UNIT_TYPES = ("Thành phố", "Thị xã", "Thị trấn", "Huyện", "Xã", "Phường", "Tỉnh")
# Only a full stop, question or exclamation mark or a new line starts a sentence (Nghị định
# 30/2020/NĐ-CP, Phụ lục II): after a colon or semicolon the unit type is lower case too.
_TYPE_RE = re.compile(r"(?<![.!?\n]\s)(?<!^)\b(" + "|".join(UNIT_TYPES) + r")(?= [A-ZĐÂĂÊÔƠƯ\d])")


def name_in_sentence(name: object) -> str:
    """A unit name inside a sentence: the unit type in lower case ("huyện Thạnh Hóa").

    >>> name_in_sentence("Huyện Thạnh Hóa"), name_in_sentence("Toàn vùng khảo sát")
    ('huyện Thạnh Hóa', 'toàn vùng khảo sát')
    """
    text = str(name)
    for t in UNIT_TYPES:
        if text.startswith(t + " "):
            return t.lower() + text[len(t) :]
    if text[1:2].isupper():  # an abbreviation such as "UBND"
        return text
    return text[:1].lower() + text[1:]


def lower_unit_types(text: str) -> str:
    """Lower-case every unit type that stands inside a sentence (not at its start).

    >>> lower_unit_types("Thấp hơn các xã, phường còn lại của Huyện Đức Hòa. Xã Bình Hòa giảm.")
    'Thấp hơn các xã, phường còn lại của huyện Đức Hòa. Xã Bình Hòa giảm.'
    >>> lower_unit_types("Cần ưu tiên: Xã Bình Hòa (73,2%); Phường 1 (80,0%).")
    'Cần ưu tiên: xã Bình Hòa (73,2%); phường 1 (80,0%).'
    """
    return _TYPE_RE.sub(lambda m: m.group(1).lower(), text)


def _in_sentence(label: str) -> str:
    """A table label inside a sentence: "Các xã, phường còn lại …" -> "các xã, …".

    >>> _in_sentence("Các xã, phường còn lại của Huyện Đức Hòa"), _in_sentence("Thành phố Tân An")
    ('các xã, phường còn lại của huyện Đức Hòa', 'thành phố Tân An')
    """
    return lower_unit_types(name_in_sentence(label))


def _eq(df: pd.DataFrame, col: str, value: Any) -> pd.Series:
    return df[col].astype(str) == str(value)


def key_findings(
    estimates: pd.DataFrame,
    trends: pd.DataFrame | None,
    findings: pd.DataFrame | None,
    unit_code: str,
    wave: str,
    *,
    finding_units: Sequence[str] | None = None,
    max_findings: int = 5,
) -> list[str]:
    """Generate the 3–5 key-finding sentences of a brief from the run's tables.

    Parameters
    ----------
    estimates, trends, findings : pandas.DataFrame
        The run's tidy tables (trends and findings may be None or empty).
    unit_code : str
        The brief's unit: an area code ("800") or "total".
    wave : str
        The brief's wave ("2024").
    finding_units : sequence of str, optional
        Units whose weak points belong in this brief (the area and its communes); default
        ``[unit_code]``.
    max_findings : int, default 5

    Returns
    -------
    list of str
        First the headline SIPAS and PAPI sentences (with the change since the latest earlier wave
        in the trends table), then weak points by ``priority``, then the unit's significant
        comparable changes of sub-indices whose ``q_value`` (Benjamini–Hochberg within their
        family, set by :func:`sipas_analysis.findings.fdr.trend_q_values`) is at most 0.05, up
        to ``max_findings`` sentences. Suppressed estimates are never printed: their weak
        points are skipped and a change from a suppressed wave is dropped.

    Examples
    --------
    >>> est = pd.DataFrame([{"survey": "sipas", "wave": "2024", "unit_code": "800",
    ...     "unit_name": "Huyện Thạnh Hóa", "subgroup": "", "index_code": "sipas",
    ...     "estimate": 78.43, "ci_low": 75.1, "ci_high": 81.5, "n": 400, "flag": "ok"}])
    >>> key_findings(est, None, None, "800", "2024")  # doctest: +NORMALIZE_WHITESPACE
    ['Chỉ số SIPAS của huyện Thạnh Hóa năm 2024 đạt 78,4% (KTC 95%: 75,1–81,5%).']
    """
    unit_code, wave = str(unit_code), str(wave)
    units = [str(u) for u in (finding_units or [unit_code])]
    est = estimates
    if "subgroup" in est.columns:
        est = est[est["subgroup"].fillna("").astype(str) == ""]
    flags = {
        (str(r.survey), str(r.wave), str(r.unit_code), str(r.index_code)): str(r.flag)
        for r in est[["survey", "wave", "unit_code", "index_code", "flag"]].itertuples()
    }
    trends = trends if trends is not None else pd.DataFrame()
    findings = findings if findings is not None else pd.DataFrame()
    sentences: list[str] = []

    for survey in ("sipas", "papi"):
        mask = (
            _eq(est, "survey", survey)
            & _eq(est, "wave", wave)
            & _eq(est, "unit_code", unit_code)
            & _eq(est, "index_code", survey)
        )
        rows = est[mask]
        if rows.empty:
            continue
        row = rows.iloc[0]
        trend = None
        if not trends.empty:
            tmask = (
                _eq(trends, "survey", survey)
                & _eq(trends, "unit_code", unit_code)
                & _eq(trends, "index_code", survey)
                & _eq(trends, "wave_to", wave)
            )
            cand = trends[tmask]
            if not cand.empty:
                trend = cand.sort_values("wave_from").iloc[-1].to_dict()
                trend["flag_from"] = flags.get(
                    (survey, str(trend["wave_from"]), unit_code, survey), "ok"
                )
        sentences.append(estimate_sentence(row, trend))

    if not findings.empty:
        fmask = _eq(findings, "wave", wave) & findings["unit_code"].astype(str).isin(units)
        ranked = findings[fmask].sort_values("priority", kind="stable")
        for _, f in ranked.iterrows():
            if len(sentences) >= max_findings:
                break
            key = (str(f["survey"]), wave, str(f["unit_code"]), str(f["index_code"]))
            f = f.copy()
            f["flag"] = flags.get(key, _get(f, "flag", "ok"))
            if f["flag"] == "suppressed":
                continue
            n = est.loc[
                _eq(est, "survey", key[0])
                & _eq(est, "wave", wave)
                & _eq(est, "unit_code", key[2])
                & _eq(est, "index_code", key[3]),
                "n",
            ]
            if not n.empty:
                f["n"] = n.iloc[0]
            sentences.append(finding_sentence(f))

    if len(sentences) < max_findings and not trends.empty and "q_value" in trends.columns:
        # Changes of the composite indices of the brief's own unit between consecutive waves,
        # kept when significant after Benjamini–Hochberg within their family: the trends
        # table's q_value (:func:`sipas_analysis.findings.fdr.trend_q_values`), NaN for the
        # changes outside the families (headline indices, subgroups, across a break); the
        # criteria (items) have a family of their own, for the commune sheets.
        # A trends table without q_value (trend_table's own output) gives no such sentence.
        keep = (
            _eq(trends, "wave_to", wave)
            & _eq(trends, "unit_code", unit_code)
            & ~_eq(trends, "index_level", "item")  # criteria: their own family
            & trends["significant"].fillna(False).astype(bool)
            & (pd.to_numeric(trends["q_value"], errors="coerce") <= 0.05)
        )
        cand = trends[keep].assign(_abs=lambda d: d["change"].abs())
        for _, t in cand.sort_values("_abs", ascending=False, kind="stable").iterrows():
            if len(sentences) >= max_findings:
                break
            ends = [
                flags.get((str(t["survey"]), str(t[w]), str(t["unit_code"]), str(t["index_code"])))
                for w in ("wave_from", "wave_to")
            ]
            if "suppressed" in ends:
                continue
            sentences.append(trend_sentence(t))
    return sentences
