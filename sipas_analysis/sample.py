"""Seeded generator of the bundled sample waves (``data/sample/``) and their wave configs.

The sample data let a new user run the whole project at once, and give the tests a planted truth
to recover. Everything the data look like is decided in ``sample_spec.yaml`` next to this module:
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
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from scipy import stats

from sipas_analysis import geography
from sipas_analysis.errors import ConfigError
from sipas_analysis.outputs import atomic_path
from sipas_analysis.paths import REFERENCE_DIR, SAMPLE_DIR, WAVES_DIR
from sipas_analysis.progress import Progress

__all__ = [
    "SPEC_PATH",
    "WaveSample",
    "build_wave",
    "generate_sample",
    "load_spec",
    "read_back",
]

#: The specification file of the sample data.
SPEC_PATH = Path(__file__).resolve().parent / "sample_spec.yaml"

_TONES = "\u0300\u0301\u0309\u0303\u0323"  # grave, acute, hook above, tilde, dot below
_NEW_STYLE = re.compile(rf"(?<![qQ])([oOuU])([{_TONES}])([aAeEyY])(?![^\W\d_])")


# ---------------------------------------------------------------------------------------------
# Specification
# ---------------------------------------------------------------------------------------------


def load_spec(path: str | os.PathLike[str] | None = None) -> dict:
    """Read the sample specification (``sample_spec.yaml`` by default).

    Parameters
    ----------
    path : path-like, optional
        Another specification file of the same format.

    Returns
    -------
    dict
        The parsed specification.

    Raises
    ------
    ConfigError
        If the file is missing or lacks a required section.

    Examples
    --------
    >>> spec = load_spec()
    >>> [w["id"] for w in spec["waves"]][:2]
    ['sipas-2021', 'sipas-2022']
    """
    path = Path(path) if path is not None else SPEC_PATH
    if not path.exists():
        raise ConfigError(f"sample specification not found: {path.name}")
    with open(path, encoding="utf-8") as fh:
        spec = yaml.safe_load(fh)
    for key in ("seed", "demographics", "waves", "designs", "layouts", "sipas_truth"):
        if key not in spec:
            raise ConfigError(f"{path.name}: missing section {key!r}")
    ids = [w["id"] for w in spec["waves"]]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{path.name}: duplicate wave ids in {ids}")
    return spec


def _wave_rng(seed: int, wave_id: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(wave_id.encode())]))


# ---------------------------------------------------------------------------------------------
# Instruments: the items of a wave
# ---------------------------------------------------------------------------------------------


def _wave_items(instrument: Any, year: int) -> pd.DataFrame:
    """Items of the instrument in use in ``year``, in definition order, with their node path."""
    items = instrument.items.sort_values("order").reset_index(drop=True)
    lo = items["valid_from"].astype("Float64").fillna(-np.inf).astype(float)
    hi = items["valid_to"].astype("Float64").fillna(np.inf).astype(float)
    items = items.loc[(lo <= year) & (year <= hi)].reset_index(drop=True)
    parent_of = dict(zip(instrument.nodes["code"], instrument.nodes["parent"], strict=True))

    def path(node: str) -> list[str]:
        out = []
        while node is not None and not (isinstance(node, float) and np.isnan(node)):
            out.append(node)
            node = parent_of.get(node)
        return out

    items["path"] = [path(p) for p in items["parent"]]
    return items


def _lookup_base(base: dict, path: list[str], code: str) -> float:
    for node in [code, *path]:
        if node in base:
            return float(base[node])
    if "default" not in base:
        raise ConfigError(f"sample spec: no base truth for {code} (path {path}) and no default")
    return float(base["default"])


def _effect_applies(effect: dict, wave: str, path: list[str], code: str) -> bool:
    if str(wave) not in [str(w) for w in effect.get("waves", [])]:
        return False
    nodes = effect.get("nodes", ["all"])
    return "all" in nodes or code in nodes or any(n in nodes for n in path)


# ---------------------------------------------------------------------------------------------
# Design: communes, villages, respondents, weights
# ---------------------------------------------------------------------------------------------


def _official_names(vintage: str) -> dict[int, str]:
    """Official commune names (NFC) as printed in the reference tables, by GSO code.

    The files carry the official spelling; the geography module's normalised matching form is
    for resolving names, not for writing them.
    """
    if vintage == "2025":
        raw = pd.read_csv(REFERENCE_DIR / "communes_2025.csv")
        codes, names = raw["new_commune_code"], raw["new_commune_name"]
    else:
        raw = pd.read_csv(REFERENCE_DIR / "communes_pre2025.csv")
        codes, names = raw["commune_code"], raw["commune_name"]
    return {
        int(c): " ".join(unicodedata.normalize("NFC", str(n)).split())
        for c, n in zip(codes, names, strict=True)
    }


def _frame(vintage: str) -> pd.DataFrame:
    """The communes of a vintage (geography module) with their official names."""
    frame = geography.communes(vintage)
    official = frame["commune_code"].map(_official_names(vintage))
    frame["commune_name"] = official.fillna(frame["commune_name"])
    return frame


def _village_name(commune_type: str, k: int) -> str:
    return f"Ấp {k}" if commune_type == "Xã" else f"Khu phố {k}"


def _pps_inclusion(sizes: np.ndarray, n: int) -> np.ndarray:
    """Inclusion probabilities n·size/total with units above 1 taken with certainty."""
    sizes = np.asarray(sizes, dtype=float)
    pi = np.zeros_like(sizes)
    certain = np.zeros(len(sizes), dtype=bool)
    while True:
        rest = ~certain
        k = n - certain.sum()
        pi[certain] = 1.0
        pi[rest] = k * sizes[rest] / sizes[rest].sum() if k > 0 else 0.0
        new = rest & (pi >= 1.0)
        if not new.any():
            return np.minimum(pi, 1.0)
        certain |= new


def _pps_systematic(
    sizes: np.ndarray, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Systematic PPS sample of ``n`` units (random order); returns (indices, inclusion probs)."""
    pi = _pps_inclusion(sizes, n)
    order = rng.permutation(len(sizes))
    cum = np.cumsum(pi[order])
    start = rng.uniform(0.0, 1.0)
    points = start + np.arange(int(round(pi.sum())))
    picked = order[np.searchsorted(cum, points, side="right")]
    return np.sort(np.unique(picked)), pi


def _villages(commune: pd.Series, spec_design: dict, adult_share: float, rng) -> pd.DataFrame:
    """Synthetic village frame of a commune: names and adult counts."""
    adults = commune["pop_2019_total"] * adult_share
    vs = spec_design["villages_in_commune"]
    m = int(np.clip(round(adults / vs["per_adults"]), vs["min"], vs["max"]))
    rel = rng.lognormal(0.0, spec_design.get("village_size_sigma", 0.35), size=m)
    sizes = np.maximum(np.round(adults * rel / rel.sum()), 30).astype(int)
    return pd.DataFrame(
        {
            "village_no": np.arange(1, m + 1),
            "village": [_village_name(commune["commune_type"], k) for k in range(1, m + 1)],
            "adults": sizes,
        }
    )


