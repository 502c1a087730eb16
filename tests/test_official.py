"""Readers of official published results: PAPI workbooks, published SIPAS and PAPI figures.

Expected numbers are written here as literals copied from independent extractions of the official
files (``data/reference/longan_papi_dimensions_2011_2024.csv`` and
``longan_papi_subdimensions_2011_2019.csv``) and from the PAPI 2019 indicator workbook as
published; none is taken from the reader's own output. The workbooks are rebuilt from the official
sheets kept in ``data/reference/papi_workbooks`` (and read as published too when the official
files are at hand: ``tests/official_workbooks.py``). Small workbooks built in the tests check
the handling of "KCDL", blank cells, province ids and unknown layouts by hand.
"""

from __future__ import annotations

import math
import shutil
import unicodedata

import numpy as np
import openpyxl
import pandas as pd
import pytest
from official_workbooks import OFFICIAL_DIR, SHEETS, workbook

from sipas_analysis import cli
from sipas_analysis.errors import InputError
from sipas_analysis.official import (
    COLUMNS,
    provinces,
    read_papi_workbook,
    read_papi_workbooks,
    read_published_papi,
    read_published_sipas,
    resolve_province,
)
from sipas_analysis.paths import REFERENCE_DIR

LONG_AN = 80

# Long An, published dimension scores and unweighted PAPI (longan_papi_dimensions_2011_2024.csv).
LONG_AN_PUBLISHED = {
    2011: {"d1": 5.7696, "d2": 6.1490, "d3": 6.2574, "d4": 7.3603, "d5": 7.1850, "d6": 7.1164,
           "total": 39.8378},
    2012: {"d1": 4.9444, "d2": 6.4238, "d3": 5.7570, "d4": 6.8604, "d5": 6.9506, "d6": 7.0089,
           "total": 37.9450},
    2013: {"d1": 5.5057, "d2": 6.0039, "d3": 6.1178, "d4": 7.5065, "d5": 7.4257, "d6": 7.1760,
           "total": 39.7356},
    2014: {"d1": 4.9355, "d2": 6.7285, "d3": 6.1796, "d4": 6.6699, "d5": 7.2097, "d6": 7.1274,
           "total": 38.8505},
    2015: {"d1": 4.9437, "d2": 6.2562, "d3": 6.0293, "d4": 7.0292, "d5": 7.4565, "d6": 7.2339,
           "total": 38.9487},
    2016: {"d1": 5.5857, "d2": 5.8467, "d3": 4.5305, "d4": 6.5591, "d5": 7.2331, "d6": 6.9511,
           "total": 36.7062},
    2017: {"d1": 5.4243, "d2": 6.1771, "d3": 4.9266, "d4": 7.2251, "d5": 7.2635, "d6": 7.2828,
           "total": 38.2993},
    2018: {"d1": 5.1803, "d2": 5.1101, "d3": 4.7119, "d4": 6.9048, "d5": 7.1379, "d6": 7.1245,
           "d7": 4.6283, "d8": 2.7938, "total": 43.5917},
    2019: {"d1": 4.4820, "d2": 5.0809, "d3": 4.4077, "d4": 7.0963, "d5": 7.4561, "d6": 7.0203,
           "d7": 3.4117, "d8": 2.7469, "total": 41.7018},
}  # fmt: skip

# Long An 2019 sub-dimensions (longan_papi_subdimensions_2011_2019.csv).
LONG_AN_2019_SUBDIMENSIONS = {
    "d1_1": 0.7394, "d1_2": 1.4029, "d1_3": 1.4018, "d1_4": 0.9378,
    "d2_1": 0.6982, "d2_2": 1.7097, "d2_3": 1.3350, "d2_4": 1.3380,
    "d3_1": 2.0598, "d3_2": 0.6591, "d3_3": 1.6888,
    "d4_1": 1.8258, "d4_2": 2.0865, "d4_3": 1.3104, "d4_4": 1.8736,
    "d5_1": 1.8181, "d5_2": 1.9587, "d5_3": 1.7407, "d5_4": 1.9387,
    "d6_1": 1.8757, "d6_2": 1.7040, "d6_3": 2.0373, "d6_4": 1.4032,
    "d7_1": 1.1067, "d7_2": 1.9118, "d7_3": 0.3932,
    "d8_1": 0.3603, "d8_2": 1.2760, "d8_3": 1.1106,
}  # fmt: skip

HALF_UNIT_4DP = 5e-5 + 1e-12  # "equal to 4 decimals"


