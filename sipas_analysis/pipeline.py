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

from sipas_analysis import __version__, outputs, parallel, validate, waves
from sipas_analysis import progress as progress_mod
from sipas_analysis import tables as tables_contract
from sipas_analysis.errors import SipasError
from sipas_analysis.errors import step as in_step
from sipas_analysis.highlights import read_targets
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
    "moved_indices",
    "read_targets",
    "run_waves",
    "sha256_of",
    "trends_across_2025",
    "wave_answers",
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
    #: Indices of a pre-2025 wave re-expressed on the 2025 communes (:func:`moved_indices`),
    #: when the run has a 2025-boundary wave of the same survey (else None: computed on use).
    estimates_2025: pd.DataFrame | None = None
    #: Answer distribution of a SIPAS wave (:func:`wave_answers`; None: computed on use).
    answers: pd.DataFrame | None = None


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


def _explain_single_psu(estimates: pd.DataFrame):
    """The text of a single-PSU warning naming the cells' units and indices (None otherwise)."""

    def explain(w) -> str | None:
        if "single PSU" not in str(w.message) or "flag_detail" not in estimates.columns:
            return None
        cells = estimates[estimates["flag_detail"].astype(str).str.contains("single_psu")]
        if "index_level" in cells.columns and (cells["index_level"] == "item").any():
            cells = cells[cells["index_level"] == "item"]
        return (
            f"{len(cells)} ô chỉ nằm trong một ấp (PSU), không có sai số theo thiết kế / "
            f"estimate cell(s) inside a single PSU, no design-based variance (se = NaN, flag "
            f"'single_psu'): {progress_mod.describe_cells(cells)}"
        )

    return explain


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


def wave_indices(loaded: waves.LoadedWave) -> pd.DataFrame:
    """The estimates table of one wave (SIPAS or PAPI indices at every level)."""
    return indices_for(loaded.respondents, loaded.config)


def indices_for(
    respondents: pd.DataFrame, cfg: waves.WaveConfig, *, subgroups: bool = True
) -> pd.DataFrame:
    """SIPAS or PAPI indices of a respondent table read through ``cfg``, with the run's options
    (``subgroups=False``: the units only, no subgroup rows).

    The commune cells carry the pooled variance model (:mod:`sipas_analysis.small_domains`,
    rule :data:`VARIANCE_RULE`): this is the one place where it is applied; every later stage
    (trends, weak points, ranks, briefs) reads these SEs and intervals.
    """
    from sipas_analysis import small_domains

    return small_domains.modelled_indices(
        respondents,
        lambda d: _raw_indices(d, cfg, subgroups=subgroups),
        rule=VARIANCE_RULE,
        variant_indices=lambda d: _raw_indices(d, cfg, subgroups=False),
    )


def _raw_indices(
    respondents: pd.DataFrame, cfg: waves.WaveConfig, *, subgroups: bool = True
) -> pd.DataFrame:
    """Direct design-based indices (no variance model); ``subgroups=False``: units only."""
    from sipas_analysis.indices import PapiOptions, SipasOptions, papi_indices, sipas_indices
    from sipas_analysis.indices.sipas import SUBGROUP_COLUMNS

    def present(columns):  # a subgroup column nobody has a value in (not in the file) is skipped
        if not subgroups:
            return ()
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


def moved_indices(loaded: waves.LoadedWave) -> pd.DataFrame:
    """The indices of a pre-2025 wave re-expressed on the 2025 communes
    (:func:`sipas_analysis.trends.to_2025_geography`), for :func:`trends_across_2025`: the units
    only (the trends across the boundary change have no subgroup rows)."""
    from sipas_analysis import trends

    moved = trends.to_2025_geography(loaded.respondents)
    return indices_for(moved, loaded.config, subgroups=False)


def wave_answers(loaded: waves.LoadedWave) -> pd.DataFrame:
    """The answer distribution of a wave (the ``answers`` table's rows of that wave)."""
    from sipas_analysis.indices import answer_distribution

    cfg = loaded.config
    return answer_distribution(loaded.respondents, cfg.instrument).assign(
        survey=cfg.survey, wave=cfg.wave
    )


def _moved_waves(loaded: Sequence[waves.LoadedWave]) -> list[int]:
    """The pre-2025 waves whose survey also has a 2025-boundary wave in the run."""
    new = {w.config.survey for w in loaded if w.config.boundary_vintage == "2025"}
    return [
        i
        for i, w in enumerate(loaded)
        if w.config.boundary_vintage == "pre2025" and w.config.survey in new
    ]


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
    parts = [
        r.estimates_2025 if r.estimates_2025 is not None else moved_indices(r.wave)
        for r in old_runs
    ]
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
    """Replace the non-comparable cross-boundary rows by their re-expressed comparable version.

    The result always has ``geography`` (empty where the figures are on their own boundaries).
    """
    if across.empty:
        return trends.assign(geography=pd.Series(None, index=trends.index, dtype=object))
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


