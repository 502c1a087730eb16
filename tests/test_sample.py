"""Tests of the seeded sample generator and of the committed sample waves in data/sample/.

Expected values of the planted effects come from ``sample_spec.yaml`` (the generator's input) and
the numbers documented in ``data/sample/README.md``, never from the generator's output. The
effects are checked on the committed files as an analyst would read them (headers mapped through
the wave configs), with simple unweighted shares.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
import yaml

from sipas_analysis import geography, sample
from sipas_analysis.instruments import load_instrument
from sipas_analysis.paths import SAMPLE_DIR, WAVES_DIR

SPEC = sample.load_spec()
WAVES = {w["id"]: w for w in SPEC["waves"]}


def _nfc(text: object) -> str:
    return unicodedata.normalize("NFC", str(text))


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("sample")
    waves = tmp_path_factory.mktemp("waves")
    summary = sample.generate_sample(out, waves_dir=waves)
    return out, waves, summary


# ---------------------------------------------------------------------------------------------
# Regeneration and determinism
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wave_id", list(WAVES))
def test_regenerated_file_reads_back_equal_to_committed(regenerated, wave_id):
    out, _, _ = regenerated
    wave = WAVES[wave_id]
    committed = SAMPLE_DIR / wave["file"]
    assert committed.exists(), f"{committed.name} missing: run `sipas make-sample`"
    fresh = out / wave["file"]
    if fresh.read_bytes() == committed.read_bytes():
        return  # byte-identical (time stamps are fixed): the tables read back are equal too
    enc = wave.get("encoding")
    sheet = wave.get("sheet")
    pd.testing.assert_frame_equal(
        sample.read_back(fresh, encoding=enc, sheet=sheet),
        sample.read_back(committed, encoding=enc, sheet=sheet),
    )


def test_regenerated_tables_readme_and_configs_equal_committed(regenerated):
    out, waves, summary = regenerated
    for name in ("planted_truth.csv", "planted_mess.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(out / name, dtype=str), pd.read_csv(SAMPLE_DIR / name, dtype=str)
        )
    assert (out / "README.md").read_text("utf-8") == (SAMPLE_DIR / "README.md").read_text("utf-8")
    for conf in summary["config"]:
        new = yaml.safe_load((waves / conf).read_text("utf-8"))
        old = yaml.safe_load((WAVES_DIR / conf).read_text("utf-8"))
        assert Path(new.pop("file")).name == Path(old.pop("file")).name
        assert new == old


def test_same_seed_same_data_other_seed_differs():
    wave = WAVES["papi-2023"]
    a = sample.build_wave(SPEC, wave, seed=11).table
    b = sample.build_wave(SPEC, wave, seed=11).table
    c = sample.build_wave(SPEC, wave, seed=12).table
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_sample_folder_is_small():
    total = sum(p.stat().st_size for p in SAMPLE_DIR.iterdir() if p.is_file())
    assert total < 4_000_000, f"data/sample is {total / 1e6:.1f} MB"


# ---------------------------------------------------------------------------------------------
# Wave configs against their files
# ---------------------------------------------------------------------------------------------


def _headers(path: Path, conf: dict) -> list[str]:
    fmt = conf.get("format") or path.suffix.lstrip(".")
    if fmt == "csv":
        with open(path, encoding=conf.get("encoding", "utf-8-sig")) as fh:
            return [_nfc(h) for h in pd.read_csv(fh, nrows=0).columns]
    if fmt == "xlsx":
        from openpyxl import load_workbook

        wb = load_workbook(path, read_only=True)
        try:
            ws = wb[conf["sheet"]] if conf.get("sheet") else wb.worksheets[0]
            first = next(ws.iter_rows(min_row=1, max_row=1, values_only=True))
        finally:
            wb.close()
        return [_nfc(h) for h in first if h is not None]
    reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
    _, meta = reader(str(path), metadataonly=True)
    return list(meta.column_names)


CONFIGS = sorted(WAVES_DIR.glob("*.yaml"))


def test_one_config_per_wave():
    assert {p.stem for p in CONFIGS} >= set(WAVES)


@pytest.mark.parametrize("conf_path", CONFIGS, ids=lambda p: p.stem)
def test_wave_config_names_existing_file_and_headers(conf_path):
    conf = yaml.safe_load(conf_path.read_text("utf-8"))
    for key in ("wave", "survey", "instrument", "boundary_vintage", "file", "columns", "items"):
        assert key in conf, key
    assert not Path(conf["file"]).is_absolute()
    data = (conf_path.parent / conf["file"]).resolve()
    assert data.exists(), data
    headers = set(_headers(data, conf))
    mapped = [h for h in conf["columns"].values() if h is not None]
    mapped += [h for h in conf["design"].values() if h is not None]
    mapped += list(conf["items"].values()) + list(conf["personal_columns"])
    missing = [h for h in mapped if _nfc(h) not in headers]
    assert not missing, f"{conf_path.name}: headers not in {data.name}: {missing}"
    assert conf["columns"]["commune"] or conf["columns"]["commune_code"]
    inst = load_instrument(conf["instrument"])
    year = int(conf["wave"])
    items = inst.items
    in_use = items[
        (items["valid_from"].fillna(0) <= year) & (items["valid_to"].fillna(9999) >= year)
    ]
    assert set(conf["items"]) == set(in_use["code"])


# ---------------------------------------------------------------------------------------------
# The committed data as an analyst reads it
# ---------------------------------------------------------------------------------------------


def _load(wave_id: str) -> tuple[pd.DataFrame, dict]:
    """Committed file of a wave -> commune_code, stratum, weight, item codes (numeric)."""
    df, conf, _ = _read(wave_id)
    return df.copy(), conf


def _raw(wave_id: str) -> pd.DataFrame:
    """Committed file of a wave as read (headers NFC)."""
    return _read(wave_id)[2].copy()


@functools.cache
def _read(wave_id: str) -> tuple[pd.DataFrame, dict, pd.DataFrame]:
    conf = yaml.safe_load((WAVES_DIR / f"{wave_id}.yaml").read_text("utf-8"))
    path = (WAVES_DIR / conf["file"]).resolve()
    raw = sample.read_back(path, encoding=conf.get("encoding"), sheet=conf.get("sheet"))
    raw.columns = [_nfc(c) for c in raw.columns]
    out = pd.DataFrame(index=raw.index)
    out["respondent_id"] = raw[_nfc(conf["columns"]["respondent_id"])].astype(str)
    out["stratum"] = pd.to_numeric(raw[_nfc(conf["design"]["strata"])], errors="coerce")
    out["weight"] = pd.to_numeric(raw[_nfc(conf["design"]["weight"])], errors="coerce")
    if conf["columns"]["commune_code"]:
        out["commune_code"] = pd.to_numeric(raw[conf["columns"]["commune_code"]]).astype("Int64")
    else:
        res = geography.resolve_communes(
            raw[_nfc(conf["columns"]["commune"])], conf["boundary_vintage"], out["stratum"]
        )
        out["commune_code"] = res["commune_code"].to_numpy()
        out["commune_status"] = res["status"].to_numpy()
    answers = {
        code: pd.to_numeric(raw[_nfc(header)].replace("", np.nan), errors="coerce")
        for code, header in conf["items"].items()
    }
    return pd.concat([out, pd.DataFrame(answers, index=raw.index)], axis=1), conf, raw


def _top2(df: pd.DataFrame, codes: list[str]) -> pd.Series:
    """Per respondent: share of answered items (codes 1-5) that are 4 or 5."""
    v = df[codes].where(df[codes].isin([1, 2, 3, 4, 5]))
    return (v >= 4).astype(float).where(v.notna()).mean(axis=1)


def _sat_items(conf: dict, node: str | None = None) -> list[str]:
    inst = load_instrument(conf["instrument"])
    items = inst.items_of(node, role="satisfaction") if node else inst.satisfaction_items()
    return [c for c in items["code"] if c in conf["items"]]


def _effect(eid: str) -> dict:
    return next(
        e for e in SPEC["sipas_truth"]["effects"] + SPEC["papi_truth"]["effects"] if e["id"] == eid
    )


SIPAS_PRE2025 = [
    w for w, s in WAVES.items() if s["survey"] == "sipas" and s["boundary_vintage"] == "pre2025"
]


@pytest.mark.parametrize("wave_id", SIPAS_PRE2025)
def test_weak_element_in_area(wave_id):
    eff = _effect("weak_element")
    assert eff["delta"] == pytest.approx(-0.15) and eff["area_code"] == 800  # README: -15 points
    df, conf = _load(wave_id)
    score = _top2(df, _sat_items(conf, eff["nodes"][0]))
    area = df["commune_code"].map(
        geography.communes("pre2025").set_index("commune_code")["area_code"]
    )
    inside = score[area == 800].mean()
    outside = score[(area != 800) & area.notna()].mean()
    # the realised sample differs from the truth by sampling noise (SE about 2 points)
    assert inside - outside == pytest.approx(eff["delta"], abs=0.07)
    assert inside - outside < eff["delta"] / 2
    # other elements of the same area are not weak
    other = _top2(df, _sat_items(conf, "tiep_can"))
    assert abs(other[area == 800].mean() - other[(area != 800) & area.notna()].mean()) < 0.06


@pytest.mark.parametrize("wave_id", SIPAS_PRE2025)
def test_low_commune(wave_id):
    eff = _effect("low_commune")
    assert eff["delta"] == pytest.approx(-0.25) and eff["commune_code"] == 27808
    df, conf = _load(wave_id)
    score = _top2(df, _sat_items(conf))
    low = score[df["commune_code"] == 27808].mean()
    rest = score[(df["commune_code"] != 27808) & df["commune_code"].notna()].mean()
    assert low - rest == pytest.approx(eff["delta"], abs=0.08)


def test_decline_in_one_commune():
    eff = _effect("decline")
    assert eff["delta"] == pytest.approx(-0.20) and eff["commune_code"] == 27988
    trend = SPEC["sipas_truth"]["trend"]
    means = {}
    for wave_id in ("sipas-2023", "sipas-2024"):
        df, conf = _load(wave_id)
        score = _top2(df, _sat_items(conf))
        means[wave_id] = score[df["commune_code"] == 27988].mean()
    expected = eff["delta"] + trend["2024"] - trend["2023"]  # -18.5 points
    assert means["sipas-2024"] - means["sipas-2023"] == pytest.approx(expected, abs=0.10)


def test_pure_noise_elsewhere():
    """Communes without a planted effect: no commune mean far from the rest (n ~ 26 each)."""
    df, conf = _load("sipas-2023")
    score = _top2(df, _sat_items(conf))
    planted = {27808, 27988} | set(
        geography.communes("pre2025").query("area_code == 800")["commune_code"]
    )
    by_commune = score.groupby(df["commune_code"]).mean()
    free = by_commune[~by_commune.index.isin(planted)]
    assert (free - free.mean()).abs().max() < 0.15


def _papi_z(df: pd.DataFrame, conf: dict, node: str) -> float:
    """Mean over the node's weighted indicators of the mean rescaled answer (positive way)."""
    inst = load_instrument(conf["instrument"])
    items = inst.items_of(node, role="indicator")
    zs = []
    for it in items.itertuples():
        if it.code not in conf["items"] or not it.weight:
            continue
        x = df[it.code]
        x = x[~x.isin(list(it.missing_codes)) & x.notna()]
        z = (x - it.scale_min) / (it.scale_max - it.scale_min)
        zs.append((1 - z if it.direction == "negative" else z).mean())
    return float(np.mean(zs))


