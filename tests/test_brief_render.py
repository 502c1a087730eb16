"""PDF briefs (sipas_analysis.report.brief): font embedded, Vietnamese text, numbers, suppression.

The brief is rendered from a small hand-made content object and hand-made tables into tmp_path and
read back with poppler's ``pdffonts`` and ``pdftotext`` (Debian ``poppler-utils``; the test is
skipped where they are missing, except in CI where it fails).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import struct
import subprocess
import time
import unicodedata
import zlib
from pathlib import Path

import pandas as pd
import pytest

from sipas_analysis.errors import SipasError
from sipas_analysis.report import brief as brief_mod
from sipas_analysis.report.brief import (
    FONT_DIR,
    TEMPLATE,
    BriefContent,
    DataNotes,
    FigureSpec,
    Headline,
    WeakPoint,
    build_payload,
    render_brief,
)
from sipas_analysis.report.text import key_findings


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} (poppler-utils) is required in CI")
        pytest.skip(f"{name} (poppler-utils) not installed")
    return path


def _nfc(s: str) -> str:
    return unicodedata.normalize("NFC", s)


def _pdftext(pdf: Path) -> str:
    out = subprocess.run(
        [_tool("pdftotext"), "-enc", "UTF-8", str(pdf), "-"], capture_output=True, check=True
    ).stdout.decode("utf-8")
    return " ".join(_nfc(out).split())  # NFC, and line breaks inside paragraphs become spaces


def _pdffonts(pdf: Path) -> list[dict[str, str]]:
    out = subprocess.run(
        [_tool("pdffonts"), str(pdf)], capture_output=True, check=True, text=True
    ).stdout.splitlines()
    fonts = []
    for line in out[2:]:  # header + dashes
        parts = line.split()
        # name type... encoding emb sub uni object-id generation
        fonts.append({"name": parts[0], "emb": parts[-5], "type": " ".join(parts[1:-6])})
    return fonts


def _write_png(path: Path, w: int = 60, h: int = 30) -> Path:
    """A tiny solid-colour RGB PNG, written by hand (no plotting library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    raw = b"".join(b"\x00" + bytes([11, 79, 138]) * w for _ in range(h))
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return path


def _write_svg(path: Path) -> Path:
    path.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="300" height="120">'
        '<rect x="10" y="10" width="200" height="40" fill="#0b4f8a"/>'
        '<rect x="10" y="60" width="120" height="40" fill="#a33a00"/></svg>',
        encoding="utf-8",
    )
    return path


# Hand-made tables in the columns of docs/tables.md.
BASE = {"wave": "2024", "subgroup": "", "ci_level": 0.95, "level": "area"}
ESTIMATES = pd.DataFrame(
    [
        {**BASE, "survey": "sipas", "unit_code": "800", "unit_name": "Huyện Thạnh Hóa",
         "index_code": "sipas", "index_level": "overall", "label_vi": "Chỉ số SIPAS",
         "estimate": 82.6667, "ci_low": 80.0512, "ci_high": 85.0449, "n": 412, "flag": "ok"},
        {**BASE, "survey": "sipas", "wave": "2023", "unit_code": "800",
         "unit_name": "Huyện Thạnh Hóa", "index_code": "sipas", "index_level": "overall",
         "label_vi": "Chỉ số SIPAS", "estimate": 80.5667, "ci_low": 77.9, "ci_high": 83.0,
         "n": 398, "flag": "ok"},
        {**BASE, "survey": "papi", "unit_code": "800", "unit_name": "Huyện Thạnh Hóa",
         "index_code": "papi", "index_level": "total", "label_vi": "Chỉ số PAPI",
         "estimate": 41.7018, "ci_low": 40.0982, "ci_high": 43.3054, "n": 198, "flag": "ok"},
        {**BASE, "survey": "sipas", "level": "commune", "unit_code": "27967",
         "unit_name": "Xã Đức Hòa Thượng", "index_code": "tthc", "index_level": "element",
         "label_vi": "Thủ tục hành chính", "estimate": 71.2431, "ci_low": 66.01,
         "ci_high": 76.39, "n": 64, "flag": "ok"},
        {**BASE, "survey": "sipas", "level": "commune", "unit_code": "27970",
         "unit_name": "Xã Mỹ Hạnh Bắc", "index_code": "cong_chuc", "index_level": "element",
         "label_vi": "Công chức trực tiếp giải quyết công việc", "estimate": 37.3737,
         "ci_low": 19.19, "ci_high": 59.59, "n": 8, "flag": "suppressed"},
    ]
)  # fmt: skip
TRENDS = pd.DataFrame(
    [
        {"survey": "sipas", "unit_code": "800", "unit_name": "Huyện Thạnh Hóa", "level": "area",
         "index_code": "sipas", "label_vi": "Chỉ số SIPAS", "wave_from": "2023", "wave_to": "2024",
         "estimate_from": 80.5667, "estimate_to": 82.6667, "change": 2.1, "se_change": 0.9,
         "ci_low": 0.34, "ci_high": 3.86, "p_value": 0.019, "significant": True,
         "comparable": True},
    ]
)  # fmt: skip
FINDINGS = pd.DataFrame(
    [
        {"survey": "sipas", "wave": "2024", "unit_code": "27970", "unit_name": "Xã Mỹ Hạnh Bắc",
         "level": "commune", "index_code": "cong_chuc", "index_level": "element",
         "label_vi": "Công chức trực tiếp giải quyết công việc", "estimate": 37.3737,
         "ci_low": 19.19, "ci_high": 59.59, "benchmark": 80.0, "benchmark_label": "trung bình vùng",
         "reasons": "thấp nhất vùng", "priority": 1, "recommendation_vi": "Tập huấn công chức"},
        {"survey": "sipas", "wave": "2024", "unit_code": "27967",
         "unit_name": "Xã Đức Hòa Thượng", "level": "commune", "index_code": "tthc",
         "index_level": "element", "label_vi": "Thủ tục hành chính", "estimate": 71.2431,
         "ci_low": 66.01, "ci_high": 76.39, "benchmark": 80.4512,
         "benchmark_label": "Thành phố Tân An", "reasons": "thấp hơn Thành phố Tân An",
         "priority": 2, "recommendation_vi": "Niêm yết đầy đủ thủ tục, đúng thời hạn"},
    ]
)  # fmt: skip
UNITS = ["800", "27967", "27970"]