@pytest.fixture(scope="module")
def papi(papi_workbook):
    """Parsed official workbooks, each read once for the whole module."""
    cache: dict[str, pd.DataFrame] = {}

    def get(name: str) -> pd.DataFrame:
        if name not in cache:
            cache[name] = read_papi_workbook(papi_workbook(name))
        return cache[name]

    return get


def _value(df: pd.DataFrame, year: int, province: int, code: str) -> pd.Series:
    rows = df[(df["year"] == year) & (df["province_code"] == province) & (df["code"] == code)]
    assert len(rows) == 1, (year, province, code, len(rows))
    return rows.iloc[0]


def _write_xlsx(path, sheets: dict[str, list[list[object]]]) -> None:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)


# ------------------------------------------------------------------------------------------
# Official workbooks against the published figures
# ------------------------------------------------------------------------------------------


def test_long_an_dimensions_and_total_2011_2019(papi):
    compiled = papi("PAPI_2011-2019.xlsx")
    full_2018 = papi("PAPI_2018_FULL_vie.xlsx")
    ind_2019 = papi("2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx")
    sources = {y: [compiled] for y in range(2011, 2018)}
    sources[2018] = [compiled, full_2018]  # the compiled file has no 2018/2019 total
    sources[2019] = [compiled, ind_2019]
    for year, expected in LONG_AN_PUBLISHED.items():
        for code, value in expected.items():
            found = [
                df
                for df in sources[year]
                if ((df.year == year) & (df.province_code == LONG_AN) & (df.code == code)).any()
            ]
            assert found, (year, code)
            for df in found:
                got = _value(df, year, LONG_AN, code)["value"]
                assert abs(got - value) <= HALF_UNIT_4DP, (year, code, got, value)


def test_long_an_2019_subdimensions(papi):
    for name in ("2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx", "PAPI_2011-2019.xlsx"):
        df = papi(name)
        subs = df[(df.year == 2019) & (df.province_code == LONG_AN) & (df.level == "subdimension")]
        assert sorted(subs["code"]) == sorted(LONG_AN_2019_SUBDIMENSIONS)
        for code, value in LONG_AN_2019_SUBDIMENSIONS.items():
            got = _value(df, 2019, LONG_AN, code)["value"]
            assert abs(got - value) <= HALF_UNIT_4DP, (name, code, got, value)
    label = _value(papi("PAPI_2011-2019.xlsx"), 2019, LONG_AN, "d8_3")["label_vi"]
    assert label == "Phúc đáp qua cổng thông tin điện tử"


@pytest.mark.parametrize(
    ("name", "year"),
    [("PAPI_2018_FULL_vie.xlsx", 2018), ("2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx", 2019)],
)
def test_dimensions_and_totals_add_up_for_all_provinces(papi, name, year):
    df = papi(name)
    df = df[df.year == year]
    assert df["province_code"].nunique() == 63
    wide = df[df.level.isin(["dimension", "subdimension", "total"])].pivot_table(
        index="province_code", columns="code", values="value", dropna=False
    )
    n_dims = 8
    checked_dims = checked_totals = 0
    for pcode, row in wide.iterrows():
        dims = [row[f"d{d}"] for d in range(1, n_dims + 1)]
        for d in range(1, n_dims + 1):
            subs = [row[c] for c in wide.columns if c.startswith(f"d{d}_")]
            if not math.isnan(row[f"d{d}"]):
                assert abs(row[f"d{d}"] - sum(subs)) < 1e-5, (pcode, d)
                checked_dims += 1
        if not math.isnan(row["total"]):
            assert abs(row["total"] - sum(dims)) < 1e-5, pcode
            checked_totals += 1
    assert checked_dims >= 61 * n_dims
    assert checked_totals >= 61


def test_long_an_2019_unweighted_total_se_and_published_bounds(papi):
    df = papi("2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx")
    row = _value(df, 2019, LONG_AN, "total")
    assert row["level"] == "total"
    assert abs(row["value"] - 41.7018) <= HALF_UNIT_4DP
    assert abs(row["se"] - 0.3063) <= HALF_UNIT_4DP
    assert abs(row["ci_low_published"] - 41.1979) <= HALF_UNIT_4DP
    assert abs(row["ci_high_published"] - 42.2056) <= HALF_UNIT_4DP
    # PAPI's "95%" bounds are value ± 1.645·SE (a 90% interval), for every province and both totals.
    totals = df[df.level.isin(["total", "total_weighted"])]
    assert len(totals) == 2 * 63
    z_high = (totals["ci_high_published"] - totals["value"]) / totals["se"]
    z_low = (totals["value"] - totals["ci_low_published"]) / totals["se"]
    assert np.allclose(z_high, 1.645, atol=1e-3)
    assert np.allclose(z_low, 1.645, atol=1e-3)
    weighted = _value(df, 2019, LONG_AN, "total_weighted")
    assert abs(weighted["value"] - 46.1245) <= HALF_UNIT_4DP  # longan_papi_indicators_2019.csv


