"""Benchmark: the estimation engine against R ``survey`` on a national-scale wave.

Builds a seeded wave of 40,000 respondents answering 33 five-point items (3 % item nonresponse),
in 400 communes spread over 63 strata, each commune with 2-4 villages as PSUs, unequal weights;
computes the top-2-box share with SE and logit CI (design df) for every item x commune plus the
composite (mean of the 33 items) per commune; writes the table; runs R ``survey`` on the same file
for the same table (``benchmarks/bench_estimate.R``); prints both wall times, their ratio, the
package's peak memory, and the largest difference between the two tables.

Then, as whole processes (what a user waits for): ``sipas estimate`` on the wave's CSV against
``Rscript bench_estimate.R ... items`` (the same item x commune table), run in alternating pairs,
median of each; with the start-up of ``sipas estimate`` (its imports) beside the numpy + pandas
import floor. Last, the whole run of the sample waves (``sipas run``), by stage, from the
manifest's ``timings_seconds``.

Usage::

    .venv/bin/python benchmarks/bench_estimate.py [--out-dir DIR] [--no-r] [--pairs 3]
        [--no-sample-run]

Not a test. Targets: the engine at least 20x faster than R, under 2 s and under 1 GB; whole
processes at least 30x (aim 50x: start-up within 0.3 s of the numpy + pandas floor); the sample
run under 15 s on a quiet machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sipas_analysis.design import DesignWarning, survey_design
from sipas_analysis.estimate import composite_mean, estimate_domains
from sipas_analysis.outputs import write_csv

HERE = Path(__file__).resolve().parent
N_RESP = 40_000
N_ITEMS = 33
N_COMMUNES = 400
N_STRATA = 63


def make_wave(seed: int = 2025) -> pd.DataFrame:
    """A national-scale wave in the canonical layout (only the columns the engine needs)."""
    rng = np.random.default_rng(seed)
    stratum_of_commune = np.sort(
        np.r_[np.arange(N_STRATA), rng.integers(0, N_STRATA, N_COMMUNES - N_STRATA)]
    )
    villages = rng.integers(2, 5, N_COMMUNES)  # 2-4 villages per commune
    v_commune = np.repeat(np.arange(N_COMMUNES), villages)
    n_v = v_commune.size
    # respondents per village, total N_RESP
    alloc = rng.multinomial(N_RESP - 10 * n_v, np.full(n_v, 1 / n_v)) + 10
    village = np.repeat(np.arange(n_v), alloc)
    commune = v_commune[village]
    stratum = stratum_of_commune[commune]
    v_effect = rng.normal(0, 0.6, n_v)[village]
    c_effect = rng.normal(0, 0.4, N_COMMUNES)[commune]
    item_shift = rng.normal(0.8, 0.5, N_ITEMS)
    latent = (c_effect + v_effect)[:, None] + item_shift[None, :]
    x = latent + rng.normal(0, 1.0, (N_RESP, N_ITEMS))
    answers = np.clip(np.round(3 + x), 1, 5)
    answers[rng.random(answers.shape) < 0.03] = np.nan
    weight = rng.uniform(50, 400, N_STRATA)[stratum] * rng.lognormal(0, 0.35, N_RESP)
    df = pd.DataFrame(
        {
            "respondent_id": np.arange(1, N_RESP + 1),
            "stratum": stratum + 1,
            "psu": village + 1,
            "commune_code": 10_000 + commune,
            "weight": np.round(weight, 4),
        }
    )
    items = pd.DataFrame(answers, columns=[f"q{k}" for k in range(1, N_ITEMS + 1)]).astype("Int64")
    return pd.concat([df, items], axis=1)


def package_run(wave: pd.DataFrame, out: Path) -> pd.DataFrame:
    """Everything the package does for the table: design, estimates, composite, write."""
    items = [c for c in wave.columns if c.startswith("q")]
    des = survey_design(wave, "weight", "stratum", "psu")
    est = estimate_domains(wave, items, "commune_code", design=des, statistic="top2")
    comp = composite_mean(est, {"composite": items})
    table = pd.concat([est.table, comp.table], ignore_index=True)
    write_csv(table, out)
    return table


def _wall(cmd: list[str], cwd: Path | None = None) -> float:
    """Wall time of one process run to the end (it must succeed)."""
    env = dict(os.environ, PYTHONIOENCODING="utf-8", MPLBACKEND="Agg")
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=cwd, env=env)
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    return seconds


def _median_of(cmd: list[str], runs: int) -> float:
    return statistics.median(_wall(cmd) for _ in range(runs))


def startup(runs: int = 5) -> dict[str, float]:
    """Median process times: the numpy + pandas import floor and ``sipas estimate``'s imports."""
    py = sys.executable
    return {
        "python": _median_of([py, "-c", "pass"], runs),
        "numpy + pandas": _median_of([py, "-c", "import numpy, pandas"], runs),
        "sipas estimate imports": _median_of(
            [py, "-c", "import sipas_analysis.cli as c; c.build_parser().parse_args"
             "(['estimate', '--data', 'x', '--items', 'q', '--out', 'y'])"],
            runs,
        ),
    }  # fmt: skip