def test_papi_weak_subdimension_and_egov_rise():
    base = SPEC["papi_truth"]["base"]
    weak = _effect("papi_weak_subdimension")
    df22, conf22 = _load("papi-2022")
    # d4_2 true z = 0.62 - 0.30 = 0.32 (score 0.25 + 2.25 * 0.32 = 0.97), d4_1 true z = 0.62
    assert _papi_z(df22, conf22, "d4_2") == pytest.approx(base["d4"] + weak["delta"], abs=0.05)
    assert _papi_z(df22, conf22, "d4_1") == pytest.approx(base["d4"], abs=0.05)
    df24, conf24 = _load("papi-2024")
    rise = _effect("papi_egov_rise_2024")["delta"]  # +0.20 in z: d8 3.25 -> 5.05 points
    assert _papi_z(df24, conf24, "d8") - _papi_z(df22, conf22, "d8") == pytest.approx(
        rise, abs=0.06
    )


# ---------------------------------------------------------------------------------------------
# Planted mess: what validation must find (counts from the spec)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("wave_id", list(WAVES))
def test_planted_invalid_rows_are_in_the_files(wave_id):
    mess = WAVES[wave_id].get("mess") or {}
    df, conf = _load(wave_id)
    inst = load_instrument(conf["instrument"])
    coded = inst.items[inst.items["valid_codes"].map(len) > 0].set_index("code")
    bad_codes = 0
    for code in conf["items"]:
        if code not in coded.index:
            continue
        ok = set(coded.loc[code, "valid_codes"]) | set(coded.loc[code, "missing_codes"])
        bad_codes += int((~df[code].isin(ok) & df[code].notna()).sum())
    assert bad_codes == (mess.get("out_of_range") or {}).get("count", 0)
    assert int(df["respondent_id"].duplicated().sum()) == mess.get("duplicate_id", 0)
    assert int(df["weight"].isna().sum()) == mess.get("missing_weight", 0)
    assert int((df["weight"] == 0).sum()) == mess.get("zero_weight", 0)
    assert (df["weight"].dropna() >= 0).all()
    if "commune_status" in df:
        n_unknown = (mess.get("unknown_commune") or {}).get("count", 0) + (
            mess.get("old_vintage_commune") or {}
        ).get("count", 0)
        assert int((df["commune_status"] != "ok").sum()) == n_unknown
    if mess.get("missing_codes"):
        items = [c for c in conf["items"] if c in coded.index]
        share = df[items].isin([98, 99]).sum().sum() / df[items].notna().sum().sum()
        assert 0.01 < share < 0.05


