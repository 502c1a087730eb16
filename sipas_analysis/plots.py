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
  font sizes of 8 pt and more) lives in ``plots_style.yaml`` next to this module;
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
"""

from __future__ import annotations

import functools
import io
import math
import re
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import yaml
from cycler import cycler
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import BoundaryNorm, LinearSegmentedColormap, ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.ticker import FuncFormatter, MaxNLocator
from matplotlib.transforms import Bbox, ScaledTranslation, blended_transform_factory

from sipas_analysis import highlights
from sipas_analysis.errors import InputError
from sipas_analysis.outputs import atomic_path
from sipas_analysis.report.format import fmt_number, is_missing

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

STYLE_FILE = Path(__file__).with_name("plots_style.yaml")
#: Below this many respondents a cell is never shown (docs/methodology.md §5).
SUPPRESS_BELOW = 10
#: Below this many respondents a cell is shown with a caution mark.
SMALL_N_BELOW = 30
_FLAGS = ("ok", "small_n", "suppressed")

# ---------------------------------------------------------------------------------------------
# Style
# ---------------------------------------------------------------------------------------------


@functools.cache
def style() -> dict[str, Any]:
    """The chart style read from ``plots_style.yaml`` (fonts, sizes, palette, Vietnamese texts).

    Returns
    -------
    dict
        The parsed YAML file. Treat it as read-only (it is cached).

    Examples
    --------
    >>> style()["answer_labels"][5]
    'Rất hài lòng'
    """
    with STYLE_FILE.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@functools.cache
def _available_families() -> tuple[str, ...]:
    """The style's font families installed here (committed font files registered first)."""
    for name in style()["fonts"].get("files", []):
        path = Path(__file__).parent / name
        if path.is_file():
            font_manager.fontManager.addfont(str(path))
    found = []
    for family in style()["fonts"]["families"]:
        try:
            font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        found.append(family)
    return tuple(found) or ("DejaVu Sans",)


def font_family() -> str:
    """The font family the charts use: the first family of the style file available here.

    Returns
    -------
    str
        ``"Be Vietnam Pro"`` (the briefs' font, committed in ``report/fonts/``), else ``"Noto
        Sans"`` (Debian ``fonts-noto-core``), else ``"DejaVu Sans"`` (bundled with matplotlib).
        All cover every Vietnamese letter; the other available families fill in any glyph the
        first one lacks.

    Examples
    --------
    >>> font_family() in ("Be Vietnam Pro", "Noto Sans", "DejaVu Sans")
    True
    """
    return _available_families()[0]


def _rc() -> dict[str, Any]:
    """matplotlib rcParams for the project's charts (applied with ``rc_context``, never globally)."""
    s = style()
    f = s["fonts"]
    return {
        # the first available family, the other available ones as per-glyph fallback
        "font.family": list(_available_families()),
        "font.size": f["size"],
        "axes.titlesize": f["subtitle_size"],
        "axes.titlelocation": "left",
        "axes.labelsize": f["size"],
        "figure.titlesize": f["title_size"],
        "figure.titleweight": "bold",
        "figure.labelsize": f["note_size"],
        "xtick.labelsize": f["tick_size"],
        "ytick.labelsize": f["tick_size"],
        "legend.fontsize": f["legend_size"],
        "legend.title_fontsize": f["legend_size"],
        "legend.frameon": False,
        "axes.prop_cycle": cycler(color=s["palette"]),
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.edgecolor": "#444444",
        "axes.linewidth": 0.8,
        "grid.color": s["colors"]["grid"],
        "grid.linewidth": 0.6,
        "axes.unicode_minus": True,
        "hatch.color": s["colors"]["suppressed_hatch"],
        "hatch.linewidth": 0.8,
        "savefig.dpi": s["figure"]["dpi"],
        "svg.fonttype": "path",  # glyphs as outlines: the SVG needs no font where it is shown
        "svg.hashsalt": "sipas-analysis",  # reproducible SVG ids
        "figure.constrained_layout.h_pad": 0.06,
        "figure.constrained_layout.w_pad": 0.06,
    }