def whole_processes(wave_csv: Path, out_dir: Path, pairs: int) -> tuple[list[float], list[float]]:
    """``sipas estimate`` and R ``survey`` on the same table, alternating; wall times of each."""
    items = ",".join(f"q{k}" for k in range(1, N_ITEMS + 1))
    sipas = [
        sys.executable, "-m", "sipas_analysis.cli", "estimate", "--data", str(wave_csv),
        "--items", items, "--by", "commune_code", "--weight", "weight", "--strata", "stratum",
        "--psu", "psu", "--statistic", "top2", "--ci-method", "logit",
        "--out", str(out_dir / "estimates_cli.csv"),
    ]  # fmt: skip
    r = ["Rscript", str(HERE / "bench_estimate.R"), str(wave_csv), str(out_dir / "r_items.csv")]
    r.append("items")
    py_times, r_times = [], []
    for k in range(pairs):
        py_times.append(_wall(sipas))
        r_times.append(_wall(r))
        print(f"  pair {k + 1}: sipas estimate {py_times[-1]:.2f} s, R survey {r_times[-1]:.1f} s")
    return py_times, r_times


def sample_run_by_stage(out_dir: Path) -> dict:
    """``sipas run`` of the sample waves; its wall time and the manifest's per-stage timings."""
    out = out_dir / "sample_run"
    wall = _wall([sys.executable, "-m", "sipas_analysis.cli", "run", "--quiet", "--out", str(out)])
    timings = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["timings_seconds"]
    return {"wall": wall, **timings}


