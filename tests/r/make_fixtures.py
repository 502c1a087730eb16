"""Seeded generator of the design fixture used by the R reference (``reference_estimates.R``).

Run ``python tests/r/make_fixtures.py`` to rewrite ``tests/r/fixtures/design_fixture.csv``; the
committed CSV is what both R and the tests read. The fixture has 7 strata (one with a single PSU),
PSU labels reused across strata (nesting), communes made of 1-3 PSUs (one commune is a single PSU),
unequal weights, item nonresponse, an item with no valid answer in one commune, an item at 100 % in
one commune and 0 % in another, a binary item and a finite population correction column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent

# stratum -> (area, list of communes, each a number of PSUs)
LAYOUT = {
    "A": (794, [2, 2]),
    "B": (794, [2, 1]),
    "C": (798, [3, 2]),
    "D": (798, [2]),
    "E": (800, [2, 3]),
    "F": (800, [1, 2, 2]),
    "G": (800, [1]),  # singleton stratum
}


def make_fixture(seed: int = 20241001) -> pd.DataFrame:
    """Return the fixture respondent table (deterministic for a given seed)."""
    rng = np.random.default_rng(seed)
    rows = []
    commune_code = 100
    for stratum, (area, communes) in LAYOUT.items():
        n_psu = sum(communes)
        fpc = 2 * n_psu + 3
        psu_no = 0
        s_factor = rng.uniform(50, 200)
        for size in communes:
            commune_code += 1
            for _ in range(size):
                psu_no += 1
                m = int(rng.integers(5, 13))
                village_effect = rng.normal(0, 0.7)
                for _ in range(m):
                    latent = village_effect + rng.normal(0.6, 1.0)
                    answers = []
                    for shift in (0.0, -0.4, 0.3, 0.1):
                        x = latent + shift + rng.normal(0, 0.8)
                        answers.append(int(np.clip(np.round(3 + x), 1, 5)))
                    rows.append(
                        {
                            "stratum": stratum,
                            "psu": f"v{psu_no}",
                            "weight": round(s_factor * rng.lognormal(0, 0.4), 3),
                            "fpc": fpc,
                            "commune_code": commune_code,
                            "area_code": area,
                            "sex": int(rng.integers(1, 3)),
                            "q1": answers[0],
                            "q2": answers[1],
                            "q3": answers[2],
                            "q4": answers[3],
                            "qb": int(1 if rng.random() < 0.7 else 2),
                        }
                    )
    df = pd.DataFrame(rows)
    n = len(df)
    for col, rate in (("q1", 0.06), ("q2", 0.1), ("q3", 0.08), ("qb", 0.05)):
        df[col] = df[col].astype("Int64")
        df.loc[rng.random(n) < rate, col] = pd.NA
    df["q4"] = df["q4"].astype("Int64")
    # q3: no valid answer in commune 104 (empty cell)
    df.loc[df["commune_code"] == 104, "q3"] = pd.NA
    # q4: everyone satisfied in commune 106, nobody in commune 107 (degenerate cells)
    df.loc[df["commune_code"] == 106, "q4"] = 5
    df.loc[df["commune_code"] == 107, "q4"] = 2
    df.insert(0, "respondent_id", [f"r{i:04d}" for i in range(1, n + 1)])
    return df


if __name__ == "__main__":
    out = HERE / "fixtures" / "design_fixture.csv"
    make_fixture().to_csv(out, index=False)
    print(f"wrote {out}")
