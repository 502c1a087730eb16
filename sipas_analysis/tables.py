"""The contracts of the run's tables, and the check at the stages' boundaries.

One definition of what each table of ``OUT/tables/`` holds: its key and, for the tables with a
fixed layout, every column with its type and whether it may be empty. ``docs/tables.md`` describes
the same tables for people (units, values, meanings); ``tests/test_tables.py`` checks that the two
agree, column by column.

Types are those of the Parquet files (Arrow names): ``string`` (codes are strings, never numbers),
``int64``, ``double``, ``bool``. A column may be added by a later version; none is renamed silently.

:func:`check_table` runs where a table crosses a stage boundary: before the pipeline writes the
tables (a violation there is a bug of the package: :class:`TableContractError`), and when
``sipas brief`` reads the tables of an earlier run (a stale or edited file: an
:class:`~sipas_analysis.errors.InputError` naming the file).

>>> import pandas as pd
>>> df = pd.DataFrame({"survey": ["sipas"], "wave": ["2024"], "unit_code": ["27694"],
...                    "index_code": ["sipas"], "rank_basis": ["estimate_model"], "rank": [3],
...                    "rank_low": [1], "rank_high": [7], "n_units": [19], "n": [21]})
>>> check_table("ranks", df)
>>> check_table("ranks", df.assign(wave=[2024]))
Traceback (most recent call last):
...
sipas_analysis.tables.TableContractError: table ranks, column wave: expected string, found int64 (value 2024)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "CONTRACTS",
    "Contract",
    "TableContractError",
    "check_table",
    "check_tables",
    "empty",
]


class TableContractError(ValueError):
    """A table does not hold what its contract says (names the table, column and a value).

    Not a :class:`~sipas_analysis.errors.SipasError`: raised on the pipeline's own tables it is a
    bug (exit 3, with its log); where a table is read back from a file, the reader turns it into an
    :class:`~sipas_analysis.errors.InputError` naming the file.
    """


@dataclass(frozen=True)
class Contract:
    """Key and columns of one table: ``columns`` maps a column to ``(type, may_be_empty)``.

    ``key`` is unique in the table; empty for a table of one row per event (``problems``).
    """

    key: tuple[str, ...]
    columns: Mapping[str, tuple[str, bool]] = field(default_factory=dict)


def _cols(spec: str) -> dict[str, tuple[str, bool]]:
    """``"a b:int64 c:double?"`` -> columns; no type = string, ``?`` = may be empty."""
    out: dict[str, tuple[str, bool]] = {}
    for word in spec.split():
        name, _, typ = word.partition(":")
        null = typ.endswith("?") or name.endswith("?")
        out[name.rstrip("?")] = ((typ.rstrip("?") or "string"), null)
    return out


_ESTIMATE_IDS = "survey wave level unit_code unit_name"
_NODE = "index_level index_code label_vi"

#: The tables of a run. Keys as in docs/tables.md; ``columns`` empty = layout not fixed here.
CONTRACTS: dict[str, Contract] = {
    "estimates": Contract(
        ("survey", "wave", "level", "unit_code", "subgroup", "index_code"),
        _cols(
            "survey wave instrument level unit_code unit_name area_code:int64? boundary_vintage "
            "subgroup index_level index_code label_vi parent_code? role statistic "
            "estimate:double? se:double? ci_low:double? ci_high:double? ci_level:double "
            "ci_method df:double? n:int64 n_psu:int64 flag flag_detail se_design:double? variance_rule "
            "se_respondent:double? se_village:double? sigma2_b:double? icc:double? "
            "deff_model:double? weight_total:double? estimate_model:double? se_model:double? "
            "ci_low_model:double? ci_high_model:double? shrinkage:double?"
        ),
    ),
    "trends": Contract(
        (
            "survey",
            "level",
            "unit_code",
            "subgroup",
            "index_code",
            "wave_from",
            "wave_to",
            "geography",
        ),
        _cols(
            f"survey level unit_code unit_name subgroup {_NODE} wave_from wave_to comparison "
            "instrument_from instrument_to boundary_vintage geography? estimate_from:double? "
            "estimate_to:double? n_from:int64 n_to:int64 flag_from flag_to change:double? "
            "se_change:double? ci_low:double? ci_high:double? ci_level:double p_value:double? "
            "q_value:double? significant:bool comparable:bool break_reason_vi"
        ),
    ),  # fmt: skip
    "findings": Contract(
        ("survey", "wave", "level", "unit_code", "index_code"),
        _cols(
            f"{_ESTIMATE_IDS} {_NODE} area_code? estimate:double ci_low:double ci_high:double "
            "n:int64 flag reason_codes reasons benchmark:double? benchmark_label "
            "difference:double? q_value:double? rank:int64? rank_low:int64? rank_high:int64? "
            "n_units:int64? score:double priority:int64 recommendation_vi"
        ),
    ),
    "ranks": Contract(
        ("survey", "wave", "unit_code", "index_code"),
        _cols(
            "survey wave unit_code index_code rank_basis rank:int64 rank_low:int64 "
            "rank_high:int64 n_units:int64 n:int64"
        ),
    ),
    "answers": Contract(
        ("survey", "wave", "level", "unit_code", "index_code", "answer_code"),
        _cols(
            "survey wave level unit_code index_code label_vi parent_code? answer_code:int64 "
            "answer_label_vi share:double n:int64"
        ),
    ),
    "importance_performance": Contract(
        ("survey", "wave", "index_code"),
        _cols(
            "survey wave index_code label_vi importance:double performance:double quadrant_code "
            "quadrant n:int64"
        ),
    ),
    "benchmarks": Contract(
        ("year", "index_code"),
        _cols(
            "year:int64 index_code label_vi instrument province_value:double "
            "national_min:double national_median:double national_max:double rank:int64 "
            "n_provinces:int64 rank_low:int64? rank_high:int64? rank_basis quartile_group:int64 "
            "quartile_rule near_cut:bool best_province source"
        ),
    ),
    "sipas_published": Contract(("year", "index_code")),
    "accounting": Contract(("survey", "wave")),
    "exclusions": Contract(("survey", "wave", "source_row")),
    # one row per problem found: a check may report one column several times (e.g. an error for
    # some rows and a warning for others), so the problems table has no unique key
    "problems": Contract(
        (),
        _cols(
            "survey wave severity check file column? rows? values? count:int64 message_vi message_en"
        ),
    ),
}


def _kind(series: pd.Series) -> str:
    """The Arrow name of a column's pandas type (object columns of text count as string)."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int64"
    if pd.api.types.is_float_dtype(dtype):
        return "double"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)  # one pass, in C
        if inferred in ("string", "empty"):
            return "string"
        if inferred == "boolean":
            return "bool"
        values = series.dropna()
        odd = values[~values.map(lambda v: isinstance(v, str))]
        return type(odd.iloc[0]).__name__ if len(odd) else "string"
    return str(dtype)