def test_2019_dimension_se_and_n_from_published_variance(papi):
    df = papi("2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx")
    d1 = _value(df, 2019, 1, "d1")  # Hà Nội: variance 0.00514527503401041, 720 observations
    assert d1["se"] == pytest.approx(math.sqrt(0.00514527503401041), rel=1e-6)
    assert d1["n"] == 720
    la = _value(df, 2019, LONG_AN, "d1_1")
    assert (la["scale"], la["scale_min"], la["scale_max"]) == ("0.25-2.5 điểm", 0.25, 2.5)
    ind = _value(df, 2019, LONG_AN, "d1_1_i1")
    assert ind["label_vi"] == "Hiểu biết về chính sách hiện hành (%)*"
    assert ind["label_en"] == "Civic Knowledge"  # from the English sheet, matched by its values
    assert (ind["scale_min"], ind["scale_max"]) == (0.0, 1.0)  # "0%-100%" published as 0–1


def test_2011_2017_files_use_original_subdimension_names(papi):
    y2011 = papi("PAPI_2011_vie.xlsx")
    assert set(y2011["year"]) == {2011}  # the file's first sheet is titled "2012PAPI…"
    d2_1 = _value(y2011, 2011, LONG_AN, "d2_1")
    # Header says "2.1: Tiếp cận thông tin" (the 2018 name); the values are the poverty lists.
    assert d2_1["label_vi"] == "Danh sách hộ nghèo"
    assert abs(d2_1["value"] - 2.3563) <= HALF_UNIT_4DP
    assert _value(y2011, 2011, LONG_AN, "d3_2")["label_vi"] == "Ban thanh tra nhân dân"
    assert not (y2011["code"] == "d2_4").any()
    y2016 = papi("PAPI_2016_vie.xlsx")
    d3_2 = _value(y2016, 2016, LONG_AN, "d3_2")
    assert d3_2["label_vi"] == "Đáp ứng kiến nghị của người dân"
    assert abs(d3_2["value"] - 1.0140) <= HALF_UNIT_4DP
    assert _value(y2016, 2016, LONG_AN, "d3_3")["label_vi"] == "Hiệu quả của Ban Thanh tra Nhân dân"


def test_kcdl_and_blank_cells_are_nan_in_official_files(papi, papi_workbook):
    path = papi_workbook("PAPI_2018_FULL_vie.xlsx")
    ws = openpyxl.load_workbook(path, read_only=True)["ProvincialIndicators_VIE"]
    assert ws["P1"].value == "Quang Ninh" and ws["P2"].value == "KCDL"
    full_2018 = papi("PAPI_2018_FULL_vie.xlsx")
    assert math.isnan(_value(full_2018, 2018, 22, "total")["value"])  # Quảng Ninh
    assert math.isnan(_value(full_2018, 2018, 22, "d2")["value"])
    assert _value(full_2018, 2018, 22, "d1")["value"] > 0
    compiled = papi("PAPI_2011-2019.xlsx")
    bac_giang_2014 = compiled[(compiled.year == 2014) & (compiled.province_code == 24)]
    assert len(bac_giang_2014) == 29 and bac_giang_2014["value"].isna().all()  # blank row


def test_table_columns_and_types(papi):
    df = papi("PAPI_2018_FULL_vie.xlsx")
    assert list(df.columns) == COLUMNS
    assert str(df["province_code"].dtype) == "Int64" and str(df["year"].dtype) == "Int64"
    assert set(df["level"]) == {"total", "dimension", "subdimension", "indicator"}
    names = df["province_name"].unique()
    assert all(unicodedata.is_normalized("NFC", n) for n in names)
    assert "Thừa Thiên Huế" in names and "Hồ Chí Minh" in names
    assert not df.duplicated(["year", "province_code", "code"]).any()


# ------------------------------------------------------------------------------------------
# Hand-built workbooks
# ------------------------------------------------------------------------------------------

