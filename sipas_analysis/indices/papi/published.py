"""PAPI from published provincial indicator means (:func:`papi_from_indicator_means`) and the sums
of sub-dimensions into dimensions and totals (:func:`papi_aggregate`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError
from sipas_analysis.indices.common import (
    check_choice,
)
from sipas_analysis.indices.papi.options import (
    TOTAL_CODE,
    TOTAL_LABEL,
    WEIGHTED_CODE,
    WEIGHTED_LABEL,
    PapiOptions,
    subdimension_score,
)
from sipas_analysis.indices.papi.structure import _direction, _range, _rescale, _structure, _weight
from sipas_analysis.instruments import Instrument

__all__ = ["papi_aggregate", "papi_from_indicator_means"]


# --------------------------------------------------------------------------------------------
# published indicator means
# --------------------------------------------------------------------------------------------
def _unit_columns(table: pd.DataFrame) -> list[str]:
    for cols in (["province_code", "province_name"], ["province_code"], ["unit_code"]):
        if all(c in table.columns for c in cols):
            return cols
    raise InputError(
        "the table needs a province_code (or unit_code) column", column="province_code"
    )


def _table_code(sub: str, position: int) -> str:
    return f"{sub}_i{position}"


def papi_from_indicator_means(
    indicator_table: pd.DataFrame,
    instrument: Instrument | str,
    year: int,
    *,
    options: PapiOptions | None = None,
    item_overrides: Mapping[str, Mapping[str, object]] | None = None,
    scale_source: str = "instrument",
) -> pd.DataFrame:
    """Apply the PAPI aggregation to provincial indicator means (e.g. the official workbook).

    Parameters
    ----------
    indicator_table : pandas.DataFrame
        Tidy table as returned by :func:`sipas_analysis.official.read_papi_workbook`: ``year``
        (optional), ``province_code`` (and ``province_name``; or ``unit_code``), ``level``
        (rows ``"indicator"`` are used), ``code``, ``value``, and ``scale_min``/``scale_max`` (the
        published scale in the value's units). Indicator codes are either the instrument's item
        codes or the workbook's ``<sub-dimension>_i<n>``, n = position of the indicator among the
        sub-dimension's indicators in the instrument (its definition order is the workbook's).
    instrument : Instrument or str
        A PAPI instrument with indicators (``papi-2018``).
    year : int
        Survey year (K and the sub-dimensions in use).
    options : PapiOptions, optional
        Uses ``clip``, ``rounded_one_over_k`` and ``dimension_weights_year``.
    item_overrides : dict, optional
        ``{item_code: {"scale_min"|"scale_max"|"direction"|"weight": value}}``.
    scale_source : {"instrument", "published"}
        Natural scale [a, b]: the instrument's (default; a value published in per cent, scale
        0–100, for an instrument share on 0–1 is divided by 100), or the table's published scale
        where it has one.

    Returns
    -------
    pandas.DataFrame
        ``year, <unit columns>, index_level, index_code, label_vi, estimate, z, n_indicators``:
        indicator rows (``estimate`` = the published mean in the instrument's units, ``z`` =
        rescaled), ``subdimension``, ``dimension`` and ``total`` (``papi``, ``papi_weighted``).
        A sub-dimension averages the indicators present (weights renormalised); one with none is
        NaN, and so are its dimension and the totals.

    Raises
    ------
    InputError
        No indicator rows for the year, or a needed column missing.

    Notes
    -----
    :math:`z_k = (x_k-a_k)/(b_k-a_k)` (:math:`1-z_k` if negative), :math:`S = 1/K + (9/K)
    \\sum_k w_k z_k/\\sum_k w_k`, :math:`D = \\sum S`, :math:`PAPI = \\sum D`,
    :math:`PAPI_w = \\sum_d w_d D_d`. Reproduces the published value only for sub-dimensions
    linear in the published means (module docstring; :func:`papi_reproduction_check`).

    Examples
    --------
    >>> t = pd.DataFrame({"province_code": [1, 1, 1], "level": "indicator",
    ...                   "code": ["d7_2_i1", "d7_2_i2", "d7_2_i3"], "value": [0.4, 0.8, 0.3],
    ...                   "scale_min": 0.0, "scale_max": 1.0})
    >>> out = papi_from_indicator_means(t, "papi-2018", 2019)
    >>> s = out[out.index_code == "d7_2"].estimate.iloc[0]   # 1/3 + 3 * 0.5
    >>> round(float(s), 6)
    1.833333
    """
    from sipas_analysis.instruments import load_instrument

    opts = options or PapiOptions()
    check_choice("scale_source", scale_source, ("instrument", "published"))
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    st = _structure(inst, int(year), opts.dimension_weights_year)
    for c in ("level", "code", "value"):
        if c not in indicator_table.columns:
            raise InputError("indicator table column missing", column=c)
    t = indicator_table
    if "year" in t.columns:
        t = t[t["year"] == int(year)]
    t = t[t["level"] == "indicator"]
    if t.empty:
        raise InputError(f"no indicator rows for {year} in the indicator table", column="level")
    unit = _unit_columns(t)
    units = t[unit].drop_duplicates(subset=[unit[0]]).sort_values(unit[0]).reset_index(drop=True)
    codes = set(t["code"])
    wide = t.pivot_table(index=unit[0], columns="code", values="value", aggfunc="first")
    wide = wide.reindex(units[unit[0]])
    scale_tab = t.drop_duplicates("code").set_index("code")
    rows = []
    z_by_item = {}
    for s in st.subs["code"]:
        its = st.indicators[st.indicators["parent"] == s]
        all_ind = inst.items[(inst.items["parent"] == s) & (inst.items["role"] == "indicator")]
        position = {c: i + 1 for i, c in enumerate(all_ind.sort_values("order")["code"])}
        for _, it in its.iterrows():
            code = it["code"] if it["code"] in codes else _table_code(s, position[it["code"]])
            x = wide[code] if code in wide.columns else pd.Series(np.nan, index=wide.index)
            a, b = _range(inst, it, item_overrides)
            pa = scale_tab["scale_min"].get(code, np.nan) if "scale_min" in t.columns else np.nan
            pb = scale_tab["scale_max"].get(code, np.nan) if "scale_max" in t.columns else np.nan
            if scale_source == "published" and pd.notna(pa) and pd.notna(pb):
                a, b = float(pa), float(pb)
            elif pd.notna(pb) and float(pb) == 100.0 and b == 1.0 and a == 0.0:
                x = x / 100.0
            zv = _rescale(
                x.to_numpy(dtype=float),
                a,
                b,
                _direction(it, item_overrides) == "negative",
                opts.clip,
                code,
            )
            z = pd.Series(zv, index=wide.index)
            z_by_item[it["code"]] = (z, _weight(it, item_overrides))
            rows.append(
                pd.DataFrame(
                    {
                        unit[0]: wide.index,
                        "index_level": "indicator",
                        "index_code": it["code"],
                        "label_vi": it["label_vi"],
                        "estimate": x.to_numpy(dtype=float),
                        "z": z.to_numpy(dtype=float),
                        "n_indicators": 1,
                    }
                )
            )
    sub_rows = []
    for s, k, lab in zip(st.subs["code"], st.subs["k"], st.subs["label_vi"], strict=True):
        its = st.indicators.loc[st.indicators["parent"] == s, "code"]
        num = pd.Series(0.0, index=wide.index)
        den = pd.Series(0.0, index=wide.index)
        cnt = pd.Series(0, index=wide.index)
        for c in its:
            z, w = z_by_item[c]
            have = z.notna()
            num += np.where(have, z.fillna(0.0) * w, 0.0)
            den += np.where(have, w, 0.0)
            cnt += have.astype(int)
        mean = (num / den).where(den > 0)
        score = subdimension_score(
            mean.to_numpy(dtype=float), int(k), rounded=s in opts.rounded_one_over_k
        )
        sub_rows.append(
            pd.DataFrame(
                {
                    unit[0]: wide.index,
                    "index_level": "subdimension",
                    "index_code": s,
                    "label_vi": lab,
                    "estimate": score,
                    "z": mean.to_numpy(dtype=float),
                    "n_indicators": cnt.to_numpy(),
                }
            )
        )
    subs_tab = pd.concat(sub_rows, ignore_index=True)
    agg = papi_aggregate(
        subs_tab, inst, int(year), by=[unit[0]], weights_year=opts.dimension_weights_year
    )
    agg["z"] = np.nan
    agg["n_indicators"] = 0
    out = pd.concat([agg, subs_tab, *rows], ignore_index=True)
    out = units.merge(out, on=unit[0], how="right")
    out.insert(0, "year", int(year))
    lvl = {"total": 0, "dimension": 1, "subdimension": 2, "indicator": 3}
    out["_o"] = out["index_level"].map(lvl)
    out = out.sort_values([unit[0], "_o"], kind="stable").drop(columns="_o")
    return out.reset_index(drop=True)


def papi_aggregate(
    subdimensions: pd.DataFrame,
    instrument: Instrument | str,
    year: int,
    *,
    by: Sequence[str] = ("province_code",),
    code: str = "index_code",
    value: str = "estimate",
    weights_year: int = 2019,
) -> pd.DataFrame:
    """Sum sub-dimension scores into dimensions, the PAPI total and the weighted total.

    Parameters
    ----------
    subdimensions : pandas.DataFrame
        One row per (unit, sub-dimension); other rows are ignored.
    instrument : Instrument or str
        A PAPI instrument (its year structure and dimension weights).
    year : int
        Survey year: which sub-dimensions belong to each dimension.
    by : sequence of str
        Unit columns (default ``province_code``).
    code, value : str
        Columns holding the sub-dimension code and score (``"code"``/``"value"`` for the tidy
        official table).
    weights_year : int
        Year of the published dimension weights (default 2019).

    Returns
    -------
    pandas.DataFrame
        ``<by>, index_level (dimension | total), index_code (d1..d8, papi, papi_weighted),
        label_vi, estimate``. A unit missing a sub-dimension has no value for that dimension and
        no totals (NaN), as officially.

    Notes
    -----
    :math:`D_d = \\sum_{s\\in d} S_s`, :math:`PAPI = \\sum_d D_d`,
    :math:`PAPI_w = \\sum_d w_d D_d` (weights from the instrument data).

    Examples
    --------
    >>> from sipas_analysis.instruments import load_instrument
    >>> p = load_instrument("papi-2018")
    >>> s = p.nodes_at("subdimension", 2019)
    >>> t = pd.DataFrame({"province_code": 1, "index_code": s["code"],
    ...                   "estimate": 1.0 / s["k"].astype(float)})   # every S at its minimum
    >>> a = papi_aggregate(t, p, 2019)
    >>> a.set_index("index_code").loc[["d1", "papi"], "estimate"].round(6).tolist()
    [1.0, 8.0]
    """
    from sipas_analysis.instruments import load_instrument

    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    st = _structure(inst, int(year), weights_year)
    by = list(by)
    for c in [*by, code, value]:
        if c not in subdimensions.columns:
            raise InputError("column missing in the sub-dimension table", column=c)
    sub = subdimensions[subdimensions[code].isin(st.subs["code"])]
    wide = sub.pivot_table(index=by, columns=code, values=value, aggfunc="first", dropna=False)
    wide = wide.reindex(columns=st.subs["code"].tolist())
    out = []
    dims = {}
    for d, lab in zip(st.dims["code"], st.dims["label_vi"], strict=True):
        subs_d = st.subs.loc[st.subs["parent"] == d, "code"].tolist()
        dims[d] = (
            wide[subs_d].sum(axis=1, min_count=len(subs_d)).where(wide[subs_d].notna().all(axis=1))
        )
        out.append(_agg_rows(dims[d], by, "dimension", d, lab))
    dframe = pd.DataFrame(dims)
    total = dframe.sum(axis=1).where(dframe.notna().all(axis=1))
    out.insert(0, _agg_rows(total, by, "total", TOTAL_CODE, TOTAL_LABEL))
    if st.weights and set(dims) <= set(st.weights):
        wt = sum(st.weights[d] * dframe[d] for d in dims)
        wt = wt.where(dframe.notna().all(axis=1))
        out.insert(1, _agg_rows(wt, by, "total", WEIGHTED_CODE, WEIGHTED_LABEL))
    return pd.concat(out, ignore_index=True)


def _agg_rows(values: pd.Series, by: list[str], level: str, code: str, label: str) -> pd.DataFrame:
    frame = values.rename("estimate").reset_index()
    frame.insert(len(by), "index_level", level)
    frame.insert(len(by) + 1, "index_code", code)
    frame.insert(len(by) + 2, "label_vi", label)
    return frame
