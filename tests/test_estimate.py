"""Tests of the design-based estimation engine (sipas_analysis.design, sipas_analysis.estimate).

Reference values: R ``survey`` run by ``tests/r/reference_estimates.R`` on the committed fixture
``tests/r/fixtures/design_fixture.csv``; its outputs are committed in ``tests/r/expected/``.
A hand-computed design checks the variance formula on paper.
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sipas_analysis import cli
from sipas_analysis.design import DesignWarning, survey_design
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.estimate import (
    composite_mean,
    difference_independent,
    estimate_domains,
    estimate_levels,
)

R_DIR = Path(__file__).resolve().parent / "r"
FIXTURE = R_DIR / "fixtures" / "design_fixture.csv"
EXPECTED = R_DIR / "expected"
ITEMS5 = ["q1", "q2", "q3", "q4"]
LEVELS = {"commune_code": "commune_code", "area_code": "area_code", "sex": "sex", "total": None}
SCENARIOS = {
    "adjust": {"lonely_psu": "adjust", "fpc": None},
    "average": {"lonely_psu": "average", "fpc": None},
    "certainty": {"lonely_psu": "certainty", "fpc": None},
    "fpc_adjust": {"lonely_psu": "adjust", "fpc": "fpc"},
}
REL = 1e-9
CI_TOL = 1e-7


def load_fixture() -> pd.DataFrame:
    d = pd.read_csv(FIXTURE)
    for c in ["q1", "q2", "q3", "q4", "qb"]:
        d[c] = d[c].astype("Int64")
    return d


def _domain_key(t: pd.DataFrame) -> np.ndarray:
    return np.select(
        [t["level"] == "commune_code", t["level"] == "area_code", t["level"] == "sex"],
        [
            t["commune_code"].astype(str),
            t["area_code"].astype(str),
            t["sex"].astype(str),
        ],
        "all",
    )


_CACHE: dict = {}


def engine_table(d: pd.DataFrame, **kw) -> pd.DataFrame:
    """Engine table for the fixture (cached per option set: the fixture never changes)."""
    key = tuple(sorted(kw.items()))
    if key not in _CACHE:
        _CACHE[key] = _engine_table(d, **kw)
    return _CACHE[key].copy()


def _engine_table(d: pd.DataFrame, **kw) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DesignWarning)
        a = estimate_levels(d, ITEMS5, LEVELS, statistic=["mean", "top2"], **kw).table
        b = estimate_levels(d, ["qb"], LEVELS, statistic="prop", **kw).table
    t = pd.concat([a, b], ignore_index=True)
    t["domain"] = _domain_key(t)
    return t


def _merge(r: pd.DataFrame, t: pd.DataFrame) -> pd.DataFrame:
    r = r.copy()
    r["domain"] = r["domain"].astype(str)
    m = r.merge(
        t,
        left_on=["by", "domain", "item", "statistic"],
        right_on=["level", "domain", "index_code", "statistic"],
        suffixes=("_r", ""),
    )
    assert len(m) == len(r)
    m["scale"] = np.where(m["statistic"] == "mean", 1.0, 100.0)
    return m


@pytest.fixture(scope="module")
def fixture_data() -> pd.DataFrame:
    return load_fixture()


# ------------------------------------------------------------------------------------------
# hand-computed design
# ------------------------------------------------------------------------------------------
def tiny() -> pd.DataFrame:
    # stratum 1: PSUs a, b, c; stratum 2: PSUs d, e (e's second answer missing)
    return pd.DataFrame(
        {
            "stratum": [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2],
            "psu": ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "e", "e"],
            "weight": [1.0, 1, 2, 2, 1, 1, 2, 2, 1, 1, 3, 3],
            "grp": ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x", "y", "y"],
            "q": pd.array([5, 4, 2, 5, 1, 4, 5, 3, 4, None, 5, 1], dtype="Int64"),
        }
    )


def test_hand_computed_top2_se():
    d = tiny()
    est = estimate_domains(d, ["q"], by="grp", statistic="top2").table
    x = est[est["grp"] == "x"].iloc[0]
    # Domain x, valid answers: weights 1,1,2,2,1,1,2,2,1 (sum 13); top-2 answers weigh 8.
    p = 8 / 13
    # z_i = w_i (y_i - p) / 13; PSU totals (times 169): a 10, b -6, c -3, d -6, e 5.
    # Rows of domain y (in PSU e) have z = 0 for domain x.
    t1 = np.array([10, -6, -3]) / 169
    t2 = np.array([-6, 5]) / 169
    var = 3 / 2 * ((t1 - t1.mean()) ** 2).sum() + 2 / 1 * ((t2 - t2.mean()) ** 2).sum()
    # on paper: (217 + 121) / 169**2 = 2/169
    assert var == pytest.approx(2 / 169, rel=1e-12)
    assert x["estimate"] == pytest.approx(100 * p, rel=1e-12)
    assert x["se"] == pytest.approx(100 * math.sqrt(2) / 13, rel=1e-12)
    assert x["n"] == 9 and x["n_psu"] == 5 and x["df"] == 3
    # logit interval with df = 5 PSUs - 2 strata = 3
    tq = stats.t.ppf(0.975, 3)
    half = tq * (math.sqrt(2) / 13) / (p * (1 - p))
    eta = math.log(p / (1 - p))
    lo, hi = 1 / (1 + math.exp(-(eta - half))), 1 / (1 + math.exp(-(eta + half)))
    assert x["ci_low"] == pytest.approx(100 * lo, rel=1e-12)
    assert x["ci_high"] == pytest.approx(100 * hi, rel=1e-12)
    # design effect against the with-replacement SRS variance
    s2 = 9 / 8 * p * (1 - p)  # sum w (y - p)^2 / sum w = p (1 - p) for a 0/1 variable
    assert x["deff"] == pytest.approx((2 / 169) / (s2 / 9), rel=1e-12)


def test_hand_computed_mean_with_fpc():
    d = tiny().assign(N=lambda f: np.where(f["stratum"] == 1, 6, 4))
    est = estimate_domains(d, ["q"], statistic="mean", fpc="N").table.iloc[0]
    w = np.array([1, 1, 2, 2, 1, 1, 2, 2, 1, 3, 3])
    y = np.array([5, 4, 2, 5, 1, 4, 5, 3, 4, 5, 1])
    psu = np.array(["a", "a", "b", "b", "c", "c", "d", "d", "e", "e", "e"])
    r = (w * y).sum() / w.sum()
    z = w * (y - r) / w.sum()
    t = {p: z[psu == p].sum() for p in "abcde"}
    t1 = np.array([t["a"], t["b"], t["c"]])
    t2 = np.array([t["d"], t["e"]])
    var = (1 - 3 / 6) * 3 / 2 * ((t1 - t1.mean()) ** 2).sum() + (1 - 2 / 4) * 2 * (
        (t2 - t2.mean()) ** 2
    ).sum()
    assert est["estimate"] == pytest.approx(r, rel=1e-12)
    assert est["se"] == pytest.approx(math.sqrt(var), rel=1e-12)
    tq = stats.t.ppf(0.975, 3)
    assert est["ci_low"] == pytest.approx(r - tq * math.sqrt(var), rel=1e-12)


def test_singleton_stratum_rules_on_paper():
    # strata: s1 has PSUs p1, p2; s2 has a single PSU p3
    d = pd.DataFrame(
        {
            "stratum": ["s1"] * 4 + ["s2"] * 2,
            "psu": ["p1", "p1", "p2", "p2", "p3", "p3"],
            "weight": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
            "q": pd.array([5, 1, 2, 1, 5, 4], dtype="Int64"),
        }
    )
    with pytest.raises(SipasError, match="s2"):
        estimate_domains(d, ["q"], statistic="top2")
    p = 3 / 6
    z = (np.array([1, 0, 0, 0, 1, 1]) - p) / 6
    t = np.array([z[:2].sum(), z[2:4].sum(), z[4:].sum()])  # 0, -1/6, 1/6
    v_s1 = 2 * ((t[:2] - t[:2].mean()) ** 2).sum()
    expected = {
        "adjust": v_s1 + t[2] ** 2,  # centred at the population mean (0)
        "certainty": v_s1,
        "average": v_s1 * 2 / 1,  # H / H_ok
    }
    for rule, v in expected.items():
        se = estimate_domains(d, ["q"], lonely_psu=rule).table["se"].iloc[0]
        assert se == pytest.approx(100 * math.sqrt(v), rel=1e-12), rule


# ------------------------------------------------------------------------------------------
# R survey reference
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_cells_match_r(fixture_data, scenario):
    r = pd.read_csv(EXPECTED / "cells.csv")
    r = r[r["scenario"] == scenario]
    t = engine_table(fixture_data, **SCENARIOS[scenario])
    m = _merge(r, t)
    assert len(m) > 150
    np.testing.assert_allclose(m["estimate"] / m["scale"], m["est_ratio"], rtol=REL)
    np.testing.assert_array_equal(m["n"], m["n_r"])
    np.testing.assert_array_equal(m["n_psu"], m["n_psu_r"])
    multi = m["n_psu"] > 1
    if scenario != "average":
        # full-design ratio form: svyratio(~Y, ~N) with Y = 1[d] v y, N = 1[d] v ("average"
        # differs there: R counts all strata of the full design, svyby only the domain's)
        np.testing.assert_allclose(
            m.loc[multi, "se"] / m.loc[multi, "scale"],
            m.loc[multi, "se_ratio"],
            rtol=REL,
            atol=1e-15,
        )
    # subset form (what svyby / svymean(na.rm = TRUE) on subset() give), every lonely-PSU rule:
    # under "average" R multiplies by nstrat/nokstrat of the domain's strata (issue 10 item 7)
    np.testing.assert_allclose(m["estimate"] / m["scale"], m["est_subset"], rtol=REL)
    np.testing.assert_allclose(
        m.loc[multi, "se"] / m.loc[multi, "scale"],
        m.loc[multi, "se_subset"],
        rtol=REL,
        atol=1e-15,
    )
    pos = multi & (m["se_subset"] > 1e-12)  # R: rounding noise for 0 % cells
    np.testing.assert_allclose(m.loc[pos, "deff"], m.loc[pos, "deff_subset"], rtol=1e-8)
    # a domain inside one PSU: R reports SE 0; we refuse to (NaN + flag)
    single = m[m["n_psu"] == 1]
    assert len(single) > 0
    assert single["se"].isna().all()
    assert single["flag"].str.contains("single_psu").all()


def test_degrees_of_freedom_match_r(fixture_data):
    degf = pd.read_csv(EXPECTED / "degf.csv").set_index("scenario")["degf"]
    for scenario, kw in SCENARIOS.items():
        des = survey_design(fixture_data, fpc=kw["fpc"], lonely_psu=kw["lonely_psu"])
        assert des.df == degf[scenario]
    r = pd.read_csv(EXPECTED / "cells.csv")
    r = r[r["scenario"] == "adjust"]
    t = engine_table(fixture_data, lonely_psu="adjust", df="domain")
    m = _merge(r, t)
    ok = m["df_domain"] >= 1
    np.testing.assert_array_equal(m.loc[ok, "df"], m.loc[ok, "df_domain"])


CI_CASES = [
    ("logit_design", {"df": "design", "ci_method": "logit"}),
    ("logit_domain", {"df": "domain", "ci_method": "logit"}),
    ("beta_domain", {"df": "domain", "ci_method": "korn-graubard"}),
    ("t_design", {"df": "design", "ci_method": "logit"}),
    ("t_domain", {"df": "domain", "ci_method": "logit"}),
]


@pytest.mark.parametrize("scenario", ["adjust", "certainty", "fpc_adjust"])
@pytest.mark.parametrize("method,opts", CI_CASES, ids=[c[0] for c in CI_CASES])
def test_intervals_match_r(fixture_data, scenario, method, opts):
    ci = pd.read_csv(EXPECTED / "ci.csv")
    for level in (0.95, 0.9):
        r = ci[(ci["scenario"] == scenario) & (ci["method"] == method)]
        r = r[np.isclose(r["level"], level)]
        t = engine_table(fixture_data, **SCENARIOS[scenario], ci_level=level, **opts)
        m = _merge(r, t)
        # R's confint.svyglm underflows at df = 1, 95 % (pnorm(qt(.025, 1)) -> bounds 0 / NaN)
        finite = np.isfinite(m["ci_low_r"]) & np.isfinite(m["ci_high_r"])
        assert finite.sum() >= 40
        mf = m[finite]
        np.testing.assert_allclose(mf["ci_low"] / mf["scale"], mf["ci_low_r"], rtol=0, atol=CI_TOL)
        np.testing.assert_allclose(
            mf["ci_high"] / mf["scale"], mf["ci_high_r"], rtol=0, atol=CI_TOL
        )


def _rows(est, level, dom_col, dom, item, stat):
    cond = {"level": level, "index_code": item, "statistic": stat}
    if dom_col is not None:
        cond[dom_col] = dom
    rows = est.rows(**cond)
    assert rows.size == 1, cond
    return int(rows[0])


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_composites_and_contrasts_match_r(fixture_data, scenario):
    r = pd.read_csv(EXPECTED / "contrasts.csv")
    r = r[r["scenario"] == scenario].set_index("name")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DesignWarning)
        est = estimate_levels(
            fixture_data,
            ["q1", "q2", "q3"],
            LEVELS,
            statistic=["top2", "mean"],
            **SCENARIOS[scenario],
        )
        comp = composite_mean(est, {"q123": ["q1", "q2", "q3"], "q12": ["q1", "q2"]})
    ct = comp.table
    checked = 0
    # "average" counts the strata of the domain, as svyby: the reference is the domain's subset
    prefix = "composite_top2_q123_subset:" if scenario == "average" else "composite_top2_q123:"
    for name, row in r.iterrows():
        if not name.startswith(prefix):
            continue
        by, dom = name.split(":")[1].split("=")
        sel = (ct["index_code"] == "q123") & (ct["statistic"] == "top2") & (ct["level"] == by)
        if by == "commune_code":
            sel &= ct["commune_code"] == int(dom)
        got = ct[sel].iloc[0]
        assert got["estimate"] / 100 == pytest.approx(row["estimate"], rel=REL)
        if got["n_psu"] > 1:
            assert got["se"] / 100 == pytest.approx(row["se"], rel=REL)
        checked += 1
    assert checked == 14
    # commune 104 has no valid q3: mean of q1, q2 only, flagged
    c104 = ct[
        (ct["commune_code"] == 104) & (ct["index_code"] == "q123") & (ct["statistic"] == "top2")
    ]
    assert c104["n_items"].iloc[0] == 2 and "partial" in c104["flag"].iloc[0]
    got = ct[
        (ct["index_code"] == "q12") & (ct["statistic"] == "mean") & (ct["level"] == "area_code")
    ]
    got = got[got["area_code"] == 798].iloc[0]
    ref = r.loc["composite_mean_q12:area_code=798"]
    assert got["estimate"] == pytest.approx(ref["estimate"], rel=REL)
    if scenario != "average":  # R's full-design contrast counts every stratum of the design
        assert got["se"] == pytest.approx(ref["se"], rel=REL)

    def diff(level, dom_a, dom_b, item, stat):
        out = est.difference({"level": level, level: dom_a}, {"level": level, level: dom_b})
        return out[(out["index_code"] == item) & (out["statistic"] == stat)].iloc[0]

    for name, args in {
        "diff_top2_q1:commune_code=101-102": ("commune_code", 101, 102, "q1", "top2"),
        "diff_top2_q2:commune_code=105-108": ("commune_code", 105, 108, "q2", "top2"),
        "diff_mean_q2:area_code=794-798": ("area_code", 794, 798, "q2", "mean"),
        "diff_top2_q1:sex=1-2": ("sex", 1, 2, "q1", "top2"),
    }.items():
        got = diff(*args)
        scale = 1.0 if args[-1] == "mean" else 100.0
        assert got["estimate"] / scale == pytest.approx(r.loc[name, "estimate"], rel=REL), name
        if scenario != "average":  # "average": each domain's own strata (svyby), no R analogue
            assert got["se"] / scale == pytest.approx(r.loc[name, "se"], rel=REL), name
    # a linear combination across levels
    rows = [
        _rows(est, "commune_code", "commune_code", 101, "q1", "top2"),
        _rows(est, "area_code", "area_code", 800, "q2", "top2"),
        _rows(est, "total", None, None, "q3", "top2"),
    ]
    lc = est.linear_combination({"lc": {rows[0]: 0.5, rows[1]: 0.3, rows[2]: -1.0}}).iloc[0]
    ref = r.loc["lincomb_top2:0.5*q1@commune_code=101+0.3*q2@area_code=800-q3@total"]
    assert lc["estimate"] / 100 == pytest.approx(ref["estimate"], rel=REL)
    if scenario != "average":
        assert lc["se"] / 100 == pytest.approx(ref["se"], rel=REL)


def test_covariance_between_domains_from_influence_functions(fixture_data):
    """Covariances come from the influence functions, not from assumptions."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DesignWarning)
        est = estimate_levels(
            fixture_data, ["q1"], {"c": "commune_code", "a": "area_code", "s": "sex"},
            lonely_psu="adjust",
        )  # fmt: skip
    r101 = est.rows(level="c", commune_code=101)[0]
    r102 = est.rows(level="c", commune_code=102)[0]
    r105 = est.rows(level="c", commune_code=105)[0]
    r794 = est.rows(level="a", area_code=794)[0]
    s1, s2 = est.rows(level="s", sex=1)[0], est.rows(level="s", sex=2)[0]
    cov = est.covariance([r101, r102, r105, r794, s1, s2])
    sd = np.sqrt(np.diag(cov))
    corr = cov / np.outer(sd, sd)
    # commune 101 lies inside area 794 (shared PSUs): strongly correlated
    assert corr[0, 3] > 0.2
    # sexes share every PSU: correlated, and the matrix is a proper covariance matrix
    assert abs(corr[4, 5]) > 1e-3
    assert np.all(np.linalg.eigvalsh(cov) > -1e-9 * cov.max())
    # communes in different strata are independent; two communes of one stratum without a
    # shared PSU have influence totals summing to 0 in the stratum, hence covariance 0 too
    assert cov[0, 2] == 0.0
    assert abs(corr[0, 1]) < 1e-12