def _sipas_design(frame: pd.DataFrame, spec: dict, vintage: str, rng) -> pd.DataFrame:
    """Every commune; SRS of villages; respondents split over the villages taken."""
    design = spec["designs"]["sipas"]
    adult_share = spec["demographics"]["adult_share"]
    lo, hi = design["respondents_per_commune"][vintage]
    rows = []
    for _, c in frame.iterrows():
        vill = _villages(c, design, adult_share, rng)
        m_taken = int(
            rng.integers(design["villages_taken"]["min"], design["villages_taken"]["max"] + 1)
        )
        m_taken = min(m_taken, len(vill))
        taken = np.sort(rng.choice(len(vill), size=m_taken, replace=False))
        n_c = int(rng.integers(lo, hi + 1))
        alloc = np.full(m_taken, n_c // m_taken)
        alloc[: n_c % m_taken] += 1
        for j, vi in enumerate(taken):
            v = vill.iloc[vi]
            adj = rng.lognormal(0.0, design.get("nonresponse_sigma", 0.1))
            w = (len(vill) / m_taken) * (v["adults"] / alloc[j]) * adj
            rows.append((c, v, int(alloc[j]), w))
    return _expand(rows)


def _papi_design(frame: pd.DataFrame, spec: dict, rng) -> tuple[pd.DataFrame, dict]:
    """PAPI design (as PAPI publishes it, papi.org.vn): areas PPS, communes (seat + PPS), villages PPS."""
    design = spec["designs"]["papi"]
    adult_share = spec["demographics"]["adult_share"]
    area_pop = frame.groupby("area_code")["pop_2019_total"].sum()
    certain_area = int(design["certainty_area"])
    others = area_pop.drop(certain_area)
    idx, pi_others = _pps_systematic(others.to_numpy(), design["areas_taken"] - 1, rng)
    areas_taken = {certain_area: 1.0}
    for i in idx:
        areas_taken[int(others.index[i])] = float(pi_others[i])
    rows = []
    selection = {"areas": areas_taken, "communes": {}}
    for area, pi_area in sorted(areas_taken.items()):
        cand = frame[(frame["area_code"] == area) & (frame["status"] == "active")]
        seat = int(design["seat_commune"][area])
        rest = cand[cand["commune_code"] != seat]
        k = design["communes_per_area"] - 1
        cidx, cpi = _pps_systematic(rest["pop_2019_total"].to_numpy(), k, rng)
        chosen = [(seat, 1.0)] + [(int(rest.iloc[i]["commune_code"]), float(cpi[i])) for i in cidx]
        for code, pi_c in chosen:
            c = frame[frame["commune_code"] == code].iloc[0]
            selection["communes"][code] = pi_area * pi_c
            vill = _villages(c, spec["designs"]["sipas"], adult_share, rng)
            vidx, vpi = _pps_systematic(
                vill["adults"].to_numpy(), design["villages_per_commune"], rng
            )
            n_v = int(design["respondents_per_village"])
            for vi in vidx:
                v = vill.iloc[vi]
                w = 1.0 / (pi_area * pi_c * vpi[vi]) * (v["adults"] / n_v)
                rows.append((c, v, n_v, w))
    return _expand(rows), selection


def _expand(rows: list) -> pd.DataFrame:
    """One row per respondent from (commune, village, respondents, weight) tuples."""
    recs = []
    for c, v, n, w in rows:
        rec = (
            int(c["commune_code"]),
            c["commune_name"],
            c["commune_type"],
            int(c["area_code"]),
            c["pop_2019_urban"] / max(c["pop_2019_total"], 1),
            v["village"],
            f"{int(c['commune_code'])}-{int(v['village_no']):02d}",
            float(w),
        )
        recs.extend([rec] * int(n))
    cols = [
        "commune_code",
        "commune_name",
        "commune_type",
        "area_code",
        "urban_share",
        "village",
        "psu",
        "weight",
    ]
    df = pd.DataFrame(recs, columns=cols)
    df["stratum"] = df["area_code"].astype(str)
    return df


def _demographics(df: pd.DataFrame, spec: dict, rng, age_max: int | None = None) -> pd.DataFrame:
    demo = spec["demographics"]
    n = len(df)
    out = df.copy()
    out["sex"] = np.where(rng.uniform(size=n) < demo["male_share"], 1, 2)
    bands = demo["age_bands"]
    shares = np.array([b["share"] for b in bands], dtype=float)
    pick = rng.choice(len(bands), size=n, p=shares / shares.sum())
    lows = np.array([b["low"] for b in bands])[pick]
    highs = np.array([b["high"] for b in bands])[pick]
    if age_max is not None:
        highs = np.minimum(highs, age_max)
    out["age"] = rng.integers(lows, highs + 1)
    out["urban_rural"] = np.where(rng.uniform(size=n) < out["urban_share"], 1, 2)
    return out


def _fake_people(df: pd.DataFrame, spec: dict, rng) -> pd.DataFrame:
    fp = spec["fake_people"]
    n = len(df)
    male = df["sex"].to_numpy() == 1
    fam = rng.choice(fp["family"], size=n)
    mid = np.where(
        male, rng.choice(fp["middle_male"], size=n), rng.choice(fp["middle_female"], size=n)
    )
    giv = np.where(
        male, rng.choice(fp["given_male"], size=n), rng.choice(fp["given_female"], size=n)
    )
    out = df.copy()
    out["full_name"] = [f"{a} {b} {c}" for a, b, c in zip(fam, mid, giv, strict=True)]
    pre = rng.choice(fp["phone_prefixes"], size=n)
    digits = rng.integers(0, 10_000_000, size=n)
    out["phone"] = [f"{p}{d:07d}" for p, d in zip(pre, digits, strict=True)]
    out["address"] = [f"{v}, {c}" for v, c in zip(df["village"], df["commune_name"], strict=True)]
    return out


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


# ---------------------------------------------------------------------------------------------
# Mess
# ---------------------------------------------------------------------------------------------


def _old_style_tones(name: str) -> str:
    """ "Hòa" -> "Hoà", "Thủy" -> "Thuỷ": the other tone-mark convention (result in NFC)."""
    text = unicodedata.normalize("NFD", name)
    text = _NEW_STYLE.sub(lambda m: m.group(1) + m.group(3) + m.group(2), text)
    return unicodedata.normalize("NFC", text)


def _lower_prefix(name: str) -> str:
    for prefix in ("Thị trấn", "Phường", "Xã"):
        if name.startswith(prefix + " "):
            return prefix.lower() + name[len(prefix) :]
    return name


def _extra_spaces(name: str) -> str:
    parts = name.split(" ")
    if len(parts) > 1:
        parts[0] = parts[0] + " "
    return " " + " ".join(parts) + "  "


@dataclass
class _Mess:
    rows: list = field(default_factory=list)  # (kind, position, column, value, note)

    def add(self, kind: str, pos: int, column: str, value: object, note: str = "") -> None:
        self.rows.append((kind, int(pos), column, value, note))


def _free_rows(
    n: int, used: set[int], rng, count: int, allowed: np.ndarray | None = None
) -> list[int]:
    pool = np.setdiff1d(
        np.arange(n) if allowed is None else allowed, np.fromiter(used, int, len(used))
    )
    if len(pool) < count:
        raise ConfigError(f"sample spec: not enough rows to plant {count} problems")
    pick = sorted(int(i) for i in rng.choice(pool, size=count, replace=False))
    used.update(pick)
    return pick


def _plant_mess(df: pd.DataFrame, items: pd.DataFrame, wave: dict, layout: str, rng):
    """Apply the wave's planted problems to the clean table; return (messy table, log)."""
    mess = wave.get("mess", {}) or {}
    out = df.copy()
    log = _Mess()
    used: set[int] = set()
    n = len(out)
    has_names = layout == "vietnamese"
    index_items = items[items["role"].isin(["satisfaction", "indicator"])]
    if "name_variants" in mess:
        if not has_names:
            raise ConfigError(f"wave {wave['id']}: name_variants needs commune names (layout)")
        nv = mess["name_variants"]
        names = out["commune_name"].tolist()
        for kind, func in (
            ("hoa_old_style", _old_style_tones),
            ("lower_prefix", _lower_prefix),
            ("extra_spaces", _extra_spaces),
            ("nfd", lambda s: unicodedata.normalize("NFD", s)),
        ):
            share = float(nv.get(kind, 0.0))
            draw = rng.uniform(size=n) < share
            for i in np.flatnonzero(draw):
                new = func(names[i])
                if new != names[i]:
                    names[i] = new
                    log.add(f"name_{kind}", i, "commune", names[i], "spelling variant (valid)")
        out["commune_name"] = names
    if "out_of_range" in mess:
        spec_o = mess["out_of_range"]
        filters = set(items["filter_item"].dropna())
        coded = index_items[
            [
                len(v) > 0 and max(v) < float(spec_o["value"]) and c not in filters
                for c, v in zip(index_items["code"], index_items["valid_codes"], strict=True)
            ]
        ]
        vals = out[coded["code"]]
        answered = vals.notna() & vals.isin([float(c) for v in coded["valid_codes"] for c in v])
        allowed = np.flatnonzero(answered.any(axis=1).to_numpy())
        for i in _free_rows(n, used, rng, int(spec_o["count"]), allowed):
            cols = [c for c in coded["code"] if answered.iloc[i][c]]
            col = cols[int(rng.integers(len(cols)))]
            out.loc[out.index[i], col] = float(spec_o["value"])
            log.add("out_of_range", i, col, spec_o["value"], "answer outside the valid codes")
    if mess.get("duplicate_id"):
        for i in _free_rows(n, used, rng, int(mess["duplicate_id"]), np.arange(1, n)):
            j = int(rng.integers(0, i))
            original = out["respondent_id"].iloc[j]
            out.loc[out.index[i], "respondent_id"] = original
            log.add("duplicate_id", i, "respondent_id", original, f"same id as row position {j}")
            log.add("duplicate_id_first", j, "respondent_id", original, "first row with this id")
            used.add(j)
    if "unknown_commune" in mess:
        if not has_names:
            raise ConfigError(f"wave {wave['id']}: unknown_commune needs commune names (layout)")
        u = mess["unknown_commune"]
        for i in _free_rows(n, used, rng, int(u["count"])):
            out.loc[out.index[i], "commune_name"] = u["name"]
            log.add("unknown_commune", i, "commune", u["name"], "not a commune of the survey areas")
    if "old_vintage_commune" in mess:
        u = mess["old_vintage_commune"]
        for i in _free_rows(n, used, rng, int(u["count"])):
            out.loc[out.index[i], "commune_name"] = u["name"]
            log.add(
                "commune_outside_vintage",
                i,
                "commune",
                u["name"],
                "pre-2025 commune in a 2025 wave",
            )
    for kind, value in (("missing_weight", np.nan), ("zero_weight", 0.0)):
        if mess.get(kind):
            for i in _free_rows(n, used, rng, int(mess[kind])):
                out.loc[out.index[i], "weight"] = value
                log.add(kind, i, "weight", "" if np.isnan(value) else value, "weight must be > 0")
    if mess.get("psu_two_strata"):
        # only rows of communes whose name is unique across areas (so the name still resolves)
        ambiguous = out["commune_name"].map(geography.normalize_name).duplicated(keep=False) & (
            out.groupby(out["commune_name"].map(geography.normalize_name))["area_code"].transform(
                "nunique"
            )
            > 1
        )
        allowed = np.flatnonzero(~ambiguous.to_numpy())
        for i in _free_rows(n, used, rng, int(mess["psu_two_strata"]), allowed):
            own = out["stratum"].iloc[i]
            strata = sorted(s for s in out["stratum"].unique() if s != own)
            new = strata[int(rng.integers(len(strata)))]
            out.loc[out.index[i], "stratum"] = new
            log.add(
                "psu_two_strata", i, "stratum", new, f"PSU {out['psu'].iloc[i]} is in stratum {own}"
            )
    if mess.get("filter_violation"):
        governed = items[items["filter_item"].notna()]
        if governed.empty:
            raise ConfigError(
                f"wave {wave['id']}: filter_violation but the instrument has no filters"
            )
        fitem = governed["filter_item"].iloc[0]
        fvalues = tuple(governed["filter_values"].iloc[0])
        kids = governed[governed["filter_item"] == fitem]["code"].tolist()
        allowed = np.flatnonzero(out[fitem].notna() & ~out[fitem].isin(fvalues))
        for i in _free_rows(n, used, rng, int(mess["filter_violation"]), allowed):
            for _, kid in governed[governed["filter_item"] == fitem].iterrows():
                good = kid["top_box"][0] if kid["top_box"] is not None else kid["valid_codes"][0]
                out.loc[out.index[i], kid["code"]] = float(good)
            log.add(
                "filter_violation",
                i,
                fitem,
                int(out[fitem].iloc[i]),
                f"{len(kids)} items ({kids[0]} ...) answered although {fitem} = "
                f"{int(out[fitem].iloc[i])} (not in {list(fvalues)})",
            )
    log_df = pd.DataFrame(log.rows, columns=["kind", "position", "column", "value", "note"])
    replaced = log_df.loc[
        log_df["kind"].isin(["unknown_commune", "commune_outside_vintage"]), "position"
    ]
    stale = log_df["kind"].str.startswith("name_") & log_df["position"].isin(replaced)
    log_df = log_df[~stale].reset_index(drop=True)
    return out, log_df


# ---------------------------------------------------------------------------------------------
# Layout (headers) and writers
# ---------------------------------------------------------------------------------------------


def _short(text: str, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1].rstrip(" ,.;") + "…"


def _layout(wave: dict, spec: dict, items: pd.DataFrame) -> dict:
    """Header of every canonical column and item of a wave, plus labels for coded files."""
    name = wave["layout"]
    lay = spec["layouts"][name]
    cols: dict[str, str] = {}
    labels: dict[str, str] = {}
    item_headers: dict[str, str] = {}
    for key, h in lay["columns"].items():
        if isinstance(h, dict):
            cols[key] = h["name"]
            labels[h["name"]] = h["label"]
        else:
            cols[key] = h
    seen: set[str] = set()
    n_part_a = 0
    for n_item, (_, it) in enumerate(items.iterrows(), start=1):
        question = str(it.get("question") or "").strip()
        if question == "A":
            n_part_a += 1
            number = f"A{n_part_a}"
        elif question.startswith("Câu"):
            number = question
        else:
            number = f"C{n_item}"
        label = f"{number}. {_short(it['label_vi'], int(lay.get('item_label_chars', 70)))}"
        if label in seen:
            label = f"{label} ({it['code']})"
        seen.add(label)
        if name == "coded":
            var = f"q{n_item}"
            item_headers[it["code"]] = var
            labels[var] = _short(label, 80)
        else:
            item_headers[it["code"]] = label
    return {"columns": cols, "labels": labels, "items": item_headers, "layout": name}


def _file_table(df: pd.DataFrame, items: pd.DataFrame, lay: dict) -> pd.DataFrame:
    cols = lay["columns"]
    out = pd.DataFrame(index=df.index)
    order = [
        "respondent_id",
        "full_name",
        "phone",
        "address",
        "stratum",
        "commune",
        "commune_code",
        "psu",
        "village",
        "sex",
        "age",
        "urban_rural",
    ]
    source = {"commune": "commune_name"}
    for key in order:
        if key in cols:
            out[cols[key]] = df[source.get(key, key)]
    answers = {}
    for code in items["code"]:
        # answers are whole numbers (codes; km, minutes, thousand VND as integers)
        answers[lay["items"][code]] = df[code].astype("Float64").round().astype("Int64")
    out = pd.concat([out, pd.DataFrame(answers, index=df.index)], axis=1)
    out[cols["weight"]] = df["weight"].round(4)
    for key in ("sex", "age", "urban_rural", "commune_code"):
        if key in cols:
            out[cols[key]] = out[cols[key]].astype("Int64")
    return out.reset_index(drop=True)


def _cp1258_text(text: str) -> str:
    """Vietnamese text in the form Windows-1258 stores it: base letters precomposed, tones apart.

    Examples
    --------
    >>> _cp1258_text("Hòa Thượng").encode("cp1258").decode("cp1258") == "Hòa Thượng"
    False
    >>> import unicodedata
    >>> unicodedata.normalize("NFC", _cp1258_text("Hòa Thượng")) == "Hòa Thượng"
    True
    """
    clusters: list[list[str]] = []
    for ch in unicodedata.normalize("NFD", text):
        if clusters and unicodedata.combining(ch):
            clusters[-1].append(ch)
        else:
            clusters.append([ch])
    out = []
    for base, *marks in clusters:
        tones = [m for m in marks if m in _TONES]
        others = "".join(m for m in marks if m not in _TONES)
        out.append(unicodedata.normalize("NFC", base + others) + "".join(tones))
    return "".join(out)


def _fixed_stamp(wave: dict) -> dt.datetime:
    end = wave["fieldwork"]["end"]
    end = end if isinstance(end, dt.date) else dt.date.fromisoformat(str(end))
    return dt.datetime(end.year, end.month, end.day, 12, 0, 0)


def _write_csv(table: pd.DataFrame, path: Path, encoding: str) -> None:
    frame = table
    if encoding.lower() in ("cp1258", "windows-1258"):
        frame = table.copy()
        frame.columns = [_cp1258_text(c) for c in frame.columns]
        for c in frame.columns:
            if frame[c].dtype == object:
                frame[c] = frame[c].map(lambda v: _cp1258_text(v) if isinstance(v, str) else v)
        newline = "\r\n"
    else:
        newline = "\n"
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, encoding=encoding, lineterminator=newline)


