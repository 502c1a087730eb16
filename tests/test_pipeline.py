"""End-to-end acceptance of ``sipas run`` (issue 5 item 6): tables, manifest, workbook, reruns.

One run of every sample wave is shared with ``test_briefs.py`` (``tests/_pipeline_run.py``).
Expected row counts are literals from the tables of ``data/sample/README.md``; checksums are
recomputed here with :mod:`hashlib`; the second run is a separate ``sipas run`` process.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _pipeline_run import SessionRun, sha256_file, tree_checksums

import sipas_analysis
from sipas_analysis import geography, pipeline
from sipas_analysis.errors import SipasError
from sipas_analysis.paths import REPO_ROOT, WAVES_DIR

pytestmark = pytest.mark.slow

#: data/sample/README.md, "Files" (rows) and "Invalid rows per wave" (duplicates counted once).
README_ROWS = {
    ("sipas", "2021"): (1575, 4),
    ("sipas", "2022"): (1518, 3),
    ("sipas", "2023"): (1581, 2),
    ("sipas", "2024"): (1566, 8),
    ("sipas", "2025"): (1586, 3),
    ("papi", "2022"): (480, 1),
    ("papi", "2023"): (480, 1),
    ("papi", "2024"): (480, 2),
}

#: The estimates table's contract columns (docs/tables.md).
CONTRACT_COLUMNS = [
    "survey",
    "wave",
    "instrument",
    "level",
    "unit_code",
    "unit_name",
    "area_code",
    "boundary_vintage",
    "subgroup",
    "index_level",
    "index_code",
    "label_vi",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "ci_level",
    "n",
    "flag",
]

# Absolute folders of a machine, spelled in parts so that this file itself holds none.
MACHINE_PATHS = tuple(f"/{d}/" for d in ("wo" + "rk", "ro" + "ot", "tmp", "ho" + "me"))


def _tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


@pytest.fixture(scope="module")
def estimates(session_run: SessionRun) -> pd.DataFrame:  # noqa: F811
    return pd.read_parquet(session_run.out / "tables" / "estimates.parquet")


def test_every_sample_wave_in_estimates(session_run, estimates):  # noqa: F811
    got = set(zip(estimates["survey"], estimates["wave"], strict=True))
    assert got == set(README_ROWS)
    assert len(session_run.configs) == len(README_ROWS) == len(list(WAVES_DIR.glob("*.yaml")))
    # every level of the contract is there for every wave
    for (survey, wave), part in estimates.groupby(["survey", "wave"]):
        assert {"commune", "area", "total"} <= set(part["level"]), (survey, wave)
        overall = part[(part["index_code"] == survey) & (part["level"] == "total")]
        assert len(overall[overall["subgroup"] == ""]) == 1, (survey, wave)


def test_estimates_contract_columns_and_ranges(estimates):
    missing = [c for c in CONTRACT_COLUMNS if c not in estimates.columns]
    assert not missing, missing
    assert set(estimates["survey"]) == {"sipas", "papi"}
    assert set(estimates["level"]) <= {"commune", "area", "total", "subgroup"}
    assert set(estimates["flag"]) <= {"ok", "small_n", "suppressed"}
    assert set(estimates["boundary_vintage"]) <= {"pre2025", "2025"}
    assert estimates["wave"].map(type).eq(str).all()
    assert estimates["unit_code"].map(type).eq(str).all()
    assert str(estimates["area_code"].dtype) == "Int64"
    assert estimates.loc[estimates["unit_code"] == "total", "area_code"].isna().all()
    assert (estimates["ci_level"] == 0.95).all()
    # flags follow n: suppressed n < 10, small_n 10 <= n < 30
    n = estimates["n"]
    expected_flag = (
        pd.Series("ok", index=estimates.index).mask(n < 30, "small_n").mask(n < 10, "suppressed")
    )
    bad = estimates[estimates["flag"] != expected_flag]
    assert bad.empty, bad[["survey", "wave", "unit_code", "index_code", "n", "flag"]].head()

    ok = estimates[estimates["estimate"].notna()]
    sipas = ok[ok["survey"] == "sipas"]
    assert len(sipas) > 0
    for col in ("estimate", "ci_low", "ci_high"):
        values = sipas[col].dropna()
        assert values.between(0, 100).all(), (col, values.min(), values.max())
    with_ci = ok.dropna(subset=["ci_low", "ci_high"])
    tol = 1e-9
    assert (with_ci["ci_low"] <= with_ci["estimate"] + tol).all()
    assert (with_ci["estimate"] <= with_ci["ci_high"] + tol).all()
    assert (ok["se"].dropna() >= 0).all()
    papi = ok[ok["survey"] == "papi"]
    assert papi.loc[papi["index_level"] == "total", "estimate"].between(8, 80).all()
    assert papi.loc[papi["index_level"] == "dimension", "estimate"].between(1, 10).all()


def test_row_accounting_matches_readme(session_run):  # noqa: F811
    acc = pd.read_parquet(session_run.out / "tables" / "accounting.parquet")
    assert len(acc) == len(README_ROWS)
    for r in acc.itertuples():
        rows, invalid = README_ROWS[(r.survey, r.wave)]
        assert r.rows_read == r.rows_kept + r.rows_excluded, r
        assert (r.rows_read, r.rows_kept, r.rows_excluded) == (rows, rows - invalid, invalid), r


def test_manifest(session_run):  # noqa: F811
    path = session_run.out / "manifest.json"
    text = path.read_text(encoding="utf-8")
    manifest = json.loads(text)

    for needle in (*MACHINE_PATHS, str(REPO_ROOT), str(session_run.out), str(Path.home())):
        assert needle not in text, f"machine path {needle!r} in manifest.json"

    assert manifest["version"] == sipas_analysis.__version__
    assert manifest["options"] == {**pipeline.RUN_OPTIONS, "variance_rule": "pooled_villages"}
    assert manifest["seed"] == pipeline.DEFAULT_SEED

    inputs = manifest["inputs"]
    configs = {(REPO_ROOT / i["config"]).resolve() for i in inputs}
    assert configs == {p.resolve() for p in session_run.configs}
    acc = pd.read_parquet(session_run.out / "tables" / "accounting.parquet")
    by_wave = {(r.survey, r.wave): r for r in acc.itertuples()}
    for entry in inputs:
        config = REPO_ROOT / entry["config"]
        data = REPO_ROOT / entry["data_file"]
        assert entry["config_sha256"] == sha256_file(config), entry["config"]
        assert entry["data_sha256"] == sha256_file(data), entry["data_file"]
        settings = entry["settings"]
        r = by_wave[(settings["survey"], str(settings["wave"]))]
        rows, invalid = README_ROWS[(r.survey, r.wave)]
        assert entry["rows"] == {
            "rows_read": rows,
            "rows_kept": rows - invalid,
            "rows_excluded": invalid,
        }

    timings = manifest["timings_seconds"]
    assert set(timings["waves"]) == {f"{s}-{w}" for s, w in README_ROWS}
    for wave_times in timings["waves"].values():
        assert all(v >= 0 for v in wave_times.values()) and wave_times
    assert timings["total"] > 0
    # the stages' wall times add up to at most the total; the waves' own seconds (spent in
    # worker processes, side by side) and the background job's are each within the total
    stages = {k: v for k, v in timings.items() if k not in ("waves", "background", "total")}
    assert {"load_waves", "indices", "derived_tables", "write_tables"} <= set(stages)
    assert sum(stages.values()) <= timings["total"] + 1e-6
    for seconds in [*timings["background"].values()] + [
        v for w in timings["waves"].values() for v in w.values()
    ]:
        assert 0 <= seconds <= timings["total"]


# The workbook (ket_qua.xlsx) is checked in tests/test_workbook.py.


def test_second_run_gives_identical_tables(session_run, rerun_job):  # noqa: F811
    assert rerun_job.returncode == 0, rerun_job.stderr[-3000:]
    first = _tables(session_run.out / "tables")
    second = _tables(rerun_job.out_dir / "tables")
    assert set(first) == set(second)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], check_exact=True, obj=name)


@pytest.mark.parametrize("bad", ["missing", "corrupt"])
def test_failed_run_leaves_previous_outputs_untouched(session_run, tmp_path, bad):  # noqa: F811
    previous = tmp_path / "reports"
    shutil.copytree(session_run.out, previous)
    before = tree_checksums(previous)

    wave_dir = tmp_path / "waves"
    wave_dir.mkdir()
    config_text = (WAVES_DIR / "sipas-2023.yaml").read_text(encoding="utf-8")
    if bad == "missing":
        data_name = "sipas_2023_missing.sav"
    else:
        data_name = "sipas_2023_corrupt.sav"
        (wave_dir / data_name).write_bytes(b"$FL2 this is not an SPSS file\x00\x01" * 50)
    bad_config = wave_dir / "sipas-2023.yaml"
    new_text, count = re.subn(r"(?m)^file: .*$", f"file: {data_name}", config_text)
    assert count == 1
    bad_config.write_text(new_text, encoding="utf-8")

    good_config = WAVES_DIR / "sipas-2021.yaml"
    with pytest.raises(SipasError) as err:
        pipeline.run_waves([good_config, bad_config], previous, progress=False)
    assert data_name in str(err.value)

    assert tree_checksums(previous) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "waves"]


def test_raw_data_files_unchanged(session_run):  # noqa: F811
    after = {str(p): sha256_file(p) for p in session_run.data_files}
    assert after == session_run.data_sha256_before
    assert len(after) == len(README_ROWS)


def test_cli_run_one_config_adds_history(session_run, cli_history_job):  # noqa: F811
    job = cli_history_job
    assert job.returncode == 0, job.stderr[-3000:]
    assert re.search(r"Hoàn tất / Done: 4 đợt / waves, .*\(\d+\.\d s\)", job.stdout), job.stdout
    tables = _tables(job.out_dir / "tables")
    est = tables["estimates"]
    assert set(zip(est["survey"], est["wave"], strict=True)) == {
        ("sipas", w) for w in ("2021", "2022", "2023", "2024")
    }
    acc = tables["accounting"]
    assert sorted(acc["wave"]) == ["2021", "2022", "2023", "2024"]
    trends = tables["trends"]
    overall = trends[(trends["unit_code"] == "total") & (trends["index_code"] == "sipas")]
    assert {("2023", "2024"), ("2022", "2023")} <= set(
        zip(overall["wave_from"], overall["wave_to"], strict=True)
    )
    assert not (job.out_dir / "briefs").exists()

    # a wave's estimates do not depend on which other waves are in the run
    keys = ["survey", "wave", "level", "unit_code", "subgroup", "index_code"]
    values = ["estimate", "se", "ci_low", "ci_high", "n", "flag"]
    full = pd.read_parquet(session_run.out / "tables" / "estimates.parquet")
    full = full[full["survey"] == "sipas"]
    full = full[full["wave"] <= "2024"].sort_values(keys).reset_index(drop=True)
    hist = est.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(hist[keys + values], full[keys + values], rtol=1e-12)
    manifest = json.loads((job.out_dir / "manifest.json").read_text(encoding="utf-8"))
    assert len(manifest["inputs"]) == 4


def test_trends_run_across_the_2025_reorganisation(session_run):  # noqa: F811
    """SIPAS 2024 (pre-2025 communes) -> 2025 (new communes): compared on the new geography."""
    t = _tables(session_run.out / "tables")["trends"]
    t = t[(t["survey"] == "sipas") & (t["subgroup"].fillna("") == "")]
    cross = t[(t["wave_from"] == "2024") & (t["wave_to"] == "2025")]
    overall = cross[cross["index_code"] == "sipas"].set_index("unit_code")
    # The whole survey area, the four areas and the 19 new communes, each once and comparable.
    assert set(overall.index) == {"total", "794", "798", "800", "802"} | {
        str(c) for c in geography.communes("2025")["commune_code"]
    }
    assert overall.index.is_unique
    assert overall["comparable"].all()
    assert set(overall["geography"]) == {"2025 (quy đổi)"}
    # The end point is the 2025 estimate itself; the change is the difference of the two ends.
    est = _tables(session_run.out / "tables")["estimates"]
    e25 = est[(est["survey"] == "sipas") & (est["wave"] == "2025") & (est["index_code"] == "sipas")]
    e25 = e25[e25["subgroup"].fillna("") == ""].set_index("unit_code")["estimate"]
    np.testing.assert_allclose(overall["estimate_to"], e25.reindex(overall.index), rtol=1e-12)
    np.testing.assert_allclose(
        overall["change"], overall["estimate_to"] - overall["estimate_from"], rtol=1e-12
    )
    # The planted common trend from 2024 to 2025 is +1.5 points (data/sample/README.md): the
    # interval of the whole survey area's change contains it.
    tot = overall.loc["total"]
    assert tot["ci_low"] <= 1.5 <= tot["ci_high"]
    # Within the old geography 2023 -> 2024 stays as it was (not re-expressed).
    old = t[(t["wave_from"] == "2023") & (t["wave_to"] == "2024") & (t["index_code"] == "sipas")]
    assert old["comparable"].all() and old["geography"].isna().all()


def test_targets_become_weak_points(tmp_path):
    """An index below the province's own target (a CSV given to the run) is a finding."""
    targets = tmp_path / "muc_tieu.csv"
    # PAPI true totals of the sample are 47.1-48.9 (data/sample/README.md): 60 is above all units,
    # 10 below all of them.
    targets.write_text("survey,index_code,target\npapi,papi,60\npapi,d1,1\n", encoding="utf-8")
    configs = [WAVES_DIR / f"papi-{y}.yaml" for y in (2022, 2023, 2024)]
    result = pipeline.run_waves(
        configs, tmp_path / "out", briefs=False, progress=False, targets=targets
    )
    f = result.tables["findings"]
    hit = f[f["reason_codes"].str.contains("below_target")]
    # A target without a unit_code applies to the areas and the whole survey area
    # (findings.weak_points); one with a unit_code to that unit.
    units = set(
        result.tables["estimates"].query(
            "index_code == 'papi' and wave == '2024' and level in ['area', 'total']"
        )["unit_code"]
    )
    assert set(hit.loc[hit["index_code"] == "papi", "unit_code"]) == units
    assert (hit["benchmark"] == 60).all() and not (hit["index_code"] == "d1").any()
    assert result.manifest["targets"]["sha256"] == pipeline.sha256_of(targets)
    with pytest.raises(SipasError, match="target"):
        pipeline.read_targets(tmp_path / "missing.csv")


