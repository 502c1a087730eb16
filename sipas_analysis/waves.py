"""Read one survey wave through its config into the canonical respondent table.

A wave is described by a YAML config (format: ``waves/*.yaml``; see :func:`load_wave_config`) that
names the data file (.csv, .xlsx, SPSS .sav or Stata .dta), the instrument, the boundary vintage and
the mapping from the file's own headers to canonical columns and instrument item codes.
:func:`read_wave` reads the file (never writing to it), drops personal columns at once, normalises
text to Unicode NFC, resolves commune names to GSO codes through :mod:`sipas_analysis.geography`,
runs every check of :mod:`sipas_analysis.validate`, and returns a :class:`LoadedWave`: the kept
respondents in the canonical table, the excluded rows with their reasons, the full problem list and
the row accounting (rows read = rows kept + rows excluded, always).

Canonical respondent table (one row per kept respondent, in this column order):

``respondent_id, wave, survey, instrument, boundary_vintage, source_row, commune_code,
commune_name, area_code, area_name, stratum, psu, village, weight, [fpc,] sex, age, age_band,
urban_rural`` then one ``Int64`` column per instrument item (item code), answer codes, with missing
codes (98/99 …) and blanks as ``<NA>`` (items of answer type ``continuous`` — measured amounts
such as PAPI's hours or costs — are ``Float64``). ``fpc`` (float64) is present only when the
config maps ``design.fpc``. Without a ``design.strata`` column every respondent is in stratum ``"1"``; without
``design.psu`` each respondent is its own PSU (``psu`` = respondent id); without ``design.weight``
every weight is 1.0.

Config keys for field files
---------------------------
``columns.respondent_id: null``
    The file has no id column: each respondent's id is its row number in the file (the
    ``source_row``), and the duplicate-id check is skipped (info ``ids_from_rows``). Leaving
    ``respondent_id`` out is an error.
``header_row: N``
    Row number (1 = first row) of the header in a csv/xlsx file. Without it the header is the
    row, among the first 30 non-blank rows, that holds the most of the config's headers: title
    rows, notes and blank lines above it are skipped (info ``rows_above_header``), merged header
    cells of a workbook carry their value into every cell they span. ``sheet:`` names the sheet;
    without it, the one sheet holding the config's headers is used.
Headers (``columns``, ``design``, ``items``)
    Matched exactly after NFC, case and spacing; else, when a single column fits, as the start
    of an SPSS label cut at 256 bytes, as a prefix of a header (a trailing "…" ignored), or by
    question number ("Câu 9.12" = "C9_12" = "q9_12"); a .sav/.dta column by its variable name
    or its label. A lenient match is reported (info ``column_matched``); a missing header is an
    error naming the nearest headers of the file ("có phải … ? / did you mean …?").
``design.psu: [Xã, Ấp]``
    A PSU made of several columns. The commune column's part is the resolved commune code, so
    that one commune spelled in several ways ("Xã Hoà Khánh" / "hòa khánh") stays one commune;
    the other labels are compared after case, spacing and tone-mark style ("Ấp 1" = "ấp 1",
    info ``psu_label_spelling``).
    PSU labels that recur in several communes ("Ấp 1" in every commune) are nested within
    commune unless ``design.nest_psu: false`` (then a warning).
``design.strata: area`` (or ``commune``)
    Strata derived from the commune's area (old district) or the commune, when the file has no
    column of that name.
``design.certainty: [PSU, …]``
    PSUs taken with certainty: each becomes its own stratum, its respondents the units.
``design.weight: null``
    Written on purpose for a self-weighting sample; leaving ``weight`` out is an error.
``value_labels: {sex: {0: Nam, 1: Nữ}, age_band: {1: 18-29, …}, urban_rural: {…}}``
    Codes of coded columns (csv/xlsx; for .sav/.dta the file's own value labels are used). Labels
    are the canonical words (Nam, Nữ; Thành thị, Nông thôn) and age bands (18-29, 30-44, 45-59,
    60+).
``checks: {min_respondents: 30, max_weight_share: 0.10, max_weight_ratio: 1000}``
    File-level limits: fewer usable respondents, one weight above that share of the total, or a
    max/min weight ratio above the limit is an error that stops ``sipas run``.

Examples
--------
>>> from sipas_analysis.waves import read_wave          # doctest: +SKIP
>>> wave = read_wave("waves/sipas-2024.yaml")          # doctest: +SKIP
>>> acc = wave.accounting                                # doctest: +SKIP
>>> acc["rows_read"] == acc["rows_kept"] + acc["rows_excluded"]   # doctest: +SKIP
True
"""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sipas_analysis import geography, schema
from sipas_analysis import validate as checks
from sipas_analysis.coerce import fold as _fold
from sipas_analysis.coerce import to_number, to_text
from sipas_analysis.disclosure import PERSONAL_VALUE
from sipas_analysis.errors import ConfigError, InputError, SipasError
from sipas_analysis.schema import EMPTY, Bad, Key
from sipas_analysis.schema import config_error as _cfg_error

