"""Geography of the survey areas: communes, areas, the 2025 reorganisation, robust name matching.

The survey covers four areas of old Long An province (GSO province code 80):

===========  ===============================  ==================================================
area_code    area_name                        note
===========  ===============================  ==================================================
794          Thành phố Tân An                 14 wards/communes (incl. Phường 2, abolished 2024-12-01)
798          Huyện Mộc Hóa                    7 communes + the 8 units of Thị xã Kiến Tường (795),
                                              split off Mộc Hóa in 2013 and merged back into the
                                              same new communes in 2025
800          Huyện Thạnh Hóa                  11 communes
802          Huyện Đức Hòa                    20 communes
===========  ===============================  ==================================================

Two boundary vintages exist and a commune code is meaningless without one (every new code reuses an
old constituent's code):

* ``"pre2025"`` — the 60 communes above, valid for waves before 1 July 2025;
* ``"2025"`` — the 19 new communes/wards of Tây Ninh (Resolution 1682/NQ-UBTVQH15), for later waves.
  Districts no longer exist; each new commune keeps the ``area_code`` of the old area most of its 2019
  population came from, so area-level results stay comparable.

Everything here reads the committed tables in ``data/reference/`` (sources in its README).

Examples
--------
>>> from sipas_analysis import geography
>>> geography.commune_name(27694, "pre2025")
'Phường 1'
>>> geography.commune_name(27694, "2025")
'Phường Long An'
>>> geography.resolve_communes(["xã  đức hoà thượng"], "pre2025").commune_code.tolist()
[27967]
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import pandas as pd

from sipas_analysis.errors import SipasError
from sipas_analysis.paths import REFERENCE_DIR

__all__ = [
    "AREAS",
    "VINTAGES",
    "area_of",
    "areas",
    "commune_name",
    "communes",
    "crosswalk",
    "match_key",
    "normalize_name",
    "resolve_communes",
    "successor",
]

VINTAGES = ("pre2025", "2025")

#: The four survey areas (old GSO district codes) with their Vietnamese names and a short label.
AREAS = pd.DataFrame(
    {
        "area_code": [794, 798, 800, 802],
        "area_name": ["Thành phố Tân An", "Huyện Mộc Hóa", "Huyện Thạnh Hóa", "Huyện Đức Hòa"],
        "area_short": ["Tân An", "Mộc Hóa", "Thạnh Hóa", "Đức Hòa"],
    }
)
#: Thị xã Kiến Tường (795) was part of Mộc Hóa until 2013; the project counts it in area 798.
_DISTRICT_TO_AREA = {794: 794, 795: 798, 798: 798, 800: 800, 802: 802}

_TYPE_PREFIXES = ("thị trấn", "phường", "xã", "tt.", "tt", "p.", "x.")


def _check_vintage(vintage: str) -> str:
    if vintage not in VINTAGES:
        raise SipasError(
            f"Unknown boundary vintage {vintage!r}: use one of {', '.join(VINTAGES)} "
            "(pre2025 = communes before 1 July 2025, 2025 = the new communes of Tây Ninh)."
        )
    return vintage


# ---------------------------------------------------------------------------------------------
# Name normalisation
# ---------------------------------------------------------------------------------------------

# Old-style tone placement on the diphthongs oa, oe, uy at the end of a syllable ("hoà", "thuỷ")
# is rewritten to the style of the GSO list ("hòa", "thủy"). Tone marks as combining characters.
_TONES = "\u0300\u0301\u0309\u0303\u0323"  # grave, acute, hook above, tilde, dot below
# The syllable must end right after the tone: no further letter nor combining mark ("Thuận",
# whose NFD form is u + a + dot below + circumflex, is left alone).
_OLD_STYLE = re.compile(rf"(?<![qQ])([oOuU])([aAeEyY])([{_TONES}])(?![^\W\d_]|[\u0300-\u036f])")


def normalize_name(name: object) -> str:
    """Canonical form of a Vietnamese place name for matching.

    NFC, one tone-mark style ("Hoà" → "Hòa", "Thuỷ" → "Thủy"), single spaces, trimmed. Case and the
    type prefix are kept (see :func:`match_key` for the matching key).

    Parameters
    ----------
    name : object
        A name as it appears in a file (str; NaN and None give "").

    Returns
    -------
    str

    Examples
    --------
    >>> normalize_name("  Xã  Đức Hoà   Thượng ")
    'Xã Đức Hòa Thượng'
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    text = unicodedata.normalize("NFD", str(name))
    text = _OLD_STYLE.sub(lambda m: m.group(1) + m.group(3) + m.group(2), text)
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def _split_prefix(key: str) -> tuple[str, str]:
    for prefix in _TYPE_PREFIXES:
        if key.startswith(prefix + " ") or (prefix.endswith(".") and key.startswith(prefix)):
            return prefix.rstrip("."), key[len(prefix) :].strip()
    return "", key


