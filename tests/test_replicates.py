"""Tests for sipas_analysis.replicates: Rao–Wu bootstrap weights, replicate SEs, rank intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.replicates import rank_intervals, rao_wu_bootstrap, replicate_estimates


def _design(n_strata: int = 40, seed: int = 7) -> pd.DataFrame:
    """A stratified cluster sample: 3–5 PSUs per stratum, 6–10 respondents per PSU."""
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(n_strata):
        for j in range(int(rng.integers(3, 6))):
            psu_effect = rng.normal(0, 0.6)
            psu_w = rng.uniform(50, 400)
            for _ in range(int(rng.integers(6, 11))):
                rows.append(
                    {
                        "stratum": f"S{h:02d}",
                        "psu": f"V{j}",  # labels repeat across strata: PSUs are nested
                        "w": psu_w * rng.uniform(0.6, 1.6),
                        "y": 3.0 + 0.02 * h + psu_effect + rng.normal(0, 1.0),
                    }
                )
    return pd.DataFrame(rows)


def _linearised_se_of_mean(df: pd.DataFrame) -> float:
    """Explicit Taylor formula: v = Σ_h n_h/(n_h-1) Σ_i (z_hi - z̄_h)², z = w(y - ȳ)/Σw."""
    w, y = df["w"].to_numpy(), df["y"].to_numpy()
    ybar = np.sum(w * y) / np.sum(w)
    z = df.assign(z=w * (y - ybar) / np.sum(w))
    tot = z.groupby(["stratum", "psu"])["z"].sum().reset_index()
    v = 0.0
    for _, g in tot.groupby("stratum"):
        n_h = len(g)
        v += n_h / (n_h - 1) * np.sum((g["z"] - g["z"].mean()) ** 2)
    return float(np.sqrt(v))


def _wmean(d: pd.DataFrame, w: np.ndarray) -> float:
    return float(np.sum(w * d["y"].to_numpy()) / np.sum(w))


def test_same_seed_same_weights_other_seed_other_weights():
    df = _design(10)
    a = rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=50, seed=123)
    b = rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=50, seed=123)
    c = rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=50, seed=124)
    assert a.shape == (len(df), 50)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_replicate_weights_are_rao_wu_rescaled_counts():
    df = _design(12)
    before = df.copy()
    rw = rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=200, seed=5)
    pd.testing.assert_frame_equal(df, before)
    assert (rw >= 0).all()
    factor = rw / df["w"].to_numpy()[:, None]
    key = df["stratum"] + "/" + df["psu"]
    n_h = df.groupby("stratum")["psu"].nunique()
    psu_factor = pd.DataFrame(factor).groupby(key.to_numpy())
    # one factor per PSU and replicate (all respondents of a PSU share it)
    np.testing.assert_allclose(psu_factor.max(), psu_factor.min(), rtol=1e-14)
    per_psu = psu_factor.first()
    stratum_of = pd.Series(per_psu.index.str.split("/").str[0], index=per_psu.index)
    nh = stratum_of.map(n_h).to_numpy()[:, None]
    counts = per_psu.to_numpy() * (nh - 1) / nh
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-12)  # times drawn
    # m_h = n_h - 1 draws in every stratum and replicate
    drawn = pd.DataFrame(np.round(counts)).groupby(stratum_of.to_numpy()).sum()
    expected = np.broadcast_to((n_h.loc[drawn.index] - 1).to_numpy()[:, None], drawn.shape)
    np.testing.assert_array_equal(drawn.to_numpy(), expected)
    # PSUs not drawn get weight exactly zero, and that happens
    not_drawn = np.round(counts) == 0
    assert not_drawn.any()
    rows_zero = not_drawn[pd.Index(per_psu.index).get_indexer(key)]
    assert (rw[rows_zero] == 0.0).all() and (rw[~rows_zero] > 0).all()
    # unbiased: E[factor] = 1
    assert factor.mean() == pytest.approx(1.0, abs=0.02)


def test_bootstrap_se_agrees_with_linearisation():
    df = _design(40)
    rw = rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=1000, seed=2024)
    est, se, reps = replicate_estimates(df, rw, _wmean, weight="w")
    lin = _linearised_se_of_mean(df)
    assert est == pytest.approx(_wmean(df, df["w"].to_numpy()), rel=1e-14)
    assert reps.shape == (1000,)
    assert se == pytest.approx(np.std(reps, ddof=1), rel=1e-12)  # centred at the replicate mean
    assert abs(se / lin - 1) < 0.10, (se, lin)


def test_replicate_estimates_series_and_mse_centring():
    df = _design(15).assign(group=lambda d: np.where(d.index % 2 == 0, "a", "b"))
    rw = rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=100, seed=9)

    def by_group(d: pd.DataFrame, w: np.ndarray) -> pd.Series:
        t = d.assign(_w=w, _wy=w * d["y"]).groupby("group")[["_w", "_wy"]].sum()
        return t["_wy"] / t["_w"]

    est, se, reps = replicate_estimates(df, rw, by_group, weight="w")
    assert list(est.index) == ["a", "b"] and reps.shape == (100, 2)
    np.testing.assert_allclose(se.to_numpy(), reps.std(ddof=1).to_numpy(), rtol=1e-12)
    _, se_mse, _ = replicate_estimates(df, rw, by_group, weight="w", mse=True)
    manual = np.sqrt(((reps - est) ** 2).sum() / 99)
    np.testing.assert_allclose(se_mse.to_numpy(), manual.to_numpy(), rtol=1e-12)
    assert (se_mse >= se).all()
    with pytest.raises(InputError, match="shape"):
        replicate_estimates(df.iloc[:-1], rw, by_group, weight="w")


def test_singleton_stratum_fails_or_is_kept_with_certainty():
    df = _design(5)
    df.loc[df["stratum"] == "S03", "psu"] = "only"
    with pytest.raises(SipasError, match="'S03' has only one PSU"):
        rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=10)
    rw = rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=10, lonely_psu="certainty")
    s3 = (df["stratum"] == "S03").to_numpy()
    np.testing.assert_array_equal(rw[s3], np.repeat(df["w"].to_numpy()[s3, None], 10, axis=1))


def test_bad_input_is_reported():
    df = _design(3)
    df.loc[4, "w"] = -1.0
    with pytest.raises(InputError, match="non-negative") as exc:
        rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=5)
    assert exc.value.rows == [6]
    with pytest.raises(InputError, match="not found"):
        rao_wu_bootstrap(df, "w", "nope", "psu")


def _communes(seed: int = 11) -> pd.DataFrame:
    """12 communes in 4 strata, 3 villages (PSUs) each; commune K12 far below the rest."""
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(12):
        level = 0.0 if c < 11 else -3.0
        for v in range(3):
            for _ in range(12):
                rows.append(
                    {
                        "stratum": f"H{c % 4}",
                        "commune": f"K{c + 1:02d}",
                        "psu": f"K{c + 1:02d}-V{v}",
                        "w": rng.uniform(20, 60),
                        "score": level + 0.05 * c + rng.normal(0, 1.0),
                        "item": int(rng.integers(1, 6)) if c < 11 else int(rng.integers(1, 3)),
                    }
                )
    return pd.DataFrame(rows)


def test_rank_intervals_contain_point_rank_and_isolate_the_weak_commune():
    df = _communes()
    rw = rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=300, seed=17)
    r = rank_intervals(df, "score", "commune", "w", rw)
    assert len(r) == 12 and sorted(r["rank"].tolist()) == list(range(1, 13))
    assert ((r["rank_low"] <= r["rank"]) & (r["rank"] <= r["rank_high"])).all()
    last = r.iloc[-1]
    assert last["commune"] == "K12" and last["rank"] == 12
    assert last["rank_low"] == 12 and last["rank_high"] == 12
    # The eleven similar communes are not told apart: their intervals are wide.
    assert (r.iloc[:-1]["rank_high"] - r.iloc[:-1]["rank_low"]).median() >= 4
    # estimates are the weighted means
    k1 = df[df["commune"] == "K01"]
    assert r.set_index("commune").loc["K01", "estimate"] == pytest.approx(
        np.sum(k1["w"] * k1["score"]) / k1["w"].sum(), rel=1e-13
    )


def test_rank_intervals_top_box_share_and_ascending():
    df = _communes()
    rw = rao_wu_bootstrap(df, "w", "stratum", "psu", n_replicates=100, seed=3)
    r = rank_intervals(df, "item", "commune", "w", rw, satisfied_codes=[4, 5], ascending=True)
    k12 = r.set_index("commune").loc["K12"]
    assert k12["estimate"] == 0.0 and k12["rank"] == 1  # no 4/5 answers: lowest share, rank 1
    k1 = df[df["commune"] == "K01"]
    share = 100 * np.sum(k1["w"] * k1["item"].isin([4, 5])) / k1["w"].sum()
    assert r.set_index("commune").loc["K01", "estimate"] == pytest.approx(share, rel=1e-13)


def test_rank_intervals_domain_not_drawn_in_some_replicates():
    # One stratum of 12 villages, 4 per commune: a commune is missed in some replicates.
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"commune": np.repeat(["A", "B", "C"], 8), "psu": np.repeat(np.arange(12), 2), "w": 1.0}
    )
    df["y"] = rng.normal(0, 0.1, 24) + np.repeat([3.0, 2.0, 1.0], 8)
    rw = rao_wu_bootstrap(df, "w", None, "psu", n_replicates=400, seed=8)
    r = rank_intervals(df, "y", "commune", "w", rw).set_index("commune")
    assert (r["n_replicates"] < 400).all() and (r["n_replicates"] > 300).all()
    assert r["rank"].tolist() == [1, 2, 3]
    assert r["rank_low"].tolist() == [1, 2, 3] and r["rank_high"].tolist() == [1, 2, 3]
