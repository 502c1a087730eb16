"""From a run's tables to figures and Vietnamese PDF briefs: one brief per area and one overview.

This module only selects rows of the run's tidy tables and hands them to
:mod:`sipas_analysis.plots` (charts) and :mod:`sipas_analysis.report` (sentences, layout, PDF);
it computes no statistic. Every number in a brief is therefore a number of the run's tables.

A brief is made for a SIPAS wave (by default the latest): one for each of the four areas and one
overview for the whole survey area. Its PAPI headline is the latest PAPI-style wave up to the same
year in which the unit was sampled (PAPI samples three areas a year).

Files written::

    figures/<wave>/<unit>_<chart>.png|svg
    briefs/<wave>/ban_tin_<wave>_<unit slug>.pdf

``sipas brief --tables reports/tables`` re-renders the briefs from existing tables.

Examples
--------
>>> from sipas_analysis import briefs
>>> paths = briefs.write_briefs(tables, "reports/briefs", "reports/figures")  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from sipas_analysis import geography, highlights, parallel, plots
from sipas_analysis import tables as tables_contract
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.highlights import no_subgroups, value_is
from sipas_analysis.report import leader
from sipas_analysis.report import text as report_text
from sipas_analysis.report.brief import (
    BriefContent,
    DataNotes,
    FigureSpec,
    Headline,
    render_brief,
)
from sipas_analysis.report.format import fmt_pct

__all__ = [
    "Unit",
    "brief_content",
    "heatmap_reference",
    "latest_wave",
    "read_tables",
    "short_label",
    "unit_figures",
    "unit_for",
    "units_for",
    "write_briefs",
]

TOTAL = "total"
TOTAL_NAME = "Toàn vùng khảo sát"

#: Notes added to the template's own methodology text (which explains the index formulas).
METHODOLOGY_VI = (
    "Với xã chỉ có vài thôn, ấp trong mẫu, sai số chuẩn không nhỏ hơn sai số khi coi mỗi người "
    "trả lời là một đơn vị, để khoảng tin cậy 95% của cấp xã không hẹp hơn thực tế.",
    "Điểm yếu được xác định bằng kiểm định có kiểm soát tỷ lệ phát hiện sai "
    "(Benjamini–Hochberg, q = 0,05); xếp hạng xã kèm khoảng tin cậy bootstrap.",
)

#: Longest item label shown in a chart (longer ones are cut at a word with "…").
CHART_LABEL_CHARS = 48


def short_label(text: str, limit: int = CHART_LABEL_CHARS) -> str:
    """Cut a long Vietnamese item label at a word boundary for a chart axis.

    Examples
    --------
    >>> short_label("Công chức hướng dẫn kê khai hồ sơ tận tình, chu đáo và dễ hiểu", 30)
    'Công chức hướng dẫn kê khai…'
    """
    text = " ".join(str(text).split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


@dataclass(frozen=True)
class Unit:
    """A brief's unit: an area (old district code) or the whole survey area."""

    code: str
    name: str
    communes: tuple[str, ...]

    @property
    def slug(self) -> str:
        """ASCII file-name form of the unit name (e.g. ``huyen_thanh_hoa``)."""
        text = unicodedata.normalize("NFD", self.name.replace("Đ", "D").replace("đ", "d"))
        text = "".join(c for c in text if not unicodedata.combining(c)).lower()
        return re.sub(r"[^a-z0-9]+", "_", text).strip("_")


def _chart_labels(frame: pd.DataFrame, shorts: Mapping[str, str]) -> pd.Series:
    """A chart's labels: the instrument's ``label_short_vi`` of each index code, else its
    ``label_vi`` (whole: the charts wrap labels at word boundaries, never cut them); the full
    label wherever two codes would share a short one."""
    short = frame["index_code"].astype(str).map(shorts).fillna(frame["label_vi"].astype(str))
    codes = frame.assign(_s=short).drop_duplicates("index_code")
    shared = codes["_s"].duplicated(keep=False)
    clash = set(codes.loc[shared, "index_code"].astype(str))
    return short.where(~frame["index_code"].astype(str).isin(clash), frame["label_vi"])


