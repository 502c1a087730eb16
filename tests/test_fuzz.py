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
