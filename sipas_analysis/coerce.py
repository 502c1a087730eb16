"""Cell values of a data file as text, numbers and folded keys: the one set of conversions that
the wave reader (:mod:`sipas_analysis.waves`), the checks (:mod:`sipas_analysis.validate`) and the
config drafter (:mod:`sipas_analysis.init_wave`) share.

Each conversion is vectorised: a column's distinct values are converted once.

Examples
--------
>>> fold("SĐT liên lạc")
'sdt lien lac'
>>> to_text(pd.Series([" Xã  Bình Tâm ", 12.0])).tolist()
['Xã Bình Tâm', '12']
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

__all__ = ["fold", "to_text", "to_number"]


def fold(text: object) -> str:
    """Lower-case ASCII key: NFD, tone marks and diacritics dropped, đ -> d, punctuation -> space."""
    s = unicodedata.normalize("NFD", str(text)).lower().replace("đ", "d")
    s = "".join(ch for ch in s if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^0-9a-z]+", " ", s).split())


def _text_of(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = " ".join(unicodedata.normalize("NFC", str(value)).split())
    return text or None


def to_text(series: pd.Series) -> pd.Series:
    """Text of a column: NFC, trimmed, inner spaces collapsed; integral numbers without ".0".

    Parameters
    ----------
    series : Series

    Returns
    -------
    Series
        object dtype; blanks as None. Each distinct value is converted once.

    Examples
    --------
    >>> to_text(pd.Series([" Xã  Bình Tâm ", 12.0, None])).tolist()
    ['Xã Bình Tâm', '12', None]
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    conv = np.array([_text_of(u) for u in uniques] + [None], dtype=object)
    return pd.Series(conv[codes], index=series.index, dtype=object)


def to_number(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers from a column.

    Parameters
    ----------
    series : Series

    Returns
    -------
    (Series, Series)
        float64 values (NaN for blanks and non-numbers) and a boolean mask of the non-blank cells
        that are not numbers. Decimal commas ("1,25") are accepted. Each distinct value is
        converted once.

    Examples
    --------
    >>> values, bad = to_number(pd.Series(["1,25", "x", None]))
    >>> values.tolist()[0], bad.tolist()
    (1.25, [False, True, False])
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = series.astype("float64")
        return values, pd.Series(False, index=series.index)
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    texts = pd.Series([_text_of(u) for u in uniques] + [None], dtype=object)
    fixed = texts.str.replace(r"^([+-]?\d+),(\d+)$", r"\1.\2", regex=True)
    nums = pd.to_numeric(fixed, errors="coerce").to_numpy(dtype="float64")
    bad_u = texts.notna().to_numpy() & np.isnan(nums)
    values = pd.Series(nums[codes], index=series.index, dtype="float64")
    bad = pd.Series(bad_u[codes], index=series.index, dtype=bool)
    return values, bad