def _write_xlsx(table: pd.DataFrame, path: Path, sheet: str, wave: dict, notes: list[str]) -> None:
    from openpyxl import Workbook

    stamp = _fixed_stamp(wave)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(list(table.columns))
    for row in table.itertuples(index=False):
        ws.append([None if pd.isna(v) else (v.item() if hasattr(v, "item") else v) for v in row])
    ws2 = wb.create_sheet("Ghi chu")
    for line in notes:
        ws2.append([line])
    wb.properties.creator = "sipas_analysis make-sample"
    wb.properties.created = stamp
    with atomic_path(path) as tmp:
        wb.save(tmp)
        _normalize_zip(tmp, stamp)


def _normalize_zip(path: Path, stamp: dt.datetime) -> None:
    """Rewrite an .xlsx with fixed entry dates and document time stamps (byte-reproducible)."""
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(path) as zin:
        entries = [(info, zin.read(info.filename)) for info in zin.infolist()]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                text = data.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    rf"\g<1>{iso}\g<3>",
                    text,
                )
                data = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=stamp.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            zout.writestr(zi, data)
    path.write_bytes(buf.getvalue())


def _value_labels(
    table: pd.DataFrame, items: pd.DataFrame, lay: dict, spec: dict, instrument
) -> dict:
    vl = spec["layouts"]["value_labels"]
    cols = lay["columns"]
    out: dict[str, dict] = {}
    for key in ("sex", "urban_rural"):
        if key in cols:
            out[cols[key]] = {int(k): v for k, v in vl[key].items()}
    for code in items["code"]:
        labels = instrument.value_labels(code)
        if labels:
            out[lay["items"][code]] = {int(k): str(v) for k, v in labels.items()}
    return out


