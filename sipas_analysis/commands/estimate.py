"""``sipas estimate``: design-based estimates for any respondent file, written as one tidy CSV."""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate import (
    CI_METHODS,
    DF_RULES,
    STATISTICS,
    estimate_domains,
    read_respondent_file,
)

__all__: list[str] = []


def _split(value: str | None) -> list[str]:
    if value is None:
        return []
    return [v.strip() for v in value.split(",") if v.strip()]


def _codes(value: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in _split(value))
    except ValueError as exc:
        raise SipasError(f"codes must be numbers separated by commas, not {value!r}") from exc


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sipas estimate``."""
    parser.add_argument(
        "--data",
        required=True,
        help="tệp người trả lời / respondent file (.csv, .xlsx, .sav, .dta)",
    )
    parser.add_argument(
        "--sheet",
        default=None,
        help="trang tính Excel (mặc định: trang đầu) / Excel sheet (default: the first)",
    )
    parser.add_argument(
        "--items",
        required=True,
        help="các cột câu hỏi, cách nhau bằng dấu phẩy / item columns, comma-separated",
    )
    parser.add_argument(
        "--statistic",
        default="top2",
        choices=STATISTICS,
        help="thống kê / statistic: top2 (tỷ lệ %% mức cao nhất / top-box share), prop, mean",
    )
    parser.add_argument(
        "--top-box",
        default="4,5",
        help="mã được tính là hài lòng (mặc định 4,5) / codes counted by top2 (default 4,5)",
    )
    parser.add_argument(
        "--positive",
        default="1",
        help="mã được đếm bởi prop (mặc định 1) / codes counted by prop (default 1)",
    )
    parser.add_argument(
        "--missing-codes",
        default="",
        help="mã trả lời coi là thiếu / answer codes treated as missing, e.g. 98,99",
    )
    parser.add_argument(
        "--by",
        default=None,
        help="cột miền ước lượng (kết hợp) / domain column(s), comma-separated (crossed)",
    )
    parser.add_argument(
        "--weight",
        default=None,
        help="cột trọng số (mặc định: bằng nhau) / weight column (default: equal weights)",
    )
    parser.add_argument(
        "--strata",
        default=None,
        help="cột tầng (mặc định: một tầng) / stratum column (default: one stratum)",
    )
    parser.add_argument(
        "--psu",
        default=None,
        help="cột đơn vị mẫu cấp 1 (mặc định: từng người) / PSU column (default: respondents)",
    )
    parser.add_argument(
        "--fpc",
        default=None,
        help="cột hiệu chỉnh tổng thể hữu hạn / finite population correction column",
    )
    parser.add_argument(
        "--lonely-psu",
        default="fail",
        choices=["fail", "adjust", "average", "certainty"],
        help="tầng chỉ có một PSU / stratum with a single PSU: fail, adjust, average, certainty",
    )
    parser.add_argument(
        "--ci-level",
        type=float,
        default=0.95,
        help="mức tin cậy của khoảng (mặc định 0,95) / confidence level (default 0.95)",
    )
    parser.add_argument(
        "--ci-method",
        default="logit",
        choices=CI_METHODS,
        help="phương pháp khoảng tin cậy / interval method (default logit)",
    )
    parser.add_argument(
        "--df",
        default="design",
        choices=DF_RULES,
        help="bậc tự do (mặc định theo thiết kế) / degrees of freedom rule (default design)",
    )
    parser.add_argument(
        "--out", required=True, help="tệp CSV kết quả / output CSV (written atomically)"
    )


def run(args: argparse.Namespace) -> int:
    """Run ``sipas estimate``: read the file, estimate, write the tidy table."""
    from sipas_analysis.outputs import write_csv

    data = read_respondent_file(args.data, args.sheet)
    items = _split(args.items)
    by = _split(args.by) or None
    cols = items + (by or []) + [c for c in (args.weight, args.strata, args.psu, args.fpc) if c]
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise InputError(
            f"column(s) not in the file: {', '.join(map(repr, missing))}; "
            f"available: {', '.join(map(str, data.columns))}",
            file=str(args.data),
            column=missing[0],
        )
    missing_codes = _codes(args.missing_codes)
    if missing_codes:
        data = data.copy()
        for c in items:
            num = pd.to_numeric(data[c], errors="coerce")
            data[c] = data[c].where(~num.isin(missing_codes))
    print(f"sipas estimate: {len(data)} respondents, {len(items)} items", file=sys.stderr)
    est = estimate_domains(
        data,
        items,
        by,
        statistic=args.statistic,
        top_box=_codes(args.top_box),
        positive=_codes(args.positive),
        weight=args.weight,
        strata=args.strata,
        psu=args.psu,
        fpc=args.fpc,
        lonely_psu=args.lonely_psu,
        ci_level=args.ci_level,
        ci_method=args.ci_method,
        df=args.df,
        file=str(args.data),
    )
    write_csv(est.table, args.out)
    print(f"wrote {len(est.table)} rows to {args.out}", file=sys.stderr)
    return 0
