"""Finding and loading instrument definitions: the bundled names (:func:`list_instruments`),
:func:`load_instrument`, and the YAML reader that keeps line numbers for the messages."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

from sipas_analysis.errors import ConfigError
from sipas_analysis.instruments.building import _build
from sipas_analysis.instruments.model import _LINE, INSTRUMENTS_DIR, Instrument, _display

__all__ = ["list_instruments", "load_instrument"]


# Loading
# --------------------------------------------------------------------------------------------


def list_instruments() -> list[str]:
    """Names of the bundled instrument definitions.

    Returns
    -------
    list of str
        Sorted names, e.g. ``['papi-2011', 'papi-2018', 'sipas-2017', 'sipas-2022']``.

    Examples
    --------
    >>> "sipas-2017" in list_instruments()
    True
    """
    return sorted(p.stem for p in INSTRUMENTS_DIR.glob("*.yaml"))


def load_instrument(name_or_path: str | Path) -> Instrument:
    """Load and validate an instrument definition.

    Parameters
    ----------
    name_or_path : str or pathlib.Path
        A bundled instrument name (see :func:`list_instruments`) or the path of a YAML
        definition file.

    Returns
    -------
    Instrument
        The validated instrument.

    Raises
    ------
    ConfigError
        If the file is missing or malformed. The message names the file, the entry (with its
        line) and the problem: YAML syntax error, missing or unknown field, duplicate code,
        unknown parent/scale/level/role, element or sub-dimension without items, overlapping
        valid and missing codes, ``scale_min >= scale_max``, bad direction, filter on an unknown
        item, ...

    Notes
    -----
    Labels are normalised to Unicode NFC on load. Missing codes default to the file's
    ``missing_codes`` (98 "Không biết", 99 "Không trả lời" if absent).

    Examples
    --------
    >>> inst = load_instrument("sipas-2017")
    >>> len(inst.satisfaction_items()), inst.scales["likert5"].top_box
    (22, (4, 5))
    """
    path = _resolve(name_or_path)
    stat = path.stat()
    # a run loads each instrument ~100 times: built once per file version, a copy handed out
    # (the caller may change its tables)
    return copy.deepcopy(_load_cached(path, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=16)
def _load_cached(path: Path, mtime_ns: int, size: int) -> Instrument:
    """The instrument of one version of a definition file (the key includes its time and size)."""
    return _build(_read_yaml(path), path)


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    candidate = Path(text)
    if text in list_instruments():
        return INSTRUMENTS_DIR / f"{text}.yaml"
    if candidate.suffix.lower() in (".yaml", ".yml") or candidate.exists():
        if not candidate.is_file():
            raise ConfigError(f"instrument file not found: {text}")
        return candidate
    raise ConfigError(
        f"unknown instrument {text!r}: not a bundled instrument "
        f"({', '.join(list_instruments())}) nor a .yaml file"
    )


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML loader that records each mapping's line and rejects duplicate keys."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise ConfigError(f"line {line}: duplicate key {key!r} (first at line {seen[key]})")
        seen[key] = line
    mapping = loader.construct_mapping(node, deep=deep)
    mapping[_LINE] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> dict:
    shown = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{shown}: not UTF-8 text ({exc})") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read ({exc.strerror})") from None
    try:
        data = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - safe loader subclass
    except ConfigError as exc:
        raise ConfigError(f"{shown}: {exc}") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = ""
        if exc.context and exc.context_mark and exc.context_mark is not mark:
            context = f" ({exc.context} at line {exc.context_mark.line + 1})"
        raise ConfigError(f"{shown}: YAML syntax error at {where}{exc.problem}{context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{shown}: YAML error: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: expected a mapping at top level (name:, survey:, nodes: ...)")
    return data
