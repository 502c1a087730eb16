"""PAPI's published "95%" convention beside a true 95% interval
(:func:`papi_interval_conventions`) and the reproduction of the official sub-dimensions
(:func:`papi_reproduction_check`)."""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from sipas_analysis.errors import InputError
from sipas_analysis.indices.papi.options import _PAPI_NOTE, CI_METHOD_PAPI, PAPI_Z, PapiOptions
from sipas_analysis.indices.papi.published import papi_from_indicator_means
from sipas_analysis.instruments import Instrument

__all__ = ["papi_interval_conventions", "papi_reproduction_check"]


# --------------------------------------------------------------------------------------------
# intervals and the reproduction check
# --------------------------------------------------------------------------------------------
def papi_interval_conventions(
    table: pd.DataFrame, *, estimate: str = "estimate", se: str = "se", level: float = 0.95
) -> pd.DataFrame:
    """Show estimates with a true 95% interval AND PAPI's published "95%" convention.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows with an estimate and its standard error (e.g. the official tidy table, with
        ``estimate="value"``, or an estimates table).
    estimate, se : str
        Column names.
    level : float
        Level of the true interval (0.95).

    Returns
    -------
    pandas.DataFrame
        Two rows per input row (the input's columns kept): ``convention`` = ``"true"``
        (:math:`\\pm z_{0.975}\\,SE` = ±1.96·SE, ``ci_level`` 0.95, ``ci_method`` "normal") and
        ``"papi"`` (:math:`\\pm 1.645\\,SE`, ``ci_level`` 0.90, ``ci_method`` "papi_1.645se"),
        with ``multiplier``, ``ci_low``, ``ci_high`` and a Vietnamese ``ci_label_vi``.

    Notes
    -----
    The official 2019 workbook's "95%" bounds equal score ± 1.645·SE, i.e. a 90% normal
    interval; the true 95% interval is wider by a factor 1.96/1.645 ≈ 1.19.

    Examples
    --------
    >>> t = pd.DataFrame({"estimate": [41.7018], "se": [0.3063]})
    >>> iv = papi_interval_conventions(t)
    >>> iv[["convention", "ci_low", "ci_high"]].round(4).values.tolist()
    [['true', 41.1015, 42.3021], ['papi', 41.1979, 42.2057]]
    """
    for c in (estimate, se):
        if c not in table.columns:
            raise InputError("column missing", column=c)
    z = float(stats.norm.ppf(1 - (1 - level) / 2))
    out = []
    for conv, mult, lev, label, method in (
        ("true", z, level, f"Khoảng tin cậy {level:.0%} (±{z:.2f}·SE)".replace(".", ","), "normal"),
        ("papi", PAPI_Z, 0.90, _PAPI_NOTE, CI_METHOD_PAPI),
    ):
        part = table.copy()
        part["convention"] = conv
        part["ci_method"] = method
        part["multiplier"] = mult
        part["ci_level"] = lev
        part["ci_low"] = part[estimate] - mult * part[se]
        part["ci_high"] = part[estimate] + mult * part[se]
        part["ci_label_vi"] = label
        out.append(part)
    res = pd.concat(out, ignore_index=False)
    res["_pos"] = np.tile(np.arange(len(table)), 2)
    return res.sort_values(["_pos"], kind="stable").drop(columns="_pos").reset_index(drop=True)


def papi_reproduction_check(
    official: pd.DataFrame,
    instrument: Instrument | str,
    year: int,
    *,
    options: PapiOptions | None = None,
    item_overrides: Mapping[str, Mapping[str, object]] | None = None,
    tolerance: float = 1e-3,
) -> pd.DataFrame:
    """Which published sub-dimensions the indicator-mean aggregation reproduces, and why not.

    Parameters
    ----------
    official : pandas.DataFrame
        The official tidy table (:func:`sipas_analysis.official.read_papi_workbook`) with
        indicator and sub-dimension rows of ``year``.
    instrument, year, options, item_overrides
        As in :func:`papi_from_indicator_means`.
    tolerance : float
        Largest absolute difference counted as reproduced (1e-3).

    Returns
    -------
    pandas.DataFrame
        One row per sub-dimension: ``index_code, n_provinces, max_abs_diff`` (recomputed minus
        published), ``reproduced``, ``linear_residual`` (largest residual of a free least-squares
        fit of the published values on an intercept and the published indicator means) and
        ``linear`` (residual < 1e-5: the published value is an exact linear function of the
        published means).

    Examples
    --------
    >>> from sipas_analysis.official import read_papi_workbook          # doctest: +SKIP
    >>> off = read_papi_workbook("2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx")  # doctest: +SKIP
    >>> papi_reproduction_check(off, "papi-2018", 2019)                 # doctest: +SKIP
    """
    rec = papi_from_indicator_means(
        official, instrument, year, options=options, item_overrides=item_overrides
    )
    off = official[official["year"] == int(year)] if "year" in official.columns else official
    pub = off[off["level"] == "subdimension"].pivot_table(
        index="province_code", columns="code", values="value", aggfunc="first"
    )
    ind = off[off["level"] == "indicator"].pivot_table(
        index="province_code", columns="code", values="value", aggfunc="first"
    )
    mine = rec[rec["index_level"] == "subdimension"].pivot_table(
        index="province_code", columns="index_code", values="estimate", aggfunc="first"
    )
    out = []
    for s in mine.columns:
        if s not in pub.columns:
            continue
        diff = (mine[s] - pub[s]).abs()
        cols = [c for c in ind.columns if re.fullmatch(rf"{s}_i\d+", str(c))]
        X = ind[cols]
        ok = X.notna().all(axis=1) & pub[s].notna()
        resid = np.nan
        if ok.sum() > len(cols) + 1:
            A = np.column_stack([np.ones(int(ok.sum())), X[ok].to_numpy(dtype=float)])
            coef, *_ = np.linalg.lstsq(A, pub[s][ok].to_numpy(dtype=float), rcond=None)
            resid = float(np.abs(A @ coef - pub[s][ok].to_numpy(dtype=float)).max())
        out.append(
            {
                "index_code": s,
                "n_provinces": int(diff.notna().sum()),
                "max_abs_diff": float(diff.max()),
                "reproduced": bool(diff.notna().any() and diff.max() <= tolerance),
                "linear_residual": resid,
                "linear": bool(resid < 1e-5) if not np.isnan(resid) else False,
            }
        )
    return pd.DataFrame(out)
