"""Fuzzer of wave files: seeded broken versions of a valid wave, read and reported like a user would.

The base is the bundled sample wave ``sipas-2022`` (its first rows, with its config). Case ``i``
of seed ``s`` draws, from ``numpy.random.default_rng([s, i])``, one to four mutations:

* columns dropped, duplicated (same header twice), shuffled, renamed;
* cells corrupted: control characters, formula starts (``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM``),
  phone / ID card numbers / e-mails, very long text, other scripts, numbers as text with
  decimal commas, NaN / inf, negative and huge numbers, blanks;
* types changed (a column of numbers written as text or floats), rows duplicated or dropped;
* the file truncated at a random byte, random bytes, NUL bytes, another encoding (cp1258,
  UTF-16, Latin-1), blank lines and title rows above the header, a header-only or empty file,
  a one-respondent file; and, for some cases, the same table as an .xlsx workbook.

Each case is written with its config into a fresh folder and goes through ``sipas validate``
in-process (:func:`sipas_analysis.cli.main`, which returns the exit code); every
:data:`RUN_EVERY`-th case also through ``sipas run --no-briefs``. A case fails when: the command
exits 3 or prints a traceback, or an exception escapes (crash); its worker process spends more
than ``--timeout`` seconds on it (hang: the worker is killed and replaced); the exit code is not
the one the result implies (``validate``: 1 with errors, 0 without, 2 unusable input;
``run``: 0, 1 only with errors, or 2); rows read are not kept + excluded, or the tables disagree
with the accounting; or a report file holds a live formula, a cell starting with a formula
character, a personal value planted in the file, or (the run's workbook) a value beside a cell
on fewer than 10 respondents. Cases run in at most two worker processes.

Run::

    .venv/bin/python benchmarks/fuzz_waves.py [--n 10000] [--seed 11] [--workers 2]

It prints one line per failing case and a summary: counts of crashes, hangs, wrong exit codes,
accounting and output violations, and the time and memory (resident set) per file.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import multiprocessing
import multiprocessing.connection
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

BASE_ROWS = 120
#: Values planted by the fuzzer that must never reach a report (personal data).
PLANTED_PERSONAL = ("0901234567", "+84912345678", "079203001234", "123456789", "an.nguyen@mail.vn")
HOSTILE = (
    '=HYPERLINK("http://example.invalid","bấm")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
    "x\x01y\x07z",
    "\x00",
    "ấp\x0bmột",
)
ODD = ("", " ", "NaN", "inf", "-inf", "1e308", "-5", "1,5", "٣", "一二三", "ü" * 40, "x" * 5000)


@dataclass
class Case:
    """One fuzzed file and what happened to it."""

    index: int
    mutations: list[str] = field(default_factory=list)
    outcome: str = ""  # ok | input_error | crash | hang | exit_code | accounting | output
    detail: str = ""
    seconds: float = 0.0
    rss_mb: float = 0.0


def base_wave() -> tuple[pd.DataFrame, dict]:
    """The valid base: the first rows of the sample wave sipas-2022 (cells as text) and its
    config (as a dict, ``file`` to be set)."""
    from sipas_analysis.paths import WAVES_DIR

    cfg = yaml.safe_load((WAVES_DIR / "sipas-2022.yaml").read_text("utf-8"))
    data = (WAVES_DIR / cfg["file"]).resolve()
    frame = pd.read_csv(data, dtype=object, encoding=cfg.get("encoding") or "utf-8-sig")
    frame = frame.head(BASE_ROWS).reset_index(drop=True)
    frame = frame.map(lambda v: unicodedata.normalize("NFC", v) if isinstance(v, str) else v)
    for key in ("sheet", "format", "encoding"):
        cfg.pop(key, None)
    cfg["checks"] = {"min_respondents": 10}
    return frame, cfg


def _cell_value(rng: np.random.Generator) -> str:
    pool = rng.integers(0, 3)
    if pool == 0:
        return str(rng.choice(HOSTILE))
    if pool == 1:
        return str(rng.choice(PLANTED_PERSONAL))
    return str(rng.choice(ODD))


def mutate(
    frame: pd.DataFrame, cfg: dict, rng: np.random.Generator
) -> tuple[pd.DataFrame, dict, list[str], dict]:
    """Table-level mutations; returns the frame, the config, their names and file options."""
    f = frame.copy()
    cfg = yaml.safe_load(yaml.safe_dump(cfg, allow_unicode=True))
    names: list[str] = []
    opts: dict = {"encoding": "utf-8", "format": "csv", "bytes": None}
    for _ in range(int(rng.integers(1, 5))):
        kind = int(rng.integers(0, 16))
        cols = list(f.columns)
        if kind == 0 and len(cols) > 1:
            c = str(rng.choice(cols))
            f = f.drop(columns=[c])
            names.append(f"drop:{c[:20]}")
        elif kind == 1 and cols:
            j = int(rng.integers(0, len(cols)))
            dup = f.iloc[:, j].copy()
            f.insert(len(f.columns), f"{cols[j]}__dup", dup)
            f.columns = [*cols, cols[j]]  # the same header twice
            names.append(f"duplicate:{cols[j][:20]}")
        elif kind == 2:
            f = f[list(rng.permutation(cols))]
            names.append("shuffle")
        elif kind in (3, 4, 5) and cols and len(f):
            k = int(rng.integers(1, 6))
            for _ in range(k):
                r, c = int(rng.integers(0, len(f))), int(rng.integers(0, len(f.columns)))
                f.iat[r, c] = _cell_value(rng)
            names.append(f"cells:{k}")
        elif kind == 6 and cols:
            c = str(rng.choice(cols))
            f[c] = f[c].map(lambda v: f"{v}.0" if isinstance(v, str) and v.isdigit() else v)
            names.append(f"floats:{c[:20]}")
        elif kind == 7 and len(f):
            f = f.sample(frac=1.0, random_state=int(rng.integers(0, 2**31))).head(
                int(rng.integers(0, len(f) + 1))
            )
            names.append(f"rows:{len(f)}")
        elif kind == 8 and len(f):
            f = pd.concat([f, f.head(int(rng.integers(1, 5)))], ignore_index=True)
            names.append("duplicate_rows")
        elif kind == 9:
            f = f.head(1)
            names.append("one_respondent")
        elif kind == 10:
            opts["encoding"] = str(rng.choice(["cp1258", "utf-16", "latin-1", "utf-8-sig"]))
            names.append(f"encoding:{opts['encoding']}")
        elif kind == 11:
            opts["format"] = "xlsx"
            names.append("xlsx")
        elif kind == 12:
            opts["bytes"] = "truncate"
            names.append("truncate")
        elif kind == 13:
            opts["bytes"] = str(rng.choice(["random", "nul", "empty", "header_only", "title"]))
            names.append(f"bytes:{opts['bytes']}")
        elif kind == 14 and cols:
            c = str(rng.choice(cols))
            f = f.rename(columns={c: c + " (mới)"})
            names.append(f"rename:{c[:20]}")
        elif kind == 15:
            key = str(rng.choice(["commune", "respondent_id", "age"]))
            if key in cfg["columns"] and cfg["columns"][key] in f.columns:
                f[cfg["columns"][key]] = str(rng.choice(PLANTED_PERSONAL))
                names.append(f"personal_in:{key}")
    return f, cfg, names, opts


def write_case(folder: Path, frame: pd.DataFrame, cfg: dict, opts: dict, rng) -> Path:
    """Write one case (data file + config) into ``folder``; returns the config path."""
    folder.mkdir(parents=True, exist_ok=True)
    if opts["format"] == "xlsx":
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        data = folder / "wave.xlsx"
        # characters a workbook cannot hold (openpyxl refuses them) are written as "?"
        clean = frame.map(lambda v: ILLEGAL_CHARACTERS_RE.sub("?", v) if isinstance(v, str) else v)
        clean.to_excel(data, index=False)
    else:
        data = folder / "wave.csv"
        text = frame.to_csv(index=False, quoting=csv.QUOTE_MINIMAL)
        raw = text.encode(opts["encoding"], errors="replace")
        kind = opts["bytes"]
        if kind == "truncate" and raw:
            raw = raw[: int(rng.integers(0, len(raw)))]
        elif kind == "random":
            raw = rng.integers(0, 256, size=int(rng.integers(1, 4000)), dtype=np.uint8).tobytes()
        elif kind == "nul":
            pos = int(rng.integers(0, max(len(raw), 1)))
            raw = raw[:pos] + b"\x00" * 8 + raw[pos:]
        elif kind == "empty":
            raw = b""
        elif kind == "header_only":
            raw = raw.split(b"\n", 1)[0] + b"\n"
        elif kind == "title":
            raw = "Khảo sát SIPAS — bảng số liệu\n\n".encode(opts["encoding"], "replace") + raw
        data.write_bytes(raw)
    cfg = {**cfg, "file": data.name}
    if opts["format"] == "csv" and opts["encoding"] in ("cp1258", "utf-8-sig"):
        cfg["encoding"] = opts["encoding"]
    path = folder / "wave.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def check_outputs(paths: dict[str, Path]) -> list[str]:
    """Violations in the report files: live formulas, formula starts, planted personal values."""
    import openpyxl

    bad: list[str] = []
    for key, path in paths.items():
        if path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path)
            cells = [c for ws in book for row in ws.iter_rows() for c in row]
            for c in cells:
                if c.data_type == "f":
                    bad.append(f"{path.name}!{c.coordinate}: live formula {str(c.value)[:40]!r}")
            texts = [c.value for c in cells if isinstance(c.value, str)]
        else:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                texts = [v for row in csv.reader(fh) for v in row]
        for v in texts:
            if v.startswith(_FORMULA_START):
                bad.append(f"{path.name} ({key}): cell starts with a formula character {v[:40]!r}")
            for p in PLANTED_PERSONAL:
                if p in v:
                    bad.append(f"{path.name} ({key}): personal value {p!r} in {v[:60]!r}")
    return bad[:5]


def check_small_cells(out: Path) -> list[str]:
    """Values shown beside a cell on fewer than 10 respondents in the result workbook."""
    import openpyxl

    from sipas_analysis.report import labels

    book = out / "tables" / "ket_qua.xlsx"
    if not book.exists():
        return []
    wb = openpyxl.load_workbook(book, read_only=True)
    n_head = labels.header("n")
    bad = []
    for prefix, value_cols in (
        ("Ước lượng ", ("estimate", "ci_low", "ci_high", "se", "estimate_model")),
        ("Xếp hạng xã", ("rank", "rank_low", "rank_high")),
        ("Điểm yếu", ("estimate", "ci_low", "ci_high", "rank")),
    ):
        for sheet in [name for name in wb.sheetnames if name.startswith(prefix)]:
            rows = list(wb[sheet].iter_rows(values_only=True))
            if not rows or n_head not in rows[0]:
                continue
            header = list(rows[0])
            n_at = header.index(n_head)
            heads = [labels.header(c) for c in value_cols]
            at = [header.index(h) for h in heads if h in header]
            for r in rows[1:]:
                if isinstance(r[n_at], int | float) and r[n_at] < 10:
                    if any(r[j] is not None for j in at):
                        bad.append(f"{sheet}: a value beside n = {r[n_at]}")
    wb.close()
    return bad[:3]


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


#: Every ``RUN_EVERY``-th case also goes through ``sipas run`` (indices, tables, workbook).
RUN_EVERY = 100

_LAST_WAVE: list = []


def _recording_reader() -> None:
    """Keep the wave that ``sipas validate`` reads (in this process), for the accounting check."""
    from sipas_analysis import waves

    if getattr(waves.read_wave, "_fuzz_recording", False):
        return
    original = waves.read_wave

    def read_wave(*args, **kwargs):
        wave = original(*args, **kwargs)
        _LAST_WAVE[:] = [wave]
        return wave

    read_wave._fuzz_recording = True
    waves.read_wave = read_wave


def _cli(argv: list[str]) -> tuple[int, str]:
    from sipas_analysis import cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return code, out.getvalue() + err.getvalue()


def run_case(index: int, seed: int, root: str) -> Case:
    """Build case ``index`` of ``seed`` in a folder under ``root`` and check it: ``sipas
    validate`` in-process (exit code, row accounting, report files) and, every
    :data:`RUN_EVERY`-th case, ``sipas run`` (exit code, every output file, small cells)."""
    rng = np.random.default_rng([seed, index])
    frame, cfg = _BASE if _BASE else base_wave()
    mframe, mcfg, names, opts = mutate(frame, cfg, rng)
    case = Case(index, names)
    folder = Path(root) / f"case{index:06d}"
    t0 = time.perf_counter()
    try:
        config = write_case(folder, mframe, mcfg, opts, rng)
        _LAST_WAVE.clear()
        code, printed = _cli(["validate", str(config), "--out", str(folder / "val")])
        wave = _LAST_WAVE[0] if _LAST_WAVE else None
        expected = 2 if wave is None else (1 if wave.has_errors else 0)
        case.outcome = "input_error" if wave is None else "ok"
        if code != expected or "Traceback" in printed:
            case.outcome = "crash" if code == 3 else "exit_code"
            case.detail = f"validate: exit {code}, expected {expected}: {printed[-400:]}"
            return case
        if wave is not None:
            acc = wave.accounting
            ok = (
                acc["rows_read"] == acc["rows_kept"] + acc["rows_excluded"]
                and len(wave.respondents) == acc["rows_kept"]
                and len(wave.exclusions) == acc["rows_excluded"]
            )
            if not ok:
                case.outcome = "accounting"
                case.detail = str({k: acc[k] for k in ("rows_read", "rows_kept", "rows_excluded")})
                return case
            files = {p.name: p for p in (folder / "val").rglob("*") if p.is_file()}
            bad = check_outputs({k: p for k, p in files.items() if p.suffix in (".csv", ".xlsx")})
            if bad:
                case.outcome, case.detail = "output", "; ".join(bad)
                return case
        if index % RUN_EVERY == 0:
            out = folder / "run"
            code, printed = _cli(
                ["run", str(config), "--no-history", "--no-briefs", "--quiet", "--out", str(out)]
            )
            allowed = {2} if wave is None else ({0, 1, 2} if wave.has_errors else {0, 2})
            if code not in allowed or "Traceback" in printed:
                case.outcome = "crash" if code == 3 else "exit_code"
                case.detail = f"run: exit {code}, expected one of {sorted(allowed)}: "
                case.detail += printed[-400:]
                return case
            if code == 0:
                files = {
                    str(p.relative_to(out)): p
                    for p in out.rglob("*")
                    if p.is_file() and p.suffix in (".csv", ".xlsx")
                }
                bad = check_outputs(files) + check_small_cells(out)
                if bad:
                    case.outcome, case.detail = "output", "run: " + "; ".join(bad)
                    return case
    except Exception as exc:  # noqa: BLE001 - a crash is what the fuzzer looks for
        case.outcome = "crash"
        case.detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()[:300]
        case.detail += " @ " + traceback.extract_tb(exc.__traceback__)[-1].filename.split("/")[-1]
        case.detail += f":{traceback.extract_tb(exc.__traceback__)[-1].lineno}"
    finally:
        case.seconds = time.perf_counter() - t0
        case.rss_mb = _rss_mb()
        shutil.rmtree(folder, ignore_errors=True)
    return case


_BASE: tuple[pd.DataFrame, dict] | None = None


def _init_worker() -> None:
    global _BASE
    import warnings

    warnings.simplefilter("ignore")
    _BASE = base_wave()
    _recording_reader()


def _worker(conn, seed: int, root: str) -> None:
    """A worker process: cases from the pipe, one :class:`Case` back for each."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _init_worker()
    while True:
        index = conn.recv()
        if index is None:
            return
        conn.send(run_case(index, seed, root))