def test_psu_in_two_strata_and_filter_violations():
    for wave_id, wave in WAVES.items():
        mess = wave.get("mess") or {}
        df, conf = _load(wave_id)
        raw = _raw(wave_id)
        strata = raw.groupby(_nfc(conf["design"]["psu"]))[_nfc(conf["design"]["strata"])].nunique()
        assert int((strata > 1).sum()) == mess.get("psu_two_strata", 0), wave_id
        inst = load_instrument(conf["instrument"])
        governed = inst.items[inst.items["filter_item"].notna()]
        violations = set()
        for it in governed.itertuples():
            if it.code not in conf["items"]:
                continue
            skipped = ~df[it.filter_item].isin(list(it.filter_values))
            answered = df[it.code].notna()
            violations |= set(df.index[skipped & answered & df[it.filter_item].notna()])
        assert len(violations) == mess.get("filter_violation", 0), wave_id


def test_readme_documents_effects_and_rows():
    text = (SAMPLE_DIR / "README.md").read_text("utf-8")
    for eff in SPEC["sipas_truth"]["effects"] + SPEC["papi_truth"]["effects"]:
        assert f"`{eff['id']}`" in text
    assert "| -15.0 |" in text and "| -25.0 |" in text and "| -20.0 |" in text
    for wave in WAVES.values():
        assert f"`{wave['file']}`" in text
