"""One command from wave configs to every table, figure and brief, with a run manifest.

A run takes one or more wave configs (``waves/*.yaml``) and writes, under the output folder:

``tables/``
    the tidy result tables as Parquet (``estimates``, ``trends``, ``findings``, ``benchmarks``,
    ``accounting``, ``exclusions``, ``problems``) and one Excel workbook with a sheet per table and
    Vietnamese column headers (``ket_qua.xlsx``);
``validation/``
    the problem list and exclusions of every wave, as the field team's report (csv + xlsx);
``figures/``, ``briefs/``
    charts (PNG + SVG) and the Vietnamese PDF briefs (see :mod:`sipas_analysis.briefs`);
``manifest.json``
    input checksums, the configs, package version, row accounting and timings.

Everything is first written into a staging folder next to the output folder and moved into place
only when the whole run succeeded: a failed run leaves the previous outputs untouched and no
half-written files. Raw data files are only read.

Examples
--------
>>> from sipas_analysis import pipeline
>>> result = pipeline.run_waves(["waves/sipas-2024.yaml"], "reports", briefs=False)  # doctest: +SKIP
>>> result.tables["estimates"].head()  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sipas_analysis import __version__, validate, waves
from sipas_analysis.errors import SipasError
from sipas_analysis.outputs import atomic_path
from sipas_analysis.paths import REPO_ROOT, WAVES_DIR

__all__ = [
    "DEFAULT_SEED",
    "RunResult",
    "ValidationFailed",
    "WaveResult",
    "accounting_table",
    "calibrate_loaded",
    "derived_tables",
    "discover_configs",
    "history_for",
    "indices_for",
    "load_wave",
    "read_targets",
    "run_waves",
    "sha256_of",
    "trends_across_2025",
    "wave_indices",
    "write_tables",
]

#: Seed of a run (recorded in the manifest; no step of a run draws random numbers any more).
DEFAULT_SEED = 20251127

#: Estimation options of a run (recorded in the manifest). Direct intervals use the whole
#: design's degrees of freedom (as R, SAS and Stata do for domains); the commune cells then get
#: the pooled village variance model in :func:`indices_for` (docs/methodology.md, section 4;
#: coverage and error rates in ``benchmarks/sim_commune_inference.py``).
RUN_OPTIONS: dict[str, Any] = {"df": "design"}
#: Variance rule of the commune cells (:data:`sipas_analysis.small_domains.VARIANCE_RULES`).
VARIANCE_RULE = "pooled_villages"

#: Vietnamese column headers for the Excel workbook (colleagues without Python read it).
HEADERS_VI: dict[str, str] = {
    "survey": "Khảo sát",
    "wave": "Đợt",
    "instrument": "Bộ câu hỏi",
    "level": "Cấp",
    "unit_code": "Mã đơn vị",
    "unit_name": "Đơn vị",
    "area_code": "Mã khu vực",
    "boundary_vintage": "Địa giới",
    "subgroup": "Nhóm",
    "index_level": "Cấp chỉ số",
    "index_code": "Mã chỉ số",
    "label_vi": "Chỉ số",
    "estimate": "Ước lượng",
    "se": "Sai số chuẩn",
    "ci_low": "Cận dưới KTC",
    "ci_high": "Cận trên KTC",
    "ci_level": "Mức tin cậy",
    "n": "Số người trả lời",
    "flag": "Ghi chú",
    "wave_from": "Từ đợt",
    "wave_to": "Đến đợt",
    "estimate_from": "Giá trị đầu",
    "estimate_to": "Giá trị cuối",
    "change": "Thay đổi",
    "se_change": "Sai số chuẩn của thay đổi",
    "p_value": "Giá trị p",
    "significant": "Có ý nghĩa thống kê",
    "comparable": "So sánh được",
    "benchmark": "Mốc so sánh",
    "benchmark_label": "Loại mốc so sánh",
    "reasons": "Lý do",
    "priority": "Thứ tự ưu tiên",
    "recommendation_vi": "Đề xuất",
    "rows_read": "Số dòng đọc",
    "rows_kept": "Số dòng giữ",
    "rows_excluded": "Số dòng loại",
    "source_row": "Dòng trong tệp gốc",
    "respondent_id": "Mã phiếu",
    "severity": "Mức độ",
    "check": "Loại kiểm tra",
    "message_vi": "Mô tả",
    "se_design": "Sai số chuẩn trực tiếp (theo thiết kế)",
    "se_respondent": "Sai số chuẩn coi người trả lời độc lập",
    "se_village": "Sai số chuẩn trong từng ấp",
    "sigma2_b": "Phương sai giữa các ấp (gộp)",
    "icc": "Hệ số tương quan nội ấp (gộp)",
    "deff_model": "Hiệu ứng thiết kế (mô hình)",
    "variance_rule": "Quy tắc phương sai",
    "weight_total": "Tổng trọng số",
    "estimate_model": "Ước lượng mô hình",
    "se_model": "Sai số của ước lượng mô hình",
    "ci_low_model": "Cận dưới KTC (mô hình)",
    "ci_high_model": "Cận trên KTC (mô hình)",
    "shrinkage": "Tỷ trọng số liệu riêng của xã",
    "rank": "Thứ hạng",
    "rank_low": "Thứ hạng cao nhất có thể",
    "rank_high": "Thứ hạng thấp nhất có thể",
    "rank_basis": "Căn cứ xếp hạng",
    "n_units": "Số đơn vị xếp hạng",
}

#: Sheet names of the workbook (Excel limits them to 31 characters).
SHEETS_VI: dict[str, str] = {
    "estimates": "Uoc luong",
    "trends": "Xu huong",
    "findings": "Diem yeu",
    "benchmarks": "So sanh PAPI",
    "accounting": "So dong",
    "exclusions": "Dong bi loai",
    "problems": "Van de du lieu",
    "sipas_published": "SIPAS cong bo",
    "importance_performance": "Tam quan trong",
    "ranks": "Xep hang xa",
    "answers": "Phan bo tra loi",
}


class ValidationFailed(SipasError):
    """A run stopped before computing: a wave has file- or design-level errors.

    ``waves`` holds every loaded wave of the run (their problem lists are the report
    ``sipas validate`` gives); ``failed`` the ones with blocking errors.
    """

    def __init__(self, loaded: list[waves.LoadedWave], failed: list[waves.LoadedWave]) -> None:
        self.waves = loaded
        self.failed = failed
        names = ", ".join(w.config.config_path.name for w in failed)
        super().__init__(
            f"Dừng: dữ liệu có lỗi cấp tệp / stopped: file-level errors in {names} "
            "(run `sipas validate` on it for the report)."
        )


@dataclass
class WaveResult:
    """What one wave contributes to a run."""

    wave: waves.LoadedWave
    estimates: pd.DataFrame
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class RunResult:
    """The tables of a run, the manifest, and where they were written."""

    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    out_dir: Path
    waves: list[WaveResult] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def sha256_of(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _display_path(path: Path) -> str:
    """A path as recorded in the manifest: relative to the repository when inside it."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.name


