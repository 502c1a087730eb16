"""Checks of a survey wave and the problem report the field team gets back.

:func:`sipas_analysis.waves.read_wave` runs every check below while it builds the canonical table;
this package holds the checks, the problem list (:class:`ProblemLog`) and the report files, by
stage: :mod:`~sipas_analysis.validate.problems` (the problem list),
:mod:`~sipas_analysis.validate.row_checks` (checks of the rows and columns),
:mod:`~sipas_analysis.validate.file_checks` (checks of the file and of the design) and
:mod:`~sipas_analysis.validate.problem_report` (the report files and the summary); the
``sipas validate`` command is :mod:`sipas_analysis.commands.validate`. The report is complete: every check runs, nothing stops at the first
problem, and every problem names the file, the column (source header), the row numbers as in the
source file (header = row 1 for csv/xlsx; record number for sav/dta) and the offending values.

Policy: error, warning, info
----------------------------
``error``
    The data cannot be used as it is. When the fault lies in identifiable rows, those rows are
    **excluded** (moved to ``exclusions`` with the reason): missing or duplicate respondent id
    (the first occurrence of an id is kept, later ones excluded), missing / unknown / ambiguous
    commune, commune outside the wave's boundary vintage, missing / non-numeric / non-positive
    weight, missing stratum or PSU, invalid fpc, an answer outside the instrument's valid codes,
    an item answered although its filter question says the service was not used, a PSU found in
    several strata (rows outside the PSU's main stratum). File- or design-level errors exclude no
    rows: a mapped column missing from the file, a mapped header present twice, a stratum left
    without any respondent (empty stratum), a weight column not configured
    (``weight_not_configured``), a file of the other boundary vintage (``wrong_vintage``: more
    than 20% of the rows), absurd weights (``extreme_weight``), fewer respondents than
    ``checks.min_respondents`` (``too_few_respondents``), an item nobody answered
    (``item_all_missing``), SPSS/Stata value labels that reverse or relabel the instrument's scale
    (``scale_labels_mismatch``). ``sipas validate`` exits 1 when there is any error; ``sipas run``
    performs the same checks first and stops (exit 1, nothing computed) on file- and design-level
    errors (:func:`blocking_errors`), while rows with row-level errors are excluded.
``warning``
    Worth a look, the row is kept: extra (unmapped) columns, a demographic value outside its codes
    (sex, urban/rural, age 18–110, age band — set to NA), a continuous answer outside its natural
    scale (kept), a commune name contradicting the commune
    code column, a commune abolished before fieldwork, a stratum with a single PSU, fieldwork dates
    that do not fit the boundary vintage, a design with fewer than 10 degrees of freedom, PSUs
    spanning several communes (``design.nest_psu: false``), commune codes valid in both vintages
    in a file holding codes of the other vintage.
``info``
    Recorded for completeness: missing-answer codes (98/99 …) and blanks recoded to NA with their
    counts, commune names written differently from the official name (resolved), personal
    columns dropped, blank lines skipped, instrument items the wave does not map.

Personal data: personal columns are dropped before any check runs, so no value of theirs can
appear in a message; only their headers are listed.

Command line
------------
``sipas validate WAVE_CONFIG_OR_FILE [--out DIR]`` prints a summary (Vietnamese and English
headings: row accounting, counts by severity and check, the first messages), writes
``<config>_problems.csv`` and ``<config>_problems.xlsx`` ("Đọc trước", problems, excluded rows,
summary, counts by check)
and ``<config>_exclusions.csv`` into ``DIR`` (default ``reports/validation``), atomically, and
exits 1 when there is an error, 0 otherwise; unusable input (bad config, unreadable file) exits 2
with a message and no traceback. Given a bare data file instead of a config, the command looks for
the one wave config whose ``file`` is that data file, next to it and then in ``waves/``, and
validates against it (saying which); with none it explains what a config must contain (exit 2).
The raw data file is only read, never written.

Examples
--------
>>> from sipas_analysis.waves import validate_wave          # doctest: +SKIP
>>> problems = validate_wave("waves/sipas-2024.yaml")       # doctest: +SKIP
>>> problems.groupby(["severity", "check"])["count"].sum()  # doctest: +SKIP
"""

from __future__ import annotations

from sipas_analysis.validate.file_checks import (
    ROW_CHECKS,
    VINTAGE_SHARE,
    apply_certainty,
    blocking_errors,
    check_codes_in_both_vintages,
    check_derived_strata,
    check_design_summary,
    check_items_answered,
    check_label_spellings,
    check_optional_columns,
    check_psu_communes,
    check_respondent_count,
    check_rows_above_header,
    check_scale_labels,
    check_vintage_share,
    check_weight_limits,
    check_weight_not_configured,
)
from sipas_analysis.validate.problem_report import (
    design_text,
    summary_text,
    weighting_rows,
    weighting_text,
    write_report,
)
from sipas_analysis.validate.problems import (
    PROBLEM_COLUMNS,
    REASONS,
    SEVERITIES,
    SEVERITY_VI,
    ProblemLog,
)
from sipas_analysis.validate.row_checks import (
    check_abolished,
    check_blank_rows,
    check_columns,
    check_communes,
    check_demographic,
    check_design,
    check_filters,
    check_fpc,
    check_ids,
    check_ids_from_rows,
    check_item_codes,
    check_missing_value,
    check_name_code_mismatch,
    check_personal_dropped,
    check_unmapped_items,
    check_vintage_dates,
    check_weights,
)

__all__ = [
    "PROBLEM_COLUMNS",
    "ProblemLog",
    "REASONS",
    "SEVERITIES",
    "SEVERITY_VI",
    "check_abolished",
    "check_blank_rows",
    "check_columns",
    "check_communes",
    "check_demographic",
    "check_design",
    "check_filters",
    "check_fpc",
    "check_ids",
    "check_ids_from_rows",
    "check_item_codes",
    "check_missing_value",
    "check_name_code_mismatch",
    "check_personal_dropped",
    "check_unmapped_items",
    "check_vintage_dates",
    "check_weights",
    "ROW_CHECKS",
    "VINTAGE_SHARE",
    "apply_certainty",
    "blocking_errors",
    "check_codes_in_both_vintages",
    "check_derived_strata",
    "check_design_summary",
    "check_items_answered",
    "check_label_spellings",
    "check_optional_columns",
    "check_psu_communes",
    "check_respondent_count",
    "check_rows_above_header",
    "check_scale_labels",
    "check_vintage_share",
    "check_weight_limits",
    "check_weight_not_configured",
    "design_text",
    "summary_text",
    "weighting_rows",
    "weighting_text",
    "write_report",
]
