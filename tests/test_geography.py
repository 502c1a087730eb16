"""Geography against the official facts (GSO codes, Resolution 1682/NQ-UBTVQH15), written in here."""

from __future__ import annotations

import unicodedata

import pandas as pd
import pytest

from sipas_analysis import geography as g
from sipas_analysis.errors import SipasError
from sipas_analysis.paths import REFERENCE_DIR

# Old commune -> new commune(s), from the conversion table of Resolution 1682/NQ-UBTVQH15
# (data/reference/crosswalk_2025.csv), the 60 units of the four areas.
CROSSWALK = {27685: 27694, 27688: 27694, 27691: 27694, 27692: 27715, 27694: 27694, 27697: 27694,
             27698: 27712, 27700: 27694, 27703: 27694, 27706: 27712, 27709: 27715, 27712: 27712,
             27715: 27715, 27718: 27712, 27787: 27787, 27788: 27787, 27790: 27793, 27793: 27793,
             27796: 27793, 27799: 27793, 27802: 27811, 27805: 27817, 27806: 27787, 27808: 27811,
             27811: 27811, 27814: 27823, 27817: 27817, 27820: 27823, 27823: 27823, 27865: 27865,
             27868: 27868, 27871: 27868, 27874: 27877, 27877: 27877, 27880: 27877, 27883: 27889,
             27886: 27865, 27889: 27889, 27892: 27889, 27895: 27865, 27931: 27931, 27934: 27952,
             27937: 27937, 27940: 27943, 27943: 27943, 27946: 27943, 27949: 27931, 27952: 27952,
             27955: 27931, 27958: 27964, 27961: 27952, 27964: 27964, 27967: (27964, 27976),
             27970: 27979, 27973: 27979, 27976: 27976, 27979: 27979, 27982: 27976, 27985: 27937,
             27988: 27937}  # fmt: skip

# The 19 new communes/wards (GSO Công văn 1027/CTK-CSCL).
NEW_COMMUNES = {27817: "Xã Tuyên Thạnh", 27793: "Xã Bình Hiệp", 27811: "Xã Bình Hòa",
                27823: "Xã Mộc Hóa", 27868: "Xã Bình Thành", 27877: "Xã Thạnh Phước",
                27865: "Xã Thạnh Hóa", 27889: "Xã Tân Tây", 27943: "Xã An Ninh",
                27952: "Xã Hiệp Hòa", 27931: "Xã Hậu Nghĩa", 27979: "Xã Hòa Khánh",
                27964: "Xã Đức Lập", 27976: "Xã Mỹ Hạnh", 27937: "Xã Đức Hòa",
                27787: "Phường Kiến Tường", 27694: "Phường Long An", 27712: "Phường Tân An",
                27715: "Phường Khánh Hậu"}  # fmt: skip


def test_sixty_pre2025_communes_in_four_areas():
    old = g.communes("pre2025")
    assert len(old) == 60
    assert old["commune_code"].is_unique
    assert set(old["commune_code"]) == set(CROSSWALK)
    # GSO list: Tân An 14 (incl. Phường 2), Mộc Hóa 7 + Kiến Tường 8, Thạnh Hóa 11, Đức Hòa 20.
    assert old.groupby("area_code").size().to_dict() == {794: 14, 798: 15, 800: 11, 802: 20}
    assert (old["district_code"] == 795).sum() == 8


def test_phuong_2_tan_an_is_abolished_and_kept():
    old = g.communes("pre2025").set_index("commune_code")
    assert old.loc[27688, "commune_name"] == "Phường 2"
    assert old.loc[27688, "status"] == "abolished"
    assert (old["status"] == "active").sum() == 59


def test_nineteen_new_communes():
    new = g.communes("2025")
    assert dict(zip(new["commune_code"], new["commune_name"], strict=True)) == NEW_COMMUNES
    assert new.groupby("area_code").size().to_dict() == {794: 3, 798: 5, 800: 4, 802: 7}


def test_every_old_commune_crosswalk():
    for old_code, expected in CROSSWALK.items():
        got = [new for new, _ in g.successor(old_code)]
        want = list(expected) if isinstance(expected, tuple) else [expected]
        assert sorted(got) == sorted(want), old_code
    cw = g.crosswalk()
    assert cw.groupby("old_code")["share"].sum().eq(1.0).all()
    split = cw[cw["old_code"] == 27967]
    assert set(split["merge_type"]) == {"partial"}