FAILURES = ("crash", "hang", "exit_code", "accounting", "output")
#: Cases a worker process runs before it is replaced by a fresh one.
TASKS_PER_WORKER = 1000


class _Slot:
    """One worker process, its pipe and the case it is running (with its start time)."""

    def __init__(self, ctx, seed: int, root: str):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, seed, root), daemon=True)
        self.proc.start()
        child.close()
        self.index: int | None = None
        self.started = 0.0
        self.done = 0

    def give(self, index: int) -> None:
        self.index, self.started = index, time.perf_counter()
        self.conn.send(index)

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError, BrokenPipeError):
                self.conn.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def fuzz(n: int, seed: int, workers: int = 2, timeout: float = 60.0, quiet: bool = False):
    """Run cases ``0 .. n-1`` of ``seed``; returns the list of :class:`Case`.

    ``workers`` (at most 2) processes run the cases; one that spends more than ``timeout``
    seconds on a case is killed (the case is a hang) and replaced.
    """
    workers = max(1, min(workers, 2))
    cases: list[Case] = []
    ctx = multiprocessing.get_context("fork")
    with tempfile.TemporaryDirectory(prefix="sipas_fuzz_") as root:
        todo = list(range(n))[::-1]
        slots = [_Slot(ctx, seed, root) for _ in range(min(workers, max(n, 1)))]
        try:
            for s in slots:
                if todo:
                    s.give(todo.pop())
            while any(s.index is not None for s in slots):
                busy = [s for s in slots if s.index is not None]
                ready = multiprocessing.connection.wait([s.conn for s in busy], timeout=0.5)
                now = time.perf_counter()
                for s in busy:
                    if s.conn in ready:
                        try:
                            case = s.conn.recv()
                        except EOFError:  # the worker died (e.g. killed by the kernel)
                            case = Case(s.index, outcome="crash", detail="worker process died")
                            case.seconds = now - s.started
                    elif now - s.started > timeout:
                        case = Case(s.index, outcome="hang", detail=f"over {timeout:g} s")
                        case.seconds = now - s.started
                    else:
                        continue
                    cases.append(case)
                    if case.outcome in FAILURES and not quiet:
                        print(
                            f"[{case.outcome}] case {case.index} {case.mutations}: {case.detail}",
                            flush=True,
                        )
                    if not quiet and len(cases) % 500 == 0:
                        print(
                            f"... {len(cases)}/{n} files, {summary(cases, short=True)}", flush=True
                        )
                    s.done += 1
                    if case.outcome in ("hang", "crash") or s.done >= TASKS_PER_WORKER:
                        s.stop(kill=case.outcome in ("hang", "crash"))
                        fresh = _Slot(ctx, seed, root)
                        slots[slots.index(s)] = fresh
                        s = fresh
                    s.index = None
                    if todo:
                        s.give(todo.pop())
        finally:
            for s in slots:
                s.stop(kill=s.index is not None)
    cases.sort(key=lambda c: c.index)
    return cases


