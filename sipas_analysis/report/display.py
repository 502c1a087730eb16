"""Display tables for the notebooks: the same headers, labels and number formats as the workbook.

:func:`display_frame` gives the table as people read it (Vietnamese headers, labels for codes,
``81,5``), :func:`display_table` a pandas Styler of it for a JupyterLab cell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sipas_analysis.report.labels import header, is_missing, label_series, spec
from sipas_analysis.report.workbook import points_for

__all__ = ["display_frame", "display_table"]

_DECIMALS = {"pct": 1, "papi": 2, "p": 3, "ratio": 2, "int": 0, "thousands": 0}


def _display_text(v: object) -> str:
    if isinstance(v, list | tuple | np.ndarray):
        return ", ".join(str(x) for x in v)
    return "" if is_missing(v) else str(v)


def display_frame(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """A table as people read it: Vietnamese headers, labels for codes, numbers in Vietnamese
    format (``81,5``; ``0,003``), names beside codes, missing values as ''."""
    from sipas_analysis.report.format import fmt_number

    cols = list(columns) if columns is not None else list(frame.columns)
    points = points_for(frame, "papi")
    out = {}
    for c in cols:
        meta = spec()["columns"].get(c, {})
        kind = meta.get("format")
        values = frame[c]
        if c == "subgroup" or meta.get("labels"):
            shown = label_series(c, values).astype(object)
            shown = shown.map(lambda v: "" if is_missing(v) else str(v))
        elif pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        ):
            if kind == "points":
                dec = (
                    np.where(points == "pct", 1, 2)
                    if not isinstance(points, str)
                    else np.full(len(values), _DECIMALS[points])
                )
            else:
                dec = np.full(len(values), _DECIMALS.get(kind or "ratio", 2))
                if kind is None and pd.api.types.is_integer_dtype(values.dtype):
                    dec[:] = 0
            shown = pd.Series(
                [
                    "" if is_missing(v) else fmt_number(v, int(d))
                    for v, d in zip(values, dec, strict=True)
                ],
                index=values.index,
            )
        else:
            shown = values.astype(object).map(_display_text)
        out[header(c)] = shown
    return pd.DataFrame(out, index=frame.index)


def display_table(
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    empty: str = "Không có dòng nào để hiển thị.",
    caption: str | None = None,
):
    """A pandas Styler of :func:`display_frame` (no index, numbers right-aligned), or, when the
    table is empty, the sentence ``empty`` as Markdown."""
    from IPython.display import Markdown

    if frame is None or frame.empty:
        return Markdown(f"*{empty}*")
    shown = display_frame(frame, columns)
    numeric = [
        header(c)
        for c in (columns or frame.columns)
        if pd.api.types.is_numeric_dtype(frame[c].dtype)
        and not pd.api.types.is_bool_dtype(frame[c].dtype)
        and not spec()["columns"].get(c, {}).get("labels")
    ]
    styler = shown.style.hide(axis="index").set_properties(
        subset=numeric, **{"text-align": "right"}
    )
    styler = styler.set_table_styles(
        [
            {"selector": "th", "props": "text-align: left; background: #DDEBF7; padding: 4px;"},
            {"selector": "td", "props": "padding: 2px 6px;"},
        ]
    )
    if caption:
        styler = styler.set_caption(caption)
    return styler
