"""Instrument definitions against official facts, and the loader's validation of malformed files.

Expected counts are written here from official documents (QĐ 2640/QĐ-BNV, the
2022 SIPAS design, the PAPI 2011–2021 structure), never read back from the instrument files. The
PAPI checks also read the official 2019 provincial workbook (rebuilt from data/reference).
"""

from __future__ import annotations

import copy
import re
import unicodedata

import pytest
import yaml

from sipas_analysis.errors import ConfigError, SipasError
from sipas_analysis.instruments import INSTRUMENTS_DIR, list_instruments, load_instrument

BUNDLED = ["papi-2011", "papi-2018", "sipas-2017", "sipas-2022"]

# QĐ 2640/QĐ-BNV: 5 elements, 22 criteria (official count).
SIPAS_2017_ELEMENTS = {"tiep_can": 4, "tthc": 5, "cong_chuc": 6, "ket_qua": 3, "pakn": 4}
# 2022 design of the Ministry (Bộ Nội vụ): policy 14 = 2 + 2 + 8 + 2; service 19 = 4 + 4 + 5 + 3 + 3.
SIPAS_2022_POLICY = {"cs_giai_trinh": 2, "cs_tham_gia": 2, "cs_chat_luong": 8, "cs_ket_qua": 2}
SIPAS_2022_SERVICE = {"tiep_can": 4, "tthc": 4, "cong_chuc": 5, "ket_qua": 3, "pakn": 3}
# PAPI sub-dimensions per dimension (K) by year (the official PAPI reports, papi.org.vn).
PAPI_K_2018 = {"d1": 4, "d2": 4, "d3": 3, "d4": 4, "d5": 4, "d6": 4, "d7": 3, "d8": 2}
PAPI_K_2019 = {**PAPI_K_2018, "d8": 3}
PAPI_K_2021 = {**PAPI_K_2019, "d5": 3}
PAPI_K_2011 = {"d1": 4, "d2": 3, "d3": 3, "d4": 4, "d5": 4, "d6": 4}
# 2019 dimension weights at the precision the published weighted totals imply (the report prints
# them to 4 decimals: 0.5106, 1.5757, 0.5286, 2.0286, 0.7674, 1.1812, 1.3308, 0.2000).
PAPI_WEIGHTS_2019 = {"d1": 0.510643, "d2": 1.575735, "d3": 0.528648, "d4": 2.028576,
                     "d5": 0.767441, "d6": 1.18121, "d7": 1.330814, "d8": 0.2}  # fmt: skip


@pytest.fixture(scope="module")
def inst():
    return {name: load_instrument(name) for name in BUNDLED}


def only_instrument_command(monkeypatch):
    """The CLI module, with only ``instrument`` registered (independent of other sub-commands)."""
    from sipas_analysis import cli

    monkeypatch.setattr(cli, "COMMANDS", {"instrument": cli.COMMANDS["instrument"]})
    return cli


# ------------------------------------------------------------------------------------------
# Every bundled file loads; general properties
# ------------------------------------------------------------------------------------------


def test_bundled_instruments_listed_and_load(inst):
    assert set(BUNDLED) <= set(list_instruments())
    for name in list_instruments():
        loaded = load_instrument(name)
        assert loaded.name == name
        assert loaded.survey in ("sipas", "papi")
        assert loaded.path.name == f"{name}.yaml"


@pytest.mark.parametrize("name", BUNDLED)
def test_files_are_nfc_and_labels_vietnamese(name):
    text = (INSTRUMENTS_DIR / f"{name}.yaml").read_text(encoding="utf-8")
    assert unicodedata.is_normalized("NFC", text)
    loaded = load_instrument(name)
    for frame in (loaded.nodes, loaded.items):
        for label in frame["label_vi"]:
            assert unicodedata.is_normalized("NFC", label)
            assert label == label.strip() and label
        for code in frame["code"]:
            assert re.fullmatch(r"[a-z][a-z0-9_]*", code)