__all__ = [
    "CANONICAL_FRONT",
    "AGE_BANDS",
    "WaveConfig",
    "LoadedWave",
    "AccountingError",
    "WAVE_SCHEMA",
    "load_wave_config",
    "find_config_for",
    "read_wave",
    "validate_wave",
    "is_personal_header",
    "to_text",
    "to_number",
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
#: An .xlsx file (a zip archive) whose members unpack to more than this many times its own size,
#: or to more than ``XLSX_MAX_UNPACKED_MB``, is refused before it is parsed (a "zip bomb").
XLSX_MAX_RATIO = 100.0
XLSX_MAX_UNPACKED_MB = 2000.0
#: Environment variable naming further folders (``os.pathsep``-separated) a config's ``file``
#: may point into, beside the config's project and the ``data_folders`` of the config.
DATA_FOLDERS_ENV = "SIPAS_DATA_FOLDERS"
SURVEYS = ("sipas", "papi")
FORMATS = ("xlsx", "csv", "sav", "dta")
_SUFFIX_FORMAT = {
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".csv": "csv",
    ".txt": "csv",
    ".sav": "sav",
    ".zsav": "sav",
    ".dta": "dta",
}
_ENCODINGS = {"utf_8": "utf-8", "utf_8_sig": "utf-8-sig", "cp1258": "cp1258"}

#: Canonical columns before the item columns (``fpc`` is inserted after ``weight`` when mapped).
_LABEL_CHOICES = {
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
_AGE_MIN, _AGE_MAX = 18, 110

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
def _header_key(header: object) -> str:
    return " ".join(unicodedata.normalize("NFC", str(header)).split()).casefold()


def _nfc(text: object) -> str:
    return unicodedata.normalize("NFC", str(text)).strip()


#: Canonical codes of the labelled demographic columns, by folded label (the one definition of
#: which words mean 1 and 2; age bands are named as in :data:`AGE_BANDS`).
_LABEL_CODES: dict[str, dict[str, int]] = {
    "sex": {"nam": 1, "nu": 2, "male": 1, "female": 2},
    "urban_rural": {"thanh thi": 1, "do thi": 1, "urban": 1, "nong thon": 2, "rural": 2},
}


def _band_name(label: str) -> str:
    text = re.sub(r"\s*tu[ổo]i\s*$", "", str(label).strip(), flags=re.IGNORECASE)
    return text.replace("–", "-").replace(" ", "")


def _canonical_code(column: str, label: object) -> int | str | None:
    """Canonical code of a demographic label ("Nữ" -> 2; "18–29" -> "18-29"), None if unknown."""
    if column == "age_band":
        name = _band_name(str(label))
        return name if name in {b[0] for b in AGE_BANDS} else None
    return _LABEL_CODES[column].get(_fold(label))


@dataclass(frozen=True)
class WaveConfig:
    """A validated wave config (see the module docstring and ``waves/*.yaml``).

    ``file`` is the data file resolved against the config's folder; ``file_spec`` is the path as
    written in the config (relative), which is what :meth:`as_dict` records in run manifests.
    """

    config_path: Path
    wave: str
    survey: str
    instrument: str
    boundary_vintage: str
    file: Path
    file_spec: str
    format: str
    sheet: str | int | None = None
    header_row: int | None = None
    encoding: str | None = None
    fieldwork_start: dt.date | None = None
    fieldwork_end: dt.date | None = None
    missing_codes: tuple[int, ...] = ()
    personal_columns: tuple[str, ...] = ()
    columns: dict[str, str | None] = field(default_factory=dict)
    design: dict[str, Any] = field(default_factory=dict)
    items: dict[str, str] = field(default_factory=dict)
    value_labels: dict[str, dict[int, str]] = field(default_factory=dict)
    checks: dict[str, float] = field(default_factory=lambda: dict(CHECK_DEFAULTS))
    weight_configured: bool = True
    calibration: dict[str, Any] | None = None
    file_link: str | None = None  # the path as written, when it went through a symbolic link

    def as_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready dict of the config for the run manifest (no machine paths)."""
        return {
            "config": self.config_path.name,
            "wave": self.wave,
            "survey": self.survey,
            "instrument": self.instrument,
            "boundary_vintage": self.boundary_vintage,
            "fieldwork": {
                "start": self.fieldwork_start.isoformat() if self.fieldwork_start else None,
                "end": self.fieldwork_end.isoformat() if self.fieldwork_end else None,
            },
            "file": self.file_spec,
            "format": self.format,
            "sheet": self.sheet,
            "header_row": self.header_row,
            "encoding": self.encoding,
            "missing_codes": list(self.missing_codes),
            "personal_columns": list(self.personal_columns),
            "columns": dict(self.columns),
            "design": {k: list(v) if isinstance(v, tuple) else v for k, v in self.design.items()},
            "items": dict(self.items),
            "value_labels": {k: dict(v) for k, v in self.value_labels.items()},
            "checks": dict(self.checks),
            "calibration": _calibration_record(self.calibration),
        }


def _encoding(value: object) -> str:
    try:
        return _ENCODINGS[codecs.lookup(str(value)).name.replace("-", "_")]
    except (LookupError, KeyError):
        raise Bad(f"must be utf-8, utf-8-sig or cp1258, got {value!r}.") from None


def _share(value: object) -> float:
    value = schema.positive(value)
    if value > 1:
        raise Bad(f"a share between 0 and 1, got {value!r}.")
    return value


def _headers(value: object) -> tuple[str, ...]:
    """One header or a list of them (``design.certainty``), as a tuple."""
    out = []
    for i, h in enumerate(value if isinstance(value, list) else [value] if value else []):
        try:
            out.append(schema.header(h))
        except Bad as exc:
            raise Bad(exc.message, f"[{i}]") from None
    return tuple(out)


def _folder(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise Bad("must be a list of folders.")
    return value


def _psu(value: object) -> str | tuple[str, ...]:
    """``design.psu``: one header, or a list of headers (a PSU made of several columns)."""
    if not isinstance(value, list):
        return schema.header(value)
    if not value:
        raise Bad("an empty list; give one header or several.")
    parts = _headers(value)
    return parts[0] if len(parts) == 1 else parts


def _labels(column: str):
    """``value_labels.<column>``: {code: label}, codes whole numbers, labels the canonical words."""

    def kind(value: object) -> dict[int, str]:
        if not isinstance(value, dict):
            raise Bad(f"must be a mapping (key: value lines), got {value!r}.")
        labels: dict[int, str] = {}
        for code, text in value.items():
            try:
                num = float(code)
            except (TypeError, ValueError):
                num = float("nan")
            if isinstance(code, bool) or not num == num or not float(num).is_integer():
                raise Bad("codes must be whole numbers (1, 2, …).", f".{code}")
            if _canonical_code(column, _nfc(text)) is None:
                choices = ", ".join(_LABEL_CHOICES[column])
                raise Bad(f"label {text!r} is not one of {choices}.", f".{code}")
            labels[int(num)] = _nfc(text)
        return labels

    return kind


#: ``calibration.margins`` names: respondent-table column(s) of each margin, and whether the 2019
#: census reference holds it (else ``calibration.tables`` must give it).
CALIBRATION_MARGINS: dict[str, tuple[tuple[str, ...], bool]] = {
    "commune": (("commune_code",), True),
    "area": (("area_code",), True),
    "urban_rural": (("urban_rural",), True),
    "commune_urban_rural": (("commune_code", "urban_rural"), True),
    "area_urban_rural": (("area_code", "urban_rural"), True),
    "sex": (("sex",), False),
    "age_band": (("age_band",), False),
    "sex_age_band": (("sex", "age_band"), False),
}
CALIBRATION_METHODS = ("rake", "poststratify")
CALIBRATION_SOURCES = ("census2019",)

_HEADER = Key(schema.header)
_A_HEADER = Key(schema.header, nullable=False)
#: The wave config, key by key (:mod:`sipas_analysis.schema`); the rules between keys and those
#: that look at the data file and the instrument follow in :func:`load_wave_config`.
WAVE_SCHEMA: dict[str, Key] = {
    "wave": Key(schema.label, required=True),
    "survey": Key(schema.choice(SURVEYS), required=True),
    "instrument": Key(schema.text, required=True),
    "boundary_vintage": Key(schema.choice(geography.VINTAGES), required=True),
    "fieldwork": Key(keys={"start": Key(schema.date), "end": Key(schema.date)}, default=EMPTY),
    "file": Key(schema.relative_path, required=True),
    "format": Key(
        schema.choice(FORMATS),
        message=f"must be one of {', '.join(FORMATS)} (or a file ending in one).",
    ),
    "sheet": Key(schema.label, message="a sheet name or number, for xlsx files only."),
    "header_row": Key(
        schema.row_number,
        message="the row number (1 = first row) of the header, for csv/xlsx only.",
    ),
    "encoding": Key(_encoding),
    "missing_codes": Key(schema.int_list, default=[]),
    "personal_columns": Key(
        each=_A_HEADER, default=EMPTY, message="must be a list of column headers."
    ),
    "columns": Key(
        required=True,
        keys={
            "respondent_id": Key(
                schema.header,
                missing="missing: name the id column, or write respondent_id: null to number "
                "the respondents by their row in the file.",
            ),
            **{k: _HEADER for k in COLUMN_KEYS if k != "respondent_id"},
        },
    ),
    "design": Key(
        keys={
            "weight": _HEADER,
            "strata": _HEADER,
            "psu": Key(_psu),
            "fpc": _HEADER,
            "nest_psu": Key(schema.boolean, default=True, nullable=False),
            "certainty": Key(_headers, default=()),
        },
        default=EMPTY,
    ),
    "items": Key(required=True, each=_A_HEADER, mapping=True),
    "value_labels": Key(keys={c: Key(_labels(c)) for c in LABELLED_COLUMNS}, default=EMPTY),
    "checks": Key(
        keys={
            k: Key(_share if k == "max_weight_share" else schema.positive, nullable=False)
            for k in CHECK_DEFAULTS
        },
        default=EMPTY,
    ),
    "calibration": Key(
        keys={
            "method": Key(schema.choice(CALIBRATION_METHODS), default="rake", nullable=False),
            "source": Key(schema.choice(CALIBRATION_SOURCES), default="census2019", nullable=False),
            "margins": Key(schema.names(tuple(CALIBRATION_MARGINS), "margin"), required=True),
            "tables": Key(
                each=Key(
                    schema.relative_path,
                    nullable=False,
                    message="must be a csv path relative to the config file.",
                ),
                mapping=True,
                default=EMPTY,
                message="must map margin names to csv files.",
            ),
        },
        message="must be a mapping with method, source, margins (and tables).",
    ),
    "data_folders": Key(each=Key(_folder, nullable=False), message="must be a list of folders."),
}


def load_wave_config(path: str | Path) -> WaveConfig:
    """Load and check a wave config file.

    Parameters
    ----------
    path : str or Path
        The YAML config. Paths inside it (``file``) are relative to the config's folder.

    Returns
    -------
    WaveConfig
        Frozen dataclass; :meth:`WaveConfig.as_dict` gives the plain dict for the run manifest.

    Raises
    ------
    ConfigError
        Unknown keys, missing keys or bad values (:data:`WAVE_SCHEMA`), naming the config file
        and the key (e.g. ``design.weight``), an unknown instrument or item code, a data file that
        does not exist.

    Notes
    -----
    Defaults: ``format`` from the file suffix; ``sheet`` the first sheet; ``encoding`` detected
    (BOM -> utf-8-sig, valid UTF-8 -> utf-8, else cp1258); ``missing_codes`` none beyond the
    instrument's own; ``design`` entries null (one stratum, respondents are PSUs, weight 1).

    Examples
    --------
    >>> cfg = load_wave_config("waves/sipas-2024.yaml")    # doctest: +SKIP
    >>> cfg.boundary_vintage                               # doctest: +SKIP
    'pre2025'
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: wave config file not found.")
    try:
        text = path.read_text(encoding="utf-8-sig")
        raw = _yaml_load(text)
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a readable YAML file ({exc}).") from None
    except ValueError as exc:  # YAML reads 2022-13-45 as a date and the calendar refuses it
        raise _impossible_date(path, text, exc) from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a wave config must be a YAML mapping of keys to values.")
    cfg = schema.check(path, raw, WAVE_SCHEMA)

    start, end = cfg["fieldwork"]["start"], cfg["fieldwork"]["end"]
    if start and end and end < start:
        raise _cfg_error(path, "fieldwork", f"end {end} is before start {start}.")
    file_spec = cfg["file"]
    data_file = (path.parent / file_spec).resolve()
    allowed = _allowed_folders(path, cfg["data_folders"])
    if not any(data_file == a or a in data_file.parents for a in allowed):
        raise _cfg_error(
            path,
            "file",
            f"tệp dữ liệu {file_spec!r} ({data_file}) nằm ngoài dự án / the data file lies outside "
            f"the project: allowed are {', '.join(str(a) for a in allowed)}. Đặt tệp vào thư mục "
            f"dự án, hoặc thêm thư mục vào `data_folders:` hoặc biến môi trường "
            f"{DATA_FOLDERS_ENV} / move it into the project, or list its folder under "
            f"`data_folders:` or in {DATA_FOLDERS_ENV}.",
        )
    if not data_file.is_file():
        raise _cfg_error(path, "file", f"data file {file_spec!r} not found next to the config.")
    written = Path(os.path.normpath(path.parent.absolute() / file_spec))
    file_link = None if written == data_file else f"{file_spec} -> {data_file}"
    limits = {**CHECK_DEFAULTS, **{k: v for k, v in cfg["checks"].items() if v is not None}}
    size_mb = data_file.stat().st_size / 1e6
    if size_mb > limits["max_file_mb"]:
        raise _cfg_error(
            path,
            "file",
            f"tệp dữ liệu {file_spec!r} lớn {size_mb:.0f} MB, quá giới hạn "
            f"{limits['max_file_mb']:g} MB / the data file is {size_mb:.0f} MB, above the limit of "
            f"{limits['max_file_mb']:g} MB; raise it with `checks: {{max_file_mb: N}}` if the "
            "file is right.",
        )
    fmt = cfg["format"] or _SUFFIX_FORMAT.get(data_file.suffix.lower())
    if fmt is None:
        raise _cfg_error(path, "format", WAVE_SCHEMA["format"].message)
    for key, formats in (("sheet", ("xlsx",)), ("header_row", ("csv", "xlsx"))):
        if cfg[key] is not None and fmt not in formats:
            raise _cfg_error(path, key, WAVE_SCHEMA[key].message)
    if cfg["encoding"] is not None and fmt != "csv":
        raise _cfg_error(path, "encoding", "for csv files only.")

    columns = cfg["columns"]
    if columns["commune"] is None and columns["commune_code"] is None:
        raise _cfg_error(path, "columns.commune", "give columns.commune or columns.commune_code.")
    design = {
        k: cfg["design"][k] for k in ("weight", "strata", "fpc", "psu", "nest_psu", "certainty")
    }
    items: dict[str, str] = {}
    seen: dict[str, str] = {}
    for code, header in cfg["items"].items():
        if _header_key(header) in seen:
            raise _cfg_error(
                path,
                f"items.{code}",
                f"header {header!r} is already mapped to items.{seen[_header_key(header)]}.",
            )
        seen[_header_key(header)] = code
        items[code] = header

    mapped = {**{f"columns.{k}": v for k, v in columns.items()}}
    mapped.update(_design_headers(design))
    mapped.update({f"items.{k}": v for k, v in items.items()})
    personal = tuple(cfg["personal_columns"])
    personal_keys = {_header_key(p) for p in personal}
    for key, header in mapped.items():
        if header is None:
            continue
        if _header_key(header) in personal_keys or is_personal_header(header):
            raise _cfg_error(
                path,
                key,
                f"column {header!r} is personal data (name, phone, address, ID number); "
                "it is dropped at load and cannot be used.",
            )

    survey, instrument_name = cfg["survey"], cfg["instrument"]
    instrument = _load_instrument(path, instrument_name)
    known = set(instrument.items["code"].astype(str))
    for code in items:
        if code not in known:
            raise _cfg_error(
                path, f"items.{code}", f"not an item of instrument {instrument_name!r}."
            )
    inst_survey = getattr(instrument, "survey", None)
    if isinstance(inst_survey, str) and inst_survey and inst_survey != survey:
        raise _cfg_error(
            path, "instrument", f"{instrument_name!r} is a {inst_survey} instrument, not {survey}."
        )

    return WaveConfig(
        config_path=path,
        wave=str(cfg["wave"]),
        survey=survey,
        instrument=instrument_name,
        boundary_vintage=cfg["boundary_vintage"],
        file=data_file,
        file_spec=file_spec,
        format=fmt,
        sheet=cfg["sheet"],
        header_row=cfg["header_row"],
        encoding=cfg["encoding"],
        fieldwork_start=start,
        fieldwork_end=end,
        missing_codes=tuple(int(m) for m in cfg["missing_codes"]),
        personal_columns=personal,
        columns=columns,
        design=design,
        items=items,
        value_labels={k: v for k, v in cfg["value_labels"].items() if v is not None},
        checks=limits,
        weight_configured="weight" in (raw.get("design") or {}),
        calibration=_calibration(path, cfg["calibration"]),
        file_link=file_link,
    )


def _allowed_folders(path: Path, listed: list[str] | None) -> list[Path]:
    """Folders a config's data file may lie in: the config's project (the folder that holds
    the ``waves/`` folder the config sits in, at any depth — ``project/waves/x.yaml`` or
    ``project/waves/2026/x.yaml`` —, else the config folder's parent: a project keeps
    ``waves/`` beside ``data/``), the repository, the config's ``data_folders`` (relative to
    the config) and those of :data:`DATA_FOLDERS_ENV`."""
    from sipas_analysis.paths import REPO_ROOT

    here = path.resolve().parent
    project = next((p.parent for p in (here, *here.parents) if p.name == "waves"), here.parent)
    folders = [project, REPO_ROOT.resolve()]
    folders += [(path.parent / f).resolve() for f in listed or []]
    env = os.environ.get(DATA_FOLDERS_ENV, "")
    folders += [Path(f).resolve() for f in env.split(os.pathsep) if f.strip()]
    return list(dict.fromkeys(folders))


def _calibration(path: Path, cal: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``calibration:`` key (checked by :data:`WAVE_SCHEMA`) with its rules between keys:
    ``{method, source, margins, tables}`` (None when absent).

    Format::

        calibration:
          method: rake            # rake | poststratify (one margin: the post-strata)
          source: census2019      # commune / area / urban_rural totals of the 2019 census
          margins: [sex_age_band, urban_rural, commune]
          tables:                 # margins the census reference does not hold
            sex_age_band: sex_age_2019.csv   # columns sex, age_band and total (or share)
    """
    if cal is None:
        return None
    margins = cal["margins"]
    if cal["method"] == "poststratify" and len(margins) != 1:
        raise _cfg_error(
            path,
            "calibration.margins",
            "poststratify takes one margin (its cells are the post-strata, e.g. "
            "commune_urban_rural); use method: rake for several margins.",
        )
    tables: dict[str, Path] = {}
    for name, spec in cal["tables"].items():
        where = f"calibration.tables.{name}"
        if name not in margins:
            raise _cfg_error(path, where, "not one of calibration.margins.")
        file = (path.parent / spec).resolve()
        if not file.is_file():
            raise _cfg_error(path, where, f"file {spec!r} not found next to the config.")
        tables[name] = file
    for m in margins:
        if not CALIBRATION_MARGINS[m][1] and m not in tables:
            raise _cfg_error(
                path,
                f"calibration.tables.{m}",
                f"margin {m!r} is not in the 2019 census reference (it holds commune population: "
                "total, urban, rural); give its population table (csv with the margin's columns "
                "and total or share).",
            )
    return {"method": cal["method"], "source": cal["source"], "margins": margins, "tables": tables}


def _calibration_record(cal: dict[str, Any] | None) -> dict[str, Any] | None:
    """The calibration settings for the manifest (table files by name, no machine paths)."""
    if cal is None:
        return None
    return {
        "method": cal["method"],
        "source": cal["source"],
        "margins": list(cal["margins"]),
        "tables": {k: Path(v).name for k, v in cal["tables"].items()},
    }


def _design_headers(design: dict[str, Any]) -> dict[str, str]:
    """Config key -> file header of the design columns (``design.psu[i]`` for a PSU list)."""
    out: dict[str, str] = {}
    for k in ("weight", "strata", "psu", "fpc"):
        v = design.get(k)
        if isinstance(v, tuple):
            out.update({f"design.{k}[{i}]": h for i, h in enumerate(v)})
        elif v:
            out[f"design.{k}"] = v
    return out


def _load_instrument(config_path: Path | None, name: str):
    from sipas_analysis.instruments import INSTRUMENTS_DIR

    file = INSTRUMENTS_DIR / f"{name}.yaml"
    stamp = file.stat().st_mtime_ns if file.exists() else None
    try:
        return _instrument_cached(name, stamp)
    except SipasError as exc:
        where = f"{config_path}: key 'instrument': " if config_path else ""
        raise ConfigError(f"{where}cannot load instrument {name!r}: {exc}") from None


@functools.lru_cache(maxsize=16)
def _instrument_cached(name: str, stamp: int | None):
    """Instrument definitions, loaded once per file version (``stamp`` = modification time)."""
    from sipas_analysis.instruments import load_instrument

    return load_instrument(name)


_DATE_LINE = re.compile(r"^\s*-?\s*([^:#\s][^:#]*?)\s*:\s*['\"]?(\d{4}-\d{1,2}-\d{1,2})\b")


def _impossible_date(path: Path, text: str, exc: ValueError) -> ConfigError:
    """The config error of a date the calendar refuses (``2022-13-45``), naming line and key."""
    for number, line in enumerate(text.splitlines(), start=1):
        m = _DATE_LINE.match(line)
        if not m:
            continue
        try:
            dt.date(*(int(x) for x in m.group(2).split("-")))
        except ValueError:
            return ConfigError(
                f"{path}: dòng {number}, khoá '{m.group(1)}': {m.group(2)} không phải ngày có "
                f"thật / line {number}, key '{m.group(1)}': {m.group(2)} is not a real date "
                f"({exc}); write it as YYYY-MM-DD, e.g. 2022-09-12."
            )
    return ConfigError(f"{path}: a value cannot be read ({exc}).")


def _yaml_load(text: str):
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader


def find_config_for(data_file: str | Path, search_dirs: list[Path] | None = None) -> Path:
    """Find the wave config whose ``file`` is this data file.

    Looks at the ``*.yaml`` / ``*.yml`` files next to the data file, then in ``search_dirs``
    (default: the project's ``waves/`` folder).

    Parameters
    ----------
    data_file : str or Path
    search_dirs : list of Path, optional

    Returns
    -------
    Path
        The one config naming the file.

    Raises
    ------
    SipasError
        No config or more than one names this file; the message says what a config needs.
    """
    from sipas_analysis.paths import WAVES_DIR

    data_file = Path(data_file).resolve()
    if not data_file.is_file():
        raise InputError("file not found.", file=str(data_file.name))
    dirs = [data_file.parent, *(search_dirs if search_dirs is not None else [WAVES_DIR])]
    found: list[Path] = []
    for folder in dict.fromkeys(d.resolve() for d in dirs if d.is_dir()):
        for cfg in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
            try:
                spec = (_yaml_load(cfg.read_text(encoding="utf-8-sig")) or {}).get("file")
            except (yaml.YAMLError, UnicodeDecodeError, AttributeError):
                continue
            if isinstance(spec, str) and (cfg.parent / spec).resolve() == data_file:
                found.append(cfg)
    if len(found) == 1:
        return found[0]
    if not found:
        raise SipasError(
            f"Không tìm thấy tệp cấu hình đợt khảo sát cho {data_file.name}. / No wave config names "
            f"{data_file.name}. A data file is validated against its wave config (YAML), which says "
            "which instrument, boundary vintage and column headers it uses. Put a config next to "
            "the file (or in waves/) with at least: wave, survey, instrument, boundary_vintage, "
            f"file: {data_file.name}, columns: {{respondent_id: ..., commune: ...}}, items: "
            "{item_code: header, ...} — then run `sipas validate THAT_CONFIG.yaml`."
        )
    names = ", ".join(c.name for c in found)
    raise SipasError(
        f"Several wave configs name {data_file.name} ({names}): run `sipas validate` on one of them."
    )


# ---------------------------------------------------------------------------------------------
# Reading the source file
# ---------------------------------------------------------------------------------------------


@dataclass
class _Source:
    frame: pd.DataFrame  # columns 0..k-1 (positions), one row per non-blank data row
    headers: list[str]  # NFC headers, position-aligned with frame columns
    labels: list[str | None]  # variable labels (sav/dta)
    source_row: np.ndarray  # int64, row numbers as in the file
    blank_rows: list[int]
    value_labels: dict[int, dict]  # column position -> {code: label}
    declared_missing: dict[int, set]  # column position -> user-missing codes (sav)
    header_row: int | None  # row number of the header in csv/xlsx, None for sav/dta
    encoding: str | None = None
    rows_above_header: list[int] = field(default_factory=list)  # title / blank rows skipped
    sheet: str | None = None


def _detect_encoding(data: bytes) -> str:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1258"
    return "utf-8"


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or not str(value).strip()


_CHUNK = 1 << 22  # bytes read at a time when a CSV file is checked


def _csv_encoding(cfg: WaveConfig, label: str) -> str:
    """The encoding of a CSV file (the config's, else detected), checked over the whole file
    chunk by chunk (the file is never held in memory as a whole)."""
    with open(cfg.file, "rb") as fh:
        head = fh.read(_CHUNK)
        if cfg.encoding:
            encoding = cfg.encoding
        elif head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        else:
            encoding = "utf-8"
        if encoding == "utf-8" and head.startswith(codecs.BOM_UTF8):
            encoding = "utf-8-sig"
        decoder = codecs.getincrementaldecoder(encoding)()
        offset, chunk = 0, head
        try:
            while chunk:
                decoder.decode(chunk)
                offset += len(chunk)
                chunk = fh.read(_CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            if cfg.encoding is None and encoding == "utf-8":
                return _csv_encoding_fallback(cfg, label)
            raise InputError(
                f"the file is not valid {encoding} text (byte {offset + exc.start}); set "
                "`encoding:` in the config to utf-8, utf-8-sig or cp1258 (Windows-1258).",
                file=label,
            ) from None
    return encoding


def _csv_encoding_fallback(cfg: WaveConfig, label: str) -> str:
    """Not UTF-8 and no ``encoding:`` given: Windows-1258, checked over the whole file."""
    import dataclasses

    return _csv_encoding(dataclasses.replace(cfg, encoding="cp1258"), label)


def _head_rows(table: pd.DataFrame, header_row: int | None) -> list[list[object]]:
    """The first rows of a CSV table as lists: those the header search looks at (up to the
    ``_HEADER_SCAN``-th non-blank row, or to ``header_row``)."""
    if header_row is not None:  # a header_row beyond the file gives fewer rows: reported
        return table.iloc[:header_row].values.tolist()
    blank = table.isna().all(axis=1).to_numpy()
    nonblank = np.flatnonzero(~blank)
    stop = int(nonblank[_HEADER_SCAN - 1]) + 1 if len(nonblank) >= _HEADER_SCAN else len(table)
    return table.iloc[:stop].values.tolist()


def _csv_table(cfg: WaveConfig, label: str) -> tuple[pd.DataFrame, str]:
    """The cells of a CSV file as one frame of text (columns ``0..width-1``, blanks as None,
    ragged rows padded), and the encoding used.

    Read in two passes: the widest row (Python's csv module, streaming), then the cells
    (pandas' C parser, every value as text): memory stays near the size of the cells themselves.
    """
    import csv

    encoding = _csv_encoding(cfg, label)
    with open(cfg.file, encoding=encoding, newline="") as fh:
        sample = fh.read(50000)
    # the separator is the one the header uses most: the widest of the first lines
    lines = [ln for ln in sample.splitlines()[:50] if ln.strip(" ,;\t")]
    seps = [",", ";", "\t"]
    sep = max(seps, key=lambda c: max((ln.count(c) for ln in lines), default=0))
    width = 0
    try:
        with open(cfg.file, encoding=encoding, newline="") as fh:
            for row in csv.reader(fh, delimiter=sep):
                width = max(width, len(row))
    except csv.Error as exc:
        raise InputError(f"cannot read the CSV file: {exc}", file=label) from None
    if width == 0:
        return pd.DataFrame({0: pd.Series(dtype=object)}).iloc[:0], encoding
    try:
        table = pd.read_csv(
            cfg.file,
            sep=sep,
            header=None,
            names=range(width),
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            encoding=encoding,
            engine="c",
            quotechar='"',
            doublequote=True,
            low_memory=False,
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as exc:
        raise InputError(f"cannot read the CSV file: {exc}", file=label) from None
    for col in table.columns:
        codes, uniques = pd.factorize(table[col], use_na_sentinel=True)
        conv = np.array(
            [u if (isinstance(u, str) and u.strip()) else None for u in uniques] + [None],
            dtype=object,
        )
        table[col] = conv[codes]
    return table, encoding


def _xlsx_sheets(cfg: WaveConfig, label: str) -> dict[str, list[list[object]]]:
    """The cells of the candidate sheets of a workbook, merged cells filled with their value.

    The sheet named in the config, else every sheet holding data. The workbook is only read.
    """
    import openpyxl

    _check_zip(cfg.file, label)
    try:
        book = openpyxl.load_workbook(cfg.file, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any reader failure is an unreadable input file
        raise InputError(
            f"cannot read the xlsx file ({type(exc).__name__}: {exc}).", file=label
        ) from None
    names = book.sheetnames
    if cfg.sheet is not None:
        if isinstance(cfg.sheet, int) and 0 <= cfg.sheet < len(names):
            chosen = [names[cfg.sheet]]
        elif isinstance(cfg.sheet, str) and cfg.sheet in names:
            chosen = [cfg.sheet]
        else:
            raise InputError(
                f"không có trang tính {cfg.sheet!r} / sheet {cfg.sheet!r} not found; the "
                f"workbook has: {', '.join(names)}.",
                file=label,
            )
    else:
        chosen = names
    out: dict[str, list[list[object]]] = {}
    for name in chosen:
        ws = book[name]
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
        for rng in ws.merged_cells.ranges:
            value = grid[rng.min_row - 1][rng.min_col - 1]
            for r in range(rng.min_row - 1, min(rng.max_row, len(grid))):
                for c in range(rng.min_col - 1, min(rng.max_col, len(grid[r]))):
                    grid[r][c] = value
        if cfg.sheet is not None or any(not _is_blank(v) for row in grid for v in row):
            out[name] = grid
    if not out:
        raise InputError("the workbook has no sheet with data.", file=label)
    return out


def _check_zip(file: Path, label: str) -> None:
    """Refuse an .xlsx that is no zip archive, or that unpacks far beyond its size (zip bomb),
    from the archive's directory alone (nothing is unpacked)."""
    import zipfile

    try:
        with zipfile.ZipFile(file) as archive:
            unpacked = sum(max(info.file_size, 0) for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise InputError(
            f"tệp không phải bảng tính .xlsx đọc được (không phải tệp zip hợp lệ) / the file is "
            f"not a readable .xlsx workbook (not a valid zip archive: {exc}). Mở và lưu lại bằng "
            "Excel / open it in Excel and save it again.",
            file=label,
        ) from None
    size = max(file.stat().st_size, 1)
    if unpacked > XLSX_MAX_RATIO * size or unpacked > XLSX_MAX_UNPACKED_MB * 1e6:
        raise InputError(
            f"bảng tính giải nén ra {unpacked / 1e6:.0f} MB từ {size / 1e6:.1f} MB (gấp "
            f"{unpacked / size:.0f} lần): từ chối đọc / the workbook unpacks to "
            f"{unpacked / 1e6:.0f} MB from {size / 1e6:.1f} MB ({unpacked / size:.0f} times its "
            f"size; limit {XLSX_MAX_RATIO:g} times and {XLSX_MAX_UNPACKED_MB:g} MB): refused "
            "before reading (a damaged or malicious file). Xuất lại thành .csv / export it again "
            "as .csv.",
            file=label,
        )


_HEADER_SCAN = 30  # non-blank rows searched for the header


def _find_header(
    rows: list[list[object]], wanted: list[str], header_row: int | None, label: str
) -> tuple[int, int]:
    """Index (0-based) of the header row and how many config headers it holds.

    The given ``header_row`` (1-based), else the row among the first non-blank rows that holds
    the most of the config's headers (title rows, notes and blank lines above it are skipped).
    """
    if header_row is not None:
        if header_row > len(rows):
            raise InputError(
                f"header_row {header_row} is beyond the last row of the file ({len(rows)}).",
                file=label,
            )
        cells = [_cell_header(v) for v in rows[header_row - 1]]
        return header_row - 1, _HeaderIndex(cells, [None] * len(cells)).count(wanted)
    best, best_hits, seen = -1, 0, 0
    for i, row in enumerate(rows):
        if all(_is_blank(v) for v in row):
            continue
        seen += 1
        if seen > _HEADER_SCAN:
            break
        cells = [_cell_header(v) for v in row]
        hits = _HeaderIndex(cells, [None] * len(cells)).count(wanted)
        if hits > best_hits:
            best, best_hits = i, hits
    return best, best_hits


def _no_header_error(rows: list[list[object]], label: str, sheet: str | None) -> InputError:
    first = next((r for r in rows if not all(_is_blank(v) for v in r)), None)
    shown = (
        ", ".join(repr(_cell_header(v)) for v in first if not _is_blank(v))[:300]
        if first
        else "(trống / empty)"
    )
    where = f" (sheet {sheet!r})" if sheet else ""
    return InputError(
        f"không tìm thấy dòng tiêu đề cột{where}: không dòng nào trong {_HEADER_SCAN} dòng đầu "
        "chứa tiêu đề nào của cấu hình / no usable header row found: none of the first "
        f"{_HEADER_SCAN} non-blank rows holds any column header of the config. First row: "
        f"{shown}. Sửa tiêu đề hoặc ghi `header_row:` / fix the headers or set `header_row:`.",
        file=label,
    )


def _cell_header(value: object) -> str:
    if _is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(_nfc(value).split())


def _wanted_headers(cfg: WaveConfig) -> dict[str, str]:
    """Config key -> header of every column the config maps (columns, design, items)."""
    wanted: dict[str, str] = {f"columns.{k}": v for k, v in cfg.columns.items() if v}
    wanted.update(_design_headers(cfg.design))
    wanted.update({f"items.{k}": v for k, v in cfg.items.items()})
    return wanted


def _read_source(cfg: WaveConfig) -> _Source:
    label = cfg.file.name
    labels: list[str | None] = []
    value_labels: dict[int, dict] = {}
    declared: dict[int, set] = {}
    encoding = None
    above: list[int] = []
    sheet_used = None
    try:
        if cfg.format in ("csv", "xlsx"):
            wanted = list(_wanted_headers(cfg).values())
            table = None
            if cfg.format == "csv":
                table, encoding = _csv_table(cfg, label)
                sheets = {None: _head_rows(table, cfg.header_row)}
            else:
                sheets = _xlsx_sheets(cfg, label)
            found = {
                name: _find_header(rows, wanted, cfg.header_row, label)
                for name, rows in sheets.items()
            }
            if all(not any(not _is_blank(v) for r in rows for v in r) for rows in sheets.values()):
                raise InputError("the file has no header row and no data.", file=label)
            best = max(found, key=lambda k: found[k][1])
            if found[best][1] == 0 and cfg.header_row is None:
                if len(sheets) > 1:
                    raise InputError(
                        "không trang tính nào chứa tiêu đề cột của cấu hình / no sheet holds the "
                        f"config's column headers; sheets: {', '.join(map(str, sheets))}. Ghi "
                        "`sheet:` / set `sheet:` in the config.",
                        file=label,
                    )
                raise _no_header_error(sheets[best], label, best)
            rows = sheets[best]
            sheet_used = best
            h = found[best][0]
            if table is not None:  # csv: the frame of every cell, read once
                width = table.shape[1]
                headers = [_cell_header(v) for v in table.iloc[h].tolist()]
                frame = table.iloc[h + 1 :].reset_index(drop=True)
                del table
            else:
                width = max(len(r) for r in rows)
                grid = [list(r) + [None] * (width - len(r)) for r in rows]
                headers = [_cell_header(v) for v in grid[h]]
                frame = pd.DataFrame(grid[h + 1 :], columns=range(width), dtype=object)
            above = list(range(1, h + 1))
            if frame.empty:
                frame = pd.DataFrame({c: pd.Series(dtype=object) for c in range(width)})
            source_row = np.arange(h + 2, h + 2 + len(frame), dtype="int64")
            header_row: int | None = h + 1
            labels = [None] * len(headers)
        else:
            import pyreadstat

            reader = pyreadstat.read_sav if cfg.format == "sav" else pyreadstat.read_dta
            frame, meta = reader(str(cfg.file), user_missing=True)
            headers = [_nfc(h) for h in frame.columns]
            labels = [
                _nfc(meta.column_names_to_labels[c]) if meta.column_names_to_labels.get(c) else None
                for c in frame.columns
            ]
            for pos, name in enumerate(frame.columns):
                if name in meta.variable_value_labels:
                    value_labels[pos] = {
                        k: _nfc(v) for k, v in meta.variable_value_labels[name].items()
                    }
                ranges = (getattr(meta, "missing_ranges", None) or {}).get(name) or []
                codes = {r["lo"] for r in ranges if r.get("lo") == r.get("hi")}
                if codes:
                    declared[pos] = codes
            frame.columns = range(frame.shape[1])
            source_row = np.arange(1, len(frame) + 1, dtype="int64")
            header_row = None
    except SipasError:
        raise
    except ValueError as exc:
        raise InputError(f"cannot read the {cfg.format} file: {exc}", file=label) from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is an unreadable input file
        raise InputError(
            f"cannot read the {cfg.format} file ({type(exc).__name__}: {exc}).", file=label
        ) from None

    # Blank rows (every cell empty) are not records: reported as info, not counted as read.
    if len(frame):
        empty = frame.isna()
        obj_cols = [c for c in frame.columns if frame[c].dtype == object]
        for c in obj_cols:
            codes, uniques = pd.factorize(frame[c], use_na_sentinel=True)
            blank_u = np.array([str(u).strip() == "" for u in uniques] + [True], dtype=bool)
            empty[c] = blank_u[codes]
        blank = empty.all(axis=1).to_numpy()
    else:
        blank = np.zeros(0, dtype=bool)
    blank_rows = source_row[blank].tolist()
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        source_row = source_row[~blank]
    return _Source(
        frame=frame,
        headers=headers,
        labels=labels,
        source_row=source_row,
        blank_rows=blank_rows,
        value_labels=value_labels,
        declared_missing=declared,
        header_row=header_row,
        encoding=encoding,
        rows_above_header=above,
        sheet=sheet_used,
    )


# ---------------------------------------------------------------------------------------------
# Finding the config's headers among the file's columns
# ---------------------------------------------------------------------------------------------

#: A question number at the start of a header: "Câu 9.12.", "C9_12", "q9_12", "A1.", "9.12".
_QNUM = re.compile(
    r"^\s*(?P<prefix>câu|cau|c|q)?[\s_.]*(?P<letter>[a-z]?)(?P<num>\d+(?:\s*[._]\s*\d+)*)"
    r"(?=$|[^\w]|_)",
    re.IGNORECASE,
)
_TRUNCATED_LABEL_BYTES = 200  # an SPSS label this long may have been cut at 256 bytes
_MIN_PREFIX = 6  # shortest config header accepted as a prefix of a file header


def question_number(header: object) -> str | None:
    """The question number a header starts with, normalised ("Câu 9.12. …" -> "9.12").

    Parameters
    ----------
    header : object
        A column header, variable name or label.

    Returns
    -------
    str or None
        ``"9.12"`` for "Câu 9.12. Chính sách …", "C9_12", "q9_12" and "9.12."; ``"a1"`` for
        "A1. Giới tính"; None when the header does not start with a question number (a bare
        number without a dot, such as "2024", is not one).

    Examples
    --------
    >>> [question_number(h) for h in ["Câu 9.12. Chính sách", "C9_12", "q9_12", "Tuổi", "2024"]]
    ['9.12', '9.12', '9.12', None, None]
    """
    m = _QNUM.match(unicodedata.normalize("NFC", str(header)))
    if not m:
        return None
    groups = re.split(r"\s*[._]\s*", m.group("num"))
    if not (m.group("prefix") or m.group("letter") or len(groups) > 1):
        return None
    return m.group("letter").lower() + ".".join(str(int(g)) for g in groups)


def _prefix_key(header: str) -> str:
    """Header key without a trailing ellipsis ("…" or "...") for prefix matching."""
    return _header_key(header).rstrip(".… ").strip()


class _HeaderIndex:
    """The file's headers (and SPSS/Stata labels) prepared for the config's lookups.

    A config header is found, in this order: (1) exactly (after NFC, case and spacing), as a
    header or a variable label; (2) as the start of a variable label cut at 256 bytes by SPSS;
    (3) as a unique prefix of a header or label (a trailing "…" ignored); (4) by its question
    number ("Câu 9.12" = "C9_12" = "q9_12"), when one column alone carries it.
    """

    def __init__(self, headers: list[str], labels: list[str | None], skip=()) -> None:
        self.headers = headers
        self.labels = labels
        self.skip = set(skip)
        self.texts = [(i, t) for i, t in enumerate(headers) if t and i not in self.skip] + [
            (i, t) for i, t in enumerate(labels) if t and i not in self.skip
        ]
        self.keys: dict[str, list[int]] = {}
        self.numbers: dict[str, set[int]] = {}
        for i, t in self.texts:
            self.keys.setdefault(_header_key(t), []).append(i)
            num = question_number(t)
            if num:
                self.numbers.setdefault(num, set()).add(i)

    def exact(self, header: str) -> list[int]:
        hits = [i for i, h in enumerate(self.headers) if h == header and i not in self.skip]
        if not hits:
            hits = list(dict.fromkeys(self.keys.get(_header_key(header), [])))
        return sorted(hits)

    def fuzzy(self, header: str) -> tuple[list[int], str]:
        key = _header_key(header)
        cut = {
            i
            for i, lab in enumerate(self.labels)
            if lab
            and i not in self.skip
            and len(lab.encode("utf-8")) >= _TRUNCATED_LABEL_BYTES
            and key.startswith(_header_key(lab))
        }
        if len(cut) == 1:
            return sorted(cut), "nhãn SPSS bị cắt / truncated SPSS label"
        pkey = _prefix_key(header)
        if len(pkey) >= _MIN_PREFIX:
            pre = {i for i, t in self.texts if _header_key(t).startswith(pkey)}
            if len(pre) == 1:
                return sorted(pre), "phần đầu tiêu đề / header prefix"
        num = question_number(header)
        if num and len(self.numbers.get(num, ())) == 1:
            return sorted(self.numbers[num]), f"số câu hỏi / question number {num}"
        return [], ""

    def count(self, wanted: list[str]) -> int:
        return sum(1 for h in wanted if self.exact(h) or self.fuzzy(h)[0])

    def nearest(self, header: str, taken: set[int], n: int = 3) -> list[str]:
        import difflib

        pool: dict[str, str] = {}
        for i, t in self.texts:
            if i not in taken:
                pool.setdefault(_fold(t), self.headers[i] or t)
        close = difflib.get_close_matches(_fold(header), list(pool), n=n, cutoff=0.5)
        return list(dict.fromkeys(pool[c] for c in close))


def _match_columns(
    src: _Source, wanted: dict[str, str], skip: list[int]
) -> tuple[dict[str, int], dict[str, str], dict[str, str], dict[str, tuple[str, str]], dict]:
    """Locate every config header: exact matches first, then the lenient rules.

    Returns
    -------
    position, missing, duplicated, lenient, suggestions
        Config key -> column position; missing keys -> header; keys whose header is present
        twice -> header; keys found by a lenient rule -> (file header, how); missing keys -> the
        nearest headers of the file.
    """
    index = _HeaderIndex(src.headers, src.labels, skip)
    position: dict[str, int] = {}
    duplicated: dict[str, str] = {}
    for key, header in wanted.items():
        hits = index.exact(header)
        if hits:
            position[key] = hits[0]
            if len(hits) > 1:
                duplicated[key] = header
    taken = set(position.values())
    found: dict[str, tuple[int, str]] = {}
    for key, header in wanted.items():
        if key in position:
            continue
        hits, how = index.fuzzy(header)
        hits = [i for i in hits if i not in taken]
        if len(hits) == 1:
            found[key] = (hits[0], how)
    claims: dict[int, list[str]] = {}
    for key, (pos, _) in found.items():
        claims.setdefault(pos, []).append(key)
    lenient: dict[str, tuple[str, str]] = {}
    for key, (pos, how) in found.items():
        if len(claims[pos]) == 1:
            position[key] = pos
            lenient[key] = (src.headers[pos] or src.labels[pos] or "", how)
    taken = set(position.values())
    missing = {k: h for k, h in wanted.items() if k not in position}
    suggestions = {k: index.nearest(h, taken) for k, h in missing.items()}
    return position, missing, duplicated, lenient, suggestions


def _age_band(age: pd.Series) -> pd.Series:
    out = pd.Series(None, index=age.index, dtype=object)
    for band, lo, hi in AGE_BANDS:
        out[(age >= lo) & (age <= hi)] = band
    return out


# ---------------------------------------------------------------------------------------------
# The loaded wave
# ---------------------------------------------------------------------------------------------


class AccountingError(RuntimeError):
    """Internal error: rows read != rows kept + rows excluded (a bug, never a data problem)."""


@dataclass
class LoadedWave:
    """A wave read through its config.

    Attributes
    ----------
    config : WaveConfig
    respondents : DataFrame
        The canonical respondent table (kept rows only).
    exclusions : DataFrame
        ``source_row, respondent_id, checks, reason_vi, reason_en``: one row per excluded source row.
    problems : DataFrame
        The full problem list (see :func:`sipas_analysis.validate.problems_frame`).
    accounting : dict
        ``rows_read, rows_kept, rows_excluded, blank_rows`` and ``missing_codes`` (DataFrame
        ``item, column, code, count``: missing codes and blanks recoded to NA, over all rows read).
    value_labels : dict
        Canonical column -> {code: label} from the SPSS/Stata file (empty for csv/xlsx).
    encoding : str or None
        Encoding used for a CSV file.
    """

    config: WaveConfig
    respondents: pd.DataFrame
    exclusions: pd.DataFrame
    problems: pd.DataFrame
    accounting: dict[str, Any]
    value_labels: dict[str, dict] = field(default_factory=dict)
    encoding: str | None = None
    design_summary: dict[str, Any] = field(default_factory=dict)

    @property
    def has_errors(self) -> bool:
        """True when the problem list contains at least one error."""
        return bool((self.problems["severity"] == "error").any())

    @property
    def blocking_errors(self) -> pd.DataFrame:
        """The errors that stop a run: file- and design-level ones (they exclude no rows).

        See :func:`sipas_analysis.validate.blocking_errors`.
        """
        return checks.blocking_errors(self.problems)


def read_wave(config_or_path: WaveConfig | str | Path) -> LoadedWave:
    """Read a survey wave through its config into the canonical respondent table, with checks.

    Parameters
    ----------
    config_or_path : WaveConfig, or path to a wave config (or to a data file with a config next to
        it or in ``waves/``, see :func:`find_config_for`)

    Returns
    -------
    LoadedWave
        ``respondents`` (canonical table), ``exclusions``, ``problems``, ``accounting``.

    Raises
    ------
    ConfigError
        Bad config.
    InputError
        The data file cannot be read at all (wrong format, undecodable text, missing sheet).
    AccountingError
        Internal: rows read != kept + excluded.

    Notes
    -----
    Policy (see :mod:`sipas_analysis.validate`): an *error* is a problem with identifiable rows,
    which are moved to ``exclusions`` with the reason, or a problem with the file/design as a whole
    (missing column, empty stratum); a *warning* keeps the row (an unusable demographic value is
    set to NA); *info* records recoding (missing codes -> NA) and dropped personal columns.
    Accounting: ``rows_read == rows_kept + rows_excluded`` (blank lines are not rows).

    Examples
    --------
    >>> wave = read_wave("waves/sipas-2024.yaml")       # doctest: +SKIP
    >>> wave.respondents.columns[:3].tolist()           # doctest: +SKIP
    ['respondent_id', 'wave', 'survey']
    """
    if isinstance(config_or_path, WaveConfig):
        cfg = config_or_path
    else:
        path = Path(config_or_path)
        if path.suffix.lower() not in (".yaml", ".yml"):
            path = find_config_for(path)
        cfg = load_wave_config(path)
    instrument = _load_instrument(None, cfg.instrument)
    src = _read_source(cfg)
    return _build(cfg, instrument, src)


def validate_wave(config_or_path: WaveConfig | str | Path) -> pd.DataFrame:
    """Read a wave and return its full problem list (every check of :mod:`sipas_analysis.validate`).

    Parameters
    ----------
    config_or_path : WaveConfig or path of a wave config

    Returns
    -------
    pandas.DataFrame
        ``severity, check, file, column, rows, values, message_vi, message_en, count`` (see
        :meth:`sipas_analysis.validate.ProblemLog.problems_frame`).

    Raises
    ------
    SipasError
        The config is bad or the file cannot be read at all.

    Examples
    --------
    >>> validate_wave("waves/sipas-2024.yaml").query("severity == 'error'")  # doctest: +SKIP
    """
    return read_wave(config_or_path).problems


#: Values that are personal data wherever they appear (after removing spaces, dots, dashes and
#: brackets): Vietnamese phone numbers, 9- and 12-digit ID card numbers, e-mail addresses.
_PERSONAL_VALUE = PERSONAL_VALUE  # one definition, in sipas_analysis.disclosure
_PERSONAL_VALUE_SHARE = 0.5  # share of a column's non-blank values that makes it personal
_NUMERIC_KEYS = ("columns.respondent_id", "columns.commune_code", "design.weight", "design.fpc")


def _personal_by_values(series: pd.Series) -> bool:
    """True when most non-blank text values of a column are phone / ID numbers or e-mails."""
    texts = series.dropna()
    texts = texts[texts.map(lambda v: isinstance(v, str | int) and not isinstance(v, bool))]
    if texts.empty:
        return False
    uniq = pd.Series(texts.astype(str).unique())
    cleaned = uniq.str.replace(r"[\s.\-()]", "", regex=True)
    emails = uniq.str.strip().str.fullmatch(_PERSONAL_VALUE.pattern.split("|")[-1])
    hit = dict(zip(uniq, cleaned.str.fullmatch(_PERSONAL_VALUE) | emails, strict=True))
    share = texts.astype(str).map(hit).mean()
    return bool(share >= _PERSONAL_VALUE_SHARE)


def _personal_positions(src: _Source, cfg: WaveConfig, wanted: dict[str, str]) -> list[int]:
    """Columns that are personal data: by config, by header or label, or by their values."""
    personal_keys = {_header_key(p) for p in cfg.personal_columns}
    by_name = [
        i
        for i, h in enumerate(src.headers)
        if _header_key(h) in personal_keys
        or is_personal_header(h)
        or (src.labels[i] and is_personal_header(src.labels[i]))
    ]
    index = _HeaderIndex(src.headers, src.labels, by_name)
    numeric = {p for k in _NUMERIC_KEYS if k in wanted for p in index.exact(wanted[k])}
    numeric |= {p for k, h in wanted.items() if k.startswith("items.") for p in index.exact(h)}
    by_value = [
        i
        for i in range(len(src.headers))
        if i not in by_name and i not in numeric and _personal_by_values(src.frame[i])
    ]
    return sorted(by_name + by_value)


def _build(cfg: WaveConfig, instrument, src: _Source) -> LoadedWave:
    file_label = cfg.file.name
    log = checks.ProblemLog(file_label, src.source_row, header_row=src.header_row)
    n = len(src.frame)
    wanted = _wanted_headers(cfg)

    # 1. Personal columns: dropped before anything else looks at the data.
    personal_pos = _personal_positions(src, cfg, wanted)
    if personal_pos:
        src.frame = src.frame.drop(columns=personal_pos)
    personal_names = [src.headers[i] or src.labels[i] or f"#{i + 1}" for i in personal_pos]
    checks.check_personal_dropped(log, personal_names)
    present_personal = {_header_key(src.headers[i]) for i in personal_pos}
    absent_personal = [p for p in cfg.personal_columns if _header_key(p) not in present_personal]
    if cfg.file_link:
        log.add(
            "info",
            "file_symlink",
            None,
            f"tệp dữ liệu được mở qua liên kết tượng trưng (symlink): {cfg.file_link}",
            f"the data file was opened through a symbolic link: {cfg.file_link}",
            values=[cfg.file_link],
        )
    checks.check_rows_above_header(log, src.rows_above_header, src.header_row, src.sheet)
    checks.check_blank_rows(log, src.blank_rows)

    # 2. Columns: mapped headers located, missing / duplicated / extra reported.
    position, missing, duplicated, lenient, suggestions = _match_columns(src, wanted, personal_pos)
    strata_spec = cfg.design.get("strata")
    derived_strata = None
    if "design.strata" in missing and str(strata_spec).casefold() in DERIVED_STRATA:
        derived_strata = str(strata_spec).casefold()
        missing.pop("design.strata")
    used = set(position.values()) | set(personal_pos)
    extra = [h for i, h in enumerate(src.headers) if i not in used and h != ""]
    unnamed = [i for i, h in enumerate(src.headers) if h == "" and i not in used]
    unnamed_nonempty = [i for i in unnamed if src.frame[i].notna().any()]
    checks.check_columns(
        log,
        missing,
        duplicated,
        extra,
        len(unnamed_nonempty),
        absent_personal,
        suggestions=suggestions,
        lenient=lenient,
    )

    def raw(key: str) -> pd.Series | None:
        pos = position.get(key)
        return None if pos is None else src.frame[pos]

    def header(key: str) -> str:
        pos = position.get(key)
        if pos is not None:
            return src.headers[pos] or src.labels[pos] or wanted.get(key, key)
        return wanted.get(key, key)

    value_labels: dict[str, dict] = {}
    for key, pos in position.items():
        if pos in src.value_labels:
            value_labels[key.split(".", 1)[1]] = src.value_labels[pos]

    out: dict[str, Any] = {}

    # 3. Respondent id, duplicates.
    if cfg.columns["respondent_id"] is None:
        # respondent_id: null -- the file has no id column: the source row number is the id.
        ids = pd.Series([str(int(r)) for r in src.source_row], dtype=object)
        checks.check_ids_from_rows(log)
    else:
        ids = (
            to_text(raw("columns.respondent_id"))
            if raw("columns.respondent_id") is not None
            else None
        )
        if ids is None:
            ids = pd.Series([None] * n, dtype=object)
        checks.check_ids(
            log, ids, header("columns.respondent_id"), "columns.respondent_id" in position
        )
    out["respondent_id"] = ids

    # 4. Communes.
    vintage = cfg.boundary_vintage
    table = geography.communes(vintage).set_index("commune_code")
    strata_text = to_text(raw("design.strata")) if raw("design.strata") is not None else None
    area_hint = None
    if strata_text is not None:
        as_num = pd.to_numeric(strata_text, errors="coerce")
        if as_num.dropna().isin(geography.areas()["area_code"]).all() and as_num.notna().any():
            area_hint = as_num
    codes, name_raw = _resolve(cfg, src, position, raw, header, area_hint, log, table)
    out["commune_code"] = codes
    out["commune_name"] = codes.map(table["commune_name"]).astype(object)
    out["area_code"] = codes.map(table["area_code"]).astype("Int64")
    out["area_name"] = codes.map(table["area_name"]).astype(object)
    checks.check_abolished(log, codes, table, cfg, header("columns.commune"), name_raw)

    # 5. Design: stratum, PSU, weight, fpc.
    has_strata = "design.strata" in position or derived_strata is not None
    strata_column = header("design.strata")
    if strata_text is not None:
        stratum = strata_text
        checks.check_missing_value(log, stratum, strata_column, "missing_stratum")
    elif derived_strata is not None:
        source = out["area_code"] if derived_strata == "area" else codes
        stratum = (
            source.astype(object)
            .where(source.notna(), None)
            .map(lambda v: None if v is None else str(v))
        )
        checks.check_derived_strata(log, derived_strata)
    else:
        stratum = pd.Series("1", index=range(n), dtype=object)
    psu_keys = [k for k in wanted if k == "design.psu" or k.startswith("design.psu[")]
    psu_column = " + ".join(header(k) for k in psu_keys) if psu_keys else header("design.psu")
    if psu_keys and all(k in position for k in psu_keys):
        # The commune part of a PSU list is the resolved commune code, not the raw text: a
        # commune spelled in several ways ("Xã Hoà Khánh" / "hòa khánh") stays one commune.
        commune_pos = {
            position[k] for k in ("columns.commune", "columns.commune_code") if k in position
        }
        code_text = (
            codes.astype(object)
            .where(codes.notna(), None)
            .map(lambda v: None if v is None else str(v))
        )
        parts = []
        for k in psu_keys:
            text = _one_spelling(log, to_text(raw(k)), header(k))
            # rows whose commune did not resolve keep their text (they are excluded anyway)
            parts.append(
                code_text.where(code_text.notna(), text) if position[k] in commune_pos else text
            )
        psu = parts[0]
        for part in parts[1:]:
            psu = (psu + " / " + part).where(psu.notna() & part.notna(), None)
        checks.check_missing_value(log, psu, psu_column, "missing_psu")
        psu = checks.check_psu_communes(log, psu, codes, psu_column, cfg.design["nest_psu"])
    else:
        psu = ids.copy()
    if cfg.design.get("certainty"):
        stratum, psu = checks.apply_certainty(
            log, stratum, psu, ids, cfg.design["certainty"], psu_column
        )
        has_strata = True
    if raw("design.weight") is not None:
        weight, bad = to_number(raw("design.weight"))
        checks.check_weights(
            log, weight, bad, to_text(raw("design.weight")), header("design.weight")
        )
    else:
        weight = pd.Series(1.0, index=range(n), dtype="float64")
        if not cfg.weight_configured:
            checks.check_weight_not_configured(log)
    out["stratum"], out["psu"], out["weight"] = stratum, psu, weight
    if cfg.design.get("fpc"):
        if raw("design.fpc") is not None:
            fpc, bad = to_number(raw("design.fpc"))
            checks.check_fpc(log, fpc, bad, to_text(raw("design.fpc")), header("design.fpc"))
        else:
            fpc = pd.Series(np.nan, index=range(n), dtype="float64")
        out["fpc"] = fpc
    village = to_text(raw("columns.village")) if raw("columns.village") is not None else None
    out["village"] = village if village is not None else pd.Series([None] * n, dtype=object)

    # 6. Demographics (warnings: bad values become NA, the row is kept).
    labels_for = {
        col: cfg.value_labels.get(col) or value_labels.get(col) or {} for col in LABELLED_COLUMNS
    }
    out["sex"] = _coded(n, raw, header, "columns.sex", "sex", labels_for["sex"], log)
    out["urban_rural"] = _coded(
        n, raw, header, "columns.urban_rural", "urban_rural", labels_for["urban_rural"], log
    )
    age, age_band = _age(n, raw, header, log, labels_for["age_band"])
    out["age"], out["age_band"] = age, age_band
    checks.check_optional_columns(
        log,
        {
            "sex": ("columns.sex" in position, out["sex"].notna().any()),
            "age_band": (
                "columns.age" in position or "columns.age_band" in position,
                pd.Series(out["age_band"]).notna().any(),
            ),
            "urban_rural": ("columns.urban_rural" in position, out["urban_rural"].notna().any()),
        },
    )

    # 7. Items: codes, missing codes, filters, value labels of the file against the instrument.
    items = instrument.items.reset_index(drop=True)
    answers: dict[str, pd.Series] = {}
    missing_rows = []
    item_headers: dict[str, str] = {}
    for row in items.itertuples(index=False):
        code = str(row.code)
        key = f"items.{code}"
        series = raw(key)
        if series is None:
            dtype = "Float64" if getattr(row, "answer_type", "") == "continuous" else "Int64"
            answers[code] = pd.Series(pd.NA, index=range(n), dtype=dtype)
            continue
        item_headers[code] = header(key)
        miss = set(cfg.missing_codes) | {int(m) for m in (row.missing_codes or ())}
        miss |= {
            int(m) for m in src.declared_missing.get(position[key], set()) if float(m) == int(m)
        }
        if code in value_labels and row.top_box:
            checks.check_scale_labels(
                log, code, header(key), value_labels[code], instrument.value_labels(code)
            )
        values, counts = checks.check_item_codes(
            log,
            code,
            header(key),
            series,
            tuple(row.valid_codes or ()),
            tuple(sorted(miss)),
            (getattr(row, "scale_min", None), getattr(row, "scale_max", None)),
            continuous=getattr(row, "answer_type", "") == "continuous",
        )
        answers[code] = values
        for c, k in counts.items():
            missing_rows.append({"item": code, "column": header(key), "code": c, "count": k})
    unmapped = [str(c) for c in items["code"] if f"items.{c}" not in wanted]
    checks.check_unmapped_items(log, unmapped, cfg.instrument)
    checks.check_filters(log, items, answers, item_headers)

    # 8. Design structure (on rows not already excluded) and the file as a whole.
    checks.check_design(log, stratum, psu, strata_column, psu_column, has_strata)
    checks.check_vintage_dates(log, cfg)
    kept = ~log.excluded_mask(n)
    checks.check_weight_limits(
        log,
        weight,
        to_text(raw("design.weight")) if raw("design.weight") is not None else None,
        header("design.weight"),
        kept,
        cfg.checks,
    )
    checks.check_respondent_count(log, int(kept.sum()), n, int(cfg.checks["min_respondents"]))
    checks.check_items_answered(
        log, answers, item_headers, {c: to_text(raw(f"items.{c}")) for c in item_headers}, kept
    )
    design_summary = checks.check_design_summary(
        log, stratum, psu, codes, kept, has_strata, psu_keys != []
    )

    # 9. Split kept / excluded and account.
    excluded = log.excluded_mask(n)
    front = {
        "respondent_id": out["respondent_id"],
        "wave": pd.Series(cfg.wave, index=range(n), dtype=object),
        "survey": pd.Series(cfg.survey, index=range(n), dtype=object),
        "instrument": pd.Series(cfg.instrument, index=range(n), dtype=object),
        "boundary_vintage": pd.Series(vintage, index=range(n), dtype=object),
        "source_row": pd.Series(src.source_row, dtype="int64"),
        "commune_code": out["commune_code"].astype("Int64"),
        "commune_name": out["commune_name"],
        "area_code": out["area_code"],
        "area_name": out["area_name"],
        "stratum": out["stratum"].astype(object),
        "psu": out["psu"].astype(object),
        "village": out["village"].astype(object),
        "weight": out["weight"].astype("float64"),
    }
    if "fpc" in out:
        front["fpc"] = out["fpc"].astype("float64")
    front.update(
        {
            "sex": out["sex"],
            "age": out["age"],
            "age_band": out["age_band"],
            "urban_rural": out["urban_rural"],
        }
    )
    full = pd.DataFrame({**front, **answers})
    full.index = range(n)
    respondents = full.loc[~excluded].reset_index(drop=True)
    for col in ("respondent_id", "commune_name", "area_name", "stratum", "psu", "village"):
        respondents[col] = respondents[col].astype(object)
    exclusions = log.exclusions_frame(ids)
    problems = log.problems_frame()

    accounting = {
        "rows_read": int(n),
        "rows_kept": int(len(respondents)),
        "rows_excluded": int(len(exclusions)),
        "blank_rows": len(src.blank_rows),
        "missing_codes": pd.DataFrame(missing_rows, columns=["item", "column", "code", "count"]),
    }
    if accounting["rows_read"] != accounting["rows_kept"] + accounting["rows_excluded"]:
        raise AccountingError(
            f"internal error: rows read {n} != kept {len(respondents)} + excluded {len(exclusions)}"
        )
    return LoadedWave(
        config=cfg,
        respondents=respondents,
        exclusions=exclusions,
        problems=problems,
        accounting=accounting,
        value_labels=value_labels,
        encoding=src.encoding,
        design_summary=design_summary,
    )


def _one_spelling(log: checks.ProblemLog, text: pd.Series, column: str) -> pd.Series:
    """PSU labels written in several ways ("Ấp 1" / "ấp 1", "Hoà" / "Hòa") taken as one.

    Labels are compared after NFC, one tone-mark style, single spaces and case
    (:func:`sipas_analysis.geography.normalize_name`, case-folded); each group takes its most
    frequent spelling (info ``psu_label_spelling``). Labels that differ in a letter or a tone mark
    ("Ấp Tân Hòa" / "Ấp Tân Hóa") stay apart.
    """
    present = text.dropna()
    if present.empty:
        return text
    key = present.map(lambda v: geography.normalize_name(v).casefold())
    counts = pd.DataFrame({"key": key, "text": present}).value_counts(sort=True)
    first = counts.reset_index().drop_duplicates("key").set_index("key")["text"]
    variants = counts.reset_index().groupby("key")["text"].agg(list)
    merged = {first[k]: v for k, v in variants.items() if len(v) > 1}
    if not merged:
        return text
    checks.check_label_spellings(log, column, merged)
    out = text.copy()
    out.loc[present.index] = key.map(first).to_numpy()
    return out


def _resolve(cfg, src, position, raw, header, area_hint, log, table):
    """Commune codes (Int64) for every row, with the commune checks; returns (codes, raw names).

    Names are matched in the wave's vintage; a name that matches a commune of the other vintage
    exactly (with its type: "Xã Đức Hòa") but the wave's vintage only loosely ("Thị trấn Đức
    Hòa" without the type) belongs to the other vintage: never loose-matched across vintages.
    """
    vintage = cfg.boundary_vintage
    other = "2025" if vintage == "pre2025" else "pre2025"
    n = len(src.frame)
    codes = pd.Series(pd.NA, index=range(n), dtype="Int64")
    name_raw = None
    if "columns.commune_code" in position:
        code_text = to_text(raw("columns.commune_code"))
        code_num, _ = to_number(code_text)
        ok = code_num.isin(table.index)
        codes = code_num.where(ok).round().astype("Int64")
        other_codes = set(geography.communes(other)["commune_code"])
        status = pd.Series("ok", index=range(n), dtype=object)
        status[~ok] = "unknown"
        status[~ok & code_num.isin(other_codes)] = "outside_vintage"
        status[code_text.isna()] = "missing"
        checks.check_communes(
            log, status, code_text, header("columns.commune_code"), vintage, other, None
        )
        both = ok & code_num.isin(other_codes)
        checks.check_codes_in_both_vintages(
            log, status, both.to_numpy(), code_text, header("columns.commune_code"), vintage
        )
    if "columns.commune" in position:
        series = raw("columns.commune")
        pos = position["columns.commune"]
        if pos in src.value_labels:  # SPSS/Stata: commune stored as labelled codes
            labels = src.value_labels[pos]
            labelled = series.map(labels)
            series = labelled.where(labelled.notna(), series)
        name_raw = to_text(series)
        area = (
            area_hint.reset_index(drop=True)
            if area_hint is not None
            else pd.Series(np.nan, index=range(n))
        )
        # one key per distinct (name, area hint): resolved once, then mapped back to the rows
        key = name_raw.fillna("\0").astype(str) + "\x1f" + area.astype(str)
        codes_k, uniq_keys = pd.factorize(key)
        first = pd.Series(np.arange(n)).groupby(codes_k).min().to_numpy()
        uniq = pd.DataFrame({"name": name_raw.to_numpy()[first], "area": area.to_numpy()[first]})
        res = geography.resolve_communes(
            uniq["name"], vintage, area_codes=uniq["area"] if area_hint is not None else None
        )
        uniq["code"] = res["commune_code"].to_numpy()
        uniq["status"] = res["status"].to_numpy()
        exact_here, exact_other = _exact_name_keys(vintage), _exact_name_keys(other)
        full_key = uniq["name"].map(lambda v: None if v is None else geography.match_key(v))
        loose_only = full_key.map(lambda k: k is not None and k not in exact_here)
        crosses = (loose_only & full_key.isin(exact_other)).to_numpy()
        uniq.loc[crosses, "status"] = "outside_vintage"
        uniq.loc[crosses, "code"] = pd.NA
        unresolved = (uniq["status"] == "unknown") & uniq["name"].notna()
        if unresolved.any():
            res_other = geography.resolve_communes(uniq.loc[unresolved, "name"], other)
            outside = res_other["status"].isin(["ok", "ambiguous"]).to_numpy()
            idx = uniq.index[unresolved][outside]
            uniq.loc[idx, "status"] = "outside_vintage"
        uniq.loc[uniq["name"].isna(), "status"] = "missing"
        merged = uniq.iloc[codes_k].reset_index(drop=True)
        name_codes = merged["code"].astype("Int64")
        name_status = merged["status"].astype(object)
        if "columns.commune_code" in position:
            # Code column is primary; a name that resolves to another commune is a warning.
            checks.check_name_code_mismatch(
                log, codes, name_codes, name_raw, header("columns.commune")
            )
        else:
            codes = name_codes
            checks.check_communes(
                log, name_status, name_raw, header("columns.commune"), vintage, other, table
            )
            status = name_status
    if "columns.commune" in position or "columns.commune_code" in position:
        column = header(
            "columns.commune" if "columns.commune" in position else "columns.commune_code"
        )
        checks.check_vintage_share(log, status, column, vintage, other)
    return codes, name_raw


@functools.cache
def _exact_name_keys(vintage: str) -> frozenset[str]:
    """Matching keys with the type prefix ("xã đức hòa") of the communes of a vintage."""
    return frozenset(geography.match_key(n) for n in geography.communes(vintage)["commune_name"])


def _coded(n, raw, header, key, column, labels, log) -> pd.Series:
    """A coded demographic column (sex, urban/rural) as canonical codes 1/2.

    Codes are read through the value labels (the config's ``value_labels:``, else the SPSS/Stata
    file's) when there are any; otherwise the codes 1 and 2 and the words of
    :data:`_LABEL_CODES` ("Nam", "Nữ", "Thành thị", …) are taken as they are.
    """
    series = raw(key)
    if series is None:
        return pd.Series(pd.NA, index=range(n), dtype="Int64")
    text = to_text(series)
    words = {u: _LABEL_CODES[column].get(_fold(u)) for u in text.dropna().unique()}
    mapped = pd.to_numeric(text.map(words), errors="coerce")
    num, _ = to_number(text)
    if labels:
        by_code = {float(k): _canonical_code(column, v) for k, v in labels.items()}
        num = num.map(by_code).astype("float64")
        valid_txt = ", ".join(f"{k}={v}" for k, v in labels.items())
    else:
        valid_txt = "1, 2"
    num = num.where(num.notna(), mapped)
    ok = num.isin([1, 2])
    bad = text.notna() & ~ok
    checks.check_demographic(log, header(key), bad, text, valid_txt)
    return num.where(ok).round().astype("Int64")


def _age(n, raw, header, log, labels) -> tuple[pd.Series, pd.Series]:
    age = pd.Series(pd.NA, index=range(n), dtype="Int64")
    band = pd.Series([None] * n, dtype=object)
    if raw("columns.age") is not None:
        text = to_text(raw("columns.age"))
        num, _ = to_number(text)
        ok = num.between(_AGE_MIN, _AGE_MAX) & (num == num.round())
        checks.check_demographic(log, header("columns.age"), text.notna() & ~ok, text, "18–110")
        age = num.where(ok).round().astype("Int64")
        band = _age_band(num.where(ok))
    elif raw("columns.age_band") is not None:
        text = to_text(raw("columns.age_band"))
        names = [b[0] for b in AGE_BANDS]
        norm = text.map(lambda t: None if t is None else _band_name(t))
        band = norm.where(norm.isin(names))
        if labels:
            by_label = {
                str(int(k)) if float(k).is_integer() else str(k): _canonical_code("age_band", v)
                for k, v in labels.items()
            }
            lab = text.map(by_label)
            band = band.where(band.notna(), lab.where(lab.isin(names)))
        bad = text.notna() & band.isna()
        valid = ", ".join(names) + (
            f" (nhãn / labels: {', '.join(f'{k}={v}' for k, v in labels.items())})"
            if labels
            else ""
        )
        checks.check_demographic(log, header("columns.age_band"), bad, text, valid)
        band = band.astype(object).where(band.notna(), None)
    return age, band
