"""The Vietnamese words of the tables: column headers and meanings, labels of codes.

Headers, meanings, formats and labels are data: ``workbook.yaml`` beside this module. The
workbooks (:mod:`sipas_analysis.report.workbook`), the notebooks' display tables
(:mod:`sipas_analysis.report.display`) and the progress lines use the same.

Examples
--------
>>> from sipas_analysis.report import labels
>>> labels.header("ci_low")
'Cận dưới KTC 95%'
>>> labels.subgroup_label("age_band=18-29"), labels.subgroup_label("sex=2")
('Nhóm tuổi 18–29', 'Giới tính: Nữ')
>>> labels.label("flag", "small_n")
'Ít người trả lời (n < 30)'
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

__all__ = [
    "SPEC_PATH",
    "spec",
    "header",
    "about",
    "subgroup_label",
    "label",
    "label_codes",
    "label_series",
    "is_missing",
]

SPEC_PATH = Path(__file__).with_name("workbook.yaml")


@functools.cache
def spec() -> dict[str, Any]:
    """The contents of ``workbook.yaml`` (columns, formats, labels, rules, sheets)."""
    with SPEC_PATH.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    # label keys as text: YAML reads 2025 as a number and true as a boolean
    data["labels"] = {
        name: {str(k): v for k, v in codes.items()} if name != "subgroup_values" else codes
        for name, codes in data["labels"].items()
    }
    return data


def header(column: str) -> str:
    """Vietnamese header of a table column (the column name itself when it is not documented)."""
    return spec()["columns"].get(column, {}).get("header", column)


def about(column: str) -> str:
    """What a column holds, in Vietnamese ('' when undocumented)."""
    return spec()["columns"].get(column, {}).get("about", "")


def _labels_of(column: str) -> dict[str, str] | None:
    name = spec()["columns"].get(column, {}).get("labels")
    if name is None:
        return None
    if name == "subgroup":
        return None  # composite codes: see subgroup_label
    return spec()["labels"][name]


def subgroup_label(code: object) -> str:
    """``age_band=18-29`` → ``Nhóm tuổi 18–29``, ``sex=1`` → ``Giới tính: Nam``; '' stays ''.

    Several conditions (``sex=1;age_band=60+``) are joined with ", ".
    """
    if code is None or (isinstance(code, float) and code != code):
        return ""
    text = str(code).strip()
    if not text:
        return ""
    names = spec()["labels"]["subgroup_columns"]
    values = spec()["labels"]["subgroup_values"]
    parts = []
    for part in re.split(r"\s*[;&]\s*", text):
        col, sep, val = part.partition("=")
        if not sep:
            parts.append(part)
            continue
        col, val = col.strip(), val.strip()
        if col == "age_band":
            parts.append(f"{names[col]} {val.replace('-', '–')}")
        elif col in values:
            parts.append(f"{names[col]}: {values[col].get(val, val)}")
        else:
            parts.append(f"{names.get(col, col)}: {val}")
    return ", ".join(parts)


def _label_code(labels: Mapping[str, str], code: object) -> object:
    if is_missing(code):
        return code
    key = str(code)
    if key in labels:
        return labels[key]
    if ";" in key:
        return "; ".join(labels.get(p.strip(), p.strip()) for p in key.split(";"))
    return code


def label(column: str, code: object) -> object:
    """The Vietnamese label of a code of ``column`` (flags joined by ';' are labelled one by one)."""
    if column == "subgroup":
        return subgroup_label(code)
    labels = _labels_of(column)
    return code if labels is None else _label_code(labels, code)


def label_codes(labels_name: str, values: pd.Series) -> pd.Series:
    """The codes of a column replaced by their labels from the list ``labels_name`` of
    ``workbook.yaml`` (``subgroup``: :func:`subgroup_label`), once per distinct value."""
    if labels_name == "subgroup":
        one = subgroup_label
    else:
        labels = spec()["labels"][labels_name]

        def one(v: object) -> object:
            return _label_code(labels, v)

    values = values.astype(object)
    mapping = {v: one(v) for v in pd.unique(values) if not is_missing(v)}
    return values.map(mapping)  # missing values stay missing


def label_series(column: str, values: pd.Series) -> pd.Series:
    """:func:`label` applied to a column (once per distinct value)."""
    name = spec()["columns"].get(column, {}).get("labels")
    return values if name is None else label_codes(name, values)


def is_missing(v: object) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)
