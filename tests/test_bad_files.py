"""Field files and bad files: one test per case of issue 9 (reading, matching, design, checks).

Every file is built here in ``tmp_path`` from the valid base of ``test_validate.py`` (the bundled
sample wave ``sipas-2022`` with its planted problem rows removed) or written the way a field team
would (title rows, merged header cells, codes without labels, ASCII personal columns). A bad file
must give: an error naming the file, the column, the rows and the values; exit 1 from
``sipas validate``; ``sipas run`` stopping before it computes anything (exit 1, no output
folder); never a traceback; the raw file unchanged. Expected rows are where the problem was
planted (file row = frame position + 2 below a one-line header).
"""

from __future__ import annotations

import numpy as np
import openpyxl
import pandas as pd
import pyreadstat
import pytest
import yaml
from test_validate import _write, base  # noqa: F401 - base is a pytest fixture
from test_waves import sha256

from sipas_analysis import cli
from sipas_analysis.waves import question_number, read_wave


def _numeric(col: pd.Series) -> pd.Series:
    """A column as numbers when every value is one (as SPSS stores codes), else as text."""
    num = pd.to_numeric(col, errors="coerce")
    return num if num.notna().sum() == col.notna().sum() else col.astype(str)


def _cfg_write(path, cfg: dict) -> None:
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _validate(path, tmp_path, capsys) -> tuple[int, str]:
    code = cli.main(["validate", str(path), "--out", str(tmp_path / "val")])
    printed = capsys.readouterr()
    assert "Traceback" not in printed.err + printed.out
    return code, printed.out + printed.err


