"""Tests for sipas_analysis.weighting: post-stratification, raking, calibrated SEs, diagnostics.

Reference values come from R ``survey`` (``postStratify``, ``rake``, ``svymean``, ``svyby``) run by
``tests/r/reference_weighting.R`` on the committed fixtures in ``tests/r/fixtures/weighting_*.csv``;
its outputs are committed in ``tests/r/expected/weighting_*.csv``.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from sipas_analysis import geography
from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.paths import REPO_ROOT
from sipas_analysis.weighting import (
    calibrated_mean,
    census_margins,
    poststratify,
    rake,
    weighting_diagnostics,
)

R_DIR = REPO_ROOT / "tests" / "r"
FIX = R_DIR / "fixtures"
EXP = R_DIR / "expected"
RTOL = 1e-9


# ------------------------------------------------------------------------------------------------
# fixtures
# ------------------------------------------------------------------------------------------------
def _sample() -> pd.DataFrame:
    return pd.read_csv(
        FIX / "weighting_sample.csv",
        dtype={"respondent_id": str, "stratum": str, "psu": str, "commune_code": str},
    )


def _margin(name: str) -> pd.DataFrame:
    return pd.read_csv(FIX / f"weighting_{name}.csv", dtype={"age_band": str})


# The population tables of the R fixture, written out here (the test's own copy of the margins).
POP_SEX_AGE = pd.DataFrame(
    {
        "sex": [1, 1, 1, 1, 2, 2, 2, 2],
        "age_band": ["18-29", "30-44", "45-59", "60+"] * 2,
        "total": [6351, 7056, 5880, 4234, 6609, 7344, 6120, 4847],
    }
)
MARGIN_SEX = pd.DataFrame({"sex": [1, 2], "total": [23521, 24920]})
MARGIN_AGE = pd.DataFrame(
    {"age_band": ["18-29", "30-44", "45-59", "60+"], "total": [12960, 14400, 12000, 9081]}
)
MARGIN_UR = pd.DataFrame({"urban_rural": [1, 2], "total": [16954, 31487]})


def _weighted_totals(df: pd.DataFrame, w: pd.Series, cols: list[str]) -> pd.DataFrame:
    return df.assign(_w=w.to_numpy()).groupby(cols, as_index=False)["_w"].sum()


def _assert_margin(df: pd.DataFrame, w: pd.Series, table: pd.DataFrame, rtol: float) -> None:
    cols = [c for c in table.columns if c != "total"]
    got = _weighted_totals(df, w, cols).merge(table, on=cols, how="outer")
    assert got["_w"].notna().all() and got["total"].notna().all()
    np.testing.assert_allclose(got["_w"], got["total"], rtol=rtol, atol=0)


def test_fixture_files_hold_the_margins_written_here():
    pd.testing.assert_frame_equal(_margin("pop_sex_age"), POP_SEX_AGE, check_dtype=False)
    pd.testing.assert_frame_equal(_margin("margin_sex"), MARGIN_SEX, check_dtype=False)
    pd.testing.assert_frame_equal(_margin("margin_age_band"), MARGIN_AGE, check_dtype=False)
    pd.testing.assert_frame_equal(_margin("margin_urban_rural"), MARGIN_UR, check_dtype=False)


# ------------------------------------------------------------------------------------------------
# hand-computed
# ------------------------------------------------------------------------------------------------
def test_poststratify_hand_computed_and_input_untouched():
    df = pd.DataFrame({"sex": [1, 1, 2, 2, 2], "w": [1.0, 3.0, 2.0, 2.0, 4.0]})
    before = df.copy()
    pop = pd.DataFrame({"sex": [1, 2], "N": [40.0, 60.0]})
    new = poststratify(df, "w", ["sex"], pop)
    # cell 1: factor 40/4 = 10; cell 2: factor 60/8 = 7.5
    np.testing.assert_allclose(new.to_numpy(), [10.0, 30.0, 15.0, 15.0, 30.0], rtol=1e-15)
    pd.testing.assert_frame_equal(df, before)
    assert new.index.equals(df.index)


def test_poststratify_accepts_series_and_mixed_label_types():
    df = pd.DataFrame({"sex": pd.array([1, 2, 2], dtype="Int64"), "w": [1.0, 1.0, 2.0]})
    pop = pd.Series({1.0: 10.0, 2.0: 30.0})
    np.testing.assert_allclose(poststratify(df, "w", ["sex"], pop), [10.0, 10.0, 20.0])


def test_rake_hand_computed_independent_margins():
    # Equal weights on a balanced 2x2 design: raking gives the product of the margin shares.
    df = pd.DataFrame({"sex": [1, 1, 2, 2], "urban": [1, 2, 1, 2], "w": [1.0, 2.0, 3.0, 4.0]})
    margins = {"sex": pd.Series({1: 40.0, 2: 60.0}), "urban": pd.Series({1: 30.0, 2: 70.0})}
    new = rake(df, "w", margins, tol=1e-14)
    tab = df.assign(n=new).pivot_table(index="sex", columns="urban", values="n", aggfunc="sum")
    np.testing.assert_allclose(tab.sum(axis=1), [40.0, 60.0], rtol=1e-12)
    np.testing.assert_allclose(tab.sum(axis=0), [30.0, 70.0], rtol=1e-12)
    # With one respondent per cell the raked table keeps the sample's cross-product ratio
    # (w11*w22)/(w12*w21) = (1*4)/(2*3), a property of IPF.
    t = tab.to_numpy()
    assert t[0, 0] * t[1, 1] / (t[0, 1] * t[1, 0]) == pytest.approx(4.0 / 6.0, rel=1e-12)


def test_rake_reproduces_margins_written_in_the_test():
    df = _sample()
    before = df.copy()
    new = rake(df, "weight", {"sex": MARGIN_SEX, "age_band": MARGIN_AGE, "urban_rural": MARGIN_UR})
    for table in (MARGIN_SEX, MARGIN_AGE, MARGIN_UR):
        _assert_margin(df, new, table, rtol=1e-8)
    pd.testing.assert_frame_equal(df, before)
    cross = rake(df, "weight", {("sex", "age_band"): POP_SEX_AGE, "urban_rural": MARGIN_UR})
    _assert_margin(df, cross, POP_SEX_AGE, rtol=1e-8)
    _assert_margin(df, cross, MARGIN_UR, rtol=1e-8)


def test_poststratify_reproduces_cell_totals_written_in_the_test():
    df = _sample()
    new = poststratify(df, "weight", ["sex", "age_band"], POP_SEX_AGE)
    _assert_margin(df, new, POP_SEX_AGE, rtol=1e-12)


def test_calibrated_se_is_zero_for_a_calibration_variable_and_unchanged_for_one_cell():
    df = _sample().assign(one=1, female=lambda d: (d["sex"] == 2).astype(int))
    w = poststratify(df, "weight", ["sex"], MARGIN_SEX)
    d2 = df.assign(wps=w)
    res = calibrated_mean(d2, "female", "wps", strata="stratum", psu="psu", poststrata=["sex"])
    # The share of women is fixed by the population table: no sampling variance left.
    assert res["estimate"].iloc[0] == pytest.approx(24920 / 48441, rel=1e-12)
    assert res["se"].iloc[0] < 1e-12
    assert res["se_uncalibrated"].iloc[0] > 0.01
    # One cell holding everybody: the residual of a mean's influence equals itself.
    d3 = df.assign(wps=poststratify(df, "weight", ["one"], pd.Series({1: 48441.0})))
    res = calibrated_mean(d3, "y", "wps", strata="stratum", psu="psu", poststrata=["one"])
    assert res["se"].iloc[0] == pytest.approx(res["se_uncalibrated"].iloc[0], rel=1e-12)


def test_weighting_diagnostics_hand_computed():
    d = weighting_diagnostics([1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 2.0, 2.0])
    v = d.set_index("statistic")["value"]
    assert v["n"] == 4
    assert v["sum_before"] == 4.0 and v["sum_after"] == 6.0
    assert v["efficiency_before"] == pytest.approx(1.0)
    assert v["efficiency_after"] == pytest.approx(36.0 / 40.0)  # (Σw)²/(nΣw²)
    assert v["deff_weighting_after"] == pytest.approx(40.0 / 36.0)
    assert v["factor_min"] == 1.0 and v["factor_max"] == 2.0
    assert v["factor_median"] == pytest.approx(1.5)
    assert v["factor_p25"] == pytest.approx(1.0) and v["factor_p75"] == pytest.approx(2.0)
    with pytest.raises(InputError, match="same length"):
        weighting_diagnostics([1.0, 2.0], [1.0])
    with pytest.raises(InputError, match="positive"):
        weighting_diagnostics([1.0, 0.0], [1.0, 1.0])


# ------------------------------------------------------------------------------------------------
# errors
# ------------------------------------------------------------------------------------------------
def test_empty_sample_cell_is_named():
    df = pd.DataFrame({"sex": [1, 1], "age_band": ["18-29", "60+"], "w": [1.0, 1.0]})
    pop = pd.DataFrame(
        {"sex": [1, 1, 2], "age_band": ["18-29", "60+", "60+"], "total": [5.0, 5.0, 5.0]}
    )
    with pytest.raises(InputError, match=r"sex=2, age_band='60\+'.*no respondents"):
        poststratify(df, "w", ["sex", "age_band"], pop)
    with pytest.raises(InputError, match="sex=2.*no respondents"):
        rake(df, "w", {"sex": pd.Series({1: 10.0, 2: 5.0}), "age_band": pop.iloc[:2, 1:]})


def test_population_cell_missing_or_not_positive_is_named():
    df = pd.DataFrame({"sex": [1, 2, 2], "w": [1.0, 1.0, 1.0], "source_row": [2, 3, 7]})
    with pytest.raises(InputError, match="sex=2 has no population total") as exc:
        poststratify(df, "w", ["sex"], pd.DataFrame({"sex": [1], "total": [3.0]}))
    assert exc.value.rows == [3, 7]
    with pytest.raises(InputError, match="sex=2.*not positive"):
        poststratify(df, "w", ["sex"], pd.DataFrame({"sex": [1, 2], "total": [3.0, 0.0]}))
    with pytest.raises(InputError, match="more than once"):
        poststratify(df, "w", ["sex"], pd.DataFrame({"sex": [1, 2, 2], "total": [3.0, 1, 1]}))


def test_bad_weights_and_missing_cell_values_are_reported_with_rows():
    df = pd.DataFrame({"sex": [1, 2, None], "w": [1.0, -1.0, 1.0]})
    with pytest.raises(InputError, match="positive") as exc:
        poststratify(df, "w", ["sex"], pd.Series({1: 1.0, 2: 1.0}))
    assert exc.value.rows == [3] and exc.value.column == "w"
    with pytest.raises(InputError, match="missing values") as exc:
        poststratify(df.assign(w=1.0), "w", ["sex"], pd.Series({1: 1.0, 2: 1.0}))
    assert exc.value.rows == [4]


def test_rake_inconsistent_margins_and_non_convergence():
    df = _sample()
    bad = MARGIN_UR.assign(total=MARGIN_UR["total"] * 1.01)
    with pytest.raises(InputError, match="same population total"):
        rake(df, "weight", {"sex": MARGIN_SEX, "urban_rural": bad})
    with pytest.raises(SipasError, match=r"did not converge.*margin (sex|age_band)"):
        rake(
            df,
            "weight",
            {"sex": MARGIN_SEX, "age_band": MARGIN_AGE, "urban_rural": MARGIN_UR},
            max_iter=2,
            tol=1e-14,
        )


def test_singleton_stratum_fails_by_default_and_certainty_is_selectable():
    df = _sample()
    df.loc[df["stratum"] == "798", "psu"] = "one"
    with pytest.raises(SipasError, match="'798' has only one PSU"):
        calibrated_mean(df, "y", "weight", strata="stratum", psu="psu")
    res = calibrated_mean(df, "y", "weight", strata="stratum", psu="psu", lonely_psu="certainty")
    assert np.isfinite(res["se"].iloc[0])


# ------------------------------------------------------------------------------------------------
# against R survey (committed outputs)
# ------------------------------------------------------------------------------------------------
def _python_weights(df: pd.DataFrame) -> dict[str, tuple[pd.Series, dict]]:
    return {
        "none": (df["weight"], {}),
        "poststrat": (
            poststratify(df, "weight", ["sex", "age_band"], _margin("pop_sex_age")),
            {"poststrata": ["sex", "age_band"]},
        ),
        "rake3": (
            rake(
                df,
                "weight",
                {
                    "sex": _margin("margin_sex"),
                    "age_band": _margin("margin_age_band"),
                    "urban_rural": _margin("margin_urban_rural"),
                },
                max_iter=100,
                tol=1e-12,
            ),
            {"margins": ["sex", "age_band", "urban_rural"]},
        ),
        "rake_cross": (
            rake(
                df,
                "weight",
                {("sex", "age_band"): _margin("pop_sex_age"), "urban_rural": MARGIN_UR},
                max_iter=100,
                tol=1e-12,
            ),
            {"margins": [("sex", "age_band"), "urban_rural"]},
        ),
    }


def _check_weights_against(expected_dir) -> None:
    df = _sample()
    exp = pd.read_csv(expected_dir / "weighting_weights.csv", dtype={"respondent_id": str})
    assert exp["respondent_id"].tolist() == df["respondent_id"].tolist()
    for method, (w, _) in _python_weights(df).items():
        if method != "none":
            np.testing.assert_allclose(w.to_numpy(), exp[method].to_numpy(), rtol=RTOL, atol=0)


def _check_estimates_against(expected_dir) -> int:
    df = _sample()
    exp = pd.read_csv(
        expected_dir / "weighting_estimates.csv",
        dtype={"commune_code": str},
        keep_default_na=False,
    )
    checked = 0
    for method, (w, kw) in _python_weights(df).items():
        d = df.assign(wcal=w.to_numpy())
        for variable in ("y", "z"):
            e = exp[(exp["method"] == method) & (exp["variable"] == variable)]
            whole = calibrated_mean(d, variable, "wcal", strata="stratum", psu="psu", **kw)
            dom = calibrated_mean(
                d, variable, "wcal", strata="stratum", psu="psu", by="commune_code", **kw
            )
            got = pd.concat([whole.assign(commune_code=""), dom], ignore_index=True)
            merged = got.merge(e, on="commune_code", suffixes=("", "_r"), validate="1:1")
            assert len(merged) == len(e) == 10
            for col in ("estimate", "se", "se_uncalibrated"):
                ref = merged[f"{col}_r"].astype(float).to_numpy()
                # Domains inside a single PSU have a zero SE, computed as ~1e-16 noise by both.
                np.testing.assert_allclose(
                    merged[col].to_numpy(), ref, rtol=RTOL, atol=1e-13, err_msg=f"{method} {col}"
                )
                checked += len(ref)
    return checked


def test_calibrated_weights_match_r():
    _check_weights_against(EXP)


def test_estimates_and_calibrated_se_match_r():
    assert _check_estimates_against(EXP) == 4 * 2 * 10 * 3


def test_calibration_changes_the_se_as_r_does():
    # Guard against a comparison that cannot fail: R's calibrated SEs differ from the naive ones.
    exp = pd.read_csv(EXP / "weighting_estimates.csv", keep_default_na=False)
    cal = exp[exp["method"] != "none"]
    rel = (cal["se"] - cal["se_uncalibrated"]).abs() / cal["se_uncalibrated"]
    assert (rel > 1e-3).mean() > 0.9


def _r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    probe = subprocess.run(
        ["Rscript", "-e", "suppressPackageStartupMessages(library(survey))"],
        capture_output=True,
        timeout=120,
    )
    return probe.returncode == 0


@pytest.mark.needs_r
def test_r_script_live(tmp_path):
    if not _r_available():
        if os.environ.get("CI"):
            pytest.fail("Rscript with the R package survey is required in CI (r-cran-survey)")
        pytest.skip("Rscript / R survey not installed")
    subprocess.run(
        ["Rscript", str(R_DIR / "reference_weighting.R"), str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    for name in ("weighting_weights.csv", "weighting_estimates.csv"):
        live = pd.read_csv(tmp_path / name, keep_default_na=False)
        committed = pd.read_csv(EXP / name, keep_default_na=False)
        pd.testing.assert_frame_equal(live, committed, check_exact=False, rtol=1e-12, atol=1e-15)
    _check_weights_against(tmp_path)
    _check_estimates_against(tmp_path)


# ------------------------------------------------------------------------------------------------
# census margins
# ------------------------------------------------------------------------------------------------
def test_census_margins_hand_computed():
    com = pd.DataFrame(
        {
            "commune_code": [1, 2, 3],
            "area_code": [794, 794, 798],
            "pop_2019_total": [100, 300, 600],
            "pop_2019_urban": [100, 50, 0],
            "pop_2019_rural": [0, 250, 600],
        }
    )
    m = census_margins(
        com,
        by=["commune_code", "urban_rural", ("commune_code", "urban_rural"), "area_code", "sex"],
        supplied={"sex": pd.DataFrame({"sex": [1, 2], "share": [0.5, 0.5]})},
    )
    assert m["commune_code"]["total"].tolist() == [100, 300, 600]
    assert m["urban_rural"].to_dict("list") == {"urban_rural": [1, 2], "total": [150, 850]}
    cross = m[("commune_code", "urban_rural")]
    # Zero-population cells (rural part of commune 1, urban part of commune 3) are left out.
    assert list(zip(cross["commune_code"], cross["urban_rural"], cross["total"], strict=True)) == [
        (1, 1, 100),
        (2, 1, 50),
        (2, 2, 250),
        (3, 2, 600),
    ]
    assert m["area_code"]["total"].tolist() == [400, 600]
    assert m["sex"]["total"].tolist() == [500.0, 500.0]


def test_census_margins_explain_missing_sex_age_data():
    com = geography.communes("pre2025")
    with pytest.raises(InputError, match="not in the 2019 census reference data"):
        census_margins(com, by=("sex", "age_band"))
    with pytest.raises(InputError, match="shares sum to"):
        census_margins(
            com, by=["sex"], supplied={"sex": pd.DataFrame({"sex": [1, 2], "share": [0.5, 0.6]})}
        )


def test_census_margins_from_geography_feed_rake():
    com = geography.communes("pre2025")
    m = census_margins(com, by=("commune_code", "urban_rural"))
    total = com["pop_2019_total"].sum()
    assert m["commune_code"]["total"].sum() == total
    assert m["urban_rural"]["total"].sum() == total
    # A small synthetic sample: one urban and one rural respondent per commune where both exist.
    sample = []
    for c in com.itertuples():
        for ur, pop in ((1, c.pop_2019_urban), (2, c.pop_2019_rural)):
            if pop > 0:
                sample.append({"commune_code": c.commune_code, "urban_rural": ur, "w": 50.0})
    df = pd.DataFrame(sample)
    new = rake(df, "w", m)
    _assert_margin(df, new, m["commune_code"], rtol=1e-8)
    _assert_margin(df, new, m["urban_rural"], rtol=1e-8)
