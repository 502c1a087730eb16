"""The planted truth of a wave (true level per commune and item) and the answers drawn from it,
respecting filter questions, derived items and the planted 98/99 codes."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from scipy import stats

from sipas_analysis import geography
from sipas_analysis.sample.spec import _effect_applies, _lookup_base

__all__: list[str] = []


# ---------------------------------------------------------------------------------------------
# Truth and answers
# ---------------------------------------------------------------------------------------------


def _truth_table(spec: dict, wave: dict, items: pd.DataFrame, frame: pd.DataFrame) -> pd.DataFrame:
    """True value of every (commune, index item) of a wave, from the spec.

    SIPAS: top-2 share; PAPI: mean of the indicator rescaled to [0, 1] in its positive direction.
    For a 2025 wave the truth of a new commune is the population-weighted mean of its in-scope
    pre-2025 constituents' truths (crosswalk shares for the partial split).
    """
    survey = wave["survey"]
    tspec = spec["sipas_truth"] if survey == "sipas" else spec["papi_truth"]
    index_role = "satisfaction" if survey == "sipas" else "indicator"
    idx_items = items[items["role"] == index_role]
    base = tspec["base"][wave["instrument"]] if survey == "sipas" else tspec["base"]
    trend = float(tspec.get("trend", {}).get(str(wave["wave"]), 0.0))
    lo, hi = tspec.get("clip", [0.02, 0.98])
    old = geography.communes("pre2025")
    effects = tspec.get("effects", [])
    item_recs = []
    for _, it in idx_items.iterrows():
        applies = [_effect_applies(e, wave["wave"], it["path"], it["code"]) for e in effects]
        item_recs.append((it, _lookup_base(base, it["path"], it["code"]) + trend, applies))
    recs = []
    for code, area in zip(old["commune_code"], old["area_code"], strict=True):
        for it, start, applies in item_recs:
            val = start
            for eff, ok in zip(effects, applies, strict=True):
                if not ok:
                    continue
                if "area_code" in eff and int(eff["area_code"]) != int(area):
                    continue
                if "commune_code" in eff and int(eff["commune_code"]) != int(code):
                    continue
                val += float(eff["delta"])
            val = float(np.clip(val, lo, hi))
            if survey == "papi":
                val = _achieved_truth(val, it)
            recs.append((int(code), it["code"], val))
    truth = pd.DataFrame(recs, columns=["commune_code", "item", "truth"])
    if wave["boundary_vintage"] == "2025":
        cw = geography.crosswalk()
        pop = old.set_index("commune_code")["pop_2019_total"]
        cw = cw.assign(w=cw["old_code"].map(pop) * cw["share"])
        merged = truth.merge(
            cw[["old_code", "new_code", "w"]], left_on="commune_code", right_on="old_code"
        )
        merged["wt"] = merged["w"] * merged["truth"]
        agg = merged.groupby(["new_code", "item"], as_index=False)[["wt", "w"]].sum()
        agg["truth"] = agg["wt"] / agg["w"]
        truth = agg.rename(columns={"new_code": "commune_code"})[["commune_code", "item", "truth"]]
    return truth[truth["commune_code"].isin(frame["commune_code"])].reset_index(drop=True)


def _ordinal_from_u(
    u: np.ndarray, p: np.ndarray, valid: list[int], top: list[int], sp: dict
) -> np.ndarray:
    """Likert answer from a uniform ``u``: top box when u < p (marginal P(top box) = p exactly)."""
    top = sorted(top)
    bottom = sorted([c for c in valid if c not in top], reverse=True)
    out = np.empty(len(u), dtype=float)
    sat = u < p
    s5 = float(sp["share_5_among_satisfied"])
    hi_code = top[-1]
    lo_top = top[0]
    out[sat] = np.where(u[sat] < p[sat] * s5, hi_code, lo_top)
    shares = sp.get("shares_among_unsatisfied", {})
    w = np.array([float(shares.get(c, 1.0)) for c in bottom])
    w = w / w.sum()
    cuts = np.cumsum(w)
    rel = (u[~sat] - p[~sat]) / np.maximum(1.0 - p[~sat], 1e-12)
    k = np.minimum(np.searchsorted(cuts, rel, side="right"), len(bottom) - 1)
    out[~sat] = np.array(bottom)[k]
    return out


def _categorical(rng, n: int, valid: list[int], probs: list[float] | None) -> np.ndarray:
    if probs is None or len(probs) != len(valid):
        probs = [1.0] * len(valid)
    p = np.asarray(probs, dtype=float)
    return rng.choice(np.asarray(valid, dtype=float), size=n, p=p / p.sum())


def _yes_code(item: pd.Series, items: pd.DataFrame, labels: dict) -> int:
    """The "applies / yes" code of a filter: what its dependents filter on, else "Có"/"Đã..."."""
    deps = items[items["filter_item"] == item["code"]]
    if len(deps):
        return int(deps["filter_values"].iloc[0][0])
    for c in item["valid_codes"]:
        if re.match(r"^(Có|Đã)", str(labels.get(c, ""))):
            return int(c)
    return int(item["valid_codes"][0])


def _derived_item(rule: dict, resp: pd.DataFrame, valid: list[int]) -> np.ndarray:
    """A demographic item copied from the respondent's demographics (codes as in the spec)."""
    src = resp[rule["from"]].to_numpy(dtype=float)
    if "upper_bounds" in rule:
        bounds = np.asarray(rule["upper_bounds"], dtype=float)
        return np.asarray(valid, dtype=float)[np.searchsorted(bounds, src, side="left")]
    return src


