"""Shared test helpers: where the independent reference files live."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sipas_analysis.paths import REPO_ROOT

#: The read-only reference folder laid beside the repository (official PAPI workbooks etc.).
SHARED_REFERENCE = REPO_ROOT.parent / "shared" / "reference"


def shared_reference_file(*parts: str) -> Path:
    """Path of a file in the shared reference folder; skip the test if absent (fail in CI)."""
    path = SHARED_REFERENCE.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"Reference file missing in CI: {path}")
        pytest.skip(f"reference file not available: {path}")
    return path
