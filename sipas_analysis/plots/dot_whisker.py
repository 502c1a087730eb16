"""The dot-and-whisker chart: communes (or items) of one wave with their CIs, against the
area mean."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from sipas_analysis.errors import InputError
from sipas_analysis.plots.common import (
    add_footnote,
    add_titles,
    cell_status,
    check_unique,
    ci_note,
    fmt,
    legend_below,
    new_figure,
    numeric_column,
    require_columns,
    row_height,
    style,
    styled,
    unique_value,
    value_label,
    vn_ticks,
)

__all__ = ["dot_whisker_chart"]


@styled
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
    require_columns(estimates, [label, estimate, ci_low, ci_high], table)
    df = estimates.copy()
    df["_y"] = numeric_column(df, estimate, table)
    df["_lo"] = numeric_column(df, ci_low, table)
    df["_hi"] = numeric_column(df, ci_high, table)
    df["_status"] = cell_status(df, flag, n, table)
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
    check_unique(df, [label], table, "filter the table to one index, wave and subgroup first")

    hidden = df["_status"] == "suppressed"
    shown = df.loc[~hidden]
    if sort:
        shown = shown.sort_values("_y", ascending=False, kind="stable")
    k = len(shown)
    fig, ax = new_figure(row_height(max(k, 1), 1.7))
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
        handles.append(Line2D([], [], color=grey, lw=1.2, label=f"{name}: {fmt(ref_value)}"))

    ax.set_yticks(ypos, labels=[str(v) for v in shown[label]])
    ax.set_ylim(max(k, 1) - 0.5, -0.5)  # first (highest) at the top
    if k == 0:
        ax.set_xticks([])
        ax.text(0.5, 0.5, text["nothing_shown"], transform=ax.transAxes, ha="center", va="center")
    ax.xaxis.set_major_formatter(vn_ticks())
    ax.grid(axis="x")
    ax.set_xlabel(xlabel or value_label(df))
    if show_values:
        trans = blended_transform_factory(ax.transAxes, ax.transData)
        for y, v, st in zip(ypos, shown["_y"], shown["_status"], strict=True):
            ax.text(
                1.01,
                y,
                fmt(v) + ("*" if st == "small_n" else ""),
                transform=trans,
                va="center",
                ha="left",
                fontsize=style()["fonts"]["annotation_size"],
                gid="value_label",
            )
    add_titles(fig, ax, title or unique_value(df, "label_vi") or text["dot_title"], subtitle)
    if len(handles) > 1:  # a lone "estimate" entry says nothing
        legend_below(fig, ax, handles, len(handles))
    notes: list[str | None] = [ci_note(df)]
    if (~ok).any():
        notes.append(text["small_n_note"])
    if hidden.any():
        notes.append(
            text["suppressed_note"].format(names=", ".join(map(str, df.loc[hidden, label])))
        )
    notes.append(note)
    add_footnote(fig, notes)
    return fig
