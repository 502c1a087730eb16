"""Coverage of commune-level 95% intervals under the interval rules a run can use (not a test).

The sample design of the survey areas puts two to four villages (PSUs) in each commune. With so
few PSUs the clustered standard error of a commune is itself very uncertain. This script draws
repeated samples from a synthetic population with real between-village variation and prints, for
each rule, how often the commune intervals cover the true commune share:

* ``design df``            clustered SE, degrees of freedom of the whole design;
* ``domain df``            clustered SE, the commune's own degrees of freedom (PSUs - 1);
* ``floor + design df``    SE = max(clustered, respondent-level), design df where the clustered SE
                           is kept, n - 1 where the floor binds;
* ``floor + domain df``    the same with the commune's own df where the clustered SE is kept
                           (the rule of ``pipeline.RUN_OPTIONS`` + ``findings.apply_se_floor``).

Usage::

    .venv/bin/python benchmarks/coverage_small_domains.py [--reps 300] [--villages 3]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

from sipas_analysis.estimate import estimate_domains, proportion_ci

N_COMMUNES = 20
VILLAGES_IN_FRAME = 40
PER_VILLAGE = 8


def population(rng: np.random.Generator, village_sd: float) -> pd.DataFrame:
    """Villages of 20 communes with sizes and true satisfied counts (logit-normal village means)."""
    commune = np.repeat(np.arange(N_COMMUNES), VILLAGES_IN_FRAME)
    mu = rng.normal(1.3, 0.4, N_COMMUNES)[commune]
    size = rng.integers(150, 900, len(commune))
    p = 1 / (1 + np.exp(-(mu + rng.normal(0, village_sd, len(commune)))))
    return pd.DataFrame({"commune": commune, "size": size, "satisfied": rng.binomial(size, p)})


def draw(pop: pd.DataFrame, rng: np.random.Generator, villages: int) -> pd.DataFrame:
    """Villages by SRS within each commune, PER_VILLAGE people by SRS within each village."""
    parts = []
    for c, frame in pop.groupby("commune"):
        chosen = frame.iloc[rng.choice(len(frame), size=villages, replace=False)]
        k = rng.hypergeometric(
            chosen["satisfied"].to_numpy(),
            (chosen["size"] - chosen["satisfied"]).to_numpy(),
            PER_VILLAGE,
        )
        rep = np.repeat(np.arange(villages), PER_VILLAGE)
        pos = np.tile(np.arange(PER_VILLAGE), villages)
        parts.append(
            pd.DataFrame(
                {
                    "stratum": c % 4,
                    "commune": c,
                    "psu": [f"{c}-{v}" for v in chosen.index.to_numpy()[rep]],
                    "weight": (len(frame) / villages)
                    * chosen["size"].to_numpy()[rep]
                    / PER_VILLAGE,
                    "q": np.where(pos < k[rep], 5, 2),
                }
            )
        )
    out = pd.concat(parts, ignore_index=True)
    out["rid"] = np.arange(len(out)).astype(str)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300)
    parser.add_argument("--villages", type=int, default=3)
    parser.add_argument("--village-sd", type=float, default=0.5)
    parser.add_argument("--seed", type=int, default=20251127)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    pop = population(rng, args.village_sd)
    truth = (pop.groupby("commune")["satisfied"].sum() / pop.groupby("commune")["size"].sum()) * 100
    hits = {k: [] for k in ("design df", "domain df", "floor + design df", "floor + domain df")}
    widths = {k: [] for k in hits}
    warnings.simplefilter("ignore")
    for _ in range(args.reps):
        s = draw(pop, rng, args.villages)
        kw = {"statistic": "top2", "weight": "weight", "strata": "stratum", "lonely_psu": "adjust"}
        des = estimate_domains(s, ["q"], "commune", psu="psu", **kw).table.set_index("commune")
        dom = estimate_domains(s, ["q"], "commune", psu="psu", df="domain", **kw).table
        dom = dom.set_index("commune")
        srs = estimate_domains(s, ["q"], "commune", psu="rid", **kw).table.set_index("commune")
        t = truth.reindex(des.index).to_numpy()
        p, se, n = des["estimate"].to_numpy(), des["se"].to_numpy(), des["n"].to_numpy()
        binds = srs["se"].to_numpy() > se
        se_f = np.where(binds, srs["se"].to_numpy(), se)
        rules = {
            "design df": (des["ci_low"].to_numpy(), des["ci_high"].to_numpy()),
            "domain df": (dom["ci_low"].to_numpy(), dom["ci_high"].to_numpy()),
        }
        for name, df_kept in (("floor + design df", des["df"]), ("floor + domain df", dom["df"])):
            dfv = np.where(binds, n - 1, df_kept.to_numpy(dtype=float))
            lo, hi = proportion_ci(p / 100, se_f / 100, dfv, 0.95)
            rules[name] = (lo * 100, hi * 100)
        ok = np.isfinite(se) & (se > 0)
        for name, (lo, hi) in rules.items():
            hits[name] += list(((lo <= t) & (t <= hi))[ok])
            widths[name] += list((hi - lo)[ok])
    print(
        f"{N_COMMUNES} communes, {args.villages} villages x {PER_VILLAGE} people each, village "
        f"logit sd {args.village_sd}, {args.reps} samples"
    )
    for name in hits:
        print(
            f"  {name:<20} coverage {100 * np.mean(hits[name]):5.1f}%   "
            f"median width {np.median(widths[name]):5.1f} points"
        )


if __name__ == "__main__":
    main()