HEADER_2011 = ["Tên tỉnh ", "1: Tham gia", "1.1: a", "1.2: b", "1.3: c", "1.4: d"]


def test_kcdl_blank_and_text_cells(tmp_path):
    f = tmp_path / "PAPI_2012_test.xlsx"
    rows = [
        HEADER_2011,
        ["Long An", 5.0, 1.0, "KCDL", None, 2.0],
        ["Hoà Bình", "KCDL", " ", 1.5, 1.25, 1.25],
        ["Điểm cao nhất", 9, 9, 9, 9, 9],  # summary line, not a province
    ]
    _write_xlsx(f, {"Điểm thành phần 1": rows})
    df = read_papi_workbook(f)
    assert set(df["year"]) == {2012}
    assert set(df["province_code"]) == {80, 17}
    la = df[df.province_code == 80].set_index("code")["value"]
    assert la["d1"] == 5.0 and la["d1_1"] == 1.0 and la["d1_4"] == 2.0
    assert math.isnan(la["d1_2"]) and math.isnan(la["d1_3"])  # KCDL and blank: NaN, never 0
    hb = df[df.province_code == 17].set_index("code")["value"]
    assert math.isnan(hb["d1"]) and math.isnan(hb["d1_1"]) and hb["d1_2"] == 1.5
    assert df.loc[df.code == "d1_2", "label_vi"].iloc[0] == "Cơ hội tham gia"

    rows[1][3] = "không rõ"
    _write_xlsx(f, {"Điểm thành phần 1": rows})
    with pytest.raises(InputError, match=r"cell D2.*expected a number") as err:
        read_papi_workbook(f)
    assert err.value.file == str(f) and err.value.values == ["không rõ"]


def test_indicator_table_with_provinces_in_columns(tmp_path):
    f = tmp_path / "PAPI_2019_small.xlsx"
    total = "Chỉ số PAPI tổng hợp (không có trọng số)"
    rows = [
        ["Mã tỉnh", "Thang điểm", 80, 17],
        ["Tỉnh/Thành phố trực thuộc trung ương", None, "Long An", "Hoà Bình"],
        [total, "10-80 điểm", 40.0, "KCDL"],
        [total + " - điểm tối thiểu trong khoảng tin cậy 95%", None, 39.0, None],
        [total + " - điểm tối đa trong khoảng tin cậy 95%", None, 41.0, None],
        [total + " - sai số ", None, 0.6079, None],
        ["Chỉ số nội dung 1: Tham gia của người dân ở cấp cơ sở", "1-10 điểm", 5.0, 4.0],
        ["Phương sai (Chỉ số nội dung 1)", None, 0.04, 0.09],
        ["1.1: Tri thức công dân", "0.25-2.5 điểm", 1.0, 1.0],
        ["Chỉ tiêu a (%)", "0%-100%", "KCDL", None],  # blank everywhere: still numbered
        ["Chỉ tiêu b (%)", "0%-100%", 0.5, 0.25],
        ["Ghi chú: ô trống = không đủ 15 câu trả lời", None, None, None],
    ]
    _write_xlsx(f, {"T": rows})
    df = read_papi_workbook(f).set_index(["province_code", "code"])
    assert set(df.index.get_level_values("code")) == {"total", "d1", "d1_1", "d1_1_i1", "d1_1_i2"}
    la = df.loc[80]
    assert la.loc["total", "value"] == 40.0 and la.loc["total", "se"] == 0.6079
    assert (la.loc["total", "ci_low_published"], la.loc["total", "ci_high_published"]) == (39, 41)
    assert (la.loc["total", "scale_min"], la.loc["total", "scale_max"]) == (10, 80)
    assert la.loc["d1", "se"] == pytest.approx(0.2)  # sqrt of the published variance 0.04
    assert df.loc[(17, "d1"), "se"] == pytest.approx(0.3)
    assert math.isnan(df.loc[(17, "total"), "value"])
    assert math.isnan(la.loc["d1_1_i1", "value"]) and math.isnan(df.loc[(17, "d1_1_i1"), "value"])
    assert la.loc["d1_1_i2", "value"] == 0.5 and df.loc[(17, "d1_1_i2"), "value"] == 0.25
    assert la.loc["d1_1_i2", "label_vi"] == "Chỉ tiêu b (%)"
    assert (la.loc["d1_1_i2", "scale_min"], la.loc["d1_1_i2", "scale_max"]) == (0.0, 1.0)
    assert df.loc[(17, "d1"), "province_name"] == "Hòa Bình"


