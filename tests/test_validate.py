"""Validation: a corpus of broken files, one problem kind per file, built here from a valid base.

The base is the bundled sample wave ``sipas-2022`` (csv) with its planted problem rows removed (the
generator lists them in ``data/sample/planted_mess.csv``); before the sample data exist it is the
hand-built fixture of ``test_waves.py``. Each broken file must give a non-zero ``sipas validate``,
a problem naming the column and the rows (as in the source file), no traceback, and an unchanged
raw file. Expected rows below are computed from where the problem was planted, not from the
loader's output.
"""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import yaml
from test_waves import (
    ITEM_HEADERS,
    PERSONAL,
    base_frame,
    config_dict,
    sha256,
    to_cp1258,
)

from sipas_analysis import cli
from sipas_analysis.instruments import load_instrument
from sipas_analysis.paths import SAMPLE_DIR, WAVES_DIR
from sipas_analysis.validate import PROBLEM_COLUMNS
from sipas_analysis.waves import read_wave, validate_wave

SAMPLE_WAVE = WAVES_DIR / "sipas-2022.yaml"


@dataclass
class Base:
    """A valid wave as a frame of the file's cells plus the config (dict) that maps it."""

    frame: pd.DataFrame
    config: dict
    id_col: str
    commune_col: str
    weight_col: str
    strata_col: str
    psu_col: str
    item_col: str  # an item with codes 1-5
    filter_col: str  # a filter question ...
    filtered_col: str  # ... and an item it governs
    filter_values: tuple
    filtered_code: int  # a valid answer of the governed item
    source: str
    personal: list[str] = field(default_factory=list)

    def row(self, pos: int) -> int:
        """File row number of a frame position (header = row 1)."""
        return pos + 2


def _roles(frame: pd.DataFrame, cfg: dict, source: str) -> Base:
    inst = load_instrument(cfg["instrument"])
    items = inst.items.set_index("code")
    mapped = cfg["items"]
    likert = [c for c in mapped if items.loc[c, "valid_codes"] == (1, 2, 3, 4, 5)]
    governed = [
        c for c in mapped if items.loc[c, "filter_item"] and items.loc[c, "filter_item"] in mapped
    ]
    g = governed[0]
    f = items.loc[g, "filter_item"]
    return Base(
        frame=frame,
        config=cfg,
        id_col=cfg["columns"]["respondent_id"],
        commune_col=cfg["columns"]["commune"],
        weight_col=cfg["design"]["weight"],
        strata_col=cfg["design"]["strata"],
        psu_col=cfg["design"]["psu"],
        item_col=mapped[[c for c in likert if c not in governed][0]],
        filter_col=mapped[f],
        filtered_col=mapped[g],
        filter_values=tuple(items.loc[g, "filter_values"]),
        filtered_code=int(items.loc[g, "valid_codes"][0]),
        source=source,
        personal=[c for c in frame.columns if c in (cfg.get("personal_columns") or [])],
    )


@pytest.fixture(scope="module")
def base() -> Base:
    mess_file = SAMPLE_DIR / "planted_mess.csv"
    if SAMPLE_WAVE.exists() and mess_file.exists():
        cfg = yaml.safe_load(SAMPLE_WAVE.read_text("utf-8"))
        data_file = (SAMPLE_WAVE.parent / cfg["file"]).resolve()
        frame = pd.read_csv(data_file, dtype=object, encoding=cfg.get("encoding") or "utf-8-sig")
        mess = pd.read_csv(mess_file)
        mess = mess[mess["file"].astype(str).str.endswith(data_file.name)]
        bad = mess[
            ~mess["kind"].str.startswith("name_")
            & ~mess["kind"].isin(["missing_code", "duplicate_id_first"])
        ]
        frame = frame.drop(index=bad["source_row"].astype(int) - 2).reset_index(drop=True)
        frame = frame.map(lambda v: unicodedata.normalize("NFC", v) if isinstance(v, str) else v)
        for key in ("sheet", "format", "encoding"):
            cfg.pop(key, None)
        return _roles(frame, cfg, "sample sipas-2022")
    cfg = config_dict("x.csv")
    return _roles(base_frame(), cfg, "fixture")


