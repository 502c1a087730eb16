"""Benchmark: the whole run of the bundled sample waves (``sipas run``), by stage.

Runs ``sipas run --quiet --out DIR`` as a fresh process on this checkout (and, with
``--versus PATH``, on another checkout, e.g. ``../sipas_main``, alternating one run each), ``--runs``
times each; prints the median wall time and the median of every stage of the manifest's
``timings_seconds`` side by side, with the machine's load average before and after.

``--compare`` checks that two output folders hold the same outputs:

* the same files (the run's marker and ``logs/`` aside);
* Parquet tables equal, dtypes and values, bit for bit (``pandas.testing.assert_frame_equal``
  with ``check_exact=True``); CSV files equal byte for byte;
* workbooks (``.xlsx``): the same sheets with the same cell values, the run date/time cells
  ("Ngày chạy", "Ngày kiểm tra") aside;
* ``manifest.json`` equal once its ``timings_seconds`` are removed;
* PDFs: the same page count and the same text (``pdfinfo``, ``pdftotext -layout``, poppler);
* figures: PNG pixels equal, SVG text equal.

Usage::

    .venv/bin/python benchmarks/bench_run.py [--runs 3] [--versus ../sipas_main] [--keep DIR]
    .venv/bin/python benchmarks/bench_run.py --compare OUT_A OUT_B

With ``--versus`` the outputs of the last run of each checkout are compared as well. Exit 0 when
every comparison matched (or none was asked for), 1 otherwise. Not a test. Target (issue 14):
the sample run at most 15 s on a quiet 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
#: Entries of an output folder that differ between two identical runs by design.
IGNORED = {".sipas_run.json"}
IGNORED_DIRS = {"logs"}
#: Workbook cells holding the time of the run (compared as "a date", not as a value).
_STAMP = re.compile(r"^\d{2}/\d{2}/\d{4}( \d{2}:\d{2})?$")


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages of the machine, as ``uptime`` prints them."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run_once(checkout: Path, out: Path, extra: list[str] | None = None) -> dict:
    """One ``sipas run`` of ``checkout``'s sample waves into ``out``; wall time and stages."""
    env = dict(os.environ, PYTHONPATH=str(checkout), PYTHONIOENCODING="utf-8", MPLBACKEND="Agg")
    cmd = [sys.executable, "-m", "sipas_analysis.cli", "run", "--quiet", "--out", str(out)]
    t0 = time.perf_counter()
    res = subprocess.run(
        [*cmd, *(extra or [])], cwd=checkout, env=env, capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(
            f"sipas run in {checkout} failed ({res.returncode}):\n{res.stderr[-3000:]}"
        )
    timings = json.loads((out / "manifest.json").read_text(encoding="utf-8"))["timings_seconds"]
    return {"wall": wall, **flatten(timings)}


def flatten(timings: dict) -> dict[str, float]:
    """The manifest's stage timings as flat ``name -> seconds`` (waves summed by stage too)."""
    flat: dict[str, float] = {}
    waves = timings.get("waves", {})
    for stage in ("load", "indices"):
        flat[f"waves: {stage}"] = sum(float(w.get(stage, 0.0)) for w in waves.values())
    for key, value in timings.items():
        if key != "waves" and isinstance(value, int | float):
            flat[key] = float(value)
        elif key != "waves" and isinstance(value, dict):  # a background job's own seconds
            flat.update({f"{key}: {k}": float(v) for k, v in value.items()})
    return flat


def medians(runs: list[dict]) -> dict[str, float]:
    keys = list(dict.fromkeys(k for r in runs for k in r))
    return {k: statistics.median(r[k] for r in runs if k in r) for k in keys}


def print_side_by_side(columns: dict[str, dict[str, float]], n_runs: int) -> None:
    names = list(columns)
    keys = list(dict.fromkeys(k for c in columns.values() for k in c))
    keys = ["wall", *[k for k in keys if k not in ("wall", "total")], "total"]
    width = max(14, *(len(n) for n in names))
    print(f"median of {n_runs} run(s), seconds")
    print(f"  {'stage':<22}" + "".join(f"{n:>{width + 2}}" for n in names)
          + ("    ratio" if len(names) == 2 else ""))  # fmt: skip
    for k in keys:
        vals = [columns[n].get(k) for n in names]
        cells = "".join(
            f"{v:>{width + 2}.2f}" if v is not None else f"{'–':>{width + 2}}" for v in vals
        )
        ratio = ""
        if len(vals) == 2 and vals[0] is not None and vals[1]:
            ratio = f"   {vals[0] / vals[1]:6.2f}"
        print(f"  {k:<22}{cells}{ratio}")


# ---------------------------------------------------------------------------------------------
# Comparing two output folders
# ---------------------------------------------------------------------------------------------


def _files(folder: Path) -> set[str]:
    out = set()
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if p.is_file() and rel.name not in IGNORED and rel.parts[0] not in IGNORED_DIRS:
            out.add(rel.as_posix())
    return out


def _pdf(path: Path) -> tuple[str, str]:
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    pages = re.search(r"^Pages:\s+(\d+)", info.stdout, re.M)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    return (pages.group(1) if pages else "?"), text


def _xlsx_cells(path: Path) -> dict[str, list[tuple]]:
    import openpyxl

    book = openpyxl.load_workbook(path, read_only=True, data_only=False)
    sheets = {}
    for ws in book.worksheets:
        rows = []
        for row in ws.iter_rows(values_only=True):
            rows.append(
                tuple("<date>" if isinstance(v, str) and _STAMP.match(v) else v for v in row)
            )
        sheets[ws.title] = rows
    book.close()
    return sheets


def _same_file(a: Path, b: Path) -> str | None:
    """None when two outputs hold the same content, else what differs."""
    suffix = a.suffix.lower()
    if suffix == ".parquet":
        import pandas as pd

        try:
            pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b), check_exact=True)
        except AssertionError as exc:
            return " ".join(str(exc).split())[:300]
        return None
    if suffix == ".pdf":
        (pa, ta), (pb, tb) = _pdf(a), _pdf(b)
        if pa != pb:
            return f"{pa} vs {pb} pages"
        return None if ta == tb else "text differs"
    if suffix == ".xlsx":
        ca, cb = _xlsx_cells(a), _xlsx_cells(b)
        if list(ca) != list(cb):
            return f"sheets {list(ca)} vs {list(cb)}"
        bad = [name for name in ca if ca[name] != cb[name]]
        return f"cells differ in sheets {bad}" if bad else None
    if suffix == ".png":
        import numpy as np
        from matplotlib import image

        ia, ib = image.imread(a), image.imread(b)
        return None if ia.shape == ib.shape and np.array_equal(ia, ib) else "pixels differ"
    if a.name == "manifest.json":
        ma, mb = (json.loads(p.read_text(encoding="utf-8")) for p in (a, b))
        for m in (ma, mb):
            m.pop("timings_seconds", None)
        return None if ma == mb else "manifest differs (timings aside)"
    return None if a.read_bytes() == b.read_bytes() else "bytes differ"


