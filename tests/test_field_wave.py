"""The field-style wave generator (sipas_analysis.field_sample): files that look like a field team's.

Checked on the files themselves, read with openpyxl / csv / pyreadstat (not with the package's
reader): the title row, the long headers and their small wording differences, the recurring village
labels, the missing design columns, the name column, the planted commune effects, the seed.
"""

from __future__ import annotations

import csv
import hashlib

import pytest

from sipas_analysis import geography
from sipas_analysis.field_sample import DEFAULT_PLANTED, HEADER_MAX, make_field_wave


@pytest.fixture(scope="module")
def field_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("field")
    return {fmt: make_field_wave(d / f"khao_sat_2026.{fmt}", seed=11) for fmt in ("xlsx", "csv")}


def _csv_rows(path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_csv_has_a_title_row_then_the_header(field_files):
    rows = _csv_rows(field_files["csv"].path)
    assert len(rows[0]) == 1 and rows[0][0].startswith("KẾT QUẢ KHẢO SÁT")
    assert field_files["csv"].header_row == 2
    header = rows[1]
    assert "Trọng số" in header and "hoten" in header
    assert len(rows) - 2 == field_files["csv"].n_rows


def test_xlsx_title_row_blank_row_then_header(field_files):
    from openpyxl import load_workbook

    wb = load_workbook(field_files["xlsx"].path, read_only=True)
    rows = [list(r) for r in wb.active.iter_rows(values_only=True)]
    wb.close()
    assert rows[0][0].startswith("KẾT QUẢ KHẢO SÁT") and all(v is None for v in rows[0][1:])
    assert all(v is None for v in rows[1])
    assert field_files["xlsx"].header_row == 3
    assert rows[2][:7] == [
        "STT",
        "Mã phiếu",
        "hoten",
        "Xã/Phường",
        "Ấp/Khu phố",
        "Giới tính",
        "Độ tuổi",
    ]


def test_headers_are_long_and_slightly_off_the_instrument(field_files):
    from sipas_analysis.instruments import load_instrument

    inst = load_instrument("sipas-2022")
    sat = list(inst.satisfaction_items()["code"])
    headers = field_files["csv"].headers
    assert set(sat) <= set(headers)
    assert all(len(h) <= HEADER_MAX for h in headers.values())
    assert max(len(headers[c]) for c in sat) >= HEADER_MAX - 2  # 9.12 is cut at 240 characters
    assert headers["cs_chat_luong_8"].startswith("Câu 9.12")
    assert any(" . " in h for h in headers.values())  # a space before a full stop
    labels = dict(zip(inst.items["code"], inst.items["label_vi"], strict=True))
    missing_paren = [c for c in sat if labels[c].endswith(")") and not headers[c].endswith(")")]
    assert missing_paren
    exact = [
        c
        for c in sat
        if headers[c] == f"{inst.items.set_index('code').at[c, 'question']}. {labels[c]}"
    ]
    assert len(exact) < len(sat)


def test_design_as_a_field_team_has_it(field_files):
    rows = _csv_rows(field_files["csv"].path)
    header, data = rows[1], rows[2:]
    folded = [h.lower() for h in header]
    assert not any(k in folded for k in ("tầng", "strata", "psu", "mã ấp"))
    ci, vi = header.index("Xã/Phường"), header.index("Ấp/Khu phố")
    villages = {r[vi] for r in data}
    assert villages == {"Ấp 1", "Ấp 2", "Ấp 3"}
    resolved = geography.resolve_communes([r[ci] for r in data], "2025")
    assert (resolved["status"] == "ok").all()
    assert resolved["commune_code"].nunique() == 19
    spellings = {r[ci] for r in data}
    assert any("Hoà" in s for s in spellings) and any(s.startswith("xã") for s in spellings)
    assert any(not s.strip().lower().startswith(("xã", "phường")) for s in spellings)
    ages = {r[header.index("Độ tuổi")] for r in data}
    assert ages <= {"1", "2", "3", "4", "5", "98", "99"}
    weights = [float(r[header.index("Trọng số")]) for r in data]
    assert min(weights) > 0 and max(weights) / min(weights) > 2


def test_name_column_holds_fake_names(field_files):
    rows = _csv_rows(field_files["csv"].path)
    names = [r[rows[1].index("hoten")] for r in rows[2:]]
    assert names == field_files["csv"].personal_values
    assert all(2 <= len(n.split()) <= 5 for n in names)


def test_planted_communes_are_clearly_below(field_files):
    truth = field_files["csv"].truth
    assert set(truth.loc[truth["planted"], "commune_code"]) == set(DEFAULT_PLANTED)
    for code in DEFAULT_PLANTED:
        row = truth.set_index("commune_code").loc[code]
        rest = truth[(truth["area_code"] == row["area_code"]) & ~truth["planted"]]
        assert row["expected_satisfied_pct"] < rest["expected_satisfied_pct"].min() - 10


def test_same_seed_same_file(tmp_path):
    a = make_field_wave(tmp_path / "a.csv", seed=4)
    b = make_field_wave(tmp_path / "b.csv", seed=4)
    c = make_field_wave(tmp_path / "c.csv", seed=5)
    digest = [hashlib.sha256(x.path.read_bytes()).hexdigest() for x in (a, b, c)]
    assert digest[0] == digest[1] != digest[2]


def test_sav_short_names_and_cut_labels(tmp_path):
    import pyreadstat

    fw = make_field_wave(tmp_path / "f.sav", seed=11)
    frame, meta = pyreadstat.read_sav(str(fw.path))
    assert {"q9_12", "xa", "ap", "trongso", "hoten", "dotuoi"} <= set(frame.columns)
    labels = meta.column_names_to_labels
    assert all(len((v or "").encode("utf-8")) <= 256 for v in labels.values())
    assert labels["q9_12"].startswith("Câu 9.12")
    assert meta.variable_value_labels["q9_12"][5] == "Rất hài lòng"