def _styled(func: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the chart inside the style's rc_context and lay it out before returning it."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with mpl.rc_context(_rc()):
            fig = func(*args, **kwargs)
            # Create tick labels and run the layout while the style is active.
            fig.draw_without_rendering()
        return fig

    return wrapper


class ChartFigure(Figure):
    """A matplotlib Figure that shows itself in JupyterLab without ``pyplot``.

    The charts are built on the Agg canvas outside pyplot (nothing to close, no memory growth), so
    the notebook's inline backend does not know them; ``_repr_png_`` lets IPython display a chart
    returned as the last expression of a cell.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        with mpl.rc_context(_rc()):
            self.savefig(buffer, format="png", dpi=110)
        return buffer.getvalue()


def _new_figure(height: float | None = None) -> tuple[Figure, Any]:
    fig_style = style()["figure"]
    h = fig_style["height"] if height is None else height
    h = float(min(max(h, fig_style["min_height"]), fig_style["max_height"]))
    fig = ChartFigure(figsize=(fig_style["width"], h), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    return fig, ax


def _row_height(n_rows: int, extra: float) -> float:
    return n_rows * style()["figure"]["row_height"] + extra


# ---------------------------------------------------------------------------------------------
# Vietnamese number format (compute first, format last: only here and in report/)
# ---------------------------------------------------------------------------------------------


def _fmt(x: float | None, decimals: int = 1) -> str:
    """Format a number the Vietnamese way (:func:`report.format.fmt_number`) with a typographic
    minus: ``1234.5 -> '1.234,5'``, ``-2.1 -> '−2,1'``; missing -> ``""``."""
    if is_missing(x):
        return ""
    return fmt_number(x, decimals).replace("-", "\u2212")


def _fmt_tick(value: float, _pos: int | None = None) -> str:
    for decimals in (0, 1, 2):
        if abs(value - round(value, decimals)) < 1e-9:
            return _fmt(value, decimals)
    return _fmt(value, 3)


def _vn_ticks() -> FuncFormatter:
    """A new tick formatter with decimal commas (a formatter must not be shared between axes)."""
    return FuncFormatter(_fmt_tick)


# ---------------------------------------------------------------------------------------------
# Input checks and common pieces
# ---------------------------------------------------------------------------------------------


def _require(df: pd.DataFrame, columns: Sequence[str | None], table: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{table}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise InputError(
            f"{table}: missing column(s) {', '.join(missing)}; present: {', '.join(map(str, df.columns))}",
            column=missing[0],
            values=missing,
        )


def _numeric(df: pd.DataFrame, column: str, table: str, *, allow_na: bool = True) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & df[column].notna()
    if not allow_na:
        bad = bad | df[column].isna()
    if bad.any():
        raise InputError(
            f"{table}: non-numeric values",
            column=column,
            rows=[int(i) if isinstance(i, int | np.integer) else i for i in df.index[bad]],
            values=df.loc[bad, column].tolist(),
        )
    return values.astype(float)


def _status(df: pd.DataFrame, flag: str | None, n: str | None, table: str) -> pd.Series:
    """Per row 'ok' / 'small_n' / 'suppressed' from the flag column and, if present, n."""
    status = pd.Series("ok", index=df.index, dtype=object)
    if flag is not None and flag in df.columns:
        flags = df[flag].fillna("ok").astype(str)
        unknown = ~flags.isin(_FLAGS)
        if unknown.any():
            raise InputError(
                f"{table}: unknown flag values (expected ok, small_n, suppressed)",
                column=flag,
                rows=list(df.index[unknown]),
                values=sorted(flags[unknown].unique()),
            )
        status = flags.astype(object).copy()
    if n is not None and n in df.columns:
        counts = pd.to_numeric(df[n], errors="coerce")
        status = status.mask((counts < SMALL_N_BELOW) & (status == "ok"), "small_n")
        status = status.mask(counts < SUPPRESS_BELOW, "suppressed")
    return status


def _check_unique(df: pd.DataFrame, keys: list[str], table: str, hint: str) -> None:
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        shown = df.loc[dup, keys].drop_duplicates().astype(str).agg(" / ".join, axis=1)
        raise InputError(
            f"{table}: several rows per ({', '.join(keys)}); {hint}",
            column=keys[-1],
            rows=list(df.index[dup]),
            values=shown.tolist(),
        )


def _unique_value(df: pd.DataFrame, column: str | None) -> Any:
    if column is None or column not in df.columns:
        return None
    values = df[column].dropna().unique()
    return values[0] if len(values) == 1 else None


def _value_label(df: pd.DataFrame) -> str:
    text = style()["text"]
    survey = _unique_value(df, "survey")
    if survey == "sipas":
        return text["ylabel_sipas"]
    if survey == "papi":
        return text["ylabel_papi"]
    return text["ylabel_default"]


def _ci_note(df: pd.DataFrame, ci_level: str = "ci_level") -> str:
    level = _unique_value(df, ci_level)
    level = 0.95 if level is None else float(level)
    level = level * 100 if level <= 1 else level
    return style()["text"]["ci_note"].format(level=_fmt(level, 0))


def _shorten(text: str, limit: int) -> str:
    """Cut a label at a word boundary to at most ``limit`` characters, ending with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.(") + "…"


def _wrap(text: str, width: int) -> str:
    """Wrap at word boundaries into as few lines as ``width`` allows, with balanced lengths."""
    text = str(text)
    lines = textwrap.wrap(text, width=width, break_long_words=False)
    if len(lines) > 1:  # same number of lines, but no short orphan on the last line
        target = math.ceil(len(text) / len(lines))
        for w in range(target, width + 1):
            balanced = textwrap.wrap(text, width=w, break_long_words=False)
            if len(balanced) == len(lines):
                lines = balanced
                break
    return "\n".join(lines) or text


def _titles(
    fig: Figure, ax: Any, title: str | None, subtitle: str | None, raise_pt: float = 0.0
) -> None:
    """Bold title and plain subtitle, both flush with the figure's left edge.

    The subtitle is an annotation of the axes (x in figure coordinates, y just above the axes and
    anything drawn above them, at least ``raise_pt`` points higher), so constrained layout keeps
    room for it. Call it after everything above the axes has been drawn.
    """
    if title:
        fig.suptitle(_wrap(title, 72), x=0.01, ha="left")
    if subtitle:
        # Sit above whatever is already above the axes (top tick labels, break labels).
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        above = ax.get_tightbbox(renderer).y1 - ax.get_window_extent(renderer).y1
        raise_pt = max(raise_pt, above * 72 / fig.dpi - 4)
        ax.annotate(
            _wrap(subtitle, 90),
            xy=(0.01, 1.0),
            xycoords=blended_transform_factory(fig.transFigure, ax.transAxes),
            xytext=(0, 8 + raise_pt),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=style()["fonts"]["subtitle_size"],
            gid="subtitle",
        )


def _footnote(fig: Figure, notes: Sequence[str | None]) -> None:
    lines = [_wrap(n, 105) for n in notes if n]
    if lines:
        fig.supxlabel("\n".join(lines), x=0.01, ha="left", color="#333333", linespacing=1.3)


def _color(i: int) -> tuple[str, str]:
    s = style()
    palette, styles = s["palette"], s["line_styles"]
    return palette[i % len(palette)], styles[(i // len(palette)) % len(styles)]


def _legend_below(fig: Figure, ax: Any, handles: list, ncols: int) -> None:
    """A legend centred under the axes, just below the x-axis label (inside the layout)."""
    if not handles:
        return
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    below = ax.get_window_extent(renderer).y0 - ax.get_tightbbox(renderer).y0
    offset = ScaledTranslation(0, -(below / fig.dpi + 0.06), fig.dpi_scale_trans)
    ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        bbox_transform=ax.transAxes + offset,
        ncols=max(1, ncols),
        handlelength=1.8,
        columnspacing=1.4,
    )


# ---------------------------------------------------------------------------------------------
# 1. Trend lines with CI bands and comparability breaks
# ---------------------------------------------------------------------------------------------


def _trends_to_points(trends: pd.DataFrame, group: str) -> pd.DataFrame:
    """Turn a trends table (pairs of waves) into one point per (group, wave), without CIs."""
    _require(trends, [group, "wave_from", "wave_to", "estimate_from", "estimate_to"], "trends")
    start = trends[[group, "wave_from", "estimate_from"]].set_axis(
        [group, "wave", "estimate"], axis=1
    )
    end = trends[[group, "wave_to", "estimate_to"]].set_axis([group, "wave", "estimate"], axis=1)
    points = pd.concat([start, end], ignore_index=True)
    points["wave"] = points["wave"].astype(str)
    points = points.drop_duplicates([group, "wave"]).reset_index(drop=True)
    points["ci_low"] = np.nan
    points["ci_high"] = np.nan
    for column in ("survey", "label_vi"):
        if column in trends.columns:
            points[column] = _unique_value(trends, column)
    return points


def _wave_positions(waves: Sequence[str]) -> dict[str, float]:
    numeric = pd.to_numeric(pd.Series(list(waves)), errors="coerce")
    if numeric.notna().all():
        return {w: float(v) for w, v in zip(waves, numeric, strict=True)}
    return {w: float(i) for i, w in enumerate(sorted(waves))}


def _detect_breaks(
    df: pd.DataFrame, wave: str, order: list[str], trends: pd.DataFrame | None, group: str
) -> dict[str, str]:
    """Breaks before a wave: {first wave after the break: label}."""
    text = style()["text"]
    found: dict[str, list[str]] = {}
    for before, after in zip(order, order[1:], strict=False):
        for column, label in (
            ("instrument", text["break_instrument"].format(wave=after)),
            ("boundary_vintage", text["break_boundary"]),
        ):
            if column in df.columns:
                a = set(df.loc[df[wave] == before, column].dropna().astype(str))
                b = set(df.loc[df[wave] == after, column].dropna().astype(str))
                if a and b and a != b:
                    found.setdefault(after, []).append(label)
    if trends is not None and len(trends):
        _require(trends, ["wave_from", "wave_to", "comparable"], "trends")
        # only the rows of the index and units drawn (a PAPI 2016 break concerns D1, D3, D5 only)
        for column in ("survey", "index_code", group):
            if column in trends.columns and column in df.columns:
                trends = trends.loc[trends[column].isin(df[column].dropna().unique())]
        nxt = dict(zip(order, order[1:], strict=False))
        broken = trends.loc[~trends["comparable"].astype(bool)]
        reasons = (
            broken["break_reason_vi"].fillna("").astype(str)
            if "break_reason_vi" in broken.columns
            else pd.Series("", index=broken.index)
        )
        for w_from, w_to, reason in zip(
            broken["wave_from"].astype(str), broken["wave_to"].astype(str), reasons, strict=True
        ):
            if nxt.get(w_from) == w_to and w_to not in found:
                # trends.py reasons read "what changed: không so sánh được"; keep what changed
                short = reason.split(";")[0].split(":")[0].strip()
                found[w_to] = [short or text["break_generic"]]
    return {w: "; ".join(labels) for w, labels in found.items()}


@_styled
def trend_chart(
    data: pd.DataFrame,
    *,
    wave: str = "wave",
    estimate: str = "estimate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    group: str = "unit_name",
    flag: str | None = "flag",
    n: str | None = "n",
    breaks: Mapping[str, str] | None = None,
    trends: pd.DataFrame | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    ylabel: str | None = None,
    note: str | None = None,
) -> Figure:
    """Lines of one index across waves, one line per unit, with CI bands, broken at breaks.

    Parameters
    ----------
    data : DataFrame
        The estimates table filtered to one index (one row per ``group`` and ``wave``), or a trends
        table (columns ``wave_from, wave_to, estimate_from, estimate_to, comparable``): then the
        levels are drawn without bands (a trends table has no CI of the levels) and breaks are taken
        from ``comparable``.
    wave, estimate, ci_low, ci_high, group, flag, n : str
        Column names. ``wave`` values are strings; numeric waves ("2019") are spaced by year.
    breaks : mapping of str to str, optional
        Extra comparability breaks, ``{first wave after the break: label}``, e.g.
        ``{"2016": "Đổi cách tính D1, D3, D5"}``. Breaks are also found automatically where the
        ``instrument`` or ``boundary_vintage`` column changes between consecutive waves, and from
        ``trends`` rows with ``comparable == False`` between consecutive waves.
    trends : DataFrame, optional
        A trends table (``sipas_analysis.trends.trend_table``) whose non-comparable pairs of
        consecutive waves mark breaks, restricted to the survey, index and units drawn; the label
        is the first part of ``break_reason_vi`` when present.
    title, subtitle, ylabel, note : str, optional
        Texts (Vietnamese). Defaults come from the table (``label_vi``, ``survey``).

    Returns
    -------
    matplotlib.figure.Figure
        Lines are never drawn across a break: each comparable run of waves is its own line and
        band; a break is a dashed vertical line with its label above the plot. Suppressed points
        are not drawn (and split the line); small-n points have hollow markers.

    Raises
    ------
    InputError
        Missing columns, non-numeric values, unknown flags, or several rows per (group, wave).

    Notes
    -----
    Band = ``[ci_low, ci_high]`` exactly as in the table (design-based CIs of the estimation
    engine); nothing is recomputed. A break sits halfway between the last wave before it and the
    first wave after it.

    Examples
    --------
    >>> import pandas as pd
    >>> est = pd.DataFrame({"wave": ["2021", "2022", "2023"], "unit_name": "Huyện Đức Hòa",
    ...     "instrument": ["sipas-2017", "sipas-2022", "sipas-2022"],
    ...     "estimate": [80.1, 76.0, 79.2], "ci_low": [75.0, 71.2, 74.9],
    ...     "ci_high": [84.5, 80.3, 83.0], "flag": "ok"})
    >>> fig = trend_chart(est)  # break labelled "Đổi bộ câu hỏi 2022" between 2021 and 2022
    """
    table = "trend_chart"
    if wave not in data.columns and {"wave_from", "wave_to"} <= set(data.columns):
        if trends is None:
            trends = data
        data = _trends_to_points(data, group)
        wave, estimate, ci_low, ci_high = "wave", "estimate", "ci_low", "ci_high"
    _require(data, [wave, estimate, ci_low, ci_high, group], table)
    df = data.copy()
    df[wave] = df[wave].astype(str)
    _check_unique(df, [group, wave], table, "filter the table to one index and subgroup first")
    df["_y"] = _numeric(df, estimate, table)
    df["_lo"] = _numeric(df, ci_low, table)
    df["_hi"] = _numeric(df, ci_high, table)
    df["_status"] = _status(df, flag, n, table)
    hidden = df["_status"] == "suppressed"
    df.loc[hidden, ["_y", "_lo", "_hi"]] = np.nan

    order = sorted(df[wave].unique(), key=lambda w: _wave_positions(df[wave].unique())[w])
    xpos = _wave_positions(order)
    df["_x"] = df[wave].map(xpos)
    found = _detect_breaks(df, wave, order, trends, group)
    for w, label in (breaks or {}).items():
        found[str(w)] = label
    prev = {b: a for a, b in zip(order, order[1:], strict=False)}
    break_x = {}
    for w, label in found.items():
        if w in xpos and w in prev:
            break_x[(xpos[prev[w]] + xpos[w]) / 2] = label
        elif w in xpos:  # break before the first wave shown: nothing to separate
            continue
        else:  # a break wave with no data: put it between its neighbours
            after = [x for x in xpos.values() if x > float(pd.to_numeric(w, errors="coerce"))]
            before = [x for x in xpos.values() if x < float(pd.to_numeric(w, errors="coerce"))]
            if after and before:
                break_x[(max(before) + min(after)) / 2] = label
    cuts = sorted(break_x)

    fig, ax = _new_figure()
    groups = list(pd.unique(df[group]))
    handles = []
    span = max(xpos.values()) - min(xpos.values())
    step = span / max(len(order) - 1, 1) if span else 1.0
    for i, name in enumerate(groups):
        color, ls = _color(i)
        # Lone points (a wave with no comparable neighbour) are dodged so whiskers do not overlap.
        dodge = (i - (len(groups) - 1) / 2) * 0.05 * step
        g = df.loc[df[group] == name].sort_values("_x")
        segment = np.searchsorted(cuts, g["_x"].to_numpy())
        # A suppressed (NaN) point also splits a run: consecutive drawn points only.
        gap = g["_y"].isna().to_numpy()
        run = np.cumsum(np.r_[0, (np.diff(segment) != 0) | gap[1:] | gap[:-1]])
        for _, part in g.loc[~gap].groupby(run[~gap], sort=False):
            x, y = part["_x"].to_numpy(), part["_y"].to_numpy()
            lo, hi = part["_lo"].to_numpy(), part["_hi"].to_numpy()
            if len(part) > 1:
                ax.plot(x, y, color=color, ls=ls, lw=1.6, gid="trend_line", label=str(name))
                band = ~(np.isnan(lo) | np.isnan(hi))
                if band.all():
                    ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0, gid="ci_band")
            else:
                x = x + dodge
                if not (np.isnan(lo[0]) or np.isnan(hi[0])):
                    ax.vlines(x, lo, hi, color=color, lw=1.4, alpha=0.7, gid="ci_whisker")
            ok = (part["_status"] == "ok").to_numpy()
            ax.scatter(x[ok], y[ok], s=22, color=color, zorder=3, gid="trend_point")
            ax.scatter(
                x[~ok],
                y[~ok],
                s=22,
                facecolors="white",
                edgecolors=color,
                lw=1.2,
                zorder=3,
                gid="trend_point_small_n",
            )
        handles.append(Line2D([], [], color=color, ls=ls, lw=1.6, marker="o", ms=4, label=name))

    pad = 0.45 * step if span else 0.5
    ax.set_xlim(min(xpos.values()) - pad, max(xpos.values()) + pad)
    ax.set_xticks([xpos[w] for w in order], labels=order)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    ax.yaxis.set_major_formatter(_vn_ticks())
    ax.grid(axis="y")
    ax.set_xlabel(style()["text"]["wave_axis"])
    ax.set_ylabel(ylabel or _value_label(df))
    x0, x1 = ax.get_xlim()
    size = style()["fonts"]["annotation_size"]
    line_pt = 1.25 * size
    last_frac, last_level, last_lines, raise_pt = None, 1, 1, 0.0
    for xb in cuts:
        ax.axvline(
            xb, color=style()["colors"]["break_line"], ls="--", lw=1.0, gid="comparability_break"
        )
        frac = (xb - x0) / (x1 - x0)
        ha = "left" if frac < 0.2 else "right" if frac > 0.8 else "center"
        label = _wrap(break_x[xb], 26)
        # Stagger labels of breaks that sit close together.
        level = 1 - last_level if last_frac is not None and frac - last_frac < 0.35 else 0
        n_lines = label.count("\n") + 1
        lift = level * (last_lines * line_pt + 2)
        ax.annotate(
            label,
            xy=(xb, 1.0),
            xycoords=ax.get_xaxis_transform(),
            xytext=(0, 3 + lift),
            textcoords="offset points",
            ha=ha,
            va="bottom",
            fontsize=size,
            color=style()["colors"]["break_line"],
            gid="comparability_break_label",
        )
        raise_pt = max(raise_pt, lift + n_lines * line_pt)
        last_frac, last_level, last_lines = frac, level, n_lines

    if subtitle is None and len(groups) == 1:
        subtitle = str(groups[0])
    label_vi = _unique_value(df, "label_vi")
    _titles(fig, ax, title or label_vi or style()["text"]["trend_title"], subtitle, raise_pt)
    if len(groups) > 1:
        _legend_below(fig, ax, handles, min(len(groups), 3))
    notes: list[str | None] = []
    if np.isfinite(df["_lo"]).any():
        notes.append(_ci_note(df))
    if (df["_status"] == "small_n").any():
        notes.append(style()["text"]["small_n_note"])
    if hidden.any():
        names = ", ".join(f"{r[group]} ({r[wave]})" for _, r in df.loc[hidden].iterrows())
        notes.append(style()["text"]["suppressed_note"].format(names=names))
    notes.append(note)
    _footnote(fig, notes)
    return fig


# ---------------------------------------------------------------------------------------------
# 2. Dot and whisker
# ---------------------------------------------------------------------------------------------


@_styled
def dot_whisker_chart(
    estimates: pd.DataFrame,
    *,
    label: str = "unit_name",
    estimate: str = "estimate",
    ci_low: str = "ci_low",
    ci_high: str = "ci_high",
    flag: str | None = "flag",
    n: str | None = "n",
    level: str | None = "level",
    reference_level: str | None = "area",
    reference: float | None = None,
    reference_ci: tuple[float, float] | None = None,
    reference_label: str | None = None,
    sort: bool = True,
    show_values: bool = True,
    title: str | None = None,
    subtitle: str | None = None,
    xlabel: str | None = None,
    note: str | None = None,
) -> Figure:
    """Communes (or items) as dots with their CI whiskers, against the area mean.

    Parameters
    ----------
    estimates : DataFrame
        One row per dot (e.g. the communes of one area, one index, one wave), optionally plus one
        row whose ``level`` equals ``reference_level`` (the area), drawn as the reference line.
    label, estimate, ci_low, ci_high, flag, n, level : str
        Column names. ``flag``/``n``/``level`` may be absent from the table.
    reference_level : str, optional
        Level of the reference row taken from the table (default ``"area"``); ``None`` to not look.
    reference, reference_ci : float, (float, float), optional
        The reference value and its CI given directly (overrides ``reference_level``).
    reference_label : str, optional
        Legend text of the reference (default: the reference row's label, or "Trung bình vùng").
    sort : bool
        Sort dots by estimate, highest at the top (default); else keep the table's order.
    show_values : bool
        Print each estimate (Vietnamese format) at the right of the plot.
    title, subtitle, xlabel, note : str, optional
        Texts (Vietnamese).

    Returns
    -------
    matplotlib.figure.Figure
        Whiskers are one ``LineCollection`` (gid ``"ci_whiskers"``) whose segments run from
        ``ci_low`` to ``ci_high`` of the table; suppressed rows are not drawn and are named in a
        footnote; small-n rows have hollow markers.

    Raises
    ------
    InputError
        Missing columns, non-numeric values, unknown flags, duplicated labels, or several
        reference rows.

    Notes
    -----
    The intervals are the table's design-based intervals; this function never computes one.

    Examples
    --------
    >>> import pandas as pd
    >>> est = pd.DataFrame({"unit_name": ["Xã A", "Xã B"], "estimate": [80.0, 70.0],
    ...                     "ci_low": [72.0, 61.0], "ci_high": [86.0, 78.0]})
    >>> fig = dot_whisker_chart(est, reference=75.0)
    """
    table = "dot_whisker_chart"
    _require(estimates, [label, estimate, ci_low, ci_high], table)
    df = estimates.copy()
    df["_y"] = _numeric(df, estimate, table)
    df["_lo"] = _numeric(df, ci_low, table)
    df["_hi"] = _numeric(df, ci_high, table)
    df["_status"] = _status(df, flag, n, table)
    text = style()["text"]

    ref_value, ref_ci, ref_name = reference, reference_ci, reference_label
    if reference is None and reference_level and level and level in df.columns:
        is_ref = df[level].astype(str) == reference_level
        if is_ref.sum() > 1:
            raise InputError(
                f"{table}: several rows with {level} == {reference_level!r}; keep one reference",
                column=level,
                rows=list(df.index[is_ref]),
                values=df.loc[is_ref, label].tolist(),
            )
        if is_ref.any():
            row = df.loc[is_ref].iloc[0]
            if row["_status"] != "suppressed":
                ref_value = row["_y"]
                ref_ci = (row["_lo"], row["_hi"])
                ref_name = ref_name or str(row[label])
            df = df.loc[~is_ref]
    _check_unique(df, [label], table, "filter the table to one index, wave and subgroup first")

    hidden = df["_status"] == "suppressed"
    shown = df.loc[~hidden]
    if sort:
        shown = shown.sort_values("_y", ascending=False, kind="stable")
    k = len(shown)
    fig, ax = _new_figure(_row_height(max(k, 1), 1.7))
    ypos = np.arange(k, dtype=float)
    main = style()["colors"]["main"]
    ax.hlines(ypos, shown["_lo"], shown["_hi"], colors=main, lw=1.4, gid="ci_whiskers")
    ok = (shown["_status"] == "ok").to_numpy()
    ax.scatter(shown["_y"][ok], ypos[ok], s=30, color=main, zorder=3, gid="estimates_ok")
    ax.scatter(
        shown["_y"][~ok],
        ypos[~ok],
        s=30,
        facecolors="white",
        edgecolors=main,
        lw=1.3,
        zorder=3,
        gid="estimates_small_n",
    )
    handles: list = [Line2D([], [], color=main, marker="o", lw=1.4, label=text["estimate_legend"])]
    if (~ok).any():
        handles.append(
            Line2D([], [], color=main, marker="o", mfc="white", lw=0, label=text["small_n_legend"])
        )
    if ref_value is not None and not pd.isna(ref_value):
        grey = style()["colors"]["reference"]
        ax.axvline(ref_value, color=grey, lw=1.2, zorder=1, gid="reference_line")
        if ref_ci is not None and not any(pd.isna(v) for v in ref_ci):
            ax.axvspan(*ref_ci, color=grey, alpha=0.13, lw=0, zorder=0, gid="reference_band")
        name = ref_name or text["reference_legend"]
        handles.append(Line2D([], [], color=grey, lw=1.2, label=f"{name}: {_fmt(ref_value)}"))

    ax.set_yticks(ypos, labels=[str(v) for v in shown[label]])
    ax.set_ylim(max(k, 1) - 0.5, -0.5)  # first (highest) at the top
    if k == 0:
        ax.set_xticks([])
        ax.text(0.5, 0.5, text["nothing_shown"], transform=ax.transAxes, ha="center", va="center")
    ax.xaxis.set_major_formatter(_vn_ticks())
    ax.grid(axis="x")
    ax.set_xlabel(xlabel or _value_label(df))
    if show_values:
        trans = blended_transform_factory(ax.transAxes, ax.transData)
        for y, v, st in zip(ypos, shown["_y"], shown["_status"], strict=True):
            ax.text(
                1.01,
                y,
                _fmt(v) + ("*" if st == "small_n" else ""),
                transform=trans,
                va="center",
                ha="left",
                fontsize=style()["fonts"]["annotation_size"],
                gid="value_label",
            )
    _titles(fig, ax, title or _unique_value(df, "label_vi") or text["dot_title"], subtitle)
    if len(handles) > 1:  # a lone "estimate" entry says nothing
        _legend_below(fig, ax, handles, len(handles))
    notes: list[str | None] = [_ci_note(df)]
    if (~ok).any():
        notes.append(text["small_n_note"])
    if hidden.any():
        notes.append(
            text["suppressed_note"].format(names=", ".join(map(str, df.loc[hidden, label])))
        )
    notes.append(note)
    _footnote(fig, notes)
    return fig


# ---------------------------------------------------------------------------------------------
# 3. Heatmap
# ---------------------------------------------------------------------------------------------


@_styled
def heatmap_chart(
    estimates: pd.DataFrame,
    *,
    row: str = "unit_name",
    column: str = "label_vi",
    value: str = "estimate",
    flag: str | None = "flag",
    n: str | None = "n",
    group: str | None = None,
    pinned: str | None = "level",
    sort_rows: bool = True,
    decimals: int = 1,
    cmap: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    colorbar_label: str | None = None,
    note: str | None = None,
    reference: Mapping[str, float] | None = None,
    reference_name: str = "mốc so sánh",
) -> Figure:
    """Scores of elements / sub-dimensions (columns) by commune (rows), values written in cells.

    Parameters
    ----------
    estimates : DataFrame
        One row per (``row``, ``column``) cell: e.g. the element estimates of one wave.
    row, column, value, flag, n : str
        Column names. Columns keep the table's order of first appearance (within their group).
    group : str, optional
        Column naming the group of each heatmap column (e.g. the part: chính sách | dịch vụ):
        columns are gathered by group, a dark line separates the groups and the group names are
        written under the cells.
    pinned : str, optional
        Column (default ``level``) marking summary rows, which stay at the bottom under a line
        whatever the sort: ``"total"`` rows, and ``"area"`` rows when communes are drawn too.
    sort_rows : bool
        Sort the other rows by the mean of their shown cells, highest at the top (default); else
        keep the table's order.
    decimals : int
        Decimals of the values printed in the cells (decimal comma).
    cmap, vmin, vmax : optional
        Colour map and its limits. Default: the style's fixed scale (``heatmap_scale``: 60–100%
        for SIPAS, 2–8 points for a PAPI table, red to blue), identical in every chart so that
        one colour means one value in every brief; values outside are drawn in the end colours.
    title, subtitle, colorbar_label, note : str, optional
        Texts (Vietnamese). ``note`` goes under the chart (e.g. which reference is used).
    reference : mapping, optional
        Reference value of each heatmap column (keyed by the ``column`` value): the cells are then
        coloured in three bands (below / near / above, :func:`highlights.reference_bands`, ±2
        points) with a three-colour RdBu legend, instead of the continuous scale; each column
        label shows its reference. Columns without a reference are left white.
    reference_name : str
        What the reference is called in the legend (default "mốc so sánh").

    Returns
    -------
    matplotlib.figure.Figure
        Cells are a ``QuadMesh`` (gid ``"heatmap_cells"``) whose array is masked where a cell is
        suppressed or missing; suppressed cells are hatched and carry no value; small-n values get
        a ``*``.

    Raises
    ------
    InputError
        Missing columns, non-numeric values, unknown flags, several rows per cell.

    Notes
    -----
    Values are drawn as given; only the printed text is rounded.

    Examples
    --------
    >>> import pandas as pd
    >>> est = pd.DataFrame({"unit_name": ["Xã A", "Xã A", "Xã B", "Xã B"],
    ...                     "label_vi": ["Tiếp cận", "Công chức"] * 2,
    ...                     "estimate": [81.2, 90.5, 77.0, 85.1]})
    >>> fig = heatmap_chart(est)
    """
    table = "heatmap_chart"
    _require(estimates, [row, column, value], table)
    df = estimates.copy()
    _check_unique(
        df, [row, column], table, "filter the table to one wave, level and subgroup first"
    )
    df["_v"] = _numeric(df, value, table)
    df["_status"] = _status(df, flag, n, table)
    rows = list(pd.unique(df[row]))
    summary: list = []
    if pinned and pinned in df.columns:
        levels = df[pinned].astype(str)
        # the whole survey area is a summary row; an area is one beside its communes only
        kinds = ["total", "area"] if levels.eq("commune").any() else ["total"]
        summary = list(pd.unique(df.loc[levels.isin(kinds), row]))
    if sort_rows:
        means = df.loc[df["_status"] != "suppressed"].groupby(row, sort=False)["_v"].mean()
        body = [r for r in rows if r not in summary]
        rows = sorted(body, key=lambda r: -means.get(r, -np.inf))
    else:
        rows = [r for r in rows if r not in summary]
    rows = rows + summary
    cols = list(pd.unique(df[column]))
    col_group: dict = {}
    if group is not None:
        _require(df, [group], table)
        col_group = df.drop_duplicates(column).set_index(column)[group].astype(str).to_dict()
        order = list(pd.unique(df[group].astype(str)))
        cols = sorted(cols, key=lambda c: order.index(col_group[c]))
    ri = {r: i for i, r in enumerate(rows)}
    ci = {c: j for j, c in enumerate(cols)}
    values = np.full((len(rows), len(cols)), np.nan)
    status = np.full((len(rows), len(cols)), "", dtype=object)
    for r, c, v, st in zip(df[row], df[column], df["_v"], df["_status"], strict=True):
        status[ri[r], ci[c]] = st
        if st != "suppressed":
            values[ri[r], ci[c]] = v
    masked = np.ma.masked_invalid(values)

    s = style()
    refs = None
    if reference is not None:
        refs = np.array([float(reference.get(c, np.nan)) for c in cols], dtype=float)
    # horizontal column labels wrapped to the width of a cell (a reference adds a line)
    label_area_in = 0.075 * max((len(str(r)) for r in rows), default=8) + 0.3
    right_in = 0.9 if refs is None else 0.1  # colour bar
    cell_pt = 72 * (s["figure"]["width"] - label_area_in - right_in) / max(len(cols), 1)
    char_pt = 0.5 * s["fonts"]["tick_size"]

    def labels_for(width: int) -> list[str]:
        out = []
        for j, c in enumerate(cols):
            text = _wrap(c, width)
            if refs is not None and np.isfinite(refs[j]):
                text += "\n(" + _fmt(refs[j], decimals) + ")"
            out.append(text)
        return out

    wrap = max(6, int(cell_pt / char_pt))
    col_labels = labels_for(wrap)
    header = max(lbl.count("\n") + 1 for lbl in col_labels) if cols else 1
    header_in = 0.15 * header + 0.1
    extra = 1.4 + header_in + (0.35 if refs is not None else 0.0)
    fig, ax = _new_figure(_row_height(len(rows), extra) + 0.05 * len(rows))
    scale = s["heatmap_scale"]
    if _unique_value(df, "survey") == "papi":
        scale = {**scale, **scale["papi"]}
    if refs is not None:
        band_colors = s["heatmap_bands"]
        cmap_obj = ListedColormap(band_colors, name="sipas_bands")
        cmap_obj.set_bad("white")
        bands = highlights.reference_bands(values, refs[np.newaxis, :])
        mesh = ax.pcolormesh(
            np.ma.masked_invalid(bands),
            cmap=cmap_obj,
            norm=BoundaryNorm([-1.5, -0.5, 0.5, 1.5], 3),
            edgecolors="white",
            linewidth=1.0,
            gid="heatmap_cells",
        )
        lo, hi = -1.0, 1.0
        shade = np.where(np.isfinite(bands), bands, 0.0)
    else:
        cmap_obj = (
            mpl.colormaps[cmap]
            if cmap
            else LinearSegmentedColormap.from_list("sipas_heatmap", scale["colors"])
        )
        lo = float(scale["vmin"] if vmin is None else vmin)
        hi = float(scale["vmax"] if vmax is None else vmax)
        if hi <= lo:
            lo, hi = lo - 1, hi + 1
        mesh = ax.pcolormesh(
            masked,
            cmap=cmap_obj,
            vmin=lo,
            vmax=hi,
            edgecolors="white",
            linewidth=1.0,
            gid="heatmap_cells",
        )
        shade = values
    norm = mesh.norm
    for i in range(len(rows)):
        for j in range(len(cols)):
            if status[i, j] == "suppressed":
                ax.add_patch(
                    Rectangle((j, i), 1, 1, fill=False, hatch="///", lw=0, gid="suppressed_cell")
                )
            elif np.isfinite(values[i, j]):
                r, g, b = to_rgb(cmap_obj(norm(shade[i, j])))
                dark = 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    _fmt(values[i, j], decimals) + ("*" if status[i, j] == "small_n" else ""),
                    ha="center",
                    va="center",
                    fontsize=s["fonts"]["annotation_size"],
                    color="white" if dark else "black",
                    gid="cell_value",
                )
    if summary and len(summary) < len(rows):
        ax.axhline(len(rows) - len(summary), color="#222222", lw=1.6, gid="summary_separator")
    bounds = [
        j for j in range(1, len(cols)) if col_group.get(cols[j]) != col_group.get(cols[j - 1])
    ]
    for j in bounds:
        ax.axvline(j, color="#222222", lw=2.0, gid="group_separator")
    if col_group:
        edges = [0, *bounds, len(cols)]
        for a, b in zip(edges, edges[1:], strict=False):
            ax.annotate(
                col_group[cols[a]],
                xy=((a + b) / 2, len(rows)),
                xycoords="data",
                xytext=(0, -4),
                textcoords="offset points",
                ha="center",
                va="top",
                fontsize=s["fonts"]["size"],
                fontweight="bold",
                annotation_clip=False,
                gid="group_label",
            )
    ax.set_xlim(0, len(cols))
    ax.set_ylim(len(rows), 0)
    ax.xaxis.tick_top()
    ax.set_xticks(
        np.arange(len(cols)) + 0.5, labels=col_labels, rotation=0, ha="center", va="bottom"
    )
    ax.set_yticks(np.arange(len(rows)) + 0.5, labels=[str(r) for r in rows])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if refs is None:
        cbar = fig.colorbar(mesh, ax=ax, shrink=0.8, aspect=25, pad=0.02, extend="both")
        cbar.ax.yaxis.set_major_formatter(_vn_ticks())
        cbar.set_label(colorbar_label or _value_label(df))
        cbar.outline.set_visible(False)
    # the column labels never overlap: wrap narrower while two of them are closer than 4 pt
    for _ in range(8):
        fig.draw_without_rendering()
        renderer = fig.canvas.get_renderer()
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels()]
        gap = 4 * fig.dpi / 72
        if not any(a.x1 + gap > b.x0 for a, b in zip(boxes, boxes[1:], strict=False)) or wrap <= 4:
            break
        wrap -= 1
        col_labels = labels_for(wrap)
        ax.set_xticks(np.arange(len(cols)) + 0.5, labels=col_labels)
    _titles(fig, ax, title or s["text"]["heatmap_title"], subtitle)
    if refs is not None:
        names = highlights.band_labels(reference_name)
        handles = [
            Patch(facecolor=c, edgecolor="#999999", lw=0.5, label=names[code])
            for code, c in zip((-1, 0, 1), s["heatmap_bands"], strict=True)
        ]
        _legend_below(fig, ax, handles, 1)
    notes: list[str | None] = []
    if refs is not None:
        notes.append(s["text"]["heatmap_reference_note"].format(reference=reference_name))
    elif cmap is None and vmin is None and vmax is None:
        notes.append(
            s["text"]["heatmap_scale_note"].format(
                vmin=_fmt(lo, 0), vmax=_fmt(hi, 0), unit=scale["unit"]
            )
        )
    if (status == "small_n").any():
        notes.append(s["text"]["small_n_star_note"])
    if (status == "suppressed").any():
        notes.append(s["text"]["suppressed_cell_note"])
    notes.append(note)
    _footnote(fig, notes)
    return fig


