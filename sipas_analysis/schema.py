"""One small declarative schema for the YAML configs: a table of keys and one checker.

A schema maps each key of a config to a :class:`Key`: the *kind* of its value (a function that
converts the value or raises :class:`Bad` with the reason), whether it is required, its default,
and for a nested mapping its own keys. :func:`check` walks a config against the table and returns
the values converted (headers in NFC with single spaces, dates as :class:`datetime.date`,
defaults filled in); the first bad key raises :class:`~sipas_analysis.errors.ConfigError`
naming the file and the key, in the style of every config message of the package::

    waves/sipas-2024.yaml: key 'design.weight': must be a column header (text), got [1].

Rules that tie several keys together or look outside the config (the data file exists,
``sheet`` only for xlsx files, the items belong to the instrument) stay with the config they belong
to (:func:`sipas_analysis.waves.load_wave_config`).

Examples
--------
>>> table = {"survey": Key(choice(("sipas", "papi")), required=True), "limit": Key(positive)}
>>> check("w.yaml", {"survey": "sipas", "limit": 3}, table)
{'survey': 'sipas', 'limit': 3}
>>> check("w.yaml", {"survey": "pci"}, table)
Traceback (most recent call last):
...
sipas_analysis.errors.ConfigError: w.yaml: key 'survey': must be one of sipas, papi, got 'pci'.
>>> check("w.yaml", {"survey": "papi", "colour": "blue"}, table)
Traceback (most recent call last):
...
sipas_analysis.errors.ConfigError: w.yaml: key 'colour': unknown key; allowed keys: survey, limit.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sipas_analysis.errors import ConfigError

__all__ = [
    "EMPTY",
    "Bad",
    "Key",
    "check",
    "value_of",
    "config_error",
    "choice",
    "text",
    "label",
    "header",
    "date",
    "boolean",
    "positive",
    "row_number",
    "int_list",
    "relative_path",
    "names",
]

#: Default of a nested mapping or list: absent or null means empty, then checked (defaults filled).
EMPTY = object()


class Bad(ValueError):
    """A value a kind refuses: ``message`` says why; ``sub`` extends the key (``"[2]"``, ``".3"``)."""

    def __init__(self, message: str, sub: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.sub = sub


@dataclass(frozen=True)
class Key:
    """One key of a config.

    Parameters
    ----------
    kind : callable, optional
        Converts a value or raises :class:`Bad` (not called on null values of a nullable key).
    required : bool
        The key must be given and not be empty ("missing (required).").
    default : object
        The value when the key is absent or null (:data:`EMPTY`: an empty mapping or list).
    nullable : bool
        Null is allowed (gives ``default``); else null goes to ``kind``.
    keys : mapping of str to Key, optional
        The value is a mapping with these keys (unknown keys are refused).
    each : Key, optional
        The value is a list (``mapping=False``) or a mapping of values of this key.
    mapping : bool
        With ``each``: a mapping (``key.sub``) rather than a list (``key[i]``).
    missing : str, optional
        The message when the key is absent: it must be written, even as null.
    message : str, optional
        The message when the value has the wrong shape (replaces the kind's or the container's).
    """

    kind: Callable[[Any], Any] | None = None
    required: bool = False
    default: Any = None
    nullable: bool = True
    keys: Mapping[str, Key] | None = None
    each: Key | None = None
    mapping: bool = False
    missing: str | None = None
    message: str | None = None


def config_error(path: str | Path, key: str, message: str) -> ConfigError:
    """The error of a config key: ``<file>: key '<key>': <message>``."""
    return ConfigError(f"{path}: key '{key}': {message}")


def check(path: str | Path, raw: object, schema: Mapping[str, Key], prefix: str = "") -> dict:
    """Check a config (or a nested mapping of one at ``prefix``) against its schema.

    Returns
    -------
    dict
        Every key of the schema with its converted value (or default), in the schema's order.

    Raises
    ------
    ConfigError
        The first unknown, missing or bad key, naming the file and the key.
    """
    if not isinstance(raw, Mapping):
        where = prefix.rstrip(".")
        raise config_error(path, where, f"must be a mapping (key: value lines), got {raw!r}.")
    unknown = [k for k in raw if k not in schema]
    if unknown:
        raise config_error(
            path, f"{prefix}{unknown[0]}", f"unknown key; allowed keys: {', '.join(schema)}."
        )
    out = {}
    for name, key in schema.items():
        where = f"{prefix}{name}"
        if key.missing and name not in raw:
            raise config_error(path, where, key.missing)
        if key.required and raw.get(name) in (None, "", {}):
            raise config_error(path, where, "missing (required).")
        out[name] = (
            value_of(path, where, raw[name], key) if name in raw else _default(path, where, key)
        )
    return out


def _default(path: str | Path, where: str, key: Key) -> Any:
    if key.default is not EMPTY:
        return key.default
    return value_of(path, where, {} if key.keys is not None or key.mapping else [], key)


def value_of(path: str | Path, where: str, value: object, key: Key) -> Any:
    """One value checked against its key (see :func:`check`)."""
    if value is None and key.nullable:
        return _default(path, where, key)
    try:
        if key.keys is not None:
            if not isinstance(value, Mapping) and key.message:
                raise Bad(key.message)
            return check(path, value, key.keys, f"{where}.")
        if key.each is not None:
            if key.mapping:
                if not isinstance(value, Mapping):
                    raise Bad(
                        key.message or f"must be a mapping (key: value lines), got {value!r}."
                    )
                return {
                    str(k): value_of(path, f"{where}.{k}", v, key.each) for k, v in value.items()
                }
            if not isinstance(value, list):
                raise Bad(key.message or f"must be a list, got {value!r}.")
            return [value_of(path, f"{where}[{i}]", v, key.each) for i, v in enumerate(value)]
        return key.kind(value) if key.kind is not None else value
    except Bad as exc:
        message = key.message if key.message and not exc.sub else exc.message
        raise config_error(path, where + exc.sub, message) from None


# ---------------------------------------------------------------------------------------------
# Kinds of values
# ---------------------------------------------------------------------------------------------


def choice(options: Sequence[str]) -> Callable[[Any], str]:
    """One of ``options`` (the value read as text)."""

    def kind(value: Any) -> str:
        if str(value) not in options:
            raise Bad(f"must be one of {', '.join(options)}, got {str(value)!r}.")
        return str(value)

    return kind


def text(value: Any) -> str:
    """Any value, as text."""
    return str(value)


def label(value: Any) -> str | int:
    """A label written as text or a whole number (``"2024"``, ``2024``), not true/false."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Bad(f'must be a label such as "2024", got {value!r}.')
    return value


