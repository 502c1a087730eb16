"""The config schema (sipas_analysis.schema) and the wave config written with it."""

from __future__ import annotations

import datetime as dt

import pytest
import yaml
from test_waves import base_frame, config_dict, write_data

from sipas_analysis import schema, waves
from sipas_analysis.errors import ConfigError
from sipas_analysis.schema import EMPTY, Key

TABLE = {
    "name": Key(schema.text, required=True),
    "when": Key(schema.date),
    "limits": Key(keys={"n": Key(schema.positive, default=30, nullable=False)}, default=EMPTY),
    "columns": Key(each=Key(schema.header, nullable=False), default=EMPTY),
    "codes": Key(each=Key(schema.row_number), mapping=True, default=EMPTY),
    "must_write": Key(schema.header, missing="write it, null if there is none."),
}


def _error(raw: dict) -> str:
    with pytest.raises(ConfigError) as err:
        schema.check("c.yaml", raw, TABLE)
    return str(err.value)


def test_values_are_converted_and_defaults_filled():
    out = schema.check(
        "c.yaml",
        {"name": 7, "when": "2024-09-01", "columns": ["  Ho\u0300a  Khánh "], "must_write": None},
        TABLE,
    )
    assert out == {
        "name": "7",
        "when": dt.date(2024, 9, 1),
        "limits": {"n": 30},
        "columns": ["Hòa Khánh"],
        "codes": {},
        "must_write": None,
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"must_write": None}, "c.yaml: key 'name': missing (required)."),
        ({"name": "a"}, "c.yaml: key 'must_write': write it, null if there is none."),
        (
            {"name": "a", "must_write": None, "limits": {"n": 0}},
            "c.yaml: key 'limits.n': must be a positive number, got 0.",
        ),
        (
            {"name": "a", "must_write": None, "limits": {"m": 1}},
            "c.yaml: key 'limits.m': unknown key; allowed keys: n.",
        ),
        (
            {"name": "a", "must_write": None, "columns": ["x", ""]},
            "c.yaml: key 'columns[1]': must name a column header of the data file, not be empty.",
        ),
        (
            {"name": "a", "must_write": None, "codes": {"b": 0}},
            "c.yaml: key 'codes.b': must be a row number (1 = first row), got 0.",
        ),
        (
            {"name": "a", "must_write": None, "when": "1 Sept"},
            "c.yaml: key 'when': must be a date YYYY-MM-DD, got '1 Sept'.",
        ),
    ],
)
def test_errors_name_the_file_and_the_key(raw, expected):
    assert _error(raw) == expected


def test_a_header_mapped_twice_names_both_items(tmp_path):
    """Two items on one header (spelled differently) is a config error, not a crash."""
    write_data(base_frame(), tmp_path / "w.csv")
    cfg = config_dict("w.csv")
    first, second = list(cfg["items"])[:2]
    cfg["items"][second] = " " + cfg["items"][first].upper() + " "
    path = tmp_path / "twice.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        waves.load_wave_config(path)
    assert f"key 'items.{second}'" in str(err.value)
    assert f"already mapped to items.{first}" in str(err.value)


def test_every_key_of_the_wave_config_is_in_the_schema_and_the_manifest(tmp_path):
    write_data(base_frame(), tmp_path / "w.csv")
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(config_dict("w.csv"), allow_unicode=True), encoding="utf-8")
    record = waves.load_wave_config(path).as_dict()
    assert set(waves.WAVE_SCHEMA) - {"data_folders"} <= set(record)