class _Progress:
    """Plain progress lines on stderr (one per step, with elapsed seconds)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled = enabled
        self.total = total
        self.done = 0
        self.start = time.perf_counter()

    def step(self, message: str) -> None:
        self.done += 1
        if self.enabled:
            elapsed = time.perf_counter() - self.start
            print(f"[{self.done:>2}/{self.total}] {elapsed:6.1f}s  {message}", file=sys.stderr)


def discover_configs(waves_dir: str | os.PathLike[str] = WAVES_DIR) -> list[Path]:
    """Every wave config (``*.yaml``) in a folder, sorted by survey then wave."""
    folder = Path(waves_dir)
    if not folder.is_dir():
        raise SipasError(f"Wave config folder not found: {folder}")
    paths = sorted(folder.glob("*.yaml"))
    if not paths:
        raise SipasError(f"No wave config (*.yaml) in {folder}")
    configs = [waves.load_wave_config(p) for p in paths]
    order = sorted(range(len(paths)), key=lambda i: (configs[i].survey, configs[i].wave))
    return [paths[i] for i in order]


def history_for(config_path: str | os.PathLike[str]) -> list[Path]:
    """A wave config plus the earlier waves of the same survey found next to it (for trends)."""
    target = waves.load_wave_config(config_path)
    out = []
    for p in sorted(Path(config_path).resolve().parent.glob("*.yaml")):
        cfg = waves.load_wave_config(p)
        if cfg.survey == target.survey and cfg.wave <= target.wave:
            out.append(p)
    return out


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


def load_wave(config_path: str | os.PathLike[str]) -> waves.LoadedWave:
    """Read and validate one wave (rows with errors go to the exclusions table, never lost).

    When the config declares ``calibration:``, the weights are calibrated to its margins here
    (:func:`calibrate_loaded`), so every estimate of the run uses and allows for them. The
    weighting efficiency goes to ``design_summary["weighting"]`` (validation report, manifest).
    """
    loaded = waves.read_wave(config_path)
    acc = loaded.accounting
    if acc["rows_read"] != acc["rows_kept"] + acc["rows_excluded"]:  # pragma: no cover - bug guard
        raise waves.AccountingError(f"{config_path}: rows read != kept + excluded")
    return calibrate_loaded(loaded)


def calibrate_loaded(loaded: waves.LoadedWave) -> waves.LoadedWave:
    """The wave with calibrated weights (if its config asks for it) and its weighting summary.

    The design weights stay in ``weight_design``; the margins travel in ``calib__*`` columns
    (:func:`sipas_analysis.weighting.calibrate_wave`), which the design of every estimate reads.
    A wave with blocking errors, or without rows, is returned with the summary only.

    Raises
    ------
    SipasError
        The calibration fails (a margin category without respondents, a respondent without a
        category, raking that does not converge): the message names the wave and the margin.
    """
    import dataclasses

    from sipas_analysis import weighting

    cfg = loaded.config
    resp = loaded.respondents
    usable = len(resp) > 0 and loaded.blocking_errors.empty
    if cfg.calibration and usable:
        try:
            resp = weighting.calibrate_wave(resp, cfg.calibration, cfg.boundary_vintage)
        except SipasError as exc:
            raise SipasError(
                f"{cfg.config_path.name}: không hiệu chỉnh được trọng số / calibration of the "
                f"weights failed: {exc}"
            ) from None
    summary = dict(loaded.design_summary or {})
    if len(resp):
        summary["weighting"] = {
            **weighting.weighting_summary(resp),
            "method": cfg.calibration["method"] if cfg.calibration and usable else None,
        }
    return dataclasses.replace(loaded, respondents=resp, design_summary=summary)


def wave_indices(loaded: waves.LoadedWave, *, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """The estimates table of one wave (SIPAS or PAPI indices at every level)."""
    return indices_for(loaded.respondents, loaded.config)


def indices_for(respondents: pd.DataFrame, cfg: waves.WaveConfig) -> pd.DataFrame:
    """SIPAS or PAPI indices of a respondent table read through ``cfg``, with the run's options.

    The commune cells carry the pooled variance model (:mod:`sipas_analysis.small_domains`,
    rule :data:`VARIANCE_RULE`): this is the one place where it is applied; every later stage
    (trends, weak points, ranks, briefs) reads these SEs and intervals.
    """
    from sipas_analysis import small_domains

    return small_domains.modelled_indices(
        respondents, lambda d: _raw_indices(d, cfg), rule=VARIANCE_RULE
    )


def _raw_indices(respondents: pd.DataFrame, cfg: waves.WaveConfig) -> pd.DataFrame:
    """Direct design-based indices (no variance model)."""
    from sipas_analysis.indices import PapiOptions, SipasOptions, papi_indices, sipas_indices
    from sipas_analysis.indices.sipas import SUBGROUP_COLUMNS

    def present(columns):  # a subgroup column nobody has a value in (not in the file) is skipped
        return tuple(c for c in columns if c in respondents and respondents[c].notna().any())

    if cfg.survey == "sipas":
        return sipas_indices(
            respondents,
            cfg.instrument,
            subgroups=present(SUBGROUP_COLUMNS),
            options=SipasOptions(**RUN_OPTIONS),
        )
    return papi_indices(
        respondents,
        cfg.instrument,
        year=int(cfg.wave),
        subgroups=present(SUBGROUP_COLUMNS),
        options=PapiOptions(**RUN_OPTIONS),
    )


def trends_across_2025(runs: Sequence[WaveResult], estimates: pd.DataFrame) -> pd.DataFrame:
    """Trends from pre-2025 waves into the first 2025-boundary waves, on the 19 new communes.

    Each pre-2025 wave is re-expressed on the 2025 communes (:func:`trends.to_2025_geography`:
    respondents follow their old commune into the new one; those of the one partly split commune
    are shared by population share, which keeps every weighted total), its indices are recomputed
    with the same design and floored SEs, and the changes into the 2025-boundary waves are
    computed on these comparable series.

    Parameters
    ----------
    runs : sequence of WaveResult
        The waves of one survey.
    estimates : pandas.DataFrame
        The run's (floored) estimates of that survey; its 2025-boundary waves are the end points.

    Returns
    -------
    pandas.DataFrame
        Trend rows ending in a 2025-boundary wave and starting in a pre-2025 wave (empty when the
        run has no such pair), with ``geography = "2025 (quy đổi)"``.
    """
    from sipas_analysis import trends

    new_waves = {r.wave.config.wave for r in runs if r.wave.config.boundary_vintage == "2025"}
    old_runs = [r for r in runs if r.wave.config.boundary_vintage == "pre2025"]
    if not new_waves or not old_runs:
        return pd.DataFrame()
    parts = []
    for r in old_runs:
        moved = trends.to_2025_geography(r.wave.respondents)
        parts.append(indices_for(moved, r.wave.config))
    ends = estimates[estimates["wave"].astype(str).isin(new_waves)]
    both = pd.concat([*parts, ends], ignore_index=True)
    both = both[both["subgroup"].fillna("") == ""]
    out = trends.trend_table(both)
    first_new = min(new_waves)
    out = out[
        out["wave_to"].astype(str).isin(new_waves) & (out["wave_from"].astype(str) < first_new)
    ]
    return out.assign(geography="2025 (quy đổi)")


def _merge_trends(trends: pd.DataFrame, across: pd.DataFrame) -> pd.DataFrame:
    """Replace the non-comparable cross-boundary rows by their re-expressed comparable version."""
    if across.empty:
        return trends
    key = ["survey", "unit_code", "index_code", "wave_from", "wave_to"]
    if "subgroup" in trends.columns and "subgroup" in across.columns:
        key.append("subgroup")
    keys = across[key].astype(str).drop_duplicates()
    hit = trends[key].astype(str).merge(keys, on=key, how="left", indicator=True)["_merge"]
    kept = trends[(hit == "left_only").to_numpy()]
    return pd.concat([kept, across], ignore_index=True)


def accounting_table(results: Sequence[WaveResult]) -> pd.DataFrame:
    """Row accounting of every wave: rows read = rows kept + rows excluded."""
    rows = []
    for r in results:
        cfg, acc = r.wave.config, r.wave.accounting
        rows.append(
            {
                "survey": cfg.survey,
                "wave": cfg.wave,
                "instrument": cfg.instrument,
                "file": cfg.file_spec,
                "rows_read": int(acc["rows_read"]),
                "rows_kept": int(acc["rows_kept"]),
                "rows_excluded": int(acc["rows_excluded"]),
                "blank_rows": int(acc.get("blank_rows", 0)),
                "errors": int((r.wave.problems["severity"] == "error").sum()),
                "warnings": int((r.wave.problems["severity"] == "warning").sum()),
            }
        )
    return pd.DataFrame(rows)


def _stack(frames: Iterable[pd.DataFrame], keys: Sequence[tuple[str, str]]) -> pd.DataFrame:
    parts = []
    for frame, (survey, wave) in zip(frames, keys, strict=True):
        part = frame.copy()
        part.insert(0, "wave", wave)
        part.insert(0, "survey", survey)
        parts.append(part)
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts, ignore_index=True)


def _cell_text(v: object) -> object:
    """One object-column cell made Parquet/Excel-safe: missing stays missing, lists become text."""
    if v is None or isinstance(v, str | bool):
        return v
    if isinstance(v, list | tuple):
        return ", ".join(map(str, v))
    if v is pd.NA or (isinstance(v, float) and v != v):
        return None
    return str(v)


def _for_output(df: pd.DataFrame) -> pd.DataFrame:
    """Make object columns Parquet/Excel-safe (lists and mixed types become text)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object:
            out[col] = out[col].map(_cell_text)
    return out


