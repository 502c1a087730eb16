"""What the analysts' notebooks call to explore a run: pick an area or commune by name, drill from
an element into its criteria, compare two chosen waves, draw trends as small multiples.

The notebooks stay thin (no function of their own): every step beyond calling the package and
showing the result lives here. Tables are the run's (``briefs.read_tables``); figures are
matplotlib figures in the project's style, with Vietnamese numbers.

Examples
--------
>>> from sipas_analysis import explore
>>> explore.resolve_area("Đức Hòa")
(802, 'Huyện Đức Hòa')
>>> explore.resolve_area(794)
(794, 'Thành phố Tân An')
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sipas_analysis import geography, plots
from sipas_analysis.errors import SipasError
from sipas_analysis.report.format import fmt_number

__all__ = [
    "resolve_area",
    "resolve_commune",
    "drilldown_chart",
    "compare_waves",
    "trend_small_multiples",
    "plots_rc",
    "plots_short",
    "plots_handle",
    "elements_of",
]


def resolve_area(area: int | str) -> tuple[int, str]:
    """An area given by code (``802``, ``"802"``) or name (``"Đức Hòa"``, ``"huyện đức hoà"``).

    Raises
    ------
    SipasError
        No area of the survey has that code or name (the message lists them).
    """
    areas = geography.areas()
    text = str(area).strip()
    if text.isdigit():
        hit = areas[areas["area_code"] == int(text)]
    else:
        key = geography.normalize_name(text).lower()
        hit = areas[
            [
                key in (geography.normalize_name(a).lower(), geography.normalize_name(b).lower())
                for a, b in zip(areas["area_name"], areas["area_short"], strict=True)
            ]
        ]
    if hit.empty:
        known = ", ".join(
            f"{c} {n}" for c, n in zip(areas["area_code"], areas["area_name"], strict=True)
        )
        raise SipasError(
            f"Không có khu vực '{area}' / no survey area '{area}'. Khu vực / areas: {known}"
        )
    return int(hit["area_code"].iloc[0]), str(hit["area_name"].iloc[0])


def resolve_commune(
    commune: int | str | None, estimates: pd.DataFrame, area_code: int | None = None
) -> tuple[str, str] | None:
    """A commune of the estimates given by code or name (``None`` or ``""``: none chosen).

    Returns ``(unit_code, unit_name)``. Raises :class:`SipasError` naming the communes of the
    area when nothing matches.
    """
    if commune is None or str(commune).strip() == "":
        return None
    units = estimates[estimates["level"] == "commune"].drop_duplicates("unit_code")
    if area_code is not None:
        units = units[units["area_code"].astype(str) == str(area_code)]
    text = str(commune).strip()
    hit = units[units["unit_code"].astype(str) == text]
    if hit.empty:
        key = geography.normalize_name(text)
        names = units["unit_name"].map(geography.normalize_name)
        bare = units["unit_name"].map(lambda n: geography.match_key(n, with_type=False))
        hit = units[(names == key) | (bare == geography.match_key(text, with_type=False))]
    if hit.empty:
        known = ", ".join(sorted(units["unit_name"].astype(str)))
        raise SipasError(
            f"Không có xã/phường '{commune}' trong kết quả / no commune '{commune}' in the "
            f"results. Các xã/phường / communes: {known}"
        )
    return str(hit["unit_code"].iloc[0]), str(hit["unit_name"].iloc[0])


def drilldown_chart(
    estimates: pd.DataFrame,
    unit_code: str,
    element_code: str,
    *,
    title: str | None = None,
) -> Figure:
    """An element and its criteria for one unit: each criterion a dot with its 95% interval,
    against the element's value and interval (the reference band).

    ``estimates``: one wave, no subgroup. Suppressed criteria are named in a footnote.
    """
    rows = estimates[estimates["unit_code"].astype(str) == str(unit_code)]
    element = rows[rows["index_code"] == element_code]
    items = rows[(rows["parent_code"] == element_code) & (rows["index_level"] == "item")]
    if element.empty or items.empty:
        raise SipasError(
            f"Không có yếu tố '{element_code}' hoặc tiêu chí của nó cho đơn vị {unit_code} / "
            f"no element '{element_code}' or criteria for unit {unit_code}"
        )
    from sipas_analysis.briefs import short_label

    e = element.iloc[0]
    shown = e["flag"] != "suppressed" and pd.notna(e["estimate"])
    short = items["label_vi"].map(lambda t: short_label(t, 44))
    if not short.is_unique:
        short = short + " (" + items["index_code"].astype(str) + ")"
    return plots.dot_whisker_chart(
        items.assign(chart_label=short),
        label="chart_label",
        reference_level=None,
        reference=float(e["estimate"]) if shown else None,
        reference_ci=(float(e["ci_low"]), float(e["ci_high"])) if shown else None,
        reference_label=f"{e['label_vi']} (yếu tố)",
        title=title or f"{e['unit_name']}: {e['label_vi']} và các tiêu chí",
    )


def compare_waves(
    tables: dict[str, pd.DataFrame],
    wave_a: str,
    wave_b: str,
    *,
    survey: str = "sipas",
    configs: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Changes from wave ``wave_a`` to ``wave_b`` of every unit and index, with SE, CI, p-value and
    comparability (:func:`sipas_analysis.trends.trend_table`).

    When the two waves lie on different boundary vintages (a pre-2025 wave and a 2025 wave), the
    earlier wave is re-expressed on the 19 new communes through the crosswalk from its respondent
    file (``configs[wave_a]``: its wave config) before comparing, as the pipeline does
    (``geography = "2025 (quy đổi)"``). A change across an instrument break has
    ``comparable = False`` and its reason.
    """
    from sipas_analysis import pipeline, trends

    wave_a, wave_b = sorted([str(wave_a), str(wave_b)])
    est = tables["estimates"]
    est = est[(est["survey"] == survey) & (est["subgroup"].fillna("") == "")]
    a = est[est["wave"].astype(str) == wave_a]
    b = est[est["wave"].astype(str) == wave_b]
    if a.empty or b.empty:
        have = ", ".join(sorted(est["wave"].astype(str).unique()))
        raise SipasError(
            f"Lần chạy không có đợt {wave_a if a.empty else wave_b} của {survey.upper()} / the "
            f"run has no {survey} wave {wave_a if a.empty else wave_b} (có / has: {have})"
        )
    vintages = set(a["boundary_vintage"].astype(str)) | set(b["boundary_vintage"].astype(str))
    geography_note = None
    if len(vintages) > 1:
        if not configs or wave_a not in configs:
            raise SipasError(
                f"Đợt {wave_a} và {wave_b} khác địa giới: cần tệp cấu hình của đợt {wave_a} để quy "
                f"đổi / waves {wave_a} and {wave_b} have different boundaries: the config of "
                f"wave {wave_a} is needed for the crosswalk"
            )
        loaded = pipeline.load_wave(configs[wave_a])
        moved = trends.to_2025_geography(loaded.respondents)
        a = pipeline.indices_for(moved, loaded.config)
        a = a[a["subgroup"].fillna("") == ""]
        geography_note = "2025 (quy đổi)"
    out = trends.trend_table(pd.concat([a, b], ignore_index=True))
    out = out[(out["wave_from"].astype(str) == wave_a) & (out["wave_to"].astype(str) == wave_b)]
    return out.assign(geography=geography_note).reset_index(drop=True)


