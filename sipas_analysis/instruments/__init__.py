"""Survey instruments as data: load, validate and query questionnaire definition files.

Each version of a questionnaire (``sipas-2017``, ``sipas-2022``, ``papi-2011``, ``papi-2018``) is
one YAML file next to this module. It lists the index hierarchy (parts/elements for SIPAS,
dimensions/sub-dimensions for PAPI), the items with their Vietnamese and English labels, answer
scales, valid and missing codes, filters (conditional questions) and, for PAPI, each indicator's
natural scale, direction and weight. A new questionnaire next year is a new file, not new code:
see ``README.md`` in this folder for the file format.

Definitions that other modules must not repeat live in the files: "satisfied" is the ``top_box``
of the ``likert5`` scale (codes 4 and 5), "expects much" is the ``top_box`` of the expectation
scale, and the "positive answer" of a perception item is the ``top_box`` of its scale.

Command line::

    sipas instrument                  # list the bundled instruments
    sipas instrument sipas-2017       # hierarchy with item counts
    sipas instrument my_form.yaml     # validate a user's file (exit 2 with a clear message if bad)
"""

from __future__ import annotations

import argparse
import copy
import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sipas_analysis.errors import ConfigError, SipasError
from sipas_analysis.paths import REPO_ROOT

__all__ = [
    "INSTRUMENTS_DIR",
    "Instrument",
    "Scale",
    "describe",
    "list_instruments",
    "load_instrument",
]

#: Folder holding the bundled instrument definition files (``<name>.yaml``).
INSTRUMENTS_DIR = Path(__file__).resolve().parent

FORMAT_VERSION = 1

#: Levels of the index hierarchy per survey. ``section`` groups non-index questions
#: (demographics, filters, perception, expectation) and may be used by both surveys.
LEVELS: dict[str, tuple[str, ...]] = {
    "sipas": ("part", "element", "section"),
    "papi": ("dimension", "subdimension", "section"),
}
#: Allowed parent level of each node level (None = top level).
PARENT_LEVEL: dict[str, tuple[str | None, ...]] = {
    "part": (None,),
    "element": (None, "part"),
    "dimension": (None,),
    "subdimension": ("dimension",),
    "section": (None,),
}
#: Node levels that directly hold index items (must not be empty).
LEAF_LEVELS = ("element", "subdimension")
#: Role of the items that make up the index of each survey (must sit under a leaf level).
INDEX_ROLE = {"sipas": "satisfaction", "papi": "indicator"}
ROLES = (
    "satisfaction",
    "perception",
    "expectation",
    "filter",
    "indicator",
    "demographic",
    "background",
)
ANSWER_TYPES = (
    "likert5",
    "yes_no",
    "three_level",
    "binary",
    "count",
    "rating",
    "categorical",
    "continuous",
)
DIRECTIONS = ("positive", "negative")
CONFIDENCE = ("official", "reproduced", "inferred", "reconstructed")
DEFAULT_MISSING = {98: "Không biết", 99: "Không trả lời"}

_CODE_RE = re.compile(r"^[a-z][a-z0-9_]*$")

_TOP_KEYS_REQUIRED = ("format_version", "name", "survey", "label_vi", "label_en", "nodes")
_TOP_KEYS_OPTIONAL = (
    "scales",
    "items",
    "valid_from",
    "valid_to",
    "source",
    "notes",
    "missing_codes",
    "structure_only",
    "dimension_weights",
)
_SCALE_REQUIRED = ("type",)
_SCALE_OPTIONAL = (
    "label_vi",
    "label_en",
    "codes",
    "top_box",
    "scale_min",
    "scale_max",
    "missing_codes",
    "note",
)
_NODE_REQUIRED = ("code", "level", "label_vi", "label_en")
_NODE_OPTIONAL = ("parent", "valid_from", "valid_to", "label_history", "label_short_vi", "note")
_ITEM_REQUIRED = ("code", "parent", "role", "scale", "label_vi", "label_en")
_ITEM_OPTIONAL = (
    "filter",
    "scale_min",
    "scale_max",
    "direction",
    "weight",
    "missing_codes",
    "valid_from",
    "valid_to",
    "confidence",
    "question",
    "label_short_vi",
    "note",
)
_LINE = "__line__"


