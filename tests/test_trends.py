"""Trends across waves: hand-computed changes, comparability breaks, and the 2025 crosswalk."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sipas_analysis import geography
from sipas_analysis.errors import InputError
from sipas_analysis.trends import TREND_COLUMNS, comparability, to_2025_geography, trend_table


def _row(wave, estimate, se, **kw):
    base = {
        "survey": "sipas",
        "wave": wave,
        "instrument": "sipas-2022",
        "level": "total",
        "unit_code": "total",
        "unit_name": "Toàn vùng khảo sát",
        "area_code": pd.NA,
        "boundary_vintage": "pre2025",
        "subgroup": "",
        "index_level": "overall",
        "index_code": "sipas",
        "label_vi": "SIPAS",
        "estimate": estimate,
        "se": se,
        "ci_low": estimate - 2 * se,
        "ci_high": estimate + 2 * se,
        "ci_level": 0.95,
        "n": 500,
        "flag": "ok",
    }
    base.update(kw)
    return base


def test_hand_computed_change_z_and_p():
    # 2023: 75 (se 3), 2024: 80 (se 4): change 5, se sqrt(9 + 16) = 5, z = 1,
    # p = 2 * (1 - Phi(1)) = 0.31731050786291415 (normal: the table has no df column).
    est = pd.DataFrame([_row("2023", 75.0, 3.0), _row("2024", 80.0, 4.0)])
    t = trend_table(est)
    assert list(t.columns[: len(TREND_COLUMNS)]) == TREND_COLUMNS
    assert len(t) == 1
    r = t.iloc[0]
    assert (r.wave_from, r.wave_to) == ("2023", "2024")
    assert r.change == pytest.approx(5.0)
    assert r.se_change == pytest.approx(5.0)
    assert r.p_value == pytest.approx(0.31731050786291415, rel=1e-9)
    assert r.ci_low == pytest.approx(5.0 - 1.959963984540054 * 5.0)
    assert r.ci_high == pytest.approx(5.0 + 1.959963984540054 * 5.0)
    assert bool(r.comparable) and not bool(r.significant)


def test_significant_decline_and_base_wave():
    # 2022: 80 (se 1), 2023: 82 (se 1), 2024: 76 (se 1.5).
    # 2023->2024: -6 / sqrt(1 + 2.25) = -3.3282 -> p = 0.000874; base 2022->2024: -4 / 1.8028
    est = pd.DataFrame([_row("2022", 80.0, 1.0), _row("2023", 82.0, 1.0), _row("2024", 76.0, 1.5)])
    t = trend_table(est, base_wave="2022")
    cons = t[t.comparison == "consecutive"].set_index("wave_to")
    assert cons.loc["2024", "change"] == pytest.approx(-6.0)
    z = -6.0 / math.sqrt(3.25)
    assert cons.loc["2024", "p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
    assert bool(cons.loc["2024", "significant"])
    base = t[t.comparison == "base"].set_index("wave_to")
    assert base.loc["2024", "wave_from"] == "2022"
    assert base.loc["2024", "se_change"] == pytest.approx(math.sqrt(1 + 2.25))
    assert base.loc["2024", "change"] == pytest.approx(-4.0)


def test_instrument_break_is_never_bridged():
    est = pd.DataFrame(
        [
            _row("2021", 84.0, 1.0, instrument="sipas-2017"),
            _row("2022", 70.0, 1.0, instrument="sipas-2022"),
        ]
    )
    r = trend_table(est).iloc[0]
    assert not bool(r.comparable)
    assert not bool(r.significant)  # a 14-point jump with se 1.4 is NOT claimed
    assert all(np.isnan([r.change, r.se_change, r.ci_low, r.ci_high, r.p_value]))
    assert "sipas-2017" in r.break_reason_vi
    assert (r.estimate_from, r.estimate_to) == (84.0, 70.0)  # both values still shown


@pytest.mark.parametrize(
    "y0, y1, i0, i1, code, ok",
    [
        ("2015", "2016", "papi-2011", "papi-2011", "d1", False),  # 2016: D1 rebuilt
        ("2015", "2016", "papi-2011", "papi-2011", "d1_2", False),  # ... and its children
        ("2015", "2016", "papi-2011", "papi-2011", "d2", True),  # D2 not rebuilt in 2016
        ("2015", "2016", "papi-2011", "papi-2011", "papi", False),  # the total contains D1
        ("2017", "2018", "papi-2011", "papi-2018", "d2", False),  # 6 -> 8 dimensions
        ("2014", "2019", "papi-2011", "papi-2018", "d4", False),  # a long span crosses too
        ("2018", "2019", "papi-2018", "papi-2018", "d1", True),
        ("2016", "2017", "papi-2011", "papi-2011", "d1", True),
    ],
)
def test_papi_year_breaks(y0, y1, i0, i1, code, ok):
    got, why = comparability("papi", code, y0, y1, i0, i1, "pre2025", "pre2025")
    assert got is ok
    assert (why == "") is ok


def test_papi_break_in_a_table():
    rows = [
        _row(str(y), v, 0.3, survey="papi", instrument=i, index_code="d1", index_level="dimension")
        for y, v, i in [
            (2015, 5.0, "papi-2011"),
            (2016, 4.0, "papi-2011"),
            (2017, 4.2, "papi-2011"),
        ]
    ] + [_row("2018", 4.5, 0.3, survey="papi", instrument="papi-2018", index_code="d1")]
    t = trend_table(pd.DataFrame(rows)).set_index("wave_to")
    assert t["comparable"].to_dict() == {"2016": False, "2017": True, "2018": False}
    assert t.loc["2017", "change"] == pytest.approx(0.2)
    assert t["significant"].sum() == 0


def test_geography_break_and_reexpressed_pairing():
    kw = {"level": "area", "unit_code": "802", "unit_name": "Huyện Đức Hòa"}
    rows = [
        _row("2024", 80.0, 2.0, **kw),
        _row("2024", 81.0, 2.0, boundary_vintage="2025", **kw),  # 2024 re-expressed
        _row("2025", 86.0, 1.0, boundary_vintage="2025", **kw),
    ]
    t = trend_table(pd.DataFrame(rows))
    assert len(t) == 1
    r = t.iloc[0]
    assert bool(r.comparable) and r.estimate_from == 81.0  # paired with the same vintage
    # without the re-expressed row the pair crosses the geography change
    t2 = trend_table(pd.DataFrame([rows[0], rows[2]]))
    assert not bool(t2.iloc[0].comparable)
    assert "2025" in t2.iloc[0].break_reason_vi


def test_suppressed_end_gives_no_change():
    est = pd.DataFrame([_row("2023", 75.0, 3.0), _row("2024", 10.0, 9.0, n=6, flag="suppressed")])
    r = trend_table(est).iloc[0]
    assert np.isnan(r.estimate_to) and np.isnan(r.change) and not bool(r.significant)


def test_duplicate_rows_rejected():
    est = pd.DataFrame([_row("2023", 75.0, 3.0), _row("2023", 76.0, 3.0)])
    with pytest.raises(InputError):
        trend_table(est)


# --------------------------------------------------------------------------------------------
# re-expression on the 2025 communes
# --------------------------------------------------------------------------------------------


def _pre2025_wave(seed=3):
    rng = np.random.default_rng(seed)
    com = geography.communes("pre2025")
    codes = rng.choice(com["commune_code"].to_numpy(), size=400)
    codes[:15] = 27967  # make sure the split commune is there
    area = dict(zip(com.commune_code, com.area_code, strict=True))
    return pd.DataFrame(
        {
            "respondent_id": [f"R{i}" for i in range(400)],
            "commune_code": codes,
            "area_code": [area[c] for c in codes],
            "stratum": [str(area[c]) for c in codes],
            "psu": [f"{c}-1" for c in codes],
            "boundary_vintage": "pre2025",
            "weight": rng.uniform(20, 300, 400),
            "q1": rng.integers(1, 6, 400),
        }
    )


def test_crosswalk_preserves_total_and_area_weighted_counts():
    wave = _pre2025_wave()
    before = wave.copy()
    out = to_2025_geography(wave)
    pd.testing.assert_frame_equal(wave, before)  # input not modified
    assert out["weight"].sum() == pytest.approx(wave["weight"].sum(), rel=1e-12)
    by_area_before = wave.groupby("area_code")["weight"].sum()
    by_area_after = out.groupby("area_code")["weight"].sum()
    pd.testing.assert_series_equal(by_area_before, by_area_after, rtol=1e-12)
    assert set(out["commune_code"]) <= set(geography.communes("2025")["commune_code"])
    assert (out["boundary_vintage"] == "2025").all()
    # the split commune: every respondent twice, weights times the shares (which sum to 1)
    n_split = int((wave.commune_code == 27967).sum())
    split = out[out["old_commune_code"] == 27967]
    assert n_split >= 15 and len(split) == 2 * n_split
    assert sorted(split["commune_code"].unique()) == [27964, 27976]
    shares = dict(geography.successor(27967))
    w0 = wave.loc[wave.commune_code == 27967, "weight"].to_numpy()
    for new_code, s in shares.items():
        got = split.loc[split.commune_code == new_code, "weight"].to_numpy()
        np.testing.assert_allclose(got, w0 * s)
    # full merges: one row each, weight unchanged
    assert len(out) == len(wave) + n_split


def test_crosswalk_hand_example():
    r = pd.DataFrame({"commune_code": [27694, 27688, 27967], "weight": [10.0, 5.0, 8.0]})
    out = to_2025_geography(r, vintage=None)
    # Phường 1 (27694) and Phường 2 (27688) both go to Phường Long An (27694)
    got = out.groupby("commune_code")["weight"].sum().to_dict()
    s = dict(geography.successor(27967))
    assert got == pytest.approx({27694: 15.0, 27964: 8.0 * s[27964], 27976: 8.0 * s[27976]})


def test_crosswalk_rejects_unknown_commune():
    r = pd.DataFrame({"commune_code": [27694, 12345], "weight": [1.0, 1.0], "source_row": [2, 3]})
    with pytest.raises(InputError) as err:
        to_2025_geography(r)
    assert err.value.rows == [3] and err.value.values == [12345]
