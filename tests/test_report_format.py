"""Vietnamese number formatting and generated sentences (sipas_analysis.report.format / .text).

Every expected string is written by hand from the Vietnamese conventions (decimal comma, dot between
thousands, en dash for ranges and missing values), never copied from the code's output.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

from sipas_analysis.errors import SipasError
from sipas_analysis.report.format import (
    fmt_change_pct_points,
    fmt_change_points,
    fmt_ci,
    fmt_date,
    fmt_int,
    fmt_number,
    fmt_p_value,
    fmt_pct,
    fmt_points,
)
from sipas_analysis.report.text import (
    estimate_sentence,
    finding_sentence,
    key_findings,
    trend_sentence,
)

# --------------------------------------------------------------------------- numbers


def test_examples_from_the_brief():
    assert fmt_pct(82.6667) == "82,7%"
    assert fmt_points(41.7018, 2) == "41,70"
    assert fmt_change_pct_points(2.1) == "tăng 2,1 điểm phần trăm"
    assert fmt_change_pct_points(-1.3) == "giảm 1,3 điểm phần trăm"
    assert fmt_change_pct_points(0.0) == "không đổi"
    assert fmt_int(1234567) == "1.234.567"
    assert fmt_date(dt.date(2026, 11, 27)) == "27/11/2026"


@pytest.mark.parametrize(
    ("x", "decimals", "expected"),
    [
        (0.05, 1, "0,1"),  # half rounds away from zero
        (0.15, 1, "0,2"),  # binary 0.1499999… still shows as 0,15 -> 0,2 (round() gives 0.1)
        (0.25, 1, "0,3"),  # not banker's rounding (round() gives 0.2)
        (2.675, 2, "2,68"),  # round() gives 2.67
        (82.65, 1, "82,7"),
        (82.64999, 1, "82,6"),
        (99.95, 1, "100,0"),
        (0.04, 1, "0,0"),
        (7, 1, "7,0"),
        (7, 0, "7"),
    ],
)
def test_rounding_half_away_from_zero(x, decimals, expected):
    assert fmt_number(x, decimals) == expected


@pytest.mark.parametrize(
    ("x", "decimals", "expected"),
    [
        (-1.25, 1, "-1,3"),
        (-0.05, 1, "-0,1"),
        (-0.04, 1, "0,0"),  # no negative zero
        (-0.0, 1, "0,0"),
        (-1234.5, 0, "-1.235"),
        (-1234567.891, 2, "-1.234.567,89"),
    ],
)
def test_negative_numbers(x, decimals, expected):
    assert fmt_number(x, decimals) == expected


@pytest.mark.parametrize("missing", [float("nan"), np.nan, None, pd.NA, math.inf, -math.inf])
def test_missing_values_print_as_en_dash(missing):
    assert fmt_number(missing) == "–"
    assert fmt_pct(missing) == "–"
    assert fmt_points(missing) == "–"
    assert fmt_int(missing) == "–"
    assert fmt_change_pct_points(missing) == "–"
    assert fmt_change_points(missing) == "–"
    assert fmt_ci(missing, 50.0) == "–"
    assert fmt_ci(50.0, missing) == "–"
    assert fmt_p_value(missing) == "–"
    assert "–" == "\u2013"


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0, "0"),
        (999, "999"),
        (1000, "1.000"),
        (36525, "36.525"),
        (np.int64(35268), "35.268"),
        (1688547, "1.688.547"),
        (-1234, "-1.234"),
        (1234.5, "1.235"),
    ],
)
def test_thousands_separators(x, expected):
    assert fmt_int(x) == expected


def test_thousands_with_decimals_and_numpy_floats():
    assert fmt_number(1234567.891, 2) == "1.234.567,89"
    assert fmt_pct(np.float64(82.71)) == "82,7%"
    assert fmt_pct(100) == "100,0%"
    assert fmt_points(np.float32(41.5), 2) == "41,50"


def test_changes_in_words():
    assert fmt_change_pct_points(0.04) == "không đổi"
    assert fmt_change_pct_points(-0.04) == "không đổi"
    assert fmt_change_pct_points(0.05) == "tăng 0,1 điểm phần trăm"
    assert fmt_change_pct_points(-3.21) == "giảm 3,2 điểm phần trăm"
    assert fmt_change_pct_points(12.345, 2) == "tăng 12,35 điểm phần trăm"
    assert fmt_change_points(-0.523) == "giảm 0,52 điểm"
    assert fmt_change_points(0.004) == "không đổi"


def test_confidence_intervals():
    assert fmt_ci(75.06, 81.54) == "75,1–81,5%"
    assert fmt_ci(40.1, 43.333, decimals=2, unit="") == "40,10–43,33"
    assert fmt_ci(-1.26, 2.0, unit=" điểm phần trăm") == "-1,3–2,0 điểm phần trăm"
    assert fmt_ci(-56.31, -18.0, unit=" điểm phần trăm") == "từ -56,3 đến -18,0 điểm phần trăm"


def test_p_values():
    assert fmt_p_value(0.0312) == "p = 0,03"
    assert fmt_p_value(0.0049) == "p = 0,005"
    assert fmt_p_value(0.0004) == "p < 0,001"


def test_dates():
    assert fmt_date(dt.datetime(2025, 7, 1, 13, 5)) == "01/07/2025"
    assert fmt_date("2026-01-05") == "05/01/2026"
    assert fmt_date(pd.Timestamp("2024-12-01")) == "01/12/2024"
    with pytest.raises(SipasError, match="ISO date"):
        fmt_date("27/11/2026")


def test_non_numbers_raise():
    with pytest.raises(SipasError):
        fmt_number("82,7")
    with pytest.raises(SipasError):
        fmt_pct(True)
    with pytest.raises(SipasError):
        fmt_number(1.0, -1)


# --------------------------------------------------------------------------- sentences

EST = {
    "survey": "sipas",
    "wave": "2024",
    "unit_code": "800",
    "unit_name": "Huyện Thạnh Hóa",
    "level": "area",
    "index_level": "overall",
    "index_code": "sipas",
    "label_vi": "Chỉ số SIPAS",
    "estimate": 78.43,
    "ci_low": 75.07,
    "ci_high": 81.52,
    "ci_level": 0.95,
    "n": 412,
    "flag": "ok",
}
TREND = {
    "survey": "sipas",
    "unit_code": "800",
    "unit_name": "Huyện Thạnh Hóa",
    "index_code": "sipas",
    "wave_from": "2023",
    "wave_to": "2024",
    "change": -3.21,
    "ci_low": -5.9,
    "ci_high": -0.52,
    "significant": True,
    "comparable": True,
}


def test_headline_sentence_exact():
    assert estimate_sentence(EST, TREND) == (
        "Chỉ số SIPAS của huyện Thạnh Hóa năm 2024 đạt 78,4% (KTC 95%: 75,1–81,5%), giảm "
        "3,2 điểm phần trăm so với năm 2023, thay đổi có ý nghĩa thống kê."
    )


def test_sentence_accepts_a_pandas_row_and_papi_points():
    row = pd.Series({**EST, "survey": "papi", "index_code": "papi", "estimate": 41.7018,
                     "ci_low": 40.1, "ci_high": 43.333})  # fmt: skip
    trend = {**TREND, "survey": "papi", "change": 0.523, "significant": False}
    assert estimate_sentence(row, trend) == (
        "Chỉ số PAPI của huyện Thạnh Hóa năm 2024 đạt 41,70 điểm (KTC 95%: 40,10–43,33), tăng "
        "0,52 điểm so với năm 2023, thay đổi không có ý nghĩa thống kê (có thể chỉ do sai số "
        "chọn mẫu)."
    )


def test_suppressed_estimate_is_never_printed():
    row = {**EST, "unit_name": "Xã Tân Đông", "estimate": 12.3456, "ci_low": 3.21,
           "ci_high": 40.98, "n": 7, "flag": "suppressed"}  # fmt: skip
    text = estimate_sentence(row, {**TREND, "change": 4.56})
    assert text == (
        "Chỉ số SIPAS của xã Tân Đông năm 2024 không được công bố vì có dưới 10 người trả lời "
        "hợp lệ."
    )
    for leaked in ("12,3", "3,2", "41,0", "4,6", "7"):
        assert leaked not in text


def test_small_n_gets_a_caution_and_element_subject():
    row = {**EST, "index_level": "element", "index_code": "cong_chuc",
           "label_vi": "Công chức trực tiếp giải quyết công việc", "n": 24, "flag": "small_n"}  # fmt: skip
    assert estimate_sentence(row) == (
        "Yếu tố “Công chức trực tiếp giải quyết công việc” của huyện Thạnh Hóa năm 2024 đạt 78,4% "
        "(KTC 95%: 75,1–81,5%). Lưu ý: chỉ có 24 người trả lời hợp lệ (dưới 30), kết quả cần được "
        "diễn giải thận trọng."
    )


def test_change_from_a_suppressed_or_incomparable_wave():
    assert estimate_sentence(EST, {**TREND, "flag_from": "suppressed"}).endswith("81,5%).")
    assert estimate_sentence(EST, {**TREND, "comparable": False, "wave_from": "2021"}) == (
        "Chỉ số SIPAS của huyện Thạnh Hóa năm 2024 đạt 78,4% (KTC 95%: 75,1–81,5%), không so "
        "sánh trực tiếp được với năm 2021 do thay đổi bộ câu hỏi, phương pháp hoặc địa giới hành "
        "chính."
    )


def test_unknown_flag_raises():
    with pytest.raises(SipasError, match="flag"):
        estimate_sentence({**EST, "flag": "hidden"})


def test_trend_sentence():
    t = {**TREND, "index_level": "element", "index_code": "tthc", "label_vi": "Thủ tục hành chính",
         "unit_name": "Thành phố Tân An", "change": 4.04, "ci_low": 1.2, "ci_high": 6.84}  # fmt: skip
    assert trend_sentence(t) == (
        "Từ năm 2023 đến năm 2024, yếu tố “Thủ tục hành chính” của thành phố Tân An tăng 4,0 "
        "điểm phần trăm (KTC 95%: 1,2–6,8 điểm phần trăm), thay đổi có ý nghĩa thống kê."
    )
    with pytest.raises(SipasError, match="suppressed"):
        trend_sentence({**t, "flag_to": "suppressed"})


FINDING = {
    "survey": "sipas",
    "wave": "2024",
    "unit_code": "27967",
    "unit_name": "Xã Đức Hòa Thượng",
    "level": "commune",
    "index_level": "element",
    "index_code": "tthc",
    "label_vi": "Thủ tục hành chính",
    "estimate": 71.24,
    "ci_low": 66.0,
    "ci_high": 76.4,
    "benchmark": 80.5,
    "benchmark_label": "trung bình Huyện Đức Hòa",
    "reasons": "thấp nhất trong 5 yếu tố",
    "priority": 1,
    "recommendation_vi": "Niêm yết đầy đủ thủ tục",
}


def test_finding_sentence():
    assert finding_sentence(FINDING) == (
        "Yếu tố “Thủ tục hành chính” của xã Đức Hòa Thượng năm 2024 đạt 71,2% (KTC 95%: "
        "66,0–76,4%), thấp hơn trung bình huyện Đức Hòa (80,5%); lý do: thấp nhất trong 5 yếu tố."
    )
    with pytest.raises(SipasError, match="suppressed"):
        finding_sentence({**FINDING, "flag": "suppressed"})
    # a table label ("Các xã, phường còn lại …", "Đợt 2024") is lower-cased inside the sentence,
    # and so is the type of a unit (Nghị định 30/2020/NĐ-CP)
    rest = {**FINDING, "benchmark_label": "Các xã, phường còn lại của huyện Đức Hòa"}
    assert "thấp hơn các xã, phường còn lại của huyện Đức Hòa (80,5%)" in finding_sentence(rest)
    wave = {**FINDING, "benchmark_label": "Đợt 2023"}
    assert "thấp hơn đợt 2023 (80,5%)" in finding_sentence(wave)
    unit = {**FINDING, "benchmark_label": "Thành phố Tân An"}
    assert "thấp hơn thành phố Tân An (80,5%)" in finding_sentence(unit)


def test_key_findings_from_tables_skip_suppressed():
    est = pd.DataFrame(
        [
            {**EST, "subgroup": ""},
            {**EST, "subgroup": "", "wave": "2023", "estimate": 81.64},
            {
                **EST,
                "subgroup": "",
                "survey": "papi",
                "index_code": "papi",
                "estimate": 41.7018,
                "ci_low": 40.1,
                "ci_high": 43.333,
                "flag": "ok",
            },  # fmt: skip
            {
                **EST,
                "subgroup": "",
                "survey": "papi",
                "index_code": "papi",
                "wave": "2023",
                "estimate": 40.0,
                "n": 6,
                "flag": "suppressed",
            },  # fmt: skip
            {
                **EST,
                "subgroup": "",
                "unit_code": "27967",
                "unit_name": "Xã Đức Hòa Thượng",
                "index_code": "tthc",
                "estimate": 71.24,
                "n": 25,
                "flag": "small_n",
            },  # fmt: skip
            {
                **EST,
                "subgroup": "",
                "unit_code": "27970",
                "unit_name": "Xã Mỹ Hạnh Bắc",
                "index_code": "tthc",
                "estimate": 12.3456,
                "n": 8,
                "flag": "suppressed",
            },  # fmt: skip
        ]
    )
    trends = pd.DataFrame(
        [TREND, {**TREND, "survey": "papi", "index_code": "papi", "change": -1.7018}]
    )
    findings = pd.DataFrame(
        [
            {
                **FINDING,
                "unit_code": "27970",
                "unit_name": "Xã Mỹ Hạnh Bắc",
                "estimate": 12.3456,
                "priority": 1,
            },  # fmt: skip
            {**FINDING, "priority": 2},
        ]
    )
    out = key_findings(
        est, trends, findings, "800", "2024", finding_units=["800", "27967", "27970"]
    )
    assert out[0].startswith("Chỉ số SIPAS của huyện Thạnh Hóa năm 2024 đạt 78,4%")
    assert "giảm 3,2 điểm phần trăm so với năm 2023" in out[0]
    # PAPI 2023 was suppressed: no change is given (it would reveal the 2023 value)
    assert out[1] == (
        "Chỉ số PAPI của huyện Thạnh Hóa năm 2024 đạt 41,70 điểm (KTC 95%: 40,10–43,33)."
    )
    assert len(out) == 3
    assert "xã Đức Hòa Thượng" in out[2] and "chỉ có 25 người trả lời hợp lệ" in out[2]
    joined = " ".join(out)
    assert "Mỹ Hạnh Bắc" not in joined and "12,3" not in joined


def test_key_findings_fall_back_on_significant_comparable_changes():
    est = pd.DataFrame([{**EST, "subgroup": ""}])
    # q_value as the trends table carries it (NaN outside the families: the headline index and
    # the incomparable change); a significant change whose q-value exceeds 0.05 is left out
    element = {**TREND, "index_level": "element", "label_vi": "Thủ tục hành chính", "q_value": 0.03}
    trends = pd.DataFrame(
        [
            {**TREND, "q_value": float("nan")},
            {**element, "index_code": "tthc", "change": 1.5},
            {**element, "index_code": "ket_qua", "label_vi": "Kết quả", "change": -6.04},
            {**element, "index_code": "pakn", "change": 9.9, "significant": False},
            {**element, "index_code": "cong_chuc", "change": 12.0, "comparable": False,
             "q_value": float("nan")},
            {**element, "index_code": "tiep_can", "change": 15.0, "q_value": 0.08},
        ]
    )  # fmt: skip
    out = key_findings(est, trends, None, "800", "2024")
    assert len(out) == 3
    # largest absolute significant change with q <= 0.05 first; the others left out
    assert out[1].startswith(
        "Từ năm 2023 đến năm 2024, yếu tố “Kết quả” của huyện Thạnh Hóa giảm 6,0"
    )
    assert "yếu tố “Thủ tục hành chính” của huyện Thạnh Hóa tăng 1,5 điểm phần trăm" in out[2]
