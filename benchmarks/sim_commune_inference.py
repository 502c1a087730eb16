"""Error rates of the commune figures and weak points a run publishes (a script, not a test).

Simulated waves go through the run's own functions — :func:`sipas_analysis.pipeline.indices_for`
(indices with the pooled variance model), :func:`sipas_analysis.findings.rest_contrasts`,
:func:`sipas_analysis.trends.trend_table` and :func:`sipas_analysis.findings.weak_points` (the
Benjamini–Hochberg families) — on two layouts:

* ``sample``: the design of the bundled wave sipas-2024 (60 communes, 2–4 villages each, area
  strata, its weights and its pattern of missing answers), answers redrawn;
* ``field``: 19 communes × 3 villages × 18 respondents, no strata, PSU = commune × village,
  unequal weights (the layout of a field team's file on the 2025 communes).

Answers: respondent *i* in village *v* of commune *c* is satisfied with item *k* with probability
``expit(mu_k + a_c + u_v + e_i)``, ``u_v ~ N(0, s_u²)`` with the village share of the latent
variance ``ICC = s_u² / (s_u² + π²/3)``, ``e_i ~ N(0, 0.5²)`` shared by the items of a respondent.
The truth of a commune is its population share (the expectation over its villages), computed by
quadrature.

Printed:

1. coverage of the 95% commune intervals (items and composites) for ICC 0, 0.05, 0.10, 0.25 with
   commune effects ``a_c ~ N(0, 0.3²)`` fixed across replicates: median and worst commune, the
   joint coverage of the 95% rank sets of the overall index (``rank_joint``: share of replicates
   in which every ranked commune's true rank lies in its set; ``rank_set_len``: mean length), and
   beside it ``worst_if_exact_95``, what the worst commune reads by chance alone when every
   commune's true coverage is exactly 95% (with 100 replicates and one cell per commune, the worst
   of 60 communes is about 0.90 even then);
2. the null false-flag rate per family (``a_c = 0``; two waves with the same truth): the share of
   replicate waves in which BH calls any commune (area) below the rest, or any commune decline,
   and in which a brief would print a change of a sub-index (significant with the trends
   table's ``q_value`` at most 0.05) for an area or the whole area (``trend_sentence_area_total``)
   or for a commune (``trend_sentence_commune``); the share of commune sheets that call any
   of their changes "có ý nghĩa thống kê" (``sheet_label_share``; ``_raw``: each change on its
   own test, the rule before the test families) and the share of waves in which the briefs'
   commune table calls any commune's change of SIPAS significant (``league_label_any``) or a
   brief names a commune's improvement as a bright spot (``bright_spot_commune``;
   ``_per_commune_bh``: the rule before, BH within each commune's composites);
3. power: the share of replicates in which a commune planted 25 points below (as the sample's
   Xã Bình Hòa Trung) and a commune with a planted 20-point decline (as Xã Hựu Thạnh) are flagged;
4. run time.

Usage::

    .venv/bin/python benchmarks/sim_commune_inference.py [--reps 200] [--cov-reps 100] [--jobs 2]
"""

from __future__ import annotations

import argparse
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sipas_analysis import findings, pipeline, trends, waves
from sipas_analysis.instruments import load_instrument
from sipas_analysis.paths import WAVES_DIR

ICCS = (0.0, 0.05, 0.10, 0.25)
NODES = np.polynomial.hermite_e.hermegauss(41)  # Gauss-Hermite (probabilists') for N(0, 1)


def _expit(x):
    return 1 / (1 + np.exp(-x))


@dataclass
class Layout:
    name: str
    frame: pd.DataFrame  # respondent table: design columns, communes, answers (NA pattern kept)
    cfg: object  # the wave config the indices are computed with
    items: list[str]
    mu: np.ndarray  # item intercepts (logit)


def sample_layout() -> Layout:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = pipeline.load_wave(WAVES_DIR / "sipas-2024.yaml")
    inst = load_instrument(loaded.config.instrument)
    items = [c for c in inst.satisfaction_items()["code"] if c in loaded.respondents.columns]
    mu = np.linspace(1.0, 2.0, len(items))  # satisfied shares ~ 0.70-0.85
    return Layout("sample", loaded.respondents.reset_index(drop=True), loaded.config, items, mu)