def test_lonely_psu_fail_names_the_stratum(fixture_data):
    msg = pd.read_csv(EXPECTED / "lonely_fail.csv")["error"].iloc[0]
    assert "only one PSU" in msg  # R refuses too
    with pytest.raises(SipasError, match="'G'"):
        estimate_domains(fixture_data, ["q1"], by="commune_code")


# ------------------------------------------------------------------------------------------
# degenerate cells, flags, warnings
# ------------------------------------------------------------------------------------------
def test_degenerate_empty_and_single_psu_cells(fixture_data):
    with pytest.warns(DesignWarning, match="single PSU"):
        est = estimate_domains(
            fixture_data,
            ["q3", "q4"],
            by="commune_code",
            lonely_psu="adjust",
            domain_values={"commune_code": list(range(101, 115))},
        )
    t = est.table.set_index(["commune_code", "index_code"])
    # commune 114 has no respondents, commune 104 no valid q3: empty rows, [0, 100]
    for key in [(114, "q3"), (114, "q4"), (104, "q3")]:
        row = t.loc[key]
        assert row["n"] == 0 and row["flag"].startswith("empty")
        assert np.isnan(row["estimate"]) and (row["ci_low"], row["ci_high"]) == (0.0, 100.0)
    # 100 % and 0 % cells: se 0, Clopper-Pearson bound on the Kish effective size
    d = fixture_data
    for code, est_value in [(106, 100.0), (107, 0.0)]:
        row = t.loc[(code, "q4")]
        assert row["estimate"] == est_value and row["se"] == 0.0
        assert "degenerate" in row["flag"]
        w = d.loc[(d["commune_code"] == code) & d["q4"].notna(), "weight"].to_numpy()
        n_eff = w.sum() ** 2 / (w**2).sum()
        bound = 100 * (1 - 0.025 ** (1 / n_eff))  # x = 0: 1 - (alpha/2)^(1/n)
        if est_value == 0:
            assert row["ci_low"] == 0.0 and row["ci_high"] == pytest.approx(bound, rel=1e-10)
        else:
            assert row["ci_high"] == 100.0 and row["ci_low"] == pytest.approx(
                100 - bound, rel=1e-10
            )
    # communes 104, 110 and 113 are single PSUs: se NaN, finite interval, flag
    for code in (110, 113):
        row = t.loc[(code, "q4")]
        assert np.isnan(row["se"]) and "single_psu" in row["flag"]
        assert np.isnan(row["deff"])  # no design variance, so no design effect either
        assert 0 <= row["ci_low"] <= row["estimate"] <= row["ci_high"] <= 100
    assert t["ci_low"].notna().all() and t["ci_high"].notna().all()
    assert (t["ci_low"] >= 0).all() and (t["ci_high"] <= 100).all()


