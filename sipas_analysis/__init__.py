"""sipas_analysis — SIPAS and PAPI survey analysis for the survey areas of old Long An.

Load commune-level survey waves, validate them, compute design-based SIPAS and PAPI indices with
honest confidence intervals, follow trends and weak points, and print Vietnamese PDF briefs.

In JupyterLab::

    import sipas_analysis as sa
    wave = sa.waves.read_wave("waves/sipas-2024.yaml")
    est = sa.indices.sipas_indices(wave.respondents, "sipas-2022")
    sa.geography.commune_name(27694)      # 'Phường 1'

Sub-modules are imported on first use (``sa.plots`` loads matplotlib only when asked for);
``dir(sa)`` lists them with the errors every stage raises (``sa.SipasError``, ``sa.InputError``,
``sa.ConfigError``).
"""

from __future__ import annotations

import importlib
from typing import Any

from sipas_analysis.errors import ConfigError, InputError, SipasError

__version__ = "0.1.0"

#: The public sub-modules, one stage each (see docs/methodology.md for the walk through them and
#: docs/tables.md for the tables they write). Each is imported on first use.
SUBMODULES = (
    "briefs",
    "cli",
    "coerce",
    "commands",
    "design",
    "disclosure",
    "errors",
    "estimate",
    "explore",
    "field_sample",
    "findings",
    "geography",
    "highlights",
    "indices",
    "init_wave",
    "instruments",
    "national",
    "official",
    "outputs",
    "parallel",
    "paths",
    "pipeline",
    "plots",
    "progress",
    "replicates",
    "report",
    "sample",
    "schema",
    "small_area",
    "small_domains",
    "tables",
    "trends",
    "validate",
    "waves",
    "weighting",
    "xlsx",
)

#: The errors every stage raises: a ``SipasError`` is a problem of the input or configuration
#: (printed without traceback by the ``sipas`` command); ``InputError`` names file, column and rows,
#: ``ConfigError`` the config file and key.
__all__ = ["__version__", "SUBMODULES", "SipasError", "InputError", "ConfigError", *SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """What ``dir(sa)`` and tab completion show: the version, the errors and the sub-modules."""
    return sorted(__all__)
