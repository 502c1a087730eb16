"""The problem report for the field team: the csv and xlsx files (:func:`write_report`) and the
summary on screen (:func:`summary_text`, with the design and weighting lines)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sipas_analysis.outputs import atomic_path, write_csv
from sipas_analysis.report import labels, workbook
from sipas_analysis.validate.problems import SEVERITIES, SEVERITY_VI

__all__ = ["design_text", "summary_text", "weighting_rows", "weighting_text", "write_report"]


# ---------------------------------------------------------------------------------------------
# Public API, report files, command line
# ---------------------------------------------------------------------------------------------


_EXCEL_CELL_LIMIT = 32000


def _export_frame(problems: pd.DataFrame, limit: int | None = None) -> pd.DataFrame:
    out = problems.copy()

    def clip(text: str) -> str:
        if limit is None or len(text) <= limit:
            return text
        cut = text[:limit].rsplit(",", 1)[0]
        return f"{cut} … (+{text[len(cut) :].count(',')})"

    out["rows"] = [clip(", ".join(str(r) for r in rows)) for rows in out["rows"]]
    out["values"] = [clip(" | ".join(str(v) for v in vals)) for vals in out["values"]]
    out.insert(1, "severity_vi", out["severity"].map(SEVERITY_VI))
    return out


def write_report(wave, out_dir: str | Path) -> dict[str, Path]:
    """Write the problem list (.csv and .xlsx) and the exclusions of a loaded wave, atomically.

    Parameters
    ----------
    wave : LoadedWave
        The result of :func:`sipas_analysis.waves.read_wave`.
    out_dir : str or Path
        Output folder (created if needed). Files are named after the wave config.

    Returns
    -------
    dict
        ``{"csv": path, "xlsx": path, "exclusions_csv": path}``.

    Notes
    -----
    The CSV is UTF-8 with BOM (Excel shows Vietnamese correctly); ``rows`` and ``values`` are
    written as text ("12, 57", "'Xã Mỹ Yên'"). The workbook
    (:func:`sipas_analysis.report.workbook.write_problems`) has the sheets ``Đọc trước`` (what each
    sheet and column holds), ``Vấn đề`` (problems), ``Dòng bị loại`` (excluded rows with reasons),
    ``Tổng hợp`` (row accounting, weights) and ``Theo loại kiểm tra`` (counts by check); cells
    longer than Excel allows are cut with a "(+N)" note.

    Examples
    --------
    >>> write_report(read_wave("waves/sipas-2024.yaml"), "reports/validation")  # doctest: +SKIP
    """
    import contextlib

    from sipas_analysis.disclosure import safe_table

    out_dir = Path(out_dir)
    stem = wave.config.config_path.stem
    paths = {
        "csv": out_dir / f"{stem}_problems.csv",
        "xlsx": out_dir / f"{stem}_problems.xlsx",
        "exclusions_csv": out_dir / f"{stem}_exclusions.csv",
    }
    acc = wave.accounting
    summary = [
        ("Số dòng đọc / rows read", acc["rows_read"]),
        ("Số dòng giữ / rows kept", acc["rows_kept"]),
        ("Số dòng loại / rows excluded", acc["rows_excluded"]),
        ("Dòng trống bỏ qua / blank rows skipped", acc.get("blank_rows", 0)),
        *weighting_rows((getattr(wave, "design_summary", None) or {}).get("weighting")),
    ]
    cfg = wave.config
    # Every text cell is made safe to publish (personal values masked, control characters
    # escaped, formulas neutralised: sipas_analysis.disclosure); the three files are replaced
    # together, only once all of them are written.
    exclusions = safe_table(wave.exclusions)
    with contextlib.ExitStack() as stack:
        tmp = {key: stack.enter_context(atomic_path(path)) for key, path in paths.items()}
        write_csv(safe_table(_export_frame(wave.problems)), tmp["csv"])
        write_csv(exclusions, tmp["exclusions_csv"])
        workbook.write_problems(
            tmp["xlsx"],
            problems=safe_table(_export_frame(wave.problems, _EXCEL_CELL_LIMIT)),
            exclusions=exclusions,
            summary=summary,
            wave_facts=[
                ("Tệp cấu hình", cfg.config_path.name),
                ("Tệp dữ liệu", cfg.file.name),
                ("Khảo sát, đợt", f"{cfg.survey.upper()} {cfg.wave} ({cfg.instrument})"),
                ("Địa giới", labels.label("boundary_vintage", cfg.boundary_vintage)),
            ],
        )
    return paths


def summary_text(wave, max_messages: int = 15) -> str:
    """Readable summary of a validation, with Vietnamese and English headings.

    Parameters
    ----------
    wave : LoadedWave
    max_messages : int, default 15
        Detail lines shown (at most 3 per check; infos are counted, not listed).

    Returns
    -------
    str
    """
    p = wave.problems
    acc = wave.accounting
    lines = [
        f"KIỂM TRA DỮ LIỆU / VALIDATION: {wave.config.file.name} "
        f"(đợt / wave {wave.config.wave}, {wave.config.survey}, {wave.config.instrument}, "
        f"địa giới / boundaries {wave.config.boundary_vintage})",
        "",
        "Số dòng / Row accounting",
        f"  đọc / read      {acc['rows_read']:>8}",
        f"  giữ / kept      {acc['rows_kept']:>8}",
        f"  loại / excluded {acc['rows_excluded']:>8}",
    ]
    if acc.get("blank_rows"):
        lines.append(f"  (dòng trống bỏ qua / blank rows skipped: {acc['blank_rows']})")
    lines += design_text(getattr(wave, "design_summary", None) or {})
    lines += weighting_text((getattr(wave, "design_summary", None) or {}).get("weighting"))
    lines += ["", "Theo mức độ / By severity"]
    for sev in SEVERITIES:
        k = int((p["severity"] == sev).sum())
        lines.append(f"  {SEVERITY_VI[sev] + ' / ' + sev:<22} {k:>6} vấn đề / problems")
    lines += ["", "Theo loại kiểm tra / By check (số dòng hoặc lần / rows or occurrences)"]
    if p.empty:
        lines.append("  (không có / none)")
    for (sev, check), k in p.groupby(["severity", "check"], sort=False)["count"].sum().items():
        lines.append(f"  {sev:<8} {check:<28} {int(k):>7}")
    notable = p[p["severity"] != "info"]
    top = notable.groupby("check", sort=False).head(3).head(max_messages)
    if len(top):
        lines += ["", "Chi tiết / Details"]
        for row in top.itertuples():
            lines.append(f"  [{row.severity}] {row.message_vi}")
            lines.append(f"           {row.message_en}")
        more = len(notable) - len(top)
        if more > 0:
            lines.append(f"  … +{more} (xem tệp báo cáo / see the report file)")
    return "\n".join(lines)


def weighting_rows(weighting: dict | None) -> list[tuple[str, object]]:
    """(label, value) rows of the weighting efficiency for the report's summary sheet.

    Kish efficiency :math:`E = (\\sum w)^2/(n\\sum w^2)` of the design weights and, when the
    wave is calibrated, of the calibrated weights, with the range of the g-weights
    :math:`g_i = w_i/d_i` (see :func:`sipas_analysis.weighting.weighting_summary`).
    """
    if not weighting:
        return []
    rows: list[tuple[str, object]] = [
        (
            "Hiệu quả trọng số thiết kế (Kish) / design-weight efficiency (Kish)",
            round(float(weighting["efficiency_design"]), 4),
        )
    ]
    if weighting.get("calibrated"):
        rows += [
            (
                "Hiệu chỉnh trọng số / calibration",
                f"{weighting.get('method') or ''}: {', '.join(weighting.get('margins', []))}",
            ),
            (
                "Hiệu quả trọng số sau hiệu chỉnh (Kish) / efficiency after calibration (Kish)",
                round(float(weighting["efficiency_calibrated"]), 4),
            ),
            ("Hệ số g nhỏ nhất / smallest g-weight", round(float(weighting["g_min"]), 4)),
            ("Hệ số g lớn nhất / largest g-weight", round(float(weighting["g_max"]), 4)),
        ]
    return rows


def weighting_text(weighting: dict | None) -> list[str]:
    """Lines of the weighting efficiency (before/after calibration, g-weights) for the screen."""
    if not weighting:
        return []
    lines = ["", "Trọng số / Weights"]
    lines.append(
        f"  hiệu quả Kish / Kish efficiency (thiết kế / design)      "
        f"{weighting['efficiency_design']:>7.3f}"
    )
    if weighting.get("calibrated"):
        lines.append(
            f"  hiệu quả Kish / Kish efficiency (hiệu chỉnh / calibrated) "
            f"{weighting['efficiency_calibrated']:>6.3f}"
        )
        lines.append(
            f"  hiệu chỉnh / calibration: {weighting.get('method') or ''} theo / to "
            f"{', '.join(weighting.get('margins', []))}; hệ số g / g-weights "
            f"{weighting['g_min']:.3f}–{weighting['g_max']:.3f}"
        )
    else:
        lines.append("  không hiệu chỉnh / not calibrated")
    return lines


def design_text(summary: dict) -> list[str]:
    """Lines of the design summary (strata, PSUs, PSUs per commune, design df) for the screen."""
    if not summary:
        return []
    lines = [
        "",
        "Thiết kế mẫu / Sample design (phiếu giữ lại / kept rows)",
        f"  tầng / strata            {summary['n_strata']:>8}",
        f"  PSU                      {summary['n_psu']:>8}",
    ]
    ppc = summary.get("psu_per_commune")
    if ppc:
        lines.append(
            f"  PSU mỗi xã / per commune {ppc['median']:>8g}  (min {ppc['min']}, max "
            f"{ppc['max']}; {summary['n_communes']} xã / communes)"
        )
    lines.append(f"  bậc tự do / design df    {summary['df']:>8}")
    if summary.get("singleton_strata"):
        lines.append(
            f"  tầng 1 PSU / single-PSU strata: {', '.join(summary['singleton_strata'][:10])}"
        )
    if summary.get("psu_multi_commune"):
        lines.append(
            f"  PSU ở nhiều xã / PSUs in several communes: {len(summary['psu_multi_commune'])}"
        )
    return lines