def _estimates_rows(wave: str, vintage: str, cells: dict[tuple[str, str], float]) -> pd.DataFrame:
    """A small estimates table: one row per (unit, index) of a SIPAS wave."""
    return pd.DataFrame(
        [
            {"survey": "sipas", "wave": wave, "instrument": "sipas-2022", "level": "commune",
             "unit_code": unit, "boundary_vintage": vintage, "subgroup": "", "index_code": code,
             "index_level": "element", "estimate": value, "se": 1.0, "n": 100, "flag": "ok"}
            for (unit, code), value in cells.items()
        ]
    )  # fmt: skip


def _old_run(wave: str, vintage: str, moved: pd.DataFrame | None):
    from types import SimpleNamespace

    config = SimpleNamespace(wave=wave, boundary_vintage=vintage, survey="sipas")
    own = moved if moved is not None else _estimates_rows(wave, vintage, {("9", "e1"): 1.0})
    return SimpleNamespace(
        wave=SimpleNamespace(config=config, name=wave), estimates=own, estimates_2025=moved
    )


def test_trends_across_2025_start_from_the_latest_old_wave_that_has_the_unit(monkeypatch):
    """Only as many old waves are re-expressed as the 2025 cells need: a commune missing from the
    latest old wave takes its change from the wave before; an older wave is never computed."""
    from sipas_analysis.pipeline import steps

    new = _estimates_rows("2025", "2025", {("1", "e1"): 80.0, ("2", "e1"): 70.0})
    w2024 = _estimates_rows("2024", "2025", {("1", "e1"): 75.0})  # commune 2 not surveyed
    w2023 = _estimates_rows("2023", "2025", {("1", "e1"): 60.0, ("2", "e1"): 66.0})
    asked = []

    def moved_indices(loaded):
        asked.append(loaded.name)
        if loaded.name == "2022":
            raise AssertionError("the 2022 wave is not needed: every 2025 cell is covered")
        return {"2023": w2023}[loaded.name]

    monkeypatch.setattr(steps, "moved_indices", moved_indices)
    runs = [_old_run("2022", "pre2025", None), _old_run("2023", "pre2025", None),
            _old_run("2024", "pre2025", w2024), _old_run("2025", "2025", None)]  # fmt: skip
    out = steps.trends_across_2025(runs, new).set_index("unit_code")
    assert asked == ["2023"]
    assert out.loc["1", "wave_from"] == "2024" and out.loc["1", "change"] == pytest.approx(5.0)
    assert out.loc["2", "wave_from"] == "2023" and out.loc["2", "change"] == pytest.approx(4.0)


