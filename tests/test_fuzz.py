"""A small fixed set of fuzzed wave files (``benchmarks/fuzz_waves.py``, seed 11): no crash, no
hang, the exit code the result implies, exact row accounting, safe report files."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fuzz_waves  # noqa: E402


def test_fixed_fuzz_cases_fail_in_no_way():
    cases = fuzz_waves.fuzz(40, seed=11, workers=1, timeout=120, quiet=True)
    assert len(cases) == 40
    failures = [
        (c.index, c.outcome, c.mutations, c.detail)
        for c in cases
        if c.outcome in fuzz_waves.FAILURES
    ]
    assert not failures, failures
    # the set exercises both paths: files read (with errors reported) and files refused
    outcomes = {c.outcome for c in cases}
    assert {"ok", "input_error"} <= outcomes, outcomes
    mutated = {m.split(":")[0] for c in cases for m in c.mutations}
    assert {"cells", "drop", "shuffle"} <= mutated, mutated


def test_interrupted_validation_workbook_raises_the_interruption(monkeypatch, tmp_path):
    """Fuzz crash class (seed 11, cases 89 and 93, under the old in-process time limit): an
    exception inside the first sheet's write left a workbook without sheets, and closing it
    raised openpyxl's ``IndexError: At least one sheet must be visible`` instead of the cause
    (a Ctrl+C or SIGTERM would then have been reported as a bug, exit 3). The report's writer
    interrupted half-way must let the interruption through and leave no file."""
    from pathlib import Path

    import pytest

    from sipas_analysis import validate, waves
    from sipas_analysis.paths import WAVES_DIR

    wave = waves.read_wave(WAVES_DIR / "sipas-2022.yaml")
    out = tmp_path / "val"

    def interrupted(path, **kwargs):
        Path(path).write_bytes(b"PK half a workbook")
        raise KeyboardInterrupt

    monkeypatch.setattr(validate.problem_report.workbook, "write_problems", interrupted)
    with pytest.raises(KeyboardInterrupt):
        validate.write_report(wave, out)
    # nothing half-written: no report file at all
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]