def _print_stages(t: dict) -> None:
    waves = t.get("waves", {})
    load = sum(w.get("load", 0.0) for w in waves.values())
    idx = sum(w.get("indices", 0.0) for w in waves.values())
    print(f"sample run (sipas run, {len(waves)} waves): {t['wall']:.1f} s as a process")
    print(f"  load + validate waves  {load:6.1f} s")
    print(f"  indices                {idx:6.1f} s")
    for k, v in t.items():
        if k not in ("waves", "wall", "total") and isinstance(v, int | float):
            print(f"  {k:<22} {v:6.1f} s")
    print(f"  total (manifest)       {t.get('total', float('nan')):6.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=None, help="folder for the wave and outputs")
    parser.add_argument("--no-r", action="store_true", help="skip the R run")
    parser.add_argument("--repeat", type=int, default=5, help="timed package runs (best kept)")
    parser.add_argument("--pairs", type=int, default=3, help="alternating whole-process pairs")
    parser.add_argument(
        "--no-sample-run", action="store_true", help="skip the timed run of the sample waves"
    )
    args = parser.parse_args(argv)
    out_dir = Path(args.out_dir) if args.out_dir else Path(tempfile.mkdtemp(prefix="sipas_bench_"))
    out_dir.mkdir(parents=True, exist_ok=True)
    warnings.simplefilter("ignore", DesignWarning)

    wave = make_wave()
    wave_csv = out_dir / "wave.csv"
    wave.to_csv(wave_csv, index=False)
    wave = pd.read_csv(wave_csv)
    for c in [c for c in wave.columns if c.startswith("q")]:
        wave[c] = wave[c].astype("Int64")
    print(
        f"wave: {len(wave):,} respondents, {wave['stratum'].nunique()} strata, "
        f"{wave['commune_code'].nunique()} communes, "
        f"{wave.groupby(['stratum', 'psu']).ngroups} villages (PSUs), "
        f"{sum(c.startswith('q') for c in wave.columns)} items -> {out_dir}"
    )

    py_out = out_dir / "estimates_python.csv"
    times = []
    for _ in range(max(args.repeat, 1)):
        gc.collect()
        t0 = time.perf_counter()
        table = package_run(wave, py_out)
        times.append(time.perf_counter() - t0)
    py_seconds = min(times)
    gc.collect()
    tracemalloc.start()
    package_run(wave, py_out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    print(
        f"package: {len(table):,} rows; best of {len(times)} runs {py_seconds:.3f} s "
        f"(all: {', '.join(f'{t:.3f}' for t in times)})"
    )
    print(
        f"package peak memory: {peak / 2**20:.1f} MiB traced (tracemalloc); "
        f"process max RSS {rss:.0f} MiB"
    )

    st = startup()
    print(
        "start-up (median of 5 processes): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in st.items())
        + f"; sipas estimate above the numpy + pandas floor: "
        f"{st['sipas estimate imports'] - st['numpy + pandas']:+.2f} s"
    )
    if not args.no_sample_run:
        _print_stages(sample_run_by_stage(out_dir))
    if args.no_r:
        return 0
    if shutil.which("Rscript") is None:
        print("Rscript not found: R comparison skipped")
        return 0
    py_times, r_times = whole_processes(wave_csv, out_dir, max(args.pairs, 1))
    py_med, r_med = statistics.median(py_times), statistics.median(r_times)
    print(
        f"whole processes, {len(py_times)} alternating pairs (median): sipas estimate "
        f"{py_med:.2f} s (start-up {st['sipas estimate imports']:.2f} s), R survey {r_med:.1f} s "
        f"-> {r_med / py_med:.1f}x (target >= 30x, aim 50x)"
    )
    r_out = out_dir / "estimates_r.csv"
    t0 = time.perf_counter()
    res = subprocess.run(
        ["Rscript", str(HERE / "bench_estimate.R"), str(wave_csv), str(r_out)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    r_wall = time.perf_counter() - t0
    if res.returncode != 0:
        print(res.stderr, file=sys.stderr)
        return 1
    r_seconds = float(
        next(ln.split()[1] for ln in res.stdout.splitlines() if ln.startswith("R_SECONDS"))
    )
    print(f"R survey: {r_seconds:.1f} s estimation ({r_wall:.1f} s with start-up and reading)")
    print(f"speed-up: {r_seconds / py_seconds:.0f}x (R estimation time / package time)")
    r_tab = pd.read_csv(r_out)
    m = table.merge(r_tab, on=["commune_code", "index_code"], suffixes=("", "_r"))
    ok = m["flag"] == "ok"
    diffs = {
        c: float(np.nanmax(np.abs(m.loc[ok, c] - m.loc[ok, f"{c}_r"])))
        for c in ["estimate", "se", "ci_low", "ci_high"]
    }
    print(
        f"rows compared: {int(ok.sum()):,} flagged ok ({int((~ok).sum())} degenerate/flagged cells "
        "left out: R gives no usable logit interval there); max |package - R| (percent points): "
        + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
