"""Seeded generator of the bundled sample waves (``data/sample/``) and their wave configs.

The sample data let a new user run the whole project at once, and give the tests a planted truth
to recover. Everything the data look like is decided in ``sample_spec.yaml`` next to this package:
the waves (instrument, boundary vintage, file format), the multistage design (strata = areas,
communes, villages as PSUs, unequal weights), the demographic mix, the true satisfaction levels
with the planted effects, and the mess of real files (Vietnamese headers, value labels, 98/99
codes, invalid rows, mixed spellings of commune names, personal columns).

Answers are generated for whatever items the instrument definition lists for the wave's year
(:mod:`sipas_analysis.instruments`), respecting filter questions. The same seed gives the same
files: each wave draws from ``numpy.random.SeedSequence([seed, crc32(wave id)])`` and the file
writers remove every time stamp they can.

Command line::

    sipas make-sample                       # regenerate data/sample/ and waves/
    sipas make-sample --out other --seed 7  # elsewhere, another seed (configs in other/waves)

Besides the data files and one wave config per wave, the generator writes
``planted_truth.csv`` (true values per wave, commune and index node), ``planted_mess.csv`` (every
planted problem with its source row) and ``README.md`` into the output folder.

The package, by stage: :mod:`~sipas_analysis.sample.spec` (the specification and the seeds),
:mod:`~sipas_analysis.sample.people` (design: communes, villages, respondents, weights),
:mod:`~sipas_analysis.sample.answers` (the planted truth and the answers),
:mod:`~sipas_analysis.sample.mess` (the planted problems of real files),
:mod:`~sipas_analysis.sample.writing` (headers, value labels, file writers),
:mod:`~sipas_analysis.sample.wave` (one wave in memory), :mod:`~sipas_analysis.sample.files`
(the sample folder and wave configs) and :mod:`~sipas_analysis.sample.readme` (its README).
The command ``sipas make-sample`` is :mod:`sipas_analysis.commands.make_sample`.
"""

from __future__ import annotations

from sipas_analysis.sample.files import generate_sample, read_back
from sipas_analysis.sample.spec import SPEC_PATH, load_spec
from sipas_analysis.sample.wave import WaveSample, build_wave

__all__ = [
    "SPEC_PATH",
    "WaveSample",
    "build_wave",
    "generate_sample",
    "load_spec",
    "read_back",
]