def units_for(estimates: pd.DataFrame, wave: str) -> list[Unit]:
    """The four areas (with their communes in this wave) and the whole survey area."""
    est = no_subgroups(estimates)
    est = est[value_is(est["survey"], "sipas") & value_is(est["wave"], wave)]
    communes = est[est["level"] == "commune"]
    units = []
    for area in geography.areas().itertuples():
        codes = communes.loc[value_is(communes["area_code"], area.area_code), "unit_code"]
        units.append(
            Unit(str(area.area_code), area.area_name, tuple(sorted(set(codes.astype(str)))))
        )
    units.append(Unit(TOTAL, TOTAL_NAME, tuple(sorted(set(communes["unit_code"].astype(str))))))
    return units


def unit_for(estimates: pd.DataFrame, wave: str, code: object) -> Unit:
    """The brief unit of an area code (794/798/800/802) or ``"total"`` in a wave.

    Raises
    ------
    SipasError
        If the code is neither an area of the survey nor ``"total"``.
    """
    units = {u.code: u for u in units_for(estimates, str(wave))}
    if str(code) not in units:
        raise SipasError(
            f"Unknown brief unit {code!r}: use one of {', '.join(units)} (area code or 'total')."
        )
    return units[str(code)]


def latest_wave(estimates: pd.DataFrame, survey: str = "sipas") -> str:
    """The latest wave of a survey in the estimates table."""
    waves = estimates.loc[value_is(estimates["survey"], survey), "wave"].astype(str)
    if waves.empty:
        raise SipasError(f"The estimates table has no {survey.upper()} wave.")
    return max(waves)


def _papi_wave_for(estimates: pd.DataFrame, unit: Unit, wave: str) -> str | None:
    est = no_subgroups(estimates)
    rows = est[
        value_is(est["survey"], "papi")
        & value_is(est["unit_code"], unit.code)
        & value_is(est["index_code"], "papi")
        & (est["wave"].astype(str) <= str(wave))
    ]
    return None if rows.empty else max(rows["wave"].astype(str))


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


def _save(fig, folder: Path, name: str) -> Path:
    plots.save_figure(fig, folder / name)
    return folder / f"{name}.png"


#: Printed height (cm) up to which the element heatmap keeps its width: a table of many communes
#: stays legible (other charts stop at the template's 9.5 cm).
HEATMAP_MAX_HEIGHT_CM = 17.0

#: Likewise for the communes' dot chart of more than eight communes.
DOTS_MAX_HEIGHT_CM = 13.0


def heatmap_reference(
    estimates: pd.DataFrame, wave: str, codes, targets: pd.DataFrame | None
) -> tuple[pd.DataFrame, str, str]:
    """(references, legend name, note) of the heatmap's colour bands.

    The reference of a column is its target in the targets file, else the value of the whole
    survey area (:func:`highlights.heatmap_references`); the note names it, the file and whether
    its targets are examples.
    """
    refs = highlights.heatmap_references(estimates, wave, codes, targets)
    sources = set(refs.loc[refs["reference"].notna(), "source"])
    area = f"giá trị của toàn vùng khảo sát năm {wave}"
    file = (targets.attrs.get("source") if targets is not None else None) or "tệp chỉ tiêu"
    example = "target_example" in sources
    if sources <= {"area"}:
        name = "giá trị toàn vùng"
        why = (
            "không có tệp chỉ tiêu"
            if targets is None
            else f"tệp chỉ tiêu {file} không có chỉ tiêu cho các yếu tố này"
        )
        note = f"Mốc so sánh của mỗi cột: {area} ({why})."
    else:
        name = "chỉ tiêu" if "area" not in sources else "mốc so sánh"
        note = f"Mốc so sánh của mỗi cột: chỉ tiêu trong tệp {file}" + (
            " (giá trị ví dụ, không phải chỉ tiêu chính thức)" if example else ""
        )
        note += f"; cột không có chỉ tiêu: {area}." if "area" in sources else "."
    return refs, name, note


