"""Benchmark: the estimation engine against R ``survey`` on a national-scale wave.

Builds a seeded wave of 40,000 respondents answering 33 five-point items (3 % item nonresponse),
in 400 communes spread over 63 strata, each commune with 2-4 villages as PSUs, unequal weights;
computes the top-2-box share with SE and logit CI (design df) for every item x commune plus the
composite (mean of the 33 items) per commune; writes the table; runs R ``survey`` on the same file
for the same table (``benchmarks/bench_estimate.R``); prints both wall times, their ratio, the
package's peak memory, and the largest difference between the two tables.

Usage::

    .venv/bin/python benchmarks/bench_estimate.py [--out-dir DIR] [--no-r]

Not a test: targets are at least 20x faster than R, under 2 s and under 1 GB.
"""

from __future__ import annotations

import argparse
import gc
import resource
import shutil
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", default=None, help="folder for the wave and outputs")
    parser.add_argument("--no-r", action="store_true", help="skip the R run")
    parser.add_argument("--repeat", type=int, default=5, help="timed package runs (best kept)")
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

    if args.no_r:
        return 0
    if shutil.which("Rscript") is None:
        print("Rscript not found: R comparison skipped")
        return 0
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
