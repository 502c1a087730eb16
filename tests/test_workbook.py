"""The Excel workbooks people open: ``ket_qua.xlsx`` of a run and the field team's problem report.

Each workbook is opened with openpyxl (not with the writer's own code) and checked as a reader
would see it: a first sheet "Đọc trước" that documents every sheet and every column; Vietnamese
headers only (no raw column name of a table); a number format on every decimal cell (0.0 for
SIPAS percent points, 0.00 for PAPI points, 0.000 for p/q); commune and area names beside their
codes; codes shown as labels; blank cells where values are missing; text never a formula; fitted
widths, frozen header and autofilter; sheet names with diacritics of at most 31 characters.
"""

from __future__ import annotations

import math
import re
import zipfile

import numpy as np
import openpyxl
import pandas as pd
import pytest

from sipas_analysis import validate, waves
from sipas_analysis.paths import WAVES_DIR
from sipas_analysis.report import display, labels, workbook

README = "Đọc trước"


# ---------------------------------------------------------------------------------------------
# Reading a workbook back
# ---------------------------------------------------------------------------------------------


def _sheet_rows(ws) -> list[list[object]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def _readme_tables(ws) -> dict[str, list[list[object]]]:
    """The tables of "Đọc trước" by section title: rows under the header row of a section."""
    rows = _sheet_rows(ws)
    sections: dict[str, list[list[object]]] = {}
    current = None
    for k, row in enumerate(rows):
        first = row[0] if row else None
        if first in {"Các trang", "Các cột của từng trang", "Danh mục mã"}:
            current = first
            sections[current] = []
            continue
        if current is None:
            continue
        if all(v is None for v in row):
            current = None
            continue
        if rows[k - 1][0] == current:  # the header row of the section
            continue
        sections[current].append(row)
    return sections


def _check_workbook(path, raw_columns: set[str]) -> openpyxl.Workbook:
    """The checks every workbook passes; returns the open workbook."""
    book = openpyxl.load_workbook(path)
    assert book.sheetnames[0] == README
    readme = _readme_tables(book[README])
    listed_sheets = [r[0] for r in readme["Các trang"]]
    assert listed_sheets == book.sheetnames, "Đọc trước must list every sheet, in order"
    documented = {(r[0], r[1]): r for r in readme["Các cột của từng trang"]}
    codes = {(r[0], str(r[1])): r[2] for r in readme.get("Danh mục mã", [])}
    for ws in book.worksheets[1:]:
        assert len(ws.title) <= 31
        header = [c.value for c in ws[1]]
        assert header and all(isinstance(h, str) and h for h in header), ws.title
        raw = set(header) & raw_columns
        assert not raw, f"{ws.title}: raw column names as headers: {raw}"
        assert len(set(header)) == len(header), f"{ws.title}: repeated headers"
        for h in header:
            entry = documented.get((ws.title, h))
            assert entry is not None, f"{ws.title}: column {h!r} not documented in Đọc trước"
            assert entry[2], f"{ws.title}: column {h!r} has no meaning in Đọc trước"
        # frozen header, autofilter over the table, fitted widths
        assert ws.freeze_panes is not None and ws.freeze_panes[1:] == "2", ws.title
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:"), ws.title
        for j, h in enumerate(header, start=1):
            width = ws.column_dimensions[openpyxl.utils.get_column_letter(j)].width
            assert width and width >= min(len(max(h.split(), key=len)), 60), (ws.title, h)
        # names beside codes
        for code_h, name_h in (
            ("Mã đơn vị", "Tên đơn vị"),
            ("Mã khu vực", "Khu vực"),
            ("Mã chỉ số", "Tên chỉ số"),
        ):
            if code_h in header:
                assert name_h in header, f"{ws.title}: {code_h} without {name_h}"
                ci, ni = header.index(code_h), header.index(name_h)
                for row in ws.iter_rows(min_row=2, values_only=True):
                    if row[ci] not in (None, ""):
                        assert row[ni] not in (None, ""), (ws.title, code_h, row[ci])
        # every decimal cell has a number format; no text is a formula
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, float) and cell.value != int(cell.value):
                    assert cell.number_format != "General", (ws.title, cell.coordinate)
                    assert cell.number_format in {"0.0", "0.00", "0.000", "#,##0"}, (
                        ws.title,
                        cell.coordinate,
                        cell.number_format,
                    )
                assert cell.data_type != "f", (ws.title, cell.coordinate)
                if isinstance(cell.value, float):
                    assert math.isfinite(cell.value)
    # every code list used is on Đọc trước
    assert codes, "Đọc trước lists no codes"
    return book


