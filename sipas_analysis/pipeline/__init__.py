"""One command from wave configs to every table, figure and brief, with a run manifest.

A run takes one or more wave configs (``waves/*.yaml``) and writes, under the output folder:

``tables/``
    the tidy result tables as Parquet (``estimates``, ``trends``, ``findings``, ``benchmarks``,
    ``accounting``, ``exclusions``, ``problems``) and one Excel workbook for colleagues without
    Python (``ket_qua.xlsx``: "Đọc trước", a summary per wave, every table; see
    :mod:`sipas_analysis.report.workbook`);
``validation/``
    the problem list and exclusions of every wave, as the field team's report (csv + xlsx);
``figures/``, ``briefs/``
    charts (PNG + SVG) and the Vietnamese PDF briefs (see :mod:`sipas_analysis.briefs`);
``manifest.json``
    input checksums, the configs, package version, row accounting and timings.

Everything is first written into a staging folder next to the output folder and moved into place
only when the whole run succeeded: a failed run leaves the previous outputs untouched and no
half-written files. Raw data files are only read. The output folder is replaced only when an
earlier run made it, one run at a time, without a moment without it; leftovers of killed runs
are cleaned at the next start (:mod:`sipas_analysis.outputs`). The workbook gets its tables
through :func:`sipas_analysis.disclosure.for_publication`.

The work uses every core (:mod:`sipas_analysis.parallel`, ``SIPAS_WORKERS=1`` for one): the
waves are read and checked, then estimated, in forked worker processes; the trends, weak points
and benchmarks are derived here; the tables and the workbook are then written by a background
process while the workers draw the figures and typeset the briefs. Progress lines and warnings
come in the order of the steps; the manifest's ``timings_seconds`` gives the stages' wall times
and, under ``waves`` and ``background``, the seconds the workers spent on each part.

Examples
--------
>>> from sipas_analysis import pipeline
>>> result = pipeline.run_waves(["waves/sipas-2024.yaml"], "reports", briefs=False)  # doctest: +SKIP
>>> result.tables["estimates"].head()  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sipas_analysis import __version__, outputs, parallel, validate, waves
from sipas_analysis import progress as progress_mod
from sipas_analysis import tables as tables_contract
from sipas_analysis.errors import SipasError
from sipas_analysis.errors import step as in_step
from sipas_analysis.highlights import read_targets
from sipas_analysis.outputs import atomic_path
from sipas_analysis.pipeline.steps import (
    DEFAULT_SEED,
    RUN_OPTIONS,
    VARIANCE_RULE,
    RunResult,
    ValidationFailed,
    WaveResult,
    accounting_table,
    calibrate_loaded,
    discover_configs,
    display_path,
    explain_single_psu,
    history_for,
    indices_for,
    load_order,
    load_wave,
    merge_trends,
    moved_indices,
    moved_waves,
    sha256_of,
    stack_tables,
    trends_across_2025,
    wave_answers,
    wave_indices,
    write_tables,
)

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
    "load_order",
    "load_wave",
    "moved_indices",
    "read_targets",
    "run_waves",
    "sha256_of",
    "trends_across_2025",
    "wave_answers",
    "wave_indices",
    "write_tables",
]

# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------


#: Modules the workers of the index stage use and the parent has not imported by then: the
#: parent imports them while the loading workers read the files, so that each index worker,
#: forked later, inherits them instead of importing them itself (about 0.5 s per worker).
INDEX_STAGE_MODULES = ("scipy.stats", "sipas_analysis.small_domains", "sipas_analysis.indices")


def _warm_index_modules() -> None:
    import importlib

    for name in INDEX_STAGE_MODULES:
        importlib.import_module(name)


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
        Print a line when each step starts and its time when it ends, on standard output (the
        stream of the final summary), with the warnings of the step naming wave, unit and index.
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
    OutputFolderError
        ``out_dir`` may not be replaced (:func:`sipas_analysis.outputs.check_out_dir`) or
        another run is writing into it.
    """
    t_start = time.perf_counter()
    paths = [Path(p) for p in config_paths]
    if not paths:
        raise SipasError("No wave config given.")
    configs = [waves.load_wave_config(p) for p in paths]
    inputs = [*paths, *(c.file for c in configs), *([Path(targets)] if targets else [])]
    out_dir = outputs.check_out_dir(out_dir, inputs)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with outputs.out_dir_lock(out_dir), outputs.terminate_as_exception():
        outputs.recover_leftovers(out_dir)
        # the folder may have changed while the lock was awaited: checked again under the lock
        outputs.check_out_dir(out_dir, inputs)
        stage = outputs.staging_dir(out_dir)
        if stage.exists():
            shutil.rmtree(stage)
        stage.mkdir()
        try:
            return _run_into(
                paths, configs, stage, out_dir, briefs, progress, seed, targets, t_start
            )
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise


