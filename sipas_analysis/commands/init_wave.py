"""``sipas init-wave``: draft the wave config of a new field file and print how it was matched."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sipas_analysis import geography
from sipas_analysis.errors import SipasError
from sipas_analysis.init_wave import draft_config
from sipas_analysis.instruments import load_instrument

__all__: list[str] = []


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``sipas init-wave``."""
    parser.add_argument(
        "file",
        metavar="FILE",
        help="tệp dữ liệu thực địa / the field file (.xlsx, .csv, .sav, .dta)",
    )
    parser.add_argument(
        "--instrument", required=True, help="bộ câu hỏi / instrument name, e.g. sipas-2022"
    )
    parser.add_argument("--wave", required=True, help="tên đợt / wave label, e.g. 2026")
    parser.add_argument(
        "--vintage",
        choices=list(geography.VINTAGES),
        default=None,
        help="danh mục địa giới (mặc định: đoán từ tên xã) / boundary vintage (default: guessed from the commune names)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="tệp cấu hình sẽ ghi / config to write (default: waves/SURVEY-WAVE.yaml if ./waves exists, else ./)",
    )
    parser.add_argument(
        "--sheet",
        default=None,
        help="trang tính xlsx (mặc định: trang có dữ liệu) / xlsx sheet (default: the one with data)",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="ghi đè tệp cấu hình đã có / overwrite an existing config",
    )


def run(args: argparse.Namespace) -> int:
    """``sipas init-wave``: write the draft, print the matching table.

    Returns
    -------
    int
        0 everything matched; 1 the draft needs a look (unmatched or ambiguous items, no commune
        column); unusable input raises :class:`SipasError` (exit 2 via the CLI).
    """
    survey = load_instrument(args.instrument).survey if args.instrument else "sipas"
    if args.out:
        out = Path(args.out)
    else:
        folder = Path("waves") if Path("waves").is_dir() else Path(".")
        out = folder / f"{survey}-{args.wave}.yaml"
    if out.exists() and not args.force:
        raise SipasError(
            f"{out} đã có, không ghi đè (dùng --force) / {out} exists; not overwritten (use --force)"
        )
    if out.suffix.lower() not in (".yaml", ".yml"):
        raise SipasError(f"--out phải là tệp .yaml / --out must be a .yaml file, got {out}")
    draft = draft_config(args.file, args.instrument, args.wave, args.vintage, out, args.sheet)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(draft.text, encoding="utf-8")
    print(draft.table())
    print("")
    for role, (header, how) in draft.roles.items():
        print(f"  {role:<14} {header!s:<40} {how}")
    for header, how in draft.personal:
        print(f"  {'personal':<14} {header!s:<40} {how}")
    print(f"  boundary_vintage {draft.vintage}")
    if draft.header_row not in (None, 1):
        print(f"  header_row     {draft.header_row}")
    matched = sum(m.status == "matched" for m in draft.items)
    print(
        f"\nĐã ghi / written: {out}  ({matched}/{len(draft.items)} câu khớp / items matched)",
        file=sys.stdout,
    )
    if draft.exit_code:
        for p in draft.problems:
            print(f"KIỂM TRA / CHECK: {p}")
        print("KẾT QUẢ / RESULT: bản nháp cần xem lại / the draft needs a look (exit 1)")
    else:
        print(f"KẾT QUẢ / RESULT: bản nháp đầy đủ / complete draft; next: sipas validate {out}")
    return draft.exit_code