def _breaks(series: pd.DataFrame, survey: str, index_code: str) -> dict[str, str]:
    """{first wave after a break: reason} between consecutive waves of one index's series."""
    from sipas_analysis import trends

    rows = series.drop_duplicates("wave").sort_values("wave")
    out: dict[str, str] = {}
    for (_, p), (_, q) in zip(rows.iterrows(), rows.iloc[1:].iterrows(), strict=False):
        ok, reason = trends.comparability(
            survey,
            index_code,
            str(p["wave"]),
            str(q["wave"]),
            str(p["instrument"]),
            str(q["instrument"]),
            str(p["boundary_vintage"]),
            str(q["boundary_vintage"]),
        )
        if not ok:
            text = reason.lower()
            if "bộ công cụ" in text or "bộ câu hỏi" in text:
                out[str(q["wave"])] = "đổi bộ câu hỏi"
            elif "địa giới" in text:
                out[str(q["wave"])] = "địa giới mới"
            else:
                out[str(q["wave"])] = "điểm gãy"
    return out


def trend_small_multiples(
    estimates: pd.DataFrame,
    *,
    panel: str = "label_vi",
    series: str = "unit_name",
    ncols: int = 3,
    title: str | None = None,
) -> Figure:
    """Trends as small multiples (seaborn style): one panel per ``panel`` value (an index or a
    unit), waves on the x axis, a dot and its 95% interval per wave and ``series``; lines join
    only comparable waves, a dashed vertical line marks each comparability break (instrument or
    boundaries) with its reason. Suppressed cells are not drawn."""
    import seaborn as sns

    data = estimates[estimates["flag"] != "suppressed"].dropna(subset=["estimate"])
    if data.empty:
        raise SipasError("Không có ước lượng để vẽ / no estimate to draw")
    waves = sorted(data["wave"].astype(str).unique())
    x_of = {w: i for i, w in enumerate(waves)}
    panels = list(dict.fromkeys(data[panel].astype(str)))
    names = list(dict.fromkeys(data[series].astype(str)))
    palette = sns.color_palette("colorblind", len(names))
    nrows = int(np.ceil(len(panels) / ncols))
    ncols = min(ncols, len(panels))
    with sns.axes_style("whitegrid"), plots_rc():
        fig = Figure(figsize=(3.6 * ncols, 2.7 * nrows + 0.9), layout="constrained")
        axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False))
        for k, name in enumerate(panels):
            ax = axes.flat[k]
            part = data[data[panel].astype(str) == name]
            survey = str(part["survey"].iloc[0])
            code = str(part["index_code"].iloc[0])
            breaks = _breaks(part, survey, code)
            for j, who in enumerate(names):
                s = part[part[series].astype(str) == who].sort_values("wave")
                if s.empty:
                    continue
                xs = s["wave"].astype(str).map(x_of).to_numpy(dtype=float)
                ys = s["estimate"].to_numpy(dtype=float)
                lo = ys - s["ci_low"].to_numpy(dtype=float)
                hi = s["ci_high"].to_numpy(dtype=float) - ys
                small = (s["flag"] == "small_n").to_numpy()
                ax.errorbar(xs, ys, yerr=[lo, hi], fmt="none", ecolor=palette[j], alpha=0.6)
                ax.scatter(xs[~small], ys[~small], color=palette[j], s=22, zorder=3)
                ax.scatter(
                    xs[small], ys[small], facecolors="white", edgecolors=palette[j], s=22, zorder=3
                )
                # lines only between comparable consecutive waves
                seg_start = 0
                wv = s["wave"].astype(str).tolist()
                for i in range(1, len(wv) + 1):
                    if i == len(wv) or wv[i] in breaks:
                        ax.plot(xs[seg_start:i], ys[seg_start:i], color=palette[j], lw=1.4)
                        seg_start = i
            for w, reason in breaks.items():
                xb = x_of[w] - 0.5
                ax.axvline(xb, color="0.35", ls="--", lw=1)
                ax.text(
                    xb - 0.06, 0.03, reason, transform=ax.get_xaxis_transform(), fontsize=7,
                    rotation=90, ha="right", va="bottom", color="0.3",
                )  # fmt: skip
            ax.set_title(plots_short(name), fontsize=9)
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: fmt_number(v, 0)))
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        for ax in axes.flat:
            ax.set_xticks(range(len(waves)), waves, fontsize=8)
        handles = [plots_handle(palette[j], who) for j, who in enumerate(names) if len(names) > 1]
        if handles:
            fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 5))
        if title:
            fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig


def plots_rc():
    """The project's matplotlib settings (fonts with Vietnamese letters) as a context."""
    import matplotlib as mpl

    return mpl.rc_context({"font.family": plots.font_family(), "font.size": 9})


def plots_short(text: str, limit: int = 42) -> str:
    """A panel title cut at ``limit`` characters on a word boundary."""
    from sipas_analysis.briefs import short_label

    return short_label(text, limit)


def plots_handle(color, label: str):
    from matplotlib.lines import Line2D

    return Line2D([], [], color=color, marker="o", lw=1.4, label=label)


def elements_of(estimates: pd.DataFrame, survey: str) -> Sequence[str]:
    """Element (SIPAS) or dimension (PAPI) codes present in the estimates, in their order."""
    level = "element" if survey == "sipas" else "dimension"
    return list(dict.fromkeys(estimates.loc[estimates["index_level"] == level, "index_code"]))
