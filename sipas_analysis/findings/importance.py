"""Importance–performance of the SIPAS satisfaction items (the ``ipa_priority`` reason).

:func:`importance_performance` correlates each item's top-2 indicator with the respondent's
score on the other items (importance) and sets it against the item's top-2 share (performance);
the quadrant names come from ``findings_phrases.yaml``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.findings.phrases import load_phrases
from sipas_analysis.instruments import Instrument, load_instrument

__all__ = ["IPA_COLUMNS", "importance_performance"]

#: Columns of the importance–performance table (the contract), then extras.
IPA_COLUMNS = ["index_code", "label_vi", "importance", "performance", "quadrant"]


def _instrument(instrument: Instrument | str | None, df: pd.DataFrame) -> Instrument:
    if isinstance(instrument, Instrument):
        return instrument
    if instrument is None:
        if "instrument" not in df.columns or df["instrument"].nunique() != 1:
            raise InputError(
                "name the instrument (the table has no single 'instrument' value)",
                column="instrument",
            )
        instrument = str(df["instrument"].iloc[0])
    return load_instrument(instrument)


def _top2_matrix(df: pd.DataFrame, items: list[str], top: Sequence[float]) -> np.ndarray:
    x = np.column_stack(
        [
            pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            for c in items
        ]
    )
    return np.where(np.isnan(x), np.nan, np.isin(x, np.asarray(top, dtype=float)).astype(float))


def _wcorr(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    ok = np.isfinite(x) & np.isfinite(y) & (w > 0)
    if ok.sum() < 3:
        return np.nan
    x, y, w = x[ok], y[ok], w[ok]
    mx, my = np.average(x, weights=w), np.average(y, weights=w)
    cxy = np.average((x - mx) * (y - my), weights=w)
    vx, vy = np.average((x - mx) ** 2, weights=w), np.average((y - my) ** 2, weights=w)
    if vx <= 0 or vy <= 0:
        return np.nan
    return float(cxy / np.sqrt(vx * vy))


def importance_performance(
    respondents: pd.DataFrame,
    instrument: Instrument | str | None = None,
    *,
    estimates: pd.DataFrame | None = None,
    weight: str = "weight",
) -> pd.DataFrame:
    """Importance–performance of the satisfaction items of one wave (whole survey area).

    Parameters
    ----------
    respondents : pandas.DataFrame
        Canonical respondent table of one SIPAS wave. Not modified.
    instrument : Instrument or str, optional
    estimates : pandas.DataFrame, optional
        Estimates table: when given, performance is the item's total-level estimate from it
        (so the numbers match the rest of the report); else the weighted top-2 share.
    weight : str

    Returns
    -------
    pandas.DataFrame
        ``index_code, label_vi, importance, performance, quadrant`` then ``quadrant_code, n``.

    Notes
    -----
    For item k with top-2 indicator :math:`y_{ik}` (1 = hài lòng/rất hài lòng) and the
    respondent's overall score without the item, :math:`s_{i,-k}` = mean of
    :math:`y_{ij}` over the other items j the respondent answered (the item is left out so that
    it is not correlated with itself), importance is the weighted Pearson correlation

    .. math:: r_k = \\frac{\\sum_i w_i (y_{ik}-\\bar y_k)(s_{i,-k}-\\bar s)}
              {\\sqrt{\\sum_i w_i (y_{ik}-\\bar y_k)^2 \\sum_i w_i (s_{i,-k}-\\bar s)^2}},

    and performance the weighted top-2 share (%). Quadrants are cut at the medians over items:
    ``uu_tien`` (importance ≥ median, performance < median: priority), ``duy_tri`` (high,
    high), ``theo_doi`` (low, low), ``giu_vung`` (low, high). The correlation is descriptive
    (no SE).

    Examples
    --------
    >>> ipa = importance_performance(wave_2024)  # doctest: +SKIP
    """
    inst = _instrument(instrument, respondents)
    sat = inst.satisfaction_items()
    sat = sat[sat["code"].isin(list(respondents.columns))]
    if sat.empty:
        raise SipasError(f"no satisfaction item of {inst.name} in the table")
    items = sat["code"].tolist()
    top = inst.scales[str(sat["scale"].iloc[0])].top_box
    y = _top2_matrix(respondents, items, top)
    w = pd.to_numeric(respondents[weight], errors="coerce").to_numpy(dtype=float)
    w = np.where(np.isfinite(w), w, 0.0)
    v = np.isfinite(y)
    tot = np.nansum(y, axis=1)
    cnt = v.sum(axis=1)
    imp, perf, n = [], [], []
    for k in range(len(items)):
        yk = y[:, k]
        rest_cnt = cnt - v[:, k]
        with np.errstate(invalid="ignore", divide="ignore"):
            s = np.where(rest_cnt > 0, (tot - np.nan_to_num(yk)) / rest_cnt, np.nan)
        imp.append(_wcorr(yk, s, w))
        ok = np.isfinite(yk) & (w > 0)
        perf.append(100 * np.average(yk[ok], weights=w[ok]) if ok.any() else np.nan)
        n.append(int(ok.sum()))
    labels = inst.satisfaction_items().set_index("code")["label_vi"]
    out = pd.DataFrame(
        {
            "index_code": items,
            "label_vi": [labels.get(c, c) for c in items],
            "importance": imp,
            "performance": perf,
            "n": n,
        }
    )
    if estimates is not None:
        tot_rows = estimates[
            (estimates["level"] == "total")
            & (estimates.get("subgroup", pd.Series("", index=estimates.index)).fillna("") == "")
        ]
        pmap = tot_rows.drop_duplicates("index_code").set_index("index_code")["estimate"]
        out["performance"] = out["index_code"].map(pmap).fillna(out["performance"])
    mi = np.nanmedian(out["importance"])
    mp = np.nanmedian(out["performance"])
    hi_i = out["importance"] >= mi
    lo_p = out["performance"] < mp
    code = np.select(
        [hi_i & lo_p, hi_i & ~lo_p, ~hi_i & lo_p], ["uu_tien", "duy_tri", "theo_doi"], "giu_vung"
    )
    code = np.where(out["importance"].isna() | out["performance"].isna(), "", code)
    q = load_phrases()["quadrants"]
    out["quadrant"] = [q.get(c, "") for c in code]
    out["quadrant_code"] = code
    return out[IPA_COLUMNS + ["quadrant_code", "n"]]