def test_vietnamese_labels_spelled_as_official():
    s17 = load_instrument("sipas-2017")
    labels = dict(zip(s17.nodes["code"], s17.nodes["label_vi"], strict=True))
    assert labels["tiep_can"] == "Tiếp cận dịch vụ hành chính công"
    assert labels["cong_chuc"] == "Công chức trực tiếp giải quyết công việc"
    p18 = load_instrument("papi-2018")
    dims = dict(zip(p18.nodes["code"], p18.nodes["label_vi"], strict=True))
    assert dims["d4"] == "Kiểm soát tham nhũng trong khu vực công"
    assert dims["d7_2"] == "Chất lượng không khí"


def test_satisfied_defined_once_as_top_box(inst):
    for name in ("sipas-2017", "sipas-2022"):
        sat = inst[name].satisfaction_items()
        assert inst[name].scales["likert5"].top_box == (4, 5)
        assert set(sat["scale"]) == {"likert5"}
        assert all(tb == (4, 5) for tb in sat["top_box"])
        assert all(m == (98, 99) for m in sat["missing_codes"])
        assert inst[name].value_labels(sat["code"].iloc[0])[98] == "Không biết"
    # the rule is written once per file (in the scale), not per item
    text = (INSTRUMENTS_DIR / "sipas-2022.yaml").read_text(encoding="utf-8")
    assert text.count("top_box: [4, 5]") == 1


# ------------------------------------------------------------------------------------------
# SIPAS
# ------------------------------------------------------------------------------------------


def test_sipas_2017_has_22_criteria_in_5_elements(inst):
    s = inst["sipas-2017"]
    elements = s.nodes_at("element")
    assert elements["code"].tolist() == list(SIPAS_2017_ELEMENTS)
    counts = {e: len(s.items_of(e, role="satisfaction")) for e in elements["code"]}
    assert counts == SIPAS_2017_ELEMENTS
    assert len(s.satisfaction_items()) == 22


def test_sipas_2022_parts_elements_and_counts(inst):
    s = inst["sipas-2022"]
    assert s.nodes_at("part")["code"].tolist() == ["chinh_sach", "dich_vu"]
    assert len(s.satisfaction_items()) == 33
    assert len(s.items_of("chinh_sach", role="satisfaction")) == 14
    assert len(s.items_of("dich_vu", role="satisfaction")) == 19
    assert s.children("chinh_sach")["code"].tolist() == list(SIPAS_2022_POLICY)
    assert s.children("dich_vu")["code"].tolist() == list(SIPAS_2022_SERVICE)
    for element, n in {**SIPAS_2022_POLICY, **SIPAS_2022_SERVICE}.items():
        assert len(s.items_of(element, role="satisfaction")) == n, element


def test_sipas_2022_expectation_perception_and_filters(inst):
    s = inst["sipas-2022"]
    items = s.items.set_index("code")
    expectation = items[items["role"] == "expectation"]
    assert len(expectation) == 10
    assert all(tb == (1, 2) for tb in expectation["top_box"])  # rất nhiều / nhiều
    # the 10th item is not in the replica: it must be marked, not silently invented
    assert (expectation["confidence"] == "reconstructed").sum() == 1
    perception = items[items["role"] == "perception"]
    assert len(perception) >= 2
    assert set(perception["answer_type"]) <= {"yes_no", "three_level"}
    assert all(tb is not None for tb in perception["top_box"])
    # every conditional item points to a filter item and to codes that item has
    conditional = items[items["filter_item"].notna()]
    assert len(conditional) >= 19
    for code, row in conditional.iterrows():
        target = items.loc[row["filter_item"]]
        assert target["role"] == "filter", code
        assert set(row["filter_values"]) <= set(target["valid_codes"])
    service = s.items_of("dich_vu", role="satisfaction")
    assert service["filter_item"].notna().all()
    assert items.loc["dv_tiep_can_1", "filter_item"] == "tn_tthc"


@pytest.mark.parametrize("name", ["sipas-2017", "sipas-2022"])
def test_every_sipas_criterion_and_element_has_a_short_label(inst, name):
    """Charts and tables of the briefs print ``label_short_vi``: each one set, short, unique."""
    s = inst[name]
    items = s.items[s.items["role"].isin(["satisfaction", "perception"])]
    nodes = s.nodes[s.nodes["level"].isin(["part", "element"])]
    for frame in (items, nodes):
        for code, long, short in zip(
            frame["code"], frame["label_vi"], frame["label_short_vi"], strict=True
        ):
            assert isinstance(short, str) and short.strip(), (name, code)
            assert len(short) <= 40, (name, code, short)
            assert len(short) < len(long) or short == long, (name, code)
            assert "(" not in short, (name, code, short)  # no parenthesis of the form
    shorts = list(items["label_short_vi"])
    assert len(shorts) == len(set(shorts)), name


