"""What every chart shares: the style, the figure, number formats, input checks, texts.

* the look: :func:`style` (``style.yaml`` next to this module), :func:`font_family`, the rcParams
  (:func:`chart_rc`) and the :func:`styled` decorator that builds a chart inside them;
* the figure: :class:`ChartFigure` (shown in JupyterLab without ``pyplot``), :func:`new_figure`,
  :func:`row_height`;
* Vietnamese numbers (decimal comma, typographic minus): :func:`fmt`, :func:`fmt_tick`,
  :func:`vn_ticks`;
* input checks of the tidy tables: :func:`require_columns`, :func:`numeric_column`,
  :func:`cell_status` (ok / small_n / suppressed), :func:`check_unique`, :func:`unique_value`;
* the texts around a chart: :func:`value_label`, :func:`ci_note`, :func:`shorten`,
  :func:`wrap_label`, :func:`add_titles`, :func:`add_footnote`, :func:`legend_below`, and the line
  colours :func:`line_color`.
"""

from __future__ import annotations

import functools
import io
import math
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
import yaml
from cycler import cycler
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from matplotlib.transforms import ScaledTranslation, blended_transform_factory

from sipas_analysis.errors import InputError
from sipas_analysis.report.format import fmt_number, is_missing

__all__ = [
    "ChartFigure",
    "PACKAGE_DIR",
    "SMALL_N_BELOW",
    "STYLE_FILE",
    "SUPPRESS_BELOW",
    "add_footnote",
    "add_titles",
    "cell_status",
    "chart_rc",
    "check_unique",
    "ci_note",
    "fmt",
    "fmt_tick",
    "font_family",
    "legend_below",
    "line_color",
    "new_figure",
    "numeric_column",
    "require_columns",
    "row_height",
    "shorten",
    "style",
    "styled",
    "unique_value",
    "value_label",
    "vn_ticks",
    "wrap_label",
]

#: The package folder: the style's font files are given relative to it.
PACKAGE_DIR = Path(__file__).parent.parent

STYLE_FILE = Path(__file__).with_name("style.yaml")
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
    """The chart style read from ``style.yaml`` (fonts, sizes, palette, Vietnamese texts).

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
        path = PACKAGE_DIR / name
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


def chart_rc() -> dict[str, Any]:
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
        # charts ask for their layout by name; with these off, set_layout_engine(None) means none
        # (save_figure relies on it)
        "figure.autolayout": False,
        "figure.constrained_layout.use": False,
        "figure.constrained_layout.h_pad": 0.06,
        "figure.constrained_layout.w_pad": 0.06,
    }


def styled(func: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the chart inside the style's rc_context.

    The chart is laid out when it is drawn: by :func:`~sipas_analysis.plots.save.save_figure` or
    when a notebook shows it (``ChartFigure._repr_png_``), both inside the same style. (A draw
    here as well, before returning, took a sixth of the figures' time and changed nothing but
    the rounding of a few positions.)
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Figure:
        with mpl.rc_context(chart_rc()):
            return func(*args, **kwargs)

    return wrapper


class ChartFigure(Figure):
    """A matplotlib Figure that shows itself in JupyterLab without ``pyplot``.

    The charts are built on the Agg canvas outside pyplot (nothing to close, no memory growth), so
    the notebook's inline backend does not know them; ``_repr_png_`` lets IPython display a chart
    returned as the last expression of a cell.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        with mpl.rc_context(chart_rc()):
            self.savefig(buffer, format="png", dpi=110)
        return buffer.getvalue()


