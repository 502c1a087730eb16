"""Benchmark: ``sipas run`` on a 100 MB CSV wave (about 360,000 respondents x 60 columns).

Builds the synthetic SIPAS wave of ``bench_load.py`` (60 pre-2025 communes, 4 strata, village
PSUs, unequal weights, 98/99 codes, a few planted errors) as one UTF-8 .csv with its wave config,
then runs ``sipas run CONFIG --no-history --no-briefs`` on it in a child process and prints the
file size, the wall time, the exit code and the child's peak resident memory (``ru_maxrss`` of
the child, read with ``os.wait4``; interpreter and imports included). Target (issue 11): peak
memory at most 2 GB.

Run::

    .venv/bin/python benchmarks/bench_big_csv.py [--rows 360000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

TARGET_MB = 2048.0


def build_csv(folder: Path, rows: int) -> Path:
    """The synthetic wave as .csv with its config (the .sav that ``bench_load.build`` also
    writes is deleted); returns the config path."""
    import yaml
    from bench_load import build

    configs = build(folder, rows)
    (folder / "bench.sav").unlink(missing_ok=True)
    configs[1].unlink(missing_ok=True)
    config = yaml.safe_load(configs[0].read_text("utf-8"))
    config["wave"] = "2022"  # a run needs a wave that starts with its year
    configs[0].write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    return configs[0]


def run_measured(config: Path, out: Path) -> dict:
    """``sipas run`` in a child process: exit code, seconds and the child's peak RSS (MB)."""
    cmd = [sys.executable, "-m", "sipas_analysis.cli", "run", str(config), "--no-history"]
    cmd += ["--no-briefs", "--quiet", "--out", str(out)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    stdout = proc.stdout.read().decode("utf-8", "replace") if proc.stdout else ""
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    return {
        "exit": os.waitstatus_to_exitcode(status),
        "seconds": seconds,
        "peak_mb": usage.ru_maxrss / 1024.0,  # Linux: KiB
        "stdout": stdout,
        "stderr": stderr,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=360_000)
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        config = folder / "bench_csv.yaml"
        if not (config.exists() and (folder / "bench.csv").exists()):
            config = build_csv(folder, args.rows)
        size_mb = (folder / "bench.csv").stat().st_size / 1e6
        print(
            f"built {args.rows} respondents x 60 columns: bench.csv {size_mb:.1f} MB "
            f"in {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        r = run_measured(config, folder / "out")
        good = r["exit"] == 0 and r["peak_mb"] <= TARGET_MB
        print(r["stdout"].strip()[-2000:])
        if r["exit"] != 0:
            print(r["stderr"].strip()[-3000:])
        print(
            f"sipas run: exit {r['exit']}, {r['seconds']:.1f} s, peak memory "
            f"{r['peak_mb']:.0f} MB  [{'OK' if good else 'OVER TARGET'}: <= {TARGET_MB:g} MB]"
        )
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