def _stat_frame(table: pd.DataFrame, small: bool = False) -> pd.DataFrame:
    """Nullable integers to float (SPSS/Stata have no nullable int); strings stay strings.

    ``small``: store them as 4-byte floats (Stata ``float``), exact for answer codes.
    """
    out = table.copy()
    for c in out.columns:
        if str(out[c].dtype) == "Int64":
            out[c] = out[c].astype("float32" if small else "float64")
    return out


def _write_sav(table, path: Path, labels: dict, value_labels: dict, wave: dict) -> None:
    import pyreadstat

    frame = _stat_frame(table)
    with atomic_path(path) as tmp:
        pyreadstat.write_sav(
            frame,
            str(tmp),
            file_label=f"SIPAS/PAPI sample wave {wave['id']}",
            column_labels=[labels.get(c) for c in frame.columns],
            variable_value_labels=value_labels,
            row_compress=True,
        )
        raw = bytearray(tmp.read_bytes())
        stamp = _fixed_stamp(wave)
        # header: "$FL2", product (60), 5 int32, bias (float64), date (9), time (8)
        if re.fullmatch(rb"\d\d [A-Z][a-z]{2} \d\d\d\d:\d\d:\d\d", bytes(raw[92:109])):
            raw[92:101] = stamp.strftime("%d %b %y").encode("ascii")
            raw[101:109] = stamp.strftime("%H:%M:%S").encode("ascii")
        tmp.write_bytes(bytes(raw))


def _write_dta(table, path: Path, labels: dict, value_labels: dict, wave: dict) -> None:
    import pyreadstat

    frame = _stat_frame(table, small=True)
    with atomic_path(path) as tmp:
        pyreadstat.write_dta(
            frame,
            str(tmp),
            file_label=f"Sample wave {wave['id']}",
            column_labels=[labels.get(c) or "" for c in frame.columns],
            variable_value_labels=value_labels,
        )
        raw = tmp.read_bytes()
        stamp = _fixed_stamp(wave).strftime("%d %b %Y %H:%M").encode("ascii")
        raw = re.sub(
            rb"<timestamp>\x11.{17}</timestamp>", b"<timestamp>\x11" + stamp + b"</timestamp>", raw
        )
        tmp.write_bytes(raw)


# ---------------------------------------------------------------------------------------------
# One wave
# ---------------------------------------------------------------------------------------------


@dataclass
class WaveSample:
    """One generated wave.

    Attributes
    ----------
    wave : dict
        The wave's entry of the specification.
    clean : pandas.DataFrame
        The table before the mess (canonical names, item codes as columns, 98/99 already in).
    table : pandas.DataFrame
        The table as written to the file (file headers, mess planted).
    truth : pandas.DataFrame
        ``commune_code, item, truth``: the true value each answer was drawn from.
    mess : pandas.DataFrame
        ``kind, position, column, value, note`` (position = 0-based data row).
    layout : dict
        Headers of canonical columns and items.
    selection : dict
        PAPI only: the areas and communes drawn, with inclusion probabilities.
    items : pandas.DataFrame
        The instrument items of the wave's year.
    """

    wave: dict
    clean: pd.DataFrame
    table: pd.DataFrame
    truth: pd.DataFrame
    mess: pd.DataFrame
    layout: dict
    selection: dict
    items: pd.DataFrame


