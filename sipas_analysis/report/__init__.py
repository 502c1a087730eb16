"""Reporting layer: Vietnamese number formatting, generated sentences and PDF briefs.

The only place where results are rounded and laid out for people (compute first, format last):

* :mod:`~sipas_analysis.report.format` — ``fmt_pct(82.6667) -> "82,7%"``, ``fmt_int``, ``fmt_ci``,
  ``fmt_change_pct_points`` ("tăng 2,1 điểm phần trăm"), ``fmt_date`` ("27/11/2026");
* :mod:`~sipas_analysis.report.text` — key-finding sentences from rows of the estimates, trends and
  findings tables (suppressed estimates are never printed);
* :mod:`~sipas_analysis.report.brief` — :class:`BriefContent` and :func:`render_brief`, which
  typesets ``brief.typ`` with typst and the bundled Be Vietnam Pro font into a PDF.
"""

from sipas_analysis.report.brief import (
    BriefContent,
    DataNotes,
    FigureSpec,
    Headline,
    WeakPoint,
    build_payload,
    render_brief,
)
from sipas_analysis.report.format import (
    fmt_change_pct_points,
    fmt_change_points,
    fmt_ci,
    fmt_date,
    fmt_int,
    fmt_number,
    fmt_p_value,
    fmt_pct,
    fmt_points,
)
from sipas_analysis.report.text import (
    estimate_sentence,
    finding_sentence,
    key_findings,
    trend_sentence,
)

__all__ = [
    "BriefContent",
    "DataNotes",
    "FigureSpec",
    "Headline",
    "WeakPoint",
    "build_payload",
    "estimate_sentence",
    "finding_sentence",
    "fmt_change_pct_points",
    "fmt_change_points",
    "fmt_ci",
    "fmt_date",
    "fmt_int",
    "fmt_number",
    "fmt_p_value",
    "fmt_pct",
    "fmt_points",
    "key_findings",
    "render_brief",
    "trend_sentence",
]