def test_perception_short_labels_state_the_direction_of_the_value(inst):
    """A perception item's value is the share giving its top-box answer; the short label says
    that answer, not the question (the form asks "phải đi lại nhiều lần?", the value is "Không")."""
    s = inst["sipas-2022"]
    items = s.items.set_index("code")
    # written from the form's questions and their positive answers
    expected = {
        "nt_di_lai_nhieu_lan": ("một lần", "nhiều lần"),
        "nt_tre_hen": ("không trễ hẹn", None),
        "nt_phien_ha": ("không có công chức gây phiền hà", None),
        "nt_tien_ngoai": ("không phải đưa tiền", None),
    }
    for code, (must, must_not) in expected.items():
        short = items.loc[code, "label_short_vi"].lower()
        assert must in short, (code, short)
        if must_not:
            assert must_not not in short, (code, short)
        assert short != items.loc[code, "label_vi"].lower(), code


def test_items_of_and_children():
    s = load_instrument("sipas-2022")
    assert s.children(None)["code"].tolist()[:2] == ["chinh_sach", "dich_vu"]
    assert s.items_of("tiep_can")["code"].tolist() == [f"dv_tiep_can_{i}" for i in range(1, 5)]
    assert s.item_codes()[0] == s.items["code"].iloc[0]
    with pytest.raises(SipasError, match="unknown node 'nope'"):
        s.items_of("nope")
    with pytest.raises(SipasError, match="unknown level"):
        s.nodes_at("dimension")


# ------------------------------------------------------------------------------------------
# PAPI
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "k"),
    [(2018, PAPI_K_2018), (2019, PAPI_K_2019), (2020, PAPI_K_2019), (2021, PAPI_K_2021)],
)
def test_papi_2018_structure_by_year(inst, year, k):
    p = inst["papi-2018"]
    dims = p.nodes_at("dimension", year)
    assert dims["code"].tolist() == [f"d{i}" for i in range(1, 9)]
    subs = p.nodes_at("subdimension", year)
    assert len(subs) == sum(k.values())  # 28, 29, 29, 28
    assert subs.groupby("parent").size().to_dict() == k
    # sub-dimension ranges 1/K ... 10/K, K from the official structure of that year
    for row in subs.itertuples():
        assert row.score_min == pytest.approx(1 / k[row.parent])
        assert row.score_max == pytest.approx(10 / k[row.parent])
    assert (dims["score_min"] == 1).all() and (dims["score_max"] == 10).all()


def test_papi_2018_subdimension_counts_named_years(inst):
    p = inst["papi-2018"]
    assert [len(p.nodes_at("subdimension", y)) for y in (2018, 2019, 2021)] == [28, 29, 28]
    assert "d8_3" not in set(p.nodes_at("subdimension", 2018)["code"])
    assert "d5_2" not in set(p.nodes_at("subdimension", 2021)["code"])
    assert p.subdimension_range("d8_1", 2018) == pytest.approx((0.5, 5.0))
    assert p.subdimension_range("d8_1", 2019) == pytest.approx((1 / 3, 10 / 3))


def test_papi_2018_indicators_well_formed(inst):
    p = inst["papi-2018"]
    ind = p.items[p.items["role"] == "indicator"]
    assert (ind["scale_min"] < ind["scale_max"]).all()
    assert set(ind["direction"]) == {"positive", "negative"}
    assert (ind["weight"] >= 0).all()
    # every sub-dimension counts at least one indicator
    for code in p.nodes_at("subdimension")["code"]:
        assert (p.items_of(code, role="indicator")["weight"] > 0).any(), code
    # negative indicators named in docs/methodology.md §3: bribes, crime, power cuts
    by_label = ind.set_index("label_vi")
    crime = by_label[by_label.index.str.contains("nạn nhân của một trong 4 loại tội phạm")]
    assert (crime["direction"] == "negative").all() and len(crime) == 1
    bribes = by_label[by_label.index.str.contains("chung chi")]
    assert len(bribes) == 2 and (bribes["direction"] == "negative").all()
    power = by_label[by_label.index.str.contains("cắt/cúp điện")]
    assert (power["direction"] == "negative").all() and len(power) == 1
    # uncertain scales or directions are tagged, not silent
    assert set(ind["confidence"]) <= {"official", "reproduced", "inferred"}
    assert (ind["confidence"] == "inferred").any()


