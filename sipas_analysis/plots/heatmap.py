"""The heatmap chart: scores of elements / sub-dimensions by commune, on the style's fixed
colour scale or in three bands against a reference."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, LinearSegmentedColormap, ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from sipas_analysis import highlights
from sipas_analysis.plots.common import (
    add_footnote,
    add_titles,
    cell_status,
    check_unique,
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
    wrap_label,
)

__all__ = ["heatmap_chart"]


@styled
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
    require_columns(estimates, [row, column, value], table)
    df = estimates.copy()
    check_unique(df, [row, column], table, "filter the table to one wave, level and subgroup first")
    df["_v"] = numeric_column(df, value, table)
    df["_status"] = cell_status(df, flag, n, table)
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
        require_columns(df, [group], table)
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
            text = wrap_label(c, width)
            if refs is not None and np.isfinite(refs[j]):
                text += "\n(" + fmt(refs[j], decimals) + ")"
            out.append(text)
        return out

    wrap = max(6, int(cell_pt / char_pt))
    col_labels = labels_for(wrap)
    header = max(lbl.count("\n") + 1 for lbl in col_labels) if cols else 1
    header_in = 0.15 * header + 0.1
    extra = 1.4 + header_in + (0.35 if refs is not None else 0.0)
    fig, ax = new_figure(row_height(len(rows), extra) + 0.05 * len(rows))
    scale = s["heatmap_scale"]
    if unique_value(df, "survey") == "papi":
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
                    fmt(values[i, j], decimals) + ("*" if status[i, j] == "small_n" else ""),
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
        cbar.ax.yaxis.set_major_formatter(vn_ticks())
        cbar.set_label(colorbar_label or value_label(df))
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
    add_titles(fig, ax, title or s["text"]["heatmap_title"], subtitle)
    if refs is not None:
        names = highlights.band_labels(reference_name)
        handles = [
            Patch(facecolor=c, edgecolor="#999999", lw=0.5, label=names[code])
            for code, c in zip((-1, 0, 1), s["heatmap_bands"], strict=True)
        ]
        legend_below(fig, ax, handles, 1)
    notes: list[str | None] = []
    if refs is not None:
        notes.append(s["text"]["heatmap_reference_note"].format(reference=reference_name))
    elif cmap is None and vmin is None and vmax is None:
        notes.append(
            s["text"]["heatmap_scale_note"].format(
                vmin=fmt(lo, 0), vmax=fmt(hi, 0), unit=scale["unit"]
            )
        )
    if (status == "small_n").any():
        notes.append(s["text"]["small_n_star_note"])
    if (status == "suppressed").any():
        notes.append(s["text"]["suppressed_cell_note"])
    notes.append(note)
    add_footnote(fig, notes)
    return fig
