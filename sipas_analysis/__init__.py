"""sipas_analysis — SIPAS and PAPI survey analysis for the survey areas of old Long An.

Load commune-level survey waves, validate them, compute design-based SIPAS and PAPI indices with
honest confidence intervals, follow trends and weak points, and print Vietnamese PDF briefs.

In JupyterLab::

    import sipas_analysis as sa
    wave = sa.waves.read_wave("waves/sipas-2024.yaml")
    est = sa.indices.sipas_indices(wave.respondents, "sipas-2022")
    sa.geography.commune_name(27694)      # 'Phường 1'

Sub-modules are imported on first use (``sa.plots`` loads matplotlib only when asked for).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The public sub-modules, one stage each (see docs/methodology.md for the walk through them).
SUBMODULES = (
    "benchmarks",
    "briefs",
    "design",
    "estimate",
    "findings",
    "geography",
    "indices",
    "instruments",
    "official",
    "pipeline",
    "plots",
    "replicates",
    "report",
    "sample",
    "trends",
    "validate",
    "waves",
    "weighting",
)

__all__ = ["__version__", *SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
