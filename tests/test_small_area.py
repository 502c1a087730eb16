"""Tests of sipas_analysis.small_area (Fay-Herriot EBLUP, arcsine model, rank confidence sets).

Reference values are computed here by a different code path from the published formulas: plain
loops, closed forms of simple regression, direct numerical maximisation of the restricted
log-likelihood (scipy ``minimize_scalar``) instead of the module's Fisher scoring, bisection
instead of ``brentq``. ``tests/r/expected/small_area_fh.csv`` was written by
``tests/r/reference_small_area.R`` (base R ``optimize``/``uniroot``); its test reads the
committed csv and does not run R.
"""

from __future__ import annotations

import doctest
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from sipas_analysis import small_area
from sipas_analysis.small_area import (
    SmallAreaInputError,
    fay_herriot,
    fay_herriot_proportions,
    rank_confidence_sets,
)

EXPECTED = Path(__file__).resolve().parent / "r" / "expected" / "small_area_fh.csv"

# 5 areas with one covariate, unequal sampling variances
Y5 = np.array([1.30, 0.80, 1.55, 0.60, 1.40])
D5 = np.array([0.020, 0.050, 0.010, 0.040, 0.030])
X5 = np.array([0.5, 0.1, 0.9, 0.3, 0.4])


def _simple_regression(y, x):
    """OLS slope/intercept, residuals and leverages of y on (1, x), by the textbook formulas."""
    m = len(y)
    xbar = sum(x) / m
    ybar = sum(y) / m
    sxx = sum((xi - xbar) ** 2 for xi in x)
    sxy = sum((xi - xbar) * (yi - ybar) for xi, yi in zip(x, y, strict=True))
    b1 = sxy / sxx
    b0 = ybar - b1 * xbar
    resid = [yi - b0 - b1 * xi for xi, yi in zip(x, y, strict=True)]
    lev = [1 / m + (xi - xbar) ** 2 / sxx for xi in x]
    return resid, lev


def _gls_loops(y, D, X, A):
    """GLS beta and (X'V^-1X)^-1 by accumulating sums area by area."""
    p = X.shape[1]
    M = np.zeros((p, p))
    b = np.zeros(p)
    for i in range(len(y)):
        w = 1.0 / (A + D[i])
        M += w * np.outer(X[i], X[i])
        b += w * X[i] * y[i]
    Minv = np.linalg.inv(M)
    return Minv @ b, Minv


def _restricted_loglik(A, y, D, X):
    """l_R(A) = -1/2 [sum log V + log|X'V^-1X| + sum of GLS residuals^2 / V]."""
    beta, Minv = _gls_loops(y, D, X, A)
    total = 0.0
    for i in range(len(y)):
        V = A + D[i]
        total += math.log(V) + (y[i] - X[i] @ beta) ** 2 / V
    return -0.5 * (total - math.log(np.linalg.det(Minv)))


def _maximise(f, upper):
    res = optimize.minimize_scalar(
        lambda a: -f(a), bounds=(0.0, upper), method="bounded", options={"xatol": 1e-12}
    )
    return res.x


def _mse_loops(y, D, X, A, method):
    """g1, g2, g3 and mse area by area (Rao and Molina 2015, sec. 6.2)."""
    m = len(y)
    _, Minv = _gls_loops(y, D, X, A)
    s1 = sum(1 / (A + d) for d in D)
    s2 = sum(1 / (A + d) ** 2 for d in D)
    sv2 = sum((A + d) ** 2 for d in D)
    vbar = {"REML": 2 / s2, "PR": 2 * sv2 / m**2, "FH": 2 * m / s1**2}[method]
    bias = 2 * (m * s2 - s1**2) / s1**3 if method == "FH" else 0.0
    out = []
    for i in range(m):
        V = A + D[i]
        g1 = A * D[i] / V
        g2 = (D[i] / V) ** 2 * (X[i] @ Minv @ X[i])
        g3 = D[i] ** 2 / V**3 * vbar
        out.append((g1, g2, g3, g1 + g2 + 2 * g3 - (D[i] / V) ** 2 * bias))
    return np.array(out).T


