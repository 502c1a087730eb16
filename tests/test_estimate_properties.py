"""Property-based tests (hypothesis) of the estimation engine on random small designs."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sipas_analysis.design import DesignWarning
from sipas_analysis.estimate import composite_mean, estimate_domains

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def designs(draw, equal_weights: bool = False):
    """A stratified cluster sample: 1-3 strata, 2-4 PSUs each, 1-6 respondents per PSU."""
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(draw(st.integers(1, 3))):
        for j in range(int(rng.integers(2, 5))):
            for _ in range(int(rng.integers(1, 7))):
                rows.append((f"s{h}", f"p{j}"))
    n = len(rows)
    d = pd.DataFrame(rows, columns=["stratum", "psu"])
    d["weight"] = 1.0 if equal_weights else np.round(rng.uniform(0.5, 5.0, n), 3)
    d["grp"] = rng.integers(1, 4, n)
    for item in ("q1", "q2"):
        q = rng.integers(1, 6, n).astype(float)
        q[rng.random(n) < draw(st.floats(0, 0.3))] = np.nan
        d[item] = pd.array(np.where(np.isnan(q), None, q), dtype="Int64")
    return d


def run(d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DesignWarning)
        return estimate_domains(d, ["q1", "q2"], **kw)


@SETTINGS
@given(designs(), st.sampled_from(["top2", "mean"]), st.integers(0, 10_000))
def test_invariant_to_row_order(d, statistic, seed):
    perm = np.random.default_rng(seed).permutation(len(d))
    a = run(d, by="grp", statistic=statistic).table
    b = run(d.iloc[perm], by="grp", statistic=statistic).table
    for col in ["estimate", "se", "ci_low", "ci_high", "deff"]:
        np.testing.assert_allclose(a[col], b[col], rtol=1e-9, atol=1e-12, equal_nan=True)
    assert (a["n"].to_numpy() == b["n"].to_numpy()).all()
    assert (a["flag"].to_numpy() == b["flag"].to_numpy()).all()


@SETTINGS
@given(designs(equal_weights=True))
def test_equal_weights_give_unweighted_formulas(d):
    # each respondent its own PSU, one stratum (simple random sample of size N): the unweighted
    # domain formula V = N/(N-1) * sum_{i in d, valid} (y_i - ybar_d)^2 / n_d^2, which for the
    # whole sample is s^2 / n
    t = run(d, by="grp", statistic=["mean", "top2"], strata=None, psu=None).table
    whole = run(d, statistic="mean", strata=None, psu=None).table
    big_n = len(d)
    for _, row in whole.iterrows():
        y = d[row["index_code"]].dropna().to_numpy(dtype=float)
        if y.size == big_n:  # no item nonresponse: the textbook s / sqrt(n)
            assert np.isclose(row["se"], y.std(ddof=1) / np.sqrt(y.size), rtol=1e-9)
        elif y.size > 1:
            v = big_n / (big_n - 1) * ((y - y.mean()) ** 2).sum() / y.size**2
            assert np.isclose(row["se"], np.sqrt(v), rtol=1e-9)
    for _, row in t.iterrows():
        y = d.loc[d["grp"] == row["grp"], row["index_code"]].dropna().to_numpy(dtype=float)
        if row["statistic"] == "top2":
            y = 100.0 * (y >= 4)
        assert row["n"] == y.size
        if y.size == 0:
            assert np.isnan(row["estimate"])
            continue
        assert np.isclose(row["estimate"], y.mean(), rtol=1e-12)
        if y.size > 1:
            v = big_n / (big_n - 1) * ((y - y.mean()) ** 2).sum() / y.size**2
            assert np.isclose(row["se"], np.sqrt(v), rtol=1e-9, atol=1e-12)


@SETTINGS
@given(
    designs(),
    st.sampled_from(["logit", "korn-graubard"]),
    st.sampled_from(["design", "domain"]),
    st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_intervals_contain_estimate_and_stay_on_scale(d, method, df_rule, level):
    est = run(d, by="grp", lonely_psu="adjust", ci_method=method, df=df_rule, ci_level=level)
    t = est.table
    assert t["ci_low"].notna().all() and t["ci_high"].notna().all()  # never NaN silently
    assert (t["ci_low"] >= 0).all() and (t["ci_high"] <= 100).all()
    filled = t[t["n"] > 0]
    assert (filled["ci_low"] <= filled["estimate"] + 1e-9).all()
    assert (filled["estimate"] <= filled["ci_high"] + 1e-9).all()
    comp = composite_mean(est, {"all": ["q1", "q2"]}).table
    cf = comp[comp["se"].notna()]
    assert (cf["ci_low"] >= 0).all() and (cf["ci_high"] <= 100).all()
    assert (cf["ci_low"] <= cf["estimate"] + 1e-9).all()
    assert (cf["estimate"] <= cf["ci_high"] + 1e-9).all()