# ---------------------------------------------------------------------------------------------
# A small run's tables written by hand
# ---------------------------------------------------------------------------------------------


def _estimate(**kw) -> dict:
    row = {
        "survey": "sipas",
        "wave": "2024",
        "instrument": "sipas-2022",
        "level": "commune",
        "unit_code": "27931",
        "unit_name": "Thị trấn Hậu Nghĩa",
        "area_code": "802",
        "boundary_vintage": "pre2025",
        "subgroup": "",
        "index_level": "overall",
        "index_code": "sipas",
        "label_vi": "Chỉ số hài lòng SIPAS (tổng hợp)",
        "estimate": 81.456,
        "se": 1.234,
        "ci_low": 78.9,
        "ci_high": 83.75,
        "ci_level": 0.95,
        "n": 120,
        "flag": "ok",
        "flag_detail": "ok",
        "statistic": "top2",
        "parent_code": "",
    }
    row.update(kw)
    return row


@pytest.fixture
def tables() -> dict[str, pd.DataFrame]:
    est = pd.DataFrame(
        [
            _estimate(
                level="total",
                unit_code="total",
                unit_name="Toàn vùng khảo sát",
                area_code=None,
                n=900,
            ),
            _estimate(level="area", unit_code="802", unit_name="Huyện Đức Hòa", n=300),
            _estimate(),
            _estimate(
                index_level="element",
                index_code="tiep_can",
                label_vi="Tiếp cận dịch vụ",
                estimate=77.25,
                parent_code="dich_vu",
            ),
            # a suppressed cell: values already blank when they reach the writer
            _estimate(
                unit_code="27934",
                unit_name="Xã Đức Lập Hạ",
                n=8,
                flag="suppressed",
                flag_detail="suppressed;small_n",
                estimate=np.nan,
                se=np.nan,
                ci_low=np.nan,
                ci_high=np.nan,
            ),
            _estimate(
                level="subgroup",
                unit_code="total",
                unit_name="Toàn vùng khảo sát",
                area_code=None,
                subgroup="age_band=18-29",
                n=150,
            ),
            _estimate(
                survey="papi",
                instrument="papi-2018",
                level="area",
                unit_code="802",
                unit_name="Huyện Đức Hòa",
                index_level="dimension",
                index_code="d1",
                label_vi="Tham gia của người dân ở cấp cơ sở",
                estimate=5.1234,
                se=0.05,
                ci_low=5.02,
                ci_high=5.22,
                statistic="papi_score",
            ),
        ]  # fmt: skip
    )
    trends = pd.DataFrame(
        {
            "survey": ["sipas"],
            "unit_code": ["27931"],
            "unit_name": ["Thị trấn Hậu Nghĩa"],
            "level": ["commune"],
            "index_code": ["sipas"],
            "label_vi": ["Chỉ số hài lòng SIPAS (tổng hợp)"],
            "wave_from": ["2023"],
            "wave_to": ["2024"],
            "estimate_from": [79.5],
            "estimate_to": [81.456],
            "change": [1.956],
            "p_value": [0.0123],
            "significant": [True],
            "comparable": [True],
            "break_reason_vi": [""],
        }
    )
    ranks = pd.DataFrame(
        {
            "wave": ["2024"],
            "survey": ["sipas"],
            "unit_code": ["27931"],
            "index_code": ["tiep_can"],
            "rank_basis": ["estimate_model"],
            "rank": [3],
            "rank_low": [1],
            "rank_high": [9],
            "n_units": [60],
            "n": [120],
        }
    )
    problems = pd.DataFrame(
        {
            "survey": ["sipas"],
            "wave": ["2024"],
            "severity": ["warning"],
            "check": ["extra_columns"],
            "file": ["sipas_2024.xlsx"],
            "column": ['=HYPERLINK("x")'],  # a header that looks like a formula
            "rows": ["1"],
            "values": ["@SUM(A1)"],
            "message_vi": ["Cột thừa"],
            "message_en": ["Extra column"],
            "count": [1],
        }
    )
    return {"estimates": est, "trends": trends, "ranks": ranks, "problems": problems}


