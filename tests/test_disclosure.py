"""Disclosure control: small cells, differencing, formula injection, personal values.

Unit tests of :mod:`sipas_analysis.disclosure` on hand-made tables (expected values worked out
here), then a scan of every output file of the sample run (workbooks, CSVs, PDF text) and of a
run on a wave with hostile values in every raw text that reaches an output.
"""

from __future__ import annotations

import csv
import shutil
import subprocess

import numpy as np
import openpyxl
import pandas as pd
import pytest
from test_validate import _write, base  # noqa: F401 - base is a pytest fixture

from sipas_analysis import cli, disclosure
from sipas_analysis.disclosure import MASK
from sipas_analysis.report import labels

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PERSONAL = ("0901234567", "0912 345 678", "079203001234", "an.nguyen@mail.vn")


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("start", FORMULA_START)
def test_every_formula_start_is_neutralised(start):
    text = start + "HYPERLINK(1)"
    assert disclosure.safe_text(text) == "'" + text
    assert disclosure.safe_text("Xã " + text) == "Xã " + text  # only at the start


@pytest.mark.parametrize(
    "text",
    [
        "0901234567",
        "gọi 0901 234 567 nhé",
        "+84912345678",
        "84-912-345-678",
        "CCCD 079203001234",
        "CMND 123456789",
        "email an.nguyen@mail.vn",
    ],
)
def test_personal_values_are_masked_inside_any_text(text):
    out = disclosure.mask_personal(text)
    assert MASK in out
    assert not any(ch.isdigit() for ch in out.replace(MASK, "").replace("CCCD", ""))
    assert "@" not in out


@pytest.mark.parametrize(
    "text",
    [
        "dòng 12, 57, 1234",
        "trọng số 0.123456789",
        "1234567.5",
        "mã 27871",
        "2022-09-12",
        "PA22-0109",
    ],
)
def test_ordinary_numbers_are_not_masked(text):
    assert disclosure.mask_personal(text) == text


def test_control_characters_are_escaped():
    assert disclosure.safe_text("a\x01b\x1fc\td") == "a\\x01b\\x1fc\td"


def _communes() -> pd.DataFrame:
    """An area of four communes (n = 5, 30, 12, 40) and the area row, one index."""
    rows = [
        ("area", "794", pd.NA, 71.0, 87),
        ("commune", "c1", 794, 60.0, 5),
        ("commune", "c2", 794, 70.0, 30),
        ("commune", "c3", 794, 80.0, 12),
        ("commune", "c4", 794, 72.0, 40),
    ]
    df = pd.DataFrame(rows, columns=["level", "unit_code", "area_code", "estimate", "n"])
    df["area_code"] = df["area_code"].astype("Int64")
    return df.assign(
        survey="sipas",
        wave="2024",
        index_code="sipas",
        subgroup="",
        ci_low=df["estimate"] - 5,
        ci_high=df["estimate"] + 5,
        weight_total=df["n"] * 10.0,
        rank=pd.array([pd.NA, 4, 3, 1, 2], dtype="Int64"),
        flag=np.where(df["n"] < 10, "suppressed", np.where(df["n"] < 30, "small_n", "ok")),
    )


def test_small_cells_and_their_differencing_partner_are_blank():
    est = _communes()
    out = disclosure.suppress_tables({"estimates": est})["estimates"].set_index("unit_code")
    # c1 (n = 5) blanked; c3 (n = 12, the smallest other commune) blanked as well, because
    # area total minus c2 and c4 would give c1 back.
    for unit in ("c1", "c3"):
        row = out.loc[unit]
        for col in ("estimate", "ci_low", "ci_high", "weight_total", "rank"):
            assert pd.isna(row[col]), (unit, col)
    assert out.loc["c3", "flag"] == "small_n;suppressed_secondary"
    assert out.loc["c1", "n"] == 5 and out.loc["c1", "flag"] == "suppressed"
    assert out.loc["c2", "estimate"] == 70.0 and out.loc["c4", "rank"] == 2
    assert out.loc["794", "estimate"] == 71.0
    # with two communes blanked no second partner is needed
    est2 = _communes()
    est2.loc[2, "n"] = 8
    out2 = disclosure.suppress_tables({"estimates": est2})["estimates"].set_index("unit_code")
    assert out2["estimate"].isna().sum() == 2 and out2.loc["c3", "estimate"] == 80.0