def _write(tmp_path: Path, base: Base, frame: pd.DataFrame, name: str, **cfg_changes) -> Path:
    data = tmp_path / f"{name}.csv"
    data.write_text(frame.to_csv(index=False), encoding="utf-8")
    cfg = {**base.config, "file": data.name, **cfg_changes}
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _positions_where(frame: pd.DataFrame, mask) -> list[int]:
    return [int(i) for i in np.flatnonzero(np.asarray(mask, dtype=bool))]


# ---------------------------------------------------------------------------------------------
# The corpus: name -> function(base) -> (broken frame, check, column, rows that must be named)
# ---------------------------------------------------------------------------------------------


def _missing_column(b: Base):
    return b.frame.drop(columns=[b.item_col]), "missing_column", b.item_col, [1]


def _invalid_code(b: Base):
    f = b.frame.copy()
    f[b.item_col] = f[b.item_col].astype(object)
    f.loc[3, b.item_col] = 7
    f.loc[10, b.item_col] = "abc"
    return f, "invalid_code", b.item_col, [b.row(3), b.row(10)]


def _duplicate_id(b: Base):
    f = b.frame.copy()
    f.loc[9, b.id_col] = f.loc[4, b.id_col]
    return f, "duplicate_id", b.id_col, [b.row(4), b.row(9)]


def _unknown_commune(b: Base):
    f = b.frame.copy()
    f.loc[5, b.commune_col] = "Xã Không Tồn Tại"
    return f, "unknown_commune", b.commune_col, [b.row(5)]


def _ambiguous_commune(b: Base):
    f = b.frame.copy()
    f.loc[11, b.commune_col] = "Hiệp Hòa"  # Thị trấn Hiệp Hòa and Xã Hiệp Hòa, both area 802
    return f, "ambiguous_commune", b.commune_col, [b.row(11)]


def _outside_vintage(b: Base):
    f = b.frame.copy()
    f.loc[13, b.commune_col] = "Xã Mỹ Hạnh"  # a 2025 commune in a pre-2025 wave
    return f, "commune_outside_vintage", b.commune_col, [b.row(13)]


def _nonpositive_weight(b: Base):
    f = b.frame.copy()
    f.loc[6, b.weight_col] = 0
    f.loc[8, b.weight_col] = -1.5
    return f, "nonpositive_weight", b.weight_col, [b.row(6), b.row(8)]


def _missing_weight(b: Base):
    f = b.frame.copy()
    f[b.weight_col] = f[b.weight_col].astype(object)
    f.loc[7, b.weight_col] = None
    return f, "missing_weight", b.weight_col, [b.row(7)]


def _psu_crosses_strata(b: Base):
    f = b.frame.copy()
    own = f.loc[12, b.strata_col]
    other = next(s for s in f[b.strata_col].unique() if str(s) != str(own))
    f.loc[12, b.strata_col] = other
    return f, "psu_crosses_strata", b.psu_col, [b.row(12)]


def _empty_stratum(b: Base):
    # every row of one stratum loses its PSU id: the stratum has no respondent left
    f = b.frame.copy()
    last = sorted(f[b.strata_col].astype(str).unique())[-1]
    rows = _positions_where(f, f[b.strata_col].astype(str) == last)
    f[b.psu_col] = f[b.psu_col].astype(object)
    f.loc[rows, b.psu_col] = None
    return f, "empty_stratum", b.strata_col, [b.row(r) for r in rows[:3]]


def _filter_violation(b: Base):
    f = b.frame.copy()
    fval = pd.to_numeric(f[b.filter_col], errors="coerce")
    pos = _positions_where(f, fval.notna() & ~fval.isin(b.filter_values))[0]
    f[b.filtered_col] = f[b.filtered_col].astype(object)
    f.loc[pos, b.filtered_col] = b.filtered_code
    return f, "filter_violation", b.filtered_col, [b.row(pos)]