def match_key(name: object, *, with_type: bool = True) -> str:
    """Lower-case matching key of a commune name: normalised, type prefix unified or dropped.

    Examples
    --------
    >>> match_key("TT. Hiệp Hoà")
    'thị trấn hiệp hòa'
    >>> match_key("Phường 1", with_type=False)
    '1'
    """
    key = normalize_name(name).lower()
    prefix, rest = _split_prefix(key)
    prefix = {"tt": "thị trấn", "p": "phường", "x": "xã"}.get(prefix, prefix)
    rest = re.sub(r"^0+(\d)", r"\1", rest)  # "Phường 01" -> "Phường 1"
    if not with_type or not prefix:
        return rest
    return f"{prefix} {rest}"


# ---------------------------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------------------------


@functools.cache
def _communes_pre2025() -> pd.DataFrame:
    raw = pd.read_csv(REFERENCE_DIR / "communes_pre2025.csv")
    out = pd.DataFrame(
        {
            "commune_code": raw["commune_code"].astype("int64"),
            "commune_name": raw["commune_name"].map(normalize_name),
            "commune_type": raw["commune_type"],
            "district_code": raw["district_code"].astype("int64"),
            "district_name": raw["district_name"].map(normalize_name),
            "area_code": raw["district_code"].map(_DISTRICT_TO_AREA).astype("int64"),
            "status": np.where(raw["status"].str.startswith("active"), "active", "abolished"),
            "status_note": raw["status"],
            "pop_2019_total": raw["pop_2019_census"].astype("int64"),
            "pop_2019_urban": raw["pop_2019_urban"].astype("int64"),
            "pop_2019_rural": raw["pop_2019_rural"].astype("int64"),
        }
    )
    return out.merge(AREAS, on="area_code", how="left")


@functools.cache
def _crosswalk() -> pd.DataFrame:
    raw = pd.read_csv(REFERENCE_DIR / "crosswalk_2025.csv")
    shares = pd.read_csv(REFERENCE_DIR / "crosswalk_partial_shares.csv")
    cw = pd.DataFrame(
        {
            "old_code": raw["old_commune_code"].astype("int64"),
            "old_name": raw["old_commune_name"].map(normalize_name),
            "old_district_code": raw["old_district_code"].astype("int64"),
            "new_code": raw["new_commune_code"].astype("int64"),
            "new_name": raw["new_commune_name"].map(normalize_name),
            "merge_type": np.where(raw["merge_type"].str.startswith("partial"), "partial", "full"),
            "in_scope": raw["old_district_code"].isin(list(_DISTRICT_TO_AREA)),
            "old_pop_2019": raw["old_pop_2019_census"].astype("int64"),
        }
    )
    cw = cw.merge(
        shares.rename(columns={"old_commune_code": "old_code", "new_commune_code": "new_code"}),
        on=["old_code", "new_code"],
        how="left",
    )
    full = cw["merge_type"] == "full"
    cw.loc[full, "share"] = 1.0
    cw.loc[full, "basis"] = "full merge"
    return cw


