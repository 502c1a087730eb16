"""Confidence intervals that stay on the scale: the t quantile, Clopper-Pearson / Korn-Graubard
and logit intervals of proportions (:func:`proportion_ci`)."""

from __future__ import annotations

import numpy as np
from scipy import special

from sipas_analysis.errors import SipasError
from sipas_analysis.estimate.options import CI_METHODS

__all__ = ["proportion_ci"]


# --------------------------------------------------------------------------------------------
# confidence intervals
# --------------------------------------------------------------------------------------------
def _tq(level: float, df: np.ndarray) -> np.ndarray:
    df = np.asarray(df, dtype=float)
    uniq, inv = np.unique(df, return_inverse=True)
    return special.stdtrit(uniq, 1 - (1 - level) / 2)[inv].reshape(df.shape)


def _clopper_pearson(p: np.ndarray, n_eff: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    """Clopper-Pearson interval for ``x = p*n_eff`` successes out of ``n_eff`` (0-1 scale)."""
    a = (1 - level) / 2
    x = p * n_eff
    with np.errstate(invalid="ignore", divide="ignore"):
        lo = np.where(p <= 0, 0.0, special.betaincinv(x, n_eff - x + 1, a))
        hi = np.where(p >= 1, 1.0, special.betaincinv(x + 1, n_eff - x, 1 - a))
    return lo, hi


def proportion_ci(
    p: np.ndarray,
    se: np.ndarray,
    df: np.ndarray,
    level: float = 0.95,
    method: str = "logit",
    n: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Confidence interval of a proportion on the 0-1 scale (logit or Korn-Graubard).

    Parameters
    ----------
    p, se : array_like
        Estimates and standard errors on the 0-1 scale.
    df : array_like
        Degrees of freedom of the t quantile.
    level : float
        Confidence level.
    method : {"logit", "korn-graubard"}
        Interval type.
    n : array_like, optional
        Unweighted sample size (Korn-Graubard only).

    Returns
    -------
    (ndarray, ndarray)
        Lower and upper bounds; NaN where ``p`` is 0 or 1 or ``se`` is not positive (the caller
        gives those cells their documented fallback).

    Notes
    -----
    Logit (R ``svyciprop(method="logit")``):
    :math:`\\operatorname{expit}\\{\\operatorname{logit}\\hat p \\pm t_{df,1-\\alpha/2}\\,
    \\widehat{se}/(\\hat p(1-\\hat p))\\}`.

    Korn-Graubard (R ``svyciprop(method="beta")``): effective sample size
    :math:`n^* = \\hat p(1-\\hat p)/\\widehat{V}\\,(t_{n-1,\\alpha/2}/t_{df,\\alpha/2})^2`, bounds
    :math:`B^{-1}_{\\alpha/2}(n^*\\hat p,\\, n^*(1-\\hat p)+1)` and
    :math:`B^{-1}_{1-\\alpha/2}(n^*\\hat p+1,\\, n^*(1-\\hat p))`.

    Examples
    --------
    >>> lo, hi = proportion_ci(np.array([0.8]), np.array([0.05]), np.array([20]))
    >>> bool(0 < lo[0] < 0.8 < hi[0] < 1)
    True
    """
    p = np.asarray(p, dtype=float)
    se = np.asarray(se, dtype=float)
    df = np.asarray(df, dtype=float)
    ok = (p > 0) & (p < 1) & (se > 0) & np.isfinite(se) & (df > 0)
    lo = np.full(p.shape, np.nan)
    hi = np.full(p.shape, np.nan)
    if not ok.any():
        return lo, hi
    pp, ss, dd = p[ok], se[ok], df[ok]
    if method == "logit":
        t = _tq(level, dd)
        eta = np.log(pp / (1 - pp))
        half = t * ss / (pp * (1 - pp))
        lo[ok] = special.expit(eta - half)  # 1 / (1 + exp(-x)) without overflow
        hi[ok] = special.expit(eta + half)
    elif method == "korn-graubard":
        if n is None:
            raise SipasError("Korn-Graubard interval needs n")
        a = 1 - level
        nn = np.asarray(n, dtype=float)[ok]
        with np.errstate(invalid="ignore", divide="ignore"):
            neff = (
                pp
                * (1 - pp)
                / ss**2
                * (special.stdtrit(nn - 1, a / 2) / special.stdtrit(dd, a / 2)) ** 2
            )
            lo[ok] = special.betaincinv(neff * pp, neff * (1 - pp) + 1, a / 2)
            hi[ok] = special.betaincinv(neff * pp + 1, neff * (1 - pp), 1 - a / 2)
    else:
        raise SipasError(f"ci_method must be one of {CI_METHODS}, not {method!r}")
    return lo, hi
