"""The text listing of an instrument's hierarchy (:func:`describe`) and of the bundled
instruments (:func:`describe_bundled`), shown by ``sipas instrument``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sipas_analysis.instruments.loading import list_instruments, load_instrument
from sipas_analysis.instruments.model import (
    ROLES,
    Instrument,
    _display,
    _label_in_year,
    _valid_mask,
)

__all__ = ["describe", "describe_bundled"]


# --------------------------------------------------------------------------------------------
# Text listing (shown by ``sipas instrument``)
# --------------------------------------------------------------------------------------------


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


def describe_bundled() -> str:
    """Text listing of the bundled instruments, one line each (``sipas instrument`` without a name).

    Returns
    -------
    str
        A title line, then name, Vietnamese label and years of every bundled instrument.

    Examples
    --------
    >>> print(describe_bundled().splitlines()[0])
    Bộ công cụ khảo sát có sẵn / bundled instruments:
    """
    lines = ["Bộ công cụ khảo sát có sẵn / bundled instruments:"]
    for name in list_instruments():
        inst = load_instrument(name)
        lines.append(f"  {name:<12} {inst.label_vi} ({_years(inst.valid_from, inst.valid_to)})")
    return "\n".join(lines)