def _run_stops(path, tmp_path, capsys) -> str:
    out = tmp_path / "reports"
    code = cli.main(["run", str(path), "--no-history", "--no-briefs", "--quiet", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 1, printed.out + printed.err
    assert "Traceback" not in printed.err + printed.out
    assert not out.exists()  # stopped before computing: nothing written
    return printed.out


def _hit(path, check: str, column: str | None = None) -> pd.Series:
    problems = read_wave(path).problems
    hit = problems[problems["check"] == check]
    if column is not None:
        hit = hit[hit["column"] == column]
    assert len(hit) >= 1, problems[["severity", "check", "column"]].to_string()
    return hit.iloc[0]


def _bad_file(path, data, tmp_path, capsys, check, column=None, rows=(), values=()):
    """The common contract of a bad file: error named, exit 1, run stops, raw file unchanged."""
    before = sha256(data)
    code, printed = _validate(path, tmp_path, capsys)
    assert code == 1, printed
    p = _hit(path, check, column)
    assert p["severity"] == "error" and p["file"] == data.name
    if column:
        assert column in p["message_vi"] and column in p["message_en"]
    assert set(rows) <= set(p["rows"])
    for v in values:
        assert any(str(v) in x for x in p["values"]), p["values"]
    out = _run_stops(path, tmp_path, capsys)
    assert check in out
    assert sha256(data) == before
    return p


# ---------------------------------------------------------------------------------------------
# (2) header matching
# ---------------------------------------------------------------------------------------------


def test_question_number_forms():
    assert question_number("Câu 9.12. Chính sách về an sinh xã hội phù hợp .") == "9.12"
    assert question_number("C9_12") == question_number("q9_12") == "9.12"
    assert question_number("A1. Giới tính") == "a1"
    assert question_number("Trọng số") is None and question_number("2024") is None


def test_missing_column_names_the_nearest_headers(base, tmp_path, capsys):  # noqa: F811
    col = base.item_col
    # the field team's header: no question number, one word changed
    changed = col.split(". ", 1)[1].replace("Chính sách", "Chính sach") + " (sửa)"
    frame = base.frame.rename(columns={col: changed})
    path = _write(tmp_path, base, frame, "near")
    p = _bad_file(path, tmp_path / "near.csv", tmp_path, capsys, "missing_column", col, rows=[1])
    assert changed in p["message_vi"] and "Có phải" in p["message_vi"]
    assert changed in p["message_en"] and "Did you mean" in p["message_en"]


def test_question_number_and_prefix_are_accepted(base, tmp_path, capsys):  # noqa: F811
    items = base.config["items"]
    codes = [c for c, h in items.items() if h.startswith("Câu 1.")][:2]
    by_number, by_prefix = items[codes[0]], items[codes[1]]
    number = question_number(by_number)
    frame = base.frame.rename(
        columns={by_number: f"q{number.replace('.', '_')}", by_prefix: by_prefix + " (Gồm …)"}
    )
    path = _write(tmp_path, base, frame, "lenient")
    code, printed = _validate(path, tmp_path, capsys)
    assert code == 0, printed
    problems = read_wave(path).problems
    matched = problems[problems["check"] == "column_matched"]
    assert set(matched["column"]) == {f"q{number.replace('.', '_')}", by_prefix + " (Gồm …)"}
    assert "missing_column" not in set(problems["check"])


def test_spss_label_truncated_at_256_bytes(base, tmp_path, capsys):  # noqa: F811
    long_header = (
        "Câu 9.12. Chính sách về an sinh xã hội phù hợp. (Gồm các quy định về trợ giúp xã hội, "
        "bảo hiểm xã hội, bảo hiểm y tế, giảm nghèo, chăm sóc người có công, người cao tuổi, "
        "người khuyết tật, trẻ em có hoàn cảnh đặc biệt khó khăn …)"
    )
    assert len(long_header.encode()) > 256
    cut = long_header.encode()[:256].decode("utf-8", errors="ignore")
    frame = base.frame.rename(columns={base.item_col: cut})
    names = {h: f"v{k}" for k, h in enumerate(frame.columns)}
    data = tmp_path / "cut.sav"
    codes = frame.rename(columns=names).apply(_numeric)
    pyreadstat.write_sav(codes, data, column_labels=list(frame.columns))
    item = next(c for c, h in base.config["items"].items() if h == base.item_col)
    cfg = {**base.config, "file": data.name, "items": {**base.config["items"], item: long_header}}
    cfg["columns"] = {**cfg["columns"]}
    path = tmp_path / "cut.yaml"
    _cfg_write(path, cfg)
    wave = read_wave(path)
    assert "missing_column" not in set(wave.problems["check"])
    assert wave.respondents[item].notna().sum() > 0


# ---------------------------------------------------------------------------------------------
# (3) reading: header row, sheets, blank lines, no header
# ---------------------------------------------------------------------------------------------


def test_title_rows_and_blank_lines_above_the_header_csv(base, tmp_path):  # noqa: F811
    ref = read_wave(_write(tmp_path, base, base.frame, "ref"))
    path = _write(tmp_path, base, base.frame, "title")
    data = tmp_path / "title.csv"
    text = data.read_text("utf-8")
    data.write_text("\n\nKẾT QUẢ KHẢO SÁT SIPAS,,,\nĐơn vị: Sở Nội vụ\n" + text, encoding="utf-8")
    wave = read_wave(path)
    assert wave.accounting["rows_read"] == ref.accounting["rows_read"]
    assert not (wave.problems["severity"] == "error").any()
    assert wave.respondents["source_row"].iloc[0] == ref.respondents["source_row"].iloc[0] + 4
    assert "rows_above_header" in set(wave.problems["check"])


def test_xlsx_title_row_merged_header_and_notes_sheet(base, tmp_path):  # noqa: F811
    ref = read_wave(_write(tmp_path, base, base.frame, "ref"))
    data = tmp_path / "field.xlsx"
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Ghi chu"
    notes.append(["Ghi chú: số liệu do tổ khảo sát nhập"])
    sheet = book.create_sheet("Số liệu")
    sheet.append(["BẢNG TỔNG HỢP PHIẾU KHẢO SÁT SIPAS"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=6)
    headers = list(base.frame.columns)
    # the id header spans rows 2-3 (merged vertically); the others are on row 3
    sheet.append([headers[0]] + [None] * (len(headers) - 1))
    sheet.append([None] + headers[1:])
    sheet.merge_cells(start_row=2, start_column=1, end_row=3, end_column=1)
    for row in base.frame.itertuples(index=False):
        sheet.append([None if pd.isna(v) else v for v in row])
    book.save(data)
    cfg = {**base.config, "file": data.name}
    path = tmp_path / "field.yaml"
    _cfg_write(path, cfg)
    wave = read_wave(path)
    assert wave.accounting["rows_read"] == ref.accounting["rows_read"]
    errors = wave.problems[wave.problems["severity"] == "error"]
    assert errors.empty, errors["message_en"].tolist()
    assert wave.respondents["source_row"].iloc[0] == 4


def test_header_row_given_in_the_config(base, tmp_path):  # noqa: F811
    path = _write(tmp_path, base, base.frame, "given", header_row=3)
    data = tmp_path / "given.csv"
    data.write_text("Tiêu đề\n\n" + data.read_text("utf-8"), encoding="utf-8")
    wave = read_wave(path)
    assert not (wave.problems["severity"] == "error").any()


def test_file_without_a_usable_header(base, tmp_path, capsys):  # noqa: F811
    path = _write(tmp_path, base, base.frame, "nohead")
    data = tmp_path / "nohead.csv"
    lines = data.read_text("utf-8").splitlines()
    data.write_text("\n".join(lines[1:]) + "\n", encoding="utf-8")
    before = sha256(data)
    code, printed = _validate(path, tmp_path, capsys)
    assert code == 2
    assert "no usable header row" in printed and "nohead.csv" in printed
    assert printed.count("Lỗi / Error") == 1
    assert sha256(data) == before


# ---------------------------------------------------------------------------------------------
# (4) the design as the file has it
# ---------------------------------------------------------------------------------------------


def _recurring_villages(b):
    """Village labels numbered within their commune, as field files write them ("Ấp 1" …)."""
    frame = b.frame.copy()
    psu = frame[b.psu_col].astype(str)
    frame["Ấp"] = "Ấp " + psu.str.split("-").str[-1]  # PSU code = commune code - village no.
    return frame.drop(columns=[b.psu_col])


def test_psu_labels_recurring_across_communes_are_nested(base, tmp_path, capsys):  # noqa: F811
    frame = _recurring_villages(base)
    design = {**base.config["design"], "psu": "Ấp"}
    path = _write(tmp_path, base, frame, "nest", design=design)
    wave = read_wave(path)
    s = wave.design_summary
    assert s["n_psu"] == base.frame[base.psu_col].nunique()
    assert s["psu_per_commune"]["min"] >= 2 and s["psu_multi_commune"] == []
    assert "psu_nested_in_commune" in set(wave.problems["check"])
    code, printed = _validate(path, tmp_path, capsys)
    assert "PSU mỗi xã / per commune" in printed and "design df" in printed

    # the same labels, nesting switched off: pooled PSUs are warned about
    design_off = {**design, "nest_psu": False, "strata": None}  # as the field file: no strata
    path = _write(tmp_path, base, frame, "pooled", design=design_off)
    pooled = read_wave(path)
    assert "psu_spans_communes" in set(pooled.problems["check"])
    assert pooled.design_summary["n_psu"] < s["n_psu"] / 5
    assert pooled.design_summary["psu_multi_commune"]


def test_psu_from_several_columns_and_derived_strata(base, tmp_path):  # noqa: F811
    from sipas_analysis.geography import resolve_communes

    frame = _recurring_villages(base).drop(columns=[base.strata_col])
    # without a strata column no area settles "Phường 3" (Tân An or Kiến Tường): codes instead
    codes = resolve_communes(base.frame[base.commune_col], "pre2025", base.frame[base.strata_col])
    frame[base.commune_col] = codes["commune_code"].astype(str).to_numpy()
    design = {**base.config["design"], "psu": [base.commune_col, "Ấp"], "strata": "area"}
    path = _write(tmp_path, base, frame, "multi", design=design)
    wave = read_wave(path)
    errors = wave.problems[wave.problems["severity"] == "error"]
    assert errors.empty, errors["message_en"].tolist()
    r = wave.respondents
    assert set(r["stratum"]) == {str(a) for a in r["area_code"].unique()}
    assert wave.design_summary["n_psu"] == base.frame[base.psu_col].nunique()
    assert "strata_derived" in set(wave.problems["check"])


_OLD_TONES = {"òa": "oà", "óa": "oá", "ỏa": "oả", "õa": "oã", "ọa": "oạ", "ùy": "uỳ", "úy": "uý"}


def _respell(name: str, k: int) -> str:
    """One commune name as field teams write it: old tone placement, lower case, extra spaces."""
    if k % 3 == 1:
        for new, old in _OLD_TONES.items():
            name = name.replace(new, old)
        return name.lower()
    if k % 3 == 2:
        return "  " + name.upper().replace(" ", "  ") + " "
    return name


def test_psu_list_uses_the_resolved_commune_not_its_spelling(base, tmp_path):  # noqa: F811
    frame = _recurring_villages(base)
    frame[base.commune_col] = [
        _respell(str(v), k) for k, v in enumerate(frame[base.commune_col].astype(str))
    ]
    assert frame[base.commune_col].nunique() > base.frame[base.commune_col].nunique()
    design = {**base.config["design"], "psu": [base.commune_col, "Ấp"]}
    wave = read_wave(_write(tmp_path, base, frame, "spellings", design=design))
    errors = wave.problems[wave.problems["severity"] == "error"]
    assert errors.empty, errors["message_en"].tolist()
    # one PSU per commune × village, whatever the spelling of the commune
    assert wave.design_summary["n_psu"] == base.frame[base.psu_col].nunique()
    r = wave.respondents
    assert (r.groupby("psu")["commune_code"].nunique() == 1).all()
    assert r["psu"].str.split(" / ").str[0].isin(r["commune_code"].astype(str)).all()


def test_psu_labels_differing_in_case_or_tone_style_are_one_psu(base, tmp_path):  # noqa: F811
    frame = _recurring_villages(base)
    villages = frame["Ấp"].copy()
    frame.loc[frame.index % 4 == 1, "Ấp"] = villages.str.lower()
    frame.loc[frame.index % 4 == 2, "Ấp"] = "  " + villages.str.upper() + " "
    design = {**base.config["design"], "psu": "Ấp"}
    wave = read_wave(_write(tmp_path, base, frame, "case", design=design))
    assert wave.design_summary["n_psu"] == base.frame[base.psu_col].nunique()
    p = wave.problems[wave.problems["check"] == "psu_label_spelling"].iloc[0]
    assert (
        p["severity"] == "info" and "'Ấp 01' ← " in p["values"][0] and "'ấp 01'" in p["values"][0]
    )
    assert not wave.respondents["psu"].str.contains("ấp|ẤP").any()  # the usual spelling kept
    # labels that differ in a letter or a tone stay apart
    from sipas_analysis.validate import ProblemLog
    from sipas_analysis.waves.build import _one_spelling

    text = pd.Series(["Ấp Tân Hòa", "Ấp Tân Hóa", "ấp tân hoà", None])
    got = _one_spelling(ProblemLog("x.csv", np.arange(2, 6)), text, "Ấp").tolist()
    assert got == ["Ấp Tân Hòa", "Ấp Tân Hóa", "Ấp Tân Hòa", None]


def test_certainty_psu_is_its_own_stratum(base, tmp_path):  # noqa: F811
    psu = str(base.frame[base.psu_col].iloc[0])
    design = {**base.config["design"], "certainty": [psu]}
    wave = read_wave(_write(tmp_path, base, base.frame, "cert", design=design))
    r = wave.respondents
    inside = r[r["stratum"] == f"certainty {psu}"]
    assert len(inside) == (base.frame[base.psu_col].astype(str) == psu).sum()
    assert inside["psu"].nunique() == len(inside)


# ---------------------------------------------------------------------------------------------
# (6) file-level errors stop the run
# ---------------------------------------------------------------------------------------------


def test_missing_weight_column(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.drop(columns=[base.weight_col])
    path = _write(tmp_path, base, frame, "now")
    _bad_file(path, tmp_path / "now.csv", tmp_path, capsys, "missing_column", base.weight_col)


def test_weight_not_configured_unless_null_on_purpose(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.drop(columns=[base.weight_col])
    design = {k: v for k, v in base.config["design"].items() if k != "weight"}
    path = _write(tmp_path, base, frame, "nokey", design=design)
    _bad_file(path, tmp_path / "nokey.csv", tmp_path, capsys, "weight_not_configured")
    path = _write(tmp_path, base, frame, "null", design={**design, "weight": None})
    assert _validate(path, tmp_path, capsys)[0] == 0


def test_names_of_the_other_vintage_are_never_loose_matched(tmp_path, capsys):
    from sipas_analysis.paths import WAVES_DIR

    cfg = yaml.safe_load((WAVES_DIR / "sipas-2025.yaml").read_text("utf-8"))
    src = (WAVES_DIR / cfg["file"]).resolve()
    data = tmp_path / "w2025.csv"
    data.write_bytes(src.read_bytes())
    cfg.update(file=data.name, boundary_vintage="pre2025", wave="2024")
    cfg["fieldwork"] = {"start": "2024-09-01", "end": "2024-10-31"}
    path = tmp_path / "w2025.yaml"
    _cfg_write(path, cfg)
    _bad_file(path, data, tmp_path, capsys, "wrong_vintage", cfg["columns"]["commune"])
    r = read_wave(path).respondents
    assert "Thị trấn Đức Hòa" not in set(r["commune_name"])  # never Xã Đức Hòa -> TT Đức Hòa


def test_codes_of_the_other_vintage(tmp_path, capsys):
    from sipas_analysis import geography
    from sipas_analysis.paths import WAVES_DIR

    cfg = yaml.safe_load((WAVES_DIR / "sipas-2024.yaml").read_text("utf-8"))
    frame = read_wave(WAVES_DIR / "sipas-2024.yaml").respondents
    old = frame[["respondent_id", "commune_code", "stratum", "psu", "weight"]].copy()
    new_codes = set(geography.communes("2025")["commune_code"])
    assert old["commune_code"].isin(new_codes).any()  # new communes reuse old codes
    for c in cfg["items"]:
        old[c] = frame[c].fillna(99).astype(int)
    data = tmp_path / "codes.csv"
    old.to_csv(data, index=False)
    cfg = {
        **cfg,
        "file": data.name,
        "boundary_vintage": "2025",
        "wave": "2026",
        "fieldwork": {"start": "2026-09-01", "end": "2026-10-31"},
        "columns": {"respondent_id": "respondent_id", "commune_code": "commune_code"},
        "design": {"weight": "weight", "strata": "stratum", "psu": "psu"},
        "items": {c: c for c in cfg["items"]},
        "personal_columns": [],
    }
    cfg.pop("sheet", None)
    cfg.pop("format", None)
    path = tmp_path / "codes.yaml"
    _cfg_write(path, cfg)
    _bad_file(path, data, tmp_path, capsys, "wrong_vintage", "commune_code")
    assert "code_in_both_vintages" in set(read_wave(path).problems["check"])


def test_one_absurd_weight(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.copy()
    frame[base.weight_col] = frame[base.weight_col].astype(object)
    frame.loc[5, base.weight_col] = "1e300"
    path = _write(tmp_path, base, frame, "huge")
    _bad_file(path, tmp_path / "huge.csv", tmp_path, capsys, "extreme_weight", base.weight_col, [7])


def test_all_weights_overflow(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.copy()
    frame[base.weight_col] = "1e308"
    path = _write(tmp_path, base, frame, "over")
    p = _bad_file(path, tmp_path / "over.csv", tmp_path, capsys, "extreme_weight", base.weight_col)
    assert "overflow" in p["message_en"]


def test_weight_ratio_limit_is_configurable(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.copy()
    frame[base.weight_col] = frame[base.weight_col].astype(object)
    frame.loc[3, base.weight_col] = "0.0001"
    path = _write(tmp_path, base, frame, "ratio")
    p = _bad_file(path, tmp_path / "ratio.csv", tmp_path, capsys, "extreme_weight")
    assert "ratio" in p["message_en"]
    path = _write(tmp_path, base, frame, "ratio_ok", checks={"max_weight_ratio": 1e9})
    assert _validate(path, tmp_path, capsys)[0] == 0


def test_infinite_weight_is_not_called_non_positive(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.copy()
    frame[base.weight_col] = frame[base.weight_col].astype(object)
    frame.loc[4, base.weight_col] = "inf"
    frame.loc[6, base.weight_col] = "nan"
    frame.loc[8, base.weight_col] = "0"
    path = _write(tmp_path, base, frame, "inf")
    assert _validate(path, tmp_path, capsys)[0] == 1
    p = _hit(path, "nonfinite_weight", base.weight_col)
    assert 6 in set(p["rows"]) and "not finite" in p["message_en"]
    assert "non-positive" not in p["message_en"]
    assert 8 in set(_hit(path, "invalid_weight", base.weight_col)["rows"])  # "nan": not a number
    q = _hit(path, "nonpositive_weight", base.weight_col)
    assert list(q["rows"]) == [10]


@pytest.mark.parametrize("rows", [0, 1])
def test_header_only_and_one_row_files(base, tmp_path, capsys, rows):  # noqa: F811
    name = f"tiny{rows}"
    path = _write(tmp_path, base, base.frame.head(rows), name)
    p = _bad_file(path, tmp_path / f"{name}.csv", tmp_path, capsys, "too_few_respondents")
    assert "30" in p["message_en"]


def test_minimum_respondents_is_configurable(base, tmp_path, capsys):  # noqa: F811
    path = _write(tmp_path, base, base.frame.head(40), "forty", checks={"min_respondents": 50})
    assert _validate(path, tmp_path, capsys)[0] == 1
    assert _hit(path, "too_few_respondents")["values"] == ("40",)


def test_item_answered_98_99_by_everyone(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.copy()
    frame[base.item_col] = np.where(np.arange(len(frame)) % 2, 98, 99)
    path = _write(tmp_path, base, frame, "dk")
    p = _bad_file(path, tmp_path / "dk.csv", tmp_path, capsys, "item_all_missing", base.item_col)
    assert any(v.startswith("98") for v in p["values"])


# ---------------------------------------------------------------------------------------------
# (5) value labels
# ---------------------------------------------------------------------------------------------


def _satisfaction_col(b) -> str:
    """The header of a satisfaction item (5-point scale, "Rất hài lòng" = 5)."""
    from sipas_analysis.instruments import load_instrument

    inst = load_instrument(b.config["instrument"])
    codes = set(inst.items.loc[inst.items["role"] == "satisfaction", "code"])
    return next(h for c, h in b.config["items"].items() if c in codes)


def _sav(b, tmp_path, name, value_labels):
    frame = b.frame.drop(columns=b.personal)
    names = {h: f"v{k}" for k, h in enumerate(frame.columns)}
    data = tmp_path / f"{name}.sav"
    codes = frame.rename(columns=names).apply(_numeric)
    labels = {names[h]: v for h, v in value_labels.items()}
    pyreadstat.write_sav(
        codes, data, column_labels=list(frame.columns), variable_value_labels=labels
    )
    cfg = {**b.config, "file": data.name}
    path = tmp_path / f"{name}.yaml"
    _cfg_write(path, cfg)
    return path, data


def test_reversed_scale_in_a_sav_file(base, tmp_path, capsys):  # noqa: F811
    reversed_labels = {
        1.0: "Rất hài lòng",
        2.0: "Hài lòng",
        3.0: "Bình thường",
        4.0: "Không hài lòng",
        5.0: "Rất không hài lòng",
    }
    col = _satisfaction_col(base)
    path, data = _sav(base, tmp_path, "rev", {col: reversed_labels})
    p = _bad_file(path, data, tmp_path, capsys, "scale_labels_mismatch")
    assert p["column"] in p["message_en"]  # the SPSS variable name
    assert "1=Rất hài lòng" in p["values"] and "reversed" in p["message_en"]


def test_scale_labels_as_the_instrument_pass(base, tmp_path, capsys):  # noqa: F811
    labels = {1.0: "Rất không hài lòng", 2.0: "Không hài lòng", 3.0: "Bình thường"}
    labels.update({4.0: "Hài lòng", 5.0: "Rất hài lòng"})
    path, _ = _sav(base, tmp_path, "ok", {_satisfaction_col(base): labels})
    assert "scale_labels_mismatch" not in set(read_wave(path).problems["check"])


def test_value_labels_of_coded_columns_in_the_config(base, tmp_path):  # noqa: F811
    sex_col, age_col = base.config["columns"]["sex"], base.config["columns"]["age"]
    ref = read_wave(_write(tmp_path, base, base.frame, "ref")).respondents
    frame = base.frame.copy()
    ages = pd.to_numeric(frame[age_col], errors="coerce")
    frame[age_col] = pd.cut(ages, [17, 29, 44, 59, 200], labels=[1, 2, 3, 4]).astype("Int64")
    sex = pd.to_numeric(frame[sex_col], errors="coerce")
    frame[sex_col] = sex.map({1: 0, 2: 1})  # the field team's codes: 0 = Nam, 1 = Nữ
    columns = {**base.config["columns"], "age": None, "age_band": age_col}
    labels = {
        "age_band": {1: "18-29", 2: "30-44", 3: "45-59", 4: "60+"},
        "sex": {0: "Nam", 1: "Nữ"},
    }
    wave = read_wave(_write(tmp_path, base, frame, "coded", columns=columns, value_labels=labels))
    r = wave.respondents
    assert r["age_band"].tolist() == ref["age_band"].tolist()
    assert r["sex"].tolist() == ref["sex"].tolist()


# ---------------------------------------------------------------------------------------------
# (7) personal data
# ---------------------------------------------------------------------------------------------


def test_personal_columns_by_ascii_header_and_by_values(base, tmp_path, capsys):  # noqa: F811
    frame = base.frame.drop(columns=base.personal)
    rng = np.random.default_rng(9)
    phones = [f"09{rng.integers(10**7, 10**8)}" for _ in range(len(frame))]
    ids = [f"0{rng.integers(10**10, 10**11)}" for _ in range(len(frame))]
    frame.insert(1, "hoten", [f"Nguyễn Văn {i}" for i in range(len(frame))])
    frame.insert(2, "Ghi chú", phones)  # a neutral header over phone numbers
    frame.insert(3, "Thông tin khác", ids)  # 12-digit ID card numbers
    frame.insert(4, "SĐT liên lạc", phones)
    path = _write(tmp_path, base, frame, "pii", personal_columns=[])
    out = tmp_path / "reports"
    code = cli.main(["validate", str(path), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed
    wave = read_wave(path)
    dropped = _hit(path, "personal_columns_dropped")
    assert {"hoten", "Ghi chú", "Thông tin khác", "SĐT liên lạc"} <= set(dropped["values"])
    written = "".join(p.read_text("utf-8-sig") for p in out.glob("*.csv")) + printed
    for value in [*phones[:20], *ids[:20], "Nguyễn Văn 1"]:
        assert value not in written
        assert not wave.respondents.astype(str).isin([value]).any().any()


# ---------------------------------------------------------------------------------------------
# (6) a run never fails after validate passed
# ---------------------------------------------------------------------------------------------


def test_run_without_sex_age_and_urban_columns(base, tmp_path, capsys):  # noqa: F811
    cols = base.config["columns"]
    frame = base.frame.drop(columns=[cols["sex"], cols["age"], cols["urban_rural"]])
    columns = {**cols, "sex": None, "age": None, "urban_rural": None}
    path = _write(tmp_path, base, frame, "nodemo", columns=columns)
    code, printed = _validate(path, tmp_path, capsys)
    assert code == 0, printed
    assert "subgroups_skipped" in set(read_wave(path).problems["check"])
    out = tmp_path / "reports"
    code = cli.main(["run", str(path), "--no-history", "--no-briefs", "--quiet", "--out", str(out)])
    printed = capsys.readouterr()
    assert code == 0, printed.out + printed.err
    # the subgroups of absent columns are skipped quietly (validate's note said so), not warned
    assert "no value in" not in printed.out + printed.err
    est = pd.read_parquet(out / "tables" / "estimates.parquet")
    assert {"commune", "area", "total"} <= set(est["level"])
    assert "subgroup" not in set(est["level"])


def test_low_design_df_is_warned(base, tmp_path, capsys):  # noqa: F811
    design = {**base.config["design"], "psu": base.strata_col, "strata": None, "nest_psu": False}
    path = _write(tmp_path, base, base.frame, "lowdf", design=design)
    code, printed = _validate(path, tmp_path, capsys)
    assert "low_design_df" in printed  # (names like "Phường 1" need the strata: errors)
    assert read_wave(path).design_summary["df"] == base.frame[base.strata_col].nunique() - 1


def test_xlsx_answer_left_as_an_excel_error_is_reported_with_its_row(base, tmp_path):  # noqa: F811
    """A formula that failed in the field team's workbook (``#N/A`` saved as an error cell) is a
    value the checks name with its row, not an answer silently left blank."""
    data = tmp_path / "err.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    headers = list(base.frame.columns)
    sheet.append(headers)
    item = base.config["items"][next(iter(base.config["items"]))]
    col = headers.index(item)
    for k, row in enumerate(base.frame.itertuples(index=False)):
        values = [None if pd.isna(v) else v for v in row]
        if k == 4:
            values[col] = "#N/A"  # openpyxl writes it as an error cell (t="e")
        sheet.append(values)
    book.save(data)
    assert b't="e"' in __import__("zipfile").ZipFile(data).read("xl/worksheets/sheet1.xml")
    path = tmp_path / "err.yaml"
    _cfg_write(path, {**base.config, "file": data.name})
    problems = read_wave(path).problems
    hit = problems[problems["column"].astype(str).eq(item)]
    assert not hit.empty, problems[["check", "column"]].to_string()
    text = " ".join(hit["message_en"].astype(str)) + " ".join(hit["rows"].astype(str))
    assert "#N/A" in text and "6" in text, hit.to_string()
