"""Draft a wave config from a field file as it is: ``sipas init-wave``.

A new wave arrives as a file the project has never seen: long Vietnamese question headers worded
slightly differently from the instrument, a title row above the header, commune names in mixed
spellings, village labels that recur in every commune, no stratum and no PSU code. Mapping it by
hand is most of the work of a new wave. :func:`draft_config` reads the file, finds the header row,
and proposes the whole config (same format as ``waves/*.yaml``, see :mod:`sipas_analysis.waves`):

* **items** — matched to columns by question number ("Câu 9.12", "C9_12", "q9_12"), then by
  accent- and punctuation-insensitive similarity of the header to the instrument's wording
  (:class:`difflib.SequenceMatcher` on the folded text, a cut header compared with the same
  length of wording), then by the variable labels of SPSS/Stata files. A number match whose wording
  clearly differs, two columns with one number, or two columns equally similar are *ambiguous*;
  the values of a matched column must be the item's codes (or missing codes);
* **columns** — commune (the names or codes that resolve in a boundary vintage, through
  :func:`sipas_analysis.geography.resolve_communes`), village, weight (positive numbers), sex,
  age, urban/rural and respondent id, by header patterns and content (no column of unique
  values → ``respondent_id: null``: the row number in the file is the id);
* **boundary vintage** — when not given, the vintage in which most rows' commune names match
  exactly (type prefix included; a bare name counts half);
* **design** — the weight column; no PSU code in the file → the PSU is the commune × village
  combination: ``psu:`` the village column, nested within the resolved commune
  (``nest_psu: true``), so that a village whose commune name is spelled in several ways stays
  one PSU; a stratum column if there is one;
* **value labels** — the codes of sex, urban/rural and age-band columns: written in
  ``value_labels:`` when sure (codes stated in the header, "Giới tính (1=Nam, 2=Nữ)"; sex or
  urban/rural coded 1/2 as the questionnaire codes them), else proposed in comments (age bands
  1–5 without a codebook: the questionnaire's bands do not nest in 18-29/30-44/45-59/60+);
* **personal columns** — headers recognised by :func:`sipas_analysis.waves.is_personal_header`
  and text columns whose values look like people's names.

The draft is commented: every guess says how it was made; unmatched and ambiguous items are
written as comments with their candidates. ``sipas init-wave`` prints the table item → column →
how matched and exits 0 when every index item (the instrument's satisfaction items for SIPAS,
indicators for PAPI) is matched and nothing is ambiguous, 1 otherwise (the draft is still written),
and 2 when the file is unusable (a bilingual message, no traceback).

Command line::

    sipas init-wave data/raw/sipas_2026.xlsx --instrument sipas-2022 --wave 2026 \\
        --out waves/sipas-2026.yaml

Examples
--------
>>> from sipas_analysis.init_wave import draft_config                      # doctest: +SKIP
>>> draft = draft_config("data/raw/sipas_2026.xlsx", "sipas-2022", "2026",
...                      out="waves/sipas-2026.yaml")                      # doctest: +SKIP
>>> draft.exit_code, draft.vintage                                         # doctest: +SKIP
(0, '2025')

The package, by stage: :mod:`~sipas_analysis.init_wave.rules` (thresholds and patterns),
:mod:`~sipas_analysis.init_wave.reading` (the file's columns),
:mod:`~sipas_analysis.init_wave.matching` (items to columns),
:mod:`~sipas_analysis.init_wave.roles` (commune, village, weight, … columns),
:mod:`~sipas_analysis.init_wave.labels` (value labels) and
:mod:`~sipas_analysis.init_wave.draft` (the draft and its YAML); the command ``sipas init-wave``
is :mod:`sipas_analysis.commands.init_wave`.
"""

from __future__ import annotations

from sipas_analysis.init_wave.draft import Draft, draft_config
from sipas_analysis.init_wave.labels import header_codes
from sipas_analysis.init_wave.matching import ItemMatch, question_number, similarity
from sipas_analysis.init_wave.reading import read_columns

__all__ = [
    "Draft",
    "ItemMatch",
    "draft_config",
    "question_number",
    "read_columns",
    "header_codes",
    "similarity",
]