def field_layout(rng: np.random.Generator) -> Layout:
    """19 communes x 3 villages x 18 respondents; no strata; unequal weights."""
    base = sample_layout()
    from sipas_analysis import geography

    communes = geography.communes("2025")
    rows = []
    rid = 0
    for _, c in communes.iterrows():
        for v in range(3):
            size = rng.integers(300, 1500)
            for _ in range(18):
                rows.append(
                    {
                        "respondent_id": f"f{rid}",
                        "commune_code": int(c["commune_code"]),
                        "area_code": int(c["area_code"]),
                        "stratum": 1,
                        "psu": f"{int(c['commune_code'])}|Ấp {v + 1}",
                        "weight": size / 18 * rng.uniform(0.7, 1.3),
                    }
                )
                rid += 1
    frame = pd.DataFrame(rows)
    template = base.frame.sample(len(frame), replace=True, random_state=1).reset_index(drop=True)
    keep = [c for c in template.columns if c not in frame.columns]
    frame = pd.concat([frame, template[keep]], axis=1)
    frame["commune_name"] = frame["commune_code"].map(
        communes.set_index("commune_code")["commune_name"]
    )
    frame["boundary_vintage"] = "2025"
    frame["wave"] = "2025"
    cfg = waves.load_wave_config(WAVES_DIR / "sipas-2025.yaml")
    return Layout("field", frame, cfg, base.items, base.mu)


def truth(mu: np.ndarray, a: np.ndarray, icc: float) -> np.ndarray:
    """Population share satisfied: E over villages and respondents, (communes x items)."""
    s_u = np.sqrt(icc / (1 - icc) * np.pi**2 / 3) if icc > 0 else 0.0
    s = np.sqrt(s_u**2 + 0.5**2)
    x, w = NODES
    w = w / w.sum()
    lin = mu[None, :, None] + a[:, None, None] + s * x[None, None, :]
    return (_expit(lin) * w).sum(axis=2)


def draw(lay: Layout, a_of: dict, icc: float, rng: np.random.Generator, shift=None):
    """One wave: the layout's respondents with answers redrawn (NA where the file has NA)."""
    df = lay.frame.copy()
    s_u = np.sqrt(icc / (1 - icc) * np.pi**2 / 3) if icc > 0 else 0.0
    psu_codes, psu_idx = np.unique(df["psu"].astype(str), return_inverse=True)
    u = rng.normal(0, s_u, len(psu_codes))[psu_idx] if s_u > 0 else 0.0
    e = rng.normal(0, 0.5, len(df))
    a = df["commune_code"].map(a_of).fillna(0).to_numpy(dtype=float)
    if shift is not None:
        a = a + df["commune_code"].map(shift).fillna(0).to_numpy(dtype=float)
    lin = lay.mu[None, :] + (a + u + e)[:, None]
    sat = rng.random(lin.shape) < _expit(lin)
    hi = rng.integers(4, 6, lin.shape)
    lo = rng.integers(1, 4, lin.shape)
    ans = np.where(sat, hi, lo)
    for j, code in enumerate(lay.items):
        na = df[code].isna().to_numpy()
        df[code] = pd.array(np.where(na, pd.NA, ans[:, j]), dtype="Int64")
    return df


