"""The sub-commands of ``sipas``: one module per command, holding its argparse glue only.

Each module defines ``add_arguments(parser)`` (the command's options) and ``run(args) -> int``
(read the options, call the library, print the summary, return the exit code); the work itself
is done by the library modules they import. :mod:`sipas_analysis.cli` lists them in
``COMMANDS`` and imports a command's module only when that command is parsed.

- ``make-sample``: :mod:`~sipas_analysis.commands.make_sample` (the generator:
  :mod:`sipas_analysis.sample`)
- ``instrument``: :mod:`~sipas_analysis.commands.instrument` (:mod:`sipas_analysis.instruments`)
- ``init-wave``: :mod:`~sipas_analysis.commands.init_wave` (:mod:`sipas_analysis.init_wave`)
- ``validate``: :mod:`~sipas_analysis.commands.validate` (:mod:`sipas_analysis.validate`)
- ``papi-official``: :mod:`~sipas_analysis.commands.papi_official` (:mod:`sipas_analysis.official`)
- ``estimate``: :mod:`~sipas_analysis.commands.estimate` (:mod:`sipas_analysis.estimate`)
- ``run``: :mod:`~sipas_analysis.commands.run` (:mod:`sipas_analysis.pipeline`)
- ``brief``: :mod:`~sipas_analysis.commands.brief` (:mod:`sipas_analysis.briefs`)
"""

from __future__ import annotations

__all__: list[str] = []