def _fits(series: pd.Series, typ: str, kind: str) -> bool:
    """Whether a column of pandas kind ``kind`` holds values of contract type ``typ``."""
    if kind == typ:
        return True
    if typ == "double" and kind == "int64":
        return True
    if typ == "int64" and kind == "double":  # an integer column with empty cells (NaN)
        values = series.dropna().to_numpy(dtype=float)
        return bool(np.all(np.isfinite(values) & (values == np.round(values))))
    return False


def check_table(name: str, df: pd.DataFrame, *, where: str | None = None) -> None:
    """Raise :class:`TableContractError` if ``df`` breaks the contract of table ``name``.

    Checks that every contract column is present, of its type, and empty only where allowed, and
    that the key is unique (an unknown table name or a table without a fixed layout checks only
    what its contract has). ``where`` (a file) is named in the message.
    """
    contract = CONTRACTS.get(name)
    if contract is None:
        return
    at = f"table {name}" + (f" ({where})" if where else "")
    missing = [c for c in (*contract.key, *contract.columns) if c not in df.columns]
    if missing:
        raise TableContractError(f"{at}: missing column(s) {', '.join(dict.fromkeys(missing))}")
    for col, (typ, may_be_empty) in contract.columns.items():
        series = df[col]
        empty = series.isna()
        if empty.all():
            if not may_be_empty and len(series):
                raise TableContractError(f"{at}, column {col}: empty, but it may not be")
            continue
        kind = _kind(series)
        if not _fits(series, typ, kind):
            value = series[~empty].iloc[0]
            raise TableContractError(
                f"{at}, column {col}: expected {typ}, found {kind} (value {value})"
            )
        if not may_be_empty and empty.any():
            rows = ", ".join(str(i) for i in empty[empty].index[:5])
            raise TableContractError(f"{at}, column {col}: empty in row(s) {rows}")
    dup = df.duplicated(list(contract.key), keep=False) if contract.key else None
    if dup is not None and dup.any():
        first = df.loc[dup, list(contract.key)].iloc[0].to_dict()
        raise TableContractError(
            f"{at}: key ({', '.join(contract.key)}) not unique: {int(dup.sum())} rows, e.g. {first}"
        )


def empty(name: str) -> pd.DataFrame:
    """A table ``name`` with no rows: its key and contract columns (for a run without such rows).

    >>> list(empty("ranks").columns)[:3]
    ['survey', 'wave', 'unit_code']
    """
    contract = CONTRACTS[name]
    return pd.DataFrame(columns=list(dict.fromkeys([*contract.key, *contract.columns])))


def check_tables(tables: Mapping[str, pd.DataFrame]) -> None:
    """:func:`check_table` on every table of a run."""
    for name, df in tables.items():
        check_table(name, df)
