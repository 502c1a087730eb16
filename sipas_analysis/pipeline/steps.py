"""The steps of a run, one wave at a time: load and calibrate, the indices (with the commune
variance model), the pre-2025 waves on the 2025 communes, the trends across 2025, the row
accounting and the writing of the tables. :func:`sipas_analysis.pipeline.run_waves` calls them in
order; each can be called alone from a notebook.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sipas_analysis import progress as progress_mod
from sipas_analysis import tables as tables_contract
from sipas_analysis import waves
from sipas_analysis.errors import SipasError
from sipas_analysis.outputs import atomic_path
from sipas_analysis.paths import REPO_ROOT, WAVES_DIR

__all__ = [
    "DEFAULT_SEED",
    "RUN_OPTIONS",
    "VARIANCE_RULE",
    "ValidationFailed",
    "WaveResult",
    "RunResult",
    "sha256_of",
    "display_path",
    "explain_single_psu",
    "discover_configs",
    "history_for",
    "load_wave",
    "load_order",
    "calibrate_loaded",
    "wave_indices",
    "indices_for",
    "moved_indices",
    "wave_answers",
    "moved_waves",
    "trends_across_2025",
    "merge_trends",
    "accounting_table",
    "stack_tables",
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
    #: computed in the workers for the waves of :func:`moved_waves` (else None: computed by
    #: :func:`trends_across_2025` when it needs them).
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


def display_path(path: Path) -> str:
    """A path as recorded in the manifest: relative to the repository when inside it."""
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.name


def explain_single_psu(estimates: pd.DataFrame):
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


#: How much longer a workbook takes to read and check than a text or statistics file of the same
#: size (:mod:`sipas_analysis.xlsx`: 1.1 s against 0.44 s for a csv of the same size on the sample
#: waves, rounded up).
XLSX_READ_FACTOR = 3.0


def load_order(configs: Sequence[waves.WaveConfig]) -> list[int]:
    """The waves in the order the workers read them: the longest to read first (file size,
    workbooks counted :data:`XLSX_READ_FACTOR` times), so that no worker reads a long file
    alone at the end; the results still come in the order of the configs."""

    def cost(i: int) -> float:
        cfg = configs[i]
        try:
            size = float(Path(cfg.file).stat().st_size)
        except OSError:  # reported by the reader, in its turn
            size = 0.0
        return size * (XLSX_READ_FACTOR if cfg.format == "xlsx" else 1.0)

    return sorted(range(len(configs)), key=lambda i: (-cost(i), i))


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


def moved_waves(loaded: Sequence[waves.LoadedWave]) -> list[int]:
    """The pre-2025 waves of each survey re-expressed on the 2025 communes in the workers: those
    of the latest year before the survey's first 2025-boundary wave (every pre-2025 wave when
    none is earlier).

    :func:`trends_across_2025` re-expresses the older ones only when a unit or index of the
    2025 waves has no value in them (a change into 2025 starts from the latest earlier wave that
    has its unit and index, :func:`sipas_analysis.trends.trend_table`).
    """
    from sipas_analysis.trends import wave_year

    first_new: dict[str, int] = {}
    for w in loaded:
        if w.config.boundary_vintage == "2025":
            year = wave_year(w.config.wave)
            first_new[w.config.survey] = min(year, first_new.get(w.config.survey, year))
    old = [
        (i, w.config.survey, wave_year(w.config.wave))
        for i, w in enumerate(loaded)
        if w.config.boundary_vintage == "pre2025" and w.config.survey in first_new
    ]
    chosen = []
    for survey in {s for _, s, _ in old}:
        years = [y for _, s, y in old if s == survey]
        earlier = [y for y in years if y < first_new[survey]]
        if not earlier:
            chosen += [i for i, s, _ in old if s == survey]
            continue
        chosen += [i for i, s, y in old if s == survey and y == max(earlier)]
    return sorted(chosen)


def trends_across_2025(runs: Sequence[WaveResult], estimates: pd.DataFrame) -> pd.DataFrame:
    """Trends from pre-2025 waves into the first 2025-boundary waves, on the 19 new communes.

    The pre-2025 waves, the latest first and only as far back as a unit or index of the
    2025-boundary waves still lacks an earlier value, are re-expressed on the 2025 communes
    (:func:`trends.to_2025_geography`:
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
    from sipas_analysis.trends import wave_year

    new_waves = {r.wave.config.wave for r in runs if r.wave.config.boundary_vintage == "2025"}
    old_runs = [r for r in runs if r.wave.config.boundary_vintage == "pre2025"]
    if not new_waves or not old_runs:
        return pd.DataFrame()
    ends = estimates[estimates["wave"].astype(str).isin(new_waves)]
    first_year = min(wave_year(w) for w in new_waves)

    def keys(table: pd.DataFrame) -> set[tuple[str, str, str]]:
        t = table[table["subgroup"].fillna("") == ""]
        return set(zip(t["level"].astype(str), t["unit_code"].astype(str),
                       t["index_code"].astype(str), strict=True))  # fmt: skip

    # Year by year from the latest, until every unit and index of the new waves has a value in
    # an earlier year (trend_table pairs a change with the latest earlier year that has its unit
    # and index). A wave without any of the missing indices cannot give them and is skipped; a
    # wave of the new waves' year or later is always taken (as every wave once was).
    needed = keys(ends)
    parts: dict[int, pd.DataFrame] = {}
    years = sorted({wave_year(r.wave.config.wave) for r in old_runs}, reverse=True)
    for year in years:
        if not needed and year < first_year:
            break
        missing_codes = {code for _, _, code in needed}
        for k, r in enumerate(old_runs):
            if wave_year(r.wave.config.wave) != year:
                continue
            own = set(r.estimates["index_code"].astype(str)) if r.estimates is not None else None
            if year < first_year and r.estimates_2025 is None and own is not None:
                if not own & missing_codes:
                    continue
            part = r.estimates_2025 if r.estimates_2025 is not None else moved_indices(r.wave)
            parts[k] = part
        if year < first_year:
            for k, part in parts.items():
                if wave_year(old_runs[k].wave.config.wave) == year:
                    needed -= keys(part)
    # in the order of the runs, as trend_table breaks ties within a year
    both = pd.concat([*(parts[k] for k in sorted(parts)), ends], ignore_index=True)
    both = both[both["subgroup"].fillna("") == ""]
    out = trends.trend_table(both)
    first_new = min(new_waves)
    out = out[
        out["wave_to"].astype(str).isin(new_waves) & (out["wave_from"].astype(str) < first_new)
    ]
    return out.assign(geography="2025 (quy đổi)")


def merge_trends(trends: pd.DataFrame, across: pd.DataFrame) -> pd.DataFrame:
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


def stack_tables(frames: Iterable[pd.DataFrame], keys: Sequence[tuple[str, str]]) -> pd.DataFrame:
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
        values = out[col]
        if values.dtype != object:
            continue
        if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
            # text and missing values only: what _cell_text does, without a call per cell
            if values.isna().any():
                out[col] = values.where(values.notna(), None)
        else:
            out[col] = values.map(_cell_text)
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
