"""The ``sipas`` command: one entry point, one sub-command per job.

Each sub-command lives in the module that does the work and exposes two functions:
``add_arguments(parser)`` and ``run(args) -> int``. They are listed in :data:`COMMANDS` below;
a sub-command's module is imported only when that command is parsed (``sipas --help`` imports
none of them, ``sipas estimate`` neither matplotlib nor ``scipy.stats``).
A :class:`~sipas_analysis.errors.SipasError` is printed as a clear message (no traceback) and
exits with status 2; success is 0; a validation with errors exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from sipas_analysis import __version__
from sipas_analysis.errors import SipasError

__all__ = [
    "COMMANDS",
    "build_parser",
    "main",
]

# name -> (module implementing add_arguments/run, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "make-sample": ("sipas_analysis.sample", "Regenerate the bundled sample waves (seeded)."),
    "instrument": ("sipas_analysis.instruments", "Check and list a survey instrument definition."),
    "init-wave": (
        "sipas_analysis.init_wave",
        "Draft the wave config of a new field file (items, columns, design, vintage).",
    ),
    "validate": (
        "sipas_analysis.validate",
        "Validate a wave file against its config and write the problem list.",
    ),
    "papi-official": (
        "sipas_analysis.official",
        "Read official PAPI result workbooks into one tidy table.",
    ),
    "estimate": ("sipas_analysis.estimate", "Design-based estimates for any respondent file."),
    "run": ("sipas_analysis.pipeline", "Run waves end to end: tables, figures, briefs, manifest."),
    "brief": ("sipas_analysis.briefs", "Re-render the PDF briefs from the tables of a run."),
}


class _LazyCommandParser(argparse.ArgumentParser):
    """A sub-command's parser that imports its module (and adds its arguments) on first use.

    ``sipas estimate ...`` thus imports ``sipas_analysis.estimate`` only, not matplotlib, scipy.stats
    and the other sub-commands' modules; ``sipas --help`` imports none of them.
    """

    _module_name: str | None = None

    def _load(self) -> None:
        if self._module_name is not None:
            module_name, self._module_name = self._module_name, None
            importlib.import_module(module_name).add_arguments(self)

    def parse_known_args(self, args=None, namespace=None):
        self._load()
        return super().parse_known_args(args, namespace)

    def format_usage(self) -> str:
        self._load()
        return super().format_usage()

    def format_help(self) -> str:
        self._load()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    """The ``sipas`` parser; a sub-command's module is imported only when that command is parsed."""
    parser = argparse.ArgumentParser(
        prog="sipas",
        description="SIPAS / PAPI survey analysis — phân tích khảo sát SIPAS và PAPI.",
    )
    parser.add_argument("--version", action="version", version=f"sipas_analysis {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_LazyCommandParser)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module_name)
        p._module_name = module_name
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings for analysts: one line, no source excerpt."""
    return f"Cảnh báo / Warning ({category.__name__}): {message}\n"


def main(argv: list[str] | None = None) -> int:
    warnings.formatwarning = _one_line_warning
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    module = importlib.import_module(args._module)
    try:
        return int(module.run(args) or 0)
    except SipasError as exc:
        print(f"Lỗi / Error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