# ------------------------------------------------------------------------------------------
# sigma_v^2 estimators
# ------------------------------------------------------------------------------------------
def test_prasad_rao_moment_by_hand():
    resid, lev = _simple_regression(list(Y5), list(X5))
    num = sum(r * r for r in resid) - sum(d * (1 - h) for d, h in zip(D5, lev, strict=True))
    expected = max(0.0, num / (5 - 2))
    assert expected > 0
    fit = fay_herriot(Y5, D5, np.column_stack([np.ones(5), X5]), method="PR")
    assert fit.sigma2_v == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("covariate", [False, True])
def test_reml_matches_direct_maximisation(covariate):
    X = np.column_stack([np.ones(5), X5]) if covariate else np.ones((5, 1))
    expected = _maximise(lambda a: _restricted_loglik(a, Y5, D5, X), 5.0)
    fit = fay_herriot(Y5, D5, X if covariate else None, method="REML")
    assert fit.converged
    assert fit.sigma2_v == pytest.approx(expected, rel=1e-6, abs=1e-9)


@pytest.mark.parametrize(
    "method, log_h",
    [
        ("AREML", lambda a, D: math.log(a)),
        ("AREML-YL", lambda a, D: math.log(math.atan(sum(a / (a + d) for d in D))) / len(D)),
    ],
)
def test_adjusted_reml_matches_direct_maximisation(method, log_h):
    X = np.ones((5, 1))
    expected = _maximise(lambda a: _restricted_loglik(a, Y5, D5, X) + log_h(a, D5), 5.0)
    fit = fay_herriot(Y5, D5, method=method)
    assert fit.converged
    assert fit.sigma2_v == pytest.approx(expected, rel=1e-6)


def test_fay_herriot_moment_by_bisection():
    X = np.column_stack([np.ones(5), X5])

    def excess(a):
        beta, _ = _gls_loops(Y5, D5, X, a)
        return sum((Y5[i] - X[i] @ beta) ** 2 / (a + D5[i]) for i in range(5)) - 3

    lo, hi = 0.0, 10.0
    assert excess(lo) > 0 > excess(hi)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) > 0 else (lo, mid)
    fit = fay_herriot(Y5, D5, X, method="FH")
    assert fit.sigma2_v == pytest.approx(lo, rel=1e-9)


# ------------------------------------------------------------------------------------------
# EBLUP and MSE
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["REML", "PR", "FH"])
def test_eblup_and_mse_components_by_loops(method):
    X = np.column_stack([np.ones(5), X5])
    fit = fay_herriot(Y5, D5, X, method=method)
    A = fit.sigma2_v
    beta, _ = _gls_loops(Y5, D5, X, A)
    for i in range(5):
        g = A / (A + D5[i])
        assert fit.gamma[i] == pytest.approx(g, rel=1e-12)
        assert fit.eblup[i] == pytest.approx(g * Y5[i] + (1 - g) * X[i] @ beta, rel=1e-12)
    g1, g2, g3, mse = _mse_loops(Y5, D5, X, A, method)
    np.testing.assert_allclose(fit.g1, g1, rtol=1e-12)
    np.testing.assert_allclose(fit.g2, g2, rtol=1e-12)
    np.testing.assert_allclose(fit.g3, g3, rtol=1e-12)
    np.testing.assert_allclose(fit.mse, mse, rtol=1e-12)


