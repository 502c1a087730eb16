"""``sipas validate``: check a wave against its config, print the summary, write the problem list."""

from __future__ import annotations

import argparse
from pathlib import Path

from sipas_analysis import validate

__all__: list[str] = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sipas validate``."""
    parser.add_argument(
        "source",
        metavar="WAVE_CONFIG_OR_FILE",
        help="tệp cấu hình đợt (.yaml), hoặc tệp dữ liệu có cấu hình bên cạnh hoặc trong waves/ / wave config (.yaml), or a data file whose config sits next to it or in waves/",
    )
    parser.add_argument(
        "--out",
        default="reports/validation",
        help="thư mục cho danh sách vấn đề (.xlsx, .csv); mặc định reports/validation / folder for the problem list (.xlsx, .csv); default reports/validation",
    )


def run(args: argparse.Namespace) -> int:
    """Run ``sipas validate``: summary on screen, problem list to files.

    Returns
    -------
    int
        1 when there is at least one error, 0 otherwise (warnings alone). Unusable input raises
        :class:`~sipas_analysis.errors.SipasError` (exit 2 via the CLI, no traceback).
    """
    from sipas_analysis.waves import find_config_for, read_wave

    source = Path(args.source)
    if source.suffix.lower() not in (".yaml", ".yml"):
        config = find_config_for(source)
        print(f"Dùng tệp cấu hình / using wave config: {config}")
        source = config
    wave = read_wave(source)
    paths = validate.write_report(wave, args.out)
    print(validate.summary_text(wave))
    print("")
    print("Báo cáo / Report:")
    for path in paths.values():
        print(f"  {path}")
    if wave.has_errors:
        print("KẾT QUẢ / RESULT: có lỗi / errors found (exit 1)")
        return 1
    print("KẾT QUẢ / RESULT: không có lỗi / no errors (exit 0)")
    return 0
