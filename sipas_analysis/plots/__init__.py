"""Charts of the survey results for notebooks and PDF briefs, in Vietnamese, sized for A4.

Every chart takes one of the project's tidy tables (the estimates table or a table derived from it,
see ``docs/tables.md``) plus the names of the columns to use, and returns a new
:class:`matplotlib.figure.Figure`. Nothing is estimated here: point estimates and confidence
intervals are drawn exactly as the table gives them (never recomputed, never seaborn's bootstrap).
:func:`save_figure` writes a figure as PNG and SVG atomically.

=============================  ==================================================================
chart                          table
=============================  ==================================================================
:func:`trend_chart`            estimates (several waves) or trends; lines broken at comparability
                               breaks (instrument change, 2025 boundary reorganisation)
:func:`dot_whisker_chart`      estimates (communes or items of one wave) + the area mean
:func:`heatmap_chart`          estimates (elements / sub-dimensions by commune)
:func:`diverging_bars_chart`   answer distribution (weighted shares of the 5-point answers)
:func:`papi_dimension_chart`   PAPI benchmarks (province vs national median and best province)
:func:`importance_performance_chart`  importance–performance table
=============================  ==================================================================

Rules every chart follows:

* a cell flagged ``suppressed`` (or with ``n < 10`` when an ``n`` column is present) is never drawn:
  its name is listed in a footnote; a ``small_n`` cell (``n < 30``) gets a hollow marker or a ``*``;
* numbers printed on a chart use the Vietnamese format (decimal comma: ``82,7``);
* the look (font covering Vietnamese, colour-blind-safe palette, sizes for a 6.3 in A4 text column,
  font sizes of 8 pt and more) lives in ``style.yaml`` in this package;
* figures are built on the non-interactive Agg canvas without ``pyplot``, so nothing is registered
  in pyplot's figure manager and a figure is freed as soon as it is no longer referenced; they are
  :class:`ChartFigure` objects, which JupyterLab displays as PNG when a cell returns one.

Examples
--------
>>> import pandas as pd
>>> from sipas_analysis import plots
>>> est = pd.DataFrame({"unit_name": ["Xã A", "Xã B", "Huyện X"],
...                     "level": ["commune", "commune", "area"],
...                     "estimate": [80.0, 70.0, 75.0], "ci_low": [72.0, 61.0, 71.0],
...                     "ci_high": [86.0, 78.0, 79.0], "flag": ["ok", "small_n", "ok"]})
>>> fig = plots.dot_whisker_chart(est, title="Tỷ lệ hài lòng chung")
>>> paths = plots.save_figure(fig, "reports/figures/dots")  # doctest: +SKIP

Modules: :mod:`~sipas_analysis.plots.common` (style, figure, number formats, input checks, titles,
footnotes, legends), one module per chart (:mod:`~sipas_analysis.plots.trend`,
:mod:`~sipas_analysis.plots.dot_whisker`, :mod:`~sipas_analysis.plots.heatmap`,
:mod:`~sipas_analysis.plots.diverging`, :mod:`~sipas_analysis.plots.papi_dimensions`,
:mod:`~sipas_analysis.plots.importance_performance`) and :mod:`~sipas_analysis.plots.save`.
"""

from __future__ import annotations

from sipas_analysis.plots.common import ChartFigure, font_family, style
from sipas_analysis.plots.diverging import diverging_bars_chart
from sipas_analysis.plots.dot_whisker import dot_whisker_chart
from sipas_analysis.plots.heatmap import heatmap_chart
from sipas_analysis.plots.importance_performance import importance_performance_chart
from sipas_analysis.plots.papi_dimensions import papi_dimension_chart
from sipas_analysis.plots.save import save_figure
from sipas_analysis.plots.trend import trend_chart

__all__ = [
    "ChartFigure",
    "diverging_bars_chart",
    "dot_whisker_chart",
    "font_family",
    "heatmap_chart",
    "importance_performance_chart",
    "papi_dimension_chart",
    "save_figure",
    "style",
    "trend_chart",
]