def compare(a: Path, b: Path) -> list[str]:
    """Every difference between two run output folders (empty: the same outputs)."""
    fa, fb = _files(a), _files(b)
    problems = [f"only in {a}: {p}" for p in sorted(fa - fb)]
    problems += [f"only in {b}: {p}" for p in sorted(fb - fa)]
    counts: dict[str, int] = {}
    for rel in sorted(fa & fb):
        diff = _same_file(a / rel, b / rel)
        if diff:
            problems.append(f"{rel}: {diff}")
        suffix = Path(rel).suffix.lower() or Path(rel).name
        counts[suffix] = counts.get(suffix, 0) + 1
    shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"compared {len(fa & fb)} files ({shown}): {len(problems)} difference(s)")
    for p in problems:
        print(f"  DIFF {p}")
    return problems


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per checkout (median)")
    parser.add_argument("--versus", default=None, help="another checkout to time alternately")
    parser.add_argument("--keep", default=None, help="folder for the outputs (kept)")
    parser.add_argument(
        "--compare", nargs=2, metavar="DIR", default=None, help="only compare two output folders"
    )
    args = parser.parse_args(argv)
    if args.compare:
        return 1 if compare(Path(args.compare[0]), Path(args.compare[1])) else 0

    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_run-"))
    work.mkdir(parents=True, exist_ok=True)
    checkouts = {"this": CHECKOUT}
    if args.versus:
        checkouts["versus"] = Path(args.versus).resolve()
    names = {k: f"{k} ({p.name})" for k, p in checkouts.items()}
    print(f"load average before: {load_average()}")
    runs: dict[str, list[dict]] = {k: [] for k in checkouts}
    for i in range(args.runs):
        for key, path in checkouts.items():
            out = work / key
            r = run_once(path, out)
            runs[key].append(r)
            print(f"  run {i + 1} {names[key]}: {r['wall']:.2f} s (load {load_average()})")
    print(f"load average after: {load_average()}")
    print_side_by_side({names[k]: medians(v) for k, v in runs.items()}, args.runs)
    status = 0
    if args.versus:
        status = 1 if compare(work / "this", work / "versus") else 0
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