def unit_figures(
    tables: Mapping[str, pd.DataFrame],
    unit: Unit,
    wave: str,
    folder: Path,
    targets: pd.DataFrame | None = None,
) -> list[FigureSpec]:
    """Draw the charts of one brief and return them with their Vietnamese captions.

    ``targets`` (the targets file, :func:`highlights.read_targets`) sets the references of the
    heatmap's colour bands where it has them; elsewhere the survey-area value is the reference.
    """
    est = no_subgroups(tables["estimates"])
    sip = est[value_is(est["survey"], "sipas")]
    folder.mkdir(parents=True, exist_ok=True)
    specs: list[FigureSpec] = []
    prefix = f"{unit.code}_"

    # 1. Trend of the overall SIPAS: the unit (and the whole survey area beside an area).
    show = [unit.code] if unit.code == TOTAL else [unit.code, TOTAL]
    trend = sip[
        value_is(sip["index_code"], "sipas")
        & sip["unit_code"].astype(str).isin(show)
        & sip["level"].isin(["area", "total"])
    ]
    if trend["wave"].nunique() > 1:
        fig = plots.trend_chart(
            trend,
            title=f"Chỉ số SIPAS qua các đợt khảo sát – {unit.name}",
            ylabel="Tỷ lệ hài lòng (%)",
        )
        specs.append(
            FigureSpec(
                _save(fig, folder, prefix + "xu_huong_sipas"),
                "Chỉ số SIPAS qua các đợt, khoảng tin cậy 95%; đường bị ngắt ở nơi không so sánh "
                "trực tiếp được. Thay đổi qua mốc 7/2025 được tính sau khi quy đổi số liệu đợt trước "
                "về địa giới mới (xem phần phát hiện chính).",
            )
        )

    now = sip[value_is(sip["wave"], wave)]
    # 2. Communes (or areas, in the overview) with their CIs and the unit's value.
    if unit.code == TOTAL:
        dots = now[value_is(now["index_code"], "sipas") & now["level"].isin(["area", "total"])]
        ref_level, what = "total", "các khu vực"
    else:
        dots = now[
            value_is(now["index_code"], "sipas")
            & (
                (now["level"].eq("commune") & now["unit_code"].astype(str).isin(unit.communes))
                | (now["level"].eq("area") & value_is(now["unit_code"], unit.code))
            )
        ]
        ref_level, what = "area", "các xã, phường"
    if len(dots) > 1:
        fig = plots.dot_whisker_chart(
            dots,
            reference_level=ref_level,
            title=f"Chỉ số SIPAS {wave} của {what} – {unit.name}",
            xlabel="Tỷ lệ hài lòng (%)",
        )
        specs.append(
            FigureSpec(
                _save(fig, folder, prefix + "so_sanh_don_vi"),
                f"Chỉ số SIPAS {wave} của {what} với khoảng tin cậy 95%; đường dọc: giá trị chung.",
                max_height=DOTS_MAX_HEIGHT_CM if len(dots) > 8 else 9.5,
            )
        )

    # 3. Elements by commune (or by area).
    elements = now[now["index_level"] == "element"]
    if unit.code == TOTAL:
        heat = elements[elements["level"].isin(["area", "total"])]
    else:
        heat = elements[
            (elements["level"] == "commune") & elements["unit_code"].astype(str).isin(unit.communes)
        ]
    if not heat.empty:
        shorts = highlights.short_labels(sip)
        part_of = heat["parent_code"].astype(str)
        heat = heat.assign(
            label_vi=_chart_labels(heat, shorts),
            part_vi=part_of.map(shorts).fillna(part_of),
        )
        refs, ref_name, ref_note = heatmap_reference(
            est, wave, heat["index_code"].astype(str).unique(), targets
        )
        label_of = dict(zip(heat["index_code"].astype(str), heat["label_vi"], strict=False))
        fig = plots.heatmap_chart(
            heat,
            group="part_vi",
            title=f"Chỉ số các yếu tố {wave} – {unit.name}",
            colorbar_label="Tỷ lệ hài lòng (%)",
            reference={label_of[r.index_code]: r.reference for r in refs.itertuples()},
            reference_name=ref_name,
            note=ref_note,
        )
        hidden = heat["flag"].astype(str).eq("suppressed").any()
        specs.append(
            FigureSpec(
                _save(fig, folder, prefix + "yeu_to"),
                "Tỷ lệ hài lòng theo yếu tố; màu: thấp hơn, gần (±2 điểm phần trăm) hay cao hơn "
                "mốc so sánh, cùng một quy tắc ở mọi báo cáo; các dòng xếp từ cao xuống thấp"
                + ("; ô gạch chéo: không công bố vì dưới 10 người trả lời." if hidden else "."),
                max_height=HEATMAP_MAX_HEIGHT_CM,
            )
        )

    # 4. Answers to the eight lowest items of the unit.
    answers = tables.get("answers")
    if answers is not None and not answers.empty:
        ans = answers[value_is(answers["wave"], wave) & value_is(answers["unit_code"], unit.code)]
        items = now[
            (now["index_level"] == "item")
            & value_is(now["unit_code"], unit.code)
            & (now["role"] == "satisfaction")
            & (now["flag"] != "suppressed")
        ].nsmallest(8, "estimate")
        ans = ans[ans["index_code"].isin(items["index_code"])]
        ans = ans.assign(label_vi=_chart_labels(ans, highlights.short_labels(sip)))
        if not ans.empty:
            fig = plots.diverging_bars_chart(
                ans, title=f"Phân bố câu trả lời ở 8 tiêu chí thấp nhất {wave} – {unit.name}"
            )
            specs.append(
                FigureSpec(
                    _save(fig, folder, prefix + "phan_bo_tra_loi"),
                    "Tỷ lệ (%) từng mức trả lời, có trọng số, ở các tiêu chí có tỷ lệ hài lòng thấp "
                    "nhất; đầu phải của thanh là tỷ lệ hài lòng.",
                )
            )

    if unit.code == TOTAL:
        bench = tables.get("benchmarks")
        if bench is not None and not bench.empty:
            fig = plots.papi_dimension_chart(bench)
            specs.append(
                FigureSpec(
                    _save(fig, folder, prefix + "papi_chinh_thuc"),
                    "Chỉ số PAPI chính thức của tỉnh so với trung vị toàn quốc và tỉnh cao nhất.",
                )
            )
        ipa = tables.get("importance_performance")
        if ipa is not None and not ipa.empty:
            ipa = ipa[value_is(ipa["wave"], wave)]  # computed for the latest wave only
        if ipa is not None and not ipa.empty:
            shorts = highlights.short_labels(sip)
            quads = highlights.part_quadrants(ipa, sip)
            quads = quads[quads["part"].astype(str) != ""]
            if not quads.empty:
                fig = plots.importance_performance_chart(
                    quads.assign(label_vi=_chart_labels(quads, shorts)),
                    part="part",
                    quadrant="quadrant_part",
                    part_labels={p: shorts.get(p, p) for p in quads["part"].astype(str).unique()},
                )
                specs.append(
                    FigureSpec(
                        _save(fig, folder, prefix + "tam_quan_trong"),
                        "Tầm quan trọng (tương quan với mức hài lòng chung) và tỷ lệ hài lòng của "
                        "các tiêu chí, riêng cho chính sách và cho dịch vụ; đường cắt: trung vị "
                        "của từng phần.",
                        note=leader.quadrant_key(),
                    )
                )
    return specs