def header(value: Any) -> str:
    """A column header of a data file: NFC, trimmed, single spaces; a number is read as text."""
    if value is None:
        raise Bad("must name a column header of the data file, not be empty.")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Bad(f"must be a column header (text), got {value!r}.")
    out = " ".join(unicodedata.normalize("NFC", str(value)).split())
    if not out:
        raise Bad("must name a column header of the data file, not be empty.")
    return out


def date(value: Any) -> dt.date:
    """A date ``YYYY-MM-DD`` (YAML reads it as a date already, text is accepted too)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise Bad(f"must be a date YYYY-MM-DD, got {value!r}.") from None


def boolean(value: Any) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise Bad(f"must be true or false, got {value!r}.")
    return value


def positive(value: Any) -> int | float:
    """A number above 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise Bad(f"must be a positive number, got {value!r}.")
    return value


def row_number(value: Any) -> int:
    """A row number, 1 = the first row."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Bad(f"must be a row number (1 = first row), got {value!r}.")
    return value


def int_list(value: Any) -> list[int]:
    """A list of whole numbers (codes)."""
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise Bad(f"must be a list of integer codes, got {value!r}.")
    return value


def relative_path(value: Any) -> str:
    """A path relative to the config file (no machine paths)."""
    if not isinstance(value, str):
        raise Bad(f"must be a path relative to the config, got {value!r}.")
    if Path(value).is_absolute():
        raise Bad("must be relative to the config file (no machine paths).")
    return value


def names(options: Sequence[str], noun: str = "name") -> Callable[[Any], tuple[str, ...]]:
    """A non-empty list of distinct names, each one of ``options`` (``noun``: what they name)."""

    def kind(value: Any) -> tuple[str, ...]:
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) for v in value)
            or len(set(value)) != len(value)
        ):
            raise Bad(
                f"must be a list of distinct {noun} names ({', '.join(options)}), got {value!r}."
            )
        bad = [v for v in value if v not in options]
        if bad:
            raise Bad(f"unknown {noun} {bad[0]!r}; known: {', '.join(options)}.")
        return tuple(value)

    return kind