def _content(tmp_path: Path, **overrides) -> BriefContent:
    headlines = [
        h
        for s in ("sipas", "papi")
        if (h := Headline.from_tables(ESTIMATES, TRENDS, s, "800", "2024")) is not None
    ]
    findings = key_findings(ESTIMATES, TRENDS, FINDINGS, "800", "2024", finding_units=UNITS)
    findings.append("So với Thành phố Tân An, Huyện Thạnh Hóa còn thấp hơn về thủ tục hành chính.")
    kw = {
        # area name given in Unicode NFD, as some source files have it: the PDF must show NFC
        "area_name": unicodedata.normalize("NFD", "Huyện Thạnh Hóa"),
        "wave": "2024",
        "date": dt.date(2026, 11, 27),
        "headlines": headlines,
        "key_findings": findings,
        "figures": [
            FigureSpec(_write_png(tmp_path / "trend.png"), "Chỉ số SIPAS qua các năm"),
            FigureSpec(_write_svg(tmp_path / "elements.svg"), "Các yếu tố", width=0.6),
        ],
        "weak_points": WeakPoint.from_findings(FINDINGS, ESTIMATES, wave="2024", unit_codes=UNITS),
        "notes": DataNotes(
            sample_size={"sipas": 412, "papi": 198},
            n_units=10,
            n_suppressed=1,
            comparability_breaks=["Số liệu SIPAS năm 2021 dùng bộ câu hỏi cũ: không nối chuỗi."],
        ),
    }
    kw.update(overrides)
    return BriefContent(**kw)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("brief")
    content = _content(tmp)
    start = time.perf_counter()
    pdf = render_brief(content, tmp / "out" / "brief_800_2024.pdf")
    seconds = time.perf_counter() - start
    return pdf, seconds


def test_pdf_opens_and_renders_fast(rendered):
    pdf, seconds = rendered
    assert pdf.read_bytes()[:5] == b"%PDF-"
    assert seconds < 20, f"rendering one brief took {seconds:.1f} s"
    # the atomic writer left no temporary file beside the PDF
    assert [p.name for p in pdf.parent.iterdir()] == [pdf.name]


def test_font_embedded_and_no_fallback(rendered):
    pdf, _ = rendered
    fonts = _pdffonts(pdf)
    assert fonts, "pdffonts lists no font"
    for f in fonts:
        base = f["name"].split("+", 1)[-1]  # drop the subset tag ABCDEF+
        assert base.startswith("BeVietnamPro-"), f"fallback or foreign font in the PDF: {f}"
        assert f["emb"] == "yes", f"font not embedded: {f}"
        assert "Type 3" not in f["type"]
    assert any(f["name"].endswith("BeVietnamPro-Regular") for f in fonts)
    assert any(f["name"].endswith("BeVietnamPro-Bold") for f in fonts)


def test_vietnamese_text_with_diacritics(rendered):
    text = _pdftext(rendered[0])
    for name in ("Huyện Thạnh Hóa", "Tân An", "Đức Hòa", "BẢN TIN KẾT QUẢ KHẢO SÁT SIPAS – PAPI"):
        assert _nfc(name) in text, name
    assert "Trang 1 / " in text
    assert "27/11/2026" in text


def test_headline_numbers_formatted_from_the_tables(rendered):
    text = _pdftext(rendered[0])
    assert "82,7%" in text  # 82.6667
    assert "KTC 95%: 80,1–85,0%" in text  # 80.0512, 85.0449
    assert "Tăng 2,1 điểm phần trăm so với năm 2023" in text
    assert "41,70 điểm" in text  # 41.7018
    assert "40,10–43,31" in text  # 40.0982, 43.3054
    assert "Cỡ mẫu: 412 người trả lời" in text
    assert "71,2% (66,0–76,4%)" in text  # the weak point of Xã Đức Hòa Thượng
    assert "82.6667" not in text and "82,67" not in text