def build_wave(spec: dict, wave: dict, seed: int | None = None) -> WaveSample:
    """Generate one wave in memory (no files written).

    Parameters
    ----------
    spec : dict
        The sample specification (:func:`load_spec`).
    wave : dict
        One entry of ``spec["waves"]``.
    seed : int, optional
        Base seed (default ``spec["seed"]``); the wave's generator is seeded with
        ``SeedSequence([seed, crc32(wave id)])``.

    Returns
    -------
    WaveSample

    Notes
    -----
    Answer model (SIPAS): for respondent *r* in commune *c* and item *i* of element *e*,
    ``latent = sqrt(rho_p)·P_r + sqrt(rho_e)·E_re + sqrt(1-rho_p-rho_e)·eps_ri`` (all N(0,1)),
    ``u = Phi(latent)``; the answer is in the top box (4, 5) iff ``u < p_ci``, so
    ``P(answer in {4,5}) = p_ci`` exactly, with ``p_ci`` = base + trend + planted effects.
    PAPI indicators on [a, b] with ``k = b - a`` integer steps: ``x = a + F^-1_Bin(k, q)(u)`` with
    ``q`` the true rescaled mean (``1 - q`` for a negative indicator), so ``E[(x-a)/(b-a)] = q``.

    Examples
    --------
    >>> spec = load_spec()
    >>> w = build_wave(spec, spec["waves"][0])
    >>> len(w.table) > 1000
    True
    """
    from sipas_analysis.instruments import load_instrument

    seed = spec["seed"] if seed is None else seed
    rng = _wave_rng(seed, wave["id"])
    instrument = load_instrument(wave["instrument"])
    items = _wave_items(instrument, int(wave["wave"]))
    frame = _frame(wave["boundary_vintage"])
    selection: dict = {}
    if wave["survey"] == "sipas":
        resp = _sipas_design(frame, spec, wave["boundary_vintage"], rng)
        age_max = None
    else:
        resp, selection = _papi_design(frame, spec, rng)
        age_max = int(spec["designs"]["papi"].get("age_max", 70))
    resp = _demographics(resp, spec, rng, age_max)
    resp = _fake_people(resp, spec, rng)
    resp.insert(
        0, "respondent_id", [f"{wave['id_prefix']}{i:04d}" for i in range(1, len(resp) + 1)]
    )
    truth = _truth_table(spec, wave, items, resp)
    labels = {c: instrument.value_labels(c) for c in items["code"]}
    ans = _answers(spec, wave, items, resp, truth, rng, labels)
    sp = spec["sipas_answers"] if wave["survey"] == "sipas" else spec["papi_truth"]["papi_answers"]
    if (wave.get("mess") or {}).get("missing_codes"):
        ans = _plant_missing_codes(ans, items, sp, rng)
    clean = pd.concat([resp, ans], axis=1)
    lay = _layout(wave, spec, items)
    messy, log = _plant_mess(clean, items, wave, lay["layout"], rng)
    table = _file_table(messy, items, lay)
    return WaveSample(wave, clean, table, truth, log, lay, selection, items)


# ---------------------------------------------------------------------------------------------
# Files, configs, README
# ---------------------------------------------------------------------------------------------


def _source_row(fmt: str, position: int) -> int:
    """Row number as in the source file: header = row 1 for csv/xlsx; record number for sav/dta."""
    return position + 2 if fmt in ("csv", "xlsx") else position + 1


def _write_wave_file(ws: WaveSample, spec: dict, out_dir: Path) -> Path:
    wave = ws.wave
    path = out_dir / wave["file"]
    fmt = wave["format"]
    if fmt == "csv":
        _write_csv(ws.table, path, wave.get("encoding", "utf-8-sig"))
    elif fmt == "xlsx":
        notes = [
            f"Dữ liệu mẫu (giả lập) — đợt khảo sát {wave['id']}, công cụ {wave['instrument']}.",
            "Mã 98 = Không biết, 99 = Không trả lời. Trọng số = trọng số thiết kế.",
            "Synthetic sample data made by `sipas make-sample`; see data/sample/README.md.",
        ]
        _write_xlsx(ws.table, path, wave.get("sheet", "Du lieu"), wave, notes)
    elif fmt in ("sav", "dta"):
        from sipas_analysis.instruments import load_instrument

        inst = load_instrument(wave["instrument"])
        vlab = _value_labels(ws.table, ws.items, ws.layout, spec, inst)
        writer = _write_sav if fmt == "sav" else _write_dta
        writer(ws.table, path, ws.layout["labels"], vlab, wave)
    else:
        raise ConfigError(f"wave {wave['id']}: unknown format {fmt!r}")
    return path


def _wave_config(ws: WaveSample, spec: dict, data_path: Path, waves_dir: Path) -> str:
    wave = ws.wave
    cols = ws.layout["columns"]
    rel = Path(os.path.relpath(data_path, waves_dir)).as_posix()
    personal = [cols[k] for k in ("full_name", "phone", "address") if k in cols]
    conf: dict[str, Any] = {
        "wave": str(wave["wave"]),
        "survey": wave["survey"],
        "instrument": wave["instrument"],
        "boundary_vintage": str(wave["boundary_vintage"]),
        "fieldwork": {"start": wave["fieldwork"]["start"], "end": wave["fieldwork"]["end"]},
        "file": rel,
        "format": wave["format"],
    }
    if wave["format"] == "xlsx":
        conf["sheet"] = wave.get("sheet", "Du lieu")
    if wave["format"] == "csv":
        conf["encoding"] = wave.get("encoding", "utf-8-sig")
    conf["missing_codes"] = sorted(
        {int(c) for mc in ws.items["missing_codes"] for c in mc if int(c) >= 0}
    )
    conf["personal_columns"] = personal
    conf["columns"] = {
        "respondent_id": cols["respondent_id"],
        "commune": cols.get("commune"),
        "commune_code": cols.get("commune_code"),
        "village": cols["village"],
        "sex": cols["sex"],
        "age": cols["age"],
        "urban_rural": cols["urban_rural"],
    }
    conf["design"] = {
        "weight": cols["weight"],
        "strata": cols["stratum"],
        "psu": cols["psu"],
        "fpc": None,
    }
    conf["items"] = dict(ws.layout["items"])
    head = (
        f"# Wave config of the bundled sample wave {wave['id']} (synthetic data).\n"
        "# Generated by `sipas make-sample` from sipas_analysis/sample_spec.yaml; the format is the\n"
        "# project's wave config contract. Paths are relative to this file.\n"
    )
    return head + yaml.safe_dump(conf, allow_unicode=True, sort_keys=False, width=100)


def _truth_rows(ws: WaveSample) -> pd.DataFrame:
    """True values per commune and index node (element / part / sub-dimension / dimension).

    A node's truth is the mean of its items' truths, weighted by the items' index weights
    (PAPI indicators with weight 0 are informational and left out; SIPAS items count equally).
    """
    items = ws.items.set_index("code")
    t = ws.truth.copy()
    weight = items["weight"].astype(float).fillna(1.0)
    t["w"] = t["item"].map(weight)
    recs = []
    for item, path in items["path"].items():
        for node in path:
            recs.append((item, node))
    links = pd.DataFrame(recs, columns=["item", "node"])
    df = t.merge(links, on="item")
    df = df[df["w"] > 0]
    df["wt"] = df["w"] * df["truth"]
    node_truth = df.groupby(["commune_code", "node"], as_index=False)[["wt", "w"]].sum()
    node_truth["truth"] = node_truth["wt"] / node_truth["w"]
    item_truth = t.rename(columns={"item": "node"})[["commune_code", "node", "truth"]]
    out = pd.concat(
        [
            item_truth.assign(level="item"),
            node_truth[["commune_code", "node", "truth"]].assign(level="node"),
        ],
        ignore_index=True,
    )
    out.insert(0, "wave_id", ws.wave["id"])
    return out[["wave_id", "commune_code", "level", "node", "truth"]]