@pytest.mark.parametrize(
    "old_waves",
    [("2022", "2023", "2024"), ("2024a", "2024b"), ("2023", "2024", "2025a"), ("2024",)],
)
def test_trends_across_2025_equal_those_over_every_old_wave(old_waves):
    """The same trend rows as with every old wave re-expressed (trend_table's own pairing: the
    latest earlier year, ties in run order), whatever the wave labels."""
    from sipas_analysis import trends
    from sipas_analysis.pipeline import steps

    rng = np.random.default_rng(3)
    new = _estimates_rows("2025", "2025", {(u, "e1"): 80.0 for u in "123"})
    moved = {
        w: _estimates_rows(w, "2025", {(u, "e1"): float(rng.uniform(50, 90))
                                       for u in "123" if rng.uniform() < 0.7})
        for w in old_waves
    }  # fmt: skip
    runs = [_old_run(w, "pre2025", moved[w]) for w in old_waves]
    runs.append(_old_run("2025", "2025", None))
    got = steps.trends_across_2025(runs, new)
    full = trends.trend_table(pd.concat([*moved.values(), new], ignore_index=True))
    full = full[(full["wave_to"] == "2025") & (full["wave_from"].astype(str) < "2025")]
    key = ["unit_code", "wave_from"]
    pd.testing.assert_frame_equal(
        got.drop(columns="geography").sort_values(key).reset_index(drop=True),
        full.sort_values(key).reset_index(drop=True),
    )


