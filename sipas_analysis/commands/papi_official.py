"""``sipas papi-official``: read official PAPI result workbooks into one tidy table."""

from __future__ import annotations

import argparse
import sys

from sipas_analysis.errors import InputError
from sipas_analysis.official import provinces, read_papi_workbooks

__all__: list[str] = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sipas papi-official``."""
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="tệp PAPI chính thức (.xlsx) / official PAPI .xlsx workbooks",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="TABLE.csv",
        help="bảng kết quả sẽ ghi / tidy table to write",
    )
    parser.add_argument(
        "--province",
        type=int,
        action="append",
        metavar="CODE",
        help="chỉ giữ mã tỉnh này (lặp được) / keep only this GSO province code (repeatable), e.g. --province 80 (Long An)",
    )
    parser.add_argument(
        "--keep-duplicates",
        action="store_true",
        help="giữ mọi dòng kể cả khi các tệp lặp cùng số liệu / keep the rows of every file even when files repeat the same figure",
    )


def run(args: argparse.Namespace) -> int:
    """Read the workbooks, write the tidy table atomically, print a short summary."""
    from sipas_analysis.outputs import write_csv

    table = read_papi_workbooks(args.files, deduplicate=not args.keep_duplicates)
    if args.province:
        unknown = sorted(set(args.province) - set(provinces()["province_code"].astype(int)))
        if unknown:
            raise InputError(
                "unknown province code(s) / mã tỉnh không hợp lệ",
                column="--province",
                values=unknown,
            )
        table = table[table["province_code"].isin(args.province)].reset_index(drop=True)
    out = write_csv(table, args.out)
    years = sorted(table["year"].dropna().astype(int).unique())
    span = f"{years[0]}–{years[-1]}" if years else "-"
    print(
        f"PAPI: {len(args.files)} tệp/files, năm/years {span} ({len(years)}), "
        f"{table['province_code'].nunique()} tỉnh/provinces, {len(table)} dòng/rows -> {out}",
        file=sys.stdout,
    )
    return 0