def summary(cases: list[Case], short: bool = False) -> str:
    """Counts of outcomes and failures, time and memory per file."""
    counts = {k: sum(c.outcome == k for c in cases) for k in ("ok", "input_error", *FAILURES)}
    secs = np.array([c.seconds for c in cases])
    rss = np.array([c.rss_mb for c in cases if c.rss_mb])
    failures = (
        f"crashes {counts['crash']}, hangs {counts['hang']}, wrong exit codes "
        f"{counts['exit_code']}, accounting violations {counts['accounting']}, output "
        f"violations {counts['output']}"
    )
    if short:
        return f"{failures}; median {np.median(secs):.2f} s per file"
    runs = [c for c in cases if c.index % RUN_EVERY == 0]
    run_secs = np.array([c.seconds for c in runs]) if runs else np.zeros(1)
    return (
        f"{len(cases)} files: {counts['ok']} read, {counts['input_error']} refused with a "
        f"message (exit 2); {failures}. Time per file: median {np.median(secs):.3f} s, "
        f"90th percentile {np.percentile(secs, 90):.3f} s, max {secs.max():.2f} s "
        f"({len(runs)} files also through `sipas run`: median {np.median(run_secs):.2f} s); "
        f"memory (worker RSS after the file): median {np.median(rss) if rss.size else 0:.0f} MB, "
        f"max {rss.max() if rss.size else 0:.0f} MB."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="number of fuzzed files")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--workers", type=int, default=2, help="processes (at most 2)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds before a hang")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    cases = fuzz(args.n, args.seed, args.workers, args.timeout)
    print(summary(cases))
    print(f"total {time.perf_counter() - t0:.0f} s")
    return 0 if not any(c.outcome in FAILURES for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