def _run_into(
    paths: list[Path],
    configs: list[waves.WaveConfig],
    stage: Path,
    out_dir: Path,
    briefs: bool,
    progress: bool,
    seed: int,
    targets: str | os.PathLike[str] | None,
    t_start: float,
) -> RunResult:
    """The steps of :func:`run_waves`, writing into ``stage``; published into ``out_dir``."""
    n_steps = 2 * len(paths) + 3 + int(briefs)
    prog = progress_mod.Progress(n_steps, enabled=progress)

    # validate's checks first, for every wave: nothing is computed when one of them has a
    # file- or design-level error (rows with row-level errors are excluded, as reported).
    # ``in_step`` names the step and file in the message of an unexpected error (exit 3).
    # The waves are read, checked and (below) estimated in forked workers (:mod:`parallel`),
    # their progress lines printed here in order; a worker's error is raised here as it was.
    def load_one(path: Path) -> waves.LoadedWave:
        with in_step("đọc và kiểm tra / reading and checking", path):
            loaded = load_wave(path)
        with in_step("báo cáo kiểm tra / validation report", path):
            validate.write_report(loaded, stage / "validation")
        return loaded

    t_begin = time.perf_counter()
    loaded_all: list[tuple[waves.LoadedWave, float]] = []
    loading = parallel.run_each(load_one, paths, start_order=load_order(configs))
    for path in paths:
        with prog.step(
            f"đọc và kiểm tra / loading and validating {path.name}", context=path.stem
        ) as st:
            got = next(loading)
            if not loaded_all:
                _warm_index_modules()
            loaded = got.value
            acc = loaded.accounting
            st.took(got.seconds)
            st.done(
                f"{acc['rows_read']} dòng đọc / read, {acc['rows_kept']} giữ / kept, "
                f"{acc['rows_excluded']} loại / excluded"
            )
        loaded_all.append((loaded, got.seconds))
    failed = [w for w, _ in loaded_all if not w.blocking_errors.empty]
    if failed:
        raise ValidationFailed([w for w, _ in loaded_all], failed)
    t_loaded = time.perf_counter()
    # the indices of every wave, then those of the latest pre-2025 waves re-expressed on the
    # 2025 communes (for the trends across the boundary change: moved_waves), in the workers
    loaded_waves = [w for w, _ in loaded_all]
    moved = moved_waves(loaded_waves)

    def indices_one(job: tuple[str, int]) -> pd.DataFrame:
        kind, i = job
        with in_step("tính chỉ số / computing the indices", paths[i]):
            if kind == "wave":
                return wave_indices(loaded_waves[i])
            if kind == "answers":
                return wave_answers(loaded_waves[i])
            return moved_indices(loaded_waves[i])

    sipas_waves = [i for i, w in enumerate(loaded_waves) if w.config.survey == "sipas"]
    jobs = [("wave", i) for i in range(len(paths))] + [("moved", i) for i in moved]
    jobs += [("answers", i) for i in sipas_waves]
    computing = parallel.run_each(indices_one, jobs)
    results: list[WaveResult] = []
    for path, (loaded, load_seconds) in zip(paths, loaded_all, strict=True):
        with prog.step(f"chỉ số / indices {path.name}", context=path.stem) as st:
            got = next(computing)
            est = got.value
            st.took(got.seconds)
            st.explain(explain_single_psu(est))
            st.done(f"{len(est)} ước lượng / estimates")
        results.append(WaveResult(loaded, est, {"load": load_seconds, "indices": got.seconds}))
    for i in moved:
        got = next(computing)
        results[i].estimates_2025 = got.value
        results[i].seconds["indices_2025"] = got.seconds
    for i in sipas_waves:
        got = next(computing)
        results[i].answers = got.value
        results[i].seconds["answers"] = got.seconds

    keys = [(r.wave.config.survey, r.wave.config.wave) for r in results]
    tables: dict[str, pd.DataFrame] = {
        "estimates": pd.concat([r.estimates for r in results], ignore_index=True),
        "accounting": accounting_table(results),
        "exclusions": stack_tables([r.wave.exclusions for r in results], keys),
        "problems": stack_tables([r.wave.problems for r in results], keys),
    }
    t3 = time.perf_counter()
    with prog.step(
        "xu hướng, điểm yếu, so sánh / trends, weak points, benchmarks", context="run"
    ) as st:
        with in_step("xu hướng, điểm yếu, so sánh / trends, weak points, benchmarks", targets):
            target_table = read_targets(targets) if targets is not None else None
            tables.update(
                derived_tables(
                    results,
                    tables["estimates"],
                    seed=seed,
                    targets=target_table,
                    workers=parallel.default_workers(),
                )
            )
        st.done(
            f"{len(tables['trends'])} xu hướng / trends, {len(tables['findings'])} điểm yếu "
            "/ weak points"
        )
    t4 = time.perf_counter()

    manifest = _manifest(results, paths, seed)
    if targets is not None:
        manifest["targets"] = {
            "file": display_path(Path(targets)),
            "sha256": sha256_of(targets),
        }
    result = RunResult(tables=tables, manifest=manifest, out_dir=out_dir, waves=results)

    # the tables and the workbook are written by a background process while the briefs are
    # rendered (it is forked before anything is typeset: see :mod:`sipas_analysis.parallel`)
    def tables_job() -> tuple[int, float]:
        t = time.perf_counter()
        with in_step("ghi bảng / writing the tables", stage / "tables"):
            written = write_tables(tables, stage / "tables", manifest)
        return len(written) - 1, time.perf_counter() - t

    t5 = time.perf_counter()
    with parallel.Background(tables_job) as writing:
        if briefs and not (tables["estimates"]["survey"] == "sipas").any():
            briefs = False  # a brief is built around a SIPAS wave
            with prog.step("không có đợt SIPAS: không lập bản tin / no SIPAS wave: no briefs"):
                pass
        if briefs:
            from sipas_analysis import briefs as briefs_mod

            with prog.step("biểu đồ và bản tin / figures and briefs", context="run") as st:
                with in_step("biểu đồ và bản tin / figures and briefs", stage / "briefs"):
                    pdfs = briefs_mod.write_briefs(
                        result.tables,
                        stage / "briefs",
                        stage / "figures",
                        progress=progress,
                        targets=target_table,
                    )
                st.done(f"{len(pdfs)} PDF")
        t6 = time.perf_counter()
        with prog.step("bảng và bảng tính / tables and workbook", context="run") as st:
            n_parquet, write_seconds = writing.result()
            st.took(write_seconds)
            st.done(f"{n_parquet} Parquet, ket_qua.xlsx")
    # wall times of the stages (they add up to at most the total); the workers' own seconds:
    # "waves" (load and indices of each wave) and "background" (the tables and workbook, written
    # while the briefs were rendered; "write_tables" is only the wait for them afterwards)
    timings: dict[str, Any] = {
        "load_waves": t_loaded - t_begin,
        "indices": t3 - t_loaded,
        "derived_tables": t4 - t3,
        "figures_and_briefs": t6 - t5,
        "write_tables": time.perf_counter() - t6,
        "background": {"write_tables": write_seconds},
    }
    manifest["timings_seconds"] = {
        "waves": {f"{k[0]}-{k[1]}": r.seconds for k, r in zip(keys, results, strict=True)},
        **timings,
        "total": time.perf_counter() - t_start,
    }
    with atomic_path(stage / "manifest.json") as tmp:
        tmp.write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    outputs.write_marker(stage, manifest)
    outputs.publish(stage, out_dir)
    prog.line(
        f"[{n_steps:>2}/{n_steps}] xong / done in {time.perf_counter() - t_start:.1f}s → {out_dir}"
    )
    return result