def _raw_columns(tables: dict[str, pd.DataFrame]) -> set[str]:
    return {c for t in tables.values() for c in t.columns}


def test_results_workbook_is_documented_and_formatted(tables, tmp_path):
    manifest = {
        "version": "9.9.9",
        "inputs": [
            {
                "config": "waves/sipas-2024.yaml",
                "config_sha256": "a" * 64,
                "data_file": "data/sample/sipas_2024.xlsx",
                "data_sha256": "b" * 64,
                "rows": {"rows_read": 10, "rows_kept": 9, "rows_excluded": 1},
            }
        ],
    }
    path = workbook.write_results(tables, tmp_path / "ket_qua.xlsx", manifest)
    book = _check_workbook(path, _raw_columns(tables))
    assert book.sheetnames == [
        "Đọc trước",
        "Tổng hợp SIPAS 2024",
        "Tổng hợp PAPI 2024",
        "Xu hướng",
        "Xếp hạng xã",
        "Ước lượng SIPAS 2024",
        "Ước lượng PAPI 2024",
        "Vấn đề dữ liệu",
    ]
    readme_text = " ".join(str(v) for r in _sheet_rows(book[README]) for v in r if v is not None)
    for fact in ("9.9.9", "a" * 64, "b" * 64, "waves/sipas-2024.yaml", "Ngày chạy", "n < 10"):
        assert fact in readme_text, fact

    ws = book["Ước lượng SIPAS 2024"]
    header = [c.value for c in ws[1]]
    rows = {r[header.index("Tên đơn vị")] + "|" + str(r[header.index("Mã chỉ số")]) + "|"
            + str(r[header.index("Nhóm người trả lời")]): r
            for r in ws.iter_rows(min_row=2, values_only=True)}  # fmt: skip
    commune = rows["Thị trấn Hậu Nghĩa|sipas|None"]
    assert commune[header.index("Ước lượng")] == pytest.approx(81.456)  # unrounded value
    assert commune[header.index("Cấp")] == "Xã/phường"  # a label, not the code "commune"
    assert commune[header.index("Khu vực")] == "Huyện Đức Hòa"
    assert commune[header.index("Ghi chú độ tin cậy")] == "Bình thường"
    assert "Nhóm tuổi 18–29" in {k.split("|")[2] for k in rows}
    suppressed = rows["Xã Đức Lập Hạ|sipas|None"]
    for h in ("Ước lượng", "Cận dưới KTC 95%", "Cận trên KTC 95%", "Sai số chuẩn"):
        assert suppressed[header.index(h)] is None  # blank, not 0, not an error
    assert suppressed[header.index("Ghi chú độ tin cậy")] == "Bị ẩn (n < 10)"
    # formats: percent points, PAPI points, p-values, counts
    est_col = header.index("Ước lượng") + 1
    cells = [ws.cell(r, est_col) for r in range(2, ws.max_row + 1)]
    formats = {c.number_format for c in cells if c.value is not None}
    assert formats == {"0.0"}
    papi = book["Ước lượng PAPI 2024"]
    ph = [c.value for c in papi[1]]
    assert papi.cell(2, ph.index("Ước lượng") + 1).number_format == "0.00"
    assert papi.cell(2, ph.index("Số người trả lời") + 1).number_format == "0"
    tr = book["Xu hướng"]
    th = [c.value for c in tr[1]]
    assert tr.cell(2, th.index("Giá trị p") + 1).number_format == "0.000"
    assert tr.cell(2, th.index("Có ý nghĩa thống kê") + 1).value == "Có"
    # names added beside the codes of a table that has none
    rk = book["Xếp hạng xã"]
    rh = [c.value for c in rk[1]]
    assert rk.cell(2, rh.index("Tên đơn vị") + 1).value == "Thị trấn Hậu Nghĩa"
    assert rk.cell(2, rh.index("Tên chỉ số") + 1).value == "Tiếp cận dịch vụ"
    assert rk.cell(2, rh.index("Khu vực") + 1).value == "Huyện Đức Hòa"
    # text that looks like a formula stays text
    vd = book["Vấn đề dữ liệu"]
    vh = [c.value for c in vd[1]]
    cell = vd.cell(2, vh.index("Cột") + 1)
    assert cell.value == '=HYPERLINK("x")' and cell.data_type == "s"
    # the summary sheet: units sorted by area, names, intervals and flags per index
    sm = book["Tổng hợp SIPAS 2024"]
    sh = [c.value for c in sm[1]]
    units = [r[sh.index("Tên đơn vị")] for r in sm.iter_rows(min_row=2, values_only=True)]
    assert units == ["Toàn vùng khảo sát", "Huyện Đức Hòa", "Thị trấn Hậu Nghĩa", "Xã Đức Lập Hạ"]
    for h in (
        "Chỉ số hài lòng SIPAS (tổng hợp) (%)",
        "Chỉ số hài lòng SIPAS (tổng hợp): cận dưới KTC 95%",
        "Chỉ số hài lòng SIPAS (tổng hợp): ghi chú",
        "Tiếp cận dịch vụ (%)",
    ):
        assert h in sh, h
    last = list(sm.iter_rows(min_row=5, max_row=5, values_only=True))[0]
    assert last[sh.index("Chỉ số hài lòng SIPAS (tổng hợp) (%)")] is None
    assert last[sh.index("Chỉ số hài lòng SIPAS (tổng hợp): ghi chú")] == "Bị ẩn (n < 10)"


