"""``sipas make-sample``: regenerate the bundled sample waves and their wave configs (seeded)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sipas_analysis.paths import REPO_ROOT
from sipas_analysis.sample import generate_sample, load_spec

__all__: list[str] = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``sipas make-sample``."""
    parser.add_argument(
        "--out",
        default="data/sample",
        help="thư mục tệp dữ liệu / output folder for the data files (default data/sample, relative to the repository)",
    )
    parser.add_argument(
        "--waves",
        default=None,
        help="thư mục tệp cấu hình đợt / folder for the wave configs (default waves/ for data/sample, else OUT/waves)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="hạt giống gốc (mặc định: theo đặc tả) / base seed (default: from the spec)",
    )
    parser.add_argument(
        "--spec",
        default=None,
        help="tệp đặc tả mẫu khác (YAML) / another sample specification file (YAML)",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``sipas make-sample``: write the sample waves and print a summary."""
    out = Path(args.out)
    if not out.is_absolute():
        out = REPO_ROOT / out if args.out == "data/sample" else Path.cwd() / out
    waves = Path(args.waves) if args.waves else None
    spec = load_spec(args.spec) if args.spec else None
    summary = generate_sample(out, waves_dir=waves, seed=args.seed, spec=spec, progress=True)
    print(f"Đã tạo dữ liệu mẫu / sample written to {out}")
    for r in summary.itertuples():
        print(
            f"  {r.wave_id:<11} {r.file:<16} {r.rows:>5} rows  {r.columns:>3} columns  {r.config}"
        )
    return 0
