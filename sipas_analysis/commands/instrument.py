"""``sipas instrument``: list the bundled instruments, show one, or check a new definition file."""

from __future__ import annotations

import argparse

from sipas_analysis.instruments import describe, describe_bundled, load_instrument

__all__: list[str] = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``sipas instrument``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser (created by :mod:`sipas_analysis.cli`).
    """
    parser.add_argument(
        "instrument",
        nargs="?",
        help="tên bộ câu hỏi có sẵn (vd. sipas-2017) hoặc đường dẫn tệp .yaml; bỏ trống để liệt kê / "
        "bundled instrument name (e.g. sipas-2017) or path of a .yaml definition; "
        "omit to list the bundled instruments",
    )
    parser.add_argument(
        "--year",
        type=int,
        help="chỉ hiện các mục dùng trong năm này / show only the nodes in use in this survey year",
    )
    parser.add_argument(
        "--items", action="store_true", help="liệt kê cả từng câu hỏi / also list every item"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``sipas instrument``: list, show or validate an instrument definition.

    Parameters
    ----------
    args : argparse.Namespace
        ``instrument`` (name or path, optional), ``year``, ``items``.

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    ConfigError
        If the file is malformed or the name unknown (the CLI prints it and exits 2).
    """
    if not args.instrument:
        print(describe_bundled())
        return 0
    inst = load_instrument(args.instrument)
    print(describe(inst, year=args.year, show_items=args.items))
    print(f"OK: {inst.name} hợp lệ / valid.")
    return 0
