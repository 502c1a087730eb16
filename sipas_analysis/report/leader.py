"""Wording of what a leader acts on: the verdict, the standing, the directive scorecard, the
communes, the weak points with who acts, bright spots, persistent weaknesses, the annex.

Takes the tables of :mod:`sipas_analysis.highlights` (which select rows of the run's tables) and
formats them with :mod:`sipas_analysis.report.format`: every string here is finished text for the
brief, every number rounded once, here. Phrases are in ``findings_phrases.yaml``. Unit types are
written in lower case inside a sentence (Nghị định 30/2020/NĐ-CP): "huyện Thạnh Hóa".
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import yaml

from sipas_analysis.report.format import (
    fmt_change_pct_points,
    fmt_change_points,
    fmt_ci,
    fmt_number,
    fmt_pct,
    fmt_points,
    is_missing,
)
from sipas_analysis.report.text import lower_unit_types, name_in_sentence

__all__ = [
    "SCORECARD_COLUMNS",
    "phrases",
    "value",
    "change",
    "interval",
    "is_yes",
    "upper_first",
    "standing_lines",
    "scorecard_rows",
    "league_rows",
    "commune_sentences",
    "quadrant_key",
    "national_label",
    "subject",
    "reason_text",
    "action_text",
    "weak_rows",
    "watch_rows",
    "bright_rows",
    "instrument_words",
    "persistent_rows",
    "annex_rows",
    "verdict",
    "unit_phrase",
]

_PHRASES = Path(__file__).resolve().parent.parent / "findings_phrases.yaml"
SIGNIFICANT = ("below_rest", "decline", "below_benchmark", "below_target")


@functools.lru_cache(maxsize=1)
def phrases() -> dict:
    """The phrase file (shared with :mod:`sipas_analysis.findings`)."""
    with open(_PHRASES, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def value(survey: str, x: object) -> str:
    """``82,7%`` (SIPAS) or ``42,29`` (PAPI points)."""
    return fmt_pct(x) if survey == "sipas" else fmt_points(x)


def change(survey: str, x: object) -> str:
    """``tăng 1,5 điểm phần trăm`` (SIPAS) or ``tăng 0,17 điểm`` (PAPI)."""
    return fmt_change_pct_points(x) if survey == "sipas" else fmt_change_points(x)


def interval(survey: str, low: object, high: object) -> str:
    """``80,3–82,7%`` or ``40,10–43,33``."""
    return fmt_ci(
        low, high, decimals=1 if survey == "sipas" else 2, unit="%" if survey == "sipas" else ""
    )


def is_yes(x: object) -> bool:
    """A yes/no cell of the tables (``significant``): True for ``True`` and numpy's ``True_``
    alike (``x is True`` misses the latter), False for False and missing."""
    return not is_missing(x) and bool(x)


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- standing
def standing_lines(st: Mapping) -> list[str]:
    """The province among the provinces (official results), one line each for SIPAS and PAPI."""
    lines = []
    s = st.get("sipas")
    if s:
        text = f"SIPAS {s['year']} của tỉnh Long An: {fmt_pct(s['value'])}"
        if s.get("rank"):
            text += f", xếp thứ {s['rank']}/{s['n_provinces']} tỉnh, thành phố"
        if s.get("national") is not None:
            text += f"; mức hài lòng chung của cả nước năm {s['year']}: {fmt_pct(s['national'])}"
        lines.append(text + ".")
    p = st.get("papi")
    if p:
        text = (
            f"PAPI {p['year']} của tỉnh Long An: {fmt_points(p['value'])} điểm, xếp thứ "
            f"{p['rank']}/{p['n_provinces']}, {p['group_vi'].lower()}"
            f"; trung vị của các tỉnh, thành phố: {fmt_points(p['median'])} điểm"
        )
        if p.get("near_cut"):
            text += " (sát ranh giới nhóm)"
        lines.append(text + ".")
        if p["bottom"]:
            dims = ", ".join(
                f"{d['code'].upper()} {d['label']} {fmt_points(d['value'])} điểm "
                f"(thứ {d['rank']}/{p['n_provinces']}; trung vị {fmt_points(d['median'])})"
                for d in p["bottom"]
            )
            lines.append(f"Chỉ số nội dung thuộc nhóm đạt điểm thấp nhất: {dims}.")
        if p["top"]:
            dims = ", ".join(
                f"{d['code'].upper()} {d['label']} (thứ {d['rank']}/{p['n_provinces']})"
                for d in p["top"]
            )
            lines.append(f"Thuộc nhóm đạt điểm cao nhất: {dims}.")
    return lines


# --------------------------------------------------------------------------- scorecard
#: Column headers of the directive scorecard (briefs and commune sheets).
SCORECARD_COLUMNS = [
    "Nhiệm vụ",
    "Tiêu chí (nguồn, năm)",
    "Kết quả (KTC 95%)",
    "Thay đổi",
    "Chỉ tiêu",
    "Đánh giá",
]


def scorecard_rows(sc: pd.DataFrame) -> list[list[str]]:
    """Rows ``Nhiệm vụ, Tiêu chí, Kết quả (KTC 95%), Thay đổi, Chỉ tiêu, Đánh giá``."""
    status = phrases()["status_vi"]
    rows = []
    for r in sc.itertuples(index=False):
        if r.status == "khong_do":
            rows.append([r.task_vi, "–", "–", "–", "–", status["khong_do"]])
            continue
        survey = str(r.survey)
        where = "khảo sát của tỉnh" if r.source == "survey" else "công bố chính thức"
        crit = f"{r.label_short_vi} ({where} {r.year})"
        if r.flag == "suppressed" or is_missing(r.value):
            res = "Không công bố (dưới 10 người trả lời)"
        else:
            res = value(survey, r.value)
            ci = interval(survey, r.ci_low, r.ci_high)
            if ci != "–":
                res += f"\n({ci})"
            elif not is_missing(getattr(r, "rank", None)):
                res += f"\nthứ {int(r.rank)}/{int(r.n_provinces)}"
        ch = "–"
        if not is_missing(r.change) and r.wave_from:
            ch = f"{change(survey, r.change)} so với {r.wave_from}"
            if is_yes(r.significant):
                ch += " (có ý nghĩa thống kê)"
        tgt = "–"
        if not is_missing(r.target):
            tgt = value(survey, r.target) + (" (ví dụ)" if bool(r.target_is_example) else "")
        rows.append([r.task_vi, crit, res, upper_first(ch) if ch != "–" else ch, tgt,
                     status[r.status]])  # fmt: skip
    return rows


# --------------------------------------------------------------------------- communes
def league_rows(lg: pd.DataFrame) -> list[list[str]]:
    """Rows ``Thứ hạng (KTC 95%), Xã, phường, Trực tiếp (KTC 95%), Mô hình (KTC 95%), Thay đổi``."""
    rows = []
    for r in lg.itertuples(index=False):
        if r.flag == "suppressed":
            rows.append(["–", r.unit_name, "Không công bố (dưới 10 người trả lời)", "–", "–"])
            continue
        rank = "–"
        if not is_missing(r.rank):
            rank = f"{int(r.rank)}/{int(r.n_units)}\n({int(r.rank_low)}–{int(r.rank_high)})"
        direct = f"{fmt_pct(r.estimate)}\n({interval('sipas', r.ci_low, r.ci_high)})"
        model = "–"
        if not is_missing(r.estimate_model):
            model = f"{fmt_pct(r.estimate_model)}\n({interval('sipas', r.ci_low_model, r.ci_high_model)})"
        ch = "–"
        if not is_missing(r.change):
            ch = upper_first(change("sipas", r.change)) + f"\nso với {r.wave_from}"
            if is_yes(r.significant):
                ch += " (có ý nghĩa thống kê)"
        name = r.unit_name + (" *" if r.flag == "small_n" else "")
        rows.append([rank, name, direct, model, ch])
    return rows


def quadrant_key() -> str:
    """The key of the importance–performance chart: each quadrant's name (the one set in
    ``findings_phrases.yaml``) with what it means, and the cut (the median of each part)."""
    names, rules = phrases()["quadrants"], phrases()["quadrant_rules_vi"]
    parts = [f"“{names[c]}”: {rules[c]}" for c in ("uu_tien", "duy_tri", "theo_doi", "giu_vung")]
    return (
        "Cách đọc: "
        + "; ".join(parts)
        + ". “Cao” là từ trung vị của phần (chính sách hoặc dịch vụ) trở lên, “thấp” là dưới "
        "trung vị; tầm quan trọng là hệ số tương quan của tiêu chí với mức hài lòng chung."
    )


def commune_sentences(lg: pd.DataFrame, improved: pd.Series | None, where: str) -> list[str]:
    """The weakest commune (by rank) and the one that rose most, in one or two sentences."""
    out = []
    shown = lg[lg["flag"] != "suppressed"]
    if not shown.empty:
        w = shown.iloc[0]
        text = f"Xã, phường có chỉ số SIPAS thấp nhất {where}: {w['unit_name']} {fmt_pct(w['estimate'])}"
        if not is_missing(w["rank"]):
            text += (
                f", xếp thứ {int(w['rank'])}/{int(w['n_units'])} trong các xã, phường được khảo sát "
                f"(khoảng tin cậy 95% của thứ hạng: {int(w['rank_low'])}–{int(w['rank_high'])})"
            )
        out.append(text + ".")
    compared = lg.loc[lg["flag"] != "suppressed", "change"].dropna()
    if improved is None and not compared.empty:
        since = lg["wave_from"].dropna().astype(str)
        year = f"năm {since.max()}" if not since.empty else "đợt khảo sát trước"
        out.append(f"Không có xã, phường nào {where} có chỉ số SIPAS tăng so với {year}.")
    if improved is not None:
        sig = (
            ", thay đổi có ý nghĩa thống kê"
            if is_yes(improved["significant"])
            else ", thay đổi chưa có ý nghĩa thống kê"
        )
        out.append(
            f"Tăng nhiều nhất: {improved['unit_name']}, {change('sipas', improved['change'])} so "
            f"với năm {improved['wave_from']}{sig}."
        )
    return [lower_unit_types(t) for t in out]


# --------------------------------------------------------------------------- weak points
def _level_word(level: str) -> str:
    return phrases()["brief_level_words_vi"].get(level, level)


def subject(code: str, level: str, label_vi: str, shorts: Mapping[str, str]) -> str:
    """What a row speaks of: ``Yếu tố “Công chức”``, or ``Chỉ số SIPAS`` for the overall index
    (never the long label "Chỉ số chung “Chỉ số hài lòng SIPAS (tổng hợp)”")."""
    if code == "sipas" or level == "overall":
        return "Chỉ số SIPAS"
    return f"{upper_first(_level_word(level))} “{shorts.get(code, label_vi)}”"


def national_label(survey: str, index_level: str, year: object) -> str:
    """The exact wording of a national benchmark (e.g. "mức hài lòng của cả nước năm 2023 đối
    với yếu tố này")."""
    labels = phrases()["brief_national_labels_vi"]
    key = "papi" if survey == "papi" else index_level
    return labels.get(key, labels["overall"]).format(year=year)


def reason_text(f: Mapping, national: Mapping[tuple[str, str], tuple[object, float]]) -> str:
    """Short reasons of a finding row, without test statistics (they are in the annex)."""
    ph = phrases()["brief_reasons_vi"]
    survey = str(f["survey"])
    out = []
    codes = [c for c in str(f.get("reason_codes") or "").split("; ") if c]
    for code in codes:
        if code not in ph:
            continue
        if code == "below_rest":
            rest = (
                "các xã, phường còn lại"
                if f["level"] == "commune"
                else "phần còn lại của vùng khảo sát"
            )
            diff = ""
            if not is_missing(f.get("difference")):
                d = abs(float(f["difference"]))
                diff = (
                    f"{fmt_number(d, 1)} điểm phần trăm"
                    if survey == "sipas"
                    else f"{fmt_number(d, 2)} điểm"
                )
            out.append(ph[code].format(rest_label=rest, diff=diff).strip())
        elif code in ("below_benchmark", "below_benchmark_ns"):
            year, bv = national.get((survey, str(f["index_code"])), (None, None))
            if year is None:
                continue
            out.append(
                ph[code].format(
                    benchmark_label=national_label(survey, str(f.get("index_level", "")), year),
                    benchmark=value(survey, bv),
                )
            )
        elif code == "below_target":
            out.append(ph[code].format(benchmark=value(survey, f.get("benchmark"))))
        elif code == "decline":
            out.append(ph[code].format(diff="", wave_from="kỳ trước").replace("  ", " "))
        elif code == "lowest_ranked":
            out.append(ph[code].format(level_label=_level_word(str(f.get("index_level", "")))))
        else:
            out.append(ph[code])
    if not is_missing(f.get("n")) and float(f["n"]) < 30:
        out.append("cỡ mẫu nhỏ, cần diễn giải thận trọng")
    return upper_first("; ".join(out)) if out else "–"


def action_text(f: Mapping, owners: str, target: str, deadline: str) -> str:
    """What to do, who does it, by when, against which target."""
    rec = str(f.get("recommendation_vi") or "").strip()
    text = f"{owners}: {rec[:1].lower() + rec[1:]}" if rec else owners
    text += f" Thời hạn: {deadline}."
    text += f" Chỉ tiêu: {target}." if target else " Chưa có chỉ tiêu."
    return lower_unit_types(text)


def weak_rows(
    df: pd.DataFrame,
    shorts: Mapping[str, str],
    national: Mapping,
    owners: Sequence[str],
    targets: Sequence[str],
    deadline: str,
) -> list[list[str]]:
    """Rows ``TT, Nội dung, Đơn vị, Kết quả (KTC 95%), Lý do, Ai làm, làm gì``."""
    rows = []
    for i, (f, own, tgt) in enumerate(zip(df.to_dict("records"), owners, targets, strict=True), 1):
        survey = str(f["survey"])
        res = value(survey, f["estimate"])
        ci = interval(survey, f.get("ci_low"), f.get("ci_high"))
        if ci != "–":
            res += f"\n({ci})"
        label = subject(str(f["index_code"]), str(f.get("index_level", "")), str(f["label_vi"]),
                        shorts)  # fmt: skip
        rows.append(
            [str(i), label, str(f["unit_name"]), res, reason_text(f, national),
             action_text(f, own, tgt, deadline)]
        )  # fmt: skip
    return rows


def watch_rows(df: pd.DataFrame, shorts: Mapping[str, str], national: Mapping) -> list[list[str]]:
    """Rows of the descriptive "cần theo dõi" tier: ``Nội dung, Đơn vị, Kết quả, Vì sao theo dõi``."""
    rows = []
    for f in df.to_dict("records"):
        survey = str(f["survey"])
        label = subject(str(f["index_code"]), str(f.get("index_level", "")), str(f["label_vi"]),
                        shorts)  # fmt: skip
        rows.append(
            [label, str(f["unit_name"]), value(survey, f["estimate"]), reason_text(f, national)]
        )
    return rows


def bright_rows(df: pd.DataFrame, shorts: Mapping[str, str]) -> list[list[str]]:
    """Rows ``Đơn vị, Nội dung, Thay đổi (KTC 95%)``."""
    rows = []
    for r in df.to_dict("records"):
        code = str(r["index_code"])
        label = subject(code, str(r["index_level"]), str(r["label_vi"]), shorts)
        ci = fmt_ci(r["ci_low"], r["ci_high"], unit=" điểm phần trăm")
        rows.append(
            [str(r["unit_name"]), label,
             f"{upper_first(change('sipas', r['change']))} so với {r['wave_from']}\n({ci})"]
        )  # fmt: skip
    return rows


def instrument_words(name: str) -> str:
    """An instrument as a reader knows it: "bộ câu hỏi áp dụng từ năm 2022" (not its file name
    "sipas-2022"); the file name itself if no such instrument is bundled."""
    from sipas_analysis.errors import SipasError
    from sipas_analysis.instruments import load_instrument

    try:
        inst = load_instrument(name)
    except (SipasError, OSError, ValueError):
        return f"bộ câu hỏi {name}"
    if inst.valid_from and inst.valid_to:
        return f"bộ câu hỏi áp dụng năm {inst.valid_from}–{inst.valid_to}"
    if inst.valid_from:
        return f"bộ câu hỏi áp dụng từ năm {inst.valid_from}"
    return f"bộ câu hỏi {name}"


def persistent_rows(df: pd.DataFrame, shorts: Mapping[str, str]) -> list[list[str]]:
    """Rows ``Đơn vị, Yếu tố, Thấp nhất trong các năm``."""
    return [
        [
            str(r["unit_name"]),
            shorts.get(str(r["index_code"]), str(r["label_vi"])),
            f"{r['waves']} ({r['n_lowest']}/{r['n_waves']} năm của "
            f"{instrument_words(str(r['instrument']))})",
        ]
        for r in df.to_dict("records")
    ]


def annex_rows(
    df: pd.DataFrame,
    shorts: Mapping[str, str],
    national: Mapping[tuple[str, str], tuple[object, float]] | None = None,
) -> list[list[str]]:
    """Statistical detail of the significant findings: ``Nội dung, Đơn vị, So với, Chênh lệch,
    q``. A test against the rest of the area has its difference and q; a comparison with the
    national figure (the whole interval below it) has the difference to that figure and no q."""
    rows = []
    for f in df.to_dict("records"):
        survey = str(f["survey"])
        dec = 1 if survey == "sipas" else 2
        codes = [c for c in str(f.get("reason_codes") or "").split("; ") if c]
        q = f.get("q_value")
        qt = "–" if is_missing(q) else ("< 0,001" if float(q) < 0.001 else fmt_number(q, 3))
        against, diff = "–", "–"
        if not is_missing(f.get("difference")):
            diff = fmt_number(f["difference"], dec)
            against = (
                "các xã, phường còn lại"
                if f.get("level") == "commune"
                else "phần còn lại của vùng khảo sát"
            )
        elif "below_benchmark" in codes and national is not None:
            year, bv = national.get((survey, str(f["index_code"])), (None, None))
            if year is not None and not is_missing(bv) and not is_missing(f.get("estimate")):
                against = national_label(survey, str(f.get("index_level", "")), year)
                diff = fmt_number(float(f["estimate"]) - float(bv), dec)
                qt = "không áp dụng"
        elif "below_target" in codes and not is_missing(f.get("benchmark")):
            against = "chỉ tiêu"
            diff = fmt_number(float(f["estimate"]) - float(f["benchmark"]), dec)
        rows.append(
            ["Chỉ số SIPAS" if str(f["index_code"]) == "sipas"
             else shorts.get(str(f["index_code"]), str(f["label_vi"])), str(f["unit_name"]),
             upper_first(against) if against != "–" else against, diff, qt]
        )  # fmt: skip
    return rows


def verdict(
    unit_in_sentence: str,
    wave: str,
    sipas: Mapping | None,
    st: Mapping,
    scorecard: pd.DataFrame,
    weakest: str | None,
) -> list[str]:
    """Three sentences: the survey's result, the official standing, what to act on first."""
    out = []
    if sipas:
        text = (
            f"Năm {wave}, {fmt_pct(sipas['estimate'])} người dân được khảo sát tại "
            f"{unit_in_sentence} hài lòng với sự phục vụ của cơ quan hành chính (khảo sát của tỉnh)"
        )
        if sipas.get("change") is not None:
            text += f", {change('sipas', sipas['change'])} so với năm {sipas['wave_from']}"
            text += (
                ", thay đổi có ý nghĩa thống kê"
                if sipas.get("significant")
                else ", thay đổi chưa có ý nghĩa thống kê"
            )
        out.append(text + ".")
    s, p = st.get("sipas"), st.get("papi")
    parts = []
    if s and s.get("rank"):
        parts.append(f"SIPAS {s['year']} xếp thứ {s['rank']}/{s['n_provinces']}")
    if p:
        parts.append(
            f"PAPI {p['year']} xếp thứ {p['rank']}/{p['n_provinces']} ({p['group_vi'].lower()})"
        )
    if parts:
        out.append("Theo kết quả công bố chính thức, tỉnh Long An có " + ", ".join(parts) + ".")
    miss = scorecard[scorecard["status"] == "chua_dat"]
    todo = []
    if weakest:
        todo.append(weakest)
    if not miss.empty:
        todo.append(
            f"{len(miss)} tiêu chí của chỉ đạo chưa đạt chỉ tiêu ("
            + ", ".join(dict.fromkeys(miss["label_short_vi"].astype(str).str.lower()))
            + ")"
        )
    elif (scorecard["status"] == "chua_co_chi_tieu").any():
        low = scorecard[scorecard["source"] == "survey"].dropna(subset=["value"])
        if not low.empty:
            r = low.sort_values("value").iloc[0]
            todo.append(
                f"tiêu chí thấp nhất của chỉ đạo là “{r['label_short_vi'].lower()}” "
                f"({fmt_pct(r['value'])})"
            )
    if todo:
        out.append("Cần ưu tiên: " + "; ".join(todo) + ".")
    return [lower_unit_types(t) for t in out]


def unit_phrase(name: str) -> str:
    """The unit inside a sentence."""
    return name_in_sentence(name)
