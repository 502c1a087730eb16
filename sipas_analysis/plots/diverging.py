"""The diverging bars chart: weighted shares of the 5-point answers, dissatisfied left of
zero, satisfied right, the neutral answer in a column of its own."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from sipas_analysis.errors import InputError
from sipas_analysis.plots.common import (
    ChartFigure,
    add_footnote,
    add_titles,
    check_unique,
    fmt,
    fmt_tick,
    legend_below,
    numeric_column,
    require_columns,
    style,
    styled,
    wrap_label,
)

__all__ = ["diverging_bars_chart"]


@styled
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
    require_columns(distribution, [item, answer, share], table)
    df = distribution.copy()
    check_unique(df, [item, answer], table, "filter the table to one unit and wave first")
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
    df["_share"] = numeric_column(df, share, table, allow_na=False)
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
    item_labels = [wrap_label(str(i), s["figure"]["label_chars"]) for i in wide.index]
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
                        fmt(w, 0),
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
            f"{fmt(a, 0)}%",
            ha="right",
            va="center",
            color="#333333",
            fontsize=size,
            gid="total_negative",
        )
        ax.text(
            b_ + 1.5,
            y,
            f"{fmt(b_, 0)}%",
            ha="left",
            va="center",
            fontweight="bold",
            fontsize=size,
            gid="total_positive",
        )
        ax_mid.text(
            mid + 1.5, y, f"{fmt(mid, 0)}%", ha="left", va="center", fontsize=size, gid="neutral"
        )
    left_extent = 10 * math.ceil((float(np.max(neg, initial=0)) + 12) / 10)
    right_extent = 10 * math.ceil((float(np.max(pos, initial=0)) + 12) / 10)
    ax.set_xlim(-max(left_extent, 20), min(max(right_extent, 30), 115))
    ax.axvline(0, color="#333333", lw=0.8, zorder=0.5)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, p: fmt_tick(abs(v))))
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
    add_titles(fig, ax, title or s["text"]["diverging_title"], subtitle)
    legend_below(fig, ax, [handles[i] for i in (0, 1, 3, 4, 2)], 3)
    add_footnote(fig, [s["text"]["diverging_note"], note])
    return fig