# ---------------------------------------------------------------------------------------------
# Briefs
# ---------------------------------------------------------------------------------------------


def _notes(tables: Mapping[str, pd.DataFrame], unit: Unit, wave: str, papi_wave) -> DataNotes:
    est = no_subgroups(tables["estimates"])
    shown = est[
        (value_is(est["survey"], "sipas") & value_is(est["wave"], wave))
        & (
            value_is(est["unit_code"], unit.code)
            | (est["level"].eq("commune") & est["unit_code"].astype(str).isin(unit.communes))
        )
    ]
    size: dict[str, int] = {}
    total_rows = est[value_is(est["unit_code"], unit.code) & value_is(est["index_code"], "sipas")]
    sip = total_rows[value_is(total_rows["wave"], wave)]
    if not sip.empty:
        size["sipas"] = int(sip["n"].iloc[0])
    if papi_wave is not None:
        pap = est[
            value_is(est["survey"], "papi")
            & value_is(est["wave"], papi_wave)
            & value_is(est["unit_code"], unit.code)
            & value_is(est["index_code"], "papi")
        ]
        if not pap.empty:
            size["papi"] = int(pap["n"].iloc[0])
    breaks = []
    trends = tables.get("trends")
    if trends is not None and not trends.empty and "break_reason_vi" in trends.columns:
        reasons = trends.loc[
            ~trends["comparable"].astype(bool) & value_is(trends["unit_code"], unit.code),
            "break_reason_vi",
        ]
        # the questionnaire as a reader knows it (its years), not its file name "sipas-2017"
        breaks = sorted(
            {
                re.sub(r"\b(?:sipas|papi)-\d{4}\b", lambda m: leader.instrument_words(m[0]), str(r))
                for r in reasons.dropna()
                if str(r)
            }
        )
    other = []
    if papi_wave is not None and papi_wave != wave:
        other.append(f"Số liệu PAPI lấy từ đợt khảo sát {papi_wave}, đợt gần nhất có đơn vị này.")
    if papi_wave is None:
        other.append("Đơn vị này không có trong mẫu khảo sát PAPI của các đợt đã có.")
    return DataNotes(
        sample_size=size,
        n_units=len(unit.communes) or None,
        n_suppressed=int((shown["flag"] == "suppressed").sum()),
        n_small=int((shown["flag"] == "small_n").sum()),
        comparability_breaks=tuple(breaks),
        other=tuple(other),
    )