def test_province_ids_that_are_not_gso_codes_are_ignored(tmp_path):
    f = tmp_path / "PAPI_2019_dim.xlsx"
    header = ["Tinh_ID", "Province", "5: Public Administrative Procedures", "5.1: x", "5.2: y",
              "5.3: z", "5.4: w"]  # fmt: skip
    rows = [header, [84, "An Giang", 7.6, 1.9, 1.9, 1.9, 1.9], [42, "Bac Giang", 7.5, 2, 2, 2, 1.5]]
    _write_xlsx(f, {"2019PAPI_Dim 5": rows})
    df = read_papi_workbook(f)
    assert set(df["province_code"]) == {89, 24}  # by name; the ids are PAPI's own numbering


def test_unknown_province_and_unknown_layout(tmp_path):
    f = tmp_path / "PAPI_2013_bad.xlsx"
    _write_xlsx(f, {"S": [HEADER_2011, ["Long An", 5, 1, 1, 1, 2], ["Atlantis", 5, 1, 1, 1, 2]]})
    with pytest.raises(InputError, match=r"sheet 'S', cell A3: unknown province"):
        read_papi_workbook(f)
    g = tmp_path / "budget.xlsx"
    _write_xlsx(g, {"Thu chi": [["Khoản", "Số tiền"], ["Lương", 100]], "Ghi chú": [["x"]]})
    with pytest.raises(InputError, match=r"no sheet has a known PAPI result layout") as err:
        read_papi_workbook(g)
    assert err.value.file == str(g)
    assert "'Thu chi'" in str(err.value) and "Expected one of" in str(err.value)
    with pytest.raises(InputError, match="not a readable"):
        read_papi_workbook(_text_file(tmp_path))
    with pytest.raises(InputError, match="file not found"):
        read_papi_workbook(tmp_path / "missing.xlsx")


def _text_file(tmp_path):
    p = tmp_path / "notes.xlsx"
    p.write_text("this is not a workbook", encoding="utf-8")
    return p


def test_workbooks_merge_and_conflicts(tmp_path):
    a, b = tmp_path / "PAPI_2012_a.xlsx", tmp_path / "PAPI_2012_b.xlsx"
    _write_xlsx(a, {"S": [HEADER_2011, ["Long An", 5.0, 1.0, 1.0, 1.0, 2.0]]})
    _write_xlsx(b, {"S": [HEADER_2011, ["Long An", 5.0, 1.0, 1.0, 1.0, 2.0]]})
    both = read_papi_workbooks([a, b])
    assert len(both) == 5 and set(both["source_file"]) == {a.name}
    assert len(read_papi_workbooks([a, b], deduplicate=False)) == 10
    _write_xlsx(b, {"S": [HEADER_2011, ["Long An", 5.5, 1.0, 1.0, 1.0, 2.0]]})
    with pytest.raises(InputError, match="differs between"):
        read_papi_workbooks([a, b])


def test_province_names():
    table = provinces()
    assert len(table) == 63 and table["province_code"].is_unique
    assert int(table.loc[table.province_name == "Long An", "province_code"].iloc[0]) == 80
    cases = {
        "Hoà Bình": 17,
        unicodedata.normalize("NFD", "Hòa Bình"): 17,
        "TP. Hồ Chí Minh": 79,
        "Ho Chi Minh City": 79,
        "Thành phố Cần Thơ": 92,
        "Bà Rịa - Vũng Tàu": 77,
        "Ba Ria-Vung Tau": 77,
        "TT-Hue": 46,
        "Thừa Thiên-Huế": 46,
        "Đắk Lắk": 66,
        "Dak Nong": 67,
        "Tỉnh Long An": 80,
    }
    for name, code in cases.items():
        assert resolve_province(name) == code, name
    assert resolve_province("Highest") is None and resolve_province(None) is None


# ------------------------------------------------------------------------------------------
# Published SIPAS and PAPI figures
# ------------------------------------------------------------------------------------------


