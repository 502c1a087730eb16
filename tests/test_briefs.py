"""End-to-end acceptance of the PDF briefs of a run (issue 6, items 3–4).

The briefs of the shared run of every sample wave (``tests/_pipeline_run.py``) are read back with
poppler (``pdfinfo``, ``pdffonts``, ``pdftotext``; Debian ``poppler-utils``, skipped where missing
unless the environment variable CI is set). Expected area names are literals; expected numbers are
the run's estimates table formatted with :mod:`sipas_analysis.report.format`.

The latest sample wave (2025, 72–92 respondents per commune) has no estimate with n < 10, so the
suppression check also runs on the briefs of ``sipas run waves/sipas-2024.yaml`` + ``sipas brief``
(wave 2024: 22–30 respondents per commune, about 145 suppressed SIPAS cells, commune-level weak
points), with positive controls showing that the check does find a commune's number next to its
name when the brief prints it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from _pipeline_run import LATEST_SIPAS_WAVE, SessionRun

from sipas_analysis.report.format import (
    fmt_change_pct_points,
    fmt_ci,
    fmt_int,
    fmt_pct,
    fmt_points,
)

pytestmark = pytest.mark.slow

#: (unit code, name with diacritics, file-name slug) of every brief: four areas and the overview.
UNITS = [
    ("794", "Thành phố Tân An", "thanh_pho_tan_an"),
    ("798", "Huyện Mộc Hóa", "huyen_moc_hoa"),
    ("800", "Huyện Thạnh Hóa", "huyen_thanh_hoa"),
    ("802", "Huyện Đức Hòa", "huyen_duc_hoa"),
    ("total", "Toàn vùng khảo sát", "toan_vung_khao_sat"),
]

#: PAPI samples Tân An, Mộc Hóa and Đức Hòa in every sample wave (data/sample/README.md), so their
#: briefs and the overview carry the PAPI headline of 2024; Thạnh Hóa has none.
PAPI_HEADLINE_WAVE = {"794": "2024", "798": "2024", "802": "2024", "total": "2024", "800": None}

FINDINGS_HEADING = "NHỮNG PHÁT HIỆN CHÍNH"


# ----------------------------------------------------------------------------- poppler helpers
def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} (poppler-utils) is required in CI")
        pytest.skip(f"{name} (poppler-utils) not installed")
    return path


@functools.cache
def pdf_text(pdf: Path) -> str:
    """The PDF's text, NFC, with runs of white space (line breaks) as one space."""
    out = subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    return " ".join(unicodedata.normalize("NFC", out).split())


