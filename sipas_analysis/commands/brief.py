"""``sipas brief``: re-render the briefs from the tables of an earlier run (:mod:`sipas_analysis.briefs`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sipas_analysis import briefs, highlights

__all__: list[str] = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--tables",
        default="reports/tables",
        help="thư mục bảng kết quả của một lần chạy / folder of a run's tables",
    )
    parser.add_argument(
        "--out",
        default="reports",
        help="thư mục kết quả (briefs/, figures/) / output folder (briefs/, figures/)",
    )
    parser.add_argument(
        "--wave",
        default=None,
        help="đợt SIPAS (mặc định: đợt mới nhất) / SIPAS wave (default: the latest)",
    )
    parser.add_argument(
        "--targets",
        default=None,
        help="tệp CSV chỉ tiêu cho bảng theo dõi chỉ đạo / CSV of targets for the directive scorecard",
    )


def run(args: argparse.Namespace) -> int:
    """``sipas brief``: re-render the briefs from the tables of an earlier run."""
    t0 = time.perf_counter()
    tables = briefs.read_tables(args.tables)
    if args.wave is not None:
        briefs.check_wave(tables["estimates"], args.wave)
    targets = highlights.read_targets(args.targets)
    out = Path(args.out)
    pdfs = briefs.write_briefs(
        tables, out / "briefs", out / "figures", wave=args.wave, progress=True, targets=targets
    )
    print(f"{len(pdfs)} bản tin PDF / briefs → {out / 'briefs'} ({time.perf_counter() - t0:.1f} s)")
    return 0
