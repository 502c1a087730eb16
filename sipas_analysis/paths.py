"""Where the project's committed data lives: reference tables and the bundled sample waves.

The package is installed in editable mode (``pip install -e .``), so the repository's ``data/``
folder sits next to the package. ``SIPAS_DATA_DIR`` overrides it for other installs.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "DATA_DIR",
    "PACKAGE_DIR",
    "REFERENCE_DIR",
    "REPO_ROOT",
    "SAMPLE_DIR",
    "WAVES_DIR",
]

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
DATA_DIR = Path(os.environ.get("SIPAS_DATA_DIR", REPO_ROOT / "data"))
REFERENCE_DIR = DATA_DIR / "reference"
SAMPLE_DIR = DATA_DIR / "sample"
WAVES_DIR = REPO_ROOT / "waves"