def pdf_pages(pdf: Path) -> int:
    info = subprocess.run([_tool("pdfinfo"), str(pdf)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    match = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    assert match, info.stdout
    return int(match.group(1))


def pdf_fonts(pdf: Path) -> list[dict[str, str]]:
    out = subprocess.run([_tool("pdffonts"), str(pdf)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    rows = []
    for line in lines[2:]:  # header and dashes
        parts = line.split()
        # name, type (1–2 words), encoding, emb, sub, uni, object id, generation
        rows.append(
            {
                "name": parts[0],
                "type": " ".join(parts[1:-6]),
                "emb": parts[-5],
            }
        )
    return rows


# ----------------------------------------------------------------------------- fixtures
def _brief_path(folder: Path, wave: str, slug: str) -> Path:
    return folder / "briefs" / wave / f"ban_tin_{wave}_{slug}.pdf"


@pytest.fixture(scope="module")
def estimates(session_run: SessionRun) -> pd.DataFrame:  # noqa: F811
    est = pd.read_parquet(session_run.out / "tables" / "estimates.parquet")
    return est[est["subgroup"].fillna("") == ""]


@pytest.fixture(scope="module")
def trends(session_run: SessionRun) -> pd.DataFrame:  # noqa: F811
    return pd.read_parquet(session_run.out / "tables" / "trends.parquet")


def _row(est: pd.DataFrame, survey: str, wave: str, unit: str) -> pd.Series:
    rows = est[
        (est["survey"] == survey)
        & (est["wave"] == wave)
        & (est["unit_code"] == unit)
        & (est["index_code"] == survey)
    ]
    assert len(rows) == 1, (survey, wave, unit, len(rows))
    return rows.iloc[0]


def _headline_block(text: str) -> str:
    assert FINDINGS_HEADING in text, "no key-findings heading in the brief"
    return text.split(FINDINGS_HEADING, 1)[0]


# ----------------------------------------------------------------------------- tests
def test_one_brief_per_area_and_overview(session_run):  # noqa: F811
    pdfs = sorted(
        p.relative_to(session_run.out)
        for p in session_run.out.rglob("*.pdf")
        if p.parent.name != "xa"  # the commune sheets: tests/test_commune_sheets.py
    )
    expected = sorted(
        _brief_path(session_run.out, LATEST_SIPAS_WAVE, slug).relative_to(session_run.out)
        for _, _, slug in UNITS
    )
    assert pdfs == expected


@pytest.mark.parametrize(("code", "name", "slug"), UNITS, ids=[u[2] for u in UNITS])
def test_brief_opens_with_embedded_vietnamese_font(session_run, code, name, slug):  # noqa: F811
    pdf = _brief_path(session_run.out, LATEST_SIPAS_WAVE, slug)
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert pdf_pages(pdf) >= 2
    fonts = pdf_fonts(pdf)
    assert fonts, "no font in the PDF"
    for font in fonts:
        base = font["name"].split("+", 1)[-1]  # subset prefix ABCDEF+
        assert base.startswith("BeVietnamPro"), font
        assert font["emb"] == "yes", font
        assert "Type 3" not in font["type"], font
    assert {f["name"].split("+", 1)[-1] for f in fonts} >= {"BeVietnamPro-Regular"}


@pytest.mark.parametrize(("code", "name", "slug"), UNITS, ids=[u[2] for u in UNITS])
def test_brief_text_names_the_area_with_diacritics(session_run, code, name, slug):  # noqa: F811
    text = pdf_text(_brief_path(session_run.out, LATEST_SIPAS_WAVE, slug))
    assert unicodedata.is_normalized("NFC", name)
    assert f"{name} – năm {LATEST_SIPAS_WAVE}" in text  # the title line
    assert text.count(name) >= 3
    # the name without tone marks must not be what is printed
    plain = unicodedata.normalize("NFD", name)
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    if plain != name:
        assert plain not in text


@pytest.mark.parametrize(("code", "name", "slug"), UNITS, ids=[u[2] for u in UNITS])
def test_headline_numbers_equal_the_tables(session_run, estimates, code, name, slug):  # noqa: F811
    text = pdf_text(_brief_path(session_run.out, LATEST_SIPAS_WAVE, slug))
    block = _headline_block(text)

    sip = _row(estimates, "sipas", LATEST_SIPAS_WAVE, code)
    assert sip["flag"] != "suppressed"
    assert "Chỉ số SIPAS" in block
    assert fmt_pct(sip["estimate"]) in block
    assert f"KTC 95%: {fmt_ci(sip['ci_low'], sip['ci_high'], 1, '%')}" in block
    assert f"Cỡ mẫu: {fmt_int(sip['n'])} người trả lời" in block

    papi_wave = PAPI_HEADLINE_WAVE[code]
    if papi_wave is None:
        # outside the PAPI sample: its card says so and shows no PAPI figure of the unit
        flat = " ".join(block.split())
        assert "Đơn vị này không có trong mẫu khảo sát PAPI của tỉnh" in flat
        assert not re.search(r"KTC 95%: \d+,\d\d–\d+,\d\d", flat)
        assert flat.count("Cỡ mẫu:") == 1
        has_papi = estimates[
            (estimates["survey"] == "papi")
            & (estimates["unit_code"] == code)
            & (estimates["index_code"] == "papi")
        ]
        assert has_papi.empty
        return
    pap = _row(estimates, "papi", papi_wave, code)
    assert "Chỉ số PAPI" in block
    assert f"{fmt_points(pap['estimate'])} điểm" in block
    assert f"KTC 95%: {fmt_ci(pap['ci_low'], pap['ci_high'], 2, '')}" in block
    assert f"Cỡ mẫu: {fmt_int(pap['n'])} người trả lời" in block


@pytest.mark.parametrize(("code", "name", "slug"), UNITS, ids=[u[2] for u in UNITS])
def test_figures_as_png_and_svg(session_run, code, name, slug):  # noqa: F811
    folder = session_run.out / "figures" / LATEST_SIPAS_WAVE
    pngs = sorted(folder.glob(f"{code}_*.png"))
    svgs = sorted(folder.glob(f"{code}_*.svg"))
    assert len(pngs) >= 3, pngs
    assert [p.stem for p in pngs] == [p.stem for p in svgs]
    for png, svg in zip(pngs, svgs, strict=True):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png.name
        assert "<svg" in svg.read_text(encoding="utf-8")[:2000], svg.name
    # every figure is in the brief, each with a caption "Hình k:"
    text = pdf_text(_brief_path(session_run.out, LATEST_SIPAS_WAVE, slug))
    captions = re.findall(r"Hình (\d+):", text)
    assert captions == [str(i) for i in range(1, len(pngs) + 1)]


# ----------------------------------------------------------------------------- suppression
def _communes(est: pd.DataFrame, code: str, wave: str) -> set[str]:
    rows = est[(est["survey"] == "sipas") & (est["wave"] == wave) & (est["level"] == "commune")]
    if code != "total":
        rows = rows[rows["area_code"].astype("string") == code]
    return set(rows["unit_code"])


def _shown_after_name(text: str, name: str, shown: str, window: int = 80) -> bool:
    """Whether ``shown`` is printed within ``window`` characters after ``name`` in the text."""
    for m in re.finditer(re.escape(name) + r"(?!\w)", text):
        if shown in text[m.end() : m.end() + window]:
            return True
    return False


def _value_text(row: pd.Series) -> str:
    """A value as a brief prints it: "82,7%" (SIPAS) or "41,70 điểm" (PAPI)."""
    if row["survey"] == "sipas":
        return fmt_pct(row["estimate"])
    return f"{fmt_points(row['estimate'])} điểm"


def _suppression_report(text, est, trends, code, wave):
    """Leaks of suppressed cells in one brief, and how many cells were checked.

    A suppressed cell leaks when its formatted value is printed right after its unit's name; a
    suppressed change when "<unit> tăng/giảm x,y điểm phần trăm" is printed. A cell whose formatted value
    equals a publishable value (direct or model-based) of the same unit and wave cannot be told
    apart and is skipped.
    """
    units = _communes(est, code, wave) | {code}
    scope = est[(est["wave"] == wave) & est["unit_code"].isin(units)]
    leaks, checked = [], 0
    for _, unit_rows in scope.groupby("unit_code"):
        ok = unit_rows[unit_rows["flag"] != "suppressed"]
        shown_ok = {_value_text(r) for _, r in ok.iterrows()}
        # the model-based estimates of publishable cells are printed too (commune league table)
        shown_ok |= {fmt_pct(x) for x in ok.loc[ok["survey"] == "sipas", "estimate_model"].dropna()}
        for _, r in unit_rows[unit_rows["flag"] == "suppressed"].iterrows():
            value = _value_text(r)
            if value in shown_ok:
                continue
            checked += 1
            if _shown_after_name(text, r["unit_name"], value):
                leaks.append((r["unit_name"], r["index_code"], value))
    tr = trends[(trends["wave_to"] == wave) & trends["unit_code"].isin(units)]
    tr = tr[tr["survey"] == "sipas"]
    suppressed = (tr["flag_from"] == "suppressed") | (tr["flag_to"] == "suppressed")
    suppressed &= tr["change"].notna()  # a blank change ("–") cannot leak a number
    for (unit_name,), unit_rows in tr.groupby(["unit_name"]):
        hidden = suppressed.loc[unit_rows.index]
        ok_words = {fmt_change_pct_points(c) for c in unit_rows.loc[~hidden, "change"]}
        for _, t in unit_rows[hidden].iterrows():
            words = fmt_change_pct_points(t["change"])
            if words in ok_words:
                continue
            checked += 1
            if f"{unit_name} {words}" in text:
                leaks.append((unit_name, t["index_code"], words))
    return leaks, checked


@pytest.mark.parametrize(("code", "name", "slug"), UNITS, ids=[u[2] for u in UNITS])
def test_no_suppressed_cell_in_latest_brief(
    session_run,  # noqa: F811
    estimates,
    trends,
    code,
    name,
    slug,
):
    text = pdf_text(_brief_path(session_run.out, LATEST_SIPAS_WAVE, slug))
    leaks, _ = _suppression_report(text, estimates, trends, code, LATEST_SIPAS_WAVE)
    assert not leaks
    n_suppressed = int(
        (
            estimates["wave"].eq(LATEST_SIPAS_WAVE)
            & estimates["survey"].eq("sipas")
            & estimates["unit_code"].isin(_communes(estimates, code, LATEST_SIPAS_WAVE) | {code})
            & estimates["flag"].eq("suppressed")
        ).sum()
    )
    if n_suppressed == 0:
        assert "Không có số liệu nào trong bản tin phải ẩn vì cỡ mẫu dưới 10" in text
    else:
        assert f"{fmt_int(n_suppressed)} số liệu không được công bố" in text


def test_no_suppressed_cell_in_2024_briefs(brief_2024_job):  # noqa: F811
    job = brief_2024_job
    assert job.returncode == 0, job.stderr[-3000:]
    wave = "2024"
    tables = job.after.out_dir / "tables"  # the `sipas run waves/sipas-2024.yaml` the briefs use
    est = pd.read_parquet(tables / "estimates.parquet")
    est = est[est["subgroup"].fillna("") == ""]
    trends = pd.read_parquet(tables / "trends.parquet")
    briefs_written = [p for p in (job.out_dir / "briefs").rglob("*.pdf") if p.parent.name != "xa"]
    assert sorted(p.name for p in briefs_written) == sorted(
        _brief_path(job.out_dir, wave, slug).name for _, _, slug in UNITS
    )
    total_checked, commune_values_shown = 0, 0
    for code, name, slug in UNITS:
        text = pdf_text(_brief_path(job.out_dir, wave, slug))
        assert f"{name} – năm {wave}" in text
        leaks, checked = _suppression_report(text, est, trends, code, wave)
        assert not leaks, (slug, leaks)
        total_checked += checked
        n_suppressed = int(
            (
                est["wave"].eq(wave)
                & est["survey"].eq("sipas")
                & est["unit_code"].isin(_communes(est, code, wave) | {code})
                & est["flag"].eq("suppressed")
            ).sum()
        )
        assert n_suppressed > 0
        assert f"{fmt_int(n_suppressed)} số liệu không được công bố" in text, slug

        # positive controls: the same detector finds the numbers the brief may print
        sip = _row(est, "sipas", wave, code)
        assert _shown_after_name(text, name, fmt_pct(sip["estimate"])), slug
        publishable = est[
            (est["survey"] == "sipas")
            & (est["wave"] == wave)
            & est["unit_code"].isin(_communes(est, code, wave))
            & (est["flag"] != "suppressed")
        ]
        commune_values_shown += sum(
            _shown_after_name(text, r.unit_name, fmt_pct(r.estimate))
            for r in publishable.itertuples()
        )
    assert total_checked > 50
    assert commune_values_shown >= 2  # the planted low and declining communes at least


def test_brief_command_rerenders_the_briefs(session_run, rebrief_job):  # noqa: F811
    job = rebrief_job
    assert job.returncode == 0, job.stderr[-3000:]
    # five briefs and the 19 commune sheets of the latest wave
    assert re.search(r"24 bản tin PDF / briefs .*\(\d+\.\d s\)", job.stdout), job.stdout
    first = sorted(
        p.relative_to(session_run.out) for p in (session_run.out / "briefs").rglob("*.pdf")
    )
    again = sorted(p.relative_to(job.out_dir) for p in (job.out_dir / "briefs").rglob("*.pdf"))
    assert again == first and len(first) == len(UNITS) + 19

    def undated(text: str) -> str:  # the brief prints the day it was made
        return re.sub(r"\d{2}/\d{2}/\d{4}", "<date>", text)

    for rel in first:
        assert undated(pdf_text(job.out_dir / rel)) == undated(pdf_text(session_run.out / rel))
        assert pdf_pages(job.out_dir / rel) == pdf_pages(session_run.out / rel)
    figs = sorted(p.name for p in (job.out_dir / "figures").rglob("*.*"))
    assert figs == sorted(p.name for p in (session_run.out / "figures").rglob("*.*"))
