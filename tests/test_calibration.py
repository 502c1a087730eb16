"""Calibration in the run: raked weights, SEs that allow for them (R survey), config, reports."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sipas_analysis import pipeline, validate, weighting
from sipas_analysis.design import CALIBRATION_PREFIX, DESIGN_WEIGHT_COLUMN, survey_design
from sipas_analysis.errors import ConfigError, SipasError
from sipas_analysis.estimate import composite_mean, estimate_levels

HERE = Path(__file__).parent
FIX = HERE / "r" / "fixtures"
EXPECTED = HERE / "r" / "expected"
REPO = HERE.parent
REL = 1e-8
LEVELS = {"total": None, "commune_code": "commune_code", "stratum": "stratum"}


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    d = pd.read_csv(
        FIX / "calibration_sample.csv",
        dtype={"respondent_id": str, "stratum": str, "psu": str, "commune_code": str},
    )
    d["sa"] = d["sex"].astype(str) + " x " + d["age_band"]
    return d


@pytest.fixture(scope="module")
def margins() -> dict:
    sa = pd.read_csv(FIX / "weighting_pop_sex_age.csv", dtype={"age_band": str})
    sa = pd.DataFrame({"sa": sa["sex"].astype(str) + " x " + sa["age_band"], "total": sa["total"]})
    ur = pd.read_csv(FIX / "weighting_margin_urban_rural.csv")
    com = pd.read_csv(FIX / "calibration_margin_commune.csv", dtype={"commune_code": str})
    return {"sa": sa, "urban_rural": ur, "commune_code": com}


@pytest.fixture(scope="module")
def calibrated(sample, margins) -> pd.DataFrame:
    w = weighting.rake(sample, "weight", margins, max_iter=500, tol=1e-14)
    return sample.assign(
        **{
            DESIGN_WEIGHT_COLUMN: sample["weight"],
            "weight": w.to_numpy(),
            CALIBRATION_PREFIX + "sa": sample["sa"],
            CALIBRATION_PREFIX + "urban_rural": sample["urban_rural"],
            CALIBRATION_PREFIX + "commune": sample["commune_code"],
        }
    )


def _engine(df: pd.DataFrame) -> pd.DataFrame:
    """y (mean), z (proportion) and the composite (z + z2)/2 at every level, R's layout."""
    kw = {"weight": "weight", "strata": "stratum", "psu": "psu", "lonely_psu": "fail"}
    ey = estimate_levels(df, ["y"], LEVELS, statistic="mean", **kw).table
    ez = estimate_levels(df, ["z", "z2"], LEVELS, statistic="prop", positive=(1.0,), **kw)
    comp = composite_mean(ez, {"composite": ["z", "z2"]}).table
    parts = []
    for t, scale in ((ey, 1.0), (ez.table[ez.table["index_code"] == "z"], 100.0), (comp, 100.0)):
        unit = np.where(
            t["level"] == "total",
            "total",
            np.where(t["level"] == "commune_code", t["commune_code"], t["stratum"]),
        )
        parts.append(
            pd.DataFrame(
                {
                    "level": t["level"].to_numpy(),
                    "unit": unit.astype(str),
                    "measure": t["index_code"].to_numpy(),
                    "estimate": t["estimate"].to_numpy() / scale,
                    "se": t["se"].to_numpy() / scale,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _reference(design: str) -> pd.DataFrame:
    r = pd.read_csv(EXPECTED / "calibration_estimates.csv", dtype={"unit": str})
    r["unit"] = r["unit"].str.strip()
    return r[r["design"] == design]


def test_raked_weights_match_r_calibrate(sample, calibrated):
    r = pd.read_csv(EXPECTED / "calibration_weights.csv", dtype={"respondent_id": str})
    m = calibrated.merge(r, on="respondent_id")
    assert len(m) == len(sample)
    np.testing.assert_allclose(m["weight"], m["weight_calibrate"], rtol=1e-10)
    np.testing.assert_allclose(m["weight"], m["weight_rake"], rtol=1e-9)


def test_calibrated_estimates_and_ses_match_r(calibrated):
    got = _engine(calibrated)
    ref = _reference("calibrated")
    m = ref.merge(got, on=["level", "unit", "measure"], suffixes=("_r", ""))
    assert len(m) == len(ref) == 3 * (1 + 9 + 4)
    np.testing.assert_allclose(m["estimate"], m["estimate_r"], rtol=REL)
    # communes inside one village: no design-based SE here (flag single_psu), R gives one
    single = m["se"].isna()
    assert sorted(m.loc[single, "unit"].unique()) == ["79801", "80202"]
    assert single.sum() == 6
    np.testing.assert_allclose(m.loc[~single, "se"], m.loc[~single, "se_r"], rtol=REL)
    # commune and area domains, a proportion and a composite are all in the comparison
    assert {"commune_code", "stratum"} <= set(m["level"])
    assert {"y", "z", "composite"} == set(m["measure"])


def test_plain_weights_give_other_ses(calibrated):
    """Treating the calibrated weights as design weights: R's plain design, not the calibrated."""
    plain = calibrated.drop(columns=[c for c in calibrated.columns if c.startswith("calib__")])
    got = _engine(plain)
    ref = _reference("plain")
    m = ref.merge(got, on=["level", "unit", "measure"], suffixes=("_r", ""))
    ok = m["se"].notna()
    assert (~ok).sum() == 6
    np.testing.assert_allclose(m.loc[ok, "se"], m.loc[ok, "se_r"], rtol=REL)
    cal = _reference("calibrated").merge(ref, on=["level", "unit", "measure"], suffixes=("", "_p"))
    ratio = cal["se_p"].astype(float) / cal["se"].astype(float)
    assert (abs(ratio - 1) > 0.02).sum() >= 10  # the calibration matters for many cells
    assert abs(ratio - 1).max() > 0.10


def test_r_rake_and_calibrate_same_weights_other_ses():
    """R's rake() and calibrate(calfun="raking") reach the same weights, but rake()'s variance
    backfits 10 sweeps of *unweighted* cell means of the residuals (survey:::svyrecvar, class
    "raking"), while calibrate() takes the design-weighted regression residuals (GREG). The
    engine follows calibrate(); the two R SEs differ by up to about 0.7-1.8x on this fixture."""
    cal = _reference("calibrated").reset_index(drop=True)
    rk = _reference("rake").reset_index(drop=True)
    np.testing.assert_allclose(rk["estimate"], cal["estimate"], rtol=1e-8)
    assert (abs(rk["se"] / cal["se"] - 1) > 0.05).any()


def test_calibration_survives_assign_of_design_columns(calibrated):
    """small_domains.design_variants re-runs the indices with other strata / PSUs via assign."""
    other = calibrated.assign(stratum=calibrated["commune_code"], psu=calibrated["psu"])
    des = survey_design(other, "weight", "stratum", "psu", lonely_psu="adjust")
    assert des.calibration is not None
    assert des.calibration.variables == (
        "calib__sa",
        "calib__urban_rural",
        "calib__commune",
    )
    np.testing.assert_allclose(
        des.calibration.g, calibrated["weight"] / calibrated["weight_design"], rtol=1e-15
    )
    # the calibrated SE of a total-level estimate under the variant design is not the plain one
    z = np.asarray(other["z"], dtype=float)
    w = other["weight"].to_numpy()
    infl = w * (z - np.average(z, weights=w)) / w.sum()
    plain = survey_design(other, "weight", "stratum", "psu", None, "adjust", calibration=None)
    assert des.variance(infl)[0, 0] < plain.variance(infl)[0, 0]


def test_calibration_columns_without_design_weight_is_an_error(calibrated):
    bad = calibrated.drop(columns=[DESIGN_WEIGHT_COLUMN])
    with pytest.raises(SipasError, match="weight_design"):
        survey_design(bad, "weight", "stratum", "psu")


# ------------------------------------------------------------------------------------------
# the run: config key, load_wave, manifest and validation report
# ------------------------------------------------------------------------------------------
SEX_AGE = """sex,age_band,share
1,18-29,0.13
1,30-44,0.14
1,45-59,0.12
1,60+,0.09
2,18-29,0.13
2,30-44,0.15
2,45-59,0.13
2,60+,0.11
"""


def _wave(tmp_path: Path, calibration: str) -> Path:
    src = (REPO / "waves" / "sipas-2024.yaml").read_text(encoding="utf-8")
    data = REPO / "data" / "sample" / "sipas_2024.xlsx"
    shutil.copy(data, tmp_path / data.name)
    lines = [f"file: {data.name}" if ln.startswith("file:") else ln for ln in src.splitlines()]
    (tmp_path / "sex_age.csv").write_text(SEX_AGE, encoding="utf-8")
    path = tmp_path / "sipas-2024.yaml"
    path.write_text("\n".join(lines) + "\n" + calibration, encoding="utf-8")
    return path


CAL_KEY = """calibration:
  method: rake
  source: census2019
  margins: [sex_age_band, urban_rural, commune]
  tables:
    sex_age_band: sex_age.csv
"""


@pytest.fixture(scope="module")
def loaded_calibrated(tmp_path_factory):
    path = _wave(tmp_path_factory.mktemp("calwave"), CAL_KEY)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return pipeline.load_wave(path)


def test_load_wave_rakes_to_the_census_margins(loaded_calibrated):
    r = loaded_calibrated.respondents
    assert {
        DESIGN_WEIGHT_COLUMN,
        "calib__sex_age_band",
        "calib__urban_rural",
        "calib__commune",
    } <= set(r.columns)
    # the commune totals are the 2019 census population of the sampled communes
    from sipas_analysis import geography

    com = geography.communes("pre2025").set_index("commune_code")["pop_2019_total"]
    tot = r.groupby(r["commune_code"].astype(int))["weight"].sum()
    np.testing.assert_allclose(tot.to_numpy(), com.loc[tot.index].to_numpy(), rtol=1e-9)
    urban = r.loc[r["urban_rural"] == 1, "weight"].sum()
    pops = geography.communes("pre2025").set_index("commune_code").loc[tot.index]
    assert urban == pytest.approx(pops["pop_2019_urban"].sum(), rel=1e-9)
    w = loaded_calibrated.design_summary["weighting"]
    assert w["calibrated"] and w["method"] == "rake"
    eff = weighting.weighting_diagnostics(r[DESIGN_WEIGHT_COLUMN], r["weight"])
    eff = eff.set_index("statistic")["value"]
    assert w["efficiency_design"] == pytest.approx(eff["efficiency_before"], rel=1e-12)
    assert w["efficiency_calibrated"] == pytest.approx(eff["efficiency_after"], rel=1e-12)
    assert w["g_min"] == pytest.approx(eff["factor_min"]) and w["g_max"] == pytest.approx(
        eff["factor_max"]
    )


def test_weighting_efficiency_in_the_reports(loaded_calibrated, tmp_path):
    text = validate.summary_text(loaded_calibrated)
    assert "Kish" in text and "hiệu chỉnh / calibrated" in text and "g-weights" in text
    paths = validate.write_report(loaded_calibrated, tmp_path)
    sheet = pd.read_excel(paths["xlsx"], sheet_name="Tổng hợp", header=0, nrows=9)
    labels = " ".join(sheet.iloc[:, 0].astype(str))
    assert "efficiency after calibration" in labels and "largest g-weight" in labels
    manifest = pipeline._manifest(
        [pipeline.WaveResult(loaded_calibrated, pd.DataFrame())],
        [loaded_calibrated.config.config_path],
        1,
    )
    inp = manifest["inputs"][0]
    assert inp["weighting"]["efficiency_calibrated"] < inp["weighting"]["efficiency_design"] + 1
    assert inp["settings"]["calibration"]["margins"] == ["sex_age_band", "urban_rural", "commune"]


def test_uncalibrated_wave_reports_design_efficiency():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = pipeline.load_wave(REPO / "waves" / "sipas-2024.yaml")
    w = loaded.design_summary["weighting"]
    assert not w["calibrated"] and 0 < w["efficiency_design"] <= 1
    assert "không hiệu chỉnh / not calibrated" in validate.summary_text(loaded)
    assert DESIGN_WEIGHT_COLUMN not in loaded.respondents.columns


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("calibration:\n  method: greg\n  margins: [commune]\n", "calibration.method"),
        ("calibration:\n  margins: [district]\n", "unknown margin 'district'"),
        ("calibration:\n  margins: [sex_age_band]\n", "calibration.tables.sex_age_band"),
        (
            "calibration:\n  method: poststratify\n  margins: [commune, urban_rural]\n",
            "poststratify takes one margin",
        ),
        ("calibration:\n  margins: commune\n", "calibration.margins"),
        ("calibration:\n  margin: [commune]\n", "calibration.margin"),
    ],
)
def test_bad_calibration_key_is_a_config_error(tmp_path, key, message):
    from sipas_analysis import waves

    with pytest.raises(ConfigError, match=message):
        waves.load_wave_config(_wave(tmp_path, key))


def test_failed_calibration_names_the_wave(tmp_path):
    (tmp_path / "bad.csv").write_text("sex,age_band,share\n1,18-29,0.5\n2,18-29,0.5\n")
    key = CAL_KEY.replace("sex_age.csv", "bad.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SipasError, match="calibration of the weights failed"):
            pipeline.load_wave(_wave(tmp_path, key))