def test_small_n_flags():
    d = tiny()
    t = estimate_domains(d, ["q"], by="grp", min_n=5, small_n=10).table.set_index("grp")
    assert t.loc["x", "flag"] == "small_n"
    assert t.loc["y", "flag"].split(";")[:2] == ["suppressed", "single_psu"]


def test_input_is_not_mutated_and_errors_are_clear(fixture_data):
    before = fixture_data.copy()
    estimate_domains(fixture_data, ["q1"], by="area_code", lonely_psu="adjust")
    pd.testing.assert_frame_equal(before, fixture_data)
    with pytest.raises(InputError, match="nope"):
        estimate_domains(fixture_data, ["nope"], lonely_psu="adjust")
    bad = fixture_data.assign(weight=fixture_data["weight"].where(fixture_data.index != 3, -1.0))
    with pytest.raises(InputError, match="rows 5") as exc:
        estimate_domains(bad, ["q1"], lonely_psu="adjust")
    assert exc.value.column == "weight"
    txt = fixture_data.assign(
        q1=fixture_data["q1"].astype(object).where(fixture_data.index != 0, "x")
    )
    with pytest.raises(InputError, match="numeric"):
        estimate_domains(txt, ["q1"], lonely_psu="adjust")
    with pytest.raises(SipasError):
        estimate_domains(fixture_data, ["q1"], statistic="median", lonely_psu="adjust")