#: Row-level errors exclude exactly the planted rows (positions); others exclude none.
EXCLUDED = {
    "invalid_code": [3, 10],
    "duplicate_id": [9],  # the first occurrence (4) is kept
    "unknown_commune": [5],
    "ambiguous_commune": [11],
    "commune_outside_vintage": [13],
    "nonpositive_weight": [6, 8],
    "missing_weight": [7],
    "psu_crosses_strata": [12],
    "missing_column": [],
}

CORPUS = {
    "missing_column": _missing_column,
    "invalid_code": _invalid_code,
    "duplicate_id": _duplicate_id,
    "unknown_commune": _unknown_commune,
    "ambiguous_commune": _ambiguous_commune,
    "commune_outside_vintage": _outside_vintage,
    "nonpositive_weight": _nonpositive_weight,
    "missing_weight": _missing_weight,
    "psu_crosses_strata": _psu_crosses_strata,
    "empty_stratum": _empty_stratum,
    "filter_violation": _filter_violation,
}


def test_base_is_valid(base, tmp_path):
    path = _write(tmp_path, base, base.frame, "base")
    wave = read_wave(path)
    errors = wave.problems[wave.problems["severity"] == "error"]
    assert errors.empty, errors["message_en"].tolist()
    assert wave.accounting["rows_kept"] == len(base.frame)
    assert cli.main(["validate", str(path), "--out", str(tmp_path / "out")]) == 0