def derived_tables(
    results: Sequence[WaveResult],
    estimates: pd.DataFrame,
    *,
    seed: int = DEFAULT_SEED,
    targets: pd.DataFrame | None = None,
    workers: int = 1,
) -> dict[str, pd.DataFrame]:
    """Trends, findings (weak points), benchmarks and answer distributions of a run.

    The weak-point analysis runs on every wave of each survey. It only reads the estimates
    (computed once by :func:`indices_for`, commune variance model and model-based estimates
    included), so every table and brief of the run uses the same standard errors. With
    ``workers`` > 1 (as :func:`run_waves` asks) the trends of the two surveys, then the weak
    points of each wave, are derived side by side in forked workers
    (:func:`sipas_analysis.parallel.run_each`); by default, as from a notebook, in this process.

    Returns
    -------
    dict of DataFrame
        ``estimates`` (as given), ``trends``, ``findings``, ``benchmarks`` (PAPI, published),
        ``sipas_published``, ``importance_performance``, ``ranks``, ``answers``.
    """
    from sipas_analysis import findings, national, trends

    bench_papi = national.papi_benchmarks()
    bench_sipas = national.sipas_benchmarks()
    bench_values = national.benchmark_values(papi=bench_papi, sipas=bench_sipas, targets=targets)

    surveys = [s for s in ("sipas", "papi") if any(r.wave.config.survey == s for r in results)]
    runs = {s: [r for r in results if r.wave.config.survey == s] for s in surveys}
    est = {s: estimates[estimates["survey"] == s] for s in surveys}

    def survey_trends(survey: str) -> pd.DataFrame:
        """The trends of one survey, made here, once; the weak-point stage only reads them."""
        base = est[survey][est[survey]["subgroup"].fillna("") == ""]
        return merge_trends(trends.trend_table(base), trends_across_2025(runs[survey], est[survey]))

    # first the trends of the two surveys side by side, then the weak points of every wave of
    # each (a wave's weak points need only its own estimates, respondents and the trends)
    got = parallel.run_each(survey_trends, surveys, workers=workers)
    trend_of = {s: t.value for s, t in zip(surveys, got, strict=True)}

    def wave_part(job: tuple[str, str]) -> dict[str, pd.DataFrame]:
        """Weak points of one wave (with, for SIPAS, its importance-performance and ranks)."""
        survey, wave = job
        common = {"benchmarks": bench_values, "report_waves": [wave], "trends": trend_of[survey]}
        if survey == "papi":
            return findings.papi_weak_points(est[survey], wave, **common)
        resp = {wave: next(r.wave.respondents for r in runs[survey] if r.wave.config.wave == wave)}
        part = findings.sipas_weak_points(resp, est[survey], wave, **common)
        return {k: part[k] for k in ("findings", "importance_performance", "ranks")}

    # the SIPAS waves first: they take longest (the respondent-level importance-performance)
    jobs = [(s, w) for s in surveys for w in sorted({r.wave.config.wave for r in runs[s]})]
    parts = [g.value for g in parallel.run_each(wave_part, jobs, workers=workers)]
    sipas_parts = [p for (s, _), p in zip(jobs, parts, strict=True) if s == "sipas"]
    out_trends = [trend_of[s] for s in surveys]
    out_findings = [p["findings"] for p in parts]
    out_ipa = [p["importance_performance"].assign(survey="sipas") for p in sipas_parts]
    out_ranks = [p["ranks"].assign(survey="sipas") for p in sipas_parts]
    answers = pd.concat(
        [
            r.answers if r.answers is not None else wave_answers(r.wave)
            for r in results
            if r.wave.config.survey == "sipas"
        ]
        or [tables_contract.empty("answers")],
        ignore_index=True,
    )
    all_trends = pd.concat(out_trends, ignore_index=True)
    # the multiple-comparison families of the changes the briefs report (both surveys together)
    all_trends["q_value"] = findings.trend_q_values(all_trends)
    return {
        "estimates": estimates,
        "trends": all_trends,
        "findings": pd.concat(out_findings, ignore_index=True),
        "benchmarks": bench_papi,
        "sipas_published": bench_sipas,
        "importance_performance": pd.concat(
            out_ipa or [tables_contract.empty("importance_performance")], ignore_index=True
        ),
        "ranks": pd.concat(out_ranks or [tables_contract.empty("ranks")], ignore_index=True),
        "answers": answers,
    }


def _manifest(results: Sequence[WaveResult], paths: Sequence[Path], seed: int) -> dict[str, Any]:
    inputs = []
    for r, path in zip(results, paths, strict=True):
        cfg = r.wave.config
        inputs.append(
            {
                "config": display_path(path),
                "config_sha256": sha256_of(path),
                "data_file": display_path(cfg.file),
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
