"""The workbook reader (:mod:`sipas_analysis.xlsx`): the values a field team's workbook holds, as
written here by hand, and the same values as openpyxl reads them (the reader the package used
before, an independent implementation)."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pytest

from sipas_analysis.errors import InputError
from sipas_analysis.xlsx import read_sheets


def _openpyxl_grid(path, name):
    ws = openpyxl.load_workbook(path, data_only=True)[name]
    grid = [list(r) for r in ws.iter_rows(values_only=True)]
    for rng in ws.merged_cells.ranges:
        value = grid[rng.min_row - 1][rng.min_col - 1]
        for r in range(rng.min_row - 1, rng.max_row):
            for c in range(rng.min_col - 1, rng.max_col):
                grid[r][c] = value
    return grid


def _trim(grid):
    rows = [list(r) for r in grid]
    for r in rows:
        while r and r[-1] is None:
            r.pop()
    while rows and not rows[-1]:
        rows.pop()
    return rows


@pytest.fixture
def field_book(tmp_path):
    """A workbook as a field team makes one: a notes sheet first, a title merged across the
    columns two rows down, codes as numbers, an answer left as an Excel error, a date, a merged
    header that reaches beyond the last filled column."""
    path = tmp_path / "field.xlsx"
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Ghi chú"
    notes["A1"] = "Số liệu do tổ khảo sát nhập"
    ws = book.create_sheet("Số liệu")
    ws["B3"] = "KẾT QUẢ KHẢO SÁT"
    ws.merge_cells("B3:D3")
    ws.append(["Mã phiếu", "Mã xã", "Câu 9.1", "Ngày", "Trọng số", "Ghi chú"])
    ws.merge_cells("F4:H4")
    ws.append([1, 27562, 4, dt.date(2025, 10, 3), 12.5, None])
    ws.append([2, 27562, "#N/A", dt.datetime(2025, 10, 3, 9, 30), 1e20, "  có  "])
    ws.append([3, 27565, True, dt.time(14, 5), -0.0, "001"])
    book.create_sheet("Trống")
    book.save(path)
    return path


def test_values_as_written_by_the_field_team(field_book):
    names, grids = read_sheets(field_book, "field.xlsx")
    assert names == ["Ghi chú", "Số liệu", "Trống"]
    grid = _trim(grids["Số liệu"])
    assert grid[:2] == [[], []]  # two blank rows above the title, kept: rows count from A1
    assert grid[2] == [None, "KẾT QUẢ KHẢO SÁT", "KẾT QUẢ KHẢO SÁT", "KẾT QUẢ KHẢO SÁT"]
    assert grid[3] == ["Mã phiếu", "Mã xã", "Câu 9.1", "Ngày", "Trọng số"] + ["Ghi chú"] * 3
    first, second, third = grid[4:7]
    assert first == [1, 27562, 4, dt.datetime(2025, 10, 3), 12.5]
    assert all(type(v) is int for v in first[:3])  # codes stay whole numbers, not 27562.0
    assert second[2] == "#N/A"  # an Excel error is a value the checks report, not a blank
    assert second[3] == dt.datetime(2025, 10, 3, 9, 30)
    assert second[4] == 1e20 and type(second[4]) is float
    assert third[2] is True and third[3] == dt.time(14, 5) and third[5] == "001"
    assert _trim(grids["Trống"]) == []


def test_the_same_values_as_openpyxl(field_book):
    _names, grids = read_sheets(field_book, "field.xlsx")
    for name in ("Ghi chú", "Số liệu"):
        ours, theirs = _trim(grids[name]), _trim(_openpyxl_grid(field_book, name))
        # openpyxl keeps a cell of spaces; both are blank to the reader of a wave
        theirs = [[None if v == "  có  " else v for v in r] for r in theirs]
        ours = [[None if v in ("  có  ", "có") else v for v in r] for r in ours]
        assert ours == theirs, name


def test_one_sheet_by_name_or_position_and_merged_cells_left_alone(field_book):
    _names, grids = read_sheets(field_book, "field.xlsx", 1, fill_merged=False)
    assert list(grids) == ["Số liệu"]
    assert _trim(grids["Số liệu"])[2] == [None, "KẾT QUẢ KHẢO SÁT"]
    with pytest.raises(InputError, match="Không có") as err:
        read_sheets(field_book, "field.xlsx", "Không có")
    assert "field.xlsx" in str(err.value) and "Số liệu" in str(err.value)


def test_a_file_that_is_no_workbook_is_refused_by_name(tmp_path):
    path = tmp_path / "wave.xlsx"
    path.write_bytes(b"PK\x03\x04 not a workbook")
    with pytest.raises(InputError, match="wave.xlsx"):
        read_sheets(path, "wave.xlsx")
