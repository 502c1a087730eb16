"""Build a Vietnamese PDF brief (bản tin) from content taken from the run's tables.

A brief holds: the area and wave; the headline SIPAS and PAPI with confidence interval and change
since the previous wave; three to five generated key findings (:mod:`sipas_analysis.report.text`);
figures (PNG/SVG files written by the plotting module); a table of weak points with the recommended
focus; methodology and data notes (sample size, suppression, comparability breaks).

How it is typeset
-----------------
* Engine: typst, from the PyPI package ``typst`` (a compiled wheel that runs offline).
* Template: ``brief.typ`` next to this module (layout only). :func:`build_payload` formats every
  value here in Python with :mod:`sipas_analysis.report.format` and writes them as JSON into a
  temporary build folder beside a copy of the template and of the figures; the template reads the
  JSON and shows the strings as plain text, so no markup is built from strings and nothing is
  escaped by hand.
* Font: **Be Vietnam Pro** (Regular, Italic, SemiBold, Bold; SIL Open Font License 1.1, licence in
  ``fonts/OFL.txt``), a sans-serif designed for Vietnamese, committed in ``fonts/`` beside this
  module. The TTF files come unchanged from the npm registry package
  ``@expo-google-fonts/be-vietnam-pro`` 0.4.1 (version 1.002 of the font, from Google Fonts). It was
  chosen over Debian's Noto (``fonts-noto-core``) so that a brief looks the same on every machine
  without a system package. The renderer passes ``font_paths=[FONT_DIR]`` and
  ``ignore_system_fonts=True``; the template sets ``fallback: false``; every character of the
  content is checked against the font's character map before rendering, and any typst warning
  (e.g. an unknown font) is an error. So a brief can never silently fall back to another font.
* Figures: PNG, JPEG or SVG. An SVG must carry its text as outlines (matplotlib
  ``svg.fonttype = "path"``, as :mod:`sipas_analysis.plots` sets), otherwise typst would need a
  font for it; a figure is at most 9.5 cm high (taller charts are scaled down).
* Output: written atomically through :func:`sipas_analysis.outputs.atomic_path`: a failed render
  raises :class:`~sipas_analysis.errors.SipasError` and leaves no PDF behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from sipas_analysis.errors import SipasError
from sipas_analysis.outputs import atomic_path
from sipas_analysis.report.format import fmt_date, fmt_int, fmt_number, is_missing
from sipas_analysis.report.text import FLAGS, survey_format

__all__ = [
    "FONT_DIR",
    "FONT_FAMILY",
    "TEMPLATE",
    "BriefContent",
    "DataNotes",
    "FigureSpec",
    "Headline",
    "WeakPoint",
    "build_payload",
    "render_brief",
]

REPORT_DIR = Path(__file__).resolve().parent
TEMPLATE = REPORT_DIR / "brief.typ"
FONT_DIR = REPORT_DIR / "fonts"
FONT_FAMILY = "Be Vietnam Pro"
FONT_FILES = (
    "BeVietnamPro-Regular.ttf",
    "BeVietnamPro-Italic.ttf",
    "BeVietnamPro-SemiBold.ttf",
    "BeVietnamPro-Bold.ttf",
)
FIGURE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")
MAX_FINDINGS = 5

TITLE = "BẢN TIN KẾT QUẢ KHẢO SÁT SIPAS – PAPI"
DEFAULT_ISSUER = "SỞ NỘI VỤ TỈNH TÂY NINH"
DEFAULT_SOURCE = "Nguồn: khảo sát SIPAS và PAPI tại địa phương; tính toán bằng sipas_analysis."

_SCALE = {
    "sipas": "Tỷ lệ % người dân hài lòng",
    "papi": "Điểm tổng hợp 8 chỉ số nội dung",
}


# ---------------------------------------------------------------------------- content objects
@dataclass(frozen=True)
class Headline:
    """A headline index of the brief (SIPAS or PAPI) with its CI and change since a past wave.

    Values are raw (unrounded) numbers from the estimates and trends tables; ``flag`` follows the
    estimates table (``ok`` / ``small_n`` / ``suppressed``). ``flag_from`` is the flag of the
    earlier wave's estimate: if it is ``suppressed`` the change is not shown.
    """

    survey: str
    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    flag: str = "ok"
    ci_level: float = 0.95
    change: float | None = None
    wave_from: str | None = None
    significant: bool | None = None
    comparable: bool = True
    flag_from: str = "ok"
    label: str | None = None
    scale: str | None = None

    @classmethod
    def from_tables(
        cls,
        estimates: pd.DataFrame,
        trends: pd.DataFrame | None,
        survey: str,
        unit_code: str,
        wave: str,
    ) -> Headline | None:
        """Take the headline of ``survey`` for one unit and wave from the run's tables.

        Parameters
        ----------
        estimates, trends : pandas.DataFrame
            The run's estimates and trends tables (columns in docs/tables.md).
        survey : {"sipas", "papi"}
        unit_code, wave : str

        Returns
        -------
        Headline or None
            None when the estimates table has no overall row for that unit and wave. The change is
            the trend row ending at ``wave`` with the latest ``wave_from``.
        """
        unit_code, wave = str(unit_code), str(wave)
        est = estimates
        mask = (
            (est["survey"].astype(str) == survey)
            & (est["wave"].astype(str) == wave)
            & (est["unit_code"].astype(str) == unit_code)
            & (est["index_code"].astype(str) == survey)
        )
        if "subgroup" in est.columns:
            mask &= est["subgroup"].fillna("").astype(str) == ""
        rows = est[mask]
        if rows.empty:
            return None
        r = rows.iloc[0]
        kwargs: dict[str, Any] = {
            "survey": survey,
            "estimate": r["estimate"],
            "ci_low": r.get("ci_low"),
            "ci_high": r.get("ci_high"),
            "n": r.get("n"),
            "flag": str(r["flag"]),
            "ci_level": r.get("ci_level", 0.95),
        }
        if trends is not None and not trends.empty:
            tmask = (
                (trends["survey"].astype(str) == survey)
                & (trends["unit_code"].astype(str) == unit_code)
                & (trends["index_code"].astype(str) == survey)
                & (trends["wave_to"].astype(str) == wave)
            )
            cand = trends[tmask]
            if not cand.empty:
                t = cand.sort_values("wave_from").iloc[-1]
                prev = est[
                    (est["survey"].astype(str) == survey)
                    & (est["wave"].astype(str) == str(t["wave_from"]))
                    & (est["unit_code"].astype(str) == unit_code)
                    & (est["index_code"].astype(str) == survey)
                ]
                kwargs.update(
                    change=t["change"],
                    wave_from=str(t["wave_from"]),
                    significant=t.get("significant"),
                    comparable=bool(t.get("comparable", True)),
                    flag_from=str(prev["flag"].iloc[0]) if not prev.empty else "ok",
                )
        return cls(**kwargs)


@dataclass(frozen=True)
class FigureSpec:
    """A figure file (PNG or SVG) and its Vietnamese caption; ``width`` is a share of the text width;
    ``note`` is a small key printed under the figure (7.5 pt), e.g. what the quadrants mean;
    ``max_height`` (cm) caps its printed height (a taller chart is scaled down), so that a square
    chart does not fill a page while a table-like chart of many rows stays legible."""

    path: str | os.PathLike[str]
    caption: str
    width: float = 0.9
    note: str = ""
    max_height: float = 9.5


@dataclass(frozen=True)
class WeakPoint:
    """A row of the weak-points table of the brief (from the findings table)."""

    survey: str
    unit_name: str
    label: str
    estimate: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    benchmark: float | None = None
    benchmark_label: str = ""
    reasons: str = ""
    recommendation: str = ""
    priority: int | None = None
    flag: str = "ok"

    @classmethod
    def from_findings(
        cls,
        findings: pd.DataFrame,
        estimates: pd.DataFrame | None = None,
        *,
        wave: str | None = None,
        unit_codes: Sequence[str] | None = None,
        limit: int = 8,
    ) -> list[WeakPoint]:
        """Turn rows of the findings table into weak points, best priority first.

        Parameters
        ----------
        findings : pandas.DataFrame
            The findings table (``survey, wave, unit_code, unit_name, index_code, label_vi,
            estimate, ci_low, ci_high, benchmark, benchmark_label, reasons, priority,
            recommendation_vi``).
        estimates : pandas.DataFrame, optional
            When given, each finding takes the ``flag`` of its estimate; suppressed ones are left
            out (their value may never be shown).
        wave : str, optional
            Keep only this wave.
        unit_codes : sequence of str, optional
            Keep only these units (an area and its communes).
        limit : int, default 8
            At most this many rows.
        """
        df = findings
        if wave is not None:
            df = df[df["wave"].astype(str) == str(wave)]
        if unit_codes is not None:
            df = df[df["unit_code"].astype(str).isin([str(u) for u in unit_codes])]
        flags: dict[tuple[str, str, str, str], str] = {}
        if estimates is not None:
            est = estimates
            if "subgroup" in est.columns:
                est = est[est["subgroup"].fillna("").astype(str) == ""]
            flags = {
                (str(r.survey), str(r.wave), str(r.unit_code), str(r.index_code)): str(r.flag)
                for r in est[["survey", "wave", "unit_code", "index_code", "flag"]].itertuples()
            }
        out: list[WeakPoint] = []
        for _, r in df.sort_values("priority", kind="stable").iterrows():
            key = (str(r["survey"]), str(r["wave"]), str(r["unit_code"]), str(r["index_code"]))
            flag = flags.get(key, str(r.get("flag", "ok")))
            if flag == "suppressed":
                continue
            out.append(
                cls(
                    survey=str(r["survey"]),
                    unit_name=str(r["unit_name"]),
                    label=str(r.get("label_vi", r["index_code"])),
                    estimate=r["estimate"],
                    ci_low=r.get("ci_low"),
                    ci_high=r.get("ci_high"),
                    benchmark=r.get("benchmark"),
                    benchmark_label=str(r.get("benchmark_label", "") or ""),
                    reasons=str(r.get("reasons", "") or ""),
                    recommendation=str(r.get("recommendation_vi", "") or ""),
                    priority=r.get("priority"),
                    flag=flag,
                )
            )
            if len(out) >= limit:
                break
        return out


@dataclass(frozen=True)
class DataNotes:
    """Facts for the methodology and data notes of a brief.

    ``sample_size`` is respondents per survey (e.g. ``{"sipas": 412, "papi": 198}``);
    ``n_suppressed`` / ``n_small`` count the figures not shown (n < 10) or flagged (n < 30);
    ``comparability_breaks`` are sentences on series that cannot be compared across waves;
    ``other`` any further notes.
    """

    sample_size: Mapping[str, int] = field(default_factory=dict)
    n_units: int | None = None
    n_suppressed: int = 0
    n_small: int = 0
    comparability_breaks: Sequence[str] = ()
    other: Sequence[str] = ()


@dataclass(frozen=True)
class BriefContent:
    """Everything a brief shows. Numbers are raw; strings are finished Vietnamese text.

    Examples
    --------
    >>> c = BriefContent.from_dict({"area_name": "Huyện Thạnh Hóa", "wave": "2024",
    ...     "headlines": [{"survey": "sipas", "estimate": 82.6667, "ci_low": 80.1, "ci_high": 85.0,
    ...                    "n": 412}],
    ...     "key_findings": ["Câu thứ nhất."]})
    >>> c.headlines[0].estimate
    82.6667
    """

    area_name: str
    wave: str
    headlines: Sequence[Headline]
    key_findings: Sequence[str]
    figures: Sequence[FigureSpec] = ()
    weak_points: Sequence[WeakPoint] = ()
    notes: DataNotes = field(default_factory=DataNotes)
    methodology: Sequence[str] = ()
    date: _dt.date = field(default_factory=_dt.date.today)
    issuer: str = DEFAULT_ISSUER
    source: str = DEFAULT_SOURCE
    #: Finished strings of the leader's sections (report/leader.py): ``verdict, papi_absent,
    #: standing, communes`` (lists of sentences; ``papi_absent``: the card of a unit outside the
    #: PAPI sample), ``scorecard, league, weak, watch, bright, persistent, annex``
    #: (``{"columns": [...], "rows": [[...]], "note": str}``), ``annex_text``.
    leader: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> BriefContent:
        """Build content from plain dicts/lists (e.g. read from JSON or YAML).

        Raises
        ------
        SipasError
            On unknown or missing keys.
        """
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SipasError(f"Unknown brief content key(s): {sorted(unknown)}")
        kw = dict(d)
        try:
            kw["headlines"] = [_coerce(Headline, h) for h in d.get("headlines", [])]
            kw["figures"] = [_coerce(FigureSpec, f) for f in d.get("figures", [])]
            kw["weak_points"] = [_coerce(WeakPoint, w) for w in d.get("weak_points", [])]
            if "notes" in d:
                kw["notes"] = _coerce(DataNotes, d["notes"])
            if isinstance(d.get("date"), str):
                kw["date"] = _dt.date.fromisoformat(d["date"])
            return cls(**kw)
        except (TypeError, ValueError) as exc:
            raise SipasError(f"Invalid brief content: {exc}") from exc


def _coerce(cls: type, value: Any) -> Any:
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return cls(**value)
    raise SipasError(f"Expected a {cls.__name__} or a dict, got {type(value).__name__}")


# ---------------------------------------------------------------------------- payload
def _nfc(obj: Any) -> Any:
    if isinstance(obj, str):
        return unicodedata.normalize("NFC", obj)
    if isinstance(obj, Mapping):
        return {k: _nfc(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_nfc(v) for v in obj]
    return obj


def _check_flag(flag: str, what: str) -> str:
    if flag not in FLAGS:
        raise SipasError(f"{what}: unknown flag {flag!r}; expected one of {FLAGS}.")
    return flag


def _headline_payload(h: Headline) -> dict[str, str]:
    fmt = survey_format(h.survey)
    flag = _check_flag(str(h.flag), f"headline {h.survey}")
    out = {
        "label": h.label or f"Chỉ số {h.survey.upper()}",
        "scale": h.scale or _SCALE[h.survey.lower()],
        "value": "",
        "ci": "",
        "change": "",
        "significance": "",
        "n": "",
        "caution": "",
    }
    if flag == "suppressed" or is_missing(h.estimate):
        out["value"] = "Không công bố"
        out["caution"] = (
            "Dưới 10 người trả lời hợp lệ" if flag == "suppressed" else "Không có số liệu"
        )
        return out
    out["value"] = fmt.fmt_value(h.estimate)
    ci = fmt.fmt_ci(h.ci_low, h.ci_high)
    if ci != "–":
        out["ci"] = f"KTC {fmt_number(float(h.ci_level) * 100, 0)}%: {ci}"
    if not is_missing(h.n):
        out["n"] = f"Cỡ mẫu: {fmt_int(h.n)} người trả lời"
    if flag == "small_n":
        out["caution"] = "Cỡ mẫu nhỏ (dưới 30): cần diễn giải thận trọng"
    if h.wave_from is None or str(h.flag_from) == "suppressed":
        out["change"] = "Chưa có số liệu kỳ trước để so sánh"
    elif not h.comparable:
        out["change"] = f"Không so sánh trực tiếp được với năm {h.wave_from}"
        out["significance"] = "(thay đổi bộ câu hỏi, phương pháp hoặc địa giới)"
    elif not is_missing(h.change):
        words = fmt.fmt_change(h.change)
        out["change"] = f"{words[:1].upper()}{words[1:]} so với năm {h.wave_from}"
        if h.significant is not None and not is_missing(h.significant) and words != "không đổi":
            out["significance"] = (
                "Thay đổi có ý nghĩa thống kê"
                if bool(h.significant)
                else "Thay đổi không có ý nghĩa thống kê"
            )
    return out


def _weak_point_row(i: int, w: WeakPoint) -> list[str]:
    fmt = survey_format(w.survey)
    flag = _check_flag(str(w.flag), f"weak point {w.label}")
    if flag == "suppressed":
        value = "Không công bố (dưới 10 người trả lời)"
    else:
        value = fmt.fmt_value(w.estimate)
        ci = fmt.fmt_ci(w.ci_low, w.ci_high)
        if ci != "–":
            value += f"\n({ci})"
        if flag == "small_n":
            value += "\ncỡ mẫu nhỏ"
    bench = "–"
    if not is_missing(w.benchmark):
        bench = fmt.fmt_value(w.benchmark)
        if w.benchmark_label:
            bench += f"\n{w.benchmark_label}"
    return [str(i), w.label, w.unit_name, value, bench, w.reasons or "–", w.recommendation or "–"]


def _notes_payload(content: BriefContent) -> list[str]:
    n = content.notes
    notes: list[str] = []
    names = {"sipas": "SIPAS", "papi": "PAPI"}
    sizes = [
        f"{names.get(k, k.upper())}: {fmt_int(v)} người"
        for k, v in n.sample_size.items()
        if not is_missing(v)
    ]
    if sizes:
        text = "Cỡ mẫu (số người trả lời hợp lệ) năm " + content.wave + ": " + "; ".join(sizes)
        if n.n_units:
            text += f", tại {fmt_int(n.n_units)} đơn vị cấp xã"
        notes.append(text + ".")
    if n.n_suppressed:
        notes.append(
            f"{fmt_int(n.n_suppressed)} số liệu không được công bố vì có dưới 10 người trả lời "
            "hợp lệ."
        )
    else:
        notes.append("Không có số liệu nào trong bản tin phải ẩn vì cỡ mẫu dưới 10.")
    if n.n_small:
        notes.append(
            f"{fmt_int(n.n_small)} số liệu dựa trên 10–29 người trả lời, cần diễn giải thận trọng."
        )
    notes.extend(n.comparability_breaks)
    notes.extend(n.other)
    return notes


def build_payload(content: BriefContent) -> dict[str, Any]:
    """Format a brief's content into the JSON the template reads (all values are strings).

    Parameters
    ----------
    content : BriefContent

    Returns
    -------
    dict
        ``title, issuer, author, area_name, wave, date, source, headlines[], findings[],
        figures[] (file name relative to the build folder, caption, width_pct, note,
        max_height_cm),
        weak_points{columns, rows}, methodology[], notes[]``; every value is a finished string
        in Unicode NFC, except ``width_pct`` (an int).

    Raises
    ------
    SipasError
        On empty area/wave, no or more than five key findings, an unknown flag or survey.

    Notes
    -----
    This is where every number of the brief is rounded, through
    :mod:`sipas_analysis.report.format`; a suppressed headline or weak point shows
    "Không công bố" and no number.
    """
    if not str(content.area_name).strip() or not str(content.wave).strip():
        raise SipasError("A brief needs an area name and a wave.")
    findings = [str(s).strip() for s in content.key_findings if str(s).strip()]
    if not 1 <= len(findings) <= MAX_FINDINGS:
        raise SipasError(
            f"A brief takes 1 to {MAX_FINDINGS} key findings (3–5 recommended); got {len(findings)}."
        )
    payload = {
        "title": TITLE,
        "issuer": content.issuer,
        "author": "sipas_analysis",
        "area_name": str(content.area_name),
        "wave": str(content.wave),
        "date": fmt_date(content.date),
        "source": content.source,
        "headlines": [_headline_payload(h) for h in content.headlines],
        "findings": findings,
        "figures": [
            {
                "file": f"fig-{i}{Path(f.path).suffix.lower()}",
                "caption": f.caption,
                "width_pct": max(10, min(100, round(float(f.width) * 100))),
                "note": f.note,
                "max_height_cm": f"{float(f.max_height):.1f}",  # read by the template
            }
            for i, f in enumerate(content.figures, start=1)
        ],
        "weak_points": {
            "columns": [
                "TT",
                "Nội dung",
                "Đơn vị",
                "Kết quả\n(KTC 95%)",
                "Mức so sánh",
                "Lý do",
                "Trọng tâm khuyến nghị",
            ],
            # numbered 1..k in the order given (by priority): the brief's own ranking
            "rows": [_weak_point_row(i, w) for i, w in enumerate(content.weak_points, start=1)],
        },
        "methodology": [str(p) for p in content.methodology],
        "notes": _notes_payload(content),
        "leader": _leader_payload(content.leader),
    }
    return _nfc(payload)


_LEADER_LISTS = ("verdict", "papi_absent", "standing", "communes", "annex_text")
_LEADER_TABLES = ("scorecard", "league", "weak", "watch", "bright", "persistent", "annex")


def _leader_payload(leader: Mapping[str, Any]) -> dict[str, Any]:
    """Every leader section present (empty when not given), strings only."""
    out: dict[str, Any] = {k: [str(x) for x in leader.get(k, [])] for k in _LEADER_LISTS}
    for key in _LEADER_TABLES:
        t = leader.get(key) or {}
        rows = [[str(c) for c in row] for row in t.get("rows", [])]
        columns = [str(c) for c in t.get("columns", [])]
        if any(len(r) != len(columns) for r in rows):
            raise SipasError(f"Brief section {key!r}: every row needs {len(columns)} cells.")
        out[key] = {"columns": columns, "rows": rows, "note": str(t.get("note", ""))}
    unknown = set(leader) - set(_LEADER_LISTS) - set(_LEADER_TABLES)
    if unknown:
        raise SipasError(f"Unknown brief section(s): {sorted(unknown)}")
    return out


# ---------------------------------------------------------------------------- font checks
@lru_cache(maxsize=1)
def _font_charset() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    chars: set[int] | None = None
    for name in FONT_FILES:
        path = FONT_DIR / name
        if not path.is_file():
            raise SipasError(f"Font file missing: {path.name} (expected in {FONT_DIR.name}/).")
        with TTFont(path, lazy=True) as font:
            cmap = set(font.getBestCmap())
        chars = cmap if chars is None else chars & cmap
    return frozenset(chars or ())


def _strings(obj: Any) -> Iterable[str]:
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, Mapping):
        for v in obj.values():
            yield from _strings(v)
    elif isinstance(obj, list | tuple):
        for v in obj:
            yield from _strings(v)


def _check_glyphs(payload: Mapping[str, Any]) -> None:
    covered = _font_charset()
    missing: dict[str, str] = {}
    for s in _strings(payload):
        for ch in s:
            if ord(ch) not in covered and ch not in "\n\t" and ch not in missing:
                missing[ch] = s
    if missing:
        shown = ", ".join(
            f"{ch!r} (U+{ord(ch):04X}) in {ctx[:60]!r}" for ch, ctx in missing.items()
        )
        raise SipasError(f"Characters not in the brief font {FONT_FAMILY}: {shown}")


# ---------------------------------------------------------------------------- render
def render_brief(content: BriefContent, out_path: str | os.PathLike[str]) -> Path:
    """Render a brief to a PDF file, atomically.

    Parameters
    ----------
    content : BriefContent
        What the brief shows (see :class:`BriefContent`).
    out_path : path-like
        The PDF to write. It appears whole, or not at all.

    Returns
    -------
    pathlib.Path
        ``out_path``.

    Raises
    ------
    SipasError
        If a figure file is missing or of an unsupported type, the content is invalid, a character
        is not covered by the font, or typst reports an error or a warning. No PDF is left behind.

    Notes
    -----
    Typst runs with ``font_paths=[FONT_DIR]`` and ``ignore_system_fonts=True``, root = a temporary
    build folder holding a copy of ``brief.typ``, ``data.json`` and the figures.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> c = BriefContent(area_name="Thành phố Tân An", wave="2024",
    ...     headlines=[Headline("sipas", 82.6667, 80.1, 85.0, n=412)],
    ...     key_findings=["Chỉ số SIPAS của Thành phố Tân An năm 2024 đạt 82,7%."])
    >>> out = render_brief(c, pathlib.Path(tempfile.mkdtemp()) / "brief.pdf")
    >>> out.read_bytes()[:5]
    b'%PDF-'
    """
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".pdf":
        raise SipasError(f"A brief is written as PDF; got {out_path.name!r}.")
    for f in content.figures:
        p = Path(f.path)
        if p.suffix.lower() not in FIGURE_SUFFIXES:
            raise SipasError(
                f"Figure {str(p)!r}: unsupported type {p.suffix!r}; use one of {FIGURE_SUFFIXES}."
            )
        if not p.is_file():
            raise SipasError(f"Figure file not found: {str(p)!r} (caption: {f.caption!r}).")
    payload = build_payload(content)
    figures = {
        spec["file"]: Path(f.path)
        for f, spec in zip(content.figures, payload["figures"], strict=True)
    }
    return compile_pdf(TEMPLATE, payload, out_path, figures=figures, what=content.area_name)


def compile_pdf(
    template: Path,
    payload: Mapping[str, Any],
    out_path: str | os.PathLike[str],
    *,
    figures: Mapping[str, Path] | None = None,
    what: str = "",
) -> Path:
    """Typeset ``template`` with ``payload`` (as ``data.json``) into ``out_path``, atomically.

    The glyphs are checked against the bundled font first; a typst error or warning raises
    :class:`SipasError` and leaves no PDF.
    """
    import typst

    from sipas_analysis import parallel

    # a process forked after typst has typeset anything hangs: none is forked from here on
    parallel.forbid_fork("typst")
    out_path = Path(out_path)
    _check_glyphs(payload)
    with tempfile.TemporaryDirectory(prefix="sipas-brief-") as build_dir:
        build = Path(build_dir)
        shutil.copyfile(template, build / template.name)
        for name, src in (figures or {}).items():
            shutil.copyfile(src, build / name)
        (build / "data.json").write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        try:
            pdf, warnings = typst.compile_with_warnings(
                str(build / template.name),
                root=str(build),
                font_paths=[str(FONT_DIR)],
                ignore_system_fonts=True,
                format="pdf",
            )
        except typst.TypstError as exc:
            raise SipasError(f"Typesetting the brief for {what} failed: {exc}") from exc
        if warnings:
            shown = "; ".join(str(getattr(w, "message", w)) for w in warnings)
            raise SipasError(f"Typesetting the brief for {what} warned: {shown}")
        with atomic_path(out_path) as tmp:
            tmp.write_bytes(pdf)
    return out_path
