"""Diagnostics of a change of weights (:func:`weighting_diagnostics`): efficiency, design effect of
weighting, ratios of the new to the old weights."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sipas_analysis.errors import InputError

__all__ = ["weighting_diagnostics"]


# ----------------------------------------------------------------------------------------------
# diagnostics
# ----------------------------------------------------------------------------------------------
def weighting_diagnostics(old: Sequence[float] | pd.Series, new: Sequence[float] | pd.Series):
    """Weighting efficiency and adjustment-factor spread before and after a weighting step.

    Parameters
    ----------
    old, new : array-like of float
        Weights before and after (same length, same order), e.g. the design weights and the
        output of :func:`rake`.

    Returns
    -------
    DataFrame
        Columns ``statistic`` and ``value``, rows: ``n``, ``sum_before``, ``sum_after``,
        ``efficiency_before``, ``efficiency_after``, ``deff_weighting_before``,
        ``deff_weighting_after``, ``factor_min``, ``factor_p05``, ``factor_p25``,
        ``factor_median``, ``factor_p75``, ``factor_p95``, ``factor_max``.

    Raises
    ------
    InputError
        Different lengths, or weights that are missing or not positive.

    Notes
    -----
    Kish's weighting efficiency of weights :math:`w_1..w_n` is

    .. math:: E = \\frac{(\\sum_i w_i)^2}{n \\sum_i w_i^2} = \\frac{1}{1 + CV_w^2},

    the share of the nominal sample size that remains as effective sample size
    :math:`n_{eff} = nE`. The design effect due to weighting is :math:`1/E = 1 + CV_w^2`.
    The adjustment factors are :math:`f_i = w_i^{new} / w_i^{old}`; quantiles use linear
    interpolation (NumPy's default).

    Examples
    --------
    >>> d = weighting_diagnostics([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 2.0, 2.0])
    >>> float(d.set_index("statistic").loc["efficiency_after", "value"])
    0.9
    """
    a = np.asarray(old, dtype="float64")
    b = np.asarray(new, dtype="float64")
    if a.shape != b.shape or a.ndim != 1:
        raise InputError(
            f"old and new weights must be 1-D and of the same length ({a.shape} vs {b.shape})"
        )
    for name, arr in (("old", a), ("new", b)):
        bad = ~np.isfinite(arr) | (arr <= 0)
        if bad.any():
            pos = [int(i) for i in np.flatnonzero(bad)]
            raise InputError(
                f"{name} weights must be positive numbers (0-based positions {pos[:10]})",
                values=list(arr[bad][:10]),
            )
    n = len(a)

    def eff(v: np.ndarray) -> float:
        return float(v.sum() ** 2 / (len(v) * np.sum(v**2)))

    f = b / a
    q = np.quantile(f, [0.05, 0.25, 0.5, 0.75, 0.95])
    stats = {
        "n": float(n),
        "sum_before": float(a.sum()),
        "sum_after": float(b.sum()),
        "efficiency_before": eff(a),
        "efficiency_after": eff(b),
        "deff_weighting_before": 1.0 / eff(a),
        "deff_weighting_after": 1.0 / eff(b),
        "factor_min": float(f.min()),
        "factor_p05": float(q[0]),
        "factor_p25": float(q[1]),
        "factor_median": float(q[2]),
        "factor_p75": float(q[3]),
        "factor_p95": float(q[4]),
        "factor_max": float(f.max()),
    }
    return pd.DataFrame({"statistic": list(stats), "value": list(stats.values())})