def test_balanced_case_closed_forms():
    # D_i = D, intercept only: every estimator is s^2 - D; V = A + D; gamma = A / V;
    # g1 = gamma D; g2 = (1 - gamma)^2 V / m = D^2 / (m V); Vbar = 2 V^2 / m for REML, PR and FH
    # so g3 = D^2 / V^3 * 2 V^2 / m = 2 D^2 / (m V); the FH bias term vanishes.
    y = np.array([0.62, 0.95, 0.71, 1.20, 0.88, 1.05, 0.55, 0.99])
    m, D = len(y), 0.015
    s2 = np.var(y, ddof=1)
    A = s2 - D
    V = A + D
    for method in ("REML", "PR", "FH"):
        fit = fay_herriot(y, np.full(m, D), method=method)
        assert fit.sigma2_v == pytest.approx(A, rel=1e-8), method
        np.testing.assert_allclose(fit.gamma, A / V, rtol=1e-8)
        np.testing.assert_allclose(fit.eblup, y.mean() + A / V * (y - y.mean()), rtol=1e-8)
        np.testing.assert_allclose(fit.g1, A / V * D, rtol=1e-8)
        np.testing.assert_allclose(fit.g2, D**2 / (m * V), rtol=1e-8)
        np.testing.assert_allclose(fit.g3, 2 * D**2 / (m * V), rtol=1e-8)
        np.testing.assert_allclose(fit.mse, A * D / V + 5 * D**2 / (m * V), rtol=1e-8)


def test_negligible_sampling_variance_returns_direct():
    fit = fay_herriot(Y5, np.full(5, 1e-12), np.column_stack([np.ones(5), X5]))
    np.testing.assert_allclose(fit.eblup, Y5, atol=1e-9)
    assert np.all(fit.mse < 1e-10)


@pytest.mark.parametrize("method", ["REML", "PR", "FH"])
def test_zero_variance_gives_synthetic(method):
    y = np.array([1.00, 1.02, 0.99, 1.01, 0.98, 1.03])
    D = np.array([0.05, 0.04, 0.06, 0.05, 0.045, 0.055])
    fit = fay_herriot(y, D, method=method)
    assert fit.sigma2_v == 0.0
    assert np.all(fit.gamma == 0) and np.all(fit.g1 == 0)
    w = 1 / D
    np.testing.assert_allclose(fit.synthetic, np.sum(w * y) / np.sum(w), rtol=1e-12)
    np.testing.assert_array_equal(fit.eblup, fit.synthetic)
    np.testing.assert_allclose(fit.g3, 2 / np.sum(D**-2.0) / D if method == "REML" else fit.g3)


@pytest.mark.parametrize("method", ["AREML", "AREML-YL"])
def test_adjusted_reml_is_positive_where_reml_is_zero(method):
    y = np.array([1.00, 1.02, 0.99, 1.01, 0.98, 1.03])
    D = np.array([0.05, 0.04, 0.06, 0.05, 0.045, 0.055])
    fit = fay_herriot(y, D, method=method)
    assert fit.converged and fit.sigma2_v > 0
    assert np.all((fit.gamma > 0) & (fit.gamma < 1))


def test_to_frame_columns_and_interval():
    t = fay_herriot(Y5, D5).to_frame(alpha=0.1)
    assert list(t.columns) == [
        "direct",
        "D",
        "gamma",
        "synthetic",
        "eblup",
        "g1",
        "g2",
        "g3",
        "mse",
        "rmse",
        "ci_low",
        "ci_high",
    ]
    np.testing.assert_allclose(t.ci_high - t.eblup, stats.norm.ppf(0.95) * np.sqrt(t.mse))


