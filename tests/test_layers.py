"""Import direction of the package: a module imports only from its own layer or the layers below.

``make lint`` runs this file. The layers, from the bottom:

====================  =========================================================================
base                  the package itself (``__version__``, the errors), errors, paths
tools                 shared conversions, config schema, readers and writers: coerce, xlsx,
                      schema, outputs, geography, instruments, disclosure, progress, parallel
                      (forked workers), report.format, report.text, report.labels,
                      report.workbook, report.display
survey                the design core: design, replicates, small_area
checks                the checks of a wave and the problem report: validate
load                  reading a wave: waves (config and reader, which runs the checks), official
                      (the published PAPI workbooks)
estimate              estimates and their derived tables: estimate, weighting, small_domains,
                      trends, indices
analysis              national comparisons, weak points, the scorecard: national, findings,
                      highlights
report                what people read: report (brief, leader, sheet), plots, briefs
pipeline              the orchestration of a run
commands              what a person starts: cli, commands (one module per sub-command: its
                      argparse glue), explore, init_wave, sample, field_sample
====================  =========================================================================

Every import counts, also those written inside a function to dodge a cycle at import time
(``waves`` <-> ``validate`` used to be one). The ``run(args)`` / ``add_arguments(parser)`` functions
are the ``sipas`` command's glue: they belong in ``sipas_analysis.commands`` (one module per
sub-command), and no library module holds them or imports ``argparse`` (checked below). Imports inside a layer are allowed, but no module may reach itself
through its imports (checked over every import, in functions too).

Placing a new module: add it to :data:`LAYERS` in the lowest layer that holds everything it imports.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

PACKAGE = "sipas_analysis"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE

#: Layers from the bottom; a module name is relative to the package ("" = the package itself).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("", "errors", "paths")),
    (
        "tools",
        (
            "coerce",
            "xlsx",
            "schema",
            "outputs",
            "geography",
            "instruments",
            "instruments.model",
            "instruments.loading",
            "instruments.building",
            "instruments.listing",
            "disclosure",
            "progress",
            "tables",
            "parallel",
            "report.format",
            "report.text",
            "report.labels",
            "report.workbook",
            "report.display",
        ),
    ),
    (
        "survey",
        (
            "design",
            "design.options",
            "design.calibration",
            "design.core",
            "design.build",
            "design.summary",
            "replicates",
            "small_area",
        ),
    ),
    (
        "checks",
        (
            "validate",
            "validate.problems",
            "validate.row_checks",
            "validate.file_checks",
            "validate.problem_report",
        ),
    ),
    (
        "load",
        (
            "waves",
            "waves.columns",
            "waves.config",
            "waves.sources",
            "waves.build",
            "official",
            "official.codes",
            "official.cells",
            "official.layouts",
            "official.workbooks",
            "official.published",
        ),
    ),
    (
        "estimate",
        (
            "estimate",
            "estimate.options",
            "estimate.domains",
            "estimate.intervals",
            "estimate.result",
            "estimate.flags",
            "estimate.engine",
            "estimate.composite",
            "estimate.files",
            "weighting",
            "weighting.cells",
            "weighting.calibration",
            "weighting.variance",
            "weighting.diagnostics",
            "weighting.census",
            "weighting.wave",
            "small_domains",
            "small_domains.options",
            "small_domains.intervals",
            "small_domains.variants",
            "small_domains.variance",
            "small_domains.model",
            "small_domains.modelled",
            "trends",
            "indices",
            "indices.common",
            "indices.sipas",
            "indices.papi",
            "indices.papi.options",
            "indices.papi.structure",
            "indices.papi.respondents",
            "indices.papi.published",
            "indices.papi.intervals",
        ),
    ),
    (
        "analysis",
        (
            "national",
            "findings",
            "findings.phrases",
            "findings.fdr",
            "findings.contrasts",
            "findings.importance",
            "findings.ranks",
            "findings.reasons",
            "findings.table",
            "findings.surveys",
            "highlights",
        ),
    ),
    (
        "report",
        (
            "report",
            "report.brief",
            "report.leader",
            "report.sheet",
            "plots",
            "plots.common",
            "plots.trend",
            "plots.dot_whisker",
            "plots.heatmap",
            "plots.diverging",
            "plots.papi_dimensions",
            "plots.importance_performance",
            "plots.save",
            "briefs",
        ),
    ),
    ("pipeline", ("pipeline", "pipeline.steps")),
    (
        "commands",
        (
            "cli",
            "commands",
            "commands.brief",
            "commands.estimate",
            "commands.init_wave",
            "commands.instrument",
            "commands.make_sample",
            "commands.papi_official",
            "commands.run",
            "commands.validate",
            "explore",
            "init_wave",
            "init_wave.rules",
            "init_wave.reading",
            "init_wave.matching",
            "init_wave.roles",
            "init_wave.labels",
            "init_wave.draft",
            "sample",
            "sample.answers",
            "sample.files",
            "sample.mess",
            "sample.people",
            "sample.readme",
            "sample.spec",
            "sample.wave",
            "sample.writing",
            "field_sample",
        ),
    ),
)
#: Functions whose imports would count in the commands layer: none, since every sub-command's
#: glue lives in ``sipas_analysis.commands`` (a ``run`` in a library module counts in its layer).
CLI_GLUE: frozenset[str] = frozenset()
COMMANDS = "commands"
#: Upward imports still to be removed: (importer, imported) -> why. Empty: none left.
KNOWN_UPWARD: dict[tuple[str, str], str] = {}

LEVEL = {layer: i for i, (layer, _) in enumerate(LAYERS)}
LAYER_OF = {module: layer for layer, modules in LAYERS for module in modules}


def module_sources(root: Path = ROOT) -> dict[str, str]:
    """Source of every module of the package by relative name (``report.format``; "" = the package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path.read_text(encoding="utf-8")
    return out


def _target(module: str, name: str | None, known: set[str]) -> str | None:
    """The package module an import names, relative to the package (None outside the package)."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    rel = module[len(PACKAGE) + 1 :]
    if name is not None:
        sub = f"{rel}.{name}" if rel else name
        if sub in known:
            return sub
    return rel


def imports(sources: dict[str, str]) -> list[tuple[str, str, int, bool]]:
    """``(importer, imported, line, glue)`` for every import of a package module by another one;
    ``glue`` is True inside a module-level ``run`` / ``add_arguments`` function."""
    known = frozenset(sources)
    return [found for name, text in sources.items() for found in _imports_of(name, text, known)]


@functools.cache
def _imports_of(
    name: str, text: str, known: frozenset[str]
) -> tuple[tuple[str, str, int, bool], ...]:
    tree = ast.parse(text)
    found = []

    def visit(node: ast.AST, glue: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner_glue = glue
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and node is tree:
                inner_glue = child.name in CLI_GLUE
            targets: list[str | None] = []
            if isinstance(child, ast.ImportFrom) and child.level:
                raise AssertionError(f"{PACKAGE}.{name}: relative import at line {child.lineno}")
            if isinstance(child, ast.ImportFrom) and child.module:
                targets = [_target(child.module, a.name, known) for a in child.names]
            elif isinstance(child, ast.Import):
                targets = [_target(a.name, None, known) for a in child.names]
            for target in dict.fromkeys(targets):
                if target is not None and target != name:
                    found.append((name, target, child.lineno, glue))
            visit(child, inner_glue)

    visit(tree, False)
    return tuple(found)


def upward_imports(sources: dict[str, str]) -> list[str]:
    """One line per import of a module from a higher layer (module-level or in a function)."""
    out = []
    for importer, imported, line, glue in imports(sources):
        src = COMMANDS if glue else LAYER_OF[importer]
        dst = LAYER_OF[imported]
        if LEVEL[dst] > LEVEL[src] and (importer, imported) not in KNOWN_UPWARD:
            where = f"{PACKAGE}.{importer}".rstrip(".")
            out.append(
                f"{where} (layer {src}) imports {PACKAGE}.{imported} (layer {dst}) at line {line}"
            )
    return out


def cycles(sources: dict[str, str]) -> list[list[str]]:
    """Import cycles between modules (every import but the commands' glue counts)."""
    graph: dict[str, set[str]] = {m: set() for m in sources}
    for importer, imported, _line, glue in imports(sources):
        if not glue:
            graph[importer].add(imported)
    found, state = [], {}

    def walk(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                found.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                walk(nxt, path + [nxt])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            walk(module, [module])
    return found


SOURCES = module_sources()


def test_every_module_has_a_layer():
    placed = [m for _, modules in LAYERS for m in modules]
    assert len(placed) == len(set(placed)), "a module is in two layers"
    unplaced = sorted(set(SOURCES) - set(placed))
    gone = sorted(set(placed) - set(SOURCES))
    assert not unplaced, f"modules without a layer (add them to LAYERS): {unplaced}"
    assert not gone, f"LAYERS names modules that do not exist: {gone}"


def test_imports_point_down():
    bad = upward_imports(SOURCES)
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_no_import_cycles():
    found = cycles(SOURCES)
    assert not found, "import cycles: " + "; ".join(" -> ".join(c) for c in found)


@pytest.mark.parametrize(
    ("module", "planted"),
    [
        ("errors", "from sipas_analysis.pipeline import run_waves\n"),
        ("waves", "def _late():\n    from sipas_analysis import findings\n"),
        ("design", "import sipas_analysis.report.brief\n"),
    ],
)
def test_a_planted_upward_import_is_found(module, planted):
    sources = {**SOURCES, module: SOURCES[module] + "\n\n" + planted}
    new = sorted(set(upward_imports(sources)) - set(upward_imports(SOURCES)))
    assert len(new) == 1 and new[0].startswith(f"{PACKAGE}.{module} (layer "), new


def test_a_planted_cycle_is_found():
    planted = "\n\ndef _x():\n    import sipas_analysis.waves\n"
    found = cycles({**SOURCES, "coerce": SOURCES["coerce"] + planted})
    assert any(set(c) == {"coerce", "waves"} for c in found), found


def test_the_command_line_glue_lives_in_the_commands_package():
    """No library module defines ``run(args)`` / ``add_arguments(parser)`` or imports argparse."""
    glue_ok = {"cli"} | {m for m in SOURCES if m == "commands" or m.startswith("commands.")}
    found = []
    for name, text in SOURCES.items():
        if name in glue_ok:
            continue
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef) and node.name in {"run", "add_arguments"}:
                found.append(f"{name}.{node.name} (line {node.lineno})")
            if isinstance(node, ast.Import) and any(a.name == "argparse" for a in node.names):
                found.append(f"{name}: import argparse (line {node.lineno})")
    assert not found, found
    planted = {
        **SOURCES,
        "errors": SOURCES["errors"]
        + "\n\ndef run(args):\n    from sipas_analysis import pipeline\n",
    }
    assert len(upward_imports(planted)) == len(upward_imports(SOURCES)) + 1  # counted in its layer