def estimates(lay: Layout, df: pd.DataFrame, wave: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = pipeline.indices_for(df.assign(wave=wave), lay.cfg)
    return est.assign(wave=wave)


# ------------------------------------------------------------------------------------------------
# 1. coverage
# ------------------------------------------------------------------------------------------------
def coverage_rep(args):
    lay, icc, a_of, seed = args
    rng = np.random.default_rng(seed)
    est = estimates(lay, draw(lay, a_of, icc, rng), lay.cfg.wave)
    cells = est[(est["level"] == "commune") & (est["subgroup"].fillna("") == "")][
        ["unit_code", "index_code", "index_level", "estimate", "ci_low", "ci_high", "n"]
    ].assign(rep=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ranks = findings.commune_ranks(est, index_levels=("overall",))
    cells = cells.merge(
        ranks[["unit_code", "index_code", "rank_low", "rank_high"]].astype(
            {"unit_code": str, "rank_low": float, "rank_high": float}
        ),
        on=["unit_code", "index_code"],
        how="left",
    )
    return cells


def coverage(lay: Layout, reps: int, jobs: int, seed: int, iccs=ICCS) -> pd.DataFrame:
    inst = load_instrument(lay.cfg.instrument)
    rng = np.random.default_rng(seed)
    codes = sorted(lay.frame["commune_code"].dropna().astype(int).unique())
    a = rng.normal(0, 0.3, len(codes))
    a_of = dict(zip(codes, a, strict=True))
    rows = []
    for icc in iccs:
        tr = truth(lay.mu, a, icc) * 100
        t_item = pd.DataFrame(tr, index=[str(c) for c in codes], columns=lay.items)
        t_long = t_item.stack().rename("truth").reset_index()
        t_long.columns = ["unit_code", "index_code", "truth"]
        # composites: element = mean of items, part = mean of elements, sipas = mean of parts
        items = inst.satisfaction_items().set_index("code")
        nodes = inst.nodes.set_index("code")
        elem = {
            e: [i for i in lay.items if items.at[i, "parent"] == e]
            for e in dict.fromkeys(items.loc[lay.items, "parent"])
        }
        comp = {e: t_item[v].mean(axis=1) for e, v in elem.items()}
        parts: dict[str, list[str]] = {}
        for e in elem:
            parts.setdefault(str(nodes.at[e, "parent"]), []).append(e)
        for p, es in parts.items():
            comp[p] = pd.concat([comp[e] for e in es], axis=1).mean(axis=1)
        comp["sipas"] = pd.concat([comp[p] for p in parts], axis=1).mean(axis=1)
        for code, s in comp.items():
            t_long = pd.concat(
                [
                    t_long,
                    pd.DataFrame({"unit_code": s.index, "index_code": code, "truth": s.to_numpy()}),
                ],
                ignore_index=True,
            )
        args = [(lay, icc, a_of, seed + 1000 * r + 1) for r in range(reps)]
        with ProcessPoolExecutor(jobs) as ex:
            res = pd.concat(list(ex.map(coverage_rep, args)), ignore_index=True)
        res = res.merge(t_long, on=["unit_code", "index_code"])
        res = res[res["n"] >= 10]
        res["cover"] = (res["ci_low"] <= res["truth"]) & (res["truth"] <= res["ci_high"])
        # joint coverage of the rank sets of the overall index: every ranked commune's true
        # rank (among the communes ranked in that replicate) inside its set at once
        top = res[(res["index_level"] == "overall") & res["rank_low"].notna()].copy()
        top["true_rank"] = top.groupby("rep")["truth"].rank(ascending=False, method="min")
        top["in_set"] = top["rank_low"].le(top["true_rank"]) & top["true_rank"].le(top["rank_high"])
        joint = top.groupby("rep")["in_set"].all()
        set_len = (top["rank_high"] - top["rank_low"] + 1).mean()
        for lev, g in res.groupby("index_level"):
            per = g.groupby(["unit_code", "index_code"])["cover"].mean()
            per_c = g.groupby("unit_code")["cover"].mean()
            # what "worst commune" reads if every commune covered exactly 95%: the minimum of
            # binomial shares over the same numbers of trials (median of 2000 draws)
            trials = g.groupby("unit_code")["cover"].size().to_numpy()
            draws = np.random.default_rng(0).binomial(trials, 0.95, (2000, len(trials)))
            worst_exact = float(np.median((draws / trials).min(axis=1)))
            rows.append(
                {
                    "layout": lay.name,
                    "icc": icc,
                    "index_level": lev,
                    "coverage_all": g["cover"].mean(),
                    "median_commune": per_c.median(),
                    "worst_commune": per_c.min(),
                    "worst_if_exact_95": worst_exact,
                    "worst_cell": per.min(),
                    "width_median": (g["ci_high"] - g["ci_low"]).median(),
                    "rank_joint": joint.mean() if lev == "overall" else np.nan,
                    "rank_set_len": set_len if lev == "overall" else np.nan,
                }
            )
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------
# 2-3. false flags on null data, power on planted effects
# ------------------------------------------------------------------------------------------------
def flags_rep(args):
    lay, icc, plant, seed = args
    rng = np.random.default_rng(seed)
    codes = sorted(lay.frame["commune_code"].dropna().astype(int).unique())
    a_of = dict.fromkeys(codes, 0.0)
    low, dec = {}, {}
    if plant:
        low = {plant["low"]: plant["low_shift"]}
        dec = {plant["decline"]: plant["decline_shift"]}
    w1 = draw(lay, a_of, icc, rng, shift=low)
    w2 = draw(lay, a_of, icc, rng, shift={**low, **dec})
    e1 = estimates(lay, w1, "2030")
    e2 = estimates(lay, w2, "2031")
    both = pd.concat([e1, e2], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tr = trends.trend_table(both[both["subgroup"].fillna("") == ""])
        con = pd.concat(
            [findings.rest_contrasts(e2, "commune"), findings.rest_contrasts(e2, "area")],
            ignore_index=True,
        )
        f = findings.weak_points(both, wave="2031", trends=tr, contrasts=con)
    rc = f["reason_codes"].fillna("")
    com = f["level"] == "commune"
    out = {
        "below_rest_commune": bool((com & rc.str.contains("below_rest")).any()),
        "below_rest_area": bool(((f["level"] == "area") & rc.str.contains("below_rest")).any()),
        "decline_commune": bool((com & rc.str.contains("decline")).any()),
        "decline_area_total": bool((~com & rc.str.contains("decline")).any()),
        "n_below_rest_commune": int((com & rc.str.contains("below_rest")).sum()),
    }
    # the change sentences of the briefs: significant with q <= 0.05 in the family of the unit's
    # changes into the wave (findings.trend_q_values, as pipeline.derived_tables sets q_value)
    q = findings.trend_q_values(tr)
    sub_index = tr["index_level"].isin(findings.fdr.TREND_FAMILY_LEVELS).to_numpy()
    said = tr["significant"].fillna(False).astype(bool).to_numpy() & (q <= 0.05) & sub_index
    lev = tr["level"].astype(str).to_numpy()
    out["trend_sentence_area_total"] = bool((said & (lev != "commune")).any())
    out["trend_sentence_commune"] = bool((said & (lev == "commune")).any())
    out.update(sheet_labels(tr.assign(q_value=q), "2031", plant))
    if plant:
        sel = f[com & (f["index_code"] == "sipas")]
        out["found_low"] = bool(
            (
                (sel["unit_code"] == str(plant["low"]))
                & sel["reason_codes"].str.contains("below_rest")
            ).any()
        )
        out["found_decline"] = bool(
            (
                (sel["unit_code"] == str(plant["decline"]))
                & sel["reason_codes"].str.contains("decline")
            ).any()
        )
        others = f[com & ~f["unit_code"].isin([str(plant["low"]), str(plant["decline"])])]
        out["other_communes_flagged"] = bool(
            others["reason_codes"].str.contains("below_rest|decline").any()
        )
    return out


def sheet_labels(tr: pd.DataFrame, wave: str, plant=None) -> dict:
    """What the commune sheets and the briefs' commune tables call "có ý nghĩa thống kê": the
    changes of a sheet (:func:`sipas_analysis.report.sheet._changes`: overall, parts, elements,
    and the three criteria that fell and the three that rose most) and the communes' headline
    changes, under the rule of the pages (:func:`sipas_analysis.highlights.said_significant`)
    and under each change's own test alone (``_raw``: the rule before the families)."""
    from sipas_analysis import highlights
    from sipas_analysis.report import sheet

    communes = sorted(tr.loc[tr["level"] == "commune", "unit_code"].astype(str).unique())
    any_raw, any_said, head_raw, head_said = [], [], [], []
    planted = None
    for c in communes:
        ch = sheet._changes({"trends": tr}, c, wave)
        items = ch[ch["index_level"] == "item"]
        shown = pd.concat(
            [
                ch[ch["index_level"].isin(["overall", "part", "element"])],
                items[items["change"] < 0].nsmallest(3, "change"),
                items[items["change"] > 0].nlargest(3, "change"),
            ]
        )
        raw = shown["significant"].fillna(False).astype(bool)
        said = shown.apply(highlights.said_significant, axis=1).astype(bool)
        any_raw.append(bool(raw.any()))
        any_said.append(bool(said.any()))
        head = ch[ch["index_code"] == "sipas"]
        head_raw.append(bool(head["significant"].fillna(False).astype(bool).any()))
        ok = bool(head.apply(highlights.said_significant, axis=1).any()) if len(head) else False
        head_said.append(ok)
        if plant and c == str(plant["decline"]):
            planted = ok and bool((head["change"] < 0).any())
    bright = highlights.bright_spots({"trends": tr}, wave, communes)
    # the rule before: BH within each commune's overall index, parts and elements
    cand = tr[(tr["level"] == "commune") & (tr["wave_to"].astype(str) == wave)
              & tr["index_level"].isin(["overall", "part", "element"])
              & tr["comparable"].fillna(False).astype(bool)
              & (tr["comparison"] == "consecutive")]  # fmt: skip
    bright_raw = False
    for _, g in cand.groupby(cand["unit_code"].astype(str)):
        reject = findings.benjamini_hochberg(g["p_value"].fillna(1.0).to_numpy(dtype=float))[0]
        up = g["significant"].fillna(False).astype(bool).to_numpy() & (g["change"] > 0).to_numpy()
        bright_raw |= bool((reject & up).any())
    out = {
        "bright_spot_commune_per_commune_bh": bright_raw,
        "bright_spot_commune": bool(len(bright)),
        "sheet_label_share_raw": float(np.mean(any_raw)) if communes else 0.0,
        "sheet_label_share": float(np.mean(any_said)) if communes else 0.0,
        "league_label_any_raw": bool(any(head_raw)),
        "league_label_any": bool(any(head_said)),
    }
    if plant:
        out["planted_decline_labelled"] = bool(planted)
    return out


def flag_rates(lay: Layout, icc: float, reps: int, jobs: int, seed: int, plant=None):
    args = [(lay, icc, plant, seed + 7919 * r) for r in range(reps)]
    with ProcessPoolExecutor(jobs) as ex:
        res = pd.DataFrame(list(ex.map(flags_rep, args)))
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200, help="null / power replicates")
    parser.add_argument("--cov-reps", type=int, default=100, help="coverage replicates per ICC")
    parser.add_argument("--icc-null", type=float, default=0.10)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--only", choices=["coverage", "flags", "power"], default=None)
    parser.add_argument("--layout", choices=["sample", "field"], default=None)
    parser.add_argument("--iccs", type=float, nargs="*", default=list(ICCS))
    args = parser.parse_args()
    pd.set_option("display.width", 160)
    t0 = time.time()
    layouts = [sample_layout(), field_layout(np.random.default_rng(args.seed))]
    if args.layout:
        layouts = [lay for lay in layouts if lay.name == args.layout]
    if args.only in (None, "coverage"):
        print(f"1. Coverage of 95% commune intervals ({args.cov_reps} replicates per ICC)")
        cov = pd.concat(
            [coverage(lay, args.cov_reps, args.jobs, args.seed, args.iccs) for lay in layouts],
            ignore_index=True,
        )
        print(cov.round(3).to_string(index=False))
        print(f"   [{time.time() - t0:.0f} s]")
    if args.only in (None, "flags"):
        print(
            f"\n2. Null waves (no commune effect, ICC {args.icc_null}): share of waves with a flag"
        )
        for lay in layouts:
            res = flag_rates(lay, args.icc_null, args.reps, args.jobs, args.seed)
            rates = res.drop(columns="n_below_rest_commune").mean()
            print(
                f"   {lay.name:6s} ({args.reps} waves): "
                + ", ".join(f"{k} {v:.3f}" for k, v in rates.items())
                + f"; communes flagged per wave {res['n_below_rest_commune'].mean():.2f}"
            )
        print(f"   [{time.time() - t0:.0f} s]")
    if args.only in (None, "power"):
        print(
            f"\n3. Power (ICC {args.icc_null}): planted commune 25 points below, 20-point decline"
        )
        for lay in layouts:
            codes = sorted(lay.frame["commune_code"].dropna().astype(int).unique())
            # -1.2 on the logit scale ~ 25 points at ~80 %; -1.05 ~ 20 points (the sample's effects)
            plant = {
                "low": codes[5],
                "low_shift": -1.2,
                "decline": codes[11],
                "decline_shift": -1.05,
            }
            res = flag_rates(
                lay, args.icc_null, max(args.reps // 4, 20), args.jobs, args.seed, plant
            )
            print(
                f"   {lay.name:6s}: planted low commune found {res['found_low'].mean():.3f}, "
                f"planted decline found {res['found_decline'].mean():.3f}, "
                f"other communes flagged {res['other_communes_flagged'].mean():.3f}, "
                f"planted decline called significant on its sheet "
                f"{res['planted_decline_labelled'].mean():.3f}"
            )
    print(f"\nTotal time {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
