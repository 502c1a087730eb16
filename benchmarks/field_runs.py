"""Whole runs on field-style waves: commune false flags on null waves, planted communes found.

Each wave is a file of the field-style generator (:func:`sipas_analysis.field_sample.make_field_wave`:
19 communes × 3 villages × 18 respondents, village clustering, long question headers, a title
row), taken the way an analyst takes it: ``sipas init-wave`` drafts the config, ``sipas run
--waves-dir`` computes everything. Printed, per wave: the communes the findings table calls
below the rest of their area (``below_rest``) on null waves (nothing planted, no commune effect:
``commune_sd=0``), on "natural" waves (no planted commune, but the communes differ a little, as
the generator's default), and on waves with the generator's three planted communes, and the time
of a run. The target: no commune below the rest in at least 7 of 8 null waves.

Usage::

    .venv/bin/python benchmarks/field_runs.py [--waves 8]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from sipas_analysis import cli
from sipas_analysis.field_sample import DEFAULT_PLANTED, make_field_wave


def one_run(
    folder: Path, seed: int, planted: dict[int, float], commune_sd: float = 0.0
) -> tuple[set[str], float]:
    data = folder / "data"
    cfgs = folder / "waves"
    data.mkdir()
    cfgs.mkdir()
    make_field_wave(data / "khao_sat_2026.xlsx", seed=seed, planted=planted, commune_sd=commune_sd)
    quiet = io.StringIO()
    t0 = time.time()
    with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            code = cli.main(
                ["init-wave", str(data / "khao_sat_2026.xlsx"), "--instrument", "sipas-2022",
                 "--wave", "2026", "--out", str(cfgs / "sipas-2026.yaml")]
            )  # fmt: skip
            if code != 0:
                raise SystemExit(f"init-wave exit {code}:\n{quiet.getvalue()[-2000:]}")
            code = cli.main(["run", "--waves-dir", str(cfgs), "--out", str(folder / "out")])
            if code != 0:
                raise SystemExit(f"run exit {code}:\n{quiet.getvalue()[-2000:]}")
    f = pd.read_parquet(folder / "out" / "tables" / "findings.parquet")
    below = f[(f["level"] == "commune") & f["reason_codes"].str.contains("below_rest")]
    return set(below["unit_code"].astype(str)), time.time() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waves", type=int, default=8)
    parser.add_argument("--seed", type=int, default=700)
    args = parser.parse_args()
    planted_codes = {str(c) for c in DEFAULT_PLANTED}
    kinds = (
        ("null (no commune effect)", {}, 0.0),
        ("natural (communes differ a little, SD 0.1 logit; nothing planted)", {}, 0.1),
        ("planted (3 communes 1.3 logit below; natural differences)", DEFAULT_PLANTED, 0.1),
    )
    for label, planted, sd in kinds:
        clean, found, false, times = 0, 0, 0, []
        print(f"{label} waves:")
        for k in range(args.waves):
            with tempfile.TemporaryDirectory() as tmp:
                flagged, secs = one_run(Path(tmp), args.seed + k, planted, sd)
            times.append(secs)
            clean += not flagged
            found += len(flagged & planted_codes) if planted else 0
            false += len(flagged - planted_codes) if planted else len(flagged)
            print(f"  seed {args.seed + k}: below the rest {sorted(flagged) or '-'} ({secs:.0f} s)")
        if planted:
            print(
                f"  planted communes found {found}/{len(planted) * args.waves}; other communes "
                f"flagged {false} in {args.waves} waves"
            )
        else:
            print(f"  waves with no commune below the rest: {clean}/{args.waves}")
        print(f"  run time median {sorted(times)[len(times) // 2]:.0f} s")


if __name__ == "__main__":
    main()
