"""Tests of sipas_analysis.indices.sipas: SIPAS item, element, part and overall indices.

References: hand-computed tiny examples (arithmetic in the tests), R ``survey`` on a committed
fixture (tests/r/reference_sipas_composite.R -> tests/r/expected/sipas_composite_estimates.csv),
and the bundled sample waves (every wave computes; composites are means of their parts).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

from sipas_analysis.errors import InputError, SipasError
from sipas_analysis.indices import ESTIMATE_COLUMNS, IndexWarning, SipasOptions, sipas_indices
from sipas_analysis.instruments import load_instrument
from sipas_analysis.paths import REPO_ROOT, WAVES_DIR

R_DIR = REPO_ROOT / "tests" / "r"
FIXTURE = R_DIR / "fixtures" / "sipas_composite_respondents.csv"
EXPECTED = R_DIR / "expected" / "sipas_composite_estimates.csv"
KEYS = ["level", "unit_code", "index_level", "index_code"]


def _fixture() -> pd.DataFrame:
    return pd.read_csv(FIXTURE, dtype={"stratum": str, "psu": str, "wave": str})


def _tiny(answers: dict[str, list], **extra) -> pd.DataFrame:
    """Equal weights, one stratum, every respondent its own PSU (simple random sample)."""
    n = len(next(iter(answers.values())))
    base = {
        "respondent_id": [f"r{i}" for i in range(n)],
        "wave": "2021",
        "boundary_vintage": "pre2025",
        "source_row": np.arange(2, n + 2),
        "commune_code": 27694,
        "area_code": 794,
        "stratum": "794",
        "psu": [f"p{i}" for i in range(n)],
        "weight": 1.0,
        "sex": [1 + i % 2 for i in range(n)],
        "age_band": "30-44",
        "urban_rural": 1,
    }
    base.update(extra)
    frame = pd.DataFrame(base)
    for k, v in answers.items():
        frame[k] = pd.array(v, dtype="Int64")
    return frame


SIPAS17 = load_instrument("sipas-2017")
ITEMS17 = SIPAS17.satisfaction_items()["code"].tolist()


def _full_2017(rows: list[list[int]]) -> dict[str, list]:
    """Answers for all 22 criteria: respondent r answers rows[r][element] to every item."""
    elements = ["tiep_can", "tthc", "cong_chuc", "ket_qua", "pakn"]
    out = {}
    for code in ITEMS17:
        e = elements.index(code.rsplit("_", 1)[0])
        out[code] = [r[e] for r in rows]
    out["co_pakn"] = [1] * len(rows)
    return out


# ---------------------------------------------------------------------------------------------
# hand-computed
# ---------------------------------------------------------------------------------------------
def test_hand_computed_items_elements_overall_and_composite_se():
    # 4 respondents; each answers the same code to every item of an element
    #   r0: tiep_can 5, tthc 4, cong_chuc 3, ket_qua 5, pakn 2
    #   r1: 4, 2, 5, 5, 4
    #   r2: 2, 4, 4, 1, 5
    #   r3: 5, 5, 1, 4, 3
    rows = [[5, 4, 3, 5, 2], [4, 2, 5, 5, 4], [2, 4, 4, 1, 5], [5, 5, 1, 4, 3]]
    est = sipas_indices(_tiny(_full_2017(rows)), SIPAS17, levels=["total"], subgroups=[])
    got = est.set_index("index_code")["estimate"]
    # satisfied (4 or 5) shares: tiep_can 3/4, tthc 3/4, cong_chuc 2/4, ket_qua 3/4, pakn 2/4
    assert got["tiep_can_1"] == pytest.approx(75.0)
    assert got["cong_chuc_6"] == pytest.approx(50.0)
    assert got["tiep_can"] == pytest.approx(75.0)
    assert got["pakn"] == pytest.approx(50.0)
    # overall = (75 + 75 + 50 + 75 + 50) / 5 = 65
    assert got["sipas"] == pytest.approx(65.0)
    # composite SE: with no missing answers the overall is the mean of respondent scores
    # u_i = mean over elements of 100*1[x >= 4]: r0 (1+1+0+1+0)/5 = 60, r1 80, r2 60, r3 60;
    # mean 65, SE = sqrt(sum (u - 65)^2 / (n (n - 1))) = sqrt((25+225+25+25) / 12) = 5
    se = est.set_index("index_code")["se"]
    assert se["sipas"] == pytest.approx(5.0, rel=1e-12)
    # items treated as independent would give another (wrong) SE: the covariance is used
    item_se = est[est.index_level == "element"]["se"].to_numpy()
    assert se["sipas"] != pytest.approx(np.sqrt((item_se**2).sum()) / 5)


def test_mean_score_and_respondent_mean_options():
    rows = [[5, 4, 3, 5, 2], [4, 2, 5, 5, 4], [2, 4, 4, 1, 5], [5, 5, 1, 4, 3]]
    data = _tiny(_full_2017(rows))
    # mean score 0-100: tiep_can answers 5,4,2,5 -> 100*(x-1)/4 = 100, 75, 25, 100 -> 75
    ms = sipas_indices(
        data,
        SIPAS17,
        levels=["total"],
        subgroups=[],
        options=SipasOptions(item_statistic="mean_score_0_100"),
    ).set_index("index_code")
    assert ms.loc["tiep_can", "estimate"] == pytest.approx(75.0)
    # pakn answers 2,4,5,3 -> 25, 75, 100, 50 -> 62.5
    assert ms.loc["pakn", "estimate"] == pytest.approx(62.5)
    assert (ms["statistic"] == "mean_score_0_100").all()
    # respondent_mean: r0 answers only pakn_1 (= 5); r1..r3 as before (pakn 4, 5, 3)
    d2 = data.copy()
    d2.loc[0, ["pakn_2", "pakn_3", "pakn_4"]] = pd.NA
    d2.loc[0, "pakn_1"] = 5
    rm = sipas_indices(
        d2,
        SIPAS17,
        levels=["total"],
        subgroups=[],
        options=SipasOptions(element_rule="respondent_mean"),
    ).set_index("index_code")
    # r0 pakn = 100 (1 of 1 satisfied), r1 100, r2 100, r3 0 -> 75
    assert rm.loc["pakn", "estimate"] == pytest.approx(75.0)
    mi = sipas_indices(d2, SIPAS17, levels=["total"], subgroups=[]).set_index("index_code")
    # mean of items: pakn_1 answers 5,4,5,3 -> 75 %; pakn_2..4 over r1..r3 (4,5,3) -> 2/3 each:
    # (75 + 3 * 200/3) / 4 = 68.75
    assert mi.loc["pakn", "estimate"] == pytest.approx(68.75)


def test_weighted_share_subgroups_and_names():
    rows = [[5, 4, 3, 5, 2], [4, 2, 5, 5, 4], [2, 4, 4, 1, 5], [5, 5, 1, 4, 3]]
    data = _tiny(_full_2017(rows), weight=[1.0, 2.0, 3.0, 4.0])
    est = sipas_indices(data, SIPAS17, levels=["commune", "area", "total"], subgroups=["sex"])
    assert list(est.columns[: len(ESTIMATE_COLUMNS)]) == ESTIMATE_COLUMNS
    tot = est[(est.level == "total") & (est.index_code == "tiep_can_1")].iloc[0]
    # weighted share satisfied: (1 + 2 + 4) / 10 = 70 %
    assert tot.estimate == pytest.approx(70.0)
    assert tot.unit_name == "Toàn vùng khảo sát" and tot.unit_code == "total"
    assert pd.isna(tot.area_code)
    # sex = 1 are r0 and r2 (weights 1, 3): tiep_can satisfied only r0 -> 1/4 = 25 %
    sub = est[(est.level == "subgroup") & (est.index_code == "tiep_can_1")]
    assert set(sub.subgroup) == {"sex=1", "sex=2"}
    assert sub.set_index("subgroup").loc["sex=1", "estimate"] == pytest.approx(25.0)
    com = est[(est.level == "commune") & (est.index_code == "sipas")].iloc[0]
    assert com.unit_code == "27694" and com.unit_name == "Phường 1" and com.area_code == 794
    area = est[(est.level == "area") & (est.index_code == "sipas")].iloc[0]
    assert area.unit_name == "Thành phố Tân An"
    # n = 4 < 10: every row is kept (estimate present) but flagged suppressed
    assert (est.flag == "suppressed").all() and est.estimate.notna().all()


def test_flags_small_n_and_suppressed_follow_n():
    est = sipas_indices(_fixture(), "sipas-2017", subgroups=[])
    assert set(est.flag) <= {"ok", "small_n", "suppressed"}
    assert (est.loc[est.n < 10, "flag"] == "suppressed").all()
    assert (est.loc[(est.n >= 10) & (est.n < 30), "flag"] == "small_n").all()
    assert (est.loc[est.n >= 30, "flag"] == "ok").all()
    assert (est.flag == "suppressed").any() and (est.flag == "small_n").any()
    assert est.loc[est.flag == "suppressed", "estimate"].notna().all()


def test_filter_rule_sets_answers_of_non_users_missing():
    rows = [[5, 4, 3, 5, 2], [4, 2, 5, 5, 4], [2, 4, 4, 1, 5], [5, 5, 1, 4, 3]]
    ans = _full_2017(rows)
    ans["co_pakn"] = [1, 1, 1, 2]  # r3 did not give feedback but answered pakn_2..4 (= 3)
    with pytest.warns(IndexWarning, match="pakn_2"):
        est = sipas_indices(_tiny(ans), SIPAS17, levels=["total"], subgroups=[])
    got = est.set_index("index_code")
    # pakn_2 over r0..r2: answers 2, 4, 5 -> 2/3 satisfied
    assert got.loc["pakn_2", "estimate"] == pytest.approx(200 / 3)
    assert got.loc["pakn_2", "n"] == 3
    off = sipas_indices(
        _tiny(ans),
        SIPAS17,
        levels=["total"],
        subgroups=[],
        options=SipasOptions(apply_filters=False),
    ).set_index("index_code")
    assert off.loc["pakn_2", "n"] == 4


def test_bad_input_is_named():
    rows = [[5, 4, 3, 5, 2], [4, 2, 5, 5, 4], [2, 4, 4, 1, 5], [5, 5, 1, 4, 3]]
    ans = _full_2017(rows)
    ans["tthc_2"] = [4, 7, 4, 4]
    with pytest.raises(InputError) as err:
        sipas_indices(_tiny(ans), SIPAS17, levels=["total"], subgroups=[])
    assert err.value.column == "tthc_2" and err.value.rows == [3] and err.value.values == [7.0]
    two = _tiny(_full_2017(rows), wave=["2021", "2021", "2022", "2022"])
    with pytest.raises(InputError, match="one value"):
        sipas_indices(two, SIPAS17, levels=["total"], subgroups=[])
    with pytest.raises(SipasError, match="element_rule"):
        SipasOptions(element_rule="median")
    with pytest.raises(SipasError, match="unknown level"):
        sipas_indices(_tiny(_full_2017(rows)), SIPAS17, levels=["province"])
    with pytest.raises(InputError, match="weight"):
        sipas_indices(_tiny(_full_2017(rows)).drop(columns="weight"), SIPAS17)


def test_input_not_modified():
    data = _fixture()
    before = data.copy()
    sipas_indices(data, "sipas-2017", subgroups=["sex"])
    pd.testing.assert_frame_equal(data, before)


# ---------------------------------------------------------------------------------------------
# R survey reference
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("statistic", ["top2", "mean_score_0_100"])
def test_composite_se_match_r_survey(statistic):
    ref = pd.read_csv(EXPECTED, dtype={"unit_code": str})
    ref = ref[ref.statistic == statistic]
    est = sipas_indices(
        _fixture(), "sipas-2017", subgroups=[], options=SipasOptions(item_statistic=statistic)
    )
    m = ref.merge(est, on=KEYS, suffixes=("_r", ""), how="left", validate="one_to_one")
    assert len(m) == len(ref) == 252  # 9 units x (22 items + 5 elements + overall)
    assert m.estimate.notna().all()
    np.testing.assert_allclose(m.estimate, m.estimate_r, rtol=1e-8)
    np.testing.assert_allclose(m.se, m.se_r, rtol=1e-8)
    assert set(m.index_level) == {"item", "element", "overall"}


def _r_available() -> bool:
    if shutil.which("Rscript") is None:
        return False
    res = subprocess.run(
        ["Rscript", "-e", "suppressPackageStartupMessages(library(survey))"],
        capture_output=True,
        check=False,
        timeout=120,
    )
    return res.returncode == 0


@pytest.mark.needs_r
def test_r_script_live_reproduces_recorded_output(tmp_path):
    if not _r_available():
        if os.environ.get("CI"):
            pytest.fail("Rscript with the survey package is required in CI (r-cran-survey)")
        pytest.skip("Rscript / R survey not installed")
    res = subprocess.run(
        ["Rscript", str(R_DIR / "reference_sipas_composite.R"), str(FIXTURE), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    live = pd.read_csv(tmp_path / EXPECTED.name, dtype={"unit_code": str})
    committed = pd.read_csv(EXPECTED, dtype={"unit_code": str})
    pd.testing.assert_frame_equal(live, committed, check_exact=False, rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# sample waves
# ---------------------------------------------------------------------------------------------
def _sipas_configs() -> list:
    return sorted(p for p in WAVES_DIR.glob("sipas-*.yaml"))


@pytest.fixture(scope="module")
def sample_waves():
    from sipas_analysis.waves import read_wave

    out = {}
    for cfg in _sipas_configs():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out[cfg.stem] = read_wave(cfg).respondents
        except Exception as exc:  # the loader is another module: report, do not hide
            out[cfg.stem] = exc
    return out


@pytest.mark.parametrize("name", [p.stem for p in _sipas_configs()])
def test_sample_waves_compute_and_overall_is_mean_of_parts(sample_waves, name):
    wave = sample_waves[name]
    if isinstance(wave, Exception):
        pytest.skip(f"wave {name} does not load yet ({type(wave).__name__}: {wave})")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = sipas_indices(wave, levels=("area", "total"), subgroups=("sex",))
    assert est.estimate.notna().all()
    assert (est.se > 0).all()
    assert ((est.ci_low <= est.estimate) & (est.estimate <= est.ci_high)).all()
    inst = load_instrument(wave["instrument"].iloc[0])
    has_parts = (inst.nodes.level == "part").any()
    for (_, _), g in est.groupby(["unit_code", "subgroup"]):
        by = g.set_index("index_code")
        elems = g[g.index_level == "element"]
        if has_parts:
            parts = g[g.index_level == "part"]
            for p, row in parts.set_index("index_code").iterrows():
                kids = elems[elems.parent_code == p].estimate
                assert row.estimate == pytest.approx(kids.mean(), rel=1e-12)
            assert by.loc["sipas", "estimate"] == pytest.approx(parts.estimate.mean(), rel=1e-12)
        else:
            assert by.loc["sipas", "estimate"] == pytest.approx(elems.estimate.mean(), rel=1e-12)
    # the alternative rule: overall = mean of all elements
    alt = sipas_indices(
        wave,
        levels=("total",),
        subgroups=(),
        options=SipasOptions(overall_rule="mean_of_elements"),
    )
    el = alt[alt.index_level == "element"].estimate.mean()
    assert alt.set_index("index_code").loc["sipas", "estimate"] == pytest.approx(el, rel=1e-12)
    # perception and expectation indices of sipas-2022 waves: weighted share of the top box
    if (inst.items.role == "perception").any():
        it = inst.items.set_index("code").loc["nt_phien_ha"]
        x = wave["nt_phien_ha"].astype("Float64")
        ok = x.notna()
        share = 100 * (wave.weight[ok] * x[ok].isin(it.top_box)).sum() / wave.weight[ok].sum()
        row = est[(est.level == "total") & (est.index_code == "nt_phien_ha")].iloc[0]
        assert row.role == "perception" and row.estimate == pytest.approx(float(share))
        assert (est.role == "expectation").any()


def test_answer_distribution_shares_by_hand():
    """Weighted shares of each answer code per unit, worked out by hand: a respondent without
    an area counts in the whole area only; an item nobody answered gives no row; items in
    turn, each with its levels in turn, units sorted, codes in the scale's order."""
    from sipas_analysis.indices import answer_distribution
    from sipas_analysis.instruments import load_instrument

    inst = load_instrument("sipas-2017")
    a, b = inst.satisfaction_items()["code"].tolist()[:2]
    df = pd.DataFrame(
        {
            "instrument": "sipas-2017",
            "area_code": pd.array([800, 800, 794, None], dtype="Int64"),
            "commune_code": pd.array([27865, 27865, 27694, 27694], dtype="Int64"),
            "weight": [1.0, 3.0, 2.0, 5.0],
            a: pd.array([5, 2, 5, 4], dtype="Int64"),
            b: pd.array([None] * 4, dtype="Int64"),
        }
    )
    t = answer_distribution(df, levels=("total", "area"))
    assert set(t["index_code"]) == {a}
    assert list(zip(t["level"], t["unit_code"], strict=True))[::5] == [
        ("total", "total"),
        ("area", "794"),
        ("area", "800"),
    ]
    assert t["answer_code"].tolist() == [1, 2, 3, 4, 5] * 3
    share = t["share"].to_numpy()
    np.testing.assert_allclose(share[:5], [0, 300 / 11, 0, 500 / 11, 300 / 11], rtol=1e-12)
    np.testing.assert_allclose(share[5:10], [0, 0, 0, 0, 100], rtol=1e-12)
    np.testing.assert_allclose(share[10:], [0, 75, 0, 0, 25], rtol=1e-12)
    assert t["n"].tolist() == [4] * 5 + [1] * 5 + [2] * 5
    # no level asked: an empty table with the columns
    none = answer_distribution(df, inst, levels=())
    assert none.empty and list(none.columns) == list(t.columns)