def test_no_suppressed_value_appears(rendered):
    text = _pdftext(rendered[0])
    assert "Mỹ Hạnh Bắc" not in text  # its only finding rests on n = 8
    for leaked in ("37,4", "37.4", "19,2", "59,6"):
        assert leaked not in text


def test_suppressed_headline_shows_no_number(tmp_path):
    est = ESTIMATES.copy()
    est.loc[est["survey"] == "papi", ["n", "flag"]] = [7, "suppressed"]
    papi = Headline.from_tables(est, None, "papi", "800", "2024")
    assert papi is not None and papi.flag == "suppressed"
    findings = key_findings(est, None, FINDINGS, "800", "2024", finding_units=UNITS)
    content = _content(tmp_path, headlines=[papi], key_findings=findings, figures=[])
    text = _pdftext(render_brief(content, tmp_path / "b.pdf"))
    assert "Không công bố" in text and "Dưới 10 người trả lời hợp lệ" in text
    assert "41,70" not in text and "40,10" not in text


def test_payload_is_plain_strings_and_nfc(tmp_path):
    payload = build_payload(_content(tmp_path))
    assert payload["area_name"] == _nfc("Huyện Thạnh Hóa")
    assert payload["headlines"][0]["value"] == "82,7%"
    rows = payload["weak_points"]["rows"]
    # the priority-1 finding rests on a suppressed estimate: dropped, the rest renumbered from 1
    assert [r[:3] for r in rows] == [["1", "Thủ tục hành chính", "Xã Đức Hòa Thượng"]]
    assert rows[0][3] == "71,2%\n(66,0–76,4%)"
    assert rows[0][4] == "80,5%\nThành phố Tân An"


def test_missing_figure_raises_and_leaves_no_pdf(tmp_path):
    content = _content(tmp_path, figures=[FigureSpec(tmp_path / "nope.png", "Không có")])
    out = tmp_path / "out" / "brief.pdf"
    with pytest.raises(SipasError, match="nope.png"):
        render_brief(content, out)
    assert not out.exists()
    assert not list(tmp_path.rglob("*.pdf"))


def test_typst_error_raises_sipas_error_and_leaves_no_pdf(tmp_path, monkeypatch):
    broken = tmp_path / "broken.typ"
    broken.write_text('#let d = json("data.json")\n#d.no_such_key\n', encoding="utf-8")
    monkeypatch.setattr(brief_mod, "TEMPLATE", broken)
    out = tmp_path / "out" / "brief.pdf"
    with pytest.raises(SipasError, match="Typesetting"):
        render_brief(_content(tmp_path), out)
    assert not out.exists()
    assert not list(out.parent.glob("*")) if out.parent.exists() else True


def test_character_outside_the_font_is_refused(tmp_path):
    content = _content(tmp_path, key_findings=["Chỉ số tăng → 中"])
    with pytest.raises(SipasError, match="U\\+2192"):
        render_brief(content, tmp_path / "b.pdf")
    assert not (tmp_path / "b.pdf").exists()


def test_template_text_is_covered_by_the_font():
    """Static text of brief.typ (headings, markers) must be drawable: fallback is off."""
    from fontTools.ttLib import TTFont

    with TTFont(FONT_DIR / "BeVietnamPro-Regular.ttf", lazy=True) as font:
        cmap = set(font.getBestCmap())
    source = TEMPLATE.read_text(encoding="utf-8")
    missing = sorted({ch for ch in source if ord(ch) > 127 and ord(ch) not in cmap})
    assert not missing, f"characters of brief.typ not in Be Vietnam Pro: {missing}"
    assert (FONT_DIR / "OFL.txt").read_text(encoding="utf-8").count("Open Font License") >= 1


def test_content_validation(tmp_path):
    with pytest.raises(SipasError, match="key findings"):
        build_payload(_content(tmp_path, key_findings=[]))
    with pytest.raises(SipasError, match="key findings"):
        build_payload(_content(tmp_path, key_findings=["a."] * 6))
    with pytest.raises(SipasError, match="Unknown brief content"):
        BriefContent.from_dict({"area_name": "x", "wave": "2024", "headlines": [],
                                "key_findings": ["a."], "colour": "red"})  # fmt: skip
    with pytest.raises(SipasError, match="PDF"):
        render_brief(_content(tmp_path), tmp_path / "brief.docx")


def test_a_figure_note_is_printed_under_the_figure(tmp_path):
    """The small key of a figure (e.g. what the quadrants mean) is in the PDF, after the image
    and before the caption."""
    key = "Cách đọc: “Ưu tiên cải thiện”: tầm quan trọng cao, tỷ lệ hài lòng thấp."
    content = _content(
        tmp_path,
        figures=[FigureSpec(_write_png(tmp_path / "ipa.png"), "Tầm quan trọng", note=key)],
    )
    pdf = render_brief(content, tmp_path / "note.pdf")
    text = _pdftext(pdf)
    assert _nfc(key) in text
    assert text.index(_nfc(key)) < text.index("Hình 1")
    assert build_payload(content)["figures"][0]["note"] == _nfc(key)