def _read_workbook_2019(papi_workbook):
    import openpyxl

    path = papi_workbook("2019_PAPI_Provincial_indicators2019_VIE_ENG.xlsx")
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    rows = list(wb["2019PAPI_Indicators_VIE"].iter_rows(values_only=True))
    wb.close()
    return rows


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", " ".join(str(text).split())).rstrip("*").strip()


def test_papi_2018_matches_official_2019_workbook(inst, papi_workbook):
    p = inst["papi-2018"]
    rows = _read_workbook_2019(papi_workbook)
    subs = p.nodes_at("subdimension", 2019).set_index("code")
    ind = p.items[p.items["role"] == "indicator"]
    seen_subs, per_sub = {}, {}
    current = None
    for label, scale, *_ in rows[2:]:
        if not label or str(label).startswith(("Chỉ số", "Phương sai", "Ghi chú")):
            continue
        m = re.match(r"(\d)\.(\d): (.*)", _nfc(label))
        if m:
            current = f"d{m.group(1)}_{m.group(2)}"
            lo, hi = (float(x) for x in re.match(r"([\d.]+)-([\d.]+)", scale).groups())
            seen_subs[current] = (m.group(3).rstrip("*").strip(), lo, hi)
            per_sub[current] = []
        elif current:
            per_sub[current].append(_nfc(label))
    assert set(seen_subs) == set(subs.index)  # the 29 sub-dimensions of 2019
    for code, (label, lo, hi) in seen_subs.items():
        assert subs.loc[code, "label_vi"] == label
        assert round(subs.loc[code, "score_min"], 2) == lo  # e.g. "0.33-3.33 điểm"
        assert round(subs.loc[code, "score_max"], 2) == pytest.approx(hi, abs=0.006)
    for code, labels in per_sub.items():
        ours = ind[ind["parent"] == code]
        assert len(ours) == len(labels), code
    # indicator labels are the official ones (up to obvious typo fixes: missing spaces etc.)
    squash = lambda s: re.sub(r"[^\w]", "", s.replace("đến đến", "đến").replace("lội", "lộ"))  # noqa: E731
    official = {squash(lab) for labels in per_sub.values() for lab in labels}
    assert {squash(lab) for lab in ind["label_vi"]} <= official


def test_papi_dimension_weights_reproduce_weighted_papi_2019(inst, papi_workbook):
    p = inst["papi-2018"]
    assert p.dimension_weights[2019] == PAPI_WEIGHTS_2019
    rows = _read_workbook_2019(papi_workbook)
    weighted = [r for r in rows if str(r[0]).startswith("Chỉ số PAPI tổng hợp (có trọng số)")][0]
    dims = {}
    for r in rows:
        m = re.match(r"Chỉ số nội dung (\d):", str(r[0]))
        if m:
            dims[f"d{m.group(1)}"] = r[2:]
    for j in range(63):
        total = sum(w * dims[d][j] for d, w in p.dimension_weights[2019].items())
        assert total == pytest.approx(weighted[2 + j], abs=2e-3)


def test_papi_2011_structure(inst):
    p = inst["papi-2011"]
    assert p.structure_only and p.items.empty
    assert p.nodes_at("dimension")["code"].tolist() == [f"d{i}" for i in range(1, 7)]
    subs = p.nodes_at("subdimension", 2011)
    assert len(subs) == 22
    assert subs.groupby("parent").size().to_dict() == PAPI_K_2011
    assert len(p.nodes_at("subdimension", 2017)) == 22
    # original 2011 names, not the 2018 names printed over old values
    assert subs.set_index("code").loc["d2_1", "label_vi"] == "Danh sách hộ nghèo"
    assert subs.set_index("code").loc["d3_2", "label_vi"] == "Ban thanh tra nhân dân"
    later = p.nodes_at("subdimension", 2016).set_index("code")
    assert later.loc["d3_2", "label_vi"] == "Đáp ứng kiến nghị của người dân"
    assert later.loc["d2_1", "score_min"] == pytest.approx(1 / 3)


