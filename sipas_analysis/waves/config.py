"""The wave config: :class:`WaveConfig`, its schema, :func:`load_wave_config`, :func:`find_config_for`."""

from __future__ import annotations

import codecs
import datetime as dt
import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sipas_analysis import geography, schema
from sipas_analysis.errors import ConfigError, InputError, SipasError
from sipas_analysis.schema import EMPTY, Bad, Key
from sipas_analysis.schema import config_error as _cfg_error
from sipas_analysis.waves.columns import (
    CHECK_DEFAULTS,
    COLUMN_KEYS,
    DATA_FOLDERS_ENV,
    ENCODINGS,
    FORMATS,
    LABEL_CHOICES,
    LABELLED_COLUMNS,
    SUFFIX_FORMAT,
    SURVEYS,
    canonical_code,
    header_key,
    is_personal_header,
    nfc,
)

__all__ = [
    "WaveConfig",
    "CALIBRATION_MARGINS",
    "CALIBRATION_METHODS",
    "CALIBRATION_SOURCES",
    "WAVE_SCHEMA",
    "load_wave_config",
    "design_headers",
    "load_instrument",
    "find_config_for",
]


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
        return ENCODINGS[codecs.lookup(str(value)).name.replace("-", "_")]
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
            if canonical_code(column, nfc(text)) is None:
                choices = ", ".join(LABEL_CHOICES[column])
                raise Bad(f"label {text!r} is not one of {choices}.", f".{code}")
            labels[int(num)] = nfc(text)
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
    fmt = cfg["format"] or SUFFIX_FORMAT.get(data_file.suffix.lower())
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
        if header_key(header) in seen:
            raise _cfg_error(
                path,
                f"items.{code}",
                f"header {header!r} is already mapped to items.{seen[header_key(header)]}.",
            )
        seen[header_key(header)] = code
        items[code] = header

    mapped = {**{f"columns.{k}": v for k, v in columns.items()}}
    mapped.update(design_headers(design))
    mapped.update({f"items.{k}": v for k, v in items.items()})
    personal = tuple(cfg["personal_columns"])
    personal_keys = {header_key(p) for p in personal}
    for key, header in mapped.items():
        if header is None:
            continue
        if header_key(header) in personal_keys or is_personal_header(header):
            raise _cfg_error(
                path,
                key,
                f"column {header!r} is personal data (name, phone, address, ID number); "
                "it is dropped at load and cannot be used.",
            )

    survey, instrument_name = cfg["survey"], cfg["instrument"]
    instrument = load_instrument(path, instrument_name)
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


def design_headers(design: dict[str, Any]) -> dict[str, str]:
    """Config key -> file header of the design columns (``design.psu[i]`` for a PSU list)."""
    out: dict[str, str] = {}
    for k in ("weight", "strata", "psu", "fpc"):
        v = design.get(k)
        if isinstance(v, tuple):
            out.update({f"design.{k}[{i}]": h for i, h in enumerate(v)})
        elif v:
            out[f"design.{k}"] = v
    return out


def load_instrument(config_path: Path | None, name: str):
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
