"""Shared helpers of calibration: column and weight checks, the cells of a margin, the population
table of the cells and the matching of sample cells to it."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError

__all__ = ["MarginKey"]


MarginKey = str | tuple[str, ...]

_LONELY_RULES = ("fail", "certainty", "remove", "adjust", "average")


# ----------------------------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------------------------
def _rows(df: pd.DataFrame, mask: np.ndarray) -> list[int]:
    """Row numbers as in the source file: ``source_row`` if present, else position + 2 (header 1)."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))
    if "source_row" in df.columns:
        return [int(v) for v in df["source_row"].to_numpy()[positions]]
    return [int(p) + 2 for p in positions]


def _norm_value(v: object) -> object:
    """Normalise a cell label so that 1, 1.0, np.int64(1) match and strings match strings."""
    if isinstance(v, bool | np.bool_):
        return int(v)
    if isinstance(v, numbers.Integral):
        return int(v)
    if isinstance(v, numbers.Real):
        f = float(v)
        return int(f) if f.is_integer() else f
    return str(v)


def _check_columns(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{what}: column(s) not in the data: {', '.join(map(str, missing))}",
            column=str(missing[0]),
            values=missing,
        )


def _weights(df: pd.DataFrame, weight: str) -> np.ndarray:
    """The weight column as float64, checked: present, numeric, finite and > 0."""
    _check_columns(df, [weight], "weight")
    w = pd.to_numeric(df[weight], errors="coerce").astype("float64").to_numpy()
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise InputError(
            "weights must be positive numbers (missing, zero or negative weights found)",
            column=weight,
            rows=_rows(df, bad),
            values=list(pd.unique(df[weight].to_numpy()[bad]))[:10],
        )
    return w


def _cell_keys(df: pd.DataFrame, cells: Sequence[str], what: str) -> list[tuple]:
    """One normalised key tuple per row for the cell columns; missing labels are an error."""
    _check_columns(df, cells, what)
    cols = []
    for c in cells:
        s = df[c]
        na = s.isna().to_numpy()
        if na.any():
            raise InputError(
                f"{what}: missing values in a cell variable",
                column=c,
                rows=_rows(df, na),
            )
        uniq = pd.unique(s.to_numpy(dtype=object))
        mapping = {u: _norm_value(u) for u in uniq}
        cols.append([mapping[v] for v in s.to_numpy(dtype=object)])
    return list(zip(*cols, strict=True))


def _cell_label(cells: Sequence[str], key: tuple) -> str:
    return ", ".join(f"{c}={v!r}" for c, v in zip(cells, key, strict=True))


def _population_table(
    population: pd.DataFrame | pd.Series,
    cells: Sequence[str],
    total: str | None,
    what: str,
) -> dict[tuple, float]:
    """Population totals as {normalised cell key: total}; checks duplicates and values."""
    if isinstance(population, pd.Series):
        s = population
        frame = s.rename("__total__").reset_index()
        if len(frame.columns) - 1 != len(cells):
            raise InputError(
                f"{what}: the population Series must be indexed by {list(cells)}",
                values=list(frame.columns[:-1]),
            )
        frame.columns = [*cells, "__total__"]
        total = "__total__"
    elif isinstance(population, pd.DataFrame):
        frame = population
        _check_columns(frame, cells, f"{what} (population table)")
        if total is None:
            rest = [c for c in frame.columns if c not in cells]
            if len(rest) != 1:
                raise InputError(
                    f"{what}: the population table must have the cell columns {list(cells)} and "
                    f"exactly one total column (found {rest}); name it with total=",
                    values=rest,
                )
            total = rest[0]
        _check_columns(frame, [total], f"{what} (population table)")
    else:
        raise InputError(f"{what}: population must be a DataFrame or a Series")
    keys = _cell_keys(frame, cells, f"{what} (population table)")
    vals = pd.to_numeric(frame[total], errors="coerce").astype("float64").to_numpy()
    table: dict[tuple, float] = {}
    for k, v in zip(keys, vals, strict=True):
        if k in table:
            raise InputError(
                f"{what}: population cell {_cell_label(cells, k)} appears more than once",
                column=str(total),
                values=[k],
            )
        if not (np.isfinite(v) and v > 0):
            raise InputError(
                f"{what}: population total of cell {_cell_label(cells, k)} is missing or not "
                f"positive ({v}); a cell the sample uses must have a positive population total",
                column=str(total),
                values=[v],
            )
        table[k] = float(v)
    return table


def _match_cells(
    df: pd.DataFrame,
    cells: Sequence[str],
    table: dict[tuple, float],
    w: np.ndarray,
    what: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Row -> cell codes and the population totals in code order; empty/missing cells raise."""
    keys = _cell_keys(df, cells, what)
    order = list(table)
    pos = {k: i for i, k in enumerate(order)}
    codes = np.fromiter((pos.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
    if (codes < 0).any():
        missing = sorted({k for k, c in zip(keys, codes, strict=True) if c < 0}, key=str)
        raise InputError(
            f"{what}: sample cell {_cell_label(cells, missing[0])} has no population total"
            + (f" (and {len(missing) - 1} more cells)" if len(missing) > 1 else ""),
            column=", ".join(cells),
            rows=_rows(df, codes < 0),
            values=missing,
        )
    sums = np.bincount(codes, weights=w, minlength=len(order))
    empty = [order[i] for i in np.flatnonzero(sums <= 0)]
    if empty:
        raise InputError(
            f"{what}: population cell {_cell_label(cells, empty[0])} has no respondents in the "
            "sample (empty cell); collapse it with a neighbouring cell"
            + (f" (and {len(empty) - 1} more empty cells)" if len(empty) > 1 else ""),
            column=", ".join(cells),
            values=empty,
        )
    targets = np.array([table[k] for k in order], dtype="float64")
    return codes, targets


def _as_key(key: MarginKey) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else tuple(key)
