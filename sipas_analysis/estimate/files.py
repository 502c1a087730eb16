"""Reading a respondent file of any format for ``sipas estimate`` (:func:`read_respondent_file`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from sipas_analysis.errors import InputError

__all__ = ["read_respondent_file"]


# --------------------------------------------------------------------------------------------
# reading a respondent file (sipas estimate)
# --------------------------------------------------------------------------------------------
def read_respondent_file(path: str | Path, sheet: str | None = None) -> pd.DataFrame:
    """Read a respondent file: CSV (UTF-8), Excel (.xlsx), SPSS (.sav) or Stata (.dta).

    Raises
    ------
    InputError
        The file does not exist or its format is not supported.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("file not found / không tìm thấy tệp", file=str(path))
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, encoding="utf-8-sig")
    if suffix in (".xlsx", ".xlsm", ".xls"):
        return pd.read_excel(path, sheet_name=sheet or 0)
    if suffix == ".sav":
        import pyreadstat

        data, _ = pyreadstat.read_sav(str(path))
        return data
    if suffix == ".dta":
        import pyreadstat

        data, _ = pyreadstat.read_dta(str(path))
        return data
    raise InputError(
        f"unsupported file type {suffix!r} (use .csv, .xlsx, .sav or .dta)", file=str(path)
    )
