"""Shared test helpers: the official PAPI workbooks, and the doctests of the package.

Every test runs on a fresh clone: the official figures the tests read are in ``data/reference``
(the PAPI result sheets as CSV grids, rebuilt into workbooks by ``tests/official_workbooks.py``).
With ``SIPAS_PAPI_WORKBOOKS`` naming a folder of the official files, the workbook tests run on
both (fixture parameter ``rebuilt`` / ``official``).
"""

from __future__ import annotations

import doctest
from collections.abc import Callable
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem
from official_workbooks import OFFICIAL_DIR, SOURCES, workbook


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