def test_load_order_reads_workbooks_and_big_files_first(tmp_path):
    """The workers take the longest reads first: a workbook before a text file 2.5 times its
    size, a bigger text file before a smaller one; equal costs keep the configs' order."""
    from types import SimpleNamespace

    from sipas_analysis.pipeline import load_order

    def cfg(name, size, fmt):
        path = tmp_path / name
        path.write_bytes(b"x" * size)
        return SimpleNamespace(file=path, format=fmt)

    configs = [
        cfg("a.csv", 300, "csv"),
        cfg("b.xlsx", 200, "xlsx"),
        cfg("c.csv", 500, "csv"),
        cfg("d.dta", 300, "dta"),
        SimpleNamespace(file=tmp_path / "missing.csv", format="csv"),
    ]
    assert load_order(configs) == [1, 2, 0, 3, 4]


def test_derived_tables_in_workers_equal_those_made_in_one_process(session_run):  # noqa: F811
    """The run derives the trends, then the weak points wave by wave, in forked workers; in one
    process (as from a notebook) the tables are the same, and the SIPAS weak points of the waves
    one at a time are those of all the waves in one call."""
    from sipas_analysis import findings, national

    result = session_run.result
    assert result is not None
    serial = pipeline.derived_tables(result.waves, result.tables["estimates"], workers=1)
    for name in ("trends", "findings", "importance_performance", "ranks", "answers"):
        pd.testing.assert_frame_equal(
            serial[name].reset_index(drop=True),
            result.tables[name].reset_index(drop=True),
            check_dtype=False,
            obj=name,
        )
    runs = [r for r in result.waves if r.wave.config.survey == "sipas"]
    resp = {r.wave.config.wave: r.wave.respondents for r in runs}
    est = result.tables["estimates"]
    at_once = findings.sipas_weak_points(
        resp,
        est[est["survey"] == "sipas"],
        max(resp),
        benchmarks=national.benchmark_values(
            papi=national.papi_benchmarks(), sipas=national.sipas_benchmarks()
        ),
        report_waves=sorted(resp),
        trends=result.tables["trends"][result.tables["trends"]["survey"] == "sipas"].drop(
            columns="q_value"
        ),
    )
    got = result.tables["findings"]
    pd.testing.assert_frame_equal(
        got[got["survey"] == "sipas"].reset_index(drop=True),
        at_once["findings"].reset_index(drop=True),
        check_dtype=False,
    )
    assert len(at_once["findings"]) > 50 and set(at_once["findings"]["wave"]) == set(resp)
