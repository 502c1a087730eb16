"""Loading survey waves through their config: readers, config checks, the canonical table.

The fixture wave is built here by hand (48 respondents in 8 real pre-2025 communes, 2 villages
each, strata = the 4 areas) and written as csv / xlsx / sav / dta into a temporary folder, so the
expected values below are known without running the loader. Sample-wave tests run on the bundled
``waves/*.yaml`` when they exist.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from sipas_analysis.errors import ConfigError, InputError, SipasError
from sipas_analysis.instruments import load_instrument
from sipas_analysis.paths import SAMPLE_DIR, WAVES_DIR
from sipas_analysis.waves import (
    CANONICAL_FRONT,
    WaveConfig,
    find_config_for,
    is_personal_header,
    load_wave_config,
    read_wave,
)

# ---------------------------------------------------------------------------------------------
# The hand-built fixture wave (shared with test_validate.py)
# ---------------------------------------------------------------------------------------------

#: (official name, GSO code, area) of the fixture communes, pre-2025 vintage.
COMMUNES = [
    ("Xã Bình Tâm", 27712, 794),
    ("Phường Khánh Hậu", 27715, 794),
    ("Xã Bình Hòa Tây", 27796, 798),
    ("Xã Tân Lập", 27820, 798),
    ("Xã Thuận Nghĩa Hòa", 27880, 800),
    ("Thị trấn Thạnh Hóa", 27865, 800),
    ("Xã Đức Hòa Thượng", 27967, 802),
    ("Xã Hựu Thạnh", 27988, 802),
]
#: 2025 vintage: (official name, GSO code, area)
COMMUNES_2025 = [
    ("Phường Tân An", 27712, 794),
    ("Phường Khánh Hậu", 27715, 794),
    ("Xã Bình Hòa", 27811, 798),
    ("Xã Mộc Hóa", 27823, 798),
    ("Xã Thạnh Phước", 27877, 800),
    ("Xã Thạnh Hóa", 27865, 800),
    ("Xã Hòa Khánh", 27979, 802),
    ("Xã Đức Hòa", 27937, 802),
]
ITEMS_2017 = (
    [f"tiep_can_{i}" for i in range(1, 5)]
    + [f"tthc_{i}" for i in range(1, 6)]
    + [f"cong_chuc_{i}" for i in range(1, 7)]
    + [f"ket_qua_{i}" for i in range(1, 4)]
    + ["co_pakn"]
    + [f"pakn_{i}" for i in range(1, 5)]
)
HEADERS = {
    "respondent_id": "Mã phiếu",
    "commune": "Xã/Phường/Thị trấn",
    "village": "Ấp/Khu phố",
    "sex": "Giới tính",
    "age": "Tuổi",
    "urban_rural": "Khu vực",
}
DESIGN = {"weight": "Trọng số", "strata": "Tầng", "psu": "Mã ấp"}
ITEM_HEADERS = {
    code: f"C{k + 1}. Câu hỏi {code.replace('_', ' ')}" for k, code in enumerate(ITEMS_2017)
}
PERSONAL = {"name": "Họ và tên", "phone": "Số điện thoại", "idno": "CCCD"}
N = 48


def base_frame(vintage: str = "pre2025") -> pd.DataFrame:
    """The valid fixture wave as it would sit in a file (Vietnamese headers, codes)."""
    communes = COMMUNES if vintage == "pre2025" else COMMUNES_2025
    rows = []
    for i in range(N):
        c = i // 6  # 6 respondents per commune
        v = (i // 3) % 2 + 1  # 2 villages per commune, 3 respondents each
        name, code, area = communes[c]
        if i % 12 == 1:  # spelling variants that must still resolve
            name = name.lower().replace("hòa", "hoà")
        row = {
            "Mã phiếu": f"P{i + 1:03d}",
            PERSONAL["name"]: f"Nguyễn Văn Bí Mật {i}",
            "Xã/Phường/Thị trấn": name,
            "Ấp/Khu phố": f"Ấp {v}",
            "Mã ấp": f"{code}-{v:02d}",
            "Tầng": area,
            "Trọng số": 1.5 + (i % 4) * 0.25,
            "Giới tính": i % 2 + 1,
            "Tuổi": 18 + (i * 7) % 60,
            "Khu vực": 1 if c % 2 else 2,
            PERSONAL["phone"]: f"09{i:08d}",
            PERSONAL["idno"]: f"0801900{i:05d}",
        }
        for k, item in enumerate(ITEMS_2017):
            row[ITEM_HEADERS[item]] = (i + k) % 5 + 1
        row[ITEM_HEADERS["co_pakn"]] = 1 if i % 2 == 0 else 2
        if i % 2:  # filter says "no feedback given": pakn_2..4 not asked
            for item in ("pakn_2", "pakn_3", "pakn_4"):
                row[ITEM_HEADERS[item]] = np.nan
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame.loc[2, ITEM_HEADERS["tiep_can_2"]] = 98  # row 4 in the file
    frame.loc[6, ITEM_HEADERS["tthc_1"]] = 99  # row 8
    frame.loc[7, ITEM_HEADERS["tthc_1"]] = 98  # row 9
    return frame


def config_dict(file_name: str, vintage: str = "pre2025", **overrides) -> dict:
    cfg = {
        "wave": "2021" if vintage == "pre2025" else "2025",
        "survey": "sipas",
        "instrument": "sipas-2017",
        "boundary_vintage": vintage,
        "fieldwork": {"start": "2021-09-01", "end": "2021-10-15"}
        if vintage == "pre2025"
        else {"start": "2025-09-01", "end": "2025-10-15"},
        "file": file_name,
        "missing_codes": [98, 99],
        "personal_columns": [PERSONAL["name"], PERSONAL["phone"]],
        "columns": {**HEADERS, "commune_code": None},
        "design": {**DESIGN, "fpc": None},
        "items": dict(ITEM_HEADERS),
    }
    cfg.update(overrides)
    return cfg


def write_data(frame: pd.DataFrame, path: Path, encoding: str = "utf-8") -> Path:
    """Write a fixture frame in the format of the path's suffix."""
    fmt = path.suffix
    if fmt == ".csv":
        text = frame.to_csv(index=False, lineterminator="\r\n")
        if encoding == "cp1258":
            path.write_bytes(to_cp1258(text))
        else:
            path.write_bytes(text.encode(encoding))
    elif fmt == ".xlsx":
        frame.to_excel(path, index=False, sheet_name="Du lieu")
    else:
        names = {h: f"v{k}" for k, h in enumerate(frame.columns)}
        data = frame.rename(columns=names)
        labels = list(frame.columns)
        value_labels = {names["Giới tính"]: {1: "Nam", 2: "Nữ"}}
        if fmt == ".sav":
            pyreadstat.write_sav(
                data, path, column_labels=labels, variable_value_labels=value_labels
            )
        else:
            data = data.rename(columns=lambda c: c)
            pyreadstat.write_dta(
                data, path, column_labels=labels, variable_value_labels=value_labels
            )
    return path