def _mess_rows(ws: WaveSample) -> pd.DataFrame:
    wave = ws.wave
    log = ws.mess.copy()
    headers = {**ws.layout["columns"], **ws.layout["items"]}
    log["header"] = [headers.get(c, c) for c in log["column"]]
    log["source_row"] = [_source_row(wave["format"], p) for p in log["position"]]
    first = log[log["kind"] == "duplicate_id_first"].set_index("value")["source_row"]
    dup = log["kind"] == "duplicate_id"
    log.loc[dup, "note"] = [f"same id as source row {first[v]}" for v in log.loc[dup, "value"]]
    ids = ws.table[ws.layout["columns"]["respondent_id"]].to_numpy()
    log["respondent_id"] = [ids[p] for p in log["position"]]
    # missing codes: one summary row per code and column
    item_cols = [ws.layout["items"][c] for c in ws.items["code"]]
    extra = []
    for code in (98, 99):
        counts = (ws.table[item_cols] == code).sum()
        for col, cnt in counts[counts > 0].items():
            extra.append(("missing_code", -1, col, code, f"{int(cnt)} cells", col, -1, ""))
    ex = pd.DataFrame(
        extra,
        columns=[
            "kind",
            "position",
            "column",
            "value",
            "note",
            "header",
            "source_row",
            "respondent_id",
        ],
    )
    out = pd.concat([log[~log["kind"].str.startswith("name_")], ex], ignore_index=True)
    out.insert(0, "wave_id", wave["id"])
    out.insert(1, "file", wave["file"])
    return out[
        ["wave_id", "file", "kind", "source_row", "respondent_id", "header", "value", "note"]
    ]


def generate_sample(
    out_dir: str | os.PathLike[str] | None = None,
    *,
    waves_dir: str | os.PathLike[str] | None = None,
    seed: int | None = None,
    spec: dict | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Generate every sample wave: data files, wave configs, truth and mess tables, README.

    Parameters
    ----------
    out_dir : path-like, optional
        Folder for the data files (default ``data/sample``).
    waves_dir : path-like, optional
        Folder for the wave configs (default ``waves/`` when ``out_dir`` is the default, else
        ``<out_dir>/waves``).
    seed : int, optional
        Base seed (default from the spec).
    spec : dict, optional
        A specification (default :func:`load_spec`).
    progress : bool
        Print a line per wave with its time (:class:`sipas_analysis.progress.Progress`).

    Returns
    -------
    pandas.DataFrame
        One row per wave: ``wave_id, survey, wave, instrument, boundary_vintage, file, format,
        rows, columns, config``.

    Examples
    --------
    >>> import tempfile
    >>> summary = generate_sample(tempfile.mkdtemp())  # doctest: +SKIP
    """
    spec = load_spec() if spec is None else spec
    seed = int(spec["seed"] if seed is None else seed)
    out_dir = Path(out_dir) if out_dir is not None else SAMPLE_DIR
    if waves_dir is None:
        same = out_dir.resolve() == SAMPLE_DIR.resolve()
        waves_dir = WAVES_DIR if same else out_dir / "waves"
    waves_dir = Path(waves_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    waves_dir.mkdir(parents=True, exist_ok=True)
    prog = Progress(len(spec["waves"]), enabled=progress)
    summary, truths, messes, built = [], [], [], []
    for wave in spec["waves"]:
        with prog.step(f"dữ liệu mẫu / sample wave {wave['id']}") as step:
            ws = build_wave(spec, wave, seed)
            path = _write_wave_file(ws, spec, out_dir)
            conf_path = waves_dir / f"{wave['id']}.yaml"
            text = _wave_config(ws, spec, path, waves_dir)
            with atomic_path(conf_path) as tmp:
                tmp.write_text(text, encoding="utf-8")
            step.done(f"{len(ws.table)} dòng / rows  {path.name}")
        tr = _truth_rows(ws)
        truths.append(tr[tr["level"] == "node"].drop(columns="level"))
        messes.append(_mess_rows(ws))
        built.append(ws)
        summary.append(
            {
                "wave_id": wave["id"],
                "survey": wave["survey"],
                "wave": str(wave["wave"]),
                "instrument": wave["instrument"],
                "boundary_vintage": str(wave["boundary_vintage"]),
                "file": wave["file"],
                "format": wave["format"],
                "rows": len(ws.table),
                "columns": ws.table.shape[1],
                "config": conf_path.name,
            }
        )
    truth = pd.concat(truths, ignore_index=True)
    truth["truth"] = truth["truth"].round(10)
    mess = pd.concat(messes, ignore_index=True)
    summary_df = pd.DataFrame(summary)
    with atomic_path(out_dir / "planted_truth.csv") as tmp:
        truth.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    with atomic_path(out_dir / "planted_mess.csv") as tmp:
        mess.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
    readme = _readme(spec, seed, summary_df, built, mess)
    with atomic_path(out_dir / "README.md") as tmp:
        tmp.write_text(readme, encoding="utf-8")
    written = [out_dir / f for f in summary_df["file"]] + [
        waves_dir / f for f in summary_df["config"]
    ]
    written += [out_dir / n for n in ("planted_truth.csv", "planted_mess.csv", "README.md")]
    for path in written:
        path.chmod(0o644)  # atomic writes create private temp files; make them readable
    return summary_df


def read_back(
    path: str | os.PathLike[str], encoding: str | None = None, sheet: str | None = None
) -> pd.DataFrame:
    """Read a generated data file back as a plain table (for comparisons in tests).

    Parameters
    ----------
    path : path-like
        A ``.csv``, ``.xlsx``, ``.sav`` or ``.dta`` file.
    encoding : str, optional
        CSV encoding (default ``utf-8-sig``).
    sheet : str, optional
        Excel sheet (default the first).

    Returns
    -------
    pandas.DataFrame
        All columns as read (numbers as float, text as str).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path, encoding=encoding or "utf-8-sig", dtype=str, keep_default_na=False)
    if suffix == ".xlsx":
        return pd.read_excel(path, sheet_name=sheet or 0, dtype=object)
    import pyreadstat

    reader = pyreadstat.read_sav if suffix == ".sav" else pyreadstat.read_dta
    frame, _meta = reader(str(path))
    return frame