def test_labels_and_subgroups():
    assert labels.subgroup_label("sex=1") == "Giới tính: Nam"
    assert labels.subgroup_label("urban_rural=2") == "Khu vực sống: Nông thôn"
    assert labels.subgroup_label("age_band=60+") == "Nhóm tuổi 60+"
    assert labels.subgroup_label("") == ""
    assert labels.label("flag_detail", "suppressed;small_n") == (
        "Bị ẩn (n < 10); Ít người trả lời (n < 30)"
    )
    assert labels.label("boundary_vintage", "2025") == "Từ 7/2025 (19 xã mới)"
    assert labels.label("level", "unknown-code") == "unknown-code"
    assert workbook.sheet_name("Ước lượng {survey} {wave}: a/b?" * 2, survey="SIPAS", wave="1") == (
        "Ước lượng SIPAS 1- a-b-Ước lượn"  # ":" "/" "?" are not allowed in sheet names
    )


def test_display_frame_is_vietnamese(tables):
    shown = display.display_frame(
        tables["estimates"], ["unit_name", "subgroup", "estimate", "ci_low", "n", "flag"]
    )
    assert list(shown.columns) == [
        "Tên đơn vị",
        "Nhóm người trả lời",
        "Ước lượng",
        "Cận dưới KTC 95%",
        "Số người trả lời",
        "Ghi chú độ tin cậy",
    ]
    assert shown["Ước lượng"].iloc[2] == "81,5"  # SIPAS: percent points, decimal comma
    assert shown["Ước lượng"].iloc[6] == "5,12"  # PAPI points
    assert shown["Ước lượng"].iloc[4] == ""  # suppressed: blank
    assert shown["Số người trả lời"].iloc[0] == "900"
    assert shown["Nhóm người trả lời"].iloc[5] == "Nhóm tuổi 18–29"
    empty = display.display_table(tables["estimates"].iloc[:0], empty="Không có xã nào.")
    assert "Không có xã nào." in empty.data


