"""Rules of sipas_analysis.highlights on small hand-made tables (expected values by hand)."""

from __future__ import annotations

import pandas as pd

from sipas_analysis import highlights


def _est(rows):
    base = {"survey": "sipas", "subgroup": "", "instrument": "sipas-2022", "flag": "ok",
            "level": "area", "unit_name": "Huyện Thạnh Hóa", "index_level": "element"}  # fmt: skip
    return pd.DataFrame([{**base, **r} for r in rows])


def test_persistent_weakness_needs_three_waves_of_one_questionnaire():
    rows = []
    lows = {"2022": "cong_chuc", "2023": "cong_chuc", "2024": "tthc", "2025": "cong_chuc"}
    for wave, low in lows.items():
        for code in ("cong_chuc", "tthc", "pakn"):
            rows.append({"wave": wave, "unit_code": "800", "index_code": code, "label_vi": code,
                         "estimate": 70.0 if code == low else 85.0})  # fmt: skip
    got = highlights.persistent_weaknesses(_est(rows), ["800"])
    assert got[["index_code", "waves", "n_lowest", "n_waves"]].values.tolist() == [
        ["cong_chuc", "2022, 2023, 2025", 3, 4]
    ]
    # only two waves up to 2023: not persistent
    assert highlights.persistent_weaknesses(_est(rows), ["800"], up_to="2023").empty


def test_scorecard_status_from_targets_and_suppression():
    est = _est([
        {"wave": "2025", "unit_code": "total", "index_code": "dv_tthc_2", "label_vi": "x",
         "estimate": 91.0, "ci_low": 88.0, "ci_high": 93.0, "level": "total"},
        {"wave": "2025", "unit_code": "total", "index_code": "nt_tre_hen", "label_vi": "y",
         "estimate": 60.0, "ci_low": 55.0, "ci_high": 65.0, "level": "total"},
        {"wave": "2025", "unit_code": "total", "index_code": "pakn", "label_vi": "z",
         "estimate": 50.0, "ci_low": 20.0, "ci_high": 80.0, "level": "total", "flag": "suppressed"},
    ])  # fmt: skip
    targets = pd.DataFrame({"survey": ["sipas", "sipas", "sipas"],
                            "index_code": ["dv_tthc_2", "nt_tre_hen", "pakn"],
                            "target": [90, 61, 10], "is_example": ["true", "false", "true"]})  # fmt: skip
    sc = highlights.directive_scorecard({"estimates": est}, "total", "2025", targets=targets)
    by = sc.set_index("index_code")
    assert by.loc["dv_tthc_2", "status"] == "dat" and bool(by.loc["dv_tthc_2", "target_is_example"])
    assert by.loc["nt_tre_hen", "status"] == "chua_dat"
    assert pd.isna(by.loc["pakn", "value"]) and by.loc["pakn", "status"] == "khong_co_so_lieu"
    assert sc.loc[sc["task_code"] == "mot_cua", "status"].tolist() == ["khong_do"]
    none = highlights.directive_scorecard({"estimates": est}, "total", "2025")
    assert none.set_index("index_code").loc["dv_tthc_2", "status"] == "chua_co_chi_tieu"


def test_split_findings_keeps_descriptive_reasons_apart():
    f = pd.DataFrame({
        "wave": ["2025"] * 3, "unit_code": ["800", "800", "total"], "priority": [1, 2, 3],
        "reason_codes": ["below_rest; lowest_ranked", "lowest_ranked", "ipa_priority"],
        "flag": ["ok", "ok", "ok"],
    })  # fmt: skip
    sig, watch = highlights.split_findings(f, "2025")
    assert sig["priority"].tolist() == [1] and watch["priority"].tolist() == [2, 3]


def test_after_the_reorganisation_an_area_is_not_the_owner():
    old = highlights.owners_for("cong_chuc", level="area", unit_name="Huyện Thạnh Hóa", wave="2024")
    new = highlights.owners_for("cong_chuc", level="area", unit_name="Huyện Thạnh Hóa", wave="2025")
    assert old.startswith("Ủy ban nhân dân huyện Thạnh Hóa;")
    assert new.startswith("Ủy ban nhân dân các xã, phường trên địa bàn huyện Thạnh Hóa cũ")
    item = highlights.owners_for("dv_cong_chuc_3", parents={"dv_cong_chuc_3": "cong_chuc"},
                                 level="commune", unit_name="Xã Bình Hòa")  # fmt: skip
    assert item == "Ủy ban nhân dân xã Bình Hòa; Sở Nội vụ"


