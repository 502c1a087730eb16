"""The ``sipas`` command: one entry point, one sub-command per job.

Each sub-command has a module of :mod:`sipas_analysis.commands` that exposes two functions:
``add_arguments(parser)`` and ``run(args) -> int``; the work is done by the library modules.
They are listed in :data:`COMMANDS` below; a sub-command's module is imported only when that
command is parsed (``sipas --help`` imports none of them, ``sipas estimate`` neither matplotlib
nor ``scipy.stats``).
Exit codes: 0 success; 1 a validation found errors (``sipas run`` then stops before computing);
2 unusable input or options (a :class:`~sipas_analysis.errors.SipasError`, printed as a clear
message without traceback); 3 an unexpected error, i.e. a bug: a bilingual message names the step
and the file, and the traceback goes to a log file whose path is printed (in the output folder's
``logs/`` when there is one, else in the system's temporary folder). An interrupted command
(Ctrl+C, SIGTERM) exits 130 / 143 after cleaning its staging folder.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

from sipas_analysis import __version__
from sipas_analysis.errors import EXIT_BUG, EXIT_INPUT, SipasError

__all__ = [
    "COMMANDS",
    "build_parser",
    "main",
]

# name -> (module implementing add_arguments/run, one-line help: Vietnamese / English, as the
# options' help)
COMMANDS: dict[str, tuple[str, str]] = {
    "make-sample": (
        "sipas_analysis.commands.make_sample",
        "tạo lại các đợt dữ liệu mẫu kèm theo (seed cố định) / "
        "regenerate the bundled sample waves (seeded)",
    ),
    "instrument": (
        "sipas_analysis.commands.instrument",
        "kiểm tra và liệt kê một bộ câu hỏi khảo sát / "
        "check and list a survey instrument definition",
    ),
    "init-wave": (
        "sipas_analysis.commands.init_wave",
        "soạn cấu hình đợt cho một tệp thực địa mới (câu hỏi, cột, thiết kế, địa giới) / "
        "draft the wave config of a new field file (items, columns, design, vintage)",
    ),
    "validate": (
        "sipas_analysis.commands.validate",
        "kiểm tra tệp dữ liệu của một đợt theo cấu hình và ghi danh sách lỗi / "
        "validate a wave file against its config and write the problem list",
    ),
    "papi-official": (
        "sipas_analysis.commands.papi_official",
        "đọc các bảng kết quả PAPI chính thức thành một bảng gọn / "
        "read official PAPI result workbooks into one tidy table",
    ),
    "estimate": (
        "sipas_analysis.commands.estimate",
        "ước lượng theo thiết kế mẫu cho một tệp người trả lời bất kỳ / "
        "design-based estimates for any respondent file",
    ),
    "run": (
        "sipas_analysis.commands.run",
        "chạy trọn các đợt: bảng, biểu đồ, bản tin, manifest / "
        "run waves end to end: tables, figures, briefs, manifest",
    ),
    "brief": (
        "sipas_analysis.commands.brief",
        "dựng lại các bản tin PDF từ bảng của một lần chạy / "
        "re-render the PDF briefs from the tables of a run",
    ),
}


class _LazyCommandParser(argparse.ArgumentParser):
    """A sub-command's parser that imports its module (and adds its arguments) on first use.

    ``sipas estimate ...`` thus imports ``sipas_analysis.commands.estimate`` and the library it
    calls (``sipas_analysis.estimate``) only, not matplotlib, scipy.stats and the other
    sub-commands' modules; ``sipas --help`` imports none of them.
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
    try:
        module = importlib.import_module(args._module)
        return int(module.run(args) or 0)
    except SipasError as exc:
        print(f"Lỗi / Error: {exc}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print(
            "Đã dừng / Interrupted (Ctrl+C): không ghi kết quả / no outputs written.",
            file=sys.stderr,
        )
        return 130
    except SystemExit as exc:
        if isinstance(exc.code, int) and exc.code >= 128:  # SIGTERM turned into an exception
            print("Đã dừng / Terminated: không ghi kết quả / no outputs written.", file=sys.stderr)
        raise
    except Exception as exc:  # noqa: BLE001 - the one top-level handler of unexpected errors
        return _report_bug(exc, args, argv)


def _log_folder(args: argparse.Namespace) -> Path:
    """Where the traceback of an unexpected error goes: the output folder's ``logs/`` when the
    command has an output folder that exists and is one of ours, else the temporary folder."""
    from sipas_analysis.outputs import is_run_folder

    out = getattr(args, "out", None)
    if out:
        folder = Path(out)
        try:
            if folder.is_dir() and (args.command == "validate" or is_run_folder(folder)):
                return folder / "logs"
        except OSError:
            pass
    return Path(tempfile.gettempdir()) / "sipas_logs"


def _report_bug(exc: BaseException, args: argparse.Namespace, argv: list[str] | None) -> int:
    """Print the bilingual message of an unexpected error, write its traceback to a log, exit 3."""
    step_name, file = getattr(exc, "sipas_step", None) or (f"sipas {args.command}", None)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = (
        f"sipas_analysis {__version__}, {dt.datetime.now().isoformat(timespec='seconds')}\n"
        f"command: sipas {' '.join(sys.argv[1:] if argv is None else argv)}\n"
        f"step: {step_name}\nfile: {file}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    log = None
    for folder in (_log_folder(args), Path(tempfile.gettempdir()) / "sipas_logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            log = folder / f"sipas_loi_{stamp}_{os.getpid()}.log"
            log.write_text(text, encoding="utf-8")
            break
        except OSError:
            log = None
    where = f" {file}" if file else ""
    print(
        f"Lỗi ngoài dự kiến / Unexpected error ({type(exc).__name__}) ở bước / in step "
        f"«{step_name}»{where}. Đây là lỗi của chương trình, không phải của dữ liệu; không có kết "
        "quả nào bị ghi dở / this is a bug in the program, not in your data; no output was "
        "half-written. Gửi tệp nhật ký này khi báo lỗi / send this log file with a bug report: "
        f"{log if log else '(không ghi được nhật ký / the log could not be written)'}",
        file=sys.stderr,
    )
    return EXIT_BUG


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
