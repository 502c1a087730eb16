"""Building a :class:`~sipas_analysis.design.core.SurveyDesign` from a respondent table
(:func:`survey_design`): columns, nesting, lonely PSUs and the calibration the table carries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sipas_analysis.design.calibration import Calibration, calibration_model
from sipas_analysis.design.core import SurveyDesign
from sipas_analysis.design.options import (
    CALIBRATION_PREFIX,
    DESIGN_WEIGHT_COLUMN,
    LONELY_PSU_RULES,
    _lonely_message,
    _require_columns,
    _source_rows,
)
from sipas_analysis.errors import InputError, SipasError

__all__ = ["survey_design"]


def survey_design(
    df: pd.DataFrame,
    weight: str | None = "weight",
    strata: str | None = "stratum",
    psu: str | None = "psu",
    fpc: str | None = None,
    lonely_psu: str = "fail",
    *,
    file: str | None = None,
    calibration: str | list[str] | None = "auto",
    design_weight: str = DESIGN_WEIGHT_COLUMN,
) -> SurveyDesign:
    """Build a stratified cluster design from a respondent table.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per respondent (e.g. the canonical respondent table). Not modified.
    weight : str or None
        Design weight column (> 0, finite). ``None``: equal weights 1.
    strata : str or None
        Stratum column. ``None``: one stratum.
    psu : str or None
        PSU column; labels are nested in strata (the same label in two strata is two PSUs, as
        ``nest=TRUE`` in R). ``None``: every respondent is its own PSU.
    fpc : str or None
        Finite population correction column, constant within a stratum: either the population
        number of PSUs :math:`N_h` (values > 1) or the sampling fraction :math:`n_h/N_h` (all
        values <= 1), as in R ``svydesign(fpc=)``.
    lonely_psu : {"fail", "adjust", "average", "certainty", "remove"}
        Rule for a stratum with a single PSU (R ``options(survey.lonely.psu=)``). "fail" (default)
        raises :class:`~sipas_analysis.errors.SipasError` naming the strata; "adjust" centres the
        lonely PSU at the population mean (0 for influence values) instead of the stratum mean;
        "average" replaces its contribution by the average of the other strata (the variance is
        multiplied by :math:`H/H_{ok}`); "certainty"/"remove" give it no contribution.
    file : str, optional
        File name to cite in error messages.
    calibration : "auto", list of str or None, default "auto"
        Calibration columns of calibrated weights (see the module docstring). ``"auto"``: the
        columns whose names start with :data:`CALIBRATION_PREFIX`, if any; ``None``: treat
        ``weight`` as plain design weights.
    design_weight : str, default "weight_design"
        Column with the design weights :math:`d_i` of a calibrated table.

    Returns
    -------
    SurveyDesign

    Raises
    ------
    InputError
        Unknown columns; missing, non-numeric, non-positive or infinite weights; missing strata or
        PSU labels; an fpc that varies within a stratum or is smaller than the sample.
    SipasError
        A singleton stratum with ``lonely_psu="fail"``.

    Notes
    -----
    Degrees of freedom: ``df = (number of PSUs) - (number of strata)`` (R ``degf``). The variance
    of an estimator with influence values :math:`z_i` is
    :math:`\\sum_h (1-f_h)\\frac{n_h}{n_h-1}\\sum_j (z_{hj}-\\bar z_h)^2`, with :math:`z_{hj}` the
    PSU totals and :math:`f_h = n_h/N_h`; see :meth:`SurveyDesign.domain_scores`.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"stratum": ["a", "a", "b", "b", "b"], "psu": [1, 2, 1, 2, 3],
    ...                   "weight": [1.0, 2.0, 1.5, 1.0, 3.0]})
    >>> des = survey_design(d)
    >>> des.n_psu, des.n_strata, des.df
    (5, 2, 3)
    """
    if lonely_psu not in LONELY_PSU_RULES:
        raise SipasError(f"lonely_psu must be one of {LONELY_PSU_RULES}, not {lonely_psu!r}")
    _require_columns(df, [weight, strata, psu, fpc])
    n = len(df)
    if n == 0:
        raise InputError("the respondent table is empty", file=file)
    # weights
    if weight is None:
        w = np.ones(n)
    else:
        wcol = df[weight]
        wnum = pd.to_numeric(wcol, errors="coerce").astype(float).to_numpy()
        bad = ~np.isfinite(wnum) | (wnum <= 0)
        if bad.any():
            raise InputError(
                "design weights must be positive finite numbers",
                file=file,
                column=weight,
                rows=_source_rows(df, bad),
                values=pd.unique(wcol[bad].astype(object)).tolist(),
            )
        w = wnum
    # strata
    if strata is None:
        s_codes = np.zeros(n, dtype=np.int64)
        s_labels = np.array(["all"], dtype=object)
    else:
        scol = df[strata]
        bad = scol.isna().to_numpy()
        if bad.any():
            raise InputError(
                "missing stratum", file=file, column=strata, rows=_source_rows(df, bad)
            )
        s_codes, s_labels = pd.factorize(scol, sort=True)
        s_labels = np.asarray(s_labels, dtype=object)
    # PSUs nested in strata
    if psu is None:
        p_raw = np.arange(n)
    else:
        pcol = df[psu]
        bad = pcol.isna().to_numpy()
        if bad.any():
            raise InputError("missing PSU label", file=file, column=psu, rows=_source_rows(df, bad))
        p_raw, _ = pd.factorize(pcol, sort=True)
    pair = s_codes.astype(np.int64) * (int(p_raw.max()) + 1) + p_raw
    p_codes, p_uniques = pd.factorize(pair, sort=True)
    p_codes = p_codes.astype(np.int64)
    n_psu = len(p_uniques)
    psu_stratum = np.zeros(n_psu, dtype=np.int64)
    psu_stratum[p_codes] = s_codes
    n_h = np.bincount(psu_stratum, minlength=len(s_labels)).astype(np.int64)
    if psu is None:
        psu_labels = np.array([str(i) for i in range(n_psu)], dtype=object)
    else:
        first = np.zeros(n_psu, dtype=np.int64)
        first[p_codes[::-1]] = np.arange(n)[::-1]
        pl = df[psu].to_numpy()[first]
        psu_labels = np.array(
            [f"{s_labels[h]}/{lab}" for h, lab in zip(psu_stratum, pl, strict=True)], dtype=object
        )
    # fpc
    fpc_factor = np.ones(len(s_labels))
    if fpc is not None:
        fcol = pd.to_numeric(df[fpc], errors="coerce").astype(float).to_numpy()
        bad = ~np.isfinite(fcol) | (fcol <= 0)
        if bad.any():
            raise InputError(
                "fpc must be a positive number",
                file=file,
                column=fpc,
                rows=_source_rows(df, bad),
                values=pd.unique(df[fpc][bad].astype(object)).tolist(),
            )
        fmin = np.full(len(s_labels), np.inf)
        fmax = np.full(len(s_labels), -np.inf)
        np.minimum.at(fmin, s_codes, fcol)
        np.maximum.at(fmax, s_codes, fcol)
        varying = np.flatnonzero(fmin != fmax)
        if varying.size:
            rows = np.isin(s_codes, varying)
            raise InputError(
                "fpc varies within a stratum",
                file=file,
                column=fpc,
                rows=_source_rows(df, rows),
                values=list(s_labels[varying]),
            )
        if np.all(fcol <= 1):
            pop = n_h / fmin  # sampling fraction -> population PSUs
        else:
            pop = fmin
        small = np.flatnonzero(pop < n_h - 1e-9)
        if small.size:
            raise InputError(
                "fpc (population PSUs) smaller than the number of sampled PSUs in stratum(s)",
                file=file,
                column=fpc,
                values=list(s_labels[small]),
            )
        fpc_factor = np.where(np.isinf(pop), 1.0, (pop - n_h) / pop)
    if lonely_psu == "fail" and (n_h == 1).any():
        raise SipasError(_lonely_message(list(s_labels[n_h == 1])))
    cal = _calibration_of(df, w, calibration, design_weight, file)
    return SurveyDesign(
        weights=w,
        stratum=s_codes.astype(np.int64),
        psu=p_codes,
        psu_stratum=psu_stratum,
        n_psu_stratum=n_h,
        fpc_factor=fpc_factor,
        lonely_psu=lonely_psu,
        strata_labels=s_labels,
        psu_labels=psu_labels,
        row_index=df.index,
        calibration=cal,
    )


def _calibration_of(
    df: pd.DataFrame,
    w: np.ndarray,
    calibration: str | list[str] | None,
    design_weight: str,
    file: str | None,
) -> Calibration | None:
    """The calibration model named by ``calibration`` (see :func:`survey_design`), or None."""
    if calibration is None:
        return None
    if isinstance(calibration, str) and calibration == "auto":
        cols = [c for c in df.columns if str(c).startswith(CALIBRATION_PREFIX)]
    else:
        cols = [calibration] if isinstance(calibration, str) else list(calibration)
        _require_columns(df, cols)
    if not cols:
        return None
    if design_weight not in df.columns:
        raise InputError(
            f"trọng số đã hiệu chỉnh nhưng thiếu cột trọng số thiết kế {design_weight!r} / the "
            f"table has calibration columns ({', '.join(map(str, cols))}) but no design-weight "
            f"column {design_weight!r}: the variance of calibrated weights needs both",
            file=file,
            column=design_weight,
        )
    d = pd.to_numeric(df[design_weight], errors="coerce").astype(float).to_numpy()
    bad = ~np.isfinite(d) | (d <= 0)
    if bad.any():
        raise InputError(
            "trọng số thiết kế phải là số dương / design weights must be positive finite numbers",
            file=file,
            column=design_weight,
            rows=_source_rows(df, bad),
        )
    return calibration_model(df, w, d, [str(c) for c in cols], file=file)


#: Design degrees of freedom below which ``sipas validate`` warns (intervals then lean on very few