def test_top_box_argument():
    d = tiny()
    t4 = estimate_domains(d, ["q"], top_box=(5,)).table.iloc[0]
    w = np.array([1, 1, 2, 2, 1, 1, 2, 2, 1, 3, 3])
    y = np.array([5, 4, 2, 5, 1, 4, 5, 3, 4, 5, 1])
    assert t4["estimate"] == pytest.approx(100 * w[y == 5].sum() / w.sum(), rel=1e-12)


def test_difference_independent():
    a = pd.DataFrame(
        {"index_code": ["q1", "q2"], "estimate": [80.0, 70.0], "se": [3.0, 2.0], "df": [30, 30]}
    )
    b = pd.DataFrame(
        {"index_code": ["q1", "q2"], "estimate": [75.0, 71.0], "se": [4.0, 2.0], "df": [20, 30]}
    )
    out = difference_independent(a, b).set_index("index_code")
    assert out.loc["q1", "estimate"] == 5.0 and out.loc["q1", "se"] == 5.0
    nu = 25**2 / (9**2 / 30 + 16**2 / 20)
    assert out.loc["q1", "df"] == pytest.approx(nu)
    assert out.loc["q1", "ci_high"] == pytest.approx(5 + stats.t.ppf(0.975, nu) * 5)
    assert out.loc["q2", "df"] == pytest.approx(60.0)


