"""Domains and items for the engine: domain codes of one or several crossed columns, the item
matrix with its checks, and the sparse domain indicator."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from sipas_analysis.design import DesignWarning
from sipas_analysis.errors import InputError

__all__: list[str] = []


# --------------------------------------------------------------------------------------------
# domains
# --------------------------------------------------------------------------------------------
def _as_cols(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _domain_codes(
    df: pd.DataFrame, cols: list[str], domain_values: Mapping[str, Sequence] | None
) -> tuple[np.ndarray, pd.DataFrame]:
    """Domain code per row (-1 = in no domain) and the table of domains (one row per code)."""
    n = len(df)
    if not cols:
        return np.zeros(n, dtype=np.int64), pd.DataFrame(index=range(1))
    sub = df[cols]
    na = sub.isna().any(axis=1).to_numpy()
    full_lists = []
    for c in cols:
        if domain_values is not None and c in domain_values:
            full_lists.append(list(domain_values[c]))
        elif isinstance(sub[c].dtype, pd.CategoricalDtype):
            full_lists.append(list(sub[c].cat.categories))
        else:
            full_lists.append(None)
    if all(v is not None for v in full_lists):
        mi = pd.MultiIndex.from_product(full_lists, names=cols)
        domains = mi.to_frame(index=False)
        for c in cols:
            if not isinstance(sub[c].dtype, pd.CategoricalDtype):
                try:
                    domains[c] = domains[c].astype(sub[c].dtype)
                except (TypeError, ValueError):
                    pass
    else:
        observed = sub[~na].drop_duplicates()
        for c, values in zip(cols, full_lists, strict=True):
            if values is not None:
                observed = observed[observed[c].isin(values)]
        domains = observed.sort_values(cols).reset_index(drop=True)
    for c in cols:  # nullable dtypes so that stacked levels keep integer codes
        if pd.api.types.is_integer_dtype(domains[c].dtype) and not isinstance(
            domains[c].dtype, pd.CategoricalDtype
        ):
            domains[c] = domains[c].astype("Int64")
    if len(cols) == 1:  # one column: a flat index (the same codes, without building tuples)
        keys = pd.Index(domains[cols[0]].astype(object))
        codes = keys.get_indexer(sub[cols[0]].astype(object))
    else:
        keys = pd.MultiIndex.from_frame(domains[cols].astype(object))
        codes = keys.get_indexer(pd.MultiIndex.from_frame(sub.astype(object)))
    codes = np.asarray(codes, dtype=np.int64)
    codes[na] = -1
    if na.any():
        warnings.warn(
            f"{int(na.sum())} respondents have no value in {cols}; they stay in the design but "
            "belong to no domain of this level",
            DesignWarning,
            stacklevel=3,
        )
    outside = (codes < 0) & ~na
    if outside.any():
        warnings.warn(
            f"{int(outside.sum())} respondents have {cols} values outside the listed domains; "
            "they stay in the design but in no domain",
            DesignWarning,
            stacklevel=3,
        )
    return codes, domains


def _item_matrix(df: pd.DataFrame, items: Sequence[str], file: str | None) -> np.ndarray:
    out = np.empty((len(df), len(items)))
    for j, c in enumerate(items):
        s = df[c]
        if pd.api.types.is_numeric_dtype(s.dtype):  # numbers already (Int64 of a wave): no check
            out[:, j] = s.to_numpy(dtype=float, na_value=np.nan)
            continue
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = s.astype(object)
        num = pd.to_numeric(s, errors="coerce")
        bad = num.isna().to_numpy() & s.notna().to_numpy()
        if bad.any():
            pos = np.flatnonzero(bad)
            rows = (
                df["source_row"].to_numpy()[pos].tolist()
                if "source_row" in df.columns
                else (pos + 2).tolist()
            )
            raise InputError(
                "item answers must be numeric codes",
                file=file,
                column=c,
                rows=rows,
                values=pd.unique(s[bad].astype(object)).tolist(),
            )
        out[:, j] = num.to_numpy(dtype=float, na_value=np.nan)
    return out


def _indicator(n_domains: int, codes: np.ndarray) -> sparse.csr_matrix:
    keep = np.flatnonzero(codes >= 0)
    return sparse.csr_matrix(
        (np.ones(keep.size), (codes[keep], keep)), shape=(n_domains, codes.shape[0])
    )
