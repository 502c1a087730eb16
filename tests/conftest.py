"""Shared test fixtures: the shared run of the sample waves, the official PAPI workbooks, doctests.

Every test runs on a fresh clone: the official figures the tests read are in ``data/reference``
(the PAPI result sheets as CSV grids, rebuilt into workbooks by ``tests/official_workbooks.py``).
With ``SIPAS_PAPI_WORKBOOKS`` naming a folder of the official files, the workbook tests run on
both (fixture parameter ``rebuilt`` / ``official``). The shared run of every sample wave and its
child ``sipas`` commands are session fixtures (helpers in ``tests/_pipeline_run.py``).
"""

from __future__ import annotations

import doctest
from collections.abc import Callable
from pathlib import Path

import pytest
from _pipeline_run import JOB_FIXTURES, Job, SessionRun, make_jobs, sha256_file
from _pytest.doctest import DoctestItem
from official_workbooks import OFFICIAL_DIR, SOURCES, workbook

from sipas_analysis import pipeline, waves

_SESSION_RUN = pytest.StashKey[SessionRun]()


@pytest.fixture(scope="session")
def session_run(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest):
    """The full run of every sample wave (with briefs), made once per test session."""
    base = tmp_path_factory.mktemp("pipeline_run")
    out = base / "out"
    used = {name for item in request.session.items for name in getattr(item, "fixturenames", ())}
    early = {job for fixture, job in JOB_FIXTURES.items() if fixture in used}
    configs = pipeline.discover_configs()
    data_files = [waves.load_wave_config(p).file for p in configs]
    before = {str(p): sha256_file(p) for p in data_files}
    run = SessionRun(None, out, configs, data_files, before, make_jobs(base, out), early)
    request.config.stash[_SESSION_RUN] = run
    for name in ("rerun", "cli_history"):  # independent of the in-process run: start them first
        if name in early:
            run.jobs[name].start()
    try:
        run.result = pipeline.run_waves(configs, out, progress=False)
        if "rebrief" in early:  # reads the in-process run's tables
            run.jobs["rebrief"].start()
        run.start_ready()
        yield run
    finally:
        run.close()


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Between tests: start ``brief_2024`` as soon as the ``cli_history`` run it reads is done."""
    run = item.config.stash.get(_SESSION_RUN, None)
    if run is not None and run.result is not None:
        run.start_ready()


@pytest.fixture(scope="session")
def rerun_job(session_run: SessionRun) -> Job:
    """``sipas run --no-briefs`` of every wave into another folder, finished."""
    return session_run.job("rerun")


@pytest.fixture(scope="session")
def cli_history_job(session_run: SessionRun) -> Job:
    """``sipas run --no-briefs waves/sipas-2024.yaml``, finished."""
    return session_run.job("cli_history")


@pytest.fixture(scope="session")
def rebrief_job(session_run: SessionRun) -> Job:
    """``sipas brief --tables OUT/tables --out OTHER``, finished."""
    return session_run.job("rebrief")


@pytest.fixture(scope="session")
def brief_2024_job(session_run: SessionRun) -> Job:
    """``sipas brief`` on the tables of ``sipas run waves/sipas-2024.yaml``, finished."""
    return session_run.job("brief_2024")


@pytest.fixture(scope="session", params=SOURCES)
def papi_source(request: pytest.FixtureRequest) -> str:
    """Which copy of the official PAPI workbooks a test reads: ``rebuilt`` or ``official``."""
    return request.param


@pytest.fixture(scope="session")
def papi_workbook(
    papi_source: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Path]:
    """``papi_workbook("PAPI_2011_vie.xlsx")``: path of that official workbook (see module doc)."""
    folder = tmp_path_factory.mktemp("papi_workbooks")

    def get(name: str) -> Path:
        if papi_source == "official":
            assert OFFICIAL_DIR is not None
            return OFFICIAL_DIR / name
        return workbook(name, folder)

    return get


def _only_skipped_examples(item: DoctestItem) -> bool:
    examples = item.dtest.examples if item.dtest is not None else []
    return bool(examples) and all(ex.options.get(doctest.SKIP) for ex in examples)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out docstrings whose every example is marked ``+SKIP`` (illustrations, not tests).

    They would otherwise be reported as skipped tests; the examples that run are collected as usual.
    """
    kept, dropped = [], []
    for item in items:
        (
            dropped if isinstance(item, DoctestItem) and _only_skipped_examples(item) else kept
        ).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
