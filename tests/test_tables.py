"""The table contracts: code and docs/tables.md agree; the run's tables keep them; breaks are caught.

The contracts (``sipas_analysis.tables.CONTRACTS``) are checked by the pipeline before it writes
its tables and by ``sipas brief`` when it reads them back. Here: every column table of
docs/tables.md lists the same columns, types and empty-allowed marks as the code; a run's files
pass; a missing column, a code stored as a number, an empty cell where none may be, or a duplicated
key is refused with the table, column and a value named; an edited table file read by
``sipas brief`` gives exit code 2 and names the file, with no traceback.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from _pipeline_run import sipas_cli

from sipas_analysis import briefs, pipeline
from sipas_analysis.errors import InputError
from sipas_analysis.tables import CONTRACTS, TableContractError, check_table

DOC = Path(__file__).resolve().parents[1] / "docs" / "tables.md"


def _doc_sections() -> dict[str, tuple[tuple[str, ...], dict[str, tuple[str, bool]]]]:
    """docs/tables.md: table -> (key, {column: (type, may_be_empty)}); type "" = as in estimates."""
    out = {}
    for sec in re.split(r"^## ", DOC.read_text(encoding="utf-8"), flags=re.M)[1:]:
        name = sec.split(" ", 1)[0]
        key = re.search(r"Key: `([^`]*)`", sec)
        cols: dict[str, tuple[str, bool]] = {}
        for line in sec.splitlines():
            if not line.startswith("| ") or line.startswith(("| column", "| ---")):
                continue
            first, typ = (c.strip() for c in line.strip("|").split("|")[:2])
            base, _, null = typ.partition(",")
            for col in first.split(","):
                cols[col.strip()] = (base.strip(), null.strip() == "null")
        out[name] = (tuple(k.strip() for k in key.group(1).split(",")) if key else (), cols)
    return out


def test_docs_list_the_same_tables_keys_columns_and_types_as_the_code():
    doc = _doc_sections()
    assert set(doc) == set(CONTRACTS)
    est = CONTRACTS["estimates"].columns
    for name, (key, cols) in doc.items():
        contract = CONTRACTS[name]
        assert key == contract.key, name
        if not cols:  # described in prose only
            if name == "problems":  # its columns are named in the prose
                assert all(f"`{c}`" in DOC.read_text(encoding="utf-8") for c in contract.columns)
            else:
                assert not contract.columns, name
            continue
        # "as in estimates" rows carry no type: the estimates' type holds
        resolved = {c: (t, n) if t else est[c] for c, (t, n) in cols.items()}
        assert resolved == dict(contract.columns), name


def test_the_tables_of_a_run_keep_their_contracts(session_run):
    folder = session_run.out / "tables"
    names = sorted(p.stem for p in folder.glob("*.parquet"))
    assert set(names) == set(CONTRACTS)
    for name in names:
        df = pd.read_parquet(folder / f"{name}.parquet")
        check_table(name, df)
        assert len(df) > 0, name


def _ranks() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "survey": ["sipas", "sipas"],
            "wave": ["2024", "2024"],
            "unit_code": ["27694", "27697"],
            "index_code": ["sipas", "sipas"],
            "rank_basis": ["estimate_model"] * 2,
            "rank": [1, 2],
            "rank_low": [1, 1],
            "rank_high": [2, 2],
            "n_units": [2, 2],
            "n": [21, 19],
        }
    )


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: d.drop(columns="rank_high"), "table ranks: missing column(s) rank_high"),
        (lambda d: d.assign(unit_code=[27694, 27697]), "column unit_code: expected string, found int64 (value 27694)"),
        (lambda d: d.assign(rank=[1.5, 2.0]), "column rank: expected int64, found double (value 1.5)"),
        (lambda d: d.assign(n=[21.0, None]), "column n: empty in row(s) 1"),
        (lambda d: d.assign(unit_code=["27694", "27694"]), "key (survey, wave, unit_code, index_code) not unique: 2 rows"),
    ],
)  # fmt: skip
def test_a_broken_table_is_refused_with_table_column_and_value(break_it, message):
    check_table("ranks", _ranks())  # the unbroken table passes
    with pytest.raises(TableContractError) as err:
        check_table("ranks", break_it(_ranks()))
    assert message in str(err.value)


def test_an_integer_column_with_empty_cells_may_be_stored_as_floats():
    df = _ranks().assign(n=[21.0, 19.0])  # integral floats: what NaN-carrying columns become
    check_table("ranks", df)
    with pytest.raises(TableContractError, match="column n: expected int64, found double"):
        check_table("ranks", df.assign(n=[21.0, 19.5]))


def test_the_pipeline_refuses_to_write_a_table_that_breaks_its_contract(tmp_path):
    bad = {"ranks": _ranks().assign(wave=[2024, 2024])}
    with pytest.raises(TableContractError, match="table ranks, column wave"):
        pipeline.write_tables(bad, tmp_path / "tables")
    assert not (tmp_path / "tables").exists()  # nothing half-written


def test_sipas_brief_on_an_edited_table_names_the_file_and_exits_2(session_run, tmp_path):
    folder = tmp_path / "tables"
    shutil.copytree(session_run.out / "tables", folder)
    ranks = pd.read_parquet(folder / "ranks.parquet")
    ranks["unit_code"] = pd.to_numeric(ranks["unit_code"])  # what a spreadsheet round trip does
    ranks.to_parquet(folder / "ranks.parquet", index=False)
    with pytest.raises(InputError, match=r"ranks\.parquet"):
        briefs.read_tables(folder)
    done = subprocess.run(
        sipas_cli("brief", "--tables", str(folder), "--out", str(tmp_path / "out")),
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "ranks.parquet" in done.stderr + done.stdout
    assert "column unit_code" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "out" / "briefs").exists()
