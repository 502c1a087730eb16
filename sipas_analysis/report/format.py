"""Vietnamese number formatting for briefs: the ONLY place where numbers are rounded for display.

Estimation never rounds (compute first, format last). Everything a reader sees in a brief or a
generated sentence goes through these functions, so that every number follows one convention:

* decimal comma and dot as thousands separator: ``1.234.567``, ``82,7``;
* percent sign without a space: ``82,7%``; PAPI scores in points with two decimals: ``41,70``;
* changes in words: ``tăng 2,1 điểm phần trăm`` / ``giảm 1,3 điểm phần trăm`` / ``không đổi``;
* confidence intervals with an en dash: ``75,1–81,5%``;
* dates as ``dd/mm/yyyy``;
* a missing value (``None``, ``NaN``, ``pd.NA``) prints as an en dash ``–``.

Rounding is half away from zero on the shortest decimal representation of the float
(``Decimal(repr(x))``), which is what a reader checking a number by hand expects: ``0.05 -> 0,1``,
``2.675 -> 2,68`` (Python's ``round`` gives 2,67 there because of binary floating point), and
``-0.05 -> -0,1``. A value that rounds to zero never shows a minus sign.
"""

from __future__ import annotations

import datetime as _dt
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from numbers import Real

from sipas_analysis.errors import SipasError

MISSING = "–"
"""What a missing value prints as (an en dash, U+2013)."""

DECIMAL_SEP = ","
THOUSANDS_SEP = "."
RANGE_SEP = "–"

__all__ = [
    "MISSING",
    "fmt_change_pct_points",
    "fmt_change_points",
    "fmt_ci",
    "fmt_date",
    "fmt_int",
    "fmt_number",
    "fmt_p_value",
    "fmt_pct",
    "fmt_points",
    "is_missing",
]


def is_missing(x: object) -> bool:
    """Return True for ``None``, ``NaN``, ``pd.NA``/``pd.NaT`` and infinities.

    Examples
    --------
    >>> is_missing(float("nan")), is_missing(None), is_missing(0.0)
    (True, True, False)
    """
    if x is None:
        return True
    try:
        import pandas as pd

        if x is pd.NA or x is pd.NaT:
            return True
    except ImportError:  # pragma: no cover - pandas is a dependency
        pass
    if isinstance(x, Real):
        return not math.isfinite(float(x))
    return False


def _to_decimal(x: object) -> Decimal:
    if isinstance(x, bool) or not isinstance(x, Real | Decimal):
        raise SipasError(f"Cannot format {x!r} ({type(x).__name__}) as a number.")
    try:
        return Decimal(repr(float(x))) if not isinstance(x, int | Decimal) else Decimal(x)
    except (InvalidOperation, ValueError) as exc:  # pragma: no cover - guarded by is_missing
        raise SipasError(f"Cannot format {x!r} as a number.") from exc


def _round(x: object, decimals: int) -> Decimal:
    """Round half away from zero to ``decimals`` places; never returns negative zero."""
    if decimals < 0:
        raise SipasError(f"decimals must be >= 0, got {decimals}")
    q = Decimal(1).scaleb(-decimals)
    d = _to_decimal(x).quantize(q, rounding=ROUND_HALF_UP)
    if d == 0:
        d = abs(d)
    return d


def _group_thousands(digits: str) -> str:
    groups = []
    while len(digits) > 3:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    groups.insert(0, digits)
    return THOUSANDS_SEP.join(groups)


def _render(d: Decimal, decimals: int) -> str:
    sign = "-" if d < 0 else ""
    text = f"{abs(d):.{decimals}f}"
    whole, _, frac = text.partition(".")
    out = sign + _group_thousands(whole)
    if decimals > 0:
        out += DECIMAL_SEP + frac
    return out


def fmt_number(x: object, decimals: int = 1) -> str:
    """Format a number the Vietnamese way: decimal comma, dot between thousands.

    Parameters
    ----------
    x : float or int
        The value; missing values (None, NaN, pd.NA) give ``"–"``.
    decimals : int, default 1
        Places after the decimal comma, rounded half away from zero.

    Returns
    -------
    str

    Raises
    ------
    SipasError
        If ``x`` is not a number.

    Examples
    --------
    >>> fmt_number(1234.56, 1)
    '1.234,6'
    >>> fmt_number(-0.04, 1)
    '0,0'
    """
    if is_missing(x):
        return MISSING
    return _render(_round(x, decimals), decimals)


def fmt_int(x: object) -> str:
    """Format a count with dots between thousands: ``1234567 -> "1.234.567"``.

    Examples
    --------
    >>> fmt_int(1234567)
    '1.234.567'
    """
    return fmt_number(x, 0)