def _national(tables: Mapping[str, pd.DataFrame]) -> dict[tuple[str, str], tuple[object, float]]:
    """(survey, index_code) -> (year, national value) of the latest published year."""
    out: dict[tuple[str, str], tuple[object, float]] = {}
    sp = tables.get("sipas_published")
    if sp is not None and not sp.empty:
        for r in sp.dropna(subset=["national_value"]).sort_values("year").itertuples():
            out[("sipas", str(r.index_code))] = (int(r.year), float(r.national_value))
    bm = tables.get("benchmarks")
    if bm is not None and not bm.empty:
        for r in bm.dropna(subset=["national_median"]).sort_values("year").itertuples():
            out[("papi", str(r.index_code))] = (int(r.year), float(r.national_median))
    return out


def _parents(est: pd.DataFrame) -> dict[str, str]:
    return (
        est.dropna(subset=["parent_code"]).drop_duplicates("index_code")
        .set_index("index_code")["parent_code"].astype(str).to_dict()
    )  # fmt: skip


def _target_text(targets, f: Mapping) -> str:
    t, example = highlights._target(
        targets, str(f["survey"]), str(f["index_code"]), str(f["wave"]), str(f["unit_code"])
    )
    if t is None:
        return ""
    return leader.value(str(f["survey"]), t) + (" (ví dụ)" if example else "")


ANNEX_TEXT = (
    "Điểm yếu “có ý nghĩa thống kê” là điểm yếu qua được kiểm định có kiểm soát tỷ lệ phát hiện "
    "sai (Benjamini–Hochberg): giá trị q là xác suất điều chỉnh cho việc so sánh nhiều lần; q không "
    "quá 0,05 được coi là có ý nghĩa (với xã, phường, giá trị q đã tính cả mức kiểm định chặt "
    "hơn dành cho số liệu từ ít ấp, khu phố). Chênh lệch tính bằng điểm phần trăm so với "
    "phần còn lại hoặc mức so sánh. So với mức của cả nước, một điểm yếu có ý nghĩa thống kê khi "
    "cả khoảng tin cậy 95% nằm dưới mức đó; so sánh này không có giá trị q.",
    "Tầm quan trọng của một tiêu chí là hệ số tương quan r (có trọng số) giữa tiêu chí đó và mức "
    "hài lòng chung của người trả lời; nhóm “Ưu tiên cải thiện” gồm các tiêu chí có r và tỷ lệ hài "
    "lòng so với trung vị của phần (chính sách hoặc dịch vụ) chứa nó: r từ trung vị trở lên, tỷ lệ "
    "hài lòng dưới trung vị.",
    "Khoảng tin cậy 95% của xã, phường dùng phân phối t với bậc tự do (df) Satterthwaite theo số "
    "thôn, ấp được khảo sát; ước lượng “mô hình” là ước lượng Fay–Herriot dựa trên mọi xã của đợt, "
    "thứ hạng kèm tập tin cậy 95% đồng thời của thứ hạng.",
)