# ------------------------------------------------------------------------------------------
# Malformed definition files: one test per kind of error
# ------------------------------------------------------------------------------------------

LIKERT = {1: "Rất không hài lòng", 2: "Không hài lòng", 3: "Bình thường", 4: "Hài lòng",
          5: "Rất hài lòng"}  # fmt: skip
BASE = {
    "format_version": 1,
    "name": "thu-nghiem",
    "survey": "sipas",
    "label_vi": "Phiếu thử nghiệm",
    "label_en": "Test form",
    "scales": {
        "likert5": {"type": "likert5", "codes": LIKERT, "top_box": [4, 5]},
        "yes_no": {"type": "yes_no", "codes": {1: "Có", 2: "Không"}},
    },
    "nodes": [
        {"code": "tiep_can", "level": "element", "label_vi": "Tiếp cận", "label_en": "Access"},
        {"code": "loc", "level": "section", "label_vi": "Câu lọc", "label_en": "Filters"},
    ],
    "items": [
        {"code": "da_lam", "parent": "loc", "role": "filter", "scale": "yes_no",
         "label_vi": "Đã làm thủ tục", "label_en": "Did a procedure"},
        {"code": "tiep_can_1", "parent": "tiep_can", "role": "satisfaction", "scale": "likert5",
         "label_vi": "Nơi ngồi chờ đủ chỗ", "label_en": "Enough seats",
         "filter": {"item": "da_lam", "values": [1]}},
    ],
}  # fmt: skip


def write(tmp_path, data, name="form.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def broken(tmp_path, change):
    data = copy.deepcopy(BASE)
    change(data)
    return write(tmp_path, data)


def test_base_fixture_is_valid(tmp_path):
    loaded = load_instrument(write(tmp_path, BASE))
    assert loaded.item_codes() == ["da_lam", "tiep_can_1"]
    assert loaded.items.set_index("code").loc["tiep_can_1", "filter_values"] == (1,)


def test_error_unknown_parent(tmp_path):
    path = broken(tmp_path, lambda d: d["items"][1].update(parent="tiep_kan"))
    with pytest.raises(ConfigError, match=r"form\.yaml: items\[1\] 'tiep_can_1'.*unknown parent"):
        load_instrument(path)


def test_error_duplicate_code(tmp_path):
    path = broken(tmp_path, lambda d: d["items"].append(copy.deepcopy(d["items"][1])))
    with pytest.raises(ConfigError, match=r"items\[2\] 'tiep_can_1'.*duplicate code"):
        load_instrument(path)


def test_error_element_without_items(tmp_path):
    def change(d):
        d["nodes"].append({"code": "pakn", "level": "element", "label_vi": "PAKN", "label_en": "F"})

    with pytest.raises(ConfigError, match=r"'pakn'.*element has no items"):
        load_instrument(broken(tmp_path, change))


def test_error_unknown_scale(tmp_path):
    path = broken(tmp_path, lambda d: d["items"][1].update(scale="likert7"))
    with pytest.raises(ConfigError, match=r"'tiep_can_1'.*unknown scale 'likert7'"):
        load_instrument(path)


def test_error_valid_and_missing_codes_overlap(tmp_path):
    path = broken(tmp_path, lambda d: d["scales"]["likert5"].update(missing_codes={5: "Khác"}))
    with pytest.raises(ConfigError, match=r"scales\.likert5.*overlap: \[5\]"):
        load_instrument(path)


def test_error_scale_min_not_below_scale_max(tmp_path):
    path = broken(tmp_path, lambda d: d["items"][1].update(scale_min=5, scale_max=1))
    with pytest.raises(ConfigError, match=r"'tiep_can_1'.*scale_min \(5\) must be smaller"):
        load_instrument(path)


def test_error_bad_direction(tmp_path):
    path = broken(tmp_path, lambda d: d["items"][1].update(direction="up"))
    with pytest.raises(ConfigError, match=r"'tiep_can_1'.*bad direction 'up'"):
        load_instrument(path)


def test_error_filter_on_unknown_item(tmp_path):
    path = broken(tmp_path, lambda d: d["items"][1]["filter"].update(item="da_lam_tthc"))
    with pytest.raises(ConfigError, match=r"'tiep_can_1'.*filter: refers to unknown item"):
        load_instrument(path)


def test_error_missing_required_field(tmp_path):
    path = broken(tmp_path, lambda d: d["items"][1].pop("label_vi"))
    with pytest.raises(ConfigError, match=r"'tiep_can_1'.*missing required field 'label_vi'"):
        load_instrument(path)


def test_error_yaml_syntax_names_line(tmp_path):
    path = write(tmp_path, BASE)
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6] + ": [unclosed"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"form\.yaml: YAML syntax error at line \d+"):
        load_instrument(path)