def test_matches_committed_r_reference():
    """Reads the committed csv written by tests/r/reference_small_area.R (R is not run)."""
    ref = pd.read_csv(EXPECTED)
    for (case, method), g in ref.groupby(["case", "method"]):
        g = g.sort_values("area")
        X = np.column_stack([np.ones(len(g)), g.x]) if g.covariate.iloc[0] else None
        fit = fay_herriot(g.y.to_numpy(), g.D.to_numpy(), X, method=method)
        assert fit.sigma2_v == pytest.approx(g.sigma2_v.iloc[0], rel=1e-6, abs=1e-10), case
        np.testing.assert_allclose(fit.eblup, g.eblup, rtol=1e-7)
        for col in ("g1", "g2", "g3", "mse"):
            np.testing.assert_allclose(getattr(fit, col), g[col], rtol=1e-5, atol=1e-12)
    assert set(ref.case) == {"intercept", "covariate", "zero"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"y": [1, np.nan, 2], "D": [1, 1, 1]}, "non-finite"),
        ({"y": [1, 2, 3], "D": [1, 0, 1]}, "> 0"),
        ({"y": [1, 2, 3], "D": [1, 1]}, "has 2 values"),
        ({"y": [1, 2], "D": [1, 1], "X": np.ones((2, 2))}, "more areas"),
        ({"y": [1, 2, 3], "D": [1, 1, 1], "X": np.ones((3, 2))}, "full column rank"),
        ({"y": [1, 2, 3], "D": [1, 1, 1], "method": "ML"}, "method must be"),
        ({"y": [1, 2, 3], "D": [1, 1, 1], "X": np.ones((4, 1))}, "4 rows|3 rows"),
    ],
)
def test_input_validation(kwargs, message):
    with pytest.raises(ValueError, match=message) as err:
        fay_herriot(**kwargs)
    assert isinstance(err.value, SmallAreaInputError)


# ------------------------------------------------------------------------------------------
# shares
# ------------------------------------------------------------------------------------------
def test_proportions_transform_and_bounds():
    p = np.array([0.80, 0.65, 1.00, 0.85, 0.70, 0.0, 0.92])
    n = np.array([20, 25, 15, 30, 18, 22, 40.0])
    res = fay_herriot_proportions(p, n, method="AREML-YL")
    np.testing.assert_allclose(res.fit.direct, np.arcsin(np.sqrt(p)))
    np.testing.assert_allclose(res.fit.D, 1 / (4 * n))
    t = res.table
    assert ((t.ci_low >= 0) & (t.ci_high <= 1)).all()
    assert ((t.ci_low <= t.estimate) & (t.estimate <= t.ci_high)).all()
    np.testing.assert_allclose(t.estimate, np.sin(res.fit.eblup) ** 2)
    pct = fay_herriot_proportions(100 * p, n, method="AREML-YL", percent=True).table
    np.testing.assert_allclose(pct.estimate, 100 * t.estimate)
    np.testing.assert_allclose(pct.ci_high, 100 * t.ci_high)
    assert t.estimator.str.startswith("model-based").all()


def test_proportions_bias_corrected_backtransform():
    p = np.array([0.80, 0.65, 0.95, 0.85, 0.70, 0.60])
    n = np.array([20, 25, 15, 30, 18, 22.0])
    res = fay_herriot_proportions(p, n, backtransform="bc")
    th, g1 = res.fit.eblup, res.fit.g1
    # E sin^2(T), T ~ N(th, g1), by quadrature
    for i in range(len(p)):
        grid = np.linspace(-8, 8, 4001)
        dens = stats.norm.pdf(grid)
        val = np.trapezoid(np.sin(th[i] + np.sqrt(g1[i]) * grid) ** 2 * dens, grid)
        assert res.table.estimate[i] == pytest.approx(val, rel=1e-8)


def test_proportions_validation():
    with pytest.raises(ValueError, match="shares must lie"):
        fay_herriot_proportions([0.5, 1.2, 0.3], [10, 10, 10])
    with pytest.raises(ValueError, match="n_eff"):
        fay_herriot_proportions([0.5, 0.2, 0.3], [10, 0, 10])
    with pytest.raises(ValueError, match="backtransform"):
        fay_herriot_proportions([0.5, 0.2, 0.3], [10, 5, 10], backtransform="exp")


