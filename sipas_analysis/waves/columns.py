"""The canonical respondent table: its columns, the labelled codes, the personal headers."""

from __future__ import annotations

import functools
import re
import unicodedata
from pathlib import Path

import yaml

from sipas_analysis.coerce import fold as _fold

__all__ = [
    "COLUMN_KEYS",
    "DERIVED_STRATA",
    "LABELLED_COLUMNS",
    "CHECK_DEFAULTS",
    "DATA_FOLDERS_ENV",
    "SURVEYS",
    "FORMATS",
    "SUFFIX_FORMAT",
    "ENCODINGS",
    "LABEL_CHOICES",
    "CANONICAL_FRONT",
    "AGE_BANDS",
    "AGE_MIN",
    "AGE_MAX",
    "is_personal_header",
    "header_key",
    "nfc",
    "LABEL_CODES",
    "band_name",
    "canonical_code",
]

# ---------------------------------------------------------------------------------------------
# The config contract
# ---------------------------------------------------------------------------------------------

COLUMN_KEYS = (
    "respondent_id",
    "commune",
    "commune_code",
    "village",
    "sex",
    "age",
    "age_band",
    "urban_rural",
)
#: ``design.strata`` values that derive the stratum from the commune instead of naming a column.
DERIVED_STRATA = ("area", "commune")
#: Canonical columns whose codes a config may label (``value_labels:``).
LABELLED_COLUMNS = ("sex", "age_band", "urban_rural")
#: File-level limits (``checks:`` in the config) and their defaults.
CHECK_DEFAULTS: dict[str, float] = {
    "min_respondents": 30,
    "max_weight_share": 0.10,
    "max_weight_ratio": 1000.0,
    "max_file_mb": 500.0,
}
#: Environment variable naming further folders (``os.pathsep``-separated) a config's ``file``
#: may point into, beside the config's project and the ``data_folders`` of the config.
DATA_FOLDERS_ENV = "SIPAS_DATA_FOLDERS"
SURVEYS = ("sipas", "papi")
FORMATS = ("xlsx", "csv", "sav", "dta")
SUFFIX_FORMAT = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".csv": "csv",
    ".txt": "csv",
    ".sav": "sav",
    ".zsav": "sav",
    ".dta": "dta",
}
ENCODINGS = {"utf_8": "utf-8", "utf_8_sig": "utf-8-sig", "cp1258": "cp1258"}

#: Canonical columns before the item columns (``fpc`` is inserted after ``weight`` when mapped).
LABEL_CHOICES = {
    "sex": ("Nam", "Nữ"),
    "urban_rural": ("Thành thị", "Nông thôn"),
    "age_band": ("18-29", "30-44", "45-59", "60+"),
}

CANONICAL_FRONT = (
    "respondent_id",
    "wave",
    "survey",
    "instrument",
    "boundary_vintage",
    "source_row",
    "commune_code",
    "commune_name",
    "area_code",
    "area_name",
    "stratum",
    "psu",
    "village",
    "weight",
    "sex",
    "age",
    "age_band",
    "urban_rural",
)
#: Age bands of the canonical table, with their inclusive bounds in years.
AGE_BANDS = (("18-29", 18, 29), ("30-44", 30, 44), ("45-59", 45, 59), ("60+", 60, 200))
AGE_MIN, AGE_MAX = 18, 110

#: Headers that are personal data whatever the config says (``personal_headers.yaml`` beside this
#: module, matched after folding case, tone marks and punctuation: "Họ và tên" -> "ho va ten").
#: Such columns are dropped at load.
_PERSONAL_FILE = Path(__file__).resolve().parent / "personal_headers.yaml"
_PERSONAL_PATTERNS = re.compile(
    "|".join(
        f"(?:{p})" for p in yaml.safe_load(_PERSONAL_FILE.read_text(encoding="utf-8"))["patterns"]
    )
)


def is_personal_header(header: object) -> bool:
    """True when a column header is a typical personal-data header (name, phone, address, ID).

    Examples
    --------
    The header is folded (:func:`_fold`: "SĐT liên lạc" -> "sdt lien lac") and tried as it is
    and without spaces ("ho_ten" -> "ho ten" -> "hoten").

    Examples
    --------
    >>> [is_personal_header(h) for h in ["Họ và tên", "Số điện thoại", "CCCD", "Tuổi"]]
    [True, True, True, False]
    >>> [is_personal_header(h) for h in ["hoten", "so_dt", "SĐT liên lạc", "dia_chi"]]
    [True, True, True, True]
    """
    folded = _fold(header)
    return bool(
        _PERSONAL_PATTERNS.fullmatch(folded)
        or _PERSONAL_PATTERNS.fullmatch(folded.replace(" ", ""))
    )


@functools.lru_cache(maxsize=1 << 16)  # called for every header x every wanted name
def header_key(header: object) -> str:
    return " ".join(unicodedata.normalize("NFC", str(header)).split()).casefold()


def nfc(text: object) -> str:
    return unicodedata.normalize("NFC", str(text)).strip()


#: Canonical codes of the labelled demographic columns, by folded label (the one definition of
#: which words mean 1 and 2; age bands are named as in :data:`AGE_BANDS`).
LABEL_CODES: dict[str, dict[str, int]] = {
    "sex": {"nam": 1, "nu": 2, "male": 1, "female": 2},
    "urban_rural": {"thanh thi": 1, "do thi": 1, "urban": 1, "nong thon": 2, "rural": 2},
}


def band_name(label: str) -> str:
    text = re.sub(r"\s*tu[ổo]i\s*$", "", str(label).strip(), flags=re.IGNORECASE)
    return text.replace("–", "-").replace(" ", "")


def canonical_code(column: str, label: object) -> int | str | None:
    """Canonical code of a demographic label ("Nữ" -> 2; "18–29" -> "18-29"), None if unknown."""
    if column == "age_band":
        name = band_name(str(label))
        return name if name in {b[0] for b in AGE_BANDS} else None
    return LABEL_CODES[column].get(_fold(label))
