"""Disclosure control of everything that leaves the analyst's machine: one place for the rules.

Three rules, applied to every table before it reaches a writer (Excel workbook, CSV):

Small cells (:func:`suppress_small`)
    A cell on fewer than :data:`MIN_N` respondents (``n < 10``, or a ``flag`` that says
    ``suppressed`` / ``empty``) is published without its value, interval, standard errors, rank or
    derived text (weak-point reasons, recommendation, quadrant): those cells are left blank, the
    ``n`` and the ``flag`` stay so that the reader sees why. A trend row blanks the end on fewer
    than 10 respondents and, when either end is blanked, the change, its interval, p-value and
    significance.
Differencing (:func:`suppress_small`, secondary suppression)
    A commune blanked on its own could be recovered from its area's published estimate and total
    weight minus those of the area's other communes. Whenever exactly one commune of an area is
    blanked for an index, wave and subgroup, the smallest other commune of that area (fewest
    respondents) is blanked as well (flag ``suppressed_secondary`` added), so that no single
    subtraction gives a blanked value back.
Text cells (:func:`safe_text`, :func:`safe_table`)
    Personal values (phone numbers, 9- and 12-digit ID card numbers, e-mail addresses) are masked
    wherever they sit (:func:`mask_personal`); control characters that a workbook cannot hold are
    written as ``\\xNN``; a text starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
    return gets a leading apostrophe (the OWASP rule against formula injection), so that Excel
    and LibreOffice show it as text and never run it.

The internal Parquet tables of a run (``tables/*.parquet``) keep every value with its flag: they
are the working tables that ``sipas brief`` re-renders from, not a publication. Everything a run
publishes (``ket_qua.xlsx``, the CSVs and workbooks of ``validation/``, the PDF briefs and the
figures) follows the rules above.

Examples
--------
>>> safe_text("=HYPERLINK(\\"http://x\\")")
'\\'=HYPERLINK("http://x")'
>>> mask_personal("gọi 0901 234 567 hoặc a.b@x.vn")
'gọi [đã ẩn / masked] hoặc [đã ẩn / masked]'
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

__all__ = [
    "MIN_N",
    "MASK",
    "PERSONAL_VALUE",
    "mask_personal",
    "neutralise",
    "safe_text",
    "safe_table",
    "suppress_small",
    "suppress_tables",
    "for_publication",
]

#: Fewest respondents of a published cell (the one definition: the estimates flag a cell on fewer
#: as ``suppressed`` and every publication blanks it).
MIN_N = 10

#: What a personal value is replaced by.
MASK = "[đã ẩn / masked]"

#: A whole value that is personal data once spaces, dots, dashes and brackets are removed:
#: Vietnamese phone numbers, 9- and 12-digit ID card numbers, e-mail addresses (used to find
#: personal *columns* by their values, :mod:`sipas_analysis.waves`).
PERSONAL_VALUE = re.compile(
    r"(?:\+?84|0)\d{8,10}|\d{9}|\d{12}|[^@\s]+@[^@\s]+\.[A-Za-z]{2,}", re.IGNORECASE
)

#: Personal values *inside* a text: a phone number (its digits may be grouped by spaces, dots or
#: dashes), a 9- or 12-digit ID number standing alone (not part of a longer number or a decimal),
#: an e-mail address.
_PERSONAL_IN_TEXT = re.compile(
    r"(?<![\w.,])(?:\+84[ .\-]?|84[ .\-]?|0)\d(?:[ .\-]?\d){7,9}(?![\w]|[.,]\d)"
    r"|(?<![\w.,])(?:\d{12}|\d{9})(?![\w]|[.,]\d)"
    r"|[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    re.IGNORECASE,
)

#: Characters a cell must not start with (OWASP CSV injection): formula, DDE and command prefixes.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: Control characters an xlsx cell cannot hold (the XML 1.0 rule; tab, LF and CR are allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

#: Columns blanked on a small cell: values, intervals, errors, ranks and the text derived from
#: them. ``n``, ``flag`` and the identifiers stay.
VALUE_COLUMNS = (
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "se_design",
    "se_respondent",
    "se_village",
    "deff_model",
    "weight_total",
    "estimate_model",
    "se_model",
    "ci_low_model",
    "ci_high_model",
    "shrinkage",
    "rank",
    "rank_low",
    "rank_high",
    "share",
    "importance",
    "performance",
    "quadrant",
    "quadrant_code",
    "score",
    "q_value",
    "difference",
    "reasons",
    "reason_codes",
    "recommendation_vi",
    "priority",
)
#: A trend row: the values of each end, and those of the change.
_TREND_FROM = ("estimate_from",)
_TREND_TO = ("estimate_to",)
_TREND_CHANGE = ("change", "se_change", "ci_low", "ci_high", "p_value", "significant")


def mask_personal(text: str) -> str:
    """``text`` with every phone number, ID card number and e-mail address replaced by
    :data:`MASK`.

    Examples
    --------
    >>> mask_personal("tuổi 079203001234; dòng 12, 57")
    'tuổi [đã ẩn / masked]; dòng 12, 57'
    >>> mask_personal("trọng số 0.123456789 và 1234.5")
    'trọng số 0.123456789 và 1234.5'
    """
    return _PERSONAL_IN_TEXT.sub(MASK, text)


def neutralise(text: str) -> str:
    """The OWASP rule: a text starting with ``= + - @``, tab or CR gets a leading apostrophe.

    Examples
    --------
    >>> [neutralise(t) for t in ["=1+1", "+cmd|' /C calc'!A0", "@SUM(A1)", "Xã Mỹ Yên"]]
    ["'=1+1", "'+cmd|' /C calc'!A0", "'@SUM(A1)", 'Xã Mỹ Yên']
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def _control_escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def safe_text(text: str) -> str:
    """One text cell made safe to publish: personal values masked, control characters written
    as ``\\xNN``, a formula prefix neutralised (in that order)."""
    return neutralise(_CONTROL.sub(_control_escape, mask_personal(text)))


