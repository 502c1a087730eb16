"""The sample's design and people: communes of the frame, villages drawn as PSUs (PPS), respondents
per village, weights, demographics and the invented personal columns."""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

from sipas_analysis import geography
from sipas_analysis.paths import REFERENCE_DIR

__all__: list[str] = []


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