@functools.cache
def _communes_2025() -> pd.DataFrame:
    raw = pd.read_csv(REFERENCE_DIR / "communes_2025.csv")
    old = _communes_pre2025().set_index("commune_code")
    cw = _crosswalk()
    cw = cw[cw["in_scope"]].copy()
    cw["area_code"] = cw["old_code"].map(old["area_code"])
    for col in ("pop_2019_total", "pop_2019_urban", "pop_2019_rural"):
        cw[col] = cw["old_code"].map(old[col]) * cw["share"]
    pops = cw.groupby("new_code")[["pop_2019_total", "pop_2019_urban", "pop_2019_rural"]].sum()
    by_area = cw.groupby(["new_code", "area_code"])["pop_2019_total"].sum().reset_index()
    main_area = by_area.sort_values(["new_code", "pop_2019_total"], ascending=[True, False])
    main_area = main_area.drop_duplicates("new_code").set_index("new_code")["area_code"]
    out = pd.DataFrame(
        {
            "commune_code": raw["new_commune_code"].astype("int64"),
            "commune_name": raw["new_commune_name"].map(normalize_name),
            "commune_type": raw["new_commune_type"],
            "area_code": raw["new_commune_code"].map(main_area).astype("int64"),
            "status": "active",
            "status_note": "new unit from 2025-07-01 (NQ 1682/NQ-UBTVQH15, clause "
            + raw["nq1682_clause"].astype(str)
            + ")",
        }
    )
    for col in ("pop_2019_total", "pop_2019_urban", "pop_2019_rural"):
        # Population of the survey-area constituents (shares applied to the partial split).
        out[col] = out["commune_code"].map(pops[col]).round().astype("int64")
    return out.merge(AREAS, on="area_code", how="left")


def communes(vintage: str = "pre2025") -> pd.DataFrame:
    """The communes of the survey areas in one boundary vintage.

    Parameters
    ----------
    vintage : {"pre2025", "2025"}
        ``"pre2025"``: the 60 communes before 1 July 2025 (incl. Phường 2 of Tân An, abolished
        2024-12-01, with ``status == "abolished"``). ``"2025"``: the 19 new communes of Tây Ninh.

    Returns
    -------
    pandas.DataFrame
        Columns ``commune_code, commune_name, commune_type, area_code, area_name, area_short,
        status, status_note, pop_2019_total, pop_2019_urban, pop_2019_rural`` (pre2025 also
        ``district_code, district_name``). Population of a 2025 commune counts only its constituents
        inside the survey areas, the partially split Xã Đức Hòa Thượng by its share.

    Examples
    --------
    >>> len(communes("pre2025")), len(communes("2025"))
    (60, 19)
    """
    _check_vintage(vintage)
    table = _communes_pre2025() if vintage == "pre2025" else _communes_2025()
    return table.copy()


def areas() -> pd.DataFrame:
    """The four survey areas: ``area_code, area_name, area_short``."""
    return AREAS.copy()


def crosswalk(*, in_scope_only: bool = True) -> pd.DataFrame:
    """Old (pre-2025) commune → new (2025) commune, with the population share that moves.

    Parameters
    ----------
    in_scope_only : bool, default True
        Keep only old communes of the survey areas (drops 3 neighbours that give land to new units).

    Returns
    -------
    pandas.DataFrame
        ``old_code, old_name, old_district_code, new_code, new_name, merge_type (full/partial),
        in_scope, old_pop_2019, share, basis``. For each in-scope old commune the shares sum to 1.

    Notes
    -----
    The only partial split inside the survey areas is Xã Đức Hòa Thượng (27967), divided between
    Xã Đức Lập (27964) and Xã Mỹ Hạnh (27976). No official population split is published; the
    default is an equal split, set in ``data/reference/crosswalk_partial_shares.csv``.
    """
    cw = _crosswalk()
    if in_scope_only:
        cw = cw[cw["in_scope"]]
    return cw.reset_index(drop=True).copy()


def successor(old_code: int) -> list[tuple[int, float]]:
    """What an old commune becomes in 2025: ``[(new_code, share), ...]``.

    Examples
    --------
    >>> successor(27967)
    [(27964, 0.5), (27976, 0.5)]
    """
    cw = _crosswalk()
    rows = cw[(cw["old_code"] == int(old_code)) & cw["in_scope"]]
    if rows.empty:
        raise SipasError(f"Commune code {old_code} is not a pre-2025 commune of the survey areas.")
    return [(int(r.new_code), float(r.share)) for r in rows.itertuples()]


def _lookup(code: int, vintage: str) -> pd.Series:
    table = communes(vintage).set_index("commune_code")
    if int(code) not in table.index:
        raise SipasError(f"Commune code {code} is not a {vintage} commune of the survey areas.")
    return table.loc[int(code)]


def commune_name(code: int, vintage: str = "pre2025") -> str:
    """Official Vietnamese name of a commune code in a boundary vintage."""
    return str(_lookup(code, vintage)["commune_name"])


def area_of(code: int, vintage: str = "pre2025") -> int:
    """The survey area (old district code 794/798/800/802) a commune belongs to."""
    return int(_lookup(code, vintage)["area_code"])


