"""Page layout of the PDF briefs: no half-empty page, no table continued without its header.

Every page of a brief but its last is rendered at low resolution with poppler's ``pdftoppm``
(grey PGM) and measured: the largest band of rows without ink inside the text area (the page
less the margins of ``brief.typ``; the footer lies in the bottom margin) must be under
:data:`MAX_BLANK` of the text-area height. This band includes the white below the last line,
so a page left half empty by a block pushed to the next page fails.

Tables are read back with ``pdftotext -layout`` (one page at a time): where a page ends on a
table row (a line of two or more cells, i.e. runs of three or more spaces inside it) and the next
page begins with one, the table continues there, and the next page must begin with the table's
header row, i.e. a line printed on the page before (typst repeats ``table.header``). Body rows
are never repeated, so a table broken without its header is caught.

Both checks are shown to fail on hand-made typst PDFs (a half-empty page; a long table whose
header does not repeat) and to pass on their fixed versions. They run on the 2025 briefs of the
shared run and on the 2024 briefs of ``sipas brief`` on the 2024 tables (``brief_2024_job``).
Poppler (Debian ``poppler-utils``) is required in CI and skipped elsewhere where missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from _pipeline_run import LATEST_SIPAS_WAVE

from sipas_analysis.report.brief import FONT_DIR, TEMPLATE

pytestmark = pytest.mark.slow

#: Largest share of the text-area height that a page (not the last) may leave without ink.
MAX_BLANK = 0.35

#: Resolution of the measuring render (dots per inch): a line of 7.5 pt text is ~3 pixel rows.
DPI = 30

#: Grey level (0–255) below which a pixel is ink; table fills and the soft card colour are lighter.
INK_BELOW = 200

A4_HEIGHT_CM = 29.7
A4_WIDTH_CM = 21.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} (poppler-utils) is required in CI")
        pytest.skip(f"{name} (poppler-utils) not installed")
    return path


def _margins_cm() -> dict[str, float]:
    """The page margins of the brief template (``margin: (x: …cm, top: …cm, bottom: …cm)``)."""
    text = TEMPLATE.read_text(encoding="utf-8")
    m = re.search(r"margin:\s*\(([^)]*)\)", text)
    assert m, "no page margin in brief.typ"
    found = dict(re.findall(r"(\w+):\s*([\d.]+)cm", m.group(1)))
    return {k: float(found[k]) for k in ("x", "top", "bottom")}


def page_images(pdf: Path, tmp: Path, dpi: int = DPI) -> list[np.ndarray]:
    """Every page of a PDF as a grey image (rows × columns, 0 black – 255 white)."""
    tmp.mkdir(parents=True, exist_ok=True)
    prefix = tmp / pdf.stem
    subprocess.run([_tool("pdftoppm"), "-r", str(dpi), "-gray", str(pdf), str(prefix)], check=True)
    images = []
    files = sorted(tmp.glob(f"{pdf.stem}-*.pgm"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
    for f in files:
        raw = f.read_bytes()
        magic, w, h, maxval, _ = raw.split(maxsplit=4)
        assert magic == b"P5" and int(maxval) == 255, f
        w, h = int(w), int(h)
        images.append(np.frombuffer(raw[len(raw) - w * h :], dtype=np.uint8).reshape(h, w))
        f.unlink()
    assert images, pdf
    return images


def blank_share(image: np.ndarray, margins: dict[str, float]) -> float:
    """Largest run of ink-free pixel rows in the text area, as a share of its height."""
    h, w = image.shape
    per_cm_y, per_cm_x = h / A4_HEIGHT_CM, w / A4_WIDTH_CM
    area = image[
        round(margins["top"] * per_cm_y) : round(h - margins["bottom"] * per_cm_y),
        round(margins["x"] * per_cm_x) : round(w - margins["x"] * per_cm_x),
    ]
    ink = (area < INK_BELOW).any(axis=1)
    longest = run = 0
    for has_ink in ink:
        run = 0 if has_ink else run + 1
        longest = max(longest, run)
    return longest / len(ink)


def page_lines(pdf: Path) -> list[list[str]]:
    """The text lines of every page (``pdftotext -layout``), the footer line left out."""
    out = subprocess.run(
        [_tool("pdftotext"), "-layout", "-enc", "UTF-8", str(pdf), "-"],
        capture_output=True,
        check=True,
    ).stdout.decode("utf-8")
    pages = out.split("\f")
    if pages and not pages[-1].strip():
        pages = pages[:-1]
    return [
        [ln for ln in p.splitlines() if ln.strip() and not re.search(r"Trang \d+ / \d+", ln)]
        for p in pages
    ]


def _is_table_row(line: str) -> bool:
    return len(re.split(r"\s{3,}", line.strip())) >= 2


def _norm(line: str) -> str:
    return " ".join(line.split())


def layout_problems(pdf: Path, tmp: Path, margins: dict[str, float] | None = None) -> list[str]:
    """Every half-empty page (not the last) and every table continued without its header."""
    margins = margins or _margins_cm()
    problems = []
    images = page_images(pdf, tmp)
    for i, img in enumerate(images[:-1], start=1):
        share = blank_share(img, margins)
        if share >= MAX_BLANK:
            problems.append(f"{pdf.name} page {i}: {share:.0%} of the text area empty")
    lines = page_lines(pdf)
    for i in range(1, len(lines)):
        before, page = lines[i - 1], lines[i]
        if not (before and page and _is_table_row(before[-1]) and _is_table_row(page[0])):
            continue
        if _norm(page[0]) not in {_norm(ln) for ln in before}:
            problems.append(
                f"{pdf.name} page {i + 1}: a table continues without its header: {page[0].strip()}"
            )
    return problems


# ----------------------------------------------------------------------------- hand-made PDFs
def _typst_pdf(source: str, path: Path) -> Path:
    import typst

    src = path.with_suffix(".typ")
    src.write_text(source, encoding="utf-8")
    path.write_bytes(typst.compile(str(src), font_paths=[str(FONT_DIR)]))
    return path


def _page_setup() -> str:
    m = _margins_cm()
    return (
        f'#set page(paper: "a4", margin: (x: {m["x"]}cm, top: {m["top"]}cm, '
        f"bottom: {m['bottom']}cm), footer: context [Trang #counter(page).display() / 2])\n"
        '#set text(font: "Be Vietnam Pro", size: 9.5pt, lang: "vi")\n'
    )


def _paragraphs(n: int) -> str:
    return "\n\n".join(
        f"Đoạn {i}: người dân hài lòng với sự phục vụ của cơ quan hành chính nhà nước "
        "tại bộ phận một cửa, thủ tục được niêm yết công khai và trả kết quả đúng hẹn."
        for i in range(n)
    )


def _long_table(repeat: bool) -> str:
    rows = ", ".join(
        f"[Xã số {i}], [{80 + i % 9},{i % 10}%], [Tăng {i % 4} điểm]" for i in range(90)
    )
    return (
        "#table(columns: (2fr, 1fr, 1.5fr), "
        f"table.header(repeat: {str(repeat).lower()}, [*Đơn vị*], [*Kết quả*], [*Thay đổi*]), "
        f"{rows})\n"
    )


def test_a_half_empty_page_fails_and_a_full_one_passes(tmp_path):
    half = _typst_pdf(
        _page_setup() + _paragraphs(12) + "\n#pagebreak()\n" + _paragraphs(30),
        tmp_path / "half.pdf",
    )
    full = _typst_pdf(_page_setup() + _paragraphs(60), tmp_path / "full.pdf")
    m = _margins_cm()
    shares_half = [blank_share(i, m) for i in page_images(half, tmp_path / "img")]
    shares_full = [blank_share(i, m) for i in page_images(full, tmp_path / "img")]
    assert shares_half[0] > 0.5 and max(shares_full[:-1]) < 0.1, (shares_half, shares_full)
    problems = layout_problems(half, tmp_path / "img")
    assert len(problems) == 1 and "page 1:" in problems[0], problems
    assert layout_problems(full, tmp_path / "img") == []


def test_a_table_broken_without_its_header_fails_and_with_it_passes(tmp_path):
    bad = _typst_pdf(_page_setup() + _paragraphs(3) + _long_table(False), tmp_path / "bad.pdf")
    good = _typst_pdf(_page_setup() + _paragraphs(3) + _long_table(True), tmp_path / "good.pdf")
    assert len(page_lines(bad)) >= 2 and len(page_lines(good)) >= 2
    bad_problems = layout_problems(bad, tmp_path / "img")
    assert any("without its header" in p for p in bad_problems), bad_problems
    assert layout_problems(good, tmp_path / "img") == []


# ----------------------------------------------------------------------------- the briefs
def _briefs(folder: Path) -> list[Path]:
    pdfs = sorted(p for p in folder.glob("*.pdf"))
    assert pdfs, folder
    return pdfs


def test_briefs_of_the_latest_wave_have_no_half_empty_page_and_no_headless_table(
    session_run, tmp_path
):
    problems = []
    for pdf in _briefs(session_run.out / "briefs" / LATEST_SIPAS_WAVE):
        problems += layout_problems(pdf, tmp_path)
    assert problems == []


def test_briefs_of_2024_have_no_half_empty_page_and_no_headless_table(brief_2024_job, tmp_path):
    job = brief_2024_job
    assert job.returncode == 0, job.stderr[-3000:]
    pdfs = _briefs(job.out_dir / "briefs" / "2024")
    assert len(pdfs) == 5
    problems = []
    for pdf in pdfs:
        problems += layout_problems(pdf, tmp_path)
    assert problems == []
