"""The PAPI structure of an instrument in a year: sub-dimensions per dimension, natural scales,
directions and weights of the indicators, and their rescaling to [0, 1]."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.indices.common import (
    valid_in_year,
)
from sipas_analysis.instruments import Instrument

__all__: list[str] = []


# --------------------------------------------------------------------------------------------
# structure
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Structure:
    subs: pd.DataFrame  # code, parent, k, label_vi
    dims: pd.DataFrame  # code, label_vi
    indicators: pd.DataFrame  # instrument item rows (weight > 0) valid that year
    weights: dict[str, float]


def _structure(inst: Instrument, year: int, weights_year: int) -> _Structure:
    if inst.survey != "papi":
        raise SipasError(f"instrument {inst.name} is a {inst.survey} instrument, not PAPI")
    if inst.structure_only:
        raise SipasError(f"instrument {inst.name} defines no indicators (structure only)")
    subs = inst.nodes_at("subdimension", year)
    dims = inst.nodes_at("dimension", year)
    items = valid_in_year(inst.items, year)
    ind = items[(items["role"] == "indicator") & items["parent"].isin(subs["code"])]
    ind = ind[ind["weight"].fillna(1.0) > 0]
    weights = dict(inst.dimension_weights.get(weights_year, {}))
    return _Structure(subs, dims, ind, weights)


def _range(inst: Instrument, item: pd.Series, overrides: Mapping | None) -> tuple[float, float]:
    ov = (overrides or {}).get(item["code"], {})
    scale = inst.scales[item["scale"]]
    a = ov.get("scale_min", item["scale_min"])
    b = ov.get("scale_max", item["scale_max"])
    a = scale.scale_min if a is None or pd.isna(a) else a
    b = scale.scale_max if b is None or pd.isna(b) else b
    return float(a), float(b)


def _direction(item: pd.Series, overrides: Mapping | None) -> str:
    return (overrides or {}).get(item["code"], {}).get("direction", item["direction"])


def _weight(item: pd.Series, overrides: Mapping | None) -> float:
    w = (overrides or {}).get(item["code"], {}).get("weight", item["weight"])
    return 1.0 if w is None or pd.isna(w) else float(w)


def _rescale(x: np.ndarray, a: float, b: float, negative: bool, clip: bool, code: str, df=None):
    x = np.asarray(x, dtype=float)
    if not clip:
        out = ~np.isnan(x) & ((x < a) | (x > b))
        if out.any():
            rows = None
            if df is not None and "source_row" in df.columns:
                rows = df["source_row"].to_numpy()[out].astype(int).tolist()
            raise InputError(
                f"values outside the natural scale [{a:g}, {b:g}]",
                column=code,
                rows=rows,
                values=sorted(pd.unique(x[out]).tolist())[:10],
            )
    z = ((np.clip(x, a, b) if clip else x) - a) / (b - a)
    return 1.0 - z if negative else z
