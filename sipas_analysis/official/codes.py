"""The columns and levels of the tidy PAPI table, the 63 provinces (GSO codes, name variants) and
the PAPI structure by year (labels of dimensions and sub-dimensions)."""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from pathlib import Path

import pandas as pd

__all__ = ["COLUMNS", "LEVELS", "provinces", "resolve_province"]


COLUMNS = [
    "year",
    "province_code",
    "province_name",
    "level",
    "code",
    "label_vi",
    "label_en",
    "scale",
    "scale_min",
    "scale_max",
    "value",
    "se",
    "ci_low_published",
    "ci_high_published",
    "n",
    "source_file",
    "source_sheet",
]
LEVELS = ("total_weighted", "total", "dimension", "subdimension", "indicator")

_HERE = Path(__file__).resolve().parents[1]
_PROVINCES_CSV = _HERE / "official_provinces.csv"
_STRUCTURE_CSV = _HERE / "official_papi_structure.csv"

# Text that means "no data" in a numeric cell of a PAPI workbook.
_MISSING_TEXT = {"", "kcdl", "-", "--", "n/a", "na", "nan", ".", "..", "...", "không có dữ liệu"}
# Row / column names of summary lines (not provinces) found in the workbooks.
_SUMMARY_NAMES = {
    "diemcaonhat",
    "diemthapnhat",
    "highest",
    "lowest",
    "median",
    "trungvi",
    "trungbinh",
    "average",
    "mean",
    "toanquoc",
    "national",
    "canuoc",
    "vietnam",
}
# Tolerance when the same figure appears on two sheets / files (published to 4 decimals at least).
_MERGE_TOL = 1e-4


# --------------------------------------------------------------------------------------------
# Names and provinces
# --------------------------------------------------------------------------------------------


def _nfc(text: object) -> str:
    """NFC-normalise and collapse whitespace."""
    return unicodedata.normalize("NFC", " ".join(str(text).split()))


def _ascii_key(text: object) -> str:
    """Lower-case ASCII key without tone marks, spaces or punctuation ("Hoà Bình" -> "hoabinh")."""
    s = unicodedata.normalize("NFD", str(text).lower().replace("đ", "d").replace("Đ", "d"))
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
    return re.sub(r"[^a-z0-9]", "", s)


def _province_key(name: object) -> str:
    """Matching key for a province name: ASCII, prefixes ("TP.", "Thành phố", "Tỉnh") removed."""
    s = _nfc(name)
    s = re.sub(
        r"^\s*(tp\.?|thành phố|thanh pho|tỉnh|tinh|city of|province of)\s+", "", s, flags=re.I
    )
    s = re.sub(r"\s+(city|province)\s*$", "", s, flags=re.I)
    return _ascii_key(s)


@functools.lru_cache(maxsize=1)
def _provinces_table() -> pd.DataFrame:
    df = pd.read_csv(_PROVINCES_CSV, dtype={"province_code": "Int64"}, keep_default_na=False)
    df["province_name"] = df["province_name"].map(_nfc)
    return df


def provinces() -> pd.DataFrame:
    """The 63 provinces of Viet Nam before the 2025 mergers, with GSO codes and name variants.

    Returns
    -------
    DataFrame
        ``province_code`` (Int64, GSO), ``province_name`` (Vietnamese, NFC), ``province_type``
        (Tỉnh / Thành phố), ``name_en`` (as in the PAPI files), ``aliases`` (``|``-separated).

    Examples
    --------
    >>> p = provinces()
    >>> len(p), int(p.loc[p.province_name == "Long An", "province_code"].iloc[0])
    (63, 80)
    """
    return _provinces_table().copy()


@functools.lru_cache(maxsize=1)
def _province_lookup() -> dict[str, int]:
    lookup: dict[str, int] = {}
    for row in _provinces_table().itertuples():
        names = [row.province_name, row.name_en, *[a for a in row.aliases.split("|") if a]]
        for name in names:
            key = _province_key(name)
            if key in lookup and lookup[key] != int(row.province_code):
                raise RuntimeError(f"province key {key!r} is ambiguous in {_PROVINCES_CSV.name}")
            lookup[key] = int(row.province_code)
    return lookup


def resolve_province(name: object) -> int | None:
    """GSO code of a province given any of its usual spellings, or None.

    Matching ignores case, tone marks (so "Hòa"/"Hoà" and NFD text match), spacing, hyphens and
    prefixes such as "TP.", "Thành phố", "Tỉnh", "City".

    Examples
    --------
    >>> resolve_province("TP. Hồ Chí Minh"), resolve_province("Ho Chi Minh City")
    (79, 79)
    >>> resolve_province("Hoà Bình"), resolve_province("Long An "), resolve_province("Highest")
    (17, 80, None)
    """
    if name is None or (isinstance(name, float) and math.isnan(name)):
        return None
    return _province_lookup().get(_province_key(name))


def _province_names() -> dict[int, str]:
    t = _provinces_table()
    return dict(zip(t["province_code"].astype(int), t["province_name"], strict=True))


# --------------------------------------------------------------------------------------------
# PAPI structure (labels of dimensions and sub-dimensions by year)
# --------------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _structure_table() -> pd.DataFrame:
    df = pd.read_csv(_STRUCTURE_CSV, keep_default_na=False)
    for col in ("label_vi", "label_en", "aliases"):
        df[col] = df[col].map(_nfc)
    return df


@functools.lru_cache(maxsize=64)
def _structure(year: int) -> pd.DataFrame:
    """Dimension / sub-dimension / total rows that apply to ``year`` (latest known for later years)."""
    t = _structure_table()
    use = min(int(year), int(t["last_year"].max()))
    return t[(t["first_year"] <= use) & (t["last_year"] >= use)]


@functools.lru_cache(maxsize=1024)
def _n_subdimensions(year: int, dim: int) -> int:
    s = _structure(year)
    return int(((s["level"] == "subdimension") & s["code"].str.match(rf"^d{dim}_\d+$")).sum())


@functools.lru_cache(maxsize=4096)
def _labels(year: int, code: str) -> tuple[str | None, str | None]:
    s = _structure(year)
    hit = s[s["code"] == code]
    if hit.empty:
        return None, None
    return hit["label_vi"].iloc[0], hit["label_en"].iloc[0]


@functools.lru_cache(maxsize=4096)
def _code_by_label(year: int, label: str) -> str | None:
    """Code of a dimension / sub-dimension / total from its (un-numbered) published label."""
    key = _ascii_key(label)
    for row in _structure(year).itertuples():
        names = [row.label_vi, row.label_en, *[a for a in row.aliases.split("|") if a]]
        if any(_ascii_key(n) == key for n in names):
            return row.code
    return None
