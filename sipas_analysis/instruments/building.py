"""Checking a definition file and building an :class:`~sipas_analysis.instruments.model.Instrument`
from it: scales, nodes, items and dimension weights, every fault with its line."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sipas_analysis.errors import ConfigError
from sipas_analysis.instruments.model import (
    _CODE_RE,
    _ITEM_OPTIONAL,
    _ITEM_REQUIRED,
    _LINE,
    _NODE_OPTIONAL,
    _NODE_REQUIRED,
    _SCALE_OPTIONAL,
    _SCALE_REQUIRED,
    _TOP_KEYS_OPTIONAL,
    _TOP_KEYS_REQUIRED,
    ANSWER_TYPES,
    CONFIDENCE,
    DEFAULT_MISSING,
    DIRECTIONS,
    FORMAT_VERSION,
    INDEX_ROLE,
    LEAF_LEVELS,
    LEVELS,
    PARENT_LEVEL,
    ROLES,
    Instrument,
    Scale,
    _display,
)

__all__: list[str] = []


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