def write_tables(
    tables: dict[str, pd.DataFrame], folder: Path, manifest: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write each table as Parquet and all of them in one Excel workbook (``ket_qua.xlsx``).

    The Parquet tables are the run's internal working tables: every value with its flag (the
    rule of :mod:`sipas_analysis.disclosure`). The workbook is a publication: it gets the tables
    through :func:`sipas_analysis.disclosure.for_publication` (no value on fewer than 10
    respondents, no formula, no personal value) before the writer
    (:func:`sipas_analysis.report.workbook.write_results`; ``manifest`` feeds its "Đọc trước")
    sees them.
    """
    from sipas_analysis import disclosure
    from sipas_analysis.report import workbook

    safe = {name: _for_output(df) for name, df in tables.items()}
    # the stage boundary: the tables as written keep their contracts (before any file is made)
    tables_contract.check_tables(safe)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, df in safe.items():
        path = folder / f"{name}.parquet"
        with atomic_path(path) as tmp:
            df.to_parquet(tmp, index=False)
        written[name] = path
    written["xlsx"] = workbook.write_results(
        disclosure.for_publication(safe), folder / "ket_qua.xlsx", manifest
    )
    return written


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
            return _run_into(paths, stage, out_dir, briefs, progress, seed, targets, t_start)
        except BaseException:
            shutil.rmtree(stage, ignore_errors=True)
            raise


def _run_into(
    paths: list[Path],
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
    loading = parallel.run_each(load_one, paths)
    for path in paths:
        with prog.step(
            f"đọc và kiểm tra / loading and validating {path.name}", context=path.stem
        ) as st:
            got = next(loading)
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
    # the indices of every wave, then those of the pre-2025 waves re-expressed on the 2025
    # communes (for the trends across the boundary change), all in the workers
    loaded_waves = [w for w, _ in loaded_all]
    moved = _moved_waves(loaded_waves)

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
            st.explain(_explain_single_psu(est))
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
        "exclusions": _stack([r.wave.exclusions for r in results], keys),
        "problems": _stack([r.wave.problems for r in results], keys),
    }
    t3 = time.perf_counter()
    with prog.step(
        "xu hướng, điểm yếu, so sánh / trends, weak points, benchmarks", context="run"
    ) as st:
        with in_step("xu hướng, điểm yếu, so sánh / trends, weak points, benchmarks", targets):
            target_table = read_targets(targets) if targets is not None else None
            tables.update(
                derived_tables(results, tables["estimates"], seed=seed, targets=target_table)
            )
        st.done(
            f"{len(tables['trends'])} xu hướng / trends, {len(tables['findings'])} điểm yếu "
            "/ weak points"
        )
    t4 = time.perf_counter()

    manifest = _manifest(results, paths, seed)
    if targets is not None:
        manifest["targets"] = {
            "file": _display_path(Path(targets)),
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

    bench_papi = benchmarks.papi_benchmarks()
    bench_sipas = benchmarks.sipas_benchmarks()
    bench_values = benchmarks.benchmark_values(papi=bench_papi, sipas=bench_sipas, targets=targets)
    out_trends, out_findings, out_ipa, out_ranks = [], [], [], []
    for survey in ("sipas", "papi"):
        runs = [r for r in results if r.wave.config.survey == survey]
        if not runs:
            continue
        resp = {r.wave.config.wave: r.wave.respondents for r in runs}
        latest = max(resp)
        est = estimates[estimates["survey"] == survey]
        base = est[est["subgroup"].fillna("") == ""]
        # the trends are made here, once; the weak-point stage only reads them
        survey_trends = _merge_trends(trends.trend_table(base), trends_across_2025(runs, est))
        common = {"benchmarks": bench_values, "report_waves": sorted(resp), "trends": survey_trends}
        if survey == "sipas":
            part = findings.sipas_weak_points(resp, est, latest, **common)
            out_ipa.append(part["importance_performance"].assign(survey=survey))
            out_ranks.append(part["ranks"].assign(survey=survey))
        else:
            part = findings.papi_weak_points(est, latest, **common)
        out_trends.append(survey_trends)
        out_findings.append(part["findings"])
    answers = pd.concat(
        [
            r.answers if r.answers is not None else wave_answers(r.wave)
            for r in results
            if r.wave.config.survey == "sipas"
        ]
        or [tables_contract.empty("answers")],
        ignore_index=True,
    )
    return {
        "estimates": estimates,
        "trends": pd.concat(out_trends, ignore_index=True),
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