def new_figure(height: float | None = None) -> tuple[Figure, Any]:
    fig_style = style()["figure"]
    h = fig_style["height"] if height is None else height
    h = float(min(max(h, fig_style["min_height"]), fig_style["max_height"]))
    fig = ChartFigure(figsize=(fig_style["width"], h), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    return fig, ax


def row_height(n_rows: int, extra: float) -> float:
    return n_rows * style()["figure"]["row_height"] + extra


# ---------------------------------------------------------------------------------------------
# Vietnamese number format (compute first, format last: only here and in report/)
# ---------------------------------------------------------------------------------------------


def fmt(x: float | None, decimals: int = 1) -> str:
    """Format a number the Vietnamese way (:func:`report.format.fmt_number`) with a typographic
    minus: ``1234.5 -> '1.234,5'``, ``-2.1 -> '−2,1'``; missing -> ``""``."""
    if is_missing(x):
        return ""
    return fmt_number(x, decimals).replace("-", "\u2212")


def fmt_tick(value: float, _pos: int | None = None) -> str:
    for decimals in (0, 1, 2):
        if abs(value - round(value, decimals)) < 1e-9:
            return fmt(value, decimals)
    return fmt(value, 3)


def vn_ticks() -> FuncFormatter:
    """A new tick formatter with decimal commas (a formatter must not be shared between axes)."""
    return FuncFormatter(fmt_tick)


# ---------------------------------------------------------------------------------------------
# Input checks and common pieces
# ---------------------------------------------------------------------------------------------


def require_columns(df: pd.DataFrame, columns: Sequence[str | None], table: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{table}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise InputError(
            f"{table}: missing column(s) {', '.join(missing)}; present: {', '.join(map(str, df.columns))}",
            column=missing[0],
            values=missing,
        )


def numeric_column(
    df: pd.DataFrame, column: str, table: str, *, allow_na: bool = True
) -> pd.Series:
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


def cell_status(df: pd.DataFrame, flag: str | None, n: str | None, table: str) -> pd.Series:
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


def check_unique(df: pd.DataFrame, keys: list[str], table: str, hint: str) -> None:
    dup = df.duplicated(keys, keep=False)
    if dup.any():
        shown = df.loc[dup, keys].drop_duplicates().astype(str).agg(" / ".join, axis=1)
        raise InputError(
            f"{table}: several rows per ({', '.join(keys)}); {hint}",
            column=keys[-1],
            rows=list(df.index[dup]),
            values=shown.tolist(),
        )


def unique_value(df: pd.DataFrame, column: str | None) -> Any:
    if column is None or column not in df.columns:
        return None
    values = df[column].dropna().unique()
    return values[0] if len(values) == 1 else None


def value_label(df: pd.DataFrame) -> str:
    text = style()["text"]
    survey = unique_value(df, "survey")
    if survey == "sipas":
        return text["ylabel_sipas"]
    if survey == "papi":
        return text["ylabel_papi"]
    return text["ylabel_default"]


def ci_note(df: pd.DataFrame, ci_level: str = "ci_level") -> str:
    level = unique_value(df, ci_level)
    level = 0.95 if level is None else float(level)
    level = level * 100 if level <= 1 else level
    return style()["text"]["ci_note"].format(level=fmt(level, 0))


def shorten(text: str, limit: int) -> str:
    """Cut a label at a word boundary to at most ``limit`` characters, ending with "…"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:.(") + "…"


def wrap_label(text: str, width: int) -> str:
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


def add_titles(
    fig: Figure, ax: Any, title: str | None, subtitle: str | None, raise_pt: float = 0.0
) -> None:
    """Bold title and plain subtitle, both flush with the figure's left edge.

    The subtitle is an annotation of the axes (x in figure coordinates, y just above the axes and
    anything drawn above them, at least ``raise_pt`` points higher), so constrained layout keeps
    room for it. Call it after everything above the axes has been drawn.
    """
    if title:
        fig.suptitle(wrap_label(title, 72), x=0.01, ha="left")
    if subtitle:
        # Sit above whatever is already above the axes (top tick labels, break labels).
        renderer = fig.canvas.get_renderer()
        above = ax.get_tightbbox(renderer).y1 - ax.get_window_extent(renderer).y1
        raise_pt = max(raise_pt, above * 72 / fig.dpi - 4)
        ax.annotate(
            wrap_label(subtitle, 90),
            xy=(0.01, 1.0),
            xycoords=blended_transform_factory(fig.transFigure, ax.transAxes),
            xytext=(0, 8 + raise_pt),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=style()["fonts"]["subtitle_size"],
            gid="subtitle",
        )


def add_footnote(fig: Figure, notes: Sequence[str | None]) -> None:
    lines = [wrap_label(n, 105) for n in notes if n]
    if lines:
        fig.supxlabel("\n".join(lines), x=0.01, ha="left", color="#333333", linespacing=1.3)


def line_color(i: int) -> tuple[str, str]:
    s = style()
    palette, styles = s["palette"], s["line_styles"]
    return palette[i % len(palette)], styles[(i // len(palette)) % len(styles)]


def legend_below(fig: Figure, ax: Any, handles: list, ncols: int) -> None:
    """A legend centred under the axes, just below the x-axis label (inside the layout)."""
    if not handles:
        return
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
