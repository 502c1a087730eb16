"""The importance–performance chart: quadrants (one panel a part), the quadrant rule and the
greedy placement of the point labels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from sipas_analysis.errors import InputError
from sipas_analysis.plots.common import (
    ChartFigure,
    add_footnote,
    add_titles,
    fmt,
    numeric_column,
    require_columns,
    shorten,
    style,
    styled,
    vn_ticks,
    wrap_label,
)

__all__ = ["importance_performance_chart"]


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
    """Greedy label placement: the first offset around a point that overlaps nothing placed.

    The figure must have been laid out (``fig.draw_without_rendering()``) since its axes last
    moved: the points and the axes are placed in display coordinates.
    """
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


@styled
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
    require_columns(ipa, [importance, performance, label, part, quadrant], table)
    df = ipa.copy()
    df["_imp"] = numeric_column(df, importance, table, allow_na=False)
    df["_perf"] = numeric_column(df, performance, table, allow_na=False)
    df["_part"] = df[part].astype(str) if part else ""
    parts = list(pd.unique(df["_part"]))
    df = df.sort_values("_part", key=lambda c: c.map(parts.index), kind="stable")
    s = style()
    text, qcolors, qlabels = s["text"], s["colors"]["quadrants"], _quadrant_names()
    numbered = (len(df) > 12 or len(parts) > 1) if numbered is None else numbered
    # The numbered key is a footnote: make the figure taller by its estimated number of lines
    # (about 110 characters a line at A4 width) so that the axes keep their size.
    key_labels = [shorten(str(lbl), 100) for lbl in df[label]]
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
                    f"({importance_cut} of importance {fmt(cut_i, 3)}, {performance_cut} of "
                    f"performance {fmt(cut_p, 1)})",
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
        ax.xaxis.set_major_formatter(vn_ticks())
        ax.yaxis.set_major_formatter(vn_ticks())
        ax.set_xlabel(xlabel or text["ipa_xlabel"])
        if p:
            ax.set_title((part_labels or {}).get(p, p), loc="center", fontweight="bold")
        if numbered:
            texts = [str(next(numbers)) for _ in range(len(sub))]
        else:
            texts = [wrap_label(lbl, 24) for lbl in sub[label].astype(str)]
        placements.append((ax, sub["_perf"].to_numpy(), sub["_imp"].to_numpy(), texts))
    axes[0].set_ylabel(ylabel or text["ipa_ylabel"])
    add_titles(fig, axes[0], title or text["ipa_title"], subtitle)
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
    add_footnote(fig, notes)
    # one layout for all the panels: a label is placed inside its panel, so the labels of one
    # panel do not move the others
    fig.draw_without_rendering()
    for ax, xs, ys, texts in placements:
        _place_labels(fig, ax, xs, ys, texts, "#222222")
    return fig