def test_heatmap_references_take_the_target_else_the_survey_area_value():
    est = pd.DataFrame(
        {"survey": "sipas", "wave": "2025", "unit_code": ["total", "total", "800"],
         "index_code": ["tthc", "cong_chuc", "tthc"], "estimate": [84.2, 88.0, 70.0],
         "flag": "ok", "subgroup": ""}
    )  # fmt: skip
    targets = pd.DataFrame(
        {"survey": ["sipas"], "index_code": ["cong_chuc"], "target": [90.0], "year": [2025],
         "unit_code": pd.array([pd.NA], dtype="string"), "is_example": ["true"]}
    )  # fmt: skip
    refs = highlights.heatmap_references(est, "2025", ["tthc", "cong_chuc", "khac"], targets)
    assert refs["index_code"].tolist() == ["tthc", "cong_chuc", "khac"]
    assert refs["reference"].tolist()[:2] == [84.2, 90.0] and pd.isna(refs["reference"].iloc[2])
    assert refs["source"].tolist() == ["area", "target_example", "area"]
    no_targets = highlights.heatmap_references(est, "2025", ["cong_chuc"], None)
    assert no_targets["reference"].tolist() == [88.0]
    # the band rule: ±2 points around the reference are "near", both ends included
    bands = highlights.reference_bands([86.2, 86.3, 92.0, 92.1], [84.2, 84.2, 90.0, 90.0])
    assert bands.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_heatmap_note_names_the_reference_and_whether_targets_are_examples():
    from sipas_analysis import briefs

    est = pd.DataFrame(
        {"survey": "sipas", "wave": "2025", "unit_code": "total",
         "index_code": ["tthc", "cong_chuc"], "estimate": [84.2, 88.0], "flag": "ok",
         "subgroup": ""}
    )  # fmt: skip
    _, name, note = briefs.heatmap_reference(est, "2025", ["tthc"], None)
    assert name == "giá trị toàn vùng"
    assert "toàn vùng khảo sát năm 2025 (không có tệp chỉ tiêu)" in note
    targets = pd.DataFrame(
        {"survey": ["sipas"], "index_code": ["cong_chuc"], "target": [90.0],
         "is_example": ["true"]}
    )  # fmt: skip
    targets.attrs["source"] = "targets_example.csv"
    refs, name, note = briefs.heatmap_reference(est, "2025", ["tthc", "cong_chuc"], targets)
    assert refs["reference"].tolist() == [84.2, 90.0]
    assert "chỉ tiêu trong tệp targets_example.csv (giá trị ví dụ" in note
    assert "cột không có chỉ tiêu: giá trị của toàn vùng khảo sát năm 2025" in note


def test_bright_spots_of_communes_need_their_commune_selected_across_the_communes():
    """A commune's improvement is a bright spot only when the changes of all the communes are
    taken together (two stages): commune A's headline change (p = 0.0001) is selected among
    the two communes, B's (p = 0.3) is not, so B's element rising with p = 0.001 is not named,
    while A's is (stage 2 at 0.025 * 1/2). An area's own headline change rests on its test."""
    base = {"survey": "sipas", "wave_from": "2024", "wave_to": "2025", "subgroup": "",
            "comparison": "consecutive", "comparable": True, "geography": None,
            "flag_from": "ok", "flag_to": "ok", "level": "commune", "significant": True,
            "change": 6.0}  # fmt: skip
    rows = [
        {**base, "unit_code": "A", "index_level": "overall", "index_code": "sipas", "p_value": 1e-4},
        {**base, "unit_code": "A", "index_level": "element", "index_code": "tthc", "p_value": 1e-3},
        {**base, "unit_code": "B", "index_level": "overall", "index_code": "sipas", "p_value": 0.3,
         "significant": False},
        {**base, "unit_code": "B", "index_level": "element", "index_code": "tthc", "p_value": 1e-3},
        {**base, "unit_code": "800", "level": "area", "index_level": "overall",
         "index_code": "sipas", "p_value": 0.04},
    ]  # fmt: skip
    trends = pd.DataFrame(rows)
    got = highlights.bright_spots({"trends": trends}, "2025", ["A", "B", "800"])
    assert sorted(zip(got["unit_code"], got["index_code"], strict=True)) == [
        ("800", "sipas"),
        ("A", "sipas"),
        ("A", "tthc"),
    ]
