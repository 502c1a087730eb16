"""The trend chart: lines of one index across waves with CI bands, broken at comparability
breaks (instrument change, 2025 boundary reorganisation, non-comparable pairs of a trends table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from sipas_analysis.plots.common import (
    add_footnote,
    add_titles,
    cell_status,
    check_unique,
    ci_note,
    legend_below,
    line_color,
    new_figure,
    numeric_column,
    require_columns,
    style,
    styled,
    unique_value,
    value_label,
    vn_ticks,
    wrap_label,
)

__all__ = ["trend_chart"]


def _trends_to_points(trends: pd.DataFrame, group: str) -> pd.DataFrame:
    """Turn a trends table (pairs of waves) into one point per (group, wave), without CIs."""
    require_columns(
        trends, [group, "wave_from", "wave_to", "estimate_from", "estimate_to"], "trends"
    )
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
            points[column] = unique_value(trends, column)
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
        require_columns(trends, ["wave_from", "wave_to", "comparable"], "trends")
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


@styled
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
    require_columns(data, [wave, estimate, ci_low, ci_high, group], table)
    df = data.copy()
    df[wave] = df[wave].astype(str)
    check_unique(df, [group, wave], table, "filter the table to one index and subgroup first")
    df["_y"] = numeric_column(df, estimate, table)
    df["_lo"] = numeric_column(df, ci_low, table)
    df["_hi"] = numeric_column(df, ci_high, table)
    df["_status"] = cell_status(df, flag, n, table)
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

    fig, ax = new_figure()
    groups = list(pd.unique(df[group]))
    handles = []
    span = max(xpos.values()) - min(xpos.values())
    step = span / max(len(order) - 1, 1) if span else 1.0
    for i, name in enumerate(groups):
        color, ls = line_color(i)
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
    ax.yaxis.set_major_formatter(vn_ticks())
    ax.grid(axis="y")
    ax.set_xlabel(style()["text"]["wave_axis"])
    ax.set_ylabel(ylabel or value_label(df))
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
        label = wrap_label(break_x[xb], 26)
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
    label_vi = unique_value(df, "label_vi")
    add_titles(fig, ax, title or label_vi or style()["text"]["trend_title"], subtitle, raise_pt)
    if len(groups) > 1:
        legend_below(fig, ax, handles, min(len(groups), 3))
    notes: list[str | None] = []
    if np.isfinite(df["_lo"]).any():
        notes.append(ci_note(df))
    if (df["_status"] == "small_n").any():
        notes.append(style()["text"]["small_n_note"])
    if hidden.any():
        names = ", ".join(f"{r[group]} ({r[wave]})" for _, r in df.loc[hidden].iterrows())
        notes.append(style()["text"]["suppressed_note"].format(names=names))
    notes.append(note)
    add_footnote(fig, notes)
    return fig