# ---------------------------------------------------------------------------------------------
# README
# ---------------------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _readme(
    spec: dict, seed: int, summary: pd.DataFrame, built: list[WaveSample], mess: pd.DataFrame
) -> str:
    lines: list[str] = ["# data/sample — bộ dữ liệu mẫu / synthetic sample waves", ""]
    lines += spec.get("readme_intro", "").strip().splitlines() + [""]
    lines += [f"Base seed: `{seed}`. Specification: `sipas_analysis/sample_spec.yaml`.", ""]
    lines += ["## Files", ""]
    lines += [
        "| wave | survey | instrument | vintage | file | format | rows | columns | config |",
        "|---|---|---|---|---|---|---:|---:|---|",
    ]
    for r in summary.itertuples():
        enc = next(w for w in spec["waves"] if w["id"] == r.wave_id).get("encoding", "")
        fmt = f"{r.format} ({enc})" if enc else r.format
        lines.append(
            f"| {r.wave} | {r.survey} | {r.instrument} | {r.boundary_vintage} | `{r.file}` | {fmt} "
            f"| {r.rows} | {r.columns} | `waves/{r.config}` |"
        )
    lines += [
        "",
        "Also here: `planted_truth.csv` (true value per wave × commune × index node — part, "
        "element, dimension, sub-dimension: SIPAS = true top-2 share 0–1, equal for every item "
        "of the element; PAPI = true mean of the rescaled indicators 0–1, positive direction) and "
        "`planted_mess.csv` (every planted invalid row: wave, file, kind, source_row, respondent "
        "id, header, value; plus one `missing_code` row per item column and code with its cell "
        "count). Row numbers follow the canonical table's `source_row`: header = row 1 in "
        ".csv/.xlsx (first data row = 2); record number (first record = 1) in .sav/.dta.",
        "",
        "Layouts: `.csv`/`.xlsx` have Vietnamese headers (`Mã phiếu`, `Xã/Phường/Thị trấn`, "
        "`Giới tính`, `Câu N. <câu hỏi>` ...) and commune NAMES; `.sav`/`.dta` have short ASCII "
        "variable names (`maphieu`, `maxa`, `q1` ...) with Vietnamese variable labels, value labels, "
        "and commune GSO CODES (`maxa`). Every file has the personal columns `Họ và tên`/`hoten`, "
        "`Số điện thoại`/`dienthoai` (and `Địa chỉ` in .csv/.xlsx) with invented content: loading "
        "must drop them.",
        "",
    ]
    # design
    d = spec["designs"]
    demo = spec["demographics"]
    lines += ["## Design", ""]
    lines += [
        "- Strata = the four areas (`Tầng` = old district code 794 Tân An, 798 Mộc Hóa incl. Kiến "
        "Tường, 800 Thạnh Hóa, 802 Đức Hòa; 2025: the area of the new commune). PSU = village "
        "(`Mã ấp` = `<commune code>-<village no>`, names like `Ấp 3` in a xã, `Khu phố 2` in a "
        "phường/thị trấn).",
        f"- SIPAS waves: every commune of the vintage (60 pre-2025, 19 in 2025). Each commune has a "
        f"synthetic frame of M villages (M = adults/{d['sipas']['villages_in_commune']['per_adults']}"
        f", clipped to {d['sipas']['villages_in_commune']['min']}–"
        f"{d['sipas']['villages_in_commune']['max']}; adults = {demo['adult_share']} × 2019 census "
        f"population; village sizes lognormal, σ = {d['sipas']['village_size_sigma']}); "
        f"{d['sipas']['villages_taken']['min']}–{d['sipas']['villages_taken']['max']} villages by "
        "simple random sampling; respondents per commune uniform in "
        f"{d['sipas']['respondents_per_commune']['pre2025']} (pre-2025) or "
        f"{d['sipas']['respondents_per_commune']['2025']} (2025), split evenly over the villages.",
        "- SIPAS weight = (M / m) × (village adults / village respondents) × nonresponse factor "
        f"(lognormal, σ = {d['sipas']['nonresponse_sigma']}) — inverse inclusion probability, "
        "unequal within and between communes.",
        f"- PAPI waves (PAPI's published sampling, papi.org.vn): {d['papi']['areas_taken']} areas a year, Tân An "
        "(794) always, the others by systematic PPS on 2019 population (an area whose PPS "
        "probability exceeds 1 is taken with certainty); "
        f"{d['papi']['communes_per_area']} communes per area (the district seat with certainty "
        "— assumed seats: "
        + ", ".join(f"{a}: {c}" for a, c in d["papi"]["seat_commune"].items())
        + " — plus 1 by PPS); "
        f"{d['papi']['villages_per_commune']} villages per commune by PPS; "
        f"{d['papi']['respondents_per_village']} respondents per village (enlarged from PAPI's ~20 "
        f"so commune and sub-dimension estimates are usable), aged 18–{d['papi']['age_max']}. "
        "Weight = 1 / (π_area · π_commune · π_village) × village adults / respondents.",
        f"- Demography: sex male with probability {demo['male_share']} (assumption close to the "
        "2019 census adult sex ratio); age band 18–29 / 30–44 / 45–59 / 60+ with shares "
        + " / ".join(str(b["share"]) for b in demo["age_bands"])
        + " (plausible national adult shares, 2019 census), age uniform inside the band; urban "
        "(`Khu vực` = 1) with probability = the commune's 2019 census urban share, else 2.",
        "",
    ]
    for ws in built:
        if ws.selection:
            names = _frame("pre2025").set_index("commune_code")["commune_name"]
            areas = ", ".join(f"{a} (π = {p:.3f})" for a, p in ws.selection["areas"].items())
            comms = ", ".join(
                f"{names[c]} {c} (π = {p:.3f})" for c, p in ws.selection["communes"].items()
            )
            lines.append(f"- {ws.wave['id']}: areas {areas}; communes {comms}.")
    lines.append("")
    # truth
    lines += _readme_truth(spec, built)
    lines += _readme_mess(spec, built, mess)
    lines += [
        "## Regenerating",
        "",
        "`sipas make-sample` (or `make sample`) rewrites this folder and `waves/`. "
        "`tests/test_sample.py` regenerates into a temporary folder and checks that every file "
        "reads back equal to the committed one, that the seed decides the data, that every wave "
        "config matches its file, and that the planted effects show in the raw data.",
        "",
    ]
    return "\n".join(lines)


