"""Calibration of a wave in a run (:func:`calibrate_wave`) and the summary of its weights
(:func:`weighting_summary`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError
from sipas_analysis.weighting.calibration import poststratify, rake
from sipas_analysis.weighting.cells import _check_columns, _norm_value, _rows
from sipas_analysis.weighting.census import census_margins

__all__ = ["calibrate_wave", "weighting_summary"]


# ----------------------------------------------------------------------------------------------
# calibration of a wave (the run)
# ----------------------------------------------------------------------------------------------
def _efficiency(w: np.ndarray) -> float:
    return float(w.sum() ** 2 / (len(w) * np.sum(w**2))) if len(w) else float("nan")


def weighting_summary(respondents: pd.DataFrame, weight: str = "weight") -> dict[str, object]:
    """Kish weighting efficiency of a respondent table's weights, before and after calibration.

    Parameters
    ----------
    respondents : DataFrame
        Canonical respondent table; when it was calibrated by :func:`calibrate_wave` it holds the
        design weights in ``weight_design`` and the margins in ``calib__*`` columns.
    weight : str, default "weight"
        The weight column used by the estimates.

    Returns
    -------
    dict
        ``calibrated`` (bool), ``n``, ``efficiency_design`` and, when calibrated,
        ``efficiency_calibrated``, ``g_min``, ``g_max`` and ``margins`` (the calibration
        columns).

    Notes
    -----
    Kish efficiency :math:`E = (\\sum_i w_i)^2 / (n \\sum_i w_i^2)` (effective sample size
    :math:`nE`); g-weights :math:`g_i = w_i / d_i` (calibrated over design weight).

    Examples
    --------
    >>> import pandas as pd
    >>> weighting_summary(pd.DataFrame({"weight": [1.0, 1.0, 2.0, 2.0]}))["efficiency_design"]
    0.9
    """
    from sipas_analysis.design import CALIBRATION_PREFIX, DESIGN_WEIGHT_COLUMN

    w = pd.to_numeric(respondents[weight], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    margins = [c for c in respondents.columns if str(c).startswith(CALIBRATION_PREFIX)]
    calibrated = bool(margins) and DESIGN_WEIGHT_COLUMN in respondents.columns
    d = (
        pd.to_numeric(respondents[DESIGN_WEIGHT_COLUMN], errors="coerce").to_numpy(
            dtype=float, na_value=np.nan
        )
        if calibrated
        else w
    )
    ok = np.isfinite(w) & np.isfinite(d) & (w > 0) & (d > 0)
    out: dict[str, object] = {
        "calibrated": calibrated,
        "n": int(ok.sum()),
        "efficiency_design": _efficiency(d[ok]),
    }
    if calibrated:
        g = w[ok] / d[ok]
        out.update(
            {
                "efficiency_calibrated": _efficiency(w[ok]),
                "g_min": float(g.min()) if g.size else float("nan"),
                "g_max": float(g.max()) if g.size else float("nan"),
                "margins": [str(c)[len(CALIBRATION_PREFIX) :] for c in margins],
            }
        )
    return out


def _read_margin_table(path, columns: tuple[str, ...], name: str) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype={c: str for c in columns}, encoding="utf-8-sig")
    except (OSError, ValueError) as exc:
        raise InputError(
            f"không đọc được bảng biên {name!r} / cannot read the margin table {name!r}: {exc}",
            file=str(path),
        ) from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"bảng biên {name!r} thiếu cột / margin table {name!r} lacks column(s) "
            f"{', '.join(missing)} (it needs {', '.join(columns)} and total or share)",
            file=str(path),
            column=missing[0],
        )
    return table


def calibrate_wave(
    respondents: pd.DataFrame,
    calibration: Mapping[str, object],
    vintage: str,
    *,
    weight: str = "weight",
) -> pd.DataFrame:
    """Calibrate the weights of a wave to population margins, as a wave config declares.

    Parameters
    ----------
    respondents : DataFrame
        Canonical respondent table of one wave. Not modified.
    calibration : dict
        ``WaveConfig.calibration``: ``method`` (``"rake"`` or ``"poststratify"``), ``source``
        (``"census2019"``), ``margins`` (names of :data:`sipas_analysis.waves.CALIBRATION_MARGINS`)
        and ``tables`` (margin name -> csv path, for margins the census does not hold).
    vintage : str
        Boundary vintage of the wave (which commune list holds the 2019 census figures).
    weight : str, default "weight"

    Returns
    -------
    DataFrame
        A copy of ``respondents`` with ``weight`` replaced by the calibrated weights, the design
        weights in ``weight_design`` and one ``calib__<margin>`` column per margin (the category
        labels as text; for a cross-classified margin such as ``sex_age_band`` the joined cells).
        These columns carry the calibration to every estimate computed from the table (see
        :mod:`sipas_analysis.design`), also after ``DataFrame.assign`` of other strata or PSUs.

    Raises
    ------
    InputError
        A respondent without a category of a margin, a sample category the margin table lacks, a
        margin category without respondents, unreadable or malformed margin tables (bilingual
        messages).
    SipasError
        Raking that does not converge.

    Notes
    -----
    Census margins (``commune``, ``area``, ``urban_rural`` and their crosses) come from
    :func:`census_margins` over the communes the sample covers, so their totals are those
    communes' 2019 population (all ages). A supplied table with ``share`` is scaled to the same
    total; one with ``total`` must add up to it for raking. ``rake`` is :func:`rake`
    (iterative proportional fitting, tolerance :math:`10^{-12}`), ``poststratify`` is
    :func:`poststratify` on the cells of its one margin. The SEs then use the residuals of the
    design-weighted regression on the margins' indicators (R ``calibrate()``).
    """
    from sipas_analysis import geography
    from sipas_analysis.design import CALIBRATION_PREFIX, DESIGN_WEIGHT_COLUMN
    from sipas_analysis.waves import CALIBRATION_MARGINS

    method = str(calibration.get("method", "rake"))
    names = list(calibration["margins"])
    tables = dict(calibration.get("tables") or {})
    df = respondents.copy()
    if DESIGN_WEIGHT_COLUMN in df.columns:
        raise InputError(
            f"bảng đã hiệu chỉnh rồi / the table is already calibrated (column "
            f"{DESIGN_WEIGHT_COLUMN!r} present)",
            column=DESIGN_WEIGHT_COLUMN,
        )
    keys = {n: CALIBRATION_MARGINS[n][0] for n in names}
    for n, cols in keys.items():
        _check_columns(df, list(cols), f"calibration margin {n}")
        na = df[list(cols)].isna().any(axis=1).to_numpy()
        if na.any():
            raise InputError(
                f"{int(na.sum())} người trả lời thiếu {'/'.join(cols)}: không hiệu chỉnh được "
                f"theo biên {n!r} / {int(na.sum())} respondent(s) without {'/'.join(cols)}: "
                f"cannot calibrate to margin {n!r} (fill the value or drop the margin)",
                column=cols[0],
                rows=_rows(df, na),
            )
    # labels as text in every margin column used (census and supplied tables alike)
    work = df.copy()
    for cols in keys.values():
        for c in cols:
            work[c] = df[c].map(_norm_value).astype(str)
    com = geography.communes(vintage)
    codes = set(pd.to_numeric(df["commune_code"], errors="coerce").dropna().astype(int))
    com = com[com["commune_code"].astype(int).isin(codes)].copy()
    missing_codes = sorted(codes - set(com["commune_code"].astype(int)))
    if missing_codes:
        raise InputError(
            f"xã không có số liệu tổng điều tra 2019 / commune(s) without 2019 census figures: "
            f"{missing_codes[:10]}",
            column="commune_code",
            values=missing_codes,
        )
    for c in ("commune_code", "area_code"):
        com[c] = com[c].map(_norm_value).astype(str)
    supplied = {}
    for n in names:
        if n in tables:
            t = _read_margin_table(tables[n], keys[n], n)
            for c in keys[n]:
                t[c] = t[c].map(lambda v: _norm_value(_num(v))).astype(str)
            supplied[keys[n]] = t
    by = [keys[n] for n in names]
    margins = census_margins(com, by=by, supplied=supplied)
    for k, frame in margins.items():
        for c in k:
            frame[c] = frame[c].map(_norm_value).astype(str)
    if method == "poststratify":
        key = by[0]
        new = poststratify(work, weight, list(key), margins[key], total="total")
    else:
        new = rake(work, weight, dict(margins), max_iter=200, tol=1e-12)
    df[DESIGN_WEIGHT_COLUMN] = df[weight].astype("float64")
    df[weight] = new.to_numpy()
    for n, cols in keys.items():
        df[CALIBRATION_PREFIX + n] = work[list(cols)].agg(" × ".join, axis=1)
    return df


def _num(v: object) -> object:
    """A csv label as a number when it is one ("1" -> 1), else the text."""
    try:
        f = float(str(v))
    except ValueError:
        return str(v)
    return int(f) if f.is_integer() else f
