"""The model of an instrument: levels, roles, answer types and the other fixed vocabularies, and
the data classes :class:`Scale` and :class:`Instrument` (hierarchy, items, labels by year)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sipas_analysis.errors import SipasError
from sipas_analysis.paths import REPO_ROOT

__all__ = [
    "ANSWER_TYPES",
    "CONFIDENCE",
    "DEFAULT_MISSING",
    "DIRECTIONS",
    "FORMAT_VERSION",
    "INDEX_ROLE",
    "INSTRUMENTS_DIR",
    "Instrument",
    "LEAF_LEVELS",
    "LEVELS",
    "PARENT_LEVEL",
    "ROLES",
    "Scale",
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
        >>> from sipas_analysis.instruments import load_instrument
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
        >>> from sipas_analysis.instruments import load_instrument
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
        >>> from sipas_analysis.instruments import load_instrument
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
        >>> from sipas_analysis.instruments import load_instrument
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
        >>> from sipas_analysis.instruments import load_instrument
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
def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)