def test_rows_without_domain_value_stay_in_the_design(fixture_data):
    d = fixture_data.assign(area_code=fixture_data["area_code"].where(fixture_data.index > 5))
    with pytest.warns(DesignWarning, match="6 respondents have no value"):
        t = estimate_domains(d, ["q1"], by="area_code", lonely_psu="adjust").table
    full = estimate_domains(fixture_data, ["q1"], by="area_code", lonely_psu="adjust").table
    assert t["n"].sum() == full["n"].sum() - fixture_data.loc[:5, "q1"].notna().sum()


def test_docstring_examples_run():
    import doctest
    import importlib
    import pkgutil

    from sipas_analysis import design, estimate

    # each package: the doctests of its modules together
    def with_parts(package):
        return [package] + [
            importlib.import_module(f"{package.__name__}.{m.name}")
            for m in pkgutil.iter_modules(package.__path__)
        ]

    for modules in (with_parts(design), with_parts(estimate)):
        results = [doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE) for m in modules]
        assert sum(r.failed for r in results) == 0
        assert sum(r.attempted for r in results) > 5


# ------------------------------------------------------------------------------------------
# command line
# ------------------------------------------------------------------------------------------
def test_cli_estimate(tmp_path, fixture_data, capsys):
    out = tmp_path / "est.csv"
    args = [
        "estimate", "--data", str(FIXTURE), "--items", "q1,q2", "--statistic", "top2",
        "--by", "commune_code", "--weight", "weight", "--strata", "stratum", "--psu", "psu",
        "--lonely-psu", "adjust", "--out", str(out),
    ]  # fmt: skip
    assert cli.main(args) == 0
    got = pd.read_csv(out, encoding="utf-8-sig")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DesignWarning)
        ref = estimate_domains(
            fixture_data, ["q1", "q2"], "commune_code", lonely_psu="adjust"
        ).table
    assert len(got) == len(ref) == 13 * 2
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-12)
    bad = args[:-2] + ["--by", "xa_khong_co", "--out", str(tmp_path / "x.csv")]
    assert cli.main(bad) == 2
    err = capsys.readouterr().err
    assert "xa_khong_co" in err and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


# ------------------------------------------------------------------------------------------
# live R run
# ------------------------------------------------------------------------------------------
def _r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    res = subprocess.run(
        ["Rscript", "-e", "suppressMessages(library(survey))"], capture_output=True, check=False
    )
    return res.returncode == 0


@pytest.mark.needs_r
def test_r_script_live_reproduces_committed_expected(tmp_path):
    if not _r_available():
        if os.environ.get("CI"):
            pytest.fail("Rscript with the survey package is required in CI (r-cran-survey)")
        pytest.skip("Rscript / R survey not installed")
    res = subprocess.run(
        ["Rscript", str(R_DIR / "reference_estimates.R"), str(FIXTURE), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    for name in ["degf.csv", "cells.csv", "ci.csv", "contrasts.csv"]:
        live = pd.read_csv(tmp_path / name)
        committed = pd.read_csv(EXPECTED / name)
        pd.testing.assert_frame_equal(live, committed, check_exact=False, rtol=1e-12)