# ---------------------------------------------------------------------------------------------
# 4. Diverging stacked bars of the 5-point answers
# ---------------------------------------------------------------------------------------------


@_styled
def diverging_bars_chart(
    distribution: pd.DataFrame,
    *,
    item: str = "label_vi",
    answer: str = "answer_code",
    share: str = "share",
    answer_label: str | None = "answer_label_vi",
    sort: bool = True,
    title: str | None = None,
    subtitle: str | None = None,
    note: str | None = None,
    tolerance: float = 0.5,
) -> Figure:
    """Diverging stacked bars of weighted 5-point answers: dissatisfied left, satisfied right.

    Parameters
    ----------
    distribution : DataFrame
        The answer-distribution table for one unit and wave: one row per (``item``, ``answer``)
        with the weighted percentage ``share`` (each item sums to 100).
    item, answer, share, answer_label : str
        Column names. ``answer`` holds the codes 1–5; ``answer_label`` (optional) their Vietnamese
        labels, else the style file's labels (Rất không hài lòng … Rất hài lòng) are used.
    sort : bool
        Sort items by the share answering 4 or 5, highest at the top.
    title, subtitle, note : str, optional
        Texts (Vietnamese).
    tolerance : float
        Allowed deviation of an item's total from 100 (percentage points).

    Returns
    -------
    matplotlib.figure.Figure
        One ``BarContainer`` per answer code (gid ``"answer_<code>"``). Answers 1–2 lie left of
        zero and answers 4–5 right of zero, so a bar's right end is the satisfied share (4 + 5)
        written next to it and its left end the dissatisfied share (1 + 2); the neutral answer 3
        ("Bình thường") is a bar of its own in a narrow column at the right. Labels are wrapped at
        word boundaries (never cut) and each row is as tall as its label.

    Raises
    ------
    InputError
        Missing columns, answer codes outside 1–5, negative or non-numeric shares, several rows
        per (item, answer), or an item whose shares do not sum to 100.

    Notes
    -----
    Left end of the bar of an item = −(s1 + s2), right end = s4 + s5; the shares are drawn as
    given.

    Examples
    --------
    >>> import pandas as pd
    >>> dist = pd.DataFrame({"label_vi": ["Công chức lịch sự"] * 5, "answer_code": [1, 2, 3, 4, 5],
    ...                      "share": [3.0, 7.0, 15.0, 50.0, 25.0]})
    >>> fig = diverging_bars_chart(dist)
    """
    table = "diverging_bars_chart"
    _require(distribution, [item, answer, share], table)
    df = distribution.copy()
    _check_unique(df, [item, answer], table, "filter the table to one unit and wave first")
    codes = pd.to_numeric(df[answer], errors="coerce")
    bad = ~codes.isin([1, 2, 3, 4, 5])
    if bad.any():
        raise InputError(
            f"{table}: answer codes must be 1–5",
            column=answer,
            rows=list(df.index[bad]),
            values=df.loc[bad, answer].tolist(),
        )
    df["_code"] = codes.astype(int)
    df["_share"] = _numeric(df, share, table, allow_na=False)
    if (df["_share"] < 0).any():
        neg = df["_share"] < 0
        raise InputError(
            f"{table}: negative shares",
            column=share,
            rows=list(df.index[neg]),
            values=df.loc[neg, share].tolist(),
        )
    wide = df.pivot(index=item, columns="_code", values="_share").reindex(columns=range(1, 6))
    wide = wide.fillna(0.0).reindex(pd.unique(df[item]))
    totals = wide.sum(axis=1)
    off = (totals - 100).abs() > tolerance
    if off.any():
        raise InputError(
            f"{table}: shares of an item must sum to 100 (±{tolerance})",
            column=share,
            values=[f"{i}: {t:.2f}" for i, t in totals[off].items()],
        )
    labels = {int(k): v for k, v in style()["answer_labels"].items()}
    if answer_label and answer_label in df.columns:
        for code, lbl in df.groupby("_code")[answer_label].first().items():
            if isinstance(lbl, str) and lbl.strip():
                labels[int(code)] = lbl
    if sort:
        wide = wide.assign(_top=wide[4] + wide[5]).sort_values(
            "_top", ascending=False, kind="stable"
        )
        wide = wide.drop(columns="_top")

    k = len(wide)
    s = style()
    size = s["fonts"]["annotation_size"]
    # Item labels wrapped at word boundaries (never cut): the row height follows the line count.
    item_labels = [_wrap(str(i), s["figure"]["label_chars"]) for i in wide.index]
    lines = [lbl.count("\n") + 1 for lbl in item_labels]
    row_in = s["figure"]["row_height"]
    height = sum(max(row_in, 0.17 * n + 0.06) for n in lines) + 2.0
    fig_style = s["figure"]
    h = float(min(max(height, fig_style["min_height"]), fig_style["max_height"]))
    fig = ChartFigure(figsize=(fig_style["width"], h), layout="constrained")
    FigureCanvasAgg(fig)
    ax, ax_mid = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [5.2, 1.0]})
    # Row centres spaced by their label's line count so that wrapped labels never touch.
    gaps = np.array([max(1.0, (0.17 * n + 0.06) / row_in) for n in lines])
    ypos = np.cumsum(gaps) - gaps / 2 if k else np.zeros(0)
    bar_h = 0.62
    # Dissatisfied (2, then 1) grow left from 0, satisfied (4, then 5) grow right from 0, so the
    # right end of a bar is the satisfied share written next to it; neutral (3) is its own column.
    starts = {
        2: -wide[2].to_numpy(),
        1: -(wide[1] + wide[2]).to_numpy(),
        4: np.zeros(k),
        5: wide[4].to_numpy(),
    }
    handles = []
    for code in range(1, 6):
        widths = wide[code].to_numpy()
        color = s["colors"]["answers"][code - 1]
        target, left = (ax_mid, np.zeros(k)) if code == 3 else (ax, starts[code])
        target.barh(
            ypos,
            widths,
            left=left,
            height=bar_h,
            color=color,
            edgecolor="white",
            lw=0.5,
            label=labels[code],
            gid=f"answer_{code}",
        )
        r, g, b = to_rgb(color)
        txt = "white" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "black"
        if code != 3:
            for y, x0, w in zip(ypos, left, widths, strict=True):
                if w >= 8:
                    ax.text(
                        x0 + w / 2,
                        y,
                        _fmt(w, 0),
                        ha="center",
                        va="center",
                        color=txt,
                        fontsize=size,
                        gid="segment_value",
                    )
        handles.append(Patch(facecolor=color, label=labels[code]))
    neg = (wide[1] + wide[2]).to_numpy()
    pos = (wide[4] + wide[5]).to_numpy()
    for y, a, b_, mid in zip(ypos, neg, pos, wide[3].to_numpy(), strict=True):
        ax.text(
            -a - 1.5,
            y,
            f"{_fmt(a, 0)}%",
            ha="right",
            va="center",
            color="#333333",
            fontsize=size,
            gid="total_negative",
        )
        ax.text(
            b_ + 1.5,
            y,
            f"{_fmt(b_, 0)}%",
            ha="left",
            va="center",
            fontweight="bold",
            fontsize=size,
            gid="total_positive",
        )
        ax_mid.text(
            mid + 1.5, y, f"{_fmt(mid, 0)}%", ha="left", va="center", fontsize=size, gid="neutral"
        )
    left_extent = 10 * math.ceil((float(np.max(neg, initial=0)) + 12) / 10)
    right_extent = 10 * math.ceil((float(np.max(pos, initial=0)) + 12) / 10)
    ax.set_xlim(-max(left_extent, 20), min(max(right_extent, 30), 115))
    ax.axvline(0, color="#333333", lw=0.8, zorder=0.5)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: _fmt_tick(abs(v))))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
    ax.set_yticks(ypos, labels=item_labels)
    total_h = float(np.sum(gaps)) if k else 1.0
    ax.set_ylim(total_h, 0)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    ax.set_xlabel(s["text"]["diverging_xlabel"])
    mid_max = float(np.max(wide[3].to_numpy(), initial=0))
    ax_mid.set_xlim(0, max(10.0, 10 * math.ceil((mid_max + 14) / 10)))
    ax_mid.set_title(labels[3], fontsize=size, loc="center")
    ax_mid.tick_params(axis="y", length=0, labelleft=False)
    ax_mid.spines["left"].set_visible(False)
    ax_mid.set_xticks([])
    ax_mid.spines["bottom"].set_visible(False)
    _titles(fig, ax, title or s["text"]["diverging_title"], subtitle)
    _legend_below(fig, ax, [handles[i] for i in (0, 1, 3, 4, 2)], 3)
    _footnote(fig, [s["text"]["diverging_note"], note])
    return fig