def brief_content(
    tables: Mapping[str, pd.DataFrame],
    unit: Unit,
    wave: str,
    figures: list[FigureSpec],
    targets: pd.DataFrame | None = None,
) -> BriefContent:
    """Assemble the content of one brief from the run's tables."""
    est = tables["estimates"]
    base = no_subgroups(est)
    trends = tables.get("trends")
    findings = tables.get("findings")
    headlines = []
    sip = Headline.from_tables(est, trends, "sipas", unit.code, wave)
    if sip is not None:
        headlines.append(
            replace(sip, label=f"Chỉ số SIPAS năm {wave}", scale=SOURCE_LOCAL["sipas"])
        )
    papi_wave = _papi_wave_for(est, unit, wave)
    if papi_wave is not None:
        pap = Headline.from_tables(est, trends, "papi", unit.code, papi_wave)
        if pap is not None:
            headlines.append(
                replace(pap, label=f"Chỉ số PAPI năm {papi_wave}", scale=SOURCE_LOCAL["papi"])
            )
    finding_units = [unit.code, *unit.communes]
    if unit.code == TOTAL:  # the overview also reports the areas' weak points
        finding_units += [str(a) for a in geography.areas()["area_code"]]
    shorts = highlights.short_labels(base)
    national = _national(tables)
    parents = _parents(base)
    # key findings: short sentences, no test statistics
    sentences = report_text.key_findings(est, trends, None, unit.code, wave)
    if papi_wave is not None and papi_wave != wave:
        papi_only = est[est["survey"].astype(str) == "papi"]
        sentences += report_text.key_findings(papi_only, trends, None, unit.code, papi_wave)[:1]
    sig, watch = highlights.split_findings(findings, wave, finding_units)
    for f in sig.head(3).to_dict("records"):
        label = leader.subject(
            str(f["index_code"]), str(f.get("index_level", "")), str(f["label_vi"]), shorts
        )
        sentences.append(
            report_text.lower_unit_types(
                f"{label} của {report_text.name_in_sentence(f['unit_name'])}"
                f" đạt {leader.value(str(f['survey']), f['estimate'])}: "
                f"{leader.reason_text(f, national).lower()}."
            )
        )
    sentences = sentences[:5]
    st = highlights.standing(tables)
    sc = highlights.directive_scorecard(tables, unit.code, wave, targets=targets)
    lg = highlights.commune_league(tables, wave, unit.communes)
    improved = highlights.most_improved(lg)
    where = (
        "toàn vùng khảo sát"
        if unit.code == TOTAL
        else f"trên địa bàn {report_text.name_in_sentence(unit.name)}"
    )
    communes = leader.commune_sentences(lg, improved, where)
    weakest = None
    shown = lg[lg["flag"] != "suppressed"]
    if not shown.empty and highlights.in_lower_half(shown.iloc[0]):
        weakest = f"{shown.iloc[0]['unit_name']} ({fmt_pct(shown.iloc[0]['estimate'])})"
    sip_info = None
    if sip is not None and sip.flag != "suppressed":
        sip_info = {
            "estimate": sip.estimate,
            "change": sip.change if sip.comparable and sip.wave_from else None,
            "wave_from": sip.wave_from,
            "significant": leader.is_yes(sip.significant),
        }
    verdict = leader.verdict(
        report_text.name_in_sentence(unit.name), wave, sip_info, st, sc, weakest
    )
    deadline = f"trước đợt khảo sát năm {int(str(wave)[:4]) + 1}"
    sig_rows = sig.head(8)
    owners = [
        highlights.owners_for(
            str(f["index_code"]), parents=parents, level=str(f["level"]),
            unit_name=str(f["unit_name"]), wave=wave,
        )
        for f in sig_rows.to_dict("records")
    ]  # fmt: skip
    tgts = [_target_text(targets, f) for f in sig_rows.to_dict("records")]
    bright = highlights.bright_spots(tables, wave, finding_units)
    persistent = highlights.persistent_weaknesses(base, [unit.code] + (
        [str(a) for a in geography.areas()["area_code"]] if unit.code == TOTAL else []
    ), up_to=wave)  # fmt: skip
    sections = {
        "verdict": verdict,
        # a unit outside the PAPI sample: its card says so (not a blank half of page 1)
        "papi_absent": (
            [
                "Chỉ số PAPI",
                "Đơn vị này không có trong mẫu khảo sát PAPI của tỉnh.",
                "Vị trí của tỉnh theo kết quả PAPI công bố chính thức: xem khung bên dưới.",
            ]
            if papi_wave is None
            else []
        ),
        "standing": leader.standing_lines(st),
        "communes": communes,
        "scorecard": {
            "columns": leader.SCORECARD_COLUMNS,
            "rows": leader.scorecard_rows(sc),
            "note": SCORECARD_NOTE
            + (
                " Chỉ tiêu ghi “ví dụ” là giá trị minh họa, không phải chỉ tiêu chính thức."
                if sc["target_is_example"].any()
                else ""
            ),
        },  # fmt: skip
        "league": {
            "columns": [
                "Thứ hạng (KTC 95%)",
                "Xã, phường",
                "Ước lượng trực tiếp (KTC 95%)",
                "Ước lượng mô hình (KTC 95%)",
                "Thay đổi",
            ],
            "rows": leader.league_rows(lg),
            "note": LEAGUE_NOTE,
        },  # fmt: skip
        "weak": {
            "columns": ["TT", "Nội dung", "Đơn vị", "Kết quả (KTC 95%)", "Lý do", "Ai làm, làm gì"],
            "rows": leader.weak_rows(sig_rows, shorts, national, owners, tgts, deadline),
            "note": "",
        },  # fmt: skip
        "watch": {
            "columns": ["Nội dung", "Đơn vị", "Kết quả", "Vì sao theo dõi"],
            "rows": leader.watch_rows(watch.head(6), shorts, national),
            "note": WATCH_NOTE,
        },
        "bright": {
            "columns": ["Đơn vị", "Nội dung", "Thay đổi (KTC 95%)"],
            "rows": leader.bright_rows(bright.head(6), shorts),
            "note": BRIGHT_NOTE,
        },
        "persistent": {
            "columns": ["Đơn vị", "Yếu tố", "Thấp nhất trong các yếu tố của đơn vị vào các năm"],
            "rows": leader.persistent_rows(persistent, shorts),
            "note": "",
        },
        "annex_text": list(ANNEX_TEXT),
        "annex": {
            "columns": ["Nội dung", "Đơn vị", "So với", "Chênh lệch", "q"],
            "rows": leader.annex_rows(sig_rows, shorts, national),
            "note": "",
        },
    }
    return BriefContent(
        area_name=unit.name,
        wave=str(wave),
        headlines=headlines,
        key_findings=sentences,
        figures=figures,
        weak_points=[],
        notes=_notes(tables, unit, wave, papi_wave),
        methodology=METHODOLOGY_VI,
        leader=sections,
    )