# ------------------------------------------------------------------------------------------
# rank confidence sets
# ------------------------------------------------------------------------------------------
def _rank_sets_loops(est, se, alpha, joint):
    K = len(est)
    n_pairs = K * (K - 1) / 2 if joint else K - 1
    z = stats.norm.ppf(1 - alpha / (2 * n_pairs))
    out = []
    for k in range(K):
        higher = lower = 0
        for j in range(K):
            if j == k:
                continue
            half = z * math.sqrt(se[k] ** 2 + se[j] ** 2)
            if est[k] - est[j] + half < 0:
                higher += 1
            elif est[k] - est[j] - half > 0:
                lower += 1
        out.append((1 + higher, K - lower))
    return out


@pytest.mark.parametrize("joint", [True, False])
def test_rank_sets_by_loops(joint):
    rng = np.random.default_rng(7)
    est = rng.normal(80, 5, 12)
    se = rng.uniform(1, 3, 12)
    got = rank_confidence_sets(est, se, joint=joint)
    exp = _rank_sets_loops(est, se, 0.05, joint)
    assert list(zip(got.rank_low, got.rank_high, strict=True)) == exp
    assert list(got.rank_estimate) == list(stats.rankdata(-est).astype(int))


def test_rank_sets_far_apart_and_identical():
    got = rank_confidence_sets([95.0, 10.0], [1.0, 1.0])
    assert list(got.rank_low) == [1, 2] and list(got.rank_high) == [1, 2]
    same = rank_confidence_sets([80.0, 80.0, 80.0], [2.0, 2.0, 2.0])
    assert (same.rank_low == 1).all() and (same.rank_high == 3).all()


def test_rank_sets_bounds_direction_and_nesting():
    rng = np.random.default_rng(3)
    est, se = rng.normal(0, 1, 30), rng.uniform(0.05, 0.8, 30)
    joint = rank_confidence_sets(est, se)
    marg = rank_confidence_sets(est, se, joint=False)
    sidak = rank_confidence_sets(est, se, correction="sidak")
    for t in (joint, marg, sidak):
        assert (
            (t.rank_low >= 1) & (t.rank_low <= t.rank_estimate) & (t.rank_estimate <= t.rank_high)
        ).all()
        assert (t.rank_high <= 30).all()
    assert ((joint.rank_low <= marg.rank_low) & (joint.rank_high >= marg.rank_high)).all()
    assert ((joint.rank_low <= sidak.rank_low) & (joint.rank_high >= sidak.rank_high)).all()
    asc = rank_confidence_sets(est, se, descending=False)
    np.testing.assert_array_equal(asc.rank_low, 31 - joint.rank_high)
    np.testing.assert_array_equal(asc.rank_high, 31 - joint.rank_low)


def test_rank_sets_nan_unit_excluded():
    got = rank_confidence_sets(
        [90.0, 85.0, np.nan, 50.0], [1.0, 1.0, 1.0, np.nan], labels=list("abcd")
    )
    assert list(got.unit) == list("abcd")
    assert got.rank_low.isna().tolist() == [False, False, True, True]
    assert (got.n_ranked == 2).all()
    assert list(got.rank_high[:2]) == [1, 2]


def test_rank_sets_joint_coverage_simulation():
    rng = np.random.default_rng(11)
    K = 10
    theta = rng.normal(0, 1, K)
    se = rng.uniform(0.2, 0.6, K)
    true_rank = stats.rankdata(-theta)
    hits = 0
    reps = 400
    for _ in range(reps):
        t = rank_confidence_sets(theta + rng.normal(0, se), se)
        hits += bool(((t.rank_low <= true_rank) & (true_rank <= t.rank_high)).all())
    assert hits / reps >= 0.95


def test_rank_sets_validation():
    with pytest.raises(ValueError, match="same length"):
        rank_confidence_sets([1, 2], [1])
    with pytest.raises(ValueError, match=">= 0"):
        rank_confidence_sets([1, 2], [1, -1])
    with pytest.raises(ValueError, match="correction"):
        rank_confidence_sets([1, 2], [1, 1], correction="holm")


def test_docstring_examples_run():
    result = doctest.testmod(small_area, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0
