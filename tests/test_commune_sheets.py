"""Page 1 of the briefs and the one-page commune sheets of the shared sample run (issue 12).

Expected values are read from the run's tables and formatted with sipas_analysis.report.format;
the PDFs are read back with poppler's pdftotext / pdfinfo.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _pipeline_run import LATEST_SIPAS_WAVE

from sipas_analysis import briefs
from sipas_analysis.paths import REFERENCE_DIR
from sipas_analysis.report.format import fmt_ci, fmt_pct, fmt_points
from sipas_analysis.report.text import lower_unit_types

pytestmark = pytest.mark.slow

SLUGS = ["thanh_pho_tan_an", "huyen_moc_hoa", "huyen_thanh_hoa", "huyen_duc_hoa",
         "toan_vung_khao_sat"]  # fmt: skip


def page_text(pdf: Path, first: int = 1, last: int | None = 1) -> str:
    args = ["pdftotext", "-f", str(first)] + (["-l", str(last)] if last else []) + [str(pdf), "-"]
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def pages(pdf: Path) -> int:
    out = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", out).group(1))


@pytest.fixture(scope="module")
def tables(session_run):
    return briefs.read_tables(session_run.out / "tables")


def _brief(session_run, slug):
    w = LATEST_SIPAS_WAVE
    return session_run.out / "briefs" / w / f"ban_tin_{w}_{slug}.pdf"


def test_one_single_page_sheet_per_commune_of_the_latest_wave(session_run, tables):
    est = tables["estimates"]
    names = set(
        est.loc[
            (est["survey"] == "sipas") & (est["wave"] == LATEST_SIPAS_WAVE)
            & (est["level"] == "commune"), "unit_name"
        ]
    )  # fmt: skip
    sheets = sorted((session_run.out / "briefs" / LATEST_SIPAS_WAVE / "xa").glob("*.pdf"))
    assert len(names) == 19 and len(sheets) == 19
    shown = set()
    for pdf in sheets:
        assert pages(pdf) == 1, pdf.name
        text = page_text(pdf)
        shown |= {n for n in names if n in text.split("\n")[2:5] or f"\n{n} " in text}
    assert shown == names


def test_overview_page_one_has_rank_quartile_group_and_scorecard(session_run, tables):
    text = " ".join(page_text(_brief(session_run, "toan_vung_khao_sat")).split())
    bm = tables["benchmarks"]
    papi = bm[bm["index_code"] == "papi"].sort_values("year").iloc[-1]
    assert f"PAPI {papi['year']} xếp thứ {papi['rank']}/{papi['n_provinces']}" in text
    assert papi["quartile_group_vi"].lower() in text
    assert f"{fmt_points(papi['national_median'])} điểm" in text
    sp = tables["sipas_published"]
    sip = sp[(sp["index_code"] == "sipas") & sp["province_value"].notna()].sort_values("year")
    assert f"SIPAS {sip.iloc[-1]['year']} xếp thứ {sip.iloc[-1]['rank']}/63" in text
    tasks = yaml.safe_load((REFERENCE_DIR / "directive_tasks.yaml").read_text(encoding="utf-8"))
    assert "Các tiêu chí của chỉ đạo" in text
    for task in tasks["tasks"]:
        assert task["label_vi"] in text, task["code"]
    # the overview names the weakest and the most improved commune
    rk = tables["ranks"]
    rk = rk[(rk["wave"] == LATEST_SIPAS_WAVE) & (rk["index_code"] == "sipas")]
    est = tables["estimates"]
    est = est[(est["wave"] == LATEST_SIPAS_WAVE) & (est["level"] == "commune")]
    name = dict(zip(est["unit_code"].astype(str), est["unit_name"], strict=False))
    worst = rk.sort_values("rank").iloc[-1]
    worst_name = name[str(worst["unit_code"])]
    # inside the sentence (after a colon) the unit type is lower case: "xã Bình Hòa"
    assert f"thấp nhất toàn vùng khảo sát: {worst_name[:1].lower()}{worst_name[1:]}" in text
    assert "Tăng nhiều nhất:" in text


def test_moc_hoa_page_one_names_its_weakest_commune(session_run, tables):
    est = tables["estimates"]
    com = est[(est["survey"] == "sipas") & (est["wave"] == LATEST_SIPAS_WAVE)
              & (est["level"] == "commune") & (est["index_code"] == "sipas")
              & (est["area_code"].astype(str) == "798")]  # fmt: skip
    rk = tables["ranks"]
    rk = rk[(rk["wave"] == LATEST_SIPAS_WAVE) & (rk["index_code"] == "sipas")]
    rk = rk[rk["unit_code"].astype(str).isin(com["unit_code"].astype(str))]
    worst = com[com["unit_code"].astype(str) == str(rk.sort_values("rank").iloc[-1]["unit_code"])]
    text = " ".join(page_text(_brief(session_run, "huyen_moc_hoa")).split())
    wn = worst["unit_name"].iloc[0]
    assert f"{wn[:1].lower()}{wn[1:]} {fmt_pct(worst['estimate'].iloc[0])}" in text


def test_no_percent_points_sign_or_test_statistics_and_lower_case_unit_types(session_run):
    folder = session_run.out / "briefs" / LATEST_SIPAS_WAVE
    for pdf in sorted(folder.rglob("*.pdf")):
        everything = page_text(pdf, 1, None)
        assert "điểm %" not in everything, pdf.name
        first = " ".join(page_text(pdf).split())
        assert not re.search(r"\bq\s*[=<]|\br\s*=|\bdf\s*=", first), pdf.name
        # mid-sentence: after a letter, digit or comma, a unit type must be lower case
        bad = re.findall(r"(?:[a-zà-ỹ0-9,)] )(Huyện|Thành phố|Thị xã|Tỉnh) [A-ZĐ]", first)
        assert not bad, (pdf.name, bad)
        # a colon or semicolon does not start a sentence (Nghị định 30/2020/NĐ-CP, Phụ lục II)
        bad = re.findall(r"[:;] (Huyện|Thành phố|Thị xã|Xã|Phường) [A-ZĐ]", first)
        assert not bad, (pdf.name, bad)


def _formatted_numbers(tables, wave) -> set[str]:
    """Every number the tables can put on page 1, formatted the briefs' way."""
    out: set[str] = set()
    est = tables["estimates"]
    e = est[(est["wave"].isin([wave, str(int(wave) - 1)])) & (est["subgroup"].fillna("") == "")]
    for survey, dec in (("sipas", 1), ("papi", 2)):
        s = e[e["survey"] == survey]
        for col in (
            "estimate",
            "ci_low",
            "ci_high",
            "estimate_model",
            "ci_low_model",
            "ci_high_model",
        ):
            out |= {f"{x:.{dec}f}".replace(".", ",") for x in s[col].dropna()}
            out |= {fmt_ci(x, x, decimals=dec, unit="").split("–")[0] for x in s[col].dropna()}
    tr = tables["trends"]
    for x in tr.loc[tr["wave_to"] == wave, "change"].dropna():
        out |= {fmt_ci(abs(x), abs(x), decimals=d, unit="").split("–")[0] for d in (1, 2)}
    bm = tables["benchmarks"]
    for col in ("province_value", "national_median"):
        out |= {fmt_points(x) for x in bm[col].dropna()}
    diffs = bm.sort_values("year").groupby("index_code")["province_value"].diff().dropna()
    out |= {fmt_points(abs(x)) for x in diffs}
    sp = tables["sipas_published"]
    for col in ("province_value", "national_value"):
        out |= {fmt_pct(x)[:-1] for x in sp[col].dropna()}
    return out


