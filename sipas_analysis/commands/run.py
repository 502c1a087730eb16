"""``sipas run [CONFIG...]``: the whole job for the given waves (:func:`sipas_analysis.pipeline.run_waves`)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from sipas_analysis import pipeline, validate
from sipas_analysis.paths import WAVES_DIR

__all__: list[str] = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "configs",
        nargs="*",
        help="tệp cấu hình đợt (waves/*.yaml); bỏ trống = mọi tệp trong --waves-dir / wave config files (waves/*.yaml); none = every config in --waves-dir",
    )
    parser.add_argument(
        "--waves-dir",
        default=str(WAVES_DIR),
        help="thư mục tệp cấu hình đợt / folder of wave configs",
    )
    parser.add_argument(
        "--out",
        default="reports",
        help="thư mục kết quả (mặc định reports) / output folder (default: reports)",
    )
    parser.add_argument(
        "--no-history",
        action="store_true",
        help="với một tệp cấu hình: không thêm các đợt trước của cùng khảo sát (không có xu hướng) / with one config: do not add the earlier waves of the same survey (no trends)",
    )
    parser.add_argument(
        "--no-briefs", action="store_true", help="không lập bản tin PDF / skip the PDF briefs"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=pipeline.DEFAULT_SEED,
        help="hạt giống ngẫu nhiên của bootstrap / bootstrap seed",
    )
    parser.add_argument(
        "--targets",
        default=None,
        help="CSV mục tiêu riêng của tỉnh / CSV of the province's own targets (survey,index_code,target[,year,unit_code])",
    )
    parser.add_argument("--quiet", action="store_true", help="không in tiến độ / no progress lines")


def run(args: argparse.Namespace) -> int:
    """``sipas run [CONFIG...]``: the whole job for the given waves (default: every config)."""
    if args.configs:
        paths: list[Path] = []
        for c in args.configs:
            extra = [Path(c)] if args.no_history else pipeline.history_for(c)
            paths += [p for p in extra if p.resolve() not in {q.resolve() for q in paths}]
    else:
        paths = pipeline.discover_configs(args.waves_dir)
    t0 = time.perf_counter()
    try:
        result = pipeline.run_waves(
            paths,
            args.out,
            briefs=not args.no_briefs,
            progress=not args.quiet,
            seed=args.seed,
            targets=args.targets,
        )
    except pipeline.ValidationFailed as exc:
        for loaded in exc.failed:
            print(validate.summary_text(loaded))
            print("")
        print(
            "KẾT QUẢ / RESULT: dừng trước khi tính, có lỗi cấp tệp / stopped before computing: "
            f"file-level errors in {', '.join(w.config.config_path.name for w in exc.failed)} "
            "(exit 1). Sửa tệp hoặc cấu hình rồi chạy lại `sipas validate` / fix the file or "
            "the config and run `sipas validate` again."
        )
        return 1
    n_pdf = len(list((result.out_dir / "briefs").rglob("*.pdf"))) if not args.no_briefs else 0
    print(
        f"Hoàn tất / Done: {len(paths)} đợt / waves, {len(result.tables['estimates'])} ước lượng / "
        f"estimates, {n_pdf} bản tin PDF / briefs → {result.out_dir}  "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    return 0
