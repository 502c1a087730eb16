"""Benchmarks against the official PAPI and SIPAS series (published numbers, not our output)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from sipas_analysis.benchmarks import (
    PAPI_BENCHMARK_COLUMNS,
    benchmark_values,
    national_from_official,
    papi_benchmarks,
    quartile_cuts,
    quartile_groups,
    sipas_benchmarks,
)
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.paths import REFERENCE_DIR, REPO_ROOT

PAPI_DIR = REPO_ROOT.parent / "shared" / "reference" / "papi"


def _sizes(n, rule="balanced"):
    c = (0, *quartile_cuts(n, rule), n)
    return [c[i + 1] - c[i] for i in range(4)]


def test_balanced_rule_reproduces_published_group_sizes():
    # METHODOLOGY.md §2.2: published sizes 16/16/15/16 of 63 and 15/15/15/16 of 61
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
def official_2011_2019():
    f = PAPI_DIR / "PAPI_2011-2019.xlsx"
    if not f.exists():
        if os.environ.get("CI"):
            pytest.fail(f"official PAPI workbook missing: {f}")
        pytest.skip("official PAPI workbooks not available")
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
