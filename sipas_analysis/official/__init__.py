"""Official published results: PAPI provincial workbooks and published SIPAS / PAPI figures.

The PAPI team (UNDP Viet Nam, CECODES, VFF-CT, RTA) publishes provincial results as Excel workbooks
on papi.org.vn whose layout changes almost every year. This module reads all of them into ONE tidy
table, one row per (year, province, level, code):

``year, province_code, province_name, level, code, label_vi, label_en, scale, scale_min, scale_max,
value, se, ci_low_published, ci_high_published, n, source_file, source_sheet``

``level`` is ``indicator`` / ``subdimension`` / ``dimension`` / ``total`` (unweighted PAPI) /
``total_weighted``; ``code`` follows the project's instrument codes (``d1`` … ``d8``, ``d1_1`` …,
``total``, ``total_weighted``; indicators ``d1_1_i1`` … numbered in the order of the official
Vietnamese table; an indicator found only in an English table, which does not group indicators by
sub-dimension, gets ``d<k>_en_<label slug>``, e.g. ``d5_en_took_part_in_land_title_procedures``;
English rows whose values equal a Vietnamese row's get that row's code).

Layouts recognised (detected from the cells, not from the file name):

* ``scores_by_row`` — provinces in rows, one column per dimension / sub-dimension headed
  ``"1: …"`` / ``"1.1: …"`` (the 2011–2017 ``PAPI_YYYY_vie.xlsx`` files with their per-dimension
  sheets, the 2018/2019 English files);
* ``compiled`` — the compiled 2011–2019 file: one sheet per year, columns ``tinhid``,
  ``tentinh_eng``, ``tentinh_vie`` and named (un-numbered) dimension / sub-dimension columns;
* ``table_by_column`` — provinces in columns, Vietnamese or English row labels, a ``Thang điểm``
  (scale) column, totals with SE and bounds, dimension variances and N (2018 and 2019 indicator
  files, and their one-province sheets);
* ``table_by_row`` — the same table transposed (provinces in rows).

Known traps handled: the 2011–2017 files' D2/D3 sub-dimension headers carry the 2018 names over the
old values (labels are taken from ``official_papi_structure.csv``, next to this module, by year);
``KCDL`` (không có dữ liệu) and blank cells are NaN, never 0; province id columns that are not GSO
codes (some sheets number provinces alphabetically) are detected and ignored — provinces are always
resolved by name through ``official_provinces.csv`` (the 63 pre-2025 provinces, GSO codes; names from
the GSO administrative-unit list and the PAPI compiled file); merged header cells are filled.

Published SIPAS figures (``published_sipas.csv``) and Long An's published PAPI series
(``longan_papi_dimensions_2011_2024.csv``) are read and validated by :func:`read_published_sipas`
and :func:`read_published_papi`.

The package, by stage: :mod:`~sipas_analysis.official.codes` (table columns, provinces, PAPI
structure), :mod:`~sipas_analysis.official.cells` (cells, sheets, records),
:mod:`~sipas_analysis.official.layouts` (the workbook layouts),
:mod:`~sipas_analysis.official.workbooks` (whole workbooks, the tidy table) and
:mod:`~sipas_analysis.official.published` (the published figures of ``data/reference/``). The
command ``sipas papi-official`` is :mod:`sipas_analysis.commands.papi_official`.
"""

from __future__ import annotations

from sipas_analysis.official.codes import COLUMNS, LEVELS, provinces, resolve_province
from sipas_analysis.official.published import read_published_papi, read_published_sipas
from sipas_analysis.official.workbooks import read_papi_workbook, read_papi_workbooks

__all__ = [
    "COLUMNS",
    "LEVELS",
    "provinces",
    "resolve_province",
    "read_papi_workbook",
    "read_papi_workbooks",
    "read_published_sipas",
    "read_published_papi",
]
