"""The design's vocabulary: the lonely-PSU rules, the columns of a calibrated table, the design
warning, and the small column helpers every part of the design uses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError

__all__ = ["CALIBRATION_PREFIX", "DESIGN_WEIGHT_COLUMN", "DesignWarning", "LONELY_PSU_RULES"]


LONELY_PSU_RULES = ("fail", "adjust", "average", "certainty", "remove")

#: Column with the design weights :math:`d_i` of a table whose ``weight`` has been calibrated.
DESIGN_WEIGHT_COLUMN = "weight_design"
#: Prefix of the columns holding the calibration variables (one column per margin).
CALIBRATION_PREFIX = "calib__"
#: Values per temporary array when the compact scores are built in passes.
_PASS_VALUES = 2_000_000


class DesignWarning(UserWarning):
    """A design-based quantity cannot be estimated as asked (e.g. a domain inside one PSU)."""


def _source_rows(df: pd.DataFrame, mask: np.ndarray) -> list[int]:
    """Row numbers as in the source file: ``source_row`` if present, else position + 2 (header 1)."""
    positions = np.flatnonzero(mask)
    if "source_row" in df.columns:
        return [int(v) for v in df["source_row"].to_numpy()[positions]]
    return [int(p) + 2 for p in positions]


def _require_columns(df: pd.DataFrame, columns: list[str | None]) -> None:
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise InputError(
            f"column(s) not found: {', '.join(map(repr, missing))}; "
            f"available: {', '.join(map(str, df.columns))}",
            column=missing[0],
        )


def _lonely_message(strata: list) -> str:
    shown = ", ".join(repr(s) for s in strata[:20])
    return (
        f"{len(strata)} stratum/strata have a single PSU (lonely PSU): {shown}. The variance cannot "
        "be estimated there. Choose a rule: lonely_psu='adjust' (centre at the population mean), "
        "'average' (average of the other strata) or 'certainty' (PSU taken with certainty) — "
        "as R options(survey.lonely.psu=...); or merge the stratum with a neighbour. / "
        "Tầng chỉ có một PSU: hãy chọn quy tắc lonely_psu hoặc gộp tầng."
    )