SOURCE_LOCAL = {
    "sipas": "Khảo sát của tỉnh – tỷ lệ % người dân hài lòng",
    "papi": "Khảo sát của tỉnh – điểm tổng hợp 8 chỉ số nội dung",
}
SCORECARD_NOTE = (
    "Đạt: kết quả bằng hoặc cao hơn chỉ tiêu. Chỉ tiêu đọc từ tệp chỉ tiêu (sipas run --targets)."
)
LEAGUE_NOTE = (
    "Xếp hạng theo ước lượng mô hình (Fay–Herriot); trong ngoặc: tập tin cậy 95% của thứ hạng. "
    "Hạng 1 là cao nhất. *: dưới 30 người trả lời."
)
WATCH_NOTE = (
    "Các mục mô tả (thấp nhất trong đơn vị, thấp hơn mức so sánh nhưng khoảng tin cậy còn chứa mức "
    "này, hoặc ảnh hưởng lớn): cần theo dõi, chưa đủ căn cứ để kết luận là điểm yếu."
)
BRIGHT_NOTE = (
    "Tăng có ý nghĩa thống kê so với đợt trước; với xã, phường và các yếu tố: đã tính đến việc "
    "so sánh nhiều thay đổi cùng lúc."
)


def check_wave(estimates: pd.DataFrame, wave: str) -> None:
    """Refuse a SIPAS wave the tables do not hold, before anything is written.

    Raises
    ------
    SipasError
        Naming the wave asked for and the waves present.
    """
    have = sorted(set(estimates.loc[value_is(estimates["survey"], "sipas"), "wave"].astype(str)))
    if str(wave) not in have:
        raise SipasError(
            f"Đợt SIPAS {wave} không có trong bảng kết quả; các đợt có: {', '.join(have)} / "
            f"SIPAS wave {wave} is not in the estimates table; waves present: {', '.join(have)}."
        )


