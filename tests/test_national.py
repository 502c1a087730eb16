"""Benchmarks against the official PAPI and SIPAS series (published numbers, not our output)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.national import (
    PAPI_BENCHMARK_COLUMNS,
    benchmark_values,
    national_from_official,
    papi_benchmarks,
    quartile_cuts,
    quartile_groups,
    sipas_benchmarks,
)
from sipas_analysis.paths import REFERENCE_DIR


def _sizes(n, rule="balanced"):
    c = (0, *quartile_cuts(n, rule), n)
    return [c[i + 1] - c[i] for i in range(4)]


def test_balanced_rule_reproduces_published_group_sizes():
    # the official PAPI reports: published sizes 16/16/15/16 of 63 and 15/15/15/16 of 61
    assert _sizes(63) == [16, 16, 15, 16]
    assert _sizes(61) == [15, 15, 15, 16]
    assert _sizes(60) == [15, 15, 15, 15]
    assert _sizes(62) == [16, 15, 15, 16]
    assert _sizes(61, "round") == [15, 16, 15, 15]
    with pytest.raises(SipasError):
        quartile_cuts(63, "tertiles")


def test_long_an_published_quartile_groups():
    # reference README (papi/): Long An best group 2011-2015 and 2017; lowest in 2019, 2022, 2023
    t = papi_benchmarks()
    tot = t[t.index_code == "papi"].set_index("year")
    for y in (2011, 2012, 2013, 2014, 2015, 2017):
        assert tot.loc[y, "quartile_group"] == 1, y
        assert tot.loc[y, "quartile_group_vi"] == "Nhóm đạt điểm cao nhất"
    for y in (2019, 2022, 2023):
        assert tot.loc[y, "quartile_group"] == 4, y
        assert tot.loc[y, "quartile_group_vi"] == "Nhóm đạt điểm thấp nhất"
    # 2023: rank 46 of 61, the first rank of the lowest group; 2024: 45 of 61, last of group 3
    assert bool(tot.loc[2023, "near_cut"]) and bool(tot.loc[2024, "near_cut"])
    assert not bool(tot.loc[2019, "near_cut"])  # 54 of 63: far from the cut at 47/48


def test_near_cut_hand_examples():
    q = quartile_groups([16, 17, 15, 32, 33, 47, 48, 1, 63, 20], [63] * 10)
    assert q["quartile_group"].tolist() == [1, 2, 1, 2, 3, 3, 4, 1, 4, 2]
    assert q["near_cut"].tolist() == [
        True,
        True,
        False,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
    ]
    with pytest.raises(InputError):
        quartile_groups([64], [63])


def test_papi_benchmarks_contract_and_published_values():
    t = papi_benchmarks()
    assert list(t.columns[: len(PAPI_BENCHMARK_COLUMNS)]) == PAPI_BENCHMARK_COLUMNS
    assert set(t.index_code) == {f"d{i}" for i in range(1, 9)} | {"papi"}
    r = t[(t.year == 2019) & (t.index_code == "papi")].iloc[0]
    # published: Long An 2019 PAPI 41.7018, rank 54 of 63, median 43.7287, best 46.7428
    assert r.province_value == pytest.approx(41.7018)
    assert r.national_median == pytest.approx(43.7287)
    assert r.national_max == pytest.approx(46.7428)
    assert (int(r["rank"]), int(r.n_provinces)) == (54, 63)
    assert r.instrument == "papi-2018"
    d7 = t[(t.year == 2019) & (t.index_code == "d7")].iloc[0]
    assert d7.label_vi == "Quản trị môi trường"
    assert (t[t.year < 2018].index_code.isin(["d7", "d8"])).sum() == 0


@pytest.fixture(scope="module")
def official_2011_2019(papi_workbook):
    f = papi_workbook("PAPI_2011-2019.xlsx")
    from sipas_analysis.official import read_papi_workbook

    return read_papi_workbook(f)


def test_national_figures_recomputed_from_the_official_workbook(official_2011_2019):
    nat = national_from_official(official_2011_2019, province_code=80).set_index(
        ["year", "index_code"]
    )
    ref = pd.read_csv(REFERENCE_DIR / "longan_papi_dimensions_2011_2024.csv")
    ref = ref[ref.year <= 2019].copy()
    ref["index_code"] = ref["item"].str.lower().replace({"total": "papi"})
    ref = ref.set_index(["year", "index_code"])
    common = ref.index.intersection(nat.index)
    assert len(common) >= 60  # D1-D6 2011-2017, D1-D8 2018-2019, totals 2011-2017
    for col, rcol in (
        ("province_value", "long_an"),
        ("national_min", "national_min"),
        ("national_median", "national_median"),
        ("national_max", "national_max"),
    ):
        np.testing.assert_allclose(
            nat.loc[common, col].to_numpy(float), ref.loc[common, rcol].to_numpy(float), atol=1e-3
        )
    assert (nat.loc[common, "rank"].astype(int) == ref.loc[common, "long_an_rank"]).all()
    assert (nat.loc[common, "n_provinces"] == ref.loc[common, "n_provinces"]).all()
    # Long An had the best D4 (control of corruption) of all provinces in 2011 (rank 1)
    assert nat.loc[(2011, "d4"), "best_province_code"] == 80
    t = papi_benchmarks(official=official_2011_2019)
    assert t[(t.year == 2011) & (t.index_code == "d4")].best_province.iloc[0] != ""


def test_sipas_benchmarks_published():
    t = sipas_benchmarks().set_index(["year", "index_code"])
    # published: Long An SIPAS 2023 78.66 % (57/63), national 82.66 %; 2024 82.71 % (41/63)
    assert t.loc[(2023, "sipas"), "province_value"] == pytest.approx(78.66)
    assert t.loc[(2023, "sipas"), "national_value"] == pytest.approx(82.66)
    assert int(t.loc[(2023, "sipas"), "rank"]) == 57
    assert int(t.loc[(2024, "sipas"), "rank"]) == 41
    assert t.loc[(2023, "tthc"), "national_value"] == pytest.approx(83.02)  # element mapped
    assert t.loc[(2019, "sipas"), "instrument"] == "sipas-2017"


def test_benchmark_values_with_targets():
    targets = pd.DataFrame(
        {"survey": ["sipas"], "index_code": ["cong_chuc"], "target": [90.0], "year": [2024]}
    )
    b = benchmark_values(targets=targets)
    tg = b[b.benchmark_kind == "target"].iloc[0]
    assert (tg.index_code, tg.benchmark, int(tg.year)) == ("cong_chuc", 90.0, 2024)
    med = b[(b.survey == "papi") & (b.year == 2019) & (b.index_code == "papi")]
    assert med.benchmark.iloc[0] == pytest.approx(43.7287)
    assert med.benchmark_label.iloc[0] == "Trung vị toàn quốc PAPI 2019"
    with pytest.raises(InputError):
        benchmark_values(targets=targets.assign(target=["cao"]))


@pytest.fixture(scope="module")
def official_2019(papi_workbook):
    f = papi_workbook("2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx")
    from sipas_analysis.official import read_papi_workbook

    return read_papi_workbook(f)


def test_rank_basis_named():
    t = papi_benchmarks()
    assert (t.loc[t.index_code == "papi", "rank_basis"] == "papi_unweighted_total").all()
    dims = t[t.index_code != "papi"]
    assert (dims.rank_basis == "papi_dimension_" + dims.index_code).all()
    cols = list(t.columns)
    assert cols[cols.index("rank") + 1 : cols.index("rank") + 4] == [
        "rank_low",
        "rank_high",
        "rank_basis",
    ]
    # without the official workbook there are no published SEs: no set
    assert t.rank_low.isna().all() and t.rank_high.isna().all()


def test_rank_sets_from_published_ses_2019(official_2019):
    nat = national_from_official(official_2019, province_code=80)
    assert len(nat) == 9 and nat.rank_low.notna().all()
    assert (nat.rank_low >= 1).all() and (nat.rank_high <= nat.n_provinces).all()
    assert (nat.rank_low <= nat["rank"]).all() and (nat["rank"] <= nat.rank_high).all()
    # Long An's set contains its published rank, for the total and every dimension
    pub = papi_benchmarks(official=official_2019)
    pub = pub[pub.year == 2019].set_index("index_code")
    assert len(pub) == 9
    assert (pub.rank_low <= pub["rank"]).all() and (pub["rank"] <= pub.rank_high).all()
    tot = pub.loc["papi"]
    assert (int(tot["rank"]), tot.rank_basis) == (54, "papi_unweighted_total")
    # every province's set lies in [1, K] and holds its own rank
    from sipas_analysis.small_area import rank_confidence_sets

    tt = official_2019[official_2019.level == "total"]
    sets = rank_confidence_sets(tt.value, tt.se, alpha=0.05, joint=True, descending=True)
    k = len(tt)
    assert k == 63 and (sets.rank_low >= 1).all() and (sets.rank_high <= k).all()
    assert (sets.rank_low <= sets.rank_estimate).all()
    assert (sets.rank_estimate <= sets.rank_high).all()


def test_rank_set_hand_check_of_pair_comparisons(official_2019):
    # Bonferroni over the 63*62/2 pairs: z = Phi^-1(1 - 0.05 / (63*62)) = 4.2094
    z = 4.209429433482915
    # published 2019 totals and SEs (not the "95%" bounds, which are value +- 1.645 SE)
    la, la_se = 41.701763, 0.306306  # Long An
    bl, bl_se = 43.556938, 0.294299  # Bạc Liêu
    tv, tv_se = 43.501358, 0.317620  # Trà Vinh
    assert bl - la > z * np.hypot(la_se, bl_se)  # 1.8552 > 1.7889: Bạc Liêu is above Long An
    assert tv - la < z * np.hypot(la_se, tv_se)  # 1.7996 < 1.8574: Trà Vinh is not
    t = official_2019[official_2019.level == "total"].set_index("province_code")
    assert t.loc[84, "ci_high_published"] == pytest.approx(tv + 1.645 * tv_se, abs=1e-4)
    # 25 provinces are significantly above Long An and none below: set 26-63
    v, s = t["value"], t["se"]
    above = int((v - la > z * np.sqrt(la_se**2 + s**2)).sum())
    below = int((la - v > z * np.sqrt(la_se**2 + s**2)).sum())
    nat = national_from_official(official_2019, province_code=80).set_index("index_code")
    assert (above, below) == (25, 0)
    assert (int(nat.loc["papi", "rank_low"]), int(nat.loc["papi", "rank_high"])) == (26, 63)
    assert nat.loc["papi", "province_se"] == pytest.approx(la_se, abs=1e-6)


def test_rank_set_missing_without_ses():
    t = pd.DataFrame(
        {
            "year": 2019,
            "province_code": [80, 1, 2],
            "province_name": ["Long An", "Hà Nội", "Hà Giang"],
            "level": "total",
            "code": "total",
            "value": [41.7, 43.0, 40.0],
            "se": [0.3, np.nan, 0.2],
        }
    )
    nat = national_from_official(t)
    assert int(nat["rank"].iloc[0]) == 2 and pd.isna(nat.rank_low.iloc[0])
    t["se"] = [0.3, 0.1, 0.2]
    nat = national_from_official(t)
    # 3 pairs: z = Phi^-1(1 - 0.05/6) = 2.394; 43.0 - 41.7 = 1.3 > 2.394 * 0.316 = 0.757
    assert (int(nat.rank_low.iloc[0]), int(nat.rank_high.iloc[0])) == (2, 2)
