"""The pooled variance model of commune cells: R cross-check, hand-computed ICC, properties."""

from __future__ import annotations

import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sipas_analysis import pipeline
from sipas_analysis.indices import sipas_indices
from sipas_analysis.paths import REPO_ROOT, WAVES_DIR
from sipas_analysis.small_domains import (
    apply_variance_model,
    design_variants,
    modelled_indices,
    pooled_village_variance,
)

R_DIR = REPO_ROOT / "tests" / "r"
FIXTURE = R_DIR / "fixtures" / "sipas_composite_respondents.csv"
EXPECTED = R_DIR / "expected" / "small_domains_variants.csv"  # tests/r/reference_small_domains.R


def _fixture() -> pd.DataFrame:
    return pd.read_csv(FIXTURE, dtype={"stratum": str, "psu": str, "wave": str})


def _variants(df: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return design_variants(df, lambda d: sipas_indices(d, "sipas-2017", subgroups=()))


def _compare(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    exp = expected.assign(unit_code=expected["unit_code"].astype(str)).pivot_table(
        index=["unit_code", "index_code"], columns="design", values="se"
    )
    g = got[got["level"] == "commune"].set_index(["unit_code", "index_code"])
    j = exp.join(g[["se_within", "se_respondent", "se_village"]], how="inner")
    assert len(j) == len(exp) == 6 * 22
    np.testing.assert_allclose(j["se_within"], j["within"], rtol=1e-10)
    np.testing.assert_allclose(j["se_respondent"], j["respondent"], rtol=1e-10)
    np.testing.assert_allclose(j["se_village"], j["village"], rtol=1e-10)


def test_variants_match_r_survey_committed():
    _compare(_variants(_fixture()), pd.read_csv(EXPECTED))


@pytest.mark.needs_r
def test_variants_match_r_survey_live(tmp_path):
    if not shutil.which("Rscript"):
        pytest.skip("Rscript not installed")
    subprocess.run(
        ["Rscript", str(R_DIR / "reference_small_domains.R"), str(FIXTURE), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    _compare(_variants(_fixture()), pd.read_csv(tmp_path / "small_domains_variants.csv"))


def test_pooled_village_variance_hand_computed():
    # two communes, three villages each; V_within, V_within-village and h chosen by hand
    cells = pd.DataFrame(
        {
            "wave": "2030",
            "survey": "sipas",
            "index_code": "q",
            "n": [30, 60, 5],  # the third (n < 10) does not enter
            "n_psu_within": [3, 3, 1],
            "se_within": [np.sqrt(8.0), np.sqrt(6.0), 9.0],
            "se_village": [2.0, 1.0, 1.0],
            "village_h": [1 / 3, 0.5, 1.0],
        }
    )
    r = pooled_village_variance(cells).iloc[0]
    # sigma2_b = ((8 - 4) + (6 - 1)) / (1/3 + 1/2) = 10.8
    assert r["sigma2_b"] == pytest.approx(9 / (5 / 6))
    assert r["df_model"] == 4 and r["n_communes_model"] == 2
    # icc = 10.8 / (10.8 + median(4 * 30, 1 * 60)) = 10.8 / 100.8
    assert r["icc"] == pytest.approx(10.8 / 100.8)
    # negative moment estimates are truncated at 0
    neg = pooled_village_variance(cells.assign(se_within=[1.0, 0.5, 1.0])).iloc[0]
    assert neg["sigma2_b"] == 0 and neg["icc"] == 0


def test_model_se_formula_and_interval():
    est = pd.DataFrame(
        {
            "wave": "2030",
            "survey": "sipas",
            "level": "commune",
            "unit_code": ["1", "2", "3"],
            "subgroup": "",
            "index_level": "item",
            "index_code": "q",
            "estimate": [80.0, 100.0, 60.0],
            "se": [0.5, 0.0, 3.0],
            "ci_low": [79.0, 100.0, 55.0],
            "ci_high": [81.0, 100.0, 65.0],
            "ci_level": 0.95,
            "ci_method": "logit",
            "n": [30, 30, 60],
            "df": 100.0,
        }
    )
    var = pd.DataFrame(
        {
            "wave": "2030",
            "level": "commune",
            "unit_code": ["1", "2", "3"],
            "index_code": "q",
            "se_within": [np.sqrt(8.0), 0.0, np.sqrt(6.0)],
            "se_respondent": [2.5, 0.0, 1.2],
            "se_village": [2.0, 0.0, 1.0],
            "n_psu_within": [3, 3, 3],
            "village_h": [1 / 3, 1 / 3, 0.5],
        }
    )
    out = apply_variance_model(est, var).set_index("unit_code")
    # percents: village effects pooled on the logit scale, d = (100 / (p (100 - p)))^2;
    # commune 2 (100 %) has no logit and stays out of the pooled estimate
    d1, d3 = (100 / (80 * 20)) ** 2, (100 / (60 * 40)) ** 2
    s2b = ((8 - 4) * d1 + (6 - 1) * d3) / (1 / 3 + 0.5)
    assert out.loc["1", "sigma2_b"] == pytest.approx(s2b)
    A1, B1 = 4.0, s2b / 3 / d1
    assert out.loc["1", "se"] == pytest.approx(np.sqrt(A1 + B1))
    assert out.loc["3", "se"] == pytest.approx(np.sqrt(1.0 + s2b / 2 / d3))
    assert out.loc["1", "deff_model"] == pytest.approx((A1 + B1) / 2.5**2)
    # sigma2_b's df from the spread of the two contributions y_c (sandwich, K/(K-1) = 2),
    # at most the normal-theory (3 - 1) + (3 - 1) = 4
    y1, y3 = (8 - 4) * d1, (6 - 1) * d3
    r1, r3 = y1 - s2b / 3, y3 - s2b / 2
    df_b = min(2 * s2b**2 / (2 * (r1**2 + r3**2) / (1 / 3 + 0.5) ** 2), 4.0)
    # Satterthwaite: A on n - m = 27 df, B on df_b
    df1 = (A1 + B1) ** 2 / (A1**2 / 27 + B1**2 / df_b)
    assert out.loc["1", "df"] == pytest.approx(df1)
    # the logit interval, its centre moved by the second-order term of the village part,
    # -g''(p) B / 2 (B on the 0-1 scale)
    p, se1 = 0.8, np.sqrt(A1 + B1) / 100
    g1, g2 = 1 / (p * (1 - p)), (2 * p - 1) / (p * (1 - p)) ** 2
    hw = stats.t.ppf(0.975, df1) * g1 * se1
    c = np.log(p / (1 - p)) - min(g2 * (B1 / 100**2) / 2, hw / 4)
    assert out.loc["1", "ci_low"] == pytest.approx(100 / (1 + np.exp(-(c - hw))))
    assert out.loc["1", "ci_high"] == pytest.approx(100 / (1 + np.exp(-(c + hw))))
    assert (out["se_design"] == est["se"].to_numpy()).all()
    # 100 % with no spread: no logit-scale variance, a Clopper-Pearson interval of positive width
    assert out.loc["2", "ci_high"] == 100 and out.loc["2", "ci_low"] < 100
    assert out.loc["2", "ci_method"] == "clopper-pearson-model"
    assert (out["ci_high"] > out["ci_low"]).all()
    # PAPI points: pooled on their own scale
    pts = apply_variance_model(est.assign(survey="papi", estimate=[8.0, 10.0, 6.0]), var)
    s2b_pts = ((8 - 4) + (0 - 0) + (6 - 1)) / (1 / 3 + 1 / 3 + 0.5)
    assert pts["sigma2_b"].iloc[0] == pytest.approx(s2b_pts)
    assert pts["se"].iloc[0] == pytest.approx(np.sqrt(4 + s2b_pts / 3))
    # design rule: nothing replaced
    kept = apply_variance_model(est, var, rule="design")
    assert (kept["se"] == est["se"]).all()


def test_yes_no_items_get_the_jeffreys_interval_on_the_effective_number():
    # the fixture of test_model_se_formula_and_interval, now declared as shares of a yes/no
    # answer (statistic top2): the within-village part is binomial (infinite df), the interval
    # is Jeffreys on n* = p(1-p)/se^2 (z/t)^2, its logit ends moved by -g''(p) B / 2
    est = pd.DataFrame(
        {
            "wave": "2030", "survey": "sipas", "level": "commune", "unit_code": ["1", "2", "3"],
            "subgroup": "", "index_level": "item", "statistic": "top2", "index_code": "q",
            "estimate": [80.0, 100.0, 60.0], "se": [0.5, 0.0, 3.0], "ci_low": [79.0, 100.0, 55.0],
            "ci_high": [81.0, 100.0, 65.0], "ci_level": 0.95, "ci_method": "logit",
            "n": [30, 30, 60], "df": 100.0,
        }
    )  # fmt: skip
    var = pd.DataFrame(
        {
            "wave": "2030", "level": "commune", "unit_code": ["1", "2", "3"], "index_code": "q",
            "se_within": [np.sqrt(8.0), 0.0, np.sqrt(6.0)], "se_respondent": [2.5, 0.0, 1.2],
            "se_village": [2.0, 0.0, 1.0], "n_psu_within": [3, 3, 3],
            "village_h": [1 / 3, 1 / 3, 0.5],
        }
    )  # fmt: skip
    out = apply_variance_model(est, var).set_index("unit_code")
    d1, d3 = (100 / (80 * 20)) ** 2, (100 / (60 * 40)) ** 2
    s2b = ((8 - 4) * d1 + (6 - 1) * d3) / (1 / 3 + 0.5)
    A1, B1 = 4.0, s2b / 3 / d1
    assert out.loc["1", "se"] == pytest.approx(np.sqrt(A1 + B1))  # the variance is unchanged
    y1, y3 = (8 - 4) * d1, (6 - 1) * d3
    r1, r3 = y1 - s2b / 3, y3 - s2b / 2
    df_b = min(2 * s2b**2 / (2 * (r1**2 + r3**2) / (1 / 3 + 0.5) ** 2), 4.0)
    df1 = (A1 + B1) ** 2 / (B1**2 / df_b)  # A carries no df of its own
    assert out.loc["1", "df"] == pytest.approx(df1)
    p, v = 0.8, (A1 + B1) / 100**2
    n_eff = p * (1 - p) / v * (stats.norm.ppf(0.975) / stats.t.ppf(0.975, df1)) ** 2
    lo, hi = stats.beta.ppf([0.025, 0.975], p * n_eff + 0.5, (1 - p) * n_eff + 0.5)
    logit = lambda q: np.log(q / (1 - q))  # noqa: E731
    shift = min((2 * p - 1) / (p * (1 - p)) ** 2 * (B1 / 100**2) / 2, (logit(hi) - logit(lo)) / 8)
    assert out.loc["1", "ci_low"] == pytest.approx(100 / (1 + np.exp(-(logit(lo) - shift))))
    assert out.loc["1", "ci_high"] == pytest.approx(100 / (1 + np.exp(-(logit(hi) - shift))))
    assert out.loc["1", "ci_method"] == "jeffreys-model"
    assert out.loc["2", "ci_method"] == "clopper-pearson-model"  # 100 %: no effective number
    # a composite of such shares (an element) keeps the logit interval and n - m df for A
    comp = apply_variance_model(est.assign(index_level="element"), var).set_index("unit_code")
    assert comp.loc["1", "ci_method"] == "logit-model"
    assert comp.loc["1", "df"] == pytest.approx((A1 + B1) ** 2 / (A1**2 / 27 + B1**2 / df_b))


def test_communes_enter_the_pooled_variance_at_their_area_level():
    # the same two communes as above, now with their area's estimate (70 %) in the table: the
    # logit derivative of the pooling is taken there, not at each commune's own 80 % / 60 %
    est = pd.DataFrame(
        {
            "wave": "2030", "survey": "sipas", "level": ["commune", "commune", "area"],
            "unit_code": ["1", "3", "A"], "area_code": ["A", "A", None], "subgroup": "",
            "index_level": "item", "index_code": "q", "estimate": [80.0, 60.0, 70.0],
            "se": [0.5, 3.0, 1.0], "ci_low": [79.0, 55.0, 68.0], "ci_high": [81.0, 65.0, 72.0],
            "ci_level": 0.95, "ci_method": "logit", "n": [30, 60, 90], "df": 100.0,
        }
    )  # fmt: skip
    var = pd.DataFrame(
        {
            "wave": "2030", "level": ["commune", "commune", "area"], "unit_code": ["1", "3", "A"],
            "index_code": "q", "se_within": np.sqrt([8.0, 6.0, 1.0]),
            "se_respondent": [2.5, 1.2, 0.9], "se_village": [2.0, 1.0, 0.8],
            "n_psu_within": 3, "village_h": [1 / 3, 0.5, 0.2],
        }
    )  # fmt: skip
    out = apply_variance_model(est, var).set_index("unit_code")
    d_area = (100 / (70 * 30)) ** 2
    s2b = ((8 - 4) * d_area + (6 - 1) * d_area) / (1 / 3 + 0.5)
    assert out.loc["1", "sigma2_b"] == pytest.approx(s2b)
    # the commune's own variance still moves to its own level: B = sigma2_b h / g'(80 %)^2
    assert out.loc["1", "se"] == pytest.approx(np.sqrt(4 + s2b / 3 / (100 / (80 * 20)) ** 2))


def test_pooled_df_from_the_spread_of_the_contributions():
    # three communes of 3 equal villages, one with a large between-village spread: the pooled
    # sigma2_b rests on that commune, so it knows less than the normal-theory 6 df
    cells = pd.DataFrame(
        {
            "wave": "2030", "survey": "papi", "index_code": "q", "n": 30,
            "se_within": np.sqrt([1.0, 1.2, 9.0]), "se_village": np.sqrt([0.8, 0.8, 0.8]),
            "n_psu_within": 3, "village_h": 1 / 3,
        }
    )  # fmt: skip
    out = pooled_village_variance(cells).iloc[0]
    y = np.array([1.0 - 0.8, 1.2 - 0.8, 9.0 - 0.8])
    s2b = y.sum() / 1.0
    var = 3 / 2 * ((y - s2b / 3) ** 2).sum() / 1.0**2
    assert out["sigma2_b"] == pytest.approx(s2b)
    assert out["df_model"] == pytest.approx(2 * s2b**2 / var)
    assert out["df_model"] < 6
    # alike communes: the normal-theory df is the cap
    alike = pooled_village_variance(cells.assign(se_within=np.sqrt(3.0))).iloc[0]
    assert alike["df_model"] == 6


@pytest.fixture(scope="module")
def sample_2024():
    from sipas_analysis.waves import read_wave

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        w = read_wave(WAVES_DIR / "sipas-2024.yaml")
        return pipeline.indices_for(w.respondents, w.config)


def test_every_shown_interval_has_positive_width(sample_2024):
    e = sample_2024
    shown = (e["flag"] != "suppressed") & (e["estimate"] > 0) & (e["estimate"] < 100)
    width = (e["ci_high"] - e["ci_low"])[shown]
    assert (width > 0).all(), e.loc[shown & ~(e["ci_high"] - e["ci_low"] > 0)].head()
    # perception and expectation cells of communes too (once published at zero width)
    com = e[(e["level"] == "commune") & e["role"].isin(["perception", "expectation"])]
    assert len(com) and ((com["ci_high"] - com["ci_low"]) > 0).all()


def test_commune_se_at_least_the_within_village_se(sample_2024):
    c = sample_2024[(sample_2024["level"] == "commune") & sample_2024["se_village"].notna()]
    assert (c["se"] >= c["se_village"] * (1 - 1e-12)).all()
    assert c["icc"].between(0, 1).all() and (c["sigma2_b"] >= 0).all()
    assert set(c["variance_rule"]) == {"pooled_villages"}


def test_clustered_wave_gets_a_positive_icc():
    # the fixture with a strong village effect planted: rho must come out clearly above 0
    df = _fixture()
    rng = np.random.default_rng(4)
    items = [c for c in df.columns if c.split("_")[0] in ("tiep", "tthc", "cong", "ket", "pakn")]
    items = [c for c in items if c != "co_pakn"]
    shift = {p: rng.choice([1, 5]) for p in df["psu"].unique()}
    for k in items:
        ans = df["psu"].map(shift).astype("Int64")
        df[k] = df[k].where(df[k].isna(), ans)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = modelled_indices(df, lambda d: sipas_indices(d, "sipas-2017", subgroups=()))
    com = out[(out["level"] == "commune") & (out["index_code"] == "sipas")]
    assert com["icc"].iloc[0] > 0.5
    # and the commune SEs are then mostly the village part, well above the respondent-level ones
    # (communes at 0 or 100 % have no logit-scale variance: their interval is Clopper-Pearson)
    mid = com[com["estimate"].between(0, 100, inclusive="neither")]
    assert len(mid) >= 2 and (mid["se"] > 1.5 * mid["se_respondent"]).mean() > 0.5
