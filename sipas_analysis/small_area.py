"""Small-area estimation for communes: Fay-Herriot EBLUP with its MSE, and rank confidence sets.

A commune is surveyed in 2-4 villages with 20-60 respondents, so its direct estimate is noisy and
its direct SE unstable (docs/methodology.md, "Xã"). This module borrows strength across communes
with the area-level model of Fay and Herriot (1979) and gives

* :func:`fay_herriot` - the EBLUP of every area, the variance of the area effects by REML,
  adjusted REML (Li and Lahiri 2010; Yoshimori and Lahiri 2014), Prasad-Rao or Fay-Herriot
  moments, and the second-order MSE estimator :math:`g_1 + g_2 + 2 g_3` (Prasad and Rao 1990;
  Datta and Lahiri 2000; Datta, Rao and Smith 2005);
* :func:`fay_herriot_proportions` - the same model for shares on the arcsine-square-root scale,
  back-transformed to shares with intervals that stay in [0, 1] (or 0-100 %);
* :func:`rank_confidence_sets` - the joint (or marginal) confidence sets of ranks of Klein, Wright
  and Wieczorek (2020).

The estimates are **model-based** and must be labelled so. Functions are pure: numpy arrays in,
numpy arrays or tidy DataFrames out, no I/O.

References
----------
Fay, R. E. and Herriot, R. A. (1979). Estimates of income for small places: an application of
James-Stein procedures to census data. *JASA* 74, 269-277.
Prasad, N. G. N. and Rao, J. N. K. (1990). The estimation of the mean squared error of small-area
estimators. *JASA* 85, 163-171.
Datta, G. S. and Lahiri, P. (2000). A unified measure of uncertainty of estimated best linear
unbiased predictors in small area estimation problems. *Statistica Sinica* 10, 613-627.
Datta, G. S., Rao, J. N. K. and Smith, D. D. (2005). On measuring the variability of small area
estimators under a basic area level model. *Biometrika* 92, 183-196.
Li, H. and Lahiri, P. (2010). An adjusted maximum likelihood method for solving small area
estimation problems. *J. Multivariate Analysis* 101, 882-892.
Yoshimori, M. and Lahiri, P. (2014). A new adjusted maximum likelihood method for the Fay-Herriot
small area model. *J. Multivariate Analysis* 124, 281-294.
Rao, J. N. K. and Molina, I. (2015). *Small Area Estimation*, 2nd ed. Wiley, chapter 6.
Hadam, S., Wuerz, N. and Kreutzmann, A.-K. (2020). Estimating regional unemployment with mobile
network data for functional urban areas in Germany. FU Berlin discussion paper (Refubium).
Klein, M., Wright, T. and Wieczorek, J. (2020). A joint confidence region for an overall ranking
of populations. *JRSS C* 69(4), 589-606.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from sipas_analysis.errors import SipasError

__all__ = [
    "BACKTRANSFORMS",
    "METHODS",
    "RANK_CORRECTIONS",
    "FHProportionsResult",
    "FayHerriotResult",
    "SmallAreaInputError",
    "fay_herriot",
    "fay_herriot_proportions",
    "rank_confidence_sets",
]

#: Estimators of the area-effect variance :math:`\\sigma_v^2`.
METHODS = ("REML", "AREML", "AREML-YL", "PR", "FH")
RANK_CORRECTIONS = ("bonferroni", "sidak")
BACKTRANSFORMS = ("naive", "bc")


class SmallAreaInputError(SipasError, ValueError):
    """Bad input to a small-area function (also a :class:`ValueError`)."""


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def _vector(x, name: str, m: int | None = None) -> np.ndarray:
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise SmallAreaInputError(f"{name} must be one-dimensional, got shape {a.shape}")
    if m is not None and a.shape[0] != m:
        raise SmallAreaInputError(f"{name} has {a.shape[0]} values but y has {m}")
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise SmallAreaInputError(f"{name} has non-finite values at positions {bad[:10].tolist()}")
    return a


def _design_matrix(X, m: int) -> np.ndarray:
    if X is None:
        return np.ones((m, 1))
    Xa = np.asarray(X, dtype=float)
    if Xa.ndim == 1:
        Xa = Xa[:, None]
    if Xa.ndim != 2 or Xa.shape[0] != m:
        raise SmallAreaInputError(f"X must have {m} rows (one per area), got shape {Xa.shape}")
    if not np.all(np.isfinite(Xa)):
        raise SmallAreaInputError("X has non-finite values")
    p = Xa.shape[1]
    if m <= p:
        raise SmallAreaInputError(f"need more areas than covariates: m={m}, p={p}")
    if np.linalg.matrix_rank(Xa) < p:
        raise SmallAreaInputError("X is not of full column rank (collinear covariates)")
    return Xa


# --------------------------------------------------------------------------------------------
# Fay-Herriot
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FayHerriotResult:
    """Fit of the Fay-Herriot model; arrays are per area, in input order.

    Attributes
    ----------
    sigma2_v : float
        Estimated variance of the area effects, :math:`\\hat\\sigma_v^2 \\ge 0`.
    beta, beta_se : ndarray
        GLS coefficients at :math:`\\hat\\sigma_v^2` and their SEs.
    gamma : ndarray
        Shrinkage factors :math:`\\gamma_i = \\hat\\sigma_v^2 / (\\hat\\sigma_v^2 + D_i)`.
    direct, D, synthetic, eblup : ndarray
        Direct estimates :math:`y_i`, sampling variances, :math:`x_i'\\hat\\beta` and the EBLUP.
    g1, g2, g3, mse : ndarray
        MSE components and the MSE estimate (see :func:`fay_herriot`).
    method : str
        Estimator of :math:`\\sigma_v^2`.
    converged : bool
        Whether the iterative estimator converged (always True for PR).
    iterations : int
        Iterations used.
    """

    sigma2_v: float
    beta: np.ndarray
    beta_se: np.ndarray
    gamma: np.ndarray
    direct: np.ndarray
    D: np.ndarray
    synthetic: np.ndarray
    eblup: np.ndarray
    g1: np.ndarray
    g2: np.ndarray
    g3: np.ndarray
    mse: np.ndarray
    method: str
    converged: bool
    iterations: int

    def to_frame(self, alpha: float = 0.05) -> pd.DataFrame:
        """Tidy table, one row per area, with normal intervals ``eblup +- z * sqrt(mse)``.

        Columns: ``direct, D, gamma, synthetic, eblup, g1, g2, g3, mse, rmse, ci_low, ci_high``.
        """
        z = stats.norm.ppf(1 - alpha / 2)
        rmse = np.sqrt(self.mse)
        return pd.DataFrame(
            {
                "direct": self.direct,
                "D": self.D,
                "gamma": self.gamma,
                "synthetic": self.synthetic,
                "eblup": self.eblup,
                "g1": self.g1,
                "g2": self.g2,
                "g3": self.g3,
                "mse": self.mse,
                "rmse": rmse,
                "ci_low": self.eblup - z * rmse,
                "ci_high": self.eblup + z * rmse,
            }
        )


def _gls(y, D, X, A):
    """GLS beta, (X'V^-1 X)^-1 and residuals at sigma_v^2 = A."""
    w = 1.0 / (A + D)
    XtWX_inv = np.linalg.inv(X.T @ (X * w[:, None]))
    beta = XtWX_inv @ (X.T @ (w * y))
    return beta, XtWX_inv, y - X @ beta


def _reml_parts(y, D, X, A):
    """Restricted log-likelihood (no constant), score and Fisher information at A."""
    w = 1.0 / (A + D)
    XtWX = X.T @ (X * w[:, None])
    WX = X * w[:, None]
    P = np.diag(w) - WX @ np.linalg.solve(XtWX, WX.T)
    Py = P @ y
    loglik = -0.5 * (np.sum(np.log(A + D)) + np.linalg.slogdet(XtWX)[1] + y @ Py)
    score = -0.5 * np.trace(P) + 0.5 * Py @ Py
    info = 0.5 * np.sum(P * P)
    return loglik, score, info


def _log_adjustment(A, D, method):
    """log h(A) and its derivative for adjusted REML (Li-Lahiri h = A; Yoshimori-Lahiri)."""
    if method == "AREML":
        return np.log(A), 1.0 / A
    m = D.size
    s = np.sum(A / (A + D))
    ds = np.sum(D / (A + D) ** 2)
    at = np.arctan(s)
    return np.log(at) / m, ds / ((1 + s * s) * at * m)


def _pr_moment(y, D, X):
    m, p = X.shape
    H = X @ np.linalg.solve(X.T @ X, X.T)
    r = y - H @ y
    return max(0.0, (r @ r - np.sum(D * (1 - np.diag(H)))) / (m - p))


def _fh_moment(y, D, X):
    m, p = X.shape

    def excess(A):
        r = _gls(y, D, X, A)[2]
        return np.sum(r * r / (A + D)) - (m - p)

    if excess(0.0) <= 0:
        return 0.0, 0
    hi = max(np.var(y), np.max(D))
    n_up = 0
    while excess(hi) > 0:
        hi *= 2
        n_up += 1
    root, info = optimize.brentq(excess, 0.0, hi, xtol=1e-14, rtol=1e-12, full_output=True)
    return float(root), info.iterations + n_up


def _scoring(y, D, X, method, A0, tol, max_iter):
    """Fisher scoring with step halving on the (adjusted) restricted log-likelihood."""
    adjusted = method != "REML"

    def objective(A):
        ll, s, info = _reml_parts(y, D, X, A)
        if adjusted:  # add the curvature of log h to the information (Newton on that part)
            lh, dlh = _log_adjustment(A, D, method)
            eps = 1e-5 * A
            curv = _log_adjustment(A + eps, D, method)[1] - _log_adjustment(A - eps, D, method)[1]
            return ll + lh, s + dlh, info + max(0.0, -curv / (2 * eps))
        return ll, s, info

    A = max(A0, 0.0)
    if adjusted and A <= 0:
        A = 0.1 * float(np.mean(D))
    f, s, info = objective(A)
    scale = float(np.mean(D))
    for it in range(1, max_iter + 1):
        step = s / info
        for _ in range(60):
            A_new = A + step
            if A_new < 0 or (adjusted and A_new <= 0):
                A_new = 0.5 * A if adjusted else 0.0
            f_new, s_new, info_new = objective(A_new)
            if f_new >= f - 1e-12 * abs(f) or abs(A_new - A) < tol * scale:
                break
            step *= 0.5
        converged = abs(A_new - A) < tol * (scale + A)
        A, f, s, info = A_new, f_new, s_new, info_new
        if converged or (A == 0.0 and s <= 0):
            return A, True, it
    return A, False, max_iter


def fay_herriot(
    y,
    D,
    X=None,
    method: str = "REML",
    *,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> FayHerriotResult:
    """Fay-Herriot area-level model: EBLUP of every area with its Prasad-Rao MSE.

    Model: :math:`y_i = x_i'\\beta + v_i + e_i`, :math:`v_i \\sim N(0, \\sigma_v^2)`,
    :math:`e_i \\sim N(0, D_i)` independent, with the sampling variances :math:`D_i` known.

    Parameters
    ----------
    y : array-like, shape (m,)
        Direct estimates of the m areas.
    D : array-like, shape (m,)
        Their sampling variances, all > 0 (use smoothed/pooled variances, not raw ones).
    X : array-like, shape (m, p), optional
        Area covariates, including the intercept column; default intercept only.
    method : {"REML", "AREML", "AREML-YL", "PR", "FH"}
        Estimator of :math:`\\sigma_v^2`: restricted ML (Fisher scoring); adjusted REML of
        Li and Lahiri (2010) maximising :math:`L_R(A)\\,A`; adjusted REML of Yoshimori and
        Lahiri (2014) maximising :math:`L_R(A)\\,[\\tan^{-1}\\{\\sum_i\\gamma_i\\}]^{1/m}`;
        Prasad-Rao moments; Fay-Herriot moments.
    tol, max_iter : float, int
        Convergence tolerance (relative to mean D) and iteration cap of the iterative methods.

    Returns
    -------
    FayHerriotResult
        Use :meth:`FayHerriotResult.to_frame` for a tidy table.

    Raises
    ------
    SmallAreaInputError
        (a ``ValueError``) non-finite input, D <= 0, mismatched lengths, m <= p, collinear X,
        unknown method.

    Notes
    -----
    With :math:`A = \\sigma_v^2`, :math:`V_i = A + D_i`, :math:`\\gamma_i = A/V_i`,
    :math:`B_i = 1-\\gamma_i`:

    * GLS :math:`\\hat\\beta = (X'V^{-1}X)^{-1}X'V^{-1}y`; EBLUP
      :math:`\\hat\\theta_i = \\hat\\gamma_i y_i + (1-\\hat\\gamma_i)x_i'\\hat\\beta`.
    * PR: :math:`\\hat A = \\max\\{0, (\\sum r_i^2 - \\sum D_i(1-h_{ii}))/(m-p)\\}`, OLS residuals
      :math:`r` and leverages :math:`h_{ii}`. FH: root of
      :math:`\\sum (y_i - x_i'\\hat\\beta(A))^2/V_i = m-p`, 0 if none.
      REML: Fisher scoring on :math:`l_R(A) = -\\frac12\\{\\log|V| + \\log|X'V^{-1}X| + y'Py\\}`,
      score :math:`-\\frac12 \\mathrm{tr} P + \\frac12 y'P^2y`, information
      :math:`\\frac12\\mathrm{tr}P^2`.
    * Every estimate is truncated at 0. **When** :math:`\\hat A = 0`, :math:`\\gamma_i = 0` and
      the EBLUP is the synthetic estimate :math:`x_i'\\hat\\beta` for every area, whatever its
      sample size; with 19 communes this happens in a sizeable share of samples. The adjusted
      methods ("AREML", "AREML-YL") never give 0 and keep the REML asymptotic variance.
      Li-Lahiri's factor :math:`A` adds a bias of about :math:`2/(A\\sum V_j^{-2})`, large
      for 20 areas; the Yoshimori-Lahiri factor stays close to REML when REML is positive and
      is the recommended choice for communes.
    * MSE (Prasad and Rao 1990; Datta and Lahiri 2000; Rao and Molina 2015, sec. 6.2):
      :math:`g_{1i} = \\gamma_i D_i`,
      :math:`g_{2i} = B_i^2 x_i'(X'V^{-1}X)^{-1}x_i`,
      :math:`g_{3i} = B_i^2 \\bar V(\\hat A)/V_i` with the asymptotic variance
      :math:`\\bar V = 2/\\sum V_j^{-2}` (REML, AREML), :math:`2\\sum V_j^2/m^2` (PR),
      :math:`2m/(\\sum V_j^{-1})^2` (FH), and
      :math:`\\mathrm{mse}_i = g_{1i} + g_{2i} + 2g_{3i}`; for FH minus the bias term
      :math:`B_i^2 b_{FH}`, :math:`b_{FH} = 2\\{m\\sum V_j^{-2} - (\\sum V_j^{-1})^2\\} /
      (\\sum V_j^{-1})^3` (Datta, Rao and Smith 2005). The adjusted estimators have a positive
      :math:`O(m^{-1})` bias; its correction :math:`-B_i^2 b` is omitted, so their MSE is
      slightly conservative.

    Examples
    --------
    >>> y = np.array([0.9, 1.1, 1.0, 1.4, 0.6, 1.2])
    >>> D = np.array([0.02, 0.01, 0.04, 0.02, 0.03, 0.01])
    >>> fit = fay_herriot(y, D)
    >>> round(fit.sigma2_v, 4), np.round(fit.gamma, 2)
    (0.0473, array([0.7 , 0.83, 0.54, 0.7 , 0.61, 0.83]))
    >>> np.round(fit.eblup, 3)
    array([0.945, 1.091, 1.023, 1.296, 0.775, 1.174])
    >>> np.round(fit.mse / D, 2)  # gains where D is large; none for the precise areas
    array([0.95, 1.02, 0.78, 0.95, 0.86, 1.02])
    """
    if method not in METHODS:
        raise SmallAreaInputError(f"method must be one of {METHODS}, not {method!r}")
    y = _vector(y, "y")
    m = y.size
    D = _vector(D, "D", m)
    if np.any(D <= 0):
        raise SmallAreaInputError(
            f"sampling variances D must be > 0; positions {np.flatnonzero(D <= 0)[:10].tolist()}"
        )
    X = _design_matrix(X, m)
    A_pr = _pr_moment(y, D, X)
    converged, iterations = True, 0
    if method == "PR":
        A = A_pr
    elif method == "FH":
        A, iterations = _fh_moment(y, D, X)
    else:
        A, converged, iterations = _scoring(y, D, X, method, A_pr, tol, max_iter)

    beta, XtWX_inv, _ = _gls(y, D, X, A)
    V = A + D
    gamma = A / V
    B = 1.0 - gamma
    synthetic = X @ beta
    eblup = gamma * y + B * synthetic
    g1 = gamma * D
    g2 = B**2 * np.einsum("ij,jk,ik->i", X, XtWX_inv, X)
    if method == "PR":
        vbar = 2.0 * np.sum(V**2) / m**2
    elif method == "FH":
        vbar = 2.0 * m / np.sum(1 / V) ** 2
    else:
        vbar = 2.0 / np.sum(V**-2.0)
    g3 = B**2 * vbar / V
    mse = g1 + g2 + 2 * g3
    if method == "FH":
        s1, s2 = np.sum(1 / V), np.sum(V**-2.0)
        mse = mse - B**2 * 2 * (m * s2 - s1**2) / s1**3
    return FayHerriotResult(
        sigma2_v=float(A),
        beta=beta,
        beta_se=np.sqrt(np.diag(XtWX_inv)),
        gamma=gamma,
        direct=y,
        D=D,
        synthetic=synthetic,
        eblup=eblup,
        g1=g1,
        g2=g2,
        g3=g3,
        mse=mse,
        method=method,
        converged=bool(converged),
        iterations=int(iterations),
    )


@dataclass(frozen=True)
class FHProportionsResult:
    """Shares estimated by :func:`fay_herriot_proportions`: the tidy ``table`` and the ``fit``."""

    table: pd.DataFrame
    fit: FayHerriotResult


def fay_herriot_proportions(
    p,
    n_eff,
    X=None,
    method: str = "REML",
    *,
    alpha: float = 0.05,
    percent: bool = False,
    backtransform: str = "naive",
) -> FHProportionsResult:
    """Fay-Herriot EBLUP of shares on the arcsine-square-root scale, back-transformed.

    Parameters
    ----------
    p : array-like, shape (m,)
        Direct (design-based) shares, in [0, 1], or in [0, 100] with ``percent=True``.
    n_eff : array-like, shape (m,)
        Effective sample sizes :math:`n_i/\\mathrm{deff}_i` (> 0), preferably from a pooled
        design effect or variance model rather than each commune's unstable deff.
    X, method
        As in :func:`fay_herriot` (X on the transformed scale's linear predictor).
    alpha : float
        1 - confidence level of the intervals.
    percent : bool
        Input and output shares in percent (0-100), as SIPAS publishes them.
    backtransform : {"naive", "bc"}
        Point estimate :math:`\\sin^2\\hat\\theta_i`, or the bias-corrected
        :math:`E[\\sin^2\\theta_i] = \\frac12\\{1-\\cos(2\\hat\\theta_i)e^{-2g_{1i}}\\}` for
        :math:`\\theta_i \\sim N(\\hat\\theta_i, g_{1i})` (in the spirit of Hadam et al. 2020).

    Returns
    -------
    FHProportionsResult
        ``table`` columns: ``direct, n_eff, gamma, estimate, rmse, ci_low, ci_high, synthetic,
        mse_transformed, estimator``; ``fit`` is the :class:`FayHerriotResult` on the
        transformed scale.

    Notes
    -----
    :math:`y_i = \\arcsin\\sqrt{p_i}` has sampling variance :math:`D_i = 1/(4 n_{\\mathrm{eff},i})`
    whatever :math:`p_i`, so the model's "known variances" assumption holds without
    estimating each commune's variance (and p = 0 or 1 is allowed). The interval is
    :math:`\\hat\\theta_i \\pm z\\sqrt{\\mathrm{mse}_i}` clipped to :math:`[0, \\pi/2]`, where
    :math:`\\sin^2` is increasing, and mapped back, so it stays in [0, 1]. ``rmse`` is the
    delta-method :math:`|\\sin 2\\hat\\theta_i|\\sqrt{\\mathrm{mse}_i}`, for information only.
    The naive back-transform estimates the median rather than the mean (biased by
    :math:`O(g_1)`); the "bc" option removes the first-order bias (Hadam et al. 2020 discuss
    this and a bootstrap MSE on the original scale, not implemented here).

    Examples
    --------
    >>> share = [80.0, 65.0, 90.0, 85.0, 70.0, 82.0]
    >>> res = fay_herriot_proportions(
    ...     share, [20, 25, 15, 30, 18, 22], percent=True, method="AREML-YL"
    ... )
    >>> t = res.table
    >>> bool(((t.ci_low >= 0) & (t.ci_high <= 100) & (t.ci_low <= t.estimate)).all())
    True
    """
    if backtransform not in BACKTRANSFORMS:
        raise SmallAreaInputError(
            f"backtransform must be one of {BACKTRANSFORMS}, not {backtransform!r}"
        )
    scale = 100.0 if percent else 1.0
    pv = _vector(p, "p") / scale
    if np.any((pv < 0) | (pv > 1)):
        raise SmallAreaInputError(f"shares must lie in [0, {scale:g}]")
    n = _vector(n_eff, "n_eff", pv.size)
    if np.any(n <= 0):
        raise SmallAreaInputError("effective sample sizes n_eff must be > 0")
    fit = fay_herriot(np.arcsin(np.sqrt(pv)), 1.0 / (4.0 * n), X, method)
    z = stats.norm.ppf(1 - alpha / 2)
    th = np.clip(fit.eblup, 0.0, np.pi / 2)
    se_t = np.sqrt(np.maximum(fit.mse, 0.0))
    if backtransform == "naive":
        est = np.sin(th) ** 2
    else:
        est = 0.5 * (1 - np.cos(2 * th) * np.exp(-2 * fit.g1))
    lo = np.sin(np.clip(th - z * se_t, 0.0, np.pi / 2)) ** 2
    hi = np.sin(np.clip(th + z * se_t, 0.0, np.pi / 2)) ** 2
    table = pd.DataFrame(
        {
            "direct": pv * scale,
            "n_eff": n,
            "gamma": fit.gamma,
            "estimate": est * scale,
            "rmse": np.abs(np.sin(2 * th)) * se_t * scale,
            "ci_low": lo * scale,
            "ci_high": hi * scale,
            "synthetic": np.sin(np.clip(fit.synthetic, 0.0, np.pi / 2)) ** 2 * scale,
            "mse_transformed": fit.mse,
            "estimator": f"model-based: Fay-Herriot EBLUP, arcsine scale ({method})",
        }
    )
    return FHProportionsResult(table=table, fit=fit)


# --------------------------------------------------------------------------------------------
# rank confidence sets
# --------------------------------------------------------------------------------------------
def rank_confidence_sets(
    estimates,
    se,
    alpha: float = 0.05,
    joint: bool = True,
    *,
    descending: bool = True,
    correction: str = "bonferroni",
    labels=None,
) -> pd.DataFrame:
    """Confidence sets of ranks from pairwise comparisons (Klein, Wright and Wieczorek 2020).

    Parameters
    ----------
    estimates, se : array-like, shape (K,)
        Estimates and their standard errors (for EBLUPs, ``sqrt(mse)``). A unit with a NaN
        estimate or SE gets missing ranks (``<NA>``) and is left out of the others' ranking:
        the others are ranked among the ``n_ranked`` units left, so its true place is unknown.
    alpha : float
        1 - confidence level.
    joint : bool
        True: the sets cover all true ranks at once with probability >= 1 - alpha (correction
        over the K(K-1)/2 pairs). False: each set alone covers its unit's rank (correction over
        that unit's K-1 pairs).
    descending : bool
        True: rank 1 = highest estimate (best satisfaction). False: rank 1 = lowest.
    correction : {"bonferroni", "sidak"}
        Per-pair level :math:`\\alpha/M` or the less conservative :math:`1-(1-\\alpha)^{1/M}`.
    labels : array-like, optional
        Unit names, returned in a ``unit`` column.

    Returns
    -------
    DataFrame
        One row per unit in input order: ``[unit,] estimate, se, rank_estimate, rank_low,
        rank_high, n_ranked``; ``rank_estimate`` is the rank of the estimate itself (ties get
        the best rank); ranks are among the ``n_ranked`` units with finite estimate and SE.

    Notes
    -----
    For units k, j the interval :math:`\\hat\\theta_k - \\hat\\theta_j \\pm
    z_{1-\\alpha^*/2}\\sqrt{s_k^2 + s_j^2}` is computed, with :math:`\\alpha^* = \\alpha/M`
    (Bonferroni) and M the number of pairs. With rank 1 = highest,
    :math:`\\text{rank\\_low}_k = 1 + \\#\\{j: \\text{interval} < 0\\}` (units significantly
    above k) and :math:`\\text{rank\\_high}_k = K - \\#\\{j: \\text{interval} > 0\\}` (units
    significantly below k). If all pairwise intervals cover, every true rank lies in its set,
    hence the joint coverage. The estimates are taken as independent; Šidák's inequality keeps
    the "sidak" option valid for normal estimates, the approximation being the estimated SEs.
    EBLUPs are positively correlated through :math:`\\hat\\beta`, which makes the sets
    conservative.

    Examples
    --------
    >>> rank_confidence_sets([90, 80, 79, 50], [1, 1, 1, 1]).iloc[:, 2:5]
       rank_estimate  rank_low  rank_high
    0              1         1          1
    1              2         2          3
    2              3         2          3
    3              4         4          4
    """
    if correction not in RANK_CORRECTIONS:
        raise SmallAreaInputError(
            f"correction must be one of {RANK_CORRECTIONS}, not {correction!r}"
        )
    if not 0 < alpha < 1:
        raise SmallAreaInputError(f"alpha must be in (0, 1), not {alpha}")
    est = np.asarray(estimates, dtype=float)
    s = np.asarray(se, dtype=float)
    if est.ndim != 1 or s.shape != est.shape:
        raise SmallAreaInputError(
            f"estimates and se must be 1-d of the same length, got {est.shape} and {s.shape}"
        )
    if np.any(s < 0):
        raise SmallAreaInputError("standard errors must be >= 0")
    if np.any(np.isinf(est) | np.isinf(s)):
        raise SmallAreaInputError("estimates and se must not be infinite")
    ok = ~(np.isnan(est) | np.isnan(s))
    K = int(ok.sum())
    n_pairs = max(K * (K - 1) // 2 if joint else K - 1, 1)
    a_pair = alpha / n_pairs if correction == "bonferroni" else 1 - (1 - alpha) ** (1 / n_pairs)
    z = stats.norm.ppf(1 - a_pair / 2)
    sign = 1.0 if descending else -1.0
    e, sv = sign * est[ok], s[ok]
    diff = e[:, None] - e[None, :]  # theta_k - theta_j (on the "higher is rank 1" scale)
    half = z * np.sqrt(sv[:, None] ** 2 + sv[None, :] ** 2)
    above = (diff + half < 0).sum(axis=1)  # j significantly better than k
    below = (diff - half > 0).sum(axis=1)  # j significantly worse than k
    rank = np.full(est.shape, np.nan)
    low = np.full(est.shape, np.nan)
    high = np.full(est.shape, np.nan)
    rank[ok] = 1 + (diff < 0).sum(axis=1)
    low[ok] = 1 + above
    high[ok] = K - below
    out = pd.DataFrame(
        {
            "estimate": est,
            "se": s,
            "rank_estimate": pd.array(rank, dtype="Int64"),
            "rank_low": pd.array(low, dtype="Int64"),
            "rank_high": pd.array(high, dtype="Int64"),
            "n_ranked": K,
        }
    )
    if labels is not None:
        lab = np.asarray(labels)
        if lab.shape != est.shape:
            raise SmallAreaInputError("labels must have one entry per unit")
        out.insert(0, "unit", lab)
    return out