def test_census_population_2019():
    old = g.communes("pre2025").set_index("commune_code")
    # GSO 2019 census: Phường 5 of Tân An 12,269 (all urban); Xã Đức Hòa Thượng 18,788.
    assert old.loc[27685, ["pop_2019_total", "pop_2019_urban", "pop_2019_rural"]].tolist() == [
        12269,
        12269,
        0,
    ]
    assert old.loc[27967, "pop_2019_total"] == 18788
    assert (old["pop_2019_urban"] + old["pop_2019_rural"] == old["pop_2019_total"]).all()
    # Population is preserved by the crosswalk (shares sum to one).
    assert g.communes("2025")["pop_2019_total"].sum() == pytest.approx(old["pop_2019_total"].sum())


def test_area_and_name_lookups():
    assert g.area_of(27967) == 802
    assert g.commune_name(27877, "pre2025") == "Xã Thạnh Phú"
    assert g.commune_name(27877, "2025") == "Xã Thạnh Phước"  # reused code: vintage matters
    assert g.area_of(27787, "pre2025") == 798  # Kiến Tường counts in the Mộc Hóa area
    with pytest.raises(SipasError, match="27999"):
        g.commune_name(27999)
    with pytest.raises(SipasError, match="vintage"):
        g.communes("2019")


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Xã Đức Hòa Thượng", 27967),
        ("xã  đức hoà thượng ", 27967),  # old tone style, case, spaces
        ("Đức Hòa Thượng", 27967),  # no prefix
        ("X\u0061\u0303 \u0110\u01b0\u0301c Ho\u0300a Th\u01b0\u01a1\u0323ng", 27967),  # NFD
        ("TT. Hiệp Hòa", 27934),
        ("Thị trấn Hiệp Hoà", 27934),
        ("Xã Thuỷ Tây", 27886),
        (27937, 27937),
        ("27937", 27937),
    ],
)
def test_resolve_names_robustly(raw, expected):
    out = g.resolve_communes([raw], "pre2025")
    assert out["status"].tolist() == ["ok"]
    assert out["commune_code"].tolist() == [expected]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Hoà", "Hòa"),
        ("Thuỷ Tây", "Thủy Tây"),
        ("Khoẻ", "Khỏe"),
        ("Thuận Bình", "Thuận Bình"),  # circumflex + dot below: not an old-style tone
        ("Hoặc", "Hoặc"),
        ("Hoàng", "Hoàng"),  # tone inside a closed syllable stays
        ("Quý", "Quý"),
        ("Nguyễn", "Nguyễn"),
    ],
)
def test_normalize_name_tone_style(raw, expected):
    assert g.normalize_name(raw) == expected
    assert g.normalize_name(unicodedata.normalize("NFD", raw)) == expected


def test_official_names_unchanged_by_normalisation():
    raw = pd.read_csv(REFERENCE_DIR / "communes_pre2025.csv")
    for name in raw["commune_name"]:
        assert g.normalize_name(name) == unicodedata.normalize("NFC", name)


def test_resolve_ambiguous_unknown_and_area_hint():
    out = g.resolve_communes(["Phường 1", "Phường 1", "Xã Không Có", None, 99999], "pre2025",
                             area_codes=[None, 798, None, None, None])  # fmt: skip
    assert out["status"].tolist() == ["ambiguous", "ok", "unknown", "unknown", "unknown"]
    assert out["commune_code"].iloc[1] == 27787
    assert set(out["candidates"].iloc[0].split(";")) == {"27694", "27787"}
    # A pre-2025 name is unknown in the 2025 vintage; the new name is known.
    new = g.resolve_communes(["Xã Thạnh Phú", "Xã Thạnh Phước"], "2025")
    assert new["status"].tolist() == ["unknown", "ok"]


def test_functions_do_not_share_state():
    a = g.communes("pre2025")
    a.loc[:, "commune_name"] = "x"
    assert g.communes("pre2025")["commune_name"].iloc[0] != "x"
    assert isinstance(g.crosswalk(), pd.DataFrame)
