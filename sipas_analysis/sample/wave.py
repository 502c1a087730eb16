"""One sample wave built in memory: :class:`WaveSample` and :func:`build_wave` (design, people,
answers and mess of one wave, from its own seeded generator), and its planted truth and mess
as tables."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sipas_analysis.sample.answers import _answers, _plant_missing_codes, _truth_table
from sipas_analysis.sample.mess import _plant_mess
from sipas_analysis.sample.people import (
    _demographics,
    _fake_people,
    _frame,
    _papi_design,
    _sipas_design,
)
from sipas_analysis.sample.spec import _wave_items, _wave_rng
from sipas_analysis.sample.writing import _file_table, _layout

__all__ = ["WaveSample", "build_wave"]


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
    >>> from sipas_analysis.sample import load_spec
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


def _source_row(fmt: str, position: int) -> int:
    """Row number as in the source file: header = row 1 for csv/xlsx; record number for sav/dta."""
    return position + 2 if fmt in ("csv", "xlsx") else position + 1


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