# ---------------------------------------------------------------------------------------------
# 5. PAPI dimensions vs national median and best province
# ---------------------------------------------------------------------------------------------

_DIMENSION = re.compile(r"^d(\d+)$", re.IGNORECASE)


@_styled
def papi_dimension_chart(
    benchmarks: pd.DataFrame,
    *,
    year: int | str | None = None,
    province_name: str | None = None,
    year_column: str = "year",
    index_code: str = "index_code",
    label: str = "label_vi",
    province: str = "province_value",
    median: str = "national_median",
    best: str = "national_max",
    group: str | None = "quartile_group_vi",
    rank: str = "rank",
    n_provinces: str = "n_provinces",
    title: str | None = None,
    note: str | None = None,
) -> Figure:
    """The province's PAPI dimension scores against the national median and the best province.

    Parameters
    ----------
    benchmarks : DataFrame
        The PAPI benchmarks table: one row per (year, index_code) with ``d1``…``d8`` (2018+; ``d1``…
        ``d6`` before) and optionally ``papi`` (the total, reported in a footnote).
    year : int or str, optional
        The year to draw (default: the latest in the table).
    province_name : str, optional
        Name shown in title and legend (default from the style file: "Long An").
    year_column, index_code, label, province, median, best, group, rank, n_provinces : str
        Column names; ``group`` (the quartile group in Vietnamese), ``rank`` and ``n_provinces``
        are optional: when present, each dimension's rank and group are written next to its
        value and the total's rank and group form the subtitle.
    title, note : str, optional
        Texts (Vietnamese).

    Returns
    -------
    matplotlib.figure.Figure
        The province's dots (gid ``"province"``), the national median as a tall tick across each
        row (``"national_median"``, a ``LineCollection``, visible above and below the dot when the
        values coincide) and the best province as a triangle above the row (``"best_province"``).

    Raises
    ------
    InputError
        Missing columns, no dimension rows for the year, several rows per dimension.

    Notes
    -----
    A dimension score runs 1–10 (sum of its sub-dimensions); the total is the unweighted sum of
    the dimensions (8–80 from 2018).

    Examples
    --------
    >>> import pandas as pd
    >>> bm = pd.DataFrame({"year": 2019, "index_code": ["d1", "d2"],
    ...                    "label_vi": ["Tham gia của người dân ở cấp cơ sở", "Công khai, minh bạch"],
    ...                    "province_value": [4.9, 5.1], "national_median": [5.0, 5.2],
    ...                    "national_max": [6.2, 6.4], "quartile_group_vi": "Thấp"})
    >>> fig = papi_dimension_chart(bm)
    """
    table = "papi_dimension_chart"
    _require(benchmarks, [year_column, index_code, label, province, median, best], table)
    df = benchmarks.copy()
    years = df[year_column].astype(str)
    chosen = str(year) if year is not None else max(years.unique(), key=lambda y: (len(y), y))
    df = df.loc[years == chosen]
    codes = df[index_code].astype(str).str.strip()
    dims = df.loc[codes.str.match(_DIMENSION)].copy()
    if dims.empty:
        raise InputError(
            f"{table}: no dimension rows (d1, d2, …) for year {chosen}",
            column=index_code,
            values=sorted(codes.unique()),
        )
    _check_unique(dims, [index_code], table, "one row per dimension and year")
    dims["_k"] = dims[index_code].astype(str).str.extract(_DIMENSION)[0].astype(int)
    dims = dims.sort_values("_k")
    for column in (province, median, best):
        dims[column] = _numeric(dims, column, table)
    s = style()
    text = s["text"]
    pname = province_name or text["papi_province_default"]
    k = len(dims)
    fig, ax = _new_figure(_row_height(k, 1.9) + 0.16 * k)
    ypos = np.arange(k, dtype=float)
    grey, green, blue = s["colors"]["reference"], s["colors"]["best"], s["colors"]["main"]
    lo = dims[[province, median, best]].min(axis=1).to_numpy()
    hi = dims[[province, median, best]].max(axis=1).to_numpy()
    ax.hlines(ypos, lo, hi, color="#BBBBBB", lw=2.5, zorder=1)
    # The median is a tall tick across the row and the best province a triangle above the row's
    # line, so neither hides behind the province's dot when the values coincide.
    ax.vlines(
        dims[median], ypos - 0.36, ypos + 0.36, color=grey, lw=2.2, zorder=2, gid="national_median"
    )
    ax.scatter(
        dims[best], ypos - 0.24, marker="v", s=40, color=green, zorder=3, gid="best_province"
    )
    ax.scatter(dims[province], ypos, marker="o", s=48, color=blue, zorder=4, gid="province")
    trans = blended_transform_factory(ax.transAxes, ax.transData)
    ranks = (
        pd.to_numeric(dims[rank], errors="coerce")
        if rank in dims.columns
        else pd.Series(np.nan, index=dims.index)
    )
    n_prov = (
        pd.to_numeric(dims[n_provinces], errors="coerce")
        if n_provinces in dims.columns
        else pd.Series(np.nan, index=dims.index)
    )
    groups = (
        dims[group].astype(str)
        if group and group in dims.columns
        else pd.Series("", index=dims.index)
    )
    for y, v, r, nn, g in zip(ypos, dims[province], ranks, n_prov, groups, strict=True):
        extra = []
        if not is_missing(r):
            extra.append(
                text["papi_dim_rank"].format(
                    rank=f"{int(r)}/{int(nn)}" if not is_missing(nn) else int(r)
                )
            )
        if g and g != "nan":
            extra.append(g.lower())
        ax.text(
            1.01,
            y,
            _fmt(v, 2),
            transform=trans,
            ha="left",
            va="bottom" if extra else "center",
            color=blue,
            fontsize=s["fonts"]["annotation_size"],
            fontweight="bold",
            gid="province_value",
        )
        if extra:
            ax.text(
                1.01,
                y,
                ", ".join(extra),
                transform=trans,
                ha="left",
                va="top",
                color="#333333",
                fontsize=s["fonts"]["annotation_size"],
                gid="province_rank",
            )
    labels = [
        _wrap(f"D{kk}. {lbl}", 38)
        for kk, lbl in zip(dims["_k"], dims[label].astype(str), strict=True)
    ]
    ax.set_yticks(ypos, labels=labels)
    ax.set_ylim(k - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    lo_all, hi_all = float(np.nanmin(lo)), float(np.nanmax(hi))
    ax.set_xlim(max(1.0, math.floor(lo_all - 0.5)), min(10.0, math.ceil(hi_all + 0.5)))
    ax.xaxis.set_major_formatter(_vn_ticks())
    ax.set_xlabel(text["papi_xlabel"])
    handles = [
        Line2D([], [], marker="o", color=blue, lw=0, ms=7, label=pname),
        Line2D([], [], marker="|", color=grey, lw=0, ms=11, mew=2.2, label=text["papi_median"]),
        Line2D([], [], marker="v", color=green, lw=0, ms=6.5, label=text["papi_best"]),
    ]
    total = df.loc[codes.str.lower() == "papi"]
    subtitle = None
    if len(total) == 1:
        t = total.iloc[0]
        t_rank = t.get(rank) if rank in total.columns else None
        t_n = t.get(n_provinces) if n_provinces in total.columns else None
        t_grp = t.get(group) if group and group in total.columns else None
        if not is_missing(t_rank) and not is_missing(t_n) and not is_missing(t_grp):
            subtitle = text["papi_subtitle"].format(
                rank=int(t_rank), n=int(t_n), group=str(t_grp).lower()
            )
        elif not is_missing(t_grp):
            subtitle = text["papi_subtitle_group"].format(group=str(t_grp).lower())
    _titles(fig, ax, title or text["papi_title"].format(year=chosen, province=pname), subtitle)
    _legend_below(fig, ax, handles, 3)
    total = df.loc[codes.str.lower() == "papi"]
    notes: list[str | None] = []
    if len(total) == 1:
        t = total.iloc[0]
        notes.append(
            text["papi_total_note"].format(
                province=pname,
                value=_fmt(float(t[province]), 2),
                median=_fmt(float(t[median]), 2),
                best=_fmt(float(t[best]), 2),
            )
        )
    notes.append(note)
    _footnote(fig, notes)
    return fig


# ---------------------------------------------------------------------------------------------
# 6. Importance–performance
# ---------------------------------------------------------------------------------------------


def _cut(values: pd.Series, how: float | str) -> float:
    if isinstance(how, str):
        if how == "mean":
            return float(values.mean())
        if how == "median":
            return float(values.median())
        raise InputError(
            f"importance_performance_chart: cut must be 'mean', 'median' or a number, not {how!r}"
        )
    return float(how)


def _quadrant(imp: float, perf: float, cut_i: float, cut_p: float) -> str:
    if imp >= cut_i:
        return "uu_tien" if perf < cut_p else "duy_tri"
    return "theo_doi" if perf < cut_p else "giu_vung"


def _place_labels(fig: Figure, ax: Any, xs, ys, texts: list[str], color: str) -> None:
    """Greedy label placement: the first offset around a point that overlaps nothing placed."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    ax_box = ax.get_window_extent(renderer)
    points = ax.transData.transform(np.column_stack([xs, ys]))
    pad = 5.0 * fig.dpi / 72
    taken = [Bbox.from_extents(px - pad, py - pad, px + pad, py + pad) for px, py in points]
    candidates = [
        (6, 4, "left", "bottom"),
        (6, -4, "left", "top"),
        (-6, 4, "right", "bottom"),
        (-6, -4, "right", "top"),
        (0, 8, "center", "bottom"),
        (0, -8, "center", "top"),
        (10, 0, "left", "center"),
        (-10, 0, "right", "center"),
    ]
    size = style()["fonts"]["annotation_size"]
    for (x, y), label in zip(zip(xs, ys, strict=True), texts, strict=True):
        best = None
        for dx, dy, ha, va in candidates:
            ann = ax.annotate(
                label,
                (x, y),
                xytext=(dx, dy),
                textcoords="offset points",
                ha=ha,
                va=va,
                fontsize=size,
                color=color,
                gid="point_label",
            )
            box = ann.get_window_extent(renderer)
            overlap = sum(_overlap_area(box, t) for t in taken)
            outside = not (
                ax_box.x0 <= box.x0
                and box.x1 <= ax_box.x1
                and ax_box.y0 <= box.y0
                and box.y1 <= ax_box.y1
            )
            score = overlap + (1e6 if outside else 0)
            if best is None or score < best[0]:
                if best is not None:
                    best[1].remove()
                best = (score, ann, box)
            else:
                ann.remove()
            if score == 0:
                break
        taken.append(best[2])


def _overlap_area(a: Bbox, b: Bbox) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def _quadrant_names() -> dict[str, str]:
    """The one set of quadrant names (``findings_phrases.yaml``, shared with table and briefs)."""
    from sipas_analysis.report.leader import phrases

    return dict(phrases()["quadrants"])


@_styled
def importance_performance_chart(
    ipa: pd.DataFrame,
    *,
    importance: str = "importance",
    performance: str = "performance",
    label: str = "label_vi",
    part: str | None = None,
    quadrant: str | None = None,
    part_labels: Mapping[str, str] | None = None,
    importance_cut: float | str = "median",
    performance_cut: float | str = "median",
    numbered: bool | None = None,
    title: str | None = None,
    subtitle: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    note: str | None = None,
) -> Figure:
    """Importance–performance quadrant chart (x = performance, y = importance), one panel a part.

    Parameters
    ----------
    ipa : DataFrame
        The importance–performance table: one row per element/item.
    importance, performance, label : str
        Column names.
    part : str, optional
        Column of the item's part (e.g. ``chinh_sach`` / ``dich_vu`` from
        :func:`sipas_analysis.highlights.part_quadrants`): one panel per part, each cut at its own
        values, so that the quadrant says something within the part rather than which part an
        item belongs to. ``part_labels`` maps part codes to the panel titles.
    quadrant : str, optional
        Column of quadrant codes computed upstream (``quadrant_part`` of
        :func:`~sipas_analysis.highlights.part_quadrants`): checked against the cut lines drawn,
        an :class:`InputError` if they disagree.
    importance_cut, performance_cut : float or {"median", "mean"}
        Where the quadrants are cut (default: the median of each axis, within each panel).
    numbered : bool, optional
        Label points with numbers and list the labels in a footnote (default: when more than 12
        points or more than one panel); otherwise write the labels next to the points.
    title, subtitle, xlabel, ylabel, note : str, optional
        Texts (Vietnamese).

    Returns
    -------
    matplotlib.figure.Figure
        Points per quadrant (gid ``"quadrant_<code>"``, codes ``uu_tien``, ``duy_tri``,
        ``theo_doi``, ``giu_vung``), cut lines (gids ``"importance_cut"``, ``"performance_cut"``)
        and the quadrant names of ``findings_phrases.yaml`` in the corners.

    Raises
    ------
    InputError
        Missing columns, non-numeric values, an unknown cut rule, given quadrants that disagree
        with the cuts.

    Notes
    -----
    Quadrant of a point: importance ≥ cut_i and performance < cut_p → ``uu_tien``; ≥ and ≥ →
    ``duy_tri``; < and < → ``theo_doi``; < and ≥ → ``giu_vung`` (the rule of
    :func:`sipas_analysis.findings.importance_performance` and of ``part_quadrants``). The axes
    of a panel are centred on its cuts.

    Examples
    --------
    >>> import pandas as pd
    >>> ipa = pd.DataFrame({"label_vi": ["Tiếp cận", "Thủ tục", "Công chức", "Kết quả"],
    ...                     "importance": [0.8, 0.6, 0.9, 0.5],
    ...                     "performance": [70.0, 85.0, 88.0, 72.0]})
    >>> fig = importance_performance_chart(ipa)
    """
    table = "importance_performance_chart"
    _require(ipa, [importance, performance, label, part, quadrant], table)
    df = ipa.copy()
    df["_imp"] = _numeric(df, importance, table, allow_na=False)
    df["_perf"] = _numeric(df, performance, table, allow_na=False)
    df["_part"] = df[part].astype(str) if part else ""
    parts = list(pd.unique(df["_part"]))
    df = df.sort_values("_part", key=lambda c: c.map(parts.index), kind="stable")
    s = style()
    text, qcolors, qlabels = s["text"], s["colors"]["quadrants"], _quadrant_names()
    numbered = (len(df) > 12 or len(parts) > 1) if numbered is None else numbered
    # The numbered key is a footnote: make the figure taller by its estimated number of lines
    # (about 110 characters a line at A4 width) so that the axes keep their size.
    key_labels = [_shorten(str(lbl), 100) for lbl in df[label]]
    key_lines = (
        max(
            np.ceil(sum(len(t) + 6 for t in key_labels) / 110), sum(len(t) > 50 for t in key_labels)
        )
        if numbered
        else 0
    )
    fig_style = s["figure"]
    h = min(4.2 + 0.15 * key_lines, fig_style["max_height"])
    fig = ChartFigure(figsize=(fig_style["width"], h), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(1, len(parts), squeeze=False)[0])
    grey = s["colors"]["reference"]
    corners = {
        "uu_tien": (0.01, 0.99, "left", "top"),
        "duy_tri": (0.99, 0.99, "right", "top"),
        "theo_doi": (0.01, 0.01, "left", "bottom"),
        "giu_vung": (0.99, 0.01, "right", "bottom"),
    }
    numbers = iter(range(1, len(df) + 1))
    placements = []
    for ax, p in zip(axes, parts, strict=True):
        sub = df.loc[df["_part"] == p]
        cut_i = _cut(sub["_imp"], importance_cut)
        cut_p = _cut(sub["_perf"], performance_cut)
        codes = pd.Series(
            [_quadrant(i, v, cut_i, cut_p) for i, v in zip(sub["_imp"], sub["_perf"], strict=True)],
            index=sub.index,
        )
        if quadrant is not None:
            given = sub[quadrant].astype(str)
            bad = given != codes
            if bad.any():
                raise InputError(
                    f"{table}: quadrants in column {quadrant!r} disagree with the cuts "
                    f"({importance_cut} of importance {_fmt(cut_i, 3)}, {performance_cut} of "
                    f"performance {_fmt(cut_p, 1)})",
                    column=quadrant,
                    rows=list(sub.index[bad]),
                    values=given[bad].tolist(),
                )
        for key in corners:
            pts = sub.loc[codes == key]
            ax.scatter(
                pts["_perf"], pts["_imp"], s=34, color=qcolors[key], zorder=3, gid=f"quadrant_{key}"
            )
        ax.axvline(cut_p, color=grey, ls="--", lw=0.9, gid="performance_cut")
        ax.axhline(cut_i, color=grey, ls="--", lw=0.9, gid="importance_cut")
        dx = float(np.max(np.abs(sub["_perf"].to_numpy() - cut_p), initial=0)) or 1.0
        dy = float(np.max(np.abs(sub["_imp"].to_numpy() - cut_i), initial=0)) or 1.0
        ax.set_xlim(cut_p - 1.35 * dx, cut_p + 1.35 * dx)
        ax.set_ylim(cut_i - 1.35 * dy, cut_i + 1.35 * dy)
        for key, (x, y, ha, va) in corners.items():
            ax.text(
                x,
                y,
                qlabels[key],
                transform=ax.transAxes,
                ha=ha,
                va=va,
                color=qcolors[key],
                fontweight="bold",
                fontsize=s["fonts"]["annotation_size"],
                gid="quadrant_label",
            )
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4 if len(parts) > 1 else 6))
        ax.xaxis.set_major_formatter(_vn_ticks())
        ax.yaxis.set_major_formatter(_vn_ticks())
        ax.set_xlabel(xlabel or text["ipa_xlabel"])
        if p:
            ax.set_title((part_labels or {}).get(p, p), loc="center", fontweight="bold")
        if numbered:
            texts = [str(next(numbers)) for _ in range(len(sub))]
        else:
            texts = [_wrap(lbl, 24) for lbl in sub[label].astype(str)]
        placements.append((ax, sub["_perf"].to_numpy(), sub["_imp"].to_numpy(), texts))
    axes[0].set_ylabel(ylabel or text["ipa_ylabel"])
    _titles(fig, axes[0], title or text["ipa_title"], subtitle)
    how = (
        text["ipa_cut_mean"]
        if importance_cut == performance_cut == "mean"
        else text["ipa_cut_median"]
        if importance_cut == performance_cut == "median"
        else text["ipa_cut_given"]
    )
    within = text["ipa_cut_within"] if len(parts) > 1 else ""
    notes: list[str | None] = [text["ipa_cut_note"].format(how=how, within=within)]
    if numbered:
        # no-break spaces inside an entry: the key wraps only between entries
        notes.append(
            "; ".join(f"{i + 1}. {lbl}".replace(" ", "\u00a0") for i, lbl in enumerate(key_labels))
        )
    notes.append(note)
    _footnote(fig, notes)
    for ax, xs, ys, texts in placements:
        _place_labels(fig, ax, xs, ys, texts, "#222222")
    return fig


# ---------------------------------------------------------------------------------------------
# Saving
# ---------------------------------------------------------------------------------------------


def save_figure(
    fig: Figure,
    path_without_suffix: str | Path,
    *,
    formats: Sequence[str] = ("png", "svg"),
    close: bool = True,
) -> list[Path]:
    """Write a figure as PNG and SVG (atomically), then close it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A chart from this module (or any figure).
    path_without_suffix : str or Path
        Target without suffix, e.g. ``reports/2024/figures/trend_sipas``; a ``.png``/``.svg``
        suffix is dropped. Folders are created.
    formats : sequence of str
        Any of ``"png"``, ``"svg"``, ``"pdf"``.
    close : bool
        Close the figure in pyplot's figure manager if it is registered there (figures of this
        module never are, so they are freed once unreferenced).

    Returns
    -------
    list of Path
        The files written, in the order of ``formats``.

    Raises
    ------
    InputError
        An unsupported format.

    Notes
    -----
    Each file is written to a temporary name in the target folder and renamed over the target
    (:func:`sipas_analysis.outputs.atomic_path`). PNG at the style's dpi (200); SVG with text as
    outlines and no date, so the same figure gives the same SVG.

    Examples
    --------
    >>> import pandas as pd, tempfile, pathlib
    >>> fig = dot_whisker_chart(pd.DataFrame({"unit_name": ["Xã A"], "estimate": [80.0],
    ...                                       "ci_low": [72.0], "ci_high": [86.0]}))
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "dots"
    >>> [p.name for p in save_figure(fig, out)]
    ['dots.png', 'dots.svg']
    """
    allowed = ("png", "svg", "pdf")
    bad = [f for f in formats if f not in allowed]
    if bad:
        raise InputError(
            f"save_figure: unsupported format(s); use {', '.join(allowed)}", values=bad
        )
    base = Path(path_without_suffix)
    if base.suffix.lower() in {".png", ".svg", ".pdf"}:
        base = base.with_suffix("")
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}
    written = []
    with mpl.rc_context(_rc()):
        for fmt in formats:
            target = base.parent / f"{base.name}.{fmt}"
            with atomic_path(target) as tmp:
                fig.savefig(tmp, format=fmt, metadata=metadata[fmt])
            written.append(target)
    if close and "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close(fig)
    return written
