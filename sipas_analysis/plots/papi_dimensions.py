"""The PAPI dimension chart: the province's dimension scores against the national median and
the best province."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.transforms import blended_transform_factory

from sipas_analysis.errors import InputError
from sipas_analysis.plots.common import (
    add_footnote,
    add_titles,
    check_unique,
    fmt,
    legend_below,
    new_figure,
    numeric_column,
    require_columns,
    row_height,
    style,
    styled,
    vn_ticks,
    wrap_label,
)
from sipas_analysis.report.format import is_missing

__all__ = ["papi_dimension_chart"]


_DIMENSION = re.compile(r"^d(\d+)$", re.IGNORECASE)


@styled
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
    require_columns(benchmarks, [year_column, index_code, label, province, median, best], table)
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
    check_unique(dims, [index_code], table, "one row per dimension and year")
    dims["_k"] = dims[index_code].astype(str).str.extract(_DIMENSION)[0].astype(int)
    dims = dims.sort_values("_k")
    for column in (province, median, best):
        dims[column] = numeric_column(dims, column, table)
    s = style()
    text = s["text"]
    pname = province_name or text["papi_province_default"]
    k = len(dims)
    fig, ax = new_figure(row_height(k, 1.9) + 0.16 * k)
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
            fmt(v, 2),
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
        wrap_label(f"D{kk}. {lbl}", 38)
        for kk, lbl in zip(dims["_k"], dims[label].astype(str), strict=True)
    ]
    ax.set_yticks(ypos, labels=labels)
    ax.set_ylim(k - 0.5, -0.5)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x")
    ax.set_axisbelow(True)
    lo_all, hi_all = float(np.nanmin(lo)), float(np.nanmax(hi))
    ax.set_xlim(max(1.0, math.floor(lo_all - 0.5)), min(10.0, math.ceil(hi_all + 0.5)))
    ax.xaxis.set_major_formatter(vn_ticks())
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
    add_titles(fig, ax, title or text["papi_title"].format(year=chosen, province=pname), subtitle)
    legend_below(fig, ax, handles, 3)
    total = df.loc[codes.str.lower() == "papi"]
    notes: list[str | None] = []
    if len(total) == 1:
        t = total.iloc[0]
        notes.append(
            text["papi_total_note"].format(
                province=pname,
                value=fmt(float(t[province]), 2),
                median=fmt(float(t[median]), 2),
                best=fmt(float(t[best]), 2),
            )
        )
    notes.append(note)
    add_footnote(fig, notes)
    return fig