def _excel_value(v: object) -> object:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return None
    return v


def _write_excel(tables: dict[str, pd.DataFrame], path: Path) -> Path:
    """One workbook, a sheet per table, Vietnamese headers (written directly with xlsxwriter).

    The tables come from :func:`write_tables`, already made Excel-safe by :func:`_for_output`.
    Numbers are written unrounded (formatting is for the reader's Excel); missing values are
    empty cells. Writing column by column with xlsxwriter is several times faster than pandas'
    ``to_excel`` on the 10^6 cells of a full run.
    """
    import xlsxwriter

    with atomic_path(path) as tmp:
        book = xlsxwriter.Workbook(str(tmp), {"nan_inf_to_errors": False})
        bold = book.add_format({"bold": True, "text_wrap": True, "valign": "top"})
        for name, df in tables.items():
            sheet = book.add_worksheet(SHEETS_VI.get(name, name)[:31])
            sheet.write_row(0, 0, [HEADERS_VI.get(c, c) for c in df.columns], bold)
            sheet.freeze_panes(1, 0)
            for j, col in enumerate(df.columns):
                values = df[col].astype(object).tolist()
                sheet.write_column(1, j, [_excel_value(v) for v in values])
        book.close()
    return path


def write_tables(tables: dict[str, pd.DataFrame], folder: Path) -> dict[str, Path]:
    """Write each table as Parquet and all of them in one Excel workbook with Vietnamese headers."""
    folder.mkdir(parents=True, exist_ok=True)
    safe = {name: _for_output(df) for name, df in tables.items()}
    written: dict[str, Path] = {}
    for name, df in safe.items():
        path = folder / f"{name}.parquet"
        with atomic_path(path) as tmp:
            df.to_parquet(tmp, index=False)
        written[name] = path
    written["xlsx"] = _write_excel(safe, folder / "ket_qua.xlsx")
    return written