def _indicator_from_u(u: np.ndarray, z: np.ndarray, item: pd.Series) -> np.ndarray:
    """PAPI indicator answer whose rescaled mean, in the positive direction, is the truth ``z``.

    Codes c_1 < ... < c_m (equally spaced): index ~ Binomial(m - 1, r) with
    r = (a + q(b - a) - c_1) / (c_m - c_1), q = z (1 - z for a negative indicator), so that
    E[(x - a)/(b - a)] = q. Continuous answers: a + (b - a)·Beta(6q, 6(1 - q)).
    """
    q = np.asarray(z, dtype=float)
    q = q if item["direction"] == "positive" else 1.0 - q
    a, b = float(item["scale_min"]), float(item["scale_max"])
    valid = _answer_grid(item)
    if not valid:
        # wide continuous range (amounts): Beta on [a, b], rounded to whole units
        return np.round(a + (b - a) * stats.beta.ppf(u, 6.0 * q, 6.0 * (1.0 - q)))
    r = _code_share(q, a, b, valid)
    idx = stats.binom.ppf(u, len(valid) - 1, r).astype(int)
    return np.asarray(valid, dtype=float)[idx]


def _answer_grid(item: pd.Series) -> list[int]:
    """Answer codes of an item; for a continuous item with a narrow range, the whole numbers in
    it (answers are recorded as integers); empty for a wide continuous range."""
    if item["answer_type"] != "continuous" and len(item["valid_codes"]):
        return sorted(int(c) for c in item["valid_codes"])
    a, b = float(item["scale_min"]), float(item["scale_max"])
    grid = list(range(int(np.ceil(a)), int(np.floor(b)) + 1))
    return grid if 2 <= len(grid) <= 100 else []


def _code_share(q, a: float, b: float, valid: list[int]):
    """Binomial parameter over the code index giving mean a + q(b - a) (clipped to the codes)."""
    if len(valid) < 2:
        return np.zeros_like(np.asarray(q, dtype=float))
    c1, cm = float(valid[0]), float(valid[-1])
    return np.clip((a + np.asarray(q, dtype=float) * (b - a) - c1) / (cm - c1), 0.0, 1.0)


def _achieved_truth(z: float, item: pd.Series) -> float:
    """The truth the PAPI generator really draws from (differs from ``z`` only if the codes
    cannot reach the target mean)."""
    valid = _answer_grid(item)
    if len(valid) < 2:
        return z
    a, b = float(item["scale_min"]), float(item["scale_max"])
    q = z if item["direction"] == "positive" else 1.0 - z
    r = float(_code_share(q, a, b, valid))
    mean = valid[0] + r * (valid[-1] - valid[0])
    q_real = (mean - a) / (b - a)
    return q_real if item["direction"] == "positive" else 1.0 - q_real