def test_published_sipas(tmp_path):
    src = REFERENCE_DIR / "published_sipas.csv"
    t = read_published_sipas(src)
    la = t[(t.province_code == LONG_AN) & (t["index"] == "SIPAS")].set_index("year")
    assert la.loc[2023, "value_pct"] == pytest.approx(78.66)
    assert la.loc[2023, "rank"] == 57 and la.loc[2024, "value_pct"] == pytest.approx(82.71)
    assert t.loc[t.scope == "national", "province_code"].isna().all()

    bad = tmp_path / "published_sipas.csv"
    shutil.copy(src, bad)
    n_lines = len(bad.read_text(encoding="utf-8").splitlines())
    with bad.open("a", encoding="utf-8") as fh:
        fh.write("2025,Long An,SIPAS,120,,63,sipas-2022,typo\n")
    with pytest.raises(InputError) as err:
        read_published_sipas(bad)
    assert err.value.column == "value_pct" and err.value.rows == [n_lines + 1]
    assert f"rows {n_lines + 1}" in str(err.value) and "120" in str(err.value)

    shutil.copy(src, bad)
    with bad.open("a", encoding="utf-8") as fh:
        fh.write(
            "2025,Atlantis,SIPAS,80,,63,sipas-2022,x\n2023,Long An,SIPAS,78.66,57,63,sipas-2022,x\n"
        )
    with pytest.raises(InputError, match="unknown scope") as err:
        read_published_sipas(bad)
    assert err.value.rows == [n_lines + 1]


def test_published_sipas_duplicates_and_columns(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text(
        "year,scope,index,value_pct,rank,n_provinces,methodology,source\n"
        "2023,Long An,SIPAS,78.66,57,63,sipas-2022,a\n"
        "2023,Long An,SIPAS,78.60,57,63,sipas-2022,b\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError, match="duplicate") as err:
        read_published_sipas(f)
    assert err.value.rows == [2, 3]
    f.write_text("year,scope,value_pct\n2023,national,80\n", encoding="utf-8")
    with pytest.raises(InputError, match="missing columns"):
        read_published_sipas(f)


def test_published_papi(tmp_path):
    src = REFERENCE_DIR / "longan_papi_dimensions_2011_2024.csv"
    t = read_published_papi(src)
    assert set(t["province_code"]) == {LONG_AN}
    row = t[(t.year == 2019) & (t.code == "total")].iloc[0]
    assert row["value"] == pytest.approx(41.7018) and row["rank"] == 54
    assert set(t["code"]) == {f"d{d}" for d in range(1, 9)} | {"total"}
    assert set(t["year"]) == set(range(2011, 2025))

    bad = tmp_path / "p.csv"
    lines = src.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace(",6.2574,", ",12.2574,")  # 2011 D3 outside 1–10
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_published_papi(bad)
    assert err.value.column == "long_an" and err.value.rows == [4]


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------


def test_cli_papi_official(tmp_path, capsys, papi_workbook):
    f2011 = papi_workbook("PAPI_2011_vie.xlsx")
    f2016 = papi_workbook("PAPI_2016_vie.xlsx")
    out = tmp_path / "out" / "papi.csv"
    code = cli.main(
        ["papi-official", str(f2011), str(f2016), "--out", str(out), "--province", "80"]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "2011–2016" in printed and "56" in printed
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert list(table.columns) == COLUMNS
    assert set(table["year"]) == {2011, 2016} and set(table["province_code"]) == {LONG_AN}
    assert len(table) == 2 * (6 + 22)
    d1 = table[(table.year == 2011) & (table.code == "d1")]["value"].iloc[0]
    assert abs(d1 - 5.7696) <= HALF_UNIT_4DP


def test_cli_rejects_non_papi_workbook(tmp_path, capsys):
    g = tmp_path / "budget.xlsx"
    _write_xlsx(g, {"Thu chi": [["Khoản", "Số tiền"], ["Lương", 100]]})
    out = tmp_path / "never.csv"
    code = cli.main(["papi-official", str(g), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "budget.xlsx" in err and "PAPI" in err and "Traceback" not in err
    assert not out.exists()


@pytest.mark.parametrize("name", sorted(SHEETS))
def test_rebuilt_workbook_reads_as_the_official_file(name, tmp_path):
    """The workbook rebuilt from data/reference reads exactly as the published file (when at hand)."""
    if OFFICIAL_DIR is None:  # a fresh clone: the rebuilt grids are checked against the sums above
        rebuilt = read_papi_workbook(workbook(name, tmp_path))
        assert len(rebuilt) > 0 and set(rebuilt["source_sheet"]) <= set(SHEETS[name])
        return
    original = read_papi_workbook(OFFICIAL_DIR / name).drop(columns="source_file")
    rebuilt = read_papi_workbook(workbook(name, tmp_path)).drop(columns="source_file")
    pd.testing.assert_frame_equal(rebuilt, original)