def test_other_tables_follow_the_estimates():
    est = _communes()
    findings = pd.DataFrame(
        {
            "survey": "sipas",
            "wave": "2024",
            "unit_code": ["c3", "c2"],
            "index_code": "sipas",
            "estimate": [80.0, 70.0],
            "reasons": ["thấp", "thấp"],
            "n": [12, 30],
        }
    )
    trends = pd.DataFrame(
        {
            "survey": "sipas",
            "unit_code": ["c1", "c3", "c2"],
            "index_code": "sipas",
            "subgroup": "",
            "wave_from": "2023",
            "wave_to": "2024",
            "estimate_from": [55.0, 70.0, 69.0],
            "estimate_to": [60.0, 80.0, 70.0],
            "change": [5.0, 10.0, 1.0],
            "p_value": [0.5, 0.01, 0.9],
            "significant": [False, True, False],
            "n_from": [20, 20, 30],
            "n_to": [5, 12, 30],
        }
    )
    out = disclosure.suppress_tables({"estimates": est, "findings": findings, "trends": trends})
    f = out["findings"].set_index("unit_code")
    assert pd.isna(f.loc["c3", "estimate"]) and pd.isna(f.loc["c3", "reasons"])
    assert f.loc["c2", "estimate"] == 70.0
    t = out["trends"].set_index("unit_code")
    assert t.loc["c1", "estimate_from"] == 55.0 and pd.isna(t.loc["c1", "estimate_to"])
    assert pd.isna(t.loc["c3", "estimate_to"]) and pd.isna(t.loc["c3", "change"])
    assert pd.isna(t.loc["c3", "significant"]) and pd.isna(t.loc["c1", "p_value"])
    assert t.loc["c2", "change"] == 1.0


# ---------------------------------------------------------------------------------------------
# Scans of real outputs
# ---------------------------------------------------------------------------------------------


def _xlsx_cells(path):
    book = openpyxl.load_workbook(path)
    for ws in book:
        for row in ws.iter_rows():
            for c in row:
                yield ws.title, c


def _scan_text(texts, where):
    for v in texts:
        assert not v.startswith(FORMULA_START), (where, v[:80])
        for p in PERSONAL:
            assert p not in v, (where, v[:80])


def scan_output_folder(out):
    """No live formula, no formula start, no planted personal value in any workbook or CSV;
    no value beside a cell on n < 10 in the result workbook."""
    files = [p for p in out.rglob("*") if p.is_file()]
    for path in files:
        if path.suffix == ".xlsx":
            cells = list(_xlsx_cells(path))
            live = [(s, c.coordinate) for s, c in cells if c.data_type == "f"]
            assert not live, (path.name, live[:5])
            _scan_text([c.value for _, c in cells if isinstance(c.value, str)], path.name)
        elif path.suffix == ".csv":
            with open(path, encoding="utf-8-sig", newline="") as fh:
                _scan_text([v for row in csv.reader(fh) for v in row], path.name)
    book = out / "tables" / "ket_qua.xlsx"
    if book.exists():
        wb = openpyxl.load_workbook(book, read_only=True)
        checks = (
            ("Ước lượng ", ("estimate", "ci_low", "ci_high", "se", "estimate_model")),
            ("Xếp hạng xã", ("rank", "rank_low", "rank_high")),
            ("Điểm yếu", ("estimate", "ci_low", "ci_high", "rank")),
        )
        seen = set()
        for prefix, value_cols in checks:
            for sheet in [s for s in wb.sheetnames if s.startswith(prefix)]:
                seen.add(prefix)
                rows = list(wb[sheet].iter_rows(values_only=True))
                header = list(rows[0])
                n_at = header.index(labels.header("n"))
                heads = [labels.header(c) for c in value_cols]
                at = [header.index(h) for h in heads if h in header]
                assert at, (sheet, heads)
                small = [r for r in rows[1:] if isinstance(r[n_at], int | float) and r[n_at] < 10]
                for r in small:
                    assert all(r[j] is None for j in at), (sheet, r)
        assert seen == {p for p, _ in checks}, seen
    return files


def test_sample_run_outputs_hold_no_small_cell_formula_or_personal_value(session_run):
    out = session_run.out
    files = scan_output_folder(out)
    assert any(p.name == "ket_qua.xlsx" for p in files)
    # the workbook really had small cells to blank (else the scan proves nothing)
    est = pd.read_parquet(out / "tables" / "estimates.parquet")
    assert (est["n"] < 10).sum() > 100
    # PDF text: no figure printed for a suppressed cell of the brief's wave
    _scan_briefs(out, est)