def fmt_pct(x: object, decimals: int = 1) -> str:
    """Format a percentage (already on the 0–100 scale): ``82.6667 -> "82,7%"``.

    Examples
    --------
    >>> fmt_pct(82.6667)
    '82,7%'
    """
    if is_missing(x):
        return MISSING
    return fmt_number(x, decimals) + "%"


def fmt_points(x: object, decimals: int = 2) -> str:
    """Format a PAPI score in points: ``fmt_points(41.7018, 2) -> "41,70"``.

    Examples
    --------
    >>> fmt_points(41.7018, 2)
    '41,70'
    """
    return fmt_number(x, decimals)


def _fmt_change(x: object, decimals: int, unit: str) -> str:
    if is_missing(x):
        return MISSING
    d = _round(x, decimals)
    if d == 0:
        return "không đổi"
    word = "tăng" if d > 0 else "giảm"
    return f"{word} {_render(abs(d), decimals)} {unit}"


def fmt_change_pct_points(x: object, decimals: int = 1) -> str:
    """Describe a change in percentage points in words.

    Parameters
    ----------
    x : float
        Change (later minus earlier) in percentage points.
    decimals : int, default 1

    Returns
    -------
    str
        ``"tăng 2,1 điểm phần trăm"``, ``"giảm 1,3 điểm phần trăm"``, or ``"không đổi"`` when the change rounds to
        zero at the shown precision; ``"–"`` if missing.

    Examples
    --------
    >>> fmt_change_pct_points(2.1), fmt_change_pct_points(-1.26), fmt_change_pct_points(0.04)
    ('tăng 2,1 điểm phần trăm', 'giảm 1,3 điểm phần trăm', 'không đổi')
    """
    return _fmt_change(x, decimals, "điểm phần trăm")


def fmt_change_points(x: object, decimals: int = 2) -> str:
    """Describe a change of a PAPI score in points: ``0.523 -> "tăng 0,52 điểm"``.

    Examples
    --------
    >>> fmt_change_points(-0.523)
    'giảm 0,52 điểm'
    """
    return _fmt_change(x, decimals, "điểm")


def fmt_ci(low: object, high: object, decimals: int = 1, unit: str = "%") -> str:
    """Format a confidence interval as ``"75,1–81,5%"`` (unit written once, after the upper bound).

    Parameters
    ----------
    low, high : float
        Interval bounds; if either is missing the result is ``"–"``.
    decimals : int, default 1
    unit : str, default "%"
        Appended to the upper bound: ``"%"`` for SIPAS, ``""`` or ``" điểm"`` for PAPI points.

    Examples
    --------
    >>> fmt_ci(75.06, 81.54)
    '75,1–81,5%'
    >>> fmt_ci(40.1, 43.333, decimals=2, unit="")
    '40,10–43,33'
    >>> fmt_ci(-56.31, -18.0, unit=" điểm phần trăm")
    'từ -56,3 đến -18,0 điểm phần trăm'
    """
    if is_missing(low) or is_missing(high):
        return MISSING
    lo, hi = fmt_number(low, decimals), fmt_number(high, decimals)
    if hi.startswith("-"):  # "-56,3–-18,0" reads badly: write "từ -56,3 đến -18,0"
        return f"từ {lo} đến {hi}{unit}"
    return f"{lo}{RANGE_SEP}{hi}{unit}"


def fmt_p_value(p: object) -> str:
    """Format a p-value: ``"p = 0,03"``, ``"p < 0,001"``.

    Examples
    --------
    >>> fmt_p_value(0.0312), fmt_p_value(0.00001)
    ('p = 0,03', 'p < 0,001')
    """
    if is_missing(p):
        return MISSING
    if float(p) < 0.001:
        return "p < 0,001"
    decimals = 3 if float(p) < 0.01 else 2
    return f"p = {fmt_number(p, decimals)}"


def fmt_date(d: _dt.date | _dt.datetime | str) -> str:
    """Format a date as ``dd/mm/yyyy`` (``2026-11-27 -> "27/11/2026"``).

    Parameters
    ----------
    d : datetime.date, datetime.datetime, pandas.Timestamp or ISO string ``"YYYY-MM-DD"``

    Raises
    ------
    SipasError
        If a string is not an ISO date.

    Examples
    --------
    >>> fmt_date("2026-11-27")
    '27/11/2026'
    """
    if isinstance(d, str):
        try:
            d = _dt.date.fromisoformat(d[:10])
        except ValueError as exc:
            raise SipasError(f"Not an ISO date (YYYY-MM-DD): {d!r}") from exc
    if not isinstance(d, _dt.date):
        raise SipasError(f"Cannot format {d!r} as a date.")
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