# ---------------------------------------------------------------------------------------------
# Resolving names and codes found in data files
# ---------------------------------------------------------------------------------------------


@functools.cache
def _name_index(vintage: str) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    table = communes(vintage)
    full: dict[str, list[int]] = {}
    bare: dict[str, list[int]] = {}
    for code, name in zip(table["commune_code"], table["commune_name"], strict=True):
        full.setdefault(match_key(name), []).append(int(code))
        bare.setdefault(match_key(name, with_type=False), []).append(int(code))
    return full, bare


def resolve_communes(
    values: Iterable[object],
    vintage: str = "pre2025",
    area_codes: Iterable[object] | None = None,
) -> pd.DataFrame:
    """Resolve commune names or GSO codes found in a data file to codes of one vintage.

    Each distinct value is resolved once (fast on large files). A value that is a number is taken
    as a code; otherwise as a name, matched after :func:`normalize_name` (NFC, "Hòa"/"Hoà"),
    case-insensitively, with the type prefix ("Xã", "xã", "Phường", "TT.") unified — and, if that
    fails, without it. Names shared by several communes (e.g. "Phường 1" in Tân An and Kiến Tường)
    are settled by ``area_codes`` when given, otherwise reported ``ambiguous``.

    Parameters
    ----------
    values : iterable
        Names or codes, one per row.
    vintage : {"pre2025", "2025"}
    area_codes : iterable, optional
        The area (old district code) of each row, used only to settle ambiguous names.

    Returns
    -------
    pandas.DataFrame
        Same length and order as ``values``: ``commune_code`` (Int64, NA unless ok) and ``status``
        (``ok`` / ``unknown`` / ``ambiguous``) and ``candidates`` (the codes a name could mean).

    Examples
    --------
    >>> resolve_communes(["Xã Tân Mỹ", "27937", "Phường 9"]).status.tolist()
    ['ok', 'ok', 'unknown']
    """
    _check_vintage(vintage)
    values = pd.Series(list(values), dtype="object")
    if area_codes is None:
        areas_s = pd.Series([None] * len(values), dtype="object")
    else:
        areas_s = pd.Series(list(area_codes), dtype="object")
        if len(areas_s) != len(values):
            raise SipasError("resolve_communes: values and area_codes differ in length.")
    valid_codes = set(communes(vintage)["commune_code"].astype(int))
    area_of_code = communes(vintage).set_index("commune_code")["area_code"].to_dict()
    full, bare = _name_index(vintage)

    def one(value: object, area: object) -> tuple[object, str, str]:
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return pd.NA, "unknown", ""
        text = normalize_name(value)
        if re.fullmatch(r"\d+(\.0+)?", text):
            code = int(float(text))
            return (code, "ok", str(code)) if code in valid_codes else (pd.NA, "unknown", "")
        cands = full.get(match_key(text)) or bare.get(match_key(text, with_type=False)) or []
        if len(cands) > 1 and area is not None and not pd.isna(area):
            try:
                area_int = int(float(area))
            except (TypeError, ValueError):
                area_int = None
            narrowed = [c for c in cands if area_of_code.get(c) == area_int]
            if narrowed:
                cands = narrowed
        text_cands = ";".join(str(c) for c in cands)
        if len(cands) == 1:
            return cands[0], "ok", text_cands
        if not cands:
            return pd.NA, "unknown", ""
        return pd.NA, "ambiguous", text_cands

    keys = pd.DataFrame({"value": values.astype(str).where(values.notna(), None), "area": areas_s})
    keys["value_key"] = keys["value"].fillna("\0")
    keys["area_key"] = keys["area"].astype(str)
    uniq = keys.drop_duplicates(["value_key", "area_key"])
    resolved = {
        (vk, ak): one(v, a)
        for vk, ak, v, a in zip(
            uniq["value_key"], uniq["area_key"], uniq["value"], uniq["area"], strict=True
        )
    }
    triples = [
        resolved[(vk, ak)] for vk, ak in zip(keys["value_key"], keys["area_key"], strict=True)
    ]
    return pd.DataFrame(
        {
            "commune_code": pd.array([t[0] for t in triples], dtype="Int64"),
            "status": [t[1] for t in triples],
            "candidates": [t[2] for t in triples],
        }
    )