def _scan_briefs(out, est, personal=()):
    """PDF text of every brief: no formula start, no personal value (the planted ones and
    ``personal``), no estimate printed on the line of a unit whose cell has n < 10."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext not installed")
    pdfs = sorted((out / "briefs").rglob("*.pdf"))
    assert pdfs
    text = "\n".join(
        subprocess.run(["pdftotext", "-layout", str(p), "-"], capture_output=True, text=True).stdout
        for p in pdfs
    )
    _scan_text(text.splitlines(), "briefs")
    leaks = [v for v in personal if v in text]
    assert not leaks, leaks[:5]
    wave = pdfs[0].parent.name
    small = est[(est["wave"] == wave) & (est["n"] < 10) & (est["subgroup"].fillna("") == "")]
    for row in small.itertuples():
        shown = f"{row.estimate:.1f}".replace(".", ",")
        for line in text.splitlines():
            if str(row.unit_name) in line:
                assert shown not in line, (row.unit_name, row.index_code, line)
    return text


def test_field_style_run_outputs_hold_no_small_cell_formula_or_personal_value(tmp_path, capsys):
    """The same scan on a whole run of a field-style wave (the generator of the "New waves"
    issue: title row, long headers, a name column, villages without codes), configured the way
    an analyst does it (``sipas init-wave`` draft, then ``sipas run``)."""
    from sipas_analysis.field_sample import make_field_wave
    from sipas_analysis.init_wave import draft_config

    (tmp_path / "data").mkdir()
    (tmp_path / "waves").mkdir()
    fw = make_field_wave(tmp_path / "data" / "khao_sat_2026.xlsx", seed=11)
    config = tmp_path / "waves" / "sipas-2026.yaml"
    config.write_text(draft_config(fw.path, "sipas-2022", "2026", out=config).text, "utf-8")
    out = tmp_path / "reports"
    code = cli.main(["run", "--waves-dir", str(tmp_path / "waves"), "--out", str(out), "--quiet"])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    files = scan_output_folder(out)
    assert any(p.name == "ket_qua.xlsx" for p in files)
    # the respondents' names (the file's personal column) appear in no output file
    names = sorted({str(v) for v in fw.personal_values if len(str(v)) > 8})
    assert names
    for path in files:
        if path.suffix in (".csv", ".xlsx", ".md", ".txt", ".json", ".yaml"):
            if path.suffix == ".xlsx":
                text = "\n".join(str(c.value) for _, c in _xlsx_cells(path) if c.value)
            else:
                text = path.read_text("utf-8", errors="ignore")
            leaks = [v for v in names if v in text]
            assert not leaks, (path.name, leaks[:3])
    est = pd.read_parquet(out / "tables" / "estimates.parquet")
    assert (est["n"] < 10).any()  # cells to blank exist, so the scan has something to catch
    _scan_briefs(out, est, personal=names)


def test_hostile_values_in_every_raw_text_column_reach_no_output(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.copy().astype(object)
    hostile = '=HYPERLINK("http://example.invalid","bấm")'
    frame.loc[1, base.id_col] = "+cmd|' /C calc'!A0"  # an id, in a row excluded below
    frame.loc[1, base.item_col] = 7
    frame.loc[2, base.commune_col] = hostile  # unknown commune: its value is reported
    frame.loc[3, base.item_col] = "@SUM(A1:A9)"
    frame.loc[4, base.item_col] = "-1+1"
    frame.loc[5, base.commune_col] = "0901234567"
    frame.loc[6, base.commune_col] = "an.nguyen@mail.vn"
    age = base.config["columns"].get("age")
    if age:
        frame.loc[7, age] = "079203001234"
    frame["=1+1 cột thêm"] = "\t=2+2"  # an extra column: its header is reported
    config = _write(tmp_path, base, frame, "hostile")
    out = tmp_path / "reports"
    code = cli.main(
        ["run", str(config), "--no-history", "--no-briefs", "--quiet", "--out", str(out)]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    problems = pd.read_parquet(out / "tables" / "problems.parquet")
    assert problems["message_en"].str.contains("HYPERLINK").any()  # reported, as text
    assert problems["message_en"].str.contains("masked").any()
    scan_output_folder(out)