@pytest.mark.parametrize("slug", SLUGS)
def test_every_number_on_page_one_is_a_number_of_the_tables(session_run, tables, slug):
    text = page_text(_brief(session_run, slug))
    allowed = _formatted_numbers(tables, LATEST_SIPAS_WAVE)
    numbers = re.findall(r"(?<![\d,])\d+,\d+", text)
    assert numbers, "no number on page 1"
    stray = sorted(set(numbers) - allowed)
    assert not stray, stray


def test_sentences_of_page_one_write_unit_types_in_lower_case(tables):
    wave = LATEST_SIPAS_WAVE
    for unit in briefs.units_for(tables["estimates"], wave):
        c = briefs.brief_content(tables, unit, wave, [])
        for key in ("verdict", "standing", "communes"):
            for s in c.leader[key]:
                assert lower_unit_types(s) == s, s
        assert "Huyện " not in " ".join(s[1:] for s in c.key_findings), c.key_findings


def test_brief_refuses_a_wave_absent_from_the_tables(session_run, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "sipas_analysis.cli", "brief", "--tables",
         str(session_run.out / "tables"), "--out", str(tmp_path), "--wave", "2030"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "2030" in said and "Traceback" not in said and "waves present" in said
    assert not list(tmp_path.rglob("*.pdf")) and not list(tmp_path.rglob("*.png"))


def test_a_failed_brief_leaves_no_pdf(tables, tmp_path, monkeypatch):
    from sipas_analysis.errors import SipasError

    real = briefs.render_brief
    calls = []

    def failing(content, path):
        calls.append(path)
        if len(calls) == 3:
            raise SipasError("typesetting failed")
        return real(content, path)

    monkeypatch.setattr(briefs, "render_brief", failing)
    monkeypatch.setenv("SIPAS_WORKERS", "1")  # the calls counted here, not in forked workers
    with pytest.raises(SipasError):
        briefs.write_briefs(tables, tmp_path / "briefs", tmp_path / "figures",
                            commune_sheets=False)  # fmt: skip
    assert len(calls) == 3
    assert not list((tmp_path / "briefs").rglob("*.pdf"))


def test_sheet_lists_what_changed_since_the_last_comparable_wave(session_run, tables):
    """Each sheet prints its element changes and the criteria that fell and rose most, as in the
    trends table (read here, independently of the sheet code)."""
    w = LATEST_SIPAS_WAVE
    tr = tables["trends"]
    est = tables["estimates"]
    sat = set(est.loc[(est["survey"] == "sipas") & (est["role"] == "satisfaction"), "index_code"])
    checked = 0
    for pdf in sorted((session_run.out / "briefs" / w / "xa").glob("*.pdf")):
        code = pdf.name.split("_")[2]
        t = tr[
            (tr["survey"] == "sipas") & (tr["unit_code"].astype(str) == code)
            & (tr["wave_to"].astype(str) == w) & tr["comparable"].fillna(False).astype(bool)
            & (tr["subgroup"].fillna("") == "") & (tr["flag_from"] != "suppressed")
            & (tr["flag_to"] != "suppressed") & tr["index_code"].isin(sat)
        ]  # fmt: skip
        if t.empty:
            continue
        text = " ".join(page_text(pdf).split())
        wave_from = str(t["wave_from"].astype(str).max())
        assert f"thay đổi nhiều nhất so với năm {wave_from}".upper() in text.upper(), pdf.name
        fall = t.sort_values("change").iloc[0]
        rise = t.sort_values("change").iloc[-1]
        if fall["change"] < -0.05:
            assert f"Giảm {fmt_ci(-fall['change'], 0, unit='').split('–')[0]}" in text, pdf.name
        if rise["change"] > 0.05:
            assert f"Tăng {fmt_ci(rise['change'], 0, unit='').split('–')[0]}" in text, pdf.name
        checked += 1
    assert checked == 19


def test_a_significant_change_read_from_a_boolean_column_is_called_significant():
    """A table's ``significant`` column of dtype bool gives numpy's True_ (``is True`` misses it)."""
    import pandas as pd

    from sipas_analysis.report import leader

    lg = pd.DataFrame(
        {"unit_code": ["1"], "unit_name": ["Xã A"], "estimate": [84.9], "flag": ["ok"],
         "rank": [1], "n_units": [19], "rank_low": [1], "rank_high": [18], "change": [11.1],
         "wave_from": ["2024"], "significant": [True]}
    )  # fmt: skip
    assert lg["significant"].dtype == bool
    improved = lg.iloc[0]
    text = " ".join(leader.commune_sentences(lg, improved, "toàn vùng khảo sát"))
    assert "thay đổi có ý nghĩa thống kê" in text and "chưa có ý nghĩa" not in text
    assert "xã A" in text and "Xã A" not in text.split(": ", 1)[1]


def test_no_commune_rose_is_said_and_the_verdict_names_only_a_lower_half_commune():
    """Page 1 when every commune fell: a sentence says so (not silence); a weakest commune in the
    upper half of all the communes surveyed is no priority of the verdict."""
    import pandas as pd

    from sipas_analysis import highlights
    from sipas_analysis.report import leader

    lg = pd.DataFrame(
        {"unit_code": ["1", "2"], "unit_name": ["Phường A", "Xã B"], "estimate": [81.4, 84.0],
         "flag": ["ok", "ok"], "rank": [7, 3], "n_units": [19, 19], "rank_low": [1, 1],
         "rank_high": [19, 15], "change": [-1.2, -0.4], "wave_from": ["2024", "2024"],
         "significant": [False, False]}
    )  # fmt: skip
    improved = highlights.most_improved(lg)
    assert improved is None
    text = " ".join(leader.commune_sentences(lg, improved, "trên địa bàn thành phố Tân An"))
    assert (
        "Không có xã, phường nào trên địa bàn thành phố Tân An có chỉ số SIPAS tăng so với "
        "năm 2024." in text
    )
    assert "Tăng nhiều nhất" not in text
    # rank 7 of 19 is in the upper half; 10 of 19 and 19 of 19 are in the lower half
    assert not highlights.in_lower_half(lg.iloc[0])
    assert highlights.in_lower_half({"rank": 10, "n_units": 19})
    assert not highlights.in_lower_half({"rank": 9, "n_units": 18})
    # without any comparable change nothing is said about rises
    nochange = lg.assign(change=float("nan"), wave_from=None)
    assert leader.commune_sentences(nochange, None, "x")[1:] == []


def test_tan_an_page_one_says_no_commune_rose_and_names_no_upper_half_priority(session_run, tables):
    from sipas_analysis import highlights

    est = tables["estimates"]
    com = est[(est["wave"] == LATEST_SIPAS_WAVE) & (est["level"] == "commune")
              & (est["area_code"].astype(str) == "794")]  # fmt: skip
    lg = highlights.commune_league(tables, LATEST_SIPAS_WAVE, sorted(set(com["unit_code"])))
    text = " ".join(page_text(_brief(session_run, "thanh_pho_tan_an")).split())
    verdict = text[text.index("Kết luận") : text.index("Chỉ số SIPAS năm")]
    shown = lg[lg["flag"] != "suppressed"]
    worst = shown.iloc[0]
    wn = worst["unit_name"]
    named = f"{wn[:1].lower()}{wn[1:]} ({fmt_pct(worst['estimate'])})" in verdict
    assert named == (worst["rank"] > worst["n_units"] / 2), verdict
    if not (shown["change"] > 0).any():
        assert "Không có xã, phường nào trên địa bàn thành phố Tân An có chỉ số SIPAS tăng" in text


def test_page_one_and_the_league_agree_on_the_significance_of_the_largest_rise(session_run, tables):
    import pandas as pd

    w = LATEST_SIPAS_WAVE
    tr = tables["trends"]
    t = tr[(tr["survey"] == "sipas") & (tr["level"] == "commune") & (tr["index_code"] == "sipas")
           & (tr["wave_to"].astype(str) == w) & tr["comparable"].fillna(False).astype(bool)
           & (tr["subgroup"].fillna("") == "")]  # fmt: skip
    top = t.sort_values("change").iloc[-1]
    assert top["change"] > 0
    text = " ".join(page_text(_brief(session_run, "toan_vung_khao_sat")).split())
    sentence = text[text.index("Tăng nhiều nhất") :]
    sentence = sentence[: sentence.index(".", sentence.index("thống kê")) + 1]
    name = top["unit_name"]
    assert name[:1].lower() + name[1:] in sentence, sentence
    # significant: its own test and Benjamini-Hochberg over the headline changes of all the
    # communes into the wave on the same geography (worked out here, step-up by definition)
    fam = t[(t["comparison"] == "consecutive")
            & (t["geography"].fillna("") == ("" if pd.isna(top["geography"]) else top["geography"]))]  # fmt: skip
    p = fam["p_value"].fillna(1.0).tolist()
    m, mine = len(p), float(1.0 if pd.isna(top["p_value"]) else top["p_value"])
    ranked = sorted(p)
    i = ranked.index(mine) + 1
    q = min(min(1.0, m * ranked[j - 1] / j) for j in range(i, m + 1))
    if bool(top["significant"]) and q <= 0.05:
        assert "có ý nghĩa thống kê" in sentence and "chưa có" not in sentence, sentence
    else:
        assert "chưa có ý nghĩa thống kê" in sentence, sentence


def test_sheet_of_a_wave_without_a_comparable_earlier_wave(tables):
    """No earlier wave (an empty trends table, or changes held as objects): no change column,
    no change section, and the sheet still renders."""
    import pandas as pd

    from sipas_analysis.report import sheet

    w = LATEST_SIPAS_WAVE
    est = tables["estimates"]
    code = str(est.loc[(est["survey"] == "sipas") & (est["wave"] == w)
                       & (est["level"] == "commune"), "unit_code"].iloc[0])  # fmt: skip
    tr = tables["trends"]
    for trends in (
        tr.iloc[0:0],
        tr.assign(change=pd.Series([float("nan")] * len(tr), dtype=object)),
    ):
        payload = sheet.sheet_payload({**tables, "trends": trends}, w, code)
        assert payload["changes"]["rows"] == []
        assert len(payload["elements"]["columns"]) == 4