def to_cp1258(text: str) -> bytes:
    """Encode text as Windows-1258 does: precomposed where the code page has it, else base letter
    plus a combining tone mark."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
        except UnicodeEncodeError:
            parts = unicodedata.normalize("NFD", ch)
            base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in TONES))
            out += base.encode("cp1258") + "".join(p for p in parts if p in TONES).encode("cp1258")
    return bytes(out)


TONES = "\u0300\u0301\u0303\u0309\u0323"


def write_wave(
    tmp_path: Path,
    frame: pd.DataFrame,
    suffix: str = ".csv",
    name: str = "wave",
    vintage: str = "pre2025",
    encoding: str = "utf-8",
    **overrides,
) -> Path:
    """Write data + config into tmp_path; return the config path."""
    data = write_data(frame, tmp_path / f"{name}{suffix}", encoding=encoding)
    cfg = config_dict(data.name, vintage=vintage, **overrides)
    if suffix in (".sav", ".dta"):
        cfg["personal_columns"] = []  # headers are variable labels there; built-in list applies
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------


def test_config_loads_with_relative_paths_and_as_dict(tmp_path):
    sub = tmp_path / "data"
    sub.mkdir()
    write_data(base_frame(), sub / "w.csv")
    cfg_path = tmp_path / "waves" / "w.yaml"
    cfg_path.parent.mkdir()
    cfg_path.write_text(yaml.safe_dump(config_dict("../data/w.csv"), allow_unicode=True), "utf-8")
    cfg = load_wave_config(cfg_path)
    assert isinstance(cfg, WaveConfig)
    assert cfg.file == (sub / "w.csv").resolve()
    assert cfg.format == "csv" and cfg.wave == "2021" and cfg.missing_codes == (98, 99)
    d = cfg.as_dict()
    assert d["file"] == "../data/w.csv" and d["config"] == "w.yaml"
    assert str(tmp_path) not in repr(d)  # no machine paths in the manifest record
    assert d["design"]["weight"] == "Trọng số" and d["fieldwork"]["start"] == "2021-09-01"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"colour": "blue"}, "colour"),
        ({"wave": None}, "wave"),
        ({"boundary_vintage": "2019"}, "boundary_vintage"),
        ({"survey": "pci"}, "survey"),
        ({"instrument": "sipas-1999"}, "instrument"),
        ({"file": "nowhere.csv"}, "file"),
        ({"encoding": "latin-1"}, "encoding"),
        ({"missing_codes": ["98"]}, "missing_codes"),
        ({"design": {"weight": "Trọng số", "cluster": "Mã ấp"}}, "design.cluster"),
        ({"columns": {"commune": "Xã/Phường/Thị trấn"}}, "columns.respondent_id"),
        ({"columns": {"respondent_id": "Mã phiếu"}}, "columns.commune"),
        ({"items": {"tiep_can_1": "C1", "no_such_item": "C2"}}, "items.no_such_item"),
        ({"fieldwork": {"start": "2021-10-01", "end": "2021-09-01"}}, "fieldwork"),
        ({"sheet": "Du lieu"}, "sheet"),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, change, key):
    write_data(base_frame(), tmp_path / "w.csv")
    cfg = config_dict("w.csv")
    for k, v in change.items():
        if v is None:
            cfg.pop(k)
        else:
            cfg[k] = v
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_wave_config(path)
    assert "bad.yaml" in str(err.value)
    assert f"'{key}'" in str(err.value)


def test_config_refuses_mapping_a_personal_column(tmp_path):
    write_data(base_frame(), tmp_path / "w.csv")
    cfg = config_dict("w.csv")
    cfg["columns"]["village"] = "Số điện thoại"
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="columns.village.*personal"):
        load_wave_config(path)


def test_config_refuses_absolute_path(tmp_path):
    data = write_data(base_frame(), tmp_path / "w.csv")
    path = tmp_path / "abs.yaml"
    path.write_text(yaml.safe_dump(config_dict(str(data)), allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match="'file'.*relative"):
        load_wave_config(path)


def test_personal_header_list():
    for h in ["Họ và tên", "HỌ TÊN", "Số điện thoại", "SĐT", "CMND", "CCCD", "Số CMND/CCCD",
              "Địa chỉ", "Email", "Căn cước công dân"]:  # fmt: skip
        assert is_personal_header(h), h
    for h in ["Mã phiếu", "Tuổi", "Xã/Phường/Thị trấn", "Ấp/Khu phố", "Địa chỉ tiếp nhận phản ánh"]:
        assert not is_personal_header(h), h


# ---------------------------------------------------------------------------------------------
# Readers and the canonical table
# ---------------------------------------------------------------------------------------------


def test_csv_loads_canonical_table(tmp_path):
    cfg = write_wave(tmp_path, base_frame())
    wave = read_wave(cfg)
    r = wave.respondents
    assert wave.accounting["rows_read"] == N
    assert wave.accounting["rows_kept"] == N and wave.accounting["rows_excluded"] == 0
    assert list(r.columns) == list(CANONICAL_FRONT) + ITEMS_2017
    dtypes = {
        "respondent_id": object,
        "source_row": "int64",
        "commune_code": "Int64",
        "area_code": "Int64",
        "weight": "float64",
        "sex": "Int64",
        "age": "Int64",
        "urban_rural": "Int64",
        "stratum": object,
        "psu": object,
        "tiep_can_1": "Int64",
        "pakn_4": "Int64",
    }
    for col, dtype in dtypes.items():
        assert r[col].dtype == dtype, col
    # hand-known values: row 2 of the file is respondent P001 in Xã Bình Tâm (27712), area 794
    first = r.iloc[0]
    assert first["respondent_id"] == "P001" and first["source_row"] == 2
    assert first["commune_code"] == 27712 and first["area_code"] == 794
    assert first["area_name"] == "Thành phố Tân An" and first["stratum"] == "794"
    assert first["psu"] == "27712-01" and first["village"] == "Ấp 1"
    assert first["weight"] == 1.5 and first["age"] == 18 and first["age_band"] == "18-29"
    # spelling variant "xã bình hoà tây" (i = 13, row 15 of the file) resolves to the official name
    row = r.loc[r["source_row"] == 15].iloc[0]
    assert row["commune_code"] == 27796 and row["commune_name"] == "Xã Bình Hòa Tây"
    # missing codes become NA and are counted
    assert pd.isna(r.loc[2, "tiep_can_2"]) and pd.isna(r.loc[6, "tthc_1"])
    mc = wave.accounting["missing_codes"]
    got = mc[mc["code"] != "blank"].set_index(["item", "code"])["count"].to_dict()
    assert got == {("tiep_can_2", "98"): 1, ("tthc_1", "98"): 1, ("tthc_1", "99"): 1}
    # blanks of the filtered items: 24 respondents with co_pakn == 2, 3 items each
    blanks = mc[mc["code"] == "blank"].set_index("item")["count"].to_dict()
    assert blanks == {"pakn_2": 24, "pakn_3": 24, "pakn_4": 24}
    assert not wave.has_errors
    assert set(wave.problems["severity"]) <= {"info", "warning"}


def test_personal_columns_dropped_and_never_output(tmp_path):
    frame = base_frame()
    cfg = write_wave(tmp_path, frame)
    wave = read_wave(cfg)
    dumped = "\n".join(
        [
            wave.respondents.to_csv(),
            wave.exclusions.to_csv(),
            wave.problems.to_csv(),
            repr(wave.accounting),
        ]
    )
    for col in PERSONAL.values():  # incl. "CCCD", dropped by the built-in list
        assert col not in wave.respondents.columns
        for value in frame[col].astype(str).head(10):
            assert value not in dumped
    dropped = wave.problems[wave.problems["check"] == "personal_columns_dropped"]
    assert set(dropped["values"].iloc[0]) == set(PERSONAL.values())


@pytest.mark.parametrize("suffix", [".xlsx", ".sav", ".dta"])
def test_other_formats_give_the_same_table(tmp_path, suffix):
    base = read_wave(write_wave(tmp_path, base_frame(), name="base")).respondents
    wave = read_wave(write_wave(tmp_path, base_frame(), suffix=suffix, name="other"))
    other = wave.respondents
    if suffix in (".sav", ".dta"):  # record numbers, not spreadsheet rows
        assert other["source_row"].tolist() == list(range(1, N + 1))
        other = other.assign(source_row=other["source_row"] + 1)
        assert wave.value_labels["sex"] == {1: "Nam", 2: "Nữ"}
    pd.testing.assert_frame_equal(base, other)
    dumped = wave.respondents.to_csv() + wave.problems.to_csv()
    assert "Bí Mật" not in dumped and "Nguyễn" not in dumped


@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp1258"])
def test_csv_encodings_detected(tmp_path, encoding):
    base = read_wave(write_wave(tmp_path, base_frame(), name="base")).respondents
    path = write_wave(tmp_path, base_frame(), name="enc", encoding=encoding)
    raw = (tmp_path / "enc.csv").read_bytes()
    if encoding == "cp1258":
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
    wave = read_wave(path)
    assert wave.encoding == encoding
    pd.testing.assert_frame_equal(base, wave.respondents)
    assert "Xã Đức Hòa Thượng" in set(wave.respondents["commune_name"])


def test_nfd_file_loads_cleanly(tmp_path):
    base = read_wave(write_wave(tmp_path, base_frame(), name="base")).respondents
    frame = base_frame()
    frame.columns = [unicodedata.normalize("NFD", c) for c in frame.columns]
    frame = frame.map(lambda v: unicodedata.normalize("NFD", v) if isinstance(v, str) else v)
    path = write_wave(tmp_path, frame, name="nfd")
    assert "Ha\u0300" not in (tmp_path / "nfd.csv").read_text("utf-8")  # sanity: really NFD
    assert "\u0300" in (tmp_path / "nfd.csv").read_text("utf-8")
    wave = read_wave(path)
    assert not wave.has_errors
    pd.testing.assert_frame_equal(base, wave.respondents)
    assert all(unicodedata.is_normalized("NFC", n) for n in wave.respondents["village"])


def test_decimal_comma_semicolon_csv_and_blank_lines(tmp_path):
    frame = base_frame()
    text = frame.to_csv(index=False, sep=";", decimal=",")
    lines = text.splitlines()
    lines.insert(5, ";" * (frame.shape[1] - 1))  # blank record (file row 6)
    (tmp_path / "sc.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    cfg = config_dict("sc.csv")
    path = tmp_path / "sc.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    wave = read_wave(path)
    assert wave.accounting["rows_read"] == N and wave.accounting["blank_rows"] == 1
    assert wave.respondents["weight"].iloc[1] == 1.75
    # rows after the blank line keep their file row numbers
    assert wave.respondents["source_row"].iloc[4] == 7
    blank = wave.problems[wave.problems["check"] == "blank_rows"]
    assert blank["rows"].iloc[0] == (6,)


def test_loading_is_deterministic_and_never_writes(tmp_path):
    path = write_wave(tmp_path, base_frame(), suffix=".xlsx")
    before = {p.name: sha256(p) for p in tmp_path.iterdir()}
    a, b = read_wave(path), read_wave(path)
    pd.testing.assert_frame_equal(a.respondents, b.respondents)
    pd.testing.assert_frame_equal(a.problems, b.problems)
    pd.testing.assert_frame_equal(a.exclusions, b.exclusions)
    assert {p.name: sha256(p) for p in tmp_path.iterdir()} == before


def test_commune_code_column_and_equal_weights(tmp_path):
    frame = base_frame()
    code_of = {name: code for name, code, _ in COMMUNES}
    frame["Mã xã"] = [code_of.get(n, None) for n in frame["Xã/Phường/Thị trấn"]]
    frame["Mã xã"] = frame["Mã xã"].fillna(27796).astype(int)  # lower-cased variants
    cols = {**HEADERS, "commune": None, "commune_code": "Mã xã"}
    path = write_wave(
        tmp_path, frame, columns=cols, design={"weight": None, "strata": None, "psu": None}
    )
    wave = read_wave(path)
    r = wave.respondents
    assert (r["weight"] == 1.0).all() and (r["stratum"] == "1").all()
    assert r["psu"].tolist() == r["respondent_id"].tolist()
    assert r["commune_code"].iloc[0] == 27712 and r["commune_name"].iloc[0] == "Xã Bình Tâm"


def test_unreadable_inputs_raise_sipas_errors(tmp_path):
    path = write_wave(tmp_path, base_frame(), suffix=".xlsx")
    (tmp_path / "wave.xlsx").write_bytes(b"this is not a workbook")
    with pytest.raises(InputError, match="wave.xlsx"):
        read_wave(path)
    path = write_wave(tmp_path, base_frame(), name="s", suffix=".xlsx", sheet="Không có")
    with pytest.raises(InputError, match="sheet"):
        read_wave(path)
    path = write_wave(tmp_path, base_frame(), name="e", encoding="cp1258")
    cfg = yaml.safe_load(path.read_text("utf-8"))
    cfg["encoding"] = "utf-8"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), "utf-8")
    with pytest.raises(InputError, match="cp1258"):
        read_wave(path)


def test_find_config_for_a_bare_data_file(tmp_path):
    path = write_wave(tmp_path, base_frame())
    assert find_config_for(tmp_path / "wave.csv", search_dirs=[]) == path
    lonely = (
        write_data(base_frame(), tmp_path / "other" / "x.csv")
        if ((tmp_path / "other").mkdir() or True)
        else None
    )
    with pytest.raises(SipasError, match="No wave config"):
        find_config_for(lonely, search_dirs=[])


# ---------------------------------------------------------------------------------------------
# The bundled sample waves (once the sample generator has written them)
# ---------------------------------------------------------------------------------------------

SAMPLE_CONFIGS = sorted(WAVES_DIR.glob("*.yaml"))
PLANTED = SAMPLE_DIR / "planted_mess.csv"


def _readme_rows() -> dict[str, int]:
    """Rows per data file as documented in data/sample/README.md (the generator's record)."""
    out = {}
    for line in (SAMPLE_DIR / "README.md").read_text("utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 7 and re.fullmatch(r"[\w-]+\.(xlsx|csv|sav|dta)", cells[4]):
            out[cells[4]] = int(cells[6])
    return out


@pytest.mark.skipif(not SAMPLE_CONFIGS or not PLANTED.exists(), reason="no sample waves yet")
@pytest.mark.parametrize("config", SAMPLE_CONFIGS, ids=lambda p: p.stem)
def test_sample_wave_row_accounting(config):
    """Every sample wave loads; rows read = kept + excluded; the excluded rows are exactly the
    planted invalid rows and the 98/99 counts those documented by the generator."""
    before = sha256(load_wave_config(config).file)
    wave = read_wave(config)
    acc = wave.accounting
    assert acc["rows_read"] == acc["rows_kept"] + acc["rows_excluded"]
    assert acc["rows_read"] == _readme_rows()[wave.config.file.name]

    mess = pd.read_csv(PLANTED)
    mess = mess[mess["wave_id"] == config.stem]
    invalid = mess[
        ~mess["kind"].str.startswith("name_")
        & ~mess["kind"].isin(["missing_code", "duplicate_id_first"])
    ]
    assert sorted(wave.exclusions["source_row"]) == sorted(invalid["source_row"])
    assert acc["rows_excluded"] == len(invalid)

    planted_mc = mess[mess["kind"] == "missing_code"]
    expect = {
        (h, str(v)): int(n.split()[0])
        for h, v, n in zip(
            planted_mc["header"], planted_mc["value"], planted_mc["note"], strict=True
        )
    }
    mc = acc["missing_codes"]
    got = {
        (h, c): int(k)
        for h, c, k in zip(mc["column"], mc["code"], mc["count"], strict=True)
        if c in ("98", "99")
    }
    assert got == expect

    r = wave.respondents
    assert list(r.columns[: len(CANONICAL_FRONT)]) == list(CANONICAL_FRONT)
    assert r["commune_code"].notna().all() and (r["weight"] > 0).all()
    assert r["commune_code"].dtype == "Int64" and r["weight"].dtype == "float64"
    assert r["respondent_id"].is_unique
    types = load_instrument(wave.config.instrument).items.set_index("code")["answer_type"]
    for c in r.columns[len(CANONICAL_FRONT) :]:
        assert r[c].dtype == ("Float64" if types[c] == "continuous" else "Int64"), c
    assert sha256(wave.config.file) == before


@pytest.mark.skipif(not (WAVES_DIR / "sipas-2021.yaml").exists(), reason="no sample waves yet")
def test_sample_loading_is_deterministic():
    a = read_wave(WAVES_DIR / "sipas-2021.yaml")
    b = read_wave(WAVES_DIR / "sipas-2021.yaml")
    pd.testing.assert_frame_equal(a.respondents, b.respondents)
    pd.testing.assert_frame_equal(a.exclusions, b.exclusions)
    pd.testing.assert_frame_equal(a.problems, b.problems)