def _safe_cell(value: object) -> object:
    return safe_text(value) if isinstance(value, str) else value


def safe_table(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` with :func:`safe_text` applied to every text cell (column names too).

    Numbers, booleans and missing values are left as they are (a number is never a formula).
    Each distinct text is converted once.
    """
    out = df.copy()
    for col in out.columns:
        s = out[col]
        if s.dtype == object or pd.api.types.is_string_dtype(s.dtype):
            codes, uniques = pd.factorize(s, use_na_sentinel=True)
            if len(uniques) == 0:
                continue
            conv = np.array([_safe_cell(u) for u in uniques] + [None], dtype=object)
            out[col] = pd.Series(conv[codes], index=s.index, dtype=object).where(s.notna(), s)
    out.columns = [safe_text(c) if isinstance(c, str) else c for c in out.columns]
    return out


def _small(df: pd.DataFrame, n_col: str, flag_col: str | None) -> np.ndarray:
    """Rows on fewer than ``MIN_N`` respondents, or flagged suppressed / empty."""
    small = np.zeros(len(df), dtype=bool)
    if n_col in df.columns:
        n = pd.to_numeric(df[n_col], errors="coerce")
        small |= (n < MIN_N).fillna(False).to_numpy(dtype=bool)
    if flag_col and flag_col in df.columns:
        flag = df[flag_col].astype("string").fillna("")
        small |= (flag.str.contains("suppressed") | flag.str.contains("empty")).to_numpy(bool)
    return small


def _blank(df: pd.DataFrame, rows: np.ndarray, columns) -> None:
    """Set ``columns`` (those present) to missing on ``rows``, in place, keeping a nullable dtype."""
    if not rows.any():
        return
    for col in columns:
        if col not in df.columns:
            continue
        s = df[col]
        if pd.api.types.is_bool_dtype(s.dtype):
            s = s.astype("boolean")
        elif pd.api.types.is_integer_dtype(s.dtype) and not isinstance(s.dtype, pd.Int64Dtype):
            s = s.astype("Int64")
        s = s.copy()
        s[rows] = pd.NA if not pd.api.types.is_float_dtype(s.dtype) else np.nan
        df[col] = s


def _text(df: pd.DataFrame, col: str) -> pd.Series:
    """A column as text ("" for missing values, and for every row when the column is absent)."""
    if col not in df.columns:
        return pd.Series("", index=df.index, dtype=object)
    return df[col].astype("string").fillna("").astype(object)


def _keys(df: pd.DataFrame, wave: str = "wave") -> pd.Series:
    """The cell of each row as one text key: survey, wave, unit, index and subgroup."""
    key = _text(df, "survey")
    for col in (wave, "unit_code", "index_code", "subgroup"):
        key = key + "\x1f" + _text(df, col)
    return key


def _partitions(df: pd.DataFrame) -> pd.Series:
    """The partition a row belongs to, for differencing: the communes of one area, or the
    categories of one subgroup variable of one unit (same survey, wave and index); ``None``
    for rows that are in no partition."""
    base = _text(df, "survey") + "\x1f" + _text(df, "wave") + "\x1f" + _text(df, "index_code")
    sub = _text(df, "subgroup")
    variable = sub.str.split("=", n=1).str[0].fillna("")
    commune = ((_text(df, "level") == "commune") & (sub == "")).to_numpy(bool)
    grouped = ((sub != "") & (variable != "")).to_numpy(bool)
    out = pd.Series(None, index=df.index, dtype=object)
    out[commune] = ("commune\x1f" + base + "\x1f" + _text(df, "area_code"))[commune]
    out[grouped] = ("subgroup\x1f" + base + "\x1f" + _text(df, "unit_code") + "\x1f" + variable)[
        grouped
    ]
    return out


def _secondary(df: pd.DataFrame, primary: np.ndarray) -> np.ndarray:
    """Cells to blank as well so that no blanked cell is its total minus the other cells.

    In each partition (:func:`_partitions`: the communes of an area, or the categories of a
    subgroup variable), when exactly one cell is blanked, the published cell with the fewest
    respondents is blanked too.
    """
    out = np.zeros(len(df), dtype=bool)
    if "n" not in df.columns or not len(df):
        return out
    part = _partitions(df).reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "part": part,
            "primary": primary,
            "n": pd.to_numeric(df["n"], errors="coerce").to_numpy(),
            "pos": np.arange(len(df)),
        }
    ).dropna(subset=["part"])
    # in the partitions with exactly one blanked cell, the first published cell by (n, row)
    one = frame.groupby("part", sort=False)["primary"].transform("sum").to_numpy() == 1
    others = frame[one & ~frame["primary"].to_numpy(bool)]
    first = others.sort_values(["n", "pos"]).drop_duplicates("part", keep="first")
    out[first["pos"].to_numpy(int)] = True
    return out


def _mark_secondary(df: pd.DataFrame, rows: np.ndarray) -> None:
    if not rows.any() or "flag" not in df.columns:
        return
    flag = df["flag"].astype(object).copy()
    flag[rows] = [
        "suppressed_secondary"
        if not isinstance(f, str) or f in ("", "ok")
        else f"{f};suppressed_secondary"
        for f in flag[rows]
    ]
    df["flag"] = flag


def suppress_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The result tables of a run without any value on fewer than :data:`MIN_N` respondents.

    ``estimates`` blanks :data:`VALUE_COLUMNS` on its small cells and on the secondary cells of
    :func:`_secondary` (their ``flag`` gains ``suppressed_secondary``). Every other table with an
    ``n`` column (findings, ranks, answer shares, importance) blanks the same columns on its own
    small rows and on the cells blanked in ``estimates``; trend rows (``n_from``, ``n_to``) blank
    the end that is small or blanked in ``estimates``, and the change with it. Tables without
    respondent counts (published benchmarks, accounting, problems) are returned unchanged.
    """
    out = {name: df.copy() for name, df in tables.items()}
    blanked: set[str] = set()
    est = out.get("estimates")
    if est is not None and "n" in est.columns:
        primary = _small(est, "n", "flag")
        secondary = _secondary(est, primary) & ~primary
        _blank(est, primary | secondary, VALUE_COLUMNS)
        _mark_secondary(est, secondary)
        blanked = set(_keys(est)[primary | secondary])
    for name, df in out.items():
        if name == "estimates":
            continue
        if "n_from" in df.columns or "n_to" in df.columns:
            small_from = (
                _small(df, "n_from", "flag_from") | _keys(df, "wave_from").isin(blanked).to_numpy()
            )
            small_to = _small(df, "n_to", "flag_to") | _keys(df, "wave_to").isin(blanked).to_numpy()
            _blank(df, small_from, _TREND_FROM)
            _blank(df, small_to, _TREND_TO)
            _blank(df, small_from | small_to, _TREND_CHANGE)
        elif "n" in df.columns:
            small = _small(df, "n", "flag") | _keys(df).isin(blanked).to_numpy()
            _blank(df, small, VALUE_COLUMNS)
    return out


def suppress_small(df: pd.DataFrame) -> pd.DataFrame:
    """One table through :func:`suppress_tables` (read as an estimates table when it has ``n``)."""
    name = "trends" if ("n_from" in df.columns or "n_to" in df.columns) else "estimates"
    return suppress_tables({name: df})[name]


def for_publication(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Tables as they may leave the machine: small cells blanked, then every text cell safe."""
    return {name: safe_table(df) for name, df in suppress_tables(tables).items()}