# --------------------------------------------------------------------------------------------
# Data classes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scale:
    """An answer scale shared by several items.

    Attributes
    ----------
    name : str
        The scale's key in the definition file (e.g. ``"likert5"``).
    type : str
        Answer type, one of :data:`ANSWER_TYPES`.
    codes : dict[int, str]
        Valid answer codes with their Vietnamese value labels (empty for ``continuous``).
    top_box : tuple of int or None
        Codes whose weighted share is the item's index (satisfied = 4 or 5 on ``likert5``;
        "rất nhiều"/"nhiều" on the expectation scale; the positive answer of a perception item).
    scale_min, scale_max : float
        Natural scale [a, b] of the answers (default: smallest and largest code).
    missing_codes : dict[int, str]
        Codes meaning "no valid answer" (default 98 "Không biết", 99 "Không trả lời").
    """

    name: str
    type: str
    codes: dict[int, str]
    top_box: tuple[int, ...] | None
    scale_min: float | None
    scale_max: float | None
    missing_codes: dict[int, str]
    label_vi: str = ""
    label_en: str = ""


@dataclass(frozen=True, eq=False)
class Instrument:
    """One questionnaire version, loaded and validated from its definition file.

    Attributes
    ----------
    name : str
        Instrument name, e.g. ``"sipas-2022"``.
    survey : {"sipas", "papi"}
        Which index the instrument feeds.
    label_vi, label_en : str
        Title of the questionnaire.
    nodes : pandas.DataFrame
        The index hierarchy, one row per node: ``code, level, parent, label_vi, label_en, order,
        valid_from, valid_to, label_history, note``. Levels are ``part``/``element`` (SIPAS) or
        ``dimension``/``subdimension`` (PAPI), plus ``section`` for non-index questions.
    items : pandas.DataFrame
        One row per item: ``code, parent, role, scale, answer_type, label_vi, label_en,
        valid_codes, missing_codes, top_box, filter_item, filter_values, scale_min, scale_max,
        direction, weight, order, valid_from, valid_to, confidence, question, note``.
    scales : dict[str, Scale]
        The answer scales by name.
    valid_from, valid_to : int or None
        Survey years the instrument applies to (``valid_to`` None = still in use).
    dimension_weights : dict[int, dict[str, float]]
        Published dimension weights by year (PAPI), e.g. ``{2019: {"d1": 0.510643, ...}}``.
    source : str
        Where the definition comes from.
    path : pathlib.Path
        The definition file.
    structure_only : bool
        True when the file defines the hierarchy without items (e.g. ``papi-2011``).
    """

    name: str
    survey: str
    label_vi: str
    label_en: str
    nodes: pd.DataFrame
    items: pd.DataFrame
    scales: dict[str, Scale]
    valid_from: int | None = None
    valid_to: int | None = None
    dimension_weights: dict[int, dict[str, float]] = field(default_factory=dict)
    source: str = ""
    notes: str = ""
    path: Path | None = None
    structure_only: bool = False

    # ---- hierarchy -------------------------------------------------------------------------

    def _check_node(self, node_code: str) -> None:
        if node_code not in set(self.nodes["code"]):
            raise SipasError(
                f"instrument {self.name}: unknown node {node_code!r} "
                f"(known: {', '.join(self.nodes['code'])})"
            )

    def _descendants(self, node_code: str) -> list[str]:
        """All node codes under ``node_code`` (itself included)."""
        out = [node_code]
        frontier = [node_code]
        while frontier:
            kids = self.nodes.loc[self.nodes["parent"].isin(frontier), "code"].tolist()
            out.extend(kids)
            frontier = kids
        return out

    def children(self, node_code: str | None) -> pd.DataFrame:
        """Direct child nodes of a node (``None``: the top-level nodes).

        Parameters
        ----------
        node_code : str or None
            A node code, e.g. ``"chinh_sach"`` or ``"d1"``.

        Returns
        -------
        pandas.DataFrame
            The child rows of :attr:`nodes`, in definition order (a copy). Items are not nodes:
            use :meth:`items_of` for them.

        Raises
        ------
        SipasError
            If ``node_code`` is not a node of the instrument.

        Examples
        --------
        >>> load_instrument("papi-2018").children("d8")["code"].tolist()
        ['d8_1', 'd8_2', 'd8_3']
        """
        if node_code is None:
            mask = self.nodes["parent"].isna()
        else:
            self._check_node(node_code)
            mask = self.nodes["parent"] == node_code
        return self.nodes.loc[mask].reset_index(drop=True)

    def items_of(self, node_code: str, role: str | None = None) -> pd.DataFrame:
        """All items under a node, recursively, optionally of one role.

        Parameters
        ----------
        node_code : str
            A node code (part, element, dimension, sub-dimension or section).
        role : str, optional
            Keep only items of this role (e.g. ``"satisfaction"``).

        Returns
        -------
        pandas.DataFrame
            Rows of :attr:`items` in definition order (a copy).

        Raises
        ------
        SipasError
            If the node or the role is unknown.

        Examples
        --------
        >>> len(load_instrument("sipas-2022").items_of("chinh_sach", role="satisfaction"))
        14
        """
        self._check_node(node_code)
        if role is not None and role not in ROLES:
            raise SipasError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        under = self._descendants(node_code)
        mask = self.items["parent"].isin(under)
        if role is not None:
            mask &= self.items["role"] == role
        return self.items.loc[mask].sort_values("order").reset_index(drop=True)

    def satisfaction_items(self) -> pd.DataFrame:
        """Items with role ``satisfaction`` (a copy), in definition order."""
        return self.items.loc[self.items["role"] == "satisfaction"].reset_index(drop=True)

    def item_codes(self) -> list[str]:
        """Codes of all items, in definition order."""
        return self.items["code"].tolist()

    def nodes_at(self, level: str, year: int | None = None) -> pd.DataFrame:
        """Nodes of one level, optionally only those in use in a survey year.

        Parameters
        ----------
        level : str
            ``part``, ``element``, ``dimension``, ``subdimension`` or ``section``.
        year : int, optional
            Keep nodes with ``valid_from <= year <= valid_to`` and use the label of that year
            (``label_history``).

        Returns
        -------
        pandas.DataFrame
            Rows of :attr:`nodes` (a copy). For PAPI with a ``year`` three columns are added:
            ``k`` (number of sub-dimensions of the dimension in that year), ``score_min`` and
            ``score_max`` (the node's published range).

        Notes
        -----
        PAPI sub-dimension scores run from 1/K to 10/K, where K is the number of sub-dimensions
        in the dimension that year; dimensions run 1–10:

        .. math:: S_s = 1/K + (9/K)\\,\\overline{z}

        Examples
        --------
        >>> p = load_instrument("papi-2018")
        >>> [len(p.nodes_at("subdimension", y)) for y in (2018, 2019, 2021)]
        [28, 29, 28]
        """
        known = LEVELS[self.survey]
        if level not in known:
            raise SipasError(
                f"instrument {self.name}: unknown level {level!r}; expected one of {known}"
            )
        nodes = self.nodes
        if year is not None:
            nodes = nodes.loc[_valid_mask(nodes, year)].copy()
            nodes["label_vi"] = [_label_in_year(r, year, "label_vi") for r in nodes.itertuples()]
            nodes["label_en"] = [_label_in_year(r, year, "label_en") for r in nodes.itertuples()]
        out = nodes.loc[nodes["level"] == level].reset_index(drop=True)
        if self.survey == "papi" and year is not None and level in ("dimension", "subdimension"):
            subs = nodes.loc[nodes["level"] == "subdimension"]
            k = subs.groupby("parent")["code"].size()
            if level == "subdimension":
                out["k"] = out["parent"].map(k).astype("Int64")
                out["score_min"] = 1.0 / out["k"].astype(float)
                out["score_max"] = 10.0 / out["k"].astype(float)
            else:
                out["k"] = out["code"].map(k).astype("Int64")
                out["score_min"] = 1.0
                out["score_max"] = 10.0
        return out

    def subdimension_range(self, code: str, year: int) -> tuple[float, float]:
        """Published range (1/K, 10/K) of a PAPI sub-dimension in a survey year.

        Examples
        --------
        >>> load_instrument("papi-2018").subdimension_range("d8_1", 2018)
        (0.5, 5.0)
        """
        subs = self.nodes_at("subdimension", year)
        row = subs.loc[subs["code"] == code]
        if row.empty:
            self._check_node(code)
            raise SipasError(f"instrument {self.name}: sub-dimension {code!r} not used in {year}")
        return float(row["score_min"].iloc[0]), float(row["score_max"].iloc[0])

    def value_labels(self, item_code: str) -> dict[int, str]:
        """Valid and missing codes of an item with their Vietnamese labels.

        Examples
        --------
        >>> load_instrument("sipas-2017").value_labels("tiep_can_1")[4]
        'Hài lòng'
        """
        row = self.items.loc[self.items["code"] == item_code]
        if row.empty:
            raise SipasError(f"instrument {self.name}: unknown item {item_code!r}")
        r = row.iloc[0]
        scale = self.scales[r["scale"]]
        labels = dict(scale.codes)
        labels.update(r["missing_labels"])
        return labels