def _readme_truth(spec: dict, built: list[WaveSample]) -> list[str]:
    st = spec["sipas_truth"]
    lines = ["## Planted truth (true values the answers are drawn from)", ""]
    sa = spec["sipas_answers"]
    lines += [
        "SIPAS answer model: each satisfaction item of a respondent is in the top box (4 or 5) with "
        "probability exactly equal to its TRUE value p (Gaussian copula with a person factor, "
        f"ρ = {sa['r_person']}, and an element factor, ρ = {sa['r_node']}, so items are "
        f"correlated); among the satisfied 5 with share {sa['share_5_among_satisfied']}; among the "
        f"others 3 / 2 / 1 with shares {sa['shares_among_unsatisfied']}. Filter questions: "
        f"share answering 'yes' {sa['other_roles']['filter']['yes_share']} "
        f"(by item: {sa['other_roles']['filter'].get('by_item', {})}); items a filter skips are "
        f"blank. Codes 98/99 replace {sa['missing_share']:.0%} of the answers (filter and "
        "demographic items excepted; shares "
        f"{sa['missing_split']}). p = base(node) + common "
        "trend + planted effects, in percent below:",
        "",
        "| instrument | "
        + " | ".join(
            k for k in ("default", "chinh_sach", "tiep_can", "tthc", "cong_chuc", "ket_qua", "pakn")
        )
        + " |",
        "|---|" + "---:|" * 7,
    ]
    for inst, base in st["base"].items():
        vals = [
            (_pct(base[k]) if k in base else "—")
            for k in ("default", "chinh_sach", "tiep_can", "tthc", "cong_chuc", "ket_qua", "pakn")
        ]
        lines.append(f"| {inst} | " + " | ".join(vals) + " |")
    lines += [
        "",
        "Common trend (added everywhere, percentage points): "
        + ", ".join(f"{w}: {100 * float(v):+.1f}" for w, v in st["trend"].items())
        + ". Pure noise everywhere else: apart from the effects below, every commune has the same "
        "true value in a wave; all differences between other communes are sampling noise.",
        "",
        "| effect | where | nodes | waves | true difference (points) |",
        "|---|---|---|---|---:|",
    ]
    old = _frame("pre2025").set_index("commune_code")
    for e in st["effects"]:
        where = (
            f"area {e['area_code']}"
            if "area_code" in e
            else f"{old.loc[e['commune_code'], 'commune_name']} ({e['commune_code']})"
        )
        lines.append(
            f"| `{e['id']}`: {e['what']} | {where} | {', '.join(e['nodes'])} | "
            f"{', '.join(map(str, e['waves']))} | {100 * float(e['delta']):+.1f} |"
        )
    lines += [
        "",
        "True values of the planted cells (percent top-2 share; element = mean of its items):",
        "",
        "| wave | commune / area | node | true value | elsewhere (same wave) |",
        "|---|---|---|---:|---:|",
    ]
    for ws in built:
        if ws.wave["survey"] != "sipas":
            continue
        nodes = _truth_rows(ws)
        nodes = nodes[nodes["level"] == "node"]
        typical = nodes.groupby("node")["truth"].median()
        frame = _frame(ws.wave["boundary_vintage"]).set_index("commune_code")
        odd = nodes[(nodes["truth"] - nodes["node"].map(typical)).abs() > 1e-9]
        for r in odd.sort_values(["commune_code", "node"]).itertuples():
            lines.append(
                f"| {ws.wave['id']} | {frame.loc[r.commune_code, 'commune_name']} ({r.commune_code}, "
                f"area {frame.loc[r.commune_code, 'area_code']}) | {r.node} | {_pct(r.truth)} | "
                f"{_pct(typical[r.node])} |"
            )
    lines += [
        "",
        "In the 2025 wave (new communes) the truth of a new commune is the 2019-population-weighted "
        "mean of its in-scope old constituents' truths (Xã Đức Hòa Thượng split by the crosswalk "
        "shares), so the effects carry over diluted by the merge, as listed above.",
        "",
    ]
    pt = spec["papi_truth"]
    lines += [
        "PAPI answer model: each indicator on its natural scale [a, b] is drawn so that the mean of "
        "its rescaled value (x − a)/(b − a), in its positive direction, equals the TRUE value z "
        "(answer codes c_1 < … < c_m: code index ~ Binomial(m − 1, r) with r chosen so that the "
        "mean is a + z(b − a), z replaced by 1 − z for a negative indicator; binary 0/1 items: "
        "share of 1 = z; continuous answers are whole numbers: on the integer grid inside [a, b] "
        "the same way, or a + (b − a)·Beta(6z, 6(1 − z)) rounded for wide ranges such as "
        "amounts in thousand VND). Where the codes cannot reach the target (the km item: "
        "whole km in [0.7, 2.0]) the truth listed is the one actually drawn from. Gaussian "
        f"copula with a person factor ρ = {pt['papi_answers']['r_person']}. Filter questions: "
        f"share answering 'yes' {pt['papi_answers']['filter_yes_share']}; items skipped by a "
        "filter are blank. True sub-dimension score = 1/K + (9/K)·z̄ (z̄ = mean over its "
        "indicators with weight > 0; K = number of sub-dimensions of its dimension that year). "
        "z = base(node) + effects:",
        "",
        "| node | " + " | ".join(str(k) for k in pt["base"]) + " |",
        "|---|" + "---:|" * len(pt["base"]) + "",
        "| base z | " + " | ".join(f"{float(v):.2f}" for v in pt["base"].values()) + " |",
        "",
        "| effect | nodes | waves | Δz |",
        "|---|---|---|---:|",
    ]
    for e in pt["effects"]:
        lines.append(
            f"| `{e['id']}`: {e['what']} | {', '.join(e['nodes'])} | "
            f"{', '.join(map(str, e['waves']))} | {float(e['delta']):+.2f} |"
        )
    lines += ["", "True PAPI scores (the same in every selected commune):", ""]
    lines += [
        "| wave | "
        + " | ".join(f"d{i}" for i in range(1, 9))
        + " | total | planted sub-dimensions |"
    ]
    lines += ["|---|" + "---:|" * 9 + "---|"]
    from sipas_analysis.instruments import load_instrument

    for ws in built:
        if ws.wave["survey"] != "papi":
            continue
        inst = load_instrument(ws.wave["instrument"])
        subs = inst.nodes_at("subdimension", int(ws.wave["wave"]))
        nodes = _truth_rows(ws)
        nodes = nodes[nodes["level"] == "node"].groupby("node")["truth"].mean()
        dims = {}
        notes = []
        for s in subs.itertuples():
            if s.code not in nodes.index:
                continue
            score = 1.0 / s.k + 9.0 / s.k * nodes[s.code]
            dims[s.parent] = dims.get(s.parent, 0.0) + score
            if any(
                (s.code in e["nodes"] or s.parent in e["nodes"])
                and str(ws.wave["wave"]) in map(str, e["waves"])
                for e in pt["effects"]
            ):
                notes.append(f"{s.code} = {score:.4f} (z = {nodes[s.code]:.2f})")
        total = sum(dims.values())
        lines.append(
            f"| {ws.wave['id']} | "
            + " | ".join(f"{dims.get(f'd{i}', float('nan')):.4f}" for i in range(1, 9))
            + f" | {total:.4f} | {'; '.join(notes)} |"
        )
    lines.append("")
    return lines


def _readme_mess(spec: dict, built: list[WaveSample], mess: pd.DataFrame) -> list[str]:
    lines = ["## Planted mess (exact counts and rows)", ""]
    lines += [
        "Valid but untidy (loading must cope, not reject): codes 98 (Không biết) / 99 (Không trả "
        "lời) in item columns; commune names in another tone-mark style (`Hoà`, `Thuỷ`), with a "
        "lower-case prefix (`xã`, `phường`, `thị trấn`), with extra spaces, or in Unicode NFD; "
        "`Phường 1/2/3` exist in both Tân An (794) and Kiến Tường (area 798): the stratum settles "
        "them. `papi_2022.csv` is Windows-1258 (tone marks as combining characters, CRLF).",
        "",
        "| wave | 98 cells | 99 cells | Hoà-style names | lower-case prefix | extra spaces | NFD |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for ws in built:
        m = mess[mess["wave_id"] == ws.wave["id"]]
        mc = m[m["kind"] == "missing_code"]
        c98 = int(mc.loc[mc["value"] == 98, "note"].str.split().str[0].astype(int).sum())
        c99 = int(mc.loc[mc["value"] == 99, "note"].str.split().str[0].astype(int).sum())
        cnt = {
            k: int((ws.mess["kind"] == f"name_{k}").sum())
            for k in ("hoa_old_style", "lower_prefix", "extra_spaces", "nfd")
        }
        lines.append(
            f"| {ws.wave['id']} | {c98} | {c99} | {cnt['hoa_old_style']} | {cnt['lower_prefix']} | "
            f"{cnt['extra_spaces']} | {cnt['nfd']} |"
        )
    lines += [
        "",
        "(Counts are rows; a name can carry several variants at once. All these names resolve "
        "to their commune.)",
        "",
        "Invalid rows that validation must report (source row numbers as defined above):",
        "",
        "| wave | file | problem | source row | respondent id | column | value | note |",
        "|---|---|---|---:|---|---|---|---|",
    ]
    bad = mess[~mess["kind"].str.startswith("name_") & (mess["kind"] != "missing_code")]
    for r in bad.itertuples():
        lines.append(
            f"| {r.wave_id} | `{r.file}` | {r.kind} | {r.source_row} | {r.respondent_id} | "
            f"{_short(r.header, 40)} | {r.value} | {r.note} |"
        )
    counts = bad[bad["kind"] != "duplicate_id_first"].groupby("wave_id").size()
    lines += [
        "",
        "Invalid rows per wave (duplicate ids counted once, on the second row): "
        + ", ".join(f"{w}: {int(n)}" for w, n in counts.items())
        + ".",
        "",
    ]
    return lines