def test_field_team_problems_workbook(tmp_path):
    loaded = waves.read_wave(WAVES_DIR / "sipas-2024.yaml")
    paths = validate.write_report(loaded, tmp_path)
    raw = set(validate.PROBLEM_COLUMNS) | set(loaded.exclusions.columns) | {"severity_vi"}
    book = _check_workbook(paths["xlsx"], raw)
    assert book.sheetnames == ["Đọc trước", "Vấn đề", "Dòng bị loại", "Tổng hợp",
                               "Theo loại kiểm tra"]  # fmt: skip
    ws = book["Vấn đề"]
    header = [c.value for c in ws[1]]
    assert header[:2] == ["Mức độ", "Loại kiểm tra"]
    severities = {r[0] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert severities <= {"Lỗi", "Cảnh báo", "Thông tin"} and severities
    assert len(list(ws.iter_rows(min_row=2))) == len(loaded.problems)
    summary = book["Tổng hợp"]
    assert [c.value for c in summary[1]] == ["Mục", "Giá trị"]
    first = [c for c in summary[2]]
    assert first[0].value.startswith("Số dòng đọc") and first[1].value == int(
        loaded.accounting["rows_read"]
    )
    assert first[1].number_format == "0"
    excl = book["Dòng bị loại"]
    assert len(list(excl.iter_rows(min_row=2))) == len(loaded.exclusions)
    readme = " ".join(str(v) for r in _sheet_rows(book[README]) for v in r if v is not None)
    assert "sipas-2024.yaml" in readme and "SIPAS 2024" in readme


# ---------------------------------------------------------------------------------------------
# The workbook of a full run of every sample wave
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run_book(session_run):
    folder = session_run.out / "tables"
    tables = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    return tables, folder / "ket_qua.xlsx"


def test_run_workbook(run_book):
    tables, path = run_book
    book = _check_workbook(path, _raw_columns(tables))
    est = tables["estimates"]
    pairs = est[["survey", "wave"]].drop_duplicates().itertuples(index=False)
    for survey, wave in pairs:
        for kind in ("Tổng hợp", "Ước lượng"):
            assert f"{kind} {survey.upper()} {wave}" in book.sheetnames
    # the estimates, split by wave, hold every row once
    split = sum(book[n].max_row - 1 for n in book.sheetnames if n.startswith("Ước lượng "))
    assert split == len(est)
    for key, name in (("trends", "Xu hướng"), ("findings", "Điểm yếu"), ("ranks", "Xếp hạng xã")):
        assert book[name].max_row - 1 == len(tables[key]), name
    acc = book["Số dòng"]
    ah = [c.value for c in acc[1]]
    read = [r[ah.index("Số dòng đọc")] for r in acc.iter_rows(min_row=2, values_only=True)]
    assert read == tables["accounting"]["rows_read"].tolist()


def test_run_workbook_shows_no_value_on_n_below_10(run_book):
    _, path = run_book
    book = openpyxl.load_workbook(path, read_only=True)
    values = ("Ước lượng", "Cận dưới KTC 95%", "Cận trên KTC 95%", "Sai số chuẩn")
    shown = []
    for name in book.sheetnames:
        if not name.startswith("Ước lượng "):
            continue
        rows = book[name].iter_rows(values_only=True)
        header = list(next(rows))
        n_col = header.index("Số người trả lời")
        for row in rows:
            if row[n_col] is not None and row[n_col] < 10:
                shown += [row[header.index(h)] for h in values if row[header.index(h)] is not None]
    assert not shown, f"{len(shown)} values shown on cells with n < 10"


def test_empty_and_text_typed_tables_are_written(tables, tmp_path):
    """A run without subgroups or weak points gives empty tables and all-missing object columns."""
    tables["findings"] = pd.DataFrame(
        {"survey": pd.Series([], dtype=object), "estimate": pd.Series([], dtype=object)}
    )
    tables["trends"]["estimate_from"] = pd.Series([None], dtype=object)
    tables["trends"]["change"] = pd.Series([1.5], dtype=object)
    path = workbook.write_results(tables, tmp_path / "k.xlsx")
    book = openpyxl.load_workbook(path)
    assert book["Điểm yếu"].max_row == 1  # the header only
    tr = book["Xu hướng"]
    th = [c.value for c in tr[1]]
    assert tr.cell(2, th.index("Giá trị đợt đầu") + 1).value is None
    change = tr.cell(2, th.index("Thay đổi") + 1)
    assert change.value == 1.5 and change.number_format == "0.0"  # SIPAS: percent points


def test_workbook_cells_equal_those_written_cell_by_cell(tmp_path):
    """The data rows (rendered in bulk, :func:`workbook._bulk_rows`) read back as the cells they
    stand for: values, types, number formats, wrapping, empty cells and empty rows, the last row
    and the sheet's dimension; text with XML characters and repeated texts stay text."""
    long_text = "Ý kiến rất dài của người dân về thủ tục hành chính " * 2
    frame = pd.DataFrame(
        {
            "estimate": [81.25, 6.123456789012345, np.nan, np.nan, 1e-7],
            "n": pd.array([12, None, None, 0, 30000], dtype="Int64"),
            "note": ['a & b <c> "d"', None, None, long_text, 'a & b <c> "d"'],
            "mixed": [True, 3, None, 2.5, "chữ"],
        }
    )
    sheet = workbook.Sheet(
        name="Thử",
        about="thử",
        frame=frame,
        columns=[
            workbook.Column("estimate", "Giá trị", "", fmt="points"),
            workbook.Column("n", "Số người", "", fmt=None),
            workbook.Column("note", "Ghi chú", "", fmt=None),
            workbook.Column("mixed", "Lẫn", "", fmt=None),
        ],
        points=np.array(["pct", "papi", "pct", "pct", "papi"]),
    )
    path = workbook.write_workbook(tmp_path / "t.xlsx", [sheet], workbook.Readme(title="t"))
    ws = openpyxl.load_workbook(path)["Thử"]
    assert ws.max_row == 6 and ws.max_column == 4  # header + 5 rows (row 4 has no cell)
    got = [[(c.value, c.number_format) for c in row] for row in ws.iter_rows(min_row=2)]
    assert got[0] == [(81.25, "0.0"), (12, "0"), ('a & b <c> "d"', "General"), ("Có", "General")]
    assert got[1][0] == (6.123456789012345, "0.00")  # 16 significant digits kept
    assert [v for v, _ in got[1][1:]] == [None, None, 3]
    assert got[1][3] == (3, "0")
    assert [v for v, _ in got[2]] == [None] * 4  # a row without any value
    assert got[3][1:] == [(0, "0"), (long_text, "General"), (2.5, "0.00")]
    assert ws.cell(5, 3).alignment.wrap_text  # long text wraps (the whole column)
    assert got[4] == [
        (1e-7, "0.00"),
        (30000, "0"),
        ('a & b <c> "d"', "General"),
        ("chữ", "General"),
    ]
    assert ws.cell(6, 3).data_type == "s" and ws.cell(2, 1).data_type == "n"
    assert ws.auto_filter.ref == "A1:D6" and ws.freeze_panes == "A2"
    with zipfile.ZipFile(path) as z:  # the sheet's own dimension covers the rows written
        assert '<dimension ref="A1:D6"/>' in z.read("xl/worksheets/sheet2.xml").decode()
        sheets = [z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
        sst = z.read("xl/sharedStrings.xml").decode()
        styles = z.read("xl/styles.xml").decode()
    # the shared-string table counts every string cell of the workbook, each text once
    refs = sum(x.count(' t="s"') for x in sheets)
    assert re.search(r'<sst [^>]*count="(\d+)"', sst).group(1) == str(refs)
    # every cell format in styles.xml is used by a cell, a row or a column
    n_xf = int(re.search(r'<cellXfs count="(\d+)"', styles).group(1))
    used = {int(k) for x in sheets for k in re.findall(r' (?:s|style)="(\d+)"', x)}
    assert set(range(1, n_xf)) <= used


def test_rows_beyond_the_last_row_of_excel_are_left_out(tmp_path, monkeypatch):
    """As XlsxWriter's write_* calls do (a sheet's Parquet table keeps them): with Excel's last
    row made row 4, a sheet of 5 data rows keeps its header and the first 3 rows."""
    from xlsxwriter.worksheet import Worksheet

    init = Worksheet.__init__

    def small(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.xls_rowmax = 4

    monkeypatch.setattr(Worksheet, "__init__", small)
    frame = pd.DataFrame({"n": [1, 2, 3, 4, 5], "note": list("abcde")})
    sheet = workbook.Sheet(
        name="Thử",
        about="thử",
        frame=frame,
        columns=[workbook.Column("n", "Số", "", fmt=None), workbook.Column("note", "Chữ", "")],
    )
    path = workbook.write_workbook(tmp_path / "t.xlsx", [sheet], workbook.Readme(title="t"))
    ws = openpyxl.load_workbook(path)["Thử"]
    assert [[c.value for c in row] for row in ws.iter_rows()] == [
        ["Số", "Chữ"],
        [1, "a"],
        [2, "b"],
        [3, "c"],
    ]


def test_a_table_longer_than_a_sheet_goes_on_in_the_next_sheets(tmp_path, monkeypatch):
    """With a sheet made 4 rows long (header + 3), a table of 7 rows fills "Thử", "Thử (2)" and
    "Thử (3)": every row once, in order, each part with its own filter, and "Đọc trước" gives
    each part's row count and which rows it holds."""
    monkeypatch.setattr(workbook, "SHEET_ROWS_MAX", 4)
    frame = pd.DataFrame({"n": range(1, 8), "note": list("abcdefg")})
    sheet = workbook.Sheet(
        name="Thử",
        about="Bảng thử",
        frame=frame,
        columns=[workbook.Column("n", "Số", "", fmt=None), workbook.Column("note", "Chữ", "")],
    )
    path = workbook.write_workbook(tmp_path / "t.xlsx", [sheet], workbook.Readme(title="t"))
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [workbook.README_SHEET, "Thử", "Thử (2)", "Thử (3)"]
    rows = []
    for name, ref in [("Thử", "A1:B4"), ("Thử (2)", "A1:B4"), ("Thử (3)", "A1:B2")]:
        ws = book[name]
        got = [[c.value for c in row] for row in ws.iter_rows()]
        assert got[0] == ["Số", "Chữ"] and ws.auto_filter.ref == ref
        rows += got[1:]
    assert rows == [[k, c] for k, c in zip(range(1, 8), "abcdefg", strict=True)]
    readme = [[c.value for c in row] for row in book[workbook.README_SHEET].iter_rows()]
    listed = {
        r[0]: r for r in readme if r[0] in ("Thử", "Thử (2)", "Thử (3)") and isinstance(r[1], int)
    }
    assert {k: r[1] for k, r in listed.items()} == {"Thử": 3, "Thử (2)": 3, "Thử (3)": 1}
    assert "phần 3/3: dòng 7–7" in listed["Thử (3)"][2]
