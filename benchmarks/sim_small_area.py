"""Simulation: Fay-Herriot EBLUP of commune shares and rank confidence sets, against the truth.

Communes (19, as in the new geography of Tay Ninh, and 60, as before 2025) get true satisfaction
shares with logit(p_i) ~ N(logit 0.8, 0.3^2) and effective sample sizes n_eff uniform on 15-40
(20-60 respondents with a design effect of about 1.5). In each replicate the direct share is a
binomial draw with n_eff trials, i.e. it has the variance p(1-p) deff / n of the clustered design.
The model is :func:`sipas_analysis.small_area.fay_herriot_proportions` (arcsine scale, known
D = 1/(4 n_eff)).

Two regimes: ``fixed`` keeps one draw of the true shares for all replicates (the design-based
view of one province: per-commune coverage is conditional on the commune's true share, so
communes far from the rest are under-covered); ``redrawn`` draws new shares every replicate (the
model's own view, where the intervals are calibrated on average).

Reported per (communes, regime, estimator of sigma_v^2):
  cov med / cov min  median and worst commune coverage of the 95 % intervals over replicates
  <90%               number of communes whose coverage is below 90 %
  sv2=0              share of replicates with sigma_v^2 estimated as 0 (EBLUP = synthetic)
  MSE ratio          sum over communes of MSE(EBLUP) / sum of MSE(direct), share scale, and the
                     worst commune's ratio
  rank cov           joint coverage of the 95 % rank confidence sets of the true ranks (target
                     >= 95 %), from the direct estimates (se = sqrt(D)) and from the EBLUPs
                     (se = sqrt(mse)), with the mean length of the sets

Usage::

    .venv/bin/python benchmarks/sim_small_area.py [--reps 1000] [--seed 2025]

Not a test.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats

from sipas_analysis.small_area import fay_herriot_proportions, rank_confidence_sets


def simulate(
    m: int, regime: str, method: str, reps: int, sd: float, rng: np.random.Generator
) -> dict:
    n_eff = rng.integers(15, 41, m).astype(float)
    theta = stats.logistic.ppf(0.8) + sd * rng.standard_normal(m)
    se_dir = 1 / (2 * np.sqrt(n_eff))
    hit = np.zeros(m)
    sq_eb = np.zeros(m)
    sq_dir = np.zeros(m)
    zero = 0
    rank_hit = {"direct": 0, "eblup": 0}
    rank_len = {"direct": 0.0, "eblup": 0.0}
    for _ in range(reps):
        if regime == "redrawn":
            theta = stats.logistic.ppf(0.8) + sd * rng.standard_normal(m)
        p = stats.logistic.cdf(theta)
        k = rng.binomial(n_eff.astype(int), p)
        p_hat = k / n_eff
        res = fay_herriot_proportions(p_hat, n_eff, method=method)
        t = res.table
        hit += (t.ci_low.to_numpy() <= p) & (p <= t.ci_high.to_numpy())
        sq_eb += (t.estimate.to_numpy() - p) ** 2
        sq_dir += (p_hat - p) ** 2
        zero += res.fit.sigma2_v == 0
        true_rank = stats.rankdata(-p)
        for name, est, se in (
            ("direct", res.fit.direct, se_dir),
            ("eblup", res.fit.eblup, np.sqrt(res.fit.mse)),
        ):
            rs = rank_confidence_sets(est, se)
            lo, hi = rs.rank_low.to_numpy(float), rs.rank_high.to_numpy(float)
            rank_hit[name] += bool(np.all((lo <= true_rank) & (true_rank <= hi)))
            rank_len[name] += float(np.mean(hi - lo + 1))
    cov = hit / reps
    return {
        "cov_med": np.median(cov),
        "cov_min": cov.min(),
        "n_low": int(np.sum(cov < 0.9)),
        "zero": zero / reps,
        "mse_ratio": sq_eb.sum() / sq_dir.sum(),
        "mse_worst": np.max(sq_eb / sq_dir),
        "rank_dir": rank_hit["direct"] / reps,
        "len_dir": rank_len["direct"] / reps,
        "rank_eb": rank_hit["eblup"] / reps,
        "len_eb": rank_len["eblup"] / reps,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=2025)
    ap.add_argument("--sd", type=float, default=0.3, help="sd of the true shares on logit scale")
    args = ap.parse_args()
    head = (
        f"{'m':>3} {'truth':<8} {'method':<9} {'cov med':>7} {'cov min':>7} {'<90%':>4} {'sv2=0':>6} "
        f"{'MSE rat':>7} {'worst':>6} {'rank dir':>8} {'len':>5} {'rank EB':>7} {'len':>5} "
        f"{'sec':>5}"
    )
    print(
        f"Fay-Herriot on arcsine scale, logit sd {args.sd}, {args.reps} replicates, "
        f"seed {args.seed}"
    )
    print(head)
    print("-" * len(head))
    t_all = time.perf_counter()
    for m in (19, 60):
        for regime in ("fixed", "redrawn"):
            for method in ("REML", "AREML-YL"):
                rng = np.random.default_rng([args.seed, m, regime == "fixed"])
                t0 = time.perf_counter()
                r = simulate(m, regime, method, args.reps, args.sd, rng)
                sec = time.perf_counter() - t0
                print(
                    f"{m:>3} {regime:<8} {method:<9} {r['cov_med']:>7.3f} {r['cov_min']:>7.3f} {r['n_low']:>4} "
                    f"{r['zero']:>6.3f} {r['mse_ratio']:>7.3f} {r['mse_worst']:>6.2f} "
                    f"{r['rank_dir']:>8.3f} {r['len_dir']:>5.1f} {r['rank_eb']:>7.3f} "
                    f"{r['len_eb']:>5.1f} {sec:>5.1f}"
                )
    print(f"total {time.perf_counter() - t_all:.1f} s")
    print(
        "<90%: communes with coverage below 90 %; fixed truth: the worst-covered communes are the "
        "ones whose true share is far from the others (shrinkage bias)"
    )


if __name__ == "__main__":
    main()