def write_briefs(
    tables: Mapping[str, pd.DataFrame],
    briefs_dir: str | os.PathLike[str],
    figures_dir: str | os.PathLike[str],
    *,
    wave: str | None = None,
    progress: bool = False,
    targets: pd.DataFrame | None = None,
    commune_sheets: bool = True,
) -> list[Path]:
    """Draw the figures and render one PDF brief per area plus the overview for a SIPAS wave,
    and one single-page sheet per commune of the wave (``briefs/<wave>/xa/``).

    Parameters
    ----------
    tables : mapping of DataFrame
        The run's tables (``estimates``, ``trends``, ``findings``, ``answers``, ``benchmarks``,
        ``importance_performance``, ``ranks``, ``sipas_published``).
    briefs_dir, figures_dir : path
        Output folders (a sub-folder per wave is made).
    wave : str, optional
        SIPAS wave; default the latest. A wave absent from the tables is refused before anything
        is written.
    targets : DataFrame, optional
        Targets of the directive scorecard (``survey, index_code, target[, year, unit_code,
        is_example]``); without them each line says "chưa có chỉ tiêu".

    Returns
    -------
    list of Path
        The PDFs written. They are rendered into a staging folder and moved in place only when
        every one succeeded: a failed brief leaves no PDF.
    """
    wave = str(wave) if wave is not None else latest_wave(tables["estimates"])
    check_wave(tables["estimates"], wave)
    final = Path(briefs_dir) / wave
    final.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{wave}.staging-", dir=final.parent))
    try:

        def brief_job(unit: Unit) -> str:
            figs = unit_figures(tables, unit, wave, Path(figures_dir) / wave, targets=targets)
            content = brief_content(tables, unit, wave, figs, targets=targets)
            name = f"ban_tin_{wave}_{unit.slug}.pdf"
            render_brief(content, stage / name)
            return name

        # one job per brief and per commune sheet, run in worker processes (results in order)
        units = units_for(tables["estimates"], wave)
        jobs: list = [functools.partial(brief_job, u) for u in units]
        n_briefs = len(jobs)
        if commune_sheets:
            from sipas_analysis.report import sheet

            jobs += sheet.sheet_jobs(tables, wave, stage / "xa", targets=targets)
        # the workers take the overview first (it has the most charts: about twice an area's
        # time), then the areas, then the one-page sheets, so that none is left with a long
        # brief at the end
        order = sorted(range(len(jobs)), key=lambda k: (k >= n_briefs or units[k].code != TOTAL, k))
        names = []
        sheet_seconds = 0.0
        for k, done in enumerate(parallel.run_each(lambda job: job(), jobs, start_order=order)):
            if k < n_briefs:
                names.append(done.value)
                if progress:
                    print(f"    {done.value} ({done.seconds:.1f}s)", flush=True)
            else:
                names.append(f"xa/{done.value.name}")
                sheet_seconds += done.seconds
        if commune_sheets and progress:
            print(f"    xa/: {len(jobs) - n_briefs} phiếu xã, phường ({sheet_seconds:.1f}s)")
        final.mkdir(parents=True, exist_ok=True)
        (final / "xa").mkdir(exist_ok=True)
        for name in names:
            os.replace(stage / name, final / name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return [final / n for n in names]


def read_tables(folder: str | os.PathLike[str]) -> dict[str, pd.DataFrame]:
    """Read the Parquet tables a run wrote (``reports/tables``)."""
    folder = Path(folder)
    if not (folder / "estimates.parquet").exists():
        raise SipasError(f"No estimates.parquet in {folder}: run `sipas run` first.")
    out = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
    for name, df in out.items():
        try:
            tables_contract.check_table(name, df, where=str(folder / f"{name}.parquet"))
        except tables_contract.TableContractError as exc:
            raise InputError(
                f"{exc}. Bảng này không do phiên bản này của sipas ghi ra hoặc đã bị sửa: "
                "chạy lại `sipas run`. / This table was not written by this version of sipas "
                "or was edited: run `sipas run` again."
            ) from None
    return out