@pytest.mark.parametrize("kind", list(CORPUS))
def test_broken_file(base, tmp_path, capsys, kind):
    frame, check, column, rows = CORPUS[kind](base)
    path = _write(tmp_path, base, frame, kind)
    data = tmp_path / f"{kind}.csv"
    before = sha256(data)
    out = tmp_path / "out"

    code = cli.main(["validate", str(path), "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 1, printed.out + printed.err
    assert sha256(data) == before  # the raw file is never modified
    assert "Traceback" not in printed.err

    # the problem names the file, the column and the source rows
    wave = read_wave(path)
    problems = wave.problems
    hit = problems[(problems["check"] == check) & (problems["column"] == column)]
    assert len(hit) >= 1, problems[["check", "column"]].to_string()
    p = hit.iloc[0]
    assert p["severity"] == "error" and p["file"] == data.name
    assert set(rows) <= {r for rs in hit["rows"] for r in rs}
    for r in rows[:3]:
        assert str(r) in p["message_vi"] and str(r) in p["message_en"]
    assert column in p["message_vi"] and column in p["message_en"]
    assert column in printed.out  # the summary shows the detail line
    if kind in EXCLUDED:
        ex = wave.exclusions
        assert ex["source_row"].tolist() == [base.row(i) for i in EXCLUDED[kind]]
        assert (ex["checks"] == check).all() and ex["reason_en"].str.len().gt(0).all()

    # the report files exist and list the problem
    csv = pd.read_csv(out / f"{kind}_problems.csv", encoding="utf-8-sig")
    assert list(csv.columns[:2]) == ["severity", "severity_vi"]
    assert check in set(csv["check"])
    assert (out / f"{kind}_problems.xlsx").exists()

    # row accounting holds and no personal data leaks into any output
    acc = wave.accounting
    assert acc["rows_read"] == len(frame) == acc["rows_kept"] + acc["rows_excluded"]
    written = "".join(p.read_text("utf-8-sig") for p in out.glob("*.csv"))
    for col in base.personal:
        for value in base.frame[col].dropna().astype(str).head(5):
            assert value not in written and value not in printed.out


def test_subprocess_has_no_traceback(base, tmp_path, capsys):
    frame, *_ = CORPUS["invalid_code"](base)
    path = _write(tmp_path, base, frame, "sub")
    cmd = [sys.executable, "-m", "sipas_analysis.cli", "validate", str(path)]
    done = subprocess.run(
        [*cmd, "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "VALIDATION" in done.stdout and "Row accounting" in done.stdout
    # unusable input: exit 2, a clear message naming the file, no traceback
    (tmp_path / "sub.csv").write_bytes(b"\x81\x8a\x8d\xff not text")
    assert cli.main(["validate", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "sub.csv" in err and "encoding" in err


def test_warnings_alone_exit_zero(base, tmp_path, capsys):
    frame = base.frame.copy()
    frame["Ghi chú của điều tra viên"] = "ok"  # an extra column is a warning, not an error
    path = _write(tmp_path, base, frame, "extra")
    assert cli.main(["validate", str(path), "--out", str(tmp_path / "o")]) == 0
    problems = validate_wave(path)
    extra = problems[problems["check"] == "extra_column"]
    assert extra["column"].tolist() == ["Ghi chú của điều tra viên"]
    assert extra["severity"].tolist() == ["warning"] and extra["rows"].iloc[0] == (1,)
    assert "cảnh báo / warning" in capsys.readouterr().out


def test_nfd_and_cp1258_files_load_cleanly(base, tmp_path):
    ref = read_wave(_write(tmp_path, base, base.frame, "ref")).respondents
    nfd = base.frame.map(lambda v: unicodedata.normalize("NFD", v) if isinstance(v, str) else v)
    nfd.columns = [unicodedata.normalize("NFD", c) for c in nfd.columns]
    path = _write(tmp_path, base, nfd, "nfd")
    wave = read_wave(path)
    assert not wave.has_errors
    pd.testing.assert_frame_equal(ref, wave.respondents)

    path = _write(tmp_path, base, base.frame, "win")
    data = tmp_path / "win.csv"
    data.write_bytes(to_cp1258(base.frame.to_csv(index=False)))
    wave = read_wave(path)
    assert wave.encoding == "cp1258" and not wave.has_errors
    pd.testing.assert_frame_equal(ref, wave.respondents)
    assert wave.respondents["commune_name"].map(lambda s: unicodedata.is_normalized("NFC", s)).all()


def test_pre2025_name_in_a_2025_wave(tmp_path):
    frame = base_frame("2025")
    frame.loc[3, "Xã/Phường/Thị trấn"] = "Xã Tân Hiệp"  # pre-2025 commune (Thạnh Hóa)
    path = tmp_path / "w25.yaml"
    frame.to_csv(tmp_path / "w25.csv", index=False)
    path.write_text(yaml.safe_dump(config_dict("w25.csv", vintage="2025"), allow_unicode=True))
    before = sha256(tmp_path / "w25.csv")
    assert cli.main(["validate", str(path), "--out", str(tmp_path / "o")]) == 1
    p = validate_wave(path)
    hit = p[p["check"] == "commune_outside_vintage"]
    assert hit["rows"].tolist() == [(5,)] and hit["values"].tolist() == [("Xã Tân Hiệp",)]
    assert "Xã/Phường/Thị trấn" in hit["message_en"].iloc[0]
    assert sha256(tmp_path / "w25.csv") == before


def test_psu_majority_rule_and_singleton_warning(tmp_path):
    """Hand-built design: PSU 27712-01 has 3 rows in stratum 794; one row moved to 798 is
    excluded; a stratum keeping a single PSU is a warning."""
    frame = base_frame()
    frame.loc[1, "Tầng"] = 798
    path = tmp_path / "d.yaml"
    frame.to_csv(tmp_path / "d.csv", index=False)
    path.write_text(yaml.safe_dump(config_dict("d.csv"), allow_unicode=True))
    wave = read_wave(path)
    assert wave.exclusions["source_row"].tolist() == [3]
    hit = wave.problems[wave.problems["check"] == "psu_crosses_strata"].iloc[0]
    assert hit["rows"] == (2, 3, 4) and hit["column"] == "Mã ấp" and hit["count"] == 1


def test_demographic_problems_are_warnings_and_keep_rows(tmp_path):
    frame = base_frame()
    frame.loc[0, "Giới tính"] = 3
    frame.loc[1, "Tuổi"] = 12
    path = tmp_path / "dm.yaml"
    frame.to_csv(tmp_path / "dm.csv", index=False)
    path.write_text(yaml.safe_dump(config_dict("dm.csv"), allow_unicode=True))
    wave = read_wave(path)
    assert wave.accounting["rows_excluded"] == 0 and not wave.has_errors
    r = wave.respondents
    assert pd.isna(r.loc[0, "sex"]) and pd.isna(r.loc[1, "age"]) and pd.isna(r.loc[1, "age_band"])
    warn = wave.problems[wave.problems["check"] == "invalid_demographic"]
    assert sorted(warn["rows"].tolist()) == [(2,), (3,)]


def test_problem_frame_and_report_files(base, tmp_path):
    frame, *_ = CORPUS["invalid_code"](base)
    path = _write(tmp_path, base, frame, "rep")
    problems = validate_wave(path)
    assert tuple(problems.columns) == PROBLEM_COLUMNS
    sev = problems["severity"].tolist()
    assert sev == sorted(sev, key=["error", "warning", "info"].index)
    assert (problems["count"] >= 1).all()
    missing = problems[problems["check"] == "missing_code"]
    assert (missing["severity"] == "info").all() and len(missing) >= 1
    cli.main(["validate", str(path), "--out", str(tmp_path / "o")])
    wb = openpyxl.load_workbook(tmp_path / "o" / "rep_problems.xlsx", read_only=True)
    assert wb.sheetnames == [
        "Đọc trước",
        "Vấn đề",
        "Dòng bị loại",
        "Tổng hợp",
        "Theo loại kiểm tra",
    ]
    assert not list((tmp_path / "o").glob(".*"))  # no temporary files left behind


def test_bare_data_file(base, tmp_path, capsys):
    path = _write(tmp_path, base, base.frame, "bare")
    assert cli.main(["validate", str(tmp_path / "bare.csv"), "--out", str(tmp_path / "o")]) == 0
    assert path.name in capsys.readouterr().out
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    base.frame.to_csv(lonely / "x.csv", index=False)
    assert cli.main(["validate", str(lonely / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert "No wave config" in err and "instrument" in err


def test_personal_values_never_in_reports(tmp_path):
    frame = base_frame()
    frame.loc[3, ITEM_HEADERS["tthc_2"]] = 9  # an error on a row whose name is known
    path = tmp_path / "pp.yaml"
    frame.to_csv(tmp_path / "pp.csv", index=False)
    path.write_text(yaml.safe_dump(config_dict("pp.csv"), allow_unicode=True))
    out = tmp_path / "o"
    assert cli.main(["validate", str(path), "--out", str(out)]) == 1
    text = "".join(p.read_text("utf-8-sig") for p in out.glob("*.csv"))
    wb = openpyxl.load_workbook(out / "pp_problems.xlsx", read_only=True)
    cells = " ".join(
        str(c) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for c in row
    )
    for col in PERSONAL.values():
        for value in frame[col].astype(str):
            assert value not in text and value not in cells


def test_full_report_not_first_error(base, tmp_path):
    """Several kinds of problem in one file: every one is reported, each row excluded once."""
    frame = base.frame.copy()
    for kind in ("invalid_code", "unknown_commune", "nonpositive_weight", "filter_violation"):
        broken, *_ = CORPUS[kind](base)
        changed = broken.ne(base.frame) & ~(broken.isna() & base.frame.isna())
        frame = frame.mask(changed, broken)
    frame.loc[15, base.commune_col] = None  # blank commune cell
    frame = frame.drop(columns=[base.item_col])  # and a missing column (file-level)
    wave = read_wave(_write(tmp_path, base, frame, "many"))
    checks = set(wave.problems.loc[wave.problems["severity"] == "error", "check"])
    assert {
        "missing_column",
        "unknown_commune",
        "nonpositive_weight",
        "filter_violation",
        "missing_commune",
    } <= checks
    blank = wave.problems[wave.problems["check"] == "missing_commune"]
    assert blank["rows"].tolist() == [(base.row(15),)]
    ex = wave.exclusions
    assert ex["source_row"].is_unique
    assert base.row(15) in set(ex["source_row"]) and base.row(5) in set(ex["source_row"])
    acc = wave.accounting
    assert acc["rows_read"] == acc["rows_kept"] + acc["rows_excluded"] == len(frame)


def test_missing_id_column_is_reported_not_a_crash(base, tmp_path, capsys):
    frame = base.frame.drop(columns=[base.id_col])
    path = _write(tmp_path, base, frame, "noid")
    assert cli.main(["validate", str(path), "--out", str(tmp_path / "o")]) == 1
    problems = validate_wave(path)
    hit = problems[problems["check"] == "missing_column"]
    assert hit["column"].tolist() == [base.id_col]
    assert "Traceback" not in capsys.readouterr().err


def test_spss_commune_names_as_value_labels(tmp_path):
    """A .sav whose commune column holds labelled codes 1..8 (labels = names) resolves by label."""
    import pyreadstat
    from test_waves import COMMUNES, HEADERS

    frame = base_frame().drop(columns=list(PERSONAL.values()))
    names = [c[0] for c in COMMUNES]
    official = frame["Xã/Phường/Thị trấn"].map(
        lambda s: next(n for n in names if n.lower() == s.lower().replace("hoà", "hòa"))
    )
    frame["Xã/Phường/Thị trấn"] = official.map({n: float(i + 1) for i, n in enumerate(names)})
    cols = {h: f"v{k}" for k, h in enumerate(frame.columns)}
    pyreadstat.write_sav(
        frame.rename(columns=cols),
        tmp_path / "lab.sav",
        column_labels=list(frame.columns),
        variable_value_labels={
            cols["Xã/Phường/Thị trấn"]: {i + 1.0: n for i, n in enumerate(names)}
        },
    )
    cfg = config_dict("lab.sav", personal_columns=[])
    assert cfg["columns"]["commune"] == HEADERS["commune"]  # matched through the variable label
    path = tmp_path / "lab.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    wave = read_wave(path)
    assert not wave.has_errors
    assert wave.respondents["commune_code"].iloc[0] == 27712
    assert wave.respondents["commune_code"].iloc[-1] == 27988


def test_item_codes_hand_computed():
    from sipas_analysis.validate import ProblemLog, check_item_codes

    log = ProblemLog("f.csv", np.arange(2, 9))  # file rows 2..8
    series = pd.Series(["1", "5", "6", "2.5", "98", None, " 3 "])
    values, counts = check_item_codes(log, "q", "Câu 1", series, (1, 2, 3, 4, 5), (98, 99))
    assert values.dtype == "Int64"
    assert values.tolist() == [1, 5, pd.NA, pd.NA, pd.NA, pd.NA, 3]
    assert counts == {"98": 1, "blank": 1}
    p = log.problems_frame()
    bad = p[p["check"] == "invalid_code"].iloc[0]
    assert bad["rows"] == (4, 5) and bad["values"] == ("6", "2.5") and bad["severity"] == "error"
    assert log.excluded_mask(7).tolist() == [False, False, True, True, False, False, False]
    info = p[p["check"] == "missing_code"].iloc[0]
    assert info["severity"] == "info" and info["rows"] == (6,) and info["count"] == 1


def test_continuous_item_hand_computed():
    from sipas_analysis.validate import ProblemLog, check_item_codes

    log = ProblemLog("f.csv", np.arange(2, 7))
    series = pd.Series(["1,5", "3", "-98", "x", ""])
    values, counts = check_item_codes(
        log, "d6_2_a", "Giờ", series, (), (-98, -99), (0.7, 2.0), continuous=True
    )
    assert values.dtype == "Float64"
    assert values.tolist() == [1.5, 3.0, pd.NA, pd.NA, pd.NA]
    assert counts == {"-98": 1, "blank": 1}
    p = log.problems_frame().set_index("check")
    assert p.loc["outside_scale", "severity"] == "warning" and p.loc["outside_scale", "rows"] == (
        3,
    )
    assert p.loc["invalid_code", "rows"] == (5,) and p.loc["invalid_code", "values"] == ("x",)
