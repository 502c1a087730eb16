"""Read one survey wave through its config into the canonical respondent table.

A wave is described by a YAML config (format: ``waves/*.yaml``; see :func:`load_wave_config`) that
names the data file (.csv, .xlsx, SPSS .sav or Stata .dta), the instrument, the boundary vintage and
the mapping from the file's own headers to canonical columns and instrument item codes.
:func:`read_wave` reads the file (never writing to it), drops personal columns at once, normalises
text to Unicode NFC, resolves commune names to GSO codes through :mod:`sipas_analysis.geography`,
runs every check of :mod:`sipas_analysis.validate`, and returns a :class:`LoadedWave`: the kept
respondents in the canonical table, the excluded rows with their reasons, the full problem list and
the row accounting (rows read = rows kept + rows excluded, always).

Canonical respondent table (one row per kept respondent, in this column order):

``respondent_id, wave, survey, instrument, boundary_vintage, source_row, commune_code,
commune_name, area_code, area_name, stratum, psu, village, weight, [fpc,] sex, age, age_band,
urban_rural`` then one ``Int64`` column per instrument item (item code), answer codes, with missing
codes (98/99 …) and blanks as ``<NA>`` (items of answer type ``continuous`` — measured amounts
such as PAPI's hours or costs — are ``Float64``). ``fpc`` (float64) is present only when the
config maps ``design.fpc``. Without a ``design.strata`` column every respondent is in stratum ``"1"``; without
``design.psu`` each respondent is its own PSU (``psu`` = respondent id); without ``design.weight``
every weight is 1.0.

Config keys for field files
---------------------------
``columns.respondent_id: null``
    The file has no id column: each respondent's id is its row number in the file (the
    ``source_row``), and the duplicate-id check is skipped (info ``ids_from_rows``). Leaving
    ``respondent_id`` out is an error.
``header_row: N``
    Row number (1 = first row) of the header in a csv/xlsx file. Without it the header is the
    row, among the first 30 non-blank rows, that holds the most of the config's headers: title
    rows, notes and blank lines above it are skipped (info ``rows_above_header``), merged header
    cells of a workbook carry their value into every cell they span. ``sheet:`` names the sheet;
    without it, the one sheet holding the config's headers is used.
Headers (``columns``, ``design``, ``items``)
    Matched exactly after NFC, case and spacing; else, when a single column fits, as the start
    of an SPSS label cut at 256 bytes, as a prefix of a header (a trailing "…" ignored), or by
    question number ("Câu 9.12" = "C9_12" = "q9_12"); a .sav/.dta column by its variable name
    or its label. A lenient match is reported (info ``column_matched``); a missing header is an
    error naming the nearest headers of the file ("có phải … ? / did you mean …?").
``design.psu: [Xã, Ấp]``
    A PSU made of several columns. The commune column's part is the resolved commune code, so
    that one commune spelled in several ways ("Xã Hoà Khánh" / "hòa khánh") stays one commune;
    the other labels are compared after case, spacing and tone-mark style ("Ấp 1" = "ấp 1",
    info ``psu_label_spelling``).
    PSU labels that recur in several communes ("Ấp 1" in every commune) are nested within
    commune unless ``design.nest_psu: false`` (then a warning).
``design.strata: area`` (or ``commune``)
    Strata derived from the commune's area (old district) or the commune, when the file has no
    column of that name.
``design.certainty: [PSU, …]``
    PSUs taken with certainty: each becomes its own stratum, its respondents the units.
``design.weight: null``
    Written on purpose for a self-weighting sample; leaving ``weight`` out is an error.
``value_labels: {sex: {0: Nam, 1: Nữ}, age_band: {1: 18-29, …}, urban_rural: {…}}``
    Codes of coded columns (csv/xlsx; for .sav/.dta the file's own value labels are used). Labels
    are the canonical words (Nam, Nữ; Thành thị, Nông thôn) and age bands (18-29, 30-44, 45-59,
    60+).
``checks: {min_respondents: 30, max_weight_share: 0.10, max_weight_ratio: 1000}``
    File-level limits: fewer usable respondents, one weight above that share of the total, or a
    max/min weight ratio above the limit is an error that stops ``sipas run``.

Examples
--------
>>> from sipas_analysis.waves import read_wave          # doctest: +SKIP
>>> wave = read_wave("waves/sipas-2024.yaml")          # doctest: +SKIP
>>> acc = wave.accounting                                # doctest: +SKIP
>>> acc["rows_read"] == acc["rows_kept"] + acc["rows_excluded"]   # doctest: +SKIP
True

The package, by stage: :mod:`~sipas_analysis.waves.columns` (the canonical columns, labelled codes,
personal headers), :mod:`~sipas_analysis.waves.config` (the config schema and
:func:`load_wave_config`), :mod:`~sipas_analysis.waves.sources` (reading the file, finding the
headers) and :mod:`~sipas_analysis.waves.build` (the canonical table, :func:`read_wave`,
:func:`validate_wave`). The command ``sipas validate`` is :mod:`sipas_analysis.commands.validate`.
"""

from __future__ import annotations

from sipas_analysis.coerce import to_number, to_text
from sipas_analysis.waves.build import AccountingError, LoadedWave, read_wave, validate_wave
from sipas_analysis.waves.columns import AGE_BANDS, CANONICAL_FRONT, is_personal_header
from sipas_analysis.waves.config import (
    CALIBRATION_MARGINS,
    WAVE_SCHEMA,
    WaveConfig,
    find_config_for,
    load_wave_config,
)
from sipas_analysis.waves.sources import question_number

__all__ = [
    "CANONICAL_FRONT",
    "AGE_BANDS",
    "WaveConfig",
    "LoadedWave",
    "AccountingError",
    "WAVE_SCHEMA",
    "load_wave_config",
    "find_config_for",
    "read_wave",
    "validate_wave",
    "is_personal_header",
    "to_text",
    "to_number",
    "CALIBRATION_MARGINS",
    "question_number",
]