def _valid_mask(frame: pd.DataFrame, year: int) -> pd.Series:
    lo = frame["valid_from"].astype("Float64").fillna(-math.inf).astype(float)
    hi = frame["valid_to"].astype("Float64").fillna(math.inf).astype(float)
    return (lo <= year) & (year <= hi)


def _label_in_year(row: Any, year: int, which: str) -> str:
    for period in row.label_history or ():
        lo = period.get("valid_from") or -math.inf
        hi = period.get("valid_to") or math.inf
        if lo <= year <= hi and period.get(which):
            return period[which]
    return getattr(row, which)


# --------------------------------------------------------------------------------------------
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


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


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


class _Checker:
    """Collects the file name and formats precise error messages."""

    def __init__(self, path: Path) -> None:
        self.file = _display(path)

    def fail(self, where: str, problem: str) -> None:
        raise ConfigError(f"{self.file}: {where}: {problem}")

    def where(self, section: str, index: int | None, entry: Mapping | None) -> str:
        text = section if index is None else f"{section}[{index}]"
        if isinstance(entry, Mapping):
            if "code" in entry:
                text += f" {entry['code']!r}"
            if _LINE in entry:
                text += f" (line {entry[_LINE]})"
        return text

    def fields(self, where: str, entry: Any, required: Iterable[str], optional: Iterable[str]):
        if not isinstance(entry, Mapping):
            self.fail(where, f"expected a mapping of fields, got {type(entry).__name__}")
        for key in required:
            if key not in entry or entry[key] is None or entry[key] == "":
                self.fail(where, f"missing required field {key!r}")
        allowed = set(required) | set(optional) | {_LINE}
        unknown = [k for k in entry if k not in allowed]
        if unknown:
            self.fail(
                where,
                f"unknown field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(set(required) | set(optional)))}",
            )

    def year(self, where: str, value: Any, name: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 1990 <= value <= 2100:
            self.fail(where, f"{name} must be a year like 2019, got {value!r}")
        return value

    def number(self, where: str, value: Any, name: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(where, f"{name} must be a number, got {value!r}")
        return float(value)

    def text(self, where: str, value: Any, name: str) -> str:
        if not isinstance(value, str):
            self.fail(where, f"{name} must be text, got {value!r}")
        return unicodedata.normalize("NFC", " ".join(value.split()))

    def code(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not _CODE_RE.match(value):
            self.fail(
                where,
                f"code {value!r} must be ASCII snake_case (a-z, 0-9, _; starting with a letter)",
            )
        return value

    def codes(self, where: str, value: Any, name: str) -> dict[int, str]:
        if not isinstance(value, Mapping):
            self.fail(where, f"{name} must be a mapping code: label, e.g. {{98: Không biết}}")
        out: dict[int, str] = {}
        for k, v in value.items():
            if k == _LINE:
                continue
            if isinstance(k, bool) or not isinstance(k, int):
                self.fail(where, f"{name}: code {k!r} must be an integer")
            out[k] = self.text(where, v, f"{name}[{k}]")
        return out


def _build(data: dict, path: Path) -> Instrument:
    ck = _Checker(path)
    ck.fields("top level", data, _TOP_KEYS_REQUIRED, _TOP_KEYS_OPTIONAL)
    if data["format_version"] != FORMAT_VERSION:
        ck.fail("format_version", f"unsupported version {data['format_version']!r}; expected 1")
    name = ck.text("name", data["name"], "name")
    survey = data["survey"]
    if survey not in LEVELS:
        ck.fail("survey", f"unknown survey {survey!r}; expected one of {', '.join(LEVELS)}")
    inst_from = ck.year("valid_from", data.get("valid_from"), "valid_from")
    inst_to = ck.year("valid_to", data.get("valid_to"), "valid_to")
    default_missing = (
        ck.codes("missing_codes", data["missing_codes"], "missing_codes")
        if data.get("missing_codes") is not None
        else dict(DEFAULT_MISSING)
    )
    structure_only = data.get("structure_only", False)
    if not isinstance(structure_only, bool):
        ck.fail("structure_only", f"must be true or false, got {structure_only!r}")
    if not structure_only and not data.get("scales"):
        ck.fail("top level", "missing required field 'scales'")
    scales = _build_scales(ck, data.get("scales") or {}, default_missing, structure_only)
    nodes = _build_nodes(ck, data["nodes"], survey, inst_from, inst_to)
    items_raw = data.get("items") or []
    if structure_only and items_raw:
        ck.fail("items", "structure_only: true but the file lists items")
    items = _build_items(ck, items_raw, survey, scales, nodes, default_missing)
    _check_empty_nodes(ck, nodes, items, structure_only)
    weights = _build_dimension_weights(ck, data.get("dimension_weights"), nodes)

    node_frame = pd.DataFrame(
        nodes,
        columns=[
            "code",
            "level",
            "parent",
            "label_vi",
            "label_en",
            "order",
            "valid_from",
            "valid_to",
            "label_history",
            "label_short_vi",
            "note",
        ],
    )
    for col in ("valid_from", "valid_to"):
        node_frame[col] = node_frame[col].astype("Int64")
    item_frame = pd.DataFrame(items, columns=_ITEM_COLUMNS)
    for col in ("valid_from", "valid_to"):
        item_frame[col] = item_frame[col].astype("Int64")
    for col in ("scale_min", "scale_max", "weight"):
        item_frame[col] = item_frame[col].astype(float)
    return Instrument(
        name=name,
        survey=survey,
        label_vi=ck.text("label_vi", data["label_vi"], "label_vi"),
        label_en=ck.text("label_en", data["label_en"], "label_en"),
        nodes=node_frame,
        items=item_frame,
        scales=scales,
        valid_from=inst_from,
        valid_to=inst_to,
        dimension_weights=weights,
        source=ck.text("source", data.get("source") or "", "source"),
        notes=str(data.get("notes") or "").strip(),
        path=path,
        structure_only=structure_only,
    )


_ITEM_COLUMNS = [
    "code",
    "parent",
    "role",
    "scale",
    "answer_type",
    "label_vi",
    "label_en",
    "valid_codes",
    "missing_codes",
    "top_box",
    "filter_item",
    "filter_values",
    "scale_min",
    "scale_max",
    "direction",
    "weight",
    "order",
    "valid_from",
    "valid_to",
    "confidence",
    "question",
    "label_short_vi",
    "note",
    "missing_labels",
]


def _build_scales(
    ck: _Checker, raw: Any, default_missing: dict[int, str], structure_only: bool = False
) -> dict[str, Scale]:
    if not isinstance(raw, Mapping) or not (structure_only or [k for k in raw if k != _LINE]):
        ck.fail("scales", "expected a non-empty mapping of scale name -> definition")
    scales: dict[str, Scale] = {}
    for name, entry in raw.items():
        if name == _LINE:
            continue
        where = f"scales.{name}" + (f" (line {entry[_LINE]})" if isinstance(entry, Mapping) else "")
        ck.code(where, name)
        ck.fields(where, entry, _SCALE_REQUIRED, _SCALE_OPTIONAL)
        kind = entry["type"]
        if kind not in ANSWER_TYPES:
            ck.fail(
                where, f"unknown answer type {kind!r}; expected one of {', '.join(ANSWER_TYPES)}"
            )
        codes = ck.codes(where, entry.get("codes") or {}, "codes")
        if kind != "continuous" and not codes:
            ck.fail(where, f"missing required field 'codes' (needed for answer type {kind!r})")
        missing = (
            ck.codes(where, entry["missing_codes"], "missing_codes")
            if entry.get("missing_codes") is not None
            else dict(default_missing)
        )
        overlap = sorted(set(codes) & set(missing))
        if overlap:
            ck.fail(where, f"valid and missing codes overlap: {overlap}")
        top = entry.get("top_box")
        if top is not None:
            if not isinstance(top, list) or not top:
                ck.fail(where, "top_box must be a non-empty list of valid codes, e.g. [4, 5]")
            bad = [c for c in top if c not in codes]
            if bad:
                ck.fail(where, f"top_box codes {bad} are not valid codes of the scale")
            top = tuple(top)
        lo = ck.number(where, entry.get("scale_min"), "scale_min")
        hi = ck.number(where, entry.get("scale_max"), "scale_max")
        lo = float(min(codes)) if lo is None and codes else lo
        hi = float(max(codes)) if hi is None and codes else hi
        if lo is not None and hi is not None and lo >= hi:
            ck.fail(where, f"scale_min ({lo:g}) must be smaller than scale_max ({hi:g})")
        scales[name] = Scale(
            name=name,
            type=kind,
            codes=codes,
            top_box=top,
            scale_min=lo,
            scale_max=hi,
            missing_codes=missing,
            label_vi=ck.text(where, entry.get("label_vi") or "", "label_vi"),
            label_en=ck.text(where, entry.get("label_en") or "", "label_en"),
        )
    return scales


def _period(ck: _Checker, where: str, entry: Mapping, lo: int | None, hi: int | None):
    vf = ck.year(where, entry.get("valid_from"), "valid_from")
    vt = ck.year(where, entry.get("valid_to"), "valid_to")
    vf = lo if vf is None else vf
    vt = hi if vt is None else vt
    if vf is not None and vt is not None and vf > vt:
        ck.fail(where, f"valid_from ({vf}) is after valid_to ({vt})")
    return vf, vt


def _build_nodes(ck: _Checker, raw: Any, survey: str, lo: int | None, hi: int | None) -> list:
    if not isinstance(raw, list) or not raw:
        ck.fail("nodes", "expected a non-empty list of nodes")
    levels = LEVELS[survey]
    out: list[dict] = []
    by_code: dict[str, dict] = {}
    for i, entry in enumerate(raw):
        where = ck.where("nodes", i, entry)
        ck.fields(where, entry, _NODE_REQUIRED, _NODE_OPTIONAL)
        code = ck.code(where, entry["code"])
        if code in by_code:
            ck.fail(where, f"duplicate code {code!r} (also nodes[{by_code[code]['order']}])")
        level = entry["level"]
        if level not in levels:
            ck.fail(where, f"unknown level {level!r} for a {survey} instrument; expected {levels}")
        vf, vt = _period(ck, where, entry, lo, hi)
        history = []
        for j, period in enumerate(entry.get("label_history") or []):
            pw = f"{where} label_history[{j}]"
            ck.fields(pw, period, ("valid_from",), ("valid_to", "label_vi", "label_en"))
            pf, pt = _period(ck, pw, period, None, None)
            history.append(
                {
                    "valid_from": pf,
                    "valid_to": pt,
                    "label_vi": ck.text(pw, period.get("label_vi") or "", "label_vi"),
                    "label_en": ck.text(pw, period.get("label_en") or "", "label_en"),
                }
            )
        node = {
            "code": code,
            "level": level,
            "parent": entry.get("parent"),
            "label_vi": ck.text(where, entry["label_vi"], "label_vi"),
            "label_en": ck.text(where, entry["label_en"], "label_en"),
            "order": i,
            "valid_from": vf,
            "valid_to": vt,
            "label_history": tuple(history),
            "label_short_vi": ck.text(where, entry.get("label_short_vi") or "", "label_short_vi"),
            "note": str(entry.get("note") or "").strip(),
            "_where": where,
        }
        by_code[code] = node
        out.append(node)
    for node in out:
        parent = node["parent"]
        allowed = PARENT_LEVEL[node["level"]]
        if parent is None:
            if None not in allowed:
                ck.fail(node["_where"], f"a {node['level']} needs a parent ({allowed[0]})")
            continue
        if parent not in by_code:
            ck.fail(node["_where"], f"unknown parent {parent!r}")
        plevel = by_code[parent]["level"]
        if plevel not in allowed:
            ck.fail(
                node["_where"],
                f"a {node['level']} cannot sit under the {plevel} {parent!r} "
                f"(allowed parent level: {', '.join(str(a) for a in allowed)})",
            )
    return out


def _build_items(
    ck: _Checker,
    raw: Any,
    survey: str,
    scales: dict[str, Scale],
    nodes: list[dict],
    default_missing: dict[int, str],
) -> list[dict]:
    if not isinstance(raw, list):
        ck.fail("items", "expected a list of items")
    node_by_code = {n["code"]: n for n in nodes}
    out: list[dict] = []
    seen: dict[str, int] = {}
    pending_filters: list[tuple[str, dict, Any]] = []
    for i, entry in enumerate(raw):
        where = ck.where("items", i, entry)
        ck.fields(where, entry, _ITEM_REQUIRED, _ITEM_OPTIONAL)
        code = ck.code(where, entry["code"])
        if code in seen:
            ck.fail(where, f"duplicate code {code!r} (also items[{seen[code]}])")
        if code in node_by_code:
            ck.fail(where, f"duplicate code {code!r}: already used by a node")
        seen[code] = i
        parent = entry["parent"]
        if parent not in node_by_code:
            ck.fail(where, f"unknown parent {parent!r}")
        pnode = node_by_code[parent]
        role = entry["role"]
        if role not in ROLES:
            ck.fail(where, f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
        if pnode["level"] not in LEAF_LEVELS + ("section",):
            ck.fail(
                where,
                f"items must sit under an {' / '.join(LEAF_LEVELS)} or a section, "
                f"not under the {pnode['level']} {parent!r}",
            )
        if role == INDEX_ROLE[survey] and pnode["level"] not in LEAF_LEVELS:
            ck.fail(where, f"a {role} item must sit under an element/sub-dimension, not a section")
        scale_name = entry["scale"]
        if scale_name not in scales:
            ck.fail(
                where, f"unknown scale {scale_name!r}; defined scales: {', '.join(sorted(scales))}"
            )
        scale = scales[scale_name]
        missing = (
            ck.codes(where, entry["missing_codes"], "missing_codes")
            if entry.get("missing_codes") is not None
            else dict(scale.missing_codes)
        )
        overlap = sorted(set(scale.codes) & set(missing))
        if overlap:
            ck.fail(where, f"valid and missing codes overlap: {overlap}")
        lo = ck.number(where, entry.get("scale_min"), "scale_min")
        hi = ck.number(where, entry.get("scale_max"), "scale_max")
        lo = scale.scale_min if lo is None else lo
        hi = scale.scale_max if hi is None else hi
        if lo is None or hi is None:
            ck.fail(where, f"scale_min and scale_max are needed for the {scale.type} scale")
        if lo >= hi:
            ck.fail(where, f"scale_min ({lo:g}) must be smaller than scale_max ({hi:g})")
        outside = [c for c in scale.codes if not lo <= c <= hi]
        if outside:
            ck.fail(where, f"valid codes {outside} lie outside the scale [{lo:g}, {hi:g}]")
        if scale.type == "continuous":
            inside = [c for c in missing if lo <= c <= hi]
            if inside:
                ck.fail(
                    where,
                    f"missing codes {inside} lie inside the continuous range [{lo:g}, {hi:g}]: "
                    "give missing_codes outside it (e.g. {-98: Không biết, -99: Không trả lời})",
                )
        direction = entry.get("direction", "positive")
        if direction not in DIRECTIONS:
            ck.fail(where, f"bad direction {direction!r}; expected 'positive' or 'negative'")
        weight = ck.number(where, entry.get("weight"), "weight")
        if role == "indicator":
            weight = 1.0 if weight is None else weight
        if weight is not None and weight < 0:
            ck.fail(where, f"weight must be >= 0 (0 = informational), got {weight:g}")
        confidence = entry.get("confidence", "official")
        if confidence not in CONFIDENCE:
            ck.fail(where, f"unknown confidence {confidence!r}; expected one of {CONFIDENCE}")
        vf, vt = _period(ck, where, entry, pnode["valid_from"], pnode["valid_to"])
        item = {
            "code": code,
            "parent": parent,
            "role": role,
            "scale": scale_name,
            "answer_type": scale.type,
            "label_vi": ck.text(where, entry["label_vi"], "label_vi"),
            "label_en": ck.text(where, entry["label_en"], "label_en"),
            "valid_codes": tuple(scale.codes),
            "missing_codes": tuple(missing),
            "top_box": scale.top_box,
            "filter_item": None,
            "filter_values": None,
            "scale_min": lo,
            "scale_max": hi,
            "direction": direction,
            "weight": weight,
            "order": i,
            "valid_from": vf,
            "valid_to": vt,
            "confidence": confidence,
            "question": str(entry.get("question") or ""),
            "label_short_vi": ck.text(where, entry.get("label_short_vi") or "", "label_short_vi"),
            "note": str(entry.get("note") or "").strip(),
            "missing_labels": missing,
        }
        if entry.get("filter") is not None:
            pending_filters.append((where, item, entry["filter"]))
        out.append(item)
    by_code = {it["code"]: it for it in out}
    for where, item, filt in pending_filters:
        fw = f"{where} filter"
        ck.fields(fw, filt, ("item", "values"), ())
        target = filt["item"]
        if target not in by_code:
            ck.fail(fw, f"refers to unknown item {target!r}")
        if target == item["code"]:
            ck.fail(fw, "an item cannot filter on itself")
        values = filt["values"]
        if not isinstance(values, list) or not values:
            ck.fail(fw, "values must be a non-empty list of codes meaning 'applies', e.g. [1]")
        valid = set(by_code[target]["valid_codes"])
        bad = [v for v in values if v not in valid]
        if bad:
            ck.fail(fw, f"values {bad} are not valid codes of the filter item {target!r}")
        item["filter_item"] = target
        item["filter_values"] = tuple(values)
    # no cycles in filter chains
    for item in out:
        chain = [item["code"]]
        nxt = item["filter_item"]
        while nxt is not None:
            if nxt in chain:
                ck.fail(
                    f"items {item['code']!r}", f"circular filters: {' -> '.join(chain + [nxt])}"
                )
            chain.append(nxt)
            nxt = by_code[nxt]["filter_item"]
    return out


def _check_empty_nodes(ck: _Checker, nodes: list[dict], items: list[dict], structure_only: bool):
    if structure_only:
        return
    with_items = {it["parent"] for it in items}
    has_child = {n["parent"] for n in nodes if n["parent"] is not None}
    for n in nodes:
        if n["code"] in with_items or n["code"] in has_child:
            continue
        if n["level"] in LEAF_LEVELS or n["level"] == "section":
            ck.fail(
                n["_where"],
                f"{n['level']} has no items (add items, remove the node, "
                "or set structure_only: true for a hierarchy-only file)",
            )
        else:
            ck.fail(n["_where"], f"{n['level']} has no children")
    # every index leaf must hold at least one item in each year it is in use
    for n in nodes:
        if n["level"] not in LEAF_LEVELS:
            continue
        own = [it for it in items if it["parent"] == n["code"]]
        if own and not any(
            (it["valid_from"] or -math.inf) <= (n["valid_to"] or math.inf)
            and (n["valid_from"] or -math.inf) <= (it["valid_to"] or math.inf)
            for it in own
        ):
            ck.fail(n["_where"], "no item is in use while the node is")


def _build_dimension_weights(ck: _Checker, raw: Any, nodes: list[dict]) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        ck.fail("dimension_weights", "expected a mapping year -> {source:, weights: {...}}")
    dims = {n["code"] for n in nodes if n["level"] == "dimension"}
    out: dict[int, dict[str, float]] = {}
    for year, entry in raw.items():
        if year == _LINE:
            continue
        where = f"dimension_weights.{year}"
        ck.year(where, year, "year")
        ck.fields(where, entry, ("weights",), ("source", "note"))
        weights = {}
        for code, w in entry["weights"].items():
            if code == _LINE:
                continue
            if code not in dims:
                ck.fail(where, f"unknown dimension {code!r}")
            weights[code] = ck.number(where, w, f"weight of {code}")
        out[int(year)] = weights
    return out


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the arguments of ``sipas instrument``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser (created by :mod:`sipas_analysis.cli`).
    """
    parser.add_argument(
        "instrument",
        nargs="?",
        help="tên bộ câu hỏi có sẵn (vd. sipas-2017) hoặc đường dẫn tệp .yaml; bỏ trống để liệt kê / "
        "bundled instrument name (e.g. sipas-2017) or path of a .yaml definition; "
        "omit to list the bundled instruments",
    )
    parser.add_argument(
        "--year",
        type=int,
        help="chỉ hiện các mục dùng trong năm này / show only the nodes in use in this survey year",
    )
    parser.add_argument(
        "--items", action="store_true", help="liệt kê cả từng câu hỏi / also list every item"
    )


def _years(lo: Any, hi: Any) -> str:
    lo = "" if lo is None or pd.isna(lo) else str(int(lo))
    hi = "" if hi is None or pd.isna(hi) else str(int(hi))
    return f"{lo}–{hi}" if lo or hi else ""


def _role_counts(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "0 items"
    counts = frame["role"].value_counts()
    parts = ", ".join(f"{role} {counts[role]}" for role in ROLES if role in counts)
    return f"{len(frame)} items: {parts}"


def describe(inst: Instrument, year: int | None = None, show_items: bool = False) -> str:
    """Text listing of an instrument's hierarchy with item counts (used by the CLI).

    Parameters
    ----------
    inst : Instrument
        A loaded instrument.
    year : int, optional
        Show only the nodes and items in use in this survey year, with that year's labels.
    show_items : bool, default False
        Also list every item (code, role, answer type, filter, Vietnamese label).

    Returns
    -------
    str
        The listing, one line per node, ending with the total counts per role.

    Examples
    --------
    >>> print(describe(load_instrument("sipas-2017")).splitlines()[0])  # doctest: +ELLIPSIS
    sipas-2017 ...
    """
    lines = [
        f"{inst.name} — {inst.label_vi} / {inst.label_en}",
        f"  survey: {inst.survey}; years: {_years(inst.valid_from, inst.valid_to) or 'any'}; "
        f"file: {_display(inst.path) if inst.path else '-'}",
    ]
    nodes = inst.nodes
    items = inst.items
    if year is not None:
        nodes = nodes.loc[_valid_mask(nodes, year)]
        items = items.loc[_valid_mask(items, year)]
        lines.append(f"  in {year}:")

    def walk(parent: str | None, depth: int) -> None:
        kids = nodes[nodes["parent"].isna()] if parent is None else nodes[nodes["parent"] == parent]
        for row in kids.itertuples():
            under = set(inst._descendants(row.code))
            its = items[items["parent"].isin(under)]
            label = _label_in_year(row, year, "label_vi") if year else row.label_vi
            years = _years(row.valid_from, row.valid_to)
            extra = (
                f" [{years}]" if years and years != _years(inst.valid_from, inst.valid_to) else ""
            )
            lines.append(
                f"{'  ' * (depth + 1)}{row.level} {row.code}: {label}{extra} ({_role_counts(its)})"
            )
            walk(row.code, depth + 1)
            if show_items:
                for it in its[its["parent"] == row.code].itertuples():
                    cond = (
                        f" [if {it.filter_item} in {list(it.filter_values)}]"
                        if it.filter_item
                        else ""
                    )
                    lines.append(
                        f"{'  ' * (depth + 2)}- {it.code} ({it.role}, {it.answer_type}){cond}: "
                        f"{it.label_vi}"
                    )

    walk(None, 0)
    lines.append(f"  total: {_role_counts(items)}; {len(nodes)} nodes")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Run ``sipas instrument``: list, show or validate an instrument definition.

    Parameters
    ----------
    args : argparse.Namespace
        ``instrument`` (name or path, optional), ``year``, ``items``.

    Returns
    -------
    int
        0 on success.

    Raises
    ------
    ConfigError
        If the file is malformed or the name unknown (the CLI prints it and exits 2).
    """
    if not args.instrument:
        print("Bộ công cụ khảo sát có sẵn / bundled instruments:")
        for name in list_instruments():
            inst = load_instrument(name)
            print(f"  {name:<12} {inst.label_vi} ({_years(inst.valid_from, inst.valid_to)})")
        return 0
    inst = load_instrument(args.instrument)
    print(describe(inst, year=args.year, show_items=args.items))
    print(f"OK: {inst.name} hợp lệ / valid.")
    return 0