def _publish(stage: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by the finished staging folder (old outputs removed only on success)."""
    backup = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    if out_dir.exists():
        os.replace(out_dir, backup)
    os.replace(stage, out_dir)
    if backup.exists():
        shutil.rmtree(backup, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


def run_waves(
    config_paths: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str] = "reports",
    *,
    briefs: bool = True,
    progress: bool = True,
    seed: int = DEFAULT_SEED,
    targets: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Run every step for the given wave configs and write all outputs.

    Parameters
    ----------
    config_paths : sequence of path
        Wave configs (``waves/*.yaml``). Trends compare the waves given here.
    out_dir : path, default "reports"
        Output folder; replaced as a whole when the run succeeds.
    briefs : bool
        Also draw the figures and render the PDF briefs of the latest SIPAS wave.
    progress : bool
        Print one progress line per step on stderr.
    seed : int
        Seed of every bootstrap (ranks): the same inputs give identical tables.
    targets : path, optional
        CSV of the province's own targets (``survey, index_code, target`` and optionally ``year``,
        ``unit_code``): an index below its target becomes a weak point (reason ``below_target``).

    Returns
    -------
    RunResult

    Raises
    ------
    ValidationFailed
        A wave has a file- or design-level error (:func:`sipas_analysis.validate.blocking_errors`:
        the checks of ``sipas validate``, run first for every wave): nothing is computed or
        written. Rows with row-level errors are excluded, as the validation report says.
    SipasError
        Unusable input (unreadable file, malformed config); nothing is written then.
    """
    t_start = time.perf_counter()
    paths = [Path(p) for p in config_paths]
    if not paths:
        raise SipasError("No wave config given.")
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    stage = out_dir.with_name(f".{out_dir.name}.staging-{os.getpid()}")
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir()
    n_steps = 2 * len(paths) + 3 + int(briefs)
    prog = _Progress(progress, n_steps)
    try:
        # validate's checks first, for every wave: nothing is computed when one of them has a
        # file- or design-level error (rows with row-level errors are excluded, as reported).
        loaded_all: list[tuple[waves.LoadedWave, float]] = []
        for path in paths:
            t0 = time.perf_counter()
            loaded = load_wave(path)
            validate.write_report(loaded, stage / "validation")
            loaded_all.append((loaded, time.perf_counter() - t0))
            acc = loaded.accounting
            prog.step(
                f"đọc / loaded {path.name}: {acc['rows_read']} dòng đọc / read, "
                f"{acc['rows_kept']} giữ / kept, {acc['rows_excluded']} loại / excluded"
            )
        failed = [w for w, _ in loaded_all if not w.blocking_errors.empty]
        if failed:
            raise ValidationFailed([w for w, _ in loaded_all], failed)
        results: list[WaveResult] = []
        for path, (loaded, load_seconds) in zip(paths, loaded_all, strict=True):
            t1 = time.perf_counter()
            est = wave_indices(loaded, seed=seed)
            t2 = time.perf_counter()
            prog.step(f"chỉ số / indices {path.name}: {len(est)} ước lượng / estimates")
            results.append(WaveResult(loaded, est, {"load": load_seconds, "indices": t2 - t1}))

        keys = [(r.wave.config.survey, r.wave.config.wave) for r in results]
        tables: dict[str, pd.DataFrame] = {
            "estimates": pd.concat([r.estimates for r in results], ignore_index=True),
            "accounting": accounting_table(results),
            "exclusions": _stack([r.wave.exclusions for r in results], keys),
            "problems": _stack([r.wave.problems for r in results], keys),
        }
        t3 = time.perf_counter()
        target_table = read_targets(targets) if targets is not None else None
        tables.update(derived_tables(results, tables["estimates"], seed=seed, targets=target_table))
        prog.step("xu hướng, điểm yếu, so sánh / trends, weak points, benchmarks")
        t4 = time.perf_counter()

        manifest = _manifest(results, paths, seed)
        if targets is not None:
            manifest["targets"] = {
                "file": _display_path(Path(targets)),
                "sha256": sha256_of(targets),
            }
        result = RunResult(tables=tables, manifest=manifest, out_dir=out_dir, waves=results)
        written = write_tables(tables, stage / "tables")
        prog.step(f"bảng / tables: {', '.join(sorted(written))}")
        t5 = time.perf_counter()
        timings = {"derived_tables": t4 - t3, "write_tables": t5 - t4}
        if briefs and not (tables["estimates"]["survey"] == "sipas").any():
            briefs = False  # a brief is built around a SIPAS wave
            prog.step("không có đợt SIPAS: không lập bản tin / no SIPAS wave: no briefs")
        if briefs:
            from sipas_analysis import briefs as briefs_mod

            pdfs = briefs_mod.write_briefs(
                result.tables, stage / "briefs", stage / "figures", progress=progress
            )
            prog.step(f"biểu đồ và bản tin / figures and briefs: {len(pdfs)} PDF")
        timings["figures_and_briefs"] = time.perf_counter() - t5
        manifest["timings_seconds"] = {
            "waves": {f"{k[0]}-{k[1]}": r.seconds for k, r in zip(keys, results, strict=True)},
            **timings,
            "total": time.perf_counter() - t_start,
        }
        with atomic_path(stage / "manifest.json") as tmp:
            tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        _publish(stage, out_dir)
        prog.step(f"xong / done in {time.perf_counter() - t_start:.1f}s → {out_dir}")
        return result
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def read_targets(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read the province's own targets (CSV: ``survey, index_code, target[, year, unit_code]``).

    Examples
    --------
    A file with the line ``sipas,sipas,85`` under its header sets an 85% target for the overall
    SIPAS of every unit and year.
    """
    path = Path(path)
    if not path.is_file():
        raise SipasError(f"Targets file not found: {path}")
    table = pd.read_csv(path, encoding="utf-8-sig", dtype={"unit_code": "string"})
    missing = [c for c in ("survey", "index_code", "target") if c not in table.columns]
    if missing:
        raise SipasError(f"{path}: the targets file lacks column(s) {', '.join(missing)}")
    return table


def derived_tables(
    results: Sequence[WaveResult],
    estimates: pd.DataFrame,
    *,
    seed: int = DEFAULT_SEED,
    targets: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Trends, findings (weak points), benchmarks and answer distributions of a run.

    The weak-point analysis runs on every wave of each survey. It only reads the estimates
    (computed once by :func:`indices_for`, commune variance model and model-based estimates
    included), so every table and brief of the run uses the same standard errors.

    Returns
    -------
    dict of DataFrame
        ``estimates`` (as given), ``trends``, ``findings``, ``benchmarks`` (PAPI, published),
        ``sipas_published``, ``importance_performance``, ``ranks``, ``answers``.
    """
    from sipas_analysis import benchmarks, findings, trends
    from sipas_analysis.indices import answer_distribution

    bench_papi = benchmarks.papi_benchmarks()
    bench_sipas = benchmarks.sipas_benchmarks()
    bench_values = benchmarks.benchmark_values(papi=bench_papi, sipas=bench_sipas, targets=targets)
    out_est, out_trends, out_findings, out_ipa, out_ranks = [], [], [], [], []
    for survey in ("sipas", "papi"):
        runs = [r for r in results if r.wave.config.survey == survey]
        if not runs:
            continue
        resp = {r.wave.config.wave: r.wave.respondents for r in runs}
        latest = max(resp)
        est = estimates[estimates["survey"] == survey]

        def make_trends(floored: pd.DataFrame, runs=runs) -> pd.DataFrame:
            base = floored[floored["subgroup"].fillna("") == ""]
            return _merge_trends(trends.trend_table(base), trends_across_2025(runs, floored))

        common = {
            "benchmarks": bench_values,
            "report_waves": sorted(resp),
            "make_trends": make_trends,
        }
        if survey == "sipas":
            part = findings.sipas_weak_points(resp, est, latest, **common)
            out_ipa.append(part["importance_performance"].assign(survey=survey))
            out_ranks.append(part["ranks"].assign(survey=survey))
        else:
            part = findings.papi_weak_points(est, latest, **common)
        out_est.append(part["estimates"])
        out_trends.append(part["trends"])
        out_findings.append(part["findings"])
    answers = pd.concat(
        [
            answer_distribution(r.wave.respondents, r.wave.config.instrument).assign(
                survey=r.wave.config.survey, wave=r.wave.config.wave
            )
            for r in results
            if r.wave.config.survey == "sipas"
        ]
        or [pd.DataFrame()],
        ignore_index=True,
    )
    return {
        "estimates": pd.concat(out_est, ignore_index=True),
        "trends": pd.concat(out_trends, ignore_index=True),
        "findings": pd.concat(out_findings, ignore_index=True),
        "benchmarks": bench_papi,
        "sipas_published": bench_sipas,
        "importance_performance": pd.concat(out_ipa or [pd.DataFrame()], ignore_index=True),
        "ranks": pd.concat(out_ranks or [pd.DataFrame()], ignore_index=True),
        "answers": answers,
    }


def _manifest(results: Sequence[WaveResult], paths: Sequence[Path], seed: int) -> dict[str, Any]:
    inputs = []
    for r, path in zip(results, paths, strict=True):
        cfg = r.wave.config
        inputs.append(
            {
                "config": _display_path(path),
                "config_sha256": sha256_of(path),
                "data_file": _display_path(cfg.file),
                "data_sha256": sha256_of(cfg.file),
                "settings": cfg.as_dict(),
                "rows": {
                    k: int(r.wave.accounting[k])
                    for k in ("rows_read", "rows_kept", "rows_excluded")
                },
                "weighting": (r.wave.design_summary or {}).get("weighting"),
            }
        )
    return {
        "package": "sipas_analysis",
        "version": __version__,
        "python": sys.version.split()[0],
        "pandas": pd.__version__,
        "seed": seed,
        "options": {**RUN_OPTIONS, "variance_rule": VARIANCE_RULE},
        "inputs": inputs,
    }


# ---------------------------------------------------------------------------------------------
# Command line: `sipas run [CONFIG...]`
# ---------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "configs",
        nargs="*",
        help="wave config files (waves/*.yaml); none = every config in --waves-dir",
    )
    parser.add_argument("--waves-dir", default=str(WAVES_DIR), help="folder of wave configs")
    parser.add_argument("--out", default="reports", help="output folder (default: reports)")
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="with one config: do not add the earlier waves of the same survey (no trends)",
    )
    parser.add_argument("--no-briefs", action="store_true", help="skip the PDF briefs")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed")
    parser.add_argument(
        "--targets",
        default=None,
        help="CSV of the province's own targets (survey,index_code,target[,year,unit_code])",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    """``sipas run [CONFIG...]``: the whole job for the given waves (default: every config)."""
    if args.configs:
        paths: list[Path] = []
        for c in args.configs:
            extra = [Path(c)] if args.no_history else history_for(c)
            paths += [p for p in extra if p.resolve() not in {q.resolve() for q in paths}]
    else:
        paths = discover_configs(args.waves_dir)
    t0 = time.perf_counter()
    try:
        result = run_waves(
            paths,
            args.out,
            briefs=not args.no_briefs,
            progress=not args.quiet,
            seed=args.seed,
            targets=args.targets,
        )
    except ValidationFailed as exc:
        for loaded in exc.failed:
            print(validate.summary_text(loaded))
            print("")
        print(
            "KẾT QUẢ / RESULT: dừng trước khi tính, có lỗi cấp tệp / stopped before computing: "
            f"file-level errors in {', '.join(w.config.config_path.name for w in exc.failed)} "
            "(exit 1). Sửa tệp hoặc cấu hình rồi chạy lại `sipas validate` / fix the file or "
            "the config and run `sipas validate` again."
        )
        return 1
    n_pdf = len(list((result.out_dir / "briefs").rglob("*.pdf"))) if not args.no_briefs else 0
    print(
        f"Hoàn tất / Done: {len(paths)} đợt / waves, {len(result.tables['estimates'])} ước lượng / "
        f"estimates, {n_pdf} bản tin PDF / briefs → {result.out_dir}  "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    return 0
