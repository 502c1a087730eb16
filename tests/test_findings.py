"""Weak points: Benjamini-Hochberg, planted effects on synthetic and sample waves, no noise."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sipas_analysis import geography
from sipas_analysis.findings import (
    FINDING_COLUMNS,
    IPA_COLUMNS,
    benjamini_hochberg,
    commune_ranks,
    importance_performance,
    rest_contrasts,
    sipas_weak_points,
)
from sipas_analysis.instruments import load_instrument
from sipas_analysis.paths import SAMPLE_DIR, WAVES_DIR
from sipas_analysis.small_domains import modelled_indices

# --------------------------------------------------------------------------------------------
# Benjamini-Hochberg
# --------------------------------------------------------------------------------------------

# Benjamini & Hochberg (1995), section 4: 15 p-values of a clinical trial; at q = 0.05 the
# step-up procedure rejects the four smallest (p_(4) = 0.0095 <= 4 * 0.05 / 15 = 0.0133 and
# p_(k) > k * 0.05 / 15 for every k > 4).
BH_1995 = [
    0.0201,
    0.0001,
    0.0004,
    0.0019,
    0.0095,
    0.0278,
    0.0298,
    0.0344,
    0.0459,
    0.3240,
    0.4262,
    0.5719,
    0.6528,
    0.7590,
    1.0000,
]


def test_bh_textbook_example():
    reject, adj = benjamini_hochberg(BH_1995, q=0.05)
    rejected = sorted(np.asarray(BH_1995)[reject].tolist())
    assert rejected == [0.0001, 0.0004, 0.0019, 0.0095]
    # hand: adjusted p of 0.0095 = min_j>=4 (15 p_(j) / j) = 15 * 0.0095 / 4 = 0.035625
    assert adj[4] == pytest.approx(0.035625)
    # adjusted p of 0.0201 (rank 5) = min(15*0.0201/5, 15*0.0278/6, ...) = 0.0603
    assert adj[0] == pytest.approx(0.0603)


def _bh_by_definition(p: list[float]) -> list[float]:
    """Adjusted p of rank i = min over j >= i of min(1, m p_(j) / j), written out in loops."""
    m = len(p)
    ranked = sorted(range(m), key=lambda k: p[k])
    out = [0.0] * m
    for i, k in enumerate(ranked, start=1):
        out[k] = min(min(1.0, m * p[ranked[j - 1]] / j) for j in range(i, m + 1))
    return out


def test_bh_equals_the_step_up_definition_and_ignores_nan():
    rng = np.random.default_rng(5)
    p = np.r_[rng.uniform(0, 0.01, 5), rng.uniform(0, 1, 40), BH_1995]
    _, adj = benjamini_hochberg(p)
    np.testing.assert_allclose(adj, _bh_by_definition(p.tolist()), rtol=1e-15, atol=0)
    reject, adj2 = benjamini_hochberg(np.r_[np.nan, p])
    assert not reject[0] and np.isnan(adj2[0])
    np.testing.assert_allclose(adj2[1:], adj)  # NaN is not counted in m


def test_trend_q_values_one_family_per_unit_and_wave_of_reported_changes():
    """A family: the changes of one area (whole area) into one wave that a brief may report,
    SIPAS and PAPI together; a change without p-value counts as p = 1 and has no q-value."""
    from sipas_analysis.findings import trend_q_values

    rng = np.random.default_rng(11)
    rows = []
    for unit, level in (("794", "area"), ("total", "total")):
        for wave_to in ("2024", "2025"):
            for k in range(6):
                survey, index_level = ("sipas", "element") if k < 4 else ("papi", "dimension")
                rows.append(
                    {
                        "survey": survey,
                        "geography": None,
                        "wave_to": wave_to,
                        "level": level,
                        "unit_code": unit,
                        "subgroup": "",
                        "comparison": "consecutive",
                        "comparable": True,
                        "index_level": index_level,
                        "index_code": f"e{k}",
                        "p_value": float(rng.uniform(0, 0.06)) if k != 2 else np.nan,
                    }
                )
    t = pd.DataFrame(rows)  # fmt: skip
    outside = pd.DataFrame(
        [
            {**rows[0], "index_level": "overall", "index_code": "sipas"},  # an area's headline
            {**rows[0], "index_code": "e9", "comparable": False},
            {**rows[0], "index_code": "e8", "comparison": "base"},
            {**rows[0], "index_code": "e7", "subgroup": "sex=1"},
        ]
    )
    q = trend_q_values(pd.concat([t, outside], ignore_index=True))
    assert np.isnan(q[len(t) :]).all()  # not in any family
    for _, g in t.groupby(["unit_code", "wave_to"]):  # 6 changes per family, by definition
        idx = g.index.to_numpy()
        want = np.array(_bh_by_definition(g["p_value"].fillna(1.0).tolist()))
        want[g["p_value"].isna().to_numpy()] = np.nan
        np.testing.assert_allclose(q[idx], want, rtol=1e-15)


def test_trend_q_values_families_of_criteria_and_of_the_communes():
    """The criteria of a unit and survey into a wave are one family. The communes' changes go
    in two stages (as the weak points): the headline changes of all the communes of a survey
    into a wave on one geography, BH; then the composites of each commune selected at
    q * COMMUNE_Q_SHARE, BH at q' R / m with q-values scaled by m / R; both stages' q-values
    divided by COMMUNE_Q_SHARE, so that they compare with q = 0.05 as every other q-value; a
    commune not selected has no q-value for its composites. An area's headline change has no
    family."""
    from sipas_analysis.findings import trend_q_values
    from sipas_analysis.findings.fdr import COMMUNE_Q_SHARE

    rng = np.random.default_rng(5)
    base = {"wave_to": "2025", "subgroup": "", "comparison": "consecutive", "comparable": True,
            "geography": None, "level": "commune"}  # fmt: skip
    rows = []
    head_p = {"27694": 1e-4, "27697": 0.30, "27700": 0.60}  # only 27694 is selected
    for unit in head_p:
        for survey in ("sipas", "papi"):
            for k in range(5):  # criteria
                rows.append({**base, "survey": survey, "unit_code": unit, "index_level": "item",
                             "index_code": f"{survey}_q{k}", "family": f"item {unit} {survey}",
                             "p_value": rng.uniform(0, 0.1)})  # fmt: skip
        rows.append({**base, "survey": "sipas", "unit_code": unit, "index_level": "overall",
                     "index_code": "sipas", "family": "headlines", "p_value": head_p[unit]})  # fmt: skip
        for k in range(4):  # elements
            rows.append({**base, "survey": "sipas", "unit_code": unit, "index_level": "element",
                         "index_code": f"e{k}", "family": f"elements {unit}",
                         "p_value": [0.001, 0.01, 0.03, 0.5][k]})  # fmt: skip
        rows.append({**base, "survey": "sipas", "unit_code": unit, "index_level": "overall",
                     "index_code": "sipas", "geography": "2025 (quy đổi)",
                     "family": "headlines, 2025 geography", "p_value": 0.01})  # fmt: skip
    rows.append({**base, "survey": "sipas", "level": "area", "unit_code": "794",
                 "index_level": "overall", "index_code": "sipas", "family": None,
                 "p_value": 0.01})  # fmt: skip
    t = pd.DataFrame(rows)
    q = trend_q_values(t)
    fam = t["family"]
    assert np.isnan(q[fam.isna().to_numpy()]).all()
    for name, g in t.groupby("family"):
        idx = g.index.to_numpy()
        if name.startswith("item"):
            want = np.array(_bh_by_definition(g["p_value"].tolist()))
        elif name.startswith("headlines"):
            want = np.minimum(
                np.array(_bh_by_definition(g["p_value"].tolist())) / COMMUNE_Q_SHARE, 1.0
            )
        elif name == "elements 27694":  # selected: 1 of m = 3 communes
            m, r = 3, 1
            bh = np.array(_bh_by_definition(g["p_value"].tolist()))
            want = np.minimum(bh * m / r / COMMUNE_Q_SHARE, 1.0)
        else:  # communes not selected in stage 1
            want = np.full(len(g), np.nan)
        np.testing.assert_allclose(q[idx], want, rtol=1e-15, err_msg=name)
    # stage 1 selects at q * COMMUNE_Q_SHARE: 27694 only
    heads = (fam == "headlines").to_numpy()
    assert (q[heads] <= 0.05).tolist() == [True, False, False]


def test_commune_q_values_read_as_the_rule_that_rejects_them():
    """A commune's change is rejected exactly when its q-value is at most q (the q-values of
    the two stages are scaled, :func:`findings.fdr.tested_bh`), and the pages call it
    significant on the same figure: a headline p-value whose BH value lies between
    q * COMMUNE_Q_SHARE and q is neither rejected nor said significant. The PAPI communes enter
    stage 1 once (the total named as the survey); the weighted total goes with the parts."""
    from sipas_analysis import highlights
    from sipas_analysis.findings.fdr import COMMUNE_Q_SHARE, tested_bh, trend_q_values

    base = {"wave_to": "2025", "subgroup": "", "comparison": "consecutive", "comparable": True,
            "level": "commune", "significant": True}  # fmt: skip
    # two communes; BH values of the headlines: 0.02 * 2 / 1 = 0.04 and 0.04 -> between
    # q' = 0.025 and q = 0.05: no commune is selected
    t = pd.DataFrame(
        [{**base, "survey": "sipas", "unit_code": u, "index_level": "overall",
          "index_code": "sipas", "p_value": p} for u, p in (("a", 0.02), ("b", 0.04))]
    )  # fmt: skip
    rej, qv = tested_bh(t, 0.05)
    assert not rej.any()
    np.testing.assert_allclose(qv, [0.04 / COMMUNE_Q_SHARE] * 2, rtol=1e-15)
    t["q_value"] = trend_q_values(t)
    assert highlights.said_significant_rows(t).tolist() == [False, False]
    assert [highlights.said_significant(r) for _, r in t.iterrows()] == [False, False]
    # smaller p-values: both rejected, and said significant on the same q-values
    t["p_value"] = [0.001, 0.01]
    rej, qv = tested_bh(t.drop(columns="q_value"), 0.05)
    t["q_value"] = trend_q_values(t)
    assert rej.tolist() == [True, True] and (qv <= 0.05).all()
    np.testing.assert_allclose(t["q_value"], qv, rtol=1e-15)
    assert highlights.said_significant_rows(t).tolist() == [True, True]
    # PAPI: stage 1 holds the total named "papi" of each commune (m = 2, not 4)
    papi = pd.DataFrame(
        [{**base, "survey": "papi", "unit_code": u, "index_level": "total", "index_code": c,
          "p_value": p}
         for u, c, p in (("a", "papi", 0.001), ("a", "papi_weighted", 0.002),
                         ("b", "papi", 0.3), ("b", "papi_weighted", 0.2))]
    )  # fmt: skip
    rej, qv = tested_bh(papi, 0.05)
    # stage 1: BH of (0.001, 0.3) = (0.002, 0.3), scaled by 1 / 0.5; stage 2 of a: its weighted
    # total alone at q' * 1 / 2, q-value 0.002 * 2 / 1 / 0.5
    np.testing.assert_allclose(qv[[0, 2]], [0.004, 0.6], rtol=1e-13)
    np.testing.assert_allclose(qv[1], 0.008, rtol=1e-13)
    assert np.isnan(qv[3]) and rej.tolist() == [True, True, False, False]


# --------------------------------------------------------------------------------------------
# synthetic waves with a planted weak commune and a planted decline
# --------------------------------------------------------------------------------------------
INST = load_instrument("sipas-2017")
ITEMS = INST.satisfaction_items()["code"].tolist()
PRE = geography.communes("pre2025").set_index("commune_code")
C794 = [27694, 27697, 27700, 27703, 27706, 27709]
C800 = [27865, 27868, 27871, 27874, 27877, 27880]
WEAK = 27868  # far below the rest of Thạnh Hóa in both waves
DECLINE = 27703  # drops in 2020
TINY = 27709  # 8 respondents: never a finding value


def _wave(year: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for c in C794 + C800:
        n_village = {TINY: 1, WEAK: 2}.get(c, 3)
        per = {TINY: 8, WEAK: 13}.get(c, 20)  # WEAK: 26 respondents (small_n)
        p = 0.85
        if c == WEAK:
            p = 0.45
        if c == DECLINE and year == 2020:
            p = 0.45
        if c == TINY:
            p = 0.2
        for v in range(n_village):
            for _ in range(per):
                person = rng.normal(0, 0.6)
                z = stats.norm.ppf(p) * np.sqrt(1 + 0.36) + person
                sat = rng.normal(z, 1.0, len(ITEMS)) > 0
                ans = np.where(
                    sat, rng.choice([4, 5], len(ITEMS)), rng.choice([1, 2, 3], len(ITEMS))
                )
                rows.append(
                    {
                        "commune_code": c,
                        "area_code": int(PRE.at[c, "area_code"]),
                        "village": v,
                        **dict(zip(ITEMS, ans, strict=True)),
                    }
                )
    df = pd.DataFrame(rows)
    n = len(df)
    df.insert(0, "respondent_id", [f"S{year}-{i}" for i in range(n)])
    df["wave"] = str(year)
    df["survey"] = "sipas"
    df["instrument"] = "sipas-2017"
    df["boundary_vintage"] = "pre2025"
    df["commune_name"] = df["commune_code"].map(PRE["commune_name"])
    df["area_name"] = df["area_code"].map(
        dict(zip(geography.areas().area_code, geography.areas().area_name, strict=True))
    )
    df["stratum"] = df["area_code"].astype(str)
    df["psu"] = df["commune_code"].astype(str) + "-" + df["village"].astype(str)
    df["weight"] = rng.uniform(50, 150, n)
    df["source_row"] = np.arange(n) + 2
    for col in ITEMS:
        df[col] = df[col].astype("Int64")
    return df


@pytest.fixture(scope="module")
def synthetic():
    from sipas_analysis.indices import sipas_indices

    waves = {"2019": _wave(2019, 11), "2020": _wave(2020, 12)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = pd.concat(
            [modelled_indices(w, lambda d: sipas_indices(d, subgroups=())) for w in waves.values()]
        )
        out = sipas_weak_points(waves, est, "2020")
    return waves, est, out


def _flagged(findings, code):
    f = findings[findings["reason_codes"].str.contains(code)]
    return set(f.loc[f.level == "commune", "unit_code"].astype(int))


def test_synthetic_contract_columns(synthetic):
    _, _, out = synthetic
    f = out["findings"]
    assert list(f.columns[: len(FINDING_COLUMNS)]) == FINDING_COLUMNS
    assert f["priority"].tolist() == list(range(1, len(f) + 1))
    assert list(out["importance_performance"].columns[:5]) == IPA_COLUMNS


def test_synthetic_planted_weak_commune_and_decline_found(synthetic):
    _, _, out = synthetic
    f = out["findings"]
    assert WEAK in _flagged(f, "below_rest")
    assert DECLINE in _flagged(f, "decline")
    row = f[(f.unit_code == str(DECLINE)) & (f.index_code == "sipas")].iloc[0]
    assert "decline" in row.reason_codes
    assert "Giảm có ý nghĩa thống kê so với đợt 2019" in row.reasons
    assert row.benchmark_label in ("Đợt 2019", "Các xã, phường còn lại của Thành phố Tân An")
    # commune findings carry a joint rank confidence set, never a bare rank
    commune = f[f.level == "commune"]
    assert commune["rank_low"].notna().all() and commune["rank_high"].notna().all()
    assert commune["reasons"].str.contains("khoảng tin cậy 95% của thứ hạng").all()
    assert (commune["rank_low"] <= commune["rank_high"]).all()


def test_synthetic_noise_not_flagged(synthetic):
    _, _, out = synthetic
    f = out["findings"]
    noise = set(C794 + C800) - {WEAK, DECLINE, TINY}
    assert not (_flagged(f, "below_rest") & noise)
    assert not (_flagged(f, "decline") & noise)
    c = out["contrasts"]
    c = c[(c.level == "commune") & (c.index_code == "sipas")].set_index("unit_code")
    assert c.loc[str(WEAK), "difference"] < -20


def test_synthetic_suppressed_cell_never_shown(synthetic):
    waves, est, out = synthetic
    # TINY has 8 respondents at 20 % satisfied: strongly 'significant' but never a finding
    assert int(est[(est.unit_code == str(TINY)) & (est.index_code == "sipas")].n.iloc[0]) < 10
    f = out["findings"]
    assert str(TINY) not in set(f["unit_code"])
    t = out["trends"]
    tiny = t[(t.unit_code == str(TINY)) & (t.index_code == "sipas")].iloc[0]
    assert np.isnan(tiny.estimate_to) and np.isnan(tiny.change) and not tiny.significant
    # communes with 20 <= n < 30 say so
    assert f[f.level == "commune"]["reasons"].str.contains("cỡ mẫu nhỏ").any()


def test_rest_contrast_matches_the_ratio_of_the_rest():
    # an item without missing answers: the population-weighted mean of the other communes is
    # the ratio estimate of the rest domain, computed here by the engine on the full design
    from sipas_analysis.estimate import estimate_domains
    from sipas_analysis.indices import sipas_indices

    df = _wave(2019, 21)
    it = ITEMS[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = modelled_indices(df, lambda d: sipas_indices(d, subgroups=()))
    c = rest_contrasts(est, "commune")
    r = c[(c.unit_code == str(WEAK)) & (c.index_code == it)].iloc[0]
    rest = df.assign(_rest=np.where((df.area_code == 800) & (df.commune_code != WEAK), 1, pd.NA))
    ref = estimate_domains(rest, [it], by="_rest", weight="weight", strata="stratum", psu="psu")
    assert r.estimate_rest == pytest.approx(float(ref.table["estimate"].iloc[0]), rel=1e-12)
    assert r.difference == pytest.approx(r.estimate_unit - r.estimate_rest)
    # variance: the commune's model variance plus the weighted variances of the others
    cells = est[(est.level == "commune") & (est.index_code == it) & (est.area_code == 800)]
    cells = cells[cells.n >= 10].set_index("unit_code")
    others = cells.drop(index=str(WEAK))
    pi = others.weight_total / others.weight_total.sum()
    v = cells.loc[str(WEAK), "se"] ** 2 + (pi**2 * others.se**2).sum()
    assert r.se == pytest.approx(np.sqrt(v), rel=1e-12)
    assert r.p_value < 0.01  # one item, 26 answers in two villages
    # the p-value is of the logit difference over its SE with every variance taken at the
    # area's level p0 (the null hypothesis): the within-village part A = se_village^2 rescaled
    # as a binomial variance, the village part kept on the logit scale; t on the smallest df
    u, o = r.estimate_unit / 100, r.estimate_rest / 100
    p0 = (cells.weight_total * cells.estimate).sum() / cells.weight_total.sum() / 100

    def v_null(cell):
        p = cell.estimate / 100
        a = min(cell.se_village**2, cell.se**2)
        b_logit = (cell.se**2 - a) / (100 * p * (1 - p)) ** 2
        return a * p0 * (1 - p0) / (p * (1 - p)) + b_logit * (100 * p0 * (1 - p0)) ** 2

    v_rest0 = sum(pi[k] ** 2 * v_null(others.loc[k]) for k in others.index)
    se_logit = np.sqrt(v_null(cells.loc[str(WEAK)]) + v_rest0) / (100 * p0 * (1 - p0))
    z = (np.log(u / (1 - u)) - np.log(o / (1 - o))) / se_logit
    df_min = max(cells["df"].min(), 1.0)
    assert r.test_scale == "logit" and r.df == pytest.approx(df_min)
    assert r.p_value == pytest.approx(2 * stats.t.sf(abs(z), df_min), rel=1e-10)
    # the tiny commune (n < 10) enters neither side
    assert str(TINY) not in set(c.unit_code)


def test_commune_rank_sets_from_the_estimates(synthetic):
    _, est, out = synthetic
    r = commune_ranks(est[est.wave == "2020"])
    s = r[r.index_code == "sipas"].set_index("unit_code")
    assert (s.rank_basis == "estimate_model").all()
    assert (s.rank_low <= s["rank"]).all() and (s["rank"] <= s.rank_high).all()
    assert s.n_units.iloc[0] == len(s) and str(TINY) not in s.index
    # the planted weak commune is surely last of the communes ranked
    assert s.loc[str(WEAK), "rank_high"] == len(s)
    assert s.loc[str(WEAK), "rank_low"] >= len(s) - 2


def test_importance_performance_hand():
    rng = np.random.default_rng(8)
    n = 600
    latent = rng.normal(0, 1, n)
    df = pd.DataFrame({"weight": rng.uniform(1, 3, n), "instrument": "sipas-2017"})
    for k, it in enumerate(ITEMS):
        if k == 0:  # strongly tied to overall satisfaction, rarely satisfied
            sat = latent + rng.normal(0, 0.3, n) > 0.9
        elif k == 1:  # unrelated to anything, rarely satisfied
            sat = rng.uniform(size=n) < 0.3
        else:
            sat = 0.6 * latent + rng.normal(0, 1, n) > -1.2
        df[it] = np.where(sat, 5, 2)
    ipa = importance_performance(df).set_index("index_code")
    # hand check of item 0: weighted correlation with the mean of the other items
    y = (df[ITEMS[0]] == 5).to_numpy(float)
    rest = (df[ITEMS[1:]] == 5).to_numpy(float).mean(axis=1)
    w = df["weight"].to_numpy()
    cov = np.cov(y, rest, aweights=w)
    assert ipa.loc[ITEMS[0], "importance"] == pytest.approx(
        cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])
    )
    assert ipa.loc[ITEMS[0], "performance"] == pytest.approx(100 * np.average(y, weights=w))
    assert ipa.loc[ITEMS[0], "quadrant_code"] == "uu_tien"
    assert ipa.loc[ITEMS[1], "quadrant_code"] == "theo_doi"
    assert ipa.loc[ITEMS[0], "quadrant"].startswith("Ưu tiên cải thiện")


# --------------------------------------------------------------------------------------------
# the bundled sample waves: every planted effect of data/sample/README.md, and no noise
# --------------------------------------------------------------------------------------------
def _truth(wave_id: str) -> pd.DataFrame:
    t = pd.read_csv(SAMPLE_DIR / "planted_truth.csv")
    t = t[t.wave_id == wave_id].pivot(index="commune_code", columns="node", values="truth")
    if {"chinh_sach", "dich_vu"} <= set(t.columns):
        t["sipas"] = (t["chinh_sach"] + t["dich_vu"]) / 2
    return t


@pytest.fixture(scope="module")
def sample_2024():
    if not (WAVES_DIR / "sipas-2024.yaml").exists():
        pytest.skip("sample waves not generated")
    from sipas_analysis.indices import sipas_indices
    from sipas_analysis.national import benchmark_values
    from sipas_analysis.waves import read_wave

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        waves = {w: read_wave(WAVES_DIR / f"sipas-{w}.yaml").respondents for w in ("2023", "2024")}
        est = pd.concat([modelled_indices(r, sipas_indices) for r in waves.values()])
        out = sipas_weak_points(waves, est, "2024", benchmarks=benchmark_values())
    return out


def test_sample_recovers_every_planted_effect(sample_2024):
    f = sample_2024["findings"]
    t24, t23 = _truth("sipas-2024"), _truth("sipas-2023")
    modal = t24.mode().iloc[0]
    low = t24.lt(modal - 1e-9)
    # weak element: every commune of one area below elsewhere on one element
    area = PRE["area_code"].reindex(t24.index)
    weak = [
        (a, node)
        for node in t24.columns
        for a in area.unique()
        if low.loc[area == a, node].all() and not low[node].all() and (area == a).sum() > 1
    ]
    weak = [(a, n) for a, n in weak if n in load_instrument("sipas-2022").nodes["code"].tolist()]
    assert (800, "cong_chuc") in weak
    for a, node in weak:
        if node in ("dich_vu", "sipas"):
            continue  # the parents of the weak element
        r = f[(f.level == "area") & (f.unit_code == str(a)) & (f.index_code == node)]
        assert len(r) == 1, (a, node)
        assert "below_rest" in r.reason_codes.iloc[0] and "lowest_ranked" in r.reason_codes.iloc[0]
    # communes below elsewhere on every node: the low commune (also in 2023) and the decline
    everywhere = low.index[low.all(axis=1)]
    declined = [
        c for c in everywhere if not _truth("sipas-2023").lt(t23.mode().iloc[0] - 1e-9).loc[c].all()
    ]
    always_low = [c for c in everywhere if c not in declined]
    assert declined == [27988] and always_low == [27808]  # as data/sample/README.md documents
    low_rows = f[(f.unit_code == "27808") & (f.index_code == "sipas")]
    assert len(low_rows) == 1 and "below_rest" in low_rows.reason_codes.iloc[0]
    dec_rows = f[(f.unit_code == "27988") & (f.index_code == "sipas")]
    assert len(dec_rows) == 1
    assert {"decline", "below_rest"} <= set(dec_rows.reason_codes.iloc[0].split("; "))


def test_sample_flags_no_pure_noise(sample_2024):
    f = sample_2024["findings"]
    t24 = _truth("sipas-2024")
    low = t24.lt(t24.mode().iloc[0] - 1e-9)
    planted = set(low.index[low.any(axis=1)].astype(str))
    sig = f[f.reason_codes.str.contains("below_rest|decline") & (f.level == "commune")]
    noise = sig[~sig.unit_code.isin(planted)]
    # BH at q = 0.05: at most the expected false-discovery share of the discoveries
    assert len(noise) <= max(1, int(0.05 * len(sig)))
    # areas without a planted commune or element (Tân An) are never significantly below
    assert not f[(f.unit_code == "794") & f.reason_codes.str.contains("below_rest")].shape[0]


@pytest.fixture(scope="module")
def papi_sample():
    if not (WAVES_DIR / "papi-2024.yaml").exists():
        pytest.skip("sample waves not generated")
    from sipas_analysis.findings import papi_weak_points
    from sipas_analysis.indices import papi_indices
    from sipas_analysis.national import benchmark_values
    from sipas_analysis.waves import read_wave

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        waves = {w: read_wave(WAVES_DIR / f"papi-{w}.yaml").respondents for w in ("2023", "2024")}
        est = pd.concat(
            [modelled_indices(r, lambda d: papi_indices(d, subgroups=())) for r in waves.values()]
        )
        return papi_weak_points(est, "2024", benchmarks=benchmark_values())


def test_papi_sample_weak_subdimension_and_no_false_decline(papi_sample):
    f = papi_sample["findings"]
    # planted: d4_2 (control of corruption in public services) weak everywhere, every wave
    tot = f[(f.level == "total") & f.reason_codes.str.contains("lowest_ranked")]
    sub = tot[tot.index_level == "subdimension"]
    assert sub.sort_values("estimate").index_code.iloc[0] == "d4_2"
    low_d42 = f[(f.index_code == "d4_2") & f.reason_codes.str.contains("lowest_ranked")]
    assert set(low_d42.level) == {"total", "area"}
    # the true scores do not fall from 2023 to 2024 anywhere (only d8 rises): no decline
    assert not f.reason_codes.str.contains("decline").any()
    t = papi_sample["trends"]
    d8 = t[(t.level == "total") & (t.index_code == "d8")].iloc[0]
    assert d8.change > 0 and bool(d8.comparable)  # the planted e-governance rise
