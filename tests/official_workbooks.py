"""The official PAPI result workbooks the tests read, rebuilt from the figures in data/reference.

The published workbooks (papi.org.vn releases of the PAPI team: UNDP Viet Nam, CECODES, VFF-CT, RTA)
are not in the repository. Their result sheets — the published figures with their row and column
labels, cell by cell — are, as CSV grids in ``data/reference/papi_workbooks/<file stem>/``
(one file per sheet, see ``data/reference/README.md``). :func:`workbook` writes a workbook in the
official layout from them (same sheet names, same cells, merged cells unmerged with their value
in every cell), so the tests of the reader run on a fresh clone.

When the official files themselves are at hand (a folder named by the environment variable
``SIPAS_PAPI_WORKBOOKS``), the tests also run on them (:data:`SOURCES`), and a test checks that
each rebuilt workbook reads exactly as its original.

Refresh the grids from the official files (after a new release)::

    SIPAS_PAPI_WORKBOOKS=/path/to/papi python tests/official_workbooks.py
"""

from __future__ import annotations

import csv
import math
import os
import sys
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
GRID_DIR = HERE.parent / "data" / "reference" / "papi_workbooks"

#: Official workbook -> the sheets the reader parses (the result tables; the one-province copies,
#: transposed duplicates in English and notes are left out).
SHEETS: dict[str, tuple[str, ...]] = {
    "PAPI_2011_vie.xlsx": ("2012PAPI- Bảng tổng hợp kết quả",),
    "PAPI_2016_vie.xlsx": ("2016PAPI- Bảng tổng hợp kết quả",),
    "PAPI_2011-2019.xlsx": tuple(f"{y}_PAPI" for y in range(2011, 2020)),
    "PAPI_2018_FULL_vie.xlsx": ("ProvincialIndicators_VIE",),
    "2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx": (
        "2019PAPI_Indicators_VIE",
        "2019_PAPIIndicators_Transposed",
        "2019PAPI_Indicators_ENG (2)",
    ),
}

#: Where the official files are, when they are (else None).
OFFICIAL_DIR = (
    Path(os.environ["SIPAS_PAPI_WORKBOOKS"]) if os.environ.get("SIPAS_PAPI_WORKBOOKS") else None
)

#: Sources the workbook tests run on: the rebuilt workbooks always, the official files if present.
SOURCES = (
    ("rebuilt", "official") if OFFICIAL_DIR is not None and OFFICIAL_DIR.is_dir() else ("rebuilt",)
)

_TEXT = "s:"  # prefix of a text cell that would otherwise read as a number


def _encode(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError("boolean cell")
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    text = str(value)
    if text == "" or text.startswith(_TEXT) or _as_number(text) is not None:
        return _TEXT + text
    return text


def _as_number(text: str) -> int | float | None:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _decode(text: str) -> object:
    if text == "":
        return None
    if text.startswith(_TEXT):
        return text[len(_TEXT) :]
    number = _as_number(text)
    return text if number is None else number


def grid_path(name: str, sheet: str) -> Path:
    return GRID_DIR / Path(name).stem / f"{sheet}.csv"


def dump(official_dir: Path) -> None:
    """Write the CSV grids of :data:`SHEETS` from the official workbooks (values, merged cells filled)."""
    for name, sheets in SHEETS.items():
        wb = openpyxl.load_workbook(official_dir / name, data_only=True)
        for sheet in sheets:
            ws = wb[sheet]
            grid = [list(row) for row in ws.iter_rows(values_only=True)]
            for rng in ws.merged_cells.ranges:
                top = ws.cell(rng.min_row, rng.min_col).value
                for r in range(rng.min_row - 1, rng.max_row):
                    for c in range(rng.min_col - 1, rng.max_col):
                        if grid[r][c] is None:
                            grid[r][c] = top
            out = grid_path(name, sheet)
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", encoding="utf-8", newline="") as fh:
                csv.writer(fh, lineterminator="\n").writerows(
                    [_encode(v) for v in row] for row in grid
                )


def workbook(name: str, folder: Path) -> Path:
    """The official workbook ``name`` rebuilt in ``folder`` from its CSV grids; returns its path."""
    path = folder / name
    if path.exists():
        return path
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for sheet in SHEETS[name]:
        ws = wb.create_sheet(sheet)
        with grid_path(name, sheet).open(encoding="utf-8", newline="") as fh:
            for row in csv.reader(fh):
                ws.append([_decode(v) for v in row])
    folder.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return path


if __name__ == "__main__":  # pragma: no cover
    if OFFICIAL_DIR is None:
        sys.exit("set SIPAS_PAPI_WORKBOOKS to the folder of the official PAPI workbooks")
    dump(OFFICIAL_DIR)
    print(f"wrote {GRID_DIR}")