def test_error_duplicate_yaml_key(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("format_version: 1\nname: a\nname: b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"dup\.yaml: line 3: duplicate key 'name'"):
        load_instrument(path)


def test_error_unknown_field_typo(tmp_path):
    path = broken(tmp_path, lambda d: d["items"][1].update(lable_en="x"))
    with pytest.raises(ConfigError, match=r"unknown field\(s\) 'lable_en'"):
        load_instrument(path)


def test_error_code_not_snake_case(tmp_path):
    path = broken(tmp_path, lambda d: d["items"][1].update(code="Tiếp cận 1"))
    with pytest.raises(ConfigError, match=r"must be ASCII snake_case"):
        load_instrument(path)


def test_error_filter_value_not_a_code(tmp_path):
    path = broken(tmp_path, lambda d: d["items"][1]["filter"].update(values=[3]))
    with pytest.raises(ConfigError, match=r"values \[3\] are not valid codes of the filter"):
        load_instrument(path)


def test_error_circular_filters(tmp_path):
    path = broken(
        tmp_path, lambda d: d["items"][0].update(filter={"item": "tiep_can_1", "values": [4]})
    )
    with pytest.raises(ConfigError, match=r"circular filters"):
        load_instrument(path)


def test_error_continuous_missing_code_inside_range(tmp_path):
    def change(d):
        d["scales"]["so_tien"] = {"type": "continuous", "scale_min": 0, "scale_max": 150000}
        d["items"][1].update(scale="so_tien")

    with pytest.raises(ConfigError, match=r"missing codes \[98, 99\] lie inside the continuous"):
        load_instrument(broken(tmp_path, change))


def test_error_unknown_instrument_name():
    with pytest.raises(ConfigError, match=r"unknown instrument 'sipas-1999'"):
        load_instrument("sipas-1999")


def test_error_papi_subdimension_under_wrong_parent(tmp_path):
    data = {
        "format_version": 1, "name": "p", "survey": "papi", "label_vi": "P", "label_en": "P",
        "structure_only": True,
        "nodes": [{"code": "d1", "level": "dimension", "label_vi": "D1", "label_en": "D1"},
                  {"code": "d1_1", "level": "subdimension", "label_vi": "S", "label_en": "S"}],
    }  # fmt: skip
    with pytest.raises(ConfigError, match=r"'d1_1'.*a subdimension needs a parent"):
        load_instrument(write(tmp_path, data))


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------


def test_cli_lists_and_shows_instruments(monkeypatch, capsys):
    cli = only_instrument_command(monkeypatch)
    assert cli.main(["instrument"]) == 0
    assert "sipas-2022" in capsys.readouterr().out
    assert cli.main(["instrument", "sipas-2017"]) == 0
    out = capsys.readouterr().out
    assert "element tiep_can" in out and "satisfaction 22" in out
    assert cli.main(["instrument", "papi-2018", "--year", "2021", "--items"]) == 0
    out = capsys.readouterr().out
    assert "d5_2" not in out and "d8_3" in out


def test_cli_malformed_file_exits_2_without_traceback(monkeypatch, capsys, tmp_path):
    cli = only_instrument_command(monkeypatch)
    path = broken(tmp_path, lambda d: d["items"][1].update(parent="khong_co"))
    assert cli.main(["instrument", str(path)]) == 2
    err = capsys.readouterr().err
    assert "form.yaml" in err and "unknown parent 'khong_co'" in err
    assert "Traceback" not in err
