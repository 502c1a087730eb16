"""Survey instruments as data: load, validate and query questionnaire definition files.

Each version of a questionnaire (``sipas-2017``, ``sipas-2022``, ``papi-2011``, ``papi-2018``) is
one YAML file in this package's folder. It lists the index hierarchy (parts/elements for SIPAS,
dimensions/sub-dimensions for PAPI), the items with their Vietnamese and English labels, answer
scales, valid and missing codes, filters (conditional questions) and, for PAPI, each indicator's
natural scale, direction and weight. A new questionnaire next year is a new file, not new code:
see ``README.md`` in this folder for the file format.

Definitions that other modules must not repeat live in the files: "satisfied" is the ``top_box``
of the ``likert5`` scale (codes 4 and 5), "expects much" is the ``top_box`` of the expectation
scale, and the "positive answer" of a perception item is the ``top_box`` of its scale.

Command line::

    sipas instrument                  # list the bundled instruments
    sipas instrument sipas-2017       # hierarchy with item counts
    sipas instrument my_form.yaml     # validate a user's file (exit 2 with a clear message if bad)

The package, by stage: :mod:`~sipas_analysis.instruments.model` (the vocabularies and the data
classes), :mod:`~sipas_analysis.instruments.loading` (finding and reading a definition file),
:mod:`~sipas_analysis.instruments.building` (checking it and building the
:class:`Instrument`) and :mod:`~sipas_analysis.instruments.listing` (the text listing); the
command ``sipas instrument`` is :mod:`sipas_analysis.commands.instrument`.
"""

from __future__ import annotations

from sipas_analysis.instruments.listing import describe, describe_bundled
from sipas_analysis.instruments.loading import list_instruments, load_instrument
from sipas_analysis.instruments.model import (
    ANSWER_TYPES,
    CONFIDENCE,
    DEFAULT_MISSING,
    DIRECTIONS,
    FORMAT_VERSION,
    INDEX_ROLE,
    INSTRUMENTS_DIR,
    LEAF_LEVELS,
    LEVELS,
    PARENT_LEVEL,
    ROLES,
    Instrument,
    Scale,
)

__all__ = [
    "ANSWER_TYPES",
    "CONFIDENCE",
    "DEFAULT_MISSING",
    "DIRECTIONS",
    "FORMAT_VERSION",
    "INDEX_ROLE",
    "INSTRUMENTS_DIR",
    "LEAF_LEVELS",
    "LEVELS",
    "PARENT_LEVEL",
    "ROLES",
    "Instrument",
    "Scale",
    "describe",
    "describe_bundled",
    "list_instruments",
    "load_instrument",
]