def _answers(
    spec: dict,
    wave: dict,
    items: pd.DataFrame,
    resp: pd.DataFrame,
    truth: pd.DataFrame,
    rng,
    instrument_labels: dict,
) -> pd.DataFrame:
    """One column per item (float codes, NaN = skipped by a filter)."""
    survey = wave["survey"]
    n = len(resp)
    out: dict[str, np.ndarray] = {}
    tmat = truth.pivot(index="commune_code", columns="item", values="truth")
    if survey == "sipas":
        sp = spec["sipas_answers"]
        r_person, r_node = float(sp["r_person"]), float(sp["r_node"])
        yes_default = float(sp["other_roles"]["filter"]["yes_share"])
        yes_by_item = sp["other_roles"]["filter"].get("by_item", {})
    else:
        sp = spec["papi_truth"]["papi_answers"]
        r_person, r_node = float(sp["r_person"]), 0.0
        yes_default = float(sp["filter_yes_share"])
        yes_by_item = sp.get("filter_by_item", {})
    person = rng.standard_normal(n)
    node_factor: dict[str, np.ndarray] = {}
    common = spec["sipas_answers"]
    other = common["other_roles"]
    item_probs = common.get("item_probs", {})
    derived = common.get("derived_items", {})
    index_role = "satisfaction" if survey == "sipas" else "indicator"
    for _, it in items.iterrows():
        code = it["code"]
        valid = [int(c) for c in it["valid_codes"]]
        top = [int(c) for c in it["top_box"]] if it["top_box"] is not None else []
        if it["role"] == index_role:
            node = it["parent"]
            if node not in node_factor:
                node_factor[node] = rng.standard_normal(n)
            latent = (
                np.sqrt(r_person) * person
                + np.sqrt(r_node) * node_factor[node]
                + np.sqrt(1.0 - r_person - r_node) * rng.standard_normal(n)
            )
            u = stats.norm.cdf(latent)
            p = resp["commune_code"].map(tmat[code]).to_numpy(dtype=float)
            if survey == "sipas":
                col = _ordinal_from_u(u, p, valid, top or valid[-2:], sp)
            else:
                col = _indicator_from_u(u, p, it)
        elif code in derived:
            col = _derived_item(derived[code], resp, valid)
        elif it["role"] == "filter":
            share = float(yes_by_item.get(code, yes_default))
            yes = _yes_code(it, items, instrument_labels.get(code, {}))
            no = next((c for c in valid if c != yes), yes)
            col = np.where(rng.uniform(size=n) < share, yes, no).astype(float)
        elif it["answer_type"] == "continuous" or not valid:
            a, b = float(it["scale_min"]), float(it["scale_max"])
            col = np.round(a + (b - a) * rng.beta(2.0, 5.0, size=n))
        elif code in item_probs:
            col = _categorical(rng, n, valid, item_probs[code])
        elif top and "top_share" in (other.get(it["role"]) or {}):
            ts = float(other[it["role"]]["top_share"])
            rest = [c for c in valid if c not in top]
            probs = [ts / len(top) if c in top else (1 - ts) / max(len(rest), 1) for c in valid]
            col = _categorical(rng, n, valid, probs)
        else:
            col = _categorical(rng, n, valid, None)
        out[code] = col
    # filters: a respondent outside the filter's values skips the item (blank); chains resolve
    # in definition order because a filter item is defined before the items it governs.
    for _, it in items.iterrows():
        if it["filter_item"] is None or pd.isna(it["filter_item"]):
            continue
        if it["filter_item"] not in out:
            continue
        applies = np.isin(out[it["filter_item"]], list(it["filter_values"]))
        out[it["code"]] = np.where(applies, out[it["code"]], np.nan)
    return pd.DataFrame(out, index=resp.index)


def _plant_missing_codes(ans: pd.DataFrame, items: pd.DataFrame, sp: dict, rng) -> pd.DataFrame:
    """Replace a share of answered, non-filter items by the missing codes (98 / 99 ...)."""
    out = ans.copy()
    share = float(sp["missing_share"])
    split = [float(v) for v in sp["missing_split"].values()]  # shares of the 1st, 2nd ... code
    for _, it in items.iterrows():
        if it["role"] in ("filter", "demographic"):
            continue
        codes = sorted((int(c) for c in it["missing_codes"]), key=abs)[: len(split)]
        if not codes:
            continue
        col = out[it["code"]].to_numpy(copy=True)
        hit = (~np.isnan(col)) & (rng.uniform(size=len(col)) < share)
        p = np.array(split[: len(codes)])
        col[hit] = rng.choice(np.array(codes, dtype=float), size=int(hit.sum()), p=p / p.sum())
        out[it["code"]] = col
    # a "don't know" on a filter question skips its dependent items (definition order = chains)
    for _, it in items.iterrows():
        f = it["filter_item"]
        if f is None or pd.isna(f) or f not in out:
            continue
        filt = out[f].to_numpy()
        skipped = ~np.isin(filt, list(it["filter_values"]))
        out[it["code"]] = np.where(skipped, np.nan, out[it["code"]].to_numpy())
    return out
